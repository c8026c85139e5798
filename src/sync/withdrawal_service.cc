#include "sync/withdrawal_service.h"

#include <algorithm>
#include <map>

#include "base/encoding.h"
#include "sync/retry.h"
#include "sync/schema.h"
#include "trust/signed_metadata.h"

namespace tieup::sync {
namespace {

// Push retries: 5 s growing to 10 minutes apart, jittered, never giving up.
const RetryPolicy& PushRetry() {
  static const RetryPolicy policy = *RetryPolicy::Parse("backoff:5s..10m");
  return policy;
}

std::string GraceWords(int64_t seconds) {
  if (seconds % 86400 == 0) {
    return std::to_string(seconds / 86400) + (seconds == 86400 ? " day" : " days");
  }
  if (seconds % 3600 == 0) {
    return std::to_string(seconds / 3600) + (seconds == 3600 ? " hour" : " hours");
  }
  return std::to_string(seconds) + " s";
}

const std::vector<Migration>& IssuerMigrations() {
  static const std::vector<Migration> steps = {
      {1,
       "CREATE TABLE sync_withdrawals(partner TEXT NOT NULL, seq INTEGER NOT NULL, "
       "action TEXT NOT NULL, reason TEXT NOT NULL, issued INTEGER NOT NULL, envelope TEXT NOT "
       "NULL, delivered INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, "
       "next_attempt INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', "
       "PRIMARY KEY(partner, seq))"},
      {2,
       "CREATE TABLE sync_withdrawal_terms(partner TEXT PRIMARY KEY, expiry_grace INTEGER NOT "
       "NULL)"},
  };
  return steps;
}

const std::vector<Migration>& KeeperMigrations() {
  static const std::vector<Migration> steps = {
      {1,
       "CREATE TABLE sync_withdrawal_state(id INTEGER PRIMARY KEY CHECK(id = 1), "
       "seq INTEGER NOT NULL DEFAULT 0, envelope TEXT NOT NULL DEFAULT '', payload TEXT NOT NULL "
       "DEFAULT '', received INTEGER NOT NULL DEFAULT 0, expires_seen INTEGER NOT NULL DEFAULT 0, "
       "expired_flagged INTEGER NOT NULL DEFAULT 0, expired_withdrawn INTEGER NOT NULL DEFAULT "
       "0);"
       "INSERT INTO sync_withdrawal_state(id) VALUES(1)"},
  };
  return steps;
}

std::string Sentence(const Partnership& p, const std::string& main_name, WithdrawalAction action,
                     WithdrawalReason reason, bool was_withdrawn, int64_t grace) {
  const std::string partner = p.name.empty() ? p.id : p.name;
  if (action == WithdrawalAction::kReinstate && !was_withdrawn) {
    return main_name + "'s pages are served at " + partner + "; " + main_name + " withdraws them " +
           GraceWords(grace) + " after a release expires when it has sent no newer one.";
  }
  if (action == WithdrawalAction::kReinstate) {
    return main_name + " has resumed its partnership with " + partner +
           ": the tie-up pages are served again.";
  }
  if (reason == WithdrawalReason::kSuspended) {
    return main_name + " has suspended its partnership with " + partner +
           " for now: the tie-up pages are withdrawn until it resumes.";
  }
  return main_name + " has ended its partnership with " + partner +
         ": the tie-up pages are withdrawn.";
}

Result<IssuedWithdrawal> FromRow(const SqlRow& r) {
  // partner, seq, envelope, delivered, attempts, next_attempt, last_error
  IssuedWithdrawal w;
  w.envelope = r.Text(2);
  ASSIGN_OR_RETURN(SignedEnvelope env, ParseEnvelope(w.envelope));
  ASSIGN_OR_RETURN(w.withdrawal, ParseWithdrawal(env.payload));
  w.delivered = r.Int(3) != 0;
  w.attempts = static_cast<int>(r.Int(4));
  w.next_attempt = r.Int(5);
  w.last_error = r.Text(6);
  return w;
}

constexpr std::string_view kIssuedColumns =
    "partner, seq, envelope, delivered, attempts, next_attempt, last_error";

std::string When(int64_t t) { return FormatRfc3339(t); }

}  // namespace

// --- main -------------------------------------------------------------------------------------

Result<std::unique_ptr<WithdrawalIssuer>> WithdrawalIssuer::Open(Env& env, Database& db,
                                                                 Ed25519PrivateKey release_key,
                                                                 std::string main_name) {
  RETURN_IF_ERROR(internal::MigrateSyncSchema(db));
  RETURN_IF_ERROR(Migrate(db, "sync_withdrawals", IssuerMigrations()));
  return std::unique_ptr<WithdrawalIssuer>(
      new WithdrawalIssuer(env, db, std::move(release_key), std::move(main_name)));
}

Result<std::optional<IssuedWithdrawal>> WithdrawalIssuer::Latest(const std::string& partner) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + std::string(kIssuedColumns) +
                                            " FROM sync_withdrawals WHERE partner = ? ORDER BY "
                                            "seq DESC LIMIT 1",
                                        {partner}));
  if (rows.empty()) return std::optional<IssuedWithdrawal>();
  ASSIGN_OR_RETURN(IssuedWithdrawal w, FromRow(rows[0]));
  return std::optional<IssuedWithdrawal>(std::move(w));
}

