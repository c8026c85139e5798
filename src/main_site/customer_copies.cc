#include "main_site/customer_copies.h"

#include <algorithm>
#include <map>
#include <set>

#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "main_site/main_daemon.h"
#include "main_site/main_sync.h"
#include "sync/http_api.h"
#include "sync/publisher.h"

namespace tieup {
namespace {

constexpr std::string_view kSchema = R"(
CREATE TABLE customer_copies_sent (
  partner TEXT NOT NULL,
  user_id TEXT NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (partner, user_id)
);
CREATE TABLE customer_copy_erasures (
  partner TEXT NOT NULL,
  user_id TEXT NOT NULL,
  email_sha256 TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (partner, user_id)
);
CREATE TABLE customer_copy_seq (
  partner TEXT PRIMARY KEY,
  seq INTEGER NOT NULL
);
)";

Result<bool> HasTable(Database& db, std::string_view table) { return TableExists(db, table); }

// The accounts `terms` cover for `partner`, by id.
Result<std::set<std::string>> Members(Database& db, const std::string& partner,
                                      const sync::CustomerCopyTerms& terms) {
  std::set<std::string> out;
  if (terms.fields.empty()) return out;
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT id FROM users WHERE registered_via = ?", {partner}));
  for (const SqlRow& r : rows) out.insert(r.Text(0));
  ASSIGN_OR_RETURN(bool orders, HasTable(db, "commerce_orders"));
  if (terms.scope == "customers" && orders) {
    ASSIGN_OR_RETURN(rows, db.Query("SELECT DISTINCT u.id FROM users u JOIN commerce_orders o ON "
                                    "lower(o.email) = u.email_key WHERE o.channel = ?",
                                    {partner}));
    for (const SqlRow& r : rows) out.insert(r.Text(0));
  }
  return out;
}

}  // namespace

Status MigrateCustomerCopies(Database& db) {
  return Migrate(db, "customer_copies_main", {{1, std::string(kSchema)}});
}

Result<std::optional<PlannedCopies>> PlanCustomerCopies(Database& db, users::UserStore& store,
                                                        const std::string& partner,
                                                        const sync::CustomerCopyTerms& terms,
                                                        int64_t now_seconds) {
  PlannedCopies planned;
  users::CustomerCopyMessage& m = planned.message;
  m.partner = partner;
  m.issued = now_seconds;
  m.fields = terms.fields;
  auto full = [&] {
    return m.upsert.size() + m.drop.size() + m.erase.size() >= users::kMaxCopyEntries;
  };

  // Erasures first: they are what the law asks for.
  ASSIGN_OR_RETURN(auto erasures,
                   db.Query("SELECT user_id, email_sha256 FROM "
                            "customer_copy_erasures WHERE partner = ? ORDER BY "
                            "created_at LIMIT ?",
                            {partner, static_cast<int64_t>(users::kMaxCopyEntries)}));
  std::set<std::string> erased;
  for (const SqlRow& r : erasures) {
    m.erase.push_back({r.Text(0), r.Text(1)});
    erased.insert(r.Text(0));
  }
  ASSIGN_OR_RETURN(std::set<std::string> members, Members(db, partner, terms));
  ASSIGN_OR_RETURN(auto sent_rows, db.Query("SELECT user_id, digest FROM customer_copies_sent "
                                            "WHERE partner = ?",
                                            {partner}));
  std::map<std::string, std::string> sent;
  for (const SqlRow& r : sent_rows) sent.emplace(r.Text(0), r.Text(1));
  for (const auto& [user_id, digest] : sent) {
    if (full()) break;
    if (!members.count(user_id) && !erased.count(user_id)) m.drop.push_back(user_id);
  }
  for (const std::string& user_id : members) {
    if (full()) break;
    if (erased.count(user_id)) continue;
    Result<users::User> user = store.Get(user_id);
    if (!user.ok()) {
      if (user.status().code() == StatusCode::kNotFound) continue;  // erased meanwhile
      return user.status();
    }
    users::CustomerCopy copy = users::CopyOf(*user, terms.fields);
    std::string digest = Sha256Hex(users::EncodeCustomerCopy(copy));
    auto it = sent.find(user_id);
    if (it != sent.end() && it->second == digest) continue;
    m.upsert.push_back(std::move(copy));
    planned.digests.emplace_back(user_id, std::move(digest));
  }
  if (m.upsert.empty() && m.drop.empty() && m.erase.empty()) {
    return std::optional<PlannedCopies>();
  }
  // A fresh number for each attempt.
  RETURN_IF_ERROR(db.Transaction([&](Database& tx) -> Status {
    ASSIGN_OR_RETURN(auto rows,
                     tx.Query("SELECT seq FROM customer_copy_seq WHERE partner = ?", {partner}));
    m.seq = rows.empty() ? 1 : static_cast<uint64_t>(rows[0].Int(0)) + 1;
    return tx.Exec(
        "INSERT INTO customer_copy_seq(partner, seq) VALUES(?, ?) ON CONFLICT (partner) DO "
        "UPDATE SET seq = excluded.seq",
        {partner, static_cast<int64_t>(m.seq)});
  }));
  return std::optional<PlannedCopies>(std::move(planned));
}

