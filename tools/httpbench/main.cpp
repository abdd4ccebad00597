// httpbench: an HTTP load tester. Every virtual user is a fiber driving libcurl's blocking easy
// interface; the runtime's syscall hooks make it non-blocking (runner.h).
//
// Output:
//   stdout  a start line ("Running 10s test @ URL; 50 connections, 2 procs"), then the report.
//   stderr  live progress (progress.h), messages.
//   --json FILE  the report as JSON into FILE as well (text still on stdout).
//   --json -     JSON alone on stdout, so that `httpbench --json - URL | jq` works; the start
//                line and the text report go to stderr instead.
// Exit status: exit_status() (0 all good, 1 some request failed or none completed); 2 for a bad
// command line (nothing is sent: the command line, and the --json file, are checked first); 3
// when the run cannot be carried out (libcurl cannot be initialized, a handle cannot be set up).
// SIGINT/SIGTERM end the run early, as its deadline would: the report covers what was done and
// the exit status is the normal one. A second signal kills the process (SA_RESETHAND).
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include <curl/curl.h>
#include <fmt/format.h>

#include "go/go.h"
#include "options.h"
#include "progress.h"
#include "report.h"
#include "runner.h"

namespace {

using httpbench::Options;

// Set by SIGINT/SIGTERM; the run's control fiber polls it (RunHooks::interrupt). Lock-free, so
// a signal handler may store to it.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void on_signal(int) {
  g_interrupted.store(true, std::memory_order_relaxed);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // a second Ctrl-C gets the default action: the process ends
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // libcurl with CURLOPT_NOSIGNAL leaves SIGPIPE to the application; a server closing a
  // connection during a write must be an error for that request, not the end of the process.
  std::signal(SIGPIPE, SIG_IGN);
}

// "500ms", "10s", "1.5s", "1m30s", "2h".
std::string format_duration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  if (d < seconds(1)) return fmt::format("{:g}ms", duration<double, std::milli>(d).count());
  const auto h = duration_cast<hours>(d);
  const auto m = duration_cast<minutes>(d - h);
  const double s = duration<double>(d - h - m).count();
  std::string out;
  if (h.count() > 0) out += fmt::format("{}h", h.count());
  if (m.count() > 0) out += fmt::format("{}m", m.count());
  if (s > 0 || out.empty()) out += fmt::format("{:g}s", s);
  return out;
}

// "Running 10s test @ http://127.0.0.1:8080/; 50 connections, 2 procs", as wrk opens.
std::string start_line(const Options& opts, int procs) {
  std::string line = "Running ";
  if (const auto d = opts.effective_duration()) {
    line += format_duration(*d) + " test";
  } else {
    line += fmt::format("{} requests", *opts.requests);
  }
  line += " @ " + opts.urls.front();
  if (opts.urls.size() > 1) {
    line +=
        fmt::format(" and {} more URL{}", opts.urls.size() - 1, opts.urls.size() > 2 ? "s" : "");
  }
  line += fmt::format("; {} connection{}, {} proc{}", opts.connections,
                      opts.connections == 1 ? "" : "s", procs, procs == 1 ? "" : "s");
  if (opts.rate > 0) line += fmt::format(", {:g} req/s", opts.rate);
  if (opts.warmup.count() > 0) line += ", after a " + format_duration(opts.warmup) + " warmup";
  return line + "\n";
}

// Each connection holds about 4 fds (its socket, libcurl's wake-up pair, the hooks' epoll
// instance while it waits): lift the soft limit to the hard one, and say so when even that is
// too low (the connections beyond it fail as connect errors).
void raise_fd_limit(int connections) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  const rlim_t needed = static_cast<rlim_t>(connections) * 4 + 64;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < needed) {
    std::fprintf(stderr,
                 "httpbench: warning: %d connections need about %llu file descriptors, the limit "
                 "is %llu (ulimit -n); connections beyond it will fail to connect\n",
                 connections, static_cast<unsigned long long>(needed),
                 static_cast<unsigned long long>(rl.rlim_cur));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Options> parsed;
  try {
    parsed = httpbench::parse_options(argc, argv, std::cout);
  } catch (const httpbench::UsageError& e) {
    std::fprintf(stderr, "httpbench: %s\n", e.what());
    return 2;
  }
  if (!parsed) return 0;  // --help or --version
  const Options& opts = *parsed;

  const bool json_on_stdout = opts.json_path && *opts.json_path == "-";
  std::FILE* json_file = nullptr;
  if (opts.json_path && !json_on_stdout) {
    json_file = std::fopen(opts.json_path->c_str(), "w");
    if (json_file == nullptr) {
      std::fprintf(stderr, "httpbench: cannot write --json file '%s': %s\n",
                   opts.json_path->c_str(), std::strerror(errno));
      return 2;
    }
  }
  std::ostream& text_out = json_on_stdout ? std::cerr : std::cout;

  raise_fd_limit(opts.connections);
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
    std::fprintf(stderr, "httpbench: cannot initialize libcurl\n");
    if (json_file != nullptr) std::fclose(json_file);
    return 3;
  }
  install_signal_handlers();

  httpbench::Progress progress(stderr, httpbench::Progress::style_for(opts, STDERR_FILENO), opts);
  httpbench::RunHooks hooks;
  hooks.interrupt = &g_interrupted;
  hooks.on_tick = [&](const httpbench::LiveCounts& live) { progress.update(live); };

  go::Config cfg;
  cfg.procs = opts.procs;
  httpbench::Report report;
  try {
    go::run(
        [&] {
          text_out << start_line(opts, go::stats().procs) << std::flush;
          report = httpbench::run_load(opts, hooks);
        },
        cfg);
  } catch (const std::exception& e) {
    progress.finish();
    std::fprintf(stderr, "httpbench: %s\n", e.what());
    if (json_file != nullptr) std::fclose(json_file);
    curl_global_cleanup();
    return 3;
  }
  progress.finish();
  curl_global_cleanup();

  if (g_interrupted.load()) {
    std::fprintf(stderr, "httpbench: interrupted; the report covers the first %.1fs\n",
                 report.duration_s);
  }
  httpbench::print_report(text_out, report);
  text_out << std::flush;
  if (opts.json_path) {
    const std::string json = httpbench::report_json(report).dump(2) + "\n";
    if (json_on_stdout) {
      std::cout << json << std::flush;
    } else {
      const bool written = std::fwrite(json.data(), 1, json.size(), json_file) == json.size();
      if (std::fclose(json_file) != 0 || !written) {
        std::fprintf(stderr, "httpbench: cannot write --json file '%s': %s\n",
                     opts.json_path->c_str(), std::strerror(errno));
        return 3;
      }
    }
  }
  return httpbench::exit_status(report);
}
