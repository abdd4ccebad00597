// ChanCore: the type-erased channel behind go::Channel<T> (Go's hchan), and what select needs
// from it. The protocol is described at the top of chan.cpp; select's at the top of select.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "go/chan.h"
#include "sched/spinlock.h"
#include "sched/timer_heap.h"
#include "sync/waiter.h"

namespace go::detail {

// The SelectState of one blocked select (Waiter::select of each of its case Waiters points
// here; select.cpp creates every one of them, so a channel waker may downcast).
//
// A waker that claims a case Waiter (Waiter::claim) wakes `self`, not the case Waiter: a plain
// thread sleeps on one futex word, and a select has one Waiter per case.
struct SelectWait : SelectState {
  Waiter self;              // what the selecting party blocks on
  Waiter* fired = nullptr;  // the case Waiter that won; nullptr: the timeout won. Written by the
                            // winner (under that channel's lock) before it wakes `self`.
  // The timeout of a fiber's select: armed only once the fiber is parked (select.cpp).
  Timer timer;
  std::atomic<bool> timer_quiet{false};  // the timer callback has returned (or was cancelled):
                                         // it will not touch this object again
};

class ChanCore {
 public:
  // Result of an attempt that does not wait. Caller of *_now holds lock.
  enum class Poll : std::uint8_t { done, would_block, closed };

  ChanCore(const ElemOps* ops, std::size_t capacity, void* buffer)
      : ops_(ops), cap_(capacity), buf_(static_cast<unsigned char*>(buffer)) {}
  ~ChanCore();  // destroys buffered values; nobody can be waiting
  ChanCore(const ChanCore&) = delete;
  ChanCore& operator=(const ChanCore&) = delete;

  // --- The operations behind go::Channel. Any party (fiber or plain thread).
  void send(void* src);      // waits; throws ChannelClosed
  bool try_send(void* src);  // throws ChannelClosed
  void recv(void* slot, bool block);
  void close();  // throws ChannelClosed if already closed
  bool closed() const;
  std::size_t size() const;
  std::size_t capacity() const { return cap_; }

  // --- Reference count of the handles (see Lifetime in chan.cpp).
  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }  // from a holder
  void release() noexcept;
  // Caller holds lock. Removes w from q if it is still there; true if that left an orphaned
  // channel without waiters: the caller must then destroy() it once it has unlocked it.
  bool leave(WaitQueue& q, Waiter* w) noexcept;
  void destroy() noexcept;

  // --- For select.cpp. Caller holds lock for all of these.
  // Sends *src if that needs no waiting; *wake: the party to wake() once unlocked, or null.
  Poll send_now(void* src, Waiter** wake);
  // Receives into slot (an empty std::optional<T>) if a value is ready, or reports closed
  // (and drained); *wake as for send_now.
  Poll recv_now(void* slot, Waiter** wake);
  WaitQueue& sendq() { return sendq_; }
  WaitQueue& recvq() { return recvq_; }

  mutable SpinLock lock;  // guards everything below, and the Waiters in the queues

 private:
  Waiter* dequeue(WaitQueue& q);
  void* cell(std::size_t i) { return buf_ + i * ops_->size; }
  // Blocks the caller on w (in q) and releases lock; on FiberUnwind removes w and rethrows.
  void block_in(Waiter& w, WaitQueue& q, const char* reason);

  const ElemOps* const ops_;
  const std::size_t cap_;
  unsigned char* const buf_;  // cap_ cells of ops_->size bytes (nullptr if cap_ == 0)
  std::atomic<std::size_t> refs_{1};
  std::size_t head_ = 0;   // guarded by lock: the cell received next
  std::size_t count_ = 0;  // guarded by lock: values buffered
  bool closed_ = false;    // guarded by lock
  bool orphaned_ = false;  // guarded by lock: no handle left, parties still queued
  WaitQueue recvq_;        // guarded by lock: blocked receivers, FIFO
  WaitQueue sendq_;        // guarded by lock: blocked senders, FIFO (elem: their value)
};

// The Waiter to wake() for w once its channel is unlocked: w itself, or for a select case the
// select's own Waiter. Caller holds the lock of w's channel and has claimed w.
inline Waiter* wake_target(Waiter* w) {
  if (w->select == nullptr) return w;
  return &static_cast<SelectWait*>(w->select)->self;
}

[[noreturn]] void throw_closed(const char* what);

}  // namespace go::detail
