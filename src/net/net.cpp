// go::net: TCP listen/dial/accept/read/write that park only the calling fiber (Go's net package).
//
// The problem. A server written one fiber per connection, blocking-style, must cost no OS thread
// per waiting connection, must be woken by the kernel's readiness and by deadlines and close()
// from other fibers, and must turn every failure into an exception a user can act on.
//
// The approach. Every socket is non-blocking (SOCK_NONBLOCK | SOCK_CLOEXEC from birth, so no
// fcntl and no fd leaks into exec'd children) and registered once with the netpoller
// (src/net/netpoll.h). Each operation runs its syscall first and waits in poll_wait only on
// EAGAIN, then retries: the common case (data already there, buffer space free) is one syscall
// and no park. Deadlines are the netpoller's (poll_set_deadline), so a waiting call wakes when
// one passes; we also check them before each syscall, because Go's rule is that a passed
// deadline fails every call, not only those that would wait. dial's timeout is a write deadline
// on the connecting socket, cleared once it connects. Names are resolved on the go::blocking
// pool (addr.cpp); literal addresses never leave the fiber. Writes use send(MSG_NOSIGNAL): a
// vanished peer is an EPIPE for the writer, never a SIGPIPE for the process. Dialed and accepted
// connections get TCP_NODELAY, as in Go (request/response traffic must not wait for Nagle).
//
// Lifetime. Conn and Listener are move-only handles on a heap NetFd (net_fd.cpp), which owns the
// fd and its PollDesc and implements close(): a close() from another fiber wakes a reader parked
// in the netpoller, which throws "use of closed network connection" (EBADF); the fd is closed
// only once no call is inside it any more, so its number is never reused under a running call.
// The handle's destructor closes and hands the NetFd over; the last call out frees it.
//
// Rejected alternatives:
//  * Blocking sockets with the syscall hooks doing the parking: every operation would pay the
//    hook's fd-table lookup and deadlines would need SO_RCVTIMEO emulation; go::net is the layer
//    the hooks should be thin over, not the other way round.
//  * Closing the fd in close() directly (what a naive wrapper does): a reader still between its
//    EAGAIN and its poll_wait would then wait on a recycled fd number and PollDesc.
//  * Serialising readers with a fiber mutex per Conn (Go's fdMutex does): one reader and one
//    writer is what every protocol loop does, and a second concurrent reader is a bug we report
//    (std::logic_error) rather than a pattern we pay a lock for on every call.
//  * Returning error codes (std::expected): API.md specifies exceptions, like the rest of gocxx.
//
// Invariants:
//  * A NetFd's fd is open and registered for as long as any call holds a reference to it.
//  * At most one party waits per direction on a PollDesc (checked: busy_ in NetFd).
//  * An Error's message starts "<op> tcp <address>", and its code() is the errno (EBADF for a
//    closed connection, ETIMEDOUT for a passed deadline, EINVAL for a malformed address).
#include "go/net.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>

#include "net/addr.h"
#include "net/net_fd.h"
#include "sched/scheduler.h"

namespace go::net {

namespace {

// "connection refused (ECONNREFUSED)": strerror in Go's lower case, and the errno's name.
std::string describe(int err) {
  char buf[128];
  std::string text = strerror_r(err, buf, sizeof buf);  // the GNU strerror_r: returns the text
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  if (const char* name = strerrorname_np(err)) {
    text += " (";
    text += name;
    text += ')';
  }
  return text;
}

std::string join(const std::string& context, const std::string& description) {
  return context.empty() ? description : context + ": " + description;
}

// now_ns clock (steady_clock's epoch) for a deadline: 0 for time_point{} (none), at least 1 for
// any time before the epoch (already passed).
std::int64_t deadline_ns(std::chrono::steady_clock::time_point t) {
  if (t == std::chrono::steady_clock::time_point{}) return 0;
  const std::int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns > 0 ? ns : 1;
}

[[noreturn]] void throw_no_socket(const char* op) {
  throw Error(EBADF, std::string(op) + " tcp", "use of closed network connection");
}

void set_nodelay(int fd) {
  const int one = 1;
  // A failure here (the peer already reset the connection) surfaces on the first read/write.
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Owns a NetFd until it is handed to a Conn or Listener (release() on the way out of a throw).
struct Pending {
  detail::NetFd* fd;
  ~Pending() {
    if (fd != nullptr) fd->release();
  }
  detail::NetFd* take() { return std::exchange(fd, nullptr); }
};

// One connect attempt to `to`; the connected NetFd, or throws (Timeout once deadline passes).
detail::NetFd* dial_one(const detail::SockAddr& to, std::int64_t deadline) {
  const std::string remote = detail::format_address(to.get(), to.len);
  const std::string context = "dial tcp " + remote;
  const int fd = ::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) throw Error(errno, context + ": socket");
  Pending p{detail::NetFd::open(fd, context)};
  p.fd->remote = remote;
  if (deadline != 0) p.fd->set_deadline(false, true, deadline);
  if (::connect(fd, to.get(), to.len) != 0) {
    int err = errno;
    // EINTR: the connect goes on asynchronously, as after EINPROGRESS (POSIX; Go does the same).
    if (err == EINPROGRESS || err == EINTR || err == EALREADY) err = p.fd->wait_connected();
    if (err != 0) throw Error(err, context + ": connect");
  }
  if (deadline != 0) p.fd->set_deadline(false, true, 0);
  set_nodelay(fd);
  p.fd->local = detail::local_address_of(fd);
  return p.take();
}

}  // namespace

Error::Error(int err, const std::string& context) : Error(err, context, describe(err)) {}

Error::Error(int err, const std::string& context, const std::string& description)
    : std::system_error(std::error_code(err, std::generic_category())),
      message_(join(context, description)) {}

Timeout::Timeout(const std::string& context) : Error(ETIMEDOUT, context, "i/o timeout") {}

// ---- Conn

Conn& Conn::operator=(Conn&& other) noexcept {
  if (this != &other) {
    if (fd_ != nullptr) fd_->release();
    fd_ = std::exchange(other.fd_, nullptr);
  }
  return *this;
}

Conn::~Conn() {
  if (fd_ != nullptr) fd_->release();
}

std::size_t Conn::read(std::span<std::byte> buf) {
  if (fd_ == nullptr) throw_no_socket("read");
  return fd_->read(buf);
}

std::size_t Conn::read_full(std::span<std::byte> buf) {
  std::size_t done = 0;
  while (done < buf.size()) {
    const std::size_t n = read(buf.subspan(done));
    if (n == 0) break;
    done += n;
  }
  return done;
}

void Conn::write(std::span<const std::byte> buf) {
  if (fd_ == nullptr) throw_no_socket("write");
  fd_->write(buf);
}

void Conn::set_deadline(time_point t) {
  if (fd_ == nullptr) throw_no_socket("set");
  fd_->set_deadline(true, true, deadline_ns(t));
}

void Conn::set_read_deadline(time_point t) {
  if (fd_ == nullptr) throw_no_socket("set");
  fd_->set_deadline(true, false, deadline_ns(t));
}

void Conn::set_write_deadline(time_point t) {
  if (fd_ == nullptr) throw_no_socket("set");
  fd_->set_deadline(false, true, deadline_ns(t));
}

void Conn::close() noexcept {
  if (fd_ != nullptr) fd_->close();
}

std::string Conn::local_address() const {
  return fd_ != nullptr ? fd_->local : std::string();
}

std::string Conn::remote_address() const {
  return fd_ != nullptr ? fd_->remote : std::string();
}

int Conn::fd() const noexcept {
  return fd_ != nullptr ? fd_->fd() : -1;
}

// ---- Listener

Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    if (fd_ != nullptr) fd_->release();
    fd_ = std::exchange(other.fd_, nullptr);
  }
  return *this;
}

