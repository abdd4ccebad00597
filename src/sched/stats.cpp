// go::stats, go::dump_fibers and the schedtrace thread. Everything here reads counters that
// their owners write with relaxed stores: a snapshot, not a consistent cut.

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <ostream>

#include "go/stats.h"
#include "sched/scheduler.h"
#include "sched/trace.h"

namespace go::detail {
namespace {

Stats collect(Runtime& rt) {
  Stats s;
  s.procs = static_cast<int>(rt.ps.size());
  std::uint64_t spawned = rt.foreign_spawned.load(std::memory_order_relaxed);
  std::uint64_t exited = 0;
  std::uint64_t queued = 0;
  for (auto& p : rt.ps) {
    ProcStats ps;
    ps.id = p->id;
    ps.runqueue = p->queue.size() + (p->runnext.load(std::memory_order_relaxed) ? 1 : 0) +
                  static_cast<std::uint32_t>(p->inbox.size_hint());
    ps.idle = p->m->curg.load(std::memory_order_relaxed) == nullptr;
    ps.switches = p->switches.load(std::memory_order_relaxed);
    ps.steals = p->steals.load(std::memory_order_relaxed);
    {
      std::lock_guard lk(p->timer_lock);
      ps.timers = p->timers.size();
    }
    spawned += p->spawned.load(std::memory_order_relaxed);
    exited += p->exited.load(std::memory_order_relaxed);
    queued += ps.runqueue;
    s.context_switches += ps.switches;
    s.steals += ps.steals;
    if (!ps.idle) ++s.fibers_running;
    s.per_proc.push_back(ps);
  }
  s.global_runqueue = rt.global.size_hint();
  s.fibers_spawned = spawned;
  s.fibers_alive = spawned >= exited ? spawned - exited : 0;
  s.fibers_runnable = queued + s.global_runqueue;
  std::uint64_t busy = s.fibers_runnable + s.fibers_running;
  s.fibers_parked = s.fibers_alive > busy ? s.fibers_alive - busy : 0;
  s.spinning = rt.nmspinning.load(std::memory_order_relaxed);
  s.idle_procs = rt.npidle.load(std::memory_order_relaxed);
  StackPoolStats sp = stack_pool_stats();
  s.stacks_pooled = sp.stacks_pooled;
  s.stack_slabs = sp.slabs;
  s.stacks_pooled += static_cast<std::uint64_t>(rt.free_count.load(std::memory_order_relaxed));
  return s;
}

}  // namespace

std::string schedtrace_line(Runtime& rt, long long elapsed_ms) {
  Stats s = collect(rt);
  std::string queues;
  for (const ProcStats& p : s.per_proc) {
    if (!queues.empty()) queues += ' ';
    queues += std::to_string(p.runqueue);
  }
  return fmt::format(
      "SCHED {}ms: procs={} idleprocs={} spinning={} runqueue={} [{}] fibers={} running={} "
      "parked={} steals={} switches={}",
      elapsed_ms, s.procs, s.idle_procs, s.spinning, s.global_runqueue, queues, s.fibers_alive,
      s.fibers_running, s.fibers_parked, s.steals, s.context_switches);
}

SchedTrace::SchedTrace(Runtime& rt) : rt_(rt) {
  if (rt.opts.schedtrace_ms <= 0) return;
  thread_ = std::thread([this] {
    const auto start = std::chrono::steady_clock::now();
    const auto interval = std::chrono::milliseconds(rt_.opts.schedtrace_ms);
    std::unique_lock lk(mu_);
    auto next = start + interval;
    while (!cv_.wait_until(lk, next, [this] { return stop_; })) {
      auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
      std::string line = schedtrace_line(rt_, elapsed);
      std::fprintf(stderr, "%s\n", line.c_str());
      next += interval;
    }
  });
}

void SchedTrace::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace go::detail

namespace go {

Stats stats() {
  std::lock_guard lk(detail::g_runtime_lock);  // keeps the runtime alive while we read it
  detail::Runtime* rt = detail::g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr) return Stats{};
  return detail::collect(*rt);
}

void dump_fibers(std::ostream& out) {
  using namespace go::detail;
  std::lock_guard lk(g_runtime_lock);
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr) {
    out << "gocxx: no runtime is running\n";
    return;
  }
  std::lock_guard all(rt->all_lock);
  for (G* g = rt->all_gs; g != nullptr; g = g->all_next) {
    FiberState state = g->state.load(std::memory_order_relaxed);
    if (state == FiberState::free) continue;
    const char* reason = g->wait_reason.load(std::memory_order_relaxed);
    const char* file = g->site_file.load(std::memory_order_relaxed);
    out << "fiber " << g->id.load(std::memory_order_relaxed) << " [" << to_string(state);
    if (state == FiberState::parked && reason != nullptr) out << ": " << reason;
    out << "] spawned at ";
    if (file == nullptr)
      out << "unknown (go::spawn)";
    else
      out << file << ':' << g->site_line.load(std::memory_order_relaxed);
    out << '\n';
  }
}

}  // namespace go