Result<std::set<std::string>> WithdrawalIssuer::PartnersWithMessages() {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT DISTINCT partner FROM sync_withdrawals UNION "
                                        "SELECT partner FROM sync_withdrawal_terms"));
  std::set<std::string> partners;
  for (const SqlRow& r : rows) partners.insert(r.Text(0));
  return partners;
}

Result<std::optional<IssuedWithdrawal>> WithdrawalIssuer::Reconcile(const Partnership& p) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::optional<IssuedWithdrawal> latest, Latest(p.id));
  ASSIGN_OR_RETURN(const int64_t grace, ExpiryGrace(p.id));
  const bool was_withdrawn = latest && latest->withdrawal.action == WithdrawalAction::kWithdraw;
  WithdrawalAction action = WithdrawalAction::kWithdraw;
  WithdrawalReason reason = WithdrawalReason::kNone;
  if (p.revoked) {
    reason = WithdrawalReason::kRevoked;
  } else if (p.suspended) {
    reason = WithdrawalReason::kSuspended;
  } else {
    // Active: a reinstatement ends a withdrawal main signed, or states a grace period other than
    // the default the partner assumes.
    if (!latest && grace == kDefaultExpiryGraceSeconds) return std::optional<IssuedWithdrawal>();
    action = WithdrawalAction::kReinstate;
  }
  if (latest && latest->withdrawal.action == action && latest->withdrawal.reason == reason &&
      latest->withdrawal.expiry_grace == grace) {
    return std::optional<IssuedWithdrawal>();
  }
  IssuedWithdrawal issued;
  Withdrawal& w = issued.withdrawal;
  w.partner = p.id;
  w.action = action;
  w.reason = reason;
  w.main_name = main_name_;
  w.message = Sentence(p, main_name_, action, reason, was_withdrawn, grace);
  w.issued = env_.NowSeconds();
  w.seq = latest ? latest->withdrawal.seq + 1 : 1;
  w.expiry_grace = grace;
  const bool terms_only = action == WithdrawalAction::kReinstate && !was_withdrawn;
  issued.envelope = SignWithdrawal(key_, w);
  RETURN_IF_ERROR(
      db_.Exec("INSERT INTO sync_withdrawals(partner, seq, action, reason, issued, envelope) "
               "VALUES(?,?,?,?,?,?)",
               {p.id, static_cast<int64_t>(w.seq), std::string(WithdrawalActionName(action)),
                std::string(WithdrawalReasonName(reason)), w.issued, issued.envelope}));
  const std::string how = p.sync_url.empty()
                              ? "the partner gets it when it next asks main (pull mode)"
                              : "it is sent to the partner now and again until it has it";
  RETURN_IF_ERROR(internal::RecordEvent(
      db_, w.issued, p.id, "", 0,
      terms_only                              ? "terms"
      : action == WithdrawalAction::kWithdraw ? "withdrawn"
                                              : "reinstated",
      "signed " +
          std::string(action == WithdrawalAction::kWithdraw ? "withdrawal"
                      : terms_only                          ? "statement"
                                                            : "reinstatement") +
          " number " + std::to_string(w.seq) + " (" +
          (action == WithdrawalAction::kWithdraw ? std::string(WithdrawalReasonName(reason))
           : terms_only                          ? std::string("terms")
                                                 : std::string("resumed")) +
          ", expiry grace " + GraceWords(grace) + "): " + w.message + " " + how));
  return std::optional<IssuedWithdrawal>(std::move(issued));
}

