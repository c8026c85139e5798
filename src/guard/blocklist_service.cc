#include "guard/blocklist_service.h"

#include <map>
#include <tuple>

#include "sync/retry.h"
#include "trust/signed_metadata.h"

namespace tieup::guard {
namespace {

// Push retries: 5 s growing to 10 minutes apart, jittered, never giving up.
const sync::RetryPolicy& PushRetry() {
  static const sync::RetryPolicy policy = *sync::RetryPolicy::Parse("backoff:5s..10m");
  return policy;
}

const std::vector<Migration>& IssuerMigrations() {
  static const std::vector<Migration> steps = {
      {1,
       "CREATE TABLE guard_blocklist(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT "
       "NULL, added INTEGER NOT NULL, expires INTEGER NOT NULL, reason TEXT NOT NULL, by_whom "
       "TEXT NOT NULL, UNIQUE(kind, value));"
       "CREATE TABLE guard_blocklist_signed(seq INTEGER PRIMARY KEY, issued INTEGER NOT NULL, "
       "envelope TEXT NOT NULL);"
       "CREATE TABLE guard_blocklist_delivered(partner TEXT PRIMARY KEY, seq INTEGER NOT NULL "
       "DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL DEFAULT 0, "
       "last_error TEXT NOT NULL DEFAULT '')"},
  };
  return steps;
}

const std::vector<Migration>& KeeperMigrations() {
  static const std::vector<Migration> steps = {
      {1,
       "CREATE TABLE guard_blocklist_state(id INTEGER PRIMARY KEY CHECK(id = 1), seq INTEGER NOT "
       "NULL DEFAULT 0, envelope TEXT NOT NULL DEFAULT '', payload TEXT NOT NULL DEFAULT '', "
       "received INTEGER NOT NULL DEFAULT 0);"
       "INSERT INTO guard_blocklist_state(id) VALUES(1)"},
  };
  return steps;
}

constexpr std::string_view kEntryColumns = "id, kind, value, added, expires, reason, by_whom";

Result<BlockEntry> EntryFromRow(const SqlRow& r) {
  BlockEntry e;
  e.id = static_cast<uint64_t>(r.Int(0));
  ASSIGN_OR_RETURN(e.kind, ParseBlockKind(r.Text(1)));
  e.value = r.Text(2);
  e.added = r.Int(3);
  e.expires = r.Int(4);
  e.reason = r.Text(5);
  e.by = r.Text(6);
  return e;
}

Result<std::vector<BlockEntry>> ReadEntries(Database& db, bool with_expired, int64_t now) {
  ASSIGN_OR_RETURN(auto rows,
                   db.Query("SELECT " + std::string(kEntryColumns) +
                                " FROM guard_blocklist WHERE ? OR expires = 0 OR expires > ? "
                                "ORDER BY id",
                            {static_cast<int64_t>(with_expired ? 1 : 0), now}));
  std::vector<BlockEntry> out;
  for (const SqlRow& r : rows) {
    ASSIGN_OR_RETURN(BlockEntry e, EntryFromRow(r));
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::optional<SignedBlocklist>> ReadLatest(Database& db) {
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT envelope FROM guard_blocklist_signed ORDER BY "
                                       "seq DESC LIMIT 1"));
  if (rows.empty()) return std::optional<SignedBlocklist>();
  SignedBlocklist s;
  s.envelope = rows[0].Text(0);
  ASSIGN_OR_RETURN(SignedEnvelope env, ParseEnvelope(s.envelope));
  ASSIGN_OR_RETURN(s.list, ParseBlocklist(env.payload));
  return std::optional<SignedBlocklist>(std::move(s));
}

}  // namespace

// --- main ------------------------------------------------------------------------------------

Result<std::unique_ptr<BlocklistIssuer>> BlocklistIssuer::Open(Env& env, Database& db,
                                                               Ed25519PrivateKey release_key) {
  RETURN_IF_ERROR(Migrate(db, "blocklist", IssuerMigrations()));
  return std::unique_ptr<BlocklistIssuer>(new BlocklistIssuer(env, db, std::move(release_key)));
}

Status BlocklistIssuer::SignLocked(Database& db) {
  const int64_t now = env_.NowSeconds();
  // Expired entries are gone from the list for good: a partner no longer needs them.
  RETURN_IF_ERROR(
      db.Exec("DELETE FROM guard_blocklist WHERE expires <> 0 AND expires <= ?", {now}));
  Blocklist list;
  ASSIGN_OR_RETURN(list.entries, ReadEntries(db, false, now));
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT COALESCE(MAX(seq), 0) FROM guard_blocklist_signed"));
  list.seq = static_cast<uint64_t>(rows.empty() ? 0 : rows[0].Int(0)) + 1;
  list.issued = now;
  return db.Exec("INSERT INTO guard_blocklist_signed(seq, issued, envelope) VALUES(?, ?, ?)",
                 {static_cast<int64_t>(list.seq), now, SignBlocklist(key_, list)});
}

Result<BlockEntry> BlocklistIssuer::Add(BlockEntry entry) {
  ASSIGN_OR_RETURN(entry.value, NormalizeBlockValue(entry.kind, entry.value));
  if (entry.reason.size() > kMaxBlockReasonBytes || entry.by.size() > kMaxBlockReasonBytes) {
    return Status::InvalidArgument("a blocklist entry's reason is at most " +
                                   std::to_string(kMaxBlockReasonBytes) + " bytes");
  }
  for (const std::string* s : {&entry.reason, &entry.by}) {
    for (char c : *s) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return Status::InvalidArgument("a blocklist entry's reason is one line of text");
      }
    }
  }
  const int64_t now = env_.NowSeconds();
  if (entry.expires != 0 && entry.expires <= now) {
    return Status::InvalidArgument("that entry would have expired already");
  }
  entry.added = now;
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(auto count,
                     db.Query("SELECT COUNT(*) FROM guard_blocklist WHERE (expires = "
                              "0 OR expires > ?) AND NOT (kind = ? AND value = ?)",
                              {now, std::string(BlockKindName(entry.kind)), entry.value}));
    if (!count.empty() && count[0].Int(0) >= static_cast<int64_t>(kMaxBlocklistEntries)) {
      return Status::ResourceExhausted("the blocklist holds " +
                                       std::to_string(kMaxBlocklistEntries) +
                                       " entries already: remove some, or block a range");
    }
    RETURN_IF_ERROR(db.Exec("DELETE FROM guard_blocklist WHERE kind = ? AND value = ?",
                            {std::string(BlockKindName(entry.kind)), entry.value}));
    RETURN_IF_ERROR(
        db.Exec("INSERT INTO guard_blocklist(kind, value, added, expires, reason, "
                "by_whom) VALUES(?, ?, ?, ?, ?, ?)",
                {std::string(BlockKindName(entry.kind)), entry.value, entry.added, entry.expires,
                 entry.reason, entry.by}));
    entry.id = static_cast<uint64_t>(db.LastInsertId());
    return SignLocked(db);
  }));
  return entry;
}

