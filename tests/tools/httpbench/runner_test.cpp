// httpbench's load engine (tools/httpbench/runner.h) and live progress (progress.h) against
// local servers (test_server.h) that answer fast, slowly, with errors, never, with resets, or
// die mid-run. Every run also checks that the live counters agree with the merged stats and
// that no fd is left open.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>
#include <gtest/gtest.h>

#include "go/go.h"
#include "go/net.h"
#include "progress.h"
#include "report.h"
#include "runner.h"
#include "test_server.h"
#include "test_util.h"

namespace {

using namespace std::chrono_literals;
using httpbench::ErrorClass;
using httpbench::LiveCounts;
using httpbench::Options;
using httpbench::Report;
using httpbench_test::TestServer;
using Clock = std::chrono::steady_clock;

// Extra seconds a run may take to start and wind down (sanitizer builds run slower).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kSlack = 3.0;
#else
constexpr double kSlack = 1.5;
#endif

std::uint64_t errors_of(const Report& r, ErrorClass c) {
  return r.stats.errors[static_cast<int>(c)];
}

int open_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

Options options_for(const std::string& url) {
  Options o;
  o.urls = {url};
  o.connections = 4;
  o.duration = 1s;
  o.quiet = true;
  return o;
}

// One run_load inside go::run, with what the progress hook saw.
struct Result {
  Report report;
  std::vector<LiveCounts> ticks;  // every on_tick, the final (done) one last
  double wall_s = 0;              // go::run included
};

Result run(const Options& opts, int procs = 2, const std::atomic<bool>* interrupt = nullptr,
           std::chrono::nanoseconds tick = 100ms) {
  Result r;
  httpbench::RunHooks hooks;
  hooks.interrupt = interrupt;
  hooks.tick = tick;
  hooks.on_tick = [&r](const LiveCounts& live) { r.ticks.push_back(live); };
  gocxx_test::Watchdog watchdog(std::chrono::seconds(120));
  const auto start = Clock::now();
  go::run([&] { r.report = httpbench::run_load(opts, hooks); }, gocxx_test::procs(procs));
  r.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

// What holds for every run: the numbers add up, and the live counters (the last tick) agree
// with the merged stats.
void expect_consistent(const Result& r) {
  const httpbench::Stats& s = r.report.stats;
  EXPECT_EQ(s.requests(), s.responses() + s.transport_errors());
  EXPECT_EQ(s.latency_us.count(), s.responses()) << "one latency per complete response";
  ASSERT_FALSE(r.ticks.empty());
  const LiveCounts& last = r.ticks.back();
  EXPECT_TRUE(last.done);
  EXPECT_EQ(last.requests, s.requests()) << "live request counter vs merged stats";
  EXPECT_EQ(last.failed, s.failed()) << "live failure counter vs merged stats";
  for (std::size_t i = 1; i < r.ticks.size(); ++i) {
    if (r.ticks[i].warming_up == r.ticks[i - 1].warming_up) {
      EXPECT_GE(r.ticks[i].requests, r.ticks[i - 1].requests) << "live counts never go back";
    }
  }
}

class RunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    curl_global_init(CURL_GLOBAL_ALL);
    std::signal(SIGPIPE, SIG_IGN);  // as main does: libcurl with NOSIGNAL leaves it to us
    // What the runtime and libcurl create once and keep must exist before the first fd count:
    // the netpoller's epoll and eventfd (created when a first fd is registered with it, which
    // a go::net listener does for sure; a curl request only when it happens to park) and
    // libcurl's global state (a first request).
    TestServer server;
    Options o = options_for(server.url());
    o.duration.reset();
    o.requests = 1;
    go::run(
        [&] {
          go::net::Listener ln = go::net::listen("127.0.0.1:0");
          ln.close();
          httpbench::run_load(o);
        },
        gocxx_test::procs(2));
  }
  void SetUp() override { fds_before_ = open_fds(); }
  void TearDown() override {
    int now = open_fds();
    for (int i = 0; i < 2000 && now > fds_before_; ++i) {  // a closing fd may be in flight
      std::this_thread::sleep_for(1ms);
      now = open_fds();
    }
    EXPECT_EQ(now, fds_before_) << "fds leaked; open now:" << fd_list();
  }

