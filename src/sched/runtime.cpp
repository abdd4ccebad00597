// go::run's lifecycle, spawning, and the fiber slots (a G with its stack).
//
// Lifecycle of go::run:
//  1. Resolve the Config (environment, defaults), create the Ps and Ms, publish g_runtime.
//  2. Spawn the main fiber, start the M threads; the calling thread becomes M0 (bound to P0).
//  3. When the main fiber returns, begin_stop() sets `stopping` and wakes every M; each M leaves
//     its loop as soon as the fiber it runs switches out.
//  4. M0 waits for the others (warning once per second about a fiber that does not yield).
//  5. Fibers still alive are unwound on M0: never-started ones have their body destroyed,
//     the others are resumed one last time and FiberUnwind is thrown from their park/yield,
//     so their destructors run. A fiber that blocks in a destructor during this stays parked
//     until someone readies it; what cannot finish is reported and left (never silently).
//  6. Every pooled slot is destroyed, g_runtime is cleared, main's exception is rethrown.
//
// Fiber slots: a G lives at the top of its own stack and the fiber's body (the callable and its
// arguments) right below it, so spawning from a warm pool touches no allocator. Free slots are
// cached per P (owner only, no lock) and in a bounded global pool (free_lock).

#include <cxxabi.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include "sched/scheduler.h"
#include "sched/trace.h"

namespace go::detail {

namespace {

constexpr std::size_t kDefaultStackSize = 256 * 1024;
constexpr std::size_t kMinStackSize = 16 * 1024;
constexpr std::size_t kMaxStackSize = std::size_t{1} << 30;
constexpr int kMaxProcs = 1024;
constexpr int kLocalFreeMax = 256;  // per-P slot cache; half moves to the global pool
// The global pool keeps every slot a burst of fibers left behind, so that the next burst
// touches no fresh page (a first touch costs ~15 us on our VMs: more than the whole spawn).
// Idle Ms trim it back to kGlobalFreeKeep (trim_free_pool), like Go's background scavenger.
#if defined(GOCXX_TSAN)
constexpr int kGlobalFreeMax =
    1024;  // TSan counts every pooled slot's fiber as a thread (8128 max)
#else
constexpr int kGlobalFreeMax = 1 << 30;
#endif
constexpr int kGlobalFreeBatch = 32;    // slots a P takes from the global pool at once
constexpr int kGlobalFreeKeep = 16384;  // what idle Ms trim the global pool down to
constexpr int kTrimBatch = 256;         // slots destroyed per trimming step
constexpr int kIdBatch = 16;

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

// Parses "65536", "64k", "64K", "1m", "1M" into bytes; false if malformed.
bool parse_size(const std::string& text, std::size_t& out) {
  if (text.empty()) return false;
  std::size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &pos, 10);
  } catch (const std::exception&) {
    return false;
  }
  std::string suffix = text.substr(pos);
  unsigned long long mult = 1;
  if (suffix == "k" || suffix == "K" || suffix == "KiB")
    mult = 1024;
  else if (suffix == "m" || suffix == "M" || suffix == "MiB")
    mult = 1024 * 1024;
  else if (!suffix.empty())
    return false;
  out = static_cast<std::size_t>(v * mult);
  return true;
}

