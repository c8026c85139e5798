#include "partner_site/ledger_service.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <optional>
#include <set>

#include "base/encoding.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "fees/contract.h"
#include "fees/inputs.h"
#include "ledger/access_log_writer.h"
#include "ledger/records.h"
#include "ledger/verifier.h"
#include "partner_site/partner_daemon.h"
#include "partner_site/partner_sync.h"
#include "site/config.h"
#include "site/sync_transport.h"
#include "sync/statement_signature.h"
#include "trust/tls.h"

namespace tieup {
namespace {

namespace json = boost::json;

const std::vector<Migration>& PartnerLedgerMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       "CREATE TABLE ledger_alerts ("
       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
       "  time INTEGER NOT NULL,"
       "  source TEXT NOT NULL,"
       "  main_id INTEGER NOT NULL DEFAULT 0,"
       "  kind TEXT NOT NULL,"
       "  message TEXT NOT NULL,"
       "  range_begin INTEGER NOT NULL,"
       "  range_end INTEGER NOT NULL);"},
      {2,
       "ALTER TABLE ledger_alerts ADD COLUMN resolved INTEGER NOT NULL DEFAULT 0;"
       "CREATE TABLE ledger_pushes ("
       "  id INTEGER PRIMARY KEY CHECK (id = 1),"
       "  time INTEGER NOT NULL,"
       "  ok INTEGER NOT NULL,"
       "  error TEXT NOT NULL,"
       "  entries_sent INTEGER NOT NULL,"
       "  checkpoint_size INTEGER NOT NULL,"
       "  main_entries INTEGER NOT NULL,"
       "  caught_up INTEGER NOT NULL);"},
  };
  return kMigrations;
}

std::string RootHex(const ledger::Hash& h) { return HexEncode(ledger::HashView(h)); }

json::array HashArray(const std::vector<ledger::Hash>& hashes) {
  json::array a;
  for (const ledger::Hash& h : hashes) a.push_back(json::string(Base64Encode(ledger::HashView(h))));
  return a;
}

uint64_t U64(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  if (v != nullptr && v->is_uint64()) return v->as_uint64();
  if (v != nullptr && v->is_int64() && v->as_int64() >= 0) return v->as_int64();
  return 0;
}

std::string Str(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

Result<json::object> ParseObject(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidArgument(std::string(what) + " is not a JSON object");
  }
  return v.as_object();
}

PartnerLedgerAlert AlertFromJson(const json::object& o) {
  PartnerLedgerAlert a;
  a.source = "main";
  a.id = static_cast<int64_t>(U64(o, "id"));
  a.time = static_cast<int64_t>(U64(o, "time"));
  a.kind = Str(o, "kind");
  a.message = Str(o, "message");
  a.begin = U64(o, "begin");
  a.end = U64(o, "end");
  return a;
}

// "from=1&accepted=2&max=3" -> the value of `name`, or `fallback`.
Result<uint64_t> QueryNumber(std::string_view query, std::string_view name, uint64_t fallback) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos || part.substr(0, eq) != name) continue;
    std::string_view value = part.substr(eq + 1);
    if (value.empty() || value.size() > 19) break;
    uint64_t n = 0;
    for (char c : value) {
      if (c < '0' || c > '9') {
        return Status::InvalidArgument("query parameter '" + std::string(name) +
                                       "' must be a decimal number");
      }
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    return n;
  }
  return fallback;
}

std::string LedgerCheckpointPath(const std::string& ledger_dir, uint64_t size) {
  char name[64];
  std::snprintf(name, sizeof(name), "%020llu.note", static_cast<unsigned long long>(size));
  return ledger_dir + "/checkpoints/" + name;
}

}  // namespace

LedgerShipper::LedgerShipper(Env& env, Database& db, const ledger::Log& log,
                             ledger::NoteVerifier verifier, CheckpointFn checkpoint,
                             std::shared_ptr<Logger> logger, LedgerShipperOptions options)
    : env_(env),
      db_(db),
      log_(log),
      verifier_(std::move(verifier)),
      checkpoint_(std::move(checkpoint)),
      logger_(logger ? std::move(logger) : NewNullLogger()),
      options_(options) {}

LedgerShipper::~LedgerShipper() = default;

Result<std::unique_ptr<LedgerShipper>> LedgerShipper::Open(
    Env& env, Database& db, const ledger::Log& log, ledger::NoteVerifier verifier,
    CheckpointFn checkpoint, std::shared_ptr<Logger> logger, LedgerShipperOptions options) {
  RETURN_IF_ERROR(Migrate(db, "partner_ledger", PartnerLedgerMigrations()));
  if (options.max_batch_entries == 0 || options.max_batch_bytes == 0) {
    return Status::InvalidArgument("ledger batches must allow at least one entry and one byte");
  }
  return std::unique_ptr<LedgerShipper>(new LedgerShipper(
      env, db, log, std::move(verifier), std::move(checkpoint), std::move(logger), options));
}

Status LedgerShipper::RecordAlert(const PartnerLedgerAlert& a) {
  // Main sends an alert again while it stands; record it once.
  ASSIGN_OR_RETURN(
      auto rows, db_.Query("SELECT id FROM ledger_alerts WHERE source = ? AND main_id = ? AND "
                           "kind = ? AND message = ?",
                           {a.source, a.source == "main" ? a.id : int64_t{0}, a.kind, a.message}));
  if (!rows.empty()) return Status::Ok();
  RETURN_IF_ERROR(db_.Exec(
      "INSERT INTO ledger_alerts(time, source, main_id, kind, message, range_begin, range_end) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
      {a.time != 0 ? a.time : env_.NowSeconds(), a.source, a.source == "main" ? a.id : int64_t{0},
       a.kind, a.message, static_cast<int64_t>(a.begin), static_cast<int64_t>(a.end)}));
  logger_->warn("LEDGER ALERT from {} ({}): {}{}", a.source, a.kind, a.message,
                a.begin < a.end ? "; main excludes entries [" + std::to_string(a.begin) + ", " +
                                      std::to_string(a.end) + ") from fees"
                                : "");
  return Status::Ok();
}

