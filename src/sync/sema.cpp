// The runtime semaphore (Go's runtime/sema.go) under every primitive of go/sync.h.
//
// The problem: Mutex, RWMutex, Semaphore, WaitGroup and CondVar all need "wait until something
// happens" for fibers (park: the P runs other fibers) and plain threads (sleep in the kernel),
// in any mix, without lost or doubled wake-ups, without allocating, FIFO by default, and with
// a way out for fibers that go::run unwinds at exit.
//
// The approach: a Sema is a count of units plus a FIFO of Waiters (sync/waiter.h) under a
// SpinLock, embedded in the primitive (go/semaphore.h's SemaSlot holds it). Counting use:
//  1. acquire: take a unit by CAS if count > 0 (no lock). Otherwise lock, nwait++, try the CAS
//     once more (a release may have come in between), else enqueue the Waiter (front if lifo)
//     and block(): the lock is released only once the party is blocked.
//  2. release: count += n, then read nwait; if it is 0 nobody waits and we are done (no lock).
//     Otherwise lock and dequeue up to n Waiters, unlock, wake them.
//  3. Why steps 1 and 2 lose no wake-up (Go's argument): the waiter writes nwait then reads
//     count; the releaser writes count then reads nwait; all four are seq_cst, so at least one
//     of them sees the other: either the waiter's CAS finds the unit, or the releaser finds
//     nwait > 0 and takes the lock, which it gets only after the waiter is queued and blocked.
//  4. A woken party (handoff == false) tries the CAS again: it may lose to a newcomer and queue
//     again (at the front if lifo). With handoff == true the releaser takes the unit for the
//     party it dequeues (Waiter::success, Go's ticket), and dequeues nobody once the units are
//     gone: a queued party is never overtaken once the releaser holds the lock.
// Parking-lot use (WaitGroup, CondVar): the primitive keeps its own state, checks it under
// `lock`, enqueues and calls wait_queued(); wakers pop under the lock and wake after unlocking.
//
// Timed waits (CondVar::wait_for): exactly one of "a waker" and "the deadline" must win. The
// Waiter gets a claim (Waiter::select -> a SelectState, as for a select case): a waker that
// pops it must win the claim CAS to wake it (pop_locked skips it otherwise); the timeout must
// win it too. Fibers: a runtime timer, armed from park's unlock callback (so it cannot fire
// before the fiber is parked), whose callback only does the CAS and wake(): it must not take
// `lock`, because a fiber parking on this Sema holds `lock` while its switch_away() runs due
// timers on the same thread (a self-deadlock). The woken party then removes its own Waiter if
// it is still queued. Plain threads: a futex wait with a deadline on Waiter::woken, then the
// same claim CAS.
//
// Rejected alternatives:
//  - Go's global semaphore table (a hash of the address to one of 251 buckets, each a treap):
//    keeps sync.Mutex at 8 bytes, but costs a hash and a shared bucket lock on every slow path,
//    and a treap to keep waiters of different addresses apart. Embedding costs 32 bytes.
//  - A futex per primitive for threads and a separate queue for fibers: two protocols to keep
//    consistent for a mixed crowd; Waiter already blocks both kinds.
//  - std::mutex + std::condition_variable inside: blocks the M; and a lock released by park's
//    callback on another context confuses TSan (see sched/spinlock.h).
//  - Taking `lock` in the timer callback (as select's tlock does): see above.

#include "sync/sema.h"

#include <time.h>

#include <cstdio>
#include <thread>

