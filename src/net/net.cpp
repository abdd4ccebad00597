// go::net: TCP listen/dial/accept/read/write and UDP datagrams that park only the calling fiber
// (Go's net package).
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
// UDP. A PacketConn (listen_udp) and a UdpConn (dial_udp) are the same NetFd on a SOCK_DGRAM
// socket, with the network "udp" in its messages; the close and deadline protocol is TCP's.
// Datagram I/O differs from stream I/O in three ways, all handled in NetFd::recv_from/send_to:
// a read returns one datagram (0 bytes is an empty datagram, not EOF), a write is one datagram
// sent whole or not at all, and any number of fibers may read and write at once (net_fd.cpp,
// "Datagram sockets": only waiting is serialised). write_to takes a text address, as the rest
// of go::net does: a literal costs an inet_pton, a name a lookup on the go::blocking pool per
// datagram (Go's WriteTo takes a resolved net.Addr instead; callers with names resolve once).
// On a dual-stack socket (":0", bound to [::]) an IPv4 target is sent to its IPv4-mapped IPv6
// form, and a mapped sender reads back as plain IPv4 (format_address), so that the `from` of
// read_from can always be handed to write_to.
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
//  * At most one party waits per direction on a PollDesc (streams: checked by busy_ in NetFd;
//    datagrams: ensured by NetFd's gate_).
//  * An Error's message starts "<op> <tcp|udp> <address>", and its code() is the errno (EBADF
//    for a closed connection, ETIMEDOUT for a passed deadline, EINVAL for a malformed address).
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

