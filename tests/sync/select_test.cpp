// go::select: every clause of API.md's Select section and Go's select semantics (readiness,
// default, timeout, closed channels, uniform choice among ready cases, exactly one handler, no
// lock held while it runs), from fibers and plain threads, over 1, 2 and 4 Ps; then stress
// tests in which many channels become ready at once on different Ps and every value is counted
// (a watchdog dumps the fibers instead of hanging forever on a lost wake-up).
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"
#include "test_util.h"

using namespace std::chrono_literals;
using gocxx_test::iterations;
using gocxx_test::Sentinel;
using gocxx_test::wait_parked;
using gocxx_test::wait_until;
using gocxx_test::Watchdog;
using Clock = std::chrono::steady_clock;

namespace {

std::uint64_t armed_timers() {
  std::uint64_t n = 0;
  for (const auto& p : go::stats().per_proc) n += p.timers;
  return n;
}

// Pearson's chi-square statistic of observed counts against a uniform distribution.
double chi_square(const std::vector<long>& counts) {
  long total = 0;
  for (long c : counts) total += c;
  const double expect = static_cast<double>(total) / static_cast<double>(counts.size());
  double x = 0;
  for (long c : counts) x += (c - expect) * (c - expect) / expect;
  return x;
}

class Select : public gocxx_test::ProcsTest {};

TEST_P(Select, ReadyReceiveRunsItsHandlerOnly) {
  run([] {
    go::Channel<int> a(1), b(1);
    b.send(42);
    int got = 0, other = 0;
    const std::size_t i = go::select(go::on_recv(a, [&](std::optional<int>) { ++other; }),
                                     go::on_recv(b, [&](std::optional<int> v) { got = *v; }));
    EXPECT_EQ(i, 1u);
    EXPECT_EQ(got, 42);
    EXPECT_EQ(other, 0);
    EXPECT_EQ(b.size(), 0u);
  });
}

TEST_P(Select, DefaultRunsOnlyWhenNothingIsReady) {
  run([] {
    go::Channel<int> a, b(1);
    int ran = -1;
    EXPECT_EQ(go::select(go::on_recv(a, [&] { ran = 0; }), go::on_send(b, 1, [&] { ran = 1; }),
                         go::on_default([&] { ran = 2; })),
              1u);
    EXPECT_EQ(ran, 1);
    EXPECT_EQ(go::select(go::on_recv(a, [&] { ran = 0; }), go::on_send(b, 2, [&] { ran = 1; }),
                         go::on_default([&] { ran = 2; })),
              2u);  // a is empty, b is full
    EXPECT_EQ(ran, 2);
    EXPECT_EQ(b.recv(), 1);
    EXPECT_EQ(go::select(go::on_default([&] { ran = 3; })), 0u);
    EXPECT_EQ(ran, 3);
  });
}

TEST_P(Select, WaitsForASendFromAnotherFiber) {
  run([] {
    go::Channel<int> a, b;
    go([b]() mutable {
      wait_parked("select", 1);
      b.send(7);
    });
    int got = 0;
    const auto i = go::select(go::on_recv(a, [&](std::optional<int>) { got = -1; }),
                              go::on_recv(b, [&](std::optional<int> v) { got = *v; }));
    EXPECT_EQ(i, 1u);
    EXPECT_EQ(got, 7);
  });
}

TEST_P(Select, SendCaseWaitsForAReceiver) {
  run([] {
    for (std::size_t cap : {0u, 1u}) {
      go::Channel<int> a(cap), b(cap);
      if (cap == 1) {
        a.send(-1);
        b.send(-1);
      }
      std::atomic<int> got{0};
      go([a, &got]() mutable {
        wait_parked("select", 1);
        if (a.capacity() == 1) {
          EXPECT_EQ(a.recv(), -1);
        }
        got = *a.recv();
      });
      bool ran = false;
      const auto i = go::select(go::on_send(a, 5, [&] { ran = true; }), go::on_send(b, 6, [] {}));
      EXPECT_EQ(i, 0u);
      EXPECT_TRUE(ran);
      while (got.load() == 0) go::this_fiber::yield();
      EXPECT_EQ(got.load(), 5);
      EXPECT_EQ(b.size(), cap);  // 6 was not sent
    }
  });
}

TEST_P(Select, ReceiveFromClosedChannelIsReadyWithNullopt) {
  run([] {
    go::Channel<int> open, closed(2);
    closed.send(1);
    closed.close();
    std::vector<std::optional<int>> seen;
    for (int k = 0; k < 3; ++k)
      EXPECT_EQ(go::select(go::on_recv(open, [](std::optional<int>) {}),
                           go::on_recv(closed, [&](std::optional<int> v) { seen.push_back(v); })),
                1u);
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0], 1);  // buffered values first
    EXPECT_EQ(seen[1], std::nullopt);
    EXPECT_EQ(seen[2], std::nullopt);
  });
}

