// go::Coroutine: stand-alone asymmetric coroutines (and the engine under go::Generator).
//
// Design note.
//
// The problem: run a body on its own stack, leave it part-way and come back, from any thread or
// fiber, nested to any depth, without a scheduler, and without leaking its stack or its locals
// when the user drops a suspended coroutine.
//
// Switching. A coroutine is an ExecContext on a stack from allocate_stack(). resume() and
// yield() are two halves of one protocol, and every switch goes through switch_context() /
// exit_context(), which carry the sanitizer annotations:
//   1. resume (in enter()): prev = running_context_slot(); remember prev as the coroutine's
//      resumer and the innermost coroutine (coroutine_slot()) as its resumer coroutine, which
//      becomes `normal`; set both slots to the coroutine, mark it `running`, and
//      switch_context(prev, coro).
//   2. yield (in suspend()): mark the coroutine `suspended`, its resumer coroutine `running`,
//      put the resumer back into both slots (leave()), and switch_context(coro, resumer).
//   3. the body returns or throws (in coroutine_main()): the exception is stored, the coroutine
//      is marked `dead`, the slots are restored as in 2, and exit_context(coro, resumer).
//   4. back in enter(): the slots are already right (2 and 3 restored them before switching).
//      Check the stack canary; if the coroutine died, release its stack and context and
//      rethrow what escaped the body.
// The resumer is recorded at every resume, not at creation: Lua semantics (yield returns to
// whoever resumed last), and a coroutine may be resumed from a different thread each time.
//
// Where "current" lives. The running context and the innermost coroutine are read only through
// running_context_slot() / coroutine_slot() (current.h). Inside a fiber they live in the fiber,
// because the body may park the fiber (sleep, channel receive) and the fiber may wake up on
// another OS thread: a thread_local would then name the wrong thread's state, and the
// scheduler must also know to switch back to the coroutine's context rather than the fiber's
// own stack. Outside fibers they are per thread. Nothing here holds a thread_local address
// across a switch: the slots are re-read after every switch, and the code that runs after a
// switch touches only the CoroutineState, never thread-local storage.
//
// Destruction. Dropping a suspended, started coroutine must run the destructors of its
// locals. The destructor sets `unwinding` and resumes it once more; suspend() then throws
// ForcedUnwind (deliberately not a std::exception, so `catch (const std::exception&)` does not
// stop it) from the yield the body is parked in. coroutine_main() catches it, and the body
// dies normally through step 3. If the body swallows it and yields again, suspend() finds
// `unwinding` still set and terminates with a message: there is no correct way to go on.
// Rejected alternatives: leaking the stack (leaks whatever the locals own, and LSan says so),
// and forcing unwinding with _Unwind_ForcedUnwind (non-portable, and catch (...) blocks that
// rethrow would behave differently from C++ exceptions).
//
// Stacks are taken lazily at the first resume and released as soon as the body is dead, so a
// never-started or finished coroutine costs only its CoroutineState.
#include "go/coroutine.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include "sched/context.h"
#include "sched/current.h"
#include "sched/stack.h"

#define GOCXX_ALWAYS_INLINE __attribute__((always_inline)) inline

namespace go::detail {

// Everything about one coroutine. Thread-compatible: touched only by the thread (or fiber)
// that is resuming or running the coroutine, and handed over by the context switches.
struct CoroutineState {
  using Status = Coroutine::Status;

  // The coroutine's context; `state` lets coroutine_main() find its way back here.
  struct Context : ExecContext {
    CoroutineState* state = nullptr;
  };

  CoroutineState(std::function<void()> b, std::size_t size, Coroutine* o, bool gen)
      : body(std::move(b)), stack_size(size), owner(o), generator(gen) {
    ctx.state = this;
  }

