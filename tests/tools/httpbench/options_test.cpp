// httpbench's command line: every option in its long and short forms, defaults, durations, and
// every kind of bad input, which must be a UsageError whose message is one line naming the
// problem.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "options.h"

namespace httpbench {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using testing::HasSubstr;

constexpr const char* kUrl = "http://127.0.0.1:8080/";

std::optional<Options> parse(std::vector<std::string> args, std::ostream& out) {
  args.insert(args.begin(), "httpbench");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_options(static_cast<int>(argv.size()), argv.data(), out);
}

Options parse_ok(std::vector<std::string> args) {
  std::ostringstream out;
  std::optional<Options> o = parse(std::move(args), out);
  EXPECT_TRUE(o.has_value());
  EXPECT_EQ(out.str(), "");  // parsing prints nothing unless asked for help or the version
  return o.value_or(Options{});
}

// The UsageError's message; a test failure when there is none or it is not one line.
std::string usage_error(std::vector<std::string> args) {
  std::ostringstream out;
  try {
    parse(args, out);
  } catch (const UsageError& e) {
    const std::string message = e.what();
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_FALSE(message.starts_with("httpbench:")) << message;
    EXPECT_EQ(out.str(), "");
    return message;
  }
  ADD_FAILURE() << "no UsageError";
  return "";
}

TEST(Options, DefaultsWithJustAUrl) {
  const Options o = parse_ok({kUrl});
  EXPECT_EQ(o.urls, std::vector<std::string>{kUrl});
  EXPECT_EQ(o.connections, 50);
  EXPECT_FALSE(o.duration);
  EXPECT_FALSE(o.requests);
  EXPECT_EQ(o.effective_duration(), seconds(10));
  EXPECT_EQ(o.procs, 0);
  EXPECT_EQ(o.rate, 0);
  EXPECT_EQ(o.method, "GET");
  EXPECT_TRUE(o.headers.empty());
  EXPECT_FALSE(o.body);
  EXPECT_EQ(o.timeout, seconds(10));
  EXPECT_TRUE(o.keepalive);
  EXPECT_EQ(o.http, HttpVersion::any);
  EXPECT_FALSE(o.insecure);
  EXPECT_EQ(o.warmup, nanoseconds(0));
  EXPECT_FALSE(o.json_path);
  EXPECT_FALSE(o.quiet);
}

TEST(Options, EveryLongOption) {
  const Options o = parse_ok({"--connections",
                              "7",
                              "--duration",
                              "1m30s",
                              "--procs",
                              "3",
                              "--rate",
                              "250.5",
                              "--method",
                              "PUT",
                              "--header",
                              "A: 1",
                              "--header",
                              "B-b: two words",
                              "--body",
                              "{\"x\":1}",
                              "--timeout",
                              "1500ms",
                              "--no-keepalive",
                              "--http1.1",
                              "--insecure",
                              "--warmup",
                              "2s",
                              "--json=out.json",
                              "--quiet",
                              kUrl,
                              "https://example.com/b"});
  EXPECT_EQ(o.connections, 7);
  EXPECT_EQ(o.duration, seconds(90));
  EXPECT_EQ(o.effective_duration(), seconds(90));
  EXPECT_EQ(o.procs, 3);
  EXPECT_DOUBLE_EQ(o.rate, 250.5);
  EXPECT_EQ(o.method, "PUT");
  EXPECT_EQ(o.headers, (std::vector<std::string>{"A: 1", "B-b: two words"}));
  EXPECT_EQ(o.body, "{\"x\":1}");
  EXPECT_EQ(o.timeout, milliseconds(1500));
  EXPECT_FALSE(o.keepalive);
  EXPECT_EQ(o.http, HttpVersion::v1_1);
  EXPECT_TRUE(o.insecure);
  EXPECT_EQ(o.warmup, seconds(2));
  EXPECT_EQ(o.json_path, "out.json");
  EXPECT_TRUE(o.quiet);
  EXPECT_EQ(o.urls, (std::vector<std::string>{kUrl, "https://example.com/b"}));
}

TEST(Options, EveryShortOption) {
  const Options o = parse_ok({"-c", "9", "-n", "1000", "-t", "2", "-R", "100", "-m", "DELETE", "-H",
                              "X-One: 1", "-H", "X-Two: 2", "-b", "hello", "-k", "-q", kUrl});
  EXPECT_EQ(o.connections, 9);
  EXPECT_EQ(o.requests, 1000u);
  EXPECT_FALSE(o.duration);
  EXPECT_FALSE(o.effective_duration());  // -n alone: no time limit
  EXPECT_EQ(o.procs, 2);
  EXPECT_DOUBLE_EQ(o.rate, 100);
  EXPECT_EQ(o.method, "DELETE");
  EXPECT_EQ(o.headers, (std::vector<std::string>{"X-One: 1", "X-Two: 2"}));
  EXPECT_EQ(o.body, "hello");
  EXPECT_TRUE(o.insecure);
  EXPECT_TRUE(o.quiet);
}

TEST(Options, AttachedValueForms) {
  const Options o = parse_ok({"-c5", "--requests=12", "-HName: v", "--method=PATCH", kUrl});
  EXPECT_EQ(o.connections, 5);
  EXPECT_EQ(o.requests, 12u);
  EXPECT_EQ(o.headers, std::vector<std::string>{"Name: v"});
  EXPECT_EQ(o.method, "PATCH");
  EXPECT_EQ(parse_ok({"-d10s", kUrl}).duration, seconds(10));
}

TEST(Options, HeaderTakesOneValueAndLeavesTheUrls) {
  const Options o = parse_ok({"-H", "A: b", kUrl, "-H", "C:", "http://127.0.0.1:9/"});
  EXPECT_EQ(o.headers, (std::vector<std::string>{"A: b", "C:"}));
  EXPECT_EQ(o.urls, (std::vector<std::string>{kUrl, "http://127.0.0.1:9/"}));
}

TEST(Options, SeveralUrlsInOrderAnywhereOnTheLine) {
  const Options o =
      parse_ok({"http://127.0.0.1:1/a", "-c", "2", "https://[::1]:8443/b", "HTTP://LOCALHOST/c"});
  EXPECT_EQ(o.urls, (std::vector<std::string>{"http://127.0.0.1:1/a", "https://[::1]:8443/b",
                                              "HTTP://LOCALHOST/c"}));
}

TEST(Options, RequestsBelowConnectionsIsFine) {
  const Options o = parse_ok({"-n", "3", "-c", "100", kUrl});
  EXPECT_EQ(o.requests, 3u);
  EXPECT_EQ(o.connections, 100);
}

TEST(Options, LastValueWinsButHeadersAdd) {
  const Options o = parse_ok({"-c", "5", "-c", "6", "-H", "A: 1", "-H", "A: 2", kUrl});
  EXPECT_EQ(o.connections, 6);
  EXPECT_EQ(o.headers.size(), 2u);
}

TEST(Options, Http2AndBounds) {
  EXPECT_EQ(parse_ok({"--http2", kUrl}).http, HttpVersion::v2);
  EXPECT_EQ(parse_ok({"-c", "1", kUrl}).connections, 1);
  EXPECT_EQ(parse_ok({"-c", "1000000", kUrl}).connections, 1'000'000);
  EXPECT_EQ(parse_ok({"-t", "0", kUrl}).procs, 0);
  EXPECT_EQ(parse_ok({"-n", "1", kUrl}).requests, 1u);
  EXPECT_EQ(parse_ok({"--warmup", "0", kUrl}).warmup, nanoseconds(0));
  EXPECT_DOUBLE_EQ(parse_ok({"-R", "0.5", kUrl}).rate, 0.5);
}

TEST(Options, BodyMakesTheDefaultMethodPost) {
  EXPECT_EQ(parse_ok({"-b", "x", kUrl}).method, "POST");
  EXPECT_EQ(parse_ok({"-b", "", kUrl}).method, "POST");
  EXPECT_EQ(parse_ok({"-b", "x", "-m", "PUT", kUrl}).method, "PUT");
}

TEST(Options, JsonWithAndWithoutFile) {
  // Bare --json: stdout, and the URL after it stays a URL.
  Options o = parse_ok({"--json", kUrl});
  EXPECT_EQ(o.json_path, "-");
  EXPECT_EQ(o.urls, std::vector<std::string>{kUrl});
  o = parse_ok({kUrl, "--json"});
  EXPECT_EQ(o.json_path, "-");
  o = parse_ok({"--json", "-q", kUrl});
  EXPECT_EQ(o.json_path, "-");
  EXPECT_TRUE(o.quiet);
  EXPECT_EQ(parse_ok({"--json", "-", kUrl}).json_path, "-");
  EXPECT_EQ(parse_ok({"--json", "report.json", kUrl}).json_path, "report.json");
  EXPECT_EQ(parse_ok({"--json=r.json", kUrl}).json_path, "r.json");
  // After "--" everything is a URL.
  o = parse_ok({"-c", "2", "--", kUrl});
  EXPECT_EQ(o.urls, std::vector<std::string>{kUrl});
}

TEST(Options, BodyFileIsRead) {
  constexpr char kBody[] = "line one\nline two\0binary";  // sent as is, NUL included
  const std::string body(kBody, sizeof kBody - 1);
  const std::string path = testing::TempDir() + "httpbench_body_" + std::to_string(::getpid());
  {
    std::ofstream f(path, std::ios::binary);
    f << body;
  }
  const Options o = parse_ok({"--body-file", path, kUrl});
  std::remove(path.c_str());
  EXPECT_EQ(o.body, body);
  EXPECT_EQ(o.method, "POST");
}

TEST(Options, Durations) {
  const std::pair<const char*, nanoseconds> cases[] = {
      {"2ns", nanoseconds(2)},
      {"2us", microseconds(2)},
      {"2\xC2\xB5s", microseconds(2)},
      {"250ms", milliseconds(250)},
      {"10s", seconds(10)},
      {"1m", minutes(1)},
      {"1h", hours(1)},
      {"1m30s", seconds(90)},
      {"1h2m3s4ms", hours(1) + minutes(2) + seconds(3) + milliseconds(4)},
      {"1.5s", milliseconds(1500)},
      {".5s", milliseconds(500)},
      {"0.25m", seconds(15)},
      {"1.5h", minutes(90)},
      {"0.3s", milliseconds(300)},  // not 299999999 ns: binary fractions are rounded
      {"1.1s", milliseconds(1100)},
      {"0.001ms", microseconds(1)},
  };
  for (const auto& [text, expected] : cases) {
    EXPECT_EQ(parse_duration(text, "-d/--duration"), expected) << text;
  }
}

TEST(Options, BadDurations) {
  auto message = [](const char* text) {
    try {
      parse_duration(text, "-d/--duration");
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no UsageError for ") + text;
  };
  EXPECT_THAT(message("10"), HasSubstr("add a unit"));
  EXPECT_THAT(message("10"), HasSubstr("-d/--duration"));
  EXPECT_THAT(message("1.5"), HasSubstr("add a unit"));
  EXPECT_THAT(message("0"), HasSubstr("greater than 0"));
  EXPECT_THAT(message("0s"), HasSubstr("greater than 0"));
  for (const char* bad : {"", "s", "10x", "ten seconds", "-5s", "1m30", "10 s", "1..5s", "10S"}) {
    EXPECT_THAT(message(bad), HasSubstr("invalid duration")) << bad;
  }
  EXPECT_THAT(message("9999999h"), HasSubstr("too long"));
}

TEST(Options, HelpPrintsUsageAndReturnsNothing) {
  for (const char* flag : {"--help", "-h"}) {
    std::ostringstream out;
    EXPECT_FALSE(parse({flag}, out).has_value());
    const std::string help = out.str();
    EXPECT_EQ(help, usage_text());
    for (const char* expected : {"Usage: httpbench [options] URL...",
                                 "-c, --connections",
                                 "-d, --duration",
                                 "-n, --requests",
                                 "-t, --procs",
                                 "-R, --rate",
                                 "-m, --method",
                                 "-H, --header",
                                 "-b, --body",
                                 "--body-file",
                                 "--timeout",
                                 "--no-keepalive",
                                 "--http1.1",
                                 "--http2",
                                 "--insecure",
                                 "--warmup",
                                 "--json",
                                 "--quiet",
                                 "--version",
                                 "Exit status:",
                                 "Examples:",
                                 "coordinated omission"}) {
      EXPECT_THAT(help, HasSubstr(expected));
    }
    EXPECT_THAT(help, testing::ContainsRegex("\n  0  every request"));
    EXPECT_THAT(help, testing::ContainsRegex("\n  1  some request failed"));
    EXPECT_THAT(help, testing::ContainsRegex("\n  2  bad command line"));
    EXPECT_THAT(help, testing::ContainsRegex("\n  3  "));
  }
  // Help wins over a missing URL and over other options.
  std::ostringstream out;
  EXPECT_FALSE(parse({"-c", "5", "--help"}, out).has_value());
  EXPECT_EQ(out.str(), usage_text());
}

TEST(Options, VersionPrintsAndReturnsNothing) {
  std::ostringstream out;
  EXPECT_FALSE(parse({"--version"}, out).has_value());
  EXPECT_EQ(out.str(), "httpbench " + std::string(kVersion) + "\n");
}

TEST(Options, UnknownOptions) {
  EXPECT_EQ(usage_error({"--foo", kUrl}), "unknown option '--foo' (see httpbench --help)");
  EXPECT_THAT(usage_error({kUrl, "-x"}), HasSubstr("unknown option '-x'"));
  EXPECT_THAT(usage_error({"--connection", "5", kUrl}), HasSubstr("'--connection'"));
}

TEST(Options, MissingUrl) {
  EXPECT_THAT(usage_error({}), HasSubstr("missing URL"));
  EXPECT_THAT(usage_error({"-c", "5"}), HasSubstr("missing URL"));
}

TEST(Options, BadUrls) {
  EXPECT_THAT(usage_error({"ftp://127.0.0.1/x"}),
              testing::AllOf(HasSubstr("'ftp://127.0.0.1/x'"), HasSubstr("scheme 'ftp'")));
  EXPECT_THAT(usage_error({"garbage"}),
              testing::AllOf(HasSubstr("invalid URL 'garbage'"), HasSubstr("no scheme")));
  EXPECT_THAT(usage_error({"127.0.0.1:8080"}), HasSubstr("http://127.0.0.1:8080"));
  EXPECT_THAT(usage_error({"http://"}), HasSubstr("no host"));
  EXPECT_THAT(usage_error({"http:///path"}), HasSubstr("no host"));
  EXPECT_THAT(usage_error({"http://a b/"}), HasSubstr("invalid URL 'http://a b/'"));
  EXPECT_THAT(usage_error({"http://127.0.0.1:99999/"}), HasSubstr("invalid URL"));
  // One bad URL among good ones is named.
  EXPECT_THAT(usage_error({kUrl, "htp://x/"}), HasSubstr("'htp://x/'"));
}

TEST(Options, BadNumbers) {
  EXPECT_THAT(usage_error({"-c", "0", kUrl}),
              testing::AllOf(HasSubstr("-c/--connections"), HasSubstr("from 1 to 1000000")));
  EXPECT_THAT(usage_error({"-c", "-5", kUrl}), HasSubstr("-c/--connections must be"));
  EXPECT_THAT(usage_error({"-c", "1000001", kUrl}), HasSubstr("from 1 to 1000000"));
  EXPECT_THAT(usage_error({"-c", "99999999999999999999", kUrl}), HasSubstr("-c/--connections"));
  EXPECT_THAT(usage_error({"-c", "ten", kUrl}),
              testing::AllOf(HasSubstr("'ten'"), HasSubstr("-c/--connections")));
  EXPECT_THAT(usage_error({"-c", "1.5", kUrl}), HasSubstr("whole number"));
  EXPECT_THAT(usage_error({"-n", "0", kUrl}), HasSubstr("-n/--requests"));
  EXPECT_THAT(usage_error({"-n", "-1", kUrl}), HasSubstr("-n/--requests must be"));
  EXPECT_THAT(usage_error({"-t", "-1", kUrl}), HasSubstr("-t/--procs"));
  EXPECT_THAT(usage_error({"-t", "5000", kUrl}), HasSubstr("-t/--procs"));
  for (const char* rate : {"0", "-3", "abc", "nan", "inf", "1e10", "5/s"}) {
    EXPECT_THAT(usage_error({"-R", rate, kUrl}), HasSubstr("-R/--rate")) << rate;
  }
}

TEST(Options, BadDurationOptions) {
  EXPECT_THAT(usage_error({"-d", "10", kUrl}),
              testing::AllOf(HasSubstr("-d/--duration"), HasSubstr("add a unit")));
  EXPECT_THAT(usage_error({"-d", "soon", kUrl}), HasSubstr("invalid duration 'soon'"));
  EXPECT_THAT(usage_error({"-d", "0s", kUrl}), HasSubstr("greater than 0"));
  EXPECT_THAT(usage_error({"--timeout", "5", kUrl}), HasSubstr("--timeout"));
  EXPECT_THAT(usage_error({"--timeout", "0ms", kUrl}), HasSubstr("--timeout"));
  EXPECT_THAT(usage_error({"--warmup", "x", kUrl}), HasSubstr("--warmup"));
}

TEST(Options, Conflicts) {
  EXPECT_THAT(usage_error({"-d", "1s", "-n", "5", kUrl}),
              testing::AllOf(HasSubstr("-d/--duration"), HasSubstr("-n/--requests"),
                             HasSubstr("conflict")));
  EXPECT_THAT(usage_error({"--http1.1", "--http2", kUrl}),
              testing::AllOf(HasSubstr("--http1.1"), HasSubstr("--http2")));
  EXPECT_THAT(usage_error({"-b", "x", "--body-file", "/dev/null", kUrl}),
              testing::AllOf(HasSubstr("-b/--body"), HasSubstr("--body-file")));
}

TEST(Options, MissingBodyFileNamesFileAndReason) {
  const std::string path = testing::TempDir() + "httpbench_no_such_dir/body";
  EXPECT_THAT(usage_error({"--body-file", path, kUrl}),
              testing::AllOf(HasSubstr("'" + path + "'"), HasSubstr("No such file or directory")));
  EXPECT_THAT(usage_error({"--body-file", "/", kUrl}), HasSubstr("Is a directory"));
}

TEST(Options, BadHeadersAndMethods) {
  EXPECT_THAT(usage_error({"-H", "NoColon", kUrl}),
              testing::AllOf(HasSubstr("'NoColon'"), HasSubstr("Name: value")));
  EXPECT_THAT(usage_error({"-H", ": value", kUrl}), HasSubstr("empty name"));
  EXPECT_THAT(usage_error({"-H", "Bad Name: v", kUrl}), HasSubstr("'Bad Name'"));
  EXPECT_THAT(usage_error({"-H", "A: b\r\nEvil: 1", kUrl}), HasSubstr("line break"));
  EXPECT_THAT(usage_error({"-m", "GE T", kUrl}), HasSubstr("-m/--method"));
  EXPECT_THAT(usage_error({"-m", "", kUrl}), HasSubstr("-m/--method"));
}

TEST(Options, MissingValuesAndValuedFlags) {
  EXPECT_THAT(usage_error({kUrl, "-c"}),
              testing::AllOf(HasSubstr("--connections"), HasSubstr("needs a value")));
  EXPECT_THAT(usage_error({kUrl, "--json="}), HasSubstr("--json"));
  EXPECT_THAT(usage_error({"--quiet=maybe", kUrl}), HasSubstr("--quiet"));
}

}  // namespace
}  // namespace httpbench
