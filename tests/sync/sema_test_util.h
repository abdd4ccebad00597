// Helpers shared by the tests of go/sync.h's primitives (sema_*, mutex_*, rw_mutex_*, ...); the
// general ones (procs, Watchdog, wait_parked, ...) are in test_util.h.
#pragma once

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "sync/sema.h"

namespace sync_test {

// While it lives, every slow path that runs on past its release point (a Mutex unlock with
// waiters, the last done(), ...) sleeps there for a moment (sync/sema.h's test hook), so that a
// party that may destroy the primitive right after that point gets to do so then: ASan reports
// the unlocker's later touches unless the destructor waits for them. The sleep blocks the M:
// use it with procs >= 2 or with plain threads.
class WidenReleaseWindows {
 public:
  WidenReleaseWindows() {
    // Every other call per thread: a slow unlocker overtaken by a quick one is the bad case.
    go::detail::g_release_window_hook.store(+[] {
      thread_local unsigned calls = 0;
      // A raw nanosleep: the sleep must block the M (see above), and with the syscall hooks
      // std::this_thread::sleep_for parks the fiber instead.
      static const timespec pause{0, 100'000};
      if (++calls % 2 == 1) syscall(SYS_nanosleep, &pause, nullptr);
    });
  }
  ~WidenReleaseWindows() { go::detail::g_release_window_hook.store(nullptr); }
  WidenReleaseWindows(const WidenReleaseWindows&) = delete;
  WidenReleaseWindows& operator=(const WidenReleaseWindows&) = delete;
};

}  // namespace sync_test
