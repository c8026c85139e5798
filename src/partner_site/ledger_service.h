// The partner's side of ledger shipping: its access ledger (SITE_DIR/ledger) sent to main in
// verified batches, pushed at an interval and on demand, or pulled by main; alerts main raises
// recorded here too; and checking the partner's own ledger and main's fee statements.
//
// The wire protocol and main's checks are described in main_site/ledger_service.h. Here:
//  - a push first asks main what it holds (GET /v1/ledger/state: E verified entries, the last
//    accepted checkpoint size A), signs a checkpoint of the ledger now (size N), then sends
//    entries [E, N) in batches (at most max_batch_entries entries and max_batch_bytes bytes
//    each) with the checkpoint, the consistency proof A -> N and each batch's proof to N.
//    A cut connection loses nothing: the next push starts again from main's state;
//  - main may pull the same batches (GET /v1/ledger/pull) and posts back any alert;
//  - the partner's ledger key is the site key (keys/site.key) under the name
//    "tieup.ledger/<site id>"; main pins it the first time the partner ships.
// Alerts are kept in SQLite (component "partner_ledger") and logged as warnings; an alert from
// main counts as resolved once main's state answer no longer lists it as open, a local one once
// a later push has read the ledger again. Each push (its time, what main holds after it, or why
// it failed) is recorded there too, for the console.
//
// Fee statements: main writes a partner's statement for a period (`tieup main fees statement`)
// with a copy of the contract it was computed with; the partner fetches what it does not hold
// yet over the same mutual-TLS channel (GET /v1/ledger/statements, then GET
// /v1/ledger/statement?period=P for each; main answers only the caller's own), at an interval
// in the daemon and on demand (console, `tieup partner fees statements --fetch`). Each one is
// checked before anything is stored (size, the SHA-256 main listed, the CSV parsed strictly with
// its digest, this site's id and the period asked for, the contract's SHA-256 named in the
// statement) and kept owner-only in SITE_DIR/statements/<period>_<12 hex of the CSV's SHA-256>/
// (statement.csv, contract.toml, receipt.json): written in a staging folder and renamed into
// place whole, so a statement is there entirely or not at all. A statement main writes again
// for the same period (more entries reached it) is a new statement beside the old one.
#pragma once

#include <boost/json/array.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "fees/statement.h"
#include "ledger/checkpoint.h"
#include "ledger/log.h"
#include "net/http_message.h"
#include "store/database.h"
#include "sync/http_api.h"

namespace tieup {

class PartnerDaemon;

// An alert about this partner's ledger: raised by main (source "main") or found here
// (source "local": the ledger could not be read for shipping).
struct PartnerLedgerAlert {
  int64_t id = 0;
  int64_t time = 0;  // unix seconds
  std::string source;
  std::string kind;
  std::string message;
  uint64_t begin = 0;  // the range main excludes from fees, [begin, end)
  uint64_t end = 0;
  bool resolved = false;  // main no longer holds it open (or, local, the ledger reads again)
};

// What a push did, as recorded for the console (the latest one).
struct LedgerPushRecord {
  int64_t time_micros = 0;  // when it ended, by the Env's clock
  bool ok = false;
  std::string error;  // why it failed (main unreachable, refused, ...)
  uint64_t entries_sent = 0;
  uint64_t checkpoint_size = 0;
  uint64_t main_entries = 0;  // what main holds after it (of a successful push)
  bool caught_up = false;
};

struct LedgerShipperOptions {
  uint64_t max_batch_entries = 2000;
  uint64_t max_batch_bytes = 1ull << 20;
  // The daemon pushes when this much time (by the Env's clock) has passed since the last push.
  std::chrono::seconds push_interval{60};
  // Batches per Push call (0: until caught up). The daemon bounds each periodic push so that
  // one tick never blocks for long; the rest follows on the next tick.
  uint64_t max_batches_per_push = 0;
};

// The outcome of a push.
struct LedgerPushSummary {
  uint64_t batches = 0;
  uint64_t entries_sent = 0;
  uint64_t checkpoint_size = 0;  // the checkpoint sent
  std::string checkpoint_root_hex;
  uint64_t main_entries = 0;  // what main holds after the push
  uint64_t main_accepted_size = 0;
  bool caught_up = false;                  // main holds every entry of the checkpoint
  std::vector<PartnerLedgerAlert> alerts;  // raised by main during this push
};

// Thread-safe: pushes and pull answers are serialised.
class LedgerShipper {
 public:
  // Signs a checkpoint of the ledger now and returns the note.
  using CheckpointFn = std::function<Result<std::string>()>;

