#include "fees/statement.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "base/encoding.h"
#include "base/money_format.h"
#include "crypto/hash.h"
#include "fees/money.h"

namespace tieup::fees {
namespace {

constexpr std::string_view kFormat = "tieup-fee-statement/1";
constexpr std::string_view kFormatBilled = "tieup-fee-statement/2";
constexpr std::string_view kColumns = "section,item,value,inputs,amount_minor";

// ---------------------------------------------------------------------------------------------
// Computing.

std::string U(uint64_t v) { return std::to_string(v); }
std::string I(int64_t v) { return std::to_string(v); }
std::string I128(Int128 v) {
  if (v >= INT64_MIN && v <= INT64_MAX) return I(static_cast<int64_t>(v));
  bool negative = v < 0;
  Uint128 u = negative ? static_cast<Uint128>(-(v + 1)) + 1 : static_cast<Uint128>(v);
  std::string digits;
  while (u > 0) {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  return (negative ? "-" : "") + digits;
}

// num/den as a percentage with two decimals, rounded down (display only: amounts are computed
// from the exact fraction).
std::string PercentText(Uint128 num, Uint128 den) {
  if (den == 0) return "0.00";
  Uint128 hundredths = num * 10000 / den;
  uint64_t whole = static_cast<uint64_t>(hundredths / 100);
  uint64_t frac = static_cast<uint64_t>(hundredths % 100);
  return U(whole) + "." + (frac < 10 ? "0" : "") + U(frac);
}

uint64_t Measured(const PeriodInputs& in, ContentMeasure m) {
  switch (m) {
    case ContentMeasure::kTieupBytes:
      return in.tieup_content.bytes;
    case ContentMeasure::kTieupPages:
      return in.tieup_content.pages;
    case ContentMeasure::kOriginalBytes:
      return in.original_content.bytes;
    case ContentMeasure::kOriginalPages:
      return in.original_content.pages;
  }
  return 0;
}

const ContentAmount& ContentOf(const PeriodInputs& in, ContentMeasure m) {
  return m == ContentMeasure::kTieupBytes || m == ContentMeasure::kTieupPages ? in.tieup_content
                                                                              : in.original_content;
}

std::string ContentDescription(ContentMeasure m) {
  switch (m) {
    case ContentMeasure::kTieupBytes:
      return "Content amount: tie-up bytes";
    case ContentMeasure::kTieupPages:
      return "Content amount: tie-up pages";
    case ContentMeasure::kOriginalBytes:
      return "Content amount: original bytes";
    case ContentMeasure::kOriginalPages:
      return "Content amount: original pages";
  }
  return "";
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// CSV writing.

void AppendField(std::string& out, std::string_view f) {
  if (f.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += f;
    return;
  }
  out.push_back('"');
  for (char c : f) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void AppendRow(std::string& out, std::string_view section, std::string_view item,
               std::string_view value, std::string_view inputs, std::string_view amount) {
  AppendField(out, section);
  out.push_back(',');
  AppendField(out, item);
  out.push_back(',');
  AppendField(out, value);
  out.push_back(',');
  AppendField(out, inputs);
  out.push_back(',');
  AppendField(out, amount);
  out.push_back('\n');
}

std::string JoinInputs(const std::vector<LineInput>& inputs) {
  std::string out;
  for (const LineInput& in : inputs) {
    if (!out.empty()) out.push_back(';');
    out += in.name;
    out.push_back('=');
    out += in.value;
  }
  return out;
}

std::string DayInputs(const DailyAccesses& d) {
  return "tieup=" + U(d.tieup) + ";original=" + U(d.original);
}

// The body of the CSV: everything before the digest row.
std::string CsvBody(const Statement& s) {
  std::string out;
  out.reserve(4096 + s.daily.size() * 48);
  out += kColumns;
  out.push_back('\n');
  const Provenance& p = s.provenance;
  auto header = [&](std::string_view key, std::string_view value) {
    AppendRow(out, "header", key, value, "", "");
  };
  header("format", s.billing.stated ? kFormatBilled : kFormat);
  header("partner", s.partner);
  header("period", s.period.label);
  header("period_from", FormatDay(s.period.from_micros));
  header("period_to", FormatDay(s.period.to_micros));
  header("currency", s.currency);
  header("rounding", RoundingRuleName(s.rounding));
  header("contract_sha256", s.contract_sha256);
  header("checkpoint_origin", p.checkpoint_origin);
  header("checkpoint_size", U(p.checkpoint_size));
  header("checkpoint_root", p.checkpoint_root_hex);
  header("ledger_first_index", p.any_in_period ? U(p.first_index) : "");
  header("ledger_last_index", p.any_in_period ? U(p.last_index) : "");
  header("excluded_entries", U(p.excluded_entries));
  header("unreadable_entries", U(p.unreadable_entries));
  header("first_unreadable_index", p.unreadable_entries > 0 ? U(p.first_unreadable_index) : "");
  if (s.billing.stated) {
    header("billed_from", FormatDay(s.billing.from_micros));
    header("billed_to", FormatDay(s.billing.to_micros));
    header("enabled_options", EncodeEnabledOptions(s.billing));
  }
  for (const ExcludedRange& r : p.excluded) {
    AppendRow(out, "excluded", U(r.begin) + ".." + U(r.end), r.reason, "", "");
  }
  for (size_t i = 0; i < s.daily.size(); ++i) {
    AppendRow(out, "day", FormatDay(s.period.from_micros + static_cast<int64_t>(i) * kMicrosPerDay),
              "", DayInputs(s.daily[i]), "");
  }
  for (const LineItem& l : s.lines) {
    AppendRow(out, "line", l.code, l.description, JoinInputs(l.inputs), I(l.amount_minor));
  }
  AppendRow(out, "total", "total", "", "", I(s.total_minor));
  return out;
}

// ---------------------------------------------------------------------------------------------
// CSV reading.

struct CsvRow {
  std::vector<std::string> fields;
  size_t line = 0;   // 1-based line number where the row starts
  size_t start = 0;  // byte offset of the row
};

Status CsvError(size_t line, std::string_view what) {
  return Status::InvalidArgument("statement CSV line " + std::to_string(line) + ": " +
                                 std::string(what));
}

// Splits RFC 4180 CSV with LF row ends; every row, the last included, ends with LF.
Result<std::vector<CsvRow>> SplitCsv(std::string_view csv) {
  std::vector<CsvRow> rows;
  size_t i = 0, line = 1;
  while (i < csv.size()) {
    CsvRow row;
    row.line = line;
    row.start = i;
    while (true) {
      std::string field;
      if (i < csv.size() && csv[i] == '"') {
        ++i;
        while (true) {
          if (i >= csv.size()) return CsvError(row.line, "a quoted field is not closed");
          if (csv[i] == '"') {
            if (i + 1 < csv.size() && csv[i + 1] == '"') {
              field.push_back('"');
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (csv[i] == '\n') ++line;
          field.push_back(csv[i++]);
        }
        if (i < csv.size() && csv[i] != ',' && csv[i] != '\n') {
          return CsvError(row.line,
                          "a quoted field is followed by something other than a comma "
                          "or the end of the row");
        }
      } else {
        while (i < csv.size() && csv[i] != ',' && csv[i] != '\n') {
          if (csv[i] == '"' || csv[i] == '\r') {
            return CsvError(row.line, "a quote or carriage return in an unquoted field");
          }
          field.push_back(csv[i++]);
        }
      }
      row.fields.push_back(std::move(field));
      if (i >= csv.size()) return CsvError(row.line, "the last row does not end with a newline");
      if (csv[i++] == '\n') {
        ++line;
        break;
      }
    }
    if (row.fields.size() != 5) {
      return CsvError(row.line, "has " + std::to_string(row.fields.size()) +
                                    " fields; every row has 5 (" + std::string(kColumns) + ")");
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

bool ParseUint(std::string_view s, uint64_t& v) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  return true;
}

// A canonical integer within +-kMaxMoneyMinor ("-0" refused).
bool ParseMoney(std::string_view s, int64_t& v) {
  bool negative = !s.empty() && s[0] == '-';
  uint64_t u;
  if (!ParseUint(negative ? s.substr(1) : s, u) || u > static_cast<uint64_t>(kMaxMoneyMinor)) {
    return false;
  }
  if (negative && u == 0) return false;
  v = negative ? -static_cast<int64_t>(u) : static_cast<int64_t>(u);
  return true;
}

bool IsInputName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool IsInputValue(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == ':' || c == '/' || c == '+' || c == '-')) {
      return false;
    }
  }
  return true;
}

Result<std::vector<LineInput>> ParseInputs(std::string_view s, size_t line) {
  std::vector<LineInput> out;
  if (s.empty()) return out;
  size_t pos = 0;
  while (true) {
    size_t semi = s.find(';', pos);
    std::string_view pair = s.substr(pos, semi == std::string_view::npos ? s.npos : semi - pos);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || !IsInputName(pair.substr(0, eq)) ||
        !IsInputValue(pair.substr(eq + 1))) {
      return CsvError(line, "the input \"" + std::string(pair.substr(0, 60)) +
                                "\" is not name=value (names [a-z0-9_], values "
                                "[A-Za-z0-9._:/+-])");
    }
    out.push_back({std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1))});
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return out;
}

bool IsLineCode(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || c == '.' || c == '_')) return false;
  }
  return true;
}

// The result of reading a statement's rows: the statement, and whether its digest matches.
struct ReadStatement {
  Statement statement;
  std::vector<CsvRow> rows;  // all rows, the digest row last
  std::string body_sha256;   // SHA-256 of the bytes before the digest row
  Int128 sum_of_lines = 0;
};

// Reads a statement's rows strictly; with `check_total`, a total that is not the sum of the
// lines is an error (VerifyStatement reports it instead).
Result<ReadStatement> ReadRows(std::string_view csv, bool check_total) {
  ReadStatement out;
  ASSIGN_OR_RETURN(out.rows, SplitCsv(csv));
  const std::vector<CsvRow>& rows = out.rows;
  Statement& s = out.statement;
  size_t r = 0;
  auto at_end = [&]() { return r >= rows.size(); };
  auto last_line = [&]() { return rows.empty() ? size_t{1} : rows.back().line + 1; };
  if (at_end()) return CsvError(1, "the statement is empty");
  {
    const auto& f = rows[0].fields;
    std::string joined = f[0] + "," + f[1] + "," + f[2] + "," + f[3] + "," + f[4];
    if (joined != kColumns) {
      return CsvError(1, "the column header must be \"" + std::string(kColumns) + "\"");
    }
    ++r;
  }
  // Header rows, in order.
  auto header = [&](std::string_view key) -> Result<std::string> {
    if (at_end())
      return CsvError(last_line(), "the header row \"" + std::string(key) + "\" is missing");
    const CsvRow& row = rows[r];
    if (row.fields[0] != "header" || row.fields[1] != key || !row.fields[3].empty() ||
        !row.fields[4].empty()) {
      return CsvError(row.line, "expected the header row \"" + std::string(key) + "\"");
    }
    ++r;
    return row.fields[2];
  };
  auto bad = [&](std::string_view what) { return CsvError(rows[r - 1].line, what); };
  ASSIGN_OR_RETURN(std::string format, header("format"));
  if (format != kFormat && format != kFormatBilled) {
    return bad("format \"" + format.substr(0, 40) + "\" is not " + std::string(kFormat) + " or " +
               std::string(kFormatBilled) + ": a newer tieup may read it");
  }
  ASSIGN_OR_RETURN(s.partner, header("partner"));
  if (s.partner.empty()) return bad("the partner is empty");
  ASSIGN_OR_RETURN(std::string label, header("period"));
  ASSIGN_OR_RETURN(std::string from, header("period_from"));
  ASSIGN_OR_RETURN(std::string to, header("period_to"));
  auto period = ParsePeriod(label);
  if (!period.ok()) return bad(period.status().message());
  if (FormatDay(period->from_micros) != from || FormatDay(period->to_micros) != to) {
    return bad("period_from and period_to do not match the period \"" + label.substr(0, 40) + "\"");
  }
  s.period = *period;
  ASSIGN_OR_RETURN(s.currency, header("currency"));
  bool currency_ok = s.currency.size() == 3;
  for (char c : s.currency) currency_ok = currency_ok && c >= 'A' && c <= 'Z';
  if (!currency_ok) return bad("the currency is not an ISO 4217 code");
  ASSIGN_OR_RETURN(std::string rounding, header("rounding"));
  bool rounding_ok = false;
  for (RoundingRule rule : {RoundingRule::kHalfEven, RoundingRule::kHalfUp, RoundingRule::kDown}) {
    if (rounding == RoundingRuleName(rule)) {
      s.rounding = rule;
      rounding_ok = true;
    }
  }
  if (!rounding_ok) return bad("unknown rounding rule \"" + rounding.substr(0, 40) + "\"");
  ASSIGN_OR_RETURN(s.contract_sha256, header("contract_sha256"));
  if (!IsHex64(s.contract_sha256)) return bad("contract_sha256 is not 64 lower-case hex digits");
  Provenance& p = s.provenance;
  ASSIGN_OR_RETURN(p.checkpoint_origin, header("checkpoint_origin"));
  if (p.checkpoint_origin.empty() || p.checkpoint_origin.find('\n') != std::string::npos) {
    return bad("checkpoint_origin must be one non-empty line");
  }
  auto uint_header = [&](std::string_view key, uint64_t& v) -> Status {
    ASSIGN_OR_RETURN(std::string text, header(key));
    if (!ParseUint(text, v)) return bad(std::string(key) + " is not a decimal number");
    return Status::Ok();
  };
  RETURN_IF_ERROR(uint_header("checkpoint_size", p.checkpoint_size));
  ASSIGN_OR_RETURN(p.checkpoint_root_hex, header("checkpoint_root"));
  if (!IsHex64(p.checkpoint_root_hex)) return bad("checkpoint_root is not 64 lower-case hex");
  ASSIGN_OR_RETURN(std::string first, header("ledger_first_index"));
  ASSIGN_OR_RETURN(std::string last, header("ledger_last_index"));
  if (first.empty() != last.empty()) {
    return bad("ledger_first_index and ledger_last_index must both be given or both be empty");
  }
  if (!first.empty()) {
    p.any_in_period = true;
    if (!ParseUint(first, p.first_index) || !ParseUint(last, p.last_index) ||
        p.first_index > p.last_index || p.last_index >= p.checkpoint_size) {
      return bad("the ledger range used is not first <= last < checkpoint_size");
    }
  }
  RETURN_IF_ERROR(uint_header("excluded_entries", p.excluded_entries));
  RETURN_IF_ERROR(uint_header("unreadable_entries", p.unreadable_entries));
  ASSIGN_OR_RETURN(std::string first_unreadable, header("first_unreadable_index"));
  if ((p.unreadable_entries == 0) != first_unreadable.empty() ||
      (!first_unreadable.empty() && !ParseUint(first_unreadable, p.first_unreadable_index))) {
    return bad("first_unreadable_index must be a number exactly when unreadable_entries > 0");
  }
  if (format == kFormatBilled) {
    Billing& b = s.billing;
    b.stated = true;
    ASSIGN_OR_RETURN(std::string billed_from, header("billed_from"));
    ASSIGN_OR_RETURN(std::string billed_to, header("billed_to"));
    auto days = ParsePeriod(billed_from + ".." + billed_to);
    if (!days.ok() || days->from_micros < s.period.from_micros ||
        days->to_micros > s.period.to_micros) {
      return bad("billed_from..billed_to must be days within the period, the end after the start");
    }
    b.from_micros = days->from_micros;
    b.to_micros = days->to_micros;
    ASSIGN_OR_RETURN(std::string options, header("enabled_options"));
    if (Status parsed = ParseEnabledOptions(options, b); !parsed.ok()) {
      return bad(parsed.message());
    }
  }
  // Excluded ranges.
  while (!at_end() && rows[r].fields[0] == "excluded") {
    const CsvRow& row = rows[r++];
    const std::string& item = row.fields[1];
    size_t dots = item.find("..");
    ExcludedRange range;
    if (dots == std::string::npos || !ParseUint(item.substr(0, dots), range.begin) ||
        !ParseUint(item.substr(dots + 2), range.end) || range.begin >= range.end ||
        !row.fields[3].empty() || !row.fields[4].empty() ||
        (!p.excluded.empty() && range.begin < p.excluded.back().end)) {
      return CsvError(row.line,
                      "an excluded range must be \"begin..end\" with begin < end, in "
                      "order and not overlapping");
    }
    range.reason = row.fields[2];
    p.excluded.push_back(std::move(range));
  }
  // Days.
  for (int64_t d = 0; d < s.period.days(); ++d) {
    std::string day = FormatDay(s.period.from_micros + d * kMicrosPerDay);
    if (at_end() || rows[r].fields[0] != "day" || rows[r].fields[1] != day) {
      return CsvError(at_end() ? last_line() : rows[r].line,
                      "expected the day row for " + day + " (one row per day of the period)");
    }
    const CsvRow& row = rows[r++];
    const std::string& in = row.fields[3];
    DailyAccesses counts;
    size_t semi = in.find(";original=");
    if (!row.fields[2].empty() || !row.fields[4].empty() || in.rfind("tieup=", 0) != 0 ||
        semi == std::string::npos || !ParseUint(in.substr(6, semi - 6), counts.tieup) ||
        !ParseUint(in.substr(semi + 10), counts.original)) {
      return CsvError(row.line, "a day row's inputs must be tieup=<n>;original=<n>");
    }
    s.daily.push_back(counts);
  }
  // Lines.
  Int128 sum = 0;
  while (!at_end() && rows[r].fields[0] == "line") {
    const CsvRow& row = rows[r++];
    LineItem line;
    line.code = row.fields[1];
    if (!IsLineCode(line.code)) return CsvError(row.line, "a line code must be [a-z._]+");
    line.description = row.fields[2];
    ASSIGN_OR_RETURN(line.inputs, ParseInputs(row.fields[3], row.line));
    if (!ParseMoney(row.fields[4], line.amount_minor)) {
      return CsvError(row.line, "the amount must be an integer of minor units within +-" +
                                    std::to_string(kMaxMoneyMinor));
    }
    sum += line.amount_minor;
    s.lines.push_back(std::move(line));
  }
  if (s.lines.empty()) {
    return CsvError(at_end() ? last_line() : rows[r].line, "the statement has no line items");
  }
  if (at_end() || rows[r].fields[0] != "total" || rows[r].fields[1] != "total" ||
      !rows[r].fields[2].empty() || !rows[r].fields[3].empty()) {
    return CsvError(at_end() ? last_line() : rows[r].line, "expected the total row");
  }
  {
    const CsvRow& row = rows[r++];
    // The total may exceed kMaxMoneyMinor (it sums up to ten lines that each may not).
    uint64_t total_u = 0;
    if (!ParseUint(row.fields[4], total_u) || total_u > static_cast<uint64_t>(INT64_MAX)) {
      return CsvError(row.line, "the total must be a non-negative integer of minor units");
    }
    int64_t total = static_cast<int64_t>(total_u);
    out.sum_of_lines = sum;
    if (check_total && sum != total) {
      return CsvError(row.line, "the total " + row.fields[4] + " is not the sum of the line items");
    }
    s.total_minor = total;
  }
  if (at_end() || rows[r].fields[0] != "digest" || rows[r].fields[1] != "statement_sha256" ||
      !rows[r].fields[3].empty() || !rows[r].fields[4].empty() || !IsHex64(rows[r].fields[2])) {
    return CsvError(at_end() ? last_line() : rows[r].line,
                    "expected the digest row digest,statement_sha256,<64 hex digits>,,");
  }
  s.statement_sha256 = rows[r].fields[2];
  out.body_sha256 = Sha256Hex(csv.substr(0, rows[r].start));
  ++r;
  if (!at_end()) return CsvError(rows[r].line, "nothing may follow the digest row");
  return out;
}

// Keyed rows for comparison: "<section> <item>" -> fields, in file order.
std::vector<std::pair<std::string, const CsvRow*>> KeyedRows(const std::vector<CsvRow>& rows) {
  std::vector<std::pair<std::string, const CsvRow*>> out;
  for (size_t i = 1; i + 1 < rows.size(); ++i) {  // skip the column header and the digest
    out.emplace_back(rows[i].fields[0] + " " + rows[i].fields[1], &rows[i]);
  }
  return out;
}

}  // namespace

