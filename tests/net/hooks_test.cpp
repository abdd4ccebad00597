// The syscall hooks (src/net/hooks.cpp): plain POSIX calls inside fibers park the fiber, not the
// P; outside fibers they behave like libc's. The two proofs at the top run 200 blocking clients
// (hand-written POSIX, then libcurl) on one P against a server that answers each after 100 ms:
// parked, they finish in about 100 ms; one blocked P would take 20 s. The rest checks the
// semantics the hooks must keep (non-blocking fds never park, SO_RCVTIMEO, close, dup, fcntl,
// poll/select/epoll_wait, sleeps, plain threads).
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(GOCXX_TEST_CURL)
#include <curl/curl.h>
#endif

#include <gtest/gtest.h>

#include "go/go.h"
#include "net/netpoll.h"
#include "test_util.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using gocxx_test::parked_on;
using gocxx_test::wait_parked;

namespace {

// Sanitizer builds run several times slower; the bounds stay far below what a blocked P costs.
#if defined(GOCXX_TSAN) || defined(GOCXX_ASAN)
constexpr int kSlow = 5;
#else
constexpr int kSlow = 1;
#endif

// errno of the thread the fiber runs on now (it may have moved at a park: errno's address,
// computed before, must not be reused).
__attribute__((noipa)) int last_errno() {
  return errno;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The real O_NONBLOCK flag, past the hooks.
bool really_nonblocking(int fd) {
  return (syscall(SYS_fcntl, fd, F_GETFL) & O_NONBLOCK) != 0;
}

int count_open_fds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory's own fd
}

// A connected pair of blocking AF_UNIX sockets (or with SOCK_NONBLOCK in `flags`).
struct SocketPair {
  int fd[2] = {-1, -1};
  explicit SocketPair(int type = SOCK_STREAM, int flags = 0) {
    if (socketpair(AF_UNIX, type | flags | SOCK_CLOEXEC, 0, fd) != 0)
      ADD_FAILURE() << "socketpair: " << std::strerror(errno);
  }
  ~SocketPair() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
};

// A blocking TCP listener on 127.0.0.1, any port.
struct Listener {
  int fd = -1;
  int port = 0;
  explicit Listener(int flags = 0, int backlog = 1024) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, backlog) != 0)
      ADD_FAILURE() << "listen: " << std::strerror(errno);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() {
    if (fd >= 0) ::close(fd);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
};

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

bool write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// A server of plain threads (one per connection: the hooks pass their calls through) that
// answers each request `delay` after it arrived: an echo of a line, or an HTTP response whose
// body is the request path.
class DelayServer {
 public:
  enum class Mode { line, http };

  DelayServer(Mode mode, std::chrono::milliseconds delay) : mode_(mode), delay_(delay) {
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~DelayServer() {
    stopping_ = true;
    ::shutdown(listener_.fd, SHUT_RDWR);  // wakes the blocked accept (EINVAL)
    acceptor_.join();
    for (auto& t : conns_) t.join();
  }
  DelayServer(const DelayServer&) = delete;
  DelayServer& operator=(const DelayServer&) = delete;

  int port() const { return listener_.port; }
  int served() const { return served_.load(); }

 private:
  void accept_loop() {
    for (;;) {
      const int c = ::accept(listener_.fd, nullptr, nullptr);
      if (c < 0) {
        if (stopping_) return;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        ADD_FAILURE() << "accept: " << std::strerror(errno);
        return;
      }
      conns_.emplace_back([this, c] { serve(c); });
    }
  }

  bool complete(const std::string& req) const {
    return mode_ == Mode::line ? req.find('\n') != std::string::npos
                               : req.find("\r\n\r\n") != std::string::npos;
  }

  void serve(int c) {
    std::string req;
    char buf[4096];
    while (!complete(req)) {
      const ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) {
        ::close(c);
        return;
      }
      req.append(buf, static_cast<std::size_t>(n));
    }
    std::this_thread::sleep_for(delay_);  // a plain thread: really sleeps
    std::string resp = req;
    if (mode_ == Mode::http) {
      const std::size_t sp = req.find(' ');
      const std::string body = req.substr(sp + 1, req.find(' ', sp + 1) - sp - 1);
      resp =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
    }
    write_all(c, resp);
    ::close(c);
    ++served_;
  }

  const Mode mode_;
  const std::chrono::milliseconds delay_;
  Listener listener_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> served_{0};
  std::vector<std::thread> conns_;  // the acceptor's, joined after it
  std::thread acceptor_;            // last: starts once the members above exist
};

