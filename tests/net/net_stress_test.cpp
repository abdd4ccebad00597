// go::net under load and under hostile conditions:
//  * NetStress: 10,000 echo connections alive at once, a server on 2 Ps here and the clients
//    on 2 Ps in a child process, each doing a few round trips with every byte checked (fewer
//    where the fd limit or a sanitizer demands, and it says so);
//  * NetExhaustTest: the process runs out of fds (a lowered RLIMIT_NOFILE): dial and accept
//    fail with a clear EMFILE Error naming the operation, the server keeps serving the
//    connections it has, and accepts again once fds are freed;
//  * NetEintrTest: a signal without SA_RESTART delivered to every thread, thousands of times
//    a second, while fibers (and a plain thread) dial, accept, read and write, TCP and UDP:
//    no call may fail because a syscall or a wait returned EINTR.
// Loopback (127.0.0.1) only, ports chosen by the kernel. Nothing depends on timing: waits are
// for counters, bounded by a Watchdog that dumps every fiber instead of hanging.
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"
#include "net_test_util.h"
#include "test_util.h"

using namespace std::chrono_literals;
using gocxx_test::iterations;
using gocxx_test::live_fibers;
using net_test::bytes;
using net_test::open_fds;

namespace {

int highest_fd() {
  int top = -1;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    top = std::max(top, std::stoi(e.path().filename().string()));
  return top;
}

// A message that differs for every (connection, round): a mixed-up echo cannot pass.
std::string message(long conn, int round, std::size_t size) {
  std::string s(size, '\0');
  unsigned x = static_cast<unsigned>(conn) * 2654435761u + static_cast<unsigned>(round) * 40503u;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>('!' + (x >> 16) % 90);
  }
  return s;
}

// Writes msg and reads its echo; true if every byte came back.
bool round_trip(go::net::Conn& c, const std::string& msg) {
  c.write(bytes(msg));
  std::string back(msg.size(), '\0');
  const std::size_t n = c.read_full(std::as_writable_bytes(std::span(back.data(), back.size())));
  return n == msg.size() && back == msg;
}

// Echoes until EOF; returns the Error that ended it instead, if one did.
std::string echo(go::net::Conn c) {
  std::byte buf[4096];
  try {
    for (std::size_t n; (n = c.read(buf)) != 0;) c.write(std::span(buf, n));
  } catch (const go::net::Error& e) {
    return e.what();
  }
  return {};
}

// Calls wg.done() when the scope ends, however it ends: a fiber's last word to whoever waits
// for it (before the waiter's frame, which the fiber's references point into, goes away).
struct DoneOnExit {
  go::WaitGroup& wg;
  ~DoneOnExit() { wg.done(); }
};

// Errors seen by any fiber or thread of a test: how many, and the first one's text (for the
// failure message). Called as note(what).
class ErrorLog {
 public:
  void operator()(const std::string& what) {
    count_.fetch_add(1);
    std::lock_guard lk(mu_);
    if (first_.empty()) first_ = what;
  }
  long count() const { return count_.load(); }
  std::string first() const {
    std::lock_guard lk(mu_);
    return first_;
  }

 private:
  std::atomic<long> count_{0};
  mutable std::mutex mu_;
  std::string first_;  // guarded by mu_
};

// An echo server on ln until ln is closed: an acceptor fiber (acceptor.done() when it ends)
// and one handler fiber per connection (counted in handlers, and in *served when done).
// Errors other than the listener's close go to note(what). Fiber only.
template <class Note>
void serve_echo(go::net::Listener& ln, go::WaitGroup& acceptor, go::WaitGroup& handlers, Note& note,
                std::atomic<long>* accepted = nullptr, std::atomic<long>* served = nullptr) {
  acceptor.add();
  go([&ln, &acceptor, &handlers, &note, accepted, served] {
    DoneOnExit done{acceptor};
    for (;;) {
      go::net::Conn c;
      try {
        c = ln.accept();
      } catch (const go::net::Error& e) {
        if (e.code().value() != EBADF) note(std::string("accept: ") + e.what());
        return;
      }
      if (accepted != nullptr) ++*accepted;
      handlers.add();
      go(
          [&handlers, &note, served](go::net::Conn conn) {
            const std::string err = echo(std::move(conn));
            if (!err.empty()) note("server: " + err);
            if (served != nullptr) ++*served;
            handlers.done();
          },
          std::move(c));
    }
  });
}

