// G: one fiber. Its descriptor lives at the top of its own stack, its body just below, so a
// fiber is one piece of memory that is pooled and reused as a unit.
#pragma once

#include <atomic>
#include <cstdint>

#include "go/runtime.h"
#include "sched/context.h"
#include "sched/current.h"
#include "sched/stack.h"
#include "sched/timer_heap.h"

namespace go::detail {

struct P;

enum class FiberState : std::uint8_t {
  free,      // pooled: no body, not in any queue
  runnable,  // in a run queue (or about to be put in one)
  running,   // an M executes it
  parked,    // waiting; only ready() makes it runnable again
  dead,      // body finished; about to be pooled
};
const char* to_string(FiberState s);

struct G {
  static constexpr std::uint64_t kMagic = 0x676f6378782d4721;  // "gocxx-G!": overflow reports

  std::uint64_t magic = kMagic;
  ExecContext ctx;     // the fiber's own context
  FiberLocals locals;  // follows the fiber across threads (see current.h)
  Stack stack;         // the memory this G lives in

  // State transitions: runnable->running (the M that dequeued it), running->parked/dead (its
  // M, on g0, after the switch), parked->runnable (ready(), exactly once per park).
  std::atomic<FiberState> state{FiberState::free};

  // Link for whichever single list holds the G: the global run queue (under the scheduler
  // lock), a free list (owned by one P, or under the runtime's free lock).
  G* sched_next = nullptr;

  // All Gs of the runtime, for dumps and for unwinding at exit (under Runtime::all_lock_).
  G* all_prev = nullptr;
  G* all_next = nullptr;

  // Set at spawn, read by dumps from any thread.
  std::atomic<std::uint64_t> id{0};
  std::atomic<const char*> site_file{nullptr};
  std::atomic<int> site_line{0};
  std::atomic<const char*> wait_reason{nullptr};  // what it is parked on

  FiberBody* body = nullptr;
  bool body_on_heap = false;       // the body did not fit in the stack's top area
  bool started = false;            // has run at least once
  bool is_main = false;            // the fiber go::run was given
  bool blocked_in_unwind = false;  // parked while an exception unwinds it at exit

  Timer sleep_timer;  // sleep_until's timer (a fiber sleeps at most once at a time)

  P* last_p = nullptr;  // the P it last ran on (for stats, not for correctness)
};

// Thrown inside a fiber that the runtime unwinds at exit. Not a std::exception on purpose:
// `catch (const std::exception&)` in user code must not swallow it.
struct FiberUnwind {};

}  // namespace go::detail
