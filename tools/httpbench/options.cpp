// httpbench's command line.
//
// CLI11 finds the options and their values; everything else is checked here, so that each bad
// input gets one line that names the option and the problem (CLI11's own messages can span
// lines and name options by one spelling only). Values are taken as strings and converted here
// for the same reason: "invalid value 'x' for -c/--connections: expected a whole number from 1
// to 1000000" says more than "Could not convert".
//
// Two conventions that CLI11 does not provide are applied before it sees argv:
//   - `--json` takes an optional FILE. A bare `--json` followed by a URL must not swallow the
//     URL, so a separate argument is taken as FILE only when it is not an option and contains no
//     "://" (every URL httpbench accepts does). `--json=FILE` is always FILE.
//   - Options given twice keep the last value (as most Unix tools do), except -H, which adds.
#include "options.h"

#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <curl/curl.h>

namespace httpbench {

namespace {

constexpr int kMaxConnections = 1'000'000;
constexpr int kMaxProcs = 1024;   // go::run accepts at most this many Ps
constexpr double kMaxRate = 1e9;  // requests/s; beyond any machine, catches typos

[[noreturn]] void fail(const std::string& message) {
  throw UsageError(message);
}

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// An integer in [lo, hi] that is the whole text: digits with an optional leading '-', no
// spaces, no unit.
template <class Int>
Int parse_integer(std::string_view text, std::string_view what, Int lo, Int hi) {
  Int value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  const std::string range = hi == std::numeric_limits<Int>::max()
                                ? std::to_string(lo) + " or more"
                                : "from " + std::to_string(lo) + " to " + std::to_string(hi);
  // from_chars reads no '-' into an unsigned type: "-5" is out of range, not malformed.
  const bool negative =
      text.size() > 1 && text[0] == '-' && std::all_of(text.begin() + 1, text.end(), is_digit);
  if (negative) fail(std::string(what) + " must be " + range + ", got " + std::string(text));
  if (text.empty() || ptr != end || ec == std::errc::invalid_argument) {
    fail("invalid value " + in_quotes(text) + " for " + std::string(what) +
         ": expected a whole number " + range);
  }
  if (ec == std::errc::result_out_of_range || value < lo || value > hi) {
    fail(std::string(what) + " must be " + range + ", got " + std::string(text));
  }
  return value;
}

double parse_rate(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ptr != end || ec != std::errc() || !std::isfinite(value)) {
    fail("invalid value " + in_quotes(text) +
         " for -R/--rate: expected requests per second, e.g. 1000");
  }
  if (value <= 0 || value > kMaxRate) {
    fail("-R/--rate must be greater than 0 and at most 1e9 requests/s, got " + std::string(text));
  }
  return value;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 9110 token characters: what a method or a header name may be made of.
bool is_token(std::string_view s) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kSpecials.find(c) != kSpecials.npos;
  });
}

// http:// or https:// with a host, as libcurl parses it (so that what passes here is what
// libcurl will request). The scheme is checked first so that the message says what is wrong
// rather than libcurl's "Unsupported URL scheme".
void check_url(const std::string& url) {
  const std::size_t sep = url.find("://");
  if (sep == std::string::npos) {
    fail("invalid URL " + in_quotes(url) + ": no scheme (write http://" + url + " or https://" +
         url + ")");
  }
  const std::string_view scheme = std::string_view(url).substr(0, sep);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) {
    fail("invalid URL " + in_quotes(url) + ": scheme " + in_quotes(scheme) +
         " is not supported (use http:// or https://)");
  }
  if (sep + 3 >= url.size() || url[sep + 3] == '/') {
    fail("invalid URL " + in_quotes(url) + ": no host");
  }
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), &curl_url_cleanup);
  if (!handle) fail("cannot check URL " + in_quotes(url) + ": out of memory");
  // No CURLU_DEFAULT_SCHEME: a URL without one was rejected above and must stay rejected.
  const CURLUcode rc = curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0);
  if (rc != CURLUE_OK) fail("invalid URL " + in_quotes(url) + ": " + curl_url_strerror(rc));
  char* host = nullptr;
  const CURLUcode host_rc = curl_url_get(handle.get(), CURLUPART_HOST, &host, 0);
  const bool has_host = host_rc == CURLUE_OK && host != nullptr && host[0] != '\0';
  curl_free(host);
  if (!has_host) fail("invalid URL " + in_quotes(url) + ": no host");
}

