// gocxx's comparable benchmarks: the same programs as ../shared/anchors (go/main.go is the
// reference), with the same command line and output format, so that anchors/run.sh can run ours
// side by side with Go and Boost.Fiber (GOCXX_BENCH=<this binary> IMPLS="gocxx go ...").
//
// usage: gocxx-bench <bench> <procs>
//
// Every result is one line on stdout:
//
//     bench=<name> impl=gocxx procs=<N> value=<number> unit=<unit>
//
// Names, work and units are those of anchors/README.md; what is inside the timed region is
// exactly what go/main.go times (see each function). `gocxx-bench http_hello <procs> <port>
// [max_seconds]` serves instead (examples/http_server's code) and prints nothing: run.sh drives
// wrk against it. `gocxx-bench echo_server <procs> <port> [max_seconds]` serves TCP echo the
// same way (examples/echo_server's loop); bench/echo_compare.sh drives bench/go_echo's client
// against it and against Go's echo server. Unknown bench or bad arguments: one line on
// stderr, exit 2.
//
// Differences from the Go anchor that are not in the runtime under test:
//  * Go calls runtime.GC() between the cold and the warm round, and before idle_memory's first
//    VmRSS reading; gocxx has no GC, so nothing happens there.
//  * After idle_memory's measurement the channel is closed and the fibers are joined, untimed,
//    so that go::run ends without leftovers (Go just exits).
//  * Fiber stacks are the runtime's defaults (Config::stack_size = 0: GOCXX_STACK_SIZE, else
//    256 KiB virtual, committed on touch).
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "go/go.h"
#include "go/net.h"
#include "http_hello.h"

namespace {

using clk = std::chrono::steady_clock;

int g_procs = 1;

void emit(const char* bench, double value, const char* unit) {
  std::printf("bench=%s impl=gocxx procs=%d value=%.6g unit=%s\n", bench, g_procs, value, unit);
  std::fflush(stdout);
}

double ns_since(clk::time_point t0) {
  return std::chrono::duration<double, std::nano>(clk::now() - t0).count();
}

// Go's twoRounds: the first round under the plain name (cold: fresh process), the second under
// <name>_warm (memory the first round touched is reused). Both rounds run in the same go::run.
template <class Round>
void two_rounds(const char* name, const char* unit, Round round) {
  emit(name, round(), unit);
  // (Go: runtime.GC() here. Nothing to do for gocxx.)
  emit((std::string(name) + "_warm").c_str(), round(), unit);
}

[[noreturn]] void bad_result(const char* bench, long long value) {
  std::fprintf(stderr, "gocxx-bench: %s: bad result %lld\n", bench, value);
  std::exit(1);
}

// ---------------------------------------------------------------- spawn_join
// Go: start; wg.Add(n); n x go func(){ wg.Done() }(); wg.Wait(); elapsed / n.
double spawn_join_round() {
  constexpr long n = 1000000;
  go::WaitGroup wg;
  auto t0 = clk::now();
  wg.add(n);
  for (long i = 0; i < n; ++i) go([&wg] { wg.done(); });
  wg.wait();
  return ns_since(t0) / n;
}

// ---------------------------------------------------------------- yield
// Go: wg.Add(2); start; 2 x go { total/2 x Gosched(); wg.Done() }; wg.Wait(); elapsed / total.
// Always procs=1 (two fibers handing one P back and forth; run.sh runs every impl's yield
// with procs 1); the line says procs=1 whatever was asked.
void yield_bench() {
  constexpr long total = 10000000;
  go::WaitGroup wg;
  wg.add(2);
  auto t0 = clk::now();
  for (int t = 0; t < 2; ++t) {
    go([&wg] {
      for (long i = 0; i < total / 2; ++i) go::this_fiber::yield();
      wg.done();
    });
  }
  wg.wait();
  emit("yield", ns_since(t0) / total, "ns/yield");
}

// ---------------------------------------------------------------- timers
// Go: wg.Add(n); start; n x go { time.Sleep(10ms); wg.Done() }; wg.Wait(); elapsed in ms.
double timers_round() {
  constexpr long n = 100000;
  go::WaitGroup wg;
  wg.add(n);
  auto t0 = clk::now();
  for (long i = 0; i < n; ++i) {
    go([&wg] {
      go::this_fiber::sleep_for(std::chrono::milliseconds(10));
      wg.done();
    });
  }
  wg.wait();
  return ns_since(t0) / 1e6;
}

// ---------------------------------------------------------------- idle_memory
long vm_rss_kib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) {
    std::fprintf(stderr, "gocxx-bench: cannot open /proc/self/status\n");
    std::exit(1);
  }
  char line[256];
  long v = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      v = std::atol(line + 6);
      break;
    }
  }
  std::fclose(f);
  if (v < 0) {
    std::fprintf(stderr, "gocxx-bench: no VmRSS in /proc/self/status\n");
    std::exit(1);
  }
  return v;
}

