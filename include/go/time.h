// Timers and tickers that deliver on channels, Go's package time: after, Timer, Ticker.
#pragma once

#include <chrono>
#include <memory>

#include "go/chan.h"

namespace go {

namespace detail {
struct TimerCore;
}

// Returns a channel that receives the current time once, after d (Go's time.After). d <= 0 fires
// at once. The timer lives until it fired, whoever holds the channel. Needs a running runtime
// (std::logic_error otherwise); usable from fibers and plain threads.
Channel<std::chrono::steady_clock::time_point> after(std::chrono::nanoseconds d);

// A single event after a delay, delivered on a capacity-1 channel (Go's time.Timer).
// Destroying the Timer object does not stop it (as in Go, it still fires into its channel);
// call stop() for that.
class Timer {
 public:
  explicit Timer(std::chrono::nanoseconds d);
  Channel<std::chrono::steady_clock::time_point> channel() const { return channel_; }
  // Prevents the timer from firing. True if this call stopped it, false if it had already
  // fired or been stopped. Does not drain the channel (Go semantics).
  bool stop();
  // Re-arms the timer to fire after d. True if it had been active, false if it had fired or been
  // stopped. A value from an earlier firing may still sit in the channel (Go 1.19 semantics).
  bool reset(std::chrono::nanoseconds d);

 private:
  std::shared_ptr<detail::TimerCore> core_;
  Channel<std::chrono::steady_clock::time_point> channel_;
};

// Delivers the time every period on a capacity-1 channel; a slow reader misses ticks instead of
// blocking anything (Go's time.Ticker). Stopped when destroyed.
class Ticker {
 public:
  explicit Ticker(std::chrono::nanoseconds period);  // period <= 0: std::invalid_argument
  Ticker(Ticker&&) noexcept = default;
  Ticker& operator=(Ticker&&) noexcept;
  ~Ticker();
  Channel<std::chrono::steady_clock::time_point> channel() const { return channel_; }
  void stop();                                  // no more ticks; the channel stays open
  void reset(std::chrono::nanoseconds period);  // stops, then ticks every new period

 private:
  std::shared_ptr<detail::TimerCore> core_;
  Channel<std::chrono::steady_clock::time_point> channel_;
};

}  // namespace go