void check_header(const std::string& header) {
  const std::size_t colon = header.find(':');
  if (colon == std::string::npos) {
    fail("invalid header " + in_quotes(header) + " for -H/--header: expected 'Name: value'");
  }
  const std::string_view name = std::string_view(header).substr(0, colon);
  if (name.empty()) fail("invalid header " + in_quotes(header) + " for -H/--header: empty name");
  if (!is_token(name)) {
    fail("invalid header " + in_quotes(header) + " for -H/--header: name " + in_quotes(name) +
         " has characters a header name cannot have");
  }
  if (header.find_first_of("\r\n") != std::string::npos) {
    fail("invalid header for -H/--header: it contains a line break");
  }
}

std::string read_body_file(const std::string& path) {
  auto cannot_read = [&](int err) {
    fail("cannot read --body-file " + in_quotes(path) + ": " + std::strerror(err));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) cannot_read(errno);
  std::string body;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      body.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int err = errno;
      ::close(fd);
      cannot_read(err);
    }
  }
  ::close(fd);
  return body;
}

// One line from a CLI11 error, for the errors not recognized more precisely below.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// Duration parsing: Go's time.ParseDuration without the sign. A sequence of
// <decimal number><unit>, e.g. "1m30s" or "1.5h"; "0" alone is zero. Returns nullopt for
// malformed text; throws UsageError when well formed but too long.
std::optional<std::chrono::nanoseconds> parse_duration_text(std::string_view text,
                                                            std::string_view what) {
  using std::chrono::nanoseconds;
  if (text == "0") return nanoseconds(0);
  if (text.empty()) return std::nullopt;
  struct Unit {
    std::string_view name;
    std::int64_t ns;
  };
  // Longer names first, so that "ms" is not read as "m" followed by "s".
  constexpr Unit kUnits[] = {{"ns", 1},
                             {"us", 1'000},
                             {"\xC2\xB5s", 1'000},  // µs (micro sign)
                             {"\xCE\xBCs", 1'000},  // μs (Greek mu)
                             {"ms", 1'000'000},
                             {"s", 1'000'000'000},
                             {"m", 60'000'000'000},
                             {"h", 3'600'000'000'000}};
  constexpr long double kMaxNs = static_cast<long double>(std::numeric_limits<std::int64_t>::max());
  long double total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t number_start = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    const std::size_t integer_digits = i - number_start;
    std::size_t fraction_digits = 0;
    if (i < text.size() && text[i] == '.') {
      ++i;
      while (i < text.size() && is_digit(text[i])) ++i, ++fraction_digits;
    }
    if (integer_digits + fraction_digits == 0) return std::nullopt;
    const std::string number(text.substr(number_start, i - number_start));
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.name.size()) == u.name) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return std::nullopt;
    i += unit->name.size();
    // strtold is precise enough: a long double's 64-bit mantissa holds any nanosecond count
    // that fits in int64 exactly, and a decimal fraction to within about 1e-19 relative.
    total += std::strtold(number.c_str(), nullptr) * static_cast<long double>(unit->ns);
    if (total > kMaxNs) {
      fail(std::string(what) + " " + in_quotes(text) + " is too long (at most about 292 years)");
    }
  }
  // Rounded, not truncated: "0.3s" is 0.29999999999999999998 s in binary, and 300 ms meant.
  return nanoseconds(static_cast<std::int64_t>(std::roundl(total)));
}

std::chrono::nanoseconds parse_nonnegative_duration(std::string_view text, std::string_view what) {
  if (auto d = parse_duration_text(text, what)) return *d;
  const bool bare_number = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return is_digit(c) || c == '.';
  }) && std::any_of(text.begin(), text.end(), is_digit);
  if (bare_number) {
    fail("invalid duration " + in_quotes(text) + " for " + std::string(what) +
         ": add a unit, e.g. " + std::string(text) + "s or " + std::string(text) + "ms");
  }
  fail("invalid duration " + in_quotes(text) + " for " + std::string(what) +
       ": expected a number with a unit (ns, us, ms, s, m, h), e.g. 500ms, 10s, 1m30s");
}

// See the file comment: a bare `--json` becomes `--json=-` unless the next argument is its
// FILE. Stops at "--", after which everything is a URL.
std::vector<std::string> normalize_json_option(std::vector<std::string> args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    if (args[i] != "--json") {
      out.push_back(args[i]);
      continue;
    }
    const bool next_is_file = i + 1 < args.size() &&
                              (args[i + 1] == "-" || !args[i + 1].starts_with("-")) &&
                              args[i + 1].find("://") == std::string::npos;
    if (next_is_file) {
      out.push_back("--json=" + args[++i]);
    } else {
      out.push_back("--json=-");
    }
  }
  return out;
}