TEST_P(Select, CloseWakesAWaitingReceiveCase) {
  run([] {
    go::Channel<int> a, b;
    go([b]() mutable {
      wait_parked("select", 1);
      b.close();
    });
    bool got_nullopt = false;
    EXPECT_EQ(go::select(go::on_recv(a, [](std::optional<int>) {}),
                         go::on_recv(b, [&](std::optional<int> v) { got_nullopt = !v; })),
              1u);
    EXPECT_TRUE(got_nullopt);
  });
}

TEST_P(Select, SendCaseOnClosedChannelThrows) {
  run([] {
    go::Channel<int> open, closed(1);
    closed.close();
    bool ran = false;
    EXPECT_THROW(go::select(go::on_recv(open, [&] { ran = true; }),
                            go::on_send(closed, 1, [&] { ran = true; }),
                            go::on_default([&] { ran = true; })),
                 go::ChannelClosed);
    EXPECT_FALSE(ran);
    // Closed while select waits on it.
    go::Channel<int> later;
    go([later]() mutable {
      wait_parked("select", 1);
      later.close();
    });
    try {
      go::select(go::on_recv(open, [&] { ran = true; }),
                 go::on_send(later, 1, [&] { ran = true; }));
      ADD_FAILURE() << "select did not throw";
    } catch (const go::ChannelClosed& e) {
      EXPECT_NE(std::string(e.what()).find("send on closed channel"), std::string::npos);
    }
    EXPECT_FALSE(ran);
  });
}

TEST_P(Select, TimeoutFiresAndNeverEarly) {
  run([] {
    go::Channel<int> a;
    for (auto d : {1ms, 5ms, 20ms}) {
      const auto start = Clock::now();
      bool fired = false;
      const auto i = go::select(go::on_recv(a, [] {}), go::on_timeout(d, [&] { fired = true; }));
      const auto elapsed = Clock::now() - start;
      EXPECT_EQ(i, 1u);
      EXPECT_TRUE(fired);
      EXPECT_GE(elapsed, d);
    }
    // A timeout alone is a sleep.
    const auto start = Clock::now();
    EXPECT_EQ(go::select(go::on_timeout(3ms, [] {})), 0u);
    EXPECT_GE(Clock::now() - start, 3ms);
    EXPECT_EQ(armed_timers(), 0u);
  });
}

TEST_P(Select, TimeoutDoesNotFireWhenACaseBecomesReady) {
  run([] {
    go::Channel<int> a;
    go([a]() mutable {
      wait_parked("select", 1);
      a.send(1);
    });
    bool fired = false;
    // If the timer were ignored the test would take a minute and fail; a correct select
    // returns as soon as the value arrives and disarms its timer.
    EXPECT_EQ(go::select(go::on_recv(a, [] {}), go::on_timeout(60s, [&] { fired = true; })), 0u);
    EXPECT_FALSE(fired);
    EXPECT_EQ(armed_timers(), 0u);
  });
}

