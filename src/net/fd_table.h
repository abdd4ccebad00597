// The syscall hooks' per-fd records: what the hooks know about each file descriptor (is it a
// socket, pipe, eventfd or epoll set they manage; is it non-blocking in the user's eyes;
// SO_RCVTIMEO/SO_SNDTIMEO; its PollDesc) and the waits built on them. See hooks.cpp for the
// design; fd_table.cpp for the record's life cycle (create, wait, close) and why it is safe.
#pragma once

#include <atomic>
#include <cstdint>

#include "net/netpoll.h"
#include "sched/spinlock.h"

namespace go::detail::hooks {

// What a record describes. unknown: never seen (or closed since); other: seen, not ours (a
// regular file, a tty, an fd inherited from the parent that is not a socket): hooks pass it
// through. The rest are managed: a fiber that uses them blocking-style parks.
enum class FdKind : std::uint32_t { unknown = 0, other, socket, pipe, eventfd, epoll };

// Flag bits of FdRecord::flags beside the kind (low 3 bits).
constexpr std::uint32_t kKindMask = 0x7;
constexpr std::uint32_t kUserNonblock = 1u << 3;  // the user asked for O_NONBLOCK: never park
constexpr std::uint32_t kPrepared = 1u << 4;      // pd opened and O_NONBLOCK really set
constexpr std::uint32_t kUnpollable = 1u << 5;    // epoll refused it: blocking calls go to the pool

inline FdKind kind_of(std::uint32_t flags) {
  return static_cast<FdKind>(flags & kKindMask);
}
// Reads and writes on it may park (sockets, pipes, eventfds).
inline bool io_kind(std::uint32_t flags) {
  const FdKind k = kind_of(flags);
  return k == FdKind::socket || k == FdKind::pipe || k == FdKind::eventfd;
}

struct TempPoll;

// One per fd number, in a table that is never shrunk (fd_find is lock-free). A record describes
// the file its number refers to now; its life word's generation changes whenever that ends.
struct FdRecord {
  // Kind and flag bits. Written when the fd is created, adopted or closed, and by fcntl/ioctl
  // (the user's O_NONBLOCK view); read lock-free by every hook.
  std::atomic<std::uint32_t> flags{0};
  // The life word: generation (high 32 bits) | closing | read claim | write claim | references
  // (slow-path calls in flight). See fd_table.cpp.
  std::atomic<std::uint64_t> life{0};
  // The netpoller descriptor, opened lazily by the first fiber that has to wait. Written under
  // lock; read by the claimant of a direction (who holds a reference).
  std::atomic<PollDesc*> pd{nullptr};
  // SO_RCVTIMEO / SO_SNDTIMEO in ns, 0: none. Written by setsockopt; read by waiting calls.
  std::atomic<std::int64_t> timeout[2] = {0, 0};
  // Guards pd's creation and the O_NONBLOCK switch, deadline changes against closing, and
  // temp_waiters.
  SpinLock lock;
  TempPoll* temp_waiters = nullptr;  // guarded by lock: waiters that could not claim pd
};

// The record of fd; nullptr if fd is out of the table's range or no fd near it was recorded
// yet. Lock-free. Any thread.
FdRecord* fd_find(int fd);

// The record of fd, allocating its chunk of the table if needed; nullptr only if fd is out of
// range (or the kernel refused memory). Any thread.
FdRecord* fd_get(int fd);

// Records a new fd (socket, accept, pipe, eventfd, epoll_create, dup...): forgets whatever an
// earlier file with that number left (an fd closed behind our back), then describes this one.
// kind unknown just forgets. Any thread.
void fd_created(int fd, FdKind kind, bool user_nonblock);

// dup/dup2/dup3/F_DUPFD: newfd refers to oldfd's file; it inherits its description and
// timeouts (not its PollDesc: epoll registers an fd number, so newfd gets its own). Any thread.
void fd_duplicated(int oldfd, int newfd);

// A fiber saw an fd that no hook recorded: sockets above stderr are adopted (the user view is
// the real O_NONBLOCK flag), everything else is marked other. Returns the record's flags
// afterwards, 0 if fd is invalid or out of range. Any thread.
std::uint32_t fd_classify(FdRecord* r, int fd);

// close(), and the other ways an fd number ends (dup2 over it, fclose): wakes every fiber
// parked on the fd (their calls fail with EBADF), waits until they left, closes the PollDesc and
// clears the record. The caller closes the fd afterwards, never before (the PollDesc must leave
// epoll while the number is still ours). Never throws. Any thread.
void fd_retire(FdRecord* r);

// Makes a managed fd ready for fiber waits: opens its PollDesc and, if set_nonblock (not for
// epoll fds, which have nothing to switch), sets O_NONBLOCK for real. Once per record life
// (kPrepared); unpollable if epoll refuses the fd. Any thread.
enum class Prepare { ok, unpollable, closed };
Prepare fd_prepare(FdRecord* r, int fd, bool set_nonblock);

// A slow-path call's hold on the record (one generation): while it is held, fd_retire waits
// and the fd stays open. ok() false: the fd is being closed (the call fails with EBADF).
class FdRef {
 public:
  explicit FdRef(FdRecord* r);
  ~FdRef();
  FdRef(const FdRef&) = delete;
  FdRef& operator=(const FdRef&) = delete;
  bool ok() const { return ok_; }
  // Waits until fd may be ready for mode, deadline_ns (now_ns clock, 0: none) passes or the
  // fd is closed. Parks the calling fiber. Fiber only.
  PollStatus wait(int fd, PollMode mode, std::int64_t deadline_ns);
  // For a wait on several fds at once (poll_wait_any): claims `mode` of this fd for the
  // caller; false if another party waits on it or the fd is being closed. Released by
  // unclaim_for_wait(). Fiber only.
  bool claim_for_wait(PollMode mode);
  void unclaim_for_wait(PollMode mode);
  // fd_retire has begun for the generation this reference holds.
  bool retired() const;
  // The record's PollDesc (set once the record is prepared).
  PollDesc* pd() const;

 private:
  FdRecord* r_;
  std::uint32_t gen_ = 0;
  bool ok_ = false;
};

// A private epoll instance registered with the netpoller, for waits on several fds at once
// (poll, select) or on one fd whose PollDesc another fiber is already waiting on. Fiber only.
struct TempPoll {
  TempPoll() = default;
  ~TempPoll();
  TempPoll(const TempPoll&) = delete;
  TempPoll& operator=(const TempPoll&) = delete;

  // Creates the instance; false (errno set) if the kernel refused.
  bool open();
  // Adds fd for `events` (poll(2)'s bits, which are epoll's); returns 0 or the errno of
  // epoll_ctl (EEXIST: already added, use modify; EPERM: a regular file, always ready anyway).
  int add(int fd, std::uint32_t events);
  // Changes the events of an fd added before.
  void modify(int fd, std::uint32_t events);
  // Registers the instance with the netpoller; false if it refused.
  bool arm();
  // Parks until a member may be ready (ready) or deadline_ns passes (timeout; 0: none).
  // fd_retire of the record a wait is linked to cancels it by moving the deadline into the past.
  PollStatus wait(std::int64_t deadline_ns);

  int epfd = -1;              // the private instance (closed by the destructor)
  PollDesc* pd = nullptr;     // its registration with the netpoller
  TempPoll* next = nullptr;   // in FdRecord::temp_waiters, under that record's lock
  bool deadline_set = false;  // wait() must not set it again (FdRef::wait set it under lock)
};

}  // namespace go::detail::hooks
