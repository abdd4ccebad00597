// Fiber stack pool: slabs, guard pages or canaries, and the SIGSEGV overflow reporter.
//
// What: stacks are carved out of large anonymous slabs (mmap MAP_NORESERVE, never unmapped
// while the process lives: a slab's address range must stay valid for the lock-free lookup in
// the signal handler, and a pooled stack costs only virtual space once its pages are given
// back). One slab list per class (usable size, guard mode); a slab holds up to ~16 MiB of
// slots, each slot = [one guard page][usable stack], carved lazily (a slot's guard is
// installed the first time it is handed out). Released stacks go onto a per-class free list,
// reused LIFO so that a hot stack's page tables and cache lines are reused; their pages are
// decommitted with MADV_DONTNEED at release time.
//
// Why: a mapping per stack (plus one per mprotect'ed guard) costs one or two entries of the
// process map table, capped at vm.max_map_count = 65530 by default. Slabs of one class are
// mapped with identical flags, so neighbouring slabs merge into one map entry; with
// MADV_GUARD_INSTALL (Linux >= 6.13) the guard pages live in the page tables and add no entry
// either. Slabs are MADV_NOHUGEPAGE: with THP "always", one touched byte would otherwise
// commit 2 MiB of a parked fiber's stack.
//
// Rejected alternatives:
//   - one mmap per stack (Boost's protected_fixedsize_stack): 2 map entries per fiber, so
//     ~30,000 fibers at most, and a munmap/mmap pair (TLB shootdowns) per fiber lifetime;
//   - malloc'ed stacks: no guard page possible, and freed stacks stay committed;
//   - an intrusive free list stored in the released stacks: it would touch (re-commit) a
//     page of every pooled stack right after MADV_DONTNEED gave it back;
//   - per-slab bitmaps or per-P caches here: the scheduler keeps per-P caches on top of this
//     pool; this layer stays one mutex and O(1) per operation.
//
// Guard modes: guard_page installs MADV_GUARD_INSTALL on the slot's guard page, or, where the
// kernel lacks it, mprotect(PROT_NONE)s it (which splits the slab mapping: two more map
// entries per stack, the price of the fallback). canary mode leaves the guard page as plain
// memory (a red zone that keeps a small overflow off the neighbouring slot) and writes a
// 64-byte pattern at the lowest usable bytes, rewritten by every allocate_stack because
// MADV_DONTNEED zeroed it. A canary stack therefore always commits its bottom page, next to
// the top pages its fiber uses. The environment variable GOCXX_STACK_GUARD_INSTALL=0 makes
// kernel_has_guard_install() false (to exercise the mprotect fallback and canary default).
//
// Limits: a frame larger than a page can step over the guard page into the top of the slot
// below, which no guard page catches (GCC's -fstack-clash-protection would).
#include "sched/stack.h"

#include <execinfo.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#if defined(GOCXX_ASAN) || defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define GOCXX_STACK_ASAN 1
#endif

