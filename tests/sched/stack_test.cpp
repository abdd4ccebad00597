// Tests for the fiber stack pool (src/sched/stack.h): sizes, reuse, stats, decommit, map-entry
// cost, canaries, and overflow detection through the SIGSEGV handler.
#include "sched/stack.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "sched/context.h"
#include "test_util.h"

namespace go::detail {
namespace {

std::size_t page() {
  return static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

int maps_lines() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) ++n;
  return n;
}

// Whether the kernel can read the byte at `p` (guard pages and PROT_NONE give EFAULT), found
// without touching it from user space: write(2) it into a pipe and drain the pipe.
bool kernel_can_read(const void* p) {
  int fds[2];
  if (pipe(fds) != 0) ADD_FAILURE() << "pipe: " << std::strerror(errno);
  const bool ok = write(fds[1], p, 1) == 1;
  close(fds[0]);
  close(fds[1]);
  return ok;
}

// Resident pages of [p, p + bytes) per mincore(2).
std::size_t resident_pages(const void* p, std::size_t bytes) {
  std::vector<unsigned char> vec(bytes / page());
  EXPECT_EQ(mincore(const_cast<void*>(p), bytes, vec.data()), 0) << std::strerror(errno);
  return static_cast<std::size_t>(
      std::count_if(vec.begin(), vec.end(), [](unsigned char v) { return (v & 1) != 0; }));
}

// Every test uses its own usable size (a class of its own): the pool is process-wide, and a
// class shared with another test would make "fresh" or "reused" depend on test order.
constexpr std::size_t kKiB = 1024;

const GuardMode kModes[] = {GuardMode::guard_page, GuardMode::canary};

const char* name(GuardMode m) {
  return m == GuardMode::guard_page ? "guard_page" : m == GuardMode::canary ? "canary" : "auto";
}

TEST(StackTest, SizesAreRoundedUpToPagesAndAtLeast16KiB) {
  const std::size_t pg = page();
  struct Case {
    std::size_t requested, expected;
  };
  const Case cases[] = {{0, 16 * kKiB},
                        {1, 16 * kKiB},
                        {16 * kKiB, 16 * kKiB},
                        {16 * kKiB + 1, 16 * kKiB + pg},
                        {100000, (100000 + pg - 1) / pg * pg}};
  for (GuardMode mode : kModes) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(name(mode)) + " requested " + std::to_string(c.requested));
      Stack s = allocate_stack(c.requested, mode);
      ASSERT_TRUE(s);
      EXPECT_EQ(s.size, c.expected);
      EXPECT_EQ(s.guard, mode);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s.bottom) % pg, 0u);
      EXPECT_EQ(static_cast<char*>(s.top()) - static_cast<char*>(s.bottom),
                static_cast<std::ptrdiff_t>(s.size));
      release_stack(s);
    }
  }
}

TEST(StackTest, AutomaticResolvesToGuardPageIffGuardInstallWorks) {
  const GuardMode expected = kernel_has_guard_install() ? GuardMode::guard_page : GuardMode::canary;
  EXPECT_EQ(resolve_guard_mode(GuardMode::automatic), expected);
  EXPECT_EQ(resolve_guard_mode(GuardMode::guard_page), GuardMode::guard_page);
  EXPECT_EQ(resolve_guard_mode(GuardMode::canary), GuardMode::canary);
  Stack s = allocate_stack(20 * kKiB, GuardMode::automatic);
  EXPECT_EQ(s.guard, expected);
  release_stack(s);
}

TEST(StackTest, WholeUsableRangeIsWritableAndTheGuardIsNot) {
  for (GuardMode mode : kModes) {
    SCOPED_TRACE(name(mode));
    Stack s = allocate_stack(72 * kKiB, mode);
    auto* bottom = static_cast<unsigned char*>(s.bottom);
    std::memset(bottom, 0xab, s.size);
    EXPECT_EQ(bottom[0], 0xab);
    EXPECT_EQ(bottom[s.size - 1], 0xab);
    EXPECT_TRUE(kernel_can_read(bottom));
    EXPECT_TRUE(kernel_can_read(bottom + s.size - 1));
    // The page below is the guard: faults in guard_page mode, plain red zone in canary mode.
    EXPECT_EQ(kernel_can_read(bottom - 1), mode != GuardMode::guard_page);
    EXPECT_EQ(kernel_can_read(bottom - page()), mode != GuardMode::guard_page);
    release_stack(s);
  }
}

