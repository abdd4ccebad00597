// go::blocking: results and exceptions come back, the P keeps running other fibers while a call
// blocks, the pool grows under load and shrinks when idle, plain threads run calls inline, and
// go::run's end never lets a pool thread touch a fiber that is gone.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"
#include "sched/scheduler.h"
#include "test_util.h"

using namespace std::chrono_literals;
using gocxx_test::current_thread;
using gocxx_test::live_fibers;
using gocxx_test::procs;
using gocxx_test::Sentinel;

namespace {

using Clock = std::chrono::steady_clock;

// Plain thread (a pool thread): polls pred until it holds (true) or `limit` passed (false). The
// tests below wait for conditions that only hold if the runtime works; the limit turns a bug
// into a failed expectation instead of a hang.
bool poll_until(const std::function<bool()>& pred, std::chrono::seconds limit = 30s) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(200us);
  }
  return true;
}

// Sets a pool knob for one test and restores it, also when an assertion returns early.
class IdleTimeoutFor {
 public:
  explicit IdleTimeoutFor(std::chrono::nanoseconds d)
      : old_(go::detail::set_blocking_idle_timeout(d)) {}
  ~IdleTimeoutFor() { go::detail::set_blocking_idle_timeout(old_); }

 private:
  std::chrono::nanoseconds old_;
};

class MaxThreadsFor {
 public:
  explicit MaxThreadsFor(int n) : old_(go::detail::set_blocking_max_threads(n)) {}
  ~MaxThreadsFor() { go::detail::set_blocking_max_threads(old_); }

 private:
  int old_;
};

struct CopyCounter {
  std::atomic<int>* copies;
  explicit CopyCounter(std::atomic<int>* c) : copies(c) {}
  CopyCounter(const CopyCounter& o) : copies(o.copies) { ++*copies; }
  CopyCounter(CopyCounter&& o) noexcept : copies(o.copies) {}
  CopyCounter& operator=(const CopyCounter&) = delete;
  CopyCounter& operator=(CopyCounter&&) = delete;
};

struct CustomError {
  int code;
};

class BlockingTest : public gocxx_test::ProcsTest {};

TEST_P(BlockingTest, ReturnsValuesOfSeveralTypes) {
  run([] {
    const int i = go::blocking([] { return 6 * 7; });
    EXPECT_EQ(i, 42);

    const std::string s = go::blocking([](int n) { return std::string(n, 'x'); }, 3);
    EXPECT_EQ(s, "xxx");

    std::unique_ptr<int> p = go::blocking([] { return std::make_unique<int>(7); });
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 7);

    std::atomic<bool> ran{false};
    go::blocking([&ran] { ran = true; });
    static_assert(std::is_void_v<decltype(go::blocking([] {}))>);
    EXPECT_TRUE(ran);

    // A returned reference comes back as a copy.
    static int shared = 5;
    auto r = go::blocking([]() -> int& { return shared; });
    static_assert(std::is_same_v<decltype(r), int>);
    EXPECT_EQ(r, 5);
    r = 6;
    EXPECT_EQ(shared, 5);

    // A large result (bigger than any register pair) survives the trip.
    auto big = go::blocking([] {
      std::vector<int> v(10000);
      for (int k = 0; k < 10000; ++k) v[k] = k;
      return v;
    });
    ASSERT_EQ(big.size(), 10000u);
    EXPECT_EQ(big[9999], 9999);
  });
}

TEST_P(BlockingTest, RunsOnAnotherThread) {
  run([] {
    const std::thread::id before = current_thread();
    const std::thread::id in_job = go::blocking([] { return current_thread(); });
    const std::thread::id after = current_thread();
    EXPECT_NE(in_job, before);
    EXPECT_NE(in_job, after);
  });
}

