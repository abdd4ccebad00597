// The netpoller: lets a fiber wait for a file descriptor to become readable or writable without
// blocking its M (Go's netpoll.go + netpoll_epoll.go). Everything in src/net that waits on an fd
// (go::net, the syscall hooks) goes through the four calls below; the scheduler calls netpoll().
//
// Usage, for an fd the caller has set O_NONBLOCK on:
//     PollDesc* pd = poll_open(fd);                 // registers fd with epoll, once
//     for (;;) {                                     // try the syscall first, wait only on EAGAIN
//       ssize_t n = ::read(fd, buf, len);
//       if (n >= 0 || errno != EAGAIN) break;
//       if (PollStatus st = poll_wait(pd, PollMode::read); st != PollStatus::ready) ... // error
//     }
//     poll_close(pd);                                // wakes waiters with `closed`; then
//     ::close(fd)
#pragma once

#include <cstddef>
#include <cstdint>

namespace go::detail {

struct PollDesc;  // one per registered fd; owned by the netpoller's cache (never freed)

enum class PollMode : std::uint8_t { read, write };

enum class PollStatus : std::uint8_t {
  ready,    // the fd may be ready for the mode (it may also be a spurious wake: retry the call)
  closed,   // poll_close() was called (before or during the wait)
  timeout,  // the mode's deadline has passed (before or during the wait)
};

// Registers `fd` (already O_NONBLOCK) with the runtime's epoll instance, edge-triggered for
// reading and writing. Throws std::system_error (with errno) if epoll refuses it (a regular
// file: EPERM). Works with or without a running go::run (the epoll instance is process-wide).
// Any thread.
PollDesc* poll_open(int fd);

// Unregisters pd's fd and wakes every party waiting on it with PollStatus::closed; later waits
// return closed at once. Call it before ::close(fd), so that no event of a reused fd number
// can reach pd's waiters. pd must not be used after this returns except by the parties it
// woke (their poll_wait returns closed). Any thread.
void poll_close(PollDesc* pd);

// Waits until pd's fd may be ready for `mode`, its deadline passes or it is closed. A fiber
// parks (its P runs other fibers); a plain thread blocks in poll(2). At most one party may wait
// per mode at a time (as in Go; callers serialise readers and writers). Any party.
PollStatus poll_wait(PollDesc* pd, PollMode mode);

// One (PollDesc, mode) of a poll_wait_any.
struct PollWaitItem {
  PollDesc* pd;
  PollMode mode;
};

// Parks the calling fiber until an event or a close comes for any of `items` (ready), or
// deadline_ns (now_ns clock; 0: none) passes (timeout). The caller must own every item's mode
// (no other party waits on it meanwhile: the hooks' claims ensure it) and re-checks its fds
// after the return, which may be spurious. Per-PollDesc deadlines are not looked at. What the
// hooked poll()/select() use to wait on several fds without a private epoll instance. Fiber
// only.
PollStatus poll_wait_any(const PollWaitItem* items, std::size_t n, std::int64_t deadline_ns);

// Sets the deadline of `mode` (now_ns clock, absolute): 0 clears it; a time in the past makes
// current and later waits return timeout at once. Wakes a waiter whose deadline moved into the
// past. Any thread.
void poll_set_deadline(PollDesc* pd, PollMode mode, std::int64_t deadline_ns);

// True once an event has said that the peer closed its side or the connection broke (EPOLLRDHUP,
// EPOLLHUP, EPOLLERR). Edge-triggered epoll says so once: a reader that has not yet read the end
// of the stream must not wait for another event after that. Any thread.
bool poll_hangup_seen(const PollDesc* pd);

// The fd pd stands for (-1 after poll_close). Any thread.
int poll_fd(const PollDesc* pd);

}  // namespace go::detail
