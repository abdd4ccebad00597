// go::Semaphore: a counting semaphore, directly the runtime semaphore (sync/sema.h).
//
// The problem: n units shared by fibers and plain threads; acquire() waits for one without
// blocking the M of a fiber; no party may be overtaken forever.
//
// The approach: the Sema's count is the semaphore's count. acquire() is Sema::acquire (a CAS
// when a unit is free, else queue FIFO and block); release(n) raises the count and hands the
// units straight to the longest-waiting parties (Sema hand-off mode), so that a queued party is
// never overtaken by a newcomer once release() is handing units out: first come, first served,
// like golang.org/x/sync/semaphore.
//
// Unwinding at exit: a fiber unwound while queued leaves the queue (Sema::acquire); one that
// was handed a unit just before gives it back (release) and is unwound.
//
// Rejected alternatives:
//  - Go's plain semrelease (a woken waiter competes with newcomers): cheaper under heavy churn,
//    but a waiter can lose to newcomers again and again; a counting semaphore is mostly used
//    to bound concurrency, where fairness matters more than the last nanosecond.
//  - std::counting_semaphore: blocks the M.

#include "go/semaphore.h"

#include <cstdint>
#include <limits>
#include <stdexcept>

#include "sync/sema.h"

namespace go {

Semaphore::Semaphore(std::ptrdiff_t n) {
  if (n < 0) throw std::invalid_argument("go::Semaphore: negative initial count");
  detail::sema_of(sema_).count.store(n, std::memory_order_relaxed);  // not shared yet
}

Semaphore::~Semaphore() {
  detail::wait_unpinned(pins_);
  detail::sema_check_unused(sema_, "go::Semaphore");
}

// Any party.
void Semaphore::acquire() {
  detail::Sema& s = detail::sema_of(sema_);
  if (s.acquire(false, "go::Semaphore::acquire") && detail::unwinding_fiber()) {
    // Handed a unit just as go::run unwound us: give it to the next party.
    release(1);
    throw detail::FiberUnwind{};
  }
}

// Any party.
bool Semaphore::try_acquire() noexcept {
  return detail::sema_of(sema_).try_acquire();
}

// Any thread.
void Semaphore::release(std::ptrdiff_t n) {
  if (n <= 0) throw std::invalid_argument("go::Semaphore::release: n must be positive");
  detail::Pin pin(pins_);  // an acquirer may take a unit (and destroy us) before we are done
  detail::Sema& s = detail::sema_of(sema_);
  std::int64_t c = s.count.load(std::memory_order_relaxed);
  do {
    if (c > std::numeric_limits<std::ptrdiff_t>::max() - n)
      throw std::overflow_error("go::Semaphore::release: count would exceed PTRDIFF_MAX");
    // seq_cst: the Sema's Dekker pair (sema.cpp, step 3); release: for the acquirer.
  } while (!s.count.compare_exchange_weak(c, c + n, std::memory_order_seq_cst));
  s.wake_after_release(n, true);
}

}  // namespace go