// Sets up what the first test would otherwise create and keep (the netpoller's epoll instance,
// libcurl's global state), so that each test can check it leaks no fd.
void warm_up() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;  // 200 curl handles use ~4 fds each
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  static std::once_flag once;
  std::call_once(once, [] {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0) {
      go::detail::poll_close(go::detail::poll_open(sv[0]));
      ::close(sv[0]);
      ::close(sv[1]);
    }
#if defined(GOCXX_TEST_CURL)
    curl_global_init(CURL_GLOBAL_ALL);
#endif
  });
}

// Checks at tear-down that the test closed every fd it opened.
class FdLeakCheck {
 protected:
  void check_begin() {
    warm_up();
    fds_before_ = count_open_fds();
  }
  void check_end() { EXPECT_EQ(count_open_fds(), fds_before_) << "the test leaked fds"; }

 private:
  int fds_before_ = 0;
};

class HookProof : public ::testing::Test, protected FdLeakCheck {
 protected:
  void SetUp() override { check_begin(); }
  void TearDown() override { check_end(); }
};

class HookTest : public gocxx_test::ProcsTest, protected FdLeakCheck {
 protected:
  void SetUp() override { check_begin(); }
  void TearDown() override { check_end(); }
};

class HookThreadTest : public ::testing::Test, protected FdLeakCheck {
 protected:
  void SetUp() override { check_begin(); }
  void TearDown() override { check_end(); }
};

// ---------------------------------------------------------------------------------------------
// The proofs: 200 blocking clients on one P.

// A client as any C program would write it: blocking socket, connect, write, read, close.
bool plain_client(int port, const std::string& line) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const sockaddr_in a = loopback(port);
  bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 &&
            ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  std::string got;
  char buf[256];
  while (ok && got.find('\n') == std::string::npos) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  EXPECT_EQ(got, line);
  return ok && got == line;
}

TEST_F(HookProof, BlockingPosixClientsIn200FibersOnOneP) {
  DelayServer server(DelayServer::Mode::line, 100ms);
  constexpr int kClients = 200;
  std::atomic<int> ok{0};
  const auto start = Clock::now();
  {
    gocxx_test::Watchdog wd;
    go::run(
        [&] {
          go::WaitGroup wg;
          for (int i = 0; i < kClients; ++i) {
            wg.add(1);
            go([&, i] {
              if (plain_client(server.port(), "ping " + std::to_string(i) + "\n")) ++ok;
              wg.done();
            });
          }
          wg.wait();
        },
        gocxx_test::procs(1));
  }
  const double ms = ms_since(start);
  std::cout << "[ info ] " << kClients
            << " blocking POSIX clients on 1 P, 100 ms server delay: " << ms
            << " ms (one blocked P: >= 20000 ms)\n";
  EXPECT_EQ(ok.load(), kClients);
  EXPECT_LT(ms, 2000.0 * kSlow);
}

#if defined(GOCXX_TEST_CURL)
std::size_t append_body(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

TEST_F(HookProof, LibcurlEasyIn200FibersOnOneP) {
  DelayServer server(DelayServer::Mode::http, 100ms);
  constexpr int kClients = 200;
  std::atomic<int> ok{0};
  const auto start = Clock::now();
  {
    gocxx_test::Watchdog wd;
    go::run(
        [&] {
          go::WaitGroup wg;
          for (int i = 0; i < kClients; ++i) {
            wg.add(1);
            go([&, i] {
              const std::string path = "/fiber" + std::to_string(i);
              const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + path;
              std::string body;
              CURL* h = curl_easy_init();
              curl_easy_setopt(h, CURLOPT_URL, url.c_str());
              curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
              curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
              curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append_body);
              curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
              const CURLcode rc = curl_easy_perform(h);
              curl_easy_cleanup(h);
              EXPECT_EQ(rc, CURLE_OK) << curl_easy_strerror(rc);
              EXPECT_EQ(body, path);
              if (rc == CURLE_OK && body == path) ++ok;
              wg.done();
            });
          }
          wg.wait();
        },
        gocxx_test::procs(1));
  }
  const double ms = ms_since(start);
  std::cout << "[ info ] " << kClients << " curl_easy_perform on 1 P, 100 ms server delay: " << ms
            << " ms (one blocked P: >= 20000 ms)\n";
  EXPECT_EQ(ok.load(), kClients);
  EXPECT_LT(ms, 2000.0 * kSlow);
}
#else
TEST_F(HookProof, LibcurlEasyIn200FibersOnOneP) {
  GTEST_SKIP() << "libcurl was not found when this build was configured (find_package(CURL))";
}
#endif

// ---------------------------------------------------------------------------------------------
// Traps.

