// A small HTTP/1.1 server on 127.0.0.1 for httpbench's tests, misbehaving on request: it answers
// fast, slowly, with an error status, never, with a connection reset, or dies after a number of
// requests. It runs on plain threads (an acceptor and one thread per connection, blocking
// sockets), independent of go::run, so that the same server serves the runner's fibers and the
// httpbench executable that cli_test starts. The hooks pass plain threads' calls to libc.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace httpbench_test {

// How a TestServer behaves.
enum class ServerMode {
  ok,         // "200 OK" (or `status`), body "ok", keep-alive
  slow,       // as ok, after `delay`
  silent,     // reads requests, never answers
  reset,      // reads a request, then resets the connection (SO_LINGER {1, 0}, close)
  die_after,  // as ok for `die_after` requests, then closes the listener and every connection
};
struct ServerBehavior {
  ServerMode mode = ServerMode::ok;
  int status = 200;
  std::chrono::milliseconds delay{0};
  std::uint64_t die_after = 0;
};

class TestServer {
 public:
  using Mode = ServerMode;
  using Behavior = ServerBehavior;

  explicit TestServer(Behavior behavior = {}) : behavior_(behavior) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0) throw std::runtime_error("TestServer: socket: " + error());
    const int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_, 512) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      const std::string e = error();
      ::close(listener_);
      throw std::runtime_error("TestServer: bind/listen: " + e);
    }
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  ~TestServer() {
    kill();
    acceptor_.join();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return live_threads_ == 0; });
    lock.unlock();
    ::close(listener_);
  }

  int port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // Complete request heads received (answered or not), and connections accepted.
  std::uint64_t requests() const { return requests_.load(); }
  std::uint64_t connections() const { return connections_.load(); }
  // Requests received per request target ("/a", ...).
  std::map<std::string, std::uint64_t> paths() const {
    std::lock_guard lock(mu_);
    return paths_;
  }
  // The last request received: its head (request line and fields) and its body.
  std::string last_head() const {
    std::lock_guard lock(mu_);
    return last_head_;
  }
  std::string last_body() const {
    std::lock_guard lock(mu_);
    return last_body_;
  }

  // Stops serving: the listener stops accepting (connects are refused from now on) and every
  // open connection is shut down. Any thread; idempotent; joins nothing.
  void kill() {
    std::lock_guard lock(mu_);
    if (killed_) return;
    killed_ = true;
    ::shutdown(listener_, SHUT_RDWR);  // wakes accept(); the socket stops listening
    for (const int fd : conns_) ::shutdown(fd, SHUT_RDWR);
    cv_.notify_all();  // slow mode's waits
  }

  // A port on 127.0.0.1 where nothing listens (connects are refused). It stays bound, not
  // listening, while the returned object lives, so that no one else takes it meanwhile.
  class ClosedPort {
   public:
    ClosedPort() {
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a = loopback(0);
      socklen_t len = sizeof a;
      if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
          ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        throw std::runtime_error("ClosedPort: " + error());
      }
      port_ = ntohs(a.sin_port);
    }
    ~ClosedPort() { ::close(fd_); }
    ClosedPort(const ClosedPort&) = delete;
    ClosedPort& operator=(const ClosedPort&) = delete;
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

   private:
    int fd_ = -1;
    int port_ = 0;
  };

 private:
  static std::string error() { return std::strerror(errno); }

  static sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  void accept_loop() {
    for (;;) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // shut down by kill()
      }
      std::lock_guard lock(mu_);
      if (killed_) {
        ::close(fd);
        return;
      }
      connections_.fetch_add(1);
      conns_.insert(fd);
      ++live_threads_;
      // Detached, so that a run with thousands of connections leaves no thousands of
      // unjoined threads; the destructor waits for live_threads_ to reach 0 instead.
      std::thread([this, fd] {
        serve(fd);
        std::lock_guard done(mu_);
        --live_threads_;
        cv_.notify_all();  // under mu_: the destructor cannot finish before this returns
      }).detach();
    }
  }

  bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  static std::size_t content_length(std::string_view head) {
    std::size_t at = 0;
    while ((at = head.find("\r\n", at)) != std::string_view::npos) {
      at += 2;
      const std::string_view rest = head.substr(at);
      if (rest.size() >= 15 && std::equal(rest.begin(), rest.begin() + 15, "content-length:",
                                          [](char a, char b) { return (a | 0x20) == b; })) {
        return std::stoul(std::string(rest.substr(15, rest.find("\r\n") - 15)));
      }
    }
    return 0;
  }

  void close_conn(int fd, bool reset) {
    std::lock_guard lock(mu_);
    conns_.erase(fd);
    if (reset) {
      const linger l{1, 0};  // close sends RST instead of FIN
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::close(fd);
  }

  void serve(int fd) {
    std::string in;
    char buf[16 * 1024];
    for (;;) {
      const std::size_t end = in.find("\r\n\r\n");
      if (end == std::string::npos) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the client closed, or kill()
        in.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      const std::string head = in.substr(0, end);
      const std::size_t body_end = end + 4 + content_length(head);
      while (in.size() < body_end) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return close_conn(fd, false);
        in.append(buf, static_cast<std::size_t>(n));
      }
      const std::uint64_t number = requests_.fetch_add(1) + 1;
      {
        std::lock_guard lock(mu_);
        last_head_ = head;
        last_body_ = in.substr(end + 4, body_end - end - 4);
        const std::size_t sp = head.find(' ');
        ++paths_[head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1)];
      }
      in.erase(0, body_end);
      if (behavior_.mode == Mode::silent) continue;  // keeps reading, answers nothing
      if (behavior_.mode == Mode::reset) return close_conn(fd, true);
      if (behavior_.mode == Mode::die_after && number > behavior_.die_after) {
        kill();
        break;
      }
      if (behavior_.mode == Mode::slow) {
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, behavior_.delay, [this] { return killed_; })) break;
      }
      const std::string status =
          behavior_.status == 200 ? "200 OK" : std::to_string(behavior_.status) + " Status";
      // A response to HEAD has no body (its Content-Length is the GET's).
      const bool head_request = head.compare(0, 5, "HEAD ") == 0;
      if (!write_all(fd, "HTTP/1.1 " + status + "\r\nContent-Length: 2\r\n\r\n" +
                             (head_request ? "" : "ok"))) {
        break;
      }
      if (behavior_.mode == Mode::die_after && number == behavior_.die_after) {
        kill();
        break;
      }
    }
    close_conn(fd, false);
  }

  const Behavior behavior_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> connections_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;                  // kill() wakes slow mode's waits; threads' exits
  bool killed_ = false;                         // guarded by mu_
  std::set<int> conns_;                         // guarded by mu_: open connections, for kill()
  int live_threads_ = 0;                        // guarded by mu_: connection threads not finished
  std::map<std::string, std::uint64_t> paths_;  // guarded by mu_
  std::string last_head_, last_body_;           // guarded by mu_
  std::thread acceptor_;                        // last: starts once the members above exist
};

}  // namespace httpbench_test
