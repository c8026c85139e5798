#include "sync/retry.h"

#include <charconv>

#include "sync/schedule.h"

namespace tieup::sync {

Result<RetryPolicy> RetryPolicy::Parse(std::string_view text) {
  const std::string original(text);
  RetryPolicy p;
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("retry policy '" + original + "': " + why +
                                   "; write 'manual', 'backoff:30s..1h' or "
                                   "'backoff:10s..10m,max=20', optionally with ',rejected=1d'");
  };
  std::string_view options;
  if (size_t comma = text.find(','); comma != std::string_view::npos) {
    options = text.substr(comma + 1);
    text = text.substr(0, comma);
  }
  if (text == "manual") p.manual_ = true;
  if (!p.manual_ && !text.starts_with("backoff:")) return bad("unknown form");
  while (!options.empty()) {
    const size_t comma = options.find(',');
    std::string_view opt = options.substr(0, comma);
    options = comma == std::string_view::npos ? std::string_view() : options.substr(comma + 1);
    if (opt.starts_with("rejected=")) {
      auto d = ParseDuration(opt.substr(9));
      if (!d.ok() || *d < 1) return bad("rejected= needs a duration such as 1d or 12h");
      p.rejected_ = *d;
      continue;
    }
    if (p.manual_ || !opt.starts_with("max=")) {
      return bad("unknown option '" + std::string(opt) + "'");
    }
    std::string_view n = opt.substr(4);
    int value = 0;
    auto [ptr, ec] = std::from_chars(n.data(), n.data() + n.size(), value);
    if (n.empty() || ec != std::errc() || ptr != n.data() + n.size() || value < 1) {
      return bad("max must be a whole number >= 1, not '" + std::string(n) + "'");
    }
    p.max_attempts_ = value;
  }
  if (p.manual_) return p;
  text.remove_prefix(8);
  const size_t dots = text.find("..");
  if (dots == std::string_view::npos) return bad("the delays must be '<first>..<cap>'");
  auto base = ParseDuration(text.substr(0, dots));
  if (!base.ok()) return bad(base.status().message());
  auto cap = ParseDuration(text.substr(dots + 2));
  if (!cap.ok()) return bad(cap.status().message());
  if (*cap < *base) return bad("the cap is below the first delay");
  p.base_ = *base;
  p.cap_ = *cap;
  return p;
}

int64_t RetryPolicy::MaxDelay(int failed_attempts) const {
  int64_t d = base_;
  for (int i = 1; i < failed_attempts && d < cap_; ++i) d *= 2;
  return d < cap_ ? d : cap_;
}

std::optional<int64_t> RetryPolicy::NextAttempt(int failed_attempts, int64_t now, Env& env) const {
  if (manual_) return std::nullopt;
  if (max_attempts_ > 0 && failed_attempts >= max_attempts_) return std::nullopt;
  const int64_t max_delay = MaxDelay(failed_attempts < 1 ? 1 : failed_attempts);
  uint64_t r = 0;
  env.RandomBytes(&r, sizeof(r));
  // Full jitter, but never less than a second: a zero delay would retry in the same tick.
  const int64_t delay = 1 + static_cast<int64_t>(r % static_cast<uint64_t>(max_delay));
  return now + delay;
}

std::string RetryPolicy::ToString() const {
  std::string s =
      manual_ ? "manual" : "backoff:" + FormatDuration(base_) + ".." + FormatDuration(cap_);
  if (max_attempts_ > 0) s += ",max=" + std::to_string(max_attempts_);
  if (rejected_ > 0) s += ",rejected=" + FormatDuration(rejected_);
  return s;
}

}  // namespace tieup::sync