Listener::~Listener() {
  if (fd_ != nullptr) fd_->release();
}

Conn Listener::accept() {
  if (fd_ == nullptr) throw_no_socket("accept");
  sockaddr_storage peer;
  socklen_t len = sizeof peer;
  const int fd = fd_->accept(reinterpret_cast<sockaddr*>(&peer), &len);
  set_nodelay(fd);
  Pending p{detail::NetFd::open(fd, "accept tcp " + fd_->local)};
  p.fd->local = detail::local_address_of(fd);
  p.fd->remote = detail::format_address(reinterpret_cast<const sockaddr*>(&peer), len);
  return Conn(p.take());
}

std::string Listener::address() const {
  return fd_ != nullptr ? fd_->local : std::string();
}

void Listener::close() noexcept {
  if (fd_ != nullptr) fd_->close();
}

int Listener::fd() const noexcept {
  return fd_ != nullptr ? fd_->fd() : -1;
}

// ---- listen, dial

Listener listen(std::string_view address, int backlog) {
  const std::string context = "listen tcp " + std::string(address);
  const detail::HostPort hp = detail::split_host_port(address, context);
  const std::vector<detail::SockAddr> addrs = detail::resolve(hp, /*passive=*/true, context);
  const bool any = hp.host.empty();

  int fd = -1;
  const detail::SockAddr* at = nullptr;
  for (const detail::SockAddr& a : addrs) {
    fd = ::socket(a.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    at = &a;
    // ":port" on a kernel without IPv6 falls back to 0.0.0.0 (the next wildcard).
    if (fd >= 0 || !any || errno != EAFNOSUPPORT) break;
  }
  if (fd < 0) throw Error(errno, context + ": socket");
  Pending p{detail::NetFd::open(fd, context)};
  const int one = 1;
  const int zero = 0;
  // SO_REUSEADDR: a restarted server can bind its port while old connections sit in TIME_WAIT.
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    throw Error(errno, context + ": setsockopt");
  // ":port" means every address, IPv4 included, on the one IPv6 socket (as in Go).
  if (any && at->family() == AF_INET6 &&
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0)
    throw Error(errno, context + ": setsockopt");
  if (::bind(fd, at->get(), at->len) != 0) throw Error(errno, context + ": bind");
  if (::listen(fd, backlog > 0 ? backlog : SOMAXCONN) != 0)
    throw Error(errno, context + ": listen");
  p.fd->local = detail::local_address_of(fd);
  return Listener(p.take());
}

Conn dial(std::string_view address, std::chrono::nanoseconds timeout) {
  const std::string context = "dial tcp " + std::string(address);
  const std::int64_t deadline = timeout.count() > 0 ? detail::now_ns() + timeout.count() : 0;
  const detail::HostPort hp = detail::split_host_port(address, context);
  const std::vector<detail::SockAddr> addrs = detail::resolve(hp, /*passive=*/false, context);
  // Each address in turn, as Go does without its dual-stack racing; the first error is the one
  // reported (the later ones are usually the same refusal on another family).
  std::exception_ptr first;
  for (const detail::SockAddr& a : addrs) {
    try {
      return Conn(dial_one(a, deadline));
    } catch (const Timeout&) {
      throw;  // the whole dial's time is up
    } catch (const Error&) {
      if (!first) first = std::current_exception();
    }
  }
  std::rethrow_exception(first);
}

}  // namespace go::net
