// httpbench's load engine (see runner.h for what a run does).
//
// Ending a run promptly. libcurl's easy interface waits in poll() with at most a one-second
// timeout and calls the progress callback between waits, so a progress callback alone would
// notice the end of the run up to a second late, and a request to a silent server would hold
// the run open that long. Instead the control fiber ends a run in three steps:
//   1. it publishes the end: stop_at_ns_ (the instant after which nothing counts), then
//      stopping_;
//   2. for every virtual user, under that user's socket_mutex, it shuts down (shutdown(2),
//      not close) the sockets libcurl has open: a fiber parked in poll() wakes at once with
//      EOF, libcurl fails the request, the fiber sees that the run is over and leaves;
//   3. libcurl's socket callbacks keep the list of open sockets under the same mutex, and the
//      open callback refuses a new socket once stopping_ is set, so a connection opened
//      concurrently with step 2 cannot survive it. (shutdown under the mutex also means that
//      the fd cannot have been closed and its number reused by someone else in between.)
// The progress callback still returns "abort" once stopping_ is set, for whatever step 2 cannot
// reach (a name being resolved), and every request is bounded by --timeout anyway.
//
// Rejected: a per-request timeout shortened near the deadline (a setopt per request, and
// a request's timeout would depend on when it started); curl_multi with our own event loop
// (the point of httpbench is to drive the blocking easy interface from fibers).
#include "runner.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "go/go.h"

namespace httpbench {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

// A paced fiber sleeping until its next send wakes at least this often, so that an interrupt
// ends it within this time even when -R gives it seconds between requests.
constexpr std::chrono::milliseconds kLongestNap{100};

std::int64_t ns_of(Clock::time_point t) {
  return std::chrono::duration_cast<nanoseconds>(t.time_since_epoch()).count();
}

Clock::time_point time_of(std::int64_t ns) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(nanoseconds(ns)));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

bool has_header(const std::vector<std::string>& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const std::string& h) {
    const std::size_t colon = h.find(':');
    return colon != std::string::npos && iequals(std::string_view(h).substr(0, colon), name);
  });
}

// One worker thread's share of the measurements. Its thread is the only writer of everything
// in it; the progress display reads the two counters while the run goes, the control fiber
// reads `stats` after every virtual user has finished.
struct alignas(64) Shard {
  // Relaxed: each is a count for display, tied to nothing else. Single writer, so an increment
  // is a load and a store (no locked instruction).
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> failed{0};
  alignas(64) Stats stats;
};