// fds the user made non-blocking (SOCK_NONBLOCK, accept4 flags, fcntl, FIONBIO, MSG_DONTWAIT)
// return EAGAIN at once and never park.
TEST_P(HookTest, NonBlockingFdsReturnEagainAndNeverPark) {
  run([] {
    Listener l(SOCK_NONBLOCK);
    const auto start = Clock::now();
    EXPECT_EQ(::accept(l.fd, nullptr, nullptr), -1);  // nothing pending
    EXPECT_EQ(last_errno(), EAGAIN);

    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    const sockaddr_in a = loopback(l.port);
    const int rc = ::connect(c, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    EXPECT_TRUE(rc == 0 || last_errno() == EINPROGRESS) << std::strerror(last_errno());
    pollfd p{c, POLLOUT, 0};
    EXPECT_EQ(::poll(&p, 1, 5000), 1);  // connected (this one may park: it has a timeout)
    char buf[16];
    EXPECT_EQ(::read(c, buf, sizeof buf), -1);
    EXPECT_EQ(last_errno(), EAGAIN);

    int s = -1;
    while ((s = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK)) < 0) {
      ASSERT_EQ(last_errno(), EAGAIN);
      pollfd lp{l.fd, POLLIN, 0};
      ::poll(&lp, 1, 1000);
    }
    const auto t0 = Clock::now();
    EXPECT_EQ(::read(s, buf, sizeof buf), -1);
    EXPECT_EQ(last_errno(), EAGAIN);
    EXPECT_EQ(::recv(s, buf, sizeof buf, 0), -1);
    EXPECT_EQ(last_errno(), EAGAIN);
    std::vector<char> big(1 << 20, 'x');  // fill the send buffer: EAGAIN, not a park
    ssize_t n;
    while ((n = ::write(s, big.data(), big.size())) > 0) {
    }
    EXPECT_EQ(n, -1);
    EXPECT_EQ(last_errno(), EAGAIN);
    EXPECT_LT(ms_since(t0), 1000.0 * kSlow);

    // A blocking socket made non-blocking by fcntl, by ioctl(FIONBIO), or for one call by
    // MSG_DONTWAIT.
    SocketPair sp;
    EXPECT_EQ(::recv(sp.fd[0], buf, sizeof buf, MSG_DONTWAIT), -1);
    EXPECT_EQ(last_errno(), EAGAIN);
    const int fl = fcntl(sp.fd[0], F_GETFL);
    EXPECT_EQ(fl & O_NONBLOCK, 0);
    ASSERT_EQ(fcntl(sp.fd[0], F_SETFL, fl | O_NONBLOCK), 0);
    EXPECT_NE(fcntl(sp.fd[0], F_GETFL) & O_NONBLOCK, 0);
    EXPECT_EQ(::read(sp.fd[0], buf, sizeof buf), -1);
    EXPECT_EQ(last_errno(), EAGAIN);
    int on = 1;
    ASSERT_EQ(ioctl(sp.fd[1], FIONBIO, &on), 0);
    EXPECT_EQ(::read(sp.fd[1], buf, sizeof buf), -1);
    EXPECT_EQ(last_errno(), EAGAIN);
    EXPECT_EQ(parked_on("netpoll read"), 0);
    EXPECT_LT(ms_since(start), 5000.0 * kSlow);
    ::close(s);
    ::close(c);
  });
}

// An 8 MiB write to a reader that takes 64 KiB per millisecond: the writer parks between
// partial writes, its P runs other fibers meanwhile, and write() returns the full count.
TEST_P(HookTest, LargeWriteToSlowReaderParksBetweenPartialWrites) {
  run([] {
    constexpr std::size_t kSize = 8u << 20;
    SocketPair sp;
    std::vector<char> out(kSize);
    for (std::size_t i = 0; i < kSize; ++i) out[i] = static_cast<char>(i * 131 % 251);
    std::atomic<bool> writing{true};
    std::atomic<long> ticks{0};
    std::atomic<int> saw_writer_parked{0};
    go::WaitGroup wg;
    wg.add(3);
    go([&] {
      EXPECT_EQ(::write(sp.fd[0], out.data(), kSize), static_cast<ssize_t>(kSize));
      writing = false;
      wg.done();
    });
    go([&] {
      std::vector<char> in;
      in.reserve(kSize);
      char buf[64 << 10];
      while (in.size() < kSize) {
        const ssize_t n = ::read(sp.fd[1], buf, sizeof buf);
        ASSERT_GT(n, 0);
        in.insert(in.end(), buf, buf + n);
        usleep(1000);  // hooked: parks
      }
      EXPECT_TRUE(in == out) << "the stream arrived changed";
      wg.done();
    });
    go([&] {
      while (writing) {
        ++ticks;
        if (parked_on("netpoll write") > 0) ++saw_writer_parked;
        go::this_fiber::sleep_for(1ms);
      }
      wg.done();
    });
    wg.wait();
    EXPECT_GT(ticks.load(), 5) << "the P did not run other fibers during the write";
    EXPECT_GT(saw_writer_parked.load(), 0) << "the writer never parked in the netpoller";
  });
}

