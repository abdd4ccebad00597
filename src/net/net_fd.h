// NetFd: one socket of go::net with its poll descriptor, deadlines and close protocol (Go's
// netFD + fdMutex, simplified). See the design notes at the top of net_fd.cpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <sys/socket.h>

#include "go/mutex.h"
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

  // Datagram operations (go::net UDP): receive one datagram into buf (truncated to it; the
  // size copied is returned, 0 for an empty datagram) and its sender into from/from_len (both
  // null: not wanted); send buf as one datagram to `to` (null: the connected peer), `target`
  // being its text for error messages. Unlike the stream calls above, any number of parties
  // may call these at once: see "Datagram sockets" at the top of net_fd.cpp.
  std::size_t recv_from(std::span<std::byte> buf, sockaddr* from, socklen_t* from_len);
  void send_to(std::span<const std::byte> buf, const sockaddr* to, socklen_t to_len,
               std::string_view target);

  int fd() const noexcept { return closed() ? -1 : fd_; }
  // The addresses, as go::net formats them. Set once, before the NetFd is shared.
  std::string local;
  std::string remote;  // empty for a listener and an unconnected UDP socket
  // "tcp" or "udp", as error messages name the network. Set once, before the NetFd is shared.
  const char* network = "tcp";
  // The socket's address family (AF_INET, AF_INET6): what write_to maps its target to. Set
  // once, before the NetFd is shared; AF_UNSPEC where nobody needs it.
  int family = AF_UNSPEC;

  // "read tcp 127.0.0.1:4000->127.0.0.1:53124", as error messages begin; `to` (when not
  // empty) stands in for the remote address: "write udp 127.0.0.1:4000->10.0.0.1:53".
  std::string context(const char* op, std::string_view to = {}) const;

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
  // `to`, here and below, is context()'s: the target of a datagram, for the message.
  [[noreturn]] void throw_closed(const char* op, std::string_view to = {}) const;
  // Waits on the netpoller for `mode`; throws Timeout or the closed Error instead of returning.
  void wait(PollMode mode, const char* op, std::string_view to = {});
  // Throws Timeout if the mode's deadline has passed: a deadline fails every call after it, even
  // one that would not have had to wait (Go's semantics).
  void check_deadline(PollMode mode, const char* op, std::string_view to = {}) const;

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
  // Datagram calls take the gate of their direction before they wait, and only then: many
  // parties may send or receive at once, one at a time may wait in the netpoller's single
  // waiter slot (net_fd.cpp, "Datagram sockets"). Unused by the stream calls (busy_ serves).
  Mutex gate_[2];
  // Plain threads (not fibers) inside poll_wait on this socket: close() must shut it down to
  // wake them (net_fd.cpp, step 2b). Guarded by deadline_lock_.
  int thread_waiters_ = 0;
  // The last read returned less than asked: the socket is very likely drained, so the next
  // read waits for the netpoller first instead of paying for a read that fails with EAGAIN
  // (net_fd.cpp, NetFd::read). Touched only by the one reader (busy_[read]).
  bool read_drained_ = false;
};

}  // namespace go::detail
