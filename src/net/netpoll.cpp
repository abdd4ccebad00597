// The netpoller (Go's netpoll.go + netpoll_epoll.go): fibers wait for fds without blocking Ms.
//
// The problem. Network code is written blocking-style, one fiber per connection, with tens of
// thousands of connections. A fiber waiting for data must cost no thread and no CPU, must wake
// as soon as the kernel says the fd is ready, and must be woken exactly once, with an error,
// when its fd is closed under it or its deadline passes. fd numbers are reused by the kernel
// at once, so a wake-up meant for a closed fd must never reach the waiter of its successor.
//
// The approach:
//  * One process-wide epoll instance. Every fd is registered once (poll_open), edge-triggered
//    for reading and writing, with its PollDesc as the event's data. I/O always tries the
//    syscall first and waits only on EAGAIN, so edge-triggering loses nothing: an edge that
//    came before the wait left the fd ready, and the retry finds the data.
//  * A PollDesc has one slot per mode (rg, wg), a word with four states, as in Go:
//      kIdle     nothing pending;
//      kReady    an event came and nobody consumed it yet (the next wait returns at once);
//      kWaiting  a fiber is about to park (between its check and its park);
//      G*        that fiber, parked.
//    The waiter moves kIdle -> kWaiting, parks, and in park's unlock callback (it is switched
//    out by then) commits kWaiting -> G*; if the slot changed meanwhile (an event, a close, a
//    deadline) the commit fails and the park is cancelled. A waker (unblock) CASes the slot to
//    kReady (an event) or kIdle (close, deadline) and readies the G it replaced, if any. The CAS
//    on one word is what makes a wake-up happen exactly once.
//  * poll_wait_any (the hooked poll() on several fds) parks one fiber on several slots at
//    once: each slot holds a tagged pointer to the waiter's GroupWait (on its stack), whose
//    own state word (arming, parked, fired) makes the first waker the only one to ready it.
//    Before the waiter may return (and its stack object die), it takes its tag back from
//    every slot, and waits for each waker that took a tag first to finish with the object.
//  * The scheduler polls without blocking when an M runs out of local work, and every ~10 ms
//    from a P that never runs out; when every P is idle, one M blocks in epoll_wait with its
//    next timer as the timeout, instead of sleeping on its futex. Waking that M (new work, an
//    earlier timer, go::run stopping) writes to an eventfd registered in the same epoll set.
//  * Deadlines are runtime timers, one per mode, embedded in the PollDesc. Their callback does
//    not trust its own arming: under the PollDesc's lock it fires only if the current deadline
//    has passed. So a timer that was moved or cleared while its callback was already on its
//    way does nothing, and no generation counters are needed.
//  * PollDescs are never freed, only reused (a free list): an epoll event or a deadline callback
//    in flight for a closed fd then touches live memory, and at worst wakes the waiter of the
//    PollDesc's next fd, which retries its syscall, gets EAGAIN, and waits again.
//  * Plain threads (not fibers) wait in ppoll(2) on the fd itself, with the deadline as its
//    timeout. poll_close shuts a socket down for them (SHUT_RDWR): closing an fd does not wake
//    a thread blocked in poll on it.
//
// Rejected alternatives:
//  * Level-triggered epoll with EPOLLONESHOT re-arming per wait: one more epoll_ctl syscall per
//    wait, the thing a raw-epoll server does not pay.
//  * An epoll instance per P: a fiber readied on another P's instance needs that P's M to poll;
//    balancing is the scheduler's job (it steals what netpoll readies).
//  * A dedicated poller thread (libgo): every wake-up crosses threads and costs a futex wake.
//
// Locking: PollDesc::lock guards the deadlines' timer arming and the closing transition; the
// slots are lock-free. The free list has its own mutex. Never hold a PollDesc lock while
// readying a fiber (ready may run user-visible scheduling work).
#include "net/netpoll.h"

#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <system_error>

#include "sched/scheduler.h"
#include "sched/spinlock.h"

#if defined(GOCXX_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace go::detail {