namespace go::detail {
namespace {

#ifdef MADV_GUARD_INSTALL
constexpr int kMadvGuardInstall = MADV_GUARD_INSTALL;
#else
constexpr int kMadvGuardInstall = 102;  // Linux 6.13 uapi value
#endif

constexpr std::size_t kMinUsable = 16 * 1024;
constexpr std::size_t kSlabTargetBytes = std::size_t{16} << 20;
constexpr std::size_t kMaxSlotsPerSlab = 1024;
constexpr std::size_t kMaxSlabs = std::size_t{1} << 16;  // 1 TiB of slabs at 16 MiB each
constexpr std::size_t kCanaryBytes = 64;
constexpr std::size_t kAltStackBytes = 64 * 1024;
constexpr std::size_t kMinForeignAltStack = 16 * 1024;

std::size_t page_size() {
  static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

// ---- Slab table: read by the signal handler without a lock.
//
// Invariant: entries [0, g_slab_count) are fully written and never change again. They are
// written only under Pool::mu, before the release-store that publishes them; the handler
// reads g_slab_count with acquire and then only those entries. Append-only, never unmapped.
struct SlabDesc {
  std::uintptr_t base;     // start of the mapping (the guard page of slot 0)
  std::size_t slot_bytes;  // guard + usable
  std::size_t slots;       // slots in the mapping
  std::size_t guard_bytes;
  std::size_t usable_bytes;
  bool guarded;  // guard_page mode: the first guard_bytes of every carved slot fault
};

SlabDesc g_slabs[kMaxSlabs];
std::atomic<std::size_t> g_slab_count{0};

std::atomic<OverflowReporter> g_reporter{nullptr};
static_assert(std::atomic<OverflowReporter>::is_always_lock_free);
static_assert(std::atomic<std::size_t>::is_always_lock_free);

// The SIGSEGV disposition that was in place before ours: written once, before our handler
// is installed (std::call_once), read-only afterwards, so the handler may read it.
struct sigaction g_prev_segv;

// ---- Pool: everything below is protected by mu.
struct SizeClass {
  std::size_t usable = 0;
  GuardMode mode = GuardMode::canary;
  std::vector<void*> free;            // bottoms of released stacks; back() is reused first
  const SlabDesc* carving = nullptr;  // slab whose slots [next_slot, slots) were never used
  std::size_t next_slot = 0;
  std::size_t guards_ready = 0;  // slots of `carving` whose guard was installed in advance
};

struct Pool {
  std::mutex mu;
  std::unordered_map<std::size_t, SizeClass> classes;  // key: usable | mode (usable is paged)
  StackPoolStats stats;
};

// Leaked on purpose: threads may still release stacks while static destructors run.
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}

std::size_t class_key(std::size_t usable, GuardMode mode) {
  return usable | static_cast<std::size_t>(mode);
}

std::system_error slab_error(int err, std::size_t bytes) {
  return std::system_error(err, std::system_category(),
                           "mmap of a " + std::to_string(bytes) + "-byte stack slab");
}

// Rounds to whole pages, at least kMinUsable. Throws for sizes no address space can hold.
std::size_t round_usable(std::size_t requested) {
  const std::size_t pg = page_size();
  if (requested > (std::size_t{1} << 56)) throw slab_error(ENOMEM, requested);
  std::size_t usable = requested < kMinUsable ? kMinUsable : requested;
  return (usable + pg - 1) / pg * pg;
}

// Makes the page at `addr` fault on access. Returns 0 or an errno value.
int install_guard(void* addr, std::size_t bytes) {
  if (kernel_has_guard_install()) {
    if (madvise(addr, bytes, kMadvGuardInstall) == 0) return 0;
    return errno;
  }
  return mprotect(addr, bytes, PROT_NONE) == 0 ? 0 : errno;
}

// Installs the guard pages of all slots of a fresh guard_page slab at once: one
// process_madvise(MADV_GUARD_INSTALL) over a vector of ranges instead of one madvise per slot
// when it is carved. Measured here: 0.5 us per slot instead of 1.2-1.4, out of the ~3.3 us a
// fiber on a never-used stack costs (most of the rest is its first page fault). Needs
// PIDFD_SELF (Linux >= 6.15); returns how many slots, from the first, got their guard (0 where
// the kernel refuses: carve_slot then installs each one itself). Caller holds pool().mu.
std::size_t install_guards_ahead(const SlabDesc& d) {
  if (!d.guarded || !kernel_has_guard_install()) return 0;
  constexpr int kPidfdSelf = -10000;  // PIDFD_SELF (PIDFD_SELF_THREAD): this process's memory
  static_assert(kMaxSlotsPerSlab <= 1024, "process_madvise takes at most UIO_MAXIOV ranges");
  std::vector<iovec> ranges(d.slots);
  for (std::size_t i = 0; i < d.slots; ++i)
    ranges[i] = iovec{reinterpret_cast<void*>(d.base + i * d.slot_bytes), d.guard_bytes};
  const long done =
      syscall(SYS_process_madvise, kPidfdSelf, ranges.data(), ranges.size(), kMadvGuardInstall, 0);
  return done > 0 ? static_cast<std::size_t>(done) / d.guard_bytes : 0;
}

// Maps a new slab for `c` and publishes it in the slab table. Caller holds pool().mu.
const SlabDesc* map_slab(Pool& p, SizeClass& c) {
  const std::size_t guard = page_size();
  const std::size_t slot = guard + c.usable;
  std::size_t slots = kSlabTargetBytes / slot;
  if (slots < 1) slots = 1;
  if (slots > kMaxSlotsPerSlab) slots = kMaxSlotsPerSlab;
  const std::size_t bytes = slots * slot;

  const std::size_t index = g_slab_count.load(std::memory_order_relaxed);
  if (index == kMaxSlabs) {
    throw std::system_error(ENOMEM, std::system_category(),
                            "stack slab table full (" + std::to_string(kMaxSlabs) + " slabs)");
  }

  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) throw slab_error(errno, bytes);
  (void)madvise(mem, bytes, MADV_NOHUGEPAGE);  // best effort; see the top comment

