// Both sides of withdrawal (sync/withdrawal.h; DESIGN.md "Pages on a partner", Withdrawal):
//
// - main's WithdrawalIssuer signs what each partnership's state calls for (revoked or suspended:
//   a withdrawal; resumed after a withdrawal: a reinstatement), keeps every message it signed
//   (table sync_withdrawals) and which were delivered, so that a push-mode partner that cannot
//   be reached gets the newest one later (retried with a growing delay), and a pull-mode partner
//   gets it when it asks (GET /v1/withdrawal);
// - the partner's WithdrawalKeeper verifies a message against the pinned root key, keeps the
//   newest one it accepted (table sync_withdrawal_state) and refuses older ones (replays), enforces
//   the expiry of the active tie-up release while serving (flagged when past `expires`, withdrawn
//   with reason "expired" after the grace period), and publishes what is in effect on the site's
//   TieupNotices board, which the public port reads on every tie-up request.
//
// Both record what they do in sync_events. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "crypto/ed25519.h"
#include "store/database.h"
#include "sync/publisher.h"
#include "sync/tieup_notices.h"
#include "sync/withdrawal.h"

namespace tieup::sync {

// Paths on the sync ports.
inline constexpr std::string_view kWithdrawalPath = "/v1/withdrawal";

// A message main signed, as it keeps it.
struct IssuedWithdrawal {
  Withdrawal withdrawal;
  std::string envelope;  // the signed envelope JSON, as sent
  bool delivered = false;
  int attempts = 0;          // failed push attempts
  int64_t next_attempt = 0;  // unix seconds
  std::string last_error;
};

class WithdrawalIssuer {
 public:
  // Migrates its table in `db`. `env` and `db` must outlive it.
  static Result<std::unique_ptr<WithdrawalIssuer>> Open(Env& env, Database& db,
                                                        Ed25519PrivateKey release_key,
                                                        std::string main_name);

  // Signs a new message when `p`'s state calls for one that is not the newest already signed:
  // revoked -> withdraw (revoked); suspended -> withdraw (suspended); neither, after a
  // withdrawal -> reinstate; a grace period other than the newest message's (or, with no
  // message yet, than the default) -> the same standing with the new grace. Records
  // "withdrawn" / "reinstated" / "terms" in sync_events. Returns the new message, or nullopt
  // when nothing changed.
  Result<std::optional<IssuedWithdrawal>> Reconcile(const Partnership& p);
  // The partners main has signed a message for or set terms of (the others are active with the
  // default terms: Reconcile has nothing to sign for them unless revoked or suspended).
  Result<std::set<std::string>> PartnersWithMessages();
  // The newest message signed for `partner`, or nullopt.
  Result<std::optional<IssuedWithdrawal>> Latest(const std::string& partner);

  // Push delivery: for each partnership with a sync URL whose newest message is undelivered and
  // due at `now`, calls `send(partner, envelope)`; OK marks it delivered ("withdrawal-delivered"
  // event); an error is kept for a later call (sync/retry.h backoff:5s..10m; the first
  // failure is recorded). Returns how many were delivered.
  using Sender = std::function<Status(const std::string& partner, const std::string& envelope)>;
  size_t DeliverDue(const std::vector<Partnership>& partnerships, int64_t now, const Sender& send);
  // The partnership's expiry grace period (kDefaultExpiryGraceSeconds unless set).
  Result<int64_t> ExpiryGrace(const std::string& partner);
  // Sets it (`tieup main partner add|set --expiry-grace`), recording a "changed" event naming
  // `by`; returns the change in words ("expiry grace: 7 days -> 3 days"), "" when unchanged.
  // The next Reconcile signs it for the partner. InvalidArgument beyond 0..10 years.
  Result<std::string> SetExpiryGrace(const std::string& partner, int64_t seconds,
                                     const std::string& by);
  // Marks `seq` of `partner` delivered (a pull-mode partner fetched it).
  Status MarkDelivered(const std::string& partner, uint64_t seq, std::string_view how);

 private:
  WithdrawalIssuer(Env& env, Database& db, Ed25519PrivateKey key, std::string main_name)
      : env_(env), db_(db), key_(std::move(key)), main_name_(std::move(main_name)) {}
  Env& env_;
  Database& db_;
  const Ed25519PrivateKey key_;
  const std::string main_name_;
  std::mutex mu_;
};

// The partner's view: what is in effect and why.
struct WithdrawalStatus {
  std::optional<Withdrawal> from_main;  // the newest message accepted from main
  // Expiry of the active tie-up release, enforced while serving.
  int64_t release_expires = 0;                         // 0: no release active
  int64_t grace_seconds = kDefaultExpiryGraceSeconds;  // main's signed word, or the default
  bool expired = false;                                // past `expires`
  int64_t expired_withdrawn = 0;        // unix seconds the partner withdrew it itself; 0: not
  std::optional<Withdrawal> effective;  // what the public port serves (a withdrawal) or nullopt
  int64_t since = 0;                    // when `effective` began (unix seconds); 0 without one
  // One sentence for the manager ("" when the tie-up pages are served normally).
  std::string summary;
};

class WithdrawalKeeper {
 public:
  struct Options {
    std::string site_id;
    TieupNotices* board = nullptr;  // the site's board to update (must outlive the keeper)
    Ed25519PublicKey pinned_root;
    std::string root_envelope;  // from enrollment
  };
  // Migrates its table, reads the state and sets the board.
  static Result<std::unique_ptr<WithdrawalKeeper>> Open(Env& env, Database& db, Options options);

  // Verifies and applies a message from main (VerifyWithdrawal's errors, each also recorded as
  // "refused"). An envelope equal to the one already accepted is answered OK again (main resends
  // when it missed the answer).
  Result<Withdrawal> Accept(std::string_view envelope);

  // Enforces the expiry of the active tie-up release (`expires`, 0 when none) at `now`: records
  // "expired" once it is past (and calls `tell_main("expired", sentence)`), withdraws the tie-up
  // pages with reason "expired" once it is past the grace period ("withdrawn", told main too),
  // and ends that when a release that has not expired is active ("reinstated", likewise).
  // Writes and re-publishes only when something changed. Returns the status.
  using TellMain = std::function<void(const std::string& kind, const std::string& message)>;
  Result<WithdrawalStatus> CheckExpiry(int64_t expires, int64_t now, const TellMain& tell_main);

  // What is in effect now (expiry as the last CheckExpiry found it).
  Result<WithdrawalStatus> Current();

 private:
  WithdrawalKeeper(Env& env, Database& db, Options options)
      : env_(env), db_(db), options_(std::move(options)) {}
  Result<WithdrawalStatus> LoadLocked();
  void Publish(const WithdrawalStatus& s);
  Env& env_;
  Database& db_;
  const Options options_;
  std::mutex mu_;
};

// The partner's state as stored, for a process that only reads (`tieup partner status`): no
// verification, no board.
Result<WithdrawalStatus> ReadWithdrawalStatus(Database& db, int64_t now);

}  // namespace tieup::sync
