// The syscall hooks' per-fd records and the waits built on them (see fd_table.h; the design of
// the hooks as a whole is at the top of hooks.cpp).
//
// The table. One FdRecord per fd number, in chunks of 256 allocated on first use (mmap: no
// allocator is involved, so a hook may run inside malloc's own initialisation) and never
// freed. A fixed top-level array of chunk pointers covers fds below 2^20 (Linux's default
// nr_open, the highest RLIMIT_NOFILE an unprivileged process can have); a higher fd has no
// record and every hook passes it through. Lookups are two loads, lock-free.
//
// The life cycle of a record, and why close() is safe while fibers wait on the fd. The problem
// is Go's fdMutex problem: close() may come from any fiber or thread while another fiber is
// inside read() on the same fd, parked in the netpoller on the record's PollDesc. Closing the
// number at once would let the kernel hand it to a new file whose waiters then share the
// PollDesc; poll_close'ing the PollDesc at once would let the netpoller give it to the next
// poll_open while a waiter that is between its EAGAIN and its poll_wait still holds it.
//   1. Only calls that are about to wait touch the PollDesc, and each holds a reference for it
//      (FdRef: refs += 1 in the life word, with a CAS that fails once `closing` is set). Calls
//      that do not wait (the common case: the syscall succeeded) take nothing.
//   2. fd_retire sets `closing` under the record's lock and moves both PollDesc deadlines into
//      the past (and cancels the private epoll waits linked in temp_waiters): a parked waiter
//      wakes with `timeout`, sees closing and fails with EBADF; one that has not parked yet
//      finds the past deadline in poll_wait and returns at once. A waiter changes deadlines only
//      under the lock after checking closing, so it can never move the past deadline back.
//   3. fd_retire waits until refs drops to zero (the woken waiters leave within a few
//      switches), then bumps the generation (which clears closing, claims and refs in the same
//      store) and only then calls poll_close; its caller closes the fd afterwards.
//   4. Each FdRef remembers the generation it was taken in; its release, its claims and its
//      deadline changes do nothing once the generation moved on.
// Step 4 matters only in one case: a fiber closing an fd while go::run unwinds leftover fibers
// at exit. The waiters then are parked fibers that only go::run itself will resume (to unwind
// them), after the closer has finished, so the closer cannot wait for them: it abandons the
// PollDesc (never poll_close'd, so never reused: the waiters' late touches of it stay harmless;
// epoll drops the registration when the file is closed) and moves on.
//
// Claims. The netpoller allows one waiter per direction and PollDesc. A fiber that wants to wait
// claims the direction in the life word; a second fiber waiting in the same direction at the
// same time (two fibers in accept() on one listener) waits instead in a private epoll instance
// holding just that fd (TempPoll), linked in the record so that fd_retire can cancel it. That
// costs a few syscalls, only in that case, and never a fatal "two waiters" error.
#include "net/fd_table.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <new>
#include <thread>

#include "net/hooks.h"
#include "sched/fiber.h"
#include "sched/scheduler.h"

