// httpbench's command line: what the user asked for, parsed and checked before anything is sent.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace httpbench {

// Bad input on the command line. what() is one line naming the problem (without a
// "httpbench: " prefix); main prints it and exits with status 2, having sent nothing.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// httpbench's version: gocxx's (project() in the top CMakeLists.txt), printed by --version.
inline constexpr std::string_view kVersion = "0.1.0";

enum class HttpVersion { any, v1_1, v2 };

struct Options {
  std::vector<std::string> urls;  // at least one, http:// or https://; used round-robin
  int connections = 50;           // -c: virtual users, each one fiber with one curl handle
  // How long to run: -d, or -n requests in total; when neither is given, 10 s.
  std::optional<std::chrono::nanoseconds> duration;
  std::optional<std::uint64_t> requests;
  int procs = 0;    // -t: Ps for the runtime; 0: every core
  double rate = 0;  // -R: total requests/s, constant rate (latency from intended send time)
  std::string method = "GET";  // -m; POST when a body is given without -m
  // -H, each "Name: value" as given (a token name, no line breaks); "Name:" with nothing after
  // the colon asks libcurl not to send that header.
  std::vector<std::string> headers;
  std::optional<std::string> body;  // -b, or the contents of --body-file
  std::chrono::nanoseconds timeout = std::chrono::seconds(10);  // per request
  bool keepalive = true;
  HttpVersion http = HttpVersion::any;
  bool insecure = false;                 // skip TLS certificate checks
  std::chrono::nanoseconds warmup{0};    // run this long first, not counted; 0: none
  std::optional<std::string> json_path;  // --json [FILE]: report as JSON; "-" is stdout
  bool quiet = false;                    // no live progress

  // The run length actually used (-d, or 10 s when neither -d nor -n was given).
  std::optional<std::chrono::nanoseconds> effective_duration() const {
    if (duration || requests) return duration;
    return std::chrono::seconds(10);
  }
};

// Parses argv (argv[0] is the program name and is ignored). Returns nullopt after printing
// --help or --version to `out` (exit status 0). Throws UsageError for anything bad: unknown
// flag, missing or malformed URL, malformed duration or number, a number out of range,
// conflicting flags (-d with -n, --http1.1 with --http2, -b with --body-file), a malformed
// header or method, an unreadable --body-file (named, with the system's reason).
std::optional<Options> parse_options(int argc, const char* const* argv, std::ostream& out);

// The --help text: options by group, the TIME format, exit statuses, examples.
std::string usage_text();

// A duration > 0 written as Go writes them: decimal numbers each followed by a unit (ns, us or
// µs, ms, s, m, h), e.g. "250ms", "10s", "1m", "1h", "1m30s", "1.5s". Throws UsageError
// naming `what` (e.g. "-d/--duration") otherwise; a bare number is an error that asks for a
// unit.
std::chrono::nanoseconds parse_duration(std::string_view text, std::string_view what);

}  // namespace httpbench
