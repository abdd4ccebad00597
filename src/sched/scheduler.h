// The scheduler's internal interface: P, M, the runtime object, and the primitives every
// blocking thing in gocxx is built on (park/ready, timers). src/sync and src/net use only the
// functions at the bottom of this file.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "go/runtime.h"
#include "sched/context.h"
#include "sched/fiber.h"
#include "sched/parker.h"
#include "sched/run_queue.h"
#include "sched/timer_heap.h"

namespace go::detail {

struct M;

// P: a processor, the right to run fibers. Each P is permanently bound to one M (its worker
// thread); see scheduler.cpp for why.
struct alignas(64) P {
  int id = 0;
  M* m = nullptr;

  // --- Run queue. Written by the owner; thieves steal from queue and runnext.
  LocalRunQueue queue;
  std::atomic<G*> runnext{nullptr};  // the fiber readied last by the running one: runs next
  int runnext_hops = 0;              // owner only: runnext hand-offs in this time slice
  std::uint32_t sched_tick = 0;      // owner only: for the every-61st global-queue check

  // --- Timers. Any M may run this P's due timers (timer stealing), hence the lock.
  std::mutex timer_lock;
  TimerHeap timers;                         // guarded by timer_lock
  std::atomic<std::int64_t> next_timer{0};  // when of timers.top(), 0 if none; read lock-free
  std::uint64_t last_timer_check = 0;       // owner only: TSC of the last clock read for timers

  // --- Idle state, guarded by Runtime::lock.
  bool idle = false;
  P* idle_next = nullptr;

  // --- Pools, owner only.
  G* free_gs = nullptr;
  std::atomic<int> free_count{0};         // written under free_lock; read as a hint without it
  std::uint64_t id_next = 0, id_end = 0;  // a batch of fiber ids

  // --- Debug migration inbox (Config::migrate_on_yield), guarded by Runtime::lock.
  GlobalRunQueue inbox;
  bool inbox_empty_hint() const { return inbox.size_hint() == 0; }

  // --- Counters: written by the owner only (relaxed), read by stats from any thread.
  std::atomic<std::uint64_t> switches{0};
  std::atomic<std::uint64_t> steals{0};
  std::atomic<std::uint64_t> spawned{0};
  std::atomic<std::uint64_t> exited{0};
};

// What a fiber asked its M to do once it has switched out (runs on g0).
enum class AfterSwitch : std::uint8_t { none, park, yield, exit };

using UnlockFn = bool (*)(G* g, void* arg);

// M: an OS thread bound to one P, looping in schedule().
struct M {
  P* p = nullptr;
  std::thread thread;  // empty for M0 (the thread that called go::run)
  ExecContext g0;      // the scheduler context on this thread's own stack
  Parker parker;
  std::atomic<G*> curg{nullptr};        // the fiber it runs (read by stats from other threads)
  std::atomic<bool> in_netpoll{false};  // sleeping in the netpoller instead of on `parker`
  bool spinning = false;                // owner only; counted in Runtime::nmspinning
  bool wake_spinning = false;  // guarded by Runtime::lock: wakep chose it and counted it spinning
  std::uint64_t rng = 0;       // owner only: victim order for stealing
  int backoff_rounds = 0;      // owner only: timed sleeps left while it holds handoff_backoff