Status RecordCustomerCopiesDelivered(Database& db, const PlannedCopies& planned) {
  const std::string& partner = planned.message.partner;
  return db.Transaction([&](Database& tx) -> Status {
    for (const auto& [user_id, digest] : planned.digests) {
      RETURN_IF_ERROR(
          tx.Exec("INSERT INTO customer_copies_sent(partner, user_id, digest) VALUES(?, ?, ?) ON "
                  "CONFLICT (partner, user_id) DO UPDATE SET digest = excluded.digest",
                  {partner, user_id, digest}));
    }
    for (const std::string& user_id : planned.message.drop) {
      RETURN_IF_ERROR(tx.Exec("DELETE FROM customer_copies_sent WHERE partner = ? AND user_id = ?",
                              {partner, user_id}));
    }
    for (const users::CopyErasure& e : planned.message.erase) {
      RETURN_IF_ERROR(tx.Exec("DELETE FROM customer_copies_sent WHERE partner = ? AND user_id = ?",
                              {partner, e.user_id}));
      RETURN_IF_ERROR(
          tx.Exec("DELETE FROM customer_copy_erasures WHERE partner = ? AND user_id = ?",
                  {partner, e.user_id}));
    }
    return Status::Ok();
  });
}

Result<std::vector<std::string>> PartnersOfCustomer(Database& db, const users::User& user) {
  RETURN_IF_ERROR(MigrateCustomerCopies(db));
  std::set<std::string> candidates;
  ASSIGN_OR_RETURN(
      auto rows, db.Query("SELECT partner FROM customer_copies_sent WHERE user_id = ?", {user.id}));
  for (const SqlRow& r : rows) candidates.insert(r.Text(0));
  // The sites the customer signed in to through main, now or before (oidc_provider.h).
  for (const char* table : {"oidc_signins", "oidc_clients_known"}) {
    ASSIGN_OR_RETURN(bool exists, HasTable(db, table));
    if (!exists) continue;
    ASSIGN_OR_RETURN(
        rows,
        db.Query(std::string("SELECT client_id FROM ") + table + " WHERE user_id = ?", {user.id}));
    for (const SqlRow& r : rows) candidates.insert(r.Text(0));
  }
  if (user.registered_via != "main") candidates.insert(user.registered_via);
  ASSIGN_OR_RETURN(bool partnerships, HasTable(db, "sync_partnerships"));
  std::vector<std::string> out;
  for (const std::string& p : candidates) {
    if (partnerships) {  // other clients of the provider are not partners
      ASSIGN_OR_RETURN(auto known, db.Query("SELECT 1 FROM sync_partnerships WHERE id = ?", {p}));
      if (known.empty()) continue;
    }
    out.push_back(p);
  }
  return out;
}

