// go::Mutex: Lockable, mutual exclusion under stress (fibers on several Ps and plain threads,
// a non-atomic counter that TSan watches), try_lock, Go's starvation mode bounding a waiter's
// wait, misuse (fatal), and fibers left blocked when main returns.
#include <atomic>
#include <mutex>
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

class MutexTest : public gocxx_test::ProcsTest {};

// White box: the Mutex's state word (its first member; a standard-layout object and its first
// member are pointer-interconvertible). 0: unlocked, nobody waiting, not starving.
std::int32_t state_of(go::Mutex& m) {
  static_assert(std::is_standard_layout_v<go::Mutex>);
  return reinterpret_cast<std::atomic<std::int32_t>*>(&m)->load();
}

static_assert(!std::is_copy_constructible_v<go::Mutex>);
static_assert(!std::is_move_constructible_v<go::Mutex>);
static_assert(std::is_nothrow_default_constructible_v<go::Mutex>);

TEST(MutexBasics, LockableWithTheStandardGuards) {
  go::Mutex a, b;
  {
    std::lock_guard lk(a);
    EXPECT_FALSE(a.try_lock());
  }
  EXPECT_TRUE(a.try_lock());
  a.unlock();
  {
    std::unique_lock lk(a, std::try_to_lock);
    EXPECT_TRUE(lk.owns_lock());
    std::unique_lock lk2(a, std::try_to_lock);
    EXPECT_FALSE(lk2.owns_lock());
  }
  {
    std::scoped_lock both(a, b);  // std::lock's deadlock avoidance uses try_lock
    EXPECT_FALSE(a.try_lock());
    EXPECT_FALSE(b.try_lock());
  }
  EXPECT_TRUE(a.try_lock());
  EXPECT_TRUE(b.try_lock());
  a.unlock();
  b.unlock();
}

// Another party may unlock (Go allows it; a Mutex is not tied to its locker).
TEST(MutexBasics, UnlockFromAnotherThread) {
  go::Mutex m;
  m.lock();
  std::thread([&] { m.unlock(); }).join();
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

// Plain threads only, no runtime: they sleep on the semaphore's futex words.
TEST(MutexBasics, PlainThreadsWithoutAnyRuntime) {
  go::Mutex m;
  long counter = 0;  // not atomic: the Mutex is what protects it (TSan checks)
  const long per = iterations(20000);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (long i = 0; i < per; ++i) {
        std::lock_guard lk(m);
        ++counter;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, 4 * per);
}

TEST_P(MutexTest, LockWaitsForTheHolder) {
  run([] {
    go::Mutex m;
    std::atomic<int> stage{0};
    m.lock();
    go([&] {
      m.lock();
      stage = 2;
      m.unlock();
    });
    wait_parked("go::Mutex::lock", 1);
    EXPECT_EQ(stage.load(), 0);
    EXPECT_FALSE(m.try_lock());
    stage = 1;
    m.unlock();
    wait_until(stage, 2);
    m.lock();  // free again
    m.unlock();
  });
}

// Many fibers on every P plus plain threads increment a plain long under the Mutex. Some
// yield or sleep while holding it, so the waiters really park (also on one P). An atomic
// "inside" flag catches two holders at once; TSan checks the plain accesses.
TEST_P(MutexTest, MutualExclusionUnderStress) {
  run([] {
    go::Mutex m;
    long counter = 0;
    std::atomic<int> inside{0}, overlaps{0}, done{0};
    const int fibers = 16, threads = 2;
    const long per = iterations(5000);
    auto work = [&](int id) {
      for (long i = 0; i < per; ++i) {
        std::lock_guard lk(m);
        if (inside.fetch_add(1) != 0) ++overlaps;
        ++counter;
        if (go::this_fiber::in_fiber()) {
          if ((i + id) % 64 == 0) go::this_fiber::yield();
          if ((i + id) % 1024 == 0) go::this_fiber::sleep_for(10us);
        }
        inside.fetch_sub(1);
      }
      ++done;
    };
    for (int f = 0; f < fibers; ++f) go(work, f);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) ts.emplace_back(work, 100 + t);
    wait_until(done, fibers + threads);
    for (auto& t : ts) t.join();
    EXPECT_EQ(overlaps.load(), 0);
    std::lock_guard lk(m);
    EXPECT_EQ(counter, (fibers + threads) * per);
  });
}

// The anchors' mutex benchmark shape: many fibers, tiny critical sections, no yields.
TEST_P(MutexTest, ManyFibersTinyCriticalSections) {
  run([] {
    go::Mutex m;
    long counter = 0;
    go::WaitGroup wg;
    const int fibers = 200;
    const long per = iterations(2000);
    wg.add(fibers);
    for (int f = 0; f < fibers; ++f)
      go([&] {
        for (long i = 0; i < per; ++i) {
          m.lock();
          ++counter;
          m.unlock();
        }
        wg.done();
      });
    wg.wait();
    std::lock_guard lk(m);
    EXPECT_EQ(counter, fibers * per);
  });
}

