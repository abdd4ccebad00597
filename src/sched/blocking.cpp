// go::blocking: the blocking-work pool.
//
// The problem: a fiber that calls something the runtime cannot park on (a read of a regular
// file, getaddrinfo, a CPU-heavy loop, a legacy library) blocks its M, and with it its P and
// every fiber queued there. go::blocking moves such a call to a separate pool of OS threads
// (not Ps) and parks only the calling fiber until the call returns. The pool must grow under
// load (a thousand fibers blocking at once must not run one by one), stay bounded, shrink when
// idle, and never let a pool thread touch a fiber or its stack once that fiber is gone, in
// particular when go::run unwinds leftover fibers at exit.
//
// The approach:
//  - The call (callable, decay-copied arguments, result slot: BlockingCall in go/blocking.h)
//    lives on the fiber's stack. The fiber parks with an unlock callback that enqueues it, so
//    a pool thread can only find the call once the fiber has completely switched out (park's
//    contract); the pool thread runs it, stores the result or exception in it, and readies the
//    fiber, which takes the result from its own frame. Nothing is allocated per call.
//  - The pool is process-wide and created on first use: one FIFO queue and one condition
//    variable under one std::mutex (these are OS threads, and each job costs at least a
//    thread wake-up, so a lock-free queue would buy nothing). A job that finds no idle thread
//    starts a new one, up to the cap (GOCXX_BLOCKING_THREADS, default 64); beyond the cap jobs
//    wait their turn. A thread idle for kIdleTimeout exits. Threads are detached and the pool
//    is never destroyed, so neither process exit nor the end of a go::run waits for an idle
//    thread, and a thread never outlives the object it uses.
//  - A plain thread (no fiber) runs the callable inline: blocking that thread is exactly what
//    it asked for, and it saves two thread hand-offs. The same holds for a fiber being unwound
//    by go::run at exit (it runs on M0, where nothing else runs any more), so a destructor may
//    call go::blocking during unwinding and gets its result.
//
// Completion protocol. The pool thread must ready the fiber exactly once, and only while
// go::run can still resume it normally; go::run unwinds leftover fibers by resuming them
// without a ready() (park throws FiberUnwind), and a ready() racing with that would resume a
// running fiber or touch a dead runtime. Each call's `state` word:
//   kIdle      -> kQueued     the unlock callback enqueues it (the fiber is parked). If no
//                             pool thread exists and none can be started, it stays kIdle, the
//                             park is cancelled and the fiber runs the call itself.
//   kQueued    -> kDone       a pool thread finished it and will ready the fiber: only while
//                             go::run accepts foreign wake-ups, which it checks and pins under
//                             g_runtime_lock (accepting_foreign, foreign_inflight: the same
//                             guard as spawning from a plain thread); go::run starts unwinding
//                             only once accepting_foreign is false and nothing is in flight, so
//                             this ready() always lands before any unwinding.
//   kQueued    -> kUnseen     a pool thread dropped it without running it (popped after
//                             go::run began stopping: the fiber can only be unwound now, nobody
//                             will see the result), or finished it once go::run no longer
//                             accepts wake-ups: no ready(); the fiber stays parked until go::run
//                             unwinds it.
//   kQueued    -> kAbandoned  the fiber, resumed by go::run's unwinding, found its call running
//                             on a pool thread: it sleeps on the state word (blocking M0, which
//                             is right: the callable may write into the fiber's frame) until
//   kAbandoned -> kUnseen     the pool thread finishes and wakes it (futex) without ready().
// A fiber unwound while its call is still queued unlinks it under the pool lock and leaves at
// once: no pool thread ever saw it. After its final store (kDone then ready(); kUnseen) a pool
// thread no longer touches the call: the fiber may return and its frame be gone at once.
//
// Why the runtime is alive whenever a pool thread uses it: a queued or running call has a
// parked fiber (not blocked in unwinding: a fiber being unwound never submits), go::run resumes
// every such fiber before it returns, and that fiber leaves go::blocking only after the pool is
// done with the call (above).
//
// Locks: Pool::mu_ guards the queue (head_, tail_, BlockingTask::next/queued) and every counter
// of the pool; g_runtime_lock guards Runtime::accepting_foreign. Neither is held while taking
// the other, nor across a callable, a park or a ready().
//
// Rejected alternatives:
//  - Running the call on a fiber of a dedicated P: a blocking call blocks that P's M, so one
//    such P serves one call at a time: the "pool" would need a P per concurrent call anyway.
//  - Go's approach (an M entering a blocking syscall hands its P to another M): our Ps are
//    bound to one M each for good (scheduler.cpp says why), and a fiber's thread would still
//    block. A separate pool leaves the scheduler as it is.
//  - Pinning the runtime lock-free (a Dekker pair on foreign_inflight and a flag) instead of
//    taking g_runtime_lock once per call: accepting_foreign is guarded by that lock in go::run,
//    and one uncontended lock is small next to the thread wake-ups every call costs anyway.
//  - A heap-allocated, reference-counted job so that an unwound fiber need not wait: the
//    callable usually captures the fiber's locals by reference, so the call must finish before
//    the frame dies; and the heap allocation would cost every call.
//  - Enqueueing before parking and letting the pool thread ready() a fiber that may not have
//    switched out yet: exactly the race park's unlock callback exists to prevent.
//  - Unbounded threads (one per call, or Go's 10000): a burst of calls would start thousands
//    of threads; a cap with a FIFO queue degrades to waiting instead.