// Guards are installed for a whole slab at once where the kernel allows it (stack.cpp's
// install_guards_ahead), else one by one: either way every stack handed out, across more than
// one slab, has its guard right below its usable range and none inside it.
TEST(StackTest, EveryStackOfSeveralSlabsHasItsGuard) {
  // 40 KiB + the guard: a 16 MiB slab holds 372 of them, so 800 stacks span three slabs.
  std::vector<Stack> stacks;
  for (int i = 0; i < 800; ++i) stacks.push_back(allocate_stack(40 * kKiB, GuardMode::guard_page));
  for (const Stack& s : stacks) {
    auto* bottom = static_cast<unsigned char*>(s.bottom);
    ASSERT_FALSE(kernel_can_read(bottom - 1)) << "no guard below stack at " << s.bottom;
    ASSERT_FALSE(kernel_can_read(bottom - page()));
    ASSERT_TRUE(kernel_can_read(bottom));
    ASSERT_TRUE(kernel_can_read(bottom + s.size - 1));
  }
  for (const Stack& s : stacks) release_stack(s);
}

TEST(StackTest, ReleasedStacksAreReusedLifoAndComeBackZeroed) {
  for (GuardMode mode : kModes) {
    SCOPED_TRACE(name(mode));
    const std::size_t size = 76 * kKiB;
    Stack a = allocate_stack(size, mode);
    Stack b = allocate_stack(size, mode);
    Stack c = allocate_stack(size, mode);
    EXPECT_NE(a.bottom, b.bottom);
    EXPECT_NE(b.bottom, c.bottom);
    std::memset(static_cast<char*>(a.top()) - 4096, 0x5a, 4096);
    release_stack(a);
    release_stack(b);
    Stack b2 = allocate_stack(size, mode);
    Stack a2 = allocate_stack(size, mode);
    Stack d = allocate_stack(size, mode);
    EXPECT_EQ(b2.bottom, b.bottom);
    EXPECT_EQ(a2.bottom, a.bottom);
    EXPECT_NE(d.bottom, a.bottom);
    EXPECT_NE(d.bottom, b.bottom);
    EXPECT_NE(d.bottom, c.bottom);
    // Decommitted on release: the reused stack reads back zeroes.
    EXPECT_EQ(static_cast<char*>(a2.top())[-1], 0);
    EXPECT_TRUE(stack_canary_intact(a2));
    for (Stack* s : {&b2, &a2, &c, &d}) release_stack(*s);
  }
}