namespace {

// A PollDesc travels from poll_open to the thread that reads its event through the kernel
// (epoll_ctl, then epoll_wait), which orders the two but which TSan cannot see: tell it.
inline void publish_to_kernel([[maybe_unused]] void* pd) {
#if defined(GOCXX_TSAN)
  __tsan_release(pd);
#endif
}
inline void received_from_kernel([[maybe_unused]] void* pd) {
#if defined(GOCXX_TSAN)
  __tsan_acquire(pd);
#endif
}

constexpr std::uintptr_t kIdle = 0;
constexpr std::uintptr_t kReady = 1;
constexpr std::uintptr_t kWaiting = 2;

constexpr int kMaxEvents = 128;

// A slot may also hold a GroupWait* | kGroupTag (G*s and GroupWaits are 8-aligned).
constexpr std::uintptr_t kGroupTag = 4;
constexpr std::uintptr_t kTagMask = 7;

// A fiber waiting in poll_wait_any. Lives on that fiber's stack; see poll_wait_any for how
// the wakers that found it in a slot are done with it before it dies.
struct alignas(8) GroupWait {
  G* g = nullptr;
  // kArming until the fiber is switched out (park's unlock callback moves it to kParked unless
  // a waker moved it to kFired first); kFired by the first waker, which readies g if parked.
  std::atomic<int> state{0};
  std::atomic<int> released{0};  // wakers (slots, the timer) that are done with this object
  Timer timer;                   // the deadline, if any
};
constexpr int kArming = 0;
constexpr int kParked = 1;
constexpr int kFired = 2;

// A waker that took w's tag out of a slot (or w's timer): marks w fired and returns the fiber
// to ready (the first waker of a parked w), or nullptr. Its last touch of w.
G* fire_group(GroupWait* w) {
  G* g = w->g;
  const int prev = w->state.exchange(kFired, std::memory_order_acq_rel);
  w->released.fetch_add(1, std::memory_order_release);
  return prev == kParked ? g : nullptr;
}

}  // namespace

struct PollDesc {
  std::atomic<int> fd{-1};
  std::atomic<bool> closing{false};
  std::atomic<std::uintptr_t> rg{kIdle};  // the read slot (states above)
  std::atomic<std::uintptr_t> wg{kIdle};  // the write slot
  // Deadlines (now_ns clock): 0 none, -1 passed, else when. Written under lock; waiters read
  // them without it.
  std::atomic<std::int64_t> rd{0};
  std::atomic<std::int64_t> wd{0};
  std::atomic<int> thread_waiters{0};  // plain threads in ppoll on fd (see poll_close)
  // An event said the peer closed or reset (RDHUP/HUP/ERR). Sticky until the next poll_open.
  // Stored before the event's slot update, so a reader woken by that event sees it.
  std::atomic<bool> hangup{false};
  SpinLock lock;  // guards arming of rtimer/wtimer and closing's set
  Timer rtimer;   // armed while rd > 0 (and a runtime runs)
  Timer wtimer;
  PollDesc* next_free = nullptr;  // guarded by the cache's mutex

  std::atomic<std::uintptr_t>& slot(PollMode m) { return m == PollMode::read ? rg : wg; }
  std::atomic<std::int64_t>& deadline(PollMode m) { return m == PollMode::read ? rd : wd; }
  Timer& timer(PollMode m) { return m == PollMode::read ? rtimer : wtimer; }
};

namespace {

// The process-wide epoll instance, created on first use, never closed.
struct Poller {
  int epfd = -1;
  int wakefd = -1;                        // eventfd that breaks a blocking epoll_wait
  std::atomic<bool> wake_pending{false};  // a write to wakefd not yet drained
};

Poller g_poller;
std::once_flag g_poller_once;
std::atomic<bool> g_poller_ready{false};
std::atomic<int> g_waiters{0};  // fibers parked in poll_wait (the scheduler polls only if > 0)

std::mutex g_cache_lock;
PollDesc* g_free = nullptr;  // guarded by g_cache_lock

void init_poller() {
  std::call_once(g_poller_once, [] {
    g_poller.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g_poller.epfd < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
    g_poller.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g_poller.wakefd < 0) throw std::system_error(errno, std::system_category(), "eventfd");
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: stays ready until drained
    ev.data.ptr = nullptr;
    if (epoll_ctl(g_poller.epfd, EPOLL_CTL_ADD, g_poller.wakefd, &ev) != 0)
      throw std::system_error(errno, std::system_category(), "epoll_ctl(eventfd)");
    g_poller_ready.store(true, std::memory_order_release);
  });
}

