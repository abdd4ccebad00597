// NetFd: the life of one go::net socket, and the syscall-first I/O loops on it.
//
// The close protocol (Go's fdMutex, reduced to what go::net needs). The problem: close() may come
// from any fiber or thread while another party is inside read/write/accept on the same socket,
// possibly parked in the netpoller. Closing the fd right away would let the kernel hand its number
// to a new socket that the still-running call would then read; freeing the poll descriptor would
// do the same to the netpoller's waiter slot. So the fd and its PollDesc stay alive until the last
// call using them is out, and close() only wakes the calls that are in:
//   1. Every call holds a reference (state_ += kRef) for as long as it touches fd_ or pd_. It
//      takes it with a CAS that fails once kClosing is set, so no call starts after close().
//   2. close() takes a reference itself, sets kClosing and, under deadline_lock_, moves both
//      netpoller deadlines into the past: a parked reader/writer wakes with `timeout`, sees
//      kClosing, and throws "use of closed network connection". A call between its syscall's
//      EAGAIN and its poll_wait finds the past deadline there and returns at once as well.
//      2b. If a plain thread is waiting (in ppoll(2) on the fd, which a deadline change does
//      not interrupt), shutdown(SHUT_RDWR) wakes it; threads count themselves in and out
//      under deadline_lock_, so close() either sees one or it sees kClosing and does not wait. A
//      call whose syscall fails or sees EOF while kClosing is set reports the close, not the
//      symptom (EPIPE, EINVAL, 0) the shutdown caused.
//   3. Whoever drops the last reference of a closing NetFd (the close() itself when nobody else
//      was in) calls poll_close(pd) and then ::close(fd): exactly one party, as the reference
//      count reaches zero with kClosing set only once (step 1 keeps it from rising again).
//   4. The owner's release() (Conn/Listener destructor) closes, then sets kReleased; the memory
//      is freed by whoever sees zero references with kReleased set: release() itself, or the
//      last call on its way out. The party of step 3 copies fd_ and pd_ before dropping its
//      reference, so it never touches the object after the count reached zero.
// Why step 2 moves deadlines instead of calling poll_close at once: poll_close ends the life of
// the PollDesc (the netpoller may hand it to the next poll_open), and a reader that is between
// its EAGAIN and its poll_wait would then wait on somebody else's descriptor. Deadlines wake a
// waiter just as promptly and leave the descriptor ours until step 3.
// set_deadline holds deadline_lock_ and checks kClosing under it, so it can never move a
// deadline back into the future after close() has set it in the past (that would strand the
// woken-to-be reader).
//
// Datagram sockets (recv_from/send_to, go::net UDP). A stream has one reader and one writer
// (a second one is a bug, and busy_ reports it), but a UDP server typically answers from many
// fibers through one socket, and Go allows any number of parties on a PacketConn. Each
// datagram is one syscall, which the kernel keeps whole under concurrent callers, so the
// syscalls need no serialising at all; only the netpoller's one waiter slot per direction
// does. So a datagram call tries its syscall with no lock; on EAGAIN it takes its direction's
// gate_ (a go::Mutex: a fiber parks on it, a plain thread blocks), tries the syscall again
// and, only if that fails too, waits in the slot. No wake-up is lost: the gate's holder
// retries the syscall after each wake-up and after taking the gate, so any datagram (or
// buffer space) that appeared before its last EAGAIN is seen by that retry, and any that
// appears later raises a new edge for its wait. A party that took a datagram without the gate
// at most costs the holder one spurious wake-up. Deadlines and close() need nothing new: they
// are per direction, so when they wake the holder, each party queued on the gate finds the
// same passed deadline (or the close) as soon as it gets in.
// Rejected: busy_ for datagrams too (one reader, one writer), which would make the common
// "reply from the handler fiber" server a std::logic_error; and a gate taken for every call
// (Go's fdMutex), which serialises the syscalls of fibers that never have to wait.
#include "net/net_fd.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <system_error>

#include "go/net.h"
#include "sched/scheduler.h"

