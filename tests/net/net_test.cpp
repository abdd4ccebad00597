// go::net (TCP): API.md's clauses and Go's semantics. Echo round trips, many connections at once,
// read/write/dial deadlines, refused and reset connections, EOF, close() waking a parked reader
// or acceptor, busy ports and malformed addresses, IPv6, plain threads on either side. Every
// test checks at tear-down that it leaked no fd. Loopback only, ports chosen by the kernel.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"
#include "net_test_util.h"
#include "test_util.h"

using namespace std::chrono_literals;
using gocxx_test::iterations;
using gocxx_test::live_fibers;
using Clock = std::chrono::steady_clock;

namespace {

using net_test::bytes;
using net_test::have_ipv6_loopback;
using net_test::open_fds;
using net_test::port_of;
using net_test::text;
using net_test::wait_flag;

static_assert(!std::is_copy_constructible_v<go::net::Conn>);
static_assert(!std::is_copy_constructible_v<go::net::Listener>);
static_assert(std::is_nothrow_move_constructible_v<go::net::Conn>);
static_assert(std::is_nothrow_move_assignable_v<go::net::Listener>);
static_assert(std::is_base_of_v<std::system_error, go::net::Error>);
static_assert(std::is_base_of_v<go::net::Error, go::net::Timeout>);

// Reads exactly n bytes (fails the test at an early EOF).
std::string read_n(go::net::Conn& c, std::size_t n) {
  std::string s(n, '\0');
  const std::size_t got = c.read_full(std::as_writable_bytes(std::span(s.data(), s.size())));
  EXPECT_EQ(got, n) << "early EOF";
  s.resize(got);
  return s;
}

// Echoes everything it reads until EOF or an error, then closes.
void echo(go::net::Conn c) {
  std::byte buf[4096];
  try {
    for (;;) {
      const std::size_t n = c.read(buf);
      if (n == 0) return;
      c.write(std::span(buf, n));
    }
  } catch (const go::net::Error&) {
  }
}

// A TCP connection over 127.0.0.1, both ends (dial completes into the listen backlog, so no
// concurrent accept is needed), and the listener, kept open as in the tests that need it.
struct Connected {
  go::net::Listener ln;
  go::net::Conn client;
  go::net::Conn server;
};

Connected connect_over_loopback() {
  Connected p;
  p.ln = go::net::listen("127.0.0.1:0");
  p.client = go::net::dial(p.ln.address());
  p.server = p.ln.accept();
  return p;
}

class NetTest : public net_test::FdCheckedTest {
 protected:
  static void SetUpTestSuite() {
    // The netpoller's epoll fd and eventfd are created on first use and live for the process:
    // create them before the first fd count.
    go::net::Listener warm = go::net::listen("127.0.0.1:0");
  }
};

TEST_P(NetTest, EchoRoundTripAndAddresses) {
  run([] {
    go::net::Listener ln = go::net::listen("127.0.0.1:0");
    const std::string addr = ln.address();
    EXPECT_EQ(addr.rfind("127.0.0.1:", 0), 0u) << addr;
    EXPECT_NE(port_of(addr), "0");
    EXPECT_GE(ln.fd(), 0);
    std::atomic<bool> done{false};
    std::string server_local, server_remote;
    go([&] {
      go::net::Conn c = ln.accept();
      server_local = c.local_address();
      server_remote = c.remote_address();
      echo(std::move(c));
      done = true;
    });
    go::net::Conn c = go::net::dial(addr);
    EXPECT_EQ(c.remote_address(), addr);
    EXPECT_EQ(c.local_address().rfind("127.0.0.1:", 0), 0u);
    for (int i = 0; i < 100; ++i) {
      const std::string msg = "hello " + std::to_string(i);
      c.write(bytes(msg));
      EXPECT_EQ(read_n(c, msg.size()), msg);
    }
    const std::string client_local = c.local_address();
    c.close();
    wait_flag(done);
    EXPECT_EQ(server_local, addr);
    EXPECT_EQ(server_remote, client_local);
  });
}

TEST_P(NetTest, ManyConcurrentConnections) {
  // Two fibers and two fds per connection, all alive at once.
  const int n = static_cast<int>(std::min(live_fibers(1000), iterations(1000) * 4));
  run([n] {
    go::net::Listener ln = go::net::listen("127.0.0.1:0");
    std::atomic<long> served{0};
    go([&] {
      for (int i = 0; i < n; ++i) {
        go(
            [&served](go::net::Conn c) {
              echo(std::move(c));
              ++served;
            },
            ln.accept());
      }
    });
    std::atomic<long> ok{0};
    std::atomic<long> connected{0};
    const std::string addr = ln.address();
    for (int i = 0; i < n; ++i) {
      go([&, i] {
        go::net::Conn c = go::net::dial(addr);
        ++connected;
        // Hold every connection open until all exist, so that they are concurrent.
        gocxx_test::wait_until(connected, static_cast<long>(n));
        const std::string msg = "conn " + std::to_string(i) + std::string(100 + i % 300, 'x');
        c.write(bytes(msg));
        if (read_n(c, msg.size()) == msg) ++ok;
      });
    }
    gocxx_test::wait_for(served, n);
    EXPECT_EQ(ok.load(), n);
  });
}

TEST_P(NetTest, ReadDeadlineTimesOutAndTheConnKeepsWorking) {
  run([] {
    go::net::Listener ln = go::net::listen("127.0.0.1:0");
    std::atomic<bool> send{false}, done{false};
    go([&] {
      go::net::Conn c = ln.accept();
      wait_flag(send);
      c.write(bytes("late"));
      read_n(c, 1);  // until the client is done
      done = true;
    });
    go::net::Conn c = go::net::dial(ln.address());
    std::byte buf[16];
    const auto deadline = Clock::now() + 50ms;
    c.set_read_deadline(deadline);
    try {
      (void)c.read(buf);
      FAIL() << "read returned before its deadline with nothing sent";
    } catch (const go::net::Timeout& e) {
      EXPECT_GE(Clock::now(), deadline);  // never early
      EXPECT_EQ(e.code().value(), ETIMEDOUT);
      EXPECT_NE(std::string(e.what()).find("i/o timeout"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("read tcp 127.0.0.1:"), std::string::npos) << e.what();
    }
    // A passed deadline fails every read, waiting or not.
    EXPECT_THROW((void)c.read(buf), go::net::Timeout);
    c.set_read_deadline({});
    send = true;
    EXPECT_EQ(read_n(c, 4), "late");
    // Data waiting does not beat a passed deadline (Go's rule).
    c.set_read_deadline(Clock::now() - 1s);
    EXPECT_THROW((void)c.read(buf), go::net::Timeout);
    c.set_deadline({});
    c.write(bytes("x"));
    wait_flag(done);
  });
}

TEST_P(NetTest, DeadlineMovedByAnotherFiberWakesAParkedReader) {
  run([] {
    Connected pair = connect_over_loopback();
    go::net::Conn& c = pair.client;
    c.set_read_deadline(Clock::now() + 1h);
    std::atomic<bool> timed_out{false};
    go([&] {
      std::byte buf[4];
      try {
        (void)c.read(buf);
      } catch (const go::net::Timeout&) {
        timed_out = true;
      }
    });
    go::this_fiber::sleep_for(10ms);  // most likely parked by now; either way it must time out
    c.set_read_deadline(Clock::now());
    wait_flag(timed_out);
  });
}

TEST_P(NetTest, WriteDeadlineWithAPeerThatDoesNotRead) {
  run([] {
    Connected pair = connect_over_loopback();
    go::net::Conn& c = pair.client;
    // pair.server never reads.
    const int small = 64 * 1024;
    ::setsockopt(c.fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    std::vector<std::byte> chunk(1 << 20);
    const auto deadline = Clock::now() + 100ms;
    c.set_write_deadline(deadline);
    bool timed_out = false;
    // Bounded: loopback buffers hold a few MB at most, far below 1 GiB.
    for (int i = 0; i < 1024 && !timed_out; ++i) {
      try {
        c.write(chunk);
      } catch (const go::net::Timeout& e) {
        timed_out = true;
        EXPECT_GE(Clock::now(), deadline);
        EXPECT_NE(std::string(e.what()).find("write tcp"), std::string::npos) << e.what();
      }
    }
    EXPECT_TRUE(timed_out);
  });
}

TEST_P(NetTest, DialTimeoutAgainstAFullBacklog) {
  run([] {
    // A listener that never accepts, with the smallest backlog: once its queue is full the
    // kernel drops further SYNs (the client would retry after 1 s), so a dial can only time out.
    go::net::Listener ln = go::net::listen("127.0.0.1:0", 1);
    std::vector<go::net::Conn> queued;
    bool timed_out = false;
    for (int i = 0; i < 64 && !timed_out; ++i) {
      const auto start = Clock::now();
      try {
        queued.push_back(go::net::dial(ln.address(), 100ms));
      } catch (const go::net::Timeout& e) {
        timed_out = true;
        EXPECT_GE(Clock::now() - start, 100ms);
        EXPECT_EQ(e.code().value(), ETIMEDOUT);
        EXPECT_EQ(std::string(e.what()), "dial tcp " + ln.address() + ": i/o timeout");
      }
    }
    if (!timed_out)
      GTEST_SKIP() << "this kernel accepted 64 connections into a backlog of 1 (no SYN drops)";
  });
}

TEST_P(NetTest, ConnectionRefusedNamesTheAddress) {
  run([] {
    std::string addr;
    {
      go::net::Listener ln = go::net::listen("127.0.0.1:0");
      addr = ln.address();
    }  // closed: nothing listens on that port now
    try {
      go::net::dial(addr);
      FAIL() << "dial to a closed port succeeded";
    } catch (const go::net::Timeout&) {
      FAIL() << "Timeout for a refused connection";
    } catch (const go::net::Error& e) {
      EXPECT_EQ(e.code().value(), ECONNREFUSED);
      EXPECT_EQ(e.code().category(), std::generic_category());
      EXPECT_EQ(std::string(e.what()),
                "dial tcp " + addr + ": connect: connection refused (ECONNREFUSED)");
    }
  });
}

TEST_P(NetTest, PeerCloseIsEndOfStream) {
  run([] {
    go::net::Listener ln = go::net::listen("127.0.0.1:0");
    go([&] {
      go::net::Conn c = ln.accept();
      c.write(bytes("abc"));
      go::this_fiber::sleep_for(20ms);  // the client is (most likely) parked in read by now
      c.close();
    });
    go::net::Conn c = go::net::dial(ln.address());
    std::string buf(10, '\0');
    const std::size_t n = c.read_full(std::as_writable_bytes(std::span(buf.data(), buf.size())));
    EXPECT_EQ(n, 3u);
    EXPECT_EQ(buf.substr(0, 3), "abc");
    std::byte b[4];
    EXPECT_EQ(c.read(b), 0u);  // EOF stays EOF
    EXPECT_EQ(c.read(b), 0u);
  });
}

// The peer aborts with an RST (SO_LINGER 0) while we read, then while we write.
TEST_P(NetTest, PeerResetGivesAnErrorNotSigpipe) {
  run([] {
    struct sigaction old_action, dfl{};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, &old_action);  // a SIGPIPE would kill the test
    go::net::Listener ln = go::net::listen("127.0.0.1:0");
    std::atomic<int> resets{0};
    go([&] {
      for (int i = 0; i < 2; ++i) {
        go::net::Conn c = ln.accept();
        go::this_fiber::sleep_for(20ms);
        const linger lg{1, 0};
        ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        c.close();
        ++resets;
      }
    });
    {  // mid-read
      go::net::Conn c = go::net::dial(ln.address());
      std::byte b[16];
      try {
        const std::size_t n = c.read(b);
        ADD_FAILURE() << "read after a reset returned " << n;
      } catch (const go::net::Error& e) {
        EXPECT_EQ(e.code().value(), ECONNRESET) << e.what();
      }
    }
    {  // mid-write
      go::net::Conn c = go::net::dial(ln.address());
      while (resets.load() < 2) go::this_fiber::sleep_for(1ms);
      std::vector<std::byte> chunk(64 * 1024);
      try {
        for (int i = 0; i < 1000; ++i) c.write(chunk);
        ADD_FAILURE() << "64 MB written to a reset connection";
      } catch (const go::net::Error& e) {
        EXPECT_TRUE(e.code().value() == EPIPE || e.code().value() == ECONNRESET) << e.what();
      }
    }
    sigaction(SIGPIPE, &old_action, nullptr);
  });
}

TEST_P(NetTest, CloseWakesAReaderParkedOnTheSameConn) {
  run([] {
    Connected pair = connect_over_loopback();
    go::net::Conn& c = pair.client;
    go::net::Conn& server = pair.server;
    std::atomic<bool> woke{false};
    std::atomic<int> code{0};
    std::string what;
    go([&] {
      std::byte b[16];
      try {
        (void)c.read(b);
      } catch (const go::net::Error& e) {
        code = e.code().value();
        what = e.what();
      }
      woke = true;
    });
    go::this_fiber::sleep_for(20ms);  // most likely parked by now; either way it must throw
    c.close();
    wait_flag(woke);
    EXPECT_EQ(code.load(), EBADF);
    EXPECT_NE(what.find("use of closed network connection"), std::string::npos) << what;
    EXPECT_EQ(what.find("read tcp 127.0.0.1:"), 0u) << what;
    EXPECT_EQ(c.fd(), -1);
    c.close();  // idempotent
    std::byte b[1];
    EXPECT_THROW((void)c.read(b), go::net::Error);
    EXPECT_THROW(c.write(bytes("x")), go::net::Error);
    // The peer sees the close as EOF.
    EXPECT_EQ(server.read(b), 0u);
  });
}

TEST_P(NetTest, CloseWakesAWriterBlockedOnAFullBuffer) {
  run([] {
    Connected pair = connect_over_loopback();
    go::net::Conn& c = pair.client;
    // pair.server never reads.
    std::atomic<bool> woke{false};
    std::atomic<int> code{0};
    go([&] {
      std::vector<std::byte> chunk(1 << 20);
      try {
        for (int i = 0; i < 1024; ++i) c.write(chunk);  // fills the buffers, then parks
      } catch (const go::net::Error& e) {
        code = e.code().value();
      }
      woke = true;
    });
    go::this_fiber::sleep_for(50ms);
    c.close();
    wait_flag(woke);
    EXPECT_EQ(code.load(), EBADF);
  });
}

TEST_P(NetTest, CloseWakesAParkedAccept) {
  run([] {
    go::net::Listener ln = go::net::listen("127.0.0.1:0");
    std::atomic<bool> woke{false};
    std::atomic<int> code{0};
    go([&] {
      try {
        ln.accept();
      } catch (const go::net::Error& e) {
        code = e.code().value();
      }
      woke = true;
    });
    go::this_fiber::sleep_for(20ms);
    ln.close();
    wait_flag(woke);
    EXPECT_EQ(code.load(), EBADF);
    EXPECT_EQ(ln.fd(), -1);
  });
}

TEST_P(NetTest, CloseFromAPlainThreadWakesAParkedReader) {
  run([] {
    Connected pair = connect_over_loopback();
    go::net::Conn& c = pair.client;
    std::atomic<bool> woke{false};
    go([&] {
      std::byte b[16];
      EXPECT_THROW((void)c.read(b), go::net::Error);
      woke = true;
    });
    go::this_fiber::sleep_for(20ms);
    std::thread t([&] { c.close(); });
    wait_flag(woke);
    t.join();
  });
}

TEST_P(NetTest, ConcurrentReadsAreReportedNotHung) {
  run([] {
    Connected pair = connect_over_loopback();
    go::net::Conn& c = pair.client;
    go::net::Conn& server = pair.server;
    std::atomic<bool> first_in{false}, first_done{false};
    go([&] {
      std::byte b[4];
      first_in = true;
      EXPECT_EQ(c.read(b), 1u);
      first_done = true;
    });
    wait_flag(first_in);
    gocxx_test::wait_parked("netpoll read", 1);  // the first reader is inside read, parked
    std::byte b[4];
    EXPECT_THROW((void)c.read(b), std::logic_error);
    server.write(bytes("1"));
    wait_flag(first_done);
  });
}

TEST_P(NetTest, ListenOnABusyPortNamesTheAddress) {
  run([] {
    go::net::Listener ln = go::net::listen("127.0.0.1:0");
    try {
      go::net::listen(ln.address());
      FAIL() << "listened twice on " << ln.address();
    } catch (const go::net::Error& e) {
      EXPECT_EQ(e.code().value(), EADDRINUSE);
      EXPECT_EQ(std::string(e.what()),
                "listen tcp " + ln.address() + ": bind: address already in use (EADDRINUSE)");
    }
  });
}

TEST_P(NetTest, MalformedAddressesAreClearErrors) {
  run([] {
    struct Case {
      const char* address;
      const char* why;
    };
    for (const Case& k :
         {Case{"127.0.0.1", "missing port in address"}, Case{"", "missing port in address"},
          Case{"127.0.0.1:99999", "invalid port"}, Case{"127.0.0.1:http", "invalid port"},
          Case{"::1:80", "too many colons"}, Case{"[::1:80", "missing ']'"},
          Case{"[::1]80", "unexpected characters"}, Case{"[::1]", "missing port"}}) {
      for (int op = 0; op < 2; ++op) {
        try {
          if (op == 0)
            go::net::dial(k.address);
          else
            go::net::listen(k.address);
          ADD_FAILURE() << k.address << " accepted";
        } catch (const go::net::Error& e) {
          const std::string what = e.what();
          EXPECT_EQ(e.code().value(), EINVAL) << what;
          EXPECT_EQ(what.find(std::string(op == 0 ? "dial tcp " : "listen tcp ") + k.address), 0u)
              << what;
          EXPECT_NE(what.find(k.why), std::string::npos) << what;
        }
      }
    }
  });
}

TEST_P(NetTest, Ipv6Loopback) {
  if (!have_ipv6_loopback(SOCK_STREAM)) GTEST_SKIP() << "no IPv6 loopback ([::1]) on this machine";
  run([] {
    go::net::Listener ln = go::net::listen("[::1]:0");
    EXPECT_EQ(ln.address().rfind("[::1]:", 0), 0u) << ln.address();
    go([&] { echo(ln.accept()); });
    go::net::Conn c = go::net::dial(ln.address());
    EXPECT_EQ(c.remote_address(), ln.address());
    EXPECT_EQ(c.local_address().rfind("[::1]:", 0), 0u);
    c.write(bytes("six"));
    EXPECT_EQ(read_n(c, 3), "six");
  });
}

TEST_P(NetTest, WildcardListenerAndLocalhostNames) {
  run([] {
    go::net::Listener ln = go::net::listen(":0");
    const std::string port = port_of(ln.address());
    EXPECT_TRUE(ln.address() == "[::]:" + port || ln.address() == "0.0.0.0:" + port)
        << ln.address();
    go([&] {
      for (int i = 0; i < 3; ++i) go(echo, ln.accept());
    });
    // A literal, an empty host (this machine) and a name (resolved on the blocking pool).
    for (const std::string& addr : {"127.0.0.1:" + port, ":" + port, "localhost:" + port}) {
      go::net::Conn c = go::net::dial(addr, 5s);
      c.write(bytes(addr));
      EXPECT_EQ(read_n(c, addr.size()), addr);
      EXPECT_EQ(port_of(c.remote_address()), port);
    }
  });
}

TEST_P(NetTest, ReadFullGathersPiecesAndStopsAtEof) {
  run([] {
    go::net::Listener ln = go::net::listen("127.0.0.1:0");
    go([&] {
      go::net::Conn c = ln.accept();
      for (const char* piece : {"ab", "cdef", "g", "hijkl"}) {
        c.write(bytes(piece));
        go::this_fiber::sleep_for(2ms);
      }
    });  // closes: EOF after 12 bytes
    go::net::Conn c = go::net::dial(ln.address());
    std::string buf(8, '\0');
    EXPECT_EQ(c.read_full(std::as_writable_bytes(std::span(buf.data(), buf.size()))), 8u);
    EXPECT_EQ(buf, "abcdefgh");
    EXPECT_EQ(c.read_full(std::as_writable_bytes(std::span(buf.data(), buf.size()))), 4u);
    EXPECT_EQ(buf.substr(0, 4), "ijkl");
    EXPECT_EQ(c.read_full({}), 0u);
  });
}

TEST_P(NetTest, HalfCloseWithShutdown) {
  run([] {
    go::net::Listener ln = go::net::listen("127.0.0.1:0");
    go([&] {
      go::net::Conn c = ln.accept();
      std::string all;
      std::byte b[64];
      for (std::size_t n; (n = c.read(b)) != 0;) all += text(std::span(b, n));
      c.write(bytes("got " + all));
    });
    go::net::Conn c = go::net::dial(ln.address());
    c.write(bytes("request"));
    ASSERT_EQ(::shutdown(c.fd(), SHUT_WR), 0);
    EXPECT_EQ(read_n(c, 11), "got request");
  });
}

TEST_P(NetTest, PlainThreadClientAgainstAFiberServer) {
  run([] {
    go::net::Listener ln = go::net::listen("127.0.0.1:0");
    go([&] {
      for (int i = 0; i < 2; ++i) go(echo, ln.accept());
    });
    std::atomic<int> finished{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 2; ++t) {
      clients.emplace_back([&, t] {
        go::net::Conn c = go::net::dial(ln.address());
        for (int i = 0; i < 50; ++i) {
          const std::string msg = "thread " + std::to_string(t) + " #" + std::to_string(i);
          c.write(bytes(msg));
          EXPECT_EQ(read_n(c, msg.size()), msg);
        }
        // A plain thread waits in ppoll: a deadline and a close must reach it too.
        c.set_read_deadline(Clock::now() + 20ms);
        std::byte b[4];
        EXPECT_THROW((void)c.read(b), go::net::Timeout);
        ++finished;
      });
    }
    while (finished.load() < 2) go::this_fiber::sleep_for(1ms);  // a join would block this P
    for (std::thread& t : clients) t.join();
  });
}

TEST_P(NetTest, CloseWakesAPlainThreadBlockedInRead) {
  run([] {
    Connected pair = connect_over_loopback();
    go::net::Conn& c = pair.client;
    std::atomic<bool> woke{false};
    std::atomic<int> code{0};
    std::thread reader([&] {
      std::byte b[16];
      try {
        (void)c.read(b);
      } catch (const go::net::Error& e) {
        code = e.code().value();
      }
      woke = true;
    });
    go::this_fiber::sleep_for(20ms);
    c.close();
    wait_flag(woke);
    reader.join();
    EXPECT_EQ(code.load(), EBADF);
  });
}

TEST_P(NetTest, MovedFromHandlesAreClosed) {
  run([] {
    go::net::Listener ln = go::net::listen("127.0.0.1:0");
    go::net::Listener ln2 = std::move(ln);
    EXPECT_EQ(ln.fd(), -1);  // NOLINT(bugprone-use-after-move): the contract under test
    EXPECT_EQ(ln.address(), "");
    EXPECT_THROW(ln.accept(), go::net::Error);
    go([&] { echo(ln2.accept()); });
    go::net::Conn a = go::net::dial(ln2.address());
    go::net::Conn b;
    EXPECT_EQ(b.fd(), -1);
    std::byte buf[1];
    EXPECT_THROW((void)b.read(buf), go::net::Error);
    b = std::move(a);
    b.write(bytes("m"));
    EXPECT_EQ(read_n(b, 1), "m");
    b = go::net::Conn();  // closes
  });
}

TEST_P(NetTest, FibersParkedInNetIoAreUnwoundWhenMainReturns) {
  std::atomic<int> unwound{0};
  run([&unwound] {
    auto ln = std::make_shared<go::net::Listener>(go::net::listen("127.0.0.1:0"));
    go([ln, &unwound] {
      gocxx_test::Sentinel s{&unwound};
      go::net::Conn c = ln->accept();
      std::byte b[1];
      (void)c.read(b);  // parked here when main returns
      ADD_FAILURE() << "read returned";
    });
    go(
        [&unwound](go::net::Conn c) {
          gocxx_test::Sentinel s{&unwound};
          std::byte b[1];
          (void)c.read(b);
          ADD_FAILURE() << "read returned";
        },
        go::net::dial(ln->address()));
    gocxx_test::wait_parked("netpoll read", 2);
  });
  EXPECT_EQ(unwound.load(), 2);  // and TearDown: their sockets are closed
}

INSTANTIATE_TEST_SUITE_P(Procs, NetTest, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

// Without any go::run: plain threads on both sides.
TEST(NetWithoutRuntime, PlainThreadsOnBothSides) {
  gocxx_test::Watchdog wd;
  go::net::Listener ln = go::net::listen("127.0.0.1:0");
  std::thread server([&] { echo(ln.accept()); });
  {
    go::net::Conn c = go::net::dial(ln.address(), 5s);
    c.write(bytes("no runtime"));
    EXPECT_EQ(read_n(c, 10), "no runtime");
  }
  server.join();
}

}  // namespace