Result<int64_t> WithdrawalIssuer::ExpiryGrace(const std::string& partner) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT expiry_grace FROM sync_withdrawal_terms WHERE "
                                        "partner = ?",
                                        {partner}));
  return rows.empty() ? kDefaultExpiryGraceSeconds : rows[0].Int(0);
}

Result<std::string> WithdrawalIssuer::SetExpiryGrace(const std::string& partner, int64_t seconds,
                                                     const std::string& by) {
  if (seconds < 0 || seconds > kMaxGraceSeconds) {
    return Status::InvalidArgument("--expiry-grace must be between 0 and 10 years");
  }
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(const int64_t before, ExpiryGrace(partner));
  if (before == seconds) return std::string();
  RETURN_IF_ERROR(db_.Exec(
      "INSERT INTO sync_withdrawal_terms(partner, expiry_grace) VALUES(?, ?) ON CONFLICT(partner) "
      "DO UPDATE SET expiry_grace = excluded.expiry_grace",
      {partner, seconds}));
  const std::string words = "expiry grace: " + GraceWords(before) + " -> " + GraceWords(seconds);
  RETURN_IF_ERROR(internal::RecordEvent(db_, env_.NowSeconds(), partner, "", 0, "changed",
                                        words + " (by " + by + ")"));
  return words;
}

Status WithdrawalIssuer::MarkDelivered(const std::string& partner, uint64_t seq,
                                       std::string_view how) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT delivered, action FROM sync_withdrawals WHERE partner = ? AND "
                             "seq = ?",
                             {partner, static_cast<int64_t>(seq)}));
  if (rows.empty() || rows[0].Int(0) != 0) return Status::Ok();
  RETURN_IF_ERROR(
      db_.Exec("UPDATE sync_withdrawals SET delivered = 1 WHERE partner = ? AND seq = ?",
               {partner, static_cast<int64_t>(seq)}));
  return internal::RecordEvent(db_, env_.NowSeconds(), partner, "", 0, "withdrawal-delivered",
                               "the partner has " + rows[0].Text(1) + " message number " +
                                   std::to_string(seq) + " (" + std::string(how) + ")");
}