bool parse_int(const std::string& text, int& out) {
  if (text.empty()) return false;
  std::size_t pos = 0;
  try {
    long v = std::stol(text, &pos, 10);
    if (pos != text.size() || v < INT32_MIN || v > INT32_MAX) return false;
    out = static_cast<int>(v);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

void check_stack_size(std::size_t size, const char* who) {
  if (size < kMinStackSize || size > kMaxStackSize)
    throw std::invalid_argument(std::string(who) + ": stack size " + std::to_string(size) +
                                " is outside 16 KiB .. 1 GiB");
}

RuntimeOptions resolve_options(const Config& cfg) {
  RuntimeOptions o;
  if (cfg.procs < 0 || cfg.procs > kMaxProcs)
    throw std::invalid_argument("go::run: Config::procs must be 0 (automatic) or 1.." +
                                std::to_string(kMaxProcs) + ", got " + std::to_string(cfg.procs));
  o.procs = cfg.procs;
  if (o.procs == 0) {
    std::string env = env_or_empty("GOCXX_PROCS");
    if (!env.empty()) {
      if (!parse_int(env, o.procs) || o.procs < 1 || o.procs > kMaxProcs)
        throw std::invalid_argument("go::run: GOCXX_PROCS=\"" + env +
                                    "\" is not a number of processors (1.." +
                                    std::to_string(kMaxProcs) + ")");
    } else {
      o.procs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    }
  }
  o.stack_size = cfg.stack_size != 0 ? cfg.stack_size : default_stack_size();
  check_stack_size(o.stack_size, "go::run");
  switch (cfg.stack_guard) {
    case StackGuard::automatic:
      o.guard = GuardMode::automatic;
      break;
    case StackGuard::guard_page:
      o.guard = GuardMode::guard_page;
      break;
    case StackGuard::canary:
      o.guard = GuardMode::canary;
      break;
    default:
      throw std::invalid_argument("go::run: Config::stack_guard has an unknown value");
  }
  o.guard = resolve_guard_mode(o.guard);
  o.migrate = cfg.migrate_on_yield || env_or_empty("GOCXX_DEBUG_MIGRATE") == "1";
  std::string trace = env_or_empty("GOCXX_SCHEDTRACE");
  if (!trace.empty() && (!parse_int(trace, o.schedtrace_ms) || o.schedtrace_ms <= 0))
    throw std::invalid_argument("go::run: GOCXX_SCHEDTRACE=\"" + trace +
                                "\" is not an interval in milliseconds");
  return o;
}

std::string demangle(const char* name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = (status == 0 && d != nullptr) ? d : name;
  std::free(d);
  return out;
}

const char* site_file_of(const G* g) {
  const char* f = g->site_file.load(std::memory_order_relaxed);
  return f != nullptr ? f : "unknown (spawned with go::spawn; use go(...) to record the site)";
}

// An exception escaped a fiber other than main: Go's unrecovered panic.
[[noreturn]] void die_of_uncaught_exception(G* g) {
  std::string what;
  try {
    throw;
  } catch (const std::exception& e) {
    what = demangle(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    std::type_info* t = abi::__cxa_current_exception_type();
    what = t != nullptr ? demangle(t->name()) : "unknown exception";
  }
  std::fprintf(stderr, "gocxx: fatal: uncaught exception in fiber %llu (spawned at %s:%d): %s\n",
               static_cast<unsigned long long>(g->id.load()), site_file_of(g), g->site_line.load(),
               what.c_str());
  std::fflush(stderr);
  std::abort();
}

// SIGSEGV in a guard page (runs on the alternate signal stack; async-signal-safe enough).
void report_stack_overflow(const Stack& stack, const void* fault) {
  char buf[512];
  int n;
  G* g = current_g();
  if (g != nullptr && g->stack.bottom == stack.bottom) {
    n = std::snprintf(buf, sizeof buf,
                      "gocxx: fatal: stack overflow in fiber %llu (spawned at %s:%d): its "
                      "%zu-byte stack is exhausted (fault at %p); raise go::Config::stack_size "
                      "or GOCXX_STACK_SIZE\n",
                      static_cast<unsigned long long>(g->id.load(std::memory_order_relaxed)),
                      site_file_of(g), g->site_line.load(std::memory_order_relaxed), stack.size,
                      fault);
  } else {
    n = std::snprintf(
        buf, sizeof buf,
        "gocxx: fatal: stack overflow in a coroutine stack [%p, %p) (fault at %p)%s\n",
        stack.bottom, stack.top(), fault, g != nullptr ? " running inside a fiber" : "");
  }
  if (n > 0) (void)!::write(2, buf, static_cast<std::size_t>(std::min<int>(n, sizeof buf - 1)));
  std::abort();
}

void fiber_main(ExecContext*) {
  Runtime* rt = g_runtime.load(std::memory_order_relaxed);
  rt->finish_switch(current_m());  // a fiber that handed over to us directly may want something
  G* g = current_g();
  try {
    g->body->run();
  } catch (const FiberUnwind&) {
    // Unwound at exit: nothing to report.
  } catch (...) {
    if (!g->is_main) die_of_uncaught_exception(g);
    rt->main_exception = std::current_exception();
  }
  g->body->destroy();
  if (g->body_on_heap) ::operator delete(static_cast<void*>(g->body));
  g->body = nullptr;
  g->state.store(FiberState::dead, std::memory_order_relaxed);
  rt->exit_fiber(current_m(), g);  // re-read the M: we may be on another thread than at the start
}

char* align_down(char* p, std::size_t align) {
  return reinterpret_cast<char*>(reinterpret_cast<std::uintptr_t>(p) & ~(align - 1));
}

}  // namespace

std::size_t default_stack_size() {
  const std::string env = env_or_empty("GOCXX_STACK_SIZE");
  if (env.empty()) return kDefaultStackSize;
  std::size_t v = 0;
  if (!parse_size(env, v))
    throw std::invalid_argument("GOCXX_STACK_SIZE=\"" + env +
                                "\" is not a size (bytes, or with a k/m suffix)");
  check_stack_size(v, "GOCXX_STACK_SIZE");
  return v;
}

// ---------------------------------------------------------------------------------------------
// Runtime object.

Runtime::Runtime(const RuntimeOptions& options) : opts(options) {
  unusual.store(opts.migrate, std::memory_order_relaxed);
  for (int i = 0; i < opts.procs; ++i) {
    ps.push_back(std::make_unique<P>());
    ms.push_back(std::make_unique<M>());
    ps[i]->id = i;
    ps[i]->m = ms[i].get();
    ms[i]->p = ps[i].get();
  }
}

Runtime::~Runtime() = default;

std::uint64_t Runtime::new_fiber_id(P* p) {
  if (p == nullptr) return next_id.fetch_add(1, std::memory_order_relaxed);
  if (p->id_next == p->id_end) {
    p->id_next = next_id.fetch_add(kIdBatch, std::memory_order_relaxed);
    p->id_end = p->id_next + kIdBatch;
  }
  return p->id_next++;
}

// p: the caller's P (owner), or nullptr from a plain thread.
G* Runtime::alloc_g(P* p) {
  if (p != nullptr && p->free_gs != nullptr) {
    G* g = p->free_gs;
    p->free_gs = g->sched_next;
    --p->free_count;
    return g;
  }
  {
    std::lock_guard lk(free_lock);
    G* g = free_gs;
    if (g != nullptr) {
      free_gs = g->sched_next;
      free_count.fetch_sub(1, std::memory_order_relaxed);
      for (int i = 1; p != nullptr && i < kGlobalFreeBatch && free_gs != nullptr; ++i) {
        G* more = free_gs;
        free_gs = more->sched_next;
        free_count.fetch_sub(1, std::memory_order_relaxed);
        more->sched_next = p->free_gs;
        p->free_gs = more;
        ++p->free_count;
      }
      return g;
    }
  }
  Stack stack = allocate_stack(opts.stack_size, opts.guard);
  char* slot = align_down(static_cast<char*>(stack.top()) - sizeof(G), 64);
  G* g = ::new (slot) G;
  g->stack = stack;
  std::lock_guard lk(all_lock);
  g->all_next = all_gs;
  if (all_gs != nullptr) all_gs->all_prev = g;
  all_gs = g;
  return g;
}

// p: the caller's P (owner), or nullptr.
void Runtime::free_g(P* p, G* g) {
  g->state.store(FiberState::free, std::memory_order_relaxed);
  g->sched_next = nullptr;
  G* to_global = g;
  if (p != nullptr) {
    g->sched_next = p->free_gs;
    p->free_gs = g;
    if (++p->free_count <= kLocalFreeMax) return;
    // Too many: move half to the global pool.
    to_global = nullptr;
    while (p->free_count > kLocalFreeMax / 2) {
      G* x = p->free_gs;
      p->free_gs = x->sched_next;
      --p->free_count;
      x->sched_next = to_global;
      to_global = x;
    }
  }
  G* excess = nullptr;
  {
    std::lock_guard lk(free_lock);
    while (to_global != nullptr) {
      G* x = to_global;
      to_global = x->sched_next;
      if (free_count.load(std::memory_order_relaxed) < kGlobalFreeMax) {
        x->sched_next = free_gs;
        free_gs = x;
        free_count.fetch_add(1, std::memory_order_relaxed);
      } else {
        x->sched_next = excess;
        excess = x;
      }
    }
  }
  destroy_list(excess);
}

void Runtime::destroy_list(G* list) {
  while (list != nullptr) {
    G* g = list;
    list = g->sched_next;
    destroy_g(g);
  }
}

bool Runtime::trim_free_pool() {
  if (free_count.load(std::memory_order_relaxed) <= kGlobalFreeKeep) return false;
  G* batch = nullptr;
  {
    std::lock_guard lk(free_lock);
    for (int i = 0; i < kTrimBatch && free_count.load(std::memory_order_relaxed) > kGlobalFreeKeep;
         ++i) {
      G* g = free_gs;
      free_gs = g->sched_next;
      free_count.fetch_sub(1, std::memory_order_relaxed);
      g->sched_next = batch;
      batch = g;
    }
  }
  destroy_list(batch);
  return true;
}

void Runtime::destroy_g(G* g) {
  {
    std::lock_guard lk(all_lock);
    if (g->all_prev != nullptr)
      g->all_prev->all_next = g->all_next;
    else
      all_gs = g->all_next;
    if (g->all_next != nullptr) g->all_next->all_prev = g->all_prev;
  }
  destroy_context(g->ctx);
  Stack stack = g->stack;
  g->~G();
  release_stack(stack);
}

}  // namespace go::detail

// ---------------------------------------------------------------------------------------------
// Spawning.

namespace go::detail {

SpawnSlot spawn_begin(std::size_t body_size, std::size_t body_align) {
  M* m = current_m();
  Runtime* rt = nullptr;
  if (m != nullptr) {
    rt = g_runtime.load(std::memory_order_relaxed);
  } else {
    std::lock_guard lk(g_runtime_lock);
    rt = g_runtime.load(std::memory_order_relaxed);
    if (rt == nullptr || !rt->accepting_foreign)
      throw std::logic_error(
          "go(...): no gocxx runtime is running (spawn inside go::run's main fiber, or from a "
          "thread while go::run runs)");
    rt->foreign_inflight.fetch_add(1, std::memory_order_relaxed);
  }
  P* p = m != nullptr ? m->p : nullptr;
  G* g = nullptr;
  try {
    g = rt->alloc_g(p);
  } catch (...) {
    if (m == nullptr) rt->foreign_inflight.fetch_sub(1, std::memory_order_release);
    throw;
  }
  const std::size_t align = std::max<std::size_t>(body_align, 16);
  void* storage;
  if (body_size <= g->stack.size / 4) {
    storage = align_down(reinterpret_cast<char*>(g) - body_size, align);
    g->body_on_heap = false;
  } else {
    try {
      storage = ::operator new(body_size, std::align_val_t(align));
    } catch (...) {
      rt->free_g(p, g);
      if (m == nullptr) rt->foreign_inflight.fetch_sub(1, std::memory_order_release);
      throw;
    }
    g->body_on_heap = true;
  }
  return SpawnSlot{g, storage};
}

void spawn_abort(SpawnSlot slot) noexcept {
  G* g = static_cast<G*>(slot.fiber);
  Runtime* rt = g_runtime.load(std::memory_order_relaxed);
  M* m = current_m();
  if (g->body_on_heap) ::operator delete(slot.storage);
  rt->free_g(m != nullptr ? m->p : nullptr, g);
  if (m == nullptr) rt->foreign_inflight.fetch_sub(1, std::memory_order_release);
}

void spawn_commit(SpawnSlot slot, FiberBody* body, SpawnSite site) {
  G* g = static_cast<G*>(slot.fiber);
  Runtime* rt = g_runtime.load(std::memory_order_relaxed);
  M* m = current_m();
  P* p = m != nullptr ? m->p : nullptr;
  g->body = body;
  g->started = false;
  g->is_main = false;
  g->site_file.store(site.file, std::memory_order_relaxed);
  g->site_line.store(site.line, std::memory_order_relaxed);
  g->wait_reason.store(nullptr, std::memory_order_relaxed);
  g->id.store(rt->new_fiber_id(p), std::memory_order_relaxed);
  char* top = g->body_on_heap ? reinterpret_cast<char*>(g) : static_cast<char*>(slot.storage);
  top = align_down(top, 64);
  char* bottom = static_cast<char*>(g->stack.bottom);
  make_context(g->ctx, top, static_cast<std::size_t>(top - bottom), bottom, &fiber_main);
  g->locals = FiberLocals{&g->ctx, nullptr};
  g->state.store(FiberState::runnable, std::memory_order_relaxed);
  if (p != nullptr) {
    p->spawned.store(p->spawned.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    const Runtime::Put put = rt->runq_put(p, g, true);
    if (!rt->single_p) rt->wakep(put != Runtime::Put::queue);
  } else {
    rt->foreign_spawned.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lk(rt->lock);
      rt->global.push_back(g);
    }
    rt->wakep();
    rt->foreign_inflight.fetch_sub(1, std::memory_order_release);
  }
}

// ---------------------------------------------------------------------------------------------
// Teardown.

namespace {

// Waits for every M but M0 (the caller) to leave its loop; complains about fibers that hog one.
void wait_for_other_ms(Runtime& rt) {
  M* m0 = rt.ms[0].get();
  std::int64_t next_warning = now_ns() + 1'000'000'000;
  while (rt.running_ms.load(std::memory_order_acquire) > 0) {
    m0->parker.park(next_warning);
    if (now_ns() < next_warning) continue;
    next_warning = now_ns() + 1'000'000'000;
    for (auto& m : rt.ms) {
      G* g = m->curg.load(std::memory_order_relaxed);
      if (g == nullptr) continue;
      std::fprintf(stderr,
                   "gocxx: go::run: main returned, waiting for fiber %llu (spawned at %s:%d) on "
                   "P%d, which has not yielded for a second\n",
                   static_cast<unsigned long long>(g->id.load()), site_file_of(g),
                   g->site_line.load(), m->p->id);
    }
  }
  for (auto& m : rt.ms)
    if (m->thread.joinable()) m->thread.join();
}

// Runs on the thread of M0 after every other M stopped. See step 5 at the top of this file.
void unwind_leftovers(Runtime& rt) {
  M* m0 = rt.ms[0].get();
  P* p0 = m0->p;
  set_current_m(m0);
  rt.unwinding.store(true, std::memory_order_relaxed);
  rt.unusual.store(true, std::memory_order_relaxed);
  for (auto& p : rt.ps) {
    std::vector<Timer*> armed;
    {
      std::lock_guard lk(p->timer_lock);
      while (Timer* t = p->timers.pop()) armed.push_back(t);
      p->next_timer.store(0, std::memory_order_relaxed);
    }
    for (Timer* t : armed)
      if (t->cancel != nullptr) t->cancel(t, t->arg);
  }
  auto drain_queues = [&rt] {
    for (auto& p : rt.ps) {
      p->runnext.store(nullptr, std::memory_order_relaxed);
      while (p->queue.pop() != nullptr) {
      }
      while (p->inbox.pop_front() != nullptr) {
      }
    }
    while (rt.global.pop_front() != nullptr) {
    }
  };
  constexpr int kMaxPasses = 64;
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    drain_queues();
    std::vector<G*> todo;
    {
      std::lock_guard lk(rt.all_lock);
      for (G* g = rt.all_gs; g != nullptr; g = g->all_next) {
        FiberState s = g->state.load(std::memory_order_relaxed);
        if (s == FiberState::runnable || (s == FiberState::parked && !g->blocked_in_unwind))
          todo.push_back(g);
      }
    }
    if (todo.empty()) break;
    for (G* g : todo) {
      if (!g->started) {
        g->body->destroy();
        if (g->body_on_heap) ::operator delete(static_cast<void*>(g->body));
        g->body = nullptr;
        p0->exited.store(p0->exited.load() + 1, std::memory_order_relaxed);
        rt.free_g(p0, g);
        continue;
      }
      rt.run_fiber(m0, g);
    }
  }
  drain_queues();
  int stuck = 0;
  {
    std::lock_guard lk(rt.all_lock);
    for (G* g = rt.all_gs; g != nullptr; g = g->all_next) {
      FiberState s = g->state.load(std::memory_order_relaxed);
      if (s == FiberState::free) continue;
      ++stuck;
      std::fprintf(stderr,
                   "gocxx: go::run: fiber %llu (spawned at %s:%d) could not be unwound at exit "
                   "(%s%s%s); its memory is leaked\n",
                   static_cast<unsigned long long>(g->id.load()), site_file_of(g),
                   g->site_line.load(), to_string(s),
                   g->wait_reason.load() != nullptr ? " on " : "",
                   g->wait_reason.load() != nullptr ? g->wait_reason.load() : "");
    }
  }
  // Destroy every pooled slot (the stuck ones stay: their stacks are still in use).
  std::vector<G*> pooled;
  {
    std::lock_guard lk(rt.all_lock);
    for (G* g = rt.all_gs; g != nullptr; g = g->all_next)
      if (g->state.load(std::memory_order_relaxed) == FiberState::free) pooled.push_back(g);
  }
  for (G* g : pooled) rt.destroy_g(g);
  for (auto& p : rt.ps) {
    p->free_gs = nullptr;
    p->free_count = 0;
  }
  rt.free_gs = nullptr;
  rt.free_count.store(0, std::memory_order_relaxed);
  set_current_m(nullptr);
  if (stuck > 0) std::fprintf(stderr, "gocxx: go::run: %d fiber(s) left behind at exit\n", stuck);
}

}  // namespace

}  // namespace go::detail

