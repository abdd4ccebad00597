// Waiter: one party blocked on one synchronization object (Go's sudog), and the two operations
// every primitive of src/sync is built on: block() and wake().
//
// A party is a fiber (it parks: its P runs other fibers) or a plain thread (it sleeps on a futex
// word inside its Waiter). The protocol is the same for both and mirrors park's contract:
//   waiter: lock the object; enqueue its Waiter; block(w, lock): the lock is released only once
//           the party is fully blocked (for a fiber: from park's unlock callback, after its
//           context is saved), so a waker can never wake a party that is still running;
//   waker:  lock the object; dequeue a Waiter (it is then the waker's alone); fill in the result
//           (value, success); unlock; wake(w). After wake() the Waiter may be gone at once: the
//           waker must not touch it again.
// A Waiter lives on the blocked party's stack: blocking allocates nothing.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "sched/scheduler.h"
#include "sched/spinlock.h"

namespace go::detail {

// Shared by the Waiters of one select: the first waker that wins the CAS owns the select.
struct SelectState {
  std::atomic<bool> done{false};
};

struct Waiter {
  G* g = nullptr;                       // the fiber, or nullptr for a plain thread
  std::atomic<std::uint32_t> woken{0};  // plain threads: the futex word (0 -> 1 by wake)
  Waiter* next = nullptr;               // links in the object's queue (under the object's lock)
  Waiter* prev = nullptr;
  void* elem = nullptr;           // channels: where the value goes or comes from
  bool success = false;           // channels: woken by a hand-off (false: by close)
  SelectState* select = nullptr;  // non-null when this Waiter is one case of a select
  std::size_t case_index = 0;     // select: which case this Waiter stands for
  void* object = nullptr;         // what it waits on (the channel, for select's clean-up)

  // Binds the Waiter to the calling party. Call before enqueueing it.
  void bind_to_current() { g = current_g(); }

  // Claims a select-case Waiter for a waker: true if the caller may wake it (not part of a
  // select, or first to win it). Caller holds the lock of the queue it dequeued w from.
  bool claim() {
    if (select == nullptr) return true;
    bool expected = false;
    return select->done.compare_exchange_strong(expected, true, std::memory_order_acq_rel);
  }
};

// "No deadline", for the deadlines below (now_ns clock).
constexpr std::int64_t kNoDeadline = std::numeric_limits<std::int64_t>::max();

// Plain thread only: sleeps on w's futex word until wake(w) (true) or until `deadline` passed
// (false). The caller holds no lock.
bool thread_wait(Waiter& w, std::int64_t deadline = kNoDeadline);

// Blocks the calling party on `w` (already enqueued) and releases `lock` once it is blocked.
// Returns when someone called wake(w). `reason` shows in dump_fibers. Caller holds `lock`.
// Throws FiberUnwind only while go::run unwinds leftover fibers at exit: then `lock` is released
// and `w` may still be queued: the caller must lock again and remove it if it is (RAII).
void block(Waiter& w, SpinLock& lock, const char* reason);

// Like block(), for a select: releases every lock in `locks` (n of them) once blocked.
void block_all(Waiter& w, SpinLock* const* locks, std::size_t n, const char* reason);

// Wakes the party blocked on `w`. The caller has dequeued w and no longer holds the lock.
void wake(Waiter& w);

// An intrusive FIFO of Waiters. Not thread-safe: the owning object's lock guards it.
class WaitQueue {
 public:
  void push_back(Waiter* w) {
    w->next = nullptr;
    w->prev = tail_;
    if (tail_)
      tail_->next = w;
    else
      head_ = w;
    tail_ = w;
  }
  void push_front(Waiter* w) {
    w->prev = nullptr;
    w->next = head_;
    if (head_)
      head_->prev = w;
    else
      tail_ = w;
    head_ = w;
  }
  Waiter* pop_front() {
    Waiter* w = head_;
    if (w) remove(w);
    return w;
  }
  void remove(Waiter* w) {
    if (w->prev)
      w->prev->next = w->next;
    else
      head_ = w->next;
    if (w->next)
      w->next->prev = w->prev;
    else
      tail_ = w->prev;
    w->next = w->prev = nullptr;
  }
  bool contains(const Waiter* w) const { return w->prev != nullptr || head_ == w; }
  bool empty() const { return head_ == nullptr; }
  Waiter* front() const { return head_; }

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

}  // namespace go::detail
