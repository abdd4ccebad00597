// Introspection: counters of the running runtime and a dump of every fiber.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <vector>

namespace go {

struct ProcStats {
  int id = 0;
  std::uint32_t runqueue = 0;  // fibers in the local queue (+1 if runnext is set)
  bool idle = false;           // its M sleeps
  std::uint64_t switches = 0;  // fibers resumed on this P
  std::uint64_t steals = 0;    // successful steals by this P
  std::uint64_t timers = 0;    // timers waiting in this P's heap
};

struct Stats {
  int procs = 0;                      // 0: no runtime running
  std::uint64_t fibers_alive = 0;     // spawned and not finished (the main fiber included)
  std::uint64_t fibers_runnable = 0;  // in a run queue
  std::uint64_t fibers_running = 0;
  std::uint64_t fibers_parked = 0;   // waiting on something (sleep, channel, lock, ...)
  std::uint64_t fibers_spawned = 0;  // since go::run started
  std::uint64_t global_runqueue = 0;
  std::uint64_t context_switches = 0;  // fibers resumed, all Ps
  std::uint64_t steals = 0;
  int spinning = 0;  // Ms looking for work
  int idle_procs = 0;
  std::uint64_t stacks_pooled = 0;  // stacks ready for reuse
  std::uint64_t stack_slabs = 0;    // slab mappings (each holds many stacks)
  std::vector<ProcStats> per_proc;
};

// A snapshot of the running runtime (all zero when none runs). Any thread.
Stats stats();

// Writes one line per live fiber: id, state, what it waits on, spawn site (file:line). Any
// thread; a snapshot taken while fibers run may be slightly inconsistent.
void dump_fibers(std::ostream& out);

}  // namespace go
