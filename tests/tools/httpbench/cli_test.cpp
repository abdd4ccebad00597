// The httpbench executable end to end (HTTPBENCH_EXE, built beside this test): exit statuses,
// what goes to stdout and stderr, --json, --help, SIGINT, against local servers
// (test_server.h) on 127.0.0.1.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_server.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using httpbench_test::TestServer;
using Clock = std::chrono::steady_clock;

#if defined(HTTPBENCH_EXE)

// A temporary file, removed at the end of its scope.
class TempFile {
 public:
  TempFile() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "httpbench_cli_XXXXXX").string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    path_ = pattern;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  std::string read() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  std::string path_;
};

struct Exit {
  int status = -1;  // the exit status; -1 if it did not exit normally
  std::string out, err;
  double wall_s = 0;
};

// Runs httpbench with `args` (stdout and stderr into files, stdin from /dev/null), calling
// `while_running(pid)` once it started; kills it and fails the test after `limit`.
Exit run_httpbench(const std::vector<std::string>& args,
                   const std::function<void(pid_t)>& while_running = {},
                   std::chrono::seconds limit = std::chrono::seconds(60)) {
  TempFile out, err;
  std::vector<std::string> argv_strings = {HTTPBENCH_EXE};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.path().c_str(), O_WRONLY | O_TRUNC, 0);
  posix_spawn_file_actions_addopen(&actions, 2, err.path().c_str(), O_WRONLY | O_TRUNC, 0);
  pid_t pid = 0;
  const auto start = Clock::now();
  const int rc = posix_spawn(&pid, HTTPBENCH_EXE, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  Exit e;
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn " << HTTPBENCH_EXE << ": " << std::strerror(rc);
    return e;
  }
  if (while_running) while_running(pid);
  int wstatus = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &wstatus, WNOHANG);
    if (done == pid) break;
    if (Clock::now() - start > limit) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &wstatus, 0);
      ADD_FAILURE() << "httpbench still running after " << limit.count() << " s: killed";
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  e.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  e.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  e.out = out.read();
  e.err = err.read();
  return e;
}

std::string describe(const Exit& e) {
  return "exit " + std::to_string(e.status) + "\n--- stdout:\n" + e.out + "--- stderr:\n" + e.err;
}

int count_lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

TEST(Cli, BadCommandLineExits2WithOneLineAndSendsNothing) {
  TestServer server;
  const std::vector<std::vector<std::string>> bad = {
      {"--no-such-flag", server.url()},
      {"-c", "zero", server.url()},
      {"-d", "10", server.url()},
      {"-d", "1s", "-n", "5", server.url()},
      {"--json=/nonexistent-dir/report.json", "-n", "1", server.url()},
      {},
  };
  for (const auto& args : bad) {
    const Exit e = run_httpbench(args);
    EXPECT_EQ(e.status, 2) << describe(e);
    EXPECT_EQ(e.err.rfind("httpbench: ", 0), 0u) << describe(e);
    EXPECT_EQ(count_lines(e.err), 1) << describe(e);
    EXPECT_EQ(e.out, "") << describe(e);
  }
  EXPECT_EQ(server.connections(), 0u) << "a bad command line sends nothing";
}

TEST(Cli, HelpExits0) {
  const Exit e = run_httpbench({"--help"});
  EXPECT_EQ(e.status, 0) << describe(e);
  EXPECT_NE(e.out.find("Usage: httpbench"), std::string::npos) << describe(e);
  EXPECT_EQ(e.err, "");
}

TEST(Cli, TextReportAndStartLineOnStdout) {
  TestServer server;
  const Exit e = run_httpbench({"-n", "20", "-c", "2", "-t", "2", server.url()});
  EXPECT_EQ(e.status, 0) << describe(e);
  EXPECT_EQ(e.out.rfind("Running 20 requests @ " + server.url() + "; 2 connections, 2 procs\n", 0),
            0u)
      << describe(e);
  EXPECT_NE(e.out.find("200"), std::string::npos) << describe(e);
  EXPECT_EQ(server.requests(), 20u);
}