size_t WithdrawalIssuer::DeliverDue(const std::vector<Partnership>& partnerships, int64_t now,
                                    const Sender& send) {
  size_t delivered = 0;
  for (const Partnership& p : partnerships) {
    if (p.sync_url.empty()) continue;  // pull mode: it asks
    auto latest = Latest(p.id);
    if (!latest.ok() || !*latest) continue;
    const IssuedWithdrawal& w = **latest;
    if (w.delivered || w.next_attempt > now) continue;
    Status sent = send(p.id, w.envelope);
    if (sent.ok()) {
      if (MarkDelivered(p.id, w.withdrawal.seq, "pushed over the sync channel").ok()) ++delivered;
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    const int attempts = w.attempts + 1;
    const int64_t next = PushRetry().NextAttempt(attempts, now, env_).value_or(now + 600);
    (void)db_.Exec(
        "UPDATE sync_withdrawals SET attempts = ?, next_attempt = ?, last_error = ? WHERE "
        "partner = ? AND seq = ?",
        {static_cast<int64_t>(attempts), next, sent.message(), p.id,
         static_cast<int64_t>(w.withdrawal.seq)});
    if (attempts == 1) {
      (void)internal::RecordEvent(
          db_, now, p.id, "", 0, "withdrawal-failed",
          "could not deliver " + std::string(WithdrawalActionName(w.withdrawal.action)) +
              " message number " + std::to_string(w.withdrawal.seq) + ": " + sent.message() +
              "; it is sent again until the partner has it");
    }
  }
  return delivered;
}

// --- partner ---------------------------------------------------------------------------------

namespace {

Result<WithdrawalStatus> ReadState(Database& db, int64_t now) {
  int64_t grace = kDefaultExpiryGraceSeconds;
  ASSIGN_OR_RETURN(auto rows,
                   db.Query("SELECT payload, expires_seen, expired_flagged, "
                            "expired_withdrawn FROM sync_withdrawal_state WHERE id = 1"));
  WithdrawalStatus s;
  s.grace_seconds = grace;
  if (rows.empty()) return s;
  if (!rows[0].Text(0).empty()) {
    ASSIGN_OR_RETURN(Withdrawal w, ParseWithdrawal(rows[0].Text(0)));
    s.from_main = std::move(w);
    s.grace_seconds = s.from_main->expiry_grace;  // main's signed word over the default
    grace = s.grace_seconds;
  }
  s.release_expires = rows[0].Int(1);
  s.expired = s.release_expires > 0 && now > s.release_expires;
  s.expired_withdrawn = rows[0].Int(3);
  if (s.from_main && s.from_main->action == WithdrawalAction::kWithdraw) {
    s.effective = s.from_main;
    s.since = s.from_main->issued;
    s.summary = s.from_main->reason == WithdrawalReason::kRevoked
                    ? s.from_main->message +
                          " Visitors of tie-up pages see a page saying the partnership has "
                          "ended (HTTP 410); your original pages are served as before."
                    : s.from_main->message +
                          " Visitors of tie-up pages see a page saying the partnership is "
                          "suspended (HTTP 503); they come back when main resumes it.";
  } else if (s.expired_withdrawn != 0) {
    Withdrawal w;
    w.action = WithdrawalAction::kWithdraw;
    w.reason = WithdrawalReason::kExpired;
    w.main_name = s.from_main ? s.from_main->main_name : "";
    w.issued = s.expired_withdrawn;
    w.message = "The tie-up release expired at " + When(s.release_expires) +
                " and main has not sent a newer one within the grace period.";
    s.effective = w;
    s.since = s.expired_withdrawn;
    s.summary = "Withdrawn by this site: " + w.message +
                " Visitors of tie-up pages see a notice (HTTP 503) until main sends a new "
                "release.";
  } else if (s.expired) {
    s.summary = "The tie-up release expired at " + When(s.release_expires) +
                ": main has not sent a newer one. Its pages are withdrawn at " +
                When(s.release_expires + grace) + " unless main sends a new release first.";
  }
  return s;
}

}  // namespace

Result<WithdrawalStatus> ReadWithdrawalStatus(Database& db, int64_t now) {
  auto exists = TableExists(db, "sync_withdrawal_state");
  if (!exists.ok() || !*exists) return WithdrawalStatus();
  return ReadState(db, now);
}

Result<std::unique_ptr<WithdrawalKeeper>> WithdrawalKeeper::Open(Env& env, Database& db,
                                                                 Options options) {
  if (options.board == nullptr) {
    return Status::InvalidArgument("a withdrawal keeper needs the site's board (Options::board)");
  }
  RETURN_IF_ERROR(internal::MigrateSyncSchema(db));
  RETURN_IF_ERROR(Migrate(db, "sync_withdrawal_state", KeeperMigrations()));
  std::unique_ptr<WithdrawalKeeper> k(new WithdrawalKeeper(env, db, std::move(options)));
  RETURN_IF_ERROR(k->Current().status());
  return k;
}

Result<WithdrawalStatus> WithdrawalKeeper::LoadLocked() {
  ASSIGN_OR_RETURN(WithdrawalStatus s, ReadState(db_, env_.NowSeconds()));
  Publish(s);
  return s;
}

void WithdrawalKeeper::Publish(const WithdrawalStatus& s) {
  options_.board->Set(s.effective ? std::make_shared<const Withdrawal>(*s.effective) : nullptr);
}

Result<WithdrawalStatus> WithdrawalKeeper::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  return LoadLocked();
}

