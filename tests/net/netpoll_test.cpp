// The netpoller (src/net/netpoll.h) on its own, with socketpairs: waits that park, events that
// wake exactly the waiting fiber, close and deadlines that wake it with their status, plain
// threads, and the idle M that sleeps in epoll_wait being woken by timers, spawns and events.
#include "net/netpoll.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"
#include "sched/scheduler.h"
#include "test_util.h"

using namespace std::chrono_literals;
using go::detail::PollDesc;
using go::detail::PollMode;
using go::detail::PollStatus;
using gocxx_test::live_fibers;
using gocxx_test::wait_parked;
using gocxx_test::wait_until;

namespace {

// A connected pair of non-blocking stream sockets, each registered with the netpoller.
struct Pair {
  int fd[2] = {-1, -1};
  PollDesc* pd[2] = {nullptr, nullptr};
  Pair() {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0)
      throw std::system_error(errno, std::system_category(), "socketpair");
    pd[0] = go::detail::poll_open(fd[0]);
    pd[1] = go::detail::poll_open(fd[1]);
  }
  ~Pair() {
    for (int i = 0; i < 2; ++i) {
      if (pd[i] != nullptr) go::detail::poll_close(pd[i]);
      if (fd[i] >= 0) ::close(fd[i]);
    }
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
};

// Reads one byte from side i, waiting in the netpoller on EAGAIN; the status that ended it.
PollStatus read_byte(Pair& p, int i, char* out) {
  for (;;) {
    if (::read(p.fd[i], out, 1) == 1) return PollStatus::ready;
    if (errno != EAGAIN) ADD_FAILURE() << "read: errno " << errno;
    const PollStatus st = go::detail::poll_wait(p.pd[i], PollMode::read);
    if (st != PollStatus::ready) return st;
  }
}

void write_byte(Pair& p, int i, char c) {
  ASSERT_EQ(::write(p.fd[i], &c, 1), 1);
}

std::int64_t from_now(std::chrono::nanoseconds d) {
  return go::detail::now_ns() + d.count();
}

class Netpoll : public gocxx_test::ProcsTest {};

TEST_P(Netpoll, ReaderParksUntilTheWriterWrites) {
  run([] {
    Pair p;
    std::atomic<int> got{0};
    go([&] {
      char c = 0;
      EXPECT_EQ(read_byte(p, 0, &c), PollStatus::ready);
      EXPECT_EQ(c, 'x');
      ++got;
    });
    wait_parked("netpoll read", 1);
    EXPECT_EQ(got.load(), 0);
    write_byte(p, 1, 'x');
    wait_until(got, 1);
  });
}

TEST_P(Netpoll, ManyFibersEachOnItsOwnSocket) {
  run([] {
    const int n = static_cast<int>(live_fibers(1000));
    std::vector<std::unique_ptr<Pair>> pairs;
    for (int i = 0; i < n; ++i) pairs.push_back(std::make_unique<Pair>());
    std::atomic<int> got{0};
    for (int i = 0; i < n; ++i)
      go([&, i] {
        char c = 0;
        EXPECT_EQ(read_byte(*pairs[i], 0, &c), PollStatus::ready);
        EXPECT_EQ(c, static_cast<char>('a' + i % 26));
        ++got;
      });
    wait_parked("netpoll read", n / 2);  // most are parked by now; the rest find data at once
    for (int i = 0; i < n; ++i) write_byte(*pairs[i], 1, static_cast<char>('a' + i % 26));
    wait_until(got, n);
  });
}

TEST_P(Netpoll, CloseWakesTheParkedReaderWithClosed) {
  run([] {
    int fd[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0);
    PollDesc* pd = go::detail::poll_open(fd[0]);
    std::atomic<int> done{0};
    go([&] {
      EXPECT_EQ(go::detail::poll_wait(pd, PollMode::read), PollStatus::closed);
      ++done;
    });
    wait_parked("netpoll read", 1);
    go::detail::poll_close(pd);
    ::close(fd[0]);
    wait_until(done, 1);
    ::close(fd[1]);
  });
}

TEST_P(Netpoll, DeadlinePassesWhileParkedThenTheSocketStillWorks) {
  run([] {
    Pair p;
    go::detail::poll_set_deadline(p.pd[0], PollMode::read, from_now(20ms));
    const auto t0 = std::chrono::steady_clock::now();
    char c = 0;
    EXPECT_EQ(read_byte(p, 0, &c), PollStatus::timeout);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms) << "woke before its deadline";
    EXPECT_EQ(go::detail::poll_wait(p.pd[0], PollMode::read), PollStatus::timeout)
        << "a passed deadline keeps failing waits";
    go::detail::poll_set_deadline(p.pd[0], PollMode::read, 0);  // cleared
    write_byte(p, 1, 'y');
    EXPECT_EQ(read_byte(p, 0, &c), PollStatus::ready);
    EXPECT_EQ(c, 'y');
  });
}