  SlabDesc& d = g_slabs[index];
  d.base = reinterpret_cast<std::uintptr_t>(mem);
  d.slot_bytes = slot;
  d.slots = slots;
  d.guard_bytes = guard;
  d.usable_bytes = c.usable;
  d.guarded = c.mode == GuardMode::guard_page;
  g_slab_count.store(index + 1, std::memory_order_release);

  ++p.stats.slabs;
  p.stats.reserved_bytes += bytes;
  return &d;
}

// Hands out a never-used slot of `c`, installing its guard. Caller holds pool().mu.
void* carve_slot(Pool& p, SizeClass& c) {
  if (c.carving == nullptr || c.next_slot == c.carving->slots) {
    c.carving = map_slab(p, c);
    c.next_slot = 0;
    c.guards_ready = install_guards_ahead(*c.carving);
  }
  const SlabDesc& d = *c.carving;
  char* slot = reinterpret_cast<char*>(d.base + c.next_slot * d.slot_bytes);
  if (d.guarded && c.next_slot >= c.guards_ready) {
    // On failure the slot stays uncarved (next_slot unchanged) and is retried next time.
    if (int err = install_guard(slot, d.guard_bytes); err != 0) {
      throw std::system_error(err, std::system_category(), "installing a stack guard page");
    }
  }
  ++c.next_slot;
  return slot + d.guard_bytes;
}

alignas(8) constexpr unsigned char kCanary[kCanaryBytes] = {
    'g',  'o',  'c',  'x',  'x',  ' ',  's',  't',  'a',  'c',  'k',  ' ',  'c',  'a',  'n',  'a',
    'r',  'y',  0xde, 0xad, 0xbe, 0xef, 0x5a, 0xa5, 0x0f, 0xf0, 0x3c, 0xc3, 0x96, 0x69, 0x81, 0x7e,
    0x13, 0x57, 0x9b, 0xdf, 0x24, 0x68, 0xac, 0xe0, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 'e',  'n',  'd',  ' ',  'g',  'o',  'c',  'x'};

// ---- Signal handler. May touch only: g_slabs/g_slab_count (lock-free reads), g_reporter,
// g_prev_segv, and async-signal-safe calls (write, sigaction, raise, abort). No locks, no
// allocation, no errno leak.

// Finds the slot whose guard page contains `addr`.
bool find_guard_hit(std::uintptr_t addr, Stack* out) {
  const std::size_t n = g_slab_count.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    const SlabDesc& d = g_slabs[i];
    if (!d.guarded || addr < d.base || addr - d.base >= d.slots * d.slot_bytes) continue;
    const std::size_t offset = addr - d.base;
    if (offset % d.slot_bytes >= d.guard_bytes) return false;  // inside a usable range
    out->bottom =
        reinterpret_cast<void*>(d.base + offset / d.slot_bytes * d.slot_bytes + d.guard_bytes);
    out->size = d.usable_bytes;
    out->guard = GuardMode::guard_page;
    return true;
  }
  return false;
}

// Appends "0x<hex>" to buf at *len.
void append_hex(char* buf, std::size_t* len, std::uintptr_t v) {
  char digits[2 * sizeof v];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[v & 0xf];
    v >>= 4;
  } while (v != 0);
  buf[(*len)++] = '0';
  buf[(*len)++] = 'x';
  while (n > 0) buf[(*len)++] = digits[--n];
}

void append_str(char* buf, std::size_t* len, const char* s) {
  while (*s != '\0') buf[(*len)++] = *s++;
}

void write_all(const char* buf, std::size_t len) {
  for (std::size_t done = 0; done < len;) {
    ssize_t w = write(STDERR_FILENO, buf + done, len - done);
    if (w <= 0 && errno != EINTR) break;
    if (w > 0) done += static_cast<std::size_t>(w);
  }
}

// A fault that is not a stack overflow, about to take the default action (a core dump, no
// message): say what and where first, with the faulting thread's stack. backtrace() was
// called once at installation, so that it does not load libgcc (malloc) in here.
void report_crash(const void* fault) {
  char buf[128];
  std::size_t len = 0;
  append_str(buf, &len, "gocxx: fatal: SIGSEGV: invalid memory access at ");
  append_hex(buf, &len, reinterpret_cast<std::uintptr_t>(fault));
  append_str(buf, &len, " (not a fiber stack overflow); stack:\n");
  write_all(buf, len);
  void* frames[64];
  backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
}