TEST(StackTest, StatsCountersMove) {
  for (GuardMode mode : kModes) {
    SCOPED_TRACE(name(mode));
    const std::size_t size = 4 * 1024 * kKiB + 4 * kKiB;  // a class of its own, few per slab
    const StackPoolStats before = stack_pool_stats();

    Stack first = allocate_stack(size, mode);
    StackPoolStats s1 = stack_pool_stats();
    EXPECT_EQ(s1.slabs, before.slabs + 1);  // a new class maps its first slab
    EXPECT_GT(s1.reserved_bytes, before.reserved_bytes + size);
    EXPECT_EQ(s1.stacks_in_use, before.stacks_in_use + 1);
    EXPECT_EQ(s1.stacks_pooled, before.stacks_pooled);

    // Allocate until a second slab is needed: every slab holds at least one slot, and the
    // slabs are bounded (~16 MiB), so that takes a few stacks, not one and not thousands.
    std::vector<Stack> more;
    while (stack_pool_stats().slabs == s1.slabs && more.size() < 10000) {
      more.push_back(allocate_stack(size, mode));
    }
    EXPECT_GE(more.size(), 2u);
    EXPECT_LE(more.size(), 64u);
    StackPoolStats s2 = stack_pool_stats();
    EXPECT_EQ(s2.slabs, s1.slabs + 1);
    EXPECT_EQ(s2.stacks_in_use, s1.stacks_in_use + more.size());

    release_stack(first);
    for (const Stack& s : more) release_stack(s);
    StackPoolStats s3 = stack_pool_stats();
    EXPECT_EQ(s3.stacks_in_use, before.stacks_in_use);
    EXPECT_EQ(s3.stacks_pooled, before.stacks_pooled + 1 + more.size());
    EXPECT_EQ(s3.slabs, s2.slabs);  // slabs are never unmapped
    EXPECT_EQ(s3.reserved_bytes, s2.reserved_bytes);

    Stack again = allocate_stack(size, mode);  // from the pool: no new slab
    StackPoolStats s4 = stack_pool_stats();
    EXPECT_EQ(s4.slabs, s3.slabs);
    EXPECT_EQ(s4.stacks_pooled, s3.stacks_pooled - 1);
    EXPECT_EQ(s4.stacks_in_use, s3.stacks_in_use + 1);
    release_stack(again);
  }
}

TEST(StackTest, ReleasedStackPagesAreDecommitted) {
  for (GuardMode mode : kModes) {
    SCOPED_TRACE(name(mode));
    Stack s = allocate_stack(2 * 1024 * kKiB, mode);
    const std::size_t touched = 1024 * kKiB;
    char* low = static_cast<char*>(s.top()) - touched;
    std::memset(low, 1, touched);
    EXPECT_EQ(resident_pages(low, touched), touched / page());
    release_stack(s);
    EXPECT_EQ(resident_pages(s.bottom, s.size), 0u);
  }
}

// Allocates live_fibers(100,000) stacks of 64 KiB at once, checks they cost few map entries,
// and prints the numbers (map entries, ns per allocate/release).
void many_stacks_add_few_map_entries(GuardMode mode) {
  const std::int64_t n = gocxx_test::live_fibers(100000);
  std::vector<Stack> stacks;
  stacks.reserve(static_cast<std::size_t>(n));
  const int before = maps_lines();
  const auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; i < n; ++i) stacks.push_back(allocate_stack(64 * kKiB, mode));
  const auto t1 = std::chrono::steady_clock::now();
  const int after = maps_lines();
  // A stack's highest byte is where its fiber starts: it must be usable.
  for (const Stack& s : stacks) static_cast<volatile char*>(s.top())[-1] = 1;
  if (mode == GuardMode::guard_page) {
    EXPECT_FALSE(kernel_can_read(static_cast<char*>(stacks.front().bottom) - 1));
    EXPECT_FALSE(kernel_can_read(static_cast<char*>(stacks.back().bottom) - 1));
  }
  const auto t2 = std::chrono::steady_clock::now();
  for (const Stack& s : stacks) release_stack(s);
  const auto t3 = std::chrono::steady_clock::now();
  // Reuse from the pool: the hot path.
  for (Stack& s : stacks) s = allocate_stack(64 * kKiB, mode);
  const auto t4 = std::chrono::steady_clock::now();
  for (const Stack& s : stacks) release_stack(s);
  const auto t5 = std::chrono::steady_clock::now();
  const auto ns = [n](auto d) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) /
           static_cast<double>(n);
  };
  std::printf(
      "%s: %lld stacks of 64 KiB: /proc/self/maps %d -> %d lines; ns/stack: first allocate "
      "%.0f, release (touched) %.0f, pooled allocate %.0f, release (untouched) %.0f\n",
      name(mode), static_cast<long long>(n), before, after, ns(t1 - t0), ns(t3 - t2), ns(t4 - t3),
      ns(t5 - t4));
  EXPECT_LT(after - before, 100);
}

TEST(StackTest, ManyGuardPageStacksAddFewMapEntries) {
  if (!kernel_has_guard_install()) {
    GTEST_SKIP() << "no MADV_GUARD_INSTALL: the mprotect fallback costs two map entries a stack";
  }
  many_stacks_add_few_map_entries(GuardMode::guard_page);
}

