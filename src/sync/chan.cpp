// Channels (Go's hchan): the type-erased core behind go::Channel<T>.
//
// The problem: a FIFO pipe between parties (fibers or plain threads) that may have to wait for
// each other, with Go's rules: unbuffered channels are a rendezvous, buffered ones a bounded
// queue, close() releases everybody, values and waiting parties are served first come, first
// served, and one value is received exactly once.
//
// The approach (Go's chan.go): one SpinLock per channel guards the ring buffer, the closed flag
// and two FIFO queues of Waiters (Go's sudogs): blocked receivers and blocked senders. Every
// operation first tries to finish without waiting, under the lock:
//   send:  closed -> throw ChannelClosed; a receiver waits -> move the value straight into its
//          slot (Waiter::elem) and wake it: no buffer round trip; room in the buffer -> append;
//          else enqueue in sendq (elem: the sender's value) and block.
//   recv:  a sender waits -> unbuffered: move its value straight out of it; buffered (the
//          buffer is then full): take the head and move the sender's value into the cell just
//          freed, which is the new tail, so FIFO holds (the waiting value is younger than every
//          buffered one); a value is buffered -> take the head; closed -> nullopt; else enqueue
//          in recvq (elem: the receiver's empty std::optional<T>) and block.
//   close: mark closed, dequeue every waiter (receivers keep an empty slot, senders learn
//          success == false and throw), wake them all once unlocked.
// The hand-off is done by the party that finds the other one waiting, under the lock, so a
// woken party only reads its Waiter's `success`. Values move through ElemOps (move-construct /
// destroy function pointers), so this file is the only copy of the algorithm for every T.
//
// Rejected alternatives:
//  - A lock-free ring (Vyukov's MPMC queue) for buffered channels: quick while nobody waits,
//    but the wait queues and close() need a lock anyway, and the seam between the lock-free
//    fast path and the locked slow path is where lost wake-ups hide (Go keeps one lock too).
//    Uncontended, the SpinLock costs one atomic exchange.
//  - std::mutex: the lock is released by park's unlock callback on the scheduler context, which
//    TSan would see as an unlock by another thread (see sched/spinlock.h).
//  - The whole algorithm as a template on T: it would be compiled into every user's
//    translation unit and could not be shared with select.cpp.
//  - std::condition_variable for plain threads: Waiter already blocks both kinds of party.
//
// Lock order: a channel lock is taken alone by the operations here, and several of them in
// address order by select (select.cpp). Under a channel lock we run only T's move constructor
// and destructor (user code that must not block or touch this channel), Waiter::claim, and
// select's add_timer (which takes a P's timer_lock: never the other way round).
//
// Why no wake-up is lost or doubled:
//  1. A party that must wait enqueues its Waiter under the lock and calls block(w, lock), which
//     releases the lock only once the party is fully blocked: a fiber from park's unlock
//     callback after its context is saved; a plain thread before it sleeps on its futex word,
//     which a wake sets first.
//  2. A waker finds Waiters only under the lock, so only after step 1 completed.
//  3. The waker dequeues the Waiter (it is then unreachable for everybody else), claims it if
//     it is a select case (one CAS per select: exactly one case wins), fills in the result
//     under the lock, and wakes it exactly once after unlocking.
//  4. The woken party reads its Waiter without the lock: the wake (ready()'s acq_rel exchange,
//     or the futex word's release/acquire) orders the waker's writes before its reads.
//  5. go::run unwinding a leftover fiber: block() throws FiberUnwind with the Waiter possibly
//     still queued; block_in relocks, removes it if still queued, and rethrows.
// Lifetime: handles (go::Channel) count references. A party inside an operation uses its
// caller's handle, so it needs no reference of its own while it runs; but while it is blocked
// the last handle may go away (a handle local to main, captured by reference, while go::run
// unwinds the fibers left blocked on it). So the last handle frees the channel only if nobody
// is queued on it; otherwise it marks it orphaned_, and the party that leaves the queues empty
// (always by removing its own Waiter: no waker can reach an orphaned channel) frees it. This
// keeps reference counting off the blocking path (two atomic operations per wait).

#include "sync/chan.h"

#include <algorithm>
#include <limits>
#include <mutex>
#include <new>
#include <stdexcept>

