// go::WaitGroup: Go's sync.WaitGroup for fibers and plain threads.
#pragma once

#include <atomic>
#include <cstdint>

#include "go/semaphore.h"

namespace go {

// Waits for a collection of tasks to finish (Go's sync.WaitGroup): add(n) before starting n
// tasks, done() in each when it finishes, wait() blocks until the counter is zero again. wait()
// parks the calling fiber, or blocks the calling plain thread; any number of parties may wait
// at once. Each done() (and add()) happens before the return of every wait() it released.
//
// Differences from Go, where Go's rules are not enough for C++:
//  - A counter that would go negative throws std::logic_error ("sync: negative WaitGroup
//    counter") and is left unchanged (Go panics, which ends the program).
//  - Reuse is always safe: the parties waiting when the counter reaches zero are released even
//    if add() starts the next round before they ran (Go demands that the next round's add()
//    happen after every wait() of the previous round returned, and may panic otherwise).
// Must outlive every party that uses it: destroying it while parties wait is a fatal error.
class WaitGroup {
 public:
  WaitGroup() noexcept = default;
  ~WaitGroup();
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  // Adds n (may be negative) to the counter; at zero every waiting party is released.
  // Throws std::logic_error if the counter would go negative, std::overflow_error above
  // INT32_MAX. Any thread; never blocks.
  void add(int n = 1);
  // add(-1).
  void done() { add(-1); }
  // Blocks until the counter is zero (returns at once if it is). Any party.
  void wait();

 private:
  // Counter (high 32 bits, signed) and waiting parties (low 32). The waiter count changes only
  // under the semaphore's lock, and so does a counter that reaches zero while parties wait:
  // that is what makes waking exactly the parties of this round possible.
  std::atomic<std::uint64_t> state_{0};
  detail::SemaSlot sema_;  // where waiters sleep (its lock guards the waiter count)
};

}  // namespace go
