// Timers and the per-P 4-ary min-heap that holds them.
//
// A timer's callback runs on a scheduler context (g0) of some M, outside the heap's lock: it must
// be short and must not block (it readies a fiber, or sends without blocking). A 4-ary heap is
// shallower than a binary one and its children share a cache line (Go's choice too).
#pragma once

#include <cstdint>
#include <vector>

namespace go::detail {

struct P;

struct Timer {
  std::int64_t when = 0;  // steady_clock nanoseconds
  void (*fire)(Timer* t, void* arg) = nullptr;
  void* arg = nullptr;
  // Called instead of fire when go::run ends with the timer still armed (the heaps are
  // cleared): lets its owner release what it kept alive for the callback. Optional.
  void (*cancel)(Timer* t, void* arg) = nullptr;
  // Heap bookkeeping, under the owning P's timer lock.
  std::uint32_t heap_index = 0;
  // The P whose heap holds it; nullptr: not in any heap. Written under that P's timer lock
  // with __atomic stores; del_timer reads it without the lock first.
  P* owner = nullptr;
};

// Not thread-safe: the owning P's timer lock guards it.
class TimerHeap {
 public:
  void push(Timer* t);
  Timer* top() const { return heap_.empty() ? nullptr : heap_.front(); }
  Timer* pop();           // removes the earliest
  void remove(Timer* t);  // t must be in this heap
  std::size_t size() const { return heap_.size(); }
  bool empty() const { return heap_.empty(); }
  void clear();

 private:
  void sift_up(std::uint32_t i);
  void sift_down(std::uint32_t i);
  void place(std::uint32_t i, Timer* t) {
    heap_[i] = t;
    t->heap_index = i;
  }
  std::vector<Timer*> heap_;
};

}  // namespace go::detail
