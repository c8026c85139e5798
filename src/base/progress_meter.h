// Progress of long work on a terminal or in a log: a bar with counts and the time left, redrawn
// in place on a terminal; plain periodic lines otherwise (a pipe, a file, a CI log). Used by the
// command line for `tieup main publish`, `tieup partner poll` and fee statements for every
// partner (issue 18, item 8).
//
// Terminal (one line, redrawn at most every redraw_interval):
//   [##########..........] 12/20 partners, 1 failed, 3.4 MiB, 0:42 left
// Plain (at most one line per line_interval, and one at Finish):
//   progress: 12 of 20 partners (60%), 1 failed, 3.4 MiB, about 0:42 left
//   done: 20 of 20 partners in 1:05, 1 failed, 5.0 MiB
// Lines written with Note() appear above the bar (terminal) or as they are (plain).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "base/env.h"

namespace tieup {

struct ProgressMeterOptions {
  std::string unit = "items";  // what is counted, in the plural ("partners", "files")
  bool terminal = false;       // redraw one line in place (true) or print plain lines
  int width = 80;              // the terminal's columns
  int64_t redraw_interval_micros = 100'000;
  int64_t line_interval_micros = 10'000'000;
  // Receives the text to write, as is: on a terminal carriage returns and "erase line" escapes
  // without a newline; plain lines end with "\n". Required.
  std::function<void(std::string_view)> write;
};

// Counts of a piece of work, as the meter shows them.
struct ProgressCounts {
  uint64_t total = 0;   // 0: not known yet
  uint64_t done = 0;    // finished, failed included
  uint64_t failed = 0;  // of `done`
  uint64_t bytes = 0;   // moved so far (shown when not 0)
};

// "1:05", "12:00", "1:02:03": a duration in seconds as the meter shows it.
std::string FormatDurationShort(int64_t seconds);

// The time left at the rate so far, in seconds: -1 while unknown (nothing done yet, or less
// than a second elapsed), 0 when done.
int64_t EstimateSecondsLeft(const ProgressCounts& counts, int64_t elapsed_micros);

// Thread-safe: workers may report concurrently.
class ProgressMeter {
 public:
  ProgressMeter(Env& env, ProgressMeterOptions options);
  // Finish() unless it was called.
  ~ProgressMeter();
  ProgressMeter(const ProgressMeter&) = delete;
  ProgressMeter& operator=(const ProgressMeter&) = delete;

  void SetTotal(uint64_t total);
  void AddTotal(uint64_t n);
  // `n` more done, `failed` of them failed.
  void AddDone(uint64_t n, uint64_t failed = 0);
  void AddBytes(uint64_t n);
  // A line for the person (a failure, say): above the bar on a terminal, as is otherwise.
  void Note(std::string_view line);
  // Clears the bar (terminal) or prints the "done:" line (plain; not when nothing was counted).
  // Later calls do nothing; later reports are counted but not shown.
  void Finish();

  ProgressCounts counts() const;
  // The counts in words, as the plain lines say them after "progress: ".
  std::string Describe() const;

 private:
  std::string DescribeLocked(bool with_time_left) const;
  void ShowLocked(bool force);
  std::string BarLocked() const;

  Env& env_;
  const ProgressMeterOptions options_;
  const int64_t started_;
  mutable std::mutex mu_;
  ProgressCounts counts_;
  int64_t last_shown_ = 0;  // micros; 0: never
  bool bar_drawn_ = false;
  bool finished_ = false;
};

}  // namespace tieup
