// go::RWMutex: Go's sync.RWMutex for fibers and plain threads (Lockable and SharedLockable).
#pragma once

#include <atomic>
#include <cstdint>

#include "go/mutex.h"
#include "go/semaphore.h"

namespace go {

// A reader/writer lock (Go's sync.RWMutex): any number of readers or one writer. lock() and
// lock_shared() park the calling fiber, or block the calling plain thread. A writer waiting for
// the readers inside to leave blocks new readers, so a stream of readers cannot starve writers
// (and, as in Go, a reader must not lock_shared() again while it holds a shared lock: a writer
// queued in between would deadlock both). Meets Lockable (std::lock_guard, std::unique_lock) and
// SharedLockable (std::shared_lock). Misuse is a fatal error, as in Go: "sync: Unlock of
// unlocked RWMutex", "sync: RUnlock of unlocked RWMutex". Must outlive every party that uses it.
class RWMutex {
 public:
  RWMutex() noexcept = default;
  ~RWMutex();
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  // Exclusive. Any party.
  void lock();
  bool try_lock() noexcept;
  void unlock() noexcept;

  // Shared. Any party.
  void lock_shared() {
    // acquire: the reader sees what the last writer wrote before its unlock.
    if (reader_count_.fetch_add(1, std::memory_order_acquire) + 1 < 0) lock_shared_slow();
  }
  bool try_lock_shared() noexcept;
  void unlock_shared() noexcept {
    // release: a writer that waits for us sees what we read (no write-after-read races).
    const std::int32_t r = reader_count_.fetch_sub(1, std::memory_order_release) - 1;
    if (r < 0) unlock_shared_slow(r);
  }

 private:
  static constexpr std::int32_t kMaxReaders = 1 << 30;

  void lock_shared_slow();
  void unlock_shared_slow(std::int32_t r) noexcept;

  Mutex w_;  // held by the writer (pending or active)
  // Readers inside or waiting; minus kMaxReaders while a writer is pending or active.
  std::atomic<std::int32_t> reader_count_{0};
  std::atomic<std::int32_t> reader_wait_{0};  // readers the pending writer still waits for
  std::atomic<std::uint32_t> pins_{0};        // unlock slow paths in flight (see ~RWMutex)
  detail::SemaSlot writer_sem_;               // the pending writer waits here for the readers
  detail::SemaSlot reader_sem_;               // readers wait here for the writer
};

}  // namespace go
