// GOCXX_SCHEDTRACE=<ms>: one line per interval on stderr, like Go's GODEBUG=schedtrace.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace go::detail {

class Runtime;

// Formats the schedtrace line for `rt` at `elapsed_ms` (also used by tests).
std::string schedtrace_line(Runtime& rt, long long elapsed_ms);

// Starts a tracing thread if rt.opts.schedtrace_ms > 0; stop() (or the destructor) ends it.
class SchedTrace {
 public:
  explicit SchedTrace(Runtime& rt);
  ~SchedTrace() { stop(); }
  SchedTrace(const SchedTrace&) = delete;
  SchedTrace& operator=(const SchedTrace&) = delete;
  void stop();

 private:
  Runtime& rt_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace go::detail
