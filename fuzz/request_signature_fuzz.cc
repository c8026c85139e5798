// Fuzzes the verification of signed requests between sites (trust/request_signature.h): the
// Signature-Input and Signature structured fields, Content-Digest, the signature base and the
// replay cache.
//
// Input, as text: "METHOD AUTHORITY TARGET\n", then header lines "Name: value\n", then an empty
// line, then the body. Key id "shop-b" is fuzz_keys.h's RequestKey(); any other is unknown.
//
// Properties: a verified request covers every required component, has created <= expires, and
// verifying the same request again is refused as a replay (kAlreadyExists).
#include <algorithm>
#include <string>

#include "fuzz_keys.h"
#include "fuzz_util.h"
#include "trust/request_signature.h"

namespace {

std::string_view NextLine(std::string_view* rest) {
  size_t nl = rest->find('\n');
  std::string_view line = rest->substr(0, nl);
  *rest = nl == std::string_view::npos ? std::string_view() : rest->substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest = tieup::fuzz::AsText(data, size);
  std::string_view first = NextLine(&rest);
  size_t sp1 = first.find(' ');
  if (sp1 == std::string_view::npos) return 0;
  size_t sp2 = first.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return 0;
  tieup::SignedRequestTarget target{first.substr(0, sp1), first.substr(sp1 + 1, sp2 - sp1 - 1),
                                    first.substr(sp2 + 1)};
  tieup::HttpFields fields;
  while (!rest.empty()) {
    std::string_view line = NextLine(&rest);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return 0;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    fields.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  const std::string_view body = rest;

  auto lookup = [](std::string_view keyid) -> tieup::Result<tieup::Ed25519PublicKey> {
    if (keyid == tieup::fuzz::kRequestKeyId) return tieup::fuzz::RequestKey().public_key();
    return tieup::Status::NotFound("unknown key id");
  };
  tieup::ReplayCache cache(16);
  auto verified = tieup::VerifyRequest(lookup, target, fields, body, tieup::fuzz::kNow, cache);
  if (verified.ok()) {
    FUZZ_CHECK(verified->created <= verified->expires);
    FUZZ_CHECK(verified->keyid == tieup::fuzz::kRequestKeyId);
    for (const std::string& c : tieup::RequiredSignatureComponents()) {
      FUZZ_CHECK(std::find(verified->covered_components.begin(), verified->covered_components.end(),
                           c) != verified->covered_components.end());
    }
    auto replay = tieup::VerifyRequest(lookup, target, fields, body, tieup::fuzz::kNow, cache);
    FUZZ_CHECK(replay.status().code() == tieup::StatusCode::kAlreadyExists);
  }
  // The signature base of whatever the fields name, with the parameters as sent.
  std::vector<std::string> components = {"@method", "@authority", "@path", "@query"};
  for (const auto& [name, value] : fields) components.push_back(name);
  (void)tieup::SignatureBase(target, fields, components, body.substr(0, 256));
  return 0;
}