TEST_P(Select, ShortestTimeoutWinsAndZeroTimeoutDoesNotWait) {
  run([] {
    go::Channel<int> a, ready(1);
    EXPECT_EQ(
        go::select(go::on_timeout(60s, [] {}), go::on_recv(a, [] {}), go::on_timeout(1ms, [] {})),
        2u);
    EXPECT_EQ(go::select(go::on_recv(a, [] {}), go::on_timeout(0ms, [] {})), 1u);
    EXPECT_EQ(go::select(go::on_recv(a, [] {}), go::on_timeout(-5ms, [] {})), 1u);
    ready.send(1);
    EXPECT_EQ(go::select(go::on_timeout(0ms, [] {}), go::on_recv(ready, [] {})), 1u);
    // With a default, select never waits, so the timeout cannot fire.
    EXPECT_EQ(go::select(go::on_recv(a, [] {}), go::on_timeout(0ms, [] {}), go::on_default([] {})),
              2u);
  });
}

// Among ready cases each is chosen with the same probability. Loose chi-square bounds: a
// uniform choice fails them with probability below 1e-8; a biased one (e.g. always the first
// ready case in argument order) fails them by orders of magnitude.
TEST_P(Select, ReadyCasesAreChosenUniformly) {
  run([] {
    const long n = iterations(30000);
    {
      go::Channel<int> a(1), b(1), c(1);
      std::vector<long> counts(3);
      a.send(0), b.send(1), c.send(2);
      for (long k = 0; k < n; ++k) {
        int got = -1;
        auto h = [&](std::optional<int> v) { got = *v; };
        const auto i = go::select(go::on_recv(a, h), go::on_recv(b, h), go::on_recv(c, h));
        ASSERT_EQ(static_cast<int>(i), got);
        ++counts[i];
        std::array<go::Channel<int>*, 3> chans{&a, &b, &c};
        chans[i]->send(got);  // ready again
      }
      EXPECT_LT(chi_square(counts), 40.0)
          << "counts " << counts[0] << " " << counts[1] << " " << counts[2];
    }
    {
      // Mixed: a ready receive and a ready send.
      go::Channel<int> in(1), out(1);
      in.send(1);
      std::vector<long> counts(2);
      for (long k = 0; k < n; ++k) {
        const auto i = go::select(go::on_send(out, 1, [] {}), go::on_recv(in, [] {}));
        ++counts[i];
        if (i == 0)
          out.recv();
        else
          in.send(1);
      }
      EXPECT_LT(chi_square(counts), 40.0) << "counts " << counts[0] << " " << counts[1];
    }
  });
}

// Sixteen cases of mixed element types compile, and each index is reported when it alone is
// ready. Also one to three cases.
TEST_P(Select, SixteenCasesOfMixedTypes) {
  run([] {
    std::array<go::Channel<int>, 6> ints{go::Channel<int>(1), go::Channel<int>(1),
                                         go::Channel<int>(1), go::Channel<int>(1),
                                         go::Channel<int>(1), go::Channel<int>(1)};
    std::array<go::Channel<std::string>, 5> strs{
        go::Channel<std::string>(1), go::Channel<std::string>(1), go::Channel<std::string>(1),
        go::Channel<std::string>(1), go::Channel<std::string>(1)};
    std::array<go::Channel<std::unique_ptr<double>>, 5> ptrs{
        go::Channel<std::unique_ptr<double>>(1), go::Channel<std::unique_ptr<double>>(1),
        go::Channel<std::unique_ptr<double>>(1), go::Channel<std::unique_ptr<double>>(1),
        go::Channel<std::unique_ptr<double>>(1)};
    int ran = -1;
    auto all16 = [&] {
      auto h = [&](int k) { return [&ran, k] { ran = k; }; };
      return go::select(
          go::on_recv(ints[0], h(0)), go::on_recv(strs[0], h(1)), go::on_recv(ptrs[0], h(2)),
          go::on_recv(ints[1], h(3)), go::on_recv(strs[1], h(4)), go::on_recv(ptrs[1], h(5)),
          go::on_recv(ints[2], h(6)), go::on_recv(strs[2], h(7)), go::on_recv(ptrs[2], h(8)),
          go::on_recv(ints[3], h(9)), go::on_recv(strs[3], h(10)), go::on_recv(ptrs[3], h(11)),
          go::on_recv(ints[4], h(12)), go::on_recv(strs[4], h(13)), go::on_recv(ptrs[4], h(14)),
          go::on_send(ints[5], 1, h(15)));
    };
    ints[5].send(0);  // the send case (index 15) is not ready until this is received
    for (int k = 0; k < 15; ++k) {
      const int kind = k % 3, idx = k / 3;
      if (kind == 0) ints[idx].send(k);
      if (kind == 1) strs[idx].send(std::to_string(k));
      if (kind == 2) ptrs[idx].send(std::make_unique<double>(k));
      EXPECT_EQ(all16(), static_cast<std::size_t>(k));
      EXPECT_EQ(ran, k);
    }
    ints[5].recv();
    EXPECT_EQ(all16(), 15u);
    EXPECT_EQ(ints[5].recv(), 1);

    go::Channel<int> one(1);
    one.send(1);
    EXPECT_EQ(go::select(go::on_recv(one, [](std::optional<int> v) { EXPECT_EQ(v, 1); })), 0u);
    EXPECT_EQ(go::select(go::on_send(one, 2, [] {})), 0u);
    EXPECT_EQ(go::select(go::on_recv(one, [] {}), go::on_default([] {})), 0u);
  });
}

