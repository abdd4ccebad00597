// go::CondVar: a condition variable for go::Mutex (Go's sync.Cond with its notifyList, plus
// std::condition_variable's timed waits).
//
// The problem: wait() must release the Mutex and go to sleep as one step as far as notifiers
// can tell (a notify after the release must find the waiter), notify_one() must wake the party
// that has waited longest, and a timed wait must end by exactly one of "notified" and "timed
// out", so that no notify_one() is swallowed by a party that is leaving anyway.
//
// The approach: a runtime semaphore (sync/sema.h) used as a parking lot, its queue in arrival
// order:
//  1. wait(): lock the queue, enqueue our Waiter, then unlock the Mutex, then block (the queue
//     lock is released only once we are blocked). A notifier that locked the Mutex after us
//     therefore finds us queued; one that comes before we are parked waits for the queue lock.
//  2. notify_one(): lock the queue, pop the first Waiter that a waker may still claim
//     (Sema::pop_locked skips a party whose deadline won), unlock, wake it. notify_all(): the
//     same for all of them. When nobody is queued (nwait == 0) neither takes the lock.
//  3. A timed wait is Sema::wait_queued with a deadline: the notifier and the deadline race for
//     a claim on the Waiter; the loser does nothing. A party whose deadline won removes itself.
//  4. Woken (or timed out), wait() locks the Mutex again.
// Lock order: the queue lock, then the Mutex's own semaphore lock (taken by unlock in step 1
// when it wakes a party blocked on the Mutex); nothing takes them the other way round.
//
// Rejected alternatives:
//  - Go's notifyList tickets (wait takes a ticket without the lock, unlocks the user's Locker,
//    then enqueues; notify_one serves the lowest ticket). Go needs them because its Locker is
//    arbitrary code that may block, so it cannot be unlocked under the list lock. Ours is a
//    go::Mutex, whose unlock never blocks, so enqueueing first gives the same guarantees (FIFO,
//    no lost wake-up between unlock and park) more simply, and a timed-out party just leaves
//    the queue: with tickets it would leave a hole that a later notify_one spends on nobody
//    (a lost wake-up) unless that call also woke the next ticket (a spurious one).
//  - A notify counter (a generation) compared by waiters: wakes everyone to find one.
//  - std::condition_variable_any: blocks the M.

#include "go/cond_var.h"

#include <exception>

#include "sched/scheduler.h"
#include "sync/sema.h"

namespace go {

namespace {

// Locks the Mutex again if the wait is left by an exception (a fiber unwound at exit): while it
// propagates, a park is a real one and cannot throw again.
class RelockOnUnwind {
 public:
  explicit RelockOnUnwind(std::unique_lock<Mutex>& lock)
      : lock_(lock), exceptions_(std::uncaught_exceptions()) {}
  ~RelockOnUnwind() {
    if (armed && std::uncaught_exceptions() > exceptions_) lock_.lock();
  }
  RelockOnUnwind(const RelockOnUnwind&) = delete;
  RelockOnUnwind& operator=(const RelockOnUnwind&) = delete;
  bool armed = true;

 private:
  std::unique_lock<Mutex>& lock_;
  int exceptions_;
};

}  // namespace

CondVar::~CondVar() {
  detail::sema_check_unused(sema_, "go::CondVar");
}

// Any party; the caller holds lock. Steps 1, 3 and 4.
std::cv_status CondVar::wait_until_ns(std::unique_lock<Mutex>& lock, std::int64_t deadline) {
  if (!lock.owns_lock())
    detail::fatal("go::CondVar::wait: the unique_lock does not hold its Mutex");
  detail::Sema& s = detail::sema_of(sema_);
  detail::Waiter w;
  w.bind_to_current();
  s.lock.lock();
  s.queue.push_back(&w);
  s.nwait.fetch_add(1, std::memory_order_relaxed);  // under s.lock
  lock.unlock();  // go::Mutex::unlock never blocks (lock order: s.lock, then the Mutex's)
  RelockOnUnwind relock(lock);
  const bool notified = s.wait_queued(w, deadline, "go::CondVar::wait");
  relock.armed = false;
  lock.lock();
  return notified ? std::cv_status::no_timeout : std::cv_status::timeout;
}

// Any thread. Step 2.
void CondVar::notify_one() noexcept {
  detail::Sema& s = detail::sema_of(sema_);
  // relaxed: a waiter counted itself before unlocking the Mutex; a notifier that needs to see
  // it has locked that Mutex since (or must not rely on it, as with std::condition_variable).
  if (s.nwait.load(std::memory_order_relaxed) == 0) return;
  s.lock.lock();
  detail::Waiter* w = s.pop_locked();
  s.lock.unlock();
  if (w != nullptr) detail::wake(*w);
}

// Any thread. Step 2.
void CondVar::notify_all() noexcept {
  detail::Sema& s = detail::sema_of(sema_);
  if (s.nwait.load(std::memory_order_relaxed) == 0) return;  // as in notify_one
  s.lock.lock();
  detail::Waiter* first = s.pop_all_locked();
  s.lock.unlock();
  detail::wake_list(first);
}

}  // namespace go
