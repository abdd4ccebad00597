// The M:N scheduler: how fibers (G) find a processor (P) and an OS thread (M) to run on.
//
// The problem. Many fibers, few cores. Every core should stay busy while there is work, an idle
// runtime should use no CPU at all, a fiber readied by another should run soon and preferably on
// the same core (its data is hot there), and no fiber may starve, although fibers are
// cooperative and never preempted.
//
// The approach is Go's (proc.go), simplified where our fibers allow it:
//  * Each P owns a bounded lock-free ring (256) plus a `runnext` slot. A fiber readied by the
//    running fiber goes to runnext, so ping-pong and producer/consumer pairs stay on one P.
//    A chain of runnext hand-offs shares one time slice: after kMaxRunnextHops hops the readied
//    fiber goes to the tail of the ring instead, so a ping-pong pair cannot starve the queue.
//  * A global queue (mutex) takes ring overflow and fibers readied or spawned from threads that
//    are not Ms. Every 61st schedule a P looks at it first, so a P whose own ring never empties
//    cannot starve it (61: prime, so that it does not fall into step with periodic workloads).
//  * An M without work steals half of a random victim's ring (one CAS), and in the last round
//    the victim's runnext (after giving a running owner 1 us to take it itself; see
//    steal_runnext) and its due timers too.
//  * Spinning (looking for work without having any) is bounded: at most half as many spinning
//    Ms as busy Ps. Readying a fiber wakes one idle P only when nobody spins (wakep); the woken
//    M spins, and when a spinning M finds work it wakes the next one, so wake-ups ripple
//    outward only as far as there is work.
//  * An M that finds nothing puts its P on the idle list and sleeps on a futex until wakep or
//    until its P's earliest timer. No polling loop anywhere, except a bounded one: an M woken
//    for readies that turned out to be hand-offs (the readier parks and runs the fiber
//    itself) backs off for up to 1 ms, looking every 100 us, and meanwhile those readies
//    wake nobody (handoff_backoff_sleep).
//
// Simplification: each P is bound to one M for the whole run. Go hands a P to another M when
// its M blocks in a syscall; we have no such hand-off: code that blocks an M (an unhooked
// syscall, std::mutex) blocks that P, and the other Ps steal its queue. The syscall hooks and
// go::blocking (src/net) exist so that this does not happen.
//
// The idle dance (why no wake-up is lost). A readier publishes work (queue tail store) and then
// reads npidle and nmspinning; an M going idle publishes itself (npidle++, nmspinning--) and
// then re-reads every queue. With a full fence between the two steps on both sides, at least
// one of them sees the other: either the readier sees an idle P and nobody spinning and wakes
// it, or the idling M sees the work and takes its P back.
//
// Rejected approaches:
//  * One global queue (Boost.Fiber's shared_work): every operation contends on one lock.
//  * Work pushing (a readier picks a target P): needs knowledge of the target's load and still
//    needs stealing for imbalance; stealing alone is simpler and cache-friendlier.
//  * Spinning idle Ms forever (Boost.Fiber's default work_stealing): burns every core at idle.
//
// Direct hand-off. A fiber that parks, yields or exits switches straight to the next fiber of
// its P when there is one, not through g0 (one switch instead of two). Park's "unlock after the
// switch" step then runs on the landing side (finish_switch), on the same thread, before the
// landed fiber continues. Only when the P has nothing local does the switch go to g0, which
// steals or sleeps.

#include <sched.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "sched/scheduler.h"
#include "sched/spinlock.h"

