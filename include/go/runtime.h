// The gocxx runtime: go::run, spawning fibers, and what a running fiber can do.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <tuple>
#include <type_traits>
#include <utility>

namespace go {

// How fiber stacks detect overflow (see Config::stack_guard).
enum class StackGuard : std::uint8_t {
  automatic,   // guard_page where the kernel can add guards without map entries (Linux >= 6.13),
               // else canary
  guard_page,  // a PROT_NONE page below every stack: overflow is caught before any write
  canary,      // a pattern at the stack's end, checked at every switch: caught after the fact
};

// Settings of one go::run. Zero means "take it from the environment, else the default".
struct Config {
  int procs = 0;               // Ps running fibers; 0: env GOCXX_PROCS, else hardware_concurrency()
  std::size_t stack_size = 0;  // per-fiber stack; 0: env GOCXX_STACK_SIZE, else 256 KiB
                               // (virtual; only touched pages cost memory)
  StackGuard stack_guard = StackGuard::automatic;
  // Test/debug mode: every yield and every wake-up sends the fiber to another P (another OS
  // thread), so that code relying on thread identity across a switch fails fast. Also env
  // GOCXX_DEBUG_MIGRATE=1.
  bool migrate_on_yield = false;
};

// Starts the scheduler (procs worker threads), runs `main_fiber` as a fiber and returns 0 once
// it returns (Go's main). Fibers still alive then are unwound: each is resumed one last time
// with an exception that runs its destructors. An exception escaping `main_fiber` is rethrown
// here. May be called again after it returned; not from inside a fiber, and one at a time.
int run(std::function<void()> main_fiber, Config cfg = {});

namespace detail {

// Where a fiber was spawned, for dumps and fatal messages.
struct SpawnSite {
  const char* file = nullptr;
  int line = 0;
};

// A fiber's body with its arguments, type-erased. Placed in the fiber's own stack memory when
// it fits, so spawning allocates nothing once stacks are pooled.
class FiberBody {
 public:
  virtual void run() = 0;
  virtual void destroy() noexcept = 0;  // runs the destructor; the runtime owns the memory

 protected:
  ~FiberBody() = default;
};

template <class F, class... Args>
class BoundBody final : public FiberBody {
 public:
  template <class G, class... A>
  explicit BoundBody(G&& f, A&&... args)
      : f_(std::forward<G>(f)), args_(std::forward<A>(args)...) {}
  void run() override { std::apply(std::move(f_), std::move(args_)); }
  void destroy() noexcept override { this->~BoundBody(); }

 private:
  F f_;
  std::tuple<Args...> args_;
};

// A fiber being spawned: `storage` receives the body (size/alignment as asked).
struct SpawnSlot {
  void* fiber;
  void* storage;
};
SpawnSlot spawn_begin(std::size_t body_size, std::size_t body_align);
void spawn_commit(SpawnSlot slot, FiberBody* body, SpawnSite site);
void spawn_abort(SpawnSlot slot) noexcept;  // the body's constructor threw

template <class F, class... Args>
void spawn_at(SpawnSite site, F&& f, Args&&... args) {
  static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                "go(f, args...): f is not callable with these arguments (taken by value)");
  using Body = BoundBody<std::decay_t<F>, std::decay_t<Args>...>;
  SpawnSlot slot = spawn_begin(sizeof(Body), alignof(Body));
  Body* body;
  try {
    body = ::new (slot.storage) Body(std::forward<F>(f), std::forward<Args>(args)...);
  } catch (...) {
    spawn_abort(slot);
    throw;
  }
  spawn_commit(slot, body, site);
}

}  // namespace detail

// Spawns a fiber running f(args...), the arguments decay-copied (moved) into it like
// std::thread. Legal from any fiber, and from any thread while go::run is running.
// Throws std::logic_error when no runtime is running.
template <class F, class... Args>
void spawn(F&& f, Args&&... args) {
  detail::spawn_at(detail::SpawnSite{}, std::forward<F>(f), std::forward<Args>(args)...);
}

namespace this_fiber {
void yield();  // runtime.Gosched: lets other fibers run; from a plain thread:
               // std::this_thread::yield
void sleep_for(std::chrono::nanoseconds d);
void sleep_until(std::chrono::steady_clock::time_point t);
std::uint64_t id();  // unique while the runtime lives; 0 outside a fiber
bool in_fiber();
}  // namespace this_fiber

}  // namespace go

#ifndef GOCXX_NO_GO_MACRO
// go(f, args...): spawns a fiber and records this line as its spawn site.
#define go(...) ::go::detail::spawn_at(::go::detail::SpawnSite{__FILE__, __LINE__}, __VA_ARGS__)
#endif