namespace {

Result<std::vector<PartnerLedgerAlert>> ListAlerts(Database& db, bool include_resolved = true) {
  ASSIGN_OR_RETURN(auto rows,
                   db.Query(std::string("SELECT id, time, source, kind, message, range_begin, "
                                        "range_end, resolved FROM ledger_alerts") +
                            (include_resolved ? "" : " WHERE resolved = 0") + " ORDER BY id DESC"));
  std::vector<PartnerLedgerAlert> out;
  for (const SqlRow& r : rows) {
    PartnerLedgerAlert a;
    a.id = r.Int(0);
    a.time = r.Int(1);
    a.source = r.Text(2);
    a.kind = r.Text(3);
    a.message = r.Text(4);
    a.begin = static_cast<uint64_t>(r.Int(5));
    a.end = static_cast<uint64_t>(r.Int(6));
    a.resolved = r.Int(7) != 0;
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

Result<std::vector<PartnerLedgerAlert>> LedgerShipper::Alerts() { return ListAlerts(db_); }

Result<std::vector<PartnerLedgerAlert>> PartnerLedgerAlerts(Database& db, bool include_resolved) {
  RETURN_IF_ERROR(Migrate(db, "partner_ledger", PartnerLedgerMigrations()));
  return ListAlerts(db, include_resolved);
}

Result<std::optional<LedgerPushRecord>> LastLedgerPush(Database& db) {
  RETURN_IF_ERROR(Migrate(db, "partner_ledger", PartnerLedgerMigrations()));
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT time, ok, error, entries_sent, checkpoint_size, "
                                       "main_entries, caught_up FROM ledger_pushes"));
  if (rows.empty()) return std::optional<LedgerPushRecord>();
  const SqlRow& r = rows[0];
  LedgerPushRecord p;
  p.time_micros = r.Int(0);
  p.ok = r.Int(1) != 0;
  p.error = r.Text(2);
  p.entries_sent = static_cast<uint64_t>(r.Int(3));
  p.checkpoint_size = static_cast<uint64_t>(r.Int(4));
  p.main_entries = static_cast<uint64_t>(r.Int(5));
  p.caught_up = r.Int(6) != 0;
  return std::optional<LedgerPushRecord>(std::move(p));
}

Status LedgerShipper::SyncOpenAlerts(const json::array& open) {
  std::set<int64_t> open_ids;
  for (const json::value& v : open) {
    if (!v.is_object()) continue;
    PartnerLedgerAlert a = AlertFromJson(v.as_object());
    if (a.id <= 0) continue;
    RETURN_IF_ERROR(RecordAlert(a));  // one main raised while this site did not hear of it
    open_ids.insert(a.id);
  }
  ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT id, main_id, resolved FROM ledger_alerts WHERE "
                                        "source = 'main'"));
  for (const SqlRow& r : rows) {
    const bool resolved = open_ids.count(r.Int(1)) == 0;
    if ((r.Int(2) != 0) == resolved) continue;
    RETURN_IF_ERROR(db_.Exec("UPDATE ledger_alerts SET resolved = ? WHERE id = ?",
                             {int64_t{resolved ? 1 : 0}, r.Int(0)}));
    if (resolved) logger_->info("ledger alert #{} from main is resolved there", r.Int(1));
  }
  return Status::Ok();
}

Result<std::string> LedgerShipper::BuildBatchLocked(const std::string& note,
                                                    const ledger::Checkpoint& cp, uint64_t from,
                                                    uint64_t accepted_size, uint64_t max_entries,
                                                    uint64_t* sent) {
  const uint64_t n = cp.size;
  json::array entries;
  uint64_t end = from;
  if (from < n) {
    const uint64_t want = std::min<uint64_t>(n, from + std::max<uint64_t>(1, max_entries));
    auto read = log_.ReadRange(from, want);
    if (!read.ok()) {
      PartnerLedgerAlert a;
      a.source = "local";
      a.kind = "damaged";
      a.message = "the ledger cannot be read for shipping: " + read.status().message();
      (void)RecordAlert(a);
      return read.status().Annotate("reading ledger entries to ship");
    }
    uint64_t bytes = 0;
    for (std::string& e : *read) {
      if (end > from && bytes + e.size() > options_.max_batch_bytes) break;
      bytes += e.size();
      entries.push_back(json::string(Base64Encode(e)));
      ++end;
    }
  }
  std::vector<ledger::Hash> consistency;
  if (accepted_size > 0 && accepted_size < n) {
    ASSIGN_OR_RETURN(consistency, log_.ConsistencyProof(accepted_size, n));
  }
  std::vector<ledger::Hash> batch_proof;
  if (end > from && end < n) {
    ASSIGN_OR_RETURN(batch_proof, log_.ConsistencyProof(end, n));
  }
  json::object o;
  o["origin"] = verifier_.name();
  o["verifier_key"] = verifier_.VerifierKey();
  o["checkpoint"] = note;
  o["accepted_size"] = accepted_size;
  o["consistency"] = HashArray(consistency);
  o["from"] = from;
  o["entries"] = std::move(entries);
  o["batch_proof"] = HashArray(batch_proof);
  if (sent != nullptr) *sent = end - from;
  return json::serialize(o);
}

Result<std::string> LedgerShipper::BuildBatch(uint64_t from, uint64_t accepted_size,
                                              uint64_t max_entries) {
  std::lock_guard<std::mutex> guard(mu_);
  ASSIGN_OR_RETURN(std::string note, checkpoint_());
  ASSIGN_OR_RETURN(ledger::Checkpoint cp, ledger::OpenCheckpoint(note, verifier_));
  return BuildBatchLocked(note, cp, from, accepted_size,
                          std::min(max_entries, options_.max_batch_entries), nullptr);
}

