// Main's side of ledger shipping: partners' access ledgers received (pushed by the partner or
// pulled by main), verified and kept in a mirror per partner, alerts when a ledger does not
// check out, and fee statements computed from the verified mirror.
//
// Wire protocol (sync port, mutual TLS; the peer's site id comes from its certificate):
//   GET  /v1/ledger/state  on main     -> LedgerState JSON (what main holds of the caller's log)
//   POST /v1/ledger/push   on main     body: a batch (below) -> receipt JSON
//   GET  /v1/ledger/pull?from=E&accepted=A&max=K   on the partner -> a batch
//   POST /v1/ledger/alerts on the partner  body: {"alerts":[alert...]}: alerts main raised on
//        a pulled batch, so that the partner records them too
//   GET  /v1/ledger/statements  on main -> {"statements":[{"period","sha256","bytes","written"}]}:
//        the fee statements main wrote for the caller (and only the caller), by period
//   GET  /v1/ledger/statement?period=P  on main -> {"partner","period","sha256","written",
//        "csv","contract","signature"}: the caller's statement for P (the CSV, fees/statement.h)
//        with the contract it was computed with (the TOML bytes) and main's signature on both
//        (sync/statement_signature.h); 404 when main wrote none for the caller
//        and P. Every answer is looked up by the caller's own id from its certificate: a
//        partner can never read another's statement.
// The state answer also lists the caller's open alerts ("open_alerts": [alert...]), so that
// the partner knows which of the alerts it recorded main still holds open.
// A batch is JSON:
//   {"origin": "tieup.ledger/<partner>", "verifier_key": "<C2SP verifier key>",
//    "checkpoint": "<signed note of size N>", "accepted_size": A,
//    "consistency": [base64 hash...],   proof from A (main's last accepted size) to N
//    "from": E, "entries": [base64 entry...],   entries [E, E+k), E = main's mirror size
//    "batch_proof": [base64 hash...]}   proof from E+k to N (empty when E+k == N)
// A receipt: {"accepted": bool, "entries": n, "accepted_size": n, "message": "...",
//             "alerts": [{"id","time","kind","message","begin","end"}]}
//
// Checks on every batch (each failure is an alert: a row in ledger_alerts, a warning in the
// log, and in the receipt so the partner logs it too; the alert's range is left out of fees
// until a manager resolves it):
//  - the partner's ledger key: pinned the first time the partner ships (trust on first use,
//    over the mTLS channel that already proves which partner is speaking); a different key
//    later is refused ("key");
//  - the checkpoint's signature and origin ("signature");
//  - against the last accepted checkpoint of size A: a smaller size is a truncation
//    ("truncation", range [N, A)); the same size with another root a fork ("fork", [0, A));
//    growth without a valid consistency proof a rewrite, deletion or reordering ("rewrite",
//    [0, A));
//  - the entries: the Merkle root of the verified mirror plus the batch must be the root the
//    checkpoint commits to at that size (directly when the batch ends at N, else through
//    batch_proof) ("entries", range [E, E+k)): the partner's stored records changed after
//    they were signed.
// An accepted batch may also raise an alert: an "unrecorded" entry (ledger/records.h), the
// count of requests the partner served but could not record (its disk was full), is an alert
// "N requests unrecorded between T1 and T2 at partner X" ("unrecorded", an empty range at that
// entry: nothing is excluded, but `ledger verify` is NOT OK until a manager resolves it).
// A batch built on a stale view of main's state (accepted_size or from differ) is refused
// without an alert: the sender asks for the state again.
//
// Storage: SITE_DIR/ledgers/<partner>/ is a ledger::Log holding the verified entries and, in
// its checkpoints/ folder, the partner's signed checkpoints whose size the mirror reached, so
// `VerifyLog` checks the mirror like any ledger. SQLite (component "main_ledger") holds the
// pinned key, the last accepted checkpoint and the alerts. Several processes (the daemon and
// the command line) may use one mirror: a file lock in the mirror folder serialises them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "base/status.h"
#include "fees/inputs.h"
#include "net/http_message.h"
#include "store/database.h"
#include "sync/http_api.h"