// "--connections: 1 required N missing" (CLI11's ArgumentMismatch::TypedAtLeast) names the
// option before the colon.
std::string missing_value_message(const std::string& cli11_message) {
  const std::size_t colon = cli11_message.find(':');
  if (colon != std::string::npos && cli11_message.find(" required ") != std::string::npos &&
      cli11_message.ends_with(" missing")) {
    return "option " + cli11_message.substr(0, colon) + " needs a value (see httpbench --help)";
  }
  if (cli11_message.ends_with(" was given a disallowed flag override")) {
    // CLI11 names the flag as written without its dashes.
    std::string name = cli11_message.substr(0, cli11_message.find(' '));
    if (!name.starts_with("-")) name.insert(0, name.size() == 1 ? "-" : "--");
    return "option " + name + " takes no value (see httpbench --help)";
  }
  return one_line(cli11_message) + " (see httpbench --help)";
}

}  // namespace

std::string usage_text() {
  return R"(Usage: httpbench [options] URL...

Sends HTTP requests to URL from many concurrent connections and reports throughput, latency
percentiles, status codes and errors. Several URLs are requested in turn (round-robin).

Load:
  -c, --connections N    concurrent connections (virtual users), 1 to 1000000 (default 50)
  -d, --duration TIME    how long to run (default 10s)
  -n, --requests N       send N requests in total instead of running for a time; N may be
                         below -c (connections without a request to send stay idle)
  -R, --rate N           N requests/s in total, at a constant pace; latency is measured from
                         when each request should have been sent, so a stalled server is not
                         hidden (coordinated omission, as wrk2 corrects it). Default: as fast as
                         the server answers
  -t, --procs N          threads running the connections, 1 to 1024; 0: one per core (default)
      --warmup TIME      run this long first without measuring (default 0: none)

Request:
  -m, --method METHOD    HTTP method (default GET, or POST when a body is given)
  -H, --header 'N: V'    add a request header; repeatable. 'Name:' with no value removes a
                         header libcurl would send
  -b, --body TEXT        request body
      --body-file FILE   request body read from FILE
      --timeout TIME     per request, connecting included (default 10s)
      --no-keepalive     open a new connection for every request
      --http1.1          use HTTP/1.1
      --http2            use HTTP/2
  -k, --insecure         do not verify TLS certificates or host names

Output:
      --json[=FILE]      also write the report as JSON to FILE; with '-' or no FILE the JSON
                         alone goes to standard output, the text report to standard error. A
                         FILE given after a space must not contain "://" (it would be a URL)
  -q, --quiet            no live progress (on standard error) while running
  -h, --help             show this help and exit
      --version          show the version and exit

TIME is a number with a unit (ns, us, ms, s, m, h), several may follow each other: 500ms, 10s,
1.5s, 1m30s, 2h. A number without a unit is an error. -d and -n exclude each other, as do
--http1.1 and --http2, and -b and --body-file. An option given twice keeps its last value,
except -H.

Exit status:
  0  every request got a response with status below 400
  1  some request failed (a transport error, or a status of 400 or above), or none completed
  2  bad command line; nothing was sent
  3  the run could not be carried out (the runtime or libcurl failed)

Examples:
  httpbench http://127.0.0.1:8080/
  httpbench -c 200 -d 30s https://example.com/api
  httpbench -n 10000 -c 100 -m PUT -H 'Content-Type: application/json' -b '{"a":1}' \
      http://127.0.0.1:8080/items
  httpbench -R 5000 -d 1m --warmup 5s --json=report.json http://127.0.0.1:8080/
  httpbench --http2 -k https://127.0.0.1:8443/a https://127.0.0.1:8443/b
)";
}

std::chrono::nanoseconds parse_duration(std::string_view text, std::string_view what) {
  const std::chrono::nanoseconds d = parse_nonnegative_duration(text, what);
  if (d <= std::chrono::nanoseconds(0)) {
    fail(std::string(what) + " must be greater than 0, got " + std::string(text));
  }
  return d;
}

