#include "base/progress_meter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace tieup {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::tieup::testing::FakeClockEnv;

struct Written {
  std::vector<std::string> parts;
};

ProgressMeterOptions Options(Written& w, bool terminal) {
  ProgressMeterOptions o;
  o.unit = "partners";
  o.terminal = terminal;
  o.write = [&w](std::string_view text) { w.parts.emplace_back(text); };
  return o;
}

TEST(FormatDurationShortTest, MinutesAndHours) {
  EXPECT_EQ(FormatDurationShort(0), "0:00");
  EXPECT_EQ(FormatDurationShort(65), "1:05");
  EXPECT_EQ(FormatDurationShort(720), "12:00");
  EXPECT_EQ(FormatDurationShort(3723), "1:02:03");
  EXPECT_EQ(FormatDurationShort(-5), "0:00");
}

TEST(EstimateSecondsLeftTest, AtTheRateSoFar) {
  EXPECT_EQ(EstimateSecondsLeft({.total = 10, .done = 0}, 5'000'000), -1);  // nothing done yet
  EXPECT_EQ(EstimateSecondsLeft({.total = 10, .done = 2}, 500'000), -1);    // under a second
  EXPECT_EQ(EstimateSecondsLeft({.total = 0, .done = 2}, 5'000'000), -1);   // total unknown
  EXPECT_EQ(EstimateSecondsLeft({.total = 10, .done = 2}, 4'000'000), 16);  // 2 s each, 8 left
  EXPECT_EQ(EstimateSecondsLeft({.total = 10, .done = 10}, 4'000'000), 0);
}

TEST(ProgressMeterTest, PlainLinesComeAtMostOncePerIntervalThenADoneLine) {
  FakeClockEnv env;
  Written w;
  {
    ProgressMeter meter(env, Options(w, false));
    meter.SetTotal(20);
    meter.AddDone(1);
    EXPECT_THAT(w.parts, IsEmpty());  // within the first interval: nothing yet
    env.AdvanceSeconds(10);
    meter.AddDone(4, 1);
    ASSERT_EQ(w.parts.size(), 1u);
    // 5 done in 10 s: 15 left take 30 s.
    EXPECT_EQ(w.parts[0], "progress: 5 of 20 partners (25%), 1 failed, about 0:30 left\n");
    env.AdvanceSeconds(3);
    meter.AddDone(5);
    meter.AddBytes(3 * 1024 * 1024);
    EXPECT_EQ(w.parts.size(), 1u);  // 3 s after the last line
    env.AdvanceSeconds(7);
    meter.AddDone(1);
    ASSERT_EQ(w.parts.size(), 2u);
    EXPECT_THAT(w.parts[1], HasSubstr("progress: 11 of 20 partners (55%), 1 failed, 3.0 MiB"));
    meter.AddDone(9);
    meter.Note("  shop-x: failed: refused");
    meter.Finish();
    meter.Finish();  // once only
  }
  ASSERT_EQ(w.parts.size(), 4u);
  EXPECT_EQ(w.parts[2], "  shop-x: failed: refused\n");
  EXPECT_EQ(w.parts[3], "done: 20 of 20 partners in 0:20, 1 failed, 3.0 MiB\n");
}

TEST(ProgressMeterTest, ATerminalGetsOneBarRedrawnInPlaceWithNotesAboveIt) {
  FakeClockEnv env;
  Written w;
  ProgressMeter meter(env, Options(w, true));
  meter.SetTotal(4);
  ASSERT_EQ(w.parts.size(), 1u);
  EXPECT_EQ(w.parts[0], "\r[" + std::string(40, '.') + "] 0/4 partners\x1b[K");
  meter.AddDone(1);  // within the redraw interval: not drawn
  EXPECT_EQ(w.parts.size(), 1u);
  env.AdvanceSeconds(2);
  meter.AddDone(1);
  ASSERT_EQ(w.parts.size(), 2u);
  // Half done in 2 s: 2 s left.
  EXPECT_EQ(w.parts[1], "\r[" + std::string(20, '#') + std::string(20, '.') +
                            "] 2/4 partners, 0:02 left\x1b[K");
  meter.Note("  shop-b: failed: timed out");
  ASSERT_EQ(w.parts.size(), 4u);
  EXPECT_EQ(w.parts[2], "\r\x1b[K  shop-b: failed: timed out\n");  // the bar cleared first
  EXPECT_THAT(w.parts[3], HasSubstr("2/4 partners"));              // and drawn again below
  meter.AddDone(2);  // within the redraw interval, but complete: drawn
  EXPECT_EQ(w.parts.back(), "\r[" + std::string(40, '#') + "] 4/4 partners\x1b[K");
  meter.Finish();
  EXPECT_EQ(w.parts.back(), "\r\x1b[K");  // the bar is gone; the caller's summary follows
  meter.AddDone(1);
  EXPECT_EQ(w.parts.back(), "\r\x1b[K");  // nothing after Finish
  EXPECT_EQ(meter.counts().done, 5u);
}

TEST(ProgressMeterTest, ANarrowTerminalGetsTheCountsWithoutABar) {
  FakeClockEnv env;
  Written w;
  ProgressMeterOptions o = Options(w, true);
  o.width = 25;
  ProgressMeter meter(env, o);
  meter.SetTotal(10000);
  EXPECT_EQ(w.parts.back(), "\r0/10000 partners\x1b[K");
}

TEST(ProgressMeterTest, UnknownTotalCountsOnly) {
  FakeClockEnv env;
  Written w;
  ProgressMeter meter(env, Options(w, false));
  meter.AddDone(3);
  EXPECT_EQ(meter.Describe(), "3 partners");
  meter.Finish();
  EXPECT_THAT(w.parts, ElementsAre("done: 3 partners in 0:00\n"));
}

TEST(ProgressMeterTest, ConcurrentReportsAreAllCounted) {
  FakeClockEnv env;
  Written w;
  ProgressMeter meter(env, Options(w, true));
  meter.SetTotal(4000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        meter.AddDone(1, i % 10 == 0 ? 1 : 0);
        env.AdvanceSeconds(0);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(meter.counts().done, 4000u);
  EXPECT_EQ(meter.counts().failed, 400u);
}

}  // namespace
}  // namespace tieup