// Go's TestMutexFairness, made deterministic. A hammer fiber holds the Mutex while it sleeps
// 100 us, unlocks and at once locks again: it always wins the race against the woken waiter,
// which without starvation mode would never get the Mutex. With it the waiter, after waiting
// 1 ms, makes the next unlock hand the Mutex to it. Since each hammer round takes at least
// 100 us (sleep_for never returns early), the waiter must get the Mutex within about
// 1 ms / 100 us + 3 rounds, however slow the machine; we allow 40. The waiter is a fiber, then a
// plain thread.
TEST_P(MutexTest, StarvationModeBoundsTheWait) {
  for (bool thread_waiter : {false, true}) {
    run([thread_waiter] {
      go::Mutex m;
      std::atomic<long> rounds{0};
      std::atomic<bool> stop{false};
      std::atomic<int> finished{0};
      constexpr long kMaxRounds = 400;
      go([&] {
        while (!stop.load() && rounds.load() < kMaxRounds) {
          m.lock();
          go::this_fiber::sleep_for(100us);
          m.unlock();
          ++rounds;
        }
        ++finished;
      });
      while (rounds.load() < 2) go::this_fiber::sleep_for(50us);
      long start = 0, got = 0;
      auto waiter = [&] {
        start = rounds.load();
        m.lock();
        got = rounds.load();
        stop = true;
        m.unlock();
      };
      auto waiter_then_finish = [&] {
        waiter();
        ++finished;
      };
      std::thread t;
      if (thread_waiter)
        t = std::thread(waiter_then_finish);
      else
        go(waiter_then_finish);
      wait_until(finished, 2);
      if (t.joinable()) t.join();  // it finished: joining does not block
      EXPECT_LE(got - start, 40) << (thread_waiter ? "thread" : "fiber")
                                 << " waiter got the Mutex only after " << got - start
                                 << " hammer rounds";
      // Starvation mode ended with its last waiter.
      EXPECT_EQ(state_of(m), 0);
      EXPECT_TRUE(m.try_lock());
      m.unlock();
    });
  }
}

// A fiber holds the Mutex across a park: waiters park too, and are served later.
TEST_P(MutexTest, HolderThatParksKeepsOthersOut) {
  run([] {
    go::Mutex m;
    std::vector<int> order;  // guarded by m
    std::atomic<int> done{0};
    m.lock();
    for (int i = 0; i < 8; ++i)
      go([&, i] {
        std::lock_guard lk(m);
        order.push_back(i);
        ++done;
      });
    wait_parked("go::Mutex::lock", 8);
    go::this_fiber::sleep_for(1ms);
    m.unlock();
    wait_until(done, 8);
    std::lock_guard lk(m);
    EXPECT_EQ(order.size(), 8u);
  });
}

// Fibers still blocked on a Mutex when main returns are unwound, leave its queue, and the
// Mutex stays usable: main returns holding it (it never unlocks); then the Mutex is held by a
// fiber that parks with it after its waiters were made to starve.
TEST_P(MutexTest, FibersBlockedWhenMainReturnsAreUnwound) {
  go::Mutex m;  // outlives go::run
  std::atomic<int> unwound{0};
  run([&] {
    m.lock();
    for (int i = 0; i < 5; ++i)
      go([&] {
        Sentinel s{&unwound};
        std::lock_guard lk(m);
        ADD_FAILURE() << "got a Mutex that main never unlocked";
      });
    wait_parked("go::Mutex::lock", 5);
  });
  EXPECT_EQ(unwound.load(), 5);
  EXPECT_EQ(state_of(m), 1) << "locked by main, and nobody counted as waiting";
  m.unlock();  // main's lock: no waiter is left to wake
  EXPECT_TRUE(m.try_lock());
  m.unlock();

  unwound = 0;
  go::Channel<int> never;
  run([&] {
    go([&] {
      Sentinel s{&unwound};
      // Hold the Mutex in 100 us turns, always winning against the woken waiters, so that
      // they starve; then park with it.
      for (int i = 0; i < 30; ++i) {
        std::lock_guard lk(m);
        go::this_fiber::sleep_for(100us);
      }
      std::lock_guard lk(m);
      never.recv();
    });
    for (int i = 0; i < 4; ++i)
      go([&] {
        Sentinel s{&unwound};
        for (;;) {
          {
            std::lock_guard lk(m);
            go::this_fiber::sleep_for(10us);
          }
          go::this_fiber::sleep_for(10us);
        }
      });
    wait_parked("chan receive", 1);
    wait_parked("go::Mutex::lock", 4);
  });
  EXPECT_EQ(unwound.load(), 5);
  EXPECT_EQ(state_of(m), 0);
  EXPECT_TRUE(m.try_lock()) << "the Mutex was left locked or starving";
  m.unlock();
  // And it works in the next go::run.
  run([&] {
    long counter = 0;
    go::WaitGroup wg;
    wg.add(8);
    for (int i = 0; i < 8; ++i)
      go([&] {
        for (int j = 0; j < 1000; ++j) {
          std::lock_guard lk(m);
          ++counter;
        }
        wg.done();
      });
    wg.wait();
    EXPECT_EQ(counter, 8000);
  });
}