[[noreturn]] void throw_no_socket(const char* op, const char* network = "tcp") {
  throw Error(EBADF, std::string(op) + " " + network, "use of closed network connection");
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

// A socket of `type` (SOCK_STREAM, SOCK_DGRAM) bound to the first usable address of a listen
// or listen_udp address, registered with the netpoller; its NetFd is named `network`.
// SO_REUSEADDR when `reuse_address` (TCP listeners only). Throws Error (context: "listen tcp
// <address>").
detail::NetFd* bound_socket(std::string_view address, int type, const char* network,
                            bool reuse_address, const std::string& context) {
  const detail::HostPort hp = detail::split_host_port(address, context);
  const std::vector<detail::SockAddr> addrs = detail::resolve(hp, /*passive=*/true, context);
  const bool any = hp.host.empty();
  const int protocol = type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;

  int fd = -1;
  const detail::SockAddr* at = nullptr;
  for (const detail::SockAddr& a : addrs) {
    fd = ::socket(a.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    at = &a;
    // ":port" on a kernel without IPv6 falls back to 0.0.0.0 (the next wildcard).
    if (fd >= 0 || !any || errno != EAFNOSUPPORT) break;
  }
  if (fd < 0) throw Error(errno, context + ": socket");
  Pending p{detail::NetFd::open(fd, context)};
  p.fd->network = network;
  p.fd->family = at->family();
  const int one = 1;
  const int zero = 0;
  // SO_REUSEADDR: a restarted server can bind its port while old connections sit in TIME_WAIT.
  if (reuse_address && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    throw Error(errno, context + ": setsockopt");
  // ":port" means every address, IPv4 included, on the one IPv6 socket (as in Go).
  if (any && at->family() == AF_INET6 &&
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0)
    throw Error(errno, context + ": setsockopt");
  if (::bind(fd, at->get(), at->len) != 0) throw Error(errno, context + ": bind");
  return p.take();
}

// The address among addrs that a socket of `family` can send to: the first of its family;
// on an IPv6 socket, else the first IPv4 one in its mapped form (::ffff:a.b.c.d); else the
// first, for the kernel to refuse with an error that names the mismatch (EAFNOSUPPORT).
detail::SockAddr pick_target(const std::vector<detail::SockAddr>& addrs, int family) {
  for (const detail::SockAddr& a : addrs)
    if (a.family() == family) return a;
  if (family == AF_INET6) {
    for (const detail::SockAddr& a : addrs) {
      if (a.family() != AF_INET) continue;
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a.storage);
      detail::SockAddr m;
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&m.storage);
      v6->sin6_family = AF_INET6;
      v6->sin6_port = v4->sin_port;
      v6->sin6_addr.s6_addr[10] = 0xff;
      v6->sin6_addr.s6_addr[11] = 0xff;
      std::memcpy(&v6->sin6_addr.s6_addr[12], &v4->sin_addr, 4);
      m.len = sizeof(sockaddr_in6);
      return m;
    }
  }
  return addrs.front();
}

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
  Pending p{bound_socket(address, SOCK_STREAM, "tcp", /*reuse_address=*/true, context)};
  const int fd = p.fd->fd();
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

// ---- PacketConn

PacketConn& PacketConn::operator=(PacketConn&& other) noexcept {
  if (this != &other) {
    if (fd_ != nullptr) fd_->release();
    fd_ = std::exchange(other.fd_, nullptr);
  }
  return *this;
}

PacketConn::~PacketConn() {
  if (fd_ != nullptr) fd_->release();
}

std::size_t PacketConn::read_from(std::span<std::byte> buf, std::string* from) {
  if (fd_ == nullptr) throw_no_socket("read", "udp");
  if (from == nullptr) return fd_->recv_from(buf, nullptr, nullptr);
  sockaddr_storage peer;
  socklen_t len = sizeof peer;
  const std::size_t n = fd_->recv_from(buf, reinterpret_cast<sockaddr*>(&peer), &len);
  *from = detail::format_address(reinterpret_cast<const sockaddr*>(&peer), len);
  return n;
}

void PacketConn::write_to(std::span<const std::byte> buf, std::string_view address) {
  if (fd_ == nullptr) throw_no_socket("write", "udp");
  const std::string context = fd_->context("write", address);
  const detail::HostPort hp = detail::split_host_port(address, context);
  const detail::SockAddr to =
      pick_target(detail::resolve(hp, /*passive=*/false, context), fd_->family);
  fd_->send_to(buf, to.get(), to.len, address);
}

void PacketConn::set_deadline(time_point t) {
  if (fd_ == nullptr) throw_no_socket("set", "udp");
  fd_->set_deadline(true, true, deadline_ns(t));
}

void PacketConn::set_read_deadline(time_point t) {
  if (fd_ == nullptr) throw_no_socket("set", "udp");
  fd_->set_deadline(true, false, deadline_ns(t));
}

void PacketConn::set_write_deadline(time_point t) {
  if (fd_ == nullptr) throw_no_socket("set", "udp");
  fd_->set_deadline(false, true, deadline_ns(t));
}

void PacketConn::close() noexcept {
  if (fd_ != nullptr) fd_->close();
}

std::string PacketConn::local_address() const {
  return fd_ != nullptr ? fd_->local : std::string();
}

int PacketConn::fd() const noexcept {
  return fd_ != nullptr ? fd_->fd() : -1;
}

// ---- UdpConn

UdpConn& UdpConn::operator=(UdpConn&& other) noexcept {
  if (this != &other) {
    if (fd_ != nullptr) fd_->release();
    fd_ = std::exchange(other.fd_, nullptr);
  }
  return *this;
}

UdpConn::~UdpConn() {
  if (fd_ != nullptr) fd_->release();
}

std::size_t UdpConn::read(std::span<std::byte> buf) {
  if (fd_ == nullptr) throw_no_socket("read", "udp");
  return fd_->recv_from(buf, nullptr, nullptr);
}

void UdpConn::write(std::span<const std::byte> buf) {
  if (fd_ == nullptr) throw_no_socket("write", "udp");
  fd_->send_to(buf, nullptr, 0, {});
}

void UdpConn::set_deadline(time_point t) {
  if (fd_ == nullptr) throw_no_socket("set", "udp");
  fd_->set_deadline(true, true, deadline_ns(t));
}

void UdpConn::set_read_deadline(time_point t) {
  if (fd_ == nullptr) throw_no_socket("set", "udp");
  fd_->set_deadline(true, false, deadline_ns(t));
}

void UdpConn::set_write_deadline(time_point t) {
  if (fd_ == nullptr) throw_no_socket("set", "udp");
  fd_->set_deadline(false, true, deadline_ns(t));
}

void UdpConn::close() noexcept {
  if (fd_ != nullptr) fd_->close();
}

std::string UdpConn::local_address() const {
  return fd_ != nullptr ? fd_->local : std::string();
}

std::string UdpConn::remote_address() const {
  return fd_ != nullptr ? fd_->remote : std::string();
}

int UdpConn::fd() const noexcept {
  return fd_ != nullptr ? fd_->fd() : -1;
}

// ---- listen_udp, dial_udp

PacketConn listen_udp(std::string_view address) {
  const std::string context = "listen udp " + std::string(address);
  Pending p{bound_socket(address, SOCK_DGRAM, "udp", /*reuse_address=*/false, context)};
  p.fd->local = detail::local_address_of(p.fd->fd());
  return PacketConn(p.take());
}

UdpConn dial_udp(std::string_view address) {
  const std::string context = "dial udp " + std::string(address);
  const detail::HostPort hp = detail::split_host_port(address, context);
  const std::vector<detail::SockAddr> addrs = detail::resolve(hp, /*passive=*/false, context);
  // Each address in turn until the kernel accepts one (an IPv6 address on a host without
  // IPv6 fails at socket or connect); the first error is the one reported, as dial does.
  std::exception_ptr first;
  for (const detail::SockAddr& a : addrs) {
    const std::string remote = detail::format_address(a.get(), a.len);
    try {
      const int fd = ::socket(a.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
      if (fd < 0) throw Error(errno, "dial udp " + remote + ": socket");
      Pending p{detail::NetFd::open(fd, "dial udp " + remote)};
      p.fd->network = "udp";
      p.fd->family = a.family();
      p.fd->remote = remote;
      // A datagram socket's connect only records the peer: it never waits (no EINPROGRESS).
      if (::connect(fd, a.get(), a.len) != 0)
        throw Error(errno, "dial udp " + remote + ": connect");
      p.fd->local = detail::local_address_of(fd);
      return UdpConn(p.take());
    } catch (const Error&) {
      if (!first) first = std::current_exception();
    }
  }
  std::rethrow_exception(first);
}

}  // namespace go::net