namespace go::detail {

SemaSlot::SemaSlot() noexcept {
  ::new (static_cast<void*>(bytes_)) Sema();
}

namespace {

// A fiber's timed wait: the claim its Waiter points to, and the timer that may win it.
struct TimedWait {
  SelectState claim;  // won by a waker (pop_locked) or by the timer
  Timer timer;
  Waiter* w = nullptr;
  SpinLock* lock = nullptr;  // the Sema's, released by the park callback after arming
  bool armed = false;        // written by the park callback: the timer was added
  // The timer callback has returned, or will never run: it no longer touches this object.
  std::atomic<bool> quiet{false};
};

// Timer callback (a scheduler context; never blocks, takes no lock: see the top of the file).
void timed_wait_fire(Timer*, void* arg) {
  auto* tw = static_cast<TimedWait*>(arg);
  bool expected = false;
  if (tw->claim.done.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
    wake(*tw->w);                                    // w.success stays false: the deadline won
  tw->quiet.store(true, std::memory_order_release);  // our last touch of *tw
}

void timed_wait_cancel(Timer*, void* arg) {
  // go::run ended with the timer armed: it will never fire.
  static_cast<TimedWait*>(arg)->quiet.store(true, std::memory_order_release);
}

// Park callback (on the landing side of the switch: the fiber is parked): arm, then unlock.
// In this order the callback can only fire on another M, which waits for `lock` at most until
// our next statement; and a waker can only see the Waiter once the timer is armed.
bool arm_and_unlock(G*, void* arg) {
  auto* tw = static_cast<TimedWait*>(arg);
  tw->armed = true;
  add_timer(&tw->timer);
  tw->lock->unlock();
  return true;
}

// After the fiber's timed wait ended: makes sure the timer callback no longer runs.
void stop_timer(TimedWait& tw) {
  if (!tw.armed) return;
  if (del_timer(&tw.timer)) return;
  // Firing on another M right now (a few instructions, no lock), or done, or cancelled.
  while (!tw.quiet.load(std::memory_order_acquire)) std::this_thread::yield();
}

}  // namespace

// Any party. Steps 1, 3 and 4 at the top of this file.
bool Sema::acquire(bool lifo, const char* reason) {
  if (try_acquire()) return false;
  Waiter w;
  w.bind_to_current();
  lock.lock();
  for (;;) {
    nwait.fetch_add(1, std::memory_order_seq_cst);  // the Dekker pair: see step 3
    if (try_acquire()) {
      nwait.fetch_sub(1, std::memory_order_relaxed);
      lock.unlock();
      return false;
    }
    w.success = false;
    w.woken.store(0, std::memory_order_relaxed);  // a plain thread may wait more than once
    if (lifo)
      queue.push_front(&w);
    else
      queue.push_back(&w);
    try {
      block(w, lock, reason);
    } catch (const FiberUnwind&) {
      lock.lock();
      const bool queued = remove_locked(w);
      lock.unlock();
      if (queued) throw;  // as if we never came
      // A release() dequeued us just before go::run unwound us: carry on as if woken (we may
      // hold a unit); our caller sees unwinding_fiber() and backs out. If we must queue
      // again, block() throws at once and we leave through the branch above.
    }
    if (w.success) return true;  // handed off: the unit is ours
    if (try_acquire()) return true;
    lock.lock();  // overtaken by a newcomer: queue again
  }
}

// Any thread. Step 2: count was raised by n just before.
void Sema::release(std::int64_t n, bool handoff) noexcept {
  count.fetch_add(n, std::memory_order_seq_cst);  // the Dekker pair: see step 3
  wake_after_release(n, handoff);
}

void Sema::wake_after_release(std::int64_t n, bool handoff) noexcept {
  release_window();  // the units are visible: an acquirer may proceed (callers hold a Pin)
  if (nwait.load(std::memory_order_seq_cst) == 0) return;
  Waiter* first = nullptr;
  Waiter* last = nullptr;
  lock.lock();
  for (std::int64_t i = 0; i < n; ++i) {
    Waiter* w = queue.front();
    if (w == nullptr) break;
    if (handoff) {
      if (!try_acquire()) break;  // newcomers took the units: leave the queue as it is
      w->success = true;          // the unit is taken for w
    }
    queue.pop_front();
    nwait.fetch_sub(1, std::memory_order_relaxed);  // under lock
    w->next = nullptr;  // w is ours now (dequeued): its link serves the wake list
    if (last != nullptr)
      last->next = w;
    else
      first = w;
    last = w;
  }
  lock.unlock();
  wake_list(first);
}

// Caller holds lock; returns with it released. See "Timed waits" at the top of this file.
bool Sema::wait_queued(Waiter& w, std::int64_t deadline, const char* reason) {
  w.success = false;
  if (deadline == kNoDeadline) {
    try {
      block(w, lock, reason);
    } catch (const FiberUnwind&) {
      lock.lock();
      remove_locked(w);
      lock.unlock();
      throw;
    }
    return true;
  }
  if (deadline <= now_ns()) {  // already due: no need to sleep
    remove_locked(w);
    lock.unlock();
    return false;
  }
  if (w.g == nullptr) {
    SelectState claim;
    w.select = &claim;
    lock.unlock();  // the futex word makes this safe at once
    if (!thread_wait(w, deadline)) {
      bool expected = false;
      if (claim.done.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
        lock.lock();
        remove_locked(w);  // nobody can dequeue and wake it any more
        lock.unlock();
        w.select = nullptr;
        return false;
      }
      thread_wait(w, kNoDeadline);  // a waker won the claim: its wake is on the way
    }
    w.select = nullptr;
    return true;
  }
  TimedWait tw;
  tw.w = &w;
  tw.lock = &lock;
  tw.timer.when = deadline;
  tw.timer.fire = &timed_wait_fire;
  tw.timer.cancel = &timed_wait_cancel;
  tw.timer.arg = &tw;
  w.select = &tw.claim;
  auto leave = [&] {
    lock.lock();
    remove_locked(w);  // still queued if the timer won (or we are being unwound)
    lock.unlock();
    stop_timer(tw);
    w.select = nullptr;
  };
  try {
    if (unwinding_fiber()) {  // as block() does: do not park, do not keep the lock
      lock.unlock();
      throw FiberUnwind{};
    }
    park(&arm_and_unlock, &tw, reason);
  } catch (const FiberUnwind&) {
    leave();
    throw;
  }
  leave();
  return w.success;  // set by the waker that won the claim; false: the deadline won
}

// Caller holds lock.
Waiter* Sema::pop_all_locked() noexcept {
  Waiter* first = nullptr;
  Waiter* last = nullptr;
  while (Waiter* w = pop_locked()) {
    w->next = nullptr;  // dequeued: its link serves the wake list
    if (last != nullptr)
      last->next = w;
    else
      first = w;
    last = w;
  }
  return first;
}

Waiter* Sema::pop_locked() noexcept {
  while (Waiter* w = queue.pop_front()) {
    nwait.fetch_sub(1, std::memory_order_relaxed);  // under lock
    if (!w->claim()) continue;  // its deadline won: the party removes itself, or we just did
    w->success = true;
    return w;
  }
  return nullptr;
}

void wake_list(Waiter* first) noexcept {
  while (first != nullptr) {
    Waiter* next = first->next;  // read before the wake: the Waiter may vanish right after
    wake(*first);
    first = next;
  }
}

std::atomic<void (*)()> g_release_window_hook{nullptr};

void wait_unpinned(const std::atomic<std::uint32_t>& pins) noexcept {
  while (pins.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

void sema_check_unused(SemaSlot& slot, const char* what) noexcept {
  Sema& s = sema_of(slot);
  s.lock.lock();
  const bool busy = !s.queue.empty();
  s.lock.unlock();
  if (!busy) return;
  char msg[400];
  std::snprintf(msg, sizeof msg,
                "%s destroyed while fibers or threads wait on it (it must outlive every party "
                "that uses it; one local to go::run's main function dies when main returns, "
                "before go::run unwinds the fibers still waiting on it)",
                what);
  fatal(msg);
}

}  // namespace go::detail
