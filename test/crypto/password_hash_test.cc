#include "crypto/password_hash.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace tieup {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::tieup::testing::IsOk;
using ::tieup::testing::StatusIs;
using Event = PasswordHasher::EventForTest;

constexpr char kPassword[] = "correct horse battery";

class PasswordHasherTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(PasswordHasher::CheckCost(kCost), IsOk()); }

  const PasswordHashCost kCost = PasswordHashCost::MinimumForTest();
  std::unique_ptr<Env> env_ = NewPosixEnv();
};

TEST_F(PasswordHasherTest, HashVerifiesItsPasswordOnly) {
  PasswordHasher hasher(*env_, kCost, 2);
  auto hash = hasher.Hash(kPassword);
  ASSERT_THAT(hash, IsOk());
  EXPECT_THAT(*hash, StartsWith("$argon2id$v=19$"));
  EXPECT_THAT(*hash, Not(HasSubstr(kPassword)));
  EXPECT_TRUE(hasher.Verify(*hash, kPassword));
  EXPECT_FALSE(hasher.Verify(*hash, "correct horse battery "));
  EXPECT_FALSE(hasher.Verify(*hash, ""));
  // A fresh salt each time: the same password never gives the same hash twice.
  auto again = hasher.Hash(kPassword);
  ASSERT_THAT(again, IsOk());
  EXPECT_NE(*again, *hash);
  EXPECT_TRUE(hasher.Verify(*again, kPassword));
}

TEST_F(PasswordHasherTest, AHashMadeAtAnotherCostStillVerifies) {
  PasswordHasher cheap(*env_, kCost, 1);
  PasswordHasher dearer(*env_, {kCost.ops_limit + 1, kCost.mem_limit * 2}, 1);
  auto hash = cheap.Hash(kPassword);
  ASSERT_THAT(hash, IsOk());
  EXPECT_TRUE(dearer.Verify(*hash, kPassword));
}

TEST_F(PasswordHasherTest, EmptyOrMalformedHashVerifiesNothing) {
  PasswordHasher hasher(*env_, kCost, 1);
  EXPECT_FALSE(hasher.Verify("", ""));
  EXPECT_FALSE(hasher.Verify("", kPassword));
  EXPECT_FALSE(hasher.Verify("$argon2id$v=19$not-a-hash", kPassword));
  EXPECT_FALSE(hasher.Verify(kPassword, kPassword));
}

TEST_F(PasswordHasherTest, DummyHashIsMadeOnceAndVerifiesNothing) {
  PasswordHasher hasher(*env_, kCost, 1);
  const std::string& dummy = hasher.DummyHash();
  EXPECT_THAT(dummy, StartsWith("$argon2id$v=19$"));
  EXPECT_EQ(&hasher.DummyHash(), &dummy);
  EXPECT_EQ(hasher.DummyHash(), dummy);
  for (const char* guess : {"", kPassword, "password", "0000000000000000"}) {
    EXPECT_FALSE(hasher.Verify(dummy, guess)) << guess;
  }
  // Each hasher has its own.
  PasswordHasher other(*env_, kCost, 1);
  EXPECT_NE(other.DummyHash(), dummy);
}

TEST_F(PasswordHasherTest, CheckCostRefusesLessThanLibsodiumsMinimum) {
  EXPECT_THAT(PasswordHasher::CheckCost(PasswordHashCost::Interactive()), IsOk());
  EXPECT_THAT(PasswordHasher::CheckCost({kCost.ops_limit - 1, kCost.mem_limit}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("below libsodium's minimum")));
  EXPECT_THAT(PasswordHasher::CheckCost({kCost.ops_limit, kCost.mem_limit - 1}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("below libsodium's minimum")));
}

TEST_F(PasswordHasherTest, MemoryLibsodiumCannotHaveIsResourceExhausted) {
  // More memory than libsodium ever allocates: refused before any allocation.
  PasswordHasher hasher(*env_, {kCost.ops_limit, std::numeric_limits<size_t>::max()}, 1);
  EXPECT_THAT(hasher.Hash(kPassword),
              StatusIs(StatusCode::kResourceExhausted,
                       "not enough memory to hash the password: try again in a moment"));
  EXPECT_EQ(hasher.DummyHash(), "");
  EXPECT_FALSE(hasher.Verify(hasher.DummyHash(), ""));
}