// RLIMIT_NOFILE changed for the duration of a scope, restored on the way out (also when an
// assertion returns early). Limits are per process: nothing outside this test binary sees it.
class NofileLimit {
 public:
  NofileLimit() { ::getrlimit(RLIMIT_NOFILE, &saved_); }
  ~NofileLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  NofileLimit(const NofileLimit&) = delete;
  NofileLimit& operator=(const NofileLimit&) = delete;

  rlim_t soft() const { return saved_.rlim_cur; }
  rlim_t hard() const { return saved_.rlim_max; }
  // Sets the soft limit (at most the hard one); false if the kernel refused.
  bool set_soft(rlim_t n) {
    rlimit r = saved_;
    r.rlim_cur = std::min(n, saved_.rlim_max);
    return ::setrlimit(RLIMIT_NOFILE, &r) == 0;
  }
  // Raises both limits to n: only a process with CAP_SYS_RESOURCE may raise the hard limit
  // (false otherwise, nothing changed). The destructor lowers it again.
  bool raise_hard(rlim_t n) {
    const rlimit r{n, n};
    return ::setrlimit(RLIMIT_NOFILE, &r) == 0;
  }

 private:
  rlimit saved_{};
};

// ------------------------------------------------------------------------------------------
// (a) 10,000 concurrent echo connections.
//
// The server runs here, the clients in a child process (this test binary again, running
// NetStressClient.Dial): each side then needs one fd per connection, so 10,000 connections
// fit under a hard RLIMIT_NOFILE of 10,000-odd, which a process may not raise (20,000 in one
// process would not).

constexpr const char* kStressAddrEnv = "GOCXX_NET_STRESS_ADDR";
constexpr const char* kStressConnsEnv = "GOCXX_NET_STRESS_CONNS";
constexpr int kStressRounds = 3;

// Sets RLIMIT_NOFILE's soft limit to the hard one; returns the connections (one fd each) that
// fit, out of `wanted`, next to the fds open now and some room for the runtime.
long connections_that_fit(NofileLimit& limit, long wanted) {
  EXPECT_TRUE(limit.set_soft(limit.hard())) << "setrlimit(RLIMIT_NOFILE) failed";
  const long room = static_cast<long>(limit.hard()) - highest_fd() - 100;
  return std::min(wanted, room);
}

// Two fibers (a client, a server handler) per connection, one in each process; TSan treats
// each live fiber as a thread, and live_fibers caps the count there.
long stress_connections() {
  return live_fibers(20000) / 2;
}

