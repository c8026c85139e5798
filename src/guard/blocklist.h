// Network-wide blocklists (issue 17 item 6; DESIGN.md "Management on the partners' behalf",
// Security): what main refuses on every site of its network before the WAF looks at a request.
//
// An entry refuses requests
//   - address: from one address ("203.0.113.9", "2001:db8::7") or a range in CIDR form
//     ("203.0.113.0/24", "2001:db8::/32"), IPv4 also when it arrives as ::ffff:a.b.c.d;
//   - agent:   whose User-Agent contains the text, case-insensitively ("sqlmap", "nikto");
//   - path:    for the path or anything under it ("/wp-admin" refuses "/wp-admin" and
//              "/wp-admin/setup.php", not "/wp-admins"); the path as the server decoded it,
//              so "/wp%2Dadmin" does not get past "/wp-admin";
// until it expires (0: until main removes it). Main numbers its entries (`id`, for removal) and
// says who added each and why; "auto: ..." names what added one by itself.
//
// The list travels as ONE message for the whole network: a DSSE envelope of payload type
// kBlocklistPayloadType, signed by a release key that main's root metadata certifies (as
// releases and withdrawals), so a partner checks it against the root key it pinned at
// enrollment. Its number `seq` grows with every list main signs: a partner accepts only a
// number above the last it accepted, so an older list replayed (one that still blocked an
// address main has since unblocked, or that lacks a new entry) is refused.
//
// Payload (canonical JSON): {"_type":"blocklist","entries":[{"added":<unix s>,"by":"...",
// "expires":<unix s or 0>,"id":N,"kind":"address"|"agent"|"path","reason":"...","value":"..."}],
// "issued":<unix s>,"seq":N}.
//
// All functions are pure and thread-safe; a BlocklistMatcher is immutable.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "crypto/ed25519.h"

namespace tieup::guard {

inline constexpr std::string_view kBlocklistPayloadType = "application/vnd.tieup.blocklist+json";
// The most entries a list may hold, and the longest reason, agent text and path.
inline constexpr size_t kMaxBlocklistEntries = 10000;
inline constexpr size_t kMaxBlockReasonBytes = 200;
inline constexpr size_t kMaxBlockAgentBytes = 200;
inline constexpr size_t kMaxBlockPathBytes = 1024;

enum class BlockKind { kAddress, kAgent, kPath };
std::string_view BlockKindName(BlockKind kind);  // "address", "agent", "path"
Result<BlockKind> ParseBlockKind(std::string_view name);

struct BlockEntry {
  uint64_t id = 0;  // main's number for it, from 1
  BlockKind kind = BlockKind::kAddress;
  std::string value;    // in the canonical form NormalizeBlockValue gives
  int64_t added = 0;    // unix seconds, main's clock
  int64_t expires = 0;  // unix seconds; 0: until removed
  std::string reason;   // for people, at most kMaxBlockReasonBytes
  std::string by;       // who added it ("main manager", "auto: ...")
  friend bool operator==(const BlockEntry&, const BlockEntry&) = default;
};

// The canonical form of `value` for `kind`: an address or range with its host bits cleared
// ("203.0.113.7/24" -> "203.0.113.0/24", "203.0.113.9/32" -> "203.0.113.9", IPv6 in its short
// form); an agent text trimmed; a path as given. InvalidArgument saying how to write it.
Result<std::string> NormalizeBlockValue(BlockKind kind, std::string_view value);

struct Blocklist {
  uint64_t seq = 0;    // from 1, grows with every list main signs
  int64_t issued = 0;  // unix seconds, main's clock
  std::vector<BlockEntry> entries;
  friend bool operator==(const Blocklist&, const Blocklist&) = default;
};

// The canonical payload of `list`, and back. ParseBlocklist is strict: unknown, missing or
// mistyped fields, a value not in canonical form, two entries with one id, more than
// kMaxBlocklistEntries: InvalidArgument naming what is wrong.
std::string EncodeBlocklist(const Blocklist& list);
Result<Blocklist> ParseBlocklist(std::string_view payload);

// The envelope JSON of `list` signed by `release_key`.
std::string SignBlocklist(const Ed25519PrivateKey& release_key, const Blocklist& list);

// Checks a blocklist envelope: root metadata and signature as for a release
// (VerifyReleaseKeySigned: kUnauthenticated for a forged or foreign signature), the payload
// (kInvalidArgument), `seq` above `last_seq` (kFailedPrecondition: a replay of an older list),
// issued at most a day after `now` (kInvalidArgument).
Result<Blocklist> VerifyBlocklist(const Ed25519PublicKey& pinned_root,
                                  std::string_view root_envelope_json,
                                  std::string_view envelope_json, uint64_t last_seq, int64_t now);

// `entry` in words: "address 203.0.113.0/24 (scanning; until 2026-12-11 18:00 UTC)".
std::string DescribeBlockEntry(const BlockEntry& entry);

// A list ready to be matched against requests.
class BlocklistMatcher {
 public:
  explicit BlocklistMatcher(Blocklist list);

  // The entry that refuses a request from `client` (an address in text) with `user_agent` for
  // `path` (decoded) at `now`, or nullptr. Expired entries refuse nothing.
  const BlockEntry* Match(std::string_view client, std::string_view user_agent,
                          std::string_view path, int64_t now) const;

  const Blocklist& list() const { return list_; }

 private:
  struct Range {
    std::array<uint8_t, 16> net;  // IPv6, IPv4 mapped into ::ffff:0:0/96
    int prefix;                   // bits
    size_t entry;
  };
  const Blocklist list_;
  std::unordered_map<std::string, size_t> exact_;  // 16-byte address -> entry
  std::vector<Range> ranges_;
  std::vector<std::pair<std::string, size_t>> agents_;  // lower-case text -> entry
  std::vector<size_t> paths_;
};

}  // namespace tieup::guard
