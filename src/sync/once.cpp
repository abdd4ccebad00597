// go::Once (Go's sync.Once): run a function exactly once, however many parties call at once.
//
// The approach is Go's: an atomic done flag for the fast path (one acquire load once done) and
// a go::Mutex for the slow path. The first caller to get the Mutex runs f while holding it;
// concurrent callers wait on the Mutex (parking, not spinning), then see done and return. done
// is set after f returns or throws (Go: a panicking f counts as done), with release order, so a
// caller that sees it also sees everything f did.
//
// Rejected alternatives:
//  - A CAS on done before running f (a "first caller wins" flag): losers would return before f
//    finished, which is exactly what Once must not allow.
//  - std::call_once: blocks the M; and retries after an exception (not Go's semantics).
//  - Marking done when f is interrupted by go::run's unwinding: f did not finish, and a global
//    Once used by a later go::run would then skip it for good.

#include "go/once.h"

#include <mutex>

#include "sched/fiber.h"
#include "sync/sema.h"

namespace go {

Once::~Once() {
  detail::wait_unpinned(pins_);
}

// Any party.
void Once::call_slow(void (*invoke)(void*), void* fn) {
  // From before done_ is set: a caller that sees it may return and destroy us while we are
  // still unlocking m_ (the lock_guard below is destroyed first).
  detail::Pin pin(pins_);
  std::lock_guard lk(m_);
  if (done_.load(std::memory_order_relaxed)) return;  // m_ orders it with the writer
  try {
    invoke(fn);
  } catch (const detail::FiberUnwind&) {
    throw;  // torn down inside f: not done
  } catch (...) {
    done_.store(true, std::memory_order_release);
    detail::release_window();
    throw;
  }
  done_.store(true, std::memory_order_release);  // publishes what f did to the fast path
  detail::release_window();
}

}  // namespace go