  static std::string fd_list() {
    std::string out;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      out += "\n  " + e.path().filename().string() + " -> " +
             std::filesystem::read_symlink(e.path(), ec).string();
    }
    return out;
  }

 private:
  int fds_before_ = 0;
};

class RunnerProcsTest : public RunnerTest, public ::testing::WithParamInterface<int> {};

TEST_P(RunnerProcsTest, FastServerEveryRequestAnswered) {
  Result r;
  std::uint64_t served = 0, conns = 0;
  {
    TestServer server;
    Options o = options_for(server.url());
    o.connections = 8;
    r = run(o, GetParam());
    served = server.requests();
    conns = server.connections();
  }
  const httpbench::Stats& s = r.report.stats;
  EXPECT_GT(s.requests(), 0u);
  EXPECT_EQ(s.responses(), s.requests());
  EXPECT_EQ(s.status[200], s.requests());
  EXPECT_EQ(s.transport_errors(), 0u);
  EXPECT_EQ(s.failed(), 0u);
  EXPECT_GT(s.bytes_received, s.requests() * 2) << "headers and bodies are counted";
  EXPECT_DOUBLE_EQ(r.report.duration_s, 1.0);
  EXPECT_EQ(httpbench::exit_status(r.report), 0);
  // Every counted request reached the server; at most one per connection was in flight at
  // the end (sent, then aborted and not counted).
  EXPECT_GE(served, s.requests());
  EXPECT_LE(served, s.requests() + 8);
  EXPECT_LE(conns, 8u) << "keep-alive: one connection per virtual user";
  EXPECT_LT(r.wall_s, 1.0 + kSlack);
  expect_consistent(r);
  std::cout << "[ info ] " << s.requests() << " requests in 1 s on " << GetParam() << " P(s)\n";
}

INSTANTIATE_TEST_SUITE_P(Procs, RunnerProcsTest, ::testing::Values(1, 2, 4),
                         gocxx_test::procs_name);

