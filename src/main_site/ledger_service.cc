#include "main_site/ledger_service.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <optional>
#include <variant>

#include "base/encoding.h"
#include "commerce/form.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "fees/contract.h"
#include "fees/statement.h"
#include "ledger/checkpoint.h"
#include "ledger/log.h"
#include "ledger/merkle.h"
#include "ledger/records.h"
#include "ledger/verifier.h"
#include "main_site/main_daemon.h"
#include "site/config.h"
#include "site/sync_transport.h"
#include "sync/partnership_terms.h"
#include "sync/statement_signature.h"
#include "trust/tls.h"

namespace tieup {
namespace {

namespace json = boost::json;

const std::vector<Migration>& MainLedgerMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       "CREATE TABLE ledger_mirrors ("
       "  partner TEXT PRIMARY KEY,"
       "  verifier_key TEXT NOT NULL,"
       "  pinned_at INTEGER NOT NULL,"
       "  accepted_note TEXT NOT NULL DEFAULT '',"
       "  accepted_size INTEGER NOT NULL DEFAULT 0,"
       "  generation INTEGER NOT NULL DEFAULT 0,"
       "  last_received INTEGER NOT NULL DEFAULT 0);"
       "CREATE TABLE ledger_alerts ("
       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
       "  partner TEXT NOT NULL,"
       "  time INTEGER NOT NULL,"
       "  kind TEXT NOT NULL,"
       "  message TEXT NOT NULL,"
       "  range_begin INTEGER NOT NULL,"
       "  range_end INTEGER NOT NULL,"
       "  resolved INTEGER NOT NULL DEFAULT 0,"
       "  resolution TEXT NOT NULL DEFAULT '');"
       "CREATE INDEX ledger_alerts_partner ON ledger_alerts(partner, resolved);"},
      // The fee statements written, for delivery to their partner. File names are relative to
      // SITE_DIR/statements, so that the site folder can move.
      {2,
       "CREATE TABLE fee_statements ("
       "  partner TEXT NOT NULL,"
       "  period TEXT NOT NULL,"
       "  csv_file TEXT NOT NULL,"
       "  contract_file TEXT NOT NULL,"
       "  sha256 TEXT NOT NULL,"
       "  bytes INTEGER NOT NULL,"
       "  written INTEGER NOT NULL,"
       "  PRIMARY KEY (partner, period));"},
      // The orders partners processed themselves, from their ledgers' order records
      // (LedgerCollector::Orders), one row per ledger entry (so the same entries arriving again
      // add nothing); orders_indexed: the mirror's entries read for orders so far (the rest are
      // indexed by the backfill on Open).
      {3,
       "CREATE TABLE ledger_orders ("
       "  partner TEXT NOT NULL,"
       "  entry INTEGER NOT NULL,"
       "  order_id TEXT NOT NULL,"
       "  time_micros INTEGER NOT NULL,"
       "  area TEXT NOT NULL,"
       "  amount_minor INTEGER NOT NULL,"
       "  currency TEXT NOT NULL,"
       "  items INTEGER NOT NULL,"
       "  PRIMARY KEY (partner, entry));"
       "CREATE INDEX ledger_orders_time ON ledger_orders(time_micros);"
       "CREATE INDEX ledger_orders_partner_time ON ledger_orders(partner, time_micros);"
       "ALTER TABLE ledger_mirrors ADD COLUMN orders_indexed INTEGER NOT NULL DEFAULT 0;"},
      // The user logs (issue 16 item 6): the access records that name a signed-in customer,
      // indexed with the orders (the backfill reads every mirror again for them; orders already
      // indexed are ignored).
      {4,
       "CREATE TABLE ledger_user_visits ("
       "  partner TEXT NOT NULL,"
       "  entry INTEGER NOT NULL,"
       "  user_id TEXT NOT NULL,"
       "  time_micros INTEGER NOT NULL,"
       "  area TEXT NOT NULL,"
       "  method TEXT NOT NULL,"
       "  path TEXT NOT NULL,"
       "  status INTEGER NOT NULL,"
       "  PRIMARY KEY (partner, entry));"
       "CREATE INDEX ledger_user_visits_user ON ledger_user_visits(user_id, time_micros);"
       "UPDATE ledger_mirrors SET orders_indexed = 0;"},
      // The searches on partners' search pages and the clicks on their results (a click has a
      // clicked_path; clicked_area is '' for a search), indexed with the orders: the backfill
      // reads every mirror again for them, and what is indexed already is ignored.
      {5,
       "CREATE TABLE ledger_searches ("
       "  partner TEXT NOT NULL,"
       "  entry INTEGER NOT NULL,"
       "  time_micros INTEGER NOT NULL,"
       "  query TEXT NOT NULL,"
       "  results INTEGER NOT NULL,"
       "  clicked_path TEXT NOT NULL,"
       "  clicked_area TEXT NOT NULL,"
       "  PRIMARY KEY (partner, entry));"
       "CREATE INDEX ledger_searches_partner_time ON ledger_searches(partner, time_micros);"
       "UPDATE ledger_mirrors SET orders_indexed = 0;"},
  };
  return kMigrations;
}

std::string Origin(const std::string& partner) { return "tieup.ledger/" + partner; }

// The parsed form of a batch (see the header).
struct Batch {
  std::string origin;
  std::string verifier_key;
  std::string checkpoint;
  uint64_t accepted_size = 0;
  std::vector<ledger::Hash> consistency;
  uint64_t from = 0;
  std::vector<std::string> entries;
  std::vector<ledger::Hash> batch_proof;
};

Result<std::string> StringField(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || !v->is_string()) {
    return Status::InvalidArgument(std::string("the ledger batch has no string field '") + name +
                                   "'");
  }
  return std::string(v->as_string());
}

Result<uint64_t> NumberField(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  if (v != nullptr && v->is_uint64()) return v->as_uint64();
  if (v != nullptr && v->is_int64() && v->as_int64() >= 0) {
    return static_cast<uint64_t>(v->as_int64());
  }
  return Status::InvalidArgument(std::string("the ledger batch has no non-negative integer '") +
                                 name + "'");
}

Result<std::vector<std::string>> Base64ArrayField(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || !v->is_array()) {
    return Status::InvalidArgument(std::string("the ledger batch has no array '") + name + "'");
  }
  std::vector<std::string> out;
  out.reserve(v->as_array().size());
  for (const json::value& e : v->as_array()) {
    if (!e.is_string()) {
      return Status::InvalidArgument(std::string("'") + name + "' holds a non-string element");
    }
    auto raw = Base64Decode(e.as_string());
    if (!raw.ok()) {
      return Status::InvalidArgument(std::string("'") + name +
                                     "' holds bad base64: " + raw.status().message());
    }
    out.push_back(std::move(*raw));
  }
  return out;
}

Result<std::vector<ledger::Hash>> HashArrayField(const json::object& o, const char* name) {
  ASSIGN_OR_RETURN(std::vector<std::string> raw, Base64ArrayField(o, name));
  std::vector<ledger::Hash> out;
  for (const std::string& r : raw) {
    ASSIGN_OR_RETURN(ledger::Hash h, ledger::HashFromBytes(r, name));
    out.push_back(h);
  }
  return out;
}