TEST(Cli, JsonAloneOnStdoutWithDash) {
  TestServer server;
  const Exit e = run_httpbench({"-d", "1s", "-c", "2", "--json", "-", server.url()});
  ASSERT_EQ(e.status, 0) << describe(e);
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(e.out)) << describe(e);
  for (const char* key : {"requests", "errors", "duration_s", "rps", "status_codes", "latency_us"})
    EXPECT_TRUE(j.contains(key)) << key << " missing in\n" << e.out;
  for (const char* key :
       {"min", "mean", "stdev", "max", "p50", "p75", "p90", "p99", "p999", "p9999"})
    EXPECT_TRUE(j["latency_us"].contains(key)) << "latency_us." << key << " missing";
  EXPECT_GT(j["requests"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(j["errors"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(j["status_codes"]["200"].get<std::uint64_t>(), j["requests"].get<std::uint64_t>());
  EXPECT_NEAR(j["duration_s"].get<double>(), 1.0, 1e-6);
  EXPECT_NE(e.err.find("Running 1s test @ "), std::string::npos) << "the text goes to stderr";
}

TEST(Cli, JsonFileBesideTheTextReport) {
  TestServer server;
  TempFile json;
  const Exit e = run_httpbench({"-n", "30", "-c", "3", "--json=" + json.path(), server.url()});
  ASSERT_EQ(e.status, 0) << describe(e);
  EXPECT_EQ(e.out.rfind("Running 30 requests @ ", 0), 0u) << describe(e);
  const nlohmann::json j = nlohmann::json::parse(json.read());
  EXPECT_EQ(j["requests"].get<std::uint64_t>(), 30u);
}

TEST(Cli, FailedRequestsExit1) {
  TestServer server({.status = 503});
  const Exit e = run_httpbench({"-n", "10", "-c", "2", server.url()});
  EXPECT_EQ(e.status, 1) << describe(e);
  EXPECT_EQ(server.requests(), 10u);

  TestServer::ClosedPort closed;
  const Exit refused = run_httpbench({"-d", "300ms", "-c", "1", "-q", closed.url()});
  EXPECT_EQ(refused.status, 1) << describe(refused);
}

TEST(Cli, SigintEndsTheRunWithAReportAndTheNormalStatus) {
  TestServer server;
  const Exit e = run_httpbench({"-d", "60s", "-c", "2", server.url()}, [&](pid_t pid) {
    const auto give_up = Clock::now() + 30s;
    while (server.requests() < 10 && Clock::now() < give_up) std::this_thread::sleep_for(5ms);
    ::kill(pid, SIGINT);
  });
  EXPECT_EQ(e.status, 0) << describe(e);
  EXPECT_LT(e.wall_s, 40.0) << "ended by the signal, not by -d 60s";
  EXPECT_NE(e.out.find("Running 1m test @ "), std::string::npos) << describe(e);
  EXPECT_NE(e.out.find("200"), std::string::npos) << "the report is printed";
  EXPECT_NE(e.err.find("interrupted"), std::string::npos) << describe(e);
}

TEST(Cli, ProgressLinesOnAPipeAndQuietSilencesThem) {
  TestServer server;
  const Exit loud = run_httpbench({"-d", "2s", "-c", "2", server.url()});
  EXPECT_EQ(loud.status, 0) << describe(loud);
  EXPECT_NE(loud.err.find("s of 2.0s"), std::string::npos) << describe(loud);
  EXPECT_EQ(loud.err.find('\r'), std::string::npos) << "no terminal control in a file";

  const Exit quiet = run_httpbench({"-d", "1500ms", "-c", "2", "-q", server.url()});
  EXPECT_EQ(quiet.status, 0) << describe(quiet);
  EXPECT_EQ(quiet.err, "") << describe(quiet);
}

#else

TEST(Cli, NeedsTheExecutable) {
  GTEST_SKIP() << "HTTPBENCH_EXE is not defined: the httpbench executable was not built";
}

#endif

}  // namespace