TEST(PasswordHashCostTest, FromNameKnowsTheThreeSettings) {
  EXPECT_EQ(PasswordHashCost::FromName("min")->mem_limit,
            PasswordHashCost::MinimumForTest().mem_limit);
  EXPECT_EQ(PasswordHashCost::FromName("interactive")->ops_limit,
            PasswordHashCost::Interactive().ops_limit);
  EXPECT_EQ(PasswordHashCost::FromName("moderate")->mem_limit,
            PasswordHashCost::Moderate().mem_limit);
  EXPECT_THAT(PasswordHashCost::FromName("fast").status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("users.password_hashing")));
}

// With one slot, a second hash waits until the first is done: it is seen waiting while the
// first is held inside libsodium's call, and starts only after the first finished.
TEST_F(PasswordHasherTest, OneSlotRunsOneHashAtATime) {
  PasswordHasher hasher(*env_, kCost, 1);
  std::atomic<int> running{0}, most{0}, started{0};
  std::promise<void> first_started, second_waiting, release_first;
  std::shared_future<void> release = release_first.get_future().share();
  hasher.SetObserverForTest([&](Event event) {
    switch (event) {
      case Event::kWaiting:
        second_waiting.set_value();
        break;
      case Event::kStarted: {
        const int now = ++running;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        if (started++ == 0) {
          first_started.set_value();
          release.wait();
        }
        break;
      }
      case Event::kFinished:
        --running;
        break;
    }
  });
  Result<std::string> first = Status::Internal("not run");
  Result<std::string> second = Status::Internal("not run");
  std::thread a([&] { first = hasher.Hash("first password"); });
  first_started.get_future().wait();
  std::thread b([&] { second = hasher.Hash("second password"); });
  second_waiting.get_future().wait();
  EXPECT_EQ(running.load(), 1);
  EXPECT_EQ(started.load(), 1);
  release_first.set_value();
  a.join();
  b.join();
  EXPECT_EQ(most.load(), 1);
  EXPECT_EQ(started.load(), 2);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_TRUE(hasher.Verify(*first, "first password"));
  EXPECT_TRUE(hasher.Verify(*second, "second password"));
}

// With two slots, a second hash starts while the first is still held (no waiting).
TEST_F(PasswordHasherTest, TwoSlotsRunTwoHashesAtOnce) {
  PasswordHasher hasher(*env_, kCost, 2);
  std::atomic<int> started{0};
  std::promise<void> first_started, release_first;
  std::shared_future<void> release = release_first.get_future().share();
  std::once_flag released;
  auto release_once = [&] { std::call_once(released, [&] { release_first.set_value(); }); };
  hasher.SetObserverForTest([&](Event event) {
    if (event == Event::kWaiting) {
      ADD_FAILURE() << "a caller waited although a slot was free";
      release_once();  // lets the first finish, so the waiter gets its slot
    } else if (event == Event::kStarted) {
      const int n = started++;
      if (n == 0) {
        first_started.set_value();
        release.wait();
      } else {
        release_once();
      }
    }
  });
  Result<std::string> first = Status::Internal("not run");
  std::thread a([&] { first = hasher.Hash("first password"); });
  first_started.get_future().wait();
  EXPECT_THAT(hasher.Hash("second password"), IsOk());
  a.join();
  EXPECT_THAT(first, IsOk());
}

// Many callers hashing and verifying at once never hold more than max_concurrent slots.
TEST_F(PasswordHasherTest, ManyCallersStayWithinTheBound) {
  constexpr int kSlots = 2;
  PasswordHasher hasher(*env_, kCost, kSlots);
  auto known = hasher.Hash(kPassword);
  ASSERT_THAT(known, IsOk());
  std::atomic<int> running{0}, most{0}, failures{0};
  hasher.SetObserverForTest([&](Event event) {
    if (event == Event::kStarted) {
      const int now = ++running;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
    } else if (event == Event::kFinished) {
      --running;
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        const std::string password = "password " + std::to_string(t) + "/" + std::to_string(i);
        auto hash = hasher.Hash(password);
        if (!hash.ok() || !hasher.Verify(*hash, password) || !hasher.Verify(*known, kPassword) ||
            hasher.Verify(hasher.DummyHash(), password)) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(most.load(), 1);
  EXPECT_LE(most.load(), kSlots);
  EXPECT_EQ(running.load(), 0);
}

}  // namespace
}  // namespace tieup
