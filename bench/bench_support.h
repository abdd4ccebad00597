// Bench-only helpers built directly on the scheduler's park/ready primitives
// (src/sched/scheduler.h).
//
// STAND-INS: go::WaitGroup (and channels) do not exist yet. BenchWaitGroup below is a stand-in
// for go::WaitGroup, used only by the benchmarks, until the real one lands; then the benchmarks
// should switch to it (the anchors use sync.WaitGroup / a Boost fiber condvar WaitGroup).
// BenchGate is what idle_memory parks its fibers on in place of a channel receive.
//
// Both follow park()'s unlock-callback protocol: a fiber publishes itself (its G*) only from the
// callback, which runs on the scheduler context after the fiber has completely switched out, so
// a waker that finds it can never resume a fiber that is still running.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "sched/scheduler.h"
#include "sched/spinlock.h"

namespace gocxx_bench {

using go::detail::G;

using go::detail::SpinLock;

// Go's sync.WaitGroup, reduced to what the benchmarks need: add() before the workers start,
// done() from any fiber (or thread), and ONE waiting fiber at a time.
//
// Protocol (a Dekker pair, all seq_cst):
//   waiter  (park's unlock callback, on g0): waiter_ = g; then re-read count_. If it is already
//           0, try to take g back (CAS waiter_ g -> nullptr): success means no finisher saw g,
//           so the park is cancelled (callback returns false) and wait() returns at once;
//           failure means the last finisher took g and readies it (callback returns true).
//   finisher (done() that brings count_ to 0): exchange(waiter_, nullptr) and ready() what it
//           got, if anything.
// Since the waiter stores waiter_ before it loads count_, and the finisher decrements count_
// before it loads waiter_, at least one of them sees the other: no lost wake-up, and exactly
// one of {cancel, ready} happens (the CAS / exchange on waiter_ decides), so ready() is never
// called twice for one park.
class BenchWaitGroup {
 public:
  void add(std::int64_t n) {
    if (count_.fetch_add(n, std::memory_order_seq_cst) + n < 0) {
      std::fprintf(stderr, "gocxx-bench: BenchWaitGroup: negative counter\n");
      std::abort();
    }
  }

  void done() {
    std::int64_t left = count_.fetch_sub(1, std::memory_order_seq_cst) - 1;
    if (left > 0) return;
    if (left < 0) {
      std::fprintf(stderr, "gocxx-bench: BenchWaitGroup: done() without add()\n");
      std::abort();
    }
    if (G* g = waiter_.exchange(nullptr, std::memory_order_seq_cst)) go::detail::ready(g);
  }

  // Fiber only. Returns once the counter is 0.
  void wait() {
    if (count_.load(std::memory_order_seq_cst) == 0) return;
    go::detail::park(
        [](G* g, void* arg) {
          auto* self = static_cast<BenchWaitGroup*>(arg);
          self->waiter_.store(g, std::memory_order_seq_cst);
          if (self->count_.load(std::memory_order_seq_cst) != 0) return true;
          G* expected = g;
          // Taken back: nobody will ready g, so cancel the park. Lost the race: ready() comes.
          return !self->waiter_.compare_exchange_strong(expected, nullptr,
                                                        std::memory_order_seq_cst);
        },
        this, "BenchWaitGroup.wait");
  }

 private:
  std::atomic<std::int64_t> count_{0};
  std::atomic<G*> waiter_{nullptr};
};

// A gate many fibers park on until it is opened (idle_memory's stand-in for a channel receive
// that never completes). Each waiter record lives on the parked fiber's own stack (like a
// waiter record of a channel would), so parking allocates nothing: the memory a parked fiber
// costs is its stack pages plus the runtime's own bookkeeping.
class BenchGate {
 public:
  // Fiber only. Returns once open() was called (at once if it already was).
  void wait() {
    Waiter w{this, nullptr, nullptr};
    go::detail::park(
        [](G* g, void* arg) {
          auto* w = static_cast<Waiter*>(arg);
          BenchGate* gate = w->gate;
          gate->mu_.lock();
          if (gate->open_) {
            gate->mu_.unlock();
            return false;  // opened before we got here: do not park
          }
          w->g = g;
          w->next = gate->head_;
          gate->head_ = w;
          gate->parked_.fetch_add(1, std::memory_order_relaxed);
          gate->mu_.unlock();
          return true;
        },
        &w, "BenchGate.wait");
  }

  // Fibers that completed park() on the gate (their callback ran). Any thread.
  std::int64_t parked() const { return parked_.load(std::memory_order_relaxed); }

  // Opens the gate and readies every parked fiber. Any thread; once.
  void open() {
    mu_.lock();
    open_ = true;
    Waiter* list = head_;
    head_ = nullptr;
    mu_.unlock();
    while (list != nullptr) {
      Waiter* next = list->next;  // read before ready(): the record dies with the waiter's frame
      go::detail::ready(list->g);
      list = next;
    }
  }

 private:
  struct Waiter {
    BenchGate* gate;
    G* g;
    Waiter* next;
  };
  SpinLock mu_;
  bool open_ = false;       // guarded by mu_
  Waiter* head_ = nullptr;  // guarded by mu_
  std::atomic<std::int64_t> parked_{0};
};

}  // namespace gocxx_bench