Result<Withdrawal> WithdrawalKeeper::Accept(std::string_view envelope) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT seq, envelope, payload FROM "
                                        "sync_withdrawal_state WHERE id = 1"));
  const uint64_t last = rows.empty() ? 0 : static_cast<uint64_t>(rows[0].Int(0));
  bool was_withdrawn = false;
  if (!rows.empty() && !rows[0].Text(2).empty()) {
    auto before = ParseWithdrawal(rows[0].Text(2));
    was_withdrawn = before.ok() && before->action == WithdrawalAction::kWithdraw;
  }
  if (!rows.empty() && last > 0 && rows[0].Text(1) == envelope) {
    // Main sends again what it did not see acknowledged: the same answer.
    ASSIGN_OR_RETURN(SignedEnvelope env, ParseEnvelope(envelope));
    return ParseWithdrawal(env.payload);
  }
  const int64_t now = env_.NowSeconds();
  auto verified = VerifyWithdrawal(options_.pinned_root, options_.root_envelope, envelope,
                                   options_.site_id, last, now);
  if (!verified.ok()) {
    (void)internal::RecordEvent(db_, now, options_.site_id, "", 0, "refused",
                                "refused a withdrawal message: " + verified.status().message());
    return verified.status();
  }
  const Withdrawal& w = *verified;
  ASSIGN_OR_RETURN(SignedEnvelope env, ParseEnvelope(envelope));
  RETURN_IF_ERROR(db_.Exec(
      "UPDATE sync_withdrawal_state SET seq = ?, envelope = ?, payload = ?, received = ? WHERE "
      "id = 1",
      {static_cast<int64_t>(w.seq), std::string(envelope), env.payload, now}));
  const bool withdraw = w.action == WithdrawalAction::kWithdraw;
  if (!withdraw && !was_withdrawn) {
    // Main states its terms (the grace period) while the pages are served.
    RETURN_IF_ERROR(internal::RecordEvent(
        db_, now, options_.site_id, "", 0, "terms",
        "main's terms (message number " + std::to_string(w.seq) + "): " + w.message));
    RETURN_IF_ERROR(LoadLocked().status());
    return w;
  }
  RETURN_IF_ERROR(internal::RecordEvent(
      db_, now, options_.site_id, "", 0, withdraw ? "withdrawn" : "reinstated",
      withdraw ? "main withdrew the tie-up pages (" + std::string(WithdrawalReasonName(w.reason)) +
                     ", message number " + std::to_string(w.seq) + "): " + w.message +
                     " Tie-up pages now answer a notice; original pages are served as before."
               : "main reinstated the tie-up pages (message number " + std::to_string(w.seq) +
                     "): " + w.message));
  RETURN_IF_ERROR(LoadLocked().status());
  return w;
}

Result<WithdrawalStatus> WithdrawalKeeper::CheckExpiry(int64_t expires, int64_t now,
                                                       const TellMain& tell_main) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(WithdrawalStatus current, ReadState(db_, now));
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT expires_seen, expired_flagged, expired_withdrawn "
                                        "FROM sync_withdrawal_state WHERE id = 1"));
  if (rows.empty()) {
    Publish(current);
    return current;
  }
  const int64_t grace = current.grace_seconds;
  const int64_t seen_before = rows[0].Int(0), flagged_before = rows[0].Int(1),
                withdrawn_before = rows[0].Int(2);
  int64_t seen = seen_before, flagged = flagged_before, withdrawn = withdrawn_before;
  const std::string id = options_.site_id;
  if (expires != seen) {
    // Another release is active (or none): its own expiry counts from now on.
    if (withdrawn != 0 && (expires == 0 || now <= expires + grace)) {
      RETURN_IF_ERROR(internal::RecordEvent(
          db_, now, id, "", 0, "reinstated",
          expires == 0 ? "no tie-up release is active any more: the expiry withdrawal ends"
                       : "a tie-up release valid until " + When(expires) +
                             " is active: the tie-up pages are served again"));
      if (tell_main) {
        tell_main("reinstated",
                  expires == 0 ? "no tie-up release is active any more: the expiry withdrawal ends"
                               : "the tie-up pages are served again (a release valid until " +
                                     When(expires) + " is active)");
      }
    }
    seen = expires;
    flagged = 0;
    withdrawn = 0;
  }
  if (expires > 0 && now > expires && flagged == 0) {
    flagged = now;
    const std::string m = "the active tie-up release expired at " + When(expires) +
                          " and main has sent no newer one; its pages are withdrawn at " +
                          When(expires + grace) + " unless a new release arrives first";
    RETURN_IF_ERROR(internal::RecordEvent(db_, now, id, "", 0, "expired", m));
    if (tell_main) tell_main("expired", m);
  }
  if (expires > 0 && now > expires + grace && withdrawn == 0) {
    withdrawn = now;
    const std::string m = "the active tie-up release expired at " + When(expires) +
                          " and the grace period has passed: this site withdrew the tie-up "
                          "pages itself (reason expired); they come back with main's next release";
    RETURN_IF_ERROR(internal::RecordEvent(db_, now, id, "", 0, "withdrawn", m));
    if (tell_main) tell_main("withdrawn", m);
  }
  if (seen == seen_before && flagged == flagged_before && withdrawn == withdrawn_before) {
    // Nothing changed (nearly every tick): no write, and the board already shows this, except
    // that `expired` follows the clock.
    return current;
  }
  RETURN_IF_ERROR(
      db_.Exec("UPDATE sync_withdrawal_state SET expires_seen = ?, expired_flagged = ?, "
               "expired_withdrawn = ? WHERE id = 1",
               {seen, flagged, withdrawn}));
  return LoadLocked();
}

}  // namespace tieup::sync
