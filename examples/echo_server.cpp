// echo_server: a TCP echo server, one fiber per connection, with a clean shutdown on SIGINT or
// SIGTERM. Try it with `echo_server --addr 127.0.0.1:7000` and `nc 127.0.0.1 7000`.
//
// Shutdown: the signal handler only sets a flag (nothing else is async-signal-safe). A watcher
// fiber polls the flag and closes the listener, which wakes the accept loop with an Error; the
// loop then closes every live connection (each handler's blocked read throws) and waits for the
// handlers to finish.
//
// --selftest serves a few thousand echo round trips to client fibers of its own on a free port,
// checks every reply, and then shuts itself down through the same signal path (raise(SIGTERM)).
#include <go/go.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace {

// Set by the handler, polled by the watcher fiber. A lock-free atomic is async-signal-safe.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_signal(int sig) {
  g_signal.store(sig);
}

void usage(std::FILE* to) {
  std::fprintf(
      to,
      "usage: echo_server [--help] [--addr HOST:PORT] [--procs N] [--selftest]\n"
      "  --addr HOST:PORT  address to listen on (default 127.0.0.1:7000; :0 picks a port)\n"
      "  --procs N         Ps running fibers (default: one per CPU)\n"
      "  --selftest        serve echo clients of its own on a free port, check the\n"
      "                    replies, shut down, and exit 0 if all were right\n"
      "Stops cleanly on SIGINT or SIGTERM.\n");
}

struct Options {
  std::string addr = "127.0.0.1:7000";
  int procs = 0;
  bool selftest = false;
};

// Parses argv; exits 2 (after a message) on anything it does not understand.
Options parse(int argc, char** argv) {
  Options o;
  bool addr_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string_view flag) -> std::string {
      if (arg.size() > flag.size() && arg.substr(0, flag.size()) == flag && arg[flag.size()] == '=')
        return std::string(arg.substr(flag.size() + 1));
      if (i + 1 >= argc) {
        std::fprintf(stderr, "echo_server: %s needs a value\n", argv[i]);
        usage(stderr);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      std::exit(0);
    } else if (arg == "--selftest") {
      o.selftest = true;
    } else if (arg == "--addr" || arg.starts_with("--addr=")) {
      o.addr = value("--addr");
      addr_given = true;
    } else if (arg == "--procs" || arg.starts_with("--procs=")) {
      const std::string v = value("--procs");
      char* end = nullptr;
      errno = 0;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || errno != 0 || n < 1 || n > 1024) {
        std::fprintf(stderr, "echo_server: --procs wants a number from 1 to 1024, not \"%s\"\n",
                     v.c_str());
        std::exit(2);
      }
      o.procs = static_cast<int>(n);
    } else {
      std::fprintf(stderr, "echo_server: unknown argument \"%s\"\n", argv[i]);
      usage(stderr);
      std::exit(2);
    }
  }
  if (o.selftest && !addr_given) o.addr = "127.0.0.1:0";
  return o;
}

// The live connections, so that shutdown can close them (which wakes their handlers).
class Registry {
 public:
  void add(go::net::Conn* c) {
    std::lock_guard lk(mu_);
    conns_.insert(c);
  }
  void remove(go::net::Conn* c) {
    std::lock_guard lk(mu_);
    conns_.erase(c);
  }
  void close_all() {
    std::lock_guard lk(mu_);
    for (go::net::Conn* c : conns_) c->close();  // safe while its handler reads: wakes it
  }

 private:
  go::Mutex mu_;
  std::unordered_set<go::net::Conn*> conns_;
};

struct Server {
  go::net::Listener listener;
  Registry live;
  go::WaitGroup handlers;
  std::atomic<bool> stopping{false};
  std::atomic<long> connections{0};
  std::atomic<long> bytes{0};
};

