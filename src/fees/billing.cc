#include "fees/billing.h"

#include <algorithm>

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
  for (const std::string& o : terms.options) {
    if (!IsFeeOption(o)) {
      return Status::InvalidArgument("partner '" + terms.partner + "' has an unknown option '" +
                                     o.substr(0, 40) + "'");
    }
    b.options.push_back(o);
  }
  std::sort(b.options.begin(), b.options.end());
  b.options.erase(std::unique(b.options.begin(), b.options.end()), b.options.end());
  return b;
}

}  // namespace tieup::fees
