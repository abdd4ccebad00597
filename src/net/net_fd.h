// NetFd: one socket of go::net with its poll descriptor, deadlines and close protocol (Go's
// netFD + fdMutex, simplified). See the design notes at the top of net_fd.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include <sys/socket.h>

#include "net/netpoll.h"
#include "sched/spinlock.h"

namespace go::detail {

class NetFd {
 public:
  // Takes ownership of `fd` (a non-blocking socket) and registers it with the netpoller. On
  // failure closes fd and throws go::net::Error naming `op` ("accept tcp 127.0.0.1:80").
  static NetFd* open(int fd, const std::string& op);

  // The owner (a Conn or Listener) is gone: closes, and frees this object once no call uses it.
  // The pointer must not be used by the owner afterwards. Any thread.
  void release() noexcept;

  // Marks the socket closed and wakes the parties waiting on it; the fd itself is closed by
  // whichever party stops using it last. Idempotent. Any thread.
  void close() noexcept;
  bool closed() const noexcept { return (state_.load(std::memory_order_acquire) & kClosing) != 0; }

  // Sets the deadline of the read and/or write direction (now_ns clock; 0 clears). Throws
  // go::net::Error(EBADF) once closed. Any thread.
  void set_deadline(bool read, bool write, std::int64_t deadline_ns);

  // Conn operations, with Conn's semantics (go/net.h). One reader and one writer at a time.
  std::size_t read(std::span<std::byte> buf);
  void write(std::span<const std::byte> buf);
  // Listener::accept's syscall loop: returns a connected non-blocking fd and fills peer/len.
  int accept(sockaddr* peer, socklen_t* peer_len);
  // Waits for a non-blocking connect in progress to finish; returns its errno (0: connected).
  // Throws Timeout when the write deadline passes, Error when closed.
  int wait_connected();

  int fd() const noexcept { return closed() ? -1 : fd_; }
  // The addresses, as go::net formats them. Set once, before the NetFd is shared.
  std::string local;
  std::string remote;  // empty for a listener

  // "read tcp 127.0.0.1:4000->127.0.0.1:53124", as error messages begin.
  std::string context(const char* op) const;

 private:
  explicit NetFd(int fd, PollDesc* pd) noexcept : fd_(fd), pd_(pd) {}
  ~NetFd() = default;

  // state_: bit 0 closing, bit 1 released (the owner is gone), bits 2..: calls in progress.
  static constexpr std::uint64_t kClosing = 1;
  static constexpr std::uint64_t kReleased = 2;
  static constexpr std::uint64_t kRef = 4;

  class Ref;
  class Exclusive;
  bool acquire() noexcept;
  void unref() noexcept;
  [[noreturn]] void throw_closed(const char* op) const;
  // Waits on the netpoller for `mode`; throws Timeout or the closed Error instead of returning.
  void wait(PollMode mode, const char* op);
  // Throws Timeout if the mode's deadline has passed: a deadline fails every call after it, even
  // one that would not have had to wait (Go's semantics).
  void check_deadline(PollMode mode, const char* op) const;

  std::atomic<std::uint64_t> state_{0};
  const int fd_;
  PollDesc* const pd_;
  // Orders close() against set_deadline() (a deadline set concurrently with close() must not
  // move the "past" deadline close() uses to wake waiters back into the future) and against
  // plain threads starting to wait (thread_waiters_).
  SpinLock deadline_lock_;
  // The deadlines as last set (0: none); written under deadline_lock_, read by the I/O paths.
  std::atomic<std::int64_t> deadline_[2] = {0, 0};
  // Set while a read (or accept) / a write (or connect) is in progress: catches a second
  // concurrent one, which the netpoller's single waiter slot per direction cannot serve.
  std::atomic<bool> busy_[2] = {false, false};
  // Plain threads (not fibers) inside poll_wait on this socket: close() must shut it down to
  // wake them (net_fd.cpp, step 2b). Guarded by deadline_lock_.
  int thread_waiters_ = 0;
};

}  // namespace go::detail