TEST(StackTest, ManyCanaryStacksAddFewMapEntries) {
  many_stacks_add_few_map_entries(GuardMode::canary);
}

TEST(StackTest, CanaryDetectsOverwrittenBottomBytes) {
  Stack s = allocate_stack(80 * kKiB, GuardMode::canary);
  auto* bottom = static_cast<volatile unsigned char*>(s.bottom);
  EXPECT_TRUE(stack_canary_intact(s));
  bottom[64] = static_cast<unsigned char>(~bottom[64]);  // above the canary
  EXPECT_TRUE(stack_canary_intact(s));
  const unsigned char old = bottom[0];
  bottom[0] = static_cast<unsigned char>(~old);
  EXPECT_FALSE(stack_canary_intact(s));
  bottom[0] = old;
  EXPECT_TRUE(stack_canary_intact(s));
  bottom[63] = static_cast<unsigned char>(~bottom[63]);
  EXPECT_FALSE(stack_canary_intact(s));
  // Released (its pages, canary included, are zeroed) and handed out again: rewritten.
  void* where = s.bottom;
  release_stack(s);
  Stack again = allocate_stack(80 * kKiB, GuardMode::canary);
  ASSERT_EQ(again.bottom, where);
  EXPECT_TRUE(stack_canary_intact(again));
  release_stack(again);
}

TEST(StackTest, GuardPageStacksHaveNoCanary) {
  Stack s = allocate_stack(84 * kKiB, GuardMode::guard_page);
  static_cast<volatile char*>(s.bottom)[0] = 0x11;
  EXPECT_TRUE(stack_canary_intact(s));
  release_stack(s);
}

TEST(StackTest, AllocationFailureThrowsSystemError) {
  const StackPoolStats before = stack_pool_stats();
  for (GuardMode mode : kModes) {
    SCOPED_TRACE(name(mode));
    // 1 PiB: more than the 128 TiB of a 47-bit user address space.
    try {
      allocate_stack(std::size_t{1} << 50, mode);
      ADD_FAILURE() << "no exception";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::error_code(ENOMEM, std::system_category()));
      EXPECT_NE(std::string(e.what()).find("-byte stack slab: Cannot allocate memory"),
                std::string::npos)
          << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("mmap of a ", 0), 0u) << e.what();
    }
    EXPECT_THROW(allocate_stack(~std::size_t{0}, mode), std::system_error);
  }
  const StackPoolStats after = stack_pool_stats();
  EXPECT_EQ(after.stacks_in_use, before.stacks_in_use);
  EXPECT_EQ(after.slabs, before.slabs);
}

TEST(StackTest, ConcurrentAllocateAndRelease) {
  const StackPoolStats before = stack_pool_stats();
  const int threads = 4;
  const std::int64_t rounds = gocxx_test::iterations(20000);
  std::atomic<int> bad{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      install_overflow_handler_for_thread();
      const GuardMode mode = t % 2 == 0 ? GuardMode::guard_page : GuardMode::canary;
      std::vector<Stack> held;
      for (std::int64_t i = 0; i < rounds; ++i) {
        Stack s = allocate_stack(88 * kKiB, mode);
        auto* top = static_cast<volatile unsigned char*>(s.top());
        if (top[-1] != 0 || !stack_canary_intact(s)) bad.fetch_add(1);
        top[-1] = static_cast<unsigned char>(t + 1);
        held.push_back(s);
        if (held.size() == 8) {  // release a batch, keeping several live at once
          for (const Stack& h : held) {
            if (static_cast<volatile unsigned char*>(h.top())[-1] != t + 1) bad.fetch_add(1);
            release_stack(h);
          }
          held.clear();
        }
      }
      for (const Stack& h : held) release_stack(h);
    });
  }
  for (std::thread& w : workers) w.join();
  EXPECT_EQ(bad.load(), 0);
  const StackPoolStats after = stack_pool_stats();
  EXPECT_EQ(after.stacks_in_use, before.stacks_in_use);
}