TEST_P(Select, MoveOnlyValuesBothWays) {
  run([] {
    go::Channel<std::unique_ptr<int>> ch;
    go([ch]() mutable {
      auto p = ch.recv();
      ch.send(std::make_unique<int>(**p + 1));
    });
    go::select(go::on_send(ch, std::make_unique<int>(41), [] {}));
    std::unique_ptr<int> back;
    go::select(
        go::on_recv(ch, [&](std::optional<std::unique_ptr<int>> v) { back = std::move(*v); }));
    ASSERT_NE(back, nullptr);
    EXPECT_EQ(*back, 42);
    // The value of a send case that did not run is dropped with the case.
    go::Channel<std::unique_ptr<int>> full(1);
    full.send(std::make_unique<int>(0));
    EXPECT_EQ(go::select(go::on_send(full, std::make_unique<int>(1), [] {}), go::on_default([] {})),
              1u);
    EXPECT_EQ(*full.recv().value(), 0);
  });
}

// The same channel may appear in several cases: it is locked once.
TEST_P(Select, SameChannelInSeveralCases) {
  run([] {
    go::Channel<int> ch(1);
    ch.send(1);
    int runs = 0;
    const auto i = go::select(go::on_recv(ch, [&] { ++runs; }), go::on_recv(ch, [&] { ++runs; }));
    EXPECT_LT(i, 2u);
    EXPECT_EQ(runs, 1);
    // A send and a receive case on one unbuffered channel, in two fibers: they pair up.
    go::Channel<int> u;
    std::atomic<long> sends{0}, recvs{0}, done{0};
    const long n = iterations(2000);
    for (int f = 0; f < 2; ++f)
      go([=, &sends, &recvs, &done]() mutable {
        for (long k = 0; k < n; ++k)
          go::select(go::on_send(u, 1, [&] { ++sends; }),
                     go::on_recv(u, [&](std::optional<int> v) { recvs += *v; }));
        ++done;
      });
    wait_until(done, 2);
    EXPECT_EQ(sends.load(), n);
    EXPECT_EQ(recvs.load(), n);
  });
}

// Handlers run after the select released its channel locks: a handler may use the channel the
// case was on (with a lock still held this would deadlock).
TEST_P(Select, HandlersRunWithoutChannelLocks) {
  run([] {
    go::Channel<int> ch(1), other(1);
    ch.send(1);
    go::select(go::on_recv(ch, [&] { EXPECT_TRUE(ch.try_send(2)); }), go::on_recv(other, [] {}));
    EXPECT_EQ(ch.try_recv(), 2);
    go::select(go::on_send(ch, 3, [&] { EXPECT_EQ(ch.try_recv(), 3); }), go::on_default([] {}));
    EXPECT_EQ(ch.size(), 0u);
  });
}