Status QueueCopyErasures(Database& db, const users::User& user, int64_t now_seconds) {
  ASSIGN_OR_RETURN(std::vector<std::string> partners, PartnersOfCustomer(db, user));
  const std::string hash = users::EmailSha256(user.email);
  return db.Transaction([&](Database& tx) -> Status {
    for (const std::string& p : partners) {
      RETURN_IF_ERROR(
          tx.Exec("INSERT INTO customer_copy_erasures(partner, user_id, email_sha256, created_at) "
                  "VALUES(?, ?, ?, ?) ON CONFLICT (partner, user_id) DO NOTHING",
                  {p, user.id, hash, now_seconds}));
    }
    return Status::Ok();
  });
}

Result<CopyStanding> CustomerCopyStanding(Database& db, const std::string& partner) {
  RETURN_IF_ERROR(MigrateCustomerCopies(db));
  CopyStanding s;
  ASSIGN_OR_RETURN(
      auto rows,
      db.Query("SELECT COUNT(*) FROM customer_copies_sent WHERE partner = ?", {partner}));
  s.delivered = rows.empty() ? 0 : rows[0].Int(0);
  ASSIGN_OR_RETURN(
      rows, db.Query("SELECT COUNT(*) FROM customer_copy_erasures WHERE partner = ?", {partner}));
  s.erasures_waiting = rows.empty() ? 0 : rows[0].Int(0);
  return s;
}

Result<std::vector<std::pair<std::string, std::vector<std::string>>>> CopiesOf(
    Database& db, const std::string& user_id) {
  RETURN_IF_ERROR(MigrateCustomerCopies(db));
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT partner FROM customer_copies_sent WHERE user_id = ? "
                                       "ORDER BY partner",
                                       {user_id}));
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const SqlRow& r : rows) {
    ASSIGN_OR_RETURN(sync::CustomerCopyTerms terms, sync::ReadCustomerCopyTerms(db, r.Text(0)));
    out.emplace_back(r.Text(0), terms.fields);
  }
  return out;
}