namespace go::detail::hooks {

namespace {

constexpr int kChunkBits = 8;
constexpr int kChunkSize = 1 << kChunkBits;
constexpr int kMaxFds = 1 << 20;
constexpr int kChunks = kMaxFds / kChunkSize;

// Chunk pointers: set once (CAS from nullptr), never cleared.
std::atomic<FdRecord*> g_chunks[kChunks];

// The life word (FdRecord::life).
constexpr std::uint64_t kRefMask = (std::uint64_t{1} << 29) - 1;
constexpr std::uint64_t kClaimRead = std::uint64_t{1} << 29;
constexpr std::uint64_t kClaimWrite = std::uint64_t{1} << 30;
constexpr std::uint64_t kClosing = std::uint64_t{1} << 31;
constexpr std::uint64_t kLowMask = (std::uint64_t{1} << 32) - 1;  // all but the generation
constexpr int kGenShift = 32;

std::uint32_t gen_of(std::uint64_t v) {
  return static_cast<std::uint32_t>(v >> kGenShift);
}

std::uint64_t claim_bit(PollMode mode) {
  return mode == PollMode::read ? kClaimRead : kClaimWrite;
}

}  // namespace

FdRecord* fd_get(int fd) {
  if (fd < 0 || fd >= kMaxFds) return nullptr;
  std::atomic<FdRecord*>& slot = g_chunks[fd >> kChunkBits];
  FdRecord* chunk = slot.load(std::memory_order_acquire);
  if (chunk == nullptr) {
    void* mem = mmap(nullptr, sizeof(FdRecord) * kChunkSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return nullptr;
    auto* fresh = static_cast<FdRecord*>(mem);
    for (int i = 0; i < kChunkSize; ++i) ::new (&fresh[i]) FdRecord();
    if (slot.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel,  // publishes
                                     std::memory_order_acquire)) {             // the records
      chunk = fresh;
    } else {
      munmap(mem, sizeof(FdRecord) * kChunkSize);  // another thread won; nobody saw ours
    }
  }
  return &chunk[fd & (kChunkSize - 1)];
}

namespace {

// One step of waiting for other parties (fd_retire waiting for the waiters it woke). Returns
// false if the caller must not wait: a fiber that go::run is unwinding at exit (the parties it
// would wait for are parked fibers only go::run resumes, after this one). Never throws.
bool pause_for_others(int round) {
  if (current_g() != nullptr && !hooks_disabled()) {
    if (unwinding_fiber()) return false;
    try {
      if (round < 64)
        go::this_fiber::yield();
      else
        go::this_fiber::sleep_for(std::chrono::microseconds(50));
    } catch (...) {
      // go::run began unwinding this fiber while it yielded. close() cannot throw (callers
      // such as dup2 are noexcept): give up waiting; the fiber unwinds at its next park.
      return false;
    }
    return true;
  }
  if (round < 64)
    sched_yield();
  else
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  return true;
}

}  // namespace

FdRecord* fd_find(int fd) {
  if (fd < 0 || fd >= kMaxFds) return nullptr;
  FdRecord* chunk = g_chunks[fd >> kChunkBits].load(std::memory_order_acquire);
  return chunk != nullptr ? &chunk[fd & (kChunkSize - 1)] : nullptr;
}

void fd_retire(FdRecord* r) {
  // Fast path: nothing recorded (an fd no hook created, or a record already cleared).
  if (r->flags.load(std::memory_order_acquire) == 0 &&
      (r->life.load(std::memory_order_acquire) & kLowMask) == 0 &&
      r->pd.load(std::memory_order_acquire) == nullptr)
    return;
  PollDesc* pd;
  std::uint64_t v;
  {
    std::lock_guard lk(r->lock);
    v = r->life.fetch_or(kClosing, std::memory_order_acq_rel);  // step 2: no new references
    if ((v & kClosing) != 0) return;  // another party is retiring it (two racing closes)
    pd = r->pd.load(std::memory_order_relaxed);
    if (pd != nullptr) {
      poll_set_deadline(pd, PollMode::read, 1);  // in the past: wakes the waiters
      poll_set_deadline(pd, PollMode::write, 1);
    }
    for (TempPoll* t = r->temp_waiters; t != nullptr; t = t->next)
      poll_set_deadline(t->pd, PollMode::read, 1);
  }
  bool abandon = false;  // step 3, or the exception of step 4
  for (int round = 0; (r->life.load(std::memory_order_acquire) & kRefMask) != 0; ++round) {
    if (!pause_for_others(round)) {
      abandon = true;
      break;
    }
  }
  {
    std::lock_guard lk(r->lock);
    r->temp_waiters = nullptr;  // empty unless abandoned (their unlink then finds nothing)
    r->pd.store(nullptr, std::memory_order_relaxed);
    r->timeout[0].store(0, std::memory_order_relaxed);
    r->timeout[1].store(0, std::memory_order_relaxed);
    r->flags.store(0, std::memory_order_release);
    // The next generation, with no references, claims or closing: stale FdRefs go inert.
    r->life.store((static_cast<std::uint64_t>(gen_of(v) + 1)) << kGenShift,
                  std::memory_order_release);
  }
  if (pd != nullptr && !abandon) poll_close(pd);
}

void fd_created(int fd, FdKind kind, bool user_nonblock) {
  FdRecord* r = kind == FdKind::unknown ? fd_find(fd) : fd_get(fd);
  if (r == nullptr) return;
  fd_retire(r);  // whatever a file closed behind our back (fclose, a raw syscall) left
  if (kind == FdKind::unknown) return;
  r->flags.store(static_cast<std::uint32_t>(kind) | (user_nonblock ? kUserNonblock : 0),
                 std::memory_order_release);
}

void fd_duplicated(int oldfd, int newfd) {
  FdRecord* src = fd_find(oldfd);
  const std::uint32_t fl = src != nullptr ? src->flags.load(std::memory_order_acquire) : 0;
  const FdKind kind = kind_of(fl);
  if (kind == FdKind::unknown || kind == FdKind::other) {
    fd_created(newfd, FdKind::unknown, false);  // forget; a fiber classifies it when needed
    return;
  }
  fd_created(newfd, kind, (fl & kUserNonblock) != 0);
  if (FdRecord* dst = fd_find(newfd)) {
    dst->timeout[0].store(src->timeout[0].load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
    dst->timeout[1].store(src->timeout[1].load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
  }
}

std::uint32_t fd_classify(FdRecord* r, int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return 0;
  std::uint32_t want = static_cast<std::uint32_t>(FdKind::other);
  // Only sockets are adopted (an inherited listener, a socket some library made with a raw
  // syscall): an inherited pipe or tty shares its O_NONBLOCK flag with other processes (the
  // shell that started us), so we must not switch it. Nor stdin/stdout/stderr even if they are
  // sockets (journald's stream socket): children inherit them, and the runtime's fatal-error
  // reporter writes to stderr from a signal handler, where preparing an fd is not allowed.
  if (S_ISSOCK(st.st_mode) && fd > STDERR_FILENO) {
    const int fl = real_fcntl(fd, F_GETFL, 0);
    if (fl < 0) return 0;
    want = static_cast<std::uint32_t>(FdKind::socket) | ((fl & O_NONBLOCK) ? kUserNonblock : 0);
  }
  std::uint32_t expected = 0;
  if (!r->flags.compare_exchange_strong(expected, want, std::memory_order_acq_rel))
    return expected;  // recorded meanwhile (fd_created on another thread): that one is right
  return want;
}

Prepare fd_prepare(FdRecord* r, int fd, bool set_nonblock) {
  std::lock_guard lk(r->lock);
  if ((r->life.load(std::memory_order_relaxed) & kClosing) != 0) return Prepare::closed;
  const std::uint32_t fl = r->flags.load(std::memory_order_relaxed);
  if ((fl & kPrepared) != 0) return Prepare::ok;
  if ((fl & kUnpollable) != 0) return Prepare::unpollable;
  if (r->pd.load(std::memory_order_relaxed) == nullptr) {
    try {
      r->pd.store(poll_open(fd), std::memory_order_release);
    } catch (...) {
      // epoll refuses the fd (EPERM: a regular file; ENOSPC: max_user_watches) or memory ran
      // out: its blocking calls go to go::blocking's pool from now on.
      r->flags.fetch_or(kUnpollable, std::memory_order_acq_rel);
      return Prepare::unpollable;
    }
  }
  if (set_nonblock) {
    const int real = real_fcntl(fd, F_GETFL, 0);
    if (real < 0) return Prepare::closed;  // EBADF: closed behind our back
    if ((real & O_NONBLOCK) == 0 && real_fcntl(fd, F_SETFL, real | O_NONBLOCK) != 0)
      return Prepare::closed;
  }
  r->flags.fetch_or(kPrepared, std::memory_order_acq_rel);
  return Prepare::ok;
}

// ---------------------------------------------------------------------------------------------
// FdRef

FdRef::FdRef(FdRecord* r) : r_(r) {
  std::uint64_t v = r->life.load(std::memory_order_relaxed);
  do {
    if ((v & kClosing) != 0) return;
  } while (!r->life.compare_exchange_weak(v, v + 1, std::memory_order_acquire,
                                          std::memory_order_relaxed));
  gen_ = gen_of(v);
  ok_ = true;
}

FdRef::~FdRef() {
  if (!ok_) return;
  std::uint64_t v = r_->life.load(std::memory_order_relaxed);
  do {
    if (gen_of(v) != gen_) return;  // abandoned by fd_retire (step 4): nothing of ours is left
  } while (!r_->life.compare_exchange_weak(v, v - 1, std::memory_order_release,  // to the closer
                                           std::memory_order_relaxed));
}

namespace {

enum class Claim { ok, busy, gone };

Claim claim(FdRecord* r, std::uint32_t gen, PollMode mode) {
  const std::uint64_t bit = claim_bit(mode);
  std::uint64_t v = r->life.load(std::memory_order_relaxed);
  do {
    if (gen_of(v) != gen || (v & kClosing) != 0) return Claim::gone;
    if ((v & bit) != 0) return Claim::busy;
  } while (!r->life.compare_exchange_weak(v, v | bit, std::memory_order_acquire,
                                          std::memory_order_relaxed));
  return Claim::ok;
}

void unclaim(FdRecord* r, std::uint32_t gen, PollMode mode) {
  const std::uint64_t bit = claim_bit(mode);
  std::uint64_t v = r->life.load(std::memory_order_relaxed);
  do {
    if (gen_of(v) != gen) return;
  } while (!r->life.compare_exchange_weak(v, v & ~bit, std::memory_order_release,
                                          std::memory_order_relaxed));
}

// Caller holds r->lock or a reference: has fd_retire begun (or finished) for generation gen?
bool gone(const FdRecord* r, std::uint32_t gen) {
  const std::uint64_t v = r->life.load(std::memory_order_acquire);
  return gen_of(v) != gen || (v & kClosing) != 0;
}

}  // namespace

bool FdRef::claim_for_wait(PollMode mode) {
  return ok_ && go::detail::hooks::claim(r_, gen_, mode) == Claim::ok;
}

void FdRef::unclaim_for_wait(PollMode mode) {
  go::detail::hooks::unclaim(r_, gen_, mode);
}

bool FdRef::retired() const {
  return !ok_ || go::detail::hooks::gone(r_, gen_);
}

PollDesc* FdRef::pd() const {
  return r_->pd.load(std::memory_order_acquire);
}

PollStatus FdRef::wait(int fd, PollMode mode, std::int64_t deadline_ns) {
  switch (claim(r_, gen_, mode)) {
    case Claim::gone:
      return PollStatus::closed;
    case Claim::ok: {
      // The record's PollDesc. Deadlines change only under the lock, after checking closing:
      // fd_retire's past deadline must win (step 2).
      PollDesc* pd = r_->pd.load(std::memory_order_acquire);
      struct Release {
        FdRef* self;
        PollDesc* pd;
        PollMode mode;
        bool deadline;
        ~Release() {
          if (deadline) {
            std::lock_guard lk(self->r_->lock);
            if (!gone(self->r_, self->gen_)) poll_set_deadline(pd, mode, 0);
          }
          unclaim(self->r_, self->gen_, mode);
        }
      } release{this, pd, mode, false};
      if (pd == nullptr) return PollStatus::closed;  // not prepared: cannot happen
      if (deadline_ns != 0) {
        std::lock_guard lk(r_->lock);
        if (gone(r_, gen_)) return PollStatus::closed;
        poll_set_deadline(pd, mode, deadline_ns);
        release.deadline = true;
      }
      const PollStatus st = poll_wait(pd, mode);
      return gone(r_, gen_) ? PollStatus::closed : st;
    }
    case Claim::busy:
      break;
  }
  // Another fiber waits on the PollDesc in this direction: wait in a private epoll instance.
  TempPoll tp;
  if (!tp.open() || tp.add(fd, mode == PollMode::read ? EPOLLIN | EPOLLRDHUP : EPOLLOUT) != 0 ||
      !tp.arm()) {
    // Out of fds or memory: poll again a little later (the caller retries its syscall).
    go::this_fiber::sleep_for(std::chrono::milliseconds(1));
    return gone(r_, gen_) ? PollStatus::closed : PollStatus::ready;
  }
  {
    std::lock_guard lk(r_->lock);
    if (gone(r_, gen_)) return PollStatus::closed;
    if (deadline_ns != 0) {
      poll_set_deadline(tp.pd, PollMode::read, deadline_ns);
      tp.deadline_set = true;
    }
    tp.next = r_->temp_waiters;
    r_->temp_waiters = &tp;
  }
  struct Unlink {
    FdRecord* r;
    TempPoll* tp;
    ~Unlink() {
      std::lock_guard lk(r->lock);
      for (TempPoll** p = &r->temp_waiters; *p != nullptr; p = &(*p)->next) {
        if (*p == tp) {
          *p = tp->next;
          break;
        }
      }
    }
  } unlink{r_, &tp};
  const PollStatus st = tp.wait(0);
  return gone(r_, gen_) ? PollStatus::closed : st;
}

// ---------------------------------------------------------------------------------------------
// TempPoll

TempPoll::~TempPoll() {
  if (pd != nullptr) poll_close(pd);
  if (epfd >= 0) real_close(epfd);
}

bool TempPoll::open() {
  epfd = real_epoll_create1(EPOLL_CLOEXEC);
  return epfd >= 0;
}

int TempPoll::add(int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
  return errno;
}

void TempPoll::modify(int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  (void)epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

bool TempPoll::arm() {
  try {
    pd = poll_open(epfd);
    return true;
  } catch (...) {
    return false;
  }
}

PollStatus TempPoll::wait(std::int64_t deadline_ns) {
  if (deadline_ns != 0 && !deadline_set) {
    poll_set_deadline(pd, PollMode::read, deadline_ns);
    deadline_set = true;
  }
  return poll_wait(pd, PollMode::read);
}

}  // namespace go::detail::hooks