[[noreturn]] void report_overflow(const Stack& stack, const void* fault) {
  if (OverflowReporter r = g_reporter.load(std::memory_order_acquire)) r(stack, fault);
  char buf[256];
  std::size_t len = 0;
  append_str(buf, &len, "gocxx: fatal: stack overflow: fault at ");
  append_hex(buf, &len, reinterpret_cast<std::uintptr_t>(fault));
  append_str(buf, &len, " in the guard page of the fiber stack [");
  append_hex(buf, &len, reinterpret_cast<std::uintptr_t>(stack.bottom));
  append_str(buf, &len, ", ");
  append_hex(buf, &len, reinterpret_cast<std::uintptr_t>(stack.top()));
  append_str(buf, &len, ")\n");
  write_all(buf, len);
  abort();
}

void on_sigsegv(int sig, siginfo_t* info, void* /*ucontext*/) {
  const int saved_errno = errno;
  // si_code > 0: sent by the kernel for a faulting access, so si_addr is meaningful.
  if (info != nullptr && info->si_code > 0) {
    Stack stack;
    if (find_guard_hit(reinterpret_cast<std::uintptr_t>(info->si_addr), &stack)) {
      report_overflow(stack, info->si_addr);
    }
  }
  // Not ours. Where nobody else handles it, tell what happened before the core dump.
  if (info != nullptr && info->si_code > 0 && (g_prev_segv.sa_flags & SA_SIGINFO) == 0 &&
      g_prev_segv.sa_handler == SIG_DFL) {
    report_crash(info->si_addr);
  }
  // Put back the disposition we replaced and return. A faulting access re-executes
  // and now reaches that handler (ASan's report, a core dump for SIG_DFL) with its own flags
  // and a fresh siginfo. The process is crashing anyway, so losing ours costs nothing.
  sigaction(SIGSEGV, &g_prev_segv, nullptr);
  if (info == nullptr || info->si_code <= 0) raise(sig);  // kill(): nothing re-executes
  errno = saved_errno;
}

void install_process_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    void* frame;
    (void)backtrace(&frame, 1);  // loads libgcc's unwinder now, not in the handler
    // Read the old disposition first so it is complete before our handler can run.
    if (sigaction(SIGSEGV, nullptr, &g_prev_segv) != 0) {
      throw std::system_error(errno, std::system_category(), "sigaction(SIGSEGV)");
    }
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = &on_sigsegv;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_ONSTACK | SA_SIGINFO;
    if (sigaction(SIGSEGV, &sa, nullptr) != 0) {
      throw std::system_error(errno, std::system_category(), "sigaction(SIGSEGV)");
    }
  });
}

// The calling thread's alternate signal stack, if we made one. Its destructor (thread exit)
// disables it while it is still the active one and unmaps it, so threads leave nothing behind.
struct AltStack {
  bool done = false;    // install_overflow_handler_for_thread ran on this thread
  void* mem = nullptr;  // our mapping: [guard page][kAltStackBytes], or nullptr
  std::size_t bytes = 0;

  ~AltStack() {
    if (mem == nullptr) return;
    stack_t cur;
    if (sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) &&
        cur.ss_sp == static_cast<char*>(mem) + page_size()) {
      stack_t off;
      std::memset(&off, 0, sizeof off);
      off.ss_flags = SS_DISABLE;
      sigaltstack(&off, nullptr);
    }
    munmap(mem, bytes);
  }
};

thread_local AltStack t_alt_stack;

}  // namespace

bool kernel_has_guard_install() {
  static const bool works = [] {
    if (const char* env = std::getenv("GOCXX_STACK_GUARD_INSTALL");
        env != nullptr && std::strcmp(env, "0") == 0) {
      return false;
    }
    const std::size_t pg = page_size();
    void* mem = mmap(nullptr, 2 * pg, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) return false;
    // Older kernels reject the unknown advice with EINVAL.
    const bool ok = madvise(mem, pg, kMadvGuardInstall) == 0;
    munmap(mem, 2 * pg);
    return ok;
  }();
  return works;
}

GuardMode resolve_guard_mode(GuardMode requested) {
  if (requested != GuardMode::automatic) return requested;
  return kernel_has_guard_install() ? GuardMode::guard_page : GuardMode::canary;
}

