// Fuzzes withdrawal messages (sync/withdrawal.h): the payload parser, and verification of a
// withdrawal envelope against a pinned root key.
//
// Input: up to two parts separated by a line "--": the root envelope and the withdrawal envelope
// (both JSON). Each part is also tried alone as a withdrawal payload.
//
// Properties: an accepted payload re-encodes to canonical text that parses back to the same
// message; a verified withdrawal is for the expected partner, above the last accepted number,
// and is exactly the envelope's payload parsed.
#include <string>

#include "fuzz_keys.h"
#include "fuzz_util.h"
#include "sync/withdrawal.h"
#include "trust/signed_metadata.h"

namespace {

void CheckPayload(std::string_view text) {
  auto w = tieup::sync::ParseWithdrawal(text);
  if (!w.ok()) return;
  const std::string encoded = tieup::sync::EncodeWithdrawal(*w);
  auto again = tieup::sync::ParseWithdrawal(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *w);
  FUZZ_CHECK(tieup::sync::EncodeWithdrawal(*again) == encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tieup::fuzz::Parts parts(data, size, "\n--\n");
  std::string_view root = parts.Next();
  std::string_view envelope = parts.Next();
  CheckPayload(root);
  CheckPayload(envelope);

  const auto& pinned = tieup::fuzz::RootKey().public_key();
  constexpr uint64_t kLast = 2;
  auto w =
      tieup::sync::VerifyWithdrawal(pinned, root, envelope, "shop-b", kLast, tieup::fuzz::kNow);
  if (w.ok()) {
    FUZZ_CHECK(w->partner == "shop-b");
    FUZZ_CHECK(w->seq > kLast);
    auto parsed = tieup::ParseEnvelope(envelope);
    FUZZ_CHECK(parsed.ok());
    auto payload = tieup::sync::ParseWithdrawal(parsed->payload);
    FUZZ_CHECK(payload.ok() && *payload == *w);
  }
  return 0;
}
