#include "base/progress_meter.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/byte_count.h"

namespace tieup {

std::string FormatDurationShort(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  const int64_t h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
  if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, s);
  return fmt::format("{}:{:02}", m, s);
}

int64_t EstimateSecondsLeft(const ProgressCounts& counts, int64_t elapsed_micros) {
  if (counts.total != 0 && counts.done >= counts.total) return 0;
  if (counts.done == 0 || counts.total == 0 || elapsed_micros < 1'000'000) return -1;
  const double per_item = static_cast<double>(elapsed_micros) / static_cast<double>(counts.done);
  const double left = per_item * static_cast<double>(counts.total - counts.done) / 1e6;
  return static_cast<int64_t>(left + 0.5);
}

ProgressMeter::ProgressMeter(Env& env, ProgressMeterOptions options)
    : env_(env), options_(std::move(options)), started_(env.NowMicros()) {}

ProgressMeter::~ProgressMeter() { Finish(); }

void ProgressMeter::SetTotal(uint64_t total) {
  std::lock_guard<std::mutex> lock(mu_);
  counts_.total = total;
  ShowLocked(false);
}

void ProgressMeter::AddTotal(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  counts_.total += n;
  ShowLocked(false);
}

void ProgressMeter::AddDone(uint64_t n, uint64_t failed) {
  std::lock_guard<std::mutex> lock(mu_);
  counts_.done += n;
  counts_.failed += std::min(n, failed);
  ShowLocked(false);
}

void ProgressMeter::AddBytes(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  counts_.bytes += n;
  ShowLocked(false);
}

void ProgressMeter::Note(std::string_view line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (options_.terminal && bar_drawn_) {
    options_.write(fmt::format("\r\x1b[K{}\n", line));
    bar_drawn_ = false;
    if (!finished_) ShowLocked(true);
  } else {
    options_.write(fmt::format("{}\n", line));
  }
}

void ProgressMeter::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  if (options_.terminal) {
    if (bar_drawn_) options_.write("\r\x1b[K");
    bar_drawn_ = false;
    return;
  }
  if (counts_.total == 0 && counts_.done == 0) return;  // nothing was counted: nothing to say
  const int64_t seconds = (env_.NowMicros() - started_) / 1'000'000;
  std::string line =
      fmt::format("done: {} {} in {}", counts_.done, options_.unit, FormatDurationShort(seconds));
  if (counts_.total != 0) {
    line = fmt::format("done: {} of {} {} in {}", counts_.done, counts_.total, options_.unit,
                       FormatDurationShort(seconds));
  }
  if (counts_.failed != 0) line += fmt::format(", {} failed", counts_.failed);
  if (counts_.bytes != 0) line += ", " + FormatByteCount(counts_.bytes);
  options_.write(line + "\n");
}

ProgressCounts ProgressMeter::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

std::string ProgressMeter::Describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  return DescribeLocked(true);
}

std::string ProgressMeter::DescribeLocked(bool with_time_left) const {
  std::string text;
  if (counts_.total == 0) {
    text = fmt::format("{} {}", counts_.done, options_.unit);
  } else {
    text = fmt::format("{} of {} {} ({}%)", counts_.done, counts_.total, options_.unit,
                       counts_.done * 100 / counts_.total);
  }
  if (counts_.failed != 0) text += fmt::format(", {} failed", counts_.failed);
  if (counts_.bytes != 0) text += ", " + FormatByteCount(counts_.bytes);
  if (with_time_left) {
    const int64_t left = EstimateSecondsLeft(counts_, env_.NowMicros() - started_);
    if (left > 0) text += ", about " + FormatDurationShort(left) + " left";
  }
  return text;
}

std::string ProgressMeter::BarLocked() const {
  std::string text = counts_.total == 0
                         ? fmt::format("{} {}", counts_.done, options_.unit)
                         : fmt::format("{}/{} {}", counts_.done, counts_.total, options_.unit);
  if (counts_.failed != 0) text += fmt::format(", {} failed", counts_.failed);
  if (counts_.bytes != 0) text += ", " + FormatByteCount(counts_.bytes);
  const int64_t left = EstimateSecondsLeft(counts_, env_.NowMicros() - started_);
  if (left > 0) text += ", " + FormatDurationShort(left) + " left";
  // "[" bar "] " text, one column kept free so that the cursor never wraps.
  const int room = options_.width - static_cast<int>(text.size()) - 4;
  if (room < 10 || counts_.total == 0) return text;
  const int bar = std::min(room, 40);
  const int filled = static_cast<int>(static_cast<uint64_t>(bar) *
                                      std::min(counts_.done, counts_.total) / counts_.total);
  return "[" + std::string(filled, '#') + std::string(bar - filled, '.') + "] " + text;
}

void ProgressMeter::ShowLocked(bool force) {
  if (finished_) return;
  const int64_t now = env_.NowMicros();
  if (options_.terminal) {
    // The last count is always drawn: the person sees the work complete.
    const bool complete = counts_.total != 0 && counts_.done >= counts_.total;
    if (!force && !complete && bar_drawn_ && now - last_shown_ < options_.redraw_interval_micros) {
      return;
    }
    options_.write("\r" + BarLocked() + "\x1b[K");
    bar_drawn_ = true;
    last_shown_ = now;
    return;
  }
  const int64_t since = last_shown_ == 0 ? started_ : last_shown_;
  if (now - since < options_.line_interval_micros) return;
  options_.write("progress: " + DescribeLocked(true) + "\n");
  last_shown_ = now;
}

}  // namespace tieup