TEST_P(BlockingTest, ArgumentsAreDecayCopied) {
  run([] {
    std::atomic<int> copies{0};
    CopyCounter c(&copies);
    go::blocking([](const CopyCounter&) {}, c);  // an lvalue: copied into the call once
    EXPECT_EQ(copies.load(), 1);
    go::blocking([](const CopyCounter&) {}, std::move(c));  // an rvalue: moved, not copied
    EXPECT_EQ(copies.load(), 1);

    // The callable works on its own copy: the caller's string is untouched.
    std::string s = "abc";
    const std::string got = go::blocking(
        [](std::string x) {
          x += "def";
          return x;
        },
        s);
    EXPECT_EQ(got, "abcdef");
    EXPECT_EQ(s, "abc");

    // std::ref passes a reference, as with std::thread.
    int n = 1;
    go::blocking([](int& x) { x = 2; }, std::ref(n));
    EXPECT_EQ(n, 2);

    // Move-only arguments and callables.
    auto owned = std::make_unique<int>(9);
    const int v = go::blocking([](std::unique_ptr<int> q) { return *q; }, std::move(owned));
    EXPECT_EQ(v, 9);
    auto held = std::make_unique<int>(11);
    const int w = go::blocking([q = std::move(held)] { return *q; });
    EXPECT_EQ(w, 11);
  });
}

TEST_P(BlockingTest, ExceptionsPropagateWithTheirType) {
  run([] {
    try {
      go::blocking([] { throw std::out_of_range("past the end"); });
      ADD_FAILURE() << "no exception";
    } catch (const std::out_of_range& e) {
      EXPECT_STREQ(e.what(), "past the end");
    }
    try {
      (void)go::blocking([]() -> int { throw CustomError{17}; });
      ADD_FAILURE() << "no exception";
    } catch (const CustomError& e) {
      EXPECT_EQ(e.code, 17);
    }
    EXPECT_THROW(go::blocking([] { throw 3; }), int);
    // The fiber and the pool are fine afterwards.
    EXPECT_EQ(go::blocking([] { return 1; }), 1);
  });
}

// The job waits until another fiber on the same (single) P has counted to 1000: possible only
// if the P runs that fiber while the caller is parked.
TEST_P(BlockingTest, ThePKeepsRunningOtherFibersWhileAJobBlocks) {
  run([] {
    std::atomic<long> count{0};
    std::atomic<bool> stop{false};
    go::WaitGroup wg;
    wg.add(1);
    go([&] {
      while (!stop.load()) {
        ++count;
        go::this_fiber::yield();
      }
      wg.done();
    });
    const bool counted =
        go::blocking([&count] { return poll_until([&] { return count.load() >= 1000; }); });
    // And a blocking job that just sleeps: the counter keeps moving meanwhile.
    const long at_start = count.load();
    go::blocking([] { std::this_thread::sleep_for(50ms); });
    const long during = count.load() - at_start;
    stop = true;
    wg.wait();
    EXPECT_TRUE(counted) << "the other fiber did not run while the job blocked";
    EXPECT_GT(during, 0);
  });
}

