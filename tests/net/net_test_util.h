// Helpers shared by the go::net test suites (net_test, udp_test).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <span>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "go/go.h"
#include "test_util.h"

namespace net_test {

// Entries in /proc/self/fd: what a test may not leave behind.
inline int open_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

inline std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

inline std::string text(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

inline std::string port_of(const std::string& address) {
  return address.substr(address.rfind(':') + 1);
}

// Waits (sleeping, fiber or thread) until flag is set.
inline void wait_flag(const std::atomic<bool>& flag) {
  while (!flag.load()) go::this_fiber::sleep_for(std::chrono::milliseconds(1));
}

// True when this machine can bind [::1] with a socket of `type` (SOCK_STREAM, SOCK_DGRAM).
inline bool have_ipv6_loopback(int type) {
  const int fd = ::socket(AF_INET6, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A suite over 1, 2 and 4 Ps that fails a test leaving more fds open than it found. Suites
// create the netpoller's own fds (epoll, eventfd: they live for the process) in their
// SetUpTestSuite, before the first count.
class FdCheckedTest : public gocxx_test::ProcsTest {
 protected:
  void SetUp() override { fds_before_ = open_fds(); }
  void TearDown() override {
    // A connection closed by its last user may still be finishing on another M: give it a moment.
    int now = open_fds();
    for (int i = 0; i < 2000 && now > fds_before_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      now = open_fds();
    }
    EXPECT_EQ(now, fds_before_) << "fds leaked";
  }

 private:
  int fds_before_ = 0;
};

}  // namespace net_test