// A waiter woken for the Mutex, or handed it in starvation mode, while go::run unwinds the
// fibers at exit (the holder Z is unwound first and unlocks in its destructors) must pass it on,
// not keep it. Z is spawned after F so that its slot is unwound first (go::run walks the
// fibers newest first); in the other order F leaves the queue, which must also work.
TEST_P(MutexTest, WaiterWokenDuringUnwindingPassesTheMutexOn) {
  for (bool starve : {false, true}) {
    go::Mutex m;
    go::Channel<int> never;
    std::atomic<int> unwound{0}, locked{0};
    std::atomic<bool> z_holds{false};
    run([&] {
      go([&] {  // F
        Sentinel s{&unwound};
        while (!z_holds.load()) go::this_fiber::sleep_for(50us);
        std::lock_guard lk(m);
        ++locked;  // only if it wins the window in Z's unlock/lock below (several Ps)
        never.recv();
      });
      go([&] {  // Z
        Sentinel s{&unwound};
        std::unique_lock lk(m);
        z_holds = true;
        wait_parked("go::Mutex::lock", 1);
        if (starve) {
          // F waits > 1 ms, is woken, loses to us, and queues again as starving.
          go::this_fiber::sleep_for(2ms);
          lk.unlock();
          lk.lock();
        }
        never.recv();
      });
      wait_parked("chan receive", 1);     // whoever holds the Mutex
      wait_parked("go::Mutex::lock", 1);  // and the other one
    });
    EXPECT_EQ(unwound.load(), 2);
    if (GetParam() == 1) {
      EXPECT_EQ(locked.load(), 0) << "F got in although Z was running";
    }
    EXPECT_EQ(state_of(m), 0) << "starve=" << starve;
    EXPECT_TRUE(m.try_lock()) << "starve=" << starve << ": the Mutex was left locked or starving";
    m.unlock();
  }
}

// C++ lets the party that locks a Mutex last destroy it at once, even while the previous
// unlocker is still inside unlock() (a reference-counted object holding its own Mutex). The
// parties contend (one holds across a yield), so unlocks take the slow path, which runs on past
// the release point; ASan reports any touch of the freed object.
TEST_P(MutexTest, LastOwnerMayDestroyItRightAfterUnlock) {
  sync_test::WidenReleaseWindows widen;
  run([] {
    struct Shared {
      go::Mutex m;
      int refs = 0;  // guarded by m
    };
    const int parties = 4;
    for (long round = 0; round < 300; ++round) {
      auto* obj = new Shared;
      obj->refs = parties + 1;  // the fibers, and a thread or main
      std::atomic<int> done{0};
      auto drop = [obj, &done](int i) {
        obj->m.lock();
        if (i == 0 && go::this_fiber::in_fiber()) go::this_fiber::yield();
        const bool last = --obj->refs == 0;
        obj->m.unlock();
        if (last) delete obj;
        ++done;
      };
      for (int i = 0; i < parties; ++i) go(drop, i);
      if (round % 16 == 0) {
        std::thread t(drop, parties);  // one more party, a plain thread
        wait_until(done, parties + 1);
        t.join();
      } else {
        obj->m.lock();  // the last reference may also be dropped by main
        const bool last = --obj->refs == 0;
        obj->m.unlock();
        if (last) delete obj;
        wait_until(done, parties);
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, MutexTest, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

TEST(MutexDeathTest, UnlockOfUnlockedMutexIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        go::Mutex m;
        m.unlock();
      },
      "fatal: sync: unlock of unlocked mutex");
  EXPECT_DEATH(
      {
        go::Mutex m;
        m.lock();
        m.unlock();
        m.unlock();
      },
      "fatal: sync: unlock of unlocked mutex");
}

TEST(MutexDeathTest, DestroyedWhileAPartyWaitsIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        alignas(go::Mutex) unsigned char mem[sizeof(go::Mutex)];
        auto* m = ::new (mem) go::Mutex;
        m->lock();
        std::thread([m] { m->lock(); }).detach();
        std::this_thread::sleep_for(100ms);  // the thread is queued by now
        m->~Mutex();
      },
      "fatal: go::Mutex destroyed while fibers or threads wait on it");
}

}  // namespace
