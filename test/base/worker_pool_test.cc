#include "base/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace tieup {
namespace {

TEST(WorkerPoolTest, RunsEveryTaskBeforeDestruction) {
  std::atomic<int> done{0};
  {
    WorkerPool pool(3);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(pool.Submit([&] { done.fetch_add(1); }));
  }
  EXPECT_EQ(done.load(), 100);
}

TEST(WorkerPoolTest, ABlockedTaskDoesNotHoldTheOthers) {
  WorkerPool pool(2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  ASSERT_TRUE(pool.Submit([gate] { gate.wait(); }));
  std::promise<int> other;
  ASSERT_TRUE(pool.Submit([&] { other.set_value(7); }));
  EXPECT_EQ(other.get_future().get(), 7);  // ran on the second worker
  release.set_value();
}

}  // namespace
}  // namespace tieup