namespace go::detail {

namespace {

constexpr int kRead = static_cast<int>(PollMode::read);
constexpr int kWrite = static_cast<int>(PollMode::write);

}  // namespace

// Holds a reference (step 1) for the duration of one call. Throws the closed Error if closing.
class NetFd::Ref {
 public:
  Ref(NetFd& fd, const char* op) : fd_(fd) {
    if (!fd.acquire()) fd.throw_closed(op);
  }
  ~Ref() { fd_.unref(); }
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;

 private:
  NetFd& fd_;
};

// Marks one direction busy for the duration of one call (see busy_). Constructed after the Ref
// and destroyed before it, while the object is certainly alive.
class NetFd::Exclusive {
 public:
  Exclusive(NetFd& fd, PollMode mode, const char* op) : busy_(fd.busy_[static_cast<int>(mode)]) {
    if (busy_.exchange(true, std::memory_order_acquire))  // orders this call after the last
      throw std::logic_error(std::string("go::net: concurrent ") + op +
                             " calls on one socket (one reader and one writer at a time)");
  }
  ~Exclusive() { busy_.store(false, std::memory_order_release); }  // hands the socket on
  Exclusive(const Exclusive&) = delete;
  Exclusive& operator=(const Exclusive&) = delete;

 private:
  std::atomic<bool>& busy_;
};

NetFd* NetFd::open(int fd, const std::string& op) {
  PollDesc* pd;
  try {
    pd = poll_open(fd);
  } catch (const std::system_error& e) {
    ::close(fd);
    throw net::Error(e.code().value(), op + ": register with the netpoller");
  } catch (...) {
    ::close(fd);
    throw;
  }
  return new NetFd(fd, pd);
}

bool NetFd::acquire() noexcept {
  std::uint64_t v = state_.load(std::memory_order_relaxed);
  do {
    if (v & kClosing) return false;
    // acquire: this call sees what earlier calls did to the socket before they dropped theirs.
  } while (!state_.compare_exchange_weak(v, v + kRef, std::memory_order_acquire,
                                         std::memory_order_relaxed));
  return true;
}

void NetFd::unref() noexcept {
  const int fd = fd_;  // step 4: read before the count can reach zero
  PollDesc* const pd = pd_;
  const std::uint64_t v =
      state_.fetch_sub(kRef, std::memory_order_acq_rel) - kRef;  // publishes this call's work
  if (v >= kRef || !(v & kClosing)) return;
  poll_close(pd);  // step 3: nobody can wait on pd any more; then the number may be reused
  ::close(fd);
  if (v & kReleased) delete this;
}

void NetFd::close() noexcept {
  if (!acquire()) return;  // closed already
  bool shut = false;
  {
    std::lock_guard lk(deadline_lock_);
    if (!(state_.fetch_or(kClosing, std::memory_order_acq_rel) & kClosing)) {
      // Step 2: 1 ns after the clock's epoch is in the past for every waiter.
      poll_set_deadline(pd_, PollMode::read, 1);
      poll_set_deadline(pd_, PollMode::write, 1);
      shut = thread_waiters_ > 0;
    }
  }
  // Step 2b: a plain thread waits in ppoll(2) on the fd itself, which no deadline change
  // interrupts; a shutdown does (for a listener too: it stops listening). Only then, because
  // its FIN would turn an abort the user asked for (SO_LINGER 0: RST) into an orderly close.
  if (shut) ::shutdown(fd_, SHUT_RDWR);
  unref();
}

void NetFd::release() noexcept {
  close();
  const std::uint64_t old = state_.fetch_or(kReleased, std::memory_order_acq_rel);
  if (old < kRef) delete this;  // no call in progress; the fd is closed (or being closed, step 4)
}

void NetFd::set_deadline(bool read, bool write, std::int64_t deadline_ns) {
  Ref ref(*this, "set");
  std::lock_guard lk(deadline_lock_);
  if (closed()) throw_closed("set");
  if (read) {
    deadline_[kRead].store(deadline_ns, std::memory_order_relaxed);
    poll_set_deadline(pd_, PollMode::read, deadline_ns);
  }
  if (write) {
    deadline_[kWrite].store(deadline_ns, std::memory_order_relaxed);
    poll_set_deadline(pd_, PollMode::write, deadline_ns);
  }
}

std::string NetFd::context(const char* op, std::string_view to) const {
  std::string s = std::string(op) + " " + network + " ";
  const std::string_view peer = to.empty() ? std::string_view(remote) : to;
  if (local.empty()) return s.append(peer);
  if (peer.empty()) return s + local;
  return (s + local + "->").append(peer);
}

void NetFd::throw_closed(const char* op, std::string_view to) const {
  throw net::Error(EBADF, context(op, to), "use of closed network connection");
}

void NetFd::check_deadline(PollMode mode, const char* op, std::string_view to) const {
  const std::int64_t d = deadline_[static_cast<int>(mode)].load(std::memory_order_relaxed);
  if (d != 0 && now_ns() >= d) throw net::Timeout(context(op, to));
}

void NetFd::wait(PollMode mode, const char* op, std::string_view to) {
  PollStatus st;
  if (current_g() != nullptr) {
    st = poll_wait(pd_, mode);
  } else {
    {
      // Step 2b: registered before close() looks (it will shut the socket down, which wakes
      // ppoll even if we get there later), or we see kClosing here and do not wait.
      std::lock_guard lk(deadline_lock_);
      if (closed()) throw_closed(op, to);
      ++thread_waiters_;
    }
    st = poll_wait(pd_, mode);
    std::lock_guard lk(deadline_lock_);
    --thread_waiters_;
  }
  switch (st) {
    case PollStatus::ready:
      return;
    case PollStatus::closed:
      throw_closed(op, to);
    case PollStatus::timeout:
      if (closed()) throw_closed(op, to);  // step 2's wake-up, not a deadline of the user's
      throw net::Timeout(context(op, to));
  }
  fatal("go::net: poll_wait returned an unknown status");
}

std::size_t NetFd::read(std::span<std::byte> buf) {
  Ref ref(*this, "read");
  if (buf.empty()) return 0;
  Exclusive ex(*this, PollMode::read, "read");
  // A short read drained the socket; every byte that arrived since then raised an
  // edge-triggered event, which the netpoller has recorded in our slot (or will deliver). So
  // waiting first is safe and saves the EAGAIN round trip into the kernel that a blocking-style
  // request/response loop would otherwise pay on every request (the raw epoll server does not
  // pay it either: it reads only when epoll says so). A spurious readiness just means one
  // EAGAIN and another wait, as below. Not after a hang-up: the end of the stream (or an
  // error) may be waiting behind the data we read, and its one event is already spent.
  if (read_drained_ && current_g() != nullptr && !poll_hangup_seen(pd_)) {
    read_drained_ = false;
    check_deadline(PollMode::read, "read");
    if (closed()) throw_closed("read");
    wait(PollMode::read, "read");
  }
  for (;;) {
    check_deadline(PollMode::read, "read");
    const ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n > 0) {
      read_drained_ = static_cast<std::size_t>(n) < buf.size();
      return static_cast<std::size_t>(n);
    }
    if (n == 0) {
      if (closed()) throw_closed("read");  // step 2's shutdown, not the peer's
      return 0;
    }
    if (errno == EINTR) continue;
    if (closed()) throw_closed("read");
    if (errno != EAGAIN) throw net::Error(errno, context("read") + ": read");
    wait(PollMode::read, "read");
  }
}

