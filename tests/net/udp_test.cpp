// go::net UDP (listen_udp/PacketConn, dial_udp/UdpConn): round trips both ways, datagram
// boundaries and truncation, many fibers reading and writing one socket at once, deadlines,
// close() waking parked readers (fibers, queued fibers and plain threads), refused peers,
// IPv6 and dual-stack sockets, and errors that name the operation and the address. Loopback
// only, ports chosen by the kernel; every test checks at tear-down that it leaked no fd.
//
// UDP may drop datagrams, but loopback drops them only when a receive queue is full: tests
// that send many keep the number in flight small (lockstep or a window), so that none is lost.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <span>
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
using Clock = std::chrono::steady_clock;

namespace {

using net_test::bytes;
using net_test::have_ipv6_loopback;
using net_test::open_fds;
using net_test::port_of;
using net_test::text;
using net_test::wait_flag;

static_assert(!std::is_copy_constructible_v<go::net::PacketConn>);
static_assert(!std::is_copy_constructible_v<go::net::UdpConn>);
static_assert(std::is_nothrow_move_constructible_v<go::net::PacketConn>);
static_assert(std::is_nothrow_move_assignable_v<go::net::UdpConn>);

// One datagram, at most max bytes of it.
std::string recv(go::net::PacketConn& c, std::string* from = nullptr, std::size_t max = 2048) {
  std::vector<std::byte> buf(max);
  return text(std::span(buf.data(), c.read_from(buf, from)));
}

std::string recv(go::net::UdpConn& c, std::size_t max = 2048) {
  std::vector<std::byte> buf(max);
  return text(std::span(buf.data(), c.read(buf)));
}

class UdpTest : public net_test::FdCheckedTest {
 protected:
  static void SetUpTestSuite() {
    // The netpoller's epoll fd and eventfd live for the process: create them before counting.
    go::net::PacketConn warm = go::net::listen_udp("127.0.0.1:0");
  }
};

TEST_P(UdpTest, RoundTripsBothWaysAndAddresses) {
  run([] {
    go::net::PacketConn server = go::net::listen_udp("127.0.0.1:0");
    const std::string addr = server.local_address();
    EXPECT_EQ(addr.rfind("127.0.0.1:", 0), 0u) << addr;
    EXPECT_NE(port_of(addr), "0");
    EXPECT_GE(server.fd(), 0);

    // A connected client: its datagrams arrive from its local address; replies to that
    // address reach it.
    go::net::UdpConn client = go::net::dial_udp(addr);
    EXPECT_EQ(client.remote_address(), addr);
    EXPECT_EQ(client.local_address().rfind("127.0.0.1:", 0), 0u) << client.local_address();
    for (int i = 0; i < 50; ++i) {
      const std::string msg = "ping " + std::to_string(i);
      client.write(bytes(msg));
      std::string from;
      EXPECT_EQ(recv(server, &from), msg);
      EXPECT_EQ(from, client.local_address());
      server.write_to(bytes("pong " + std::to_string(i)), from);
      EXPECT_EQ(recv(client), "pong " + std::to_string(i));
    }

    // Two unconnected sockets, the reader parked before the datagram comes (another fiber).
    go::net::PacketConn other = go::net::listen_udp("127.0.0.1:0");
    std::atomic<bool> got{false};
    go([&] {
      std::string from;
      EXPECT_EQ(recv(server, &from), "from other");
      EXPECT_EQ(from, other.local_address());
      server.write_to(bytes("to other"), from);
      got = true;
    });
    gocxx_test::wait_parked("netpoll read", 1);
    other.write_to(bytes("from other"), addr);
    std::string from;
    EXPECT_EQ(recv(other, &from), "to other");
    EXPECT_EQ(from, addr);
    wait_flag(got);

    // Datagram boundaries: three writes are three reads, never merged.
    for (const char* d : {"a", "bb", "ccc"}) client.write(bytes(d));
    EXPECT_EQ(recv(server), "a");
    EXPECT_EQ(recv(server), "bb");
    EXPECT_EQ(recv(server), "ccc");
  });
}

TEST_P(UdpTest, TruncationEmptyDatagramsAndEmptyBuffers) {
  run([] {
    go::net::PacketConn server = go::net::listen_udp("127.0.0.1:0");
    go::net::UdpConn client = go::net::dial_udp(server.local_address());
    std::string big(1000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    client.write(bytes(big));
    client.write(bytes("next"));
    std::byte small[10];
    std::string from;
    // Like Go: the size copied, the rest of the datagram discarded, no error.
    EXPECT_EQ(server.read_from(small, &from), 10u);
    EXPECT_EQ(text(small), big.substr(0, 10));
    EXPECT_EQ(from, client.local_address());
    EXPECT_EQ(recv(server), "next");

    // An empty datagram is a datagram (0 bytes, with a sender), not an end of stream.
    client.write({});
    from.clear();
    EXPECT_EQ(server.read_from(small, &from), 0u);
    EXPECT_EQ(from, client.local_address());
    server.write_to({}, from);
    EXPECT_EQ(client.read(small), 0u);

    // An empty buffer still takes one datagram off the queue.
    client.write(bytes("dropped"));
    client.write(bytes("kept"));
    EXPECT_EQ(server.read_from({}), 0u);
    EXPECT_EQ(recv(server), "kept");

    // Truncation on a connected socket too.
    server.write_to(bytes(big), client.local_address());
    EXPECT_EQ(recv(client, 7), big.substr(0, 7));
  });
}

// Many fibers write one PacketConn and many fibers read another, at once (Go allows both; a
// TCP Conn would throw std::logic_error). A window of permits keeps the receiver's queue from
// overflowing, so every datagram must arrive, exactly once and intact.
TEST_P(UdpTest, ManyDatagramsFromManyFibersOnOneSocket) {
  const int writers = 16;
  const int per_writer = static_cast<int>(iterations(500));
  const int readers = 4;
  run([&] {
    go::net::PacketConn in = go::net::listen_udp("127.0.0.1:0");
    go::net::PacketConn out = go::net::listen_udp("127.0.0.1:0");
    const std::string to = in.local_address();
    go::Semaphore window(64);
    std::atomic<long> received{0}, bad{0};
    go::Mutex seen_mu;
    std::map<std::string, int> seen;
    go::WaitGroup wg;
    wg.add(readers + writers);
    for (int r = 0; r < readers; ++r) {
      go([&] {
        std::byte buf[256];
        std::string from;
        for (;;) {
          std::size_t n;
          try {
            n = in.read_from(buf, &from);
          } catch (const go::net::Error& e) {
            EXPECT_EQ(e.code().value(), EBADF) << e.what();  // closed at the end
            break;
          }
          const std::string d = text(std::span(buf, n));
          if (from != out.local_address() || d.rfind("w", 0) != 0) ++bad;
          {
            std::lock_guard lk(seen_mu);
            ++seen[d];
          }
          ++received;
          window.release();
        }
        wg.done();
      });
    }
    for (int w = 0; w < writers; ++w) {
      go([&, w] {
        for (int i = 0; i < per_writer; ++i) {
          window.acquire();
          out.write_to(bytes("w" + std::to_string(w) + "#" + std::to_string(i) + "|" +
                             std::string(static_cast<std::size_t>(i % 100), 'p')),
                       to);
        }
        wg.done();
      });
    }
    const long total = static_cast<long>(writers) * per_writer;
    gocxx_test::wait_for(received, total);
    in.close();  // wakes the readers (one in the netpoller, the others queued to wait)
    wg.wait();
    EXPECT_EQ(received.load(), total);
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(static_cast<long>(seen.size()), total);
    for (const auto& [d, count] : seen) EXPECT_EQ(count, 1) << d;
  });
}

// Lockstep clients, each with its own connected socket, against server fibers that share one
// PacketConn for reading and replying.
TEST_P(UdpTest, ManyClientFibersAgainstAnEchoServer) {
  const int clients = 50;
  const int rounds = static_cast<int>(iterations(100));
  run([&] {
    go::net::PacketConn server = go::net::listen_udp("127.0.0.1:0");
    go::WaitGroup servers;
    servers.add(3);
    for (int s = 0; s < 3; ++s) {
      go([&] {
        std::byte buf[512];
        std::string from;
        try {
          for (;;) {
            const std::size_t n = server.read_from(buf, &from);
            server.write_to(std::span(buf, n), from);
          }
        } catch (const go::net::Error& e) {
          EXPECT_EQ(e.code().value(), EBADF) << e.what();
        }
        servers.done();
      });
    }
    std::atomic<long> ok{0};
    go::WaitGroup wg;
    wg.add(clients);
    for (int c = 0; c < clients; ++c) {
      go([&, c] {
        go::net::UdpConn conn = go::net::dial_udp(server.local_address());
        for (int r = 0; r < rounds; ++r) {
          const std::string msg = "client " + std::to_string(c) + " round " + std::to_string(r);
          conn.write(bytes(msg));
          if (recv(conn) == msg) ++ok;
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(ok.load(), static_cast<long>(clients) * rounds);
    server.close();
    servers.wait();
  });
}

TEST_P(UdpTest, ReadDeadlineTimesOutAndTheSocketKeepsWorking) {
  run([] {
    go::net::PacketConn c = go::net::listen_udp("127.0.0.1:0");
    go::net::PacketConn peer = go::net::listen_udp("127.0.0.1:0");
    std::byte buf[16];
    const auto deadline = Clock::now() + 50ms;
    c.set_read_deadline(deadline);
    try {
      (void)c.read_from(buf);
      FAIL() << "read_from returned before its deadline with nothing sent";
    } catch (const go::net::Timeout& e) {
      EXPECT_GE(Clock::now(), deadline);  // never early
      EXPECT_EQ(e.code().value(), ETIMEDOUT);
      EXPECT_EQ(std::string(e.what()), "read udp " + c.local_address() + ": i/o timeout");
    }
    EXPECT_THROW((void)c.read_from(buf), go::net::Timeout);  // a passed deadline stays passed
    // Data waiting does not beat a passed deadline (Go's rule).
    peer.write_to(bytes("waiting"), c.local_address());
    EXPECT_THROW((void)c.read_from(buf), go::net::Timeout);
    c.set_read_deadline({});
    EXPECT_EQ(recv(c), "waiting");

    // Write deadlines: a passed one fails write_to and names the target.
    c.set_write_deadline(Clock::now() - 1s);
    try {
      c.write_to(bytes("x"), peer.local_address());
      FAIL() << "write_to after its deadline";
    } catch (const go::net::Timeout& e) {
      EXPECT_EQ(std::string(e.what()),
                "write udp " + c.local_address() + "->" + peer.local_address() + ": i/o timeout");
    }
    c.set_deadline({});
    c.write_to(bytes("x"), peer.local_address());
    EXPECT_EQ(recv(peer), "x");

    // A connected socket, with the deadline moved by another fiber while it is parked.
    go::net::UdpConn u = go::net::dial_udp(peer.local_address());
    u.set_read_deadline(Clock::now() + 1h);
    std::atomic<bool> timed_out{false};
    go([&] {
      try {
        (void)u.read(buf);
      } catch (const go::net::Timeout& e) {
        EXPECT_EQ(std::string(e.what()),
                  "read udp " + u.local_address() + "->" + peer.local_address() + ": i/o timeout");
        timed_out = true;
      }
    });
    gocxx_test::wait_parked("netpoll read", 1);
    u.set_read_deadline(Clock::now());
    wait_flag(timed_out);
  });
}

TEST_P(UdpTest, CloseWakesEveryParkedReader) {
  run([] {
    go::net::PacketConn c = go::net::listen_udp("127.0.0.1:0");
    const std::string local = c.local_address();
    constexpr int kReaders = 3;  // one waits in the netpoller, two on the gate behind it
    std::atomic<int> woke{0}, closed_errors{0};
    std::vector<std::string> whats(kReaders);
    for (int r = 0; r < kReaders; ++r) {
      go([&, r] {
        std::byte b[16];
        try {
          (void)c.read_from(b);
        } catch (const go::net::Error& e) {
          if (e.code().value() == EBADF) ++closed_errors;
          whats[static_cast<std::size_t>(r)] = e.what();
        }
        ++woke;
      });
    }
    gocxx_test::wait_parked("netpoll read", 1);
    gocxx_test::wait_parked("go::Mutex::lock", kReaders - 1);
    c.close();
    while (woke.load() < kReaders) go::this_fiber::sleep_for(1ms);
    EXPECT_EQ(closed_errors.load(), kReaders);
    for (const std::string& w : whats)
      EXPECT_EQ(w, "read udp " + local + ": use of closed network connection");
    EXPECT_EQ(c.fd(), -1);
    c.close();  // idempotent
    std::byte b[1];
    EXPECT_THROW((void)c.read_from(b), go::net::Error);
    EXPECT_THROW(c.write_to(bytes("x"), local), go::net::Error);
    EXPECT_THROW(c.set_read_deadline(Clock::now()), go::net::Error);

    // A connected socket, closed from a plain thread.
    go::net::PacketConn peer = go::net::listen_udp("127.0.0.1:0");
    go::net::UdpConn u = go::net::dial_udp(peer.local_address());
    std::atomic<int> code{0};
    go([&] {
      std::byte buf[16];
      try {
        (void)u.read(buf);
      } catch (const go::net::Error& e) {
        code = e.code().value();
      }
    });
    gocxx_test::wait_parked("netpoll read", 1);
    std::thread t([&] { u.close(); });
    while (code.load() == 0) go::this_fiber::sleep_for(1ms);
    t.join();
    EXPECT_EQ(code.load(), EBADF);
  });
}

// A plain thread waits in ppoll on the socket itself; close() must reach it too (by shutdown,
// which on an unconnected UDP socket wakes the poller and makes recvfrom return 0).
TEST_P(UdpTest, CloseWakesAPlainThreadBlockedInReadFrom) {
  run([] {
    go::net::PacketConn c = go::net::listen_udp("127.0.0.1:0");
    std::atomic<bool> woke{false};
    std::atomic<int> code{0};
    std::thread reader([&] {
      std::byte b[16];
      try {
        (void)c.read_from(b);
      } catch (const go::net::Error& e) {
        code = e.code().value();
      }
      woke = true;
    });
    go::this_fiber::sleep_for(20ms);  // most likely blocked by now; either way it must throw
    c.close();
    wait_flag(woke);
    reader.join();
    EXPECT_EQ(code.load(), EBADF);
  });
}

TEST_P(UdpTest, RefusedPeerIsAnErrorOnTheConnectedSocket) {
  run([] {
    std::string addr;
    {
      go::net::PacketConn gone = go::net::listen_udp("127.0.0.1:0");
      addr = gone.local_address();
    }                                              // nothing listens on that port now
    go::net::UdpConn u = go::net::dial_udp(addr);  // connecting sends nothing: no error yet
    u.write(bytes("anyone?"));
    u.set_read_deadline(Clock::now() + 10s);  // the ICMP error comes over loopback at once
    std::byte b[16];
    try {
      (void)u.read(b);
      FAIL() << "read from a refused peer returned";
    } catch (const go::net::Timeout& e) {
      FAIL() << "no ICMP error within 10 s: " << e.what();
    } catch (const go::net::Error& e) {
      EXPECT_EQ(e.code().value(), ECONNREFUSED);
      EXPECT_EQ(std::string(e.what()), "read udp " + u.local_address() + "->" + addr +
                                           ": recvfrom: connection refused (ECONNREFUSED)");
    }
  });
}

TEST_P(UdpTest, Ipv6LoopbackAndDualStack) {
  if (!have_ipv6_loopback(SOCK_DGRAM)) GTEST_SKIP() << "no IPv6 loopback ([::1]) on this machine";
  run([] {
    go::net::PacketConn server = go::net::listen_udp("[::1]:0");
    EXPECT_EQ(server.local_address().rfind("[::1]:", 0), 0u) << server.local_address();
    go::net::UdpConn client = go::net::dial_udp(server.local_address());
    EXPECT_EQ(client.remote_address(), server.local_address());
    EXPECT_EQ(client.local_address().rfind("[::1]:", 0), 0u) << client.local_address();
    client.write(bytes("six"));
    std::string from;
    EXPECT_EQ(recv(server, &from), "six");
    EXPECT_EQ(from, client.local_address());
    server.write_to(bytes("xis"), from);
    EXPECT_EQ(recv(client), "xis");

    // ":0" is one IPv6 socket for both families: an IPv4 sender reads back as plain IPv4, and
    // that text is a valid write_to target (sent to its IPv4-mapped form).
    go::net::PacketConn any = go::net::listen_udp(":0");
    const std::string port = port_of(any.local_address());
    EXPECT_EQ(any.local_address(), "[::]:" + port);
    go::net::PacketConn v4 = go::net::listen_udp("127.0.0.1:0");
    v4.write_to(bytes("four"), "127.0.0.1:" + port);
    EXPECT_EQ(recv(any, &from), "four");
    EXPECT_EQ(from, v4.local_address());
    any.write_to(bytes("ruof"), from);
    EXPECT_EQ(recv(v4), "ruof");
    server.write_to(bytes("via v6"), "[::1]:" + port);
    EXPECT_EQ(recv(any, &from), "via v6");
    EXPECT_EQ(from, server.local_address());
    // Names resolve (on the blocking pool), and an empty host means this machine.
    go::net::UdpConn named = go::net::dial_udp("localhost:" + port);
    named.write(bytes("named"));
    EXPECT_EQ(recv(any), "named");
    v4.write_to(bytes("empty host"), ":" + port);
    EXPECT_EQ(recv(any), "empty host");
  });
}

TEST_P(UdpTest, BadAddressesAndRefusedSendsAreClearErrors) {
  run([] {
    struct Case {
      const char* address;
      const char* why;
    };
    const Case cases[] = {{"127.0.0.1", "missing port in address"},
                          {"", "missing port in address"},
                          {"127.0.0.1:99999", "invalid port"},
                          {"::1:80", "too many colons"},
                          {"[::1:80", "missing ']'"}};
    go::net::PacketConn c = go::net::listen_udp("127.0.0.1:0");
    for (const Case& k : cases) {
      for (int op = 0; op < 3; ++op) {
        const std::string prefix = op == 0   ? "listen udp " + std::string(k.address)
                                   : op == 1 ? "dial udp " + std::string(k.address)
                                             : "write udp " + c.local_address() +
                                                   (*k.address != '\0' ? "->" : "") + k.address;
        try {
          if (op == 0)
            go::net::listen_udp(k.address);
          else if (op == 1)
            go::net::dial_udp(k.address);
          else
            c.write_to(bytes("x"), k.address);
          ADD_FAILURE() << prefix << " accepted";
        } catch (const go::net::Error& e) {
          const std::string what = e.what();
          EXPECT_EQ(e.code().value(), EINVAL) << what;
          EXPECT_EQ(what.find(prefix + ": "), 0u) << what;
          EXPECT_NE(what.find(k.why), std::string::npos) << what;
        }
      }
    }

    // A busy port: no SO_REUSEADDR for UDP, so the second bind fails.
    try {
      go::net::listen_udp(c.local_address());
      ADD_FAILURE() << "bound " << c.local_address() << " twice";
    } catch (const go::net::Error& e) {
      EXPECT_EQ(e.code().value(), EADDRINUSE);
      EXPECT_EQ(std::string(e.what()),
                "listen udp " + c.local_address() + ": bind: address already in use (EADDRINUSE)");
    }

    // An IPv6 target from an IPv4 socket: the kernel's refusal, with the target named.
    try {
      c.write_to(bytes("x"), "[::1]:9");
      ADD_FAILURE() << "IPv6 datagram from an IPv4 socket";
    } catch (const go::net::Error& e) {
      EXPECT_EQ(e.code().value(), EAFNOSUPPORT) << e.what();
      EXPECT_EQ(
          std::string(e.what()).find("write udp " + c.local_address() + "->[::1]:9: sendto: "), 0u)
          << e.what();
    }

    // Larger than any UDP datagram can be.
    std::vector<std::byte> huge(70000);
    try {
      c.write_to(huge, c.local_address());
      ADD_FAILURE() << "70000-byte datagram sent";
    } catch (const go::net::Error& e) {
      EXPECT_EQ(e.code().value(), EMSGSIZE) << e.what();
    }

    // Handles without a socket.
    go::net::PacketConn none;
    EXPECT_EQ(none.fd(), -1);
    EXPECT_EQ(none.local_address(), "");
    std::byte b[1];
    try {
      (void)none.read_from(b);
      ADD_FAILURE() << "read_from on an empty PacketConn";
    } catch (const go::net::Error& e) {
      EXPECT_EQ(e.code().value(), EBADF);
      EXPECT_EQ(std::string(e.what()), "read udp: use of closed network connection");
    }
    go::net::UdpConn moved = go::net::dial_udp(c.local_address());
    go::net::UdpConn to = std::move(moved);
    EXPECT_EQ(moved.fd(), -1);  // NOLINT(bugprone-use-after-move): the contract under test
    EXPECT_THROW(moved.write(bytes("x")), go::net::Error);
    to.write(bytes("moved"));
    EXPECT_EQ(recv(c), "moved");
    to = go::net::UdpConn();  // closes
    EXPECT_EQ(to.fd(), -1);
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, UdpTest, ::testing::Values(1, 2, 4), gocxx_test::procs_name);

// Without any go::run: plain threads on both sides.
TEST(UdpWithoutRuntime, PlainThreadsOnBothSides) {
  gocxx_test::Watchdog wd;
  go::net::PacketConn server = go::net::listen_udp("127.0.0.1:0");
  std::thread t([&] {
    std::string from;
    const std::string d = recv(server, &from);
    server.write_to(bytes(d + "!"), from);
  });
  go::net::UdpConn c = go::net::dial_udp(server.local_address());
  c.write(bytes("no runtime"));
  c.set_read_deadline(Clock::now() + 20s);
  EXPECT_EQ(recv(c), "no runtime!");
  t.join();
}

}  // namespace