Result<BlockEntry> BlocklistIssuer::Remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  BlockEntry removed;
  RETURN_IF_ERROR(db_.Transaction([&](Database& db) -> Status {
    ASSIGN_OR_RETURN(auto rows, db.Query("SELECT " + std::string(kEntryColumns) +
                                             " FROM guard_blocklist WHERE id = ?",
                                         {static_cast<int64_t>(id)}));
    if (rows.empty()) {
      return Status::NotFound("the blocklist has no entry " + std::to_string(id) +
                              " (`tieup main blocklist DIR` lists them)");
    }
    ASSIGN_OR_RETURN(removed, EntryFromRow(rows[0]));
    RETURN_IF_ERROR(
        db.Exec("DELETE FROM guard_blocklist WHERE id = ?", {static_cast<int64_t>(id)}));
    return SignLocked(db);
  }));
  return removed;
}

Result<std::vector<BlockEntry>> BlocklistIssuer::Entries(bool with_expired) {
  return ReadEntries(db_, with_expired, env_.NowSeconds());
}

Result<std::optional<SignedBlocklist>> BlocklistIssuer::Latest() { return ReadLatest(db_); }

Result<uint64_t> BlocklistIssuer::LatestSeq() {
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT COALESCE(MAX(seq), 0) FROM guard_blocklist_signed"));
  return static_cast<uint64_t>(rows.empty() ? 0 : rows[0].Int(0));
}

