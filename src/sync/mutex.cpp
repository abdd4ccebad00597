// go::Mutex (Go's sync.Mutex, sync/mutex.go, Go 1.9's starvation mode).
//
// The problem: mutual exclusion among fibers, which must park (never block their M) while they
// wait, and plain threads, which must sleep; an uncontended lock/unlock should cost one atomic
// operation each; under contention the Mutex should keep throughput high (the running party
// re-taking a just-released lock is cheap; waking a sleeper and switching to it is not)
// without letting any waiter starve.
//
// The approach is Go's. One atomic 32-bit state word, plus a runtime semaphore (sync/sema.h)
// where waiters sleep:
//   bit 0  kLocked    the Mutex is held
//   bit 1  kWoken     a party woken by unlock (or spinning in lock) is about to try: unlock need
//                     not wake another one
//   bit 2  kStarving  starvation mode
//   bits 3.. waiters  parties that announced they will wait on the semaphore (and have not yet
//                     been woken by a normal-mode unlock)
// Uncontended, lock() is one CAS 0 -> kLocked and unlock() one fetch_sub with a zero result
// (both inline in go/mutex.h). Everything else is here.
//
// Normal mode: waiters queue FIFO, but a woken waiter does not own the Mutex: it competes with
// arriving parties, which have the advantage of already running. A waiter that loses queues
// again at the front. This is what makes the Mutex fast: the running party takes the lock
// several times in a row while the woken one is still getting scheduled.
//
// Starvation mode, as numbered steps:
//  1. A waiter measures how long it has waited since it first queued (now_ns). When it is woken
//     after more than 1 ms (kStarvationNs), it is "starving": its next CAS on the state also
//     sets kStarving if the Mutex is held.
//  2. From then on, unlock does not release the Mutex to competition: it leaves kLocked clear,
//     and releases the semaphore with hand-off (Sema::release(1, true)): the unit goes to the
//     waiter at the queue's front together with its wake-up (Go's "ticket").
//  3. Arriving parties see kStarving: they neither take the seemingly free Mutex nor spin; they
//     add themselves to the waiters and queue at the back.
//  4. The woken waiter owns the Mutex: it sets kLocked and counts itself out of the waiters in
//     one atomic add.
//  5. In that same add it leaves starvation mode (clears kStarving) if it was the last waiter,
//     or if it waited less than 1 ms: the queue is short again, normal mode is faster.
// Hence a waiter's wait is bounded: once any waiter has starved for 1 ms the queue is served in
// order, each party holding the Mutex once per turn.
//
// Spinning: only briefly (kActiveSpin rounds of kSpinPauses pause instructions, as Go) and only
// while it can pay off: the Mutex is held (not starving), the machine has several CPUs, another
// P is running (the holder may be on it), and, for a fiber, its own P has nothing else to run:
// a fiber must never spin while parking would let another fiber run. Plain threads spin under
// the same bound: for them the alternative is a futex sleep.
//
// Unwinding at exit (go::run unwinds fibers left blocked): a waiter that gets FiberUnwind while
// still queued leaves the semaphore (Sema::acquire) and then the state's waiter count
// (leave_queue); if it is then the last waiter of a held, starving Mutex, it also clears
// kStarving (the holder's unlock then finds nobody to hand off to). A waiter that was already
// handed the Mutex (or woken) when it was unwound finishes lock() and unlocks at once, passing
// the Mutex on: so the Mutex stays consistent and usable by later go::run calls.
//
// Rejected alternatives:
//  - std::mutex or a plain futex lock: blocks the M and with it every fiber queued on its P.
//  - Always handing off in FIFO order (a fair lock): every contended unlock then costs a wake-up
//    and a switch before anyone can proceed; Go measured normal mode several times faster and
//    keeps hand-off for the starving case only.
//  - Spinning fibers without looking at their P (or spinning longer): with cooperative fibers a
//    spinning fiber delays every fiber queued behind it, possibly the holder itself.
//  - Go's goyield right after a hand-off in unlock (the woken waiter runs at once): unlock must
//    never throw or park (it runs in destructors; a yield during go::run's exit would throw
//    FiberUnwind). The waiter sits in this P's runnext and runs at our next park, or is stolen.
//  - Go's global semaphore table keyed by address (8-byte Mutex): a hash and a shared bucket
//    lock on every slow path. We embed the semaphore (sizeof(go::Mutex) == 40, std::mutex's).

#include "go/mutex.h"

#include <thread>

#include "sched/scheduler.h"
#include "sched/spinlock.h"
#include "sync/sema.h"