PollDesc* alloc_desc() {
  {
    std::lock_guard lk(g_cache_lock);
    if (g_free != nullptr) {
      PollDesc* pd = g_free;
      g_free = pd->next_free;
      pd->next_free = nullptr;
      return pd;
    }
  }
  return new PollDesc;  // never freed: see the top comment
}

void free_desc(PollDesc* pd) {
  std::lock_guard lk(g_cache_lock);
  pd->next_free = g_free;
  g_free = pd;
}

// Any thread. Moves a slot for an event (ioready) or for a close/deadline (!ioready) and
// returns the fiber parked in it, which the caller must ready(), or nullptr.
G* unblock(std::atomic<std::uintptr_t>& slot, bool ioready) {
  std::uintptr_t old = slot.load(std::memory_order_acquire);
  for (;;) {
    if (old == kReady) return nullptr;             // already signalled
    if (old == kIdle && !ioready) return nullptr;  // nobody to tell
    const std::uintptr_t next = ioready ? kReady : kIdle;
    if (slot.compare_exchange_weak(old, next, std::memory_order_acq_rel, std::memory_order_acquire))
      break;
  }
  // kWaiting: the waiter has not parked yet; its commit fails and it sees the new state.
  if (old == kIdle || old == kWaiting) return nullptr;
  if ((old & kTagMask) == kGroupTag)
    return fire_group(reinterpret_cast<GroupWait*>(old - kGroupTag));
  return reinterpret_cast<G*>(old);
}

void wake(G* g) {
  if (g != nullptr) ready(g);
}

// Timer callbacks (a scheduler context): the deadline of one mode may have passed.
template <PollMode mode>
void deadline_fired(Timer*, void* arg) {
  auto* pd = static_cast<PollDesc*>(arg);
  bool fire = false;
  {
    std::lock_guard lk(pd->lock);
    std::atomic<std::int64_t>& d = pd->deadline(mode);
    const std::int64_t when = d.load(std::memory_order_relaxed);
    if (when > 0 && now_ns() >= when) {  // not moved or cleared since this timer was armed
      d.store(-1, std::memory_order_release);
      fire = true;
    }
  }
  if (fire) wake(unblock(pd->slot(mode), false));
}

// Caller holds pd->lock. Arms mode's deadline timer if a runtime runs (else only plain threads
// can wait, and they use the deadline as their ppoll timeout). The timer is not in a heap.
void arm_deadline(PollDesc* pd, PollMode mode, std::int64_t when) {
  if (g_runtime.load(std::memory_order_acquire) == nullptr) return;
  Timer& t = pd->timer(mode);
  t.when = when;
  t.fire =
      mode == PollMode::read ? &deadline_fired<PollMode::read> : &deadline_fired<PollMode::write>;
  t.arg = pd;
  add_timer(&t);
}

bool timer_armed(const Timer& t) {
  return __atomic_load_n(&t.owner, __ATOMIC_ACQUIRE) != nullptr;
}

PollStatus state_of(PollDesc* pd, PollMode mode) {
  if (pd->closing.load(std::memory_order_acquire)) return PollStatus::closed;
  const std::int64_t d = pd->deadline(mode).load(std::memory_order_acquire);
  if (d < 0 || (d > 0 && now_ns() >= d)) return PollStatus::timeout;
  return PollStatus::ready;
}

