// go::CondVar: a condition variable for go::Mutex (Go's sync.Cond, std::condition_variable's
// interface), for fibers and plain threads.
#pragma once

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <type_traits>

#include "go/mutex.h"
#include "go/semaphore.h"

namespace go {

namespace detail {

// steady_clock nanoseconds `d` from now, rounded up, saturated (INT64_MAX: never).
template <class Rep, class Period>
std::int64_t deadline_after(const std::chrono::duration<Rep, Period>& d) {
  using namespace std::chrono;
  const std::int64_t now =
      duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
  if (!(d > d.zero())) return now;
  const long double ns = duration<long double, std::nano>(d).count();
  const auto room = static_cast<long double>(std::numeric_limits<std::int64_t>::max() - now);
  if (ns >= room) return std::numeric_limits<std::int64_t>::max();
  return now + static_cast<std::int64_t>(std::ceil(ns));
}

}  // namespace detail

// Parties wait on a CondVar (parking fibers, blocking plain threads) until another party
// notifies it. The interface of std::condition_variable, the semantics of Go's sync.Cond plus
// timeouts: notify_one() wakes the party that has waited longest, notify_all() every party
// waiting at that moment; a party that is inside wait() (has released the lock) is never
// missed; there are no spurious wake-ups (but use the predicate overloads anyway). A timed
// wait ends either by a notification or by its deadline, never both: a notify_one() that finds
// only parties whose deadline already won goes on to the next one.
// The lock order is CondVar, then the Mutex: wait() releases the Mutex while it holds the
// CondVar's internal lock. If a fiber waiting here is unwound by go::run at exit, the Mutex is
// locked again before its destructors run (as std::condition_variable does on exceptions).
// Must outlive every party that uses it: destroying it while parties wait is a fatal error.
class CondVar {
 public:
  CondVar() noexcept = default;
  ~CondVar();
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Releases `lock` (which must own its Mutex) and waits for a notification; locks it again
  // before returning. Any party.
  void wait(std::unique_lock<Mutex>& lock) {
    wait_until_ns(lock, std::numeric_limits<std::int64_t>::max());
  }
  template <class Pred>
  void wait(std::unique_lock<Mutex>& lock, Pred pred) {
    while (!pred()) wait(lock);
  }

  // As wait(), for at most `d`: std::cv_status::timeout if the deadline came first.
  template <class Rep, class Period>
  std::cv_status wait_for(std::unique_lock<Mutex>& lock,
                          const std::chrono::duration<Rep, Period>& d) {
    return wait_until_ns(lock, detail::deadline_after(d));
  }
  // Waits until pred() or until `d` passed; returns pred() (std::condition_variable's rule).
  template <class Rep, class Period, class Pred>
  bool wait_for(std::unique_lock<Mutex>& lock, const std::chrono::duration<Rep, Period>& d,
                Pred pred) {
    const std::int64_t deadline = detail::deadline_after(d);
    while (!pred())
      if (wait_until_ns(lock, deadline) == std::cv_status::timeout) return pred();
    return true;
  }

  // As wait_for, until a time point of any clock (measured on steady_clock).
  template <class Clock, class Duration>
  std::cv_status wait_until(std::unique_lock<Mutex>& lock,
                            const std::chrono::time_point<Clock, Duration>& t) {
    if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
      const long double ns =
          std::chrono::duration<long double, std::nano>(t.time_since_epoch()).count();
      constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
      return wait_until_ns(lock, ns >= static_cast<long double>(kMax) ? kMax
                                 : ns <= 0                            ? 0
                                           : static_cast<std::int64_t>(std::ceil(ns)));
    } else {
      return wait_for(lock, t - Clock::now());
    }
  }
  template <class Clock, class Duration, class Pred>
  bool wait_until(std::unique_lock<Mutex>& lock, const std::chrono::time_point<Clock, Duration>& t,
                  Pred pred) {
    while (!pred())
      if (wait_until(lock, t) == std::cv_status::timeout) return pred();
    return true;
  }

  // Wakes the longest-waiting party, if any. Any thread; never blocks.
  void notify_one() noexcept;
  // Wakes every waiting party. Any thread; never blocks.
  void notify_all() noexcept;

 private:
  // deadline: steady_clock nanoseconds; INT64_MAX: none.
  std::cv_status wait_until_ns(std::unique_lock<Mutex>& lock, std::int64_t deadline);

  detail::SemaSlot sema_;  // the waiting parties (its count is unused)
};

}  // namespace go