namespace go::detail {

namespace {

// Hand-offs through runnext before the readied fiber goes to the tail instead. Go bounds the
// chain by time (a 10 ms slice, then preemption); we cannot preempt, so we count hops. 64, not
// Tokio's 3: a consumer that readies many blocked producers (chan_fanin: 100 producers, one
// buffer of 128) lost its turn after 3 hops and waited behind 99 producers that each woke only
// to find the buffer full again: 0.29 switches per item instead of 0.02, 29 -> 13 ns per item
// at 1 P. 64 hand-offs still let a queued fiber in after a few microseconds of ping-pong.
constexpr int kMaxRunnextHops = 64;
// Steal rounds over all victims before an M gives up and goes idle.
constexpr int kStealRounds = 4;
// The hand-off back-off (Runtime::handoff_backoff_sleep): sleeps of at most this long, this
// many times, before an M that found nothing sleeps until woken.
constexpr std::int64_t kHandoffBackoffNs = 100'000;
constexpr int kHandoffBackoffRounds = 10;
// A busy P polls the network at least this often (when fibers wait on fds).
constexpr std::int64_t kNetpollIntervalNs = 10'000'000;
// An idle M also wakes for overdue timers of busy Ps, but no sooner than this from now.
constexpr std::int64_t kBusyTimerSlackNs = 1'000'000;

thread_local M* tls_m = nullptr;

// A full memory barrier, for the idle dance below. GCC's TSan rejects atomic_thread_fence
// (-Wtsan): there it is the same instruction through the __sync builtin. TSan checks data races
// on plain accesses; the fence only orders atomics, so nothing it verifies is lost.
inline void full_fence() {
#if defined(GOCXX_TSAN)
  __sync_synchronize();
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

std::uint64_t next_random(std::uint64_t& state) {  // xorshift64*
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

}  // namespace

std::atomic<Runtime*> g_runtime{nullptr};
std::mutex g_runtime_lock;
std::atomic<const NetpollHooks*> g_netpoll{nullptr};

GOCXX_NOIPA M* current_m() {
  return tls_m;
}
void set_current_m(M* m) {
  tls_m = m;
}

GOCXX_NOIPA G* current_g() {
  M* m = tls_m;
  return m != nullptr ? m->curg.load(std::memory_order_relaxed) : nullptr;
}

GOCXX_NOIPA FiberLocals* current_fiber_locals() {
  G* g = current_g();
  return g != nullptr ? &g->locals : nullptr;
}

// steady_clock is CLOCK_MONOTONIC in libstdc++; calling the vDSO directly skips two PLT hops.
std::int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

namespace {

// Any thread. True if the earliest timer of p is due.
bool timers_due(const P* p) {
  const std::int64_t when = p->next_timer.load(std::memory_order_acquire);
  return when != 0 && when <= now_ns();
}

// Owner P only. Like timers_due, but reads the clock at most every ~20 us: even the vDSO's
// coarse clock costs ~25 ns on our VMs, a third of a yield. The TSC (a few cycles) measures the
// interval: 20,000 ticks are 5-20 us at 1-4 GHz. TSCs of different cores may disagree; a
// negative difference wraps to a huge one and merely causes an early check.
bool timers_due_throttled(P* p) {
  if (p->next_timer.load(std::memory_order_relaxed) == 0) return false;
#if defined(__x86_64__)
  const std::uint64_t tsc = __rdtsc();
  if (tsc - p->last_timer_check < 20'000) return false;
  p->last_timer_check = tsc;
#endif
  return timers_due(p);
}

// Any thread (a thief). Takes the fiber in victim's runnext, or returns nullptr.
// That fiber was usually readied a moment ago by the fiber running on the victim, which is
// about to block (a channel ping-pong, a producer handing to its consumer): the owner will run
// it within a few hundred nanoseconds, on a hot cache. Stealing it in that window splits the
// pair over two Ps, and from then on every hand-off costs a cross-thread wake-up. So a thief
// first watches a running owner's runnext for 1 us (Go's runqgrab sleeps 3 us):
//  * the owner took it: a hand-off pair lives there. The thief leaves it alone and backs off
//    with a short nanosleep (the kernel's timer slack stretches it to ~50 us), still counting
//    as spinning, so the pair's readies find a spinner and make no wake-up syscall. Without
//    the back-off it would burn its core watching the pair;
//  * it is still there: the owner is busy with something else (a fiber that readied a waiter
//    and runs on, like a Mutex unlocker), so the fiber would wait: steal it.
G* steal_runnext(P* victim) {
  G* g = victim->runnext.load(std::memory_order_acquire);
  if (g == nullptr) return nullptr;
  if (victim->m->curg.load(std::memory_order_relaxed) != nullptr) {
    const std::int64_t deadline = now_ns() + 1'000;
    for (;;) {
      G* now = g;
      for (int i = 0; i < 32 && now == g; ++i) {
        cpu_relax();
        now = victim->runnext.load(std::memory_order_acquire);
      }
      if (now != g) {
        const timespec back_off{0, 3'000};
        nanosleep(&back_off, nullptr);
        return nullptr;
      }
      if (now_ns() >= deadline) break;
    }
  }
  return victim->runnext.compare_exchange_strong(g, nullptr, std::memory_order_acq_rel) ? g
                                                                                        : nullptr;
}

}  // namespace

void fatal(const char* message) {
  std::fprintf(stderr, "gocxx: fatal: %s\n", message);
  std::fflush(stderr);
  std::abort();
}

namespace {

[[noreturn]] __attribute__((noinline, cold)) void report_canary_overwritten(const G* g) {
  char msg[256];
  std::snprintf(msg, sizeof msg,
                "stack overflow in fiber %llu (spawned at %s:%d): the canary at the end of its "
                "%zu-byte stack was overwritten (raise go::Config::stack_size or "
                "GOCXX_STACK_SIZE)",
                static_cast<unsigned long long>(g->id.load()),
                g->site_file.load() ? g->site_file.load() : "unknown", g->site_line.load(),
                g->stack.size);
  fatal(msg);
}

[[noreturn]] __attribute__((noinline, cold)) void report_double_ready(const G* g,
                                                                      FiberState state) {
  char msg[200];
  std::snprintf(msg, sizeof msg,
                "ready(fiber %llu) but it is %s, not parked: a double wake-up, or a wake-up of "
                "a fiber that never parked",
                static_cast<unsigned long long>(g->id.load()), to_string(state));
  fatal(msg);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The M loop.

void Runtime::m_main(M* m) {
  tls_m = m;
  init_thread_context(m->g0);
  install_overflow_handler_for_thread();
  m->rng = 0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(m->p->id + 1);
  for (;;) {
    G* g = find_runnable(m);
    if (g == nullptr) break;  // stopping
    run_fiber(m, g);
  }
  tls_m = nullptr;
  running_ms.fetch_sub(1, std::memory_order_acq_rel);
  ms[0]->parker.unpark();  // M0 waits for the others in go::run
}

// Executed on m (g0, or a fiber handing over directly). Makes g the fiber m runs next.
void Runtime::prepare_run(M* m, G* g) {
  P* p = m->p;
  g->state.store(FiberState::running, std::memory_order_relaxed);
  g->last_p = p;
  g->started = true;
  m->curg.store(g, std::memory_order_relaxed);
  p->switches.store(p->switches.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// Executed on g0 only.
void Runtime::run_fiber(M* m, G* g) {
  m->prev = nullptr;
  m->after = AfterSwitch::none;
  prepare_run(m, g);
  switch_context(m->g0, *g->locals.running);
  // Back on g0 (g0 never migrates: m is still ours), switched to by g or by a fiber that g
  // handed over to directly; it said what it wants in m->prev/m->after.
  m->curg.store(nullptr, std::memory_order_relaxed);
  if (m->after == AfterSwitch::none) fatal("a fiber switched to the scheduler without saying why");
  finish_switch(m);
}

// Executed by fiber g on m, after it set m->after (park or yield). Hands m over to the next
// fiber of this P directly when there is one (one switch instead of two through g0), else to
// g0, which looks further (steals) or sleeps. Returns when g runs again, maybe on another M.
void Runtime::switch_away(M* m, G* g) {
  m->prev = g;
  if (direct_handoff_allowed()) {
    // A parking fiber may still hold the locks its unlock callback releases: a timer callback
    // run here could need one of them (a timer sending on the channel this fiber waits on) and
    // spin on it forever on this very thread. Its timers wait for the next schedule instead.
    if (G* next = next_local(m, /*run_timers=*/m->after != AfterSwitch::park)) {
      prepare_run(m, next);
      switch_context(*g->locals.running, *next->locals.running);
      finish_switch(current_m());
      return;
    }
    if (m->after == AfterSwitch::yield) {
      // Nothing else is runnable here: yielding would pick this fiber again at once.
      m->prev = nullptr;
      m->after = AfterSwitch::none;
      return;
    }
  }
  switch_context(*g->locals.running, m->g0);
  finish_switch(current_m());
}

// Executed by the finished fiber g on m: leaves for good, like switch_away.
void Runtime::exit_fiber(M* m, G* g) {
  m->prev = g;
  m->after = AfterSwitch::exit;
  if (direct_handoff_allowed()) {
    if (G* next = next_local(m)) {
      prepare_run(m, next);
      exit_context(g->ctx, *next->locals.running);
    }
  }
  exit_context(g->ctx, m->g0);
}

// Executed right after a switch landed on m, on g0 or on the fiber that was resumed or started:
// carries out what the fiber that switched away asked for. Its context is saved by now, so from
// here on others may resume it.
void Runtime::finish_switch(M* m) {
  const AfterSwitch after = m->after;
  if (after == AfterSwitch::none) return;  // g0 started us: nothing pending
  G* g = m->prev;
  m->prev = nullptr;
  m->after = AfterSwitch::none;
  if (g->stack.guard == GuardMode::canary && !stack_canary_intact(g->stack))
    report_canary_overwritten(g);
  if (after != AfterSwitch::park) {
    finish_yield_or_exit(m->p, g, after);
    return;
  }
  // The hot path (every channel or lock wait) stays small: the rest is out of line.
  const UnlockFn unlock = m->unlock_fn;
  void* const arg = m->unlock_arg;
  m->unlock_fn = nullptr;
  m->unlock_arg = nullptr;
  // From here on a waker may ready g: it is fully switched out.
  g->state.store(FiberState::parked, std::memory_order_release);
  if (unlock != nullptr && !unlock(g, arg)) {
    // Park cancelled: nobody can have found g, so it is still ours to run.
    g->state.store(FiberState::runnable, std::memory_order_relaxed);
    runq_put(m->p, g, true);
  }
}

void Runtime::finish_yield_or_exit(P* p, G* g, AfterSwitch after) {
  if (after == AfterSwitch::yield) {
    g->state.store(FiberState::runnable, std::memory_order_relaxed);
    p->runnext_hops = 0;  // a yield ends the time slice
    if (opts.migrate && ps.size() > 1) {
      P* target = ps[(p->id + 1) % ps.size()].get();
      {
        std::lock_guard lk(lock);
        target->inbox.push_back(g);
      }
      wake_p(target);
    } else {
      runq_put(p, g, false);
    }
    return;
  }
  p->exited.store(p->exited.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (g->is_main) begin_stop();
  free_g(p, g);
}

void Runtime::begin_stop() {
  stopping.store(true, std::memory_order_seq_cst);
  unusual.store(true, std::memory_order_relaxed);
  for (auto& m : ms) wake_m(m.get());
}

// ---------------------------------------------------------------------------------------------
// Run queues.

// Executed only by the owner P (on its M, fiber or g0).
Runtime::Put Runtime::runq_put(P* p, G* g, bool next) {
  Put put = Put::queue;
  if (next && p->runnext_hops < kMaxRunnextHops) {
    G* old;
    if (single_p) {
      // No thieves, no idle dance: nobody else touches runnext.
      old = p->runnext.load(std::memory_order_relaxed);
      p->runnext.store(g, std::memory_order_relaxed);
    } else {
      // seq_cst: this exchange publishes g for thieves (who CAS it to nullptr) and doubles as
      // the readier's fence of the idle dance (see wakep).
      old = p->runnext.exchange(g, std::memory_order_seq_cst);
    }
    if (old == nullptr) return Put::runnext;
    g = old;  // the previous runnext goes to the tail (g itself is published in runnext)
    put = Put::queue_fenced;
  }
  if (!p->queue.push(g)) runq_overflow(p, g);
  return put;
}

// Executed only by the owner P, when its ring is full. Out of line: a kilobyte of stack.
void Runtime::runq_overflow(P* p, G* g) {
  for (;;) {
    if (p->queue.push(g)) return;
    // Full: move half of it plus g to the global queue in one batch.
    G* batch[LocalRunQueue::kCapacity / 2 + 1];
    std::uint32_t n = p->queue.take_half_for_overflow(batch);
    if (n == 0) continue;  // thieves made room
    batch[n++] = g;
    std::lock_guard lk(lock);
    for (std::uint32_t i = 0; i < n; ++i) global.push_back(batch[i]);
    return;
  }
}

// Caller holds lock. Takes a fair share of the global queue: one to run, some into p's ring.
G* Runtime::global_get(P* p, std::uint32_t max) {
  std::uint64_t size = global.size_hint();
  if (size == 0) return nullptr;
  std::uint64_t n = std::min<std::uint64_t>(size, size / ps.size() + 1);
  n = std::min<std::uint64_t>({n, max, LocalRunQueue::kCapacity / 2});
  G* g = global.pop_front();
  for (std::uint64_t i = 1; i < n; ++i) {
    G* more = global.pop_front();
    if (!p->queue.push(more)) {  // cannot happen with an empty ring; keep it correct anyway
      global.push_back(more);
      break;
    }
  }
  return g;
}

// ---------------------------------------------------------------------------------------------
// Finding work.

void Runtime::reset_spinning(M* m) {
  m->spinning = false;
  // If we were the last spinner, somebody else should look for the rest of the work.
  if (nmspinning.fetch_sub(1, std::memory_order_seq_cst) == 1) wakep();
}

// Executed on m (g0 or a fiber). The next fiber of m's P without looking elsewhere: due timers
// first (they only make fibers runnable), then the migration inbox, the global queue on every
// 61st tick, runnext, the local queue, the global queue. nullptr if none.
G* Runtime::next_local(M* m, bool run_timers) {
  P* p = m->p;
  if (run_timers && timers_due_throttled(p)) run_due_timers(p, now_ns());
  G* g = nullptr;
  if (opts.migrate && !p->inbox_empty_hint()) {
    std::lock_guard lk(lock);
    g = p->inbox.pop_front();
    if (g != nullptr) return g;
  }
  // Fairness: now and then the global queue goes first, and a P whose queues never run dry
  // polls the network at least every ~10 ms (Go's sysmon does that for it).
  if (++p->sched_tick % 61 == 0) {
    if (run_timers && g_netpoll.load(std::memory_order_relaxed) != nullptr &&
        now_ns() - last_netpoll.load(std::memory_order_relaxed) > kNetpollIntervalNs)
      poll_network(false, 0);
    if (global.size_hint() > 0) {
      std::lock_guard lk(lock);
      g = global_get(p, 1);
      if (g != nullptr) {
        p->runnext_hops = 0;
        return g;
      }
    }
  }
  g = p->runnext.load(std::memory_order_relaxed);
  if (g != nullptr &&
      (single_p ? (p->runnext.store(nullptr, std::memory_order_relaxed), true)
                : p->runnext.compare_exchange_strong(g, nullptr, std::memory_order_acq_rel))) {
    ++p->runnext_hops;  // inherits the time slice of the fiber that readied it
    return g;
  }
  g = p->queue.pop();
  if (g == nullptr && global.size_hint() > 0) {
    std::lock_guard lk(lock);
    g = global_get(p, LocalRunQueue::kCapacity / 2);
  }
  if (g != nullptr) p->runnext_hops = 0;
  return g;
}

// Executed on m's g0. Returns the next fiber to run, or nullptr when the runtime stops.
G* Runtime::find_runnable(M* m) {
  for (;;) {
    if (stopping.load(std::memory_order_acquire)) return nullptr;
    G* g = next_local(m);
    if (g == nullptr && poll_network(false, 0)) g = next_local(m);  // readied into our P
    if (g == nullptr) g = steal_work(m);
    if (g != nullptr) {
      end_handoff_backoff(m);
      if (m->spinning) reset_spinning(m);
      return g;
    }
    if (go_idle(m, &g, handoff_backoff_sleep(m)) && g != nullptr) {
      end_handoff_backoff(m);
      if (m->spinning) reset_spinning(m);
      return g;
    }
  }
}

// Executed on m's g0, which looked everywhere and found nothing. The hand-off back-off: if it
// was spinning (woken by a ready(), usually) while other Ps are busy, the readies it was
// woken for were hand-offs their owners run themselves next (a channel ping-pong, a producer
// handing to its consumer: the fiber goes into runnext and the readier parks). Waking an idle
// P for each of them costs the readier a futex syscall and the lock for nothing: at 2 Ps
// chan_pingpong made ~10,000 futex calls per million round trips (2,600 with the back-off;
// 99 -> 89 ns per round trip, medians of 5). So this M takes the back-off (one M at a time):
// while it holds it, ready() skips the wake-up for a fiber that goes into an empty runnext
// (work for the ring still wakes as before), and the M sleeps kHandoffBackoffNs at a time
// instead of until woken, looking for work in between (steal_runnext takes a runnext fiber
// whose owner does not run it), kHandoffBackoffRounds times, then gives the back-off up and
// sleeps until woken. The price: a fiber readied into runnext by a fiber that then keeps its
// P busy waits up to kHandoffBackoffNs for another P, instead of a few microseconds.
// Returns how long go_idle may sleep: 0 for no limit.
std::int64_t Runtime::handoff_backoff_sleep(M* m) {
  if (m->backoff_rounds == 0) {
    const int busy = static_cast<int>(ps.size()) - npidle.load(std::memory_order_relaxed);
    if (!m->spinning || busy <= 1 || handoff_backoff.exchange(true, std::memory_order_relaxed))
      return 0;
    m->backoff_rounds = kHandoffBackoffRounds;
  }
  if (--m->backoff_rounds == 0) {
    handoff_backoff.store(false, std::memory_order_relaxed);
    return 0;
  }
  return kHandoffBackoffNs;
}

// Executed on m's g0: it found work, so it gives up the back-off if it held it.
void Runtime::end_handoff_backoff(M* m) {
  if (m->backoff_rounds == 0) return;
  m->backoff_rounds = 0;
  handoff_backoff.store(false, std::memory_order_relaxed);
}

// Executed on m's g0. Tries to take work from other Ps.
G* Runtime::steal_work(M* m) {
  P* p = m->p;
  const int nprocs = static_cast<int>(ps.size());
  if (nprocs == 1) return nullptr;
  if (!m->spinning) {
    // Bound the spinners to half the busy Ps: more would only burn CPU fighting over crumbs.
    int busy = nprocs - npidle.load(std::memory_order_relaxed);
    if (2 * nmspinning.load(std::memory_order_relaxed) >= busy) return nullptr;
    m->spinning = true;
    nmspinning.fetch_add(1, std::memory_order_seq_cst);
  }
  G* loot[LocalRunQueue::kCapacity / 2];
  for (int round = 0; round < kStealRounds; ++round) {
    const bool last = round == kStealRounds - 1;
    const int start = static_cast<int>(next_random(m->rng) % static_cast<std::uint64_t>(nprocs));
    for (int i = 0; i < nprocs; ++i) {
      if (stopping.load(std::memory_order_relaxed)) return nullptr;
      P* victim = ps[(start + i) % nprocs].get();
      if (victim == p) continue;
      if (last) {
        // Timers of a P whose M is busy (or blocked) would otherwise wait for it.
        if (timers_due(victim)) {
          run_due_timers(victim, now_ns());
          // Their fibers were readied into our own P.
          G* g = p->runnext.exchange(nullptr, std::memory_order_acq_rel);
          if (g == nullptr) g = p->queue.pop();
          if (g != nullptr) return g;
        }
      }
      std::uint32_t n = victim->queue.steal_half(loot);
      if (n == 0 && last) {
        if (G* g = steal_runnext(victim)) {
          loot[0] = g;
          n = 1;
        } else {
          n = victim->queue.steal_half(loot);  // it may have filled up while we slept
        }
      }
      if (n == 0) continue;
      p->steals.store(p->steals.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      p->runnext_hops = 0;
      for (std::uint32_t k = 0; k + 1 < n; ++k) runq_put(p, loot[k], false);
      return loot[n - 1];
    }
  }
  return nullptr;
}

// Caller holds lock. Takes p off the idle list if it is on it.
void Runtime::remove_idle_p(P* p) {
  if (!p->idle) return;
  P** link = &idle_ps;
  while (*link != p) link = &(*link)->idle_next;
  *link = p->idle_next;
  p->idle_next = nullptr;
  p->idle = false;
  npidle.fetch_sub(1, std::memory_order_seq_cst);
}

// Caller holds lock. Takes m's P off the idle list (if a waker did not already) and, if wakep
// chose this M, makes it a spinner (wakep already counted it in nmspinning).
void Runtime::leave_idle(M* m) {
  remove_idle_p(m->p);
  if (m->wake_spinning) {
    m->wake_spinning = false;
    m->spinning = true;
  }
}

// Executed on m's g0. Publishes m's P as idle, re-checks for work, sleeps (at most max_sleep_ns
// if that is > 0). Returns true with *found set when it found a fiber on the way (the global
// queue), false to retry the search.
bool Runtime::go_idle(M* m, G** found, std::int64_t max_sleep_ns) {
  P* p = m->p;
  {
    std::lock_guard lk(lock);
    if (stopping.load(std::memory_order_relaxed)) return false;
    if (G* g = global_get(p, LocalRunQueue::kCapacity / 2)) {
      *found = g;
      return true;
    }
    if (opts.migrate && !p->inbox_empty_hint()) return false;
    p->idle = true;
    p->idle_next = idle_ps;
    idle_ps = p;
    npidle.fetch_add(1, std::memory_order_seq_cst);
  }
  if (m->spinning) {
    m->spinning = false;
    nmspinning.fetch_sub(1, std::memory_order_seq_cst);
  }
  // The other half of the idle dance: work published before we became visible as idle.
  full_fence();
  bool work = global.size_hint() > 0;
  for (auto& other : ps) {
    if (work) break;
    work = !other->queue.empty() || other->runnext.load(std::memory_order_acquire) != nullptr;
  }
  // Idle time pays for giving back what a burst of fibers left in the slot pool, one batch at
  // a time so that new work is noticed between batches.
  if (work || trim_free_pool()) {
    std::lock_guard lk(lock);
    leave_idle(m);
    return false;
  }

  // Sleep until woken, or until our earliest timer; also wake for overdue timers of busy Ps
  // (their M may be stuck in a long fiber), but not for those of idle Ps: they handle their own.
  std::int64_t deadline = p->next_timer.load(std::memory_order_acquire);
  for (auto& other : ps) {
    if (other.get() == p) continue;
    std::int64_t when = other->next_timer.load(std::memory_order_acquire);
    if (when == 0 || other->m->curg.load(std::memory_order_relaxed) == nullptr) continue;
    when = std::max(when, now_ns() + kBusyTimerSlackNs);
    if (deadline == 0 || when < deadline) deadline = when;
  }
  if (max_sleep_ns > 0) {
    const std::int64_t until = now_ns() + max_sleep_ns;
    if (deadline == 0 || until < deadline) deadline = until;
  }
  // One idle M sleeps in the netpoller (with the same deadline) while fibers wait on fds.
  if (!stopping.load(std::memory_order_acquire) && !poll_network(true, deadline))
    m->parker.park(deadline == 0 ? -1 : deadline);
  std::lock_guard lk(lock);
  leave_idle(m);
  return false;
}

// Any thread. Wakes one idle P to spin if there is an idle P and nobody is spinning.
void Runtime::wakep(bool fenced) {
  // Pairs with the fence in go_idle: our queue push happened before these loads. When the work
  // was published by a seq_cst read-modify-write (runq_put's runnext exchange), that already
  // orders it: the exchange, our seq_cst load of npidle, go_idle's seq_cst increment and its
  // fence are all in the single total order, so if our load misses the increment, go_idle's
  // look after its fence sees the exchange.
  if (!fenced) full_fence();
  if (npidle.load(std::memory_order_seq_cst) == 0) return;
  int expected = 0;
  if (nmspinning.load(std::memory_order_seq_cst) != 0 ||
      !nmspinning.compare_exchange_strong(expected, 1, std::memory_order_seq_cst))
    return;
  P* p = nullptr;
  {
    std::lock_guard lk(lock);
    p = idle_ps;
    if (p != nullptr) {
      remove_idle_p(p);
      p->m->wake_spinning = true;
    }
  }
  if (p == nullptr) {
    nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    return;
  }
  wake_m(p->m);
}

// Any thread. Migration mode: target has something in its inbox.
void Runtime::wake_p(P* target) {
  {
    std::lock_guard lk(lock);
    remove_idle_p(target);
  }
  wake_m(target->m);
}

// Any thread. An idle M sleeps either on its parker or, if it is the one M waiting for the
// network, in the netpoller (go_idle). Either way this wakes it: the parker token makes a
// later park or netpoll return at once, and if the M is already inside the netpoller, its
// wake hook breaks it out. Both sides use seq_cst (unpark's exchange, then our load of
// in_netpoll; go_idle's store of in_netpoll, then its try_consume), so at least one of them
// sees the other.
void Runtime::wake_m(M* m) {
  m->parker.unpark();
  if (m->in_netpoll.load(std::memory_order_seq_cst)) {
    if (const NetpollHooks* np = g_netpoll.load(std::memory_order_acquire)) np->wake();
  }
}

// Executed on an M (g0, or a fiber that is not in the middle of parking). Polls the network
// and readies the fibers whose fds are ready (into this M's P). Without `block`, only if some
// fiber waits on an fd and no idle M already sleeps in the netpoller (it would see the same
// events). With `block`, the caller is an idle M: it becomes that sleeper if there is none, and
// waits until an event, a wake_m, or `deadline` (now_ns clock; 0: none). Returns true if it
// polled (whether or not anything was readied).
bool Runtime::poll_network(bool block, std::int64_t deadline) {
  const NetpollHooks* np = g_netpoll.load(std::memory_order_acquire);
  if (np == nullptr || !np->active()) return false;
  if (!block) {
    if (netpoll_blocked.load(std::memory_order_relaxed)) return false;
    last_netpoll.store(now_ns(), std::memory_order_relaxed);
    np->poll(0);
    return true;
  }
  if (netpoll_blocked.exchange(true, std::memory_order_acq_rel)) return false;
  M* m = tls_m;
  m->in_netpoll.store(true, std::memory_order_seq_cst);
  if (!m->parker.try_consume() && !stopping.load(std::memory_order_acquire)) {
    std::int64_t timeout = -1;
    if (deadline != 0) timeout = std::max<std::int64_t>(0, deadline - now_ns());
    np->poll(timeout);
  }
  m->in_netpoll.store(false, std::memory_order_seq_cst);
  // A wake_m that came meanwhile was for the wait we just left: drop its token, or our next
  // park would return at once for nothing (harmless, but a wasted round).
  m->parker.try_consume();
  netpoll_blocked.store(false, std::memory_order_release);
  last_netpoll.store(now_ns(), std::memory_order_relaxed);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Timers.

// Any M (the owner, or a thief). Runs p's timers that are due at `now`, outside the lock.
void Runtime::run_due_timers(P* p, std::int64_t now) {
  std::unique_lock lk(p->timer_lock);
  for (;;) {
    Timer* t = p->timers.top();
    if (t == nullptr || t->when > now) break;
    p->timers.pop();
    Timer* top = p->timers.top();
    p->next_timer.store(top ? top->when : 0, std::memory_order_release);
    lk.unlock();
    t->fire(t, t->arg);
    lk.lock();
  }
  Timer* top = p->timers.top();
  p->next_timer.store(top ? top->when : 0, std::memory_order_release);
}

void add_timer(Timer* t) {
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr) fatal("add_timer: no runtime is running");
  M* m = current_m();
  P* p = m != nullptr ? m->p : rt->ps[0].get();
  bool new_top;
  {
    std::lock_guard lk(p->timer_lock);
    __atomic_store_n(&t->owner, p, __ATOMIC_RELEASE);  // del_timer reads it before locking
    p->timers.push(t);
    new_top = p->timers.top() == t;
    if (new_top) p->next_timer.store(t->when, std::memory_order_release);
  }
  // The owner's M is running (it is us) unless we are a plain thread: then P0's M may sleep
  // with a later deadline and must recompute it.
  if (m == nullptr && new_top) rt->wake_m(p->m);
}

bool del_timer(Timer* t) {
  for (;;) {
    P* p = __atomic_load_n(&t->owner, __ATOMIC_ACQUIRE);
    if (p == nullptr) return false;
    std::lock_guard lk(p->timer_lock);
    if (__atomic_load_n(&t->owner, __ATOMIC_RELAXED) != p) continue;  // fired meanwhile
    p->timers.remove(t);
    Timer* top = p->timers.top();
    p->next_timer.store(top ? top->when : 0, std::memory_order_release);
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Parking.

namespace {

[[noreturn]] void not_in_fiber(const char* what) {
  char msg[160];
  std::snprintf(msg, sizeof msg, "%s called outside a fiber", what);
  fatal(msg);
}

// After a fiber is resumed: leftover fibers are unwound at exit by throwing from their park.
void check_unwinding(const Runtime* rt) {
  if (rt->unusual.load(std::memory_order_relaxed) &&
      rt->unwinding.load(std::memory_order_relaxed) && std::uncaught_exceptions() == 0)
    throw FiberUnwind{};
}

}  // namespace

bool unwinding_fiber() {
  Runtime* rt = g_runtime.load(std::memory_order_relaxed);
  if (rt == nullptr || !rt->unusual.load(std::memory_order_relaxed)) return false;
  if (current_g() == nullptr) return false;
  return rt->unwinding.load(std::memory_order_relaxed) && std::uncaught_exceptions() == 0;
}

void park(UnlockFn unlock, void* arg, const char* reason) {
  M* m = tls_m;  // before the switch: still our thread
  G* g = m != nullptr ? m->curg.load(std::memory_order_relaxed) : nullptr;
  if (g == nullptr) not_in_fiber("park");
  Runtime* rt = g_runtime.load(std::memory_order_relaxed);
  if (rt->unusual.load(std::memory_order_relaxed)) {
    check_unwinding(rt);
    // Blocking in a destructor while being unwound: a real park; only ready() resumes it.
    g->blocked_in_unwind = rt->unwinding.load(std::memory_order_relaxed);
  }
  g->wait_reason.store(reason, std::memory_order_relaxed);
  m->after = AfterSwitch::park;
  m->unlock_fn = unlock;
  m->unlock_arg = arg;
  rt->switch_away(m, g);
  // Resumed, possibly on another thread: re-read everything thread-local from here on.
  g->wait_reason.store(nullptr, std::memory_order_relaxed);
  if (rt->unusual.load(std::memory_order_relaxed)) {  // never cleared: set if it was at park
    g->blocked_in_unwind = false;
    check_unwinding(rt);
  }
}

void ready(G* g) {
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr) fatal("ready: no runtime is running");
  // A load and a store, not a CAS: exactly one party can wake a parked fiber (whoever took
  // its Waiter out of a queue under the queue's lock, or won a claim), so two readies never
  // race when the protocol is kept. What this checks is that it was kept: a second ready()
  // after the first, or a ready() of a fiber that never parked, is caught here.
  const FiberState state = g->state.load(std::memory_order_acquire);
  if (state != FiberState::parked) report_double_ready(g, state);
  g->state.store(FiberState::runnable, std::memory_order_relaxed);
  M* m = tls_m;  // ready() never switches: the thread-local read cannot go stale
  if (rt->opts.migrate && rt->ps.size() > 1) {
    // The P after the one it last ran on: whichever M readies it, it lands on another thread.
    P* target = rt->ps[(g->last_p->id + 1) % rt->ps.size()].get();
    {
      std::lock_guard lk(rt->lock);
      target->inbox.push_back(g);
    }
    rt->wake_p(target);
    return;
  }
  if (rt->single_p) {
    // Nobody to wake: the one P is ours, or its M finds the fiber in the global queue (the
    // lock orders the push before its look) or is woken for it below.
    if (m != nullptr) {
      rt->runq_put(m->p, g, true);
      return;
    }
  }
  bool fenced = false;
  if (m != nullptr) {
    const Runtime::Put put = rt->runq_put(m->p, g, true);
    // A hand-off to this P's next turn while another M backs off from exactly these (see
    // Runtime::handoff_backoff_sleep): no wake-up.
    if (put == Runtime::Put::runnext && rt->handoff_backoff.load(std::memory_order_relaxed)) return;
    fenced = put != Runtime::Put::queue;
  } else {
    std::lock_guard lk(rt->lock);
    rt->global.push_back(g);
  }
  rt->wakep(fenced);
}

const char* to_string(FiberState s) {
  switch (s) {
    case FiberState::free:
      return "free";
    case FiberState::runnable:
      return "runnable";
    case FiberState::running:
      return "running";
    case FiberState::parked:
      return "parked";
    case FiberState::dead:
      return "dead";
  }
  return "?";
}

}  // namespace go::detail

namespace go::this_fiber {

void yield() {
  using namespace go::detail;
  M* m = current_m();
  G* g = m != nullptr ? m->curg.load(std::memory_order_relaxed) : nullptr;
  if (g == nullptr) {
    std::this_thread::yield();
    return;
  }
  Runtime* rt = g_runtime.load(std::memory_order_relaxed);
  check_unwinding(rt);
  m->after = AfterSwitch::yield;
  rt->switch_away(m, g);
  check_unwinding(rt);
}

void sleep_until(std::chrono::steady_clock::time_point t) {
  using namespace go::detail;
  G* g = current_g();
  if (g == nullptr) {
    std::this_thread::sleep_until(t);
    return;
  }
  const std::int64_t when =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  if (when <= now_ns()) {
    yield();
    return;
  }
  g->sleep_timer.when = when;
  g->sleep_timer.fire = [](go::detail::Timer*, void* arg) { ready(static_cast<G*>(arg)); };
  g->sleep_timer.arg = g;
  // The timer is armed only once we are switched out: it may fire on another M at once.
  park(
      [](G* self, void*) {
        add_timer(&self->sleep_timer);
        return true;
      },
      nullptr, "sleep");
}

void sleep_for(std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) {
    yield();
    return;
  }
  sleep_until(std::chrono::steady_clock::now() + d);
}

std::uint64_t id() {
  go::detail::G* g = go::detail::current_g();
  return g != nullptr ? g->id.load(std::memory_order_relaxed) : 0;
}

bool in_fiber() {
  return go::detail::current_g() != nullptr;
}

}  // namespace go::this_fiber