Result<LedgerPushSummary> LedgerShipper::Push(const sync::HttpRoundTrip& main) {
  std::lock_guard<std::mutex> guard(mu_);
  Result<LedgerPushSummary> pushed = PushLocked(main);
  // Recorded for the console (best effort: the push itself is what matters).
  LedgerPushRecord p;
  p.time_micros = env_.NowMicros();
  p.ok = pushed.ok();
  if (pushed.ok()) {
    p.entries_sent = pushed->entries_sent;
    p.checkpoint_size = pushed->checkpoint_size;
    p.main_entries = pushed->main_entries;
    p.caught_up = pushed->caught_up;
  } else {
    p.error = pushed.status().message();
  }
  Status recorded = db_.Exec(
      "INSERT INTO ledger_pushes(id, time, ok, error, entries_sent, checkpoint_size, "
      "main_entries, caught_up) VALUES (1, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
      "time = excluded.time, ok = excluded.ok, error = excluded.error, entries_sent = "
      "excluded.entries_sent, checkpoint_size = excluded.checkpoint_size, main_entries = "
      "excluded.main_entries, caught_up = excluded.caught_up",
      {p.time_micros, int64_t{p.ok ? 1 : 0}, p.error, static_cast<int64_t>(p.entries_sent),
       static_cast<int64_t>(p.checkpoint_size), static_cast<int64_t>(p.main_entries),
       int64_t{p.caught_up ? 1 : 0}});
  if (!recorded.ok()) logger_->warn("recording the ledger push: {}", recorded.ToString());
  return pushed;
}

Result<LedgerPushSummary> LedgerShipper::PushLocked(const sync::HttpRoundTrip& main) {
  LedgerPushSummary summary;
  ASSIGN_OR_RETURN(std::string note, checkpoint_());
  ASSIGN_OR_RETURN(ledger::Checkpoint cp, ledger::OpenCheckpoint(note, verifier_));
  summary.checkpoint_size = cp.size;
  summary.checkpoint_root_hex = RootHex(cp.root);

  auto state = main(HttpRequest("GET", "/v1/ledger/state"));
  if (!state.ok()) return state.status().Annotate("asking main for its copy of the ledger");
  if (state->status() != 200) {
    return sync::StatusFromResponse(*state).Annotate("asking main for its copy of the ledger");
  }
  ASSIGN_OR_RETURN(json::object so, ParseObject(state->body(), "main's ledger state"));
  uint64_t main_entries = U64(so, "entries");
  uint64_t main_accepted = U64(so, "accepted_size");
  summary.main_entries = main_entries;
  summary.main_accepted_size = main_accepted;
  if (const json::value* open = so.if_contains("open_alerts");
      open != nullptr && open->is_array()) {
    RETURN_IF_ERROR(SyncOpenAlerts(open->as_array()));
  }

  int stale = 0;
  while (true) {
    uint64_t sent = 0;
    ASSIGN_OR_RETURN(std::string body, BuildBatchLocked(note, cp, main_entries, main_accepted,
                                                        options_.max_batch_entries, &sent));
    HttpRequest req("POST", "/v1/ledger/push");
    req.AddHeader("Content-Type", "application/json");
    req.SetBody(std::move(body));
    auto reply = main(req);
    if (!reply.ok()) return reply.status().Annotate("pushing ledger entries to main");
    if (reply->status() != 200) {
      return sync::StatusFromResponse(*reply).Annotate("pushing ledger entries to main");
    }
    ASSIGN_OR_RETURN(json::object r, ParseObject(reply->body(), "main's ledger receipt"));
    const json::value* alerts = r.if_contains("alerts");
    if (alerts != nullptr && alerts->is_array()) {
      for (const json::value& a : alerts->as_array()) {
        if (!a.is_object()) continue;
        PartnerLedgerAlert alert = AlertFromJson(a.as_object());
        RETURN_IF_ERROR(RecordAlert(alert));
        summary.alerts.push_back(std::move(alert));
      }
    }
    const json::value* accepted = r.if_contains("accepted");
    const bool ok = accepted != nullptr && accepted->is_bool() && accepted->as_bool();
    main_entries = U64(r, "entries");
    main_accepted = U64(r, "accepted_size");
    summary.main_entries = main_entries;
    summary.main_accepted_size = main_accepted;
    if (!ok) {
      if (!summary.alerts.empty()) break;
      // A stale view of main's state (another push raced with this one): once more.
      if (++stale > 2) return Status::Aborted("main refused the batch: " + Str(r, "message"));
      continue;
    }
    ++summary.batches;
    summary.entries_sent += sent;
    if (main_entries >= cp.size) {
      summary.caught_up = true;
      break;
    }
    if (options_.max_batches_per_push != 0 && summary.batches >= options_.max_batches_per_push) {
      break;
    }
  }
  last_push_micros_ = env_.NowMicros();
  // The ledger was read for this push: a local alert (it could not be) is over.
  RETURN_IF_ERROR(
      db_.Exec("UPDATE ledger_alerts SET resolved = 1 WHERE source = 'local' AND resolved = 0"));
  return summary;
}

void LedgerShipper::MaybePush(const sync::HttpRoundTrip& main) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    const int64_t interval =
        std::chrono::duration_cast<std::chrono::microseconds>(options_.push_interval).count();
    if (last_push_micros_ != 0 && env_.NowMicros() - last_push_micros_ < interval) return;
    last_push_micros_ = env_.NowMicros();  // also after a failure: retry at the next interval
  }
  auto r = Push(main);
  if (!r.ok()) {
    logger_->warn("ledger push to main failed (will retry): {}", r.status().ToString());
  } else if (r->entries_sent > 0) {
    logger_->info("ledger pushed to main: {} entries in {} batch(es); main holds {} of {}",
                  r->entries_sent, r->batches, r->main_entries, r->checkpoint_size);
  }
}