Result<Batch> ParseBatch(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidArgument("the ledger batch is not a JSON object");
  }
  const json::object& o = v.as_object();
  Batch b;
  ASSIGN_OR_RETURN(b.origin, StringField(o, "origin"));
  ASSIGN_OR_RETURN(b.verifier_key, StringField(o, "verifier_key"));
  ASSIGN_OR_RETURN(b.checkpoint, StringField(o, "checkpoint"));
  ASSIGN_OR_RETURN(b.accepted_size, NumberField(o, "accepted_size"));
  ASSIGN_OR_RETURN(b.consistency, HashArrayField(o, "consistency"));
  ASSIGN_OR_RETURN(b.from, NumberField(o, "from"));
  ASSIGN_OR_RETURN(b.entries, Base64ArrayField(o, "entries"));
  ASSIGN_OR_RETURN(b.batch_proof, HashArrayField(o, "batch_proof"));
  return b;
}

json::object AlertJson(const LedgerAlert& a) {
  json::object o;
  o["id"] = a.id;
  o["time"] = a.time;
  o["kind"] = a.kind;
  o["message"] = a.message;
  o["begin"] = a.begin;
  o["end"] = a.end;
  return o;
}

std::string ReceiptJson(const LedgerReceipt& r) {
  json::object o;
  o["accepted"] = r.accepted;
  o["entries"] = r.entries;
  o["accepted_size"] = r.accepted_size;
  o["message"] = r.message;
  json::array alerts;
  for (const LedgerAlert& a : r.alerts) alerts.push_back(AlertJson(a));
  o["alerts"] = std::move(alerts);
  return json::serialize(o);
}

HttpResponse JsonResponse(const std::string& body) {
  HttpResponse r(200);
  r.AddHeader("Content-Type", "application/json");
  r.SetBody(body);
  return r;
}

// The row of one partner in ledger_mirrors.
struct MirrorRow {
  std::string verifier_key;
  std::string accepted_note;
  uint64_t accepted_size = 0;
  int64_t generation = 0;
};

Result<std::optional<MirrorRow>> LoadRow(Database& db, const std::string& partner) {
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT verifier_key, accepted_note, accepted_size, "
                                       "generation FROM ledger_mirrors WHERE partner = ?",
                                       {partner}));
  if (rows.empty()) return std::optional<MirrorRow>();
  MirrorRow r;
  r.verifier_key = rows[0].Text(0);
  r.accepted_note = rows[0].Text(1);
  r.accepted_size = static_cast<uint64_t>(rows[0].Int(2));
  r.generation = rows[0].Int(3);
  return std::optional<MirrorRow>(std::move(r));
}

std::string CheckpointPath(const std::string& mirror_dir, uint64_t size) {
  char name[64];
  std::snprintf(name, sizeof(name), "%020llu.note", static_cast<unsigned long long>(size));
  return mirror_dir + "/checkpoints/" + name;
}

std::string RootHex(const ledger::Hash& h) { return HexEncode(ledger::HashView(h)); }

std::string Range(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

// The requests a partner counted but could not record, when `entry` says so (records.h).
std::optional<ledger::UnrecordedRecord> UnrecordedIn(std::string_view entry) {
  if (entry.find("\"type\":\"unrecorded\"") == std::string_view::npos) return std::nullopt;
  auto record = ledger::ParseRecord(entry);
  if (!record.ok()) return std::nullopt;
  const auto* gap = std::get_if<ledger::UnrecordedRecord>(&*record);
  if (gap == nullptr) return std::nullopt;
  return *gap;
}

}  // namespace

// One partner's mirror, open in this process (a batch is checked against the log's frontier
// before anything is written).
struct LedgerCollector::Mirror {
  std::unique_ptr<ledger::Log> log;
  int64_t generation = -1;
};

LedgerCollector::LedgerCollector(Env& env, std::string site_dir, Database& db,
                                 std::shared_ptr<Logger> logger, LedgerCollectorOptions options)
    : env_(env),
      site_dir_(std::move(site_dir)),
      db_(db),
      logger_(logger ? std::move(logger) : NewNullLogger()),
      options_(options) {}

LedgerCollector::~LedgerCollector() = default;

namespace {

// The statement files' common name: <base>.csv, .html, .contract.toml and .signature.json.
std::string StatementBaseName(const std::string& partner, const std::string& period_label) {
  return partner + "-" + period_label;
}

}  // namespace

Result<std::unique_ptr<LedgerCollector>> LedgerCollector::Open(Env& env, std::string site_dir,
                                                               Database& db,
                                                               std::shared_ptr<Logger> logger,
                                                               LedgerCollectorOptions options) {
  RETURN_IF_ERROR(Migrate(db, "main_ledger", MainLedgerMigrations()));
  // WriteStatement reads sync_partnerships (sync/partnership_terms.h), whose newer columns the
  // command line (which opens no publisher) may not have migrated yet: once here, not per call.
  RETURN_IF_ERROR(sync::MigratePartnershipTerms(db));
  std::unique_ptr<LedgerCollector> collector(
      new LedgerCollector(env, std::move(site_dir), db, std::move(logger), options));
  // Orders of entries received before the table existed (or before a crash between storing
  // entries and indexing them). Not fatal: the next Open or batch tries again.
  Status backfilled = collector->BackfillOrders();
  if (!backfilled.ok()) {
    collector->logger_->warn("ledger orders: indexing the mirrors' order records: {}",
                             backfilled.ToString());
  }
  return collector;
}

Status LedgerCollector::IndexOrders(const std::string& partner, const ledger::Log& log) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT orders_indexed FROM ledger_mirrors WHERE "
                                        "partner = ?",
                                        {partner}));
  if (rows.empty()) return Status::Ok();
  uint64_t next = static_cast<uint64_t>(rows[0].Int(0));
  const uint64_t size = log.size();
  constexpr uint64_t kChunk = 2000;
  while (next < size) {
    const uint64_t end = std::min(size, next + kChunk);
    ASSIGN_OR_RETURN(std::vector<std::string> entries, log.ReadRange(next, end));
    RETURN_IF_ERROR(db_.Transaction([&](Database& tx) -> Status {
      for (size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].find("\"user_id\":\"usr_") != std::string::npos &&
            entries[i].find("\"type\":\"access\"") != std::string::npos) {
          auto record = ledger::ParseRecord(entries[i]);
          const auto* a = record.ok() ? std::get_if<ledger::AccessRecord>(&*record) : nullptr;
          if (a != nullptr && !a->user_id.empty()) {
            RETURN_IF_ERROR(
                tx.Exec("INSERT INTO ledger_user_visits(partner, entry, user_id, time_micros, "
                        "area, method, path, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
                        "DO NOTHING",
                        {partner, static_cast<int64_t>(next + i), a->user_id, a->time_micros,
                         std::string(ledger::RecordAreaName(a->area)), a->method, a->path,
                         int64_t{a->status}}));
          }
          continue;
        }
        if (entries[i].find("\"type\":\"search\"") != std::string::npos) {
          auto record = ledger::ParseRecord(entries[i]);
          const auto* q = record.ok() ? std::get_if<ledger::SearchRecord>(&*record) : nullptr;
          if (q != nullptr) {
            RETURN_IF_ERROR(tx.Exec(
                "INSERT INTO ledger_searches(partner, entry, time_micros, query, results, "
                "clicked_path, clicked_area) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                {partner, static_cast<int64_t>(next + i), q->time_micros, q->query,
                 static_cast<int64_t>(std::min<uint64_t>(q->results, INT64_MAX)), q->clicked_path,
                 q->clicked_area ? std::string(ledger::RecordAreaName(*q->clicked_area))
                                 : std::string()}));
          }
          continue;
        }
        if (entries[i].find("\"type\":\"order\"") == std::string::npos) continue;
        auto record = ledger::ParseRecord(entries[i]);
        const auto* o = record.ok() ? std::get_if<ledger::OrderRecord>(&*record) : nullptr;
        if (o == nullptr) continue;
        // The partner column is the authenticated shipper, whatever the record says.
        RETURN_IF_ERROR(tx.Exec(
            "INSERT INTO ledger_orders(partner, entry, order_id, time_micros, area, "
            "amount_minor, currency, items) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            {partner, static_cast<int64_t>(next + i), o->order_id, o->time_micros,
             std::string(ledger::RecordAreaName(o->area)), o->amount_minor, o->currency,
             static_cast<int64_t>(o->items)}));
      }
      return tx.Exec(
          "UPDATE ledger_mirrors SET orders_indexed = ? WHERE partner = ? AND "
          "orders_indexed < ?",
          {static_cast<int64_t>(end), partner, static_cast<int64_t>(end)});
    }));
    next = end;
  }
  return Status::Ok();
}