Result<Statement> ComputeStatement(const PartnershipContract& c, const PeriodInputs& in) {
  if (in.partner != c.partner) {
    return Status::InvalidArgument("the inputs are for partner \"" + in.partner.substr(0, 63) +
                                   "\" but the contract is with \"" + c.partner + "\"");
  }
  if (in.currency != c.currency) {
    return Status::InvalidArgument("the inputs were aggregated in " + in.currency.substr(0, 3) +
                                   " but the contract's currency is " + c.currency);
  }
  if (in.daily.size() != static_cast<size_t>(in.period.days())) {
    return Status::InvalidArgument("the inputs have " + std::to_string(in.daily.size()) +
                                   " days for a period of " + std::to_string(in.period.days()));
  }
  Statement s;
  s.partner = c.partner;
  s.period = in.period;
  s.currency = c.currency;
  s.rounding = c.rounding;
  s.contract_sha256 = c.sha256_hex;
  s.provenance = in.provenance;
  s.billing = in.billing;
  s.daily = in.daily;
  const RoundingRule rule = c.rounding;
  const std::string checkpoint =
      U(in.provenance.checkpoint_size) + ":" + in.provenance.checkpoint_root_hex;
  const Billing& billing = in.billing;
  if (billing.stated && (billing.from_micros < in.period.from_micros ||
                         billing.to_micros > in.period.to_micros || billing.days() <= 0)) {
    return Status::InvalidArgument("the billed days are not within the period " +
                                   in.period.label.substr(0, 40));
  }
  // Recurring amounts of a period billed for fewer days than it has are prorated (billing.h).
  const bool prorated = billing.stated && billing.days() < in.period.days();
  const std::string proration_words =
      prorated ? " (prorated: " + I(billing.days()) + " of " + I(in.period.days()) + " days, " +
                     FormatDay(billing.from_micros) + " to " +
                     FormatDay(billing.to_micros - kMicrosPerDay) + ")"
               : "";
  auto prorate = [&](int64_t amount, std::vector<LineInput>& inputs) -> Result<int64_t> {
    if (!prorated) return amount;
    inputs.push_back({"billed_days", I(billing.days())});
    inputs.push_back({"period_days", I(in.period.days())});
    return DivideRounded(static_cast<Uint128>(amount) * static_cast<uint64_t>(billing.days()),
                         static_cast<uint64_t>(in.period.days()), rule);
  };
  auto option_enabled = [&](std::string_view name) {
    return !billing.stated ||
           std::find(billing.options.begin(), billing.options.end(), name) != billing.options.end();
  };

  LineItem base{
      "base",
      "Base fee (" + std::string(PartnershipKindName(c.kind)) + " partnership)" + proration_words,
      {{"kind", std::string(PartnershipKindName(c.kind))}, {"base_fee", I(c.base_fee_minor)}},
      0};
  ASSIGN_OR_RETURN(base.amount_minor, prorate(c.base_fee_minor, base.inputs));
  int64_t discountable = base.amount_minor;
  s.lines.push_back(std::move(base));
  for (auto [service, code, words] :
       {std::tuple{&c.security, "service.security", "Security management service"},
        std::tuple{&c.user_management, "service.user_management", "User management service"},
        std::tuple{&c.marketing, "service.marketing", "Direct marketing service"}}) {
    // Priced in the contract, charged only when the partnership enables it.
    if (!service->enabled || !option_enabled(std::string_view(code).substr(8))) continue;
    const std::string option(std::string_view(code).substr(8));
    const int64_t on_days = billing.stated ? billing.OptionDays(option) : 0;
    if (billing.stated && on_days < billing.days()) {
      // On for some of the billed days only: prorated by those.
      LineItem line{code,
                    std::string(words) + " (prorated: on " + I(on_days) + " of " +
                        I(in.period.days()) + " days)",
                    {{"price", I(service->price_minor)},
                     {"option_days", I(on_days)},
                     {"period_days", I(in.period.days())}},
                    0};
      ASSIGN_OR_RETURN(
          line.amount_minor,
          DivideRounded(static_cast<Uint128>(service->price_minor) * static_cast<uint64_t>(on_days),
                        static_cast<uint64_t>(in.period.days()), rule));
      s.lines.push_back(std::move(line));
      continue;
    }
    LineItem line{code, words + proration_words, {{"price", I(service->price_minor)}}, 0};
    ASSIGN_OR_RETURN(line.amount_minor, prorate(service->price_minor, line.inputs));
    s.lines.push_back(std::move(line));
  }
  for (ContentMeasure m : kAllContentMeasures) {
    const ContentTier* reached = nullptr;
    bool any = false;
    uint64_t amount = Measured(in, m);
    for (const ContentTier& t : c.content_tiers) {
      if (t.measure != m) continue;
      any = true;
      if (amount >= t.from) reached = &t;  // tiers are sorted by `from`
    }
    if (!any) continue;
    const ContentAmount& content = ContentOf(in, m);
    LineItem line{"content." + std::string(ContentMeasureName(m)),
                  ContentDescription(m) + proration_words,
                  {{"amount", U(amount)},
                   {"release_version", content.known ? U(content.version) : "none"},
                   {"record_index", content.known ? U(content.index) : "none"},
                   {"tier_from", reached ? U(reached->from) : "none"},
                   {"checkpoint", checkpoint}},
                  0};
    ASSIGN_OR_RETURN(int64_t fee, prorate(reached ? reached->fee_minor : 0, line.inputs));
    line.amount_minor = fee;
    s.lines.push_back(std::move(line));
    discountable += fee;  // at most 5 * kMaxMoneyMinor: no overflow
  }

  // Discounts on base + content; they never take more than that together.
  const Uint128 successful = static_cast<Uint128>(in.tieup_accesses) + in.original_accesses;
  int64_t access_discount = 0;
  if (c.access_discount.enabled) {
    const AccessDiscount& a = c.access_discount;
    Uint128 num = 0, den = 1, pct_num = 0, pct_den = 1;
    if (successful > 0) {
      if (static_cast<Uint128>(in.original_accesses) * 100 >=
          static_cast<Uint128>(a.at_original_share_percent) * successful) {
        num = static_cast<Uint128>(discountable) * static_cast<uint64_t>(a.max_percent);
        den = 100;
        pct_num = static_cast<uint64_t>(a.max_percent);
        pct_den = 100;
      } else {
        num = static_cast<Uint128>(discountable) * static_cast<uint64_t>(a.max_percent) *
              in.original_accesses;
        den = static_cast<Uint128>(a.at_original_share_percent) * successful;
        pct_num = static_cast<Uint128>(a.max_percent) * in.original_accesses;
        pct_den = den;
      }
    }
    ASSIGN_OR_RETURN(access_discount, DivideRounded(num, den, rule));
    s.lines.push_back(
        {"discount.access",
         "Access ratio discount (share of successful accesses to original pages)",
         {{"original_accesses", U(in.original_accesses)},
          {"successful_accesses", U(static_cast<uint64_t>(successful))},
          {"original_share_percent", PercentText(static_cast<Uint128>(in.original_accesses) * 100,
                                                 successful == 0 ? 1 : successful * 100)},
          {"max_percent", I(a.max_percent)},
          {"at_original_share_percent", I(a.at_original_share_percent)},
          {"discount_percent", PercentText(pct_num, pct_den)},
          {"discountable", I(discountable)},
          {"checkpoint", checkpoint}},
         -access_discount});
  }
  if (!c.volume_tiers.empty()) {
    const VolumeTier* reached = nullptr;
    for (const VolumeTier& t : c.volume_tiers) {
      if (successful >= t.threshold_accesses) reached = &t;  // sorted by threshold
    }
    int64_t pct = reached ? reached->discount_percent : 0;
    ASSIGN_OR_RETURN(
        int64_t discount,
        DivideRounded(static_cast<Uint128>(discountable) * static_cast<uint64_t>(pct), 100, rule));
    discount = std::min(discount, discountable - access_discount);
    s.lines.push_back({"discount.volume",
                       "Volume discount (successful accesses in the period)",
                       {{"successful_accesses", U(static_cast<uint64_t>(successful))},
                        {"threshold_accesses", reached ? U(reached->threshold_accesses) : "none"},
                        {"discount_percent", I(pct)},
                        {"discountable", I(discountable)},
                        {"checkpoint", checkpoint}},
                       -discount});
  }
  if (c.advertising.enabled) {
    Uint128 shown = static_cast<Uint128>(in.main_ad_impressions) + in.partner_ad_impressions;
    LineItem line{
        "advertising",
        "Advertising contribution (share of ads shown that were main's)" + proration_words,
        {{"main_impressions", U(in.main_ad_impressions)},
         {"partner_impressions", U(in.partner_ad_impressions)},
         {"main_share_percent", PercentText(static_cast<Uint128>(in.main_ad_impressions) * 100,
                                            shown == 0 ? 1 : shown * 100)},
         {"pool", I(c.advertising.pool_minor)},
         {"checkpoint", checkpoint}},
        0};
    // pool * main / shown, prorated by billed / period days: one division, rounded once
    // (billing.h). pool < 2^50, impressions < 2^64 and days <= 31 keep the product in 128 bits.
    Uint128 numerator = static_cast<Uint128>(c.advertising.pool_minor) * in.main_ad_impressions;
    Uint128 denominator = shown;
    if (prorated) {
      line.inputs.push_back({"billed_days", I(billing.days())});
      line.inputs.push_back({"period_days", I(in.period.days())});
      numerator *= static_cast<uint64_t>(billing.days());
      denominator *= static_cast<uint64_t>(in.period.days());
    }
    if (shown > 0) {
      ASSIGN_OR_RETURN(line.amount_minor, DivideRounded(numerator, denominator, rule));
    }
    s.lines.push_back(std::move(line));
  }
  if (c.transactions.enabled) {
    const OrderTotals& t = in.tieup_orders;
    uint64_t net = t.net_amount_minor > 0 ? static_cast<uint64_t>(t.net_amount_minor) : 0;
    ASSIGN_OR_RETURN(
        int64_t percent_fee,
        DivideRounded(static_cast<Uint128>(net) * static_cast<uint64_t>(c.transactions.percent_bp),
                      10000, rule));
    LineItem percent{"transactions.percent",
                     "Handling fee: percentage of net sales through tie-up pages",
                     {{"tieup_orders", U(t.orders)},
                      {"tieup_refunds", U(t.refunds)},
                      {"tieup_net_amount", I(t.net_amount_minor)},
                      {"percent_bp", I(c.transactions.percent_bp)},
                      {"original_orders_not_charged", U(in.original_orders.orders)},
                      {"original_net_amount_not_charged", I(in.original_orders.net_amount_minor)},
                      {"other_currency_orders_not_charged", U(in.other_currency_orders)},
                      {"checkpoint", checkpoint}},
                     percent_fee};
    if (t.cancellations > 0) {  // only then, so that statements without any read as before
      percent.description += " (cancelled and refunded orders subtracted)";
      percent.inputs.insert(percent.inputs.begin() + 2,
                            {{"tieup_cancellations", U(t.cancellations)},
                             {"tieup_cancelled_amount", I(t.cancelled_amount_minor)}});
    }
    s.lines.push_back(std::move(percent));
    // A cancelled order pays no fixed fee: the cancellations of the period are taken off the
    // orders counted (never below zero).
    const uint64_t charged = t.orders > t.cancellations ? t.orders - t.cancellations : 0;
    Uint128 fixed =
        static_cast<Uint128>(charged) * static_cast<uint64_t>(c.transactions.fixed_minor);
    ASSIGN_OR_RETURN(int64_t fixed_fee, DivideRounded(fixed, 1, rule));
    LineItem fixed_line{"transactions.fixed",
                        "Handling fee: fixed amount per order through tie-up pages",
                        {{"tieup_orders", U(t.orders)},
                         {"fixed", I(c.transactions.fixed_minor)},
                         {"checkpoint", checkpoint}},
                        fixed_fee};
    if (t.cancellations > 0) {
      fixed_line.inputs.insert(fixed_line.inputs.begin() + 1,
                               {"tieup_cancellations", U(t.cancellations)});
    }
    s.lines.push_back(std::move(fixed_line));
  }
  int64_t total = 0;
  for (const LineItem& l : s.lines) total += l.amount_minor;  // <= 10 lines of <= 10^15 each
  s.total_minor = total;
  s.statement_sha256 = Sha256Hex(CsvBody(s));
  return s;
}

