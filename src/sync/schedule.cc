#include "sync/schedule.h"

#include <array>
#include <cctype>
#include <charconv>
#include <vector>

namespace tieup::sync {
namespace {

// Howard Hinnant's civil-from-days algorithm (proleptic Gregorian, UTC).
struct Civil {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const std::array<const char*, 12>* names;  // names[i] is value names_base + i
  int names_base;
  int names_count;
};

constexpr std::array<const char*, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                     "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 12> kDayNames = {"sun", "mon", "tue", "wed", "thu", "fri",
                                                   "sat", "",    "",    "",    "",    ""};

Result<int> ParseValue(const FieldSpec& spec, std::string_view text) {
  if (text.empty()) {
    return Status::InvalidArgument(std::string("cron field '") + spec.name +
                                   "' has an empty value");
  }
  if (std::isalpha(static_cast<unsigned char>(text[0]))) {
    std::string lower;
    for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (spec.names != nullptr) {
      for (int i = 0; i < spec.names_count; ++i) {
        if (lower == (*spec.names)[i]) return spec.names_base + i;
      }
    }
    return Status::InvalidArgument(std::string("cron field '") + spec.name + "' value '" +
                                   std::string(text) + "' is not a number" +
                                   (spec.names != nullptr ? " or a known name" : ""));
  }
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return Status::InvalidArgument(std::string("cron field '") + spec.name + "' value '" +
                                   std::string(text) + "' is not a number");
  }
  if (value < spec.min || value > spec.max) {
    return Status::InvalidArgument(std::string("cron field '") + spec.name + "' value " +
                                   std::to_string(value) + " is out of range " +
                                   std::to_string(spec.min) + "-" + std::to_string(spec.max));
  }
  return value;
}

// Sets bits [min..max] of `out` (a vector indexed by value) for `text`.
Status ParseField(const FieldSpec& spec, std::string_view text, std::vector<bool>& out) {
  out.assign(spec.max + 1, false);
  if (text.empty()) {
    return Status::InvalidArgument(std::string("cron field '") + spec.name + "' is empty");
  }
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    int step = 1;
    std::string_view range = item;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      std::string_view step_text = item.substr(slash + 1);
      auto [ptr, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (step_text.empty() || ec != std::errc() || ptr != step_text.data() + step_text.size() ||
          step < 1) {
        return Status::InvalidArgument(std::string("cron field '") + spec.name + "' step '" +
                                       std::string(step_text) + "' is not a positive whole number");
      }
    }
    int lo = spec.min;
    int hi = spec.max;
    if (range != "*") {
      if (size_t dash = range.find('-'); dash != std::string_view::npos) {
        ASSIGN_OR_RETURN(lo, ParseValue(spec, range.substr(0, dash)));
        ASSIGN_OR_RETURN(hi, ParseValue(spec, range.substr(dash + 1)));
        if (hi < lo) {
          return Status::InvalidArgument(std::string("cron field '") + spec.name + "' range '" +
                                         std::string(range) +
                                         "' runs backwards; write the smaller value first");
        }
      } else {
        ASSIGN_OR_RETURN(lo, ParseValue(spec, range));
        // "5/10" means from 5 to the maximum by 10; a lone value is just itself.
        hi = item.find('/') != std::string_view::npos ? spec.max : lo;
      }
    }
    for (int v = lo; v <= hi; v += step) out[v] = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return Status::Ok();
}

constexpr FieldSpec kMinute{"minute", 0, 59, nullptr, 0, 0};
constexpr FieldSpec kHour{"hour", 0, 23, nullptr, 0, 0};
constexpr FieldSpec kDayOfMonth{"day-of-month", 1, 31, nullptr, 0, 0};
constexpr FieldSpec kMonth{"month", 1, 12, &kMonthNames, 1, 12};
constexpr FieldSpec kDayOfWeek{"day-of-week", 0, 7, &kDayNames, 0, 7};

// A fixed instant used to check at parse time that an expression can fire at all.
constexpr int64_t kProbeTime = 1'700'000'000;

}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  if (text.empty())
    return Status::InvalidArgument("empty duration; write e.g. '30s', '10m', '1h30m'");
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    if (j == i || j == text.size()) {
      return Status::InvalidArgument("duration '" + std::string(text) +
                                     "' is not of the form <number><unit>..., units s, m, h, d "
                                     "(e.g. '1h30m')");
    }
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + j, n);
    if (ec != std::errc() || n > 1'000'000'000) {
      return Status::InvalidArgument("duration '" + std::string(text) + "' is too large");
    }
    int64_t unit = 0;
    switch (text[j]) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      default:
        return Status::InvalidArgument("duration '" + std::string(text) + "' has unknown unit '" +
                                       std::string(1, text[j]) + "' (use s, m, h or d)");
    }
    total += n * unit;
    i = j + 1;
  }
  if (total <= 0) return Status::InvalidArgument("duration '" + std::string(text) + "' is zero");
  if (total > int64_t{10} * 365 * 86400) {
    return Status::InvalidArgument("duration '" + std::string(text) + "' is above 10 years");
  }
  return total;
}