HttpResponse LedgerShipper::HandleSyncRequest(const HttpRequest& request) {
  if (request.path() == "/v1/ledger/pull" && request.method() == "GET") {
    auto from = QueryNumber(request.query(), "from", 0);
    auto accepted = QueryNumber(request.query(), "accepted", 0);
    auto max = QueryNumber(request.query(), "max", options_.max_batch_entries);
    for (const auto* r : {&from, &accepted, &max}) {
      if (!r->ok()) return sync::ErrorResponse(r->status());
    }
    auto batch = BuildBatch(*from, *accepted, *max);
    if (!batch.ok()) return sync::ErrorResponse(batch.status());
    HttpResponse resp(200);
    resp.AddHeader("Content-Type", "application/json");
    resp.SetBody(std::move(*batch));
    return resp;
  }
  if (request.path() == "/v1/ledger/alerts" && request.method() == "POST") {
    auto o = ParseObject(request.body(), "the alerts");
    if (!o.ok()) return sync::ErrorResponse(o.status());
    const json::value* alerts = o->if_contains("alerts");
    if (alerts == nullptr || !alerts->is_array()) {
      return sync::ErrorResponse(Status::InvalidArgument("the body has no 'alerts' array"));
    }
    std::lock_guard<std::mutex> guard(mu_);
    for (const json::value& a : alerts->as_array()) {
      if (!a.is_object()) continue;
      Status s = RecordAlert(AlertFromJson(a.as_object()));
      if (!s.ok()) return sync::ErrorResponse(s);
    }
    return HttpResponse::Text(200, "recorded\n");
  }
  return sync::ErrorResponse(Status::NotFound(
      "no ledger endpoint " + std::string(request.method()) + " " + std::string(request.path())));
}

Result<ledger::NoteSigner> LoadLedgerSigner(Env& env, const std::string& site_dir) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfig(env, site_dir));
  ASSIGN_OR_RETURN(Ed25519PrivateKey key,
                   LoadPrivateKey(env, SitePaths(site_dir).keys() + "/site.key"));
  return ledger::NoteSigner::Create("tieup.ledger/" + config.id, std::move(key));
}

Result<sync::HttpRoundTrip> MainRoundTrip(Env& env, const std::string& site_dir) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfig(env, site_dir));
  if (config.main_sync_url.empty()) {
    return Status::FailedPrecondition("'" + site_dir +
                                      "' has not enrolled with a main site: run 'tieup partner "
                                      "enroll' first");
  }
  ASSIGN_OR_RETURN(SyncEndpoint endpoint, ParseSyncUrl(config.main_sync_url));
  ASSIGN_OR_RETURN(SyncIdentity id, LoadSyncIdentity(env, site_dir));
  ASSIGN_OR_RETURN(TlsContextPtr client,
                   MakeClientContext(id.ca, id.certificate, id.key, PeerCheck::Site("main")));
  HttpClientOptions o;
  o.max_body_bytes = 16ull << 20;
  // Kept connections: a push of many batches, and the daemon's pushes every interval, share
  // one handshake while they come within 3 s of each other.
  return KeptAliveTlsRoundTrip(endpoint, client, "main", o);
}

namespace {

struct OwnLedger {
  SiteConfig config;
  std::unique_ptr<ledger::Log> log;
  ledger::NoteSigner signer;
  ledger::NoteVerifier verifier;
};

Result<OwnLedger> OpenOwnLedger(Env& env, const std::string& site_dir, bool open_log = true) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfig(env, site_dir));
  if (config.role != SiteRole::kPartner) {
    return Status::FailedPrecondition("'" + site_dir +
                                      "' is a main site; this is a partner site command");
  }
  ASSIGN_OR_RETURN(ledger::NoteSigner signer, LoadLedgerSigner(env, site_dir));
  ASSIGN_OR_RETURN(ledger::NoteVerifier verifier,
                   ledger::NoteVerifier::Create(signer.name(), signer.public_key()));
  std::unique_ptr<ledger::Log> log;
  if (open_log) {
    ledger::LogOpenOptions ro;
    ro.read_only = true;  // the daemon may be writing: read what is durable, change nothing
    ASSIGN_OR_RETURN(log, ledger::Log::Open(env, SitePaths(site_dir).ledger(), ro));
  }
  return OwnLedger{std::move(config), std::move(log), std::move(signer), std::move(verifier)};
}

}  // namespace

Result<LedgerPushSummary> PushLedgerNow(Env& env, const std::string& site_dir,
                                        LedgerShipperOptions options) {
  ASSIGN_OR_RETURN(OwnLedger own, OpenOwnLedger(env, site_dir));
  ASSIGN_OR_RETURN(sync::HttpRoundTrip main, MainRoundTrip(env, site_dir));
  ASSIGN_OR_RETURN(auto db, OpenSqlite(SitePaths(site_dir).database()));
  const std::string ledger_dir = SitePaths(site_dir).ledger();
  ledger::Log& log = *own.log;
  const ledger::NoteSigner& signer = own.signer;
  // The log is open read-only (the daemon may be appending), so the checkpoint is signed here
  // and stored beside the daemon's: Ed25519 signatures are deterministic, so the daemon signing
  // the same size later finds the very same note.
  auto checkpoint = [&env, &log, &signer, ledger_dir]() -> Result<std::string> {
    ledger::TreeHead head = log.Head();
    const std::string path = LedgerCheckpointPath(ledger_dir, head.size);
    if (env.FileExists(path)) return env.ReadFile(path);
    ledger::Checkpoint c;
    c.origin = signer.name();
    c.size = head.size;
    c.root = head.root;
    ASSIGN_OR_RETURN(std::string note, ledger::SignCheckpoint(c, signer));
    RETURN_IF_ERROR(CreateDirs(env, ledger_dir + "/checkpoints"));
    RETURN_IF_ERROR(WriteFileAtomic(env, path, note));
    return note;
  };
  ASSIGN_OR_RETURN(auto shipper, LedgerShipper::Open(env, *db, log, own.verifier, checkpoint,
                                                     NewNullLogger(), options));
  return shipper->Push(main);
}

