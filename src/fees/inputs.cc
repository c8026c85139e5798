#include "fees/inputs.h"

#include <algorithm>
#include <set>

#include "base/encoding.h"
#include "fees/entry_reader.h"
#include "fees/money.h"

namespace tieup::fees {
namespace {

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` decimal digits.
bool Digits(std::string_view s, size_t n, int64_t& v) {
  if (s.size() != n) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return true;
}

// "YYYY-MM-DD" -> micros at its UTC midnight.
Result<int64_t> ParseDay(std::string_view text, std::string_view whole) {
  int64_t y, m, d;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !Digits(text.substr(0, 4), 4, y) ||
      !Digits(text.substr(5, 2), 2, m) || !Digits(text.substr(8, 2), 2, d) || y < 1970 || m < 1 ||
      m > 12 || d < 1 || d > DaysInMonth(y, static_cast<int>(m))) {
    return Status::InvalidArgument("period \"" + std::string(whole.substr(0, 40)) + "\": \"" +
                                   std::string(text.substr(0, 20)) +
                                   "\" is not a date YYYY-MM-DD from 1970 on");
  }
  return DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)) * kMicrosPerDay;
}

Status CheckPeriod(const Period& p) {
  if (p.from_micros < 0 || p.to_micros <= p.from_micros || p.from_micros % kMicrosPerDay != 0 ||
      p.to_micros % kMicrosPerDay != 0) {
    return Status::InvalidArgument("period \"" + p.label.substr(0, 40) +
                                   "\" must be whole UTC days with its start before its end");
  }
  if (p.days() > kMaxPeriodDays) {
    return Status::InvalidArgument("period \"" + p.label.substr(0, 40) + "\" is " +
                                   std::to_string(p.days()) + " days long; at most " +
                                   std::to_string(kMaxPeriodDays) + " are allowed");
  }
  return Status::Ok();
}

// Sums entries into PeriodInputs, one at a time, in index order.
class Aggregator {
 public:
  explicit Aggregator(const AggregationOptions& options) : options_(options) {}

  Status Start(const ledger::Checkpoint& checkpoint) {
    RETURN_IF_ERROR(CheckPeriod(options_.period));
    bool currency_ok = options_.currency.size() == 3;
    for (char c : options_.currency) currency_ok = currency_ok && c >= 'A' && c <= 'Z';
    if (!currency_ok) {
      return Status::InvalidArgument("aggregation currency \"" + options_.currency.substr(0, 20) +
                                     "\" is not an ISO 4217 code");
    }
    excluded_ = options_.excluded;
    std::sort(excluded_.begin(), excluded_.end(),
              [](const ExcludedRange& a, const ExcludedRange& b) { return a.begin < b.begin; });
    for (size_t i = 0; i < excluded_.size(); ++i) {
      if (excluded_[i].begin >= excluded_[i].end) {
        return Status::InvalidArgument("excluded range [" + std::to_string(excluded_[i].begin) +
                                       ", " + std::to_string(excluded_[i].end) + ") is empty");
      }
      if (i > 0 && excluded_[i].begin < excluded_[i - 1].end) {
        return Status::InvalidArgument(
            "excluded ranges [" + std::to_string(excluded_[i - 1].begin) + ", " +
            std::to_string(excluded_[i - 1].end) + ") and [" + std::to_string(excluded_[i].begin) +
            ", " + std::to_string(excluded_[i].end) + ") overlap: merge them");
      }
    }
    in_.partner = options_.partner;
    in_.currency = options_.currency;
    in_.period = options_.period;
    in_.daily.assign(static_cast<size_t>(options_.period.days()), DailyAccesses{});
    in_.provenance.checkpoint_origin = checkpoint.origin;
    in_.provenance.checkpoint_size = checkpoint.size;
    in_.provenance.checkpoint_root_hex = HexEncode(ledger::HashView(checkpoint.root));
    in_.provenance.excluded = excluded_;
    const Billing& b = options_.billing;
    if (b.stated && (b.from_micros < options_.period.from_micros ||
                     b.to_micros > options_.period.to_micros || b.to_micros <= b.from_micros ||
                     b.from_micros % kMicrosPerDay != 0 || b.to_micros % kMicrosPerDay != 0)) {
      return Status::InvalidArgument("the billed days " + FormatDay(b.from_micros) + ".." +
                                     FormatDay(b.to_micros) + " are not whole days within period " +
                                     options_.period.label.substr(0, 40));
    }
    in_.billing = b;
    return Status::Ok();
  }

  Status Add(uint64_t index, std::string_view entry) {
    while (next_excluded_ < excluded_.size() && excluded_[next_excluded_].end <= index) {
      ++next_excluded_;
    }
    if (next_excluded_ < excluded_.size() && excluded_[next_excluded_].begin <= index) {
      ++in_.provenance.excluded_entries;
      return Status::Ok();
    }
    FeeEntry e;
    if (!ReadFast(entry, e)) {  // the common case is decided without building a Result
      auto read = ReadFeeEntry(entry);
      if (!read.ok()) {
        if (in_.provenance.unreadable_entries++ == 0) {
          in_.provenance.first_unreadable_index = index;
        }
        return Status::Ok();
      }
      e = *read;
    }
    const Period& period = options_.period;
    bool in_period = e.time_micros >= period.from_micros && e.time_micros < period.to_micros;
    if (in_period && e.type != FeeEntry::Type::kContent && e.type != FeeEntry::Type::kUnused) {
      if (!in_.provenance.any_in_period) {
        in_.provenance.any_in_period = true;
        in_.provenance.first_index = index;
      }
      in_.provenance.last_index = index;
    }
    switch (e.type) {
      case FeeEntry::Type::kAccess:
        if (!in_period || e.probe) break;  // main's probes are not visits
        ++in_.total_accesses;
        if (e.status >= 200 && e.status <= 399) {
          DailyAccesses& day =
              in_.daily[static_cast<size_t>((e.time_micros - period.from_micros) / kMicrosPerDay)];
          if (e.area == ledger::RecordArea::kTieup) {
            ++day.tieup;
            ++in_.tieup_accesses;
          } else {
            ++day.original;
            ++in_.original_accesses;
          }
        }
        break;
      case FeeEntry::Type::kOrder: {
        if (!in_period) break;
        if (std::string_view(e.currency.data(), 3) != options_.currency) {
          ++in_.other_currency_orders;
          break;
        }
        bool tieup = e.area == ledger::RecordArea::kTieup;
        OrderTotals& totals = tieup ? in_.tieup_orders : in_.original_orders;
        ++(e.amount_minor >= 0 ? totals.orders : totals.refunds);
        (tieup ? tieup_net_ : original_net_) += e.amount_minor;
        break;
      }
      case FeeEntry::Type::kOrderCancel: {
        if (!in_period) break;
        // One cancellation per order: the partner's recorder may append one twice when it
        // stops between the append and noting it (both copies carry the cancellation's time).
        if (!cancelled_orders_.insert(e.order_id).second) break;
        if (std::string_view(e.currency.data(), 3) != options_.currency) {
          ++in_.other_currency_orders;
          break;
        }
        bool tieup = e.area == ledger::RecordArea::kTieup;
        OrderTotals& totals = tieup ? in_.tieup_orders : in_.original_orders;
        ++totals.cancellations;
        (tieup ? tieup_cancelled_ : original_cancelled_) += e.amount_minor;
        (tieup ? tieup_net_ : original_net_) -= e.amount_minor;
        break;
      }
      case FeeEntry::Type::kContent: {
        if (e.time_micros >= period.to_micros) break;
        bool tieup = e.area == ledger::RecordArea::kTieup;
        ContentAmount& c = tieup ? in_.tieup_content : in_.original_content;
        int64_t& latest = tieup ? tieup_content_time_ : original_content_time_;
        // Later entries win ties: indexes only grow here.
        if (!c.known || e.time_micros >= latest) {
          c = ContentAmount{true, e.version, e.pages, e.bytes, index};
          latest = e.time_micros;
        }
        break;
      }
      case FeeEntry::Type::kAd: {
        if (!in_period) break;
        uint64_t& sum = e.owner == ledger::AdOwner::kMain ? in_.main_ad_impressions
                                                          : in_.partner_ad_impressions;
        if (sum > UINT64_MAX - e.impressions) {
          return Status::OutOfRange("ad impressions in ledger entry " + std::to_string(index) +
                                    " overflow 64 bits: the ledger's ad records are absurd");
        }
        sum += e.impressions;
        break;
      }
      case FeeEntry::Type::kUnused:
        break;
    }
    return Status::Ok();
  }

  Result<PeriodInputs> Finish() {
    for (auto [net, out] : {std::pair{tieup_net_, &in_.tieup_orders.net_amount_minor},
                            std::pair{original_net_, &in_.original_orders.net_amount_minor}}) {
      if (net > INT64_MAX || net < INT64_MIN) {
        return Status::OutOfRange(
            "the net order amount of the period overflows 64 bits: the ledger's order records "
            "are absurd");
      }
      *out = static_cast<int64_t>(net);
    }
    for (auto [sum, out] :
         {std::pair{tieup_cancelled_, &in_.tieup_orders.cancelled_amount_minor},
          std::pair{original_cancelled_, &in_.original_orders.cancelled_amount_minor}}) {
      if (sum > INT64_MAX) {
        return Status::OutOfRange(
            "the cancelled order amount of the period overflows 64 bits: the ledger's "
            "cancellation records are absurd");
      }
      *out = static_cast<int64_t>(sum);
    }
    return std::move(in_);
  }

 private:
  const AggregationOptions& options_;
  std::vector<ExcludedRange> excluded_;
  size_t next_excluded_ = 0;
  PeriodInputs in_;
  Int128 tieup_net_ = 0;
  Int128 original_net_ = 0;
  std::set<std::string> cancelled_orders_;
  Int128 tieup_cancelled_ = 0;
  Int128 original_cancelled_ = 0;
  int64_t tieup_content_time_ = 0;
  int64_t original_content_time_ = 0;
};

}  // namespace

Result<Period> ParsePeriod(std::string_view text) {
  Period p;
  p.label = std::string(text);
  size_t dots = text.find("..");
  if (dots != std::string_view::npos) {
    ASSIGN_OR_RETURN(p.from_micros, ParseDay(text.substr(0, dots), text));
    ASSIGN_OR_RETURN(p.to_micros, ParseDay(text.substr(dots + 2), text));
    if (p.to_micros <= p.from_micros) {
      return Status::InvalidArgument("period \"" + std::string(text.substr(0, 40)) +
                                     "\" ends before it starts (the end date is exclusive)");
    }
  } else {
    int64_t y, m;
    if (text.size() != 7 || text[4] != '-' || !Digits(text.substr(0, 4), 4, y) ||
        !Digits(text.substr(5, 2), 2, m) || y < 1970 || m < 1 || m > 12) {
      return Status::InvalidArgument(
          "period \"" + std::string(text.substr(0, 40)) +
          "\" is neither a month YYYY-MM (\"2026-11\") nor days YYYY-MM-DD..YYYY-MM-DD (the end "
          "exclusive)");
    }
    p.from_micros = DaysFromCivil(y, static_cast<unsigned>(m), 1) * kMicrosPerDay;
    p.to_micros = m == 12 ? DaysFromCivil(y + 1, 1, 1) * kMicrosPerDay
                          : DaysFromCivil(y, static_cast<unsigned>(m + 1), 1) * kMicrosPerDay;
  }
  RETURN_IF_ERROR(CheckPeriod(p));
  return p;
}

std::string FormatDay(int64_t micros) { return FormatRfc3339(micros / 1'000'000).substr(0, 10); }

Result<PeriodInputs> AggregateFromLedger(const ledger::Log& log,
                                         const ledger::Checkpoint& checkpoint,
                                         const AggregationOptions& options) {
  Aggregator agg(options);
  RETURN_IF_ERROR(agg.Start(checkpoint));
  if (log.size() < checkpoint.size) {
    return Status::DataLoss("the ledger in '" + log.dir() + "' holds " +
                            std::to_string(log.size()) + " entries but checkpoint " +
                            std::to_string(checkpoint.size) + " names more: the log was truncated");
  }
  ASSIGN_OR_RETURN(ledger::Hash root, log.Root(checkpoint.size));
  if (root != checkpoint.root) {
    return Status::DataLoss("the first " + std::to_string(checkpoint.size) +
                            " entries of the ledger in '" + log.dir() + "' have root " +
                            HexEncode(ledger::HashView(root)) + " but the checkpoint says " +
                            HexEncode(ledger::HashView(checkpoint.root)) +
                            ": the ledger is not the one the checkpoint commits to");
  }
  constexpr uint64_t kChunk = 16384;
  for (uint64_t begin = 0; begin < checkpoint.size; begin += kChunk) {
    uint64_t end = std::min(checkpoint.size, begin + kChunk);
    ASSIGN_OR_RETURN(std::vector<std::string> entries, log.ReadRange(begin, end));
    for (uint64_t i = begin; i < end; ++i) RETURN_IF_ERROR(agg.Add(i, entries[i - begin]));
  }
  return agg.Finish();
}

Result<PeriodInputs> AggregateEntries(std::span<const std::string> entries,
                                      const ledger::Checkpoint& checkpoint,
                                      const AggregationOptions& options) {
  Aggregator agg(options);
  RETURN_IF_ERROR(agg.Start(checkpoint));
  if (entries.size() != checkpoint.size) {
    return Status::InvalidArgument("aggregation was given " + std::to_string(entries.size()) +
                                   " entries for checkpoint size " +
                                   std::to_string(checkpoint.size) +
                                   ": pass exactly the entries the checkpoint covers");
  }
  if (options.verify_root) {
    ledger::Hash root = ledger::RootFromEntries(entries);
    if (root != checkpoint.root) {
      return Status::DataLoss("the " + std::to_string(entries.size()) + " entries have root " +
                              HexEncode(ledger::HashView(root)) + " but the checkpoint says " +
                              HexEncode(ledger::HashView(checkpoint.root)) +
                              ": they are not the entries the checkpoint commits to");
    }
  }
  constexpr size_t kPrefetchAhead = 8;  // entries are separate allocations: hide the misses
  for (uint64_t i = 0; i < entries.size(); ++i) {
    if (i + kPrefetchAhead < entries.size()) {
      const std::string& ahead = entries[i + kPrefetchAhead];
      __builtin_prefetch(ahead.data());
      __builtin_prefetch(ahead.data() + std::min<size_t>(ahead.size(), 256) / 2);
    }
    RETURN_IF_ERROR(agg.Add(i, entries[i]));
  }
  return agg.Finish();
}

}  // namespace tieup::fees
