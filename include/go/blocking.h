// go::blocking: runs blocking or CPU-heavy work on a pool of OS threads while the fiber parks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace go {

namespace detail {

// One call of go::blocking, type-erased for the pool (src/sched/blocking.cpp). It lives on the
// caller's stack for the whole call: run_blocking returns (or throws) only once the pool is done
// with it. The fields below execute() belong to blocking.cpp, which documents who guards them.
class BlockingTask {
 public:
  BlockingTask(const BlockingTask&) = delete;
  BlockingTask& operator=(const BlockingTask&) = delete;

  // Runs the callable and stores its result or its exception. Called exactly once, on a pool
  // thread or inline on the caller's thread.
  virtual void execute() noexcept = 0;

  BlockingTask* next = nullptr;         // the pool's queue link (pool lock)
  bool queued = false;                  // in the pool's queue (pool lock)
  void* fiber = nullptr;                // the parked caller (a G), readied when done
  void* runtime = nullptr;              // its go::run (a Runtime)
  std::atomic<std::uint32_t> state{0};  // the completion protocol (blocking.cpp)

 protected:
  BlockingTask() = default;
  ~BlockingTask() = default;
};

// Runs task.execute(): on a pool thread while the calling fiber parks, or inline when the
// caller is a plain thread (blocking it is what the caller asked for). Returns once execute()
// has returned. Throws FiberUnwind when go::run unwinds the calling fiber at exit, and then
// only after no pool thread touches the task any more. Any thread.
void run_blocking(BlockingTask& task);

// go::blocking's task for f(args...): the callable and its arguments decay-copied into it, like
// std::thread, and invoked as rvalues.
template <class F, class... Args>
class BlockingCall final : public BlockingTask {
 public:
  // What go::blocking returns: the callable's result by value (a returned reference is copied,
  // or moved from if it is an rvalue reference, on the pool thread).
  using Value = std::remove_cvref_t<std::invoke_result_t<F, Args...>>;

  template <class G, class... A>
  explicit BlockingCall(G&& f, A&&... args)
      : f_(std::forward<G>(f)), args_(std::forward<A>(args)...) {}

  void execute() noexcept override {
    try {
      if constexpr (std::is_void_v<Value>)
        std::apply(std::move(f_), std::move(args_));
      else
        result_.emplace(std::apply(std::move(f_), std::move(args_)));
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  // The result, or the callable's exception rethrown. Once, after run_blocking returned.
  Value take() {
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<Value>) return std::move(*result_);
  }

 private:
  struct NoValue {};
  F f_;
  std::tuple<Args...> args_;
  [[no_unique_address]] std::conditional_t<std::is_void_v<Value>, NoValue, std::optional<Value>>
      result_;
  std::exception_ptr error_;
};

// A snapshot of the blocking pool (process-wide: it outlives each go::run).
struct BlockingPoolStats {
  int threads = 0;              // pool threads alive (busy, idle or starting)
  int idle = 0;                 // threads waiting for a job
  int running = 0;              // jobs being run
  int peak_threads = 0;         // most threads alive at once since the process started
  int max_threads = 0;          // the cap (GOCXX_BLOCKING_THREADS, default 64)
  std::uint64_t queued = 0;     // jobs waiting for a thread
  std::uint64_t completed = 0;  // jobs run to completion since the process started
  std::uint64_t dropped = 0;    // jobs not run: popped after their go::run began stopping
  std::uint64_t cancelled = 0;  // jobs taken back from the queue by a fiber being unwound
  std::chrono::nanoseconds idle_timeout{0};  // an idle thread exits after this long
};

// Any thread.
BlockingPoolStats blocking_pool_stats();

// Test hooks: change the pool's idle timeout / thread cap (idle threads re-read them at once);
// each returns the previous value. Any thread.
std::chrono::nanoseconds set_blocking_idle_timeout(std::chrono::nanoseconds timeout);
int set_blocking_max_threads(int max_threads);

}  // namespace detail

// Runs f(args...) on a separate pool of OS threads and returns its result; the calling fiber
// parks meanwhile, so its P keeps running other fibers. For CPU-heavy work and for blocking
// calls the runtime cannot hook (disk I/O, getaddrinfo, legacy APIs).
//  - f and args are decay-copied into the call like std::thread and invoked as rvalues; the
//    copies are destroyed by the caller once the call returns.
//  - The result comes back by value (any movable type, or void; a returned reference is
//    copied). An exception thrown by f is rethrown to the caller with its type.
//  - From a plain thread (not a fiber) f runs inline on that thread.
//  - The pool is process-wide: it starts threads on demand, up to GOCXX_BLOCKING_THREADS (env,
//    default 64); beyond that, calls queue in FIFO order. Threads idle for 5 s exit.
//  - If go::run ends while the call runs, go::run waits for f to return before it unwinds the
//    fiber (f may refer to the fiber's stack); a call not started yet is not run at all.
template <class F, class... Args>
auto blocking(F&& f, Args&&... args) {
  static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                "go::blocking(f, args...): f is not callable with these arguments (taken by "
                "value)");
  using Call = detail::BlockingCall<std::decay_t<F>, std::decay_t<Args>...>;
  static_assert(
      std::is_void_v<typename Call::Value> || std::is_move_constructible_v<typename Call::Value>,
      "go::blocking: the result is returned by value, so it must be movable");
  Call call(std::forward<F>(f), std::forward<Args>(args)...);
  detail::run_blocking(call);
  return call.take();
}

}  // namespace go