TEST(StackTest, EachThreadGetsAnAlternateSignalStack) {
  auto check = [] {
    install_overflow_handler_for_thread();
    stack_t first;
    ASSERT_EQ(sigaltstack(nullptr, &first), 0);
    EXPECT_FALSE(first.ss_flags & SS_DISABLE);
    EXPECT_GE(first.ss_size, 16 * kKiB);
    install_overflow_handler_for_thread();  // once per thread: the same stack stays
    stack_t second;
    ASSERT_EQ(sigaltstack(nullptr, &second), 0);
    EXPECT_EQ(second.ss_sp, first.ss_sp);
    struct sigaction sa;
    ASSERT_EQ(sigaction(SIGSEGV, nullptr, &sa), 0);
    EXPECT_TRUE(sa.sa_flags & SA_ONSTACK);
    EXPECT_TRUE(sa.sa_flags & SA_SIGINFO);
  };
  check();
  std::thread(check).join();
  std::thread(check).join();
}

// ---- Overflow detection (death tests). "threadsafe" style: each child re-executes the binary
// and runs only that test, so the handler it installs chains to a known previous disposition.
//
// Under ASan these work as in the plain build: ASan's own SIGSEGV handler is the "previous"
// disposition we chain to for faults that are not ours, and its per-thread alternate signal
// stack (kept, not replaced) is where our handler runs.

constexpr const char* kOverflowRegex =
    "gocxx: fatal: stack overflow: fault at 0x[0-9a-f]+ in the guard page of the fiber stack "
    "\\[0x[0-9a-f]+, 0x[0-9a-f]+\\)";

class StackDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(StackDeathTest, WriteIntoGuardPageIsReportedAsOverflow) {
  EXPECT_DEATH(
      {
        install_overflow_handler_for_thread();
        Stack s = allocate_stack(64 * kKiB, GuardMode::guard_page);
        static_cast<volatile char*>(s.bottom)[-1] = 1;
      },
      kOverflowRegex);
}

TEST_F(StackDeathTest, GuardPageOfAnotherThreadsStackIsReportedFromThatThread) {
  EXPECT_DEATH(
      {
        Stack s = allocate_stack(64 * kKiB, GuardMode::guard_page);
        std::thread([&s] {
          install_overflow_handler_for_thread();
          static_cast<volatile char*>(s.bottom)[-static_cast<std::ptrdiff_t>(page())] = 1;
        }).join();
      },
      kOverflowRegex);
}

Stack g_stack;  // the stack ReporterGetsTheStackAndFaultAddress overflows

void custom_reporter(const Stack& stack, const void* fault) {
  const bool match = stack.bottom == g_stack.bottom && stack.size == g_stack.size &&
                     stack.guard == GuardMode::guard_page &&
                     fault == static_cast<const char*>(g_stack.bottom) - 8;
  const char msg[] = "custom reporter ran\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
  _exit(match ? 42 : 43);
}

TEST_F(StackDeathTest, ReporterGetsTheStackAndFaultAddress) {
  EXPECT_EXIT(
      {
        install_overflow_handler_for_thread();
        set_stack_overflow_reporter(&custom_reporter);
        g_stack = allocate_stack(96 * kKiB, GuardMode::guard_page);
        // The handler reads g_stack: without this fence GCC sinks the store below the fault.
        std::atomic_signal_fence(std::memory_order_seq_cst);
        static_cast<volatile char*>(g_stack.bottom)[-8] = 1;
      },
      ::testing::ExitedWithCode(42), "custom reporter ran");
}

// A reporter that returns: the default message and abort() still follow.
void returning_reporter(const Stack&, const void*) {
  const char msg[] = "returning reporter\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
}

TEST_F(StackDeathTest, ReporterThatReturnsStillAborts) {
  EXPECT_DEATH(
      {
        install_overflow_handler_for_thread();
        set_stack_overflow_reporter(&returning_reporter);
        Stack s = allocate_stack(64 * kKiB, GuardMode::guard_page);
        static_cast<volatile char*>(s.bottom)[-1] = 1;
      },
      std::string("returning reporter\n") + kOverflowRegex);
}