  // Ships `log` (which must outlive the shipper), whose checkpoints `verifier` checks (the
  // partner's own key) and `checkpoint` signs. `db` must outlive the shipper; the
  // "partner_ledger" schema is applied.
  static Result<std::unique_ptr<LedgerShipper>> Open(Env& env, Database& db, const ledger::Log& log,
                                                     ledger::NoteVerifier verifier,
                                                     CheckpointFn checkpoint,
                                                     std::shared_ptr<Logger> logger,
                                                     LedgerShipperOptions options = {});
  ~LedgerShipper();

  // Pushes to main through `main` (a round trip to main's sync port). Transport failures are
  // errors (Unavailable) and nothing is lost: the next push resumes. A batch main refuses
  // with an alert ends the push; the alert is recorded here and in the summary.
  Result<LedgerPushSummary> Push(const sync::HttpRoundTrip& main);

  // The batch main asks for when it pulls: entries from `from`, a fresh checkpoint and the
  // proofs, at most `max_entries` entries (and max_batch_bytes).
  Result<std::string> BuildBatch(uint64_t from, uint64_t accepted_size, uint64_t max_entries);

  // Serves GET /v1/ledger/pull and POST /v1/ledger/alerts from main.
  HttpResponse HandleSyncRequest(const HttpRequest& request);

  // Recorded alerts (resolved ones too), newest first.
  Result<std::vector<PartnerLedgerAlert>> Alerts();

  // Runs a push when push_interval has passed since the last one (the daemon's tick).
  void MaybePush(const sync::HttpRoundTrip& main);

 private:
  LedgerShipper(Env& env, Database& db, const ledger::Log& log, ledger::NoteVerifier verifier,
                CheckpointFn checkpoint, std::shared_ptr<Logger> logger,
                LedgerShipperOptions options);
  Result<LedgerPushSummary> PushLocked(const sync::HttpRoundTrip& main);
  // Records main's open alerts and marks the main alerts it no longer lists resolved.
  Status SyncOpenAlerts(const boost::json::array& open);
  Result<std::string> BuildBatchLocked(const std::string& note, const ledger::Checkpoint& cp,
                                       uint64_t from, uint64_t accepted_size, uint64_t max_entries,
                                       uint64_t* sent);
  Status RecordAlert(const PartnerLedgerAlert& alert);