// eventfd and pipes used blocking-style by fibers: reads park until written; a pipe write
// larger than the pipe parks until the reader drained it.
TEST_P(HookTest, BlockingEventfdAndPipeInFibers) {
  run([] {
    const int efd = eventfd(0, EFD_CLOEXEC);
    ASSERT_GE(efd, 0);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    std::atomic<int> stage{0};
    go::WaitGroup wg;
    wg.add(2);
    go([&] {
      std::uint64_t v = 0;
      EXPECT_EQ(::read(efd, &v, sizeof v), 8);
      EXPECT_EQ(v, 5u);
      EXPECT_EQ(stage.load(), 1) << "read returned before the write";
      char buf[6] = {};
      EXPECT_EQ(::read(p[0], buf, 5), 5);
      EXPECT_STREQ(buf, "hello");
      stage = 2;
      // A write of 1 MiB into a 64 KiB pipe: parks until the other fiber drained it.
      std::vector<char> big(1 << 20, 'p');
      EXPECT_EQ(::write(p[1], big.data(), big.size()), static_cast<ssize_t>(big.size()));
      wg.done();
    });
    go([&] {
      wait_parked("netpoll read", 1);
      stage = 1;
      const std::uint64_t five = 5;
      EXPECT_EQ(::write(efd, &five, sizeof five), 8);
      go::this_fiber::sleep_for(20ms);
      EXPECT_EQ(::write(p[1], "hello", 5), 5);
      while (stage.load() != 2) go::this_fiber::sleep_for(1ms);  // the reader took it
      std::size_t got = 0;
      char buf[4096];
      while (got < (1u << 20)) {
        const ssize_t n = ::read(p[0], buf, sizeof buf);
        ASSERT_GT(n, 0);
        got += static_cast<std::size_t>(n);
      }
      wg.done();
    });
    wg.wait();
    ::close(efd);
    ::close(p[0]);
    ::close(p[1]);
  });
}

// A hooked read without SO_RCVTIMEO waits as long as it takes: still parked after 200 ms, and
// it returns what is written then.
TEST_P(HookTest, ReadWithoutTimeoutWaitsUntilFed) {
  run([] {
    SocketPair sp;
    std::atomic<bool> done{false};
    go::WaitGroup wg;
    wg.add(1);
    go([&] {
      char buf[8] = {};
      EXPECT_EQ(::read(sp.fd[0], buf, sizeof buf), 3);
      EXPECT_STREQ(buf, "abc");
      done = true;
      wg.done();
    });
    go::this_fiber::sleep_for(200ms);
    EXPECT_FALSE(done.load()) << "read returned without data";
    EXPECT_EQ(parked_on("netpoll read"), 1);
    EXPECT_EQ(::write(sp.fd[1], "abc", 3), 3);
    wg.wait();
  });
}