// Go: rss0; wg.Add(n); n x go { wg.Done(); <-ch }; wg.Wait(); Sleep(100ms); rss1;
// (rss1 - rss0) / n KiB. Go's idle_memory_stack line (runtime.MemStats) has no gocxx
// counterpart.
void idle_memory() {
  constexpr long n = 1000000;
  go::Channel<int> ch;
  go::WaitGroup wg;
  go::WaitGroup finished;  // untimed: the release at the end
  long rss0 = vm_rss_kib();
  wg.add(n);
  finished.add(n);
  for (long i = 0; i < n; ++i) {
    go([&wg, &finished, ch]() mutable {
      wg.done();
      (void)ch.recv();
      finished.done();
    });
  }
  wg.wait();
  go::this_fiber::sleep_for(std::chrono::milliseconds(100));  // let the last ones reach recv
  long rss1 = vm_rss_kib();
  emit("idle_memory", double(rss1 - rss0) / n, "KiB/task");
  ch.close();
  finished.wait();
}

// ---------------------------------------------------------------- channels, select, mutex

// Go: chanPingpong. 1M round trips over two unbuffered channels.
void chan_pingpong() {
  const long n = 1000000;
  go::Channel<long> ping, pong;
  go::WaitGroup wg;
  wg.add(2);
  auto t0 = clk::now();
  go([&] {
    for (long i = 0; i < n; ++i) {
      ping.send(i);
      (void)pong.recv();
    }
    wg.done();
  });
  go([&] {
    for (long i = 0; i < n; ++i) pong.send(*ping.recv());
    wg.done();
  });
  wg.wait();
  emit("chan_pingpong", ns_since(t0) / n, "ns/roundtrip");
}

// Go: chanBuffered. 1 producer -> 1 consumer, capacity 1024, 10M ints.
void chan_buffered() {
  const long n = 10000000;
  go::Channel<long> ch(1024);
  go::WaitGroup wg;
  long long sum = 0;
  wg.add(2);
  auto t0 = clk::now();
  go([&] {
    for (long i = 0; i < n; ++i) ch.send(i);
    wg.done();
  });
  go([&] {
    long long s = 0;
    for (long i = 0; i < n; ++i) s += *ch.recv();
    sum = s;
    wg.done();
  });
  wg.wait();
  const double ns = ns_since(t0);
  if (sum != static_cast<long long>(n) * (n - 1) / 2) bad_result("chan_buffered", sum);
  emit("chan_buffered", ns / n, "ns/item");
}