void bump(std::atomic<std::uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// This thread's shard for the run with id `run`. Read through a function the compiler cannot
// see through: a fiber may run on another thread after every park, and the thread-local's
// address must be computed anew each time (docs/blocking.md, "Thread identity").
struct ShardSlot {
  std::uint64_t run = 0;  // run ids start at 1; a slot left by an earlier run does not match
  Shard* shard = nullptr;
};
thread_local ShardSlot tls_shard_slot;
__attribute__((noipa)) ShardSlot& this_thread_shard_slot() {
  return tls_shard_slot;
}

std::atomic<std::uint64_t> g_next_run_id{1};

class Run;

// One virtual user: a fiber, its curl handle and what libcurl's callbacks need.
struct VirtualUser {
  Run* run = nullptr;
  CURL* handle = nullptr;
  std::size_t index = 0;
  // Bytes of the response being received; written by this user's callbacks only.
  std::uint64_t bytes = 0;
  // This request's yield after sending is done (on_progress); reset before every request.
  bool yielded = false;
  // When the last recorded request ended (Clock::time_point{} if none): -n's duration.
  Clock::time_point last_end{};
  // The sockets libcurl has open for this user (two: happy eyeballs may race IPv6 and IPv4).
  // Guarded by socket_mutex, which only libcurl's socket callbacks (once per connection) and
  // the control fiber at the end of the run take; it is never held across a park.
  std::mutex socket_mutex;
  std::array<curl_socket_t, 2> sockets{CURL_SOCKET_BAD, CURL_SOCKET_BAD};
};

std::size_t count_bytes(char*, std::size_t size, std::size_t n, void* user) {
  static_cast<VirtualUser*>(user)->bytes += size * n;
  return size * n;
}

class Run {
 public:
  Run(const Options& opts, const RunHooks& hooks)
      : opts_(opts),
        hooks_(hooks),
        run_id_(g_next_run_id.fetch_add(1, std::memory_order_relaxed)) {}
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run();

  Report execute();

  // Set once the end of the run is published; read by libcurl's callbacks (any thread).
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

 private:
  void set_up_headers();
  void set_up_handle(VirtualUser& user);
  void user_loop(VirtualUser& user);
  bool sleep_until_send(Clock::time_point send_at);
  void record(VirtualUser& user, CURLcode rc, Clock::time_point sent, Clock::time_point end);
  Shard& this_thread_shard();
  LiveCounts live(Clock::time_point now, bool done);
  void stop(Clock::time_point at);

  const Options& opts_;
  const RunHooks& hooks_;
  const std::uint64_t run_id_;
  curl_slist* headers_ = nullptr;  // shared read-only by every handle
  std::vector<std::unique_ptr<VirtualUser>> users_;

  Clock::time_point start_;          // the run (and its warmup) began
  Clock::time_point measure_start_;  // start_ + warmup
  nanoseconds send_interval_{0};     // -R: between one user's sends; 0 without -R
  // The instant after which no request counts and none starts (the deadline, or when the run
  // was interrupted). Written by the control fiber; release: published before stopping_.
  std::atomic<std::int64_t> stop_at_ns_{kNever};
  std::atomic<bool> stopping_{false};      // set by stop(), after stop_at_ns_
  std::atomic<std::uint64_t> tickets_{0};  // -n: requests handed out so far (may pass n)
  std::atomic<int> active_users_{0};       // users still looping; release on the way out

  std::mutex shards_mutex_;  // registration (once per thread) and the progress display's sums
  std::vector<std::unique_ptr<Shard>> shards_;  // guarded by shards_mutex_
};

int on_socket_open(void* user_ptr, curl_socket_t fd, curlsocktype) {
  auto& user = *static_cast<VirtualUser*>(user_ptr);
  std::lock_guard lock(user.socket_mutex);
  // Step 3 of the file comment: after stop() has swept the sockets, no new one may start.
  if (user.run->stopping()) return CURL_SOCKOPT_ERROR;
  for (curl_socket_t& s : user.sockets) {
    if (s == CURL_SOCKET_BAD) {
      s = fd;
      break;
    }
  }
  return CURL_SOCKOPT_OK;
}

int on_socket_close(void* user_ptr, curl_socket_t fd) {
  auto& user = *static_cast<VirtualUser*>(user_ptr);
  {
    std::lock_guard lock(user.socket_mutex);
    for (curl_socket_t& s : user.sockets) {
      if (s == fd) s = CURL_SOCKET_BAD;
    }
  }
  return ::close(fd);
}

// libcurl's progress callback, called several times per request.
//  1. Once the run is over it aborts the transfer (the backstop of the file comment).
//  2. Once per request, right after the request went out, it yields. libcurl's next step is
//     to poll the socket for the response. Had it done that at once, the response could not
//     have arrived yet (a round trip takes microseconds) and the hooked poll() would park the
//     fiber: a private epoll instance set up and torn down, about 9 syscalls. After the yield
//     the other virtual users have sent their requests and read their responses, and this
//     one's has most likely arrived: poll() returns at once. With 10 connections on one P this
//     halves the CPU per request (14 syscalls per request down to 5). With no other fiber
//     ready the yield returns at once and the poll parks as before, so latency is measured
//     the same way: a response is read when its fiber runs, as in any event loop.
int on_progress(void* user_ptr, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto& user = *static_cast<VirtualUser*>(user_ptr);
  if (user.run->stopping()) return 1;  // nonzero aborts the transfer
  if (!user.yielded && dlnow == 0) {
    long request_bytes = 0;  // reset by libcurl at the start of every transfer
    curl_easy_getinfo(user.handle, CURLINFO_REQUEST_SIZE, &request_bytes);
    if (request_bytes > 0) {
      user.yielded = true;
      go::this_fiber::yield();
    }
  }
  return 0;
}

// curl_easy_setopt that throws RunError naming the option when libcurl refuses it.
template <class Value>
void set_option(CURL* handle, CURLoption option, const char* name, Value value) {
  const CURLcode rc = curl_easy_setopt(handle, option, value);
  if (rc != CURLE_OK) {
    throw RunError(fmt::format("libcurl refused {}: {}", name, curl_easy_strerror(rc)));
  }
}
#define HTTPBENCH_SET(handle, option, value) set_option(handle, option, #option, value)

Run::~Run() {
  for (const auto& user : users_) curl_easy_cleanup(user->handle);
  curl_slist_free_all(headers_);
}

void Run::set_up_headers() {
  std::vector<std::string> lines = opts_.headers;
  // libcurl sends "Expect: 100-continue" before a large body and waits up to a second for a
  // "100 Continue" that many servers never send; load tools send the body right away.
  if (opts_.body && !has_header(lines, "expect")) lines.emplace_back("Expect:");
  // Let the server close first (its TIME_WAIT, not ours) when every request gets its own
  // connection.
  if (!opts_.keepalive && !has_header(lines, "connection")) lines.emplace_back("Connection: close");
  for (const std::string& line : lines) {
    curl_slist* grown = curl_slist_append(headers_, line.c_str());
    if (grown == nullptr) throw RunError("cannot build the request headers: out of memory");
    headers_ = grown;
  }
}

void Run::set_up_handle(VirtualUser& user) {
  CURL* h = user.handle;
  HTTPBENCH_SET(h, CURLOPT_URL, opts_.urls[user.index % opts_.urls.size()].c_str());
  HTTPBENCH_SET(h, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts: fibers share threads
  // No proxy from the environment (http_proxy, ...): a load test measures the server it names,
  // as wrk's and hey's do. (It also spares libcurl six getenv() calls per request.)
  HTTPBENCH_SET(h, CURLOPT_PROXY, "");
  const std::string user_agent = "httpbench/" + std::string(kVersion);  // libcurl copies it
  HTTPBENCH_SET(h, CURLOPT_USERAGENT, user_agent.c_str());
  const long timeout_ms = std::max<long>(
      1, static_cast<long>(
             std::chrono::duration_cast<std::chrono::milliseconds>(opts_.timeout).count()));
  HTTPBENCH_SET(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  HTTPBENCH_SET(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  if (!opts_.keepalive) HTTPBENCH_SET(h, CURLOPT_FORBID_REUSE, 1L);
  if (headers_ != nullptr) HTTPBENCH_SET(h, CURLOPT_HTTPHEADER, headers_);

  const std::string& method = opts_.method;
  if (method == "HEAD") {
    if (opts_.body) throw RunError("a HEAD request cannot carry a body (-b/--body-file)");
    HTTPBENCH_SET(h, CURLOPT_NOBODY, 1L);
  } else {
    if (opts_.body || method == "POST") {
      // Not copied: opts_ outlives the handles. An empty body still sends Content-Length: 0.
      static const char kEmpty[] = "";
      HTTPBENCH_SET(h, CURLOPT_POSTFIELDSIZE_LARGE,
                    static_cast<curl_off_t>(opts_.body ? opts_.body->size() : 0));
      HTTPBENCH_SET(h, CURLOPT_POSTFIELDS, opts_.body ? opts_.body->data() : kEmpty);
    }
    // POSTFIELDS makes a POST; any other method (a GET with a body included) is named.
    if (method != "POST" && (method != "GET" || opts_.body)) {
      HTTPBENCH_SET(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
  }

  switch (opts_.http) {
    case HttpVersion::any:
      break;
    case HttpVersion::v1_1:
      HTTPBENCH_SET(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
      break;
    case HttpVersion::v2:
      // HTTP/2 over TLS via ALPN; over plain http an Upgrade to h2c.
      HTTPBENCH_SET(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2_0));
      break;
  }
  if (opts_.insecure) {
    HTTPBENCH_SET(h, CURLOPT_SSL_VERIFYPEER, 0L);
    HTTPBENCH_SET(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  // Bodies and headers are only counted, never kept.
  HTTPBENCH_SET(h, CURLOPT_WRITEFUNCTION, &count_bytes);
  HTTPBENCH_SET(h, CURLOPT_WRITEDATA, static_cast<void*>(&user));
  HTTPBENCH_SET(h, CURLOPT_HEADERFUNCTION, &count_bytes);
  HTTPBENCH_SET(h, CURLOPT_HEADERDATA, static_cast<void*>(&user));

  // Ending the run (file comment).
  HTTPBENCH_SET(h, CURLOPT_SOCKOPTFUNCTION, &on_socket_open);
  HTTPBENCH_SET(h, CURLOPT_SOCKOPTDATA, static_cast<void*>(&user));
  HTTPBENCH_SET(h, CURLOPT_CLOSESOCKETFUNCTION, &on_socket_close);
  HTTPBENCH_SET(h, CURLOPT_CLOSESOCKETDATA, static_cast<void*>(&user));
  HTTPBENCH_SET(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
  HTTPBENCH_SET(h, CURLOPT_XFERINFODATA, static_cast<void*>(&user));
  HTTPBENCH_SET(h, CURLOPT_NOPROGRESS, 0L);
}

Shard& Run::this_thread_shard() {
  ShardSlot& slot = this_thread_shard_slot();
  if (slot.run != run_id_) {  // this thread's first request of this run
    auto shard = std::make_unique<Shard>();
    std::lock_guard lock(shards_mutex_);
    shards_.push_back(std::move(shard));
    slot = ShardSlot{run_id_, shards_.back().get()};
  }
  return *slot.shard;
}

// Records one request that ended in the measured part. Runs right after curl_easy_perform
// returned, without parking, so the shard is this thread's alone meanwhile.
void Run::record(VirtualUser& user, CURLcode rc, Clock::time_point sent, Clock::time_point end) {
  Shard& shard = this_thread_shard();
  Stats& stats = shard.stats;
  bool failed = true;
  if (rc == CURLE_OK) {
    long code = 0;
    curl_easy_getinfo(user.handle, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 100 && code < static_cast<long>(stats.status.size())) {
      ++stats.status[static_cast<std::size_t>(code)];
      stats.latency_us.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(end - sent).count()));
      failed = code >= 400;
    } else {
      ++stats.errors[static_cast<int>(ErrorClass::read)];  // a status HTTP does not define
    }
  } else {
    long os_errno = 0;
    curl_easy_getinfo(user.handle, CURLINFO_OS_ERRNO, &os_errno);
    ++stats.errors[static_cast<int>(classify_error(rc, os_errno))];
  }
  stats.bytes_received += user.bytes;
  bump(shard.requests);
  if (failed) bump(shard.failed);
  user.last_end = end;
}

// -R: parks until `send_at`, waking every kLongestNap to notice an interrupt. False when the
// run ends before `send_at`.
bool Run::sleep_until_send(Clock::time_point send_at) {
  for (;;) {
    if (ns_of(send_at) >= stop_at_ns_.load(std::memory_order_acquire)) return false;
    const Clock::time_point now = Clock::now();
    if (now >= send_at) return true;
    go::this_fiber::sleep_until(std::min(send_at, now + kLongestNap));
  }
}

void Run::user_loop(VirtualUser& user) {
  const bool paced = send_interval_.count() > 0;
  // -R: user i's sends are offset by i/rate, so that the users' sends interleave evenly.
  const auto phase = send_interval_ * static_cast<std::int64_t>(user.index) /
                     static_cast<std::int64_t>(users_.size());
  Clock::time_point send_at = start_ + std::chrono::duration_cast<Clock::duration>(phase);
  const std::size_t url_count = opts_.urls.size();
  std::size_t next_url = user.index % url_count;
  for (;;) {
    if (paced && !sleep_until_send(send_at)) break;
    const Clock::time_point now = Clock::now();
    if (ns_of(now) >= stop_at_ns_.load(std::memory_order_acquire)) break;
    const Clock::time_point sent = paced ? send_at : now;
    const bool measured = sent >= measure_start_;
    if (measured && opts_.requests &&
        tickets_.fetch_add(1, std::memory_order_relaxed) >= *opts_.requests) {
      break;  // -n: all n handed out
    }
    if (url_count > 1) {
      // The only setopt per request, and only with several URLs: libcurl copies the string.
      curl_easy_setopt(user.handle, CURLOPT_URL, opts_.urls[next_url].c_str());
      next_url = next_url + 1 == url_count ? 0 : next_url + 1;
    }
    user.bytes = 0;
    user.yielded = false;
    const CURLcode rc = curl_easy_perform(user.handle);
    const Clock::time_point end = Clock::now();
    // Ended after the end of the run (aborted by stop(), or just late): not counted.
    if (ns_of(end) >= stop_at_ns_.load(std::memory_order_acquire)) break;
    if (measured) record(user, rc, sent, end);
    if (paced) send_at += send_interval_;
    if (rc != CURLE_OK && classify_error(rc, 0) == ErrorClass::connect) {
      // A server that is down refuses at once: without a pause this loop would spin a core.
      go::this_fiber::sleep_until(
          std::min(end + kConnectBackoff, time_of(stop_at_ns_.load(std::memory_order_acquire))));
    }
  }
}

LiveCounts Run::live(Clock::time_point now, bool done) {
  LiveCounts c;
  c.done = done;
  c.warming_up = now < measure_start_ && !done;
  const Clock::time_point end = std::min(now, time_of(stop_at_ns_.load(std::memory_order_acquire)));
  c.elapsed = c.warming_up ? now - start_ : std::max(nanoseconds(0), end - measure_start_);
  std::lock_guard lock(shards_mutex_);
  for (const auto& shard : shards_) {
    c.requests += shard->requests.load(std::memory_order_relaxed);
    c.failed += shard->failed.load(std::memory_order_relaxed);
  }
  return c;
}

// Ends the run at `at` (no later than an end already set): steps 1 and 2 of the file comment.
// Executed only by the control fiber.
void Run::stop(Clock::time_point at) {
  const std::int64_t at_ns = std::min(ns_of(at), stop_at_ns_.load(std::memory_order_relaxed));
  stop_at_ns_.store(at_ns, std::memory_order_release);  // before stopping_: callbacks see both
  stopping_.store(true, std::memory_order_release);
  for (const auto& user : users_) {
    std::lock_guard lock(user->socket_mutex);
    for (const curl_socket_t s : user->sockets) {
      if (s != CURL_SOCKET_BAD) ::shutdown(s, SHUT_RDWR);  // wakes its poll() with EOF
    }
  }
}

Report Run::execute() {
  if (opts_.urls.empty()) throw RunError("no URL to request");
  if (opts_.connections < 1) throw RunError("need at least one connection");
  if (opts_.http == HttpVersion::v2 &&
      (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2) == 0) {
    throw RunError("--http2: this libcurl was built without HTTP/2 support");
  }
  set_up_headers();
  users_.reserve(static_cast<std::size_t>(opts_.connections));
  for (int i = 0; i < opts_.connections; ++i) {
    auto user = std::make_unique<VirtualUser>();
    user->run = this;
    user->index = static_cast<std::size_t>(i);
    user->handle = curl_easy_init();
    if (user->handle == nullptr) throw RunError("cannot create a libcurl handle (out of memory?)");
    users_.push_back(std::move(user));
    set_up_handle(*users_.back());
  }
  if (opts_.rate > 0) {
    send_interval_ = std::chrono::duration_cast<nanoseconds>(
        std::chrono::duration<double>(opts_.connections / opts_.rate));
    if (send_interval_.count() <= 0) send_interval_ = nanoseconds(1);
  }

  start_ = Clock::now();
  measure_start_ = start_ + std::chrono::duration_cast<Clock::duration>(opts_.warmup);
  const std::optional<nanoseconds> duration = opts_.effective_duration();
  if (duration) {
    stop_at_ns_.store(
        ns_of(measure_start_ + std::chrono::duration_cast<Clock::duration>(*duration)),
        std::memory_order_relaxed);  // before the users exist
  }

  go::WaitGroup users_done;
  active_users_.store(opts_.connections, std::memory_order_relaxed);
  users_done.add(opts_.connections);
  for (const auto& user : users_) {
    go([this, &users_done, u = user.get()] {
      user_loop(*u);
      active_users_.fetch_sub(1, std::memory_order_release);
      users_done.done();
    });
  }

  // The control loop: the end of the run, and the progress ticks.
  bool stopped = false, interrupted = false;
  const nanoseconds tick = std::max<nanoseconds>(hooks_.tick, kControlPeriod);
  Clock::time_point next_tick = start_ + tick;
  while (active_users_.load(std::memory_order_acquire) > 0) {
    const Clock::time_point now = Clock::now();
    const Clock::time_point stop_at = time_of(stop_at_ns_.load(std::memory_order_relaxed));
    if (!stopped && hooks_.interrupt != nullptr && hooks_.interrupt->load()) {
      stop(now);
      stopped = interrupted = true;
    } else if (!stopped && now >= stop_at) {
      stop(stop_at);
      stopped = true;
    }
    if (hooks_.on_tick && now >= next_tick) {
      hooks_.on_tick(live(now, false));
      next_tick = std::max(next_tick + tick, now + tick / 2);  // no burst after a stall
    }
    Clock::time_point wake = now + kControlPeriod;
    if (hooks_.on_tick) wake = std::min(wake, next_tick);
    if (!stopped) wake = std::min(wake, stop_at);
    go::this_fiber::sleep_until(wake);
  }
  users_done.wait();

  Report report;
  report.options = opts_;
  for (const auto& shard : shards_) report.stats.merge(shard->stats);
  // The measured part ended at the deadline or the interrupt, or, when -n's tickets ran out
  // first, when the last request ended. (The users may all have left at the deadline before
  // the control loop saw it: `stopped` alone does not tell.)
  const bool tickets_ran_out =
      opts_.requests && tickets_.load(std::memory_order_relaxed) >= *opts_.requests;
  Clock::time_point ended = time_of(stop_at_ns_.load(std::memory_order_relaxed));
  if (tickets_ran_out && !interrupted) {
    ended = measure_start_;
    for (const auto& user : users_) ended = std::max(ended, user->last_end);
  }
  report.duration_s = std::max(0.0, std::chrono::duration<double>(ended - measure_start_).count());
  if (hooks_.on_tick) hooks_.on_tick(live(Clock::now(), true));
  return report;
}

}  // namespace

ErrorClass classify_error(CURLcode code, long os_errno) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return ErrorClass::connect;
    case CURLE_OPERATION_TIMEDOUT:
      return ErrorClass::timeout;
    case CURLE_GOT_NOTHING:  // the connection closed before any byte of a response
      return ErrorClass::reset;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      return os_errno == ECONNRESET || os_errno == EPIPE ? ErrorClass::reset : ErrorClass::read;
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_UNSUPPORTED_PROTOCOL:  // an HTTP/0.9 reply (the URL's scheme was checked before)
      return ErrorClass::read;
    default:
      return ErrorClass::other;
  }
}

Report run_load(const Options& opts, const RunHooks& hooks) {
  Run run(opts, hooks);
  return run.execute();
}

}  // namespace httpbench
