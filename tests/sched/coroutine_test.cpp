// Tests of go::Coroutine and go::Generator outside any fiber (the fiber cases live elsewhere).
#include "go/coroutine.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sched/stack.h"
#include "test_util.h"

namespace {

using go::Coroutine;
using go::Generator;
using go::Yield;
using Status = Coroutine::Status;

static_assert(!std::is_copy_constructible_v<Coroutine>);
static_assert(std::is_nothrow_move_constructible_v<Coroutine>);
static_assert(!std::is_copy_constructible_v<Generator<int>>);
static_assert(std::is_nothrow_move_constructible_v<Generator<std::unique_ptr<int>>>);
static_assert(std::ranges::input_range<Generator<int>>);

// Every test checks at tear-down that no coroutine stack was left allocated.
class CoroutineTest : public ::testing::Test {
 protected:
  void SetUp() override { stacks_before_ = go::detail::stack_pool_stats().stacks_in_use; }
  void TearDown() override {
    EXPECT_EQ(go::detail::stack_pool_stats().stacks_in_use, stacks_before_) << "leaked stacks";
    EXPECT_EQ(Coroutine::running(), nullptr);
  }

 private:
  std::size_t stacks_before_ = 0;
};

// Counts live instances, to see that destructors of a coroutine's locals ran.
struct Counted {
  explicit Counted(int& live) : live_(&live) { ++*live_; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  ~Counted() { --*live_; }
  int* live_;
};

TEST_F(CoroutineTest, ResumeYieldAndStatusFollowLua) {
  std::vector<std::string> log;
  Coroutine* self = nullptr;
  Coroutine co([&] {
    log.push_back("start");
    EXPECT_EQ(self->status(), Status::running);
    Coroutine::yield();
    log.push_back("middle");
    Coroutine::yield();
    log.push_back("end");
  });
  self = &co;
  EXPECT_EQ(co.status(), Status::suspended);
  EXPECT_TRUE(log.empty()) << "the constructor must not run the body";

  EXPECT_TRUE(co.resume());
  EXPECT_EQ(log, (std::vector<std::string>{"start"}));
  EXPECT_EQ(co.status(), Status::suspended);

  EXPECT_TRUE(co.resume());
  EXPECT_EQ(log, (std::vector<std::string>{"start", "middle"}));
  EXPECT_EQ(co.status(), Status::suspended);

  EXPECT_TRUE(co.resume()) << "the resume that runs the body to its end returns true";
  EXPECT_EQ(log, (std::vector<std::string>{"start", "middle", "end"}));
  EXPECT_EQ(co.status(), Status::dead);
}

TEST_F(CoroutineTest, ResumingADeadCoroutineReturnsFalseWithoutRunning) {
  int runs = 0;
  Coroutine co([&] { ++runs; });
  EXPECT_TRUE(co.resume());
  EXPECT_EQ(co.status(), Status::dead);
  EXPECT_FALSE(co.resume());
  EXPECT_FALSE(co.resume());
  EXPECT_EQ(runs, 1);
}

TEST_F(CoroutineTest, NestedResumeMakesTheResumerNormal) {
  std::vector<std::string> log;
  Coroutine* outer_ptr = nullptr;
  Coroutine* inner_ptr = nullptr;
  Coroutine inner([&] {
    EXPECT_EQ(outer_ptr->status(), Status::normal);
    EXPECT_EQ(inner_ptr->status(), Status::running);
    log.push_back("inner 1");
    Coroutine::yield();  // back to outer, not to the test body
    EXPECT_EQ(outer_ptr->status(), Status::normal);
    log.push_back("inner 2");
  });
  Coroutine outer([&] {
    log.push_back("outer 1");
    EXPECT_TRUE(inner.resume());
    EXPECT_EQ(outer_ptr->status(), Status::running);
    EXPECT_EQ(inner.status(), Status::suspended);
    log.push_back("outer 2");
    Coroutine::yield();
    EXPECT_TRUE(inner.resume());
    EXPECT_EQ(inner.status(), Status::dead);
    log.push_back("outer 3");
  });
  outer_ptr = &outer;
  inner_ptr = &inner;

  EXPECT_TRUE(outer.resume());
  EXPECT_EQ(log, (std::vector<std::string>{"outer 1", "inner 1", "outer 2"}));
  EXPECT_EQ(outer.status(), Status::suspended);
  EXPECT_EQ(inner.status(), Status::suspended);
  EXPECT_TRUE(outer.resume());
  EXPECT_EQ(log, (std::vector<std::string>{"outer 1", "inner 1", "outer 2", "inner 2", "outer 3"}));
  EXPECT_EQ(outer.status(), Status::dead);
  EXPECT_EQ(inner.status(), Status::dead);
}

TEST_F(CoroutineTest, RunningNamesTheInnermostCoroutine) {
  EXPECT_EQ(Coroutine::running(), nullptr);
  Coroutine* seen_in_inner = nullptr;
  Coroutine* seen_in_outer_before = nullptr;
  Coroutine* seen_in_outer_after = nullptr;
  Coroutine inner([&] { seen_in_inner = Coroutine::running(); });
  Coroutine outer([&] {
    seen_in_outer_before = Coroutine::running();
    inner.resume();
    seen_in_outer_after = Coroutine::running();
  });
  outer.resume();
  EXPECT_EQ(seen_in_outer_before, &outer);
  EXPECT_EQ(seen_in_inner, &inner);
  EXPECT_EQ(seen_in_outer_after, &outer);
  EXPECT_EQ(Coroutine::running(), nullptr);
}

TEST_F(CoroutineTest, ResumingItselfOrItsResumerThrowsLogicError) {
  bool self_threw = false;
  bool ancestor_threw = false;
  Coroutine* outer_ptr = nullptr;
  Coroutine inner([&] {
    try {
      outer_ptr->resume();  // outer is normal: it is waiting for us
    } catch (const std::logic_error&) {
      ancestor_threw = true;
    }
  });
  Coroutine outer([&] {
    try {
      outer_ptr->resume();  // outer is running
    } catch (const std::logic_error&) {
      self_threw = true;
    }
    inner.resume();
  });
  outer_ptr = &outer;
  EXPECT_TRUE(outer.resume());
  EXPECT_TRUE(self_threw);
  EXPECT_TRUE(ancestor_threw);
  EXPECT_EQ(outer.status(), Status::dead) << "the failed resumes must not disturb the body";
}

TEST_F(CoroutineTest, YieldOutsideAnyCoroutineThrowsLogicError) {
  EXPECT_THROW(Coroutine::yield(), std::logic_error);
  // Also after a coroutine ran on this thread and finished.
  Coroutine co([] { Coroutine::yield(); });
  co.resume();
  co.resume();
  EXPECT_THROW(Coroutine::yield(), std::logic_error);
}

TEST_F(CoroutineTest, ExceptionEscapingTheBodyIsRethrownAndKillsIt) {
  int live = 0;
  Coroutine co([&] {
    Counted local(live);
    Coroutine::yield();
    throw std::runtime_error("boom");
  });
  EXPECT_TRUE(co.resume());
  EXPECT_EQ(live, 1);
  try {
    co.resume();
    ADD_FAILURE() << "resume must rethrow";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  EXPECT_EQ(co.status(), Status::dead);
  EXPECT_EQ(live, 0);
  EXPECT_FALSE(co.resume()) << "the exception is rethrown once";
  EXPECT_EQ(Coroutine::running(), nullptr);
}

TEST_F(CoroutineTest, EmptyBodyIsRejected) {
  EXPECT_THROW(Coroutine(std::function<void()>{}), std::invalid_argument);
}

// GOCXX_STACK_SIZE reads as for go::run (a k/m suffix works), and a bad value is a clear error
// rather than a silent fallback.
TEST_F(CoroutineTest, StackSizeFromTheEnvironment) {
  ::setenv("GOCXX_STACK_SIZE", "64k", 1);
  EXPECT_EQ(go::detail::default_stack_size(), 64u * 1024);
  Coroutine co([] { Coroutine::yield(); });
  EXPECT_TRUE(co.resume());
  ::setenv("GOCXX_STACK_SIZE", "12q", 1);
  EXPECT_THROW(Coroutine([] {}), std::invalid_argument);
  ::setenv("GOCXX_STACK_SIZE", "1", 1);  // below the 16 KiB minimum
  EXPECT_THROW(Coroutine([] {}), std::invalid_argument);
  ::unsetenv("GOCXX_STACK_SIZE");
  EXPECT_EQ(go::detail::default_stack_size(), 256u * 1024);
}

TEST_F(CoroutineTest, DestroyingASuspendedCoroutineUnwindsItsLocals) {
  int live = 0;
  bool std_handler_ran = false;
  bool rethrowing_handler_ran = false;
  bool after_yield_ran = false;
  {
    Coroutine co([&] {
      Counted a(live);
      try {
        Counted b(live);
        try {
          Coroutine::yield();
          after_yield_ran = true;
        } catch (const std::exception&) {
          std_handler_ran = true;  // the unwinding exception is not a std::exception
        }
      } catch (...) {
        rethrowing_handler_ran = true;
        throw;
      }
    });
    EXPECT_TRUE(co.resume());
    EXPECT_EQ(live, 2);
  }
  EXPECT_EQ(live, 0);
  EXPECT_TRUE(rethrowing_handler_ran);
  EXPECT_FALSE(std_handler_ran);
  EXPECT_FALSE(after_yield_ran);
}

TEST_F(CoroutineTest, DestroyingANeverStartedCoroutineDoesNotRunIt) {
  bool ran = false;
  {
    Coroutine co([&] { ran = true; });
  }
  EXPECT_FALSE(ran);
}

TEST_F(CoroutineTest, DestroyingAnOuterCoroutineUnwindsTheInnerOneItOwns) {
  int live = 0;
  {
    Coroutine outer([&] {
      Coroutine inner([&] {
        Counted c(live);
        Coroutine::yield();
      });
      Counted c(live);
      inner.resume();
      Coroutine::yield();  // outer is unwound from here, which destroys inner (suspended)
    });
    outer.resume();
    EXPECT_EQ(live, 2);
  }
  EXPECT_EQ(live, 0);
}

TEST_F(CoroutineTest, MovingKeepsTheCoroutineAndItsIdentity) {
  Coroutine* seen = nullptr;
  Coroutine a([&] {
    Coroutine::yield();
    seen = Coroutine::running();
  });
  EXPECT_TRUE(a.resume());
  Coroutine b(std::move(a));
  EXPECT_EQ(a.status(), Status::dead);  // NOLINT(bugprone-use-after-move): documented
  EXPECT_FALSE(a.resume());             // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.status(), Status::suspended);
  EXPECT_TRUE(b.resume());
  EXPECT_EQ(seen, &b);
  EXPECT_EQ(b.status(), Status::dead);

  int live = 0;
  Coroutine c([&] {
    Counted x(live);
    Coroutine::yield();
  });
  c.resume();
  EXPECT_EQ(live, 1);
  c = Coroutine([] {});  // move assignment unwinds what c held
  EXPECT_EQ(live, 0);
  EXPECT_EQ(c.status(), Status::suspended);
}

TEST_F(CoroutineTest, TenThousandCoroutinesAliveAtOnce) {
  const auto n = static_cast<int>(gocxx_test::live_fibers(10000));
  std::vector<int> results(n, 0);
  std::vector<std::unique_ptr<Coroutine>> coros;
  coros.reserve(n);
  for (int i = 0; i < n; ++i) {
    coros.push_back(std::make_unique<Coroutine>([i, &results] {
      int local = i * 3;  // lives on this coroutine's stack across the yield
      Coroutine::yield();
      results[i] = local + 1;
      Coroutine::yield();
    }));
  }
  for (auto& c : coros) ASSERT_TRUE(c->resume());  // all suspended mid-body at once
  for (auto& c : coros) ASSERT_TRUE(c->resume());
  for (int i = 0; i < n; ++i) ASSERT_EQ(results[i], i * 3 + 1);
  // Half of them finish; destroying the vector unwinds the other half.
  for (int i = 0; i < n; i += 2) ASSERT_TRUE(coros[i]->resume());
  coros.clear();
}

TEST_F(CoroutineTest, DeepNestingYieldsToTheImmediateResumer) {
  constexpr int kDepth = 100;
  std::vector<Coroutine*> chain;
  std::vector<int> order;
  // Level d creates level d+1 and resumes it; the deepest checks the statuses of the chain.
  std::function<void(int)> level = [&](int d) {
    if (d == kDepth) {
      for (int i = 0; i + 1 < kDepth; ++i) EXPECT_EQ(chain[i]->status(), Status::normal) << i;
      EXPECT_EQ(chain.back()->status(), Status::running);
      return;
    }
    Coroutine child([&, d] {
      chain.push_back(Coroutine::running());
      level(d + 1);
      Coroutine::yield();
      order.push_back(d);
    });
    EXPECT_TRUE(child.resume());
    EXPECT_EQ(child.status(), Status::suspended);
    EXPECT_TRUE(child.resume());
    EXPECT_EQ(child.status(), Status::dead);
  };
  level(0);
  ASSERT_EQ(chain.size(), static_cast<std::size_t>(kDepth));
  ASSERT_EQ(order.size(), static_cast<std::size_t>(kDepth));
  for (int i = 0; i < kDepth; ++i) EXPECT_EQ(order[i], kDepth - 1 - i);  // innermost first
}

// Which thread runs: set per thread by the test, read out of line. std::this_thread::get_id()
// does not do here: pthread_self() is declared const, so the compiler may read it once per
// function, and thread ids are reused once a thread is joined.
thread_local int tls_thread_tag = 0;
__attribute__((noipa)) int thread_tag() {
  return tls_thread_tag;
}

TEST_F(CoroutineTest, ResumedOnOneThreadThenAnother) {
  std::vector<int> seen;
  int live = 0;
  Coroutine co([&] {
    Counted c(live);
    int on_stack = 41;
    seen.push_back(thread_tag());
    Coroutine::yield();
    seen.push_back(thread_tag());
    ++on_stack;
    Coroutine::yield();
    seen.push_back(thread_tag());
    EXPECT_EQ(on_stack, 42);
  });
  std::thread a([&] {
    tls_thread_tag = 1;
    EXPECT_TRUE(co.resume());
    EXPECT_EQ(Coroutine::running(), nullptr);
  });
  a.join();
  std::thread b([&] {
    tls_thread_tag = 2;
    EXPECT_TRUE(co.resume());
    EXPECT_EQ(Coroutine::running(), nullptr);
  });
  b.join();
  EXPECT_TRUE(co.resume());  // and a third time on the test's own thread (tag 0)
  EXPECT_EQ(co.status(), Status::dead);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 0}));
  EXPECT_EQ(live, 0);

