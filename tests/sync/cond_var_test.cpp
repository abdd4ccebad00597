// go::CondVar: no lost wake-ups (ping-pong many times), notify_one wakes exactly one and the
// longest waiter first, notify_all wakes all, wait_for/wait_until time out with the right
// values (and the predicate overloads), timeouts racing with notifications, plain threads,
// misuse, and fibers left waiting when main returns (the Mutex is locked again).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"
#include "test_util.h"

using namespace std::chrono_literals;
using gocxx_test::iterations;
using gocxx_test::Sentinel;
using gocxx_test::wait_parked;
using gocxx_test::wait_until;

namespace {

class CondVarTest : public gocxx_test::ProcsTest {};

static_assert(!std::is_copy_constructible_v<go::CondVar>);

// Two parties take turns through one CondVar and one Mutex (a turn variable): every
// notification must arrive, or the exchange stops. Fibers, threads, and a mix; two threads
// need no runtime (the waits below then sleep the thread).
void ping_pong(bool fiber_a, bool fiber_b, long rounds) {
  go::Mutex m;
  go::CondVar cv;
  long turn = 0;  // guarded by m: even -> A's turn, odd -> B's
  std::atomic<int> done{0};
  auto player = [&](long parity) {
    for (long r = 0; r < rounds; ++r) {
      std::unique_lock lk(m);
      cv.wait(lk, [&] { return turn % 2 == parity; });
      ++turn;
      cv.notify_one();
    }
    ++done;
  };
  std::vector<std::thread> ts;
  if (fiber_a)
    go(player, 0L);
  else
    ts.emplace_back(player, 0L);
  if (fiber_b)
    go(player, 1L);
  else
    ts.emplace_back(player, 1L);
  wait_until(done, 2);
  for (auto& t : ts) t.join();
  std::lock_guard lk(m);
  EXPECT_EQ(turn, 2 * rounds);
}

TEST(CondVarBasics, PingPongBetweenPlainThreadsWithoutAnyRuntime) {
  ping_pong(false, false, iterations(20000));
}

TEST(CondVarBasics, WaitForTimesOutOnAPlainThread) {
  go::Mutex m;
  go::CondVar cv;
  std::unique_lock lk(m);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(cv.wait_for(lk, 5ms), std::cv_status::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);
  EXPECT_TRUE(lk.owns_lock());
  EXPECT_FALSE(cv.wait_for(lk, 1ms, [] { return false; }));
  EXPECT_TRUE(cv.wait_for(lk, 1h, [] { return true; }));
  EXPECT_EQ(cv.wait_until(lk, std::chrono::steady_clock::now() - 1s), std::cv_status::timeout);
  EXPECT_EQ(cv.wait_until(lk, std::chrono::system_clock::now() + 2ms), std::cv_status::timeout);
  EXPECT_EQ(cv.wait_for(lk, 0ns), std::cv_status::timeout);
  EXPECT_EQ(cv.wait_for(lk, -5s), std::cv_status::timeout);
  EXPECT_EQ(cv.wait_for(lk, std::chrono::duration<double, std::milli>(1.5)),
            std::cv_status::timeout);
  EXPECT_TRUE(lk.owns_lock());
}

TEST_P(CondVarTest, PingPongFibers) {
  run([] { ping_pong(true, true, iterations(20000)); });
}

TEST_P(CondVarTest, PingPongFiberAndThread) {
  run([] {
    ping_pong(true, false, iterations(5000));
    ping_pong(false, true, iterations(5000));
  });
}

// n parties wait in a known order; each notify_one wakes exactly the longest waiter, and only
// it: we check after each one that no other waiter left.
TEST_P(CondVarTest, NotifyOneWakesExactlyTheLongestWaiter) {
  run([] {
    go::Mutex m;
    go::CondVar cv;
    const int n = 6;
    std::vector<int> order;  // guarded by m
    std::atomic<int> woken{0};
    for (int i = 0; i < n; ++i) {
      go([&, i] {
        {
          std::unique_lock lk(m);
          cv.wait(lk);
          order.push_back(i);
        }
        ++woken;
      });
      wait_parked("go::CondVar::wait", i + 1);
    }
    for (int k = 1; k <= n; ++k) {
      cv.notify_one();
      wait_until(woken, k);
      go::this_fiber::sleep_for(500us);  // room for a wrong second wake-up to show
      EXPECT_EQ(woken.load(), k) << "notify_one woke more than one";
      EXPECT_EQ(gocxx_test::parked_on("go::CondVar::wait"), n - k);
    }
    std::lock_guard lk(m);
    ASSERT_EQ(order.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) EXPECT_EQ(order[i], i);
    cv.notify_one();  // nobody waits: a no-op
  });
}

TEST_P(CondVarTest, NotifyAllWakesEveryWaiter) {
  run([] {
    go::Mutex m;
    go::CondVar cv;
    bool go_on = false;  // guarded by m
    std::atomic<int> woken{0};
    const int fibers = 50, threads = 2;
    auto waiter = [&] {
      {
        std::unique_lock lk(m);
        cv.wait(lk, [&] { return go_on; });
      }
      ++woken;  // after unlocking: main may destroy m and cv once all are woken
    };
    for (int i = 0; i < fibers; ++i) go(waiter);
    std::vector<std::thread> ts;
    for (int i = 0; i < threads; ++i) ts.emplace_back(waiter);
    wait_parked("go::CondVar::wait", fibers);
    std::this_thread::sleep_for(5ms);  // the threads are waiting too (no check possible)
    {
      std::lock_guard lk(m);
      go_on = true;
    }
    cv.notify_all();
    wait_until(woken, fibers + threads);
    for (auto& t : ts) t.join();
  });
}

TEST_P(CondVarTest, WaitForTimesOutInAFiber) {
  run([] {
    go::Mutex m;
    go::CondVar cv;
    std::unique_lock lk(m);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(cv.wait_for(lk, 3ms), std::cv_status::timeout);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 3ms);
    EXPECT_TRUE(lk.owns_lock());
    EXPECT_FALSE(cv.wait_for(lk, 1ms, [] { return false; }));
    EXPECT_EQ(cv.wait_for(lk, 0ns), std::cv_status::timeout);
    EXPECT_EQ(cv.wait_until(lk, std::chrono::steady_clock::now() + 1ms), std::cv_status::timeout);
    // While the fiber waits the Mutex is free.
    std::atomic<bool> got{false};
    go([&] {
      std::lock_guard g(m);
      got = true;
    });
    EXPECT_EQ(cv.wait_for(lk, 20ms), std::cv_status::timeout);
    EXPECT_TRUE(got.load());
  });
}