TEST(NetStress, TenThousandConcurrentEchoConnections) {
  const long wanted = stress_connections();
  if (wanted < 10000)
    std::printf(
        "NetStress: %ld connections, not 10000: this sanitizer build caps live fibers "
        "at %ld (gocxx_test::live_fibers)\n",
        wanted, static_cast<long>(live_fibers(20000)));
  // The netpoller's fds live for the process: create them before the fd count.
  { go::net::Listener warm = go::net::listen("127.0.0.1:0"); }
  NofileLimit limit;
  const long n = connections_that_fit(limit, wanted);
  if (n < wanted)
    std::printf(
        "NetStress: RLIMIT_NOFILE's hard limit is %ld fds: running %ld connections, not %ld "
        "(raise it, e.g. `ulimit -Hn %ld` as root, to run them all)\n",
        static_cast<long>(limit.hard()), n, wanted, wanted + highest_fd() + 100);
  if (n < 100) GTEST_SKIP() << "fd limit too low for a stress test (" << limit.hard() << ")";
  RecordProperty("connections", static_cast<int>(n));
  const int fds_before = open_fds();

  gocxx_test::Watchdog wd(std::chrono::seconds(300));
  const auto t0 = std::chrono::steady_clock::now();
  int child_status = -1;
  go::run(
      [n, &child_status] {
        // backlog 0: the system's maximum, so that no SYN is dropped while the acceptor
        // catches up (a dropped SYN costs the client a 1 s retransmission, not a failure).
        go::net::Listener ln = go::net::listen("127.0.0.1:0", 0);
        const std::string addr = ln.address();
        std::atomic<long> accepted{0}, served{0};
        go::WaitGroup handlers, acceptor;
        ErrorLog note;

        // The clients: this binary, NetStressClient.Dial only, told where and how many.
        const std::string addr_env = std::string(kStressAddrEnv) + "=" + addr;
        const std::string conns_env = std::string(kStressConnsEnv) + "=" + std::to_string(n);
        std::vector<char*> env;
        for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
        env.push_back(const_cast<char*>(addr_env.c_str()));
        env.push_back(const_cast<char*>(conns_env.c_str()));
        env.push_back(nullptr);
        char exe[] = "/proc/self/exe";
        char filter[] = "--gtest_filter=NetStressClient.Dial";
        char color[] = "--gtest_color=no";
        char* argv[] = {exe, filter, color, nullptr};
        pid_t child = -1;
        const int spawn_err = ::posix_spawn(&child, exe, nullptr, nullptr, argv, env.data());
        ASSERT_EQ(spawn_err, 0) << "posix_spawn: " << std::strerror(spawn_err);

        serve_echo(ln, acceptor, handlers, note, &accepted, &served);
        // The child exits once its clients are done (or it failed): then nothing more comes.
        child_status = go::blocking([child] {
          int status = 0;
          while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
          }
          return status;
        });
        ln.close();  // the acceptor's accept throws EBADF
        acceptor.wait();
        handlers.wait();  // every client closed its connection: the handlers saw EOF
        EXPECT_EQ(accepted.load(), n);
        EXPECT_EQ(served.load(), n);
        EXPECT_EQ(note.count(), 0) << "first error: " << note.first();
      },
      gocxx_test::procs(2));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0)
      << "the client process failed (its output is above); wait status " << child_status;
  std::printf(
      "NetStress: %ld connections x %d round trips, server and clients on 2 Ps each, "
      "in %.2f s\n",
      n, kStressRounds, s);

  int now = open_fds();
  for (int i = 0; i < 2000 && now > fds_before; ++i) {
    std::this_thread::sleep_for(1ms);
    now = open_fds();
  }
  EXPECT_EQ(now, fds_before) << "fds leaked";
}

// The client half of NetStress: skipped unless NetStress started this process.
TEST(NetStressClient, Dial) {
  const char* addr_env = std::getenv(kStressAddrEnv);
  const char* conns_env = std::getenv(kStressConnsEnv);
  if (addr_env == nullptr || conns_env == nullptr)
    GTEST_SKIP() << "the client half of NetStress.TenThousandConcurrentEchoConnections, which "
                    "runs it in a child process";
  const std::string addr = addr_env;
  const long n = std::atol(conns_env);
  NofileLimit limit;
  ASSERT_EQ(connections_that_fit(limit, n), n) << "the client process has fewer fds";

  gocxx_test::Watchdog wd(std::chrono::seconds(300));
  go::run(
      [n, &addr] {
        // At most this many dials not yet answered, so the listen queue never overflows.
        go::Semaphore dialing(512);
        std::atomic<long> ok{0};
        go::WaitGroup connected, start, clients;
        connected.add(static_cast<int>(n));
        start.add(1);
        clients.add(static_cast<int>(n));
        ErrorLog note;
        for (long i = 0; i < n; ++i) {
          go([&, i] {
            go::net::Conn c;
            bool dialed = false;
            dialing.acquire();
            try {
              c = go::net::dial(addr);
              dialed = true;
            } catch (const go::net::Error& e) {
              note(std::string("dial: ") + e.what());
            }
            dialing.release();
            connected.done();
            start.wait();  // every connection is open before any round trip starts
            if (dialed) {
              try {
                bool all = true;
                for (int r = 0; r < kStressRounds; ++r)
                  all = round_trip(c, message(i, r, 1 + (i * 37 + r * 1009) % 3000)) && all;
                if (all)
                  ++ok;
                else
                  note("wrong echo");
              } catch (const go::net::Error& e) {
                note(std::string("client: ") + e.what());
              }
            }
            clients.done();
          });
        }
        connected.wait();
        start.done();
        clients.wait();
        EXPECT_EQ(ok.load(), n) << "first error: " << note.first();
      },
      gocxx_test::procs(2));
}

// ------------------------------------------------------------------------------------------
// (b) Running out of fds.

class NetExhaustTest : public gocxx_test::ProcsTest {
 protected:
  static void SetUpTestSuite() {
    // The netpoller's fds live for the process: create them before the limit and the count.
    go::net::Listener warm = go::net::listen("127.0.0.1:0");
  }
};

