// Socket addresses: "host:port" syntax (as Go's net.SplitHostPort), literal IPs, host names
// resolved on the go::blocking pool, and the canonical text form go::net reports.
//
// Why names go to the blocking pool: getaddrinfo may wait seconds for a DNS server, and a fiber
// that called it directly would hold its P (and every fiber queued on it) for that long. The
// rejected alternative, an asynchronous resolver (getaddrinfo_a, c-ares) on the netpoller,
// would skip /etc/nsswitch.conf modules or add a dependency; Go itself falls back to the C
// resolver on threads in the same situations. Literal addresses, the common case for servers
// and tests, never leave the calling fiber.
#include "net/addr.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

#include "go/blocking.h"
#include "go/net.h"

namespace go::detail {

namespace {

[[noreturn]] void bad_address(const std::string& context, const std::string& why) {
  throw net::Error(EINVAL, context, why);
}

// Parses a decimal port; "" is port 0 (as in Go: the kernel chooses).
std::uint16_t parse_port(std::string_view s, const std::string& context) {
  if (s.size() > 5) bad_address(context, "invalid port \"" + std::string(s) + "\"");
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      bad_address(context, "invalid port \"" + std::string(s) + "\" (only numeric ports)");
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 65535) bad_address(context, "invalid port \"" + std::string(s) + "\"");
  return static_cast<std::uint16_t>(v);
}

// An IPv4 or IPv6 literal (IPv6 optionally with a %zone); nullopt if `host` is not one.
std::optional<SockAddr> parse_ip(const std::string& host, std::uint16_t port) {
  SockAddr a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
    return a;
  }
  const std::size_t pct = host.find('%');
  const std::string ip = host.substr(0, pct);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) != 1) return std::nullopt;
  v6->sin6_family = AF_INET6;
  v6->sin6_port = htons(port);
  if (pct != std::string::npos) {
    const std::string zone = host.substr(pct + 1);
    unsigned index = if_nametoindex(zone.c_str());
    if (index == 0 && !zone.empty() &&
        std::all_of(zone.begin(), zone.end(), [](char c) { return c >= '0' && c <= '9'; }))
      index = static_cast<unsigned>(std::stoul(zone));
    if (index == 0) return std::nullopt;
    v6->sin6_scope_id = index;
  }
  a.len = sizeof(sockaddr_in6);
  return a;
}

SockAddr wildcard(int family, std::uint16_t port) {
  SockAddr a;
  if (family == AF_INET6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = in6addr_any;
    v6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_ANY);
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
  }
  return a;
}

// What a getaddrinfo call on the pool hands back.
struct Lookup {
  int rc = 0;         // getaddrinfo's result
  int sys_errno = 0;  // errno, for EAI_SYSTEM
  std::vector<SockAddr> addrs;
};

// Runs on a pool thread (or the caller's, outside fibers): touches nothing shared.
Lookup lookup(const std::string& host) {
  Lookup out;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  addrinfo* res = nullptr;
  out.rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  out.sys_errno = errno;
  if (out.rc != 0) return out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SockAddr a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.len = ai->ai_addrlen;
    out.addrs.push_back(a);
  }
  freeaddrinfo(res);
  return out;
}

int errno_of_lookup(const Lookup& l) {
  switch (l.rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
      return ENOENT;
    case EAI_AGAIN:
      return EAGAIN;
    case EAI_MEMORY:
      return ENOMEM;
    case EAI_SYSTEM:
      return l.sys_errno != 0 ? l.sys_errno : EIO;
    default:
      return EINVAL;
  }
}

void set_port(SockAddr& a, std::uint16_t port) {
  if (a.family() == AF_INET)
    reinterpret_cast<sockaddr_in*>(&a.storage)->sin_port = htons(port);
  else
    reinterpret_cast<sockaddr_in6*>(&a.storage)->sin6_port = htons(port);
}

bool same(const SockAddr& a, const SockAddr& b) {
  return a.len == b.len && std::memcmp(&a.storage, &b.storage, a.len) == 0;
}

}  // namespace

HostPort split_host_port(std::string_view address, const std::string& context) {
  HostPort hp;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    const std::size_t close = address.find(']');
    if (close == std::string_view::npos) bad_address(context, "missing ']' in address");
    hp.host = std::string(address.substr(1, close - 1));
    const std::string_view rest = address.substr(close + 1);
    if (rest.empty()) bad_address(context, "missing port in address");
    if (rest.front() != ':') bad_address(context, "unexpected characters after ']' in address");
    port = rest.substr(1);
  } else {
    const std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) bad_address(context, "missing port in address");
    hp.host = std::string(address.substr(0, colon));
    if (hp.host.find(':') != std::string::npos)
      bad_address(context, "too many colons in address (write IPv6 as [::1]:80)");
    if (hp.host.find_first_of("[]") != std::string::npos)
      bad_address(context, "unexpected '[' or ']' in address");
    port = address.substr(colon + 1);
  }
  hp.port = parse_port(port, context);
  return hp;
}

std::vector<SockAddr> resolve(const HostPort& hp, bool passive, const std::string& context) {
  if (hp.host.empty()) {
    if (passive) return {wildcard(AF_INET6, hp.port), wildcard(AF_INET, hp.port)};
    return {*parse_ip("127.0.0.1", hp.port), *parse_ip("::1", hp.port)};
  }
  if (std::optional<SockAddr> ip = parse_ip(hp.host, hp.port)) return {*ip};
  if (hp.host.find('%') != std::string::npos)
    bad_address(context, "invalid IPv6 address or zone \"" + hp.host + "\"");

  Lookup l = go::blocking(lookup, hp.host);
  if (l.rc != 0) {
    std::string why = gai_strerror(l.rc);
    if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
    throw net::Error(errno_of_lookup(l), context, "lookup " + hp.host + ": " + why);
  }
  std::vector<SockAddr> out;
  for (SockAddr& a : l.addrs) {
    set_port(a, hp.port);
    if (std::none_of(out.begin(), out.end(), [&](const SockAddr& b) { return same(a, b); }))
      out.push_back(a);
  }
  if (out.empty())
    throw net::Error(ENOENT, context, "lookup " + hp.host + ": no IPv4 or IPv6 address");
  if (passive)
    std::stable_partition(out.begin(), out.end(),
                          [](const SockAddr& a) { return a.family() == AF_INET; });
  return out;
}

std::string format_address(const sockaddr* sa, socklen_t len) {
  char buf[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    const std::string port = std::to_string(ntohs(v6->sin6_port));
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], buf, sizeof buf);
      return std::string(buf) + ":" + port;
    }
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    std::string host = buf;
    if (v6->sin6_scope_id != 0) {
      char name[IF_NAMESIZE];
      host += '%';
      host += if_indextoname(v6->sin6_scope_id, name) != nullptr
                  ? std::string(name)
                  : std::to_string(v6->sin6_scope_id);
    }
    return "[" + host + "]:" + port;
  }
  return {};
}

std::string local_address_of(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return format_address(reinterpret_cast<const sockaddr*>(&ss), len);
}

std::string peer_address_of(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return format_address(reinterpret_cast<const sockaddr*>(&ss), len);
}

}  // namespace go::detail
