// Parker: puts one OS thread to sleep until another thread unparks it or a deadline passes.
// A futex word with three states (Rust's std::thread::park protocol): an unpark that comes
// before the park is not lost, and unpark wakes the kernel only when the thread really sleeps.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace go::detail {

class Parker {
 public:
  // Owner thread only. Sleeps until unpark() or until `deadline_ns` (CLOCK_MONOTONIC; < 0: none).
  void park(std::int64_t deadline_ns) {
    // NOTIFIED -> EMPTY: consume a pending unpark; EMPTY -> PARKED: going to sleep.
    if (state_.fetch_sub(1, std::memory_order_acquire) == kNotified) return;
    for (;;) {
      timespec ts;
      timespec* timeout = nullptr;
      if (deadline_ns >= 0) {
        ts.tv_sec = deadline_ns / 1000000000;
        ts.tv_nsec = deadline_ns % 1000000000;
        timeout = &ts;
      }
      // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline: no drift on retries.
      syscall(SYS_futex, &state_, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, kParked, timeout, nullptr,
              FUTEX_BITSET_MATCH_ANY);
      int expected = kNotified;
      if (state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acquire)) return;
      if (deadline_ns >= 0 && monotonic_now_ns() >= deadline_ns) {
        // Timed out: leave PARKED for EMPTY (or consume an unpark that raced in).
        state_.exchange(kEmpty, std::memory_order_acquire);
        return;
      }
      // Spurious wake-up: sleep again.
    }
  }

  // Owner thread only. Consumes a pending unpark without sleeping; true if there was one.
  bool try_consume() {
    int expected = kNotified;
    return state_.compare_exchange_strong(expected, kEmpty, std::memory_order_seq_cst);
  }

  // Any thread. seq_cst: Runtime::wake_m reads M::in_netpoll after this (see there).
  void unpark() {
    if (state_.exchange(kNotified, std::memory_order_seq_cst) == kParked)
      syscall(SYS_futex, &state_, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, nullptr, nullptr, 0);
  }

  static std::int64_t monotonic_now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  }

 private:
  static constexpr int kParked = -1, kEmpty = 0, kNotified = 1;
  std::atomic<int> state_{kEmpty};
};

}  // namespace go::detail
