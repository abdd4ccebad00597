// go::RWMutex: readers share, writers exclude (stress with a two-field invariant that TSan
// watches), try_lock / try_lock_shared, the standard guards, a writer is not starved by a
// stream of readers, misuse (fatal), and fibers left blocked when main returns.
#include <atomic>
#include <mutex>
#include <shared_mutex>
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

class RWMutexTest : public gocxx_test::ProcsTest {};

static_assert(!std::is_copy_constructible_v<go::RWMutex>);

TEST(RWMutexBasics, StandardGuardsAndTryLocks) {
  go::RWMutex rw;
  {
    std::shared_lock r1(rw);
    std::shared_lock r2(rw, std::try_to_lock);
    EXPECT_TRUE(r2.owns_lock()) << "readers share";
    EXPECT_FALSE(rw.try_lock()) << "a writer must wait for readers";
  }
  {
    std::lock_guard w(rw);
    EXPECT_FALSE(rw.try_lock_shared());
    EXPECT_FALSE(rw.try_lock());
  }
  {
    std::unique_lock w(rw, std::try_to_lock);
    EXPECT_TRUE(w.owns_lock());
  }
  EXPECT_TRUE(rw.try_lock_shared());
  rw.unlock_shared();
}

TEST(RWMutexBasics, PlainThreadsWithoutAnyRuntime) {
  go::RWMutex rw;
  long a = 0, b = 0;  // invariant under the lock: a == b
  std::atomic<long> bad{0};
  const long per = iterations(5000);
  std::vector<std::thread> ts;
  for (int t = 0; t < 2; ++t)
    ts.emplace_back([&] {
      for (long i = 0; i < per; ++i) {
        std::lock_guard lk(rw);
        ++a;
        ++b;
      }
    });
  for (int t = 0; t < 2; ++t)
    ts.emplace_back([&] {
      for (long i = 0; i < per; ++i) {
        std::shared_lock lk(rw);
        if (a != b) ++bad;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(a, 2 * per);
}

// Readers really share: n readers hold the lock at the same time (each waits inside for the
// others; with exclusive readers this would never finish).
TEST_P(RWMutexTest, ReadersHoldItTogether) {
  run([] {
    go::RWMutex rw;
    const int n = 10;
    std::atomic<int> inside{0}, done{0};
    for (int i = 0; i < n; ++i)
      go([&] {
        {
          std::shared_lock lk(rw);
          ++inside;
          while (inside.load() < n) go::this_fiber::sleep_for(50us);
        }
        ++done;  // after unlocking: main may destroy rw once all are done
      });
    wait_until(done, n);
  });
}

// Writers (fibers and threads) keep a == b; readers check it. Some hold the lock across a
// yield so that the other side really waits.
TEST_P(RWMutexTest, WritersExcludeEverybody) {
  run([] {
    go::RWMutex rw;
    long a = 0, b = 0;
    std::atomic<int> writers_in{0}, readers_in{0}, bad{0}, done{0};
    const long per = iterations(2000);
    auto writer = [&](int id) {
      for (long i = 0; i < per; ++i) {
        std::lock_guard lk(rw);
        if (writers_in.fetch_add(1) != 0 || readers_in.load() != 0) ++bad;
        ++a;
        if (go::this_fiber::in_fiber() && (i + id) % 16 == 0) go::this_fiber::yield();
        ++b;
        writers_in.fetch_sub(1);
      }
      ++done;
    };
    auto reader = [&](int id) {
      for (long i = 0; i < per; ++i) {
        std::shared_lock lk(rw);
        ++readers_in;
        if (writers_in.load() != 0 || a != b) ++bad;
        if (go::this_fiber::in_fiber() && (i + id) % 8 == 0) go::this_fiber::yield();
        --readers_in;
      }
      ++done;
    };
    for (int i = 0; i < 4; ++i) go(writer, i);
    for (int i = 0; i < 8; ++i) go(reader, i);
    std::vector<std::thread> ts;
    ts.emplace_back(writer, 100);
    ts.emplace_back(reader, 101);
    wait_until(done, 14);
    for (auto& t : ts) t.join();
    EXPECT_EQ(bad.load(), 0);
    std::shared_lock lk(rw);
    EXPECT_EQ(a, 5 * per);
  });
}

// Readers overlap without pause (each yields while holding its share, so on any number of Ps
// some reader is always inside). A writer must still get in: once it waits, new readers wait
// behind it. Readers stop only after kMaxRounds each; the writer must get the lock long before
// (with a reader-preferring lock it would get it only after all readers stopped).
TEST_P(RWMutexTest, WriterIsNotStarvedByAStreamOfReaders) {
  run([] {
    go::RWMutex rw;
    constexpr long kMaxRounds = 20000;
    std::atomic<bool> written{false};
    std::atomic<int> readers_done{0};
    std::atomic<long> rounds_when_written{-1};
    std::atomic<long> reader_rounds{0};
    const int readers = 6;
    for (int i = 0; i < readers; ++i)
      go([&] {
        for (long r = 0; r < kMaxRounds && !written.load(); ++r) {
          std::shared_lock lk(rw);
          ++reader_rounds;
          go::this_fiber::yield();
        }
        ++readers_done;
      });
    while (reader_rounds.load() < 100) go::this_fiber::sleep_for(50us);
    std::atomic<int> writer_done{0};
    go([&] {
      {
        std::lock_guard lk(rw);
        rounds_when_written = reader_rounds.load();
        written = true;
      }
      ++writer_done;  // only now may main return and destroy rw
    });
    wait_until(readers_done, readers);
    wait_until(writer_done, 1);
    ASSERT_TRUE(written.load());
    EXPECT_LT(rounds_when_written.load(), readers * kMaxRounds / 2)
        << "the writer got in only after the readers ran out";
  });
}

// A writer that waits (for readers, or for another writer) and readers that wait for a writer.
TEST_P(RWMutexTest, WaitingReadersAndWritersAreServed) {
  run([] {
    go::RWMutex rw;
    std::atomic<int> readers_done{0}, writers_done{0};
    rw.lock_shared();
    go([&] {
      rw.lock();  // waits for our shared lock
      rw.unlock();
      ++writers_done;
    });
    wait_parked("go::RWMutex::lock", 1);
    for (int i = 0; i < 5; ++i)
      go([&] {
        rw.lock_shared();  // waits behind the pending writer
        rw.unlock_shared();
        ++readers_done;
      });
    go([&] {
      rw.lock();  // waits for the first writer (on its inner Mutex)
      rw.unlock();
      ++writers_done;
    });
    wait_parked("go::RWMutex::lock_shared", 5);
    wait_parked("go::Mutex::lock", 1);
    EXPECT_EQ(readers_done.load() + writers_done.load(), 0);
    rw.unlock_shared();
    wait_until(writers_done, 2);
    wait_until(readers_done, 5);
  });
}

// Fibers still blocked when main returns are unwound, and the RWMutex ends up free:
//  - readers and a writer (on the inner Mutex) queued behind a writer that parks holding it;
//  - a writer waiting for a reader that parks holding its share.
// The holders are unwound too and release what they hold in their destructors.
TEST_P(RWMutexTest, FibersBlockedWhenMainReturnsAreUnwound) {
  for (bool writer_holds : {true, false}) {
    go::RWMutex rw;  // outlives go::run
    go::Channel<int> never;
    std::atomic<int> unwound{0}, got{0};
    run([&] {
      go([&] {
        Sentinel s{&unwound};
        if (writer_holds) {
          std::lock_guard lk(rw);
          never.recv();
        } else {
          std::shared_lock lk(rw);
          never.recv();
        }
      });
      wait_parked("chan receive", 1);
      auto reader = [&] {
        Sentinel s{&unwound};
        std::shared_lock lk(rw);
        ++got;
        never.recv();  // whoever gets in stays (until unwound)
      };
      auto writer = [&] {
        Sentinel s{&unwound};
        std::lock_guard lk(rw);
        ++got;
        never.recv();
      };
      if (writer_holds) {
        for (int i = 0; i < 3; ++i) go(reader);
        wait_parked("go::RWMutex::lock_shared", 3);
        go(writer);
        wait_parked("go::Mutex::lock", 1);  // the second writer waits for the first
      } else {
        go(writer);
        wait_parked("go::RWMutex::lock", 1);  // the writer waits for the reader inside
        for (int i = 0; i < 3; ++i) go(reader);
        wait_parked("go::RWMutex::lock_shared", 3);  // new readers wait behind the writer
      }
    });
    EXPECT_EQ(unwound.load(), 5) << "writer_holds=" << writer_holds;
    EXPECT_EQ(got.load(), 0);
    EXPECT_TRUE(rw.try_lock()) << "writer_holds=" << writer_holds << ": left locked";
    rw.unlock();
    EXPECT_TRUE(rw.try_lock_shared());
    rw.unlock_shared();
  }
}

// The last party to hold an RWMutex may destroy it at once, even while the previous holder is
// still inside unlock() / unlock_shared(). Writers and readers contend, so the slow paths run.
// ASan checks.
TEST_P(RWMutexTest, LastHolderMayDestroyItRightAfterUnlock) {
  sync_test::WidenReleaseWindows widen;
  run([] {
    struct Shared {
      go::RWMutex rw;
      std::atomic<int> refs{0};  // dropped while holding rw (shared or exclusive)
    };
    for (long round = 0; round < 300; ++round) {
      auto* obj = new Shared;
      obj->refs = 4;
      std::atomic<int> finished{0};
      auto drop = [obj, &finished](bool writer) {
        bool last;
        if (writer) {
          obj->rw.lock();
          go::this_fiber::yield();
          last = obj->refs.fetch_sub(1) == 1;
          obj->rw.unlock();
        } else {
          obj->rw.lock_shared();
          go::this_fiber::yield();
          last = obj->refs.fetch_sub(1) == 1;
          obj->rw.unlock_shared();
          // Another reader may have dropped its reference but still be inside unlock_shared():
          // holding a shared lock excludes only writers. Taking the lock exclusively waits for
          // every reader's release (what a reference-counted owner has to do, as with Mutex).
          if (last) {
            obj->rw.lock();
            obj->rw.unlock();
          }
        }
        // A writer that was last got in after every reader's release: nobody holds rw now,
        // though the previous holder may still be running on past its release point.
        if (last) delete obj;
        ++finished;
      };
      go(drop, true);
      go(drop, false);
      go(drop, false);
      go(drop, round % 2 == 0);
      wait_until(finished, 4);
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, RWMutexTest, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

TEST(RWMutexDeathTest, MisuseIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        go::RWMutex rw;
        rw.unlock();
      },
      "fatal: sync: Unlock of unlocked RWMutex");
  EXPECT_DEATH(
      {
        go::RWMutex rw;
        rw.unlock_shared();
      },
      "fatal: sync: RUnlock of unlocked RWMutex");
  EXPECT_DEATH(
      {
        go::RWMutex rw;
        rw.lock();
        rw.unlock_shared();
      },
      "fatal: sync: RUnlock of unlocked RWMutex");
  EXPECT_DEATH(
      {
        go::RWMutex rw;
        rw.lock_shared();
        rw.unlock_shared();
        rw.unlock();
      },
      "fatal: sync: Unlock of unlocked RWMutex");
}

}  // namespace
