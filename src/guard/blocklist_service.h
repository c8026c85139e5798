// Both sides of the network-wide blocklist (guard/blocklist.h; issue 17 item 6):
//
// - main's BlocklistIssuer keeps the entries (table guard_blocklist), signs a new list each time
//   they change (guard_blocklist_signed: every list it signed) and remembers which list each
//   partner has (guard_blocklist_delivered), so that a push-mode partner that cannot be reached
//   gets the newest list later (retried with a growing delay) and a pull-mode partner gets it
//   when it asks. Entries may be changed by another process (the command line, the console):
//   every method reads the tables, nothing is cached.
// - the partner's BlocklistKeeper verifies a list against main's pinned root key, keeps the
//   newest one it accepted (guard_blocklist_state) and refuses older ones (replays), and hands
//   the public port a matcher for it.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "guard/blocklist.h"
#include "store/database.h"

namespace tieup::guard {

// The path on the sync ports: POST to a partner's (main pushes), GET ?have=N on main's (a
// partner asks).
inline constexpr std::string_view kBlocklistSyncPath = "/v1/blocklist";

// A list main signed.
struct SignedBlocklist {
  Blocklist list;
  std::string envelope;  // the signed envelope JSON, as sent
};

// Where a partner stands with the newest list.
struct BlocklistDelivery {
  std::string partner;
  uint64_t seq = 0;          // the newest list the partner has (0: none)
  int attempts = 0;          // failed pushes of a newer one
  int64_t next_attempt = 0;  // unix seconds
  std::string last_error;
};

class BlocklistIssuer {
 public:
  // Migrates its tables in `db`. `env` and `db` outlive it.
  static Result<std::unique_ptr<BlocklistIssuer>> Open(Env& env, Database& db,
                                                       Ed25519PrivateKey release_key);

  // Adds `entry` (its value is normalized; id and added are set here) and signs a new list.
  // An entry of the same kind and value is replaced (a new expiry or reason). Entries that have
  // expired are left out of the new list. InvalidArgument for a bad value, too long a reason,
  // or a full list.
  Result<BlockEntry> Add(BlockEntry entry);
  // Removes entry `id` and signs a new list. NotFound when there is no such entry.
  Result<BlockEntry> Remove(uint64_t id);
  // The entries, by id; expired ones only when `with_expired`.
  Result<std::vector<BlockEntry>> Entries(bool with_expired);
  // The newest list signed, or nullopt before the first.
  Result<std::optional<SignedBlocklist>> Latest();
  // Its number alone (0 before the first): one small query, for callers that read the list only
  // when it changed.
  Result<uint64_t> LatestSeq();

  // Push delivery of `latest` (the newest list): for each partner in `partners` that has an
  // older one and whose retry is due at `now`, calls `send(partner, envelope)`; OK records it
  // delivered, an error is kept for a later call (backoff 5 s .. 10 min). Returns how many were
  // delivered.
  using Sender = std::function<Status(const std::string& partner, const std::string& envelope)>;
  size_t DeliverDue(const SignedBlocklist& latest, const std::vector<std::string>& partners,
                    int64_t now, const Sender& send);
  // Records that `partner` has list `seq` (it fetched it, in pull mode).
  Status MarkDelivered(const std::string& partner, uint64_t seq);
  // Each partner's standing, by partner id (only partners main has tried to give a list).
  Result<std::vector<BlocklistDelivery>> Deliveries();

 private:
  BlocklistIssuer(Env& env, Database& db, Ed25519PrivateKey key)
      : env_(env), db_(db), key_(std::move(key)) {}
  // Signs the entries that have not expired as the next list (inside a transaction).
  Status SignLocked(Database& db);
  Env& env_;
  Database& db_;
  const Ed25519PrivateKey key_;
  std::mutex mu_;
};

class BlocklistKeeper {
 public:
  struct Options {
    Ed25519PublicKey pinned_root;
    std::string root_envelope;  // main's root metadata, from enrollment
  };
  // Migrates its table and reads the list in effect.
  static Result<std::unique_ptr<BlocklistKeeper>> Open(Env& env, Database& db, Options options);

  // Verifies and keeps a list from main (VerifyBlocklist's errors). The envelope already in
  // effect is answered OK again (main resends when it missed the answer).
  Result<Blocklist> Accept(std::string_view envelope);

  // The list in effect (an empty one, seq 0, before the first), ready to match requests.
  std::shared_ptr<const BlocklistMatcher> matcher() const;
  uint64_t seq() const;

 private:
  BlocklistKeeper(Env& env, Database& db, Options options)
      : env_(env), db_(db), options_(std::move(options)) {}
  Env& env_;
  Database& db_;
  const Options options_;
  mutable std::mutex mu_;
  std::string envelope_;
  std::shared_ptr<const BlocklistMatcher> matcher_;
};

// The list a partner keeps, as stored (no verification), for `tieup partner blocklist`; an
// empty list (seq 0) before the first.
Result<Blocklist> ReadKeptBlocklist(Database& db);

}  // namespace tieup::guard
