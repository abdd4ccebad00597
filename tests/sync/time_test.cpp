// go::after, go::Timer and go::Ticker: Go's package time semantics on gocxx channels.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "go/go.h"
#include "test_util.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

class TimeP : public ::testing::TestWithParam<int> {
 protected:
  go::Config cfg() const { return gocxx_test::procs(GetParam()); }
};

TEST_P(TimeP, AfterDeliversOnceAndNeverEarly) {
  go::run(
      [] {
        auto start = Clock::now();
        auto ch = go::after(5ms);
        auto v = ch.recv();
        ASSERT_TRUE(v.has_value());
        EXPECT_GE(*v, start + 5ms);
        EXPECT_GE(Clock::now(), start + 5ms);
        go::this_fiber::sleep_for(10ms);
        EXPECT_FALSE(ch.try_recv().has_value()) << "after() delivers exactly once";
      },
      cfg());
}

TEST_P(TimeP, StopBeforeFiringPreventsTheValue) {
  go::run(
      [] {
        go::Timer t(200ms);  // long enough that even a loaded machine stops it in time
        EXPECT_TRUE(t.stop());
        EXPECT_FALSE(t.stop()) << "second stop: already stopped";
        go::this_fiber::sleep_for(250ms);
        EXPECT_FALSE(t.channel().try_recv().has_value());
      },
      cfg());
}

TEST_P(TimeP, StopAfterFiringReportsFalseAndKeepsTheValue) {
  go::run(
      [] {
        go::Timer t(1ms);
        for (int i = 0; i < 10000 && t.channel().size() == 0; ++i)
          go::this_fiber::sleep_for(1ms);  // until it has fired, however loaded the machine
        EXPECT_FALSE(t.stop());
        EXPECT_TRUE(t.channel().try_recv().has_value()) << "stop does not drain (Go 1.19)";
      },
      cfg());
}

TEST_P(TimeP, ResetReportsWhetherItWasActiveAndRearms) {
  go::run(
      [] {
        go::Timer t(1h);
        auto start = Clock::now();
        EXPECT_TRUE(t.reset(5ms)) << "was active";
        auto v = t.channel().recv();
        ASSERT_TRUE(v.has_value());
        EXPECT_GE(*v, start + 5ms);
        EXPECT_FALSE(t.reset(5ms)) << "had fired";
        EXPECT_TRUE(t.channel().recv().has_value()) << "fires again after reset";
        EXPECT_FALSE(t.stop());
      },
      cfg());
}

TEST_P(TimeP, TimerObjectGoneStillFiresIntoItsChannel) {
  go::run(
      [] {
        go::Channel<Clock::time_point> ch;
        {
          go::Timer t(2ms);
          ch = t.channel();
        }
        EXPECT_TRUE(ch.recv().has_value());
      },
      cfg());
}

TEST_P(TimeP, TickerTicksAndDropsTicksForASlowReader) {
  go::run(
      [] {
        auto start = Clock::now();
        go::Ticker ticker(5ms);
        auto ch = ticker.channel();
        auto first = ch.recv();
        auto second = ch.recv();
        ASSERT_TRUE(first && second);
        // Ticks are due on the period grid (a late tick does not shift the next one), and are
        // never early.
        EXPECT_GE(*first, start + 5ms);
        EXPECT_GE(*second, start + 10ms);
        go::this_fiber::sleep_for(60ms);  // ~12 periods without reading
        EXPECT_LE(ch.size(), 1u) << "a slow reader misses ticks; nothing piles up";
        EXPECT_TRUE(ch.recv().has_value()) << "and the ticker keeps going";
        ticker.stop();
        go::this_fiber::sleep_for(2ms);
        (void)ch.try_recv();  // a tick that raced with stop
        go::this_fiber::sleep_for(30ms);
        EXPECT_FALSE(ch.try_recv().has_value()) << "no ticks after stop";
      },
      cfg());
}

TEST_P(TimeP, TickerResetChangesThePeriod) {
  go::run(
      [] {
        go::Ticker ticker(1h);
        ticker.reset(2ms);
        EXPECT_TRUE(ticker.channel().recv().has_value());
      },
      cfg());
}

TEST_P(TimeP, TimerChannelsWorkInSelect) {
  go::run(
      [] {
        go::Channel<int> never;
        int which = -1;
        go::select(go::on_recv(never, [&](std::optional<int>) { which = 0; }),
                   go::on_recv(go::after(3ms), [&](auto) { which = 1; }));
        EXPECT_EQ(which, 1);
      },
      cfg());
}

TEST_P(TimeP, PlainThreadWaitsOnATimer) {
  go::run(
      [] {
        auto start = Clock::now();
        std::optional<Clock::time_point> got;
        std::atomic<bool> done{false};
        std::thread t([&] {
          got = go::after(5ms).recv();  // blocks the plain thread, not a P
          done = true;
        });
        while (!done) go::this_fiber::sleep_for(1ms);  // keep our P free for the timer
        t.join();
        ASSERT_TRUE(got.has_value());
        EXPECT_GE(*got, start + 5ms);
      },
      cfg());
}

TEST_P(TimeP, ArmedTimersAndTickersAtExitAreReleased) {
  go::run(
      [] {
        go::Ticker forever(1ms);  // stopped by its destructor
        (void)go::after(1h);      // armed at exit: released by the runtime
        go::Timer later(1h);
        go::this_fiber::sleep_for(3ms);
      },
      cfg());
  // ASan/LSan (asan build) fails the run if a timer core leaked.
}

INSTANTIATE_TEST_SUITE_P(Procs, TimeP, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

TEST(Time, BadArgumentsAndNoRuntimeAreErrors) {
  EXPECT_THROW(go::after(1ms), std::logic_error);
  EXPECT_THROW(go::Timer(1ms), std::logic_error);
  go::run([] {
    EXPECT_THROW(go::Ticker(0ns), std::invalid_argument);
    EXPECT_THROW(go::Ticker(-1ms), std::invalid_argument);
    go::Ticker t(1ms);
    EXPECT_THROW(t.reset(0ns), std::invalid_argument);
  });
}

}  // namespace