// A timed waiter notified well before its deadline returns no_timeout; the predicate overload
// returns true.
TEST_P(CondVarTest, WaitForReturnsNoTimeoutWhenNotified) {
  run([] {
    go::Mutex m;
    go::CondVar cv;
    bool flag = false;  // guarded by m
    std::atomic<int> results{0};
    go([&] {
      std::unique_lock lk(m);
      if (cv.wait_for(lk, 1h) == std::cv_status::no_timeout) ++results;
      const bool second = cv.wait_for(lk, 1h, [&] { return flag; });
      lk.unlock();
      if (second) ++results;  // after unlocking: main may return then
    });
    wait_parked("go::CondVar::wait", 1);
    cv.notify_one();
    while (gocxx_test::parked_on("go::CondVar::wait") < 1 && results.load() < 1)
      go::this_fiber::sleep_for(100us);
    wait_parked("go::CondVar::wait", 1);
    {
      std::lock_guard lk(m);
      flag = true;
    }
    cv.notify_all();
    wait_until(results, 2);
  });
}

// The race the claim protocol is for: timed waiters whose deadlines expire just as notify_one
// is called. A notification goes to exactly one party: a timed waiter (which then reports
// no_timeout) or, failing that, the untimed waiter queued behind them. Never to a party that
// reports a timeout (it would be swallowed), never to two. So each round, after k
// notifications: if fewer than k timed waiters were notified, the untimed one must have been
// woken (else the watchdog fires); if all k were, it must still be waiting.
TEST_P(CondVarTest, TimeoutsRacingWithNotifications) {
  run([] {
    go::Mutex m;
    go::CondVar cv;
    const long rounds = iterations(300);
    for (long round = 0; round < rounds; ++round) {
      const int k = 3;
      std::atomic<int> registered{0}, notified{0}, timed_out{0};
      std::atomic<bool> untimed_woken{false};
      for (int i = 0; i < k; ++i)
        go([&, i] {
          std::unique_lock lk(m);
          ++registered;
          const std::cv_status st = cv.wait_for(lk, std::chrono::microseconds(50 + 40 * i));
          lk.unlock();  // before reporting: main may return after the last round
          if (st == std::cv_status::no_timeout)
            ++notified;
          else
            ++timed_out;
        });
      go([&] {
        std::unique_lock lk(m);
        ++registered;
        cv.wait(lk);
        lk.unlock();
        untimed_woken = true;
      });
      // Each registered under m and was queued before it released m: once we get m, all are
      // queued (or already timed out).
      while (registered.load() < k + 1) go::this_fiber::yield();
      { std::lock_guard lk(m); }
      for (int i = 0; i < k; ++i) {
        go::this_fiber::sleep_for(std::chrono::microseconds(20 * ((round + i) % 5)));
        cv.notify_one();
      }
      while (notified.load() + timed_out.load() < k) go::this_fiber::sleep_for(20us);
      ASSERT_LE(notified.load(), k);
      if (notified.load() < k) {
        while (!untimed_woken.load()) go::this_fiber::sleep_for(20us);  // else: the watchdog
      } else {
        go::this_fiber::sleep_for(200us);
        EXPECT_FALSE(untimed_woken.load()) << "round " << round << ": a double wake-up";
        cv.notify_one();
        while (!untimed_woken.load()) go::this_fiber::sleep_for(20us);
      }
    }
  });
}

