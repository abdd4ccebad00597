// The per-P local run queue: a bounded lock-free ring, owner pushes/pops, thieves steal half.
//
// This is Go's runq (proc.go: runqput/runqget/runqgrab). The owner P is the only writer of
// `tail_`; consumers (the owner popping, thieves stealing) claim slots by CAS on `head_`.
// A thief copies the slots it wants *before* its CAS publishes the claim, so a slot is only
// overwritten by the owner after head_ moved past it. Capacity 256 keeps it in a few cache
// lines; overflow moves half of it to the global queue in one batch, which is what keeps a
// spawning P from hogging all the work.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "sched/fiber.h"

namespace go::detail {

#ifndef GOCXX_LOCAL_RUNQ_CAPACITY
#define GOCXX_LOCAL_RUNQ_CAPACITY 256  // a test build may shrink it to reach overflow often
#endif

class LocalRunQueue {
 public:
  static constexpr std::uint32_t kCapacity = GOCXX_LOCAL_RUNQ_CAPACITY;
  static_assert((kCapacity & (kCapacity - 1)) == 0, "capacity must be a power of two");

  // Owner only. Appends g; returns false if the ring is full (the caller overflows to the
  // global queue with take_half_for_overflow).
  bool push(G* g) {
    std::uint32_t h = head_.load(std::memory_order_acquire);  // synchronizes with consumers
    std::uint32_t t = tail_.load(std::memory_order_relaxed);  // only we write it
    if (t - h >= kCapacity) return false;
    slots_[t % kCapacity].store(g, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);  // publishes the slot to consumers
    return true;
  }

  // Owner only. Removes and returns the oldest fiber, or nullptr.
  G* pop() {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    for (;;) {
      std::uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      G* g = slots_[h % kCapacity].load(std::memory_order_relaxed);
      // acq_rel: the claim orders against thieves; on failure h is reloaded.
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
        return g;
    }
  }

  // Owner only, when push failed: claims half of the ring (oldest first) into `out` and returns
  // how many (0 if thieves emptied it meanwhile; the caller then retries push).
  std::uint32_t take_half_for_overflow(G** out) {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    std::uint32_t n = (t - h) / 2;
    if (n != kCapacity / 2) return 0;  // not full any more: a thief took some
    for (std::uint32_t i = 0; i < n; ++i)
      out[i] = slots_[(h + i) % kCapacity].load(std::memory_order_relaxed);
    if (!head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel,
                                       std::memory_order_relaxed))
      return 0;
    return n;
  }

  // Any thread (a thief). Copies up to half of the ring into `out` (capacity kCapacity/2) and
  // claims them; returns how many.
  std::uint32_t steal_half(G** out) {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);  // synchronizes with consumers
      std::uint32_t t = tail_.load(std::memory_order_acquire);  // synchronizes with the owner
      std::uint32_t n = t - h;
      n = n - n / 2;
      if (n == 0) return 0;
      if (n > kCapacity / 2) continue;  // inconsistent h/t snapshot: retry
      for (std::uint32_t i = 0; i < n; ++i)
        out[i] = slots_[(h + i) % kCapacity].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + n, std::memory_order_acq_rel,
                                      std::memory_order_relaxed))
        return n;
    }
  }

  // Any thread; approximate.
  std::uint32_t size() const {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_acquire);
    return t - h;
  }
  bool empty() const { return size() == 0; }

 private:
  alignas(64) std::atomic<std::uint32_t> head_{0};  // consumers CAS it
  alignas(64) std::atomic<std::uint32_t> tail_{0};  // written only by the owner P
  std::array<std::atomic<G*>, kCapacity> slots_{};
};

// The global run queue: overflow of local queues and fibers readied from non-P threads.
// Intrusive FIFO through G::sched_next. Not thread-safe: guarded by Scheduler::lock_.
class GlobalRunQueue {
 public:
  void push_back(G* g) {
    g->sched_next = nullptr;
    if (tail_)
      tail_->sched_next = g;
    else
      head_ = g;
    tail_ = g;
    size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  G* pop_front() {
    G* g = head_;
    if (!g) return nullptr;
    head_ = g->sched_next;
    if (!head_) tail_ = nullptr;
    g->sched_next = nullptr;
    size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    return g;
  }
  // Any thread, without the lock: a hint for "is it worth taking the lock?".
  std::uint64_t size_hint() const { return size_.load(std::memory_order_relaxed); }

 private:
  G* head_ = nullptr;
  G* tail_ = nullptr;
  std::atomic<std::uint64_t> size_{0};  // written under the lock, read without it
};

}  // namespace go::detail
