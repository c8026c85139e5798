// Schedule: when main's publisher updates a partner (DESIGN.md "Remote updating", step 1).
//
// Two forms:
//   - a 5-field cron expression "minute hour day-of-month month day-of-week" (UTC). Each field
//     is a comma list of items; an item is "*", a value, a range "a-b", any of these with a step
//     "/n" ("*/15", "1-30/2", "5/10" = 5 to the maximum by 10). Months take names jan..dec and
//     days of week sun..sat (case-insensitive; 0 and 7 are both Sunday). As in POSIX and Vixie
//     cron, when both day fields are restricted (do not start with '*') a day matches if EITHER
//     matches; otherwise both must. Shorthands: @hourly, @daily (= @midnight), @weekly,
//     @monthly, @yearly (= @annually).
//   - an interval "@every 10m", "@every 1h30m", "@every 45s": fires at every multiple of the
//     interval since the Unix epoch (so restarts do not drift the times).
//
// A Schedule is an immutable value: thread-safe.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tieup::sync {

// Parses a duration made of one or more "<number><unit>" parts, unit s, m, h or d ("90s",
// "1h30m", "2d"). Returns seconds (> 0). InvalidArgument naming the bad part otherwise.
Result<int64_t> ParseDuration(std::string_view text);

// Formats seconds as the shortest such duration ("1h30m", "45s", "0s").
std::string FormatDuration(int64_t seconds);

class Schedule {
 public:
  // Parses `text` (see the file comment). InvalidArgument with the field and the rule broken:
  // "cron field 'hour' value 61 is out of range 0-23", and for an expression that can never
  // fire ("0 0 30 2 *").
  static Result<Schedule> Parse(std::string_view text);

  // The first firing time strictly after `unix_seconds` (UTC). For cron expressions the result
  // is a whole minute.
  int64_t NextAfter(int64_t unix_seconds) const;

  // The text this schedule was parsed from.
  const std::string& text() const { return text_; }
  // True for the "@every" form.
  bool is_interval() const { return interval_ > 0; }

 private:
  Schedule() = default;
  // Returns 0 when nothing matches within the search horizon (only for impossible dates).
  int64_t NextCronAfter(int64_t unix_seconds) const;
  bool DayMatches(int day_of_month, int month_day_count, int day_of_week) const;

  std::string text_;
  int64_t interval_ = 0;  // seconds; 0 for a cron expression
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // 1..31
  std::bitset<13> months_;         // 1..12
  std::bitset<7> days_of_week_;    // 0..6, Sunday = 0
  bool dom_restricted_ = false;
  bool dow_restricted_ = false;
};

}  // namespace tieup::sync
