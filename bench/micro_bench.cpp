// Micro-benchmarks of single runtime operations (Google Benchmark 1.7).
//
// Each benchmark that needs the runtime starts ONE go::run(procs=1) per call of the benchmark
// function and runs the whole `for (auto _ : state)` loop inside the main fiber, so runtime
// start-up and teardown are outside the timed loop. With procs=1 the main fiber runs on the
// thread that called go::run (M0), i.e. Google Benchmark's own thread, so its timers (real and
// thread-CPU) stay meaningful.
//
// "Time" is per loop iteration; where one iteration is several operations, the counter named
// after the operation (per_yield, per_handoff, per_fiber, per_switch) gives the time of one
// operation (seconds, with an SI prefix: "25.3n" = 25.3 ns).
//
//   BM_YieldRoundTrip    main fiber yields, the partner fiber yields back: 2 yields/iteration.
//   BM_SpawnRunExit/B    spawn B empty fibers, then yield once so that they all run and exit
//                        before the main fiber runs again: B fibers/iteration. B=1 includes the
//                        main fiber's own yield per fiber; larger B amortises it.
//   BM_ParkReadyPingPong two fibers on one P: A readies B and parks, B readies A and parks:
//                        2 hand-offs (ready + park + switch through the scheduler) / iteration.
//   BM_TimerAddDel/N     detail::add_timer + detail::del_timer of one timer from inside a fiber,
//                        with N other timers armed in the same P's heap (far in the future).
//   BM_SwitchContext     raw switch_context between the thread's context and one ExecContext on
//                        an allocate_stack stack, no scheduler: 2 switches/iteration.
//   BM_FcontextBaseline  the floor under BM_SwitchContext: Boost.Context's bare jump_fcontext
//                        between the thread and one context (same stack), 2 jumps/iteration.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/context/detail/fcontext.hpp>

#include "go/go.h"
#include "sched/context.h"
#include "sched/scheduler.h"
#include "sched/stack.h"