namespace tieup {

namespace ledger {
class Log;
}
class MainDaemon;

// Something in a partner's ledger that did not check out.
struct LedgerAlert {
  int64_t id = 0;
  std::string partner;
  int64_t time = 0;     // unix seconds
  std::string kind;     // key, signature, truncation, fork, rewrite, entries, unrecorded
  std::string message;  // what was wrong, for people
  uint64_t begin = 0;   // ledger range [begin, end) excluded from fees; empty for none
  uint64_t end = 0;
  bool resolved = false;
};

// What main holds of one partner's ledger.
struct LedgerMirrorState {
  std::string partner;
  std::string verifier_key;  // pinned; empty before the partner first shipped
  uint64_t entries = 0;      // verified entries in the mirror
  uint64_t accepted_size = 0;
  std::string accepted_root_hex;  // of the last accepted checkpoint
};

// What main last accepted of a partner's ledger, read from its row alone (no mirror is opened):
// cheap enough for a page that lists many partners.
struct LedgerCheckpointSummary {
  std::string partner;
  bool shipped = false;        // its key is pinned: the partner has shipped its ledger
  uint64_t accepted_size = 0;  // entries the last accepted (verified) checkpoint covers
  std::string accepted_root_hex;
  int64_t last_received = 0;  // unix seconds of the last batch that added entries; 0: none yet
};

// The answer to one batch.
struct LedgerReceipt {
  bool accepted = false;
  uint64_t entries = 0;        // the mirror's size after the batch
  uint64_t accepted_size = 0;  // the last accepted checkpoint's size after the batch
  std::string message;         // why a batch was refused (stale state, alert)
  std::vector<LedgerAlert> alerts;
};

// The outcome of a pull.
struct LedgerPullSummary {
  uint64_t batches = 0;
  uint64_t entries_received = 0;
  LedgerMirrorState state;
  std::vector<LedgerAlert> alerts;
};

// A statement written by WriteStatement.
struct StatementFiles {
  std::string csv_path;
  std::string html_path;
  std::string contract_path;  // the copy of the contract it was computed with
  int64_t total_minor = 0;
  std::string currency;
  uint64_t checkpoint_size = 0;
  std::string checkpoint_root_hex;
  uint64_t excluded_entries = 0;
};

// A fee statement main wrote for a partner, as it is offered for delivery.
struct StatementRecord {
  std::string partner;
  std::string period;         // the period's label ("2026-11")
  std::string sha256;         // lower-case hex SHA-256 of the CSV
  uint64_t bytes = 0;         // of the CSV
  int64_t written = 0;        // unix seconds
  std::string csv_path;       // SITE_DIR/statements/<partner>-<period>.csv
  std::string contract_path;  // ...-<period>.contract.toml: the contract it was computed with
};

// A statement as delivered: its CSV and the contract it was computed with.
struct StatementDelivery {
  StatementRecord record;
  std::string csv;
  std::string contract;
  // Main's signature envelope (sync/statement_signature.h), written beside the statement as
  // <partner>-<period>.signature.json; empty for a site without a release key.
  std::string signature;
};

// A verification on read: `ok` and a report for people (sizes, roots, alerts).
struct LedgerReport {
  bool ok = false;
  std::string text;
};

// An order a partner processed itself (its own shop: routing local or consult), as its ledger
// recorded it (ledger::OrderRecord) and main received it in a verified batch: table
// ledger_orders, one row per ledger entry.
struct LedgerOrder {
  std::string partner;
  uint64_t entry = 0;  // index of the record in the partner's ledger
  std::string order_id;
  int64_t time_micros = 0;
  std::string area;          // "tieup" or "original"
  int64_t amount_minor = 0;  // negative for a refund
  std::string currency;
  uint32_t items = 0;
  // In a range an open alert excludes from fees (computed when asked: resolving the alert
  // clears it).
  bool excluded = false;
};

// Which ledger orders to list.
struct LedgerOrderQuery {
  std::string partner;  // empty: every partner
  std::string area;     // empty, "tieup" or "original"
  bool newest_first = true;
  // Leaves out the records of orders main's own shop holds (commerce_orders.number): a partner
  // also records the tie-up orders it delegated to main, which main lists as its own. Only on a
  // database with main's shop tables.
  bool exclude_main_shop_orders = false;
  int64_t limit = 25;
  int64_t offset = 0;
};

struct LedgerOrderPage {
  int64_t total = 0;  // matching orders, whatever the page
  std::vector<LedgerOrder> orders;
};

// A request a partner served to a signed-in customer who let it be recorded under the account's
// id (the user logs main keeps; sync/partnership_terms.h user-log terms), from a verified batch:
// table ledger_user_visits, indexed with the orders.
struct LedgerVisit {
  std::string partner;
  int64_t time_micros = 0;
  std::string area;  // "tieup" or "original"
  std::string method;
  std::string path;
  int status = 0;
};

// A query that found nothing on a partner's search page (ledger::SearchRecord with no results),
// from verified batches: table ledger_searches, indexed with the orders. Queries that differ
// only in case are one (SQL lower(): ASCII letters on SQLite; PostgreSQL folds others too).
struct ZeroResultQuery {
  std::string partner;
  std::string query;        // as the visitor wrote it the most recent time
  int64_t searches = 0;     // how often it was searched
  int64_t last_micros = 0;  // when it was last searched
};

// How a partner's search page was used over a period (from the same table).
struct SearchSummary {
  std::string partner;
  int64_t searches = 0;         // searches (clicks not counted)
  int64_t zero_result = 0;      // of those, the ones that found nothing
  int64_t tieup_clicks = 0;     // clicks on results in the tie-up area
  int64_t original_clicks = 0;  // clicks on results in the partner's own pages
};

// The newest `limit` visits of `user_id` across the network (empty before any ledger arrived).
Result<std::vector<LedgerVisit>> UserVisits(Database& db, const std::string& user_id,
                                            int64_t limit);
// Forgets them (an erased account: the partners' ledgers keep the pseudonymous id, which a
// tamper-evident log cannot drop, but main no longer ties it to anything).
Status ForgetUserVisits(Database& db, const std::string& user_id);

struct LedgerCollectorOptions {
  // Largest batch asked for when pulling.
  uint64_t pull_batch_entries = 2000;
  // Pull rounds per Pull call (each round is one batch).
  uint64_t max_pull_batches = 100000;
};

// Thread-safe: calls are serialised (in the process by a mutex, across processes by a file
// lock per mirror).
class LedgerCollector {
 public:
  // `db` must outlive the collector. Applies the "main_ledger" schema.
  static Result<std::unique_ptr<LedgerCollector>> Open(Env& env, std::string site_dir, Database& db,
                                                       std::shared_ptr<Logger> logger,
                                                       LedgerCollectorOptions options = {});
  ~LedgerCollector();