TEST_P(Netpoll, DeadlineMovedIntoThePastWakesTheWaiter) {
  run([] {
    Pair p;
    go::detail::poll_set_deadline(p.pd[0], PollMode::read, from_now(1h));
    std::atomic<int> done{0};
    go([&] {
      char c;
      EXPECT_EQ(read_byte(p, 0, &c), PollStatus::timeout);
      ++done;
    });
    wait_parked("netpoll read", 1);
    go::detail::poll_set_deadline(p.pd[0], PollMode::read, from_now(-1ms));
    wait_until(done, 1);
  });
}

TEST_P(Netpoll, DeadlineMovedLaterDoesNotFireEarly) {
  run([] {
    Pair p;
    go::detail::poll_set_deadline(p.pd[0], PollMode::read, from_now(5ms));
    go::detail::poll_set_deadline(p.pd[0], PollMode::read, from_now(1h));
    std::atomic<int> done{0};
    go([&] {
      char c;
      EXPECT_EQ(read_byte(p, 0, &c), PollStatus::ready);
      ++done;
    });
    go::this_fiber::sleep_for(30ms);  // past the first deadline: its timer must do nothing
    EXPECT_EQ(done.load(), 0);
    write_byte(p, 1, 'z');
    wait_until(done, 1);
  });
}