namespace {

using go::detail::G;

// Time of one operation when an iteration does `ops_per_iteration` of them.
benchmark::Counter per_op(double ops_per_iteration) {
  return benchmark::Counter(ops_per_iteration, benchmark::Counter::kIsIterationInvariantRate |
                                                   benchmark::Counter::kInvert);
}

template <class Body>
void in_runtime(Body body) {
  go::Config cfg;
  cfg.procs = 1;
  go::run(body, cfg);
}

// ------------------------------------------------------------------ yield
void BM_YieldRoundTrip(benchmark::State& state) {
  in_runtime([&state] {
    std::atomic<bool> stop{false};
    go::WaitGroup wg;
    wg.add(1);
    go([&] {
      while (!stop.load(std::memory_order_relaxed)) go::this_fiber::yield();
      wg.done();
    });
    go::this_fiber::yield();  // the partner is running its loop now
    for (auto _ : state) go::this_fiber::yield();
    stop.store(true, std::memory_order_relaxed);
    wg.wait();
  });
  state.counters["per_yield"] = per_op(2);
}
BENCHMARK(BM_YieldRoundTrip)->UseRealTime();

// ------------------------------------------------------------------ spawn + run + exit
void BM_SpawnRunExit(benchmark::State& state) {
  const auto batch = state.range(0);
  in_runtime([&state, batch] {
    for (auto _ : state) {
      for (std::int64_t i = 0; i < batch; ++i) go([] {});
      // Every new fiber is in this P's queue (runnext + ring: batch <= 255 never spills to the
      // global queue); the main fiber goes to the ring's tail, so all of them run first.
      go::this_fiber::yield();
    }
  });
  state.counters["per_fiber"] = per_op(static_cast<double>(batch));
}
BENCHMARK(BM_SpawnRunExit)->Arg(1)->Arg(100)->UseRealTime();

// ------------------------------------------------------------------ park / ready ping-pong
struct PingPong {
  G* a = nullptr;
  G* b = nullptr;
  bool stop = false;
};

void BM_ParkReadyPingPong(benchmark::State& state) {
  in_runtime([&state] {
    // procs=1: the two fibers never run at the same time, so a fiber is always completely
    // parked before the other readies it, and no unlock callback is needed.
    PingPong s;
    s.a = go::detail::current_g();
    go([&s] {
      s.b = go::detail::current_g();
      for (;;) {
        go::detail::ready(s.a);
        go::detail::park(nullptr, nullptr, "pingpong B");
        if (s.stop) break;
      }
      go::detail::ready(s.a);  // let A finish, then exit
    });
    go::detail::park(nullptr, nullptr, "pingpong A (start)");  // B readies us once it runs
    for (auto _ : state) {
      go::detail::ready(s.b);
      go::detail::park(nullptr, nullptr, "pingpong A");
    }
    s.stop = true;
    go::detail::ready(s.b);
    go::detail::park(nullptr, nullptr, "pingpong A (end)");
  });
  state.counters["per_handoff"] = per_op(2);
}
BENCHMARK(BM_ParkReadyPingPong)->UseRealTime();

// ------------------------------------------------------------------ timer insert + remove
void BM_TimerAddDel(benchmark::State& state) {
  const auto others = state.range(0);
  in_runtime([&state, others] {
    using go::detail::Timer;
    auto noop = [](Timer*, void*) {};
    const std::int64_t far = go::detail::now_ns() + std::int64_t{3600} * 1'000'000'000;
    std::vector<Timer> background(static_cast<std::size_t>(others));
    for (std::size_t i = 0; i < background.size(); ++i) {
      background[i].when = far + static_cast<std::int64_t>(i) * 1000;
      background[i].fire = noop;
      go::detail::add_timer(&background[i]);
    }
    Timer t;
    t.fire = noop;
    // In the middle of the background timers' range: a realistic sift distance.
    t.when = far + others * 500;
    for (auto _ : state) {
      go::detail::add_timer(&t);
      bool removed = go::detail::del_timer(&t);
      benchmark::DoNotOptimize(removed);
    }
    for (auto& b : background) go::detail::del_timer(&b);
  });
}
BENCHMARK(BM_TimerAddDel)->Arg(0)->Arg(1000)->UseRealTime();

// ------------------------------------------------------------------ raw context switch
struct SwitchPair {
  go::detail::ExecContext main;
  go::detail::ExecContext other;
};
SwitchPair* g_pair = nullptr;

void bounce(go::detail::ExecContext* self) {
  for (;;) go::detail::switch_context(*self, g_pair->main);
}

void BM_SwitchContext(benchmark::State& state) {
  using namespace go::detail;
  auto pair = std::make_unique<SwitchPair>();
  g_pair = pair.get();
  Stack stack = allocate_stack(64 * 1024, resolve_guard_mode(GuardMode::automatic));
  init_thread_context(pair->main);
  make_context(pair->other, stack.top(), stack.size, stack.bottom, &bounce);
  switch_context(pair->main, pair->other);  // first entry (trampoline) outside the loop
  for (auto _ : state) switch_context(pair->main, pair->other);
  // `other` is left suspended inside bounce(): nothing on its stack needs destroying.
  destroy_context(pair->other);
  release_stack(stack);
  g_pair = nullptr;
  state.counters["per_switch"] = per_op(2);
}
BENCHMARK(BM_SwitchContext);

// ------------------------------------------------------------------ Boost.Context floor
namespace bctx = boost::context::detail;

void fcontext_bounce(bctx::transfer_t t) {
  for (;;) t = bctx::jump_fcontext(t.fctx, nullptr);
}

void BM_FcontextBaseline(benchmark::State& state) {
  using namespace go::detail;
  Stack stack = allocate_stack(64 * 1024, resolve_guard_mode(GuardMode::automatic));
  bctx::fcontext_t other = bctx::make_fcontext(stack.top(), stack.size, &fcontext_bounce);
  other = bctx::jump_fcontext(other, nullptr).fctx;  // first entry outside the loop
  for (auto _ : state) other = bctx::jump_fcontext(other, nullptr).fctx;
  release_stack(stack);  // `other` is abandoned suspended; nothing on its stack to destroy
  state.counters["per_switch"] = per_op(2);
}
BENCHMARK(BM_FcontextBaseline);

}  // namespace

BENCHMARK_MAIN();