Result<OwnLedgerReport> VerifyOwnLedger(Env& env, const std::string& site_dir) {
  // Only the keys: opening the log would stop at the first damaged record, and the report
  // should say what is wrong instead.
  ASSIGN_OR_RETURN(OwnLedger own, OpenOwnLedger(env, site_dir, /*open_log=*/false));
  const std::string dir = SitePaths(site_dir).ledger();
  OwnLedgerReport report;
  std::string& t = report.text;
  t += "ledger " + dir + " (" + own.signer.name() + ")\n";
  t += "  key: " + own.verifier.VerifierKey() + "\n";
  auto v = ledger::VerifyLog(env, dir, own.verifier, own.signer.name());
  report.ok = v.ok();
  if (v.ok()) {
    t += "  " + std::to_string(v->entries) + " entries, " + std::to_string(v->checkpoints) +
         " checkpoint(s), all verified";
    if (v->latest) {
      t += "; latest checkpoint size " + std::to_string(v->latest->size) + " root " +
           RootHex(v->latest->root);
      if (v->latest->size < v->entries) {
        t += " (" + std::to_string(v->entries - v->latest->size) +
             " newer entries not yet "
             "checkpointed)";
      }
    }
    t += "\n";
  } else {
    t += "  FAILED: " + v.status().message() + "\n";
  }
  // Requests the access recorder could not record and could not count in the ledger yet (its
  // disk was full when the daemon stopped): written there, and so reported to main, later.
  const std::string pending = ledger::AccessLogWriter::PendingPath(dir);
  if (env.FileExists(pending)) {
    auto text = env.ReadFile(pending);
    auto record =
        text.ok() ? ledger::ParseRecord(*text) : Result<ledger::LedgerRecord>(text.status());
    const auto* gap = record.ok() ? std::get_if<ledger::UnrecordedRecord>(&*record) : nullptr;
    if (gap != nullptr) {
      t += "  unrecorded: " + std::to_string(gap->count) + " requests between " +
           FormatRfc3339(gap->first_micros / 1'000'000) + " and " +
           FormatRfc3339(gap->last_micros / 1'000'000) + " (" + gap->reason +
           ") are not in the ledger yet; the daemon writes their count there, and main raises "
           "an alert for it\n";
    } else {
      t += "  unrecorded: '" + pending + "' cannot be read as a count of unrecorded requests\n";
    }
  }
  if (env.FileExists(SitePaths(site_dir).database())) {
    ASSIGN_OR_RETURN(auto db, OpenSqlite(SitePaths(site_dir).database()));
    RETURN_IF_ERROR(Migrate(*db, "partner_ledger", PartnerLedgerMigrations()));
    {
      ASSIGN_OR_RETURN(auto alerts, ListAlerts(*db));
      if (alerts.empty()) t += "  alerts: none\n";
      for (const PartnerLedgerAlert& a : alerts) {
        t += "  alert from " + a.source + " " + FormatRfc3339(a.time) + " " + a.kind + ": " +
             a.message + (a.resolved ? " (resolved)" : "") + "\n";
      }
    }
  }
  t += report.ok ? "OK\n" : "NOT OK\n";
  return report;
}

Result<fees::VerificationReport> VerifyStatementWithOwnLedger(Env& env, const std::string& site_dir,
                                                              std::string_view statement_csv,
                                                              const std::string& contract_path) {
  ASSIGN_OR_RETURN(fees::StatementScope scope, fees::ReadStatementScope(statement_csv));
  ASSIGN_OR_RETURN(OwnLedger own, OpenOwnLedger(env, site_dir));
  if (scope.partner != own.config.id) {
    return Status::InvalidArgument("the statement is for partner '" + scope.partner +
                                   "', and this site is '" + own.config.id + "'");
  }
  ASSIGN_OR_RETURN(fees::PartnershipContract contract, fees::LoadContract(env, contract_path));
  if (own.log->size() < scope.checkpoint_size) {
    return Status::FailedPrecondition(
        "the statement counts " + std::to_string(scope.checkpoint_size) +
        " ledger entries but this site's ledger holds only " + std::to_string(own.log->size()) +
        ": it cannot be recomputed here (was the ledger truncated or restored from a backup?)");
  }
  ledger::Checkpoint cp;
  cp.origin = own.signer.name();
  cp.size = scope.checkpoint_size;
  ASSIGN_OR_RETURN(cp.root, own.log->Root(scope.checkpoint_size));
  fees::AggregationOptions ao;
  ao.partner = own.config.id;
  ao.currency = contract.currency;
  ao.period = scope.period;
  ao.excluded = scope.excluded;
  // The billed days and enabled options are main's record of the partnership, stated in the
  // statement (and shown to the manager): recomputed as stated.
  ao.billing = scope.billing;
  ao.verify_root = false;  // the root was just computed from these very entries
  ASSIGN_OR_RETURN(fees::PeriodInputs inputs, fees::AggregateFromLedger(*own.log, cp, ao));
  return fees::VerifyStatement(statement_csv, contract, inputs);
}

// --- fee statements from main ---

