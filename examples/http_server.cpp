// http_server: an HTTP/1.1 server written blocking-style, one fiber per connection (the code is
// in http_hello.h, shared with the http_hello benchmark). Try it:
//
//   http_server --addr 127.0.0.1:8080 &
//   curl http://127.0.0.1:8080/              # hello world
//   curl http://127.0.0.1:8080/sleep?ms=2000 # holds this connection 2 s, nothing else
//
// SIGINT/SIGTERM stop it cleanly: the listener closes, open connections are closed, the
// process exits 0. `--selftest N` serves on a free port and checks N requests against itself.
#include <go/go.h>
#include <go/net.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "http_hello.h"

namespace {

volatile std::sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  g_signal = sig;
}

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: http_server [--addr HOST:PORT] [--procs N] [--selftest N]\n"
               "  --addr HOST:PORT  where to listen (default 127.0.0.1:8080; :0 picks a port)\n"
               "  --procs N         processors (default: GOCXX_PROCS or every core)\n"
               "  --selftest N      serve on 127.0.0.1:0, send N requests to itself, check them\n"
               "routes: GET / (hello world), GET /sleep?ms=N (waits N ms, 0..60000)\n");
}

bool parse_count(std::string_view s, int& out) {
  const auto res = std::from_chars(s.data(), s.data() + s.size(), out);
  return res.ec == std::errc() && res.ptr == s.data() + s.size() && out > 0;
}

// Sends `n` requests over a few keep-alive connections (pipelining some) and checks every
// response; returns the number of bad ones.
int selftest_client(const std::string& addr, int n) {
  int bad = 0;
  const std::string one = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  go::net::Conn c = go::net::dial(addr, std::chrono::seconds(5));
  std::string in;
  std::byte buf[4096];
  int answered = 0;
  while (answered < n) {
    const int batch = std::min(n - answered, 4);  // pipelined
    std::string req;
    for (int i = 0; i < batch; ++i) req += one;
    c.write(std::as_bytes(std::span(req)));
    int got = 0;
    while (got < batch) {
      const std::size_t end = in.find("hello world");
      if (end != std::string::npos) {
        if (in.compare(0, 15, "HTTP/1.1 200 OK") != 0) ++bad;
        in.erase(0, end + 11);
        ++got;
        continue;
      }
      const std::size_t k = c.read(buf);
      if (k == 0) return bad + (batch - got) + (n - answered - batch);
      in.append(reinterpret_cast<const char*>(buf), k);
    }
    answered += batch;
  }
  const std::string slow = "GET /sleep?ms=20 HTTP/1.1\r\nConnection: close\r\n\r\n";
  c.write(std::as_bytes(std::span(slow)));
  in.clear();
  for (std::size_t k; (k = c.read(buf)) > 0;) in.append(reinterpret_cast<const char*>(buf), k);
  if (in.find("slept 20 ms") == std::string::npos) ++bad;
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:8080";
  int procs = 0, selftest = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "http_server: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--addr") {
      addr = value();
    } else if (a == "--procs") {
      if (!parse_count(value(), procs)) {
        std::fprintf(stderr, "http_server: --procs needs a positive number, not \"%s\"\n", argv[i]);
        return 2;
      }
    } else if (a == "--selftest") {
      if (!parse_count(value(), selftest)) {
        std::fprintf(stderr, "http_server: --selftest needs a positive number, not \"%s\"\n",
                     argv[i]);
        return 2;
      }
    } else {
      std::fprintf(stderr, "http_server: unknown argument \"%s\" (try --help)\n", argv[i]);
      return 2;
    }
  }
  if (selftest > 0) addr = "127.0.0.1:0";

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  go::Config cfg;
  cfg.procs = procs;
  int status = 0;
  go::run(
      [&] {
        go::net::Listener ln;
        try {
          ln = go::net::listen(addr);
        } catch (const go::net::Error& e) {
          std::fprintf(stderr, "http_server: %s\n", e.what());
          status = 1;
          return;
        }
        go::WaitGroup server;
        server.add(1);
        go([&] {
          http_hello::serve(ln);
          server.done();
        });
        if (selftest > 0) {
          const int bad = selftest_client(ln.address(), selftest);
          std::printf("http_server: selftest: %d requests, %d bad\n", selftest + 1, bad);
          status = bad == 0 ? 0 : 1;
        } else {
          std::printf("http_server: listening on http://%s/ (Ctrl-C stops)\n",
                      ln.address().c_str());
          std::fflush(stdout);
          // Signals only set a flag (all a handler may do); checking it 20 times a second
          // costs nothing and keeps the handler trivially safe.
          while (g_signal == 0) go::this_fiber::sleep_for(std::chrono::milliseconds(50));
          std::printf("http_server: signal %d, shutting down\n", static_cast<int>(g_signal));
        }
        ln.close();  // the accept loop ends; connections still open are unwound at exit
        server.wait();
      },
      cfg);
  return status;
}