std::string Statement::ToCsv() const {
  std::string body = CsvBody(*this);
  std::string digest = Sha256Hex(body);
  AppendRow(body, "digest", "statement_sha256", digest, "", "");
  return body;
}

Result<Statement> ParseStatementCsv(std::string_view csv) {
  ASSIGN_OR_RETURN(ReadStatement read, ReadRows(csv, true));
  if (read.body_sha256 != read.statement.statement_sha256) {
    return Status::DataLoss("the statement's statement_sha256 " + read.statement.statement_sha256 +
                            " does not match its body (SHA-256 " + read.body_sha256 +
                            "): the statement was altered after it was made");
  }
  return std::move(read.statement);
}

Result<StatementScope> ReadStatementScope(std::string_view csv) {
  ASSIGN_OR_RETURN(ReadStatement read, ReadRows(csv, false));
  const Statement& s = read.statement;
  StatementScope scope;
  scope.partner = s.partner;
  scope.period = s.period;
  scope.currency = s.currency;
  scope.checkpoint_origin = s.provenance.checkpoint_origin;
  scope.checkpoint_size = s.provenance.checkpoint_size;
  scope.checkpoint_root_hex = s.provenance.checkpoint_root_hex;
  scope.excluded = s.provenance.excluded;
  scope.billing = s.billing;
  return scope;
}