// Go: chanFanin. 100 producers -> 1 consumer, capacity 128, 10M items.
void chan_fanin() {
  const long producers = 100, per = 100000, n = producers * per;
  go::Channel<long> ch(128);
  go::WaitGroup wg;
  long long sum = 0;
  wg.add(static_cast<int>(producers + 1));
  auto t0 = clk::now();
  go([&] {
    long long s = 0;
    for (long i = 0; i < n; ++i) s += *ch.recv();
    sum = s;
    wg.done();
  });
  for (long p = 0; p < producers; ++p)
    go([&] {
      for (long i = 0; i < per; ++i) ch.send(1);
      wg.done();
    });
  wg.wait();
  const double ns = ns_since(t0);
  if (sum != n) bad_result("chan_fanin", sum);
  emit("chan_fanin", ns / n, "ns/item");
}

// Go: select2. 1 consumer selecting over 2 channels, 2 producers, 2M items.
void select2(const char* name, std::size_t capacity) {
  const long n = 2000000;
  go::Channel<long> a(capacity), b(capacity);
  go::WaitGroup wg;
  long got_a = 0, got_b = 0;
  wg.add(3);
  auto t0 = clk::now();
  for (go::Channel<long>* c : {&a, &b})
    go([&wg, c, n] {
      for (long i = 0; i < n / 2; ++i) c->send(1);
      wg.done();
    });
  go([&] {
    for (long i = 0; i < n; ++i)
      go::select(go::on_recv(a, [&](std::optional<long> v) { got_a += *v; }),
                 go::on_recv(b, [&](std::optional<long> v) { got_b += *v; }));
    wg.done();
  });
  wg.wait();
  const double ns = ns_since(t0);
  if (got_a + got_b != n) bad_result(name, got_a + got_b);
  emit(name, ns / n, "ns/item");
}

// Go: mutexBench. 1000 fibers x 1000 lock/increment/unlock.
void mutex_bench() {
  const long tasks = 1000, per = 1000;
  go::Mutex mu;
  go::WaitGroup wg;
  long counter = 0;
  wg.add(static_cast<int>(tasks));
  auto t0 = clk::now();
  for (long t = 0; t < tasks; ++t)
    go([&] {
      for (long i = 0; i < per; ++i) {
        mu.lock();
        ++counter;
        mu.unlock();
      }
      wg.done();
    });
  wg.wait();
  const double ns = ns_since(t0);
  if (counter != tasks * per) bad_result("mutex", counter);
  emit("mutex", ns / (tasks * per), "ns/lock");
}

// Go: skynetNode/skynetRound (github.com/atemerev/skynet): a 10-ary tree of 1,111,111 fibers
// over unbuffered channels. The channel handle is shared (like Go's heap-allocated chan), so a
// child that returns after its send cannot outlive the channel it used.
void skynet_node(go::Channel<long> c, long num, long size, long div) {
  if (size == 1) {
    c.send(num);
    return;
  }
  go::Channel<long> rc;
  long sum = 0;
  for (long i = 0; i < div; ++i) go(skynet_node, rc, num + i * (size / div), size / div, div);
  for (long i = 0; i < div; ++i) sum += *rc.recv();
  c.send(sum);
}

double skynet_round() {
  go::Channel<long> c;
  auto t0 = clk::now();
  go(skynet_node, c, 0L, 1000000L, 10L);
  const long r = *c.recv();
  const double ms = ns_since(t0) / 1e6;
  if (r != 499999500000L) bad_result("skynet", r);
  return ms;
}

// ---------------------------------------------------------------- http_hello
// Go: httpHello. Serves "hello world" on 127.0.0.1:<port> until killed or max_seconds pass,
// with exactly the code of examples/http_server (examples/http_hello.h). The load (wrk) and
// the measurement are run.sh's.
int g_port = 0, g_max_seconds = 60;

void http_hello_bench() {
  go::net::Listener ln;
  try {
    ln = go::net::listen("127.0.0.1:" + std::to_string(g_port));
  } catch (const go::net::Error& e) {
    std::fprintf(stderr, "gocxx-bench: http_hello: %s\n", e.what());
    std::exit(1);
  }
  go([] {
    go::this_fiber::sleep_for(std::chrono::seconds(g_max_seconds));
    std::exit(0);  // like the anchors: the process ends after max_seconds
  });
  http_hello::serve(ln);
}