namespace {

constexpr char kStatementFile[] = "statement.csv";
constexpr char kContractFile[] = "contract.toml";
constexpr char kReceiptFile[] = "receipt.json";
constexpr char kSignatureFile[] = "signature.json";
constexpr char kStagingPrefix[] = ".incoming-";
// How many hex digits of the CSV's SHA-256 name a statement's folder.
constexpr size_t kIdDigestDigits = 12;

std::string StatementsDir(const std::string& site_dir) { return JoinPath(site_dir, "statements"); }

bool IsLowerHex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The period a canonical statement id names ("2026-11_0123456789ab" -> "2026-11"), or "".
std::string PeriodOfId(std::string_view id) {
  const size_t cut = id.rfind('_');
  if (cut == std::string_view::npos || !IsLowerHex(id.substr(cut + 1), kIdDigestDigits)) return "";
  auto period = fees::ParsePeriod(id.substr(0, cut));
  if (!period.ok() || period->label != id.substr(0, cut)) return "";
  return period->label;
}

std::string StatementId(const std::string& period, const std::string& sha256) {
  return period + "_" + sha256.substr(0, kIdDigestDigits);
}

// Removes staging folders a crash left behind (an hour old at least: a fetch running in another
// process may be filling a newer one).
void RemoveStaleStaging(Env& env, const std::string& dir) {
  auto entries = env.ListDir(dir);
  if (!entries.ok()) return;
  const int64_t hour_ago_ns = (env.NowMicros() - 3'600'000'000) * 1000;
  for (const FileInfo& f : *entries) {
    if (f.is_dir && f.name.starts_with(kStagingPrefix) && f.mtime_ns != 0 &&
        f.mtime_ns < hour_ago_ns) {
      (void)RemoveTree(env, JoinPath(dir, f.name));
    }
  }
}

// Checks main's signature envelope on `csv` and `contract` against this site's pinned root key
// and main's root metadata (keys/root.pub, keys/root.json).
Result<sync::StatementAttestation> CheckStatementSignature(Env& env, const std::string& site_dir,
                                                           const std::string& site_id,
                                                           const std::string& signature,
                                                           const std::string& csv,
                                                           const std::string& contract) {
  ASSIGN_OR_RETURN(PinnedMainRoot root, LoadPinnedRoot(env, site_dir));
  auto a = sync::VerifyStatementSignature(root.key, root.envelope, signature, site_id, csv,
                                          contract, env.NowSeconds());
  if (!a.ok()) return a.status().Annotate("main's signature on the fee statement");
  return a;
}

// Writes the statement's files into a staging folder and renames it into place as `id`: the
// statement is there whole or not at all. OK (and nothing changed) when `id` is held already.
Status StoreStatement(Env& env, const std::string& dir, const std::string& id,
                      const std::string& csv, const std::string& contract,
                      const std::string& receipt, const std::string& signature) {
  const std::string staging = JoinPath(dir, kStagingPrefix + HexEncode(RandomString(env, 8)));
  Status st = [&]() -> Status {
    RETURN_IF_ERROR(env.CreateDir(staging));
    RETURN_IF_ERROR(env.SetPermissions(staging, 0700));
    RETURN_IF_ERROR(WriteFileAtomic(env, JoinPath(staging, kContractFile), contract, 0600));
    RETURN_IF_ERROR(WriteFileAtomic(env, JoinPath(staging, kStatementFile), csv, 0600));
    RETURN_IF_ERROR(WriteFileAtomic(env, JoinPath(staging, kReceiptFile), receipt, 0600));
    if (!signature.empty()) {
      RETURN_IF_ERROR(WriteFileAtomic(env, JoinPath(staging, kSignatureFile), signature, 0600));
    }
    RETURN_IF_ERROR(env.SyncDir(staging));
    const std::string final_dir = JoinPath(dir, id);
    if (env.FileExists(final_dir)) return Status::Ok();  // another fetch stored it meanwhile
    RETURN_IF_ERROR(env.Rename(staging, final_dir));
    return env.SyncDir(dir);
  }();
  if (env.FileExists(staging)) (void)RemoveTree(env, staging);
  return st.ok() ? st : st.Annotate("storing the fee statement " + id + " in " + dir);
}

// Fetches main's statement for `period` (listed with `sha256`), checks it and stores it. A
// refusal says what was wrong with main's answer.
Status FetchOneStatement(Env& env, const std::string& site_dir, const SiteConfig& config,
                         const std::string& dir, const sync::HttpRoundTrip& main,
                         const std::string& period, const std::string& sha256, int64_t written,
                         const StatementFetchOptions& options) {
  auto answer = main(HttpRequest("GET", "/v1/ledger/statement?period=" + period));
  if (!answer.ok()) return answer.status().Annotate("asking main for it");
  if (answer->status() != 200) return sync::StatusFromResponse(*answer);
  if (answer->body().size() > options.max_answer_bytes) {
    return Status::ResourceExhausted(
        "main's answer is " + std::to_string(answer->body().size()) + " bytes, more than the " +
        std::to_string(options.max_answer_bytes) + " a statement with its contract may have");
  }
  ASSIGN_OR_RETURN(json::object o, ParseObject(answer->body(), "main's answer"));
  const json::value* csv_value = o.if_contains("csv");
  const json::value* contract_value = o.if_contains("contract");
  if (csv_value == nullptr || !csv_value->is_string() || contract_value == nullptr ||
      !contract_value->is_string()) {
    return Status::InvalidArgument("main's answer has no 'csv' and 'contract' texts");
  }
  const std::string csv(csv_value->as_string());
  const std::string contract_text(contract_value->as_string());
  const std::string digest = Sha256Hex(csv);
  if (digest != sha256) {
    return Status::DataLoss("its SHA-256 is " + digest + ", not the " + sha256 +
                            " main listed: it was damaged on the way or changed meanwhile");
  }
  auto statement = fees::ParseStatementCsv(csv);
  if (!statement.ok()) {
    return Status::DataLoss("the statement is damaged: " + statement.status().message());
  }
  if (statement->partner != config.id) {
    return Status::PermissionDenied("the statement is for partner '" + statement->partner +
                                    "', not this site ('" + config.id + "')");
  }
  if (statement->period.label != period) {
    return Status::InvalidArgument("the statement is for the period " + statement->period.label +
                                   ", not the " + period + " asked for");
  }
  auto contract = fees::ParseContract(contract_text, "main's contract for " + period);
  if (!contract.ok()) {
    return Status::DataLoss("the contract sent with it is damaged: " + contract.status().message());
  }
  if (contract->sha256_hex != statement->contract_sha256) {
    return Status::DataLoss("the contract sent with it (SHA-256 " + contract->sha256_hex +
                            ") is not the one the statement was computed with (" +
                            statement->contract_sha256 + ")");
  }
  if (contract->partner != config.id) {
    return Status::PermissionDenied("the contract sent with it is for partner '" +
                                    contract->partner + "', not this site");
  }
  // Main's signature on the statement and contract (sync/statement_signature.h), checked against
  // the root key pinned at enrollment: required by an enrolled site.
  std::string signature;
  if (const json::value* sig = o.if_contains("signature"); sig != nullptr && sig->is_string()) {
    signature = std::string(sig->as_string());
  }
  if (env.FileExists(JoinPath(site_dir, "keys/root.pub"))) {
    if (signature.empty()) {
      return Status::Unauthenticated(
          "main sent it unsigned: refusing a statement main did not "
          "sign");
    }
    RETURN_IF_ERROR(
        CheckStatementSignature(env, site_dir, config.id, signature, csv, contract_text).status());
  }
  json::object receipt;
  receipt["period"] = period;
  receipt["sha256"] = sha256;
  receipt["received"] = env.NowSeconds();
  receipt["written"] = written;
  receipt["total_minor"] = statement->total_minor;
  receipt["currency"] = statement->currency;
  receipt["contract_sha256"] = statement->contract_sha256;
  receipt["signed"] = !signature.empty();
  return StoreStatement(env, dir, StatementId(period, sha256), csv, contract_text,
                        json::serialize(receipt), signature);
}

Result<ReceivedStatement> ReadReceived(Env& env, const std::string& dir, const std::string& id) {
  ReceivedStatement r;
  r.id = id;
  r.period = PeriodOfId(id);
  const std::string folder = JoinPath(dir, id);
  r.csv_path = JoinPath(folder, kStatementFile);
  r.contract_path = JoinPath(folder, kContractFile);
  ASSIGN_OR_RETURN(std::string receipt_text, env.ReadFile(JoinPath(folder, kReceiptFile)));
  ASSIGN_OR_RETURN(json::object receipt, ParseObject(receipt_text, "the statement's receipt"));
  r.sha256 = Str(receipt, "sha256");
  r.received = static_cast<int64_t>(U64(receipt, "received"));
  r.written = static_cast<int64_t>(U64(receipt, "written"));
  const json::value* total = receipt.if_contains("total_minor");
  if (total != nullptr && total->is_int64()) r.total_minor = total->as_int64();
  if (total != nullptr && total->is_uint64())
    r.total_minor = static_cast<int64_t>(total->as_uint64());
  r.currency = Str(receipt, "currency");
  r.contract_sha256 = Str(receipt, "contract_sha256");
  auto csv = env.ReadFile(r.csv_path);
  r.changed = !csv.ok() || Sha256Hex(*csv) != r.sha256;
  return r;
}

}  // namespace

Result<StatementFetchSummary> FetchStatements(Env& env, const std::string& site_dir,
                                              const sync::HttpRoundTrip& main, Logger& logger,
                                              StatementFetchOptions options) {
  ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfig(env, site_dir));
  auto list = main(HttpRequest("GET", "/v1/ledger/statements"));
  if (!list.ok()) return list.status().Annotate("asking main for fee statements");
  if (list->status() != 200) {
    return sync::StatusFromResponse(*list).Annotate("asking main for fee statements");
  }
  if (list->body().size() > options.max_list_bytes) {
    return Status::ResourceExhausted(
        "main's list of fee statements is " + std::to_string(list->body().size()) +
        " bytes, more than the " + std::to_string(options.max_list_bytes) + " allowed: refused");
  }
  ASSIGN_OR_RETURN(json::object lo, ParseObject(list->body(), "main's list of fee statements"));
  const json::value* items = lo.if_contains("statements");
  if (items == nullptr || !items->is_array()) {
    return Status::InvalidArgument("main's list of fee statements has no 'statements' array");
  }
  const std::string dir = StatementsDir(site_dir);
  RETURN_IF_ERROR(CreateDirs(env, dir));
  RETURN_IF_ERROR(env.SetPermissions(dir, 0700));
  RemoveStaleStaging(env, dir);

