#include "sched/context.h"

#include <pthread.h>

#include <cxxabi.h>
#include <boost/context/detail/fcontext.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#if defined(GOCXX_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(GOCXX_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

// On x86-64 the switch itself is ours (below); elsewhere it is Boost.Context's fcontext.
#if defined(__x86_64__) && !defined(GOCXX_BOOST_FCONTEXT)
#define GOCXX_OWN_SWITCH 1
#endif

#if defined(GOCXX_OWN_SWITCH)
// gocxx_swap_context(save_sp, load_sp, data): saves the callee-saved registers and the MXCSR /
// x87 control words (callee-saved in the SysV ABI) on the current stack, stores the stack
// pointer in *save_sp, switches to load_sp, restores what is saved there and returns `data`
// into the context that was switched to.
//
// Why not Boost's jump_fcontext: it leaves through `jmp *%r8`, never `ret`, so every switch
// pushes one entry onto the CPU's return-stack predictor that no `ret` pops. The resumed side
// then returns through jump(), switch_context(), switch_away(), park(), ... and each of those
// returns is predicted from an entry one frame off: a mispredicted return per frame, on every
// switch. Here the switch ends in `ret`, which pops the resumed context's own return address:
// calls and returns stay paired, and when both sides were suspended through the same call
// path (every channel wait is) all their returns are predicted. Measured on the 2-core VM
// (AMD EPYC): a yield 38.6 -> 25.3 ns, a park/ready hand-off 39.5 -> 23.9 ns (gocxx-micro),
// chan_pingpong at 1 P 118 -> 73-78 ns per round trip.
// The control words are reloaded only when they differ (ldmxcsr and fldcw are slow, and
// almost no program changes them).
//
// A new context is started by gocxx_start_context(save_sp, load_sp, data, entry, ctrl): it
// saves the current context exactly as gocxx_swap_context does (so a later swap resumes it),
// loads the new context's control words from ctrl (its creator's, captured by make_context),
// and jumps to entry(data) on the new stack, whose return-address slot holds 0 (unwinders stop
// there). A jump, not a ret: the start target is always the same function, which the indirect
// branch predictor learns, while a ret into a stack that never called anything could only be
// mispredicted (that cost 12 ns per spawned fiber).
extern "C" void* gocxx_swap_context(void** save_sp, void* load_sp, void* data);
extern "C" void* gocxx_start_context(void** save_sp, void* load_sp, void* data,
                                     void (*entry)(void*), const void* ctrl);
asm(R"(
  # Both entry points leave the running context the same way: its callee-saved registers and
  # control words pushed on its own stack, that stack pointer stored in *save_sp (rdi), then
  # the new stack (rsi). The control words just saved stay in eax (MXCSR) and r9w (x87 CW).
  .macro gocxx_leave_context
  pushq %rbp
  .cfi_adjust_cfa_offset 8
  pushq %rbx
  .cfi_adjust_cfa_offset 8
  pushq %r12
  .cfi_adjust_cfa_offset 8
  pushq %r13
  .cfi_adjust_cfa_offset 8
  pushq %r14
  .cfi_adjust_cfa_offset 8
  pushq %r15
  .cfi_adjust_cfa_offset 8
  subq $8, %rsp
  .cfi_adjust_cfa_offset 8
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movl (%rsp), %eax
  movzwl 4(%rsp), %r9d
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  .endm

  # Loads the control words at \mxcsr and \fcw where they differ from eax / r9w.
  .macro gocxx_load_control_words mxcsr, fcw
  cmpl \mxcsr, %eax
  je 1f
  ldmxcsr \mxcsr
1:
  cmpw \fcw, %r9w
  je 2f
  fldcw \fcw
2:
  .endm

  .text
  .globl gocxx_swap_context
  .hidden gocxx_swap_context
  .type gocxx_swap_context, @function
  .p2align 4
gocxx_swap_context:
  .cfi_startproc
  gocxx_leave_context
  gocxx_load_control_words (%rsp), 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  movq %rdx, %rax
  ret
  .cfi_endproc
  .size gocxx_swap_context, .-gocxx_swap_context

  .globl gocxx_start_context
  .hidden gocxx_start_context
  .type gocxx_start_context, @function
  .p2align 4
gocxx_start_context:
  .cfi_startproc
  gocxx_leave_context
  gocxx_load_control_words (%r8), 4(%r8)
  movq %rdx, %rdi
  xorl %ebp, %ebp
  jmp *%rcx
  .cfi_endproc
  .size gocxx_start_context, .-gocxx_start_context
)");
#endif

namespace go::detail {
namespace bctx = boost::context::detail;

namespace {

// Passed through the switch: the resumed side learns which context just switched out (ASan
// needs it; with Boost's fcontext it also stores that context's registers) and, on a first
// entry, which context it is. Lives on the switching-out stack, which stays intact until the
// resumed side read it.
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

// Runs on the resumed side right after a jump: completes the ASan switch. Returns the context
// that was resumed.
inline ExecContext* after_jump(Transfer* tr, void* my_fake_stack) {
  ExecContext* to = tr->to;
#if defined(GOCXX_ASAN)
  ExecContext* from = tr->from;
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

// The first code a new context runs (jumped to by gocxx_start_context, or by Boost's fcontext).
// A new context starts with no exception in flight: jump() left the thread's state empty.
#if defined(GOCXX_OWN_SWITCH)
GOCXX_SWITCH_FN void trampoline(void* data) {
  ExecContext* self = after_jump(static_cast<Transfer*>(data), nullptr);
#else
GOCXX_SWITCH_FN void trampoline(bctx::transfer_t t) {
  static_cast<Transfer*>(t.data)->from->fctx = t.fctx;
  ExecContext* self = after_jump(static_cast<Transfer*>(t.data), nullptr);
#endif
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
#if defined(GOCXX_OWN_SWITCH)
  // from.fctx is written before the stack changes: nobody resumes `from` before this switch
  // has landed (a parking fiber is published by finish_switch on the other side).
  void* data;
  if (to.fresh) {
    to.fresh = false;
    data = gocxx_start_context(&from.fctx, to.fctx, &tr, &trampoline, &to.start_mxcsr);
  } else {
    data = gocxx_swap_context(&from.fctx, to.fctx, &tr);
  }
  auto* landed = static_cast<Transfer*>(data);
#else
  bctx::transfer_t t = bctx::jump_fcontext(to.fctx, &tr);
  auto* landed = static_cast<Transfer*>(t.data);
  landed->from->fctx = t.fctx;
#endif
  after_jump(landed, from.asan_fake_stack);
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
#if defined(GOCXX_OWN_SWITCH)
  // gocxx_start_context jumps to trampoline with the stack pointer here: 16-byte aligned plus
  // the 8 bytes of a return address, as at any function's entry; that slot holds 0.
  auto* sp = reinterpret_cast<std::uintptr_t*>(
      (reinterpret_cast<std::uintptr_t>(stack_top) & ~std::uintptr_t{15}) - 8);
  *sp = 0;
  ctx.fctx = sp;
  ctx.fresh = true;
  static_assert(offsetof(ExecContext, start_fcw) == offsetof(ExecContext, start_mxcsr) + 4,
                "gocxx_start_context reads the two control words as one 8-byte block");
  asm volatile("stmxcsr %0" : "=m"(ctx.start_mxcsr));
  asm volatile("fnstcw %0" : "=m"(ctx.start_fcw));
#else
  ctx.fctx = bctx::make_fcontext(stack_top, usable_size, &trampoline);
#endif
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