  Context ctx;
  std::function<void()> body;                   // cleared once the body is dead
  std::size_t stack_size;                       // requested usable bytes
  Stack stack;                                  // taken at the first resume, released once dead
  Coroutine* owner;                             // the Coroutine object; updated when it moves
  ExecContext* resumer = nullptr;               // where yield switches to; set by every resume
  CoroutineState* resumer_coroutine = nullptr;  // innermost coroutine at resume (or nullptr)
  std::exception_ptr error;                     // what escaped the body, until resume rethrows it
  Status status = Status::suspended;            // see Coroutine::Status
  bool started = false;                         // the stack and context exist
  bool generator;                               // a go::Generator's engine (plain yield() refused)
  bool unwinding = false;                       // being destroyed: next yield throws ForcedUnwind
};

namespace {

using Status = Coroutine::Status;

// Thrown from the yield a suspended coroutine is parked in when its Coroutine is destroyed.
// Not derived from std::exception, so only catch (...) sees it.
struct ForcedUnwind {};

[[noreturn]] void fatal(const CoroutineState& s, const char* what) {
  std::fprintf(stderr, "gocxx: fatal: go::Coroutine %p: %s\n", static_cast<const void*>(s.owner),
               what);
  std::fflush(stderr);
  std::abort();
}

// Installs the SIGSEGV handler and alternate signal stack of the calling thread once.
// Kept out of line so that no thread_local address is computed in enter() across its switch.
__attribute__((noinline)) void prepare_thread() {
  thread_local bool prepared = false;
  if (!prepared) {
    install_overflow_handler_for_thread();
    prepared = true;
  }
}

// Puts the resumer back as "current" (steps 2 and 3 of the design note). Runs on the
// coroutine's stack, right before it switches away.
void leave(CoroutineState& s) {
  if (s.resumer_coroutine != nullptr) s.resumer_coroutine->status = Status::running;
  running_context_slot() = s.resumer;
  coroutine_slot() = s.resumer_coroutine;
}

// Runs the body and keeps what escapes it; never throws.
void run_body(CoroutineState& s) noexcept {
  try {
    s.body();
  } catch (const ForcedUnwind&) {
    // Unwound by the destructor: dying is what was asked.
  } catch (...) {
    s.error = std::current_exception();
  }
}

// First code run on a coroutine's stack (step 3 of the design note). Never returns.
void coroutine_main(ExecContext* self) {
  CoroutineState& s = *static_cast<CoroutineState::Context*>(self)->state;
  run_body(s);
  s.status = Status::dead;
  leave(s);
  exit_context(s.ctx, *s.resumer);
}

// Switches from whatever runs now into `s` and returns when `s` yields or dies (steps 1 and 4).
// `s` must be suspended. Throws only if its stack cannot be allocated (before any change).
// Inlined into its callers (as suspend() is): after a switch the CPU's return predictor still
// holds the other stack's return addresses, so every call level between the public function
// and switch_context() costs a mispredicted return (measured: ~5-10% of a round trip).
GOCXX_ALWAYS_INLINE void enter(CoroutineState& s) {
  prepare_thread();
  if (!s.started) {
    s.stack = allocate_stack(s.stack_size, GuardMode::automatic);
    make_context(s.ctx, s.stack.top(), s.stack.size, s.stack.bottom, &coroutine_main);
    s.started = true;
  }
  ExecContext*& running = running_context_slot();
  void*& innermost = coroutine_slot();
  s.resumer = running;
  s.resumer_coroutine = static_cast<CoroutineState*>(innermost);
  if (s.resumer_coroutine != nullptr) s.resumer_coroutine->status = Status::normal;
  s.status = Status::running;
  running = &s.ctx;
  innermost = &s;
  switch_context(*s.resumer, s.ctx);
  // Back from a yield or from the end of the body; leave() has restored the slots, and this
  // may be another thread than before the switch (the body may have parked our fiber).
  if (!stack_canary_intact(s.stack)) {
    fatal(s,
          "stack overflow: the canary at the bottom of its stack was overwritten; give it a "
          "larger stack_size");
  }
  if (s.status == Status::dead) {
    destroy_context(s.ctx);
    release_stack(s.stack);
    s.stack = Stack{};
    s.body = nullptr;
  }
}

// Yields `s`, the innermost running coroutine (step 2). Returns when it is resumed again;
// throws ForcedUnwind if that resume comes from its destructor.
GOCXX_ALWAYS_INLINE void suspend(CoroutineState& s) {
  if (s.unwinding) {
    fatal(s,
          "yielded while being destroyed: its body caught the unwinding exception with "
          "catch (...) without rethrowing it, or yielded from a destructor");
  }
  s.status = Status::suspended;
  leave(s);
  switch_context(s.ctx, *s.resumer);
  if (s.unwinding) throw ForcedUnwind{};
}

// Ends `s` for its owner's destructor or move assignment: unwinds it if it is suspended
// inside its body. Terminates if it is running or normal.
void destroy(CoroutineState& s) noexcept {
  switch (s.status) {
    case Status::running:
    case Status::normal:
      fatal(s,
            "destroyed while running (from inside its own body, or from a coroutine it "
            "resumed)");
    case Status::suspended:
      if (!s.started) return;
      s.unwinding = true;
      enter(s);
      if (s.error) {
        std::string msg = "an exception escaped its body while it was being destroyed";
        try {
          std::rethrow_exception(s.error);
        } catch (const std::exception& e) {
          msg += ": ";
          msg += e.what();
        } catch (...) {
        }
        fatal(s, msg.c_str());
      }
      return;
    case Status::dead:
      return;
  }
}

}  // namespace
}  // namespace go::detail