  // Destroyed on another thread than the one that suspended it: still unwinds.
  auto held = std::make_unique<Coroutine>([&] {
    Counted c(live);
    Coroutine::yield();
  });
  std::thread c([&] { held->resume(); });
  c.join();
  EXPECT_EQ(live, 1);
  std::thread d([&] { held.reset(); });
  d.join();
  EXPECT_EQ(live, 0);
}

TEST_F(CoroutineTest, SwallowingTheUnwindAndYieldingAgainTerminates) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto* co = new Coroutine([] {
          try {
            Coroutine::yield();
          } catch (...) {
          }
          Coroutine::yield();
        });
        co->resume();
        delete co;
      },
      "yielded while being destroyed");
}

TEST_F(CoroutineTest, DestroyingARunningCoroutineTerminates) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Coroutine* co = nullptr;
        co = new Coroutine([&] { delete co; });
        co->resume();
      },
      "destroyed while running");
}

// Disabled until switch_context() swaps the C++ runtime's per-thread exception state
// (__cxa_eh_globals) per context: today a body suspended inside a catch block shares the
// thread's caught-exception stack with its resumer, so `throw;` after the yield rethrows
// whatever the resumer caught meanwhile. Enable together with that change in context.cpp.
TEST_F(CoroutineTest, YieldInsideACatchBlockKeepsItsCaughtException) {
  std::string body_rethrew;
  std::string resumer_rethrew;
  Coroutine co([&] {
    try {
      throw std::runtime_error("body");
    } catch (const std::exception&) {
      Coroutine::yield();  // suspended inside a handler
      try {
        throw;
      } catch (const std::exception& e) {
        body_rethrew = e.what();
      }
    }
  });
  co.resume();
  try {
    throw std::runtime_error("resumer");
  } catch (const std::exception&) {
    co.resume();  // the body leaves its handler while the resumer is inside one
    try {
      throw;
    } catch (const std::exception& e) {
      resumer_rethrew = e.what();
    }
  }
  EXPECT_EQ(body_rethrew, "body");
  EXPECT_EQ(resumer_rethrew, "resumer");
}

