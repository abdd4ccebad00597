// Helpers shared by the test suites.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"

namespace gocxx_test {

// Scales a count of simultaneously live fibers down in TSan builds: GCC 12's TSan treats every
// live fiber as a thread (it dies past 8,128) and costs ~2 ms per live fiber.
constexpr std::int64_t live_fibers(std::int64_t plain) {
#if defined(GOCXX_TSAN)
  return plain < 2000 ? plain : 2000;
#else
  return plain;
#endif
}

// Scales an iteration count down in sanitizer builds, which run 5-20x slower.
constexpr std::int64_t iterations(std::int64_t plain) {
#if defined(GOCXX_TSAN) || defined(GOCXX_ASAN)
  return plain / 10 > 0 ? plain / 10 : 1;
#else
  return plain;
#endif
}

inline go::Config procs(int n, bool migrate = false) {
  go::Config cfg;
  cfg.procs = n;
  cfg.migrate_on_yield = migrate;
  return cfg;
}

// Aborts the process with a dump of every fiber if a test runs longer than `limit`: a lost
// wake-up or a starved party then fails loudly instead of hanging until ctest's timeout.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit = std::chrono::seconds(240))
      : thread_([this, limit] {
          std::unique_lock lk(mu_);
          if (!cv_.wait_for(lk, limit, [this] { return done_; })) {
            std::cerr << "watchdog: test still running after " << limit.count()
                      << " s (lost wake-up?); fibers:\n";
            go::dump_fibers(std::cerr);
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// Fibers parked with this wait reason, as go::dump_fibers shows them ("[parked: <reason>]").
// A fiber is listed as parked only once it has switched out, i.e. after it enqueued itself.
inline int parked_on(const std::string& reason) {
  std::ostringstream out;
  go::dump_fibers(out);
  const std::string text = out.str();
  const std::string needle = "[parked: " + reason + "]";
  int n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

// Waits (sleeping: a fiber parks, a thread sleeps) until n fibers are parked on `reason`.
inline void wait_parked(const std::string& reason, int n) {
  while (parked_on(reason) < n) go::this_fiber::sleep_for(std::chrono::microseconds(100));
}

// Waits (sleeping) until counter reaches target; a lost wake-up is the Watchdog's to report.
// The target is not deduced, so that a plain int literal may stand for an atomic<long>'s.
template <class T>
void wait_until(const std::atomic<T>& counter, std::type_identity_t<T> target) {
  while (counter.load() < target) go::this_fiber::sleep_for(std::chrono::microseconds(100));
}

// Fiber only: waits (sleeping) until counter reaches target, failing the test with a dump of
// every fiber after `limit` (a lost wake-up) instead of aborting the process.
inline void wait_for(const std::atomic<long>& counter, long target,
                     std::chrono::seconds limit = std::chrono::seconds(120)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (counter.load() < target) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::ostringstream dump;
      go::dump_fibers(dump);
      FAIL() << "timed out (lost wake-up?) at " << counter.load() << " of " << target << "\n"
             << dump.str();
    }
    go::this_fiber::sleep_for(std::chrono::milliseconds(1));
  }
}

// Counts its destructions: a fiber unwound at exit runs its destructors.
struct Sentinel {
  std::atomic<int>* n;
  ~Sentinel() { ++*n; }
};

// pthread_self() (behind std::this_thread::get_id) is declared __attribute__((const)): within
// one function the compiler may reuse its result across a switch that moved the fiber to another
// thread. Reading it out of line is what a fiber that cares about its thread must do.
__attribute__((noipa)) inline std::thread::id current_thread() {
  return std::this_thread::get_id();
}

// A suite run with each number of Ps it is instantiated with (GetParam()).
class ProcsTest : public ::testing::TestWithParam<int> {
 protected:
  // Runs body as go::run's main fiber under a Watchdog.
  template <class F>
  void run(F&& body) {
    Watchdog wd;
    go::run(std::forward<F>(body), procs(GetParam()));
  }
};

inline std::string procs_name(const ::testing::TestParamInfo<int>& info) {
  return "procs" + std::to_string(info.param);
}

// A stress suite's configuration: how many Ps, and whether fibers move to another thread at
// every yield and wake-up (go::Config::migrate_on_yield).
struct StressParam {
  int procs;
  bool migrate;
};

// What every stress suite runs with: 1, 2 and 4 Ps, and 4 with migration.
inline const std::vector<StressParam> kStressParams = {
    {1, false}, {2, false}, {4, false}, {4, true}};

// A stress suite, instantiated with kStressParams and named by stress_name.
class StressTest : public ::testing::TestWithParam<StressParam> {
 protected:
  go::Config cfg() const { return procs(GetParam().procs, GetParam().migrate); }
  // Runs body as go::run's main fiber under a Watchdog.
  template <class F>
  void run(F&& body) {
    Watchdog wd;
    go::run(std::forward<F>(body), cfg());
  }
  // A round count for this configuration: n scaled as iterations(n) does, and to a tenth of
  // that with migration, which turns every yield and wake-up into a move to another thread.
  long scaled(long n) const { return iterations(n) / (GetParam().migrate ? 10 : 1); }
};

inline std::string stress_name(const ::testing::TestParamInfo<StressParam>& info) {
  return "procs" + std::to_string(info.param.procs) + (info.param.migrate ? "_migrating" : "");
}

}  // namespace gocxx_test