Status LedgerCollector::BackfillOrders() {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT partner FROM ledger_mirrors WHERE orders_indexed "
                                        "< accepted_size ORDER BY partner"));
  for (const SqlRow& row : rows) {
    const std::string partner = row.Text(0);
    std::lock_guard<std::mutex> guard(mu_);
    if (!env_.FileExists(MirrorDir(partner))) continue;
    ASSIGN_OR_RETURN(SiteLock lock, SiteLock::Acquire(MirrorDir(partner)));
    ledger::LogOpenOptions ro;
    ro.read_only = true;
    ASSIGN_OR_RETURN(auto log, ledger::Log::Open(env_, MirrorDir(partner), ro));
    RETURN_IF_ERROR(IndexOrders(partner, *log).Annotate("partner '" + partner + "'"));
  }
  return Status::Ok();
}

Result<std::vector<LedgerVisit>> UserVisits(Database& db, const std::string& user_id,
                                            int64_t limit) {
  ASSIGN_OR_RETURN(bool table, TableExists(db, "ledger_user_visits"));
  std::vector<LedgerVisit> out;
  if (!table) return out;  // no ledger received yet
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT partner, time_micros, area, method, path, status "
                                       "FROM ledger_user_visits WHERE user_id = ? ORDER BY "
                                       "time_micros DESC, partner, entry DESC LIMIT ?",
                                       {user_id, std::clamp<int64_t>(limit, 1, 10000)}));
  for (const SqlRow& r : rows) {
    out.push_back(
        {r.Text(0), r.Int(1), r.Text(2), r.Text(3), r.Text(4), static_cast<int>(r.Int(5))});
  }
  return out;
}

Status ForgetUserVisits(Database& db, const std::string& user_id) {
  ASSIGN_OR_RETURN(bool table, TableExists(db, "ledger_user_visits"));
  if (!table) return Status::Ok();
  return db.Exec("DELETE FROM ledger_user_visits WHERE user_id = ?", {user_id});
}

Result<LedgerOrderPage> LedgerCollector::Orders(const LedgerOrderQuery& q) {
  std::string where = " FROM ledger_orders WHERE (? = '' OR partner = ?) AND (? = '' OR area = ?)";
  if (q.exclude_main_shop_orders) {
    where += " AND order_id NOT IN (SELECT number FROM commerce_orders)";
  }
  std::vector<SqlValue> params = {q.partner, q.partner, q.area, q.area};
  LedgerOrderPage page;
  ASSIGN_OR_RETURN(auto count, db_.Query("SELECT COUNT(*)" + where, params));
  page.total = count.empty() ? 0 : count[0].Int(0);
  params.push_back(std::max<int64_t>(0, q.limit));
  params.push_back(std::max<int64_t>(0, q.offset));
  const std::string dir = q.newest_first ? " DESC" : "";
  ASSIGN_OR_RETURN(auto rows,
                   db_.Query("SELECT partner, entry, order_id, time_micros, area, amount_minor, "
                             "currency, items" +
                                 where + " ORDER BY time_micros" + dir + ", partner, entry" + dir +
                                 " LIMIT ? OFFSET ?",
                             params));
  std::map<std::string, std::vector<fees::ExcludedRange>> excluded;
  for (const SqlRow& r : rows) {
    LedgerOrder o;
    o.partner = r.Text(0);
    o.entry = static_cast<uint64_t>(r.Int(1));
    o.order_id = r.Text(2);
    o.time_micros = r.Int(3);
    o.area = r.Text(4);
    o.amount_minor = r.Int(5);
    o.currency = r.Text(6);
    o.items = static_cast<uint32_t>(r.Int(7));
    auto it = excluded.find(o.partner);
    if (it == excluded.end()) {
      ASSIGN_OR_RETURN(auto ranges, ExcludedRanges(o.partner));
      it = excluded.emplace(o.partner, std::move(ranges)).first;
    }
    for (const fees::ExcludedRange& x : it->second) {
      if (o.entry >= x.begin && o.entry < x.end) o.excluded = true;
    }
    page.orders.push_back(std::move(o));
  }
  return page;
}

Result<std::vector<ZeroResultQuery>> LedgerCollector::ZeroResultQueries(std::string_view partner,
                                                                        int64_t since_micros,
                                                                        size_t limit) {
  // Per partner and case-folded query: the newest row (its spelling and time) with the group's
  // count; then the groups ranked within each partner. Window functions: SQLite 3.25+ and
  // PostgreSQL alike.
  // One partner: "partner = ?" (not "? = '' OR partner = ?"), so that the index on (partner,
  // time_micros) serves it (the console asks for each partner of a page).
  std::vector<SqlValue> args{since_micros};
  if (!partner.empty()) args.emplace_back(std::string(partner));
  args.emplace_back(static_cast<int64_t>(std::clamp<size_t>(limit, 1, 1'000'000)));
  ASSIGN_OR_RETURN(
      auto rows,
      db_.Query(std::string("SELECT partner, query, searches, time_micros FROM ("
                            "  SELECT partner, query, searches, time_micros, ROW_NUMBER() OVER "
                            "    (PARTITION BY partner ORDER BY searches DESC, time_micros DESC,"
                            "    folded) AS place"
                            "  FROM ("
                            "    SELECT partner, query, lower(query) AS folded, time_micros,"
                            "      ROW_NUMBER() OVER (PARTITION BY partner, lower(query) ORDER BY "
                            "        time_micros DESC, entry DESC) AS newest,"
                            "      COUNT(*) OVER (PARTITION BY partner, lower(query)) AS searches"
                            "    FROM ledger_searches WHERE results = 0 AND clicked_path = '' AND "
                            "      time_micros >= ?") +
                    (partner.empty() ? "" : " AND partner = ?") +
                    "  ) AS grouped WHERE newest = 1"
                    ") AS ranked WHERE place <= ? ORDER BY partner, place",
                args));
  std::vector<ZeroResultQuery> out;
  out.reserve(rows.size());
  for (const SqlRow& r : rows) out.push_back({r.Text(0), r.Text(1), r.Int(2), r.Int(3)});
  return out;
}