Stack allocate_stack(std::size_t usable_size, GuardMode mode) {
  Stack stack;
  stack.guard = resolve_guard_mode(mode);
  stack.size = round_usable(usable_size);
  Pool& p = pool();
  {
    std::lock_guard lock(p.mu);
    SizeClass& c = p.classes[class_key(stack.size, stack.guard)];
    if (c.usable == 0) {
      c.usable = stack.size;
      c.mode = stack.guard;
    }
    if (!c.free.empty()) {
      stack.bottom = c.free.back();
      c.free.pop_back();
      --p.stats.stacks_pooled;
    } else {
      stack.bottom = carve_slot(p, c);
    }
    ++p.stats.stacks_in_use;
  }
  // Outside the lock: the stack is ours alone now. A reused stack's canary was zeroed by the
  // MADV_DONTNEED in release_stack, so it is written every time.
  if (stack.guard == GuardMode::canary) std::memcpy(stack.bottom, kCanary, kCanaryBytes);
  return stack;
}

void release_stack(const Stack& stack) {
  if (!stack) return;
  char* bottom = static_cast<char*>(stack.bottom);
  // Decommit outside the lock (a syscall, and TLB shootdowns where other threads run). In
  // canary mode the unguarded red zone below may have been written by an overflow: include it.
  // In guard_page mode the guard is left out (MADV_DONTNEED would keep it anyway).
  if (stack.guard == GuardMode::canary) {
    const std::size_t pg = page_size();
    (void)madvise(bottom - pg, stack.size + pg, MADV_DONTNEED);
  } else {
    (void)madvise(bottom, stack.size, MADV_DONTNEED);
  }
#if defined(GOCXX_STACK_ASAN)
  // Frames abandoned on this stack (a fiber that never returned from them) leave poisoned
  // shadow behind, which the next user of the stack (or the canary write) would trip over.
  // Unpoison from the lowest poisoned byte up only, so untouched shadow stays uncommitted.
  if (void* poisoned = __asan_region_is_poisoned(bottom, stack.size)) {
    ASAN_UNPOISON_MEMORY_REGION(poisoned, static_cast<std::size_t>(static_cast<char*>(stack.top()) -
                                                                   static_cast<char*>(poisoned)));
  }
#endif
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  auto it = p.classes.find(class_key(stack.size, stack.guard));
  if (it == p.classes.end()) {
    static constexpr char kMsg[] = "gocxx: fatal: release_stack of a stack not from the pool\n";
    (void)!write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
    abort();
  }
  it->second.free.push_back(stack.bottom);
  --p.stats.stacks_in_use;
  ++p.stats.stacks_pooled;
}

bool stack_canary_intact(const Stack& stack) {
  if (stack.guard != GuardMode::canary) return true;
  return std::memcmp(stack.bottom, kCanary, kCanaryBytes) == 0;
}

void set_stack_overflow_reporter(OverflowReporter reporter) {
  g_reporter.store(reporter, std::memory_order_release);
}

void install_overflow_handler_for_thread() {
  install_process_handler();
  AltStack& alt = t_alt_stack;
  if (alt.done) return;

  // Keep an alternate stack someone else installed (ASan does, on every thread it knows): its
  // owner frees whatever stack is current at thread exit, so replacing it would break both.
  stack_t cur;
  if (sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) &&
      cur.ss_size >= kMinForeignAltStack) {
    alt.done = true;
    return;
  }

  // [guard page][kAltStackBytes]: a handler overflowing the alternate stack faults instead of
  // scribbling over whatever lies below.
  const std::size_t pg = page_size();
  const std::size_t bytes = pg + kAltStackBytes;
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    throw std::system_error(errno, std::system_category(), "mmap of a signal stack");
  }
  (void)install_guard(mem, pg);  // best effort: the stack works without it
  stack_t ss;
  std::memset(&ss, 0, sizeof ss);
  ss.ss_sp = static_cast<char*>(mem) + pg;
  ss.ss_size = kAltStackBytes;
  if (sigaltstack(&ss, nullptr) != 0) {
    const int err = errno;
    munmap(mem, bytes);
    throw std::system_error(err, std::system_category(), "sigaltstack");
  }
  alt.mem = mem;
  alt.bytes = bytes;
  alt.done = true;
}

StackPoolStats stack_pool_stats() {
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  return p.stats;
}

}  // namespace go::detail
