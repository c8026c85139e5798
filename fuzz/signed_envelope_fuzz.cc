// Fuzzes signed metadata (trust/signed_metadata.h): DSSE envelopes, root metadata, release
// verification against a pinned root key, and the canonical JSON they are written in.
//
// Input: up to two parts separated by a line "--": the root envelope and the release envelope
// (both JSON). Each part is also tried alone as an envelope, as a root payload and as JSON.
//
// Properties: accepted envelopes and root metadata re-encode to text that parses back to the
// same encoding; CanonicalJson is idempotent; a verified release's payload is the release
// envelope's payload.
#include <boost/json/parse.hpp>
#include <string>

#include "fuzz_keys.h"
#include "fuzz_util.h"
#include "trust/signed_metadata.h"

namespace {

void CheckOne(std::string_view text) {
  auto envelope = tieup::ParseEnvelope(text);
  if (envelope.ok()) {
    std::string encoded = tieup::EncodeEnvelope(*envelope);
    auto again = tieup::ParseEnvelope(encoded);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(tieup::EncodeEnvelope(*again) == encoded);
    FUZZ_CHECK(again->payload == envelope->payload);
  }
  auto root = tieup::ParseRootMetadata(text);
  if (root.ok()) {
    std::string encoded = tieup::EncodeRootMetadata(*root);
    auto again = tieup::ParseRootMetadata(encoded);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(tieup::EncodeRootMetadata(*again) == encoded);
  }
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (!ec) {
    std::string canonical = tieup::CanonicalJson(value);
    boost::json::value back = boost::json::parse(canonical, ec);
    FUZZ_CHECK(!ec);
    FUZZ_CHECK(tieup::CanonicalJson(back) == canonical);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tieup::fuzz::Parts parts(data, size, "\n--\n");
  std::string_view root = parts.Next();
  std::string_view release = parts.Next();
  CheckOne(root);
  CheckOne(release);

  const auto& pinned = tieup::fuzz::RootKey().public_key();
  (void)tieup::VerifyRootMetadata(pinned, root, tieup::fuzz::kNow);
  std::string payload_type;
  auto payload = tieup::VerifyRelease(pinned, root, release, tieup::fuzz::kNow, &payload_type);
  if (payload.ok()) {
    auto envelope = tieup::ParseEnvelope(release);
    FUZZ_CHECK(envelope.ok());
    FUZZ_CHECK(envelope->payload == *payload);
    FUZZ_CHECK(envelope->payload_type == payload_type);
  }
  return 0;
}
