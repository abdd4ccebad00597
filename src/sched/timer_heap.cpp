#include "sched/timer_heap.h"

namespace go::detail {

void TimerHeap::push(Timer* t) {
  heap_.push_back(t);
  t->heap_index = static_cast<std::uint32_t>(heap_.size() - 1);
  sift_up(t->heap_index);
}

Timer* TimerHeap::pop() {
  if (heap_.empty()) return nullptr;
  Timer* t = heap_.front();
  remove(t);
  return t;
}

void TimerHeap::remove(Timer* t) {
  std::uint32_t i = t->heap_index;
  Timer* last = heap_.back();
  heap_.pop_back();
  if (last != t) {
    place(i, last);
    sift_up(i);
    sift_down(last->heap_index);
  }
  __atomic_store_n(&t->owner, nullptr, __ATOMIC_RELEASE);  // del_timer reads it lock-free
}

void TimerHeap::clear() {
  for (Timer* t : heap_) __atomic_store_n(&t->owner, nullptr, __ATOMIC_RELEASE);
  heap_.clear();
}

void TimerHeap::sift_up(std::uint32_t i) {
  Timer* t = heap_[i];
  while (i > 0) {
    std::uint32_t parent = (i - 1) / 4;
    if (heap_[parent]->when <= t->when) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void TimerHeap::sift_down(std::uint32_t i) {
  Timer* t = heap_[i];
  const auto n = static_cast<std::uint32_t>(heap_.size());
  for (;;) {
    std::uint32_t first = i * 4 + 1;
    if (first >= n) break;
    std::uint32_t best = first;
    std::uint32_t end = first + 4 < n ? first + 4 : n;
    for (std::uint32_t c = first + 1; c < end; ++c)
      if (heap_[c]->when < heap_[best]->when) best = c;
    if (heap_[best]->when >= t->when) break;
    place(i, heap_[best]);
    i = best;
  }
  place(i, t);
}

}  // namespace go::detail
