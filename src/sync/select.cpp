// go::select (Go's selectgo): wait on several channel operations, run exactly one.
//
// The problem: a party offers n channel operations (receives and sends, possibly on the same
// channel twice) plus maybe a timeout or a default, and exactly one of them must happen,
// chosen uniformly among those ready at once, without losing or doubling a wake-up while
// values arrive on several Ps at the same moment.
//
// The approach (Go's select.go):
//  1. Order the channel cases twice: pollorder, a uniformly random permutation (inside-out
//     Fisher-Yates), and lockorder, sorted by channel address.
//  2. Lock every involved channel in lockorder, each once (a channel may appear in several
//     cases). Address order makes two selects over the same channels unable to deadlock.
//  3. Poll the cases in pollorder with the channels' own non-waiting steps (ChanCore::send_now
//     / recv_now); the first that can proceed does its transfer, every lock is released, its
//     index is returned. A send case on a closed channel throws ChannelClosed.
//  4. Nothing ready: with a default, unlock and return it; with a timeout already due, the
//     same. Otherwise enqueue one Waiter per case (in lockorder), all pointing at one
//     SelectWait (a SelectState), and block: the locks are released only once the party is
//     blocked. A fiber's timeout timer is armed at that same moment, after the switch.
//  5. A waker (a channel operation or close on one of the channels, or the timer) claims the
//     select by CAS on SelectState::done; exactly one claim succeeds. The winner records its
//     Waiter in `fired` (nullptr: the timeout), does its transfer and wakes the select's own
//     Waiter. A loser only drops our Waiter from its queue (ChanCore::dequeue).
//  6. Woken, the select locks every channel again and removes its Waiters still queued (under
//     the locks no waker can be looking at them), unlocks, stops its timer (waiting for a
//     callback already running to return), and returns fired's case.
//  7. The caller (the template in go/select.h) runs the chosen handler after all this: no lock
//     is held while user code runs.
//
// Why exactly once, and never a wake-up of a running fiber: the claim CAS in step 5 is the
// only way to obtain the right to wake us or to write into our slots; a channel waker reaches
// our Waiters only under that channel's lock, i.e. after we are blocked; the timer exists only
// once we are parked. After step 6's relock no channel can reach our Waiters any more, and the
// timer is disarmed or has signalled timer_quiet, so nothing touches our frame after we return.
//
// A fiber blocks through park() with its own unlock callback (park_select) rather than
// waiter.h's block_all(), for two reasons:
//  - the timer must be armed after the switch (like sleep's): a timer callback may run on any M
//    at any moment, even inside the switch_away() of this very fiber, before its locks are
//    released (the scheduler runs due timers there), so it must neither find us still running
//    nor wait for a lock we hold;
//  - its unlock callback also arms the timer, and must copy its arguments before the first
//    unlock: a waker can resume the fiber as soon as one lock is released, and its frame
//    (the arguments) is then gone.
// A plain thread uses block_all() without a timeout. With a timeout it sleeps on its futex
// word with a deadline (FUTEX_WAIT) instead of a runtime timer: that works with no go::run
// running and does not depend on P0 being responsive. On expiry it claims the select itself;
// if a waker claimed it first, it waits for that waker's wake.
//
// Rejected alternatives:
//  - Polling each channel in turn with try-ops and sleeping/yielding in between: busy, and it
//    can neither be fair nor atomic over several channels.
//  - One global select lock: serialises every select and every channel in the process.
//  - Waking every case's Waiter and letting the select sort it out: a Waiter would be woken
//    after the select returned (a use after return); the claim CAS avoids the second wake.
//  - The timeout as an internal channel fed by a timer (Go's time.After): one allocation and
//    one more channel lock per select with a timeout, for the guarantee that arming the timer
//    after the switch gives for free.

#include <time.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "go/select.h"
#include "sync/chan.h"

