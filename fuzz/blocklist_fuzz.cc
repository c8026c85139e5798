// Fuzzes main's network blocklist (guard/blocklist.h): the payload parser, the value
// normalizer, verification of a signed list against a pinned root key, and the matcher.
//
// Input: up to four parts separated by a line "--": the root envelope, the blocklist envelope
// (both JSON), then a client address, and a User-Agent and path for the matcher. The first two
// parts are also tried alone as payloads, and each part as a value of every kind.
//
// Properties: an accepted payload re-encodes to canonical text that parses back to the same
// list; a normalized value normalizes to itself; a verified list is above the last accepted
// number and is exactly the envelope's payload parsed; the matcher returns an entry of the list
// that has not expired.
#include <string>

#include "fuzz_keys.h"
#include "fuzz_util.h"
#include "guard/blocklist.h"
#include "trust/signed_metadata.h"

namespace {

using namespace tieup::guard;

void CheckPayload(std::string_view text, std::string_view client, std::string_view agent) {
  auto list = ParseBlocklist(text);
  if (!list.ok()) return;
  const std::string encoded = EncodeBlocklist(*list);
  auto again = ParseBlocklist(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *list);
  FUZZ_CHECK(EncodeBlocklist(*again) == encoded);
  const BlocklistMatcher m(*list);
  const BlockEntry* hit = m.Match(client, agent, agent, tieup::fuzz::kNow);
  if (hit != nullptr) {
    FUZZ_CHECK(hit->expires == 0 || hit->expires > tieup::fuzz::kNow);
    bool found = false;
    for (const BlockEntry& e : list->entries) found = found || e == *hit;
    FUZZ_CHECK(found);
  }
}

void CheckValue(std::string_view text) {
  for (BlockKind kind : {BlockKind::kAddress, BlockKind::kAgent, BlockKind::kPath}) {
    auto v = NormalizeBlockValue(kind, text);
    if (!v.ok()) continue;
    auto again = NormalizeBlockValue(kind, *v);
    FUZZ_CHECK(again.ok() && *again == *v);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tieup::fuzz::Parts parts(data, size, "\n--\n");
  std::string_view root = parts.Next();
  std::string_view envelope = parts.Next();
  std::string_view client = parts.Next();
  std::string_view agent = parts.Next();
  CheckPayload(root, client, agent);
  CheckPayload(envelope, client, agent);
  for (std::string_view part : {root, envelope, client, agent}) CheckValue(part);

  const auto& pinned = tieup::fuzz::RootKey().public_key();
  constexpr uint64_t kLast = 2;
  auto list = VerifyBlocklist(pinned, root, envelope, kLast, tieup::fuzz::kNow);
  if (list.ok()) {
    FUZZ_CHECK(list->seq > kLast);
    auto parsed = tieup::ParseEnvelope(envelope);
    FUZZ_CHECK(parsed.ok());
    auto payload = ParseBlocklist(parsed->payload);
    FUZZ_CHECK(payload.ok() && *payload == *list);
  }
  return 0;
}
