// Fee statements: computing one from a contract and a period's inputs, writing it as CSV and
// HTML, reading the CSV back, and verifying a statement against one's own ledger.
//
// A statement is deterministic: the same contract and inputs give byte-identical CSV and HTML.
// Its line items, in this order, are (rules in contract.h; a rule absent from the contract has
// no line):
//   base                      the base fee of the kind
//   service.security          security management, when enabled
//   service.user_management   user management, when enabled
//   service.marketing         direct marketing (campaigns), when enabled
//   content.<measure>         one per measure that has tiers
//   discount.access           negative: the access-ratio discount
//   discount.volume           negative: the volume discount
//   advertising               the advertising contribution
//   transactions.percent      the percentage on tie-up sales
//   transactions.fixed        the fixed fee per tie-up order
// Each line carries its inputs as name=value pairs; the lines computed from the ledger also
// carry checkpoint=<size>:<root hex>, the ledger state they were computed from.
// With billing (format /2): a recurring amount (base, services, content, the advertising pool)
// of a period billed for fewer days than it has is prorated, and its line says so
// (billed_days=<n>;period_days=<m>, "prorated: n of m days"); a service the partnership does
// not enable has no line. Cancelled and refunded tie-up orders are subtracted from the net
// amount and from the orders the fixed fee counts (inputs tieup_cancellations and
// tieup_cancelled_amount, written only when there are some).
//
// CSV format (UTF-8, LF line ends, RFC 4180 quoting: a field with a comma, quote, CR or LF is
// quoted and its quotes doubled). Columns: section,item,value,inputs,amount_minor. Rows:
//   section,item,value,inputs,amount_minor          the column header
//   header,<key>,<value>,,                          in this order: format
//       (tieup-fee-statement/1, or /2 with billing), partner, period, period_from, period_to
//       (exclusive; both YYYY-MM-DD), currency, rounding, contract_sha256, checkpoint_origin,
//       checkpoint_size, checkpoint_root (hex), ledger_first_index, ledger_last_index (both
//       empty when no entry fell in the period), excluded_entries, unreadable_entries,
//       first_unreadable_index (empty when none); format /2 only: billed_from, billed_to (the
//       billed days within the period, the end exclusive) and enabled_options (the
//       partnership's optional services, ';'-separated, possibly empty), see fees/billing.h
//   excluded,<begin>..<end>,<reason>,,              one per excluded ledger range [begin, end)
//   day,<YYYY-MM-DD>,,tieup=<n>;original=<n>,       successful accesses, one row per day
//   line,<code>,<description>,<name>=<value>;...,<amount_minor>
//   total,total,,,<amount_minor>                    the sum of the lines
//   digest,statement_sha256,<hex>,,                 SHA-256 of every byte before this row
// Nothing follows the digest row. Input names are [a-z0-9_]+; input values use only
// [A-Za-z0-9._:/+-].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "fees/contract.h"
#include "fees/inputs.h"

namespace tieup::fees {

// One input of a line item, as shown to the partner.
struct LineInput {
  std::string name;
  std::string value;
  friend bool operator==(const LineInput&, const LineInput&) = default;
};

// One line of a statement.
struct LineItem {
  std::string code;         // stable id, e.g. "discount.access"
  std::string description;  // for people
  std::vector<LineInput> inputs;
  int64_t amount_minor = 0;  // negative only for discounts
  friend bool operator==(const LineItem&, const LineItem&) = default;
};

// A fee statement for one partner and one period.
struct Statement {
  std::string partner;
  Period period;  // label, from and to
  std::string currency;
  RoundingRule rounding = RoundingRule::kHalfEven;
  std::string contract_sha256;
  Provenance provenance;  // checkpoint, ledger range, exclusions
  Billing billing;        // the billed days and enabled options (format /2 only)
  std::vector<DailyAccesses> daily;
  std::vector<LineItem> lines;
  int64_t total_minor = 0;  // sum of the lines, never negative
  // As read from a CSV (ParseStatementCsv); ToCsv() always writes the digest of its own body.
  std::string statement_sha256;

  // The CSV form described above. Deterministic.
  std::string ToCsv() const;
  // A self-contained HTML page (inline CSS, inline SVG chart of daily tie-up and original
  // accesses, the line items with their inputs). All text is escaped. Deterministic.
  std::string ToHtml() const;

  friend bool operator==(const Statement&, const Statement&) = default;
};

// Computes the statement of `inputs` under `contract`. InvalidArgument when the inputs are for
// another partner or currency than the contract; OutOfRange when an amount exceeds
// kMaxMoneyMinor (absurd inputs are refused, never wrapped).
Result<Statement> ComputeStatement(const PartnershipContract& contract, const PeriodInputs& inputs);

// Parses a statement CSV strictly: the exact row order above, every value well-formed, the
// total equal to the sum of the lines, and the digest equal to the SHA-256 of the body.
// InvalidArgument names the row at fault; a digest that does not match is DataLoss (the
// statement was altered after it was made).
Result<Statement> ParseStatementCsv(std::string_view csv);

// What a statement says it covers, read without checking its digest: enough to aggregate
// one's own inputs for the same scope before verifying. Says nothing about integrity.
struct StatementScope {
  std::string partner;
  Period period;
  std::string currency;
  std::string checkpoint_origin;
  uint64_t checkpoint_size = 0;
  std::string checkpoint_root_hex;
  std::vector<ExcludedRange> excluded;
  Billing billing;  // as the statement states it (not stated: format /1)
};
// Reads the scope of a statement CSV (InvalidArgument when it is not a statement).
Result<StatementScope> ReadStatementScope(std::string_view csv);

// One thing on which a statement and the recomputation differ.
struct Difference {
  std::string what;  // "line discount.access amount_minor", "header checkpoint_root", ...
  std::string in_statement;
  std::string recomputed;
  friend bool operator==(const Difference&, const Difference&) = default;
};

// The outcome of verifying a statement.
struct VerificationReport {
  bool agrees = false;
  // What was checked: partner, period, total and checkpoint as the statement states them.
  std::string subject;
  std::vector<Difference> differences;  // empty iff agrees
  // "agrees: ..." or "does not agree: N difference(s)" and one line per difference with both
  // values.
  std::string ToText() const;
};

// Recomputes the statement from `contract` and `own_inputs` (aggregated by the verifier from
// its own ledger for the statement's scope) and compares it with `statement_csv` field by
// field: header, excluded ranges, days, each line's description, inputs and amount, the
// total, and the statement's digest over its own body. A CSV that is not a statement at all is
// InvalidArgument; everything else, including a digest that does not match, is reported.
Result<VerificationReport> VerifyStatement(std::string_view statement_csv,
                                           const PartnershipContract& contract,
                                           const PeriodInputs& own_inputs);

}  // namespace tieup::fees