namespace go::detail {

namespace {

constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
constexpr std::size_t kInlineCases = 16;  // Waiters kept on the stack; more are heap-allocated

// A random 64-bit seed for one select, from a per-thread xorshift64*. Called only before the
// select blocks, so no thread-local address is held across a park (noipa keeps it out of the
// caller).
GOCXX_NOIPA std::uint64_t random_seed() {
  thread_local std::uint64_t state = 0;
  std::uint64_t x = state;
  if (x == 0) {
    // splitmix64 of the slot's address and the clock: distinct per thread and per run.
    x = reinterpret_cast<std::uintptr_t>(&state) ^ static_cast<std::uint64_t>(now_ns());
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    if (x == 0) x = 1;
  }
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  state = x;
  return x * 0x2545f4914f6cdd1dull;
}

// Draws numbers in [0, n) for one select's shuffle from its seed: a 64-bit LCG step (Knuth's
// MMIX constants) per draw, its high half mapped to [0, n) by Lemire's multiply-shift. Cheap
// enough to call once per case; a select's few draws need no better quality.
class Shuffler {
 public:
  explicit Shuffler(std::uint64_t seed) : x_(seed) {}
  std::uint32_t below(std::uint32_t n) {
    x_ = x_ * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>(((x_ >> 32) * n) >> 32);
  }