  Env& env_;
  Database& db_;
  const ledger::Log& log_;
  ledger::NoteVerifier verifier_;
  CheckpointFn checkpoint_;
  std::shared_ptr<Logger> logger_;
  const LedgerShipperOptions options_;
  std::mutex mu_;
  int64_t last_push_micros_ = 0;
};

// The ledger alerts recorded in `db` (the site's database; the schema is applied), newest first;
// with `include_resolved` false only the open ones.
Result<std::vector<PartnerLedgerAlert>> PartnerLedgerAlerts(Database& db, bool include_resolved);
// The latest push recorded in `db` (nullopt before the first one).
Result<std::optional<LedgerPushRecord>> LastLedgerPush(Database& db);

// The partner's ledger signer: keys/site.key under "tieup.ledger/<site id>".
Result<ledger::NoteSigner> LoadLedgerSigner(Env& env, const std::string& site_dir);

// A round trip to main's sync port with the partner's identity (NotFound before enrolling), on
// connections kept alive between calls (KeptAliveTlsRoundTrip).
Result<sync::HttpRoundTrip> MainRoundTrip(Env& env, const std::string& site_dir);

// `tieup partner ledger push DIR`: opens the ledger read-only (the daemon may be running),
// signs a checkpoint of it when none covers its size yet, and pushes to main.
Result<LedgerPushSummary> PushLedgerNow(Env& env, const std::string& site_dir,
                                        LedgerShipperOptions options = {});

// `tieup partner ledger verify DIR`: checks every record and stored checkpoint of the
// partner's own ledger. `ok` and a report for people.
struct OwnLedgerReport {
  bool ok = false;
  std::string text;
};
Result<OwnLedgerReport> VerifyOwnLedger(Env& env, const std::string& site_dir);

// `tieup partner fees verify DIR STATEMENT.csv`: recomputes the statement in `statement_csv`
// from the partner's own ledger (the same checkpoint size and excluded ranges) with the
// contract at `contract_path`, and compares. The partner's own root at that size is compared
// with the statement's (a difference is reported, not an error).
Result<fees::VerificationReport> VerifyStatementWithOwnLedger(Env& env, const std::string& site_dir,
                                                              std::string_view statement_csv,
                                                              const std::string& contract_path);

// --- fee statements from main (see the top of this file) ---

// A statement received from main, as stored here.
struct ReceivedStatement {
  std::string id;           // its folder's name: "<period>_<12 hex>"
  std::string period;       // "2026-11"
  std::string sha256;       // of the CSV as received (lower-case hex)
  int64_t received = 0;     // unix seconds, this site's clock
  int64_t written = 0;      // unix seconds, when main wrote it (main's clock)
  int64_t total_minor = 0;  // as received
  std::string currency;
  std::string contract_sha256;  // the contract it was computed with
  std::string csv_path, contract_path;
  // The stored CSV no longer has the SHA-256 it was received with (edited on this disk).
  bool changed = false;
};

struct StatementFetchOptions {
  uint64_t max_list_bytes = 1ull << 20;    // main's list of statements
  uint64_t max_answer_bytes = 2ull << 20;  // one statement with its contract (JSON)
};

// What a fetch did.
struct StatementFetchSummary {
  size_t offered = 0;                // statements main holds for this site
  size_t received = 0;               // stored now
  size_t held = 0;                   // held already
  std::vector<std::string> refused;  // one line per statement refused: which, and why
};

// Asks main (through `main`) for this site's statements and stores each new one that checks
// out. A damaged, misdirected or oversized statement is refused (a warning in `logger`, a line
// in `refused`) and nothing of it is stored; the others are still fetched. Errors: main cannot
// be reached or its list is unusable (nothing stored), or the disk fails.
Result<StatementFetchSummary> FetchStatements(Env& env, const std::string& site_dir,
                                              const sync::HttpRoundTrip& main, Logger& logger,
                                              StatementFetchOptions options = {});
// The same through MainRoundTrip (the command line, the console).
Result<StatementFetchSummary> FetchStatementsNow(Env& env, const std::string& site_dir,
                                                 Logger& logger);
// The statements stored here, the latest received first.
Result<std::vector<ReceivedStatement>> ListReceivedStatements(Env& env,
                                                              const std::string& site_dir);
// One of them by id (NotFound for an id that is not one).
Result<ReceivedStatement> FindReceivedStatement(Env& env, const std::string& site_dir,
                                                std::string_view id);
// `tieup partner fees verify DIR PERIOD` and the console's Verify: recomputes the stored
// statement `id` from this site's own ledger with the contract main delivered with it.
Result<fees::VerificationReport> VerifyReceivedStatement(Env& env, const std::string& site_dir,
                                                         std::string_view id);

// Attaches ledger shipping to an enrolled partner daemon: the periodic push, the periodic fetch
// of fee statements and main's pull route. Does nothing for a site that has not enrolled. One
// line in services.cc.
Status AttachPartnerLedgerService(PartnerDaemon& daemon);

}  // namespace tieup
