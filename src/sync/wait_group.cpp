// go::WaitGroup (Go's sync.WaitGroup): wait until a counter of unfinished tasks is zero.
//
// The problem: add()/done() are hot (one per task, from many Ps at once) and must not take a
// lock; wait() must park fibers / block threads until the counter is zero, several parties may
// wait at once, no wake-up may be lost between "counter is not zero" and "I am asleep", and the
// WaitGroup must be reusable round after round.
//
// The approach: one 64-bit atomic word holds the counter (high half) and the number of waiting
// parties (low half), as in Go, plus a runtime semaphore (sync/sema.h) used as a parking lot:
//  1. add(n) CASes the counter. While the result is not zero, or nobody waits, that is all
//     (no lock): the common case for done().
//  2. wait() returns at once on a zero counter. Otherwise, under the semaphore's lock, it
//     counts itself in the low half by CAS (only while the counter is not zero), enqueues its
//     Waiter and blocks (the lock is released once it is blocked).
//  3. add(n) that brings the counter to zero while parties wait takes the lock, then CASes the
//     whole word to zero, pops every queued Waiter (exactly the parties counted: they count
//     themselves and enqueue under this same lock), unlocks, and wakes them.
// Why nothing is lost: a waiter counts itself only under the lock with a CAS that sees a
// non-zero counter; the counter can reach zero while parties are counted only in step 3, also
// under the lock. So a counted party is queued, and step 3 finds it. Why reuse is safe: the
// parties released in step 3 are dequeued there; a wait() of the next round counts itself anew.
//
// Lifetime: a party may destroy the WaitGroup as soon as its wait() returned and it knows every
// other waiter returned too (C++ allows this for std::latch-like objects). The last add()
// touches the WaitGroup after its zeroing CAS only while waiters are queued, and its last touch
// (unlocking the queue) comes before it wakes them: before any of them can return. So unlike
// Mutex, it needs no Pin (sync/sema.h).
//
// Unwinding at exit: a fiber unwound while still queued removes its Waiter and uncounts itself
// under the lock (no step 3 can have run for it: it would have dequeued it). One already
// released has nothing to undo.
//
// Rejected alternatives:
//  - Go's design (the last done() resets the word and releases the semaphore once per waiter):
//    the released units are not tied to a round, so a fiber that leaves early (unwinding) would
//    leave a unit behind for a waiter of the next round, which would then return too soon.
//    Counting waiters under the lock costs nothing in add()'s fast path.
//  - A counter plus a CondVar: a lock on every done().

#include "go/wait_group.h"

#include <cstdint>
#include <limits>
#include <stdexcept>

#include "sync/sema.h"

namespace go {

namespace {

std::int32_t counter_of(std::uint64_t s) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(s >> 32));
}
std::uint32_t waiters_of(std::uint64_t s) {
  return static_cast<std::uint32_t>(s);
}
std::uint64_t pack(std::int64_t counter, std::uint32_t waiters) {
  return (std::uint64_t{static_cast<std::uint32_t>(counter)} << 32) | waiters;
}

// The new counter for `s` after add(n); throws if it leaves [0, INT32_MAX].
std::int64_t added(std::uint64_t s, int n) {
  const std::int64_t c = std::int64_t{counter_of(s)} + n;
  if (c < 0) throw std::logic_error("sync: negative WaitGroup counter");
  if (c > std::numeric_limits<std::int32_t>::max())
    throw std::overflow_error("sync: WaitGroup counter overflow");
  return c;
}

}  // namespace

WaitGroup::~WaitGroup() {
  detail::sema_check_unused(sema_, "go::WaitGroup");
}

// Any thread. Steps 1 and 3 at the top of this file.
void WaitGroup::add(int n) {
  std::uint64_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    const std::int64_t c = added(s, n);
    if (c == 0 && waiters_of(s) != 0) break;  // step 3
    // acq_rel: each done() publishes its task's work; the chain of RMWs carries it all to
    // whoever sees the zero (the waker, or wait()'s acquire load).
    if (state_.compare_exchange_weak(s, pack(c, waiters_of(s)), std::memory_order_acq_rel,
                                     std::memory_order_relaxed))
      return;
  }
  detail::Sema& sema = detail::sema_of(sema_);
  sema.lock.lock();
  s = state_.load(std::memory_order_relaxed);
  for (;;) {
    std::int64_t c;
    try {
      c = added(s, n);
    } catch (...) {
      sema.lock.unlock();
      throw;
    }
    if (c == 0 && waiters_of(s) != 0) {
      if (state_.compare_exchange_weak(s, 0, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
        detail::release_window();  // a wait() may see zero and return now (see Lifetime)
        break;
      }
    } else if (state_.compare_exchange_weak(s, pack(c, waiters_of(s)), std::memory_order_acq_rel,
                                            std::memory_order_relaxed)) {
      sema.lock.unlock();  // the counter moved meanwhile: nothing to release after all
      return;
    }
  }
  detail::Waiter* first = sema.pop_all_locked();
  sema.lock.unlock();
  detail::wake_list(first);
}

// Any party. Step 2 at the top of this file.
void WaitGroup::wait() {
  // acquire: the tasks' work happens before our return.
  std::uint64_t s = state_.load(std::memory_order_acquire);
  if (counter_of(s) == 0) return;
  detail::Sema& sema = detail::sema_of(sema_);
  detail::Waiter w;
  w.bind_to_current();
  sema.lock.lock();
  s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (counter_of(s) == 0) {
      sema.lock.unlock();
      return;
    }
    if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                     std::memory_order_acquire))
      break;
  }
  sema.queue.push_back(&w);
  sema.nwait.fetch_add(1, std::memory_order_relaxed);  // under lock
  try {
    detail::block(w, sema.lock, "go::WaitGroup::wait");
  } catch (const detail::FiberUnwind&) {
    sema.lock.lock();
    if (sema.remove_locked(w))
      state_.fetch_sub(1, std::memory_order_relaxed);  // uncount us: still queued, so counted
    sema.lock.unlock();
    throw;
  }
  // Released by step 3: its acq_rel CAS and the wake order the tasks' work before us.
}

}  // namespace go
