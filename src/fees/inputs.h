// What a fee depends on, aggregated from a partner's ledger for one period.
//
// Only entries covered by a checkpoint are read (indexes [0, checkpoint.size)), so that the
// statement can name the checkpoint and both sides aggregate exactly the same entries. What
// counts:
//  - access records in the period: every one counts in total_accesses; those with a status of
//    200..399 ("successful") count per UTC day and area in `daily` and in the area totals;
//    main's probes of the partner's pages (User-Agent ledger::kProbeUserAgent) are not visits
//    and count nowhere;
//  - order records in the period, in the contract's currency: per area, an amount >= 0 is an
//    order, a negative amount a refund; the net amount is orders minus refunds. Orders in
//    another currency are counted apart (and charged nothing);
//  - order cancellations (ledger::OrderCancelRecord: an order cancelled or refunded) in the
//    period, in the contract's currency: counted per area, their amount subtracted from the net
//    amount. A cancellation counts in the period it happened in, whatever the period of the
//    order: a statement once written never changes, and the next one takes the order back;
//  - content records: for each area, the one with the latest time before the period's end
//    (ties: the later entry), even when it is older than the period (content stays);
//  - ad records in the period: impressions summed per owner;
//  - registration and search records (ledger::SearchRecord: searches and clicks on their
//    results): not used by any fee.
// Entries inside an excluded range (main detected tampering there) are skipped and counted.
// An entry that is not a record this build reads (a newer version, say) is skipped, counted,
// and the first such index is kept, so the statement shows it.
//
// Functions are thread-safe; types are values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "fees/billing.h"
#include "ledger/checkpoint.h"
#include "ledger/log.h"

namespace tieup::fees {

inline constexpr int64_t kMicrosPerDay = 86'400'000'000;
// Periods longer than this are refused.
inline constexpr int64_t kMaxPeriodDays = 400;

// A period of whole UTC days, [from_micros, to_micros).
struct Period {
  std::string label;  // "2026-11", or "2026-11-03..2026-11-10" (end exclusive)
  int64_t from_micros = 0;
  int64_t to_micros = 0;
  // Number of days in the period.
  int64_t days() const { return (to_micros - from_micros) / kMicrosPerDay; }
  friend bool operator==(const Period&, const Period&) = default;
};

// Parses "YYYY-MM" (a calendar month in UTC) or "YYYY-MM-DD..YYYY-MM-DD" (UTC days, the end
// exclusive). InvalidArgument says what is wrong (not a date, empty or reversed, too long).
Result<Period> ParsePeriod(std::string_view text);

// "YYYY-MM-DD" of the UTC day containing `micros` (>= 0).
std::string FormatDay(int64_t micros);

// Successful accesses on one UTC day.
struct DailyAccesses {
  uint64_t tieup = 0;
  uint64_t original = 0;
  friend bool operator==(const DailyAccesses&, const DailyAccesses&) = default;
};

// The content of one area as of the period's end.
struct ContentAmount {
  bool known = false;  // false when no content record was found (all amounts 0)
  uint64_t version = 0;
  uint64_t pages = 0;
  uint64_t bytes = 0;
  uint64_t index = 0;  // ledger index of the content record used
  friend bool operator==(const ContentAmount&, const ContentAmount&) = default;
};

// Orders of one area in the period (contract currency only).
struct OrderTotals {
  uint64_t orders = 0;   // entries with amount >= 0
  uint64_t refunds = 0;  // entries with amount < 0
  // Sum of all order amounts minus cancelled amounts (orders minus refunds and cancellations).
  int64_t net_amount_minor = 0;
  uint64_t cancellations = 0;          // order cancellations and refunds (OrderCancelRecord)
  int64_t cancelled_amount_minor = 0;  // their amounts
  friend bool operator==(const OrderTotals&, const OrderTotals&) = default;
};

// A range of ledger indexes [begin, end) left out of fee computation, and why.
struct ExcludedRange {
  uint64_t begin = 0;
  uint64_t end = 0;
  std::string reason;  // e.g. "checkpoint 1200 inconsistent with 1100"
  friend bool operator==(const ExcludedRange&, const ExcludedRange&) = default;
};

// Where the inputs come from, so the partner can check the same entries.
struct Provenance {
  std::string checkpoint_origin;
  uint64_t checkpoint_size = 0;     // entries [0, size) were read
  std::string checkpoint_root_hex;  // lower-case hex of the checkpoint's Merkle root
  bool any_in_period = false;       // whether any entry fell in the period
  uint64_t first_index = 0;         // first and last index of entries dated in the period
  uint64_t last_index = 0;
  std::vector<ExcludedRange> excluded;  // sorted by begin, non-overlapping
  uint64_t excluded_entries = 0;        // entries skipped because they were excluded
  uint64_t unreadable_entries = 0;      // entries skipped because they could not be read
  uint64_t first_unreadable_index = 0;  // meaningful when unreadable_entries > 0
  friend bool operator==(const Provenance&, const Provenance&) = default;
};

// Everything the fee rules take from the ledger for one partner and one period.
struct PeriodInputs {
  std::string partner;
  std::string currency;
  Period period;
  std::vector<DailyAccesses> daily;  // one per day of the period
  uint64_t tieup_accesses = 0;       // successful, in the period
  uint64_t original_accesses = 0;    // successful, in the period
  uint64_t total_accesses = 0;       // every status, in the period
  ContentAmount tieup_content;
  ContentAmount original_content;
  OrderTotals tieup_orders;
  OrderTotals original_orders;
  uint64_t other_currency_orders = 0;
  uint64_t main_ad_impressions = 0;
  uint64_t partner_ad_impressions = 0;
  Provenance provenance;
  Billing billing{};  // copied from AggregationOptions
  friend bool operator==(const PeriodInputs&, const PeriodInputs&) = default;
};

// How to aggregate.
struct AggregationOptions {
  std::string partner;   // copied into the inputs
  std::string currency;  // the contract's currency
  Period period;
  // Ranges to skip (from main's tamper detection). They need not be sorted; overlapping or
  // empty ranges are refused.
  std::vector<ExcludedRange> excluded;
  // AggregateEntries only: recompute the Merkle root of the entries and compare it with the
  // checkpoint's. Turn off only when the entries were verified already (LogMirror does that
  // on receipt).
  bool verify_root = true;
  // The billed part of the period and the enabled options (fees/billing.h), copied into the
  // inputs for the statement. When stated, its days must lie within the period.
  Billing billing{};
};

// Aggregates entries [0, checkpoint.size) of `log`, which must hold at least that many entries
// whose root equals the checkpoint's root (DataLoss otherwise: the log is not the one the
// checkpoint commits to). The checkpoint itself must have been verified by the caller
// (ledger::OpenCheckpoint). Refuses a bad period or bad options with InvalidArgument.
Result<PeriodInputs> AggregateFromLedger(const ledger::Log& log,
                                         const ledger::Checkpoint& checkpoint,
                                         const AggregationOptions& options);

// The same over entries held in memory: `entries` are entries [0, entries.size()) of the log
// and entries.size() must equal checkpoint.size.
Result<PeriodInputs> AggregateEntries(std::span<const std::string> entries,
                                      const ledger::Checkpoint& checkpoint,
                                      const AggregationOptions& options);

}  // namespace tieup::fees
