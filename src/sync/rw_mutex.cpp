// go::RWMutex (Go's sync.RWMutex, sync/rwmutex.go): many readers or one writer, and writers
// are not starved by a stream of readers.
//
// The approach is Go's: a go::Mutex `w_` serialises writers; reader_count_ counts readers, and
// a writer announces itself by subtracting kMaxReaders from it, which makes it negative:
//  1. lock_shared(): reader_count_ += 1. Non-negative: no writer, done (one atomic add).
//     Negative: a writer is pending or active; wait on reader_sem_.
//  2. unlock_shared(): reader_count_ -= 1. Non-negative: done. Negative: a writer is pending;
//     if we were among the readers it waits for, reader_wait_ -= 1, and the last of them
//     releases writer_sem_.
//  3. lock(): take w_ (one writer at a time), then reader_count_ -= kMaxReaders: from now on
//     new readers wait (step 1), which is what keeps writers from starving. The old value is
//     the number r of readers inside; reader_wait_ += r; if readers remain, wait on
//     writer_sem_ until the last one leaves (step 2).
//  4. unlock(): reader_count_ += kMaxReaders; the result is the number of readers that queued
//     meanwhile: release reader_sem_ that many times, then unlock w_.
// The sign of reader_count_ is the "writer pending" flag, its magnitude the reader count, in
// one word: readers pay one atomic add each way while no writer is around.
//
// Unwinding at exit (go::run unwinds fibers left blocked):
//  - A writer waiting on w_: go::Mutex leaves its queue cleanly.
//  - A reader waiting on reader_sem_, or a writer waiting on writer_sem_ for the readers to
//    leave, has already announced itself in reader_count_ / reader_wait_; leaving cleanly would
//    need to know whether the releasing side already counted it, which these counters cannot
//    tell. So it finishes instead: while FiberUnwind propagates, it waits for real (a park
//    during unwinding is a real park, resumed only by a wake-up) and then unlocks at once.
//    The writer (readers) it waits for are unwound too and release it; one that holds the
//    lock forever keeps it parked, and go::run reports that fiber as not unwound.
//  - One that was already woken with its unit when unwound takes the lock and unlocks at once.
//
// Rejected alternatives:
//  - A reader-preferring lock (a reader count and a writer flag): writers starve.
//  - A fair queue of readers and writers in arrival order: every reader pays the queue lock.
//  - std::shared_mutex: blocks the M.

#include "go/rw_mutex.h"

#include <exception>

#include "sched/scheduler.h"
#include "sync/sema.h"

namespace go {

namespace {

// Runs `finish` if the scope is left by an exception (and the guard is still armed).
template <class F>
class FinishOnUnwind {
 public:
  explicit FinishOnUnwind(F f) : f_(f), exceptions_(std::uncaught_exceptions()) {}
  ~FinishOnUnwind() {
    // A FiberUnwind propagating: parks in here are real parks (see the top of this file).
    if (armed && std::uncaught_exceptions() > exceptions_) f_();
  }
  FinishOnUnwind(const FinishOnUnwind&) = delete;
  FinishOnUnwind& operator=(const FinishOnUnwind&) = delete;
  bool armed = true;

 private:
  F f_;
  int exceptions_;
};

}  // namespace

RWMutex::~RWMutex() {
  detail::wait_unpinned(pins_);
  detail::sema_check_unused(writer_sem_, "go::RWMutex");
  detail::sema_check_unused(reader_sem_, "go::RWMutex");
}

// Any party. Step 3.
void RWMutex::lock() {
  w_.lock();
  // The old value: the readers inside. acq_rel: the reads of readers that left before us are
  // ordered before our writes.
  const std::int32_t r = reader_count_.fetch_add(-kMaxReaders, std::memory_order_acq_rel);
  if (r == 0 || reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r == 0) return;
  detail::Sema& sem = detail::sema_of(writer_sem_);
  FinishOnUnwind finish([this, &sem] {
    sem.acquire(false, "go::RWMutex::lock (unwinding)");
    unlock();
  });
  const bool blocked = sem.acquire(false, "go::RWMutex::lock");
  finish.armed = false;
  if (blocked && detail::unwinding_fiber()) {
    unlock();
    throw detail::FiberUnwind{};
  }
}

// Any party.
bool RWMutex::try_lock() noexcept {
  if (!w_.try_lock()) return false;
  std::int32_t no_readers = 0;
  if (!reader_count_.compare_exchange_strong(no_readers, -kMaxReaders, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
    w_.unlock();
    return false;
  }
  return true;
}

// Any party. Step 4.
void RWMutex::unlock() noexcept {
  detail::Pin pin(pins_);  // readers may get in (and destroy us) before w_ is unlocked
  // release: the readers let in below (and later ones) see what we wrote.
  const std::int32_t r =
      reader_count_.fetch_add(kMaxReaders, std::memory_order_release) + kMaxReaders;
  if (r >= kMaxReaders) detail::fatal("sync: Unlock of unlocked RWMutex");
  detail::release_window();
  if (r > 0) detail::sema_of(reader_sem_).release(r, false);
  w_.unlock();
}

// Any party. Step 1, a writer is pending or active.
void RWMutex::lock_shared_slow() {
  detail::Sema& sem = detail::sema_of(reader_sem_);
  FinishOnUnwind finish([this, &sem] {
    sem.acquire(false, "go::RWMutex::lock_shared (unwinding)");
    unlock_shared();
  });
  const bool blocked = sem.acquire(false, "go::RWMutex::lock_shared");
  finish.armed = false;
  if (blocked && detail::unwinding_fiber()) {
    unlock_shared();
    throw detail::FiberUnwind{};
  }
}

// Any party.
bool RWMutex::try_lock_shared() noexcept {
  std::int32_t c = reader_count_.load(std::memory_order_relaxed);
  while (c >= 0)
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acquire,
                                            std::memory_order_relaxed))
      return true;
  return false;
}

// Any party. Step 2, a writer is pending or active.
void RWMutex::unlock_shared_slow(std::int32_t r) noexcept {
  // Before the writer can get in: it waits for our reader_wait_ decrement.
  detail::Pin pin(pins_);
  if (r + 1 == 0 || r + 1 == -kMaxReaders) detail::fatal("sync: RUnlock of unlocked RWMutex");
  // acq_rel: the chain of departing readers ends at the last one, which wakes the writer.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0)
    detail::sema_of(writer_sem_).release(1, false);
}

}  // namespace go
