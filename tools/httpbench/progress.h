// httpbench's live progress on stderr while a run goes.
//
//   terminal (stderr is a TTY): one line, rewritten in place about every second ("\r", then
//       "erase line"), e.g. "3.0s of 10.0s, 7.0s left: 12345 requests, 4102 req/s, 0 errors";
//       finish() erases it so that the report starts on a clean line.
//   lines (stderr is a file or a pipe, e.g. CI logs): the same text as plain lines, one every
//       second for the first 10 s of the run (and of the warmup), then one every 5 s, so that a
//       long run leaves a readable log rather than thousands of lines.
//   none (--quiet): nothing.
// The req/s shown is the current rate: requests that ended since the previous update divided
// by the time since it (about the last second), not the average since the start.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "options.h"
#include "runner.h"

namespace httpbench {

class Progress {
 public:
  enum class Style { none, terminal, lines };

  // none with --quiet; terminal when `fd` is a TTY; lines otherwise.
  static Style style_for(const Options& opts, int fd);

  // Writes to `out` (not owned; stderr in main). `opts` must outlive this object.
  Progress(std::FILE* out, Style style, const Options& opts);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Shows `live`: call it with every RunHooks::on_tick. The last call (live.done) shows
  // nothing: the report follows. Not thread-safe (one caller: the run's control fiber).
  void update(const LiveCounts& live);

  // Ends the display before the report is printed: erases the terminal line. Idempotent.
  void finish();

  // One update's text without line control, e.g. "3.0s of 10.0s, 7.0s left: 12345 requests,
  // 4102 req/s, 0 errors"; with -n "3.0s: 5000 of 10000 requests (50%), 2480 req/s, 0
  // errors"; in the warmup "warming up: 1.0s of 2.0s".
  static std::string format(const Options& opts, const LiveCounts& live, double current_rps);

 private:
  std::FILE* out_;
  const Style style_;
  const Options& opts_;
  bool line_shown_ = false;  // terminal: a line is on screen, not yet erased
  bool was_warming_up_ = false;
  // The previous update, for the current rate.
  std::chrono::nanoseconds previous_elapsed_{0};
  std::uint64_t previous_requests_ = 0;
  // lines: when the last line was printed (elapsed time of its phase); negative: none yet.
  std::chrono::nanoseconds last_printed_{-1};
};

}  // namespace httpbench