namespace go {

namespace {

using detail::now_ns;

constexpr std::int64_t kStarvationNs = 1'000'000;  // Go's starvationThresholdNs
constexpr int kActiveSpin = 4;                     // Go's active_spin
constexpr int kSpinPauses = 30;                    // Go's active_spin_cnt

void spin() {
  for (int i = 0; i < kSpinPauses; ++i) detail::cpu_relax();
}

// Go's sync_runtime_canSpin: may a party spin in round `iter` instead of going to sleep?
// Any party. Reads scheduler counters lock-free (hints only).
// Belongs in src/sched (a detail::can_spin next to park/ready); it lives here until it moves.
bool can_spin(int iter) {
  static const unsigned ncpu = std::thread::hardware_concurrency();
  if (iter >= kActiveSpin || ncpu <= 1) return false;
  detail::M* m = detail::current_m();
  if (m == nullptr) return true;  // a plain thread: its alternative is a futex sleep
  detail::Runtime* rt = detail::g_runtime.load(std::memory_order_relaxed);
  const int procs = static_cast<int>(rt->ps.size());
  // At least one other P is running (the holder may be there)...
  if (procs <= rt->npidle.load(std::memory_order_relaxed) +
                   rt->nmspinning.load(std::memory_order_relaxed) + 1)
    return false;
  // ... and ours has nothing else to run.
  detail::P* p = m->p;
  return p->queue.empty() && p->runnext.load(std::memory_order_relaxed) == nullptr;
}

}  // namespace

Mutex::~Mutex() {
  detail::wait_unpinned(pins_);
  detail::sema_check_unused(sema_, "go::Mutex");
}

// Any party. The numbered steps at the top of this file.
void Mutex::lock_slow() {
  detail::Sema& sema = detail::sema_of(sema_);
  std::int64_t wait_start = 0;
  bool starving = false;
  bool awoke = false;  // we hold the kWoken role (set it while spinning, or woken by unlock)
  bool blocked = false;
  int iter = 0;
  std::int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while the Mutex is held in normal mode and spinning can pay off. Setting kWoken
    // tells unlock not to wake a sleeper: we are about to take it.
    if ((old & (kLocked | kStarving)) == kLocked && can_spin(iter)) {
      if (!awoke && (old & kWoken) == 0 && (old >> kWaiterShift) != 0 &&
          state_.compare_exchange_strong(old, old | kWoken, std::memory_order_relaxed))
        awoke = true;
      spin();
      ++iter;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    std::int32_t want = old;
    if ((old & kStarving) == 0) want |= kLocked;  // starving: arriving parties must queue (3)
    if ((old & (kLocked | kStarving)) != 0) want += 1 << kWaiterShift;
    if (starving && (old & kLocked) != 0) want |= kStarving;  // step 1
    if (awoke) {
      if ((want & kWoken) == 0) detail::fatal("sync: inconsistent mutex state");
      want &= ~kWoken;  // we either take the Mutex or sleep again: the role is released
    }
    // acq_rel: acquire when this takes the Mutex; release orders our waiter announcement.
    if (!state_.compare_exchange_weak(old, want, std::memory_order_acq_rel,
                                      std::memory_order_relaxed))
      continue;
    if ((old & (kLocked | kStarving)) == 0) break;  // locked it with the CAS
    // Queued parties that already waited go to the front: they keep their place.
    const bool lifo = wait_start != 0;
    if (wait_start == 0) wait_start = now_ns();
    try {
      blocked |= sema.acquire(lifo, "go::Mutex::lock");
    } catch (const detail::FiberUnwind&) {
      leave_queue();
      throw;
    }
    starving = starving || now_ns() - wait_start > kStarvationNs;
    old = state_.load(std::memory_order_relaxed);
    if ((old & kStarving) != 0) {
      // Step 4: the Mutex was handed to us; kLocked is clear and we are still counted.
      if ((old & (kLocked | kWoken)) != 0 || (old >> kWaiterShift) == 0)
        detail::fatal("sync: inconsistent mutex state");
      std::int32_t delta = kLocked - (1 << kWaiterShift);
      if (!starving || (old >> kWaiterShift) == 1) delta -= kStarving;  // step 5
      state_.fetch_add(delta, std::memory_order_acquire);  // the previous holder's unlock
      break;
    }
    // Normal mode: woken by unlock, which counted us out and set kWoken for us. Compete.
    awoke = true;
    iter = 0;
    old = state_.load(std::memory_order_relaxed);
  }
  if (blocked && detail::unwinding_fiber()) {
    // Resumed by go::run's unwinding right after being handed the Mutex: pass it on.
    unlock();
    throw detail::FiberUnwind{};
  }
}

// Any party, when unlock's fast path found waiters or flags (or misuse).
void Mutex::unlock_slow() noexcept {
  detail::Pin pin(pins_);  // from before the release to our last touch (see sync/sema.h)
  // release: publishes the critical section to the next holder.
  const std::int32_t now = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
  if (((now + kLocked) & kLocked) == 0) detail::fatal("sync: unlock of unlocked mutex");
  detail::release_window();
  if (now == 0) return;
  detail::Sema& sema = detail::sema_of(sema_);
  if ((now & kStarving) != 0) {
    sema.release(1, true);  // step 2: hand the Mutex to the front waiter
    return;
  }
  std::int32_t old = now;
  for (;;) {
    // Nobody to wake, or somebody already took the Mutex, is awake, or owns it by hand-off.
    if ((old >> kWaiterShift) == 0 || (old & (kLocked | kWoken | kStarving)) != 0) return;
    // Count one waiter out and give it the kWoken role, then wake it.
    if (state_.compare_exchange_weak(old, (old - (1 << kWaiterShift)) | kWoken,
                                     std::memory_order_relaxed)) {
      sema.release(1, false);
      return;
    }
  }
}

// A waiter unwound while still queued (the semaphore already dropped it) leaves the count.
void Mutex::leave_queue() noexcept {
  std::int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    std::int32_t want = old - (1 << kWaiterShift);
    // The last waiter of a held, starving Mutex: nobody is left to hand it to.
    if ((want >> kWaiterShift) == 0 && (want & (kLocked | kStarving)) == (kLocked | kStarving))
      want &= ~kStarving;
    if (state_.compare_exchange_weak(old, want, std::memory_order_relaxed)) return;
  }
}

}  // namespace go