void NetFd::write(std::span<const std::byte> buf) {
  Ref ref(*this, "write");
  if (buf.empty()) return;
  Exclusive ex(*this, PollMode::write, "write");
  while (!buf.empty()) {
    check_deadline(PollMode::write, "write");
    // MSG_NOSIGNAL: a peer that has gone away must give EPIPE to this caller, not SIGPIPE to
    // the whole process.
    const ssize_t n = ::send(fd_, buf.data(), buf.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      buf = buf.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (closed()) throw_closed("write");
    if (errno != EAGAIN) throw net::Error(errno, context("write") + ": write");
    wait(PollMode::write, "write");
  }
}

int NetFd::accept(sockaddr* peer, socklen_t* peer_len) {
  Ref ref(*this, "accept");
  Exclusive ex(*this, PollMode::read, "accept");
  for (;;) {
    check_deadline(PollMode::read, "accept");
    socklen_t len = *peer_len;
    const int fd = ::accept4(fd_, peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      *peer_len = len;
      return fd;
    }
    if (closed()) throw_closed("accept");
    switch (errno) {
      case EINTR:
      case ECONNABORTED:  // the peer gave up while queued: not the listener's failure (as Go)
        continue;
      case EAGAIN:
        wait(PollMode::read, "accept");
        continue;
      default:
        throw net::Error(errno, context("accept") + ": accept");
    }
  }
}

std::size_t NetFd::recv_from(std::span<std::byte> buf, sockaddr* from, socklen_t* from_len) {
  Ref ref(*this, "read");
  // Not held for the syscall, only for waiting ("Datagram sockets" above). Declared after the
  // Ref: released before the reference is dropped.
  std::unique_lock gate(gate_[kRead], std::defer_lock);
  for (;;) {
    check_deadline(PollMode::read, "read");
    socklen_t len = from_len != nullptr ? *from_len : 0;
    // An empty buf still takes one datagram off the queue, as in Go; an empty datagram is 0.
    const ssize_t n =
        ::recvfrom(fd_, buf.data(), buf.size(), 0, from, from != nullptr ? &len : nullptr);
    if (n >= 0) {
      // 0 is also what a shut-down socket returns: step 2b's shutdown is not an empty datagram.
      if (n == 0 && closed()) throw_closed("read");
      if (from_len != nullptr) *from_len = len;
      return static_cast<std::size_t>(n);
    }
    if (errno == EINTR) continue;
    if (closed()) throw_closed("read");
    // ECONNREFUSED and the like: the ICMP error of an earlier datagram on a connected socket.
    if (errno != EAGAIN) throw net::Error(errno, context("read") + ": recvfrom");
    if (!gate.owns_lock()) {
      gate.lock();
      continue;  // the syscall again before waiting: what arrived meanwhile raised no new edge
    }
    wait(PollMode::read, "read");
  }
}

void NetFd::send_to(std::span<const std::byte> buf, const sockaddr* to, socklen_t to_len,
                    std::string_view target) {
  Ref ref(*this, "write");
  std::unique_lock gate(gate_[kWrite], std::defer_lock);  // as in recv_from
  for (;;) {
    check_deadline(PollMode::write, "write", target);
    const ssize_t n = ::sendto(fd_, buf.data(), buf.size(), MSG_NOSIGNAL, to, to_len);
    if (n >= 0) {
      // A datagram socket sends all or nothing; anything else would be a kernel we do not know.
      if (static_cast<std::size_t>(n) != buf.size())
        throw net::Error(
            EIO, context("write", target) + ": sendto",
            "short write (" + std::to_string(n) + " of " + std::to_string(buf.size()) + " bytes)");
      return;
    }
    if (errno == EINTR) continue;
    if (closed()) throw_closed("write", target);
    // EMSGSIZE (over 65,507 bytes on IPv4), EAFNOSUPPORT (an IPv6 target on an IPv4 socket),
    // ECONNREFUSED (an earlier datagram's ICMP error on a connected socket), ...
    if (errno != EAGAIN) throw net::Error(errno, context("write", target) + ": sendto");
    if (!gate.owns_lock()) {
      gate.lock();
      continue;
    }
    wait(PollMode::write, "write", target);
  }
}

int NetFd::wait_connected() {
  Ref ref(*this, "dial");
  Exclusive ex(*this, PollMode::write, "dial");
  for (;;) {
    check_deadline(PollMode::write, "dial");
    wait(PollMode::write, "dial");
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    if (err == EINPROGRESS || err == EALREADY || err == EINTR) continue;
    if (err != 0) return err;
    // SO_ERROR 0 may also mean "not done yet" after a spurious wake-up; a peer name settles it
    // (Go checks the same way).
    sockaddr_storage ss;
    socklen_t ss_len = sizeof ss;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &ss_len) == 0) return 0;
    if (errno != ENOTCONN) return errno;
  }
}

}  // namespace go::detail