 private:
  std::uint64_t x_;
};

// Sorts a select's few case indexes by channel address (lockorder). Insertion sort: selects
// have a handful of cases, where it beats std::sort's set-up by far; quadratic only for
// selects with hundreds of cases.
void sort_by_channel(std::uint16_t* order, std::size_t n, const SelectCase* cases) {
  for (std::size_t i = 1; i < n; ++i) {
    const std::uint16_t v = order[i];
    ChanCore* const key = cases[v].core;
    std::size_t j = i;
    for (; j > 0 && std::less<ChanCore*>()(key, cases[order[j - 1]].core); --j)
      order[j] = order[j - 1];
    order[j] = v;
  }
}

// Timer callbacks (on a scheduler context; never block). The timer is armed only once the
// fiber is parked, so a claim here always finds it parked.
void timer_fire(Timer*, void* arg) {
  auto* sw = static_cast<SelectWait*>(arg);
  bool expected = false;
  if (sw->done.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
    wake(sw->self);                                        // fired stays nullptr: the timeout won
  sw->timer_quiet.store(true, std::memory_order_release);  // our last touch of *sw
}

void timer_cancel(Timer*, void* arg) {
  // go::run ended with the timer armed: it will never fire.
  static_cast<SelectWait*>(arg)->timer_quiet.store(true, std::memory_order_release);
}

struct ParkArgs {
  SpinLock* const* locks;
  std::size_t n;
  Timer* timer;  // nullptr: no timeout
};

// Fiber only. Parks the select, then (on the scheduler side of the switch) arms `timer` and
// releases the n locks. `locks` must stay valid until every lock is released: the select's
// frame holds it, and a woken select relocks all of them before leaving. Throws FiberUnwind
// like block_all(), with the locks released.
void park_select(SpinLock* const* locks, std::size_t n, Timer* timer) {
  if (unwinding_fiber()) {
    for (std::size_t i = n; i-- > 0;) locks[i]->unlock();
    throw FiberUnwind{};
  }
  ParkArgs args{locks, n, timer};
  park(
      [](G*, void* arg) {
        // Copied first: once the first lock (or the timer) lets a waker resume us, our frame,
        // args included, may be gone.
        const ParkArgs a = *static_cast<ParkArgs*>(arg);
        if (a.timer != nullptr) add_timer(a.timer);
        for (std::size_t i = a.n; i-- > 0;) a.locks[i]->unlock();
        return true;
      },
      &args, "select");
}

// Plain thread with a timeout: releases the locks (the futex word makes that safe at once)
// and sleeps until woken or the deadline; then claims the select for the timeout if no waker
// did (step 5), else waits for the waker that did.
void thread_block_until(SelectWait& sw, SpinLock* const* locks, std::size_t n,
                        std::int64_t deadline) {
  for (std::size_t i = n; i-- > 0;) locks[i]->unlock();
  if (thread_wait(sw.self, deadline)) return;
  bool expected = false;
  if (sw.done.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) return;
  thread_wait(sw.self);
}

// The locks of a select's channels (each once, address order) and its Waiters.
class Cases {
 public:
  Cases(SelectCase* cases, const std::uint16_t* lockorder, std::size_t n)
      : cases_(cases), lockorder_(lockorder), n_(n) {}

  ChanCore* core(std::size_t k) const { return cases_[lockorder_[k]].core; }

  // Caller holds no channel lock of this select.
  void lock_all() const {
    for (std::size_t k = 0; k < n_; ++k)
      if (k == 0 || core(k) != core(k - 1)) core(k)->lock.lock();
  }
  void unlock_all() const {
    for (std::size_t k = n_; k-- > 0;)
      if (k == 0 || core(k) != core(k - 1)) core(k)->lock.unlock();
  }
  // Writes each distinct lock (address order) to out; returns how many.
  std::size_t distinct_locks(SpinLock** out) const {
    std::size_t m = 0;
    for (std::size_t k = 0; k < n_; ++k)
      if (k == 0 || core(k) != core(k - 1)) out[m++] = &core(k)->lock;
    return m;
  }
  WaitQueue& queue_of(std::size_t k) const {
    const SelectCase& c = cases_[lockorder_[k]];
    return c.kind == SelectKind::recv ? c.core->recvq() : c.core->sendq();
  }

 private:
  SelectCase* cases_;
  const std::uint16_t* lockorder_;
  std::size_t n_;
};

// Waiters for the blocking path: on the stack for up to kInlineCases, else on the heap.
class WaiterArray {
 public:
  explicit WaiterArray(std::size_t n) : n_(n) {
    if (n > kInlineCases) {
      heap_ = std::make_unique<Waiter[]>(n);
      heap_locks_ = std::make_unique<SpinLock*[]>(n);
      w_ = heap_.get();
    } else {
      w_ = reinterpret_cast<Waiter*>(inline_);
      for (std::size_t i = 0; i < n; ++i) ::new (&w_[i]) Waiter();
    }
  }
  ~WaiterArray() {
    if (!heap_)
      for (std::size_t i = 0; i < n_; ++i) w_[i].~Waiter();
  }
  WaiterArray(const WaiterArray&) = delete;
  WaiterArray& operator=(const WaiterArray&) = delete;

  Waiter& operator[](std::size_t i) { return w_[i]; }
  // Room for every distinct channel lock.
  SpinLock** locks() { return heap_locks_ ? heap_locks_.get() : inline_locks_; }

 private:
  std::size_t n_;
  Waiter* w_;
  alignas(Waiter) unsigned char inline_[kInlineCases * sizeof(Waiter)];
  SpinLock* inline_locks_[kInlineCases];
  std::unique_ptr<Waiter[]> heap_;
  std::unique_ptr<SpinLock*[]> heap_locks_;
};

}  // namespace

// Any party. See the numbered steps at the top of this file.
std::size_t select_impl(SelectCase* cases, std::size_t n, std::uint16_t* scratch) {
  std::uint16_t* pollorder = scratch;
  std::uint16_t* lockorder = scratch + n;

  // Step 1.
  std::size_t nchan = 0;
  std::size_t dflt = kNone;
  std::size_t tmo = kNone;
  std::int64_t tmo_ns = 0;
  Shuffler shuffle(random_seed());
  for (std::size_t i = 0; i < n; ++i) {
    switch (cases[i].kind) {
      case SelectKind::fallback:
        dflt = i;
        break;
      case SelectKind::timeout:
        if (tmo == kNone || cases[i].timeout_ns < tmo_ns) {
          tmo = i;
          tmo_ns = cases[i].timeout_ns;
        }
        break;
      case SelectKind::recv:
      case SelectKind::send: {
        const std::size_t j = shuffle.below(static_cast<std::uint32_t>(nchan + 1));
        pollorder[nchan] = pollorder[j];
        pollorder[j] = static_cast<std::uint16_t>(i);
        ++nchan;
        break;
      }
    }
  }
  std::int64_t deadline = 0;
  if (tmo != kNone && dflt == kNone && tmo_ns > 0) {
    const std::int64_t now = now_ns();
    deadline = tmo_ns > std::numeric_limits<std::int64_t>::max() - now
                   ? std::numeric_limits<std::int64_t>::max() - 1
                   : now + tmo_ns;
  }
  // A loop, not std::copy: that becomes a call to libc's memmove, whose set-up cost 11% of
  // select2's time for its two 16-bit entries.
  for (std::size_t k = 0; k < nchan; ++k) lockorder[k] = pollorder[k];
  sort_by_channel(lockorder, nchan, cases);
  const Cases chans(cases, lockorder, nchan);

  // Steps 2 and 3.
  chans.lock_all();
  for (std::size_t k = 0; k < nchan; ++k) {
    const std::size_t i = pollorder[k];
    SelectCase& c = cases[i];
    Waiter* wk;
    const ChanCore::Poll p =
        c.kind == SelectKind::recv ? c.core->recv_now(c.elem, &wk) : c.core->send_now(c.elem, &wk);
    if (p == ChanCore::Poll::would_block) continue;
    chans.unlock_all();
    if (p == ChanCore::Poll::closed && c.kind == SelectKind::send)
      throw_closed("go::select: send on closed channel");
    if (wk != nullptr) wake(*wk);
    return i;  // a receive from a closed channel leaves the slot empty
  }

  // Step 4.
  if (dflt != kNone || (tmo != kNone && tmo_ns <= 0)) {
    chans.unlock_all();
    return dflt != kNone ? dflt : tmo;
  }
  SelectWait sw;
  sw.self.bind_to_current();
  const bool fiber = sw.self.g != nullptr;
  WaiterArray ws(nchan);
  for (std::size_t k = 0; k < nchan; ++k) {
    const std::size_t i = lockorder[k];
    Waiter& w = ws[k];
    w.g = sw.self.g;
    w.elem = cases[i].elem;
    w.select = &sw;
    w.case_index = i;
    w.object = cases[i].core;
    chans.queue_of(k).push_back(&w);
  }
  SpinLock** locks = ws.locks();
  const std::size_t nlocks = chans.distinct_locks(locks);
  const bool timer_armed = tmo != kNone && fiber;  // by park_select, once parked
  if (timer_armed) {
    sw.timer.when = deadline;
    sw.timer.fire = &timer_fire;
    sw.timer.cancel = &timer_cancel;
    sw.timer.arg = &sw;
  }

  // Step 6 (also when go::run unwinds a fiber blocked here).
  auto leave = [&](bool parked) {
    chans.lock_all();
    // Channels whose last handle went away while we waited on them (at exit, say): we free
    // them once unlocked. Rare, so a vector; lockorder keeps a channel's cases adjacent.
    std::vector<ChanCore*> orphans;
    for (std::size_t k = 0; k < nchan; ++k) {
      ChanCore* c = chans.core(k);
      if (c->leave(chans.queue_of(k), &ws[k]) && (orphans.empty() || orphans.back() != c))
        orphans.push_back(c);
    }
    chans.unlock_all();
    for (ChanCore* c : orphans) c->destroy();
    if (timer_armed && parked && !del_timer(&sw.timer)) {
      // Its callback is running on another M (a few instructions, no locks), or returned.
      while (!sw.timer_quiet.load(std::memory_order_acquire)) std::this_thread::yield();
    }
  };
  bool parked = false;
  try {
    if (fiber) {
      parked = !unwinding_fiber();  // else park_select unlocks and throws before parking
      park_select(locks, nlocks, timer_armed ? &sw.timer : nullptr);
    } else if (tmo != kNone) {
      thread_block_until(sw, locks, nlocks, deadline);
    } else {
      block_all(sw.self, locks, nlocks, "select");
    }
  } catch (const FiberUnwind&) {
    leave(parked);
    throw;
  }
  leave(parked);

  Waiter* fired = sw.fired;
  if (fired == nullptr) return tmo;
  const std::size_t i = fired->case_index;
  if (cases[i].kind == SelectKind::send && !fired->success)
    throw_closed("go::select: send on closed channel (closed while select waited)");
  return i;  // recv: the waker filled the slot, or left it empty (closed)
}

}  // namespace go::detail