// A plain thread's wait: ppoll on the fd with the deadline as the timeout.
PollStatus thread_wait_fd(PollDesc* pd, PollMode mode) {
  pd->thread_waiters.fetch_add(1, std::memory_order_seq_cst);
  PollStatus st;
  for (;;) {
    st = state_of(pd, mode);
    if (st != PollStatus::ready) break;
    pollfd p{pd->fd.load(std::memory_order_acquire),
             static_cast<short>(mode == PollMode::read ? POLLIN : POLLOUT), 0};
    if (p.fd < 0) {
      st = PollStatus::closed;
      break;
    }
    timespec ts;
    timespec* timeout = nullptr;
    const std::int64_t d = pd->deadline(mode).load(std::memory_order_acquire);
    if (d > 0) {
      const std::int64_t left = d - now_ns();
      if (left <= 0) {  // it passed since state_of looked (ppoll would fail with EINVAL)
        st = PollStatus::timeout;
        break;
      }
      ts.tv_sec = static_cast<time_t>(left / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(left % 1'000'000'000);
      timeout = &ts;
    }
    const int n = ppoll(&p, 1, timeout, nullptr);
    if (n > 0) {
      st = state_of(pd, mode);  // a close that woke us (shutdown) reads as closed
      break;
    }
    if (n < 0 && errno != EINTR) {
      st = PollStatus::closed;  // EBADF and friends: the fd is gone
      break;
    }
  }
  pd->thread_waiters.fetch_sub(1, std::memory_order_seq_cst);
  return st;
}

}  // namespace

extern const NetpollHooks g_netpoll_hooks;

PollDesc* poll_open(int fd) {
  init_poller();
  g_netpoll.store(&g_netpoll_hooks, std::memory_order_release);
  PollDesc* pd = alloc_desc();
  {
    std::lock_guard lk(pd->lock);
    pd->closing.store(false, std::memory_order_relaxed);
    pd->hangup.store(false, std::memory_order_relaxed);
    pd->rg.store(kIdle, std::memory_order_relaxed);
    pd->wg.store(kIdle, std::memory_order_relaxed);
    pd->rd.store(0, std::memory_order_relaxed);
    pd->wd.store(0, std::memory_order_relaxed);
    pd->fd.store(fd, std::memory_order_release);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = pd;
  publish_to_kernel(pd);
  if (epoll_ctl(g_poller.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int err = errno;
    pd->fd.store(-1, std::memory_order_relaxed);
    free_desc(pd);
    throw std::system_error(err, std::system_category(),
                            "registering fd " + std::to_string(fd) + " with epoll");
  }
  return pd;
}

void poll_close(PollDesc* pd) {
  const int fd = pd->fd.load(std::memory_order_acquire);
  {
    std::lock_guard lk(pd->lock);
    pd->closing.store(true, std::memory_order_release);
    del_timer(&pd->rtimer);
    del_timer(&pd->wtimer);
  }
  wake(unblock(pd->rg, false));
  wake(unblock(pd->wg, false));
  if (fd >= 0) {
    // Plain threads in ppoll on fd are not woken by close(2); a shutdown wakes them (sockets
    // only; for other fds it fails harmlessly with ENOTSOCK).
    if (pd->thread_waiters.load(std::memory_order_seq_cst) > 0) ::shutdown(fd, SHUT_RDWR);
    (void)epoll_ctl(g_poller.epfd, EPOLL_CTL_DEL, fd, nullptr);
  }
  pd->fd.store(-1, std::memory_order_release);
  // Plain waiters leave once they see closing; the PollDesc is reused only after they did.
  while (pd->thread_waiters.load(std::memory_order_acquire) > 0) sched_yield();
  free_desc(pd);
}

bool poll_hangup_seen(const PollDesc* pd) {
  return pd->hangup.load(std::memory_order_acquire);
}

int poll_fd(const PollDesc* pd) {
  return pd->fd.load(std::memory_order_acquire);
}

void poll_set_deadline(PollDesc* pd, PollMode mode, std::int64_t deadline_ns) {
  const std::int64_t d = deadline_ns == 0 ? 0 : (deadline_ns <= now_ns() ? -1 : deadline_ns);
  {
    std::lock_guard lk(pd->lock);
    pd->deadline(mode).store(d, std::memory_order_release);
    del_timer(&pd->timer(mode));  // not in a heap afterwards (only we arm it, under lock)
    if (d > 0) arm_deadline(pd, mode, d);
  }
  if (d < 0) wake(unblock(pd->slot(mode), false));
}

PollStatus poll_wait(PollDesc* pd, PollMode mode) {
  G* self = current_g();
  if (self == nullptr) return thread_wait_fd(pd, mode);
  std::atomic<std::uintptr_t>& slot = pd->slot(mode);
  // A deadline set while no runtime ran has no timer yet.
  if (pd->deadline(mode).load(std::memory_order_acquire) > 0) {
    std::lock_guard lk(pd->lock);
    const std::int64_t d = pd->deadline(mode).load(std::memory_order_relaxed);
    if (d > 0 && !timer_armed(pd->timer(mode))) arm_deadline(pd, mode, d);
  }
  std::uintptr_t old = slot.load(std::memory_order_acquire);
  for (;;) {
    if (PollStatus st = state_of(pd, mode); st != PollStatus::ready) return st;
    if (old == kReady) {
      if (slot.compare_exchange_weak(old, kIdle, std::memory_order_acq_rel))
        return PollStatus::ready;
      continue;
    }
    if (old != kIdle) fatal("netpoll: two fibers wait on one fd for the same direction");
    if (slot.compare_exchange_weak(old, kWaiting, std::memory_order_acq_rel)) break;
  }
  // Re-check after publishing kWaiting: a close or deadline that came before it saw kIdle and
  // did not touch the slot.
  if (state_of(pd, mode) == PollStatus::ready) {
    g_waiters.fetch_add(1, std::memory_order_relaxed);
    try {
      park(
          [](G* g, void* arg) {
            // Switched out: publish ourselves unless the slot moved (then run on at once).
            auto* s = static_cast<std::atomic<std::uintptr_t>*>(arg);
            std::uintptr_t expected = kWaiting;
            return s->compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(g),
                                              std::memory_order_acq_rel);
          },
          &slot, mode == PollMode::read ? "netpoll read" : "netpoll write");
    } catch (...) {
      // go::run unwinding us at exit: leave the slot as we found it.
      g_waiters.fetch_sub(1, std::memory_order_relaxed);
      slot.store(kIdle, std::memory_order_release);
      throw;
    }
    g_waiters.fetch_sub(1, std::memory_order_relaxed);
  }
  old = slot.exchange(kIdle, std::memory_order_acq_rel);
  if (old == kReady) return PollStatus::ready;
  if (old > kWaiting) fatal("netpoll: a fiber was woken while still registered in its slot");
  const PollStatus st = state_of(pd, mode);
  return st;  // closed, timeout, or ready (a spurious wake-up: the caller retries its call)
}

PollStatus poll_wait_any(const PollWaitItem* items, std::size_t n, std::int64_t deadline_ns) {
  GroupWait w;
  w.g = current_g();
  if (w.g == nullptr) fatal("netpoll: poll_wait_any called outside a fiber");
  const std::uintptr_t tag = reinterpret_cast<std::uintptr_t>(&w) | kGroupTag;
  // Publish the tag in every slot. seq_cst: a closer first marks the fd (closing, or a past
  // deadline), then moves its slot (unblock); we first publish, then look for the marks. One of
  // the two sees the other.
  std::size_t armed = 0;  // slots [0, armed) hold our tag
  bool ready_now = false;
  while (armed < n) {
    std::atomic<std::uintptr_t>& slot = items[armed].pd->slot(items[armed].mode);
    std::uintptr_t old = kIdle;
    if (slot.compare_exchange_strong(old, tag, std::memory_order_seq_cst)) {
      ++armed;
      continue;
    }
    if (old != kReady) fatal("netpoll: poll_wait_any on a slot another party waits on");
    // An event nobody consumed: ours (we own this mode); consume it and return at once.
    slot.compare_exchange_strong(old, kIdle, std::memory_order_acq_rel);
    ready_now = true;
    break;
  }
  // A close (poll_close) or the hooks' fd_retire (a deadline in the past) that came before our
  // tag was published did not see it: look for their marks now.
  for (std::size_t i = 0; i < armed && !ready_now; ++i) {
    ready_now = items[i].pd->closing.load(std::memory_order_seq_cst) ||
                items[i].pd->deadline(items[i].mode).load(std::memory_order_seq_cst) < 0;
  }
  bool timer_armed_here = false;
  if (!ready_now && deadline_ns != 0) {
    if (deadline_ns <= now_ns()) {
      ready_now = true;
    } else {
      w.timer.when = deadline_ns;
      w.timer.fire = [](Timer*, void* arg) { wake(fire_group(static_cast<GroupWait*>(arg))); };
      w.timer.arg = &w;
      add_timer(&w.timer);
      timer_armed_here = true;
    }
  }
  // Takes the tag back from every slot and the timer out of its heap, and waits for each waker
  // that got there first to be done with w. A slot a waker moved to kReady holds our event:
  // consume it (the caller is about to look at its fd anyway).
  auto disarm = [&] {
    int taken = 0;
    for (std::size_t i = 0; i < armed; ++i) {
      std::atomic<std::uintptr_t>& slot = items[i].pd->slot(items[i].mode);
      std::uintptr_t old = tag;
      if (slot.compare_exchange_strong(old, kIdle, std::memory_order_acq_rel)) continue;
      ++taken;
      if (old == kReady) slot.compare_exchange_strong(old, kIdle, std::memory_order_acq_rel);
    }
    if (timer_armed_here && !del_timer(&w.timer)) ++taken;  // it fired, or is firing
    while (w.released.load(std::memory_order_acquire) < taken) sched_yield();
  };
  if (!ready_now) {
    // As poll_wait names its parks (what go::dump_fibers shows): reading if any item reads.
    const char* reason = "netpoll write";
    for (std::size_t i = 0; i < n; ++i)
      if (items[i].mode == PollMode::read) reason = "netpoll read";
    g_waiters.fetch_add(1, std::memory_order_relaxed);
    try {
      park(
          [](G*, void* arg) {
            // Switched out: count as parked unless a waker fired us already (run on at once).
            int expected = kArming;
            return static_cast<GroupWait*>(arg)->state.compare_exchange_strong(
                expected, kParked, std::memory_order_acq_rel);
          },
          &w, reason);
    } catch (...) {
      // go::run unwinding us at exit.
      g_waiters.fetch_sub(1, std::memory_order_relaxed);
      disarm();
      throw;
    }
    g_waiters.fetch_sub(1, std::memory_order_relaxed);
  }
  disarm();
  return deadline_ns != 0 && now_ns() >= deadline_ns ? PollStatus::timeout : PollStatus::ready;
}

// ---------------------------------------------------------------------------------------------
// The scheduler's side (NetpollHooks in sched/scheduler.h).

namespace {

bool netpoll_active() {
  return g_waiters.load(std::memory_order_relaxed) > 0;
}

void netpoll_break() {
  if (!g_poller_ready.load(std::memory_order_acquire)) return;
  bool expected = false;
  if (!g_poller.wake_pending.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
    return;  // a wake-up is on its way already
  const std::uint64_t one = 1;
  while (::write(g_poller.wakefd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

int netpoll(std::int64_t timeout_ns) {
  if (!g_poller_ready.load(std::memory_order_acquire)) return 0;
  epoll_event events[kMaxEvents];
  timespec ts;
  timespec* timeout = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
    timeout = &ts;
  }
  int n = epoll_pwait2(g_poller.epfd, events, kMaxEvents, timeout, nullptr);
  if (n < 0) {
    if (errno == EINTR) return 0;
    char msg[96];
    std::snprintf(msg, sizeof msg, "netpoll: epoll_pwait2 failed (errno %d)", errno);
    fatal(msg);
  }
  int readied = 0;
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = events[i];
    if (ev.data.ptr == nullptr) {  // the eventfd: drain it, allow the next break
      std::uint64_t v;
      while (::read(g_poller.wakefd, &v, sizeof v) < 0 && errno == EINTR) {
      }
      g_poller.wake_pending.store(false, std::memory_order_release);
      continue;
    }
    auto* pd = static_cast<PollDesc*>(ev.data.ptr);
    received_from_kernel(pd);
    if ((ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)
      pd->hangup.store(true, std::memory_order_relaxed);  // ordered by unblock's CAS below
    const bool readable = (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    const bool writable = (ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
    if (readable) {
      if (G* g = unblock(pd->rg, true)) {
        ready(g);
        ++readied;
      }
    }
    if (writable) {
      if (G* g = unblock(pd->wg, true)) {
        ready(g);
        ++readied;
      }
    }
  }
  return readied;
}

}  // namespace

const NetpollHooks g_netpoll_hooks{&netpoll_active, &netpoll, &netpoll_break};

}  // namespace go::detail
