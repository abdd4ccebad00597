// go::Semaphore: a counting semaphore for fibers and plain threads; and the storage of the
// runtime semaphore that every primitive of go/sync.h waits on.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace go {

namespace detail {

// Room for one runtime semaphore (src/sync/sema.h: a count, a lock and the FIFO of parties
// waiting on it). Opaque here so that public headers need no private ones; sema.h checks that
// it fits. Not constexpr-constructible for the same reason: a namespace-scope primitive is
// initialized dynamically (zero-initialized first, which is already an idle semaphore).
class SemaSlot {
 public:
  SemaSlot() noexcept;  // no units, nobody waiting
  SemaSlot(const SemaSlot&) = delete;
  SemaSlot& operator=(const SemaSlot&) = delete;

  void* raw() noexcept { return bytes_; }  // src/sync only

 private:
  alignas(8) unsigned char bytes_[32];
};

}  // namespace detail

// A counting semaphore (C++20's std::counting_semaphore, golang.org/x/sync's Weighted with
// weight 1) whose acquire() parks the calling fiber, or blocks the calling plain thread.
// Waiters are served first come, first served: release() hands units straight to the longest
// waiting parties, so a newcomer cannot overtake a queued party. Not copyable or movable. Must
// outlive every party that uses it (destroying it while parties wait is a fatal error).
class Semaphore {
 public:
  // n units available at first. Throws std::invalid_argument if n < 0.
  explicit Semaphore(std::ptrdiff_t n);
  ~Semaphore();
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Takes one unit, waiting until one is available. Any party.
  void acquire();
  // Takes one unit if one is available right now; never waits. Any party.
  bool try_acquire() noexcept;
  // Returns n units, waking up to n waiting parties. Throws std::invalid_argument if n <= 0
  // and std::overflow_error if the count would exceed PTRDIFF_MAX. Any thread; never blocks.
  void release(std::ptrdiff_t n = 1);

 private:
  std::atomic<std::uint32_t> pins_{0};  // release() calls in flight (the destructor waits)
  detail::SemaSlot sema_;
};

}  // namespace go
