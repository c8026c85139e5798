#include "commerce/cart_limiter.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tieup::commerce {
namespace {

using ::tieup::testing::FakeClockEnv;

class CartLimiterTest : public ::testing::Test {
 protected:
  // Additions from `address` until the first refusal (at most `max`), and that refusal's
  // Retry-After.
  int AddsAllowed(CartLimiter& limiter, std::string_view address, int max = 1000) {
    for (int n = 0; n < max; ++n) {
      if (!limiter.TryAdd(address, &retry_after_)) return n;
    }
    return max;
  }

  FakeClockEnv env_;
  int retry_after_ = 0;
};

TEST_F(CartLimiterTest, ABurstThenASteadyPacePerAddress) {
  CartLimiter limiter(env_, {.adds_per_10_minutes = 30});
  EXPECT_EQ(AddsAllowed(limiter, "192.0.2.1"), 30);
  EXPECT_EQ(retry_after_, 20);                       // 30 per 10 minutes: one every 20 s
  EXPECT_EQ(AddsAllowed(limiter, "192.0.2.2"), 30);  // another customer is not affected
  env_.AdvanceSeconds(19);
  EXPECT_EQ(AddsAllowed(limiter, "192.0.2.1"), 0);
  EXPECT_GE(retry_after_, 1);
  EXPECT_LE(retry_after_, 2);         // the rest of the 20 s, rounded up
  env_.AdvanceSeconds(retry_after_);  // waiting as told is enough
  EXPECT_EQ(AddsAllowed(limiter, "192.0.2.1"), 1);
  // A quiet address gets its burst back, never more.
  env_.AdvanceSeconds(3600);
  EXPECT_EQ(AddsAllowed(limiter, "192.0.2.1"), 30);
}

TEST_F(CartLimiterTest, AnIpv6NetworkCountsAsOneClient) {
  EXPECT_EQ(CartLimiter::ClientNetwork("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(CartLimiter::ClientNetwork("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(CartLimiter::ClientNetwork("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(CartLimiter::ClientNetwork("not:an:address"), "not:an:address");
  CartLimiter limiter(env_, {.adds_per_10_minutes = 4});
  EXPECT_EQ(AddsAllowed(limiter, "2001:db8:1:2::1", 2), 2);
  EXPECT_EQ(AddsAllowed(limiter, "2001:db8:1:2:ffff:ffff:ffff:fffe"), 2);  // the same /64
  EXPECT_EQ(AddsAllowed(limiter, "2001:db8:1:3::1"), 4);                   // the next /64
  // An IPv4 client seen over an IPv6 socket is the same client.
  EXPECT_EQ(AddsAllowed(limiter, "198.51.100.1", 1), 1);
  EXPECT_EQ(AddsAllowed(limiter, "::ffff:198.51.100.1"), 3);
}

TEST_F(CartLimiterTest, ZeroMeansNoLimitAndInProcessRequestsAreNotLimited) {
  CartLimiter none(env_, {.adds_per_10_minutes = 0});
  EXPECT_EQ(AddsAllowed(none, "192.0.2.1"), 1000);
  CartLimiter limiter(env_, {.adds_per_10_minutes = 1});
  EXPECT_EQ(AddsAllowed(limiter, ""), 1000);
}

TEST_F(CartLimiterTest, MemoryIsBoundedForgettingRefilledNetworksFirst) {
  CartLimiter limiter(env_, {.adds_per_10_minutes = 1, .max_tracked_clients = 2});
  EXPECT_EQ(AddsAllowed(limiter, "192.0.2.1"), 1);
  env_.AdvanceSeconds(9 * 60);
  EXPECT_EQ(AddsAllowed(limiter, "192.0.2.2"), 1);
  env_.AdvanceSeconds(61);  // .1 has refilled, .2 has not
  // A third network while two are remembered: .1 is forgotten (that changes nothing it may
  // do), .2 is still limited.
  EXPECT_EQ(AddsAllowed(limiter, "192.0.2.3"), 1);
  EXPECT_EQ(AddsAllowed(limiter, "192.0.2.2"), 0);
  // All remembered networks busy: the limiter forgets them rather than grow.
  EXPECT_EQ(AddsAllowed(limiter, "192.0.2.4"), 1);
  EXPECT_EQ(AddsAllowed(limiter, "192.0.2.2"), 1);
}

}  // namespace
}  // namespace tieup::commerce
