// after, Timer and Ticker on the scheduler's per-P timer heaps.
//
// A TimerCore owns one detail::Timer and the capacity-1 channel it delivers on. While armed, the
// core keeps itself alive (keepalive): the heap holds only a raw pointer, and a Timer object may
// be gone long before the timer fires (go::after hands out only the channel). The callback runs
// on a scheduler context: it sends without blocking (try_send; a full channel drops the tick,
// Go's rule for slow readers) and, for a ticker, re-arms itself.
//
// Races between stop/reset (any thread) and the callback (some M) are decided under the core's
// lock plus del_timer's answer:
//   1. stop/reset lock the core; del_timer succeeds: the timer had not fired; it is theirs.
//   2. del_timer fails while `armed`: the callback is running right now (popped from the heap,
//      not yet through the core's lock). Stop reports "already fired" (Go: it expired), clears
//      `armed` so that a ticker does not re-arm, and leaves the keepalive to the callback.
//   3. The callback locks the core; if the Timer struct is in a heap again (reset re-armed it
//      meanwhile), that arming is not its business and it changes nothing but the send.
// At go::run's end armed timers are dropped by the runtime through Timer::cancel, which
// releases the keepalive (no leak).

#include <stdexcept>

#include "go/time.h"
#include "sched/scheduler.h"
#include "sched/spinlock.h"

namespace go::detail {

struct TimerCore : std::enable_shared_from_this<TimerCore> {
  explicit TimerCore(Channel<std::chrono::steady_clock::time_point> ch) : channel(std::move(ch)) {
    timer.fire = &TimerCore::on_fire;
    timer.cancel = &TimerCore::on_cancel;
    timer.arg = this;
  }

  detail::Timer timer;
  Channel<std::chrono::steady_clock::time_point> channel;
  SpinLock lock;
  bool armed = false;                    // guarded by lock
  std::int64_t period_ns = 0;            // guarded by lock; 0: one-shot
  std::shared_ptr<TimerCore> keepalive;  // guarded by lock; set while armed

  // Caller holds lock. Arms for `when`.
  void arm_locked(std::int64_t when) {
    timer.when = when;
    armed = true;
    if (!keepalive) keepalive = shared_from_this();
    add_timer(&timer);
  }

  // Caller holds lock. Disarms; returns true if the timer had not fired yet. The keepalive moves
  // to `release` (destroyed by the caller after unlocking).
  bool disarm_locked(std::shared_ptr<TimerCore>& release) {
    if (!armed) return false;
    armed = false;
    if (del_timer(&timer)) {
      release = std::move(keepalive);
      return true;
    }
    return false;  // firing right now: the callback releases the keepalive
  }

  static void on_fire(detail::Timer*, void* arg) {
    auto* core = static_cast<TimerCore*>(arg);
    try {
      core->channel.try_send(
          std::chrono::steady_clock::now());  // full: the reader is slow, the tick is dropped
    } catch (const ChannelClosed&) {
      // Nobody closes a timer channel but a user holding a copy; then there is no one to tell.
    }
    std::shared_ptr<TimerCore> release;
    {
      std::lock_guard lk(core->lock);
      if (__atomic_load_n(&core->timer.owner, __ATOMIC_ACQUIRE) != nullptr) return;  // re-armed
      if (core->armed && core->period_ns > 0) {
        // Next tick; skip the ones a late firing missed (Go's ticker does the same).
        std::int64_t when = core->timer.when + core->period_ns;
        const std::int64_t now = now_ns();
        if (when < now) when += core->period_ns * ((now - when) / core->period_ns + 1);
        core->arm_locked(when);
        return;
      }
      core->armed = false;
      release = std::move(core->keepalive);
    }
  }

  static void on_cancel(detail::Timer*, void* arg) {
    auto* core = static_cast<TimerCore*>(arg);
    std::shared_ptr<TimerCore> release;
    std::lock_guard lk(core->lock);
    core->armed = false;
    release = std::move(core->keepalive);
  }
};

namespace {

void require_runtime(const char* what) {
  if (g_runtime.load(std::memory_order_acquire) == nullptr)
    throw std::logic_error(std::string(what) +
                           ": no gocxx runtime is running (timers live in "
                           "go::run's scheduler)");
}

std::shared_ptr<TimerCore> start(Channel<std::chrono::steady_clock::time_point> ch,
                                 std::chrono::nanoseconds d, std::int64_t period_ns) {
  auto core = std::make_shared<TimerCore>(std::move(ch));
  std::lock_guard lk(core->lock);
  core->period_ns = period_ns;
  core->arm_locked(now_ns() + std::max<std::int64_t>(d.count(), 0));
  return core;
}

}  // namespace
}  // namespace go::detail

namespace go {

Channel<std::chrono::steady_clock::time_point> after(std::chrono::nanoseconds d) {
  detail::require_runtime("go::after");
  Channel<std::chrono::steady_clock::time_point> ch(1);
  detail::start(ch, d, 0);
  return ch;
}

Timer::Timer(std::chrono::nanoseconds d) : channel_(1) {
  detail::require_runtime("go::Timer");
  core_ = detail::start(channel_, d, 0);
}

bool Timer::stop() {
  if (!core_) return false;  // moved from
  std::shared_ptr<detail::TimerCore> release;
  std::lock_guard lk(core_->lock);
  return core_->disarm_locked(release);
}

bool Timer::reset(std::chrono::nanoseconds d) {
  if (!core_) throw std::logic_error("go::Timer::reset: the timer was moved from");
  detail::require_runtime("go::Timer::reset");
  std::shared_ptr<detail::TimerCore> release;
  std::lock_guard lk(core_->lock);
  const bool was_active = core_->disarm_locked(release);
  core_->arm_locked(detail::now_ns() + std::max<std::int64_t>(d.count(), 0));
  return was_active;
}

Ticker::Ticker(std::chrono::nanoseconds period) : channel_(1) {
  if (period.count() <= 0) throw std::invalid_argument("go::Ticker: non-positive period");
  detail::require_runtime("go::Ticker");
  core_ = detail::start(channel_, period, period.count());
}

Ticker& Ticker::operator=(Ticker&& other) noexcept {
  if (this != &other) {
    stop();
    core_ = std::move(other.core_);
    channel_ = std::move(other.channel_);
  }
  return *this;
}

Ticker::~Ticker() {
  stop();
}

void Ticker::stop() {
  if (!core_) return;  // moved from
  std::shared_ptr<detail::TimerCore> release;
  std::lock_guard lk(core_->lock);
  core_->disarm_locked(release);
}

void Ticker::reset(std::chrono::nanoseconds period) {
  if (!core_) throw std::logic_error("go::Ticker::reset: the ticker was moved from");
  if (period.count() <= 0) throw std::invalid_argument("go::Ticker::reset: non-positive period");
  detail::require_runtime("go::Ticker::reset");
  std::shared_ptr<detail::TimerCore> release;
  std::lock_guard lk(core_->lock);
  core_->disarm_locked(release);
  core_->period_ns = period.count();
  core_->arm_locked(detail::now_ns() + period.count());
}

}  // namespace go