// SO_RCVTIMEO: EAGAIN once the timeout passed (the P runs others meanwhile); SO_SNDTIMEO: a
// write into a full buffer returns what it could write.
TEST_P(HookTest, SocketTimeoutsGiveEagain) {
  run([] {
    SocketPair sp;
    timeval tv{0, 100'000};
    ASSERT_EQ(setsockopt(sp.fd[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    timeval back{};
    socklen_t len = sizeof back;
    ASSERT_EQ(getsockopt(sp.fd[0], SOL_SOCKET, SO_RCVTIMEO, &back, &len), 0);
    EXPECT_EQ(back.tv_usec, 100'000);
    std::atomic<long> ticks{0};
    std::atomic<bool> stop{false};
    go::WaitGroup wg;
    wg.add(1);
    go([&] {
      while (!stop) {
        ++ticks;
        go::this_fiber::sleep_for(1ms);
      }
      wg.done();
    });
    const auto start = Clock::now();
    char buf[8];
    EXPECT_EQ(::read(sp.fd[0], buf, sizeof buf), -1);
    EXPECT_EQ(last_errno(), EAGAIN);
    const double ms = ms_since(start);
    EXPECT_GE(ms, 95.0);
    EXPECT_LT(ms, 5000.0 * kSlow);
    EXPECT_GT(ticks.load(), 0);

    ASSERT_EQ(setsockopt(sp.fd[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    std::vector<char> big(8u << 20, 'y');
    const ssize_t n = ::write(sp.fd[1], big.data(), big.size());
    EXPECT_GT(n, 0);
    EXPECT_LT(n, static_cast<ssize_t>(big.size()));
    stop = true;
    wg.wait();
  });
}

// poll() and select() in a fiber park until an fd is ready or the timeout passed; others run.
TEST_P(HookTest, PollAndSelectPark) {
  run([] {
    SocketPair sp;
    std::atomic<bool> written{false};
    go::WaitGroup wg;
    wg.add(1);
    go([&] {
      wait_parked("netpoll read", 1);
      written = true;
      EXPECT_EQ(::write(sp.fd[1], "x", 1), 1);
      wg.done();
    });
    pollfd p{sp.fd[0], POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 10'000), 1);
    EXPECT_TRUE(written.load());
    EXPECT_EQ(p.revents, POLLIN);
    wg.wait();
    char c;
    EXPECT_EQ(::read(sp.fd[0], &c, 1), 1);

    // Timeouts, with another fiber counting meanwhile.
    std::atomic<long> ticks{0};
    std::atomic<bool> stop{false};
    wg.add(1);
    go([&] {
      while (!stop) {
        ++ticks;
        go::this_fiber::sleep_for(1ms);
      }
      wg.done();
    });
    auto start = Clock::now();
    EXPECT_EQ(::poll(&p, 1, 100), 0);
    EXPECT_GE(ms_since(start), 95.0);
    start = Clock::now();
    EXPECT_EQ(::poll(nullptr, 0, 50), 0);  // poll as a sleep
    EXPECT_GE(ms_since(start), 45.0);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(sp.fd[0], &rs);
    timeval tv{0, 100'000};
    start = Clock::now();
    EXPECT_EQ(::select(sp.fd[0] + 1, &rs, nullptr, nullptr, &tv), 0);
    EXPECT_GE(ms_since(start), 95.0);
    EXPECT_FALSE(FD_ISSET(sp.fd[0], &rs));
    timespec ts{0, 50'000'000};
    p.revents = 0;
    EXPECT_EQ(::ppoll(&p, 1, &ts, nullptr), 0);
    EXPECT_GT(ticks.load(), 10);

    // select woken by data, with the remaining time reported.
    wg.add(1);
    go([&] {
      go::this_fiber::sleep_for(30ms);
      EXPECT_EQ(::write(sp.fd[1], "y", 1), 1);
      wg.done();
    });
    FD_ZERO(&rs);
    FD_SET(sp.fd[0], &rs);
    fd_set ws;
    FD_ZERO(&ws);  // sp.fd[1] is writable: but we ask only for fd[0] readable
    tv = {10, 0};
    EXPECT_EQ(::select(sp.fd[0] + 1, &rs, &ws, nullptr, &tv), 1);
    EXPECT_TRUE(FD_ISSET(sp.fd[0], &rs));
    EXPECT_LT(tv.tv_sec, 10);
    EXPECT_GT(tv.tv_sec, 0);
    EXPECT_EQ(::read(sp.fd[0], &c, 1), 1);
    stop = true;
    wg.wait();
  });
}

// epoll_wait on the user's own epoll instance parks the fiber; two fibers may wait on one
// instance; a timeout returns 0.
TEST_P(HookTest, UserEpollWaitParks) {
  run([] {
    SocketPair sp;
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    ASSERT_GE(ep, 0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 42;
    ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, sp.fd[0], &ev), 0);
    std::atomic<int> woke{0};
    go::WaitGroup wg;
    for (int i = 0; i < 2; ++i) {
      wg.add(1);
      go([&] {
        epoll_event got[4];
        EXPECT_EQ(epoll_wait(ep, got, 4, -1), 1);
        EXPECT_EQ(got[0].data.u64, 42u);
        ++woke;
        wg.done();
      });
    }
    wait_parked("netpoll read", 2);
    EXPECT_EQ(woke.load(), 0);
    EXPECT_EQ(::write(sp.fd[1], "z", 1), 1);
    wg.wait();
    EXPECT_EQ(woke.load(), 2);
    char c;
    EXPECT_EQ(::read(sp.fd[0], &c, 1), 1);
    const auto start = Clock::now();
    epoll_event got[4];
    EXPECT_EQ(epoll_wait(ep, got, 4, 100), 0);
    EXPECT_GE(ms_since(start), 95.0);
    EXPECT_EQ(epoll_pwait(ep, got, 4, 10, nullptr), 0);
    ::close(ep);
  });
}

// sleep, usleep, nanosleep, clock_nanosleep and std::this_thread::sleep_for in fibers park:
// 23 sleepers on this P take about one sleep, not their sum, and a counter runs meanwhile.
TEST_P(HookTest, SleepsPark) {
  run([] {
    std::atomic<long> ticks{0};
    std::atomic<int> sleeping{0};
    go::WaitGroup wg;
    const auto start = Clock::now();
    auto sleeper = [&](int kind) {
      ++sleeping;
      switch (kind) {
        case 0:
          EXPECT_EQ(usleep(200'000), 0);
          break;
        case 1: {
          const timespec ts{0, 200'000'000};
          EXPECT_EQ(nanosleep(&ts, nullptr), 0);
          break;
        }
        case 2:
          std::this_thread::sleep_for(200ms);
          break;
        case 3: {
          timespec ts;
          clock_gettime(CLOCK_MONOTONIC, &ts);
          ts.tv_nsec += 200'000'000;
          if (ts.tv_nsec >= 1'000'000'000) {
            ts.tv_nsec -= 1'000'000'000;
            ++ts.tv_sec;
          }
          EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr), 0);
          break;
        }
        default:
          EXPECT_EQ(sleep(1), 0u);
      }
      --sleeping;
      wg.done();
    };
    for (int i = 0; i < 20; ++i) {
      wg.add(1);
      go(sleeper, i % 4);
    }
    for (int i = 0; i < 3; ++i) {
      wg.add(1);
      go(sleeper, 4);
    }
    wg.add(1);
    go([&] {
      while (sleeping > 0 || ticks == 0) {
        ++ticks;
        go::this_fiber::sleep_for(1ms);
      }
      wg.done();
    });
    wg.wait();
    const double ms = ms_since(start);
    EXPECT_GE(ms, 995.0);
    EXPECT_LT(ms, 3000.0 * kSlow) << "blocking sleeps would take 7 s";
    EXPECT_GT(ticks.load(), 20);
    const timespec bad{0, 2'000'000'000};
    EXPECT_EQ(nanosleep(&bad, nullptr), -1);
    EXPECT_EQ(last_errno(), EINVAL);
  });
}

// close() of an fd other fibers are parked on wakes them with EBADF: a reader on its
// PollDesc, and two fibers in accept() on one listener (one of them on a private epoll).
TEST_P(HookTest, CloseWakesParkedFibersWithEbadf) {
  run([] {
    SocketPair sp;
    Listener l;
    std::atomic<int> ebadf{0};
    go::WaitGroup wg;
    wg.add(3);
    go([&] {
      char c;
      EXPECT_EQ(::read(sp.fd[0], &c, 1), -1);
      if (last_errno() == EBADF) ++ebadf;
      wg.done();
    });
    for (int i = 0; i < 2; ++i) {
      go([&] {
        EXPECT_EQ(::accept(l.fd, nullptr, nullptr), -1);
        if (last_errno() == EBADF) ++ebadf;
        wg.done();
      });
    }
    wait_parked("netpoll read", 3);
    EXPECT_EQ(::close(sp.fd[0]), 0);
    sp.fd[0] = -1;
    EXPECT_EQ(::close(l.fd), 0);
    l.fd = -1;
    wg.wait();
    EXPECT_EQ(ebadf.load(), 3);
  });
}

// dup'ed fds: a blocking read on the duplicate parks and gets the data; the duplicate outlives
// the original; a non-blocking view is inherited; dup2 over a fd with a parked reader wakes it.
TEST_P(HookTest, DupedFds) {
  run([] {
    SocketPair sp;
    const int d = dup(sp.fd[0]);
    ASSERT_GE(d, 0);
    go::WaitGroup wg;
    wg.add(1);
    go([&] {
      char buf[4] = {};
      EXPECT_EQ(::read(d, buf, 3), 3);
      EXPECT_STREQ(buf, "dup");
      wg.done();
    });
    wait_parked("netpoll read", 1);
    EXPECT_EQ(::write(sp.fd[1], "dup", 3), 3);
    wg.wait();
    ::close(sp.fd[0]);
    sp.fd[0] = -1;
    EXPECT_EQ(::write(sp.fd[1], "two", 3), 3);
    char buf[4] = {};
    EXPECT_EQ(::read(d, buf, 3), 3);

    const int d2 = fcntl(d, F_DUPFD_CLOEXEC, 100);
    ASSERT_GE(d2, 100);
    ASSERT_EQ(fcntl(d, F_SETFL, fcntl(d, F_GETFL) | O_NONBLOCK), 0);
    const int d3 = dup(d);
    EXPECT_EQ(::read(d3, buf, 3), -1);
    EXPECT_EQ(last_errno(), EAGAIN);
    ::close(d3);

    // d2 still blocking in the user's view: park on it, then dup2 another fd over it.
    SocketPair other;
    wg.add(1);
    go([&] {
      EXPECT_EQ(::read(d2, buf, 3), -1);
      EXPECT_EQ(last_errno(), EBADF);
      wg.done();
    });
    wait_parked("netpoll read", 1);
    EXPECT_EQ(dup2(other.fd[0], d2), d2);
    wg.wait();
    EXPECT_EQ(::write(other.fd[1], "new", 3), 3);
    EXPECT_EQ(::read(d2, buf, 3), 3);  // d2 is other.fd[0]'s file now
    ::close(d2);
    ::close(d);
  });
}

// connect() in a fiber on a blocking socket: a refused connection reports ECONNREFUSED; an
// accepted one works both ways.
TEST_P(HookTest, ConnectInFiber) {
  run([] {
    int port = 0;
    {
      Listener gone;  // a port nobody listens on any more
      port = gone.port;
    }
    const int c = ::socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_in a = loopback(port);
    EXPECT_EQ(::connect(c, reinterpret_cast<const sockaddr*>(&a), sizeof a), -1);
    EXPECT_EQ(last_errno(), ECONNREFUSED);
    ::close(c);

    Listener l;
    go::WaitGroup wg;
    wg.add(1);
    go([&] {
      const int s = ::accept(l.fd, nullptr, nullptr);
      ASSERT_GE(s, 0);
      char buf[5] = {};
      EXPECT_EQ(::recv(s, buf, 4, MSG_WAITALL), 4);  // arrives in two parts
      EXPECT_STREQ(buf, "abcd");
      EXPECT_EQ(::send(s, "ok", 2, 0), 2);
      ::close(s);
      wg.done();
    });
    const int c2 = ::socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_in a2 = loopback(l.port);
    ASSERT_EQ(::connect(c2, reinterpret_cast<const sockaddr*>(&a2), sizeof a2), 0);
    int one = 1;
    setsockopt(c2, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    EXPECT_EQ(::send(c2, "ab", 2, 0), 2);
    go::this_fiber::sleep_for(20ms);
    const iovec iov[2] = {{const_cast<char*>("c"), 1}, {const_cast<char*>("d"), 1}};
    EXPECT_EQ(::writev(c2, iov, 2), 2);
    char buf[3] = {};
    EXPECT_EQ(::read(c2, buf, 2), 2);
    EXPECT_STREQ(buf, "ok");
    EXPECT_EQ(::read(c2, buf, 2), 0);  // EOF
    ::close(c2);
    wg.wait();
  });
}

// Name lookups in a fiber run on the blocking pool; regular files are read directly.
TEST_P(HookTest, GetaddrinfoAndRegularFiles) {
  run([] {
    const auto before = go::detail::blocking_pool_stats().completed;
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    EXPECT_EQ(getaddrinfo("127.0.0.1", "80", &hints, &res), 0);
    ASSERT_NE(res, nullptr);
    EXPECT_EQ(reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_port, htons(80));
    freeaddrinfo(res);
    // The pool counts a job after it readied the caller: give it a moment.
    for (int i = 0; i < 5000 && go::detail::blocking_pool_stats().completed <= before; ++i)
      go::this_fiber::sleep_for(1ms);
    EXPECT_GT(go::detail::blocking_pool_stats().completed, before) << "not run on the pool";

    char path[] = "/tmp/gocxx_hooks_XXXXXX";
    const int f = mkstemp(path);
    ASSERT_GE(f, 0);
    unlink(path);
    EXPECT_EQ(::write(f, "file", 4), 4);
    ASSERT_EQ(lseek(f, 0, SEEK_SET), 0);
    char buf[5] = {};
    EXPECT_EQ(::read(f, buf, 4), 4);
    EXPECT_STREQ(buf, "file");
    EXPECT_FALSE(really_nonblocking(f));
    ::close(f);
  });
}

// A forked child shares the parent's netpoller epoll instance: its close() of an fd the
// parent waits on must not remove the parent's registration (the hooks stand aside there).
TEST_P(HookTest, ForkedChildLeavesTheNetpollerAlone) {
  run([] {
    SocketPair sp;
    go::WaitGroup wg;
    auto park_and_feed = [&](const char* byte) {
      wg.add(1);
      go([&] {
        char c;
        EXPECT_EQ(::read(sp.fd[0], &c, 1), 1);
        wg.done();
      });
      wait_parked("netpoll read", 1);
      EXPECT_EQ(::write(sp.fd[1], byte, 1), 1);
      wg.wait();
    };
    park_and_feed("a");  // fd[0] now has a PollDesc in the netpoller
    const pid_t pid = fork();
    if (pid == 0) {
      ::close(sp.fd[0]);
      _exit(0);
    }
    ASSERT_GT(pid, 0);
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    park_and_feed("b");  // hangs (the Watchdog reports it) if the child unregistered fd[0]
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, HookTest, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

// ---------------------------------------------------------------------------------------------
// Outside fibers.

// Plain threads get libc's behaviour: a blocking read blocks until data comes, sleeps sleep,
// fcntl/ioctl reach the kernel unchanged, and a later fiber sees the view they set.
TEST_F(HookThreadTest, HooksOutsideFibersBehaveLikeLibc) {
  SocketPair sp;
  std::atomic<bool> reading{false};
  std::thread reader([&] {
    reading = true;
    const auto start = Clock::now();
    char buf[4] = {};
    EXPECT_EQ(::read(sp.fd[0], buf, 3), 3);
    EXPECT_STREQ(buf, "thr");
    EXPECT_GE(ms_since(start), 50.0) << "the read did not block";
  });
  while (!reading) std::this_thread::yield();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(::write(sp.fd[1], "thr", 3), 3);
  reader.join();

  auto start = Clock::now();
  EXPECT_EQ(usleep(50'000), 0);
  EXPECT_GE(ms_since(start), 45.0);
  pollfd p{sp.fd[0], POLLIN, 0};
  start = Clock::now();
  EXPECT_EQ(::poll(&p, 1, 50), 0);
  EXPECT_GE(ms_since(start), 45.0);

  // fcntl and ioctl pass through: the kernel's flag changes, and so does the user view.
  EXPECT_FALSE(really_nonblocking(sp.fd[0]));
  ASSERT_EQ(fcntl(sp.fd[0], F_SETFL, fcntl(sp.fd[0], F_GETFL) | O_NONBLOCK), 0);
  EXPECT_TRUE(really_nonblocking(sp.fd[0]));
  char c;
  EXPECT_EQ(::read(sp.fd[0], &c, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
  int off = 0;
  ASSERT_EQ(ioctl(sp.fd[0], FIONBIO, &off), 0);
  EXPECT_FALSE(really_nonblocking(sp.fd[0]));
  int on = 1;
  ASSERT_EQ(ioctl(sp.fd[1], FIONBIO, &on), 0);
  EXPECT_TRUE(really_nonblocking(sp.fd[1]));
  go::run(
      [&] {
        EXPECT_EQ(::read(sp.fd[1], &c, 1), -1);  // non-blocking in the user's view: no park
        EXPECT_EQ(last_errno(), EAGAIN);
        go::WaitGroup wg;
        wg.add(1);
        go([&] {
          EXPECT_EQ(::read(sp.fd[0], &c, 1), 1);  // blocking in the user's view: parks
          wg.done();
        });
        wait_parked("netpoll read", 1);
        EXPECT_EQ(::write(sp.fd[1], "f", 1), 1);
        wg.wait();
      },
      gocxx_test::procs(1));

  // A fiber switched fd[0] to O_NONBLOCK for real; a plain thread still sees (F_GETFL) and gets
  // (read blocks) a blocking fd.
  EXPECT_TRUE(really_nonblocking(sp.fd[0]));
  EXPECT_EQ(fcntl(sp.fd[0], F_GETFL) & O_NONBLOCK, 0);
  start = Clock::now();
  std::thread writer([&] {
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(::write(sp.fd[1], "late", 4), 4);
  });
  char buf[5] = {};
  EXPECT_EQ(::read(sp.fd[0], buf, 4), 4);
  EXPECT_STREQ(buf, "late");
  EXPECT_GE(ms_since(start), 95.0) << "the emulated blocking read did not wait";
  writer.join();
}

// A plain thread started inside go::run blocks in its own read while fibers keep running.
TEST_F(HookThreadTest, PlainThreadInsideRunStillBlocks) {
  SocketPair sp;
  go::run(
      [&] {
        std::atomic<bool> got{false};
        std::thread t([&] {
          char c;
          EXPECT_EQ(::read(sp.fd[0], &c, 1), 1);
          got = true;
        });
        go::this_fiber::sleep_for(50ms);
        EXPECT_FALSE(got.load());
        EXPECT_EQ(::write(sp.fd[1], "t", 1), 1);
        t.join();
        EXPECT_TRUE(got.load());
      },
      gocxx_test::procs(1));
}

}  // namespace