TEST_P(Select, ExceptionFromAHandlerPropagates) {
  run([] {
    go::Channel<int> ch(1);
    ch.send(1);
    EXPECT_THROW(go::select(go::on_recv(ch, [] { throw std::runtime_error("handler"); })),
                 std::runtime_error);
    EXPECT_EQ(ch.size(), 0u);
  });
}

TEST_P(Select, PlainThreadSelectsOnFibers) {
  run([] {
    go::Channel<int> a, b;
    std::atomic<long> got{0}, timeouts{0}, finished{0};
    std::thread t([&] {
      for (int k = 0; k < 100; ++k)
        go::select(go::on_recv(a, [&](std::optional<int> v) { got += *v; }),
                   go::on_recv(b, [&](std::optional<int> v) { got += *v; }));
      // With a timeout: from a plain thread it is a futex wait with a deadline.
      const auto start = Clock::now();
      go::select(go::on_recv(a, [] {}), go::on_timeout(5ms, [&] { ++timeouts; }));
      if (Clock::now() - start < 5ms) timeouts = 100;
      ++finished;
    });
    for (int k = 0; k < 50; ++k) {
      a.send(1);
      b.send(1);
    }
    wait_until(finished, 1);
    t.join();
    EXPECT_EQ(got.load(), 100);
    EXPECT_EQ(timeouts.load(), 1);
  });
}

// A fiber blocked in select when main returns is unwound: its Waiters leave every channel (the
// channels outlive go::run here: a leftover Waiter would be found by the next operation), its
// timer is disarmed, and go::run returns.
TEST_P(Select, FiberBlockedWhenMainReturnsIsUnwound) {
  go::Channel<int> a, b, c, d;
  std::atomic<int> unwound{0};
  run([&] {
    go([&] {
      Sentinel s{&unwound};
      go::select(go::on_recv(a, [] {}), go::on_send(b, 1, [] {}));
    });
    go([&] {
      Sentinel s{&unwound};
      go::select(go::on_recv(c, [] {}), go::on_recv(d, [] {}), go::on_timeout(1h, [] {}));
    });
    wait_parked("select", 2);
  });
  EXPECT_EQ(unwound.load(), 2);
  EXPECT_FALSE(a.try_send(1)) << "a select Waiter is still queued on a";
  EXPECT_EQ(b.try_recv(), std::nullopt) << "a select Waiter is still queued on b";
  EXPECT_FALSE(c.try_send(1)) << "a select Waiter is still queued on c";
  EXPECT_FALSE(d.try_send(1)) << "a select Waiter is still queued on d";
}

// The same with channels local to main, captured by reference: their last handle goes away
// while the select still waits on them, so the select's clean-up at unwinding is what frees
// them (ASan: no use after free, no leak).
TEST_P(Select, ChannelsWhoseHandlesDieWhileSelectWaitsAreFreedByIt) {
  std::atomic<int> unwound{0};
  run([&] {
    go::Channel<int> a, b;
    go::Channel<std::string> c(1);
    c.send("buffered, destroyed with the channel");
    go([&] {
      Sentinel s{&unwound};
      go::select(go::on_recv(a, [] {}), go::on_send(b, 1, [] {}), go::on_recv(a, [] {}),
                 go::on_send(c, std::string("x"), [] {}));
    });
    wait_parked("select", 1);
    EXPECT_EQ(a.size(), 0u);  // orders the fiber's reads of the handles before they die
  });
  EXPECT_EQ(unwound.load(), 1);
}

