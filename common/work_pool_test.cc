#include "common/work_pool.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/barrier.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace herald {
namespace {

TEST(WorkPoolTest, ZeroThreadsMeansOnePerCore) {
  WorkPool pool(0);
  EXPECT_EQ(pool.threads(), WorkPool::DefaultThreads());
  EXPECT_GE(pool.threads(), 1);
}

TEST(WorkPoolTest, RunsWorkOffTheCallersThread) {
  WorkPool pool(1);
  absl::Notification ran;
  std::thread::id where;
  pool.Post([&] {
    where = std::this_thread::get_id();
    ran.Notify();
  });
  ran.WaitForNotification();
  EXPECT_NE(where, std::this_thread::get_id());
}

// Four tasks that each wait for the other three can only finish when four
// threads run them at once.
TEST(WorkPoolTest, RunsAsManyTasksAtOnceAsItHasThreads) {
  WorkPool pool(4);
  absl::Barrier* all_in = new absl::Barrier(4);
  absl::BlockingCounter done(4);
  for (int i = 0; i < 4; ++i) {
    pool.Post([&] {
      if (all_in->Block()) delete all_in;
      done.DecrementCount();
    });
  }
  done.Wait();
}

TEST(WorkPoolTest, DestructionRunsWhatWasPostedIncludingWhatThatPosts) {
  std::atomic<int> ran{0};
  {
    WorkPool pool(2);
    for (int i = 0; i < 100; ++i) {
      pool.Post([&] {
        ++ran;
        pool.Post([&] { ++ran; });
      });
    }
  }
  EXPECT_EQ(ran.load(), 200);
}

}  // namespace
}  // namespace herald
