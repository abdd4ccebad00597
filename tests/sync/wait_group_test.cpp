// go::WaitGroup: API.md's clauses and Go's semantics: wait returns at zero, many concurrent
// waiters (fibers and plain threads), reuse round after round (also the reuse Go forbids),
// the negative counter error, and fibers left waiting when main returns.
#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"
#include "sema_test_util.h"
#include "test_util.h"

using namespace std::chrono_literals;
using gocxx_test::iterations;
using gocxx_test::live_fibers;
using gocxx_test::Sentinel;
using gocxx_test::wait_parked;
using gocxx_test::wait_until;

namespace {

class WaitGroupTest : public gocxx_test::ProcsTest {};

// White box: the state word (first member: counter << 32 | waiting parties).
std::uint64_t state_of(go::WaitGroup& wg) {
  static_assert(std::is_standard_layout_v<go::WaitGroup>);
  return reinterpret_cast<std::atomic<std::uint64_t>*>(&wg)->load();
}

static_assert(!std::is_copy_constructible_v<go::WaitGroup>);

TEST(WaitGroupBasics, WaitOnZeroReturnsAtOnce) {
  go::WaitGroup wg;
  wg.wait();
  wg.add(2);
  wg.done();
  wg.add(-1);
  wg.wait();
}

TEST(WaitGroupBasics, NegativeCounterThrowsAndLeavesTheCounterAlone) {
  go::WaitGroup wg;
  try {
    wg.done();
    FAIL() << "done() on a zero counter did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "sync: negative WaitGroup counter");
  }
  wg.add(2);
  EXPECT_THROW(wg.add(-3), std::logic_error);
  wg.done();  // the counter is still 2
  std::atomic<bool> released{false};
  std::thread t([&] {
    wg.wait();
    released = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(released.load()) << "wait() returned with the counter at 1";
  wg.done();
  t.join();
  EXPECT_TRUE(released.load());
  EXPECT_THROW(wg.done(), std::logic_error);
}

TEST(WaitGroupBasics, CounterOverflowThrows) {
  go::WaitGroup wg;
  wg.add(std::numeric_limits<std::int32_t>::max());
  EXPECT_THROW(wg.add(1), std::overflow_error);
  wg.add(-std::numeric_limits<std::int32_t>::max());
  wg.wait();
}

// Plain threads only, no runtime.
TEST(WaitGroupBasics, PlainThreadsWithoutAnyRuntime) {
  go::WaitGroup wg;
  std::atomic<int> work{0};
  std::vector<std::thread> waiters, workers;
  wg.add(4);
  for (int i = 0; i < 3; ++i)
    waiters.emplace_back([&] {
      wg.wait();
      EXPECT_EQ(work.load(), 4);
    });
  for (int i = 0; i < 4; ++i)
    workers.emplace_back([&] {
      std::this_thread::sleep_for(5ms);
      ++work;
      wg.done();
    });
  for (auto& t : workers) t.join();
  for (auto& t : waiters) t.join();
}

TEST_P(WaitGroupTest, WaitReturnsOnlyAtZero) {
  run([] {
    go::WaitGroup wg;
    std::atomic<int> stage{0};
    wg.add(3);
    go([&] {
      wg.wait();
      stage = 1;
    });
    wait_parked("go::WaitGroup::wait", 1);
    wg.done();
    wg.done();
    go::this_fiber::sleep_for(1ms);
    EXPECT_EQ(stage.load(), 0) << "released with the counter at 1";
    wg.done();
    wait_until(stage, 1);
  });
}

// Many fibers and plain threads wait at once; all are released by the last done(), and each
// sees every task's work (a plain int written by the tasks: TSan checks the happens-before).
TEST_P(WaitGroupTest, ManyWaitersAreAllReleased) {
  run([] {
    const int tasks = 20, fiber_waiters = static_cast<int>(live_fibers(500)), thread_waiters = 3;
    go::WaitGroup wg;
    std::vector<int> results(tasks, 0);
    std::atomic<int> released{0}, bad{0};
    wg.add(tasks);
    auto waiter = [&] {
      wg.wait();
      for (int i = 0; i < tasks; ++i)
        if (results[i] != i + 1) ++bad;
      ++released;
    };
    for (int i = 0; i < fiber_waiters; ++i) go(waiter);
    std::vector<std::thread> ts;
    for (int i = 0; i < thread_waiters; ++i) ts.emplace_back(waiter);
    wait_parked("go::WaitGroup::wait", fiber_waiters);
    EXPECT_EQ(released.load(), 0);
    for (int i = 0; i < tasks; ++i)
      go([&, i] {
        go::this_fiber::sleep_for(std::chrono::microseconds(10 * i));
        results[i] = i + 1;
        wg.done();
      });
    wait_until(released, fiber_waiters + thread_waiters);
    for (auto& t : ts) t.join();
    EXPECT_EQ(bad.load(), 0);
  });
}

// Go's TestWaitGroup: the same two WaitGroups reused for many rounds; wg2 must hold its
// waiters until the last done(), never release them early.
TEST_P(WaitGroupTest, ReusedRoundAfterRound) {
  run([] {
    go::WaitGroup wg1, wg2;
    const int n = 16;
    for (long round = 0; round < iterations(200); ++round) {
      wg1.add(n);
      wg2.add(n);
      std::atomic<int> exited{0};
      for (int i = 0; i < n; ++i)
        go([&] {
          wg1.done();
          wg2.wait();
          ++exited;
        });
      wg1.wait();
      for (int i = 0; i < n; ++i) {
        ASSERT_EQ(exited.load(), 0) << "WaitGroup released group too soon (round " << round << ")";
        wg2.done();
      }
      wait_until(exited, n);
    }
  });
}

// The reuse Go forbids: the next round's add() comes before the previous round's waiters ran.
// Those waiters are still released (they were counted in their round), and the next round's
// waiter is not.
TEST_P(WaitGroupTest, NextRoundMayStartBeforeTheWaitersRan) {
  run([] {
    go::WaitGroup wg;
    for (long round = 0; round < iterations(300); ++round) {
      std::atomic<int> old_released{0};
      std::atomic<bool> new_released{false};
      wg.add(1);
      for (int i = 0; i < 4; ++i)
        go([&] {
          wg.wait();
          ++old_released;
        });
      wait_parked("go::WaitGroup::wait", 4);
      wg.done();  // releases the four (they may not have run yet) ...
      wg.add(1);  // ... and starts the next round at once
      go([&] {
        wg.wait();
        new_released = true;
      });
      wait_until(old_released, 4);
      wait_parked("go::WaitGroup::wait", 1);
      EXPECT_FALSE(new_released.load());
      wg.done();
      while (!new_released.load()) go::this_fiber::sleep_for(50us);
    }
  });
}

// done() from many Ps at once, with waiters on the way in: nothing lost, nothing early.
TEST_P(WaitGroupTest, ConcurrentDoneAndWait) {
  run([] {
    for (long round = 0; round < iterations(100); ++round) {
      go::WaitGroup wg;
      const int tasks = 32;
      std::atomic<int> finished{0}, early{0}, released{0};
      wg.add(tasks);
      for (int i = 0; i < tasks; ++i) {
        go([&] {
          ++finished;
          wg.done();
        });
        if (i % 8 == 0)
          go([&] {
            wg.wait();
            if (finished.load() != tasks) ++early;
            ++released;
          });
      }
      wg.wait();
      EXPECT_EQ(finished.load(), tasks);
      wait_until(released, 4);
      EXPECT_EQ(early.load(), 0);
    }
  });
}

// Fibers still waiting when main returns are unwound and uncount themselves: afterwards the
// WaitGroup has no waiters, its counter is untouched, and it works in the next go::run.
TEST_P(WaitGroupTest, FibersBlockedWhenMainReturnsAreUnwound) {
  go::WaitGroup wg;  // outlives go::run
  std::atomic<int> unwound{0};
  run([&] {
    wg.add(1);
    for (int i = 0; i < 6; ++i)
      go([&] {
        Sentinel s{&unwound};
        wg.wait();
        ADD_FAILURE() << "released with the counter at 1";
      });
    wait_parked("go::WaitGroup::wait", 6);
  });
  EXPECT_EQ(unwound.load(), 6);
  EXPECT_EQ(state_of(wg), std::uint64_t{1} << 32) << "counter 1, nobody counted as waiting";
  wg.done();  // no waiter is left to wake (one would be a dead fiber's stack: ASan)
  wg.wait();
  run([&] {
    std::atomic<int> released{0};
    wg.add(1);
    for (int i = 0; i < 3; ++i)
      go([&] {
        wg.wait();
        ++released;
      });
    wait_parked("go::WaitGroup::wait", 3);
    wg.done();
    wait_until(released, 3);
  });
}

// The waiter may destroy the WaitGroup as soon as wait() returns, even while the last done()
// is still inside add() (with a second waiter, that done() takes the slow path). ASan checks.
TEST_P(WaitGroupTest, WaiterMayDestroyItRightAfterWait) {
  sync_test::WidenReleaseWindows widen;
  run([] {
    for (long round = 0; round < 300; ++round) {
      auto* wg = new go::WaitGroup;
      std::atomic<int> finished{0};
      const int tasks = 3;
      wg->add(tasks + 1);
      for (int i = 0; i < tasks; ++i)
        go([wg, &finished] {
          wg->done();
          ++finished;
        });
      auto* gate = new go::WaitGroup;  // a second waiter, released by the first round
      gate->add(1);
      go([wg, gate, &finished] {
        wg->wait();  // parks: the last done() must wake it
        gate->done();
        ++finished;
      });
      if (round % 2 == 0) go::this_fiber::yield();
      wg->done();
      wg->wait();
      gate->wait();  // the second waiter returned from wg->wait() too: wg is unused now
      delete wg;
      delete gate;
      wait_until(finished, tasks + 1);
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, WaitGroupTest, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

TEST(WaitGroupDeathTest, DestroyedWhileAPartyWaitsIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto* wg = new go::WaitGroup;
        wg->add(1);
        std::thread([wg] { wg->wait(); }).detach();
        std::this_thread::sleep_for(100ms);
        delete wg;
      },
      "fatal: go::WaitGroup destroyed while fibers or threads wait on it");
}

}  // namespace
