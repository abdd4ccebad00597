#include "sched/context.h"

#include <pthread.h>

#include <cxxabi.h>
#include <boost/context/detail/fcontext.hpp>
#include <cstdlib>

#if defined(GOCXX_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(GOCXX_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace go::detail {
namespace bctx = boost::context::detail;

namespace {

// Passed through jump_fcontext: the resumed side learns which context just switched out
// (so it can store that context's registers) and, on a first entry, which context it is.
// Lives on the switching-out stack, which stays intact until the resumed side read it.
struct Transfer {
  ExecContext* from;
  ExecContext* to;
};

#if defined(GOCXX_TSAN)
#define GOCXX_SWITCH_FN __attribute__((no_sanitize("thread"), noinline))
#elif defined(GOCXX_ASAN)
// Not instrumented by ASan either: the Transfer must live on the real stack, not on the
// fake stack of detect_stack_use_after_return, which exit_context releases before the jump.
#define GOCXX_SWITCH_FN __attribute__((no_sanitize("address"), noinline))
#else
#define GOCXX_SWITCH_FN __attribute__((noinline))
#endif

// The prefix of the C++ runtime's per-thread exception state (libstdc++ and libc++abi:
// struct __cxa_eh_globals { __cxa_exception* caughtExceptions; unsigned uncaughtExceptions; }).
// It belongs to a context, not to a thread: a context suspended inside a catch block must find
// its caught exception again (for `throw;` and std::current_exception) wherever it resumes.
struct EhGlobals {
  void* caught;
  unsigned int uncaught;
};

// The address is fixed per thread, so it is cached in our own initial-exec thread_local: in
// libstdc++.so every __cxa_get_globals() goes through __tls_get_addr (~10% of a yield).
// Out of line and never assumed pure: __cxa_get_globals is declared const, so the compiler
// would otherwise reuse the first thread's address after a switch to another thread.
__attribute__((tls_model("initial-exec"))) thread_local EhGlobals* tls_eh_globals = nullptr;

__attribute__((noipa)) EhGlobals* eh_globals() {
  EhGlobals* g = tls_eh_globals;
  if (g == nullptr) {
    g = reinterpret_cast<EhGlobals*>(abi::__cxa_get_globals());
    tls_eh_globals = g;
  }
  return g;
}

// Runs on the resumed side right after a jump: stores the registers of the context that
// switched out and completes the ASan switch.
inline ExecContext* after_jump(bctx::transfer_t t, void* my_fake_stack) {
  auto* tr = static_cast<Transfer*>(t.data);
  ExecContext* to = tr->to;
  ExecContext* from = tr->from;
  from->fctx = t.fctx;
#if defined(GOCXX_ASAN)
  const void* bottom = nullptr;
  std::size_t size = 0;
  __sanitizer_finish_switch_fiber(my_fake_stack, &bottom, &size);
  // The thread's own stack is only known once something switched away from it.
  if (from->stack_bottom == nullptr) {
    from->stack_bottom = bottom;
    from->stack_size = size;
  }
#else
  (void)my_fake_stack;
#endif
  return to;
}

GOCXX_SWITCH_FN void trampoline(bctx::transfer_t t) {
  // A new context starts with no exception in flight: jump() left the thread's state empty.
  ExecContext* self = after_jump(t, nullptr);
  self->entry(self);
  std::abort();  // entry functions leave through exit_context
}

// Invariant: whenever a jump lands, the thread's exception state is empty; each context keeps
// its own in its ExecContext while switched out. So the common case (nothing caught, nothing
// in flight) costs one read of the state per switch, and no write.
GOCXX_SWITCH_FN void jump(ExecContext& from, ExecContext& to, bool from_is_dying) {
  Transfer tr{&from, &to};
#if defined(GOCXX_ASAN)
  __sanitizer_start_switch_fiber(from_is_dying ? nullptr : &from.asan_fake_stack, to.stack_bottom,
                                 to.stack_size);
#else
  (void)from_is_dying;
#endif
#if defined(GOCXX_TSAN)
  __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
  // Before the jump we are on our own thread: the cached address may be read inline.
  EhGlobals* g = tls_eh_globals;
  if (g == nullptr) g = eh_globals();
  const bool had_eh_state = g->caught != nullptr || g->uncaught != 0;
  if (had_eh_state) {
    from.eh_caught = g->caught;
    from.eh_uncaught = g->uncaught;
    g->caught = nullptr;
    g->uncaught = 0;
  }
  bctx::transfer_t t = bctx::jump_fcontext(to.fctx, &tr);
  after_jump(t, from.asan_fake_stack);
  if (had_eh_state) {
    g = eh_globals();  // maybe another thread's now (out of line: no stale TLS address)
    g->caught = from.eh_caught;
    g->uncaught = from.eh_uncaught;
  }
}

}  // namespace

void make_context(ExecContext& ctx, void* stack_top, std::size_t usable_size,
                  const void* stack_bottom, void (*entry)(ExecContext*)) {
#if defined(GOCXX_ASAN)
  // A reused stack still carries the shadow poison of frames that were abandoned by a switch
  // (their epilogues never ran): clear it, or the new context trips over stale redzones.
  ASAN_UNPOISON_MEMORY_REGION(
      stack_bottom, static_cast<char*>(stack_top) - static_cast<const char*>(stack_bottom));
#endif
  ctx.fctx = bctx::make_fcontext(stack_top, usable_size, &trampoline);
  ctx.stack_bottom = stack_bottom;
  ctx.stack_size = usable_size;
  ctx.asan_fake_stack = nullptr;
  ctx.entry = entry;
#if defined(GOCXX_TSAN)
  if (ctx.tsan_fiber == nullptr) ctx.tsan_fiber = __tsan_create_fiber(0);
#endif
}

void init_thread_context(ExecContext& ctx) {
  ctx = ExecContext{};
#if defined(GOCXX_TSAN)
  ctx.tsan_fiber = __tsan_get_current_fiber();
#endif
#if defined(GOCXX_ASAN)
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    std::size_t size = 0;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
      ctx.stack_bottom = addr;
      ctx.stack_size = size;
    }
    pthread_attr_destroy(&attr);
  }
#endif
}

void destroy_context(ExecContext& ctx) {
#if defined(GOCXX_TSAN)
  if (ctx.tsan_fiber != nullptr) __tsan_destroy_fiber(ctx.tsan_fiber);
#endif
  ctx.tsan_fiber = nullptr;
  ctx.fctx = nullptr;
}

GOCXX_SWITCH_FN void switch_context(ExecContext& from, ExecContext& to) {
  jump(from, to, false);
}

GOCXX_SWITCH_FN void exit_context(ExecContext& from, ExecContext& to) {
  jump(from, to, true);
  std::abort();  // a finished context is never resumed
}

}  // namespace go::detail