// 64 jobs wait for each other: only a pool of at least 64 threads can finish them.
TEST_P(BlockingTest, ThePoolGrowsForConcurrentJobs) {
  run([] {
    constexpr int kJobs = 64;
    std::atomic<int> arrived{0};
    std::atomic<int> all_met{0};
    go::WaitGroup wg;
    for (int i = 0; i < kJobs; ++i) {
      wg.add(1);
      go([&] {
        const bool met = go::blocking([&] {
          ++arrived;
          return poll_until([&] { return arrived.load() >= kJobs; });
        });
        if (met) ++all_met;
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(all_met.load(), kJobs);
    EXPECT_GE(go::detail::blocking_pool_stats().peak_threads, kJobs);
  });
}

TEST_P(BlockingTest, ManySleepingJobsFinishFarFasterThanInSeries) {
  run([] {
    constexpr int kJobs = 64;
    const auto start = Clock::now();
    go::WaitGroup wg;
    for (int i = 0; i < kJobs; ++i) {
      wg.add(1);
      go([&] {
        go::blocking([] { std::this_thread::sleep_for(100ms); });
        wg.done();
      });
    }
    wg.wait();
    // In series: 6.4 s. With the pool: ~0.1 s; the bound leaves room for a loaded machine.
    EXPECT_LT(Clock::now() - start, 3s);
  });
}

TEST_P(BlockingTest, AThousandFibersBlockingAtOnce) {
  run([] {
    const int fibers = static_cast<int>(live_fibers(1000));
    std::atomic<long> sum{0};
    const auto start = Clock::now();
    go::WaitGroup wg;
    for (int i = 0; i < fibers; ++i) {
      wg.add(1);
      go([&, i] {
        sum += go::blocking(
            [](int k) {
              std::this_thread::sleep_for(10ms);
              return k;
            },
            i);
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(sum.load(), static_cast<long>(fibers) * (fibers - 1) / 2);
    // 64 threads: ~0.16 s; in series: 10 s.
    EXPECT_LT(Clock::now() - start, 8s);
  });
}

TEST_P(BlockingTest, CallsFromPlainThreadsRunInline) {
  run([] {
    std::thread::id caller, in_job;
    int got = 0;
    std::thread t([&] {
      caller = std::this_thread::get_id();
      got = go::blocking([&] {
        in_job = std::this_thread::get_id();
        return 5;
      });
    });
    t.join();
    EXPECT_EQ(got, 5);
    EXPECT_EQ(in_job, caller);
  });
}

TEST(Blocking, WorksWithoutARuntime) {
  EXPECT_EQ(go::blocking([](int a, int b) { return a + b; }, 2, 3), 5);
  EXPECT_THROW(go::blocking([] { throw std::runtime_error("x"); }), std::runtime_error);
  std::thread t([] { EXPECT_EQ(go::blocking([] { return std::string("y"); }), "y"); });
  t.join();
}

// The cap bounds the jobs running at once; the others queue and all finish.
TEST_P(BlockingTest, TheCapBoundsConcurrency) {
  MaxThreadsFor cap(2);
  run([] {
    constexpr int kJobs = 8;
    std::atomic<int> now{0}, most{0}, done{0};
    go::WaitGroup wg;
    for (int i = 0; i < kJobs; ++i) {
      wg.add(1);
      go([&] {
        go::blocking([&] {
          const int n = ++now;
          int m = most.load();
          while (n > m && !most.compare_exchange_weak(m, n)) {
          }
          std::this_thread::sleep_for(5ms);
          --now;
        });
        ++done;
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(done.load(), kJobs);
    EXPECT_LE(most.load(), 2);
    EXPECT_GE(most.load(), 1);
  });
}

// Idle threads exit: with a short idle timeout the pool drains back to no thread at all.
TEST_P(BlockingTest, IdleThreadsExit) {
  IdleTimeoutFor idle(20ms);
  run([] {
    constexpr int kJobs = 8;
    std::atomic<int> arrived{0};
    go::WaitGroup wg;
    for (int i = 0; i < kJobs; ++i) {
      wg.add(1);
      go([&] {
        go::blocking([&] {
          ++arrived;
          poll_until([&] { return arrived.load() >= kJobs; });
        });
        wg.done();
      });
    }
    wg.wait();
  });
  const bool drained = poll_until([] {
    const auto s = go::detail::blocking_pool_stats();
    return s.threads == 0 && s.idle == 0 && s.running == 0;
  });
  EXPECT_TRUE(drained) << "threads still alive: " << go::detail::blocking_pool_stats().threads;
  // And the pool starts threads again afterwards.
  run([] { EXPECT_EQ(go::blocking([] { return 3; }), 3); });
}

// Spawns (last, so that go::run unwinds it first: it unwinds the newest fibers first) a fiber
// that parks for good and sets *gate when go::run unwinds it: from then on go::run is past its
// stopping point.
void open_when_unwinding(std::atomic<bool>& gate) {
  go([&gate] {
    struct Opener {
      std::atomic<bool>* gate;
      ~Opener() { *gate = true; }
    } opener{&gate};
    go::detail::park(nullptr, nullptr, "forever");
  });
  gocxx_test::wait_parked("forever", 1);
}

// main returns while a fiber's job runs: go::run waits for the job (it writes into the fiber's
// frame) before it unwinds the fiber, and returns afterwards.
TEST_P(BlockingTest, RunEndingWaitsForARunningJob) {
  std::atomic<int> destroyed{0};
  std::atomic<bool> started{false}, finished{false}, gate{false};
  run([&] {
    go([&] {
      Sentinel s{&destroyed};
      int out = 0;  // in the fiber's frame: the job must not outlive it
      go::blocking([&] {
        started = true;
        // Opened while go::run unwinds; the limit only bounds an unexpected unwinding order.
        poll_until([&] { return gate.load(); }, 10s);
        std::this_thread::sleep_for(20ms);
        out = 1;
        finished = true;
      });
      ADD_FAILURE() << "resumed normally after main returned (out=" << out << ")";
    });
    while (!started.load()) go::this_fiber::sleep_for(1ms);
    open_when_unwinding(gate);
  });
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(destroyed.load(), 1);
}

// main returns while one job runs and four wait behind it (cap 1): the four never run.
TEST_P(BlockingTest, RunEndingDropsJobsNotStarted) {
  MaxThreadsFor cap(1);
  std::atomic<int> destroyed{0}, started{0};
  std::atomic<bool> gate{false};
  constexpr int kFibers = 5;
  run([&] {
    for (int i = 0; i < kFibers; ++i) {
      go([&] {
        Sentinel s{&destroyed};
        go::blocking([&] {
          ++started;
          // Opened once go::run unwinds (below); the limit only bounds a surprising order.
          poll_until([&] { return gate.load(); }, 10s);
        });
        ADD_FAILURE() << "resumed normally after main returned";
      });
    }
    gocxx_test::wait_parked("blocking", kFibers);
    while (started.load() < 1) go::this_fiber::sleep_for(1ms);
    // go::run is past its stopping point once the gate opens: the jobs still queued are
    // dropped, not run.
    open_when_unwinding(gate);
  });
  EXPECT_EQ(started.load(), 1);
  EXPECT_EQ(destroyed.load(), kFibers);
}

// A destructor run while go::run unwinds a fiber may still call go::blocking (inline on M0).
TEST_P(BlockingTest, DestructorsMayCallBlockingWhileUnwinding) {
  std::atomic<int> result{0};
  run([&] {
    go([&] {
      struct Cleanup {
        std::atomic<int>* result;
        ~Cleanup() {
          *result = go::blocking([] { return 42; });
        }
      } cleanup{&result};
      go::detail::park(nullptr, nullptr, "forever");
    });
    gocxx_test::wait_parked("forever", 1);
  });
  EXPECT_EQ(result.load(), 42);
}

INSTANTIATE_TEST_SUITE_P(Procs, BlockingTest, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

// ---------------------------------------------------------------------------------------------
// Stress: many fibers calling go::blocking in loops, and go::run ending at a random moment
// while calls are queued, running and completing.

class BlockingStress : public gocxx_test::StressTest {};

TEST_P(BlockingStress, ManyFibersManyCalls) {
  const int fibers = 16;
  const long calls = scaled(2000);
  std::atomic<long> sum{0};
  run([&] {
    go::WaitGroup wg;
    for (int f = 0; f < fibers; ++f) {
      wg.add(1);
      go([&, f] {
        for (long i = 0; i < calls; ++i) {
          if (i % 3 == 0) go::this_fiber::yield();
          sum += go::blocking([](long a, long b) { return a + b; }, f, i);
        }
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(sum.load(), fibers * calls * (calls - 1) / 2 + calls * (fibers * (fibers - 1) / 2));
}

TEST_P(BlockingStress, RunEndsWhileCallsAreInFlight) {
  const int rounds = 40;  // each round is short: sanitizer builds keep the full count
  const int fibers = 12;
  long total_jobs = 0;
  std::mt19937 rng(12345);
  for (int round = 0; round < rounds; ++round) {
    std::atomic<int> started{0}, destroyed{0};
    std::atomic<long> jobs_ran{0};
    const auto main_for = std::chrono::microseconds(rng() % 3000);
    const unsigned seed = rng();
    run([&] {
      for (int f = 0; f < fibers; ++f) {
        go([&, f] {
          ++started;
          Sentinel s{&destroyed};
          std::mt19937 local(seed + f);
          for (;;) {
            const auto nap = std::chrono::microseconds(local() % 300);
            long frame_local = 0;  // written by the job: must never outlive this frame
            const long got = go::blocking(
                [&frame_local, &jobs_ran, nap](long v) {
                  if (nap.count() > 150) std::this_thread::sleep_for(nap);
                  frame_local = v;
                  ++jobs_ran;
                  return v + 1;
                },
                static_cast<long>(f));
            EXPECT_EQ(got, f + 1);
            EXPECT_EQ(frame_local, f);
          }
        });
      }
      go::this_fiber::sleep_for(main_for);
    });
    // A fiber that never started has its body destroyed without running it.
    ASSERT_EQ(destroyed.load(), started.load()) << "round " << round;
    total_jobs += jobs_ran.load();
  }
  // Every pool thread is done with the calls of the runs above.
  EXPECT_TRUE(poll_until([] { return go::detail::blocking_pool_stats().running == 0; }));
  EXPECT_GT(total_jobs, 0);
}

INSTANTIATE_TEST_SUITE_P(Procs, BlockingStress, ::testing::ValuesIn(gocxx_test::kStressParams),
                         gocxx_test::stress_name);

}  // namespace
