#include "sync/retry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::sync {
namespace {

using ::testing::HasSubstr;
using ::tieup::testing::FakeClockEnv;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;

TEST(RetryPolicyTest, ParsesTheThreeForms) {
  auto manual = RetryPolicy::Parse("manual");
  ASSERT_THAT(manual, IsOk());
  EXPECT_TRUE(manual->manual());
  auto b = RetryPolicy::Parse("backoff:30s..1h");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->base_seconds(), 30);
  EXPECT_EQ(b->cap_seconds(), 3600);
  EXPECT_EQ(b->max_attempts(), 0);
  EXPECT_EQ(b->ToString(), "backoff:30s..1h");
  auto m = RetryPolicy::Parse("backoff:10s..10m,max=20");
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->max_attempts(), 20);
  EXPECT_EQ(m->ToString(), "backoff:10s..10m,max=20");
  EXPECT_EQ(m->rejected_seconds(), 0);  // a rejected version is not offered again by itself
  auto r = RetryPolicy::Parse("backoff:10s..10m,rejected=1d,max=3");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->rejected_seconds(), 86400);
  EXPECT_EQ(r->max_attempts(), 3);
  EXPECT_EQ(r->ToString(), "backoff:10s..10m,max=3,rejected=1d");
  auto mr = RetryPolicy::Parse("manual,rejected=12h");
  ASSERT_THAT(mr, IsOk());
  EXPECT_TRUE(mr->manual());
  EXPECT_EQ(mr->rejected_seconds(), 12 * 3600);
  EXPECT_EQ(mr->ToString(), "manual,rejected=12h");
}

TEST(RetryPolicyTest, RefusesBadText) {
  EXPECT_THAT(RetryPolicy::Parse("sometimes"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("write 'manual'")));
  EXPECT_THAT(RetryPolicy::Parse("backoff:30s"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'<first>..<cap>'")));
  EXPECT_THAT(RetryPolicy::Parse("backoff:1h..30s"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("cap is below")));
  EXPECT_THAT(RetryPolicy::Parse("backoff:10s..10m,max=0"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("max must be")));
  EXPECT_THAT(RetryPolicy::Parse("manual,max=3"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown option 'max=3'")));
  EXPECT_THAT(RetryPolicy::Parse("backoff:10s..10m,rejected=soon"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("rejected= needs a duration")));
  EXPECT_THAT(RetryPolicy::Parse("manually"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown form")));
  EXPECT_THAT(RetryPolicy::Parse("backoff:10s..10m,tries=3"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown option")));
  EXPECT_THAT(RetryPolicy::Parse("backoff:10q..10m"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(RetryPolicyTest, DelaysDoubleUpToTheCapWithJitter) {
  FakeClockEnv env;
  auto p = RetryPolicy::Parse("backoff:10s..100s");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->MaxDelay(1), 10);
  EXPECT_EQ(p->MaxDelay(2), 20);
  EXPECT_EQ(p->MaxDelay(4), 80);
  EXPECT_EQ(p->MaxDelay(5), 100);
  EXPECT_EQ(p->MaxDelay(60), 100);
  const int64_t now = 1000;
  bool saw_low = false;
  bool saw_high = false;
  for (int i = 0; i < 400; ++i) {
    auto next = p->NextAttempt(5, now, env);
    ASSERT_TRUE(next.has_value());
    EXPECT_GE(*next, now + 1);
    EXPECT_LE(*next, now + 100);
    saw_low = saw_low || *next < now + 50;
    saw_high = saw_high || *next >= now + 50;
  }
  // Full jitter spreads over the whole range.
  EXPECT_TRUE(saw_low);
  EXPECT_TRUE(saw_high);
}

TEST(RetryPolicyTest, ManualAndMaxAttemptsStop) {
  FakeClockEnv env;
  auto manual = RetryPolicy::Parse("manual");
  ASSERT_THAT(manual, IsOk());
  EXPECT_FALSE(manual->NextAttempt(1, 0, env).has_value());
  auto p = RetryPolicy::Parse("backoff:10s..10m,max=3");
  ASSERT_THAT(p, IsOk());
  EXPECT_TRUE(p->NextAttempt(1, 0, env).has_value());
  EXPECT_TRUE(p->NextAttempt(2, 0, env).has_value());
  EXPECT_FALSE(p->NextAttempt(3, 0, env).has_value());
}

}  // namespace
}  // namespace tieup::sync
