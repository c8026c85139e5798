#include "partner_site/ledger_service.h"

#include <boost/json.hpp>
#include <cstdio>

#include "base/encoding.h"
#include "crypto/ed25519.h"
#include "fees/contract.h"
#include "fees/inputs.h"
#include "ledger/access_log_writer.h"
#include "ledger/records.h"
#include "ledger/verifier.h"
#include "partner_site/partner_daemon.h"
#include "site/config.h"
#include "site/sync_transport.h"
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

Result<std::vector<PartnerLedgerAlert>> ListAlerts(Database& db) {
  ASSIGN_OR_RETURN(auto rows, db.Query("SELECT id, time, source, kind, message, range_begin, "
                                       "range_end FROM ledger_alerts ORDER BY id DESC"));
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
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

Result<std::vector<PartnerLedgerAlert>> LedgerShipper::Alerts() { return ListAlerts(db_); }

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
  return TlsRoundTrip(endpoint, client, "main", o);
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
             a.message + "\n";
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
  ao.verify_root = false;  // the root was just computed from these very entries
  ASSIGN_OR_RETURN(fees::PeriodInputs inputs, fees::AggregateFromLedger(*own.log, cp, ao));
  return fees::VerifyStatement(statement_csv, contract, inputs);
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
  daemon.sync()->AddSyncRoute("/v1/ledger/", [shared](const HttpRequest& request) {
    return shared->HandleSyncRequest(request);
  });
  return Status::Ok();
}

}  // namespace tieup
