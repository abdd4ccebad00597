// go::Once: exactly once, concurrent callers wait for the first call to finish and see its
// effects, Go's semantics for a throwing f, any callable, and callers left waiting at exit.
#include <atomic>
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

class OnceTest : public gocxx_test::ProcsTest {};

static_assert(!std::is_copy_constructible_v<go::Once>);

int free_calls = 0;
void count_a_call() {
  ++free_calls;
}

TEST(OnceBasics, RunsExactlyOnceAndTakesAnyCallable) {
  go::Once once;
  int calls = 0;
  auto f = [&] { ++calls; };
  once.call(f);
  once.call(f);
  once.call([&] { ++calls; });
  EXPECT_EQ(calls, 1);

  struct MoveOnly {
    int* calls;
    std::unique_ptr<int> p = std::make_unique<int>(1);
    void operator()() && { *calls += *p; }  // callable as an rvalue only
  };
  go::Once once2;
  once2.call(MoveOnly{&calls});
  EXPECT_EQ(calls, 2);

  struct ConstCallable {
    int* calls;
    void operator()() const { ++*calls; }
  };
  const ConstCallable cc{&calls};
  go::Once once3;
  once3.call(cc);
  EXPECT_EQ(calls, 3);

  go::Once once4;
  once4.call(+[] {});  // a function pointer
  go::Once once5;
  free_calls = 0;
  once5.call(count_a_call);  // a function
  once5.call(count_a_call);
  EXPECT_EQ(free_calls, 1);
}

// Go: "if f panics, Do considers it to have returned; future calls of Do return without
// calling f". The exception reaches the caller that ran f.
TEST(OnceBasics, ThrowingFunctionCountsAsDone) {
  go::Once once;
  int calls = 0;
  EXPECT_THROW(once.call([&] {
    ++calls;
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  once.call([&] { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(OnceBasics, PlainThreadsWithoutAnyRuntime) {
  go::Once once;
  std::atomic<int> calls{0};
  int value = 0;  // written by f, read by every caller afterwards (TSan checks the order)
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int i = 0; i < 6; ++i)
    ts.emplace_back([&] {
      once.call([&] {
        std::this_thread::sleep_for(5ms);
        value = 42;
        ++calls;
      });
      if (value != 42) ++bad;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(bad.load(), 0);
}

// Concurrent callers (fibers on every P and threads) all return only after f finished, and
// see what it wrote; f runs once.
TEST_P(OnceTest, ConcurrentCallersWaitForTheFirst) {
  run([] {
    for (long round = 0; round < iterations(50); ++round) {
      go::Once once;
      std::atomic<int> calls{0}, done{0}, bad{0};
      long value = 0;  // plain: the Once orders it
      auto caller = [&] {
        once.call([&] {
          if (go::this_fiber::in_fiber())
            go::this_fiber::sleep_for(200us);  // the others pile up meanwhile
          else
            std::this_thread::sleep_for(200us);
          value = round + 1;
          ++calls;
        });
        if (value != round + 1) ++bad;
        ++done;
      };
      const int fibers = 20, threads = (round % 10 == 0) ? 2 : 0;
      for (int i = 0; i < fibers; ++i) go(caller);
      std::vector<std::thread> ts;
      for (int i = 0; i < threads; ++i) ts.emplace_back(caller);
      wait_until(done, fibers + threads);
      for (auto& t : ts) t.join();
      EXPECT_EQ(calls.load(), 1);
      EXPECT_EQ(bad.load(), 0);
    }
  });
}

TEST_P(OnceTest, CallersWaitingWhileFThrowsReturnWithoutRunning) {
  run([] {
    go::Once once;
    std::atomic<int> calls{0}, threw{0}, returned{0};
    for (int i = 0; i < 5; ++i)
      go([&] {
        try {
          once.call([&] {
            ++calls;
            go::this_fiber::sleep_for(1ms);
            throw std::runtime_error("boom");
          });
          ++returned;
        } catch (const std::runtime_error&) {
          ++threw;
        }
      });
    while (returned.load() + threw.load() < 5) go::this_fiber::sleep_for(100us);
    EXPECT_EQ(returned.load(), 4);
    EXPECT_EQ(threw.load(), 1);
    EXPECT_EQ(calls.load(), 1);
  });
}

// A fiber unwound at exit while inside f leaves the Once not done (f did not finish), and the
// callers waiting behind it leave cleanly; a later go::run runs f.
TEST_P(OnceTest, UnwoundInsideFLeavesItNotDone) {
  go::Once once;  // outlives go::run
  go::Channel<int> never;
  std::atomic<int> unwound{0}, calls{0};
  run([&] {
    go([&] {
      Sentinel s{&unwound};
      once.call([&] {
        ++calls;
        never.recv();
      });
    });
    wait_parked("chan receive", 1);
    for (int i = 0; i < 3; ++i)
      go([&] {
        Sentinel s{&unwound};
        once.call([&] { ++calls; });
        ADD_FAILURE() << "returned while f was still running";
      });
    wait_parked("go::Mutex::lock", 3);
  });
  EXPECT_EQ(unwound.load(), 4);
  EXPECT_EQ(calls.load(), 1);
  run([&] { once.call([&] { ++calls; }); });
  EXPECT_EQ(calls.load(), 2);
  once.call([&] { ++calls; });
  EXPECT_EQ(calls.load(), 2);
}

// A caller that finds the Once done may destroy it at once, even while the caller that ran f
// is still inside call() (unlocking). ASan checks.
TEST_P(OnceTest, CallerMayDestroyItRightAfterCall) {
  sync_test::WidenReleaseWindows widen;
  run([] {
    for (long round = 0; round < 300; ++round) {
      auto* once = new go::Once;
      std::atomic<bool> started{false};
      std::atomic<int> finished{0};
      go([once, &started, &finished] {
        once->call([&] { started = true; });
        ++finished;
      });
      go([once, &started, &finished] {
        while (!started.load()) go::this_fiber::yield();
        once->call([] { ADD_FAILURE() << "ran twice"; });
        delete once;
        ++finished;
      });
      wait_until(finished, 2);
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, OnceTest, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

}  // namespace