namespace go::detail {

namespace {

std::size_t core_align(const ElemOps* ops) {
  return std::max(alignof(ChanCore), ops->align);
}

std::size_t buffer_offset(const ElemOps* ops) {
  return (sizeof(ChanCore) + ops->align - 1) / ops->align * ops->align;
}

}  // namespace

void throw_closed(const char* what) {
  throw ChannelClosed(what);
}

ChanCore::~ChanCore() {
  for (std::size_t i = 0, at = head_; i < count_; ++i, at = at + 1 == cap_ ? 0 : at + 1)
    ops_->destroy(cell(at));
}

// Any thread. The last handle frees the channel (one block: the core, then the buffer), unless
// parties are still blocked on it: then the last of them to leave frees it (see orphaned_).
void ChanCore::release() noexcept {
  // acq_rel: the last releaser sees every write made by the other holders before theirs.
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  lock.lock();
  const bool waited_on = !recvq_.empty() || !sendq_.empty();
  orphaned_ = waited_on;
  lock.unlock();
  if (!waited_on) destroy();
}

void ChanCore::destroy() noexcept {
  const std::size_t align = core_align(ops_);
  this->~ChanCore();
  ::operator delete(static_cast<void*>(this), std::align_val_t(align));
}

// Caller holds lock.
bool ChanCore::leave(WaitQueue& q, Waiter* w) noexcept {
  if (q.contains(w)) q.remove(w);
  return orphaned_ && recvq_.empty() && sendq_.empty();
}

// Caller holds lock. Pops the first Waiter that may be woken: a select case whose select
// another case (or its timeout) already won is dropped from the queue, as in Go's dequeue.
Waiter* ChanCore::dequeue(WaitQueue& q) {
  while (Waiter* w = q.pop_front()) {
    if (!w->claim()) continue;
    if (w->select != nullptr) static_cast<SelectWait*>(w->select)->fired = w;
    return w;
  }
  return nullptr;
}

// Caller holds lock.
ChanCore::Poll ChanCore::send_now(void* src, Waiter** wake) {
  *wake = nullptr;
  if (closed_) return Poll::closed;
  if (Waiter* r = dequeue(recvq_)) {
    ops_->to_slot(r->elem, src);  // straight into the receiver's std::optional<T>
    r->success = true;
    *wake = wake_target(r);
    return Poll::done;
  }
  if (count_ < cap_) {
    std::size_t tail = head_ + count_;
    if (tail >= cap_) tail -= cap_;
    ops_->to_raw(cell(tail), src);
    ++count_;
    return Poll::done;
  }
  return Poll::would_block;
}

// Caller holds lock.
ChanCore::Poll ChanCore::recv_now(void* slot, Waiter** wake) {
  *wake = nullptr;
  if (Waiter* s = dequeue(sendq_)) {
    if (cap_ == 0) {
      ops_->to_slot(slot, s->elem);  // straight from the sender
    } else {
      // Senders wait only while the buffer is full, and receivers keep it full while they do:
      // take the head; the sender's value goes into the freed cell, the new tail.
      void* c = cell(head_);
      ops_->to_slot(slot, c);
      ops_->destroy(c);
      ops_->to_raw(c, s->elem);
      if (++head_ == cap_) head_ = 0;
    }
    s->success = true;
    *wake = wake_target(s);
    return Poll::done;
  }
  if (count_ > 0) {
    void* c = cell(head_);
    ops_->to_slot(slot, c);
    ops_->destroy(c);
    if (++head_ == cap_) head_ = 0;
    --count_;
    return Poll::done;
  }
  if (closed_) return Poll::closed;
  return Poll::would_block;
}

// Caller holds lock and has enqueued w in q; returns (or throws) with lock released.
void ChanCore::block_in(Waiter& w, WaitQueue& q, const char* reason) {
  try {
    block(w, lock, reason);
  } catch (const FiberUnwind&) {
    // go::run is unwinding this fiber. If nobody dequeued w, it is still in q: take it out
    // before its stack frame goes away.
    lock.lock();
    const bool last = leave(q, &w);
    lock.unlock();
    if (last) destroy();  // the handles went first (main's locals, say)
    throw;
  }
}

// Any party.
void ChanCore::send(void* src) {
  lock.lock();
  Waiter* wk;
  switch (send_now(src, &wk)) {
    case Poll::done:
      lock.unlock();
      if (wk != nullptr) wake(*wk);
      return;
    case Poll::closed:
      lock.unlock();
      throw_closed("go::Channel::send: send on closed channel");
    case Poll::would_block:
      break;
  }
  Waiter w;
  w.bind_to_current();
  w.elem = src;
  w.object = this;
  sendq_.push_back(&w);
  block_in(w, sendq_, "chan send");
  if (!w.success) throw_closed("go::Channel::send: send on closed channel (closed while waiting)");
}

// Any party; never waits.
bool ChanCore::try_send(void* src) {
  lock.lock();
  Waiter* wk;
  const Poll p = send_now(src, &wk);
  lock.unlock();
  if (p == Poll::closed) throw_closed("go::Channel::try_send: send on closed channel");
  if (wk != nullptr) wake(*wk);
  return p == Poll::done;
}

// Any party; waits only if `block`.
void ChanCore::recv(void* slot, bool block) {
  lock.lock();
  Waiter* wk;
  if (recv_now(slot, &wk) != Poll::would_block || !block) {
    lock.unlock();
    if (wk != nullptr) wake(*wk);
    return;
  }
  Waiter w;
  w.bind_to_current();
  w.elem = slot;
  w.object = this;
  recvq_.push_back(&w);
  block_in(w, recvq_, "chan receive");
  // success: a sender filled slot; otherwise close() woke us and slot stays empty.
}

// Any party.
void ChanCore::close() {
  lock.lock();
  if (closed_) {
    lock.unlock();
    throw_closed("go::Channel::close: close of closed channel");
  }
  closed_ = true;
  // The parties to wake, in queue order, linked through Waiter::next: each is dequeued and
  // claimed (or a select's own Waiter, in no queue), so it is ours until woken.
  Waiter* first = nullptr;
  Waiter* last = nullptr;
  for (WaitQueue* q : {&recvq_, &sendq_}) {
    while (Waiter* w = dequeue(*q)) {
      w->success = false;
      Waiter* t = wake_target(w);
      t->next = nullptr;
      if (last != nullptr)
        last->next = t;
      else
        first = t;
      last = t;
    }
  }
  lock.unlock();
  while (first != nullptr) {
    Waiter* next = first->next;  // read before the wake: the Waiter may vanish right after
    wake(*first);
    first = next;
  }
}

bool ChanCore::closed() const {
  std::lock_guard lk(lock);
  return closed_;
}

std::size_t ChanCore::size() const {
  std::lock_guard lk(lock);
  return count_;
}

// ---------------------------------------------------------------------------------------------
// The functions go::Channel<T> calls.

ChanCore* chan_new(const ElemOps* ops, std::size_t capacity) {
  const std::size_t offset = buffer_offset(ops);
  const std::size_t max = std::numeric_limits<std::size_t>::max() / 2;
  if (capacity > (max - offset) / ops->size)
    throw std::length_error("go::Channel: capacity too large");
  const std::size_t bytes = offset + capacity * ops->size;
  void* mem = ::operator new(bytes, std::align_val_t(core_align(ops)));
  void* buffer = capacity > 0 ? static_cast<unsigned char*>(mem) + offset : nullptr;
  return ::new (mem) ChanCore(ops, capacity, buffer);
}

void chan_retain(ChanCore* c) noexcept {
  c->retain();
}
void chan_release(ChanCore* c) noexcept {
  c->release();
}
void chan_send(ChanCore* c, void* src) {
  c->send(src);
}
bool chan_try_send(ChanCore* c, void* src) {
  return c->try_send(src);
}
void chan_recv(ChanCore* c, void* slot) {
  c->recv(slot, true);
}
void chan_try_recv(ChanCore* c, void* slot) {
  c->recv(slot, false);
}
void chan_close(ChanCore* c) {
  c->close();
}
bool chan_closed(const ChanCore* c) noexcept {
  return c->closed();
}
std::size_t chan_size(const ChanCore* c) noexcept {
  return c->size();
}
std::size_t chan_capacity(const ChanCore* c) noexcept {
  return c->capacity();
}

}  // namespace go::detail
