#include "net/client_limits.h"

#include <gtest/gtest.h>

namespace tieup {
namespace {

TEST(ClientLimiterTest, CountsOpenConnectionsPerAddress) {
  ClientLimiter limiter({.max_connections = 2});
  EXPECT_TRUE(limiter.TryOpen("10.0.0.1", 0));
  EXPECT_TRUE(limiter.TryOpen("10.0.0.1", 0));
  EXPECT_FALSE(limiter.TryOpen("10.0.0.1", 0));
  EXPECT_TRUE(limiter.TryOpen("10.0.0.2", 0));  // another address has its own count
  EXPECT_EQ(limiter.open_connections("10.0.0.1"), 2);
  limiter.Closed("10.0.0.1");
  EXPECT_TRUE(limiter.TryOpen("10.0.0.1", 0));
  limiter.Closed("10.0.0.9");  // never opened: ignored
  EXPECT_EQ(limiter.open_connections("10.0.0.9"), 0);
}

TEST(ClientLimiterTest, RequestRateRefillsWithTime) {
  ClientLimiter limiter({.requests_per_second = 2, .burst = 3});
  int retry = 0;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.TryRequest("a", 1000, &retry)) << i;
  EXPECT_FALSE(limiter.TryRequest("a", 1000, &retry));
  EXPECT_EQ(retry, 1);
  EXPECT_TRUE(limiter.TryRequest("b", 1000, &retry));  // per address
  // Half a second later one token is back, and only one.
  EXPECT_TRUE(limiter.TryRequest("a", 1500, &retry));
  EXPECT_FALSE(limiter.TryRequest("a", 1500, &retry));
  // A long quiet spell refills up to the burst, not beyond.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.TryRequest("a", 100'000, &retry)) << i;
  EXPECT_FALSE(limiter.TryRequest("a", 100'000, &retry));
}

TEST(ClientLimiterTest, ConnectionsCostNoRequests) {
  ClientLimiter limiter({.max_connections = 10, .requests_per_second = 1, .burst = 2});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.TryOpen("a", 0)) << i;
  int retry = 0;
  EXPECT_TRUE(limiter.TryRequest("a", 0, &retry));
  EXPECT_TRUE(limiter.TryRequest("a", 0, &retry));
  EXPECT_FALSE(limiter.TryRequest("a", 0, &retry));
  EXPECT_EQ(limiter.open_connections("a"), 3);
}

TEST(ClientLimiterTest, SlowRetryAfterIsRoundedUp) {
  ClientLimiter limiter({.requests_per_second = 0.1, .burst = 1});
  int retry = 0;
  EXPECT_TRUE(limiter.TryRequest("a", 0, &retry));
  EXPECT_FALSE(limiter.TryRequest("a", 0, &retry));
  EXPECT_EQ(retry, 10);
}

TEST(ClientLimiterTest, ForgetsQuietAddressesWhenFullButKeepsOpenCounts) {
  ClientLimiter limiter(
      {.max_connections = 1, .requests_per_second = 1, .burst = 1, .max_tracked_clients = 4});
  ASSERT_TRUE(limiter.TryOpen("busy", 0));
  int retry = 0;
  for (int i = 0; i < 20; ++i) limiter.TryRequest("q" + std::to_string(i), i * 10'000, &retry);
  EXPECT_EQ(limiter.open_connections("busy"), 1);
  EXPECT_FALSE(limiter.TryOpen("busy", 300'000));  // still at its limit
}

TEST(LogThrottleTest, LetsAFewLinesThroughThenCountsTheRest) {
  LogThrottle throttle(2, 1000);
  uint64_t held = 99;
  EXPECT_TRUE(throttle.Allow(0, &held));
  EXPECT_EQ(held, 0u);
  EXPECT_TRUE(throttle.Allow(10, &held));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(throttle.Allow(20, &held));
  EXPECT_TRUE(throttle.Allow(1000, &held));  // a new window: says how many were held back
  EXPECT_EQ(held, 5u);
  EXPECT_TRUE(throttle.Allow(1001, &held));
  EXPECT_EQ(held, 0u);
}

}  // namespace
}  // namespace tieup
