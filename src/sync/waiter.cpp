#include "sync/waiter.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <vector>

namespace go::detail {
namespace {

struct Locks {
  SpinLock* const* locks;
  std::size_t n;
};

void futex_wait_until_woken(Waiter& w) {
  while (w.woken.load(std::memory_order_acquire) == 0)
    syscall(SYS_futex, &w.woken, FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr, 0);
}

}  // namespace

void block(Waiter& w, SpinLock& lock, const char* reason) {
  SpinLock* one = &lock;
  block_all(w, &one, 1, reason);
}

void block_all(Waiter& w, SpinLock* const* locks, std::size_t n, const char* reason) {
  if (w.g != nullptr) {
    if (unwinding_fiber()) {
      // go::run is unwinding this fiber: do not park, and do not leave the locks held.
      for (std::size_t i = n; i-- > 0;) locks[i]->unlock();
      throw FiberUnwind{};
    }
    Locks l{locks, n};
    // The locks are released on the landing side of the switch: wakers find w only after the
    // fiber is parked.
    park(
        [](G*, void* arg) {
          // Copy first: once the first lock is released a waker may resume the fiber, and its
          // frame (holding `l` and, usually, the lock array) may be gone before we are done.
          auto* l = static_cast<Locks*>(arg);
          const std::size_t count = l->n;
          SpinLock* small[16];
          std::vector<SpinLock*> big;
          SpinLock** copy = small;
          if (count > std::size(small)) {
            big.assign(l->locks, l->locks + count);
            copy = big.data();
          } else {
            std::copy(l->locks, l->locks + count, small);
          }
          for (std::size_t i = count; i-- > 0;) copy[i]->unlock();
          return true;
        },
        &l, reason);
    return;
  }
  for (std::size_t i = n; i-- > 0;) locks[i]->unlock();
  futex_wait_until_woken(w);
}

void wake(Waiter& w) {
  if (G* g = w.g) {
    ready(g);
    return;
  }
  // After this store the waiter may return and its stack frame (w) may be reused: the futex
  // wake on that address is harmless (at worst a spurious wake-up of a later waiter, which
  // re-checks its word).
  w.woken.store(1, std::memory_order_release);
  syscall(SYS_futex, &w.woken, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace go::detail
