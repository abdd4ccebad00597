// What is running on this thread right now, readable across fiber migration.
//
// Fibers migrate between OS threads at every park. GCC and Clang may compute the address of a
// thread_local once per function and reuse it after a call that switched threads, so runtime
// code reads "current" state only through these out-of-line accessors (noipa: no inlining, no
// interprocedural assumptions such as "pure"), and never holds the result across a switch.
#pragma once

#include "sched/context.h"

#define GOCXX_NOIPA __attribute__((noipa))

namespace go::detail {

// Per-fiber slots that must follow a fiber from thread to thread. Lives inside the fiber (G).
struct FiberLocals {
  ExecContext* running = nullptr;  // the context executing on behalf of this fiber right now:
                                   // the fiber's own, or a Coroutine it resumed
  void* coroutine = nullptr;       // innermost running go::Coroutine (nullptr: none)
};

// The FiberLocals of the fiber running on this thread, or nullptr outside fibers.
// Defined by the scheduler. Any thread.
GOCXX_NOIPA FiberLocals* current_fiber_locals();

// The context running on this thread: inside a fiber the fiber's `running`, outside the
// thread's own context (initialised on first use). Any thread.
GOCXX_NOIPA ExecContext*& running_context_slot();

// The innermost running go::Coroutine: per fiber inside fibers, per thread outside.
GOCXX_NOIPA void*& coroutine_slot();

}  // namespace go::detail