  StatementFetchSummary summary;
  for (const json::value& item : items->as_array()) {
    ++summary.offered;
    const json::object* o = item.if_object();
    const std::string period_text = o != nullptr ? Str(*o, "period") : "";
    const std::string sha256 = o != nullptr ? Str(*o, "sha256") : "";
    auto period = fees::ParsePeriod(period_text);
    if (!period.ok() || period->label != period_text || !IsLowerHex(sha256, 64)) {
      summary.refused.push_back("main listed a statement without a valid period and SHA-256 ('" +
                                period_text.substr(0, 40) + "')");
      continue;
    }
    const std::string id = StatementId(period->label, sha256);
    if (env.FileExists(JoinPath(dir, id))) {
      ++summary.held;
      continue;
    }
    Status fetched = FetchOneStatement(env, site_dir, config, dir, main, period->label, sha256,
                                       static_cast<int64_t>(U64(*o, "written")), options);
    if (fetched.ok()) {
      ++summary.received;
      logger.info("received the fee statement for {} from main ({})", period->label, id);
    } else if (fetched.code() == StatusCode::kUnavailable ||
               fetched.code() == StatusCode::kDeadlineExceeded) {
      return fetched.Annotate("fetching the fee statement for " + period->label);
    } else {
      summary.refused.push_back("the statement for " + period->label +
                                " was refused: " + fetched.message());
    }
  }
  return summary;
}

Result<StatementFetchSummary> FetchStatementsNow(Env& env, const std::string& site_dir,
                                                 Logger& logger) {
  ASSIGN_OR_RETURN(sync::HttpRoundTrip main, MainRoundTrip(env, site_dir));
  return FetchStatements(env, site_dir, main, logger);
}

