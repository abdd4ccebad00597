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
// exactly what go/main.go times (see each function). Benchmarks that need what gocxx does not
// have yet (channels, select, go::Mutex, the netpoller) print a '#' remark on stderr and exit 2,
// so that run.sh records a failure rather than a number. Unknown bench or bad procs: one line
// on stderr, exit 2.
//
// Differences from the Go anchor that are not in the runtime under test:
//  * The join is BenchWaitGroup (bench_support.h), a bench-only stand-in for go::WaitGroup
//    (atomic counter; the waiter parks with detail::park, the last done() readies it).
//  * idle_memory parks its fibers with detail::park on a shared BenchGate (a waiter record on
//    each fiber's stack), NOT on a channel receive as Go does: gocxx has no channels yet.
//    It also releases them (BenchGate::open) after the measurement so that go::run ends cleanly.
//  * Go calls runtime.GC() between the cold and the warm round, and before idle_memory's first
//    VmRSS reading; gocxx has no GC, so nothing happens there.
//  * Fiber stacks are the runtime's defaults (Config::stack_size = 0: GOCXX_STACK_SIZE, else
//    256 KiB virtual, committed on touch).
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench_support.h"
#include "go/runtime.h"

namespace {

using clk = std::chrono::steady_clock;
using gocxx_bench::BenchGate;
using gocxx_bench::BenchWaitGroup;

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

// ---------------------------------------------------------------- spawn_join
// Go: start; wg.Add(n); n x go func(){ wg.Done() }(); wg.Wait(); elapsed / n.
double spawn_join_round() {
  constexpr long n = 1000000;
  BenchWaitGroup wg;
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
  BenchWaitGroup wg;
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
  BenchWaitGroup wg;
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
// (rss1 - rss0) / n KiB.
// gocxx: identical, except that each fiber parks with detail::park on a shared BenchGate (its
// waiter record on its own stack) instead of receiving from a channel: gocxx has no channels
// yet (issue 3). Go's idle_memory_stack line (runtime.MemStats) has no gocxx counterpart.
// After the measurement the gate is opened (every fiber readied with detail::ready) and the
// fibers are joined, untimed, so that go::run ends without leftovers.
void idle_memory() {
  constexpr long n = 1000000;
  BenchGate gate;
  BenchWaitGroup wg;
  BenchWaitGroup finished;  // untimed: the release at the end
  long rss0 = vm_rss_kib();
  wg.add(n);
  finished.add(n);
  for (long i = 0; i < n; ++i) {
    go([&wg, &gate, &finished] {
      wg.done();
      gate.wait();
      finished.done();
    });
  }
  wg.wait();
  go::this_fiber::sleep_for(std::chrono::milliseconds(100));  // let the last ones park
  long rss1 = vm_rss_kib();
  emit("idle_memory", double(rss1 - rss0) / n, "KiB/task");
  if (gate.parked() != n)
    std::fprintf(stderr, "# bench=idle_memory impl=gocxx: only %lld of %ld fibers were parked\n",
                 static_cast<long long>(gate.parked()), n);
  gate.open();
  finished.wait();
}

// ---------------------------------------------------------------- command line
[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "gocxx-bench: %s\n", msg.c_str());
  std::exit(2);
}

[[noreturn]] void not_available(const char* bench, const char* why) {
  std::fprintf(stderr, "# bench=%s impl=gocxx: not available yet: %s\n", bench, why);
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
  } else if (bench == "chan_pingpong" || bench == "chan_buffered" || bench == "chan_fanin" ||
             bench == "select2" || bench == "skynet") {
    not_available(bench.c_str(), "needs channels (issue 3)");
  } else if (bench == "mutex") {
    not_available(bench.c_str(), "needs channels (issue 3) and go::Mutex, which does not exist");
  } else if (bench == "http_hello") {
    not_available(bench.c_str(), "needs channels (issue 3) and the netpoller (src/net)");
  } else {
    usage_error("unknown bench \"" + bench + "\"");
  }

  go::Config cfg;
  cfg.procs = g_procs;
  return go::run(body, cfg);
}