#include "go/blocking.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "sched/scheduler.h"

namespace go::detail {

namespace {

constexpr int kDefaultMaxThreads = 64;
// A limit on GOCXX_BLOCKING_THREADS: well below what a process may start, well above any
// sensible pool.
constexpr int kMaxMaxThreads = 10000;
// Idle threads exit after this: long enough that a steady trickle of calls reuses threads,
// short enough that a burst does not leave dozens of threads behind for long.
constexpr std::chrono::nanoseconds kIdleTimeout = std::chrono::seconds(5);
// How long an unwinding fiber waits for its call before go::run says why it does not return.
constexpr std::int64_t kUnwindWarnNs = 1'000'000'000;

// BlockingTask::state: see "Completion protocol" above.
enum : std::uint32_t {
  kIdle = 0,
  kQueued = 1,
  kDone = 2,
  kUnseen = 3,
  kAbandoned = 4,
};

int max_threads_from_env() {
  const char* env = std::getenv("GOCXX_BLOCKING_THREADS");
  if (env == nullptr || *env == '\0') return kDefaultMaxThreads;
  char* end = nullptr;
  const long v = std::strtol(env, &end, 10);
  if (*end != '\0' || v < 1 || v > kMaxMaxThreads)
    throw std::invalid_argument(std::string("GOCXX_BLOCKING_THREADS=\"") + env +
                                "\" is not a thread count (1.." + std::to_string(kMaxMaxThreads) +
                                ")");
  return static_cast<int>(v);
}

void futex_wake_all(std::atomic<std::uint32_t>* word) {
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
}

// Sleeps while *word == expected, at most `timeout_ns`; spurious returns are the caller's to
// re-check.
void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected, std::int64_t timeout_ns) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
}

class Pool {
 public:
  Pool() : max_threads_(max_threads_from_env()) {}

  // Enqueues t and makes sure a thread will take it: wakes an idle one, or starts one if every
  // idle or starting thread is spoken for and the cap allows. Returns false (t not enqueued)
  // only if no thread exists and none could be started. Never throws. Any thread (runs from
  // park's unlock callback).
  bool submit(BlockingTask* t) noexcept {
    std::lock_guard lk(mu_);
    t->next = nullptr;
    t->queued = true;
    if (tail_ != nullptr)
      tail_->next = t;
    else
      head_ = t;
    tail_ = t;
    ++queued_;
    if (idle_ > 0) cv_.notify_one();
    // Each queued job needs a thread of its own that is idle or about to look at the queue.
    if (idle_ + starting_ < static_cast<std::int64_t>(queued_) && threads_ < max_threads_) {
      try {
        // Started under the lock (tens of microseconds, only while the pool grows): the
        // counts stay exact, so a concurrent submit never relies on a thread that failed.
        std::thread([this] { worker(); }).detach();
        ++threads_;
        ++starting_;
        peak_threads_ = std::max(peak_threads_, threads_);
      } catch (const std::system_error&) {
        if (threads_ == 0) {
          // Nobody would ever run it: the caller runs it itself. Every other job in the queue
          // was left there by a submit that saw a thread, so t is the only one.
          unlink_locked(t);
          return false;
        }
      }
    }
    return true;
  }

  // Removes t from the queue if no thread took it yet; true if it did. Any thread.
  bool cancel(BlockingTask* t) {
    std::lock_guard lk(mu_);
    if (!t->queued) return false;
    unlink_locked(t);
    ++cancelled_;
    return true;
  }