INSTANTIATE_TEST_SUITE_P(Procs, Select, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

TEST(SelectPlainThreads, WorkWithoutAnyRuntime) {
  Watchdog wd;
  go::Channel<int> a, b;
  const auto start = Clock::now();
  EXPECT_EQ(go::select(go::on_recv(a, [] {}), go::on_timeout(5ms, [] {})), 1u);
  EXPECT_GE(Clock::now() - start, 5ms);
  std::thread t([a, b]() mutable {
    for (int k = 0; k < 1000; ++k) (k % 2 ? a : b).send(k);
    a.close();
  });
  long sum = 0;
  bool closed = false;
  while (!closed)
    go::select(go::on_recv(a,
                           [&](std::optional<int> v) {
                             if (v)
                               sum += *v;
                             else
                               closed = true;
                           }),
               go::on_recv(b, [&](std::optional<int> v) { sum += *v; }));
  t.join();
  EXPECT_EQ(sum, 999 * 1000 / 2);
}

// A case refers to an lvalue handle but keeps its own copy of a temporary one: built apart from
// the select, it must still reach a channel whose other handles are gone (ASan checks the
// memory; the values check the channel).
TEST(SelectPlainThreads, CasesBuiltFromTemporaryHandlesKeepTheirChannel) {
  std::optional<int> got;
  bool sent = false;
  auto make_cases = [&] {
    go::Channel<int> in(1), out(1);
    in.send(7);
    return std::make_pair(go::on_recv(go::Channel<int>(in), [&](std::optional<int> v) { got = v; }),
                          go::on_send(go::Channel<int>(out), 8, [&] { sent = true; }));
  };
  auto cases = make_cases();  // in and out are gone: the cases hold the only handles
  EXPECT_EQ(go::select(cases.first), 0u);
  EXPECT_EQ(got, 7);
  EXPECT_EQ(go::select(cases.second), 0u);
  EXPECT_TRUE(sent);
}
// --- Stress.

class SelectStress : public gocxx_test::StressTest {};

// Selectors wait on eight channels; producers on every P (and a plain thread) send to all of
// them at once. Each value must be received exactly once, and each select must run exactly
// one handler: a double wake-up aborts in ready(), a lost one trips the watchdog.
TEST_P(SelectStress, ManyChannelsReadyAtOnceWakeTheSelectorExactlyOnce) {
  for (std::size_t cap : {0u, 4u}) {
    run([this, cap] {
      constexpr int kChans = 8;
      const int selectors = 3;
      const long per = scaled(20000);
      std::vector<go::Channel<long>> chans;
      for (int c = 0; c < kChans; ++c) chans.emplace_back(cap);
      std::atomic<long> received{0}, sum{0}, handlers{0}, selects{0}, done{0};
      const long total = per * kChans;
      for (int s = 0; s < selectors; ++s)
        go([=, &received, &sum, &handlers, &selects, &done]() mutable {
          auto h = [&](std::optional<long> v) {
            ++handlers;
            if (v) {
              ++received;
              sum += *v;
            }
          };
          go::Channel<long>* c = chans.data();
          for (;;) {
            go::select(go::on_recv(c[0], h), go::on_recv(c[1], h), go::on_recv(c[2], h),
                       go::on_recv(c[3], h), go::on_recv(c[4], h), go::on_recv(c[5], h),
                       go::on_recv(c[6], h), go::on_recv(c[7], h), go::on_default([] {}));
            ++selects;
            if (received.load() >= total) break;
            if (selects.load() % 64 == 0) go::this_fiber::yield();
            // Mostly block: the default above only makes a few rounds non-blocking.
            go::select(go::on_recv(c[0], h), go::on_recv(c[1], h), go::on_recv(c[2], h),
                       go::on_recv(c[3], h), go::on_recv(c[4], h), go::on_recv(c[5], h),
                       go::on_recv(c[6], h), go::on_recv(c[7], h), go::on_timeout(20ms, [] {}));
            ++selects;
            if (received.load() >= total) break;
          }
          ++done;
        });
      std::vector<std::thread> threads;
      for (int c = 0; c < kChans; ++c) {
        auto produce = [ch = chans[c], c, per]() mutable {
          for (long j = 0; j < per; ++j) ch.send(c * per + j);
        };
        if (c == 0)
          threads.emplace_back(produce);
        else
          go(produce);
      }
      wait_until(done, selectors);
      for (auto& t : threads) t.join();
      EXPECT_EQ(received.load(), total);
      EXPECT_EQ(sum.load(), total * (total - 1) / 2);
      EXPECT_EQ(handlers.load(), received.load()) << "a handler ran without a value";
      for (auto& ch : chans) EXPECT_EQ(ch.try_recv(), std::nullopt);
    });
  }
}

// Send cases: a selector offers each value to eight consumers at once; each value must be
// received by exactly one consumer (the claim CAS picks one case per select).
TEST_P(SelectStress, SendCasesDeliverEachValueExactlyOnce) {
  run([this] {
    constexpr int kChans = 8;
    const long n = scaled(100000);
    std::vector<go::Channel<long>> chans(kChans);
    std::atomic<long> received{0}, sum{0}, done{0};
    for (int c = 0; c < kChans; ++c)
      go([ch = chans[c], &received, &sum, &done]() mutable {
        for (long v : ch) {
          ++received;
          sum += v;
        }
        ++done;
      });
    go::Channel<long>* c = chans.data();
    long handled = 0;
    for (long v = 1; v <= n; ++v) {
      auto h = [&] { ++handled; };
      go::select(go::on_send(c[0], v, h), go::on_send(c[1], v, h), go::on_send(c[2], v, h),
                 go::on_send(c[3], v, h), go::on_send(c[4], v, h), go::on_send(c[5], v, h),
                 go::on_send(c[6], v, h), go::on_send(c[7], v, h));
    }
    for (auto& ch : chans) ch.close();
    wait_until(done, kChans);
    EXPECT_EQ(handled, n);
    EXPECT_EQ(received.load(), n);
    EXPECT_EQ(sum.load(), n * (n + 1) / 2);
  });
}

// A receive with a short timeout races with a sender over and over: the timer fires while a
// value arrives. A value is either received by the select or still in flight, never lost
// (each send returns only once its value was received).
TEST_P(SelectStress, TimeoutsRacingWithValues) {
  run([this] {
    const long n = scaled(10000);
    go::Channel<long> ch;
    std::atomic<long> sent{0};
    go([ch, n, &sent]() mutable {
      for (long v = 1; v <= n; ++v) {
        ch.send(v);
        ++sent;
        if (v % 3 == 0) go::this_fiber::sleep_for(std::chrono::microseconds(v % 50));
      }
      ch.close();
    });
    long received = 0, sum = 0, timeouts = 0;
    bool closed = false;
    while (!closed)
      go::select(go::on_recv(ch,
                             [&](std::optional<long> v) {
                               if (!v) {
                                 closed = true;
                                 return;
                               }
                               ++received;
                               sum += *v;
                             }),
                 go::on_timeout(std::chrono::microseconds(1 + received % 40), [&] { ++timeouts; }));
    EXPECT_EQ(received, n);
    EXPECT_EQ(sum, n * (n + 1) / 2);
    EXPECT_EQ(sent.load(), n);
    EXPECT_EQ(armed_timers(), 0u);
  });
}

// Close wakes selects racing on the same channels; every select runs exactly one handler.
TEST_P(SelectStress, CloseRacingWithSelects) {
  run([this] {
    const long rounds = scaled(2000);
    for (long r = 0; r < rounds; ++r) {
      go::Channel<int> a, b(static_cast<std::size_t>(r % 3));
      std::atomic<long> handlers{0}, done{0}, threw{0};
      const int fibers = 4;
      for (int f = 0; f < fibers; ++f)
        go([=, &handlers, &done, &threw]() mutable {
          try {
            if (f % 2 == 0)
              go::select(go::on_recv(a, [&] { ++handlers; }), go::on_recv(b, [&] { ++handlers; }));
            else
              go::select(go::on_send(a, 1, [&] { ++handlers; }),
                         go::on_send(b, 1, [&] { ++handlers; }));
          } catch (const go::ChannelClosed&) {
            ++threw;
          }
          ++done;
        });
      for (long y = 0; y < r % 5; ++y) go::this_fiber::yield();
      a.close();
      b.close();
      wait_until(done, fibers);
      ASSERT_EQ(handlers.load() + threw.load(), fibers) << "round " << r;
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, SelectStress, ::testing::ValuesIn(gocxx_test::kStressParams),
                         gocxx_test::stress_name);

}  // namespace