Result<std::vector<SearchSummary>> LedgerCollector::SearchSummaries(std::string_view partner,
                                                                    int64_t since_micros) {
  std::vector<SqlValue> args{since_micros};
  if (!partner.empty()) args.emplace_back(std::string(partner));
  ASSIGN_OR_RETURN(
      auto rows,
      db_.Query(std::string("SELECT partner,"
                            "  SUM(CASE WHEN clicked_path = '' THEN 1 ELSE 0 END),"
                            "  SUM(CASE WHEN clicked_path = '' AND results = 0 THEN 1 ELSE 0 END),"
                            "  SUM(CASE WHEN clicked_area = 'tieup' THEN 1 ELSE 0 END),"
                            "  SUM(CASE WHEN clicked_area = 'original' THEN 1 ELSE 0 END)"
                            " FROM ledger_searches WHERE time_micros >= ?") +
                    (partner.empty() ? "" : " AND partner = ?") +
                    " GROUP BY partner ORDER BY partner",
                args));
  std::vector<SearchSummary> out;
  out.reserve(rows.size());
  for (const SqlRow& r : rows) {
    out.push_back({r.Text(0), r.Int(1), r.Int(2), r.Int(3), r.Int(4)});
  }
  return out;
}

std::string LedgerCollector::MirrorDir(const std::string& partner) const {
  return site_dir_ + "/ledgers/" + partner;
}

Result<LedgerCollector::Mirror*> LedgerCollector::OpenMirror(const std::string& partner,
                                                             int64_t generation) {
  auto it = mirrors_.find(partner);
  if (it != mirrors_.end() && it->second->generation == generation) return it->second.get();
  // Another process (the command line) changed the mirror, or it is not open yet: (re)open.
  if (it != mirrors_.end()) mirrors_.erase(it);
  auto m = std::make_unique<Mirror>();
  ASSIGN_OR_RETURN(m->log, ledger::Log::Open(env_, MirrorDir(partner)));
  m->generation = generation;
  Mirror* raw = m.get();
  mirrors_[partner] = std::move(m);
  return raw;
}

Result<LedgerAlert> LedgerCollector::RaiseAlert(const std::string& partner, std::string kind,
                                                std::string message, uint64_t begin, uint64_t end) {
  // The same unresolved problem is raised once: a partner retrying every minute does not
  // fill the table.
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT id, time, message FROM ledger_alerts WHERE "
                                        "partner = ? AND kind = ? AND range_begin = ? AND "
                                        "range_end = ? AND resolved = 0",
                                        {partner, kind, static_cast<int64_t>(begin),
                                         static_cast<int64_t>(end)}));
  LedgerAlert a;
  a.partner = partner;
  a.kind = std::move(kind);
  a.begin = begin;
  a.end = end;
  if (!rows.empty()) {
    a.id = rows[0].Int(0);
    a.time = rows[0].Int(1);
    a.message = rows[0].Text(2);
    return a;
  }
  a.time = env_.NowSeconds();
  a.message = std::move(message);
  RETURN_IF_ERROR(
      db_.Exec("INSERT INTO ledger_alerts(partner, time, kind, message, range_begin, range_end) "
               "VALUES (?, ?, ?, ?, ?, ?)",
               {partner, a.time, a.kind, a.message, static_cast<int64_t>(begin),
                static_cast<int64_t>(end)}));
  a.id = db_.LastInsertId();
  logger_->warn("LEDGER ALERT #{} partner '{}' ({}): {}{}", a.id, partner, a.kind, a.message,
                begin < end ? "; entries " + Range(begin, end) + " excluded from fees" : "");
  return a;
}

Result<LedgerReceipt> LedgerCollector::Receive(const std::string& partner,
                                               std::string_view batch_json) {
  if (!IsValidSiteId(partner) || partner == "main") {
    return Status::PermissionDenied("'" + partner + "' cannot ship a partner ledger");
  }
  std::lock_guard<std::mutex> guard(mu_);
  RETURN_IF_ERROR(CreateDirs(env_, MirrorDir(partner)));
  ASSIGN_OR_RETURN(SiteLock lock, SiteLock::Acquire(MirrorDir(partner)));
  return ReceiveLocked(partner, batch_json);
}

