// Sema: the runtime semaphore (Go's runtime/sema.go) that every primitive of go/sync.h waits
// on: a count of units and a FIFO of the parties (fibers or plain threads) waiting for one,
// under a SpinLock. The protocol and its rejected alternatives are at the top of sema.cpp.
//
// Two ways to use it:
//  - As a counting semaphore (Mutex, RWMutex, Semaphore): acquire / try_acquire / release.
//  - As a parking lot for a primitive whose wait condition is its own state (WaitGroup,
//    CondVar): the caller takes `lock`, checks its state, and if it must wait enqueues a Waiter
//    in `queue` and calls wait_queued() (which blocks, with an optional deadline). Wakers take
//    `lock`, pop Waiters, unlock, wake() them. `count` is unused then.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <new>
#include <type_traits>

#include "go/semaphore.h"
#include "sched/spinlock.h"
#include "sync/waiter.h"

namespace go::detail {

// An aggregate with trivially destructible members: it lives in a SemaSlot (public headers
// cannot name SpinLock or WaitQueue) and never needs a destructor.
struct Sema {
  // Units available; never negative. Taken by CAS (try_acquire), returned by release().
  std::atomic<std::int64_t> count{0};
  // Parties in `queue`. Written under `lock`; read without it by release() and the notify fast
  // paths, which may skip the lock when it is 0 (see the Dekker pair in sema.cpp).
  std::atomic<std::uint32_t> nwait{0};
  SpinLock lock;    // guards queue, and the writes of nwait
  WaitQueue queue;  // guarded by lock: the waiting parties, first come first served

  // --- Counting semaphore. Any party (fiber or plain thread).

  // Takes a unit if one is available. Never waits.
  bool try_acquire() noexcept {
    std::int64_t c = count.load(std::memory_order_seq_cst);  // seq_cst: the Dekker pair
    while (c > 0)
      // acquire: the caller synchronizes with the release() that made the unit available.
      if (count.compare_exchange_weak(c, c - 1, std::memory_order_seq_cst)) return true;
    return false;
  }

  // Takes a unit, waiting for one in the queue (at its front if `lifo`: a party that already
  // waited once, Go's Mutex). Returns true if it had to block. `reason` shows in dump_fibers.
  //
  // FiberUnwind (go::run unwinding this fiber at exit): if the party had not been given a unit
  // yet, it leaves the queue and FiberUnwind propagates: the semaphore is as if it never came.
  // If a release() had already dequeued it, acquire() carries on and returns normally holding
  // a unit. Callers that would return to user code check unwinding_fiber() after a blocking
  // acquire, give back what they took, and throw FiberUnwind themselves.
  bool acquire(bool lifo, const char* reason);

  // Adds n units and wakes up to n queued parties. handoff == false (Go's semrelease): a woken
  // party competes for a unit with newcomers (it may lose and queue again). handoff == true: a
  // party is dequeued only together with a unit taken for it (Waiter::success), so the queue is
  // served strictly in order while it is non-empty. Any thread; never blocks; never throws.
  void release(std::int64_t n, bool handoff) noexcept;
  // The second half of release(), for callers that raised `count` by n themselves (Semaphore,
  // which checks for overflow with its own CAS). The raise must be seq_cst.
  void wake_after_release(std::int64_t n, bool handoff) noexcept;

  // --- Parking lot. Caller holds `lock` and has enqueued `w` (bound to the caller) in `queue`
  // and counted it in nwait.

  // Blocks until a waker popped w (pop_locked) and woke it (returns true), or until
  // `deadline` (now_ns clock; kNoDeadline: none) passed first: then w is removed and counted
  // out of nwait, and it returns false. Exactly one of the two happens. Releases `lock` once
  // the party is blocked. On FiberUnwind, w is removed if still queued, then it propagates.
  // Uses w.select for the timeout's claim: w must not be a select case.
  bool wait_queued(Waiter& w, std::int64_t deadline, const char* reason);

  // Caller holds `lock`. Removes w if it is still queued; returns whether it was.
  bool remove_locked(Waiter& w) noexcept {
    if (!queue.contains(&w)) return false;
    queue.remove(&w);
    nwait.fetch_sub(1, std::memory_order_relaxed);  // under lock
    return true;
  }

  // Caller holds `lock`. Pops the longest waiting party that may be woken (a timed waiter
  // whose deadline won its claim is dropped: it removes itself) and marks it woken by a
  // waker (Waiter::success); nullptr if none. The caller wakes it after unlocking.
  Waiter* pop_locked() noexcept;
  // Caller holds `lock`. Pops every party as pop_locked does, in queue order, linked through
  // Waiter::next for wake_list() once the caller has unlocked; nullptr if none.
  Waiter* pop_all_locked() noexcept;
};

static_assert(sizeof(Sema) <= sizeof(SemaSlot) && alignof(Sema) <= alignof(SemaSlot),
              "go::detail::SemaSlot (include/go/semaphore.h) is too small for Sema");
static_assert(std::is_trivially_destructible_v<Sema>);

inline Sema& sema_of(SemaSlot& slot) noexcept {
  return *std::launder(static_cast<Sema*>(slot.raw()));
}

// Destruction safety. C++ lets a party destroy a mutex as soon as it could lock it, even
// while the party that unlocked it is still inside unlock() (the reference-counted object
// that holds its own mutex). Go's algorithms keep touching the primitive after their release
// point (unlock's fetch_sub, the last done(), Once's done flag): such a slow path holds a Pin
// on the primitive from before its release point to its last touch, and the destructor waits
// until no Pin is held (wait_unpinned). Fast paths whose release is their last touch need none.
class Pin {
 public:
  explicit Pin(std::atomic<std::uint32_t>& pins) noexcept : pins_(pins) {
    // relaxed: sequenced before our release operation, which a destroyer must have observed
    // (acquire) before it looks at pins: so it sees this increment.
    pins_.fetch_add(1, std::memory_order_relaxed);
  }
  ~Pin() {
    pins_.fetch_sub(1, std::memory_order_release);  // our last touch of the primitive
  }
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;

 private:
  std::atomic<std::uint32_t>& pins_;
};

// Test hook, nullptr in production: called by the pinned slow paths right after their release
// point, where a destroyer may step in. Tests set it to a short sleep to widen that window.
extern std::atomic<void (*)()> g_release_window_hook;
inline void release_window() noexcept {
  if (auto* hook = g_release_window_hook.load(std::memory_order_relaxed)) hook();
}

// Waits (yielding the thread: a pinned slow path never parks, it is a few instructions from
// done) until no Pin is held. Called by destructors. Any thread.
void wait_unpinned(const std::atomic<std::uint32_t>& pins) noexcept;

// Fatal error if parties still wait on s: the object `what` is being destroyed under them
// (their Waiters would be left in freed memory). Any thread.
void sema_check_unused(SemaSlot& s, const char* what) noexcept;

// Wakes every Waiter of a list linked through Waiter::next (built under the lock, woken after
// it was released). Reads each link before waking: a woken Waiter may vanish at once.
void wake_list(Waiter* first) noexcept;

}  // namespace go::detail