TEST_F(RunnerTest, SlowServerLatencyIncludesTheDelay) {
  TestServer server({.mode = TestServer::Mode::slow, .delay = 100ms});
  const Result r = run(options_for(server.url()));
  const httpbench::Stats& s = r.report.stats;
  EXPECT_GT(s.responses(), 0u);
  EXPECT_EQ(s.transport_errors(), 0u);
  EXPECT_GE(s.latency_us.min(), 100'000u);
  EXPECT_GE(s.latency_us.percentile(50), 100'000u);
  // 4 connections, each at most one response per 100 ms, for 1 s.
  EXPECT_LE(s.responses(), 4u * 10u);
  expect_consistent(r);
}

TEST_F(RunnerTest, ErrorStatusesCountAsFailed) {
  TestServer server({.status = 500});
  const Result r = run(options_for(server.url()));
  const httpbench::Stats& s = r.report.stats;
  EXPECT_GT(s.requests(), 0u);
  EXPECT_EQ(s.status[500], s.requests());
  EXPECT_EQ(s.http_errors(), s.requests());
  EXPECT_EQ(s.failed(), s.requests());
  EXPECT_EQ(s.transport_errors(), 0u);
  EXPECT_EQ(s.latency_us.count(), s.requests()) << "an error status is still a response";
  EXPECT_EQ(httpbench::exit_status(r.report), 1);
  expect_consistent(r);
}

TEST_F(RunnerTest, SilentServerTimesOutWithinTheRunsBound) {
  TestServer server({.mode = TestServer::Mode::silent});
  Options o = options_for(server.url());
  o.connections = 2;
  o.timeout = 200ms;
  const Result r = run(o);
  const httpbench::Stats& s = r.report.stats;
  EXPECT_EQ(s.responses(), 0u);
  // Each connection times out every 200 ms: 4 or 5 times in 1 s.
  EXPECT_GE(errors_of(r.report, ErrorClass::timeout), 2u * 3u);
  EXPECT_EQ(s.transport_errors(), errors_of(r.report, ErrorClass::timeout));
  EXPECT_LT(r.wall_s, 1.0 + 0.2 + kSlack) << "never past -d + --timeout";
  expect_consistent(r);
}

TEST_F(RunnerTest, RequestsInFlightAtTheDeadlineAreAbortedAndNotCounted) {
  // --timeout far beyond -d: only the end-of-run abort can end these requests in time.
  TestServer server({.mode = TestServer::Mode::silent});
  Options o = options_for(server.url());
  o.timeout = 30s;
  const Result r = run(o);
  EXPECT_EQ(r.report.stats.requests(), 0u) << "aborted requests are not counted";
  EXPECT_EQ(server.requests(), 4u) << "one request per connection was sent";
  EXPECT_LT(r.wall_s, 1.0 + kSlack) << "the run ends at its deadline, not at --timeout";
  EXPECT_DOUBLE_EQ(r.report.duration_s, 1.0);
  EXPECT_EQ(httpbench::exit_status(r.report), 1) << "nothing completed";
  expect_consistent(r);
}

TEST_F(RunnerTest, RefusedConnectionsAreConnectErrorsWithoutBusyLooping) {
  TestServer::ClosedPort closed;
  Options o = options_for(closed.url());
  o.connections = 2;
  const Result r = run(o);
  const httpbench::Stats& s = r.report.stats;
  EXPECT_EQ(s.responses(), 0u);
  EXPECT_GT(errors_of(r.report, ErrorClass::connect), 0u);
  EXPECT_EQ(s.transport_errors(), errors_of(r.report, ErrorClass::connect));
  // kConnectBackoff (10 ms) between attempts: at most ~100 per connection and second (a
  // refused connect on loopback takes microseconds: without the pause, tens of thousands).
  EXPECT_LE(s.requests(), 2u * 110u);
  expect_consistent(r);
}

TEST_F(RunnerTest, ResetConnectionsAreResetErrors) {
  TestServer server({.mode = TestServer::Mode::reset});
  Options o = options_for(server.url());
  o.duration.reset();
  o.requests = 50;
  o.connections = 2;
  const Result r = run(o);
  const httpbench::Stats& s = r.report.stats;
  EXPECT_EQ(s.requests(), 50u);
  EXPECT_EQ(s.responses(), 0u);
  EXPECT_EQ(errors_of(r.report, ErrorClass::reset), 50u)
      << "connect " << errors_of(r.report, ErrorClass::connect) << ", read "
      << errors_of(r.report, ErrorClass::read) << ", other "
      << errors_of(r.report, ErrorClass::other);
  expect_consistent(r);
}

TEST_F(RunnerTest, ServerDyingMidRunGivesErrorsAndTheRunEndsOnTime) {
  constexpr std::uint64_t kServed = 100;
  TestServer server({.mode = TestServer::Mode::die_after, .die_after = kServed});
  const Result r = run(options_for(server.url()));
  const httpbench::Stats& s = r.report.stats;
  // The server answers exactly kServed; a response written just before it closed everything
  // may be lost to the reset (at most one per connection).
  EXPECT_LE(s.responses(), kServed);
  EXPECT_GE(s.responses(), kServed - 4);
  EXPECT_EQ(s.status[200], s.responses());
  EXPECT_GT(errors_of(r.report, ErrorClass::connect), 0u) << "the listener is gone";
  EXPECT_EQ(s.requests(), s.responses() + s.transport_errors());
  EXPECT_LT(r.wall_s, 1.0 + kSlack);
  EXPECT_DOUBLE_EQ(r.report.duration_s, 1.0);
  expect_consistent(r);
}

TEST_F(RunnerTest, RequestCountIsExact) {
  for (const auto& [n, connections] : {std::pair<std::uint64_t, int>{1000, 7}, {3, 8}}) {
    SCOPED_TRACE("-n " + std::to_string(n) + " -c " + std::to_string(connections));
    TestServer server;
    Options o = options_for(server.url());
    o.duration.reset();
    o.requests = n;
    o.connections = connections;
    const Result r = run(o);
    EXPECT_EQ(r.report.stats.requests(), n);
    EXPECT_EQ(r.report.stats.status[200], n);
    EXPECT_EQ(server.requests(), n) << "never more than -n sent";
    EXPECT_GT(r.report.duration_s, 0.0);
    EXPECT_LT(r.report.duration_s, r.wall_s);
    expect_consistent(r);
  }
}

TEST_F(RunnerTest, RateIsHeld) {
  TestServer server;
  Options o = options_for(server.url());
  o.connections = 10;
  o.rate = 500;
  o.duration = 2s;
  const Result r = run(o);
  const double achieved = static_cast<double>(r.report.stats.requests()) / r.report.duration_s;
  std::cout << "[ info ] -R 500 -c 10 -d 2s: " << achieved << " req/s\n";
  EXPECT_NEAR(achieved, 500.0, 25.0);
  EXPECT_EQ(r.report.stats.failed(), 0u);
  expect_consistent(r);
}

TEST_F(RunnerTest, RateCorrectsCoordinatedOmission) {
  // One connection, 100 req/s asked, a server that takes 50 ms: at most 20 responses, each
  // later than the one before relative to when it should have been sent.
  TestServer server({.mode = TestServer::Mode::slow, .delay = 50ms});
  Options o = options_for(server.url());
  o.connections = 1;
  o.rate = 100;
  const Result r = run(o);
  const httpbench::Stats& s = r.report.stats;
  EXPECT_GT(s.responses(), 5u);
  EXPECT_LE(s.responses(), 20u);
  EXPECT_GE(s.latency_us.min(), 50'000u);
  // Response k (from 0) is sent at about 50k ms but was due at 10k ms: latency 40k + 50 ms.
  EXPECT_GE(s.latency_us.max(), 40'000u * (s.responses() - 1) + 50'000u);
  expect_consistent(r);
}

TEST_F(RunnerTest, WarmupIsNotCounted) {
  TestServer server;
  Options o = options_for(server.url());
  o.duration.reset();
  o.requests = 100;
  o.connections = 2;
  o.warmup = 300ms;
  const Result r = run(o);
  EXPECT_EQ(r.report.stats.requests(), 100u);
  EXPECT_GT(server.requests(), 100u) << "the warmup sent requests too";
  EXPECT_TRUE(r.ticks.front().warming_up);
  expect_consistent(r);

  o.requests.reset();
  o.duration = 500ms;
  const Result timed = run(o);
  EXPECT_DOUBLE_EQ(timed.report.duration_s, 0.5) << "the measured part excludes the warmup";
  EXPECT_GE(timed.wall_s, 0.8);
  EXPECT_GT(timed.report.stats.requests(), 0u);
  expect_consistent(timed);
}

TEST_F(RunnerTest, InterruptEndsTheRunEarlyWithAReport) {
  TestServer server;
  Options o = options_for(server.url());
  o.duration = 60s;
  std::atomic<bool> interrupt{false};
  std::thread signaller([&] {
    std::this_thread::sleep_for(300ms);
    interrupt.store(true);
  });
  const Result r = run(o, 2, &interrupt);
  signaller.join();
  EXPECT_LT(r.wall_s, 0.3 + kSlack);
  EXPECT_GE(r.report.duration_s, 0.25);
  EXPECT_LT(r.report.duration_s, r.wall_s);
  EXPECT_GT(r.report.stats.requests(), 0u);
  EXPECT_EQ(r.report.stats.failed(), 0u) << "aborted requests are not errors";
  expect_consistent(r);
}

TEST_F(RunnerTest, MethodHeadersAndBodyAreSent) {
  TestServer server;
  Options o = options_for(server.url("/items"));
  o.duration.reset();
  o.requests = 5;
  o.connections = 1;
  o.method = "PUT";
  o.headers = {"X-Test: yes", "Content-Type: application/json"};
  o.body = std::string(2000, 'x');  // above libcurl's old 1 KiB "Expect: 100-continue" bound
  const Result r = run(o);
  EXPECT_EQ(r.report.stats.status[200], 5u);
  const std::string head = server.last_head();
  EXPECT_EQ(head.rfind("PUT /items HTTP/1.1\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nX-Test: yes"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nContent-Type: application/json"), std::string::npos) << head;
  EXPECT_EQ(head.find("Expect"), std::string::npos) << head;
  EXPECT_EQ(server.last_body(), *o.body);

  for (const std::string method : {"HEAD", "POST", "DELETE"}) {
    SCOPED_TRACE(method);
    Options m = options_for(server.url("/m"));
    m.duration.reset();
    m.requests = 3;
    m.connections = 1;
    m.method = method;
    const Result rm = run(m);
    EXPECT_EQ(rm.report.stats.status[200], 3u);
    EXPECT_EQ(server.last_head().rfind(method + " /m HTTP/1.1\r\n", 0), 0u) << server.last_head();
    if (method == "POST") {
      EXPECT_NE(server.last_head().find("\r\nContent-Length: 0"), std::string::npos);
    }
  }
}

TEST_F(RunnerTest, HeadWithABodyIsARunError) {
  Options o = options_for("http://127.0.0.1:1/");
  o.method = "HEAD";
  o.body = "x";
  EXPECT_THROW(run(o), httpbench::RunError);
}

TEST_F(RunnerTest, SeveralUrlsAllGetLoad) {
  TestServer server;
  Options o = options_for(server.url("/a"));
  o.urls.push_back(server.url("/b"));
  o.urls.push_back(server.url("/c"));
  o.duration.reset();
  o.requests = 300;
  const Result r = run(o);
  EXPECT_EQ(r.report.stats.status[200], 300u);
  const auto paths = server.paths();
  ASSERT_EQ(paths.size(), 3u);
  std::uint64_t sum = 0;
  for (const auto& [path, n] : paths) {
    EXPECT_GE(n, 50u) << path << ": round-robin gives each URL about a third";
    sum += n;
  }
  EXPECT_EQ(sum, 300u);
}

TEST_F(RunnerTest, KeepAliveReusesConnectionsAndNoKeepaliveDoesNot) {
  for (const bool keepalive : {true, false}) {
    SCOPED_TRACE(keepalive ? "keep-alive" : "--no-keepalive");
    TestServer server;
    Options o = options_for(server.url());
    o.duration.reset();
    o.requests = 40;
    o.connections = 2;
    o.keepalive = keepalive;
    const Result r = run(o);
    EXPECT_EQ(r.report.stats.status[200], 40u);
    EXPECT_EQ(server.connections(), keepalive ? 2u : 40u);
    if (!keepalive) {
      EXPECT_NE(server.last_head().find("\r\nConnection: close"), std::string::npos);
    }
  }
}

TEST(ClassifyError, CurlCodesMapToClasses) {
  using httpbench::classify_error;
  EXPECT_EQ(classify_error(CURLE_COULDNT_CONNECT, ECONNREFUSED), ErrorClass::connect);
  EXPECT_EQ(classify_error(CURLE_COULDNT_RESOLVE_HOST, 0), ErrorClass::connect);
  EXPECT_EQ(classify_error(CURLE_OPERATION_TIMEDOUT, 0), ErrorClass::timeout);
  EXPECT_EQ(classify_error(CURLE_GOT_NOTHING, 0), ErrorClass::reset);
  EXPECT_EQ(classify_error(CURLE_RECV_ERROR, ECONNRESET), ErrorClass::reset);
  EXPECT_EQ(classify_error(CURLE_SEND_ERROR, EPIPE), ErrorClass::reset);
  EXPECT_EQ(classify_error(CURLE_RECV_ERROR, EIO), ErrorClass::read);
  EXPECT_EQ(classify_error(CURLE_SEND_ERROR, 0), ErrorClass::read);
  EXPECT_EQ(classify_error(CURLE_PARTIAL_FILE, 0), ErrorClass::read);
  EXPECT_EQ(classify_error(CURLE_WEIRD_SERVER_REPLY, 0), ErrorClass::read);
  EXPECT_EQ(classify_error(CURLE_SSL_CONNECT_ERROR, 0), ErrorClass::other);
  EXPECT_EQ(classify_error(CURLE_OUT_OF_MEMORY, 0), ErrorClass::other);
}

// ---------------------------------------------------------------------------------------------
// Progress

LiveCounts live_at(double elapsed_s, std::uint64_t requests, std::uint64_t failed = 0,
                   bool warming_up = false) {
  LiveCounts c;
  c.elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(elapsed_s));
  c.requests = requests;
  c.failed = failed;
  c.warming_up = warming_up;
  return c;
}

// Everything written to a temporary FILE*.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  return out;
}

TEST(Progress, FormatsDurationCountAndWarmupRuns) {
  using httpbench::Progress;
  Options timed;
  timed.duration = 10s;
  EXPECT_EQ(Progress::format(timed, live_at(3, 12345, 2), 4101.6),
            "3.0s of 10.0s, 7.0s left: 12345 requests, 4102 req/s, 2 errors");
  Options counted;
  counted.requests = 10000;
  EXPECT_EQ(Progress::format(counted, live_at(2, 5000, 1), 2480),
            "2.0s: 5000 of 10000 requests (50%), 2480 req/s, 1 error");
  Options warm;
  warm.warmup = 2s;
  EXPECT_EQ(Progress::format(warm, live_at(1, 0, 0, true), 0), "warming up: 1.0s of 2.0s");
}

TEST(Progress, LinesStyleEverySecondThenEveryFiveSeconds) {
  Options o;
  o.duration = 60s;
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    httpbench::Progress p(f, httpbench::Progress::Style::lines, o);
    for (int s = 1; s <= 30; ++s) p.update(live_at(s, 1000u * s));
    LiveCounts done = live_at(30, 30000);
    done.done = true;
    p.update(done);
    p.finish();
  }
  const std::string out = contents(f);
  std::fclose(f);
  std::vector<std::string> lines;
  for (std::size_t at = 0, nl; (nl = out.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(out.substr(at, nl - at));
  // Seconds 1..9 each (the first 10 s), then 10 (due), 15, 20, 25, 30.
  ASSERT_EQ(lines.size(), 14u) << out;
  EXPECT_EQ(lines[0], "1.0s of 60.0s, 59.0s left: 1000 requests, 1000 req/s, 0 errors");
  EXPECT_EQ(lines[13].rfind("30.0s of 60.0s", 0), 0u) << lines[13];
  EXPECT_EQ(out.find('\r'), std::string::npos) << "no terminal control in a log";
}

TEST(Progress, TerminalStyleRewritesOneLineAndErasesIt) {
  Options o;
  o.duration = 10s;
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    httpbench::Progress p(f, httpbench::Progress::Style::terminal, o);
    p.update(live_at(1, 100));
    p.update(live_at(2, 300));
    p.finish();
    p.finish();  // idempotent
  }
  const std::string out = contents(f);
  std::fclose(f);
  EXPECT_EQ(out,
            "\r\x1b[2K1.0s of 10.0s, 9.0s left: 100 requests, 100 req/s, 0 errors"
            "\r\x1b[2K2.0s of 10.0s, 8.0s left: 300 requests, 200 req/s, 0 errors"
            "\r\x1b[2K");
}

TEST(Progress, QuietShowsNothingAndAPipeGetsLines) {
  using httpbench::Progress;
  Options o;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_EQ(Progress::style_for(o, fds[1]), Progress::Style::lines);
  o.quiet = true;
  EXPECT_EQ(Progress::style_for(o, fds[1]), Progress::Style::none);
  ::close(fds[0]);
  ::close(fds[1]);

  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    Progress p(f, Progress::Style::none, o);
    p.update(live_at(1, 100));
    p.finish();
  }
  EXPECT_EQ(contents(f), "");
  std::fclose(f);
}

TEST_F(RunnerTest, ProgressTicksWhileTheRunGoes) {
  TestServer server;
  Options o = options_for(server.url());
  o.warmup = 300ms;
  const Result r = run(o, 2, nullptr, 100ms);
  // 1.3 s at a tick every 100 ms, with room for a slow machine.
  EXPECT_GE(r.ticks.size(), 6u);
  EXPECT_TRUE(r.ticks.front().warming_up);
  EXPECT_FALSE(r.ticks[r.ticks.size() - 2].warming_up);
  for (const LiveCounts& t : r.ticks) EXPECT_LE(t.elapsed, 1s + 1ms);
  expect_consistent(r);
}

}  // namespace