Result<LedgerReceipt> LedgerCollector::ReceiveLocked(const std::string& partner,
                                                     std::string_view batch_json) {
  ASSIGN_OR_RETURN(Batch batch, ParseBatch(batch_json));
  const std::string origin = Origin(partner);
  if (batch.origin != origin) {
    return Status::InvalidArgument("the batch is for the ledger '" + batch.origin +
                                   "', but partner '" + partner + "' ships '" + origin + "'");
  }
  LedgerReceipt receipt;
  auto refuse = [&](Result<LedgerAlert> alert) -> Result<LedgerReceipt> {
    if (!alert.ok()) return alert.status();
    receipt.accepted = false;
    receipt.message = alert->message;
    receipt.alerts.push_back(std::move(*alert));
    return receipt;
  };

  // The partner's ledger key: pinned at first sight.
  ASSIGN_OR_RETURN(std::optional<MirrorRow> row, LoadRow(db_, partner));
  if (!row) {
    auto verifier = ledger::NoteVerifier::FromVerifierKey(batch.verifier_key);
    if (!verifier.ok()) {
      return Status::InvalidArgument("the batch's verifier key is malformed: " +
                                     verifier.status().message());
    }
    if (verifier->name() != origin) {
      return Status::InvalidArgument("the batch's verifier key is named '" + verifier->name() +
                                     "'; partner '" + partner + "' must use '" + origin + "'");
    }
    RETURN_IF_ERROR(
        db_.Exec("INSERT INTO ledger_mirrors(partner, verifier_key, pinned_at) VALUES (?, ?, ?)",
                 {partner, batch.verifier_key, env_.NowSeconds()}));
    logger_->info("partner '{}': pinned its ledger key {}", partner, batch.verifier_key);
    row = MirrorRow{batch.verifier_key, "", 0, 0};
  }
  ASSIGN_OR_RETURN(Mirror * mirror, OpenMirror(partner, row->generation));
  receipt.entries = mirror->log->size();
  receipt.accepted_size = row->accepted_size;
  if (batch.verifier_key != row->verifier_key) {
    return refuse(RaiseAlert(partner, "key",
                             "the partner signed with the ledger key " + batch.verifier_key +
                                 ", not the pinned " + row->verifier_key + ": refused",
                             0, 0));
  }
  ASSIGN_OR_RETURN(ledger::NoteVerifier verifier,
                   ledger::NoteVerifier::FromVerifierKey(row->verifier_key));
  auto opened = ledger::OpenCheckpoint(batch.checkpoint, verifier, origin);
  if (!opened.ok()) {
    return refuse(RaiseAlert(partner, "signature",
                             "a checkpoint that does not verify: " + opened.status().message(), 0,
                             0));
  }
  const ledger::Checkpoint& cp = *opened;
  if (batch.accepted_size != row->accepted_size || batch.from != mirror->log->size()) {
    receipt.message = "stale batch: main holds " + std::to_string(mirror->log->size()) +
                      " entries and a checkpoint of size " + std::to_string(row->accepted_size) +
                      "; ask for the state and send again";
    return receipt;
  }

  // The new checkpoint against the last accepted one.
  const uint64_t a = row->accepted_size;
  if (a > 0) {
    ASSIGN_OR_RETURN(ledger::Checkpoint accepted,
                     ledger::OpenCheckpoint(row->accepted_note, verifier, origin));
    if (cp.size < a) {
      return refuse(RaiseAlert(partner, "truncation",
                               "the partner's checkpoint has " + std::to_string(cp.size) +
                                   " entries, fewer than the " + std::to_string(a) +
                                   " it signed before: its ledger was truncated",
                               cp.size, a));
    }
    if (cp.size == a && cp.root != accepted.root) {
      return refuse(RaiseAlert(partner, "fork",
                               "two checkpoints of size " + std::to_string(a) +
                                   " with different roots (" + RootHex(accepted.root) + " and " +
                                   RootHex(cp.root) + "): the ledger was forked or rewritten",
                               0, a));
    }
    if (cp.size > a) {
      Status consistent =
          ledger::VerifyConsistency(a, cp.size, accepted.root, cp.root, batch.consistency);
      if (!consistent.ok()) {
        return refuse(
            RaiseAlert(partner, "rewrite",
                       "the checkpoint of size " + std::to_string(cp.size) +
                           " is not consistent with the accepted one of size " + std::to_string(a) +
                           " (entries were changed, deleted or reordered): " + consistent.message(),
                       0, a));
      }
    }
  }
  if (cp.size > a) {
    RETURN_IF_ERROR(
        db_.Exec("UPDATE ledger_mirrors SET accepted_note = ?, accepted_size = ? WHERE partner = ?",
                 {batch.checkpoint, static_cast<int64_t>(cp.size), partner}));
    receipt.accepted_size = cp.size;
  }

  // The entries: the mirror plus the batch must have the root the checkpoint commits to.
  const uint64_t from = batch.from;
  const uint64_t end = from + batch.entries.size();
  if (end > cp.size) {
    return Status::InvalidArgument("the batch holds entries up to " + std::to_string(end) +
                                   ", beyond its checkpoint's size " + std::to_string(cp.size));
  }
  if (!batch.entries.empty()) {
    ledger::MerkleFrontier with_batch = mirror->log->Frontier();
    for (const std::string& e : batch.entries) with_batch.AppendEntry(e);
    ledger::Hash root = with_batch.Root();
    Status matches =
        end == cp.size
            ? (root == cp.root ? Status::Ok() : Status::Unauthenticated("the roots differ"))
            : ledger::VerifyConsistency(end, cp.size, root, cp.root, batch.batch_proof);
    if (!matches.ok()) {
      return refuse(RaiseAlert(
          partner, "entries",
          "entries " + Range(from, end) + " do not match the partner's own checkpoint of size " +
              std::to_string(cp.size) +
              " (its stored records changed after they were signed): " + matches.message(),
          from, end));
    }
    // Requests the partner served but could not record (a full disk): its fees would be
    // under-counted without anyone knowing. Raised before the entries are stored (once per
    // entry), so a failure to store them loses no alert: the partner sends them again.
    for (size_t i = 0; i < batch.entries.size(); ++i) {
      std::optional<ledger::UnrecordedRecord> gap = UnrecordedIn(batch.entries[i]);
      if (!gap) continue;
      const uint64_t index = from + i;
      auto alert =
          RaiseAlert(partner, "unrecorded",
                     std::to_string(gap->count) + " requests unrecorded between " +
                         FormatRfc3339(gap->first_micros / 1'000'000) + " and " +
                         FormatRfc3339(gap->last_micros / 1'000'000) + " at partner '" + partner +
                         "': " + gap->reason + " (ledger entry " + std::to_string(index) +
                         "); fees for that time count fewer requests than were served",
                     index, index);
      if (!alert.ok()) {
        return alert.status().Annotate("recording an alert for partner '" + partner + "'");
      }
      receipt.alerts.push_back(std::move(*alert));
    }
    // A new generation before writing: another process holding this mirror open reopens it
    // rather than append after a stale size.
    RETURN_IF_ERROR(
        db_.Exec("UPDATE ledger_mirrors SET generation = generation + 1, last_received = ? "
                 "WHERE partner = ?",
                 {env_.NowSeconds(), partner}));
    auto appended = mirror->log->Append(batch.entries);
    if (!appended.ok()) {
      mirrors_.erase(partner);
      return appended.status().Annotate("storing the ledger of partner '" + partner + "'");
    }
    mirror->generation = row->generation + 1;
    // The batch's order records, for the console's orders page. The entries are stored and
    // verified whatever happens here: a failure is logged and the next batch or Open indexes
    // them.
    Status indexed = IndexOrders(partner, *mirror->log);
    if (!indexed.ok()) {
      logger_->warn("partner '{}': indexing its ledger's orders: {}", partner, indexed.ToString());
    }
  }
  const uint64_t size = mirror->log->size();
  if (size == cp.size && size > 0) {
    const std::string path = CheckpointPath(MirrorDir(partner), size);
    if (!env_.FileExists(path)) {
      RETURN_IF_ERROR(CreateDirs(env_, MirrorDir(partner) + "/checkpoints"));
      RETURN_IF_ERROR(WriteFileAtomic(env_, path, batch.checkpoint));
    }
  }
  receipt.accepted = true;
  receipt.entries = size;
  return receipt;
}

Result<LedgerMirrorState> LedgerCollector::State(const std::string& partner) {
  std::lock_guard<std::mutex> guard(mu_);
  LedgerMirrorState s;
  s.partner = partner;
  ASSIGN_OR_RETURN(std::optional<MirrorRow> row, LoadRow(db_, partner));
  if (!row) return s;
  s.verifier_key = row->verifier_key;
  s.accepted_size = row->accepted_size;
  if (row->accepted_size > 0) {
    auto c =
        ledger::ParseCheckpoint(row->accepted_note.substr(0, row->accepted_note.find("\n\n") + 1));
    if (c.ok()) s.accepted_root_hex = RootHex(c->root);
  }
  ASSIGN_OR_RETURN(SiteLock lock, SiteLock::Acquire(MirrorDir(partner)));
  ASSIGN_OR_RETURN(Mirror * mirror, OpenMirror(partner, row->generation));
  s.entries = mirror->log->size();
  return s;
}