namespace go {

using detail::CoroutineState;

Coroutine::Coroutine(std::function<void()> body, std::size_t stack_size) {
  if (!body) throw std::invalid_argument("go::Coroutine: the body is an empty std::function");
  if (stack_size == 0) stack_size = detail::default_stack_size();
  state_ = std::make_unique<CoroutineState>(std::move(body), stack_size, this, false);
}

Coroutine::Coroutine(GeneratorTag, std::function<void()> body)
    : state_(std::make_unique<CoroutineState>(std::move(body), detail::default_stack_size(), this,
                                              true)) {}

Coroutine::Coroutine(Coroutine&& other) noexcept : state_(std::move(other.state_)) {
  if (state_) state_->owner = this;
}

Coroutine& Coroutine::operator=(Coroutine&& other) noexcept {
  if (this != &other) {
    if (state_) detail::destroy(*state_);
    state_ = std::move(other.state_);
    if (state_) state_->owner = this;
  }
  return *this;
}

Coroutine::~Coroutine() {
  if (state_) detail::destroy(*state_);
}

bool Coroutine::resume() {
  if (!state_) return false;
  CoroutineState& s = *state_;
  switch (s.status) {
    case Status::dead:
      return false;
    case Status::running:
      throw std::logic_error(
          "go::Coroutine::resume: the coroutine is running (a coroutine cannot resume itself)");
    case Status::normal:
      throw std::logic_error(
          "go::Coroutine::resume: the coroutine is normal: it is waiting for a coroutine it "
          "resumed, which is trying to resume it back (use yield to return to it)");
    case Status::suspended:
      break;
  }
  detail::enter(s);
  if (s.error) std::rethrow_exception(std::exchange(s.error, nullptr));
  return true;
}

Coroutine::Status Coroutine::status() const noexcept {
  return state_ ? state_->status : Status::dead;
}

void Coroutine::yield() {
  auto* s = static_cast<CoroutineState*>(detail::coroutine_slot());
  if (s == nullptr) throw std::logic_error("go::Coroutine::yield: called outside any coroutine");
  if (s->generator) {
    throw std::logic_error(
        "go::Coroutine::yield: called in a go::Generator's body; yield values through the "
        "go::Yield<T>& the body receives");
  }
  detail::suspend(*s);
}

Coroutine* Coroutine::running() noexcept {
  auto* s = static_cast<CoroutineState*>(detail::coroutine_slot());
  return s != nullptr ? s->owner : nullptr;
}

void Coroutine::check_can_yield() const {
  if (detail::coroutine_slot() == state_.get()) return;
  if (state_->status == Status::normal) {
    throw std::logic_error(
        "go::Yield: called from a coroutine that the generator's body resumed; only the body "
        "itself may yield values");
  }
  throw std::logic_error("go::Yield: called outside the body of its go::Generator");
}

void Coroutine::suspend() {
  detail::suspend(*state_);
}

}  // namespace go