// Fibers waiting when main returns are unwound: they leave the CondVar's queue, and each locks
// the Mutex again before its destructors run (the Sentinel after the unique_lock checks it).
TEST_P(CondVarTest, FibersBlockedWhenMainReturnsAreUnwound) {
  go::Mutex m;  // both outlive go::run
  go::CondVar cv;
  std::atomic<int> unwound{0}, relocked{0};
  struct CheckLock {
    std::unique_lock<go::Mutex>& lk;
    std::atomic<int>& relocked;
    ~CheckLock() {
      if (lk.owns_lock()) ++relocked;
    }
  };
  run([&] {
    for (int i = 0; i < 4; ++i)
      go([&, i] {
        Sentinel s{&unwound};
        std::unique_lock lk(m);
        CheckLock check{lk, relocked};
        if (i % 2 == 0)
          cv.wait(lk);
        else
          cv.wait_for(lk, 1h);
        ADD_FAILURE() << "woken without a notification";
      });
    wait_parked("go::CondVar::wait", 4);
  });
  EXPECT_EQ(unwound.load(), 4);
  EXPECT_EQ(relocked.load(), 4);
  EXPECT_TRUE(m.try_lock());
  m.unlock();
  cv.notify_all();  // nobody is left in the queue (a dead fiber's Waiter would crash: ASan)
  // And they work in the next go::run.
  run([&] { ping_pong(true, true, 100); });
}

INSTANTIATE_TEST_SUITE_P(Procs, CondVarTest, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

TEST(CondVarDeathTest, WaitWithoutTheLockIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        go::Mutex m;
        go::CondVar cv;
        std::unique_lock lk(m, std::defer_lock);
        cv.wait(lk);
      },
      "fatal: go::CondVar::wait: the unique_lock does not hold its Mutex");
}

TEST(CondVarDeathTest, DestroyedWhileAPartyWaitsIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto* m = new go::Mutex;
        auto* cv = new go::CondVar;
        std::thread([m, cv] {
          std::unique_lock lk(*m);
          cv->wait(lk);
        }).detach();
        std::this_thread::sleep_for(100ms);
        delete cv;
      },
      "fatal: go::CondVar destroyed while fibers or threads wait on it");
}

}  // namespace