Result<LedgerPullSummary> LedgerCollector::Pull(const std::string& partner,
                                                const sync::HttpRoundTrip& round_trip) {
  LedgerPullSummary summary;
  int stale = 0;
  for (uint64_t round = 0; round < options_.max_pull_batches; ++round) {
    ASSIGN_OR_RETURN(LedgerMirrorState state, State(partner));
    HttpRequest req("GET", "/v1/ledger/pull?from=" + std::to_string(state.entries) +
                               "&accepted=" + std::to_string(state.accepted_size) +
                               "&max=" + std::to_string(options_.pull_batch_entries));
    auto reply = round_trip(req);
    if (!reply.ok()) return reply.status().Annotate("pulling the ledger of '" + partner + "'");
    if (reply->status() != 200) {
      return sync::StatusFromResponse(*reply).Annotate("pulling the ledger of '" + partner + "'");
    }
    ASSIGN_OR_RETURN(LedgerReceipt receipt, Receive(partner, reply->body()));
    ++summary.batches;
    if (receipt.accepted) summary.entries_received += receipt.entries - state.entries;
    for (LedgerAlert& a : receipt.alerts) summary.alerts.push_back(a);
    if (!receipt.alerts.empty()) {
      // Tell the partner, so that both sides have the alert (best effort: main has it).
      json::array alerts;
      for (const LedgerAlert& a : receipt.alerts) alerts.push_back(AlertJson(a));
      json::object body;
      body["alerts"] = std::move(alerts);
      HttpRequest post("POST", "/v1/ledger/alerts");
      post.AddHeader("Content-Type", "application/json");
      post.SetBody(json::serialize(body));
      auto told = round_trip(post);
      if (!told.ok() || told->status() != 200) {
        logger_->warn("partner '{}': could not send the ledger alert back", partner);
      }
    }
    if (!receipt.accepted) {
      if (!receipt.alerts.empty()) break;
      // A stale batch: a push from the partner raced with this pull. Ask again.
      if (++stale > 3) {
        return Status::Aborted("the partner's batch was refused: " + receipt.message);
      }
      continue;
    }
    if (receipt.entries >= receipt.accepted_size) break;  // caught up with its checkpoint
  }
  ASSIGN_OR_RETURN(summary.state, State(partner));
  return summary;
}

Result<std::vector<LedgerAlert>> LedgerCollector::Alerts(const std::string& partner,
                                                         bool include_resolved) {
  std::string sql =
      "SELECT id, partner, time, kind, message, range_begin, range_end, resolved FROM "
      "ledger_alerts WHERE (? = '' OR partner = ?)";
  if (!include_resolved) sql += " AND resolved = 0";
  sql += " ORDER BY id DESC";
  ASSIGN_OR_RETURN(auto rows, db_.Query(sql, {partner, partner}));
  std::vector<LedgerAlert> out;
  for (const SqlRow& r : rows) {
    LedgerAlert a;
    a.id = r.Int(0);
    a.partner = r.Text(1);
    a.time = r.Int(2);
    a.kind = r.Text(3);
    a.message = r.Text(4);
    a.begin = static_cast<uint64_t>(r.Int(5));
    a.end = static_cast<uint64_t>(r.Int(6));
    a.resolved = r.Int(7) != 0;
    out.push_back(std::move(a));
  }
  return out;
}

Status LedgerCollector::ResolveAlert(int64_t id, const std::string& note) {
  RETURN_IF_ERROR(
      db_.Exec("UPDATE ledger_alerts SET resolved = 1, resolution = ? WHERE id = ? AND "
               "resolved = 0",
               {note, id}));
  if (db_.ChangedRows() == 0) {
    return Status::NotFound("no open ledger alert #" + std::to_string(id) +
                            " (see 'tieup main ledger alerts')");
  }
  logger_->info("ledger alert #{} resolved: {}", id, note);
  return Status::Ok();
}

Result<std::vector<fees::ExcludedRange>> LedgerCollector::ExcludedRanges(
    const std::string& partner) {
  ASSIGN_OR_RETURN(std::vector<LedgerAlert> alerts, Alerts(partner, false));
  std::vector<fees::ExcludedRange> ranges;
  for (const LedgerAlert& a : alerts) {
    if (a.begin < a.end) {
      ranges.push_back({a.begin, a.end, "alert #" + std::to_string(a.id) + " (" + a.kind + ")"});
    }
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const auto& x, const auto& y) { return x.begin < y.begin; });
  std::vector<fees::ExcludedRange> merged;
  for (fees::ExcludedRange& r : ranges) {
    if (!merged.empty() && r.begin <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, r.end);
      merged.back().reason += " + " + r.reason;
    } else {
      merged.push_back(std::move(r));
    }
  }
  return merged;
}

Result<LedgerReport> LedgerCollector::Verify(const std::string& partner) {
  ASSIGN_OR_RETURN(LedgerMirrorState state, State(partner));
  if (state.verifier_key.empty()) {
    return Status::NotFound("main holds no ledger of partner '" + partner +
                            "' yet: it has never shipped one (see 'tieup partner ledger push')");
  }
  LedgerReport report;
  std::string& t = report.text;
  t += "partner '" + partner + "' ledger mirror " + MirrorDir(partner) + "\n";
  t += "  pinned key:        " + state.verifier_key + "\n";
  t += "  accepted checkpoint: size " + std::to_string(state.accepted_size) + " root " +
       state.accepted_root_hex + "\n";
  t += "  verified entries:  " + std::to_string(state.entries) + "\n";
  ASSIGN_OR_RETURN(ledger::NoteVerifier verifier,
                   ledger::NoteVerifier::FromVerifierKey(state.verifier_key));
  Result<ledger::LogVerification> v = [&]() -> Result<ledger::LogVerification> {
    std::lock_guard<std::mutex> guard(mu_);
    ASSIGN_OR_RETURN(SiteLock lock, SiteLock::Acquire(MirrorDir(partner)));
    return ledger::VerifyLog(env_, MirrorDir(partner), verifier, Origin(partner));
  }();
  report.ok = v.ok();
  if (v.ok()) {
    t += "  stored: " + std::to_string(v->entries) + " entries, " + std::to_string(v->checkpoints) +
         " checkpoint(s), all verified";
    if (v->latest) {
      t += "; latest size " + std::to_string(v->latest->size) + " root " + RootHex(v->latest->root);
    }
    t += "\n";
  } else {
    t += "  FAILED: " + v.status().message() + "\n";
  }
  ASSIGN_OR_RETURN(std::vector<LedgerAlert> alerts, Alerts(partner, false));
  if (alerts.empty()) {
    t += "  alerts: none open\n";
  } else {
    report.ok = false;
    t += "  open alerts: " + std::to_string(alerts.size()) + "\n";
    for (const LedgerAlert& a : alerts) {
      t += "    #" + std::to_string(a.id) + " " + FormatRfc3339(a.time) + " " + a.kind + ": " +
           a.message + (a.begin < a.end ? " [excluded " + Range(a.begin, a.end) + "]" : "") + "\n";
    }
  }
  t += report.ok ? "OK\n" : "NOT OK\n";
  return report;
}