// ---------------------------------------------------------------------------------------------
// go::run

// Defined by the syscall hooks (src/net/hooks.cpp). go::run reads it so that a program linking
// the static library always gets the hooks' object file, which the linker would otherwise pull
// in only if the program itself named read(), poll(), ... (a program whose blocking calls all
// come from libcurl names none of them).
extern "C" const int gocxx_hooks_linked;

namespace go {

int run(std::function<void()> main_fiber, Config cfg) {
  using namespace go::detail;
  if (!main_fiber) throw std::invalid_argument("go::run: main_fiber is empty");
  (void)*static_cast<const volatile int*>(&gocxx_hooks_linked);  // see its declaration
  if (current_m() != nullptr)
    throw std::logic_error("go::run: called from inside a fiber (spawn with go(...) instead)");
  RuntimeOptions opts = resolve_options(cfg);

  std::unique_ptr<Runtime> rt;
  {
    std::lock_guard lk(g_runtime_lock);
    if (g_runtime.load() != nullptr)
      throw std::logic_error("go::run: another go::run is already running in this process");
    rt = std::make_unique<Runtime>(opts);
    g_runtime.store(rt.get(), std::memory_order_release);
  }
  set_stack_overflow_reporter(&report_stack_overflow);

  // The main fiber: spawned like any other (from this plain thread, so via the global queue).
  {
    using Body = BoundBody<std::function<void()>>;
    SpawnSlot slot = spawn_begin(sizeof(Body), alignof(Body));
    auto* body = ::new (slot.storage) Body(std::move(main_fiber));
    G* g = static_cast<G*>(slot.fiber);
    spawn_commit(slot, body, SpawnSite{"go::run", 0});
    g->is_main = true;
  }

  rt->running_ms.store(opts.procs, std::memory_order_relaxed);
  for (int i = 1; i < opts.procs; ++i) {
    M* m = rt->ms[i].get();
    m->thread = std::thread([r = rt.get(), m] { r->m_main(m); });
  }
  SchedTrace trace(*rt);
  rt->m_main(rt->ms[0].get());
  wait_for_other_ms(*rt);
  trace.stop();

  {
    std::lock_guard lk(g_runtime_lock);
    rt->accepting_foreign = false;
  }
  while (rt->foreign_inflight.load(std::memory_order_acquire) > 0) std::this_thread::yield();
  unwind_leftovers(*rt);

  std::exception_ptr main_exception = rt->main_exception;
  {
    std::lock_guard lk(g_runtime_lock);
    g_runtime.store(nullptr, std::memory_order_release);
  }
  rt.reset();
  if (main_exception) std::rethrow_exception(main_exception);
  return 0;
}

}  // namespace go