std::string VerificationReport::ToText() const {
  std::string out;
  if (agrees) {
    out = "agrees: " + subject + "\n";
    return out;
  }
  out = "does not agree: " + subject + "\n" + std::to_string(differences.size()) +
        (differences.size() == 1 ? " difference:\n" : " differences:\n");
  for (const Difference& d : differences) {
    out += "  " + d.what + ": statement says \"" + d.in_statement + "\", recomputed \"" +
           d.recomputed + "\"\n";
  }
  return out;
}

Result<VerificationReport> VerifyStatement(std::string_view statement_csv,
                                           const PartnershipContract& contract,
                                           const PeriodInputs& own_inputs) {
  ASSIGN_OR_RETURN(ReadStatement stated, ReadRows(statement_csv, false));
  ASSIGN_OR_RETURN(Statement recomputed, ComputeStatement(contract, own_inputs));
  std::string expected_csv = recomputed.ToCsv();
  ASSIGN_OR_RETURN(std::vector<CsvRow> expected_rows, SplitCsv(expected_csv));

  VerificationReport report;
  const Statement& s = stated.statement;
  report.subject = "statement for partner " + s.partner + ", period " + s.period.label +
                   ", total " + FormatMoney(s.total_minor, s.currency) + ", checkpoint " +
                   U(s.provenance.checkpoint_size) + " root " + s.provenance.checkpoint_root_hex;
  auto differ = [&](std::string what, std::string a, std::string b) {
    report.differences.push_back({std::move(what), std::move(a), std::move(b)});
  };
  auto mine = KeyedRows(stated.rows);
  auto theirs = KeyedRows(expected_rows);
  std::map<std::string, const CsvRow*> stated_by_key(mine.begin(), mine.end());
  std::map<std::string, const CsvRow*> expected_by_key(theirs.begin(), theirs.end());
  for (const auto& [key, row] : theirs) {
    auto it = stated_by_key.find(key);
    if (it == stated_by_key.end()) {
      differ(key, "(missing)",
             row->fields[2] + (row->fields[3].empty() ? "" : " " + row->fields[3]) +
                 (row->fields[4].empty() ? "" : " amount " + row->fields[4]));
      continue;
    }
    const CsvRow& a = *it->second;
    if (a.fields[2] != row->fields[2]) differ(key + " value", a.fields[2], row->fields[2]);
    if (a.fields[3] != row->fields[3]) {
      // Compare inputs one by one, so the report names the input that differs.
      auto stated_inputs = ParseInputs(a.fields[3], a.line);
      auto expected_inputs = ParseInputs(row->fields[3], row->line);
      size_t before = report.differences.size();
      if (!stated_inputs.ok() || !expected_inputs.ok()) {
        differ(key + " inputs", a.fields[3], row->fields[3]);
      } else {
        std::map<std::string, std::string> given;
        for (const LineInput& in : *stated_inputs) given[in.name] = in.value;
        for (const LineInput& in : *expected_inputs) {
          auto g = given.find(in.name);
          if (g == given.end()) {
            differ(key + " input " + in.name, "(missing)", in.value);
          } else {
            if (g->second != in.value) differ(key + " input " + in.name, g->second, in.value);
            given.erase(g);
          }
        }
        for (const auto& [name, value] : given) {
          differ(key + " input " + name, value, "(not an input of this line)");
        }
        if (report.differences.size() == before) {
          differ(key + " inputs", a.fields[3], row->fields[3]);  // same inputs, other order
        }
      }
    }
    if (a.fields[4] != row->fields[4]) differ(key + " amount_minor", a.fields[4], row->fields[4]);
  }
  for (const auto& [key, row] : mine) {
    if (expected_by_key.find(key) == expected_by_key.end()) {
      differ(key, row->fields[2] + (row->fields[4].empty() ? "" : " amount " + row->fields[4]),
             "(not in the recomputation)");
    }
  }
  if (report.differences.empty() && mine.size() == theirs.size()) {
    // Same rows by key; make sure they are also in the same order.
    for (size_t i = 0; i < mine.size(); ++i) {
      if (mine[i].first != theirs[i].first) {
        differ("row order at line " + std::to_string(mine[i].second->line), mine[i].first,
               theirs[i].first);
        break;
      }
    }
  }
  if (stated.sum_of_lines != s.total_minor) {
    differ("total is the sum of the lines", I(s.total_minor),
           "the statement's lines add up to " + I128(stated.sum_of_lines));
  }
  if (stated.body_sha256 != s.statement_sha256) {
    differ("digest statement_sha256", s.statement_sha256,
           stated.body_sha256 +
               " (SHA-256 of the statement's body: it was altered after it "
               "was made)");
  }
  report.agrees = report.differences.empty();
  return report;
}

}  // namespace tieup::fees
