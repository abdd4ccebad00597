// A program that links libgocxx (static by default) and names none of the hooked functions
// itself: its blocking calls come from libcurl and from a read() it looks up at run time. The
// hooks must reach them anyway (go::run references the hooks' object file, so the linker takes
// it, and the executable then exports read, poll, ... to the shared libraries). One P runs 50
// curl transfers against a server that answers after 100 ms, then a read() on an empty pipe
// that only another fiber of the same P can feed: both only finish if the calls park.
//
// The server and the pipe use raw syscall(2) on purpose: naming socket() or read() here would
// make the linker take the hooks for that reason alone.
#include <curl/curl.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "go/go.h"

namespace {

using Clock = std::chrono::steady_clock;

long sys_read(int fd, void* buf, std::size_t n) {
  return syscall(SYS_read, fd, buf, n);
}
long sys_write(int fd, const void* buf, std::size_t n) {
  return syscall(SYS_write, fd, buf, n);
}
void sys_close(int fd) {
  syscall(SYS_close, fd);
}

// An HTTP server of plain threads: each connection is answered 100 ms after its request.
class Server {
 public:
  Server() {
    fd_ = static_cast<int>(syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (syscall(SYS_bind, fd_, &a, sizeof a) != 0 || syscall(SYS_listen, fd_, 512) != 0 ||
        syscall(SYS_getsockname, fd_, &a, &len) != 0) {
      std::perror("probe: server");
      std::exit(1);
    }
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
      for (;;) {
        const int c = static_cast<int>(syscall(SYS_accept4, fd_, nullptr, nullptr, 0));
        if (c < 0) return;  // shut down
        conns_.emplace_back([c] { serve(c); });
      }
    });
  }
  ~Server() {
    syscall(SYS_shutdown, fd_, SHUT_RDWR);
    acceptor_.join();
    for (auto& t : conns_) t.join();
    sys_close(fd_);
  }
  int port() const { return port_; }

 private:
  static void serve(int c) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      const long n = sys_read(c, buf, sizeof buf);
      if (n <= 0) break;
      req.append(buf, static_cast<std::size_t>(n));
    }
    const timespec delay{0, 100'000'000};
    syscall(SYS_nanosleep, &delay, nullptr);
    const std::string resp = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
    sys_write(c, resp.data(), resp.size());
    sys_close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::vector<std::thread> conns_;
  std::thread acceptor_;
};

std::size_t append(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

int main() {
  alarm(60);  // a call that blocks the only P hangs the probe: fail instead
  curl_global_init(CURL_GLOBAL_ALL);
  Server server;
  constexpr int kTransfers = 50;
  std::atomic<int> ok{0};
  bool read_ok = false;
  const auto start = Clock::now();
  double curl_ms = 0;
  go::Config cfg;
  cfg.procs = 1;
  go::run(
      [&] {
        go::WaitGroup wg;
        for (int i = 0; i < kTransfers; ++i) {
          wg.add(1);
          go([&] {
            std::string body;
            const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
            CURL* h = curl_easy_init();
            curl_easy_setopt(h, CURLOPT_URL, url.c_str());
            curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append);
            curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
            if (curl_easy_perform(h) == CURLE_OK && body == "ok") ++ok;
            curl_easy_cleanup(h);
            wg.done();
          });
        }
        wg.wait();
        curl_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();

        // pipe() and read() as a library would call them: looked up at run time, not named at
        // link time. (A pipe the hooks did not see created is not theirs to switch to
        // O_NONBLOCK: it may be shared with another process.)
        using PipeFn = int (*)(int*);
        using ReadFn = ssize_t (*)(int, void*, std::size_t);
        auto* hooked_pipe = reinterpret_cast<PipeFn>(dlsym(RTLD_DEFAULT, "pipe"));
        auto* hooked_read = reinterpret_cast<ReadFn>(dlsym(RTLD_DEFAULT, "read"));
        int p[2];
        if (hooked_pipe == nullptr || hooked_read == nullptr || hooked_pipe(p) != 0) return;
        wg.add(1);
        go([&] {
          go::this_fiber::sleep_for(std::chrono::milliseconds(50));  // the reader parks first
          sys_write(p[1], "x", 1);
          wg.done();
        });
        char c = 0;
        read_ok = hooked_read(p[0], &c, 1) == 1 && c == 'x';
        wg.wait();
        using CloseFn = int (*)(int);
        auto* hooked_close = reinterpret_cast<CloseFn>(dlsym(RTLD_DEFAULT, "close"));
        hooked_close(p[0]);
        hooked_close(p[1]);
      },
      cfg);
  curl_global_cleanup();
  std::printf(
      "hooks_link_probe: %d/%d curl transfers on 1 P in %.0f ms (blocked P: >= %d ms); "
      "read() in a fiber parked: %s\n",
      ok.load(), kTransfers, curl_ms, kTransfers * 100, read_ok ? "yes" : "no");
  const bool pass = ok.load() == kTransfers && curl_ms < 2500 && read_ok;
  return pass ? 0 : 1;
}