  // The request of the fiber that just switched away (to g0 or directly to another fiber).
  // Written by that fiber right before the switch, consumed by whoever lands right after it
  // (finish_switch), on the same thread.
  G* prev = nullptr;
  AfterSwitch after = AfterSwitch::none;
  UnlockFn unlock_fn = nullptr;
  void* unlock_arg = nullptr;
};

// The netpoller's entry points (src/net/netpoll.cpp installs them when it creates its epoll
// instance; the scheduler does not depend on src/net). nullptr until then.
struct NetpollHooks {
  bool (*active)();                      // is any fiber parked waiting on an fd?
  int (*poll)(std::int64_t timeout_ns);  // readies the fibers whose fds are ready (ready() on
                                         // this M); returns how many. <0: block, 0: don't wait
  void (*wake)();                        // makes a blocking poll return. Any thread.
};
extern std::atomic<const NetpollHooks*> g_netpoll;

struct RuntimeOptions {
  int procs = 1;
  std::size_t stack_size = 0;
  GuardMode guard = GuardMode::canary;
  bool migrate = false;
  int schedtrace_ms = 0;
};

// The state of one go::run. Created and destroyed by go::run; reached through g_runtime.
class Runtime {
 public:
  explicit Runtime(const RuntimeOptions& options);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const RuntimeOptions opts;
  // One P: nobody steals, so its runnext needs no atomic read-modify-write, and nobody is idle
  // but that P's own M.
  const bool single_p = opts.procs == 1;
  std::vector<std::unique_ptr<P>> ps;
  std::vector<std::unique_ptr<M>> ms;  // ms[i] is bound to ps[i]; ms[0] is the caller of run()

  // --- Scheduler state (scheduler.cpp).
  std::mutex lock;  // guards global, the idle P list, P::idle, inboxes, M::wake_spinning
  GlobalRunQueue global;
  P* idle_ps = nullptr;
  std::atomic<int> npidle{0};          // Ps in idle_ps
  std::atomic<int> nmspinning{0};      // Ms looking for work without having found any
  std::atomic<bool> stopping{false};   // main returned: Ms leave their loops
  std::atomic<bool> unwinding{false};  // go::run is unwinding leftover fibers (M0 only)
  // migrate || stopping || unwinding, in one word for the switch path: set with them, never
  // cleared while this runtime lives.
  std::atomic<bool> unusual{false};
  std::atomic<int> running_ms{0};  // Ms still in their loop (M0 included)
  // An M that spun and found nothing while other Ps were busy is backing off (scheduler.cpp,
  // handoff_backoff_sleep): meanwhile ready() does not wake an idle P for a fiber that goes
  // into an empty runnext.
  std::atomic<bool> handoff_backoff{false};
  std::atomic<bool> netpoll_blocked{false};   // an idle M sleeps in the netpoller
  std::atomic<std::int64_t> last_netpoll{0};  // now_ns of the last poll by a busy P

  // --- Fibers (runtime.cpp).
  std::mutex all_lock;  // guards the all-Gs list
  G* all_gs = nullptr;
  std::mutex free_lock;  // guards the global G pool
  G* free_gs = nullptr;
  std::atomic<int> free_count{0};  // written under free_lock; read as a hint without it
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<std::uint64_t> foreign_spawned{0};  // spawned from plain threads
  std::atomic<int> foreign_inflight{0};           // plain threads between spawn_begin/commit
  bool accepting_foreign = true;                  // guarded by g_runtime_lock
  std::exception_ptr main_exception;  // written by the main fiber, read after the Ms stopped

  // Scheduling primitives (scheduler.cpp).
  void m_main(M* m);           // body of an M thread (and of M0 inside go::run)
  void run_fiber(M* m, G* g);  // switches to g on m's g0 and handles what g asks afterwards
  void prepare_run(M* m, G* g);
  void switch_away(M* m, G* g);  // a fiber parks/yields: to the next local fiber, else g0
  [[noreturn]] void exit_fiber(M* m, G* g);
  void finish_switch(M* m);  // right after a switch lands: the previous fiber's request
  __attribute__((noinline)) void finish_yield_or_exit(P* p, G* g, AfterSwitch after);
  // The next fiber of m's P, without stealing; runs its due timers first unless told not to
  // (the caller holds locks a timer callback might need).
  G* next_local(M* m, bool run_timers = true);
  // Fibers may hand their M straight to the next fiber unless something needs every switch to
  // pass through g0: migration mode, stopping (Ms must leave their loops), unwinding at exit.
  bool direct_handoff_allowed() const { return !unusual.load(std::memory_order_relaxed); }
  // What runq_put did, for the caller's wake-up decision.
  enum class Put : std::uint8_t {
    queue,         // a fiber went to the ring (g, or the one g displaced from runnext)
    queue_fenced,  // the same, published by runnext's seq_cst exchange (see wakep)
    runnext,       // g went into an empty runnext, by a seq_cst exchange (1 P: a plain store)
  };
  Put runq_put(P* p, G* g, bool next);
  __attribute__((noinline)) void runq_overflow(P* p, G* g);
  void wakep(bool fenced = false);
  void wake_p(P* target);  // makes sure target's M looks at its queues (migration mode)
  void wake_m(M* m);       // unparks m, also out of the netpoller. Any thread.
  bool poll_network(bool block, std::int64_t deadline);  // see scheduler.cpp
  void begin_stop();
  void run_due_timers(P* p, std::int64_t now);

