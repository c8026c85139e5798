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
// Alerts are kept in SQLite (component "partner_ledger") and logged as warnings.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
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

  // Recorded alerts, newest first.
  Result<std::vector<PartnerLedgerAlert>> Alerts();

  // Runs a push when push_interval has passed since the last one (the daemon's tick).
  void MaybePush(const sync::HttpRoundTrip& main);

 private:
  LedgerShipper(Env& env, Database& db, const ledger::Log& log, ledger::NoteVerifier verifier,
                CheckpointFn checkpoint, std::shared_ptr<Logger> logger,
                LedgerShipperOptions options);
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

// The partner's ledger signer: keys/site.key under "tieup.ledger/<site id>".
Result<ledger::NoteSigner> LoadLedgerSigner(Env& env, const std::string& site_dir);

// A round trip to main's sync port with the partner's identity (NotFound before enrolling).
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

// Attaches ledger shipping to an enrolled partner daemon: the periodic push and main's pull
// route. Does nothing for a site that has not enrolled. One line in services.cc.
Status AttachPartnerLedgerService(PartnerDaemon& daemon);

}  // namespace tieup
