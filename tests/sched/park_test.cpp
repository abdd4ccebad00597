// park/ready, the primitive everything blocks on: stress tests that would catch a lost wake-up
// (the run times out and dumps the fibers) or a double resume (ready() aborts), across Ps and
// from plain threads. Run under TSan by scripts/test.sh.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <semaphore>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"
#include "sched/scheduler.h"
#include "sched/spinlock.h"
#include "test_util.h"

using namespace std::chrono_literals;
using go::detail::G;
using gocxx_test::procs;
using gocxx_test::wait_for;

namespace {

using go::detail::SpinLock;

// A one-slot semaphore on park/ready, built the way src/sync builds its primitives: the waiter
// publishes itself only from park's unlock callback, i.e. after it has switched out.
class Baton {
 public:
  // Fiber only.
  void wait() {
    mu_.lock();
    if (posted_) {
      posted_ = false;
      mu_.unlock();
      return;
    }
    go::detail::park(
        [](G* g, void* self) {
          auto* b = static_cast<Baton*>(self);
          b->waiter_ = g;
          b->mu_.unlock();
          return true;
        },
        this, "baton");
  }
  // Any thread.
  void post() {
    mu_.lock();
    if (G* g = waiter_) {
      waiter_ = nullptr;
      mu_.unlock();
      go::detail::ready(g);
      return;
    }
    posted_ = true;
    mu_.unlock();
  }

 private:
  SpinLock mu_;
  G* waiter_ = nullptr;  // guarded by mu_
  bool posted_ = false;  // guarded by mu_
};

// These stress tests call go::run themselves, without a Watchdog: wait_for reports a lost
// wake-up, after a limit longer than its default (the rounds below may take that long).
class ParkStress : public gocxx_test::StressTest {};
constexpr auto kStressLimit = 300s;

// Pairs of fibers hand a baton back and forth: every hand-off is one park and one ready.
TEST_P(ParkStress, PingPongPairsNeverLoseAWakeUp) {
  const int pairs = 8;
  const long rounds = scaled(200000);
  std::atomic<long> finished{0};
  go::run(
      [&] {
        std::vector<std::unique_ptr<Baton[]>> batons;
        for (int i = 0; i < pairs; ++i) {
          batons.push_back(std::make_unique<Baton[]>(2));
          Baton* b = batons.back().get();
          go([b, rounds, &finished] {
            for (long r = 0; r < rounds; ++r) {
              b[0].wait();
              b[1].post();
            }
            finished.fetch_add(1);
          });
          go([b, rounds, &finished] {
            for (long r = 0; r < rounds; ++r) {
              b[0].post();
              b[1].wait();
            }
            finished.fetch_add(1);
          });
        }
        wait_for(finished, 2 * pairs, kStressLimit);
      },
      cfg());
  EXPECT_EQ(finished.load(), 2 * pairs);
}

// Plain threads ready fibers (the global-queue path) and wait for them on std semaphores.
TEST_P(ParkStress, PlainThreadsWakeFibers) {
  const int n = 4;
  const long rounds = scaled(50000);
  std::atomic<long> finished{0};
  go::run(
      [&] {
        std::vector<std::unique_ptr<Baton>> batons;
        std::vector<std::unique_ptr<std::binary_semaphore>> acks;
        for (int i = 0; i < n; ++i) {
          batons.push_back(std::make_unique<Baton>());
          acks.push_back(std::make_unique<std::binary_semaphore>(0));
          go([b = batons.back().get(), a = acks.back().get(), rounds, &finished] {
            for (long r = 0; r < rounds; ++r) {
              b->wait();
              a->release();
            }
            finished.fetch_add(1);
          });
        }
        std::vector<std::thread> threads;
        for (int i = 0; i < n; ++i)
          threads.emplace_back([b = batons[i].get(), a = acks[i].get(), rounds] {
            for (long r = 0; r < rounds; ++r) {
              b->post();
              a->acquire();  // blocks this plain thread, not a P
            }
          });
        wait_for(finished, n, kStressLimit);
        for (auto& t : threads) t.join();
      },
      cfg());
  EXPECT_EQ(finished.load(), n);
}

// Many fibers wake each other in a ring while others yield: wakes race with every queue path.
TEST_P(ParkStress, RingOfFibersWithYieldersAround) {
  const int ring = 64;
  const long laps = scaled(5000);
  std::atomic<long> finished{0};
  std::atomic<bool> stop{false};
  go::run(
      [&] {
        auto batons = std::make_unique<Baton[]>(ring);
        Baton* b = batons.get();
        for (int i = 0; i < ring; ++i)
          go([b, i, laps, ring, &finished] {
            for (long l = 0; l < laps; ++l) {
              if (i != 0 || l != 0) b[i].wait();
              b[(i + 1) % ring].post();
            }
            finished.fetch_add(1);
          });
        for (int i = 0; i < 4; ++i)
          go([&stop] {
            while (!stop.load()) go::this_fiber::yield();
          });
        wait_for(finished, ring, kStressLimit);
        stop = true;
        b[0].wait();  // the last lap's post to fiber 0
      },
      cfg());
  EXPECT_EQ(finished.load(), ring);
}

INSTANTIATE_TEST_SUITE_P(Procs, ParkStress, ::testing::ValuesIn(gocxx_test::kStressParams),
                         gocxx_test::stress_name);

TEST(Park, UnlockReturningFalseCancelsThePark) {
  bool resumed = false;
  go::run(
      [&] {
        go::detail::park([](G*, void*) { return false; }, nullptr, "cancelled");
        resumed = true;
      },
      procs(1));
  EXPECT_TRUE(resumed);
}

TEST(Park, ReasonShowsInTheDump) {
  std::string dump;
  go::run(
      [&] {
        Baton b;
        go([&] { b.wait(); });
        go::this_fiber::sleep_for(5ms);
        std::ostringstream out;
        go::dump_fibers(out);
        dump = out.str();
        b.post();
      },
      procs(2));
  EXPECT_NE(dump.find("[parked: baton]"), std::string::npos) << dump;
}

TEST(ParkDeath, DoubleReadyIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(go::run(
                   [] {
                     static std::atomic<G*> parked{nullptr};
                     go([] {
                       go::detail::park(
                           [](G* g, void*) {
                             parked = g;
                             return true;
                           },
                           nullptr, "victim");
                     });
                     while (parked.load() == nullptr) go::this_fiber::yield();
                     go::detail::ready(parked);
                     go::detail::ready(parked);  // one P: the victim has not run in between
                   },
                   procs(1)),
               "double wake-up");
}

TEST(ParkDeath, ParkOutsideAFiberIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(go::detail::park(nullptr, nullptr, "nowhere"), "park called outside a fiber");
}

}  // namespace