std::string FormatDuration(int64_t seconds) {
  if (seconds <= 0) return "0s";
  std::string out;
  const std::array<std::pair<int64_t, char>, 4> units = {
      {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}};
  for (auto [size, name] : units) {
    if (seconds >= size) {
      out += std::to_string(seconds / size) + name;
      seconds %= size;
    }
  }
  return out;
}

Result<Schedule> Schedule::Parse(std::string_view text) {
  Schedule s;
  s.text_ = std::string(text);
  std::string_view t = text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  if (t.empty()) {
    return Status::InvalidArgument(
        "empty schedule; write a cron expression ('*/15 * * * *') or an interval ('@every 10m')");
  }
  std::string expr(t);
  if (t.starts_with("@every")) {
    std::string_view rest = t.substr(6);
    if (rest.empty() || !std::isspace(static_cast<unsigned char>(rest.front()))) {
      return Status::InvalidArgument("schedule '" + expr +
                                     "': write '@every <duration>', e.g. '@every 10m'");
    }
    while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front())))
      rest.remove_prefix(1);
    auto d = ParseDuration(rest);
    if (!d.ok()) return d.status().Annotate("schedule '" + expr + "'");
    s.interval_ = *d;
    return s;
  }
  if (t.front() == '@') {
    if (t == "@hourly") {
      expr = "0 * * * *";
    } else if (t == "@daily" || t == "@midnight") {
      expr = "0 0 * * *";
    } else if (t == "@weekly") {
      expr = "0 0 * * 0";
    } else if (t == "@monthly") {
      expr = "0 0 1 * *";
    } else if (t == "@yearly" || t == "@annually") {
      expr = "0 0 1 1 *";
    } else {
      return Status::InvalidArgument(
          "schedule '" + expr +
          "' is not known; use @every <duration>, @hourly, @daily, @weekly, @monthly or @yearly");
    }
  }
  std::vector<std::string> fields;
  {
    size_t i = 0;
    while (i < expr.size()) {
      while (i < expr.size() && std::isspace(static_cast<unsigned char>(expr[i]))) ++i;
      size_t j = i;
      while (j < expr.size() && !std::isspace(static_cast<unsigned char>(expr[j]))) ++j;
      if (j > i) fields.emplace_back(expr.substr(i, j - i));
      i = j;
    }
  }
  if (fields.size() != 5) {
    return Status::InvalidArgument("cron expression '" + std::string(t) + "' has " +
                                   std::to_string(fields.size()) +
                                   " fields; it needs 5: minute hour day-of-month month "
                                   "day-of-week");
  }
  std::vector<bool> bits;
  RETURN_IF_ERROR(ParseField(kMinute, fields[0], bits));
  for (int v = 0; v < 60; ++v) s.minutes_[v] = bits[v];
  RETURN_IF_ERROR(ParseField(kHour, fields[1], bits));
  for (int v = 0; v < 24; ++v) s.hours_[v] = bits[v];
  RETURN_IF_ERROR(ParseField(kDayOfMonth, fields[2], bits));
  for (int v = 1; v <= 31; ++v) s.days_of_month_[v] = bits[v];
  RETURN_IF_ERROR(ParseField(kMonth, fields[3], bits));
  for (int v = 1; v <= 12; ++v) s.months_[v] = bits[v];
  RETURN_IF_ERROR(ParseField(kDayOfWeek, fields[4], bits));
  for (int v = 0; v < 7; ++v) s.days_of_week_[v] = bits[v];
  if (bits[7]) s.days_of_week_[0] = true;
  s.dom_restricted_ = fields[2][0] != '*';
  s.dow_restricted_ = fields[4][0] != '*';
  if (s.NextCronAfter(kProbeTime) == 0) {
    return Status::InvalidArgument("cron expression '" + std::string(t) +
                                   "' never fires (no such date); check day-of-month and month");
  }
  return s;
}

bool Schedule::DayMatches(int day_of_month, int /*month_day_count*/, int day_of_week) const {
  const bool dom = days_of_month_[day_of_month];
  const bool dow = days_of_week_[day_of_week];
  if (dom_restricted_ && dow_restricted_) return dom || dow;
  return dom && dow;
}

int64_t Schedule::NextAfter(int64_t unix_seconds) const {
  if (interval_ > 0) return (FloorDiv(unix_seconds, interval_) + 1) * interval_;
  return NextCronAfter(unix_seconds);
}

int64_t Schedule::NextCronAfter(int64_t unix_seconds) const {
  // Walk forward day by day (at most ~9 years, enough for Feb 29 on a given weekday), then
  // find the first matching hour and minute within the day.
  int64_t day = FloorDiv(unix_seconds, 86400);
  int64_t first_minute = FloorDiv(unix_seconds - day * 86400, 60) + 1;  // minute of day
  for (int i = 0; i < 366 * 9; ++i, ++day, first_minute = 0) {
    if (first_minute >= 24 * 60) continue;
    const Civil c = CivilFromDays(day);
    if (!months_[c.month]) continue;
    const int dow = static_cast<int>(((day % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
    if (!DayMatches(static_cast<int>(c.day), static_cast<int>(DaysInMonth(c.year, c.month)), dow)) {
      continue;
    }
    for (int64_t m = first_minute; m < 24 * 60; ++m) {
      if (hours_[m / 60] && minutes_[m % 60]) return day * 86400 + m * 60;
    }
  }
  return 0;
}

}  // namespace tieup::sync
