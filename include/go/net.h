// TCP and UDP networking that parks only the calling fiber, Go's package net: listen, dial,
// Listener, Conn for TCP; listen_udp, dial_udp, PacketConn, UdpConn for UDP.
//
// Every call tries its syscall first and waits in the runtime's netpoller only when the socket is
// not ready, so a fiber blocked in read/write/accept/dial costs no OS thread; its P runs other
// fibers meanwhile. Plain threads (not fibers) may use the same API: they block in poll(2).
//
// Concurrency: one Conn may be read by one party and written by another at the same time, and
// close() and the set_*deadline calls may come from any fiber or thread at any time (close wakes a
// blocked reader/writer, which throws "use of closed network connection"). Two concurrent reads,
// two concurrent writes or two concurrent accepts on one object are not supported (the netpoller
// has one waiter slot per direction); they throw std::logic_error instead of hanging. The UDP
// classes have no such limit: any number of fibers and threads may read and write one
// PacketConn or UdpConn at once (each datagram is delivered to exactly one reader).
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace go {

namespace detail {
class NetFd;
}

namespace net {

// A network operation failed. code() carries the errno value (std::generic_category); what()
// names the operation and the address, as Go does:
//   "dial tcp 127.0.0.1:1: connect: connection refused (ECONNREFUSED)"
//   "listen tcp 127.0.0.1:8080: bind: address already in use (EADDRINUSE)"
//   "read tcp 127.0.0.1:4000->127.0.0.1:53124: use of closed network connection"  (EBADF)
class Error : public std::system_error {
 public:
  // context: the operation and address ("dial tcp 127.0.0.1:1: connect"). what() is context, ": ",
  // then the lower-case strerror(err) and the errno's name.
  Error(int err, const std::string& context);
  // The same with a description of our own in place of strerror's ("i/o timeout").
  Error(int err, const std::string& context, const std::string& description);
  const char* what() const noexcept override { return message_.what(); }

 private:
  std::runtime_error message_;  // reference-counted: copying an exception never throws
};

// A deadline passed (code() is ETIMEDOUT; what() ends in "i/o timeout", Go's
// os.ErrDeadlineExceeded). The connection stays usable: move or clear the deadline and try again.
class Timeout : public Error {
 public:
  explicit Timeout(const std::string& context);
};

class Listener;

// A TCP connection (Go's net.TCPConn). Move-only; the destructor closes it.
class Conn {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  Conn() noexcept = default;  // no connection: every operation throws Error(EBADF)
  Conn(Conn&& other) noexcept : fd_(other.fd_) { other.fd_ = nullptr; }
  Conn& operator=(Conn&& other) noexcept;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn();

  // Reads what is available, at least one byte, into buf, waiting until some arrives. Returns 0
  // at end of stream (the peer closed or shut down its writing side), or at once for an empty buf.
  std::size_t read(std::span<std::byte> buf);
  // Reads until buf is full or the stream ends; returns the bytes read (< buf.size() only at EOF).
  std::size_t read_full(std::span<std::byte> buf);
  // Writes all of buf, waiting as needed, or throws (then an unknown prefix may have been sent).
  // A peer that has gone away gives Error(EPIPE or ECONNRESET), never SIGPIPE.
  void write(std::span<const std::byte> buf);

  // Absolute deadlines after which reads/writes (waiting or not) throw Timeout, as in Go; a
  // default-constructed time_point{} clears the deadline. They apply to calls already waiting.
  void set_deadline(time_point t);  // both
  void set_read_deadline(time_point t);
  void set_write_deadline(time_point t);

  // Closes the connection; a party blocked in read/write on it throws Error(EBADF, "use of closed
  // network connection"). Idempotent. The socket itself is closed as soon as no call uses it.
  void close() noexcept;

  std::string local_address() const;   // "127.0.0.1:4000", "[::1]:4000"; "" without a connection
  std::string remote_address() const;  // the peer's, in the same form
  int fd() const noexcept;             // the socket (-1 once closed): for setsockopt and the like

 private:
  friend class Listener;
  friend Conn dial(std::string_view address, std::chrono::nanoseconds timeout);
  explicit Conn(detail::NetFd* fd) noexcept : fd_(fd) {}

  detail::NetFd* fd_ = nullptr;
};

// A TCP listening socket (Go's net.TCPListener). Move-only; the destructor closes it.
class Listener {
 public:
  Listener() noexcept = default;  // no socket: accept throws Error(EBADF)
  Listener(Listener&& other) noexcept : fd_(other.fd_) { other.fd_ = nullptr; }
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  // Waits for the next connection and returns it (TCP_NODELAY set, as Go does). Throws Error;
  // after close(), Error(EBADF, "use of closed network connection"), also to a blocked accept.
  Conn accept();
  // The address it listens on, with the port the kernel chose for ":0" ("127.0.0.1:37125").
  std::string address() const;
  void close() noexcept;  // idempotent; wakes a blocked accept
  int fd() const noexcept;

 private:
  friend Listener listen(std::string_view address, int backlog);
  explicit Listener(detail::NetFd* fd) noexcept : fd_(fd) {}

  detail::NetFd* fd_ = nullptr;
};

// An unconnected UDP socket (Go's net.PacketConn / *net.UDPConn from ListenUDP): receives
// datagrams from anyone and sends to any address. Move-only; the destructor closes it.
class PacketConn {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  PacketConn() noexcept = default;  // no socket: every operation throws Error(EBADF)
  PacketConn(PacketConn&& other) noexcept : fd_(other.fd_) { other.fd_ = nullptr; }
  PacketConn& operator=(PacketConn&& other) noexcept;
  PacketConn(const PacketConn&) = delete;
  PacketConn& operator=(const PacketConn&) = delete;
  ~PacketConn();

  // Waits for the next datagram and copies it into buf. Returns the bytes copied: the
  // datagram's size, or buf.size() for a longer one, whose rest is discarded (Go's ReadFrom
  // truncates the same way, without an error). 0 is an empty datagram, never end of stream;
  // an empty buf still takes a datagram off the queue. `from`, unless null, receives the
  // sender's address ("127.0.0.1:53124", "[::1]:53124"), ready for write_to.
  std::size_t read_from(std::span<std::byte> buf, std::string* from = nullptr);
  // Sends buf as one datagram to address ("127.0.0.1:9000", "[::1]:9000", "localhost:9000";
  // an IPv4 address on a socket bound to ":0" is reached over IPv6's mapped form). Throws
  // Error: "write udp 127.0.0.1:4000->[::1]:9000: sendto: address family not supported by
  // protocol (EAFNOSUPPORT)", EMSGSIZE for a datagram the kernel will not send whole.
  void write_to(std::span<const std::byte> buf, std::string_view address);

  // Deadlines, as Conn's: a passed one fails read_from/write_to with Timeout.
  void set_deadline(time_point t);
  void set_read_deadline(time_point t);
  void set_write_deadline(time_point t);

  // Closes the socket; a party blocked in read_from/write_to throws Error(EBADF, "use of
  // closed network connection"). Idempotent.
  void close() noexcept;

  std::string local_address() const;  // "127.0.0.1:4000" (port chosen for ":0"); "" if none
  int fd() const noexcept;            // the socket (-1 once closed)

 private:
  friend PacketConn listen_udp(std::string_view address);
  explicit PacketConn(detail::NetFd* fd) noexcept : fd_(fd) {}

  detail::NetFd* fd_ = nullptr;
};

// A connected UDP socket (Go's *net.UDPConn from DialUDP): sends to and receives from its one
// peer. Move-only; the destructor closes it.
class UdpConn {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  UdpConn() noexcept = default;  // no socket: every operation throws Error(EBADF)
  UdpConn(UdpConn&& other) noexcept : fd_(other.fd_) { other.fd_ = nullptr; }
  UdpConn& operator=(UdpConn&& other) noexcept;
  UdpConn(const UdpConn&) = delete;
  UdpConn& operator=(const UdpConn&) = delete;
  ~UdpConn();

  // Waits for the next datagram from the peer; truncates as PacketConn::read_from does and
  // returns the bytes copied (0: an empty datagram). Throws Error(ECONNREFUSED) when an
  // earlier datagram found no one listening (the kernel reports the ICMP error here).
  std::size_t read(std::span<std::byte> buf);
  // Sends buf to the peer as one datagram, or throws.
  void write(std::span<const std::byte> buf);

  void set_deadline(time_point t);
  void set_read_deadline(time_point t);
  void set_write_deadline(time_point t);

  void close() noexcept;  // as PacketConn::close

  std::string local_address() const;
  std::string remote_address() const;  // the peer, as dialed and resolved ("127.0.0.1:53")
  int fd() const noexcept;

 private:
  friend UdpConn dial_udp(std::string_view address);
  explicit UdpConn(detail::NetFd* fd) noexcept : fd_(fd) {}

  detail::NetFd* fd_ = nullptr;
};

// Listens for TCP connections on address: "127.0.0.1:8080", "[::1]:0", "localhost:8080" or ":0"
// (every local address, IPv4 and IPv6; the port 0 lets the kernel choose, see address()). The
// socket has SO_REUSEADDR; backlog <= 0 means the system's maximum. Throws Error ("listen tcp
// 127.0.0.1:80: bind: permission denied (EACCES)"; a malformed address gives EINVAL).
Listener listen(std::string_view address, int backlog = 1024);

// Connects to a TCP address: "127.0.0.1:8080", "[::1]:8080", "localhost:8080" (each resolved
// address in turn until one answers); an empty host means this machine. timeout > 0 bounds the
// connection attempts (Timeout when it passes; a name lookup is not cut short); 0 waits as long
// as the kernel does. Throws Error: "dial tcp 127.0.0.1:1: connect: connection refused
// (ECONNREFUSED)".
Conn dial(std::string_view address, std::chrono::nanoseconds timeout = {});

// Opens a UDP socket bound to address: "127.0.0.1:4000", "[::1]:0", ":0" (every local
// address, IPv4 and IPv6), as listen does for TCP (but without SO_REUSEADDR: two sockets on
// one UDP port would split its datagrams). Throws Error ("listen udp 127.0.0.1:53: bind:
// permission denied (EACCES)"; a malformed address gives EINVAL).
PacketConn listen_udp(std::string_view address);

// Opens a UDP socket connected to address ("127.0.0.1:53", "[::1]:53", "localhost:53"; each
// resolved address in turn until the kernel takes one). Connecting sends nothing: a missing
// peer shows up as Error(ECONNREFUSED) on a later read or write. Throws Error ("dial udp
// 127.0.0.1: missing port in address").
UdpConn dial_udp(std::string_view address);

}  // namespace net
}  // namespace go