TEST_P(NetExhaustTest, EmfileIsAClearErrorAndTheServerRecovers) {
  const int fds_before = open_fds();
  {
    NofileLimit limit;
    // Room for 60 fds above the highest one open now: ~30 connections, more if there are
    // holes below it (the limit caps fd numbers, not counts; the kernel fills holes first).
    const rlim_t low = static_cast<rlim_t>(highest_fd()) + 1 + 60;
    if (limit.soft() != RLIM_INFINITY && limit.soft() < low)
      GTEST_SKIP() << "RLIMIT_NOFILE is already below " << low;
#if defined(GOCXX_ASAN)
    // UBSan's vptr check looks up a type it has not seen yet by probing memory through a
    // pipe(2), which fails once fds are exhausted and then reads as "invalid vptr": have it
    // see go::net::Error's type (member access and what()) while fds are still available.
    try {
      go::net::dial("127.0.0.1");
    } catch (const go::net::Error& e) {
      const std::string what = e.what();  // (an EXPECT's message would not be evaluated)
      EXPECT_EQ(e.code().value(), EINVAL) << what;
    }
#endif
    ASSERT_TRUE(limit.set_soft(low));
    run([] {
      go::net::Listener ln = go::net::listen("127.0.0.1:0");
      const std::string addr = ln.address();
      std::atomic<long> accepted{0}, accept_errors{0}, handlers_done{0};
      std::atomic<int> accept_errno{0};
      std::string accept_what;  // written before accept_errors is incremented
      go::WaitGroup handlers, acceptor;
      acceptor.add();
      go([&] {
        DoneOnExit done{acceptor};
        for (;;) {
          go::net::Conn c;
          try {
            c = ln.accept();
          } catch (const go::net::Error& e) {
            if (e.code().value() == EBADF) return;  // the listener closed: the test is over
            if (accept_errors.load() == 0) {
              accept_what = e.what();
              accept_errno = e.code().value();
            }
            ++accept_errors;
            // What a server does (examples/echo_server): wait for fds to be freed, retry.
            go::this_fiber::sleep_for(2ms);
            continue;
          }
          handlers.add();
          go(
              [&](go::net::Conn conn) {
                EXPECT_EQ(echo(std::move(conn)), "");
                ++handlers_done;  // after conn's destructor: its fd is closed
                handlers.done();
              },
              std::move(c));
          ++accepted;
        }
      });

      // Spare fds, each closed at the right moment to free exactly one (see below).
      std::vector<int> spares;
      for (int i = 0; i < 8; ++i) {
        spares.push_back(::dup(STDERR_FILENO));
        ASSERT_GE(spares.back(), 0);
      }
      std::vector<go::net::Conn> conns;
      std::string dial_what;
      int dial_errno = 0;
      // Waits until the server has accepted conns.size() connections or failed once more.
      auto settle = [&](long errors_before) {
        while (accepted.load() < static_cast<long>(conns.size()) &&
               accept_errors.load() == errors_before)
          go::this_fiber::sleep_for(1ms);
      };
      // Dials until both sides have met the limit: our socket() and the server's accept().
      // Two fds per connection (ours, the server's). Bounded: the limit allows ~30.
      for (int i = 0; i < 1000 && (dial_errno == 0 || accept_errors.load() == 0); ++i) {
        const long errors_before = accept_errors.load();
        try {
          conns.push_back(go::net::dial(addr));
        } catch (const go::net::Error& e) {
          if (dial_errno == 0) {
            dial_what = e.what();
            dial_errno = e.code().value();
          }
          if (accept_errors.load() != 0) break;
          // Our socket() found no fd. Free exactly one: the next dial gets it, and the
          // server's accept then finds none. (Should something else in the process free an
          // fd meanwhile, the accept succeeds: then free one more and dial again.)
          ASSERT_FALSE(spares.empty()) << "accept never ran out of fds";
          ::close(spares.back());
          spares.pop_back();
          continue;
        }
        settle(errors_before);
      }
      ASSERT_NE(dial_errno, 0) << "dial never ran out of fds";
      ASSERT_NE(accept_errors.load(), 0) << "accept never ran out of fds";
      std::printf("fd limit reached after %zu connections:\n  %s\n  %s\n", conns.size(),
                  dial_what.c_str(), accept_what.c_str());
      EXPECT_EQ(dial_errno, EMFILE) << dial_what;
      EXPECT_EQ(dial_what, "dial tcp " + addr + ": socket: too many open files (EMFILE)");
      EXPECT_EQ(accept_errno.load(), EMFILE) << accept_what;
      EXPECT_EQ(accept_what, "accept tcp " + addr + ": accept: too many open files (EMFILE)");

      // Connections dialed after the server's accept ran out wait in the listen queue (accept
      // order is connect order); there may be none: Linux allocates accept's fd before it
      // looks at the queue, so accept fails with EMFILE as soon as the server's own last
      // connection took the last fd. Every accepted connection is still served.
      const long served_ones = accepted.load();
      ASSERT_LE(served_ones, static_cast<long>(conns.size()));
      ASSERT_GE(served_ones, 10);
      for (long i = 0; i < served_ones; ++i)
        EXPECT_TRUE(round_trip(conns[static_cast<std::size_t>(i)], message(i, 0, 100)));

      // Free fds: close some connections (and the spares). The server's retries then accept
      // the queued connections, and new ones are accepted as well.
      for (int fd : spares) ::close(fd);
      constexpr long kFreed = 6;
      for (long i = 0; i < kFreed; ++i) conns[static_cast<std::size_t>(i)].close();
      while (handlers_done.load() < kFreed) go::this_fiber::sleep_for(1ms);
      while (accepted.load() < static_cast<long>(conns.size())) go::this_fiber::sleep_for(1ms);
      for (std::size_t i = kFreed; i < conns.size(); ++i)
        EXPECT_TRUE(round_trip(conns[i], message(static_cast<long>(i), 1, 200)));
      for (int i = 0; i < 3; ++i) {
        conns.push_back(go::net::dial(addr));
        EXPECT_TRUE(round_trip(conns.back(), message(1000 + i, 2, 300)));
      }
      conns.clear();
      handlers.wait();
      ln.close();  // the acceptor's next accept (it may be asleep, retrying) throws EBADF
      acceptor.wait();
    });
  }  // the limit is restored here
  int now = open_fds();
  for (int i = 0; i < 2000 && now > fds_before; ++i) {
    std::this_thread::sleep_for(1ms);
    now = open_fds();
  }
  EXPECT_EQ(now, fds_before) << "fds leaked";
}