TEST_P(Netpoll, WriteModeWaitsForRoomAndHasItsOwnDeadline) {
  run([] {
    Pair p;
    int small = 4096;
    ASSERT_EQ(setsockopt(p.fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    std::array<char, 4096> chunk{};
    while (::write(p.fd[0], chunk.data(), chunk.size()) > 0) {
    }
    ASSERT_EQ(errno, EAGAIN);
    go::detail::poll_set_deadline(p.pd[0], PollMode::write, from_now(10ms));
    EXPECT_EQ(go::detail::poll_wait(p.pd[0], PollMode::write), PollStatus::timeout);
    go::detail::poll_set_deadline(p.pd[0], PollMode::write, 0);
    std::atomic<int> room{0};
    go([&] {
      EXPECT_EQ(go::detail::poll_wait(p.pd[0], PollMode::write), PollStatus::ready);
      ++room;
    });
    wait_parked("netpoll write", 1);
    while (::read(p.fd[1], chunk.data(), chunk.size()) > 0) {
    }
    wait_until(room, 1);
  });
}

// The only M sleeps in epoll_wait (main waits on a socket, nothing else runs): a plain thread
// that writes, a timer that comes due, and a spawn from a plain thread each wake it.
// poll_wait_any: one fiber on several slots; the first event, close or deadline wakes it.
TEST_P(Netpoll, WaitAnyWakesOnAnEventOnAnyItemCloseOrDeadline) {
  run([] {
    Pair a, b;
    const go::detail::PollWaitItem items[] = {{a.pd[0], PollMode::read}, {b.pd[0], PollMode::read}};
    // An event on the second item wakes it.
    go([&] {
      wait_parked("netpoll read", 1);
      write_byte(b, 1, 'b');
    });
    EXPECT_EQ(go::detail::poll_wait_any(items, 2, 0), PollStatus::ready);
    char c = 0;
    EXPECT_EQ(::read(b.fd[0], &c, 1), 1);
    // An event that came before the wait (the slot is ready, or the next poll finds it).
    write_byte(a, 1, 'a');
    EXPECT_EQ(go::detail::poll_wait_any(items, 2, 0), PollStatus::ready);
    EXPECT_EQ(::read(a.fd[0], &c, 1), 1);
    // The deadline.
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(go::detail::poll_wait_any(items, 2, from_now(20ms)), PollStatus::timeout);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 19ms);
    // A close of one item while parked.
    go([&] {
      wait_parked("netpoll read", 1);
      go::detail::poll_close(a.pd[0]);
      a.pd[0] = nullptr;
    });
    EXPECT_EQ(go::detail::poll_wait_any(items, 2, 0), PollStatus::ready);
    // The slots are free again: a plain poll_wait on b works.
    go([&] { write_byte(b, 1, 'c'); });
    EXPECT_EQ(read_byte(b, 0, &c), PollStatus::ready);
    EXPECT_EQ(c, 'c');
  });
}

// Lost or double wake-ups: fibers loop in poll_wait_any over two sockets each while writers on
// every P write to either at random; each wait must end (the watchdog catches a lost one) and a
// double ready aborts the runtime.
TEST_P(Netpoll, WaitAnyStressWithWritersOnEveryP) {
  const int kWaiters = 8;
  const int rounds = static_cast<int>(gocxx_test::iterations(20000));
  gocxx_test::Watchdog wd;
  run([&] {
    std::vector<std::unique_ptr<Pair>> pairs;
    for (int i = 0; i < 2 * kWaiters; ++i) pairs.push_back(std::make_unique<Pair>());
    std::atomic<long> woken{0};
    go::WaitGroup wg;
    wg.add(2 * kWaiters);
    for (int w = 0; w < kWaiters; ++w) {
      Pair& x = *pairs[2 * w];
      Pair& y = *pairs[2 * w + 1];
      // The waiter: consumes one byte per round from whichever socket has it.
      go([&, rounds] {
        const go::detail::PollWaitItem items[] = {{x.pd[0], PollMode::read},
                                                  {y.pd[0], PollMode::read}};
        for (int got = 0; got < rounds;) {
          char c;
          bool any = false;
          for (Pair* p : {&x, &y}) {
            while (::read(p->fd[0], &c, 1) == 1) {
              ++got;
              any = true;
            }
          }
          if (!any && got < rounds) {
            go::detail::poll_wait_any(items, 2, 0);
            ++woken;
          }
        }
        wg.done();
      });
      // Its writer: one byte per round to x or y, yielding now and then.
      go([&, w, rounds] {
        unsigned r = static_cast<unsigned>(w) * 2654435761u + 1;
        for (int i = 0; i < rounds; ++i) {
          r = r * 1103515245u + 12345u;
          Pair& to = (r >> 16) & 1 ? x : y;
          while (::write(to.fd[1], "z", 1) != 1) go::this_fiber::yield();  // full: let it read
          if ((r >> 20) % 3 == 0) go::this_fiber::yield();
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_GT(woken.load(), 0);
  });
}

TEST_P(Netpoll, IdleMSleepingInTheNetpollerIsWokenByEventsTimersAndSpawns) {
  run([] {
    Pair p;
    char c = 0;
    std::thread writer([&] {
      std::this_thread::sleep_for(20ms);
      write_byte(p, 1, 'a');
    });
    EXPECT_EQ(read_byte(p, 0, &c), PollStatus::ready);
    writer.join();

    go([&] {
      go::this_fiber::sleep_for(20ms);  // a timer must end the netpoll sleep
      write_byte(p, 1, 'b');
    });
    EXPECT_EQ(read_byte(p, 0, &c), PollStatus::ready);
    EXPECT_EQ(c, 'b');

    std::thread spawner([&] {
      std::this_thread::sleep_for(20ms);
      go([&] { write_byte(p, 1, 'c'); });  // readied into the global queue: needs a wake-up
    });
    EXPECT_EQ(read_byte(p, 0, &c), PollStatus::ready);
    EXPECT_EQ(c, 'c');
    spawner.join();
  });
}

// A P that never runs out of work still polls: a reader's data arrives while another fiber
// yields in a loop on the only P.
TEST_P(Netpoll, BusyPStillPollsTheNetwork) {
  run([] {
    Pair p;
    std::atomic<bool> got{false};
    go([&] {
      char c;
      EXPECT_EQ(read_byte(p, 0, &c), PollStatus::ready);
      got = true;
    });
    wait_parked("netpoll read", 1);
    std::atomic<bool> stop{false};
    const int spinners = GetParam();  // one per P: every P stays busy
    go::WaitGroup wg;
    wg.add(spinners);
    for (int i = 0; i < spinners; ++i)
      go([&] {
        while (!got.load() && !stop.load()) go::this_fiber::yield();
        wg.done();
      });
    write_byte(p, 1, 'q');
    const auto t0 = std::chrono::steady_clock::now();
    while (!got.load() && std::chrono::steady_clock::now() - t0 < 30s) go::this_fiber::yield();
    stop = true;
    wg.wait();
    EXPECT_TRUE(got.load()) << "the reader was never woken while every P was busy";
  });
}

TEST(NetpollThreads, PlainThreadWaitsInPollAndSeesDeadlinesAndClose) {
  Pair p;
  char c = 0;
  std::thread writer([&] {
    std::this_thread::sleep_for(10ms);
    write_byte(p, 1, 'w');
  });
  EXPECT_EQ(read_byte(p, 0, &c), PollStatus::ready);
  EXPECT_EQ(c, 'w');
  writer.join();

  go::detail::poll_set_deadline(p.pd[0], PollMode::read, from_now(10ms));
  EXPECT_EQ(read_byte(p, 0, &c), PollStatus::timeout);
  go::detail::poll_set_deadline(p.pd[0], PollMode::read, 0);

  std::atomic<int> done{0};
  std::thread waiter([&] {
    EXPECT_EQ(go::detail::poll_wait(p.pd[0], PollMode::read), PollStatus::closed);
    ++done;
  });
  std::this_thread::sleep_for(20ms);  // let it get into ppoll (either way it must end closed)
  go::detail::poll_close(p.pd[0]);
  p.pd[0] = nullptr;
  waiter.join();
  EXPECT_EQ(done.load(), 1);
}

// A deadline that passes between the wait's check of it and its ppoll must read as a timeout
// (it once gave ppoll a negative timeout: EINVAL, reported as closed).
TEST(NetpollThreads, PlainThreadDeadlineThatPassesAsTheWaitStartsIsATimeout) {
  Pair p;
  char c = 0;
  // Deadlines from 0 to 5 us ahead in 10 ns steps: some pass just between the two.
  for (int i = 0; i < 20000; ++i) {
    go::detail::poll_set_deadline(p.pd[0], PollMode::read,
                                  from_now(std::chrono::nanoseconds(i % 500 * 10)));
    ASSERT_EQ(read_byte(p, 0, &c), PollStatus::timeout) << "iteration " << i;
  }
}

TEST(NetpollErrors, RegularFilesAreRefusedWithAClearError) {
  const int fd = ::open("/proc/self/status", O_RDONLY | O_NONBLOCK);
  ASSERT_GE(fd, 0);
  try {
    go::detail::poll_open(fd);
    ADD_FAILURE() << "epoll accepted a regular file";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EPERM);
    EXPECT_NE(std::string(e.what()).find("epoll"), std::string::npos) << e.what();
  }
  ::close(fd);
}

INSTANTIATE_TEST_SUITE_P(Procs, Netpoll, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

}  // namespace