// ---------------------------------------------------------------- echo_server
// Serves TCP echo on 127.0.0.1:<port> until killed or max_seconds pass: one fiber per
// connection running examples/echo_server's loop (a 16 KiB buffer, read what is there, write it
// all back). Not in the Go anchors (bench/go_echo holds the Go server and the load client); the
// measurement is bench/echo_compare.sh's.
void echo_conn(go::net::Conn c) {
  std::vector<std::byte> buf(16 * 1024);
  try {
    for (std::size_t n; (n = c.read(buf)) != 0;) c.write(std::span(buf.data(), n));
  } catch (const go::net::Error&) {
    // The load client's connections end with a reset now and then: routine for a server.
  }
}

void echo_server_bench() {
  go::net::Listener ln;
  try {
    ln = go::net::listen("127.0.0.1:" + std::to_string(g_port));
  } catch (const go::net::Error& e) {
    std::fprintf(stderr, "gocxx-bench: echo_server: %s\n", e.what());
    std::exit(1);
  }
  go([] {
    go::this_fiber::sleep_for(std::chrono::seconds(g_max_seconds));
    std::exit(0);
  });
  for (;;) {
    try {
      go(echo_conn, ln.accept());
    } catch (const go::net::Error& e) {
      // Out of fds and the like: say so, let connections finish, carry on (as the example).
      std::fprintf(stderr, "gocxx-bench: echo_server: %s\n", e.what());
      go::this_fiber::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

// ---------------------------------------------------------------- command line
[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "gocxx-bench: %s\n", msg.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) usage_error("usage: gocxx-bench <bench> <procs> [port] [max_seconds]");
  const std::string bench = argv[1];
  {
    char* end = nullptr;
    errno = 0;
    long p = std::strtol(argv[2], &end, 10);
    if (end == argv[2] || *end != '\0' || errno != 0 || p < 1 || p > 1024)
      usage_error("bad procs \"" + std::string(argv[2]) + "\" (1..1024)");
    g_procs = static_cast<int>(p);
  }

  void (*body)() = nullptr;
  if (bench == "spawn_join") {
    body = [] { two_rounds("spawn_join", "ns/task", spawn_join_round); };
  } else if (bench == "yield") {
    g_procs = 1;
    body = yield_bench;
  } else if (bench == "timers") {
    body = [] { two_rounds("timers", "ms", timers_round); };
  } else if (bench == "idle_memory") {
    body = idle_memory;
  } else if (bench == "chan_pingpong") {
    body = chan_pingpong;
  } else if (bench == "chan_buffered") {
    body = chan_buffered;
  } else if (bench == "chan_fanin") {
    body = chan_fanin;
  } else if (bench == "select2") {
    body = [] {
      select2("select2", 0);
      select2("select2_buf128", 128);
    };
  } else if (bench == "mutex") {
    body = mutex_bench;
  } else if (bench == "skynet") {
    body = [] { two_rounds("skynet", "ms", skynet_round); };
  } else if (bench == "http_hello" || bench == "echo_server") {
    if (argc < 4) usage_error("usage: gocxx-bench " + bench + " <procs> <port> [max_seconds]");
    auto number = [&](const char* text, int lo, int hi) {
      char* end = nullptr;
      errno = 0;
      const long v = std::strtol(text, &end, 10);
      if (end == text || *end != '\0' || errno != 0 || v < lo || v > hi)
        usage_error("bad number \"" + std::string(text) + "\" for " + bench);
      return static_cast<int>(v);
    };
    g_port = number(argv[3], 1, 65535);
    if (argc > 4) g_max_seconds = number(argv[4], 1, 86400);
    body = bench == "http_hello" ? http_hello_bench : echo_server_bench;
  } else {
    usage_error("unknown bench \"" + bench + "\"");
  }

  go::Config cfg;
  cfg.procs = g_procs;
  return go::run(body, cfg);
}