  BlockingPoolStats stats() {
    std::lock_guard lk(mu_);
    BlockingPoolStats s;
    s.threads = threads_;
    s.idle = idle_;
    s.running = running_;
    s.peak_threads = peak_threads_;
    s.max_threads = max_threads_;
    s.queued = queued_;
    s.completed = completed_;
    s.dropped = dropped_;
    s.cancelled = cancelled_;
    s.idle_timeout = idle_timeout_;
    return s;
  }

  std::chrono::nanoseconds set_idle_timeout(std::chrono::nanoseconds d) {
    std::lock_guard lk(mu_);
    const auto old = idle_timeout_;
    idle_timeout_ = d;
    cv_.notify_all();  // idle threads re-read it
    return old;
  }

  int set_max_threads(int n) {
    if (n < 1) throw std::invalid_argument("set_blocking_max_threads: n must be positive");
    std::lock_guard lk(mu_);
    const int old = max_threads_;
    max_threads_ = n;
    cv_.notify_all();  // idle threads beyond the cap exit
    return old;
  }

 private:
  // Caller holds mu_; t is queued.
  void unlink_locked(BlockingTask* t) {
    BlockingTask* prev = nullptr;
    for (BlockingTask* x = head_; x != t; x = x->next) prev = x;
    if (prev != nullptr)
      prev->next = t->next;
    else
      head_ = t->next;
    if (tail_ == t) tail_ = prev;
    t->next = nullptr;
    t->queued = false;
    --queued_;
  }

  // Caller holds mu_; the queue is not empty.
  BlockingTask* pop_locked() {
    BlockingTask* t = head_;
    head_ = t->next;
    if (head_ == nullptr) tail_ = nullptr;
    t->next = nullptr;
    t->queued = false;
    --queued_;
    return t;
  }

  // A pool thread: takes jobs while there are any (and the cap allows), else waits; exits
  // after idle_timeout_ without a job, or at once when it is beyond the cap.
  void worker() {
    pthread_setname_np(pthread_self(), "gocxx-blocking");
    std::unique_lock lk(mu_);
    --starting_;
    for (;;) {
      if (head_ != nullptr && running_ < max_threads_) {
        BlockingTask* t = pop_locked();
        ++running_;
        lk.unlock();
        const bool ran = run_and_complete(t);
        lk.lock();
        --running_;
        ++(ran ? completed_ : dropped_);
        continue;
      }
      if (threads_ > max_threads_) break;
      ++idle_;
      const auto since = std::chrono::steady_clock::now();
      bool timed_out = false;
      // Re-reads idle_timeout_ after every wake-up: a test may shorten it meanwhile.
      while (head_ == nullptr && threads_ <= max_threads_) {
        if (std::chrono::steady_clock::now() - since >= idle_timeout_) {
          timed_out = true;
          break;
        }
        cv_.wait_until(lk, since + idle_timeout_);
      }
      --idle_;
      if (timed_out) break;
    }
    --threads_;
  }

  // Runs t (unless its go::run is stopping: then nobody will see the result) and hands it back
  // to its fiber. Returns whether it ran. No lock held.
  static bool run_and_complete(BlockingTask* t) {
    auto* rt = static_cast<Runtime*>(t->runtime);
    auto* g = static_cast<G*>(t->fiber);
    // Relaxed: a stale false only runs a call whose result goes unseen.
    const bool run = !rt->stopping.load(std::memory_order_relaxed);
    if (run) t->execute();
    bool may_ready;
    {
      std::lock_guard lk(g_runtime_lock);
      may_ready = run && rt->accepting_foreign;
      // Pins the runtime's wake-up phase: go::run does not start unwinding before the
      // matching decrement, so the fiber stays parked until our ready().
      if (may_ready) rt->foreign_inflight.fetch_add(1, std::memory_order_relaxed);
    }
    if (may_ready) {
      // Release: publishes the result. Only an unwinding fiber changes a queued state, and
      // none unwinds while we are in flight.
      if (t->state.exchange(kDone, std::memory_order_acq_rel) != kQueued)
        fatal("go::blocking: a call changed state while its fiber could not be unwound");
      ready(g);                                                      // t may be gone from here on
      rt->foreign_inflight.fetch_sub(1, std::memory_order_release);  // go::run may unwind now
      return true;
    }
    if (t->state.exchange(kUnseen, std::memory_order_acq_rel) == kAbandoned)
      futex_wake_all(&t->state);  // t may be gone already: a wake on a stale address is harmless
    return run;
  }

