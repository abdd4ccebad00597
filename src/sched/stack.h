// Fiber stacks: mmap'd, lazily committed, carved out of slabs, with overflow detection.
//
// Why slabs: one mmap per stack, plus one more mapping per guard page, costs one or two
// entries of the kernel's per-process map table, and the default vm.max_map_count (65530)
// would cap us near 30,000 fibers. Stacks are carved out of large anonymous slabs instead
// (adjacent slabs even merge into one mapping), so a million parked fibers need a handful of
// map entries. Pages are committed lazily by the kernel on first touch: a parked fiber costs
// the few pages it actually touched.
//
// Overflow detection, by GuardMode:
//   guard_page: a real guard page below every stack. On Linux >= 6.13 this is
//               madvise(MADV_GUARD_INSTALL) inside the slab, which adds no map entry; on older
//               kernels it falls back to mprotect(PROT_NONE), which costs map entries.
//   canary:     a known pattern in the lowest bytes of every stack, checked when the fiber
//               switches out or ends (stack_canary_intact); detects after the fact.
//   automatic:  guard_page where MADV_GUARD_INSTALL works, else canary.
// A fault inside a guard page is reported by a SIGSEGV handler that runs on a per-thread
// sigaltstack (the faulting stack is the one that overflowed) and names the stack.
#pragma once

#include <cstddef>
#include <cstdint>

namespace go::detail {

enum class GuardMode : std::uint8_t { automatic, guard_page, canary };

struct Stack {
  void* bottom = nullptr;               // lowest usable address (just above the guard page, if any)
  std::size_t size = 0;                 // usable bytes
  GuardMode guard = GuardMode::canary;  // resolved mode (never automatic)
  void* top() const { return static_cast<char*>(bottom) + size; }
  explicit operator bool() const { return bottom != nullptr; }
};

// Resolves `automatic` to what this kernel supports. Any thread.
GuardMode resolve_guard_mode(GuardMode requested);

// True when madvise(MADV_GUARD_INSTALL) works here (probed once). Any thread.
bool kernel_has_guard_install();

// GOCXX_STACK_SIZE if set (bytes, or with a k/m suffix), else 256 KiB: the stack size of fibers
// and coroutines that do not ask for one, read at each call. Throws std::invalid_argument naming
// the variable if it is malformed or outside 16 KiB .. 1 GiB. Any thread.
std::size_t default_stack_size();

// Returns a stack with at least `usable_size` usable bytes (rounded up to pages; at least
// 16 KiB). Throws std::system_error if the kernel refuses memory. Any thread.
Stack allocate_stack(std::size_t usable_size, GuardMode mode);

// Returns a stack to the process-wide pool; its pages are given back to the kernel
// (MADV_DONTNEED), its guard stays. Any thread.
void release_stack(const Stack& stack);

// Canary mode: false if the bottom bytes were overwritten. Guard-page mode: always true.
bool stack_canary_intact(const Stack& stack);

// Called from the SIGSEGV handler (on the alternate stack) when a fault lands in the guard
// page of `stack`. Must only use async-signal-safe calls; must not return (it aborts).
using OverflowReporter = void (*)(const Stack& stack, const void* fault_address);
void set_stack_overflow_reporter(OverflowReporter reporter);

// Installs the process-wide SIGSEGV handler (once) and an alternate signal stack for the
// calling thread (once per thread). Called by every thread that runs fibers or coroutines.
void install_overflow_handler_for_thread();

struct StackPoolStats {
  std::size_t slabs = 0;           // slab mappings made
  std::size_t stacks_in_use = 0;   // handed out and not released
  std::size_t stacks_pooled = 0;   // released, ready for reuse
  std::size_t reserved_bytes = 0;  // virtual bytes reserved by slabs
};
StackPoolStats stack_pool_stats();

}  // namespace go::detail
