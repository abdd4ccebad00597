// Helpers shared by the tests of go/sync.h's primitives (sema_*, mutex_*, rw_mutex_*, ...).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "go/go.h"

namespace sync_test {

using namespace std::chrono_literals;

inline go::Config procs(int n) {
  go::Config cfg;
  cfg.procs = n;
  return cfg;
}

// Aborts the process with a dump of every fiber if a test runs longer than `limit`: a lost
// wake-up or a starved party then fails loudly instead of hanging until ctest's timeout.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit = 240s)
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

// Runs body as go::run's main fiber under a watchdog.
template <class F>
void run(int nprocs, F&& body) {
  Watchdog wd;
  go::run(std::function<void()>(std::forward<F>(body)), procs(nprocs));
}

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
  while (parked_on(reason) < n) go::this_fiber::sleep_for(100us);
}

// Waits (sleeping) until counter reaches target.
template <class T>
void wait_until(const std::atomic<T>& counter, T target) {
  while (counter.load() < target) go::this_fiber::sleep_for(100us);
}

// Counts its destructions: a fiber unwound at exit runs its destructors.
struct Sentinel {
  std::atomic<int>* n;
  ~Sentinel() { ++*n; }
};

inline std::string procs_name(const ::testing::TestParamInfo<int>& info) {
  return "procs" + std::to_string(info.param);
}

}  // namespace sync_test