INSTANTIATE_TEST_SUITE_P(Procs, NetExhaustTest, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

// ------------------------------------------------------------------------------------------
// (c) EINTR: a signal storm.

std::atomic<long> g_signals{0};
static_assert(std::atomic<long>::is_always_lock_free);  // async-signal-safe

extern "C" void count_signal(int) {
  g_signals.fetch_add(1, std::memory_order_relaxed);
}

// Installs a no-op SIGUSR1 handler WITHOUT SA_RESTART, so that every blocking syscall it
// interrupts returns EINTR instead of being restarted by the kernel, and runs a thread that
// sends SIGUSR1 to every thread of the process (Ms, the blocking pool, the test's own) every
// `interval`. stop() (or the destructor) ends the storm and restores the old action.
class SignalStorm {
 public:
  explicit SignalStorm(std::chrono::microseconds interval) {
    struct sigaction sa {};
    sa.sa_handler = count_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the point of the test
    sigaction(SIGUSR1, &sa, &old_);
    thread_ = std::thread([this, interval] {
      const pid_t pid = ::getpid();
      const pid_t self = static_cast<pid_t>(::syscall(SYS_gettid));
      while (!stop_.load()) {
        for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
          const pid_t tid = static_cast<pid_t>(std::stoi(e.path().filename().string()));
          // ESRCH for a thread that just exited: fine.
          if (tid != self) ::syscall(SYS_tgkill, pid, tid, SIGUSR1);
        }
        std::this_thread::sleep_for(interval);
      }
    });
  }
  ~SignalStorm() { stop(); }
  SignalStorm(const SignalStorm&) = delete;
  SignalStorm& operator=(const SignalStorm&) = delete;

  void stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    // SIG_IGN first: it discards a SIGUSR1 still pending on some thread, which the old
    // action (the default: terminate) would otherwise deliver.
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGUSR1, &ign, nullptr);
    sigaction(SIGUSR1, &old_, nullptr);
  }

 private:
  struct sigaction old_ {};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class NetEintrTest : public gocxx_test::ProcsTest {};

