// go::Channel: every clause of API.md's Channels section and Go's channel semantics (rendezvous,
// FIFO of values and of waiting parties, close, try_*, move-only values, range-for), from fibers
// and plain threads, over 1, 2 and 4 Ps; then stress tests that count every value and would
// catch a lost wake-up (a watchdog dumps the fibers instead of hanging forever).
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"
#include "sched/scheduler.h"
#include "test_util.h"

using namespace std::chrono_literals;
using gocxx_test::iterations;
using gocxx_test::live_fibers;
using gocxx_test::procs;
using gocxx_test::Sentinel;
using gocxx_test::wait_parked;
using gocxx_test::wait_until;
using gocxx_test::Watchdog;

namespace {

// Counts live instances, to check that buffered values are destroyed exactly once.
struct Counted {
  static std::atomic<long> live;
  int v = 0;
  explicit Counted(int x) : v(x) { ++live; }
  Counted(Counted&& o) noexcept : v(o.v) { ++live; }
  Counted& operator=(Counted&&) noexcept = default;
  ~Counted() { --live; }
};
std::atomic<long> Counted::live{0};

class Chan : public gocxx_test::ProcsTest {};

TEST(ChanBasics, ClosedDerivesFromLogicError) {
  static_assert(std::is_base_of_v<std::logic_error, go::ChannelClosed>);
  go::Channel<int> ch(1);
  ch.close();
  try {
    ch.send(1);
    FAIL() << "send on a closed channel did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("send on closed channel"), std::string::npos) << e.what();
  }
}

TEST_P(Chan, UnbufferedSendWaitsForTheReceiver) {
  run([] {
    go::Channel<int> ch;
    std::atomic<bool> sent{false};
    go([&] {
      ch.send(7);
      sent = true;
    });
    wait_parked("chan send", 1);
    for (int i = 0; i < 50; ++i) {
      go::this_fiber::yield();
      go::this_fiber::sleep_for(10us);
    }
    EXPECT_FALSE(sent.load()) << "send returned before any receiver arrived";
    EXPECT_EQ(ch.size(), 0u);
    EXPECT_EQ(ch.recv(), 7);
    while (!sent.load()) go::this_fiber::yield();
  });
}

TEST_P(Chan, UnbufferedRecvWaitsForTheSender) {
  run([] {
    go::Channel<int> ch;
    std::atomic<int> got{0};
    go([&] { got = *ch.recv(); });
    wait_parked("chan receive", 1);
    for (int i = 0; i < 50; ++i) go::this_fiber::yield();
    EXPECT_EQ(got.load(), 0);
    ch.send(9);  // returns once the receiver has the value (rendezvous)
    while (got.load() == 0) go::this_fiber::yield();
    EXPECT_EQ(got.load(), 9);
  });
}

TEST_P(Chan, BufferedSendWaitsOnlyWhenFull) {
  run([] {
    go::Channel<int> ch(3);
    EXPECT_EQ(ch.capacity(), 3u);
    for (int i = 1; i <= 3; ++i) ch.send(i);  // would hang the test if it waited
    EXPECT_EQ(ch.size(), 3u);
    std::atomic<bool> sent{false};
    go([&] {
      ch.send(4);
      sent = true;
    });
    wait_parked("chan send", 1);
    EXPECT_FALSE(sent.load());
    EXPECT_EQ(ch.recv(), 1);
    while (!sent.load()) go::this_fiber::yield();
    EXPECT_EQ(ch.size(), 3u);
    EXPECT_EQ(ch.recv(), 2);
    EXPECT_EQ(ch.recv(), 3);
    EXPECT_EQ(ch.recv(), 4);
    EXPECT_EQ(ch.size(), 0u);
  });
}

TEST_P(Chan, ValuesArriveInSendOrder) {
  run([] {
    for (std::size_t cap : {0u, 1u, 7u, 64u}) {
      go::Channel<int> ch(cap);
      const int n = 5000;
      go([ch, n]() mutable {
        for (int i = 0; i < n; ++i) ch.send(i);
        ch.close();
      });
      int expect = 0;
      while (auto v = ch.recv()) {
        ASSERT_EQ(*v, expect) << "capacity " << cap;
        ++expect;
      }
      EXPECT_EQ(expect, n);
    }
  });
}

// Senders that block are served in the order they blocked, also behind a full buffer (where a
// receiver moves the first waiting sender's value into the buffer).
TEST_P(Chan, BlockedSendersAreServedFirstComeFirstServed) {
  run([] {
    for (std::size_t cap : {0u, 2u}) {
      go::Channel<int> ch(cap);
      for (int i = 0; i < static_cast<int>(cap); ++i) ch.send(-static_cast<int>(cap) + i);
      const int n = 16;
      for (int i = 0; i < n; ++i) {
        go([ch, i]() mutable { ch.send(i); });
        wait_parked("chan send", i + 1);  // sender i is queued before sender i+1 starts
      }
      for (int i = -static_cast<int>(cap); i < n; ++i) EXPECT_EQ(ch.recv(), i) << "cap " << cap;
      EXPECT_EQ(ch.try_recv(), std::nullopt);
    }
  });
}

TEST_P(Chan, BlockedReceiversAreServedFirstComeFirstServed) {
  run([] {
    for (std::size_t cap : {0u, 4u}) {
      go::Channel<int> ch(cap);
      const int n = 16;
      std::vector<std::atomic<int>> got(n);
      std::atomic<long> done{0};
      for (int i = 0; i < n; ++i) {
        got[i] = -1;
        go([ch, i, &got, &done]() mutable {
          got[i] = *ch.recv();
          ++done;
        });
        wait_parked("chan receive", i + 1);
      }
      for (int i = 0; i < n; ++i) ch.send(i);
      wait_until(done, n);
      for (int i = 0; i < n; ++i) EXPECT_EQ(got[i].load(), i) << "receiver " << i;
    }
  });
}

TEST_P(Chan, CloseWakesEveryReceiverWithNullopt) {
  run([] {
    go::Channel<int> ch;
    const int n = 10;
    std::atomic<long> nullopts{0};
    for (int i = 0; i < n; ++i)
      go([ch, &nullopts]() mutable {
        if (!ch.recv().has_value()) ++nullopts;
      });
    wait_parked("chan receive", n);
    ch.close();
    wait_until(nullopts, n);
    EXPECT_EQ(ch.recv(), std::nullopt);  // and again, at once
    EXPECT_EQ(ch.recv(), std::nullopt);
  });
}

TEST_P(Chan, CloseMakesEveryBlockedSenderThrow) {
  run([] {
    for (std::size_t cap : {0u, 1u}) {
      go::Channel<int> ch(cap);
      if (cap == 1) ch.send(100);
      const int n = 10;
      std::atomic<long> threw{0};
      for (int i = 0; i < n; ++i)
        go([ch, i, &threw]() mutable {
          try {
            ch.send(i);
          } catch (const go::ChannelClosed& e) {
            if (std::string(e.what()).find("closed") != std::string::npos) ++threw;
          }
        });
      wait_parked("chan send", n);
      ch.close();
      wait_until(threw, n);
      if (cap == 1) {
        EXPECT_EQ(ch.recv(), 100);  // the buffered value survives the close
      }
      EXPECT_EQ(ch.recv(), std::nullopt);
    }
  });
}

TEST_P(Chan, BufferedValuesAreReceivedAfterClose) {
  run([] {
    go::Channel<int> ch(4);
    ch.send(1);
    ch.send(2);
    ch.send(3);
    ch.close();
    EXPECT_TRUE(ch.closed());
    EXPECT_EQ(ch.size(), 3u);
    EXPECT_EQ(ch.recv(), 1);
    EXPECT_EQ(ch.try_recv(), 2);
    EXPECT_EQ(ch.recv(), 3);
    EXPECT_EQ(ch.recv(), std::nullopt);
    EXPECT_EQ(ch.try_recv(), std::nullopt);
    EXPECT_EQ(ch.size(), 0u);
  });
}

TEST_P(Chan, SendOnClosedAndDoubleCloseThrow) {
  run([] {
    go::Channel<int> ch(2);
    EXPECT_FALSE(ch.closed());
    ch.close();
    EXPECT_THROW(ch.send(1), go::ChannelClosed);
    EXPECT_THROW(ch << 1, go::ChannelClosed);
    EXPECT_THROW(ch.try_send(1), go::ChannelClosed);
    try {
      ch.close();
      ADD_FAILURE() << "second close did not throw";
    } catch (const go::ChannelClosed& e) {
      EXPECT_NE(std::string(e.what()).find("close of closed channel"), std::string::npos);
    }
    EXPECT_EQ(ch.size(), 0u);  // the failed sends left nothing behind
  });
}

TEST_P(Chan, TrySendAndTryRecvNeverWait) {
  run([] {
    go::Channel<int> unbuf;
    EXPECT_FALSE(unbuf.try_send(1));  // nobody receives
    EXPECT_EQ(unbuf.try_recv(), std::nullopt);

    std::atomic<int> got{0};
    go([&] { got = *unbuf.recv(); });
    wait_parked("chan receive", 1);
    EXPECT_TRUE(unbuf.try_send(5));  // hands over to the waiting receiver
    while (got.load() == 0) go::this_fiber::yield();
    EXPECT_EQ(got.load(), 5);

    go([&] { unbuf.send(6); });
    wait_parked("chan send", 1);
    EXPECT_EQ(unbuf.try_recv(), 6);  // takes from the waiting sender
    EXPECT_EQ(unbuf.try_recv(), std::nullopt);

    go::Channel<int> buf(2);
    EXPECT_TRUE(buf.try_send(1));
    EXPECT_TRUE(buf.try_send(2));
    EXPECT_FALSE(buf.try_send(3));  // full
    EXPECT_EQ(buf.size(), 2u);
    EXPECT_EQ(buf.try_recv(), 1);
    EXPECT_EQ(buf.try_recv(), 2);
    EXPECT_EQ(buf.try_recv(), std::nullopt);  // empty
    EXPECT_TRUE(buf.try_send(4));
    buf.close();
    EXPECT_THROW(buf.try_send(5), go::ChannelClosed);
    EXPECT_EQ(buf.try_recv(), 4);  // closed but not drained
    EXPECT_EQ(buf.try_recv(), std::nullopt);
  });
}

TEST_P(Chan, MoveOnlyValues) {
  run([] {
    for (std::size_t cap : {0u, 1u, 3u}) {
      go::Channel<std::unique_ptr<int>> ch(cap);
      const int n = 200;
      go([ch, n]() mutable {
        for (int i = 0; i < n; ++i) ch.send(std::make_unique<int>(i));
        ch.close();
      });
      int expect = 0;
      for (auto& p : ch) {  // a move-only T is iterated by reference
        ASSERT_NE(p, nullptr);
        std::unique_ptr<int> mine = std::move(p);
        EXPECT_EQ(*mine, expect++);
      }
      EXPECT_EQ(expect, n);
    }
    go::Channel<std::unique_ptr<int>> ch(1);
    EXPECT_TRUE(ch.try_send(std::make_unique<int>(1)));
    EXPECT_FALSE(ch.try_send(std::make_unique<int>(2)));
    std::unique_ptr<int> out;
    EXPECT_TRUE(ch >> out);
    EXPECT_EQ(*out, 1);
  });
}

TEST_P(Chan, RangeForReceivesUntilClosedAndDrained) {
  run([] {
    go::Channel<int> ch(8);
    go([ch]() mutable {
      for (int i = 1; i <= 1000; ++i) ch.send(i);
      ch.close();
    });
    long sum = 0;
    int count = 0;
    for (int v : ch) {
      sum += v;
      ++count;
    }
    EXPECT_EQ(count, 1000);
    EXPECT_EQ(sum, 500500);
    int again = 0;
    for (int v : ch) again += v;  // closed and drained: no iteration
    EXPECT_EQ(again, 0);
    static_assert(std::input_iterator<go::Channel<int>::iterator>);
  });
}

TEST_P(Chan, StreamOperators) {
  run([] {
    go::Channel<std::string> ch(2);
    ch << "a"
       << "b";
    ch.close();
    std::string s;
    EXPECT_TRUE(ch >> s);
    EXPECT_EQ(s, "a");
    EXPECT_TRUE(ch >> s);
    EXPECT_EQ(s, "b");
    EXPECT_FALSE(ch >> s);
    EXPECT_EQ(s, "b");  // untouched once closed and drained
  });
}

TEST_P(Chan, HandlesShareOneChannel) {
  run([] {
    go::Channel<int> a(1);
    go::Channel<int> b = a;
    EXPECT_TRUE(a == b);
    go::Channel<int> c(1);
    EXPECT_FALSE(a == c);
    b.send(3);
    EXPECT_EQ(a.size(), 1u);
    EXPECT_EQ(a.recv(), 3);
    c = a;
    EXPECT_TRUE(c == a);
    c.close();
    EXPECT_TRUE(a.closed());
    go::Channel<int> moved = std::move(c);  // moving copies: c stays a valid handle
    EXPECT_TRUE(c.closed());
    EXPECT_TRUE(moved == a);
  });
}

TEST_P(Chan, BufferedValuesAreDestroyedWithTheChannel) {
  run([] {
    {
      go::Channel<Counted> ch(8);
      for (int i = 0; i < 5; ++i) ch.send(Counted(i));
      EXPECT_EQ(Counted::live.load(), 5);
      EXPECT_EQ(ch.recv()->v, 0);
      EXPECT_EQ(Counted::live.load(), 4);
      for (int i = 5; i < 9; ++i) ch.send(Counted(i));  // wraps around the ring
      EXPECT_EQ(Counted::live.load(), 8);
      go::Channel<Counted> copy = ch;
      ch.close();
    }
    EXPECT_EQ(Counted::live.load(), 0);
  });
}

// Plain threads and fibers on one channel, both directions, with a buffered and an unbuffered
// channel. The main fiber waits by sleeping, so with one P the fibers keep running.
TEST_P(Chan, PlainThreadsAndFibersTalkBothWays) {
  for (std::size_t cap : {0u, 16u}) {
    run([cap] {
      const long n = iterations(20000);
      go::Channel<long> to_fibers(cap);
      go::Channel<long> to_thread(cap);
      std::atomic<long> fiber_sum{0};
      std::atomic<long> done{0};
      for (int f = 0; f < 4; ++f)
        go([=, &fiber_sum, &done]() mutable {
          for (long v : to_fibers) {
            fiber_sum += v;
            to_thread.send(v);
          }
          ++done;
        });
      long thread_sum = 0;
      std::thread producer([=]() mutable {
        for (long i = 1; i <= n; ++i) to_fibers.send(i);
        to_fibers.close();
      });
      std::thread consumer([&thread_sum, to_thread, n]() mutable {
        for (long i = 0; i < n; ++i) thread_sum += *to_thread.recv();
      });
      wait_until(done, 4);
      std::atomic<long> joined{0};
      std::thread joiner([&] {
        producer.join();
        consumer.join();
        joined = 1;
      });
      wait_until(joined, 1);
      joiner.join();
      EXPECT_EQ(fiber_sum.load(), n * (n + 1) / 2);
      EXPECT_EQ(thread_sum, n * (n + 1) / 2);
    });
  }
}

TEST(ChanPlainThreads, WorkWithoutAnyRuntime) {
  Watchdog wd;
  for (std::size_t cap : {0u, 3u}) {
    go::Channel<int> ch(cap);
    go::Channel<int> back;
    const int n = static_cast<int>(iterations(20000));
    std::thread t([ch, back, n]() mutable {
      for (int i = 0; i < n; ++i) {
        ch.send(i);
        if (i % 100 == 0) {
          EXPECT_EQ(back.recv(), i);
        }
      }
      ch.close();
    });
    int expect = 0;
    for (int v : ch) {
      ASSERT_EQ(v, expect);
      if (v % 100 == 0) back.send(v);
      ++expect;
    }
    t.join();
    EXPECT_EQ(expect, n);
  }
}

// A fiber still blocked on a channel when main returns is unwound: its destructors run, its
// Waiter leaves the channel (else the next operation would touch a dead stack: ASan), and
// go::run returns. The channel here outlives go::run; main's own handles do not.
TEST_P(Chan, FiberBlockedWhenMainReturnsIsUnwound) {
  go::Channel<int> receivers;  // unbuffered, only receivers block on it
  go::Channel<int> senders;    // unbuffered, only senders block on it
  go::Channel<Counted> full(1);
  std::atomic<int> unwound{0};
  run([&] {
    go::Channel<int> local_r, local_s;  // gone when main returns
    full.send(Counted(1));
    go([&] {
      Sentinel s{&unwound};
      receivers.recv();
    });
    go([&] {
      Sentinel s{&unwound};
      senders.send(1);
    });
    go([&] {
      Sentinel s{&unwound};
      full.send(Counted(2));
    });
    go([&unwound, local_r]() mutable {
      Sentinel s{&unwound};
      local_r.recv();
    });
    go([&unwound, &local_s] {  // by reference: main's handle dies first
      Sentinel s{&unwound};
      local_s.send(1);
    });
    wait_parked("chan receive", 2);
    wait_parked("chan send", 3);
    // Taking the channel's lock orders the last fiber's read of local_s (before it
    // parked) before main's frame goes away (TSan).
    EXPECT_EQ(local_s.size(), 0u);
  });
  EXPECT_EQ(unwound.load(), 5);
  EXPECT_FALSE(receivers.try_send(1)) << "a receiver unwound at exit is still queued";
  EXPECT_EQ(senders.try_recv(), std::nullopt) << "a sender unwound at exit is still queued";
  EXPECT_EQ(full.size(), 1u);
  EXPECT_EQ(full.recv()->v, 1);
  EXPECT_EQ(Counted::live.load(), 0);
  // The runtime starts again afterwards and the channels still work.
  go::run([&] {
    go([&] { senders.send(5); });
    EXPECT_EQ(senders.recv(), 5);
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, Chan, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

// --- Timer callbacks send with try_send (go::Timer, go::after). The fiber receiving may be in
// the middle of parking on that very channel, its lock held until park's unlock callback.
// This deadlocked while switch_away() ran due timers before the parking fiber's unlock callback
// had released the channel lock (the callback spun on it on the same M). Go, too, runs timers
// only after park's unlockf.
TEST(ChanTimers, TimerCallbackSendsWhileTheReceiverParks) {
  Watchdog wd(60s);
  struct Ctx {
    go::Channel<int> ch{1};
    go::detail::Timer t;
  };
  go::run(
      [] {
        Ctx c;
        c.t.fire = [](go::detail::Timer*, void* arg) { static_cast<Ctx*>(arg)->ch.try_send(1); };
        c.t.arg = &c;
        std::atomic<bool> stop{false};
        go([&stop] {
          while (!stop.load()) go::this_fiber::yield();  // something to hand the P over to
        });
        for (long i = 0; i < iterations(200000); ++i) {
          c.t.when = go::detail::now_ns() + 2000;  // due about when the receiver parks
          go::detail::add_timer(&c.t);
          EXPECT_EQ(c.ch.recv(), 1);
        }
        stop = true;
      },
      procs(1));
}

// --- A move constructor that throws while the channel moves a value terminates (documented).

struct ThrowingMove {
  static inline bool armed = false;
  ThrowingMove() = default;
  ThrowingMove(ThrowingMove&&) {
    if (armed) throw std::runtime_error("move");
  }
};

TEST(ChanDeathTest, ThrowingMoveUnderTheLockTerminates) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        go::Channel<ThrowingMove> ch(1);
        ThrowingMove::armed = true;
        ch.try_send(ThrowingMove{});  // the parameter is built in place; the buffer move throws
      },
      "terminate");
}

// --- Stress.

class ChanStress : public gocxx_test::StressTest {};

// Producers (fibers and plain threads) and consumers (fibers and plain threads) share one
// channel; the last producer closes it. Every value is received exactly once (count, sum and a
// per-consumer check that each producer's values arrive in increasing order).
TEST_P(ChanStress, ManyProducersAndConsumersLoseAndDuplicateNothing) {
  for (std::size_t cap : {0u, 1u, 64u}) {
    run([this, cap] {
      const int fiber_producers = 8, thread_producers = 2;
      const int fiber_consumers = 6, thread_consumers = 2;
      const int producers = fiber_producers + thread_producers;
      const long per = scaled(200000) / producers;
      go::Channel<long> ch(cap);
      std::atomic<int> producing{producers};
      std::atomic<long> count{0}, sum{0}, order_errors{0}, consumers_done{0};
      auto produce = [ch, per, &producing](int id) mutable {
        for (long j = 0; j < per; ++j) ch.send(id * per + j);
        if (producing.fetch_sub(1) == 1) ch.close();
      };
      auto consume = [ch, per, producers, &count, &sum, &order_errors, &consumers_done]() mutable {
        std::vector<long> last(producers, -1);
        long c = 0, s = 0;
        for (long v : ch) {
          const long p = v / per;
          if (v <= last[p]) ++order_errors;
          last[p] = v;
          ++c;
          s += v;
        }
        count += c;
        sum += s;
        ++consumers_done;
      };
      for (int i = 0; i < fiber_consumers; ++i) go(consume);
      std::vector<std::thread> threads;
      for (int i = 0; i < thread_consumers; ++i) threads.emplace_back(consume);
      for (int i = 0; i < fiber_producers; ++i) go(produce, i);
      for (int i = 0; i < thread_producers; ++i) threads.emplace_back(produce, fiber_producers + i);
      wait_until(consumers_done, fiber_consumers + thread_consumers);
      for (auto& t : threads) t.join();  // all finished: joining does not block
      const long total = per * producers;
      EXPECT_EQ(count.load(), total) << "capacity " << cap;
      EXPECT_EQ(sum.load(), total * (total - 1) / 2) << "capacity " << cap;
      EXPECT_EQ(order_errors.load(), 0) << "capacity " << cap;
    });
  }
}

// Pairs of fibers ping-pong over unbuffered channels: every step parks one side.
TEST_P(ChanStress, PingPongPairs) {
  run([this] {
    const int pairs = 8;
    const long rounds = scaled(100000);
    std::atomic<long> done{0};
    for (int p = 0; p < pairs; ++p) {
      go::Channel<long> ping, pong;
      go([=, &done]() mutable {
        for (long r = 0; r < rounds; ++r) {
          ping.send(r);
          EXPECT_EQ(pong.recv(), r + 1);
        }
        ++done;
      });
      go([=, &done]() mutable {
        for (long r = 0; r < rounds; ++r) pong.send(*ping.recv() + 1);
        ++done;
      });
    }
    wait_until(done, 2 * pairs);
  });
}

// close() races with blocked and arriving senders and receivers. Each send either returns (its
// value is received exactly once) or throws ChannelClosed (its value is never received).
TEST_P(ChanStress, CloseRacingWithSendersAndReceivers) {
  run([this] {
    const long rounds = scaled(1000);
    for (long r = 0; r < rounds; ++r) {
      go::Channel<long> ch(r % 3 == 0 ? 0 : static_cast<std::size_t>(r % 5));
      const int senders = 4, receivers = 3;
      std::atomic<long> sent{0}, received{0}, done{0};
      for (int s = 0; s < senders; ++s)
        go([ch, &sent, &done]() mutable {
          try {
            for (;;) {
              ch.send(1);
              ++sent;
            }
          } catch (const go::ChannelClosed&) {
          }
          ++done;
        });
      for (int c = 0; c < receivers; ++c)
        go([ch, &received, &done]() mutable {
          for (long v : ch) received += v;
          ++done;
        });
      for (long y = 0; y < r % 7; ++y) go::this_fiber::yield();
      ch.close();
      wait_until(done, senders + receivers);
      ASSERT_EQ(sent.load(), received.load()) << "round " << r;
    }
  });
}

// Many fibers block on one channel at once (a long wait queue), then are released one by one.
TEST_P(ChanStress, LongWaitQueues) {
  run([this] {
    const long n = live_fibers(GetParam().migrate ? 500 : 5000);
    go::Channel<long> ch;
    std::atomic<long> sum{0}, done{0};
    for (long i = 0; i < n; ++i)
      go([ch, &sum, &done]() mutable {
        sum += *ch.recv();
        ++done;
      });
    for (long i = 1; i <= n; ++i) ch.send(i);
    wait_until(done, n);
    EXPECT_EQ(sum.load(), n * (n + 1) / 2);
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, ChanStress, ::testing::ValuesIn(gocxx_test::kStressParams),
                         gocxx_test::stress_name);

}  // namespace