// Opaque to the optimiser, so the recursion below is neither bounded nor a tail call.
volatile int g_depth_limit = 1 << 30;

__attribute__((noinline)) int recurse(int depth) {
  volatile char frame[256];
  frame[0] = static_cast<char>(depth);
  if (depth >= g_depth_limit) return frame[0];
  return recurse(depth + 1) + frame[0];
}

ExecContext g_main_ctx;
ExecContext g_fiber_ctx;

void recurse_forever(ExecContext*) {
  std::printf("%d\n", recurse(0));  // unreachable: the stack runs out first
  std::abort();
}

TEST_F(StackDeathTest, DeepRecursionOnAFiberStackIsReported) {
  EXPECT_DEATH(
      {
        install_overflow_handler_for_thread();
        Stack s = allocate_stack(64 * kKiB, GuardMode::guard_page);
        init_thread_context(g_main_ctx);
        make_context(g_fiber_ctx, s.top(), s.size, s.bottom, &recurse_forever);
        switch_context(g_main_ctx, g_fiber_ctx);
      },
      kOverflowRegex);
}

TEST_F(StackDeathTest, DeepRecursionWithoutTheHandlerIsAPlainCrash) {
  // The counterpart of the test above, which would pass without our handler if the regex
  // were loose: here nothing names the stack.
  const auto run = [] {
    Stack s = allocate_stack(64 * kKiB, GuardMode::guard_page);
    init_thread_context(g_main_ctx);
    make_context(g_fiber_ctx, s.top(), s.size, s.bottom, &recurse_forever);
    switch_context(g_main_ctx, g_fiber_ctx);
  };
#if defined(GOCXX_ASAN) || defined(GOCXX_TSAN)
  EXPECT_DEATH(run(), "Sanitizer");  // the sanitizer's own deadly-signal report
#else
  EXPECT_EXIT(run(), ::testing::KilledBySignal(SIGSEGV), "");
#endif
}

// A page that faults and lies in no slab.
char* unmapped_page() {
  void* p = mmap(nullptr, page(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(p, MAP_FAILED);
  return static_cast<char*>(p);
}

// Faults outside guard pages reach the disposition that was there before ours.
void previous_handler(int, siginfo_t*, void*) {
  const char msg[] = "previous handler ran\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
  _exit(7);
}

TEST_F(StackDeathTest, OtherFaultsChainToThePreviousHandler) {
  EXPECT_EXIT(
      {
        alarm(30);  // a handler that just returned would re-fault forever
        struct sigaction sa;
        std::memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = &previous_handler;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSEGV, &sa, nullptr);
        install_overflow_handler_for_thread();
        // A slab exists, so the handler really searches the table before chaining.
        Stack s = allocate_stack(64 * kKiB, GuardMode::guard_page);
        static_cast<volatile char*>(s.bottom)[0] = 1;
        static_cast<volatile char*>(unmapped_page())[16] = 1;
      },
      ::testing::ExitedWithCode(7), "previous handler ran");
}

TEST_F(StackDeathTest, OtherFaultsWithDefaultDispositionStillCrash) {
#if defined(GOCXX_ASAN) || defined(GOCXX_TSAN)
  // The sanitizer's own SIGSEGV handler is the previous disposition: it prints its report
  // ("SEGV on unknown address") and exits instead of dying by the signal.
  EXPECT_DEATH(
      {
        alarm(30);
        install_overflow_handler_for_thread();
        static_cast<volatile char*>(unmapped_page())[16] = 1;
      },
      "SEGV on unknown address");
#else
  EXPECT_EXIT(
      {
        alarm(30);
        signal(SIGSEGV, SIG_DFL);
        install_overflow_handler_for_thread();
        static_cast<volatile char*>(unmapped_page())[16] = 1;
      },
      ::testing::KilledBySignal(SIGSEGV), "");
#endif
}

}  // namespace
}  // namespace go::detail