Result<StatementFiles> LedgerCollector::WriteStatement(const std::string& partner,
                                                       const std::string& period_text,
                                                       const std::string& contract_file) {
  ASSIGN_OR_RETURN(fees::Period period, fees::ParsePeriod(period_text));
  const std::string contract_path = contract_file.empty() ? ContractPath(partner) : contract_file;
  // The exact bytes parsed are the ones kept for the partner (contract_sha256 names them).
  auto contract_text = env_.ReadFile(contract_path);
  if (!contract_text.ok()) {
    return contract_text.status().Annotate("reading the partnership contract '" + contract_path +
                                           "'");
  }
  ASSIGN_OR_RETURN(fees::PartnershipContract contract,
                   fees::ParseContract(*contract_text, contract_path));
  if (contract.partner != partner) {
    return Status::InvalidArgument("the contract " + contract_path + " is for partner '" +
                                   contract.partner + "', not '" + partner + "'");
  }
  // The partnership's life, kind and enabled options (fees/billing.h): a period outside its
  // life is refused, one it covers in part is prorated, and the contract must be for its kind.
  // A partnership that exists but cannot be read (a busy database) refuses the statement:
  // never an unbilled one. Only a database without the publisher's tables at all (a collector
  // tested on its own) bills the whole period and every service (fees::Billing's default).
  fees::Billing billing;
  auto life_read = sync::ReadPartnershipLife(db_, partner);
  if (!life_read.ok()) {
    return life_read.status().Annotate("reading partnership '" + partner +
                                       "' for its fee statement; no statement written");
  }
  const std::optional<sync::PartnershipLife>& life = *life_read;
  if (life.has_value()) {
    fees::PartnershipTerms terms;
    terms.partner = partner;
    terms.kind = life->kind;
    terms.added_micros = life->created * 1'000'000;
    terms.revoked_micros = life->revoked_at * 1'000'000;
    terms.options = life->options;
    for (const sync::PartnershipLife::OptionChange& c : life->option_changes) {
      terms.option_changes.push_back({c.option, c.enabled, c.at * 1'000'000});
    }
    ASSIGN_OR_RETURN(billing, fees::BillingFor(period, contract, terms, env_.NowMicros()));
  }
  ASSIGN_OR_RETURN(LedgerMirrorState state, State(partner));
  if (state.verifier_key.empty()) {
    return Status::FailedPrecondition("main holds no ledger of partner '" + partner +
                                      "' yet: the partner must ship it first");
  }
  ASSIGN_OR_RETURN(ledger::NoteVerifier verifier,
                   ledger::NoteVerifier::FromVerifierKey(state.verifier_key));
  ASSIGN_OR_RETURN(std::vector<fees::ExcludedRange> excluded, ExcludedRanges(partner));

  fees::PeriodInputs inputs;
  {
    std::lock_guard<std::mutex> guard(mu_);
    ASSIGN_OR_RETURN(SiteLock lock, SiteLock::Acquire(MirrorDir(partner)));
    ledger::LogOpenOptions ro;
    ro.read_only = true;
    ASSIGN_OR_RETURN(auto log, ledger::Log::Open(env_, MirrorDir(partner), ro));
    ASSIGN_OR_RETURN(std::vector<std::string> notes, log->StoredCheckpoints());
    if (notes.empty()) {
      return Status::FailedPrecondition("no verified checkpoint of partner '" + partner +
                                        "' yet: wait for its next shipment");
    }
    ASSIGN_OR_RETURN(ledger::Checkpoint cp,
                     ledger::OpenCheckpoint(notes.back(), verifier, Origin(partner)));
    std::vector<fees::ExcludedRange> clipped;
    for (fees::ExcludedRange& r : excluded) {
      r.end = std::min(r.end, cp.size);
      if (r.begin < r.end) clipped.push_back(std::move(r));
    }
    fees::AggregationOptions ao;
    ao.partner = partner;
    ao.currency = contract.currency;
    ao.period = period;
    ao.excluded = std::move(clipped);
    ao.verify_root = true;
    ao.billing = billing;
    ASSIGN_OR_RETURN(inputs, fees::AggregateFromLedger(*log, cp, ao));
  }
  ASSIGN_OR_RETURN(fees::Statement st, fees::ComputeStatement(contract, inputs));
  const std::string dir = StatementsDir();
  RETURN_IF_ERROR(CreateDirs(env_, dir));
  const std::string base = StatementBaseName(partner, period.label);
  StatementFiles f;
  f.csv_path = dir + "/" + base + ".csv";
  f.html_path = dir + "/" + base + ".html";
  f.contract_path = dir + "/" + base + ".contract.toml";
  const std::string csv = st.ToCsv();
  RETURN_IF_ERROR(WriteFileAtomic(env_, f.contract_path, *contract_text));
  RETURN_IF_ERROR(WriteFileAtomic(env_, f.csv_path, csv));
  RETURN_IF_ERROR(WriteFileAtomic(env_, f.html_path, st.ToHtml()));
  const int64_t written = env_.NowSeconds();
  // Main's signature (sync/statement_signature.h), so that the partner can check the statement
  // and contract it holds against main's pinned root key. A site without a release key (a
  // collector tested on its own) delivers unsigned statements.
  const std::string release_key_path = site_dir_ + "/keys/release.key";
  if (env_.FileExists(release_key_path)) {
    ASSIGN_OR_RETURN(Ed25519PrivateKey release_key, LoadPrivateKey(env_, release_key_path));
    sync::StatementAttestation a;
    a.partner = partner;
    a.period = period.label;
    a.statement_sha256 = Sha256Hex(csv);
    a.contract_sha256 = Sha256Hex(*contract_text);
    a.written = written;
    RETURN_IF_ERROR(WriteFileAtomic(env_, dir + "/" + base + ".signature.json",
                                    sync::SignStatementAttestation(release_key, a)));
  } else {
    if (env_.FileExists(dir + "/" + base + ".signature.json")) {
      RETURN_IF_ERROR(env_.RemoveFile(dir + "/" + base + ".signature.json"));
    }
  }
  // Recorded last: the partner is offered the statement only once its files are in place.
  RETURN_IF_ERROR(db_.Exec(
      "INSERT INTO fee_statements(partner, period, csv_file, contract_file, sha256, bytes, "
      "written) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(partner, period) DO UPDATE SET "
      "csv_file = excluded.csv_file, contract_file = excluded.contract_file, sha256 = "
      "excluded.sha256, bytes = excluded.bytes, written = excluded.written",
      {partner, period.label, base + ".csv", base + ".contract.toml", Sha256Hex(csv),
       static_cast<int64_t>(csv.size()), written}));
  f.total_minor = st.total_minor;
  f.currency = st.currency;
  f.checkpoint_size = st.provenance.checkpoint_size;
  f.checkpoint_root_hex = st.provenance.checkpoint_root_hex;
  f.excluded_entries = st.provenance.excluded_entries;
  return f;
}

std::string LedgerCollector::StatementsDir() const { return site_dir_ + "/statements"; }

std::string LedgerCollector::ContractPath(const std::string& partner) const {
  return site_dir_ + "/contracts/" + partner + ".toml";
}