std::optional<Options> parse_options(int argc, const char* const* argv, std::ostream& out) {
  CLI::App app("httpbench", "httpbench");
  app.set_help_flag("-h,--help");
  app.set_version_flag("--version", std::string(kVersion));
  // Last value wins for every single-valued option (see the file comment).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  std::string connections, duration, requests, procs, rate, method, body, body_file, timeout,
      warmup, json;
  std::vector<std::string> headers, urls;
  bool no_keepalive = false, http1_1 = false, http2 = false, insecure = false, quiet = false;

  auto* connections_opt = app.add_option("-c,--connections", connections);
  auto* duration_opt = app.add_option("-d,--duration", duration);
  auto* requests_opt = app.add_option("-n,--requests", requests);
  auto* procs_opt = app.add_option("-t,--procs", procs);
  auto* rate_opt = app.add_option("-R,--rate", rate);
  auto* method_opt = app.add_option("-m,--method", method);
  // One value per -H, so that `-H 'A: b' URL` leaves URL alone.
  app.add_option("-H,--header", headers)->allow_extra_args(false)->take_all();
  auto* body_opt = app.add_option("-b,--body", body);
  auto* body_file_opt = app.add_option("--body-file", body_file);
  auto* timeout_opt = app.add_option("--timeout", timeout);
  auto* warmup_opt = app.add_option("--warmup", warmup);
  auto* json_opt = app.add_option("--json", json);
  for (auto [name, flag] : {std::pair{"--no-keepalive", &no_keepalive},
                            {"--http1.1", &http1_1},
                            {"--http2", &http2},
                            {"-k,--insecure", &insecure},
                            {"-q,--quiet", &quiet}}) {
    app.add_flag(name, *flag)->disable_flag_override();
  }
  app.add_option("URL", urls)->take_all();

  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  args = normalize_json_option(std::move(args));
  std::reverse(args.begin(), args.end());  // CLI11 parses a vector from its back

  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    out << usage_text();
    return std::nullopt;
  } catch (const CLI::CallForVersion& v) {
    out << "httpbench " << v.what() << "\n";
    return std::nullopt;
  } catch (const CLI::ExtrasError&) {
    const std::vector<std::string> extras = app.remaining();
    const auto unknown = std::find_if(extras.begin(), extras.end(),
                                      [](const std::string& a) { return a.starts_with("-"); });
    if (unknown != extras.end())
      fail("unknown option " + in_quotes(*unknown) + " (see httpbench --help)");
    fail("unexpected argument " + in_quotes(extras.empty() ? "" : extras.front()) +
         " (see httpbench --help)");
  } catch (const CLI::ArgumentMismatch& e) {
    fail(missing_value_message(e.what()));
  } catch (const CLI::ConversionError& e) {
    // Only flags convert in CLI11 here (every value is a string): `--quiet=maybe`.
    fail(one_line(e.what()) + " (see httpbench --help)");
  } catch (const CLI::ParseError& e) {
    fail(one_line(e.what()) + " (see httpbench --help)");
  }

  auto given = [](const CLI::Option* opt) { return opt->count() > 0; };

  // Conflicts first: they say what the user meant better than a bad value in one of them.
  if (given(duration_opt) && given(requests_opt)) {
    fail("-d/--duration and -n/--requests conflict: run for a time or for a number of requests");
  }
  if (http1_1 && http2) fail("--http1.1 and --http2 conflict: choose one HTTP version");
  if (given(body_opt) && given(body_file_opt)) {
    fail("-b/--body and --body-file conflict: give the body one way");
  }

  if (urls.empty()) fail("missing URL (usage: httpbench [options] URL...; see httpbench --help)");
  for (const std::string& url : urls) check_url(url);

  Options o;
  o.urls = urls;
  if (given(connections_opt)) {
    o.connections = parse_integer<int>(connections, "-c/--connections", 1, kMaxConnections);
  }
  if (given(duration_opt)) o.duration = parse_duration(duration, "-d/--duration");
  if (given(requests_opt)) {
    o.requests = parse_integer<std::uint64_t>(requests, "-n/--requests", 1,
                                              std::numeric_limits<std::uint64_t>::max());
  }
  if (given(procs_opt)) o.procs = parse_integer<int>(procs, "-t/--procs", 0, kMaxProcs);
  if (given(rate_opt)) o.rate = parse_rate(rate);
  for (const std::string& header : headers) check_header(header);
  o.headers = headers;
  if (given(body_opt)) o.body = body;
  if (given(body_file_opt)) o.body = read_body_file(body_file);
  if (given(method_opt)) {
    if (!is_token(method)) {
      fail("invalid method " + in_quotes(method) + " for -m/--method: expected a word like GET");
    }
    o.method = method;
  } else if (o.body) {
    o.method = "POST";
  }
  if (given(timeout_opt)) o.timeout = parse_duration(timeout, "--timeout");
  if (given(warmup_opt)) o.warmup = parse_nonnegative_duration(warmup, "--warmup");
  o.keepalive = !no_keepalive;
  o.http = http1_1 ? HttpVersion::v1_1 : http2 ? HttpVersion::v2 : HttpVersion::any;
  o.insecure = insecure;
  o.quiet = quiet;
  if (given(json_opt)) {
    if (json.empty()) fail("--json=FILE needs a file name (or '-' for standard output)");
    o.json_path = json;
  }
  return o;
}

}  // namespace httpbench
