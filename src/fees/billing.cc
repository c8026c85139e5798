#include "fees/billing.h"

#include <algorithm>
#include <climits>
#include <set>

#include "fees/inputs.h"

namespace tieup::fees {
namespace {

int64_t DayStart(int64_t micros) { return micros - micros % kMicrosPerDay; }

}  // namespace

bool IsFeeOption(std::string_view name) {
  return std::find(std::begin(kFeeOptionNames), std::end(kFeeOptionNames), name) !=
         std::end(kFeeOptionNames);
}

int64_t Billing::days() const { return (to_micros - from_micros) / kMicrosPerDay; }

int64_t Billing::OptionDays(const std::string& option) const {
  if (std::find(options.begin(), options.end(), option) == options.end()) return 0;
  auto it = option_days.find(option);
  return it == option_days.end() ? days() : it->second;
}

std::string EncodeEnabledOptions(const Billing& billing) {
  std::string out;
  for (const std::string& o : billing.options) {
    out += (out.empty() ? "" : ";") + o;
    auto it = billing.option_days.find(o);
    if (it != billing.option_days.end()) out += ":" + std::to_string(it->second);
  }
  return out;
}

Status ParseEnabledOptions(std::string_view text, Billing& billing) {
  const Status bad = Status::InvalidArgument(
      "enabled_options must be optional service names separated by ';', sorted, each once, each "
      "with ':DAYS' when it was on for fewer than the billed days");
  billing.options.clear();
  billing.option_days.clear();
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find(';', i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(i, end - i);
    i = end + 1;
    std::string_view name = item.substr(0, item.find(':'));
    if (!IsFeeOption(name)) return bad;
    if (!billing.options.empty() && billing.options.back() >= name) return bad;
    billing.options.emplace_back(name);
    if (name.size() == item.size()) continue;
    std::string_view digits = item.substr(name.size() + 1);
    if (digits.empty() || digits.size() > 6 || digits.front() == '0') return bad;
    int64_t n = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return bad;
      n = n * 10 + (c - '0');
    }
    if (n >= billing.days()) return bad;
    billing.option_days[std::string(name)] = n;
  }
  if (!text.empty() && text.back() == ';') return bad;
  return Status::Ok();
}

Result<std::vector<std::string>> ParseFeeOptions(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find_first_of(", ", i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view name = text.substr(i, end - i);
    i = end + 1;
    if (name.empty()) continue;
    if (!IsFeeOption(name)) {
      std::string known;
      for (std::string_view k : kFeeOptionNames)
        known += (known.empty() ? "" : ", ") + std::string(k);
      return Status::InvalidArgument("'" + std::string(name.substr(0, 40)) +
                                     "' is not an optional service; the options are " + known);
    }
    out.emplace_back(name);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<Billing> BillingFor(const Period& period, const PartnershipContract& contract,
                           const PartnershipTerms& terms, int64_t now_micros) {
  const std::string contract_kind(PartnershipKindName(contract.kind));
  if (contract_kind != terms.kind) {
    return Status::InvalidArgument("the contract is for a '" + contract_kind +
                                   "' partnership but partner '" + terms.partner + "' is a '" +
                                   terms.kind +
                                   "' partnership: change the contract's kind, or the "
                                   "partnership's ('tieup main partner set DIR " +
                                   terms.partner + " --kind " + contract_kind + "')");
  }
  const std::string what = "period " + period.label;
  const int64_t added_day = DayStart(std::max<int64_t>(0, terms.added_micros));
  if (period.from_micros > now_micros) {
    return Status::FailedPrecondition(what + " has not begun (it starts on " +
                                      FormatDay(period.from_micros) +
                                      " UTC): a statement is written for a period that has begun");
  }
  if (period.to_micros <= added_day) {
    return Status::FailedPrecondition(what + " ends before the partnership with '" + terms.partner +
                                      "' began (added on " + FormatDay(added_day) +
                                      " UTC): there is nothing to bill");
  }
  int64_t end = period.to_micros;
  if (terms.revoked_micros > 0) {
    const int64_t revoked_end = DayStart(terms.revoked_micros) + kMicrosPerDay;
    if (period.from_micros >= revoked_end) {
      return Status::FailedPrecondition(
          what + " starts after the partnership with '" + terms.partner + "' ended (revoked on " +
          FormatDay(terms.revoked_micros) + " UTC): there is nothing to bill");
    }
    end = std::min(end, revoked_end);
  }
  end = std::min(end, DayStart(now_micros) + kMicrosPerDay);  // a running period: to date
  Billing b;
  b.stated = true;
  b.from_micros = std::max(period.from_micros, added_day);
  b.to_micros = end;
  // Each option's spans of being on: from its changes, else its present state since the start.
  std::set<std::string> names(terms.options.begin(), terms.options.end());
  for (const OptionChange& c : terms.option_changes) names.insert(c.option);
  for (const std::string& o : names) {
    if (!IsFeeOption(o)) {
      return Status::InvalidArgument("partner '" + terms.partner + "' has an unknown option '" +
                                     o.substr(0, 40) + "'");
    }
    std::vector<std::pair<int64_t, int64_t>> on;  // [from, to) in micros
    bool state = std::find(terms.options.begin(), terms.options.end(), o) != terms.options.end();
    int64_t since = 0;
    bool first = true;
    for (const OptionChange& c : terms.option_changes) {
      if (c.option != o) continue;
      if (first) {
        state = !c.enabled;  // before its first change, the opposite
        first = false;
      }
      if (state && !c.enabled) on.emplace_back(since, c.at_micros);
      if (!state && c.enabled) since = c.at_micros;
      state = c.enabled;
    }
    if (state) on.emplace_back(since, INT64_MAX);
    int64_t days = 0;
    for (int64_t day = b.from_micros; day < b.to_micros; day += kMicrosPerDay) {
      for (const auto& [from, to] : on) {
        // On at some time of the day [day, day + 1 day).
        if (from < day + kMicrosPerDay && to > day) {
          ++days;
          break;
        }
      }
    }
    if (days == 0) continue;
    b.options.push_back(o);
    if (days < b.days()) b.option_days[o] = days;
  }
  return b;
}

}  // namespace tieup::fees
