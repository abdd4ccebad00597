#include "sync/waiter.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
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

}  // namespace

bool thread_wait(Waiter& w, std::int64_t deadline) {
  while (w.woken.load(std::memory_order_acquire) == 0) {
    timespec ts;
    timespec* timeout = nullptr;
    if (deadline != kNoDeadline) {
      const std::int64_t left = deadline - now_ns();
      if (left <= 0) return false;
      ts.tv_sec = static_cast<time_t>(left / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(left % 1'000'000'000);
      timeout = &ts;
    }
    syscall(SYS_futex, &w.woken, FUTEX_WAIT_PRIVATE, 0, timeout, nullptr, 0);
  }
  return true;
}

void block(Waiter& w, SpinLock& lock, const char* reason) {
  // unusual: go::run may be unwinding (block_all deals with it); set once, never cleared.
  if (w.g == nullptr ||
      g_runtime.load(std::memory_order_relaxed)->unusual.load(std::memory_order_relaxed)) {
    SpinLock* one = &lock;
    block_all(w, &one, 1, reason);
    return;
  }
  // The common case (one channel or semaphore), without block_all's copying of the lock list.
  park(
      [](G*, void* arg) {
        static_cast<SpinLock*>(arg)->unlock();
        return true;
      },
      &lock, reason);
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
  thread_wait(w);
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