namespace {

// The background delivery's memory between ticks.
struct CopyDelivery {
  std::string fingerprint;  // of what the plans depend on, at the last complete round
  struct Backoff {
    int64_t next_micros = 0;
    int64_t delay_micros = 0;
  };
  std::map<std::string, Backoff> failed;  // partners whose last delivery failed
};

// What the plans depend on: accounts (their last change and number), main's orders, waiting
// erasures and the partnerships' terms. Unchanged: nothing to plan (but failed deliveries).
Result<std::string> Fingerprint(Database& db) {
  ASSIGN_OR_RETURN(auto rows,
                   db.Query("SELECT (SELECT COALESCE(MAX(changed_at), 0) || ':' || COUNT(*) FROM "
                            "users) || '/' || (SELECT COUNT(*) FROM customer_copy_erasures)"));
  std::string out = rows.empty() ? "" : rows[0].Text(0);
  ASSIGN_OR_RETURN(rows, db.Query("SELECT id, copy_fields, copy_for, revoked, sync_url FROM "
                                  "sync_partnerships ORDER BY id"));
  out += '/';
  for (const SqlRow& r : rows) {
    out += r.Text(0) + ',' + r.Text(1) + ',' + r.Text(2) + ',' + std::to_string(r.Int(3)) + ',' +
           r.Text(4) + ';';
  }
  ASSIGN_OR_RETURN(bool orders, HasTable(db, "commerce_orders"));
  if (orders) {
    ASSIGN_OR_RETURN(rows, db.Query("SELECT COUNT(*) || ':' || COALESCE(MAX(updated_micros), 0) "
                                    "FROM commerce_orders"));
    out += "/" + (rows.empty() ? std::string() : rows[0].Text(0));
  }
  return out;
}

// Plans and delivers what `partner` should get; OK when it holds what its contract calls for.
Status DeliverTo(MainDaemon& daemon, users::UserStore& store, const Ed25519PrivateKey& key,
                 const sync::Partnership& p) {
  Database& db = daemon.db();
  ASSIGN_OR_RETURN(sync::CustomerCopyTerms terms, sync::ReadCustomerCopyTerms(db, p.id));
  for (int round = 0; round < 20; ++round) {  // at most 10,000 entries a tick per partner
    ASSIGN_OR_RETURN(std::optional<PlannedCopies> planned,
                     PlanCustomerCopies(db, store, p.id, terms, daemon.env().NowSeconds()));
    if (!planned) return Status::Ok();
    ASSIGN_OR_RETURN(sync::HttpRoundTrip trip,
                     daemon.sync().ConnectToPartner(p.id, std::chrono::seconds(30)));
    HttpRequest req("POST", std::string(users::kCustomerCopyPath));
    req.AddHeader("Content-Type", "application/json");
    req.SetBody(users::SignCustomerCopyMessage(key, planned->message));
    ASSIGN_OR_RETURN(HttpResponse r, trip(req));
    RETURN_IF_ERROR(sync::StatusFromResponse(r));
    RETURN_IF_ERROR(RecordCustomerCopiesDelivered(db, *planned));
    const users::CustomerCopyMessage& m = planned->message;
    daemon.logger()->info(
        "customer copies: '{}' accepted message {} ({} copied, {} dropped, {} erased)", p.id, m.seq,
        m.upsert.size(), m.drop.size(), m.erase.size());
  }
  return Status::Ok();
}

void DeliverCustomerCopies(MainDaemon& daemon, users::UserStore& store,
                           const Ed25519PrivateKey& key, CopyDelivery& state) {
  Database& db = daemon.db();
  Result<std::string> fingerprint = Fingerprint(db);
  if (!fingerprint.ok()) return;
  const int64_t now = daemon.env().NowMicros();
  const bool changed = *fingerprint != state.fingerprint;
  bool retry_due = false;
  for (const auto& [id, b] : state.failed) retry_due = retry_due || b.next_micros <= now;
  if (!changed && !retry_due) return;
  Result<std::vector<sync::Partnership>> partnerships =
      daemon.sync().publisher().ListPartnerships();
  if (!partnerships.ok()) return;
  for (const sync::Partnership& p : *partnerships) {
    if (p.revoked || p.sync_url.empty()) continue;
    auto failed = state.failed.find(p.id);
    if (failed != state.failed.end() && failed->second.next_micros > now) continue;
    if (!changed && failed == state.failed.end()) continue;
    Status s = DeliverTo(daemon, store, key, p);
    if (s.ok()) {
      if (failed != state.failed.end()) state.failed.erase(failed);
      continue;
    }
    CopyDelivery::Backoff& b = state.failed[p.id];
    b.delay_micros = std::clamp<int64_t>(b.delay_micros * 2, 10'000'000, 600'000'000);
    b.next_micros = now + b.delay_micros;
    daemon.logger()->warn("customer copies: sending to '{}' failed ({}); trying again in {} s",
                          p.id, s.message(), b.delay_micros / 1'000'000);
  }
  state.fingerprint = *fingerprint;
}

}  // namespace

Status AttachCustomerCopies(MainDaemon& daemon, std::shared_ptr<users::UserStore> store) {
  RETURN_IF_ERROR(MigrateCustomerCopies(daemon.db()));
  const std::string key_path = daemon.site().site_dir() + "/keys/release.key";
  if (!daemon.env().FileExists(key_path)) {
    daemon.logger()->warn("customer copies: no signing key at {}: no copies are sent", key_path);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(Ed25519PrivateKey key, LoadPrivateKey(daemon.env(), key_path));
  auto shared_key = std::make_shared<const Ed25519PrivateKey>(std::move(key));
  auto state = std::make_shared<CopyDelivery>();
  MainDaemon* d = &daemon;
  daemon.AddPeriodicTask("customer copies", [d, store, shared_key, state] {
    DeliverCustomerCopies(*d, *store, *shared_key, *state);
  });
  return Status::Ok();
}

}  // namespace tieup