  // Checks and stores one batch from `partner` (already authenticated). A malformed batch is
  // InvalidArgument; a batch that does not check out is a receipt with accepted = false and
  // the alert; a failure to store is an error (nothing half-stored is ever counted).
  Result<LedgerReceipt> Receive(const std::string& partner, std::string_view batch_json);

  // Pulls new entries from `partner` through `round_trip` (to its sync port) until main holds
  // everything the partner's fresh checkpoint covers; alerts are sent back to the partner.
  Result<LedgerPullSummary> Pull(const std::string& partner, const sync::HttpRoundTrip& round_trip);

  // What main holds of `partner`'s ledger (zeros before the first shipment).
  Result<LedgerMirrorState> State(const std::string& partner);
  // What main last accepted of each of `partners`' ledgers, in their order (zeros for one that
  // never shipped).
  Result<std::vector<LedgerCheckpointSummary>> CheckpointSummaries(
      const std::vector<std::string>& partners);
  // Alerts of `partner` (every partner when empty), newest first.
  Result<std::vector<LedgerAlert>> Alerts(const std::string& partner, bool include_resolved);
  // Marks an alert resolved (its range counts for fees again). NotFound for an unknown id.
  Status ResolveAlert(int64_t id, const std::string& note);
  // The ranges excluded from fees (unresolved alerts), merged, sorted.
  Result<std::vector<fees::ExcludedRange>> ExcludedRanges(const std::string& partner);

  // The order records of accepted batches (see LedgerOrder), filtered and paged, by time.
  // Indexed when a batch is accepted, and on Open for mirrors that hold entries not indexed
  // yet (a site that had mirrors before the table existed shows its history).
  Result<LedgerOrderPage> Orders(const LedgerOrderQuery& query);

