// httpbench's load engine: virtual users (one fiber and one libcurl easy handle each) sending
// requests until the run ends, and what they measured.
//
// How a run goes (run_load):
//   1. One curl easy handle per connection is set up once (URL, method, headers, body, timeouts,
//      keep-alive, HTTP version, TLS checks, byte-counting callbacks). curl_global_init must
//      have been called before.
//   2. `connections` fibers start, each looping over curl_easy_perform on its own handle (the
//      syscall hooks park the fiber while libcurl waits; the handle keeps its connection alive
//      between requests). A fiber yields once per request right after sending it, so that
//      libcurl usually finds the response already there instead of parking (runner.cpp,
//      on_progress). Several URLs are requested in turn, each fiber starting at its own offset
//      so that every URL gets load from the first request on.
//   3. --warmup: the first `warmup` of the run is not measured. A request that started during
//      it is not recorded (whenever it ends); the measured duration starts when it ends.
//   4. The run ends at the deadline (warmup + effective_duration()), when -n requests have been
//      sent (a shared ticket counter: exactly n, never more), or when `RunHooks::interrupt` is
//      set (SIGINT/SIGTERM in main). At the end, requests still in flight are aborted (their
//      sockets are shut down, see runner.cpp) and are NOT counted: a request counts when it
//      ended before the run's end. So the run never lasts past warmup + -d + --timeout, and in
//      practice ends within milliseconds of its deadline.
//   5. The per-thread shards are merged into Report::stats.
//
// Recording (the hot path takes no lock and allocates nothing): every worker thread has its own
// Stats shard, registered the first time one of its fibers records. A fiber records right
// after curl_easy_perform returns, without parking in between, so no two threads ever touch a
// shard at once. Each shard also carries two counters (requests, failed) that the progress
// display reads while the run goes; their only writer is the shard's thread.
//
// What is recorded for a request that ended in the measured part:
//   - a complete response (any status): its status code and its latency in microseconds, from
//     the moment it was sent, or with -R from the moment it should have been sent (the
//     coordinated-omission correction of wrk2: a stalled server shows up as latency, not as
//     fewer requests). A status code libcurl accepts but HTTP does not define (>= 600) counts
//     as a `read` error (a malformed reply).
//   - a transport error, by class (classify_error). After an error the virtual user goes on
//     (libcurl reconnects). After a `connect` error it first waits kConnectBackoff, so that a
//     server that is down costs a few hundred attempts per connection and second instead of a
//     core spinning on refused connects.
// Every request that ended is exactly one of the two: stats.requests() == responses() +
// transport_errors(), and the live counters agree with the merged stats at the end.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>

#include <curl/curl.h>

#include "options.h"
#include "report.h"
#include "stats.h"

namespace httpbench {

// A run that cannot be carried out (libcurl refuses a handle or an option). main prints it
// and exits with status 3.
class RunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How long a virtual user waits after a connect error before it tries again.
inline constexpr std::chrono::milliseconds kConnectBackoff{10};

// How often the control fiber checks for the end of the run (interrupt, all fibers done) and
// for a progress tick. 20 ms: an interrupted run stops within it, and 50 wake-ups a second
// cost nothing next to the load.
inline constexpr std::chrono::milliseconds kControlPeriod{20};

// What the run looks like while it goes, for the progress display.
struct LiveCounts {
  bool warming_up = false;              // still in --warmup (counts below are 0 then)
  std::chrono::nanoseconds elapsed{0};  // of the measured part, or of the warmup while in it
  std::uint64_t requests = 0;           // measured requests that ended so far
  std::uint64_t failed = 0;             // of them: transport errors and status >= 400
  bool done = false;                    // the last call: every virtual user has finished
};

// What main (or a test) adds to a run.
struct RunHooks {
  // When it becomes true (a signal handler may set it) the run ends as at its deadline. It is
  // checked every kControlPeriod.
  const std::atomic<bool>* interrupt = nullptr;
  // Called from the run's control fiber about every `tick` (at least kControlPeriod) while the
  // run goes, and once more with done == true after every virtual user has finished (with the
  // final counts, which equal the merged stats). Runs on a fiber: it must not block for long
  // (a write to stderr is fine).
  std::function<void(const LiveCounts&)> on_tick;
  std::chrono::nanoseconds tick = std::chrono::seconds(1);
};

// Runs the load `opts` describes and returns what it measured (Report::duration_s is the
// measured part: the -d asked for, the time until an interrupt, or with -n the time until the
// last request ended). Fiber only: call it inside go::run (main runs it as the main fiber with
// opts.procs Ps). Throws RunError when libcurl cannot set up a handle as asked.
Report run_load(const Options& opts, const RunHooks& hooks = {});

// The class of a failed curl_easy_perform: `code` its result, `os_errno` CURLINFO_OS_ERRNO.
//   couldn't connect / resolve                                   -> connect
//   CURLE_OPERATION_TIMEDOUT                                     -> timeout
//   empty reply; send/recv error with ECONNRESET or EPIPE        -> reset
//   partial body, malformed reply, other send/recv errors        -> read
//   anything else (TLS, aborted, out of memory, ...)             -> other
ErrorClass classify_error(CURLcode code, long os_errno);

}  // namespace httpbench
