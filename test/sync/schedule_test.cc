#include "sync/schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>

#include "test_support.h"

namespace tieup::sync {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

int64_t Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm));
}

int64_t Next(std::string_view expr, int64_t t) {
  auto s = Schedule::Parse(expr);
  EXPECT_THAT(s, IsOk());
  return s.ok() ? s->NextAfter(t) : 0;
}

TEST(ScheduleTest, EveryMinuteIsTheNextWholeMinute) {
  EXPECT_EQ(Next("* * * * *", Utc(2026, 3, 4, 12, 7, 30)), Utc(2026, 3, 4, 12, 8));
  // Strictly after: a time exactly on a minute moves to the next one.
  EXPECT_EQ(Next("* * * * *", Utc(2026, 3, 4, 12, 7)), Utc(2026, 3, 4, 12, 8));
}

TEST(ScheduleTest, StepsListsAndRanges) {
  EXPECT_EQ(Next("*/15 * * * *", Utc(2026, 3, 4, 12, 7)), Utc(2026, 3, 4, 12, 15));
  EXPECT_EQ(Next("*/15 * * * *", Utc(2026, 3, 4, 12, 50)), Utc(2026, 3, 4, 13, 0));
  EXPECT_EQ(Next("5,35 2-4 * * *", Utc(2026, 3, 4, 4, 36)), Utc(2026, 3, 5, 2, 5));
  EXPECT_EQ(Next("0 1-10/3 * * *", Utc(2026, 3, 4, 4, 0)), Utc(2026, 3, 4, 7, 0));
  EXPECT_EQ(Next("10/20 * * * *", Utc(2026, 3, 4, 4, 31)), Utc(2026, 3, 4, 4, 50));
}

TEST(ScheduleTest, NamesForMonthsAndWeekdays) {
  // 2026-03-06 is a Friday; the next weekday 09:00 after Friday 10:00 is Monday the 9th.
  EXPECT_EQ(Next("0 9 * * mon-fri", Utc(2026, 3, 6, 10, 0)), Utc(2026, 3, 9, 9, 0));
  EXPECT_EQ(Next("30 6 1 JAN *", Utc(2026, 3, 6, 10, 0)), Utc(2027, 1, 1, 6, 30));
  EXPECT_EQ(Next("0 0 * * 7", Utc(2026, 3, 6, 10, 0)), Utc(2026, 3, 8, 0, 0));  // 7 = Sunday
  EXPECT_EQ(Next("0 0 * * sun", Utc(2026, 3, 6, 10, 0)), Utc(2026, 3, 8, 0, 0));
}

TEST(ScheduleTest, BothDayFieldsRestrictedMatchEither) {
  // "the 13th, or any Friday": from Saturday 2026-03-07 the next is Friday the 13th... and from
  // Sunday the 8th it is also Friday the 13th; from the 14th it is Friday the 20th.
  EXPECT_EQ(Next("0 0 13 * fri", Utc(2026, 3, 7, 1, 0)), Utc(2026, 3, 13, 0, 0));
  EXPECT_EQ(Next("0 0 13 * fri", Utc(2026, 3, 14, 1, 0)), Utc(2026, 3, 20, 0, 0));
  EXPECT_EQ(Next("0 0 10 * fri", Utc(2026, 3, 7, 1, 0)), Utc(2026, 3, 10, 0, 0));
  // Only one restricted: both must hold (day-of-month "*" does not widen).
  EXPECT_EQ(Next("0 0 * * fri", Utc(2026, 3, 7, 1, 0)), Utc(2026, 3, 13, 0, 0));
  EXPECT_EQ(Next("0 0 10 * *", Utc(2026, 3, 7, 1, 0)), Utc(2026, 3, 10, 0, 0));
}

TEST(ScheduleTest, LeapDayAndMonthEnds) {
  EXPECT_EQ(Next("0 0 29 2 *", Utc(2026, 3, 1, 0, 0)), Utc(2028, 2, 29, 0, 0));
  EXPECT_EQ(Next("0 12 31 * *", Utc(2026, 4, 1, 0, 0)), Utc(2026, 5, 31, 12, 0));
}

TEST(ScheduleTest, Shorthands) {
  EXPECT_EQ(Next("@hourly", Utc(2026, 3, 4, 12, 7)), Utc(2026, 3, 4, 13, 0));
  EXPECT_EQ(Next("@daily", Utc(2026, 3, 4, 12, 7)), Utc(2026, 3, 5, 0, 0));
  EXPECT_EQ(Next("@weekly", Utc(2026, 3, 4, 12, 7)), Utc(2026, 3, 8, 0, 0));
  EXPECT_EQ(Next("@monthly", Utc(2026, 3, 4, 12, 7)), Utc(2026, 4, 1, 0, 0));
  EXPECT_EQ(Next("@yearly", Utc(2026, 3, 4, 12, 7)), Utc(2027, 1, 1, 0, 0));
}

TEST(ScheduleTest, IntervalsAreAlignedToTheEpoch) {
  EXPECT_EQ(Next("@every 10m", Utc(2026, 3, 4, 12, 7)), Utc(2026, 3, 4, 12, 10));
  EXPECT_EQ(Next("@every 10m", Utc(2026, 3, 4, 12, 10)), Utc(2026, 3, 4, 12, 20));
  EXPECT_EQ(Next("@every 1h30m", 0), 5400);
  EXPECT_EQ(Next("@every 1h30m", 5400), 10800);
  EXPECT_EQ(Next("@every 45s", 100), 135);
  auto s = Schedule::Parse("@every 1h30m");
  ASSERT_THAT(s, IsOk());
  EXPECT_TRUE(s->is_interval());
  EXPECT_EQ(s->text(), "@every 1h30m");
}

TEST(ScheduleTest, ClearParseErrors) {
  EXPECT_THAT(Schedule::Parse("0 61 * * *"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("cron field 'hour' value 61 is out of range 0-23")));
  EXPECT_THAT(Schedule::Parse("60 * * * *"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'minute' value 60")));
  EXPECT_THAT(Schedule::Parse("0 0 0 * *"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'day-of-month' value 0")));
  EXPECT_THAT(Schedule::Parse("0 0 * 13 *"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'month' value 13")));
  EXPECT_THAT(Schedule::Parse("0 0 * * 8"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'day-of-week' value 8")));
  EXPECT_THAT(Schedule::Parse("0 0 * * funday"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'funday'")));
  EXPECT_THAT(Schedule::Parse("0 0 * *"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("has 4 fields; it needs 5")));
  EXPECT_THAT(Schedule::Parse("*/0 * * * *"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("step '0'")));
  EXPECT_THAT(Schedule::Parse("0 5-2 * * *"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("runs backwards")));
  EXPECT_THAT(Schedule::Parse("0 0 30 feb *"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("never fires")));
  EXPECT_THAT(Schedule::Parse("1,,2 * * * *"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Schedule::Parse(""), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Schedule::Parse("@every"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Schedule::Parse("@every 10x"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown unit 'x'")));
  EXPECT_THAT(Schedule::Parse("@every 0s"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Schedule::Parse("@fortnightly"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not known")));
}

TEST(ScheduleTest, Durations) {
  EXPECT_EQ(ParseDuration("90s").value_or(0), 90);
  EXPECT_EQ(ParseDuration("1h30m").value_or(0), 5400);
  EXPECT_EQ(ParseDuration("2d").value_or(0), 172800);
  EXPECT_THAT(ParseDuration("10"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseDuration("m"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(FormatDuration(5400), "1h30m");
  EXPECT_EQ(FormatDuration(30), "30s");
}

}  // namespace
}  // namespace tieup::sync