size_t BlocklistIssuer::DeliverDue(const SignedBlocklist& latest,
                                   const std::vector<std::string>& partners, int64_t now,
                                   const Sender& send) {
  const uint64_t seq = latest.list.seq;
  auto rows = db_.Query(
      "SELECT partner, seq, attempts, next_attempt FROM "
      "guard_blocklist_delivered");
  if (!rows.ok()) return 0;
  std::map<std::string, std::tuple<uint64_t, int, int64_t>> known;
  for (const SqlRow& r : *rows) {
    known[r.Text(0)] = {static_cast<uint64_t>(r.Int(1)), static_cast<int>(r.Int(2)), r.Int(3)};
  }
  size_t delivered = 0;
  for (const std::string& partner : partners) {
    auto [has, attempts, next] =
        known.count(partner) ? known[partner] : std::tuple<uint64_t, int, int64_t>{0, 0, 0};
    if (has >= seq || next > now) continue;
    Status sent = send(partner, latest.envelope);
    if (sent.ok()) {
      if (MarkDelivered(partner, seq).ok()) ++delivered;
      continue;
    }
    const int64_t retry = PushRetry().NextAttempt(attempts + 1, now, env_).value_or(now + 600);
    (void)db_.Exec(
        "INSERT INTO guard_blocklist_delivered(partner, seq, attempts, next_attempt, last_error) "
        "VALUES(?, ?, ?, ?, ?) ON CONFLICT(partner) DO UPDATE SET attempts = excluded.attempts, "
        "next_attempt = excluded.next_attempt, last_error = excluded.last_error",
        {partner, static_cast<int64_t>(has), static_cast<int64_t>(attempts + 1), retry,
         sent.message()});
  }
  return delivered;
}

Status BlocklistIssuer::MarkDelivered(const std::string& partner, uint64_t seq) {
  return db_.Exec(
      "INSERT INTO guard_blocklist_delivered(partner, seq) VALUES(?, ?) ON CONFLICT(partner) DO "
      "UPDATE SET seq = CASE WHEN excluded.seq > guard_blocklist_delivered.seq THEN excluded.seq "
      "ELSE guard_blocklist_delivered.seq END, attempts = 0, next_attempt = 0, last_error = ''",
      {partner, static_cast<int64_t>(seq)});
}

Result<std::vector<BlocklistDelivery>> BlocklistIssuer::Deliveries() {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT partner, seq, attempts, next_attempt, last_error "
                                        "FROM guard_blocklist_delivered ORDER BY partner"));
  std::vector<BlocklistDelivery> out;
  for (const SqlRow& r : rows) {
    out.push_back({r.Text(0), static_cast<uint64_t>(r.Int(1)), static_cast<int>(r.Int(2)), r.Int(3),
                   r.Text(4)});
  }
  return out;
}

// --- partner ---------------------------------------------------------------------------------

Result<Blocklist> ReadKeptBlocklist(Database& db) {
  RETURN_IF_ERROR(Migrate(db, "blocklist-kept", KeeperMigrations()));
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT payload FROM guard_blocklist_state WHERE id = 1"));
  if (rows.empty() || rows[0].Text(0).empty()) return Blocklist{};
  return ParseBlocklist(rows[0].Text(0));
}

Result<std::unique_ptr<BlocklistKeeper>> BlocklistKeeper::Open(Env& env, Database& db,
                                                               Options options) {
  ASSIGN_OR_RETURN(Blocklist kept, ReadKeptBlocklist(db));
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT envelope FROM guard_blocklist_state WHERE id = 1"));
  std::unique_ptr<BlocklistKeeper> k(new BlocklistKeeper(env, db, std::move(options)));
  k->envelope_ = rows.empty() ? "" : rows[0].Text(0);
  k->matcher_ = std::make_shared<const BlocklistMatcher>(std::move(kept));
  return k;
}

Result<Blocklist> BlocklistKeeper::Accept(std::string_view envelope) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!envelope_.empty() && envelope == envelope_) return matcher_->list();
  ASSIGN_OR_RETURN(Blocklist list,
                   VerifyBlocklist(options_.pinned_root, options_.root_envelope, envelope,
                                   matcher_->list().seq, env_.NowSeconds()));
  ASSIGN_OR_RETURN(SignedEnvelope env, ParseEnvelope(envelope));
  RETURN_IF_ERROR(db_.Exec(
      "UPDATE guard_blocklist_state SET seq = ?, envelope = ?, payload = ?, received = ? WHERE "
      "id = 1",
      {static_cast<int64_t>(list.seq), std::string(envelope), env.payload, env_.NowSeconds()}));
  envelope_ = std::string(envelope);
  matcher_ = std::make_shared<const BlocklistMatcher>(list);
  return list;
}

std::shared_ptr<const BlocklistMatcher> BlocklistKeeper::matcher() const {
  std::lock_guard<std::mutex> lock(mu_);
  return matcher_;
}

uint64_t BlocklistKeeper::seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return matcher_->list().seq;
}

}  // namespace tieup::guard
