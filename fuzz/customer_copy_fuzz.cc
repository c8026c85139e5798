// Fuzzes the customer copy messages main sends partners (users/customer_copy.h): the payload
// parser, and verification of a message envelope against a pinned root key.
//
// Input: up to two parts separated by a line "--": the root envelope and the message envelope
// (both JSON). Each part is also tried alone as a payload.
//
// Properties: an accepted payload is exactly the canonical encoding of what it parses to; every
// copy in it holds exactly the message's fields; a verified message is for the expected partner,
// above the last accepted number, and is exactly the envelope's payload parsed.
#include <string>

#include "fuzz_keys.h"
#include "fuzz_util.h"
#include "trust/signed_metadata.h"
#include "users/customer_copy.h"

namespace {

void CheckPayload(std::string_view text) {
  auto m = tieup::users::ParseCustomerCopyMessage(text);
  if (!m.ok()) return;
  FUZZ_CHECK(tieup::users::EncodeCustomerCopyMessage(*m) == text);
  FUZZ_CHECK(m->upsert.size() + m->drop.size() + m->erase.size() <= tieup::users::kMaxCopyEntries);
  auto has = [&](std::string_view f) {
    for (const std::string& x : m->fields) {
      if (x == f) return true;
    }
    return false;
  };
  for (const tieup::users::CustomerCopy& c : m->upsert) {
    FUZZ_CHECK(c.name.has_value() == has("name"));
    FUZZ_CHECK(c.email.has_value() == has("email"));
    FUZZ_CHECK(c.address.has_value() == has("address"));
    FUZZ_CHECK(c.marketing_consent.has_value() == has("marketing_consent"));
  }
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
  auto m = tieup::users::VerifyCustomerCopyMessage(pinned, root, envelope, "shop-b", kLast,
                                                   tieup::fuzz::kNow);
  if (m.ok()) {
    FUZZ_CHECK(m->partner == "shop-b");
    FUZZ_CHECK(m->seq > kLast);
    auto parsed = tieup::ParseEnvelope(envelope);
    FUZZ_CHECK(parsed.ok());
    auto payload = tieup::users::ParseCustomerCopyMessage(parsed->payload);
    FUZZ_CHECK(payload.ok() && *payload == *m);
  }
  return 0;
}