  // The searches that found nothing (clicks are not searches) since `since_micros`, of
  // `partner` (every partner when empty): per partner (by id), the most frequent first (then the
  // most recent), at most `limit` (at least 1) per partner. Empty before any search arrived.
  Result<std::vector<ZeroResultQuery>> ZeroResultQueries(std::string_view partner,
                                                         int64_t since_micros, size_t limit);
  // Per partner (by id) with searches or clicks since `since_micros`, of `partner` (every
  // partner when empty): how its search page was used.
  Result<std::vector<SearchSummary>> SearchSummaries(std::string_view partner,
                                                     int64_t since_micros);

  // Verifies the stored mirror of `partner` (every record, checkpoint signature and root,
  // consistency between checkpoints) and reports it with the state and open alerts. An error
  // only when there is nothing to verify (unknown partner).
  Result<LedgerReport> Verify(const std::string& partner);

  // Computes the statement of `partner` for `period_text` ("2026-11") from the verified
  // mirror up to its largest verified checkpoint, leaving out excluded ranges, with the
  // contract at `contract_path` (empty: ContractPath(partner)), and writes CSV and HTML into
  // SITE_DIR/statements/, with a copy of the contract's exact bytes
  // (<partner>-<period>.contract.toml). Last, it records
  // the statement for delivery (SQLite table fee_statements): the partner fetches it over the
  // sync channel. Writing the same partner and period again replaces the statement.
  Result<StatementFiles> WriteStatement(const std::string& partner, const std::string& period_text,
                                        const std::string& contract_path);

  // The statements written for `partner` (only that partner's), by period.
  Result<std::vector<StatementRecord>> Statements(const std::string& partner);
  // `partner`'s statement for `period` with its contract, read from SITE_DIR/statements/.
  // NotFound when none was written for that partner and period (whatever other partners
  // have); DataLoss when the stored files changed since they were written (write the
  // statement again).
  Result<StatementDelivery> ReadStatement(const std::string& partner, const std::string& period);

  // Serves GET /v1/ledger/state, POST /v1/ledger/push, GET /v1/ledger/statements and GET
  // /v1/ledger/statement for the authenticated peer (only its own data).
  HttpResponse HandleSyncRequest(const HttpRequest& request);

  // SITE_DIR/ledgers/<partner>.
  std::string MirrorDir(const std::string& partner) const;
  // SITE_DIR/statements.
  std::string StatementsDir() const;
  // SITE_DIR/contracts/<partner>.toml: the partnership contract statements are computed with
  // unless another is given.
  std::string ContractPath(const std::string& partner) const;

 private:
  struct Mirror;
  LedgerCollector(Env& env, std::string site_dir, Database& db, std::shared_ptr<Logger> logger,
                  LedgerCollectorOptions options);
  Result<LedgerReceipt> ReceiveLocked(const std::string& partner, std::string_view batch_json);
  Result<Mirror*> OpenMirror(const std::string& partner, int64_t generation);
  // Adds the order records of `log`'s entries not indexed yet to ledger_orders, and their user
  // visits and searches to ledger_user_visits and ledger_searches (idempotent). Called with the
  // mirror's lock held.
  Status IndexOrders(const std::string& partner, const ledger::Log& log);
  // IndexOrders for every mirror whose accepted checkpoint is ahead of its index.
  Status BackfillOrders();
  Result<LedgerAlert> RaiseAlert(const std::string& partner, std::string kind, std::string message,
                                 uint64_t begin, uint64_t end);

  Env& env_;
  const std::string site_dir_;
  Database& db_;
  std::shared_ptr<Logger> logger_;
  const LedgerCollectorOptions options_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Mirror>> mirrors_;  // open mirrors, by partner
};

// Attaches the ledger collector to main's sync port (/v1/ledger/). One line in services.cc.
Status AttachMainLedgerService(MainDaemon& daemon);

// A round trip to `partner`'s sync port at `sync_url` with main's identity in `site_dir`.
Result<sync::HttpRoundTrip> PartnerRoundTrip(Env& env, const std::string& site_dir,
                                             const std::string& sync_url,
                                             const std::string& partner);

}  // namespace tieup