Result<std::vector<LedgerCheckpointSummary>> LedgerCollector::CheckpointSummaries(
    const std::vector<std::string>& partners) {
  std::vector<LedgerCheckpointSummary> out;
  for (const std::string& partner : partners) {
    ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT accepted_note, accepted_size, last_received "
                                          "FROM ledger_mirrors WHERE partner = ?",
                                          {partner}));
    LedgerCheckpointSummary s;
    s.partner = partner;
    if (!rows.empty()) {
      s.shipped = true;
      const std::string note = rows[0].Text(0);
      s.accepted_size = static_cast<uint64_t>(rows[0].Int(1));
      s.last_received = rows[0].Int(2);
      if (s.accepted_size > 0) {
        auto c = ledger::ParseCheckpoint(note.substr(0, note.find("\n\n") + 1));
        if (c.ok()) s.accepted_root_hex = RootHex(c->root);
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<StatementRecord>> LedgerCollector::Statements(const std::string& partner) {
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT partner, period, csv_file, contract_file, sha256, "
                                        "bytes, written FROM fee_statements WHERE partner = ? "
                                        "ORDER BY period",
                                        {partner}));
  std::vector<StatementRecord> out;
  for (const SqlRow& r : rows) {
    StatementRecord s;
    s.partner = r.Text(0);
    s.period = r.Text(1);
    s.csv_path = StatementsDir() + "/" + r.Text(2);
    s.contract_path = StatementsDir() + "/" + r.Text(3);
    s.sha256 = r.Text(4);
    s.bytes = static_cast<uint64_t>(r.Int(5));
    s.written = r.Int(6);
    out.push_back(std::move(s));
  }
  return out;
}

Result<StatementDelivery> LedgerCollector::ReadStatement(const std::string& partner,
                                                         const std::string& period) {
  ASSIGN_OR_RETURN(std::vector<StatementRecord> all, Statements(partner));
  auto it = std::find_if(all.begin(), all.end(),
                         [&](const StatementRecord& r) { return r.period == period; });
  if (it == all.end()) {
    return Status::NotFound("main has written no fee statement for partner '" + partner +
                            "' and the period '" + period + "'");
  }
  StatementDelivery d;
  d.record = std::move(*it);
  ASSIGN_OR_RETURN(d.csv, env_.ReadFile(d.record.csv_path));
  ASSIGN_OR_RETURN(d.contract, env_.ReadFile(d.record.contract_path));
  const std::string signature_path =
      StatementsDir() + "/" + StatementBaseName(partner, d.record.period) + ".signature.json";
  if (env_.FileExists(signature_path)) {
    ASSIGN_OR_RETURN(d.signature, env_.ReadFile(signature_path));
  }
  if (Sha256Hex(d.csv) != d.record.sha256) {
    return Status::DataLoss("main's copy of the statement " + d.record.csv_path +
                            " changed since it was written: write it again with 'tieup main "
                            "fees statement'");
  }
  // The index says whose it is; the statement must say the same (never someone else's).
  ASSIGN_OR_RETURN(fees::StatementScope scope, fees::ReadStatementScope(d.csv));
  if (scope.partner != partner || scope.period.label != period) {
    return Status::DataLoss("the statement " + d.record.csv_path + " is for partner '" +
                            scope.partner + "' and period '" + scope.period.label +
                            "', not the ones it was recorded for");
  }
  return d;
}

namespace {

json::object StatementJson(const StatementRecord& r) {
  json::object o;
  o["period"] = r.period;
  o["sha256"] = r.sha256;
  o["bytes"] = r.bytes;
  o["written"] = r.written;
  return o;
}

}  // namespace

HttpResponse LedgerCollector::HandleSyncRequest(const HttpRequest& request) {
  const std::string partner(request.peer_site_id());
  if (partner.empty() || partner == "main") {
    return sync::ErrorResponse(
        Status::Unauthenticated("ledger shipping needs a partner's certificate"));
  }
  if (request.path() == "/v1/ledger/state" && request.method() == "GET") {
    auto s = State(partner);
    if (!s.ok()) return sync::ErrorResponse(s.status());
    json::object o;
    o["partner"] = partner;
    o["entries"] = s->entries;
    o["accepted_size"] = s->accepted_size;
    o["accepted_root"] = s->accepted_root_hex;
    o["key_pinned"] = !s->verifier_key.empty();
    auto alerts = Alerts(partner, /*include_resolved=*/false);
    if (!alerts.ok()) return sync::ErrorResponse(alerts.status());
    json::array open;
    for (const LedgerAlert& a : *alerts) open.push_back(AlertJson(a));
    o["open_alerts"] = std::move(open);
    return JsonResponse(json::serialize(o));
  }
  if (request.path() == "/v1/ledger/statements" && request.method() == "GET") {
    auto list = Statements(partner);
    if (!list.ok()) return sync::ErrorResponse(list.status());
    json::array a;
    for (const StatementRecord& r : *list) a.push_back(StatementJson(r));
    return JsonResponse(json::serialize(json::object{{"statements", std::move(a)}}));
  }
  if (request.path() == "/v1/ledger/statement" && request.method() == "GET") {
    auto query = commerce::ParseForm(request.query());
    if (!query.ok()) return sync::ErrorResponse(query.status());
    auto period = fees::ParsePeriod(query->Get("period"));
    if (!period.ok()) return sync::ErrorResponse(period.status());
    auto d = ReadStatement(partner, period->label);
    if (!d.ok()) {
      if (d.status().code() != StatusCode::kNotFound) {
        logger_->warn("delivering the fee statement {} to partner '{}': {}", period->label, partner,
                      d.status().ToString());
      }
      return sync::ErrorResponse(d.status());
    }
    json::object o = StatementJson(d->record);
    o["partner"] = partner;
    o["csv"] = d->csv;
    o["contract"] = d->contract;
    if (!d->signature.empty()) o["signature"] = d->signature;
    return JsonResponse(json::serialize(o));
  }
  if (request.path() == "/v1/ledger/push" && request.method() == "POST") {
    auto r = Receive(partner, request.body());
    if (!r.ok()) return sync::ErrorResponse(r.status());
    return JsonResponse(ReceiptJson(*r));
  }
  return sync::ErrorResponse(Status::NotFound(
      "no ledger endpoint " + std::string(request.method()) + " " + std::string(request.path())));
}

Result<sync::HttpRoundTrip> PartnerRoundTrip(Env& env, const std::string& site_dir,
                                             const std::string& sync_url,
                                             const std::string& partner) {
  if (sync_url.empty()) {
    return Status::FailedPrecondition("partner '" + partner +
                                      "' has no sync URL: main cannot reach it; it pushes its "
                                      "ledger instead ('tieup partner ledger push')");
  }
  ASSIGN_OR_RETURN(SyncEndpoint endpoint, ParseSyncUrl(sync_url));
  ASSIGN_OR_RETURN(SyncIdentity id, LoadSyncIdentity(env, site_dir));
  ASSIGN_OR_RETURN(TlsContextPtr client,
                   MakeClientContext(id.ca, id.certificate, id.key, PeerCheck::Site(partner)));
  HttpClientOptions o;
  o.max_body_bytes = 64ull << 20;
  return TlsRoundTrip(endpoint, client, partner, o);
}

Status AttachMainLedgerService(MainDaemon& daemon) {
  ASSIGN_OR_RETURN(
      std::unique_ptr<LedgerCollector> collector,
      LedgerCollector::Open(daemon.env(), daemon.site().site_dir(), daemon.db(), daemon.logger()));
  std::shared_ptr<LedgerCollector> shared(std::move(collector));
  daemon.sync().AddSyncRoute("/v1/ledger/", [shared](const HttpRequest& request) {
    return shared->HandleSyncRequest(request);
  });
  return Status::Ok();
}

}  // namespace tieup
