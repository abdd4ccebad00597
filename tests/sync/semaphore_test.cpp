// go::Semaphore: counting (never more holders than units), try_acquire, release(n), first come
// first served, argument errors, fibers and plain threads, and fibers left waiting at exit.
#include <atomic>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"
#include "sema_test_util.h"
#include "test_util.h"

using namespace std::chrono_literals;
using gocxx_test::iterations;
using gocxx_test::Sentinel;
using gocxx_test::wait_parked;
using gocxx_test::wait_until;

namespace {

class SemaphoreTest : public gocxx_test::ProcsTest {};

static_assert(!std::is_copy_constructible_v<go::Semaphore>);
static_assert(!std::is_convertible_v<int, go::Semaphore>, "the constructor is explicit");

TEST(SemaphoreBasics, ArgumentErrors) {
  EXPECT_THROW(go::Semaphore(-1), std::invalid_argument);
  go::Semaphore s(0);
  EXPECT_THROW(s.release(0), std::invalid_argument);
  EXPECT_THROW(s.release(-2), std::invalid_argument);
  EXPECT_FALSE(s.try_acquire()) << "a failed release must not add units";
  go::Semaphore big(std::numeric_limits<std::ptrdiff_t>::max());
  EXPECT_THROW(big.release(1), std::overflow_error);
  EXPECT_TRUE(big.try_acquire());
  big.release(1);
}

TEST(SemaphoreBasics, TryAcquireCountsUnits) {
  go::Semaphore s(2);
  EXPECT_TRUE(s.try_acquire());
  EXPECT_TRUE(s.try_acquire());
  EXPECT_FALSE(s.try_acquire());
  s.release(3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(s.try_acquire());
  EXPECT_FALSE(s.try_acquire());
}

TEST(SemaphoreBasics, PlainThreadsWithoutAnyRuntime) {
  go::Semaphore s(0);
  std::atomic<int> got{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      s.acquire();
      ++got;
    });
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(got.load(), 0);
  s.release(4);
  for (auto& t : ts) t.join();
  EXPECT_EQ(got.load(), 4);
  EXPECT_FALSE(s.try_acquire());
}

// Fibers and threads hold units while they yield or sleep: never more than n at once, and all
// n are used (on one P deterministically; elsewhere at least once).
TEST_P(SemaphoreTest, NeverMoreHoldersThanUnits) {
  run([] {
    constexpr int kUnits = 3;
    go::Semaphore s(kUnits);
    std::atomic<int> inside{0}, peak{0}, done{0};
    const long per = iterations(500);
    auto work = [&] {
      for (long i = 0; i < per; ++i) {
        s.acquire();
        const int now = ++inside;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        if (go::this_fiber::in_fiber())
          go::this_fiber::yield();
        else
          std::this_thread::yield();
        --inside;
        s.release();
      }
      ++done;
    };
    for (int i = 0; i < 12; ++i) go(work);
    std::vector<std::thread> ts;
    for (int i = 0; i < 2; ++i) ts.emplace_back(work);
    wait_until(done, 14);
    for (auto& t : ts) t.join();
    EXPECT_LE(peak.load(), kUnits);
    EXPECT_GE(peak.load(), 1);
    for (int i = 0; i < kUnits; ++i) EXPECT_TRUE(s.try_acquire());
    EXPECT_FALSE(s.try_acquire());
  });
}

// Waiters are served in arrival order, and a newcomer cannot take a unit a waiter was handed.
TEST_P(SemaphoreTest, FirstComeFirstServed) {
  run([] {
    go::Semaphore s(0);
    std::vector<int> order;  // guarded by m
    go::Mutex m;
    std::atomic<int> served{0};
    const int n = 8;
    for (int i = 0; i < n; ++i) {
      go([&, i] {
        s.acquire();
        {
          std::lock_guard lk(m);
          order.push_back(i);
        }
        ++served;
      });
      wait_parked("go::Semaphore::acquire", i + 1);  // queued in this order
    }
    for (int i = 0; i < n; ++i) {
      s.release();
      EXPECT_FALSE(s.try_acquire()) << "the released unit was left for anyone to take";
      wait_until(served, i + 1);
    }
    std::lock_guard lk(m);
    ASSERT_EQ(order.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) EXPECT_EQ(order[i], i);
  });
}

TEST_P(SemaphoreTest, ReleaseNWakesN) {
  run([] {
    go::Semaphore s(0);
    std::atomic<int> got{0};
    for (int i = 0; i < 10; ++i)
      go([&] {
        s.acquire();
        ++got;
      });
    wait_parked("go::Semaphore::acquire", 10);
    s.release(4);
    wait_until(got, 4);
    go::this_fiber::sleep_for(1ms);
    EXPECT_EQ(got.load(), 4);
    EXPECT_EQ(gocxx_test::parked_on("go::Semaphore::acquire"), 6);
    s.release(10);  // 6 waiters, 4 units left over
    wait_until(got, 10);
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(s.try_acquire());
    EXPECT_FALSE(s.try_acquire());
  });
}

// Fibers still waiting at exit leave the queue; one handed a unit during the unwinding (by a
// holder unwound before it) gives it back. Afterwards the count is exactly what was released.
TEST_P(SemaphoreTest, FibersBlockedWhenMainReturnsAreUnwound) {
  go::Semaphore s(0);  // outlives go::run
  go::Channel<int> never;
  std::atomic<int> unwound{0};
  run([&] {
    for (int i = 0; i < 4; ++i)
      go([&] {
        Sentinel sentinel{&unwound};
        s.acquire();
        ADD_FAILURE() << "acquired a unit nobody released";
      });
    go([&] {  // spawned last: unwound first; returns a unit in its destructor
      Sentinel sentinel{&unwound};
      struct Holder {
        go::Semaphore& s;
        ~Holder() { s.release(); }
      } holder{s};
      never.recv();
    });
    wait_parked("chan receive", 1);
    wait_parked("go::Semaphore::acquire", 4);
  });
  EXPECT_EQ(unwound.load(), 5);
  EXPECT_TRUE(s.try_acquire()) << "the holder's unit was lost";
  EXPECT_FALSE(s.try_acquire()) << "the holder's unit was duplicated";
  s.release();
}

// The party that takes the last unit may destroy the Semaphore at once, even while the
// releasing party is still inside release(). ASan checks.
TEST_P(SemaphoreTest, AcquirerMayDestroyItRightAfterAcquire) {
  sync_test::WidenReleaseWindows widen;
  run([] {
    for (long round = 0; round < 300; ++round) {
      auto* s = new go::Semaphore(0);
      std::atomic<int> finished{0};
      go([s, &finished] {
        s->acquire();
        delete s;
        ++finished;
      });
      if (round % 2 == 0) go::this_fiber::yield();  // sometimes it is already queued
      s->release();
      wait_until(finished, 1);
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, SemaphoreTest, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

}  // namespace