Result<std::vector<ReceivedStatement>> ListReceivedStatements(Env& env,
                                                              const std::string& site_dir) {
  const std::string dir = StatementsDir(site_dir);
  std::vector<ReceivedStatement> out;
  if (!env.FileExists(dir)) return out;
  ASSIGN_OR_RETURN(std::vector<FileInfo> entries, env.ListDir(dir));
  for (const FileInfo& f : entries) {
    if (!f.is_dir || PeriodOfId(f.name).empty()) continue;
    auto r = ReadReceived(env, dir, f.name);
    if (r.ok()) out.push_back(std::move(*r));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.received != b.received ? a.received > b.received : a.id > b.id;
  });
  return out;
}

Result<ReceivedStatement> FindReceivedStatement(Env& env, const std::string& site_dir,
                                                std::string_view id) {
  // Only a canonical id names a folder: nothing else reaches the file system.
  const std::string dir = StatementsDir(site_dir);
  if (PeriodOfId(id).empty() || !env.FileExists(JoinPath(dir, id))) {
    return Status::NotFound("no fee statement '" + std::string(id.substr(0, 64)) +
                            "' received from main (see 'tieup partner fees statements')");
  }
  return ReadReceived(env, dir, std::string(id));
}

Result<fees::VerificationReport> VerifyReceivedStatement(Env& env, const std::string& site_dir,
                                                         std::string_view id) {
  ASSIGN_OR_RETURN(ReceivedStatement r, FindReceivedStatement(env, site_dir, id));
  ASSIGN_OR_RETURN(std::string csv, env.ReadFile(r.csv_path));
  // Main's signature: the statement and contract held here must be the ones main signed. A
  // signature that does not check out is reported with the recomputation (so that the manager
  // also sees what differs), and the statement never agrees then.
  const std::string signature_path =
      JoinPath(JoinPath(StatementsDir(site_dir), r.id), kSignatureFile);
  std::string signed_by;
  std::optional<Status> bad_signature;
  if (env.FileExists(signature_path)) {
    ASSIGN_OR_RETURN(std::string signature, env.ReadFile(signature_path));
    ASSIGN_OR_RETURN(std::string contract, env.ReadFile(r.contract_path));
    ASSIGN_OR_RETURN(SiteConfig config, LoadSiteConfig(env, site_dir));
    auto a = CheckStatementSignature(env, site_dir, config.id, signature, csv, contract);
    if (a.ok()) {
      signed_by = "; main's signature verified (written " + FormatRfc3339(a->written) + ")";
    } else {
      bad_signature = a.status();
      signed_by = "; " + a.status().message();
    }
  } else {
    signed_by = "; not signed by main (received before statements were signed)";
  }
  ASSIGN_OR_RETURN(fees::VerificationReport report,
                   VerifyStatementWithOwnLedger(env, site_dir, csv, r.contract_path));
  report.subject += signed_by;
  if (bad_signature.has_value() && report.differences.empty()) {
    report.differences.push_back(
        {"main's signature", "the statement and contract main signed", bad_signature->message()});
  }
  report.agrees = report.differences.empty();
  return report;
}

Status AttachPartnerLedgerService(PartnerDaemon& daemon) {
  if (daemon.sync() == nullptr) return Status::Ok();  // not enrolled: nobody to ship to
  const std::string& site_dir = daemon.site().site_dir();
  ASSIGN_OR_RETURN(ledger::NoteSigner signer, LoadLedgerSigner(daemon.env(), site_dir));
  ASSIGN_OR_RETURN(ledger::NoteVerifier verifier,
                   ledger::NoteVerifier::Create(signer.name(), signer.public_key()));
  PublicSite& site = daemon.site();
  LedgerShipperOptions options;
  options.max_batches_per_push = 50;  // about 100,000 entries per tick at most
  ASSIGN_OR_RETURN(
      std::unique_ptr<LedgerShipper> shipper,
      LedgerShipper::Open(
          daemon.env(), daemon.db(), site.ledger(), std::move(verifier),
          [&site] { return site.access_log().CheckpointNow(); }, daemon.logger(), options));
  std::shared_ptr<LedgerShipper> shared(std::move(shipper));
  ASSIGN_OR_RETURN(sync::HttpRoundTrip main, MainRoundTrip(daemon.env(), site_dir));
  daemon.AddPeriodicTask("ledger-push", [shared, main] { shared->MaybePush(main); });
  // Fee statements main wrote for this site: asked for at the first tick, then every interval.
  // A refusal is logged once per statement and reason (the fetch asks again each time).
  struct FetchState {
    int64_t next_micros = 0;
    std::set<std::string> logged;
  };
  auto fetch = std::make_shared<FetchState>();
  daemon.AddPeriodicTask("fee-statements", [fetch, main, &daemon, site_dir,
                                            interval = options.push_interval] {
    Env& env = daemon.env();
    if (env.NowMicros() < fetch->next_micros) return;
    fetch->next_micros =
        env.NowMicros() + std::chrono::duration_cast<std::chrono::microseconds>(interval).count();
    auto r = FetchStatements(env, site_dir, main, *daemon.logger());
    if (!r.ok()) {
      daemon.logger()->warn("fetching fee statements from main (will retry): {}",
                            r.status().ToString());
      return;
    }
    for (const std::string& why : r->refused) {
      if (fetch->logged.insert(why).second) {
        daemon.logger()->warn(
            "FEE STATEMENT REFUSED: {} (nothing of it stored; asked again "
            "at the next fetch)",
            why);
      }
    }
  });
  daemon.sync()->AddSyncRoute("/v1/ledger/", [shared](const HttpRequest& request) {
    return shared->HandleSyncRequest(request);
  });
  return Status::Ok();
}

}  // namespace tieup
