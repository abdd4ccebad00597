// Coroutines and generators used inside fibers: the coroutine's body may park the fiber it runs
// in, and the fiber may resume on another thread (migration mode forces it).
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"
#include "test_util.h"

using namespace std::chrono_literals;
using gocxx_test::current_thread;
using gocxx_test::procs;

namespace {

TEST(CoroutineInFiber, BodyThatSleepsAndMigratesKeepsItsState) {
  std::atomic<long> done{0};
  std::atomic<long> errors{0};
  go::run(
      [&] {
        for (int f = 0; f < 8; ++f)
          go([&] {
            int steps = 0;
            go::Coroutine co([&] {
              for (int i = 0; i < 5; ++i) {
                ++steps;
                go::this_fiber::sleep_for(100us);  // parks the fiber from inside the coroutine
                go::this_fiber::yield();
                if (go::Coroutine::running() == nullptr) errors.fetch_add(1);
                go::Coroutine::yield();
              }
            });
            int resumes = 0;
            while (co.resume()) {
              ++resumes;
              if (go::Coroutine::running() != nullptr) errors.fetch_add(1);  // back outside it
              go::this_fiber::yield();
              if (co.status() == go::Coroutine::Status::dead) break;
            }
            if (steps != 5 || resumes != 6) errors.fetch_add(1);
            done.fetch_add(1);
          });
        while (done.load() < 8) go::this_fiber::sleep_for(1ms);
      },
      procs(2, /*migrate=*/true));
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(done.load(), 8);
}

TEST(CoroutineInFiber, GeneratorAcrossMigrations) {
  std::vector<int> got;
  int moves = 0;
  go::run(
      [&] {
        go::Generator<int> squares([](go::Yield<int>& yield) {
          for (int i = 1; i <= 20; ++i) {
            go::this_fiber::yield();  // the fiber migrates inside the generator's body
            yield(i * i);
          }
        });
        for (int v : squares) {
          auto before = current_thread();
          go::this_fiber::yield();
          if (current_thread() != before) ++moves;
          got.push_back(v);
        }
      },
      procs(2, /*migrate=*/true));
  ASSERT_EQ(got.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got[i], (i + 1) * (i + 1));
  EXPECT_EQ(moves, 20);
}

TEST(CoroutineInFiber, ExceptionFromBodyReachesTheFiber) {
  std::string what;
  go::run([&] {
    go::Coroutine co([] {
      go::this_fiber::sleep_for(1ms);
      throw std::runtime_error("from the coroutine");
    });
    try {
      co.resume();
    } catch (const std::runtime_error& e) {
      what = e.what();
    }
  });
  EXPECT_EQ(what, "from the coroutine");
}

// A fiber parked inside a catch block keeps its own caught exception, even when another fiber
// on the same thread catches something else meanwhile and it resumes on another thread.
TEST(FiberExceptions, ParkingInsideACatchBlockKeepsTheCaughtException) {
  std::atomic<long> wrong{0}, done{0};
  go::run(
      [&] {
        for (int f = 0; f < 16; ++f)
          go([&, f] {
            try {
              throw std::runtime_error("fiber " + std::to_string(f));
            } catch (const std::runtime_error&) {
              go::this_fiber::sleep_for(200us);
              go::this_fiber::yield();
              try {
                throw;
              } catch (const std::runtime_error& again) {
                if (std::string(again.what()) != "fiber " + std::to_string(f)) wrong.fetch_add(1);
              }
            }
            if (std::uncaught_exceptions() != 0) wrong.fetch_add(1);
            done.fetch_add(1);
          });
        while (done.load() < 16) go::this_fiber::sleep_for(1ms);
      },
      procs(2, /*migrate=*/true));
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
