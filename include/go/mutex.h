// go::Mutex: Go's sync.Mutex for fibers and plain threads (a Lockable).
#pragma once

#include <atomic>
#include <cstdint>

#include "go/semaphore.h"

namespace go {

// A mutual exclusion lock whose lock() parks the calling fiber (its processor runs other
// fibers meanwhile), or blocks the calling plain thread; any mix of both may share one Mutex.
// Go's algorithm (sync/mutex.go): an uncontended lock/unlock is one atomic operation each; a
// contended lock spins briefly only where that can pay off, then waits in FIFO order; a party
// that waited more than 1 ms switches the Mutex to starvation mode, where unlock hands the
// Mutex straight to the longest waiter. Not recursive. Meets Lockable: std::lock_guard,
// std::unique_lock and std::scoped_lock work. Any party may unlock a Mutex another party
// locked (as in Go). Unlocking an unlocked Mutex is a fatal error ("sync: unlock of unlocked
// mutex"), as in Go. Must outlive every party that uses it: destroying it while parties wait
// is a fatal error (a Mutex local to go::run's main function dies when main returns, before
// go::run unwinds the fibers still waiting on it).
class Mutex {
 public:
  Mutex() noexcept = default;
  ~Mutex();
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Locks, waiting if another party holds the Mutex. Any party.
  void lock() {
    std::int32_t unlocked = 0;
    // acquire: the critical section sees what the previous holder wrote before its unlock.
    if (state_.compare_exchange_strong(unlocked, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed))
      return;
    lock_slow();
  }

  // Locks if that needs no waiting (the Mutex is free and not handed to a waiter). Any party.
  bool try_lock() noexcept {
    std::int32_t old = state_.load(std::memory_order_relaxed);
    if ((old & (kLocked | kStarving)) != 0) return false;
    return state_.compare_exchange_strong(old, old | kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // Unlocks; wakes a waiter (or hands it the Mutex) if there is one. Any party; never blocks.
  // The Mutex may be destroyed by its next owner while this call is still returning.
  void unlock() noexcept {
    std::int32_t held = kLocked;  // held, nobody waiting: the release is our last touch
    // release: publishes the critical section to the next holder.
    if (state_.compare_exchange_strong(held, 0, std::memory_order_release,
                                       std::memory_order_relaxed))
      return;
    unlock_slow();
  }

 private:
  // The state word (see the top of src/sync/mutex.cpp).
  static constexpr std::int32_t kLocked = 1;    // held
  static constexpr std::int32_t kWoken = 2;     // a woken or spinning party is about to try
  static constexpr std::int32_t kStarving = 4;  // starvation mode: unlock hands off
  static constexpr int kWaiterShift = 3;        // the rest counts the waiting parties

  void lock_slow();
  void unlock_slow() noexcept;
  void leave_queue() noexcept;

  std::atomic<std::int32_t> state_{0};
  std::atomic<std::uint32_t> pins_{0};  // unlock_slow calls in flight (the destructor waits)
  detail::SemaSlot sema_;               // where waiters sleep
};

}  // namespace go