  // Fiber slots (runtime.cpp).
  G* alloc_g(P* p);
  void free_g(P* p, G* g);
  void destroy_g(G* g);
  void destroy_list(G* list);  // destroys every G linked through sched_next
  bool trim_free_pool();       // an idle M destroys a batch beyond the kept size; true if it did
  std::uint64_t new_fiber_id(P* p);

 private:
  G* find_runnable(M* m);
  G* steal_work(M* m);
  bool go_idle(M* m, G** found, std::int64_t max_sleep_ns = 0);
  std::int64_t handoff_backoff_sleep(M* m);  // see scheduler.cpp
  void end_handoff_backoff(M* m);
  void leave_idle(M* m);                   // caller holds lock
  void remove_idle_p(P* p);                // caller holds lock
  G* global_get(P* p, std::uint32_t max);  // caller holds lock
  void reset_spinning(M* m);
};

extern std::atomic<Runtime*> g_runtime;  // the running runtime, if any
extern std::mutex g_runtime_lock;  // serialises go::run's start/teardown with plain-thread spawns

// ----------------------------------------------------------------------------------------------
// Primitives for src/sync and src/net.

// The fiber running on this thread, or nullptr (plain thread, or g0). Any thread.
GOCXX_NOIPA G* current_g();

// The M of this thread, or nullptr on a plain thread. Any thread.
GOCXX_NOIPA M* current_m();
// Binds the calling thread to m (nullptr: unbinds). Only go::run's own threads.
void set_current_m(M* m);

// Parks the calling fiber. `unlock(g, arg)`, if given, runs on the scheduler context after the
// fiber has completely switched out, so a waker that finds g through what `unlock` releases can
// never resume a fiber still running; if it returns false the park is cancelled and g runs
// again. `reason` is shown by dump_fibers. Fiber only.
// When go::run unwinds leftover fibers at exit, park throws FiberUnwind (once the fiber is
// resumed for it): callers must leave their wait structures consistent when it propagates
// (a waiter record dequeues itself in its destructor).
void park(UnlockFn unlock, void* arg, const char* reason);

// Makes a parked fiber runnable. Exactly one ready() per park; a second one is a fatal error
// (a double wake-up). From a fiber: into this P's runnext; from any other thread: into the global
// queue. Wakes an idle P if there is one and nobody is spinning. Any thread.
void ready(G* g);

// True when the calling fiber would be unwound by its next park (go::run is unwinding leftover
// fibers and no exception is in flight on this fiber). Any thread (false on plain threads).
bool unwinding_fiber();

// steady_clock nanoseconds. Any thread.
std::int64_t now_ns();

// Arms `t` (t->when, t->fire, t->arg set; t not armed) on this P's heap, or on P0's from a plain
// thread. Fires at or after t->when, never before. Any thread while a runtime runs.
void add_timer(Timer* t);

// Disarms `t`; returns false if it was not armed (already fired or firing). Any thread.
bool del_timer(Timer* t);

// Prints "gocxx: fatal: <message>" to stderr and aborts.
[[noreturn]] void fatal(const char* message);

}  // namespace go::detail