// ---- Generators

Generator<long> fibonacci() {
  return Generator<long>([](Yield<long>& yield) {
    long a = 0, b = 1;
    for (;;) {
      yield(a);
      long next = a + b;
      a = b;
      b = next;
    }
  });
}

TEST_F(CoroutineTest, GeneratorNextYieldsValuesThenNullopt) {
  Generator<int> gen([](Yield<int>& yield) {
    yield(1);
    yield(2);
    yield(3);
  });
  EXPECT_EQ(gen.next(), 1);
  EXPECT_EQ(gen.next(), 2);
  EXPECT_EQ(gen.next(), 3);
  EXPECT_EQ(gen.next(), std::nullopt);
  EXPECT_EQ(gen.next(), std::nullopt);
}

TEST_F(CoroutineTest, FibonacciGeneratorNextAndRangeFor) {
  auto gen = fibonacci();
  std::vector<long> first;
  for (int i = 0; i < 10; ++i) first.push_back(*gen.next());
  EXPECT_EQ(first, (std::vector<long>{0, 1, 1, 2, 3, 5, 8, 13, 21, 34}));

  std::vector<long> ranged;
  for (long v : fibonacci()) {
    if (v > 100) break;  // an infinite generator: break, then destruction unwinds it
    ranged.push_back(v);
  }
  EXPECT_EQ(ranged, (std::vector<long>{0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89}));

  std::vector<int> finite;
  for (int v : Generator<int>([](Yield<int>& yield) {
         for (int i = 0; i < 5; ++i) yield(i * i);
       })) {
    finite.push_back(v);
  }
  EXPECT_EQ(finite, (std::vector<int>{0, 1, 4, 9, 16}));

  int runs = 0;
  for ([[maybe_unused]] int v : Generator<int>([&](Yield<int>&) { ++runs; })) {
    ADD_FAILURE() << "an empty generator yields nothing";
  }
  EXPECT_EQ(runs, 1);
}