TEST_P(NetEintrTest, SignalStormCausesNoSpuriousErrors) {
#if defined(GOCXX_TSAN) || defined(GOCXX_ASAN)
  const auto interval = 1ms;  // sanitizers deliver signals at their own pace
  const long target = 300;
#else
  const auto interval = 200us;
  const long target = 3000;
#endif
  constexpr int kClients = 8;
  const int min_rounds = static_cast<int>(std::max<std::int64_t>(iterations(20), 4));
  constexpr int kMaxRounds = 2000;  // a bound, should signals never arrive (then we fail)
  std::atomic<long> round_trips{0};
  ErrorLog note;
  const long signals_before = g_signals.load();
  SignalStorm storm(interval);
  run([&] {
    go::net::Listener ln = go::net::listen("127.0.0.1:0");
    const std::string addr = ln.address();
    go::WaitGroup handlers, acceptor;
    serve_echo(ln, acceptor, handlers, note);
    // UDP too: one echo socket, lockstep clients.
    go::net::PacketConn udp = go::net::listen_udp("127.0.0.1:0");
    go::WaitGroup udp_server;
    udp_server.add();
    go([&] {
      std::byte buf[2048];
      std::string from;
      try {
        for (;;) {
          const std::size_t n = udp.read_from(buf, &from);
          udp.write_to(std::span(buf, n), from);
        }
      } catch (const go::net::Error& e) {
        if (e.code().value() != EBADF) note(std::string("udp server: ") + e.what());
      }
      udp_server.done();
    });

    auto more = [&](int round) {
      return round < kMaxRounds && note.count() == 0 &&
             (round < min_rounds || g_signals.load() - signals_before < target);
    };
    // Clients: a fresh connection every round (dial and accept under fire), messages large
    // enough (64 KiB) that writes fill the socket buffers and both sides park mid-message.
    go::WaitGroup clients;
    clients.add(kClients + 1);
    for (int k = 0; k < kClients; ++k) {
      go([&, k] {
        try {
          go::net::UdpConn u = go::net::dial_udp(udp.local_address());
          // A failure of the server (noted) must not leave this client waiting for ever.
          u.set_read_deadline(std::chrono::steady_clock::now() + 120s);
          std::byte ubuf[2048];
          for (int round = 0; more(round); ++round) {
            go::net::Conn c = go::net::dial(addr, std::chrono::seconds(60));
            for (int r = 0; r < 3; ++r) {
              if (!round_trip(c, message(k * 1000 + round, r, 1 + (round * 7919 + r) % 65536)))
                note("client: wrong echo");
              ++round_trips;
            }
            const std::string d = message(k, round, 1 + round % 1400);
            u.write(bytes(d));
            const std::size_t n = u.read(ubuf);
            if (std::string(reinterpret_cast<const char*>(ubuf), n) != d)
              note("udp client: wrong echo");
            go::this_fiber::sleep_for(std::chrono::microseconds(100 * (round % 3)));  // timers
          }
        } catch (const go::net::Error& e) {
          note(std::string("client: ") + e.what());
        }
        clients.done();
      });
    }
    // A plain thread client waits in ppoll(2), which a signal interrupts as well.
    std::thread plain([&] {
      try {
        for (int round = 0; more(round); ++round) {
          go::net::Conn c = go::net::dial(addr, std::chrono::seconds(60));
          if (!round_trip(c, message(99999, round, 1 + (round * 104729) % 65536)))
            note("plain thread: wrong echo");
          ++round_trips;
        }
      } catch (const go::net::Error& e) {
        note(std::string("plain thread: ") + e.what());
      }
      clients.done();
    });
    clients.wait();
    plain.join();
    ln.close();
    acceptor.wait();
    handlers.wait();
    udp.close();
    udp_server.wait();
  });
  storm.stop();
  const long delivered = g_signals.load() - signals_before;
  std::printf("NetEintr: %ld signals delivered during %ld round trips\n", delivered,
              round_trips.load());
  EXPECT_EQ(note.count(), 0) << "first error: " << note.first();
  EXPECT_GE(delivered, target) << "the storm did not reach the threads";
}

INSTANTIATE_TEST_SUITE_P(Procs, NetEintrTest, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

}  // namespace
