// A tiny HTTP/1.1 server on go::net: one fiber per connection, keep-alive and pipelining,
// written blocking-style. Shared by examples/http_server and the http_hello benchmark
// (bench/gocxx_bench.cpp), so that the benchmark measures exactly the example people copy.
//
// Routes:
//   GET /            "hello world" (the response the http_hello anchors send, Date included)
//   GET /sleep?ms=N  parks the connection's fiber N ms (0..60000), then "slept N ms": shows that
//                    a slow request holds no thread (other connections keep being served)
//   anything else    404
// Requests may carry a body (Content-Length): it is read and ignored. "Connection: close" (or
// HTTP/1.0 without keep-alive) closes the connection after the response.
#pragma once

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <ctime>
#include <span>
#include <string>
#include <string_view>

#include "go/go.h"
#include "go/net.h"

namespace http_hello {

// The response head's Date line changes once a second; each connection keeps its own copy.
class DateCache {
 public:
  std::string_view get() {
    const std::time_t now = std::time(nullptr);
    if (now != sec_) {
      sec_ = now;
      std::tm g;
      gmtime_r(&now, &g);
      len_ = std::strftime(buf_, sizeof buf_, "%a, %d %b %Y %H:%M:%S GMT", &g);
    }
    return {buf_, len_};
  }

 private:
  std::time_t sec_ = 0;
  char buf_[64] = {};
  std::size_t len_ = 0;
};

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// One parsed request head (views into the connection's input buffer).
struct Request {
  std::string_view method, target, version;
  std::size_t content_length = 0;
  bool keep_alive = true;
};

// Parses the head in `head` (without the final "\r\n\r\n"); false if malformed.
inline bool parse_head(std::string_view head, Request& r) {
  const std::size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const std::size_t s1 = line.find(' ');
  const std::size_t s2 = line.rfind(' ');
  if (s1 == std::string_view::npos || s2 == s1) return false;
  r.method = line.substr(0, s1);
  r.target = line.substr(s1 + 1, s2 - s1 - 1);
  r.version = line.substr(s2 + 1);
  if (r.version != "HTTP/1.1" && r.version != "HTTP/1.0") return false;
  r.keep_alive = r.version == "HTTP/1.1";
  std::size_t at = eol == std::string_view::npos ? head.size() : eol + 2;
  while (at < head.size()) {
    std::size_t end = head.find("\r\n", at);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view field = head.substr(at, end - at);
    at = end + 2;
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos) return false;
    const std::string_view name = field.substr(0, colon);
    std::string_view value = field.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    if (iequals(name, "content-length")) {
      const auto res = std::from_chars(value.data(), value.data() + value.size(), r.content_length);
      if (res.ec != std::errc() || r.content_length > (std::size_t{1} << 30)) return false;
    } else if (iequals(name, "connection")) {
      if (iequals(value, "close")) r.keep_alive = false;
      if (iequals(value, "keep-alive")) r.keep_alive = true;
    }
  }
  return true;
}

inline void append_response(std::string& out, DateCache& date, std::string_view status,
                            std::string_view body, bool keep_alive) {
  out += "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: text/plain\r\nDate: ";
  out += date.get();
  out += "\r\nContent-Length: ";
  char len[24];
  const auto res = std::to_chars(len, len + sizeof len, body.size());
  out.append(len, res.ptr);
  if (!keep_alive) out += "\r\nConnection: close";
  out += "\r\n\r\n";
  out += body;
}

// Serves one connection until the client closes it, asks to, or errs. Never throws.
inline void serve_conn(go::net::Conn conn) {
  std::string in, out;
  DateCache date;
  std::byte buf[16 * 1024];
  try {
    for (;;) {
      // Answer every complete request already buffered (pipelining), in one write.
      std::size_t pos = 0;
      bool close_after = false;
      for (;;) {
        const std::size_t end = in.find("\r\n\r\n", pos);
        if (end == std::string::npos) break;
        Request req;
        if (!parse_head(std::string_view(in).substr(pos, end - pos), req)) {
          append_response(out, date, "400 Bad Request", "bad request\n", false);
          close_after = true;
          break;
        }
        const std::size_t body_end = end + 4 + req.content_length;
        if (body_end > in.size()) break;  // the body is still on its way
        pos = body_end;
        if (req.method != "GET" && req.method != "HEAD" && req.method != "POST") {
          append_response(out, date, "405 Method Not Allowed", "method not allowed\n",
                          req.keep_alive);
        } else if (req.target == "/") {
          append_response(out, date, "200 OK", "hello world", req.keep_alive);
        } else if (req.target.substr(0, 10) == "/sleep?ms=") {
          int ms = -1;
          const std::string_view arg = req.target.substr(10);
          const auto res = std::from_chars(arg.data(), arg.data() + arg.size(), ms);
          if (res.ec != std::errc() || res.ptr != arg.data() + arg.size() || ms < 0 || ms > 60000) {
            append_response(out, date, "400 Bad Request", "ms must be 0..60000\n", req.keep_alive);
          } else {
            if (!out.empty()) {  // answer the earlier pipelined requests first
              conn.write(std::as_bytes(std::span(out)));
              out.clear();
            }
            go::this_fiber::sleep_for(std::chrono::milliseconds(ms));
            append_response(out, date, "200 OK", "slept " + std::to_string(ms) + " ms\n",
                            req.keep_alive);
          }
        } else {
          append_response(out, date, "404 Not Found", "not found\n", req.keep_alive);
        }
        if (!req.keep_alive) {
          close_after = true;
          break;
        }
      }
      if (pos != 0) in.erase(0, pos);
      if (!out.empty()) {
        conn.write(std::as_bytes(std::span(out)));
        out.clear();
      }
      if (close_after) return;
      if (in.size() > (std::size_t{1} << 20)) return;  // no request end in 1 MiB: garbage
      const std::size_t n = conn.read(buf);
      if (n == 0) return;  // the client closed
      in.append(reinterpret_cast<const char*>(buf), n);
    }
  } catch (const go::net::Error&) {
    // The client vanished (reset, broken pipe) or the server is shutting down: drop it.
  }
}

// Accepts connections until the listener is closed, one fiber each. Connections still open
// when it returns keep being served by their fibers.
inline void serve(go::net::Listener& ln) {
  for (;;) {
    go::net::Conn c;
    try {
      c = ln.accept();
    } catch (const go::net::Error& e) {
      if (e.code().value() == EBADF) return;  // closed: shutting down
      if (e.code().value() == EMFILE || e.code().value() == ENFILE) {
        // Out of fds: say so, back off a little, keep serving the connections we have.
        std::fprintf(stderr, "http_server: %s\n", e.what());
        go::this_fiber::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      throw;
    }
    go([c = std::move(c)]() mutable { serve_conn(std::move(c)); });
  }
}

}  // namespace http_hello
