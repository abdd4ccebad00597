// Execution contexts and the one function that switches between them.
//
// A context is a stack plus the registers saved when it was switched out: on x86-64 by our own
// switch (context.cpp says why), elsewhere by Boost.Context's fcontext; either way a few dozen
// instructions and no signal-mask syscall. Fibers, the per-M scheduler context (g0) and
// stand-alone coroutines are all ExecContexts, and every switch in the runtime goes through
// switch_context(), so that the sanitizer annotations live in one place:
//   ASan: __sanitizer_start_switch_fiber before, __sanitizer_finish_switch_fiber after;
//   TSan: __tsan_switch_to_fiber, from a function TSan does not instrument.
#pragma once

#include <cstddef>

namespace go::detail {

struct Stack;

// Thread-compatible: a context is switched to by at most one thread at a time, and only
// while it is switched out; the fields below are written by the thread that resumes it.
struct ExecContext {
  void* fctx = nullptr;                // saved registers; valid only while switched out
  const void* stack_bottom = nullptr;  // lowest address of its stack (ASan needs it)
  std::size_t stack_size = 0;
  void* asan_fake_stack = nullptr;             // ASan's fake-stack handle while switched out
  void* tsan_fiber = nullptr;                  // TSan's fiber (thread contexts: the thread's own)
  void (*entry)(ExecContext* self) = nullptr;  // first code run on a new context; never returns
  void* eh_caught = nullptr;  // the C++ runtime's caught-exception stack while switched out
  unsigned eh_uncaught = 0;   // std::uncaught_exceptions() while switched out
  // x86-64: made but never run yet (the first switch starts it, see context.cpp), and the
  // MXCSR / x87 control words it starts with (its creator's).
  bool fresh = false;
  unsigned start_mxcsr = 0;
  unsigned short start_fcw = 0;
};

// Prepares `ctx` to run `entry(&ctx)` on `stack` the first time it is switched to.
// `stack_top` is the highest usable address (the stack grows down from it).
void make_context(ExecContext& ctx, void* stack_top, std::size_t usable_size,
                  const void* stack_bottom, void (*entry)(ExecContext*));

// Makes `ctx` describe the calling thread's own stack (the scheduler context of an M, or the
// resumer of a coroutine outside any fiber). Its registers are filled by the first switch.
void init_thread_context(ExecContext& ctx);

// Releases sanitizer state of a context that will never run again.
void destroy_context(ExecContext& ctx);

// Saves the running context into `from` and resumes `to`. Returns when some thread switches
// back to `from`. `to` must not be running. Not inlined: TSan requires the switch to happen
// in a function it does not instrument, and the caller must re-read thread-locals afterwards.
void switch_context(ExecContext& from, ExecContext& to);

// Like switch_context, for a context that is finished: `from` is never resumed again, so its
// ASan fake stack is released. Does not return.
[[noreturn]] void exit_context(ExecContext& from, ExecContext& to);

}  // namespace go::detail