TEST_F(CoroutineTest, GeneratorOfMoveOnlyValues) {
  Generator<std::unique_ptr<int>> gen([](Yield<std::unique_ptr<int>>& yield) {
    for (int i = 0; i < 3; ++i) yield(std::make_unique<int>(i * 10));
  });
  std::optional<std::unique_ptr<int>> first = gen.next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(**first, 0);
  std::vector<int> rest;
  for (std::unique_ptr<int>& p : gen) rest.push_back(*std::move(p));
  EXPECT_EQ(rest, (std::vector<int>{10, 20}));
  EXPECT_EQ(gen.next(), std::nullopt);
}

TEST_F(CoroutineTest, GeneratorExceptionPropagatesFromNextAndIteration) {
  Generator<int> gen([](Yield<int>& yield) {
    yield(1);
    throw std::runtime_error("generator failed");
  });
  EXPECT_EQ(gen.next(), 1);
  EXPECT_THROW(gen.next(), std::runtime_error);
  EXPECT_EQ(gen.next(), std::nullopt) << "a generator that threw is finished";

  std::vector<int> got;
  auto iterate = [&] {
    for (int v : Generator<int>([](Yield<int>& yield) {
           yield(7);
           throw std::out_of_range("in the middle");
         })) {
      got.push_back(v);
    }
  };
  EXPECT_THROW(iterate(), std::out_of_range);
  EXPECT_EQ(got, (std::vector<int>{7}));
}