// One connection: echoes until the peer closes, the connection fails, or shutdown closes it.
void handle(Server& s, go::net::Conn c) {
  s.live.add(&c);
  // Shutdown sets `stopping` before it closes the registered connections: a handler that
  // registered too late for that sees the flag here.
  if (s.stopping.load()) c.close();
  std::vector<std::byte> buf(16 * 1024);
  try {
    for (std::size_t n; (n = c.read(buf)) != 0;) {
      c.write(std::span(buf.data(), n));
      s.bytes.fetch_add(static_cast<long>(n), std::memory_order_relaxed);
    }
  } catch (const go::net::Error& e) {
    // A peer's reset is routine for a server; a close by shutdown is expected.
    if (!s.stopping.load() && e.code().value() != ECONNRESET && e.code().value() != EPIPE)
      std::fprintf(stderr, "echo_server: %s\n", e.what());
  }
  s.live.remove(&c);
  s.handlers.done();
}

// Client fibers of --selftest: each dials, sends messages of assorted sizes, checks the echoes.
bool selftest_clients(const std::string& addr) {
  constexpr int kClients = 50;
  constexpr int kRounds = 40;
  std::atomic<int> bad{0};
  go::WaitGroup wg;
  wg.add(kClients);
  for (int i = 0; i < kClients; ++i) {
    go([&, i] {
      try {
        go::net::Conn c = go::net::dial(addr, std::chrono::seconds(10));
        std::mt19937 rng(static_cast<unsigned>(i));
        for (int r = 0; r < kRounds; ++r) {
          std::string msg(1 + rng() % 40000, '\0');
          for (char& ch : msg) ch = static_cast<char>('a' + rng() % 26);
          c.write(std::as_bytes(std::span(msg.data(), msg.size())));
          std::string back(msg.size(), '\0');
          const std::size_t n = c.read_full(std::as_writable_bytes(std::span(back)));
          if (n != msg.size() || back != msg) {
            std::fprintf(stderr, "echo_server: selftest client %d round %d: wrong echo\n", i, r);
            ++bad;
            break;
          }
        }
      } catch (const go::net::Error& e) {
        std::fprintf(stderr, "echo_server: selftest client %d: %s\n", i, e.what());
        ++bad;
      }
      wg.done();
    });
  }
  wg.wait();
  std::printf("echo_server: selftest: %d clients x %d round trips, %d failed\n", kClients, kRounds,
              bad.load());
  return bad.load() == 0;
}

int serve(const Options& o) {
  Server s;
  try {
    s.listener = go::net::listen(o.addr);
  } catch (const go::net::Error& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
    return e.code().value() == EINVAL ? 2 : 1;  // a malformed --addr is a usage error
  }
  std::printf("echo_server: listening on %s\n", s.listener.address().c_str());
  std::fflush(stdout);

  // The watcher: turns the signal flag into a closed listener.
  go([&s] {
    while (g_signal.load() == 0) go::this_fiber::sleep_for(std::chrono::milliseconds(20));
    s.stopping = true;
    s.listener.close();
  });

  std::atomic<bool> selftest_ok{true};
  if (o.selftest) {
    go([&s, &selftest_ok] {
      selftest_ok = selftest_clients(s.listener.address());
      std::raise(SIGTERM);  // shut down the way an operator would
    });
  }

  for (;;) {
    go::net::Conn c;
    try {
      c = s.listener.accept();
    } catch (const go::net::Error& e) {
      if (s.stopping.load()) break;
      // Out of fds and the like: say so, give the handlers a moment to free some, carry on.
      std::fprintf(stderr, "echo_server: %s\n", e.what());
      go::this_fiber::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    s.connections.fetch_add(1, std::memory_order_relaxed);
    s.handlers.add();
    go(handle, std::ref(s), std::move(c));
  }

  s.live.close_all();
  s.handlers.wait();
  std::printf("echo_server: stopped by %s after %ld connections, %ld bytes echoed\n",
              g_signal.load() == SIGINT ? "SIGINT" : "SIGTERM", s.connections.load(),
              s.bytes.load());
  return selftest_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  go::Config cfg;
  cfg.procs = o.procs;
  int rc = 0;
  go::run([&] { rc = serve(o); }, cfg);
  return rc;
}
