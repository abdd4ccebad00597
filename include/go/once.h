// go::Once: Go's sync.Once for fibers and plain threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "go/mutex.h"

namespace go {

// Runs a function exactly once (Go's sync.Once). call(f) runs f if no call of this Once has
// run its function yet; concurrent callers wait (parking their fibers) until that first call
// finished, and return without running theirs. Once a call returned, every later call returns
// at once, and what f did happens before their return.
//
// Go semantics, not std::call_once's: if f throws, the Once still counts as done (Go: "if f
// panics, Do considers it to have returned"); the exception reaches the caller that ran f,
// and later calls do not retry. One exception: a fiber unwound by go::run at exit while inside
// f leaves the Once not done (the runtime was torn down, f did not finish; a later go::run may
// run it). Calling call() on the same Once from inside f deadlocks, as in Go.
class Once {
 public:
  Once() noexcept = default;
  ~Once();
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  // Any party.
  template <class F>
  void call(F&& f) {
    static_assert(std::is_invocable_v<F&&>, "go::Once::call(f): f must be callable as f()");
    // acquire: what the first call's f wrote is visible to us.
    if (done_.load(std::memory_order_acquire)) return;
    using Fn = std::remove_reference_t<F>;
    if constexpr (std::is_function_v<Fn>) {
      call(&f);  // a function: through a pointer to it (no void* for functions)
    } else {
      call_slow([](void* fn) { std::invoke(std::forward<F>(*static_cast<Fn*>(fn))); },
                const_cast<void*>(static_cast<const void*>(std::addressof(f))));
    }
  }

 private:
  void call_slow(void (*invoke)(void*), void* fn);

  std::atomic<bool> done_{false};       // written under m_
  std::atomic<std::uint32_t> pins_{0};  // call_slow calls in flight (the destructor waits)
  Mutex m_;                             // held by the caller running f
};

}  // namespace go