TEST_F(CoroutineTest, DestroyingAnUnfinishedGeneratorUnwindsIt) {
  int live = 0;
  {
    Generator<int> gen([&](Yield<int>& yield) {
      Counted c(live);
      for (int i = 0;; ++i) yield(i);
    });
    EXPECT_EQ(gen.next(), 0);
    EXPECT_EQ(gen.next(), 1);
    EXPECT_EQ(live, 1);
    Generator<int> moved = std::move(gen);  // moves keep the body where it is
    EXPECT_EQ(moved.next(), 2);
    EXPECT_EQ(gen.next(), std::nullopt);  // NOLINT(bugprone-use-after-move): documented
  }
  EXPECT_EQ(live, 0);
}

TEST_F(CoroutineTest, GeneratorRejectsPlainYieldAndForeignYield) {
  Generator<int> plain([](Yield<int>&) { Coroutine::yield(); });
  EXPECT_THROW(plain.next(), std::logic_error);

  // A coroutine resumed by the generator's body may not yield the generator's values.
  Generator<int> nested([](Yield<int>& yield) {
    Coroutine helper([&] { yield(1); });
    helper.resume();
    yield(2);
  });
  EXPECT_THROW(nested.next(), std::logic_error);

  // Generators nest inside coroutines and coroutines inside generators.
  std::vector<int> seen;
  Coroutine outer([&] {
    Generator<int> g([](Yield<int>& yield) {
      Coroutine inner([] { Coroutine::yield(); });
      inner.resume();  // yields back into the generator's body, not to the test
      yield(5);
      yield(6);
    });
    for (int v : g) {
      seen.push_back(v);
      Coroutine::yield();  // suspends outer in the middle of the iteration
    }
  });
  EXPECT_TRUE(outer.resume());
  EXPECT_EQ(seen, (std::vector<int>{5}));
  EXPECT_TRUE(outer.resume());
  EXPECT_EQ(seen, (std::vector<int>{5, 6}));
  EXPECT_TRUE(outer.resume());
  EXPECT_EQ(outer.status(), Status::dead);
}

}  // namespace
