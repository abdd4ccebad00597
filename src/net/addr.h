// Socket addresses for go::net: parsing "host:port", resolving host names off the Ps, formatting.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace go::detail {

// One resolved socket address.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
};

// "host:port" taken apart (Go's net.SplitHostPort): "[::1]:80" gives "::1", ":80" gives "".
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// Splits `address`; throws go::net::Error(EINVAL, "<context>: missing port in address", ...)
// for a malformed one. context: "dial tcp <address>", what error messages begin with.
HostPort split_host_port(std::string_view address, const std::string& context);

// The addresses hp.host stands for, in the order to try them. An IP literal gives itself; an
// empty host gives the wildcard addresses ([::] then 0.0.0.0) when `passive` (listen), else the
// loopback ones (127.0.0.1 then ::1, as Go dials the local system). A name is looked up with
// getaddrinfo on the go::blocking pool, so that no P waits for DNS (on the caller's thread when
// it is not a fiber); `passive` puts IPv4 answers first (Go listens on the first IPv4 one).
// Throws go::net::Error (a failed lookup: "<context>: lookup <host>: <reason>").
std::vector<SockAddr> resolve(const HostPort& hp, bool passive, const std::string& context);

// "127.0.0.1:80", "[::1]:80", "[fe80::1%eth0]:80"; an IPv4-mapped IPv6 address prints as IPv4
// (what a dual-stack listener reports for IPv4 peers). "" for an address of another family.
std::string format_address(const sockaddr* sa, socklen_t len);

// The socket's own (peer: its peer's) address, formatted; "" if the kernel does not say.
std::string local_address_of(int fd);
std::string peer_address_of(int fd);

}  // namespace go::detail