  std::mutex mu_;
  std::condition_variable cv_;    // idle threads wait here for a job
  BlockingTask* head_ = nullptr;  // FIFO of jobs no thread took yet
  BlockingTask* tail_ = nullptr;
  std::uint64_t queued_ = 0;  // jobs in the queue
  int threads_ = 0;           // alive: starting + idle + busy (+ exiting, briefly)
  int starting_ = 0;          // started, not yet looking at the queue
  int idle_ = 0;              // waiting on cv_
  int running_ = 0;           // running a job
  int peak_threads_ = 0;
  int max_threads_;
  std::uint64_t completed_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t cancelled_ = 0;
  std::chrono::nanoseconds idle_timeout_ = kIdleTimeout;
};

// Created on first use and never destroyed (see the top of this file). Throws if
// GOCXX_BLOCKING_THREADS is malformed (and tries again on the next call).
Pool& pool() {
  static Pool* const p = new Pool;
  return *p;
}

// park's unlock callback: g has switched out; hand the call to the pool. Runs on the
// scheduler's side of the switch.
bool submit_parked(G*, void* arg) {
  auto* t = static_cast<BlockingTask*>(arg);
  t->state.store(kQueued, std::memory_order_relaxed);  // published by the pool's lock
  if (pool().submit(t)) return true;                   // pool() exists: run_blocking created it
  t->state.store(kIdle, std::memory_order_relaxed);
  return false;  // park cancelled: the fiber runs the call itself
}

// The fiber, resumed by go::run's unwinding, throws FiberUnwind out of go::blocking: make sure
// no pool thread touches t any more before its frame goes. Runs on M0.
void abandon(BlockingTask& t) {
  if (pool().cancel(&t)) return;  // still queued: no thread will ever see it
  std::uint32_t s = kQueued;
  // Acquire (on failure too): the pool thread's last touch of t happens before we return.
  if (!t.state.compare_exchange_strong(s, kAbandoned, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
    return;  // kIdle (never submitted), kDone or kUnseen: the pool is done with t
  const std::int64_t start = now_ns();
  bool warned = false;
  while (t.state.load(std::memory_order_acquire) == kAbandoned) {
    futex_wait(&t.state, kAbandoned, kUnwindWarnNs);
    if (!warned && now_ns() - start >= kUnwindWarnNs &&
        t.state.load(std::memory_order_acquire) == kAbandoned) {
      warned = true;
      auto* g = static_cast<G*>(t.fiber);
      const char* file = g->site_file.load(std::memory_order_relaxed);
      std::fprintf(stderr,
                   "gocxx: go::run: unwinding fiber %llu (spawned at %s:%d) waits for its "
                   "go::blocking call to return\n",
                   static_cast<unsigned long long>(g->id.load(std::memory_order_relaxed)),
                   file != nullptr ? file : "unknown",
                   g->site_line.load(std::memory_order_relaxed));
    }
  }
}

}  // namespace

void run_blocking(BlockingTask& task) {
  G* g = current_g();
  Runtime* rt = g != nullptr ? g_runtime.load(std::memory_order_relaxed) : nullptr;
  // Unwinding is set on M0 before it resumes any fiber, and no fiber runs elsewhere then, so a
  // fiber sees it exactly when it is being unwound (and would have nobody to ready it).
  if (g == nullptr || rt->unwinding.load(std::memory_order_relaxed)) {
    task.execute();
    return;
  }
  pool();  // created here, where a malformed GOCXX_BLOCKING_THREADS can throw to the caller
  task.fiber = g;
  task.runtime = rt;
  try {
    park(&submit_parked, &task, "blocking");
  } catch (const FiberUnwind&) {
    abandon(task);
    throw;
  }
  // Resumed by the pool thread's ready() (kDone), or the park was cancelled (kIdle).
  if (task.state.load(std::memory_order_acquire) == kIdle) task.execute();
}

BlockingPoolStats blocking_pool_stats() {
  return pool().stats();
}

std::chrono::nanoseconds set_blocking_idle_timeout(std::chrono::nanoseconds timeout) {
  return pool().set_idle_timeout(timeout);
}

int set_blocking_max_threads(int max_threads) {
  return pool().set_max_threads(max_threads);
}

}  // namespace go::detail
