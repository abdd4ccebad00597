#include "progress.h"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

namespace httpbench {

namespace {

using std::chrono::nanoseconds;

// lines style: every update during this first part of each phase, then every kSlowEvery.
constexpr nanoseconds kFastPart = std::chrono::seconds(10);
constexpr nanoseconds kSlowEvery = std::chrono::seconds(5);
// Updates come about a second apart but not exactly: one that comes up to this early for a
// multiple of kSlowEvery counts as on time.
constexpr nanoseconds kSlack = std::chrono::milliseconds(500);

double seconds(nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}

// "erase the line" (ECMA-48 EL 2) after a carriage return.
constexpr const char* kEraseLine = "\r\x1b[2K";

}  // namespace

Progress::Style Progress::style_for(const Options& opts, int fd) {
  if (opts.quiet) return Style::none;
  return ::isatty(fd) == 1 ? Style::terminal : Style::lines;
}

Progress::Progress(std::FILE* out, Style style, const Options& opts)
    : out_(out), style_(style), opts_(opts) {}

std::string Progress::format(const Options& opts, const LiveCounts& live, double current_rps) {
  if (live.warming_up) {
    return fmt::format("warming up: {:.1f}s of {:.1f}s", seconds(live.elapsed),
                       seconds(opts.warmup));
  }
  const std::string counts =
      fmt::format("{} req/s, {} error{}", static_cast<std::uint64_t>(current_rps + 0.5),
                  live.failed, live.failed == 1 ? "" : "s");
  if (const auto duration = opts.effective_duration()) {
    const nanoseconds left = std::max(nanoseconds(0), *duration - live.elapsed);
    return fmt::format("{:.1f}s of {:.1f}s, {:.1f}s left: {} requests, {}", seconds(live.elapsed),
                       seconds(*duration), seconds(left), live.requests, counts);
  }
  const std::uint64_t total = opts.requests.value_or(0);
  const double percent =
      total == 0 ? 0.0 : 100.0 * static_cast<double>(live.requests) / static_cast<double>(total);
  return fmt::format("{:.1f}s: {} of {} requests ({:.0f}%), {}", seconds(live.elapsed),
                     live.requests, total, percent, counts);
}

void Progress::update(const LiveCounts& live) {
  if (style_ == Style::none || live.done) return;
  if (live.warming_up != was_warming_up_ ||
      (!live.warming_up && previous_elapsed_ > live.elapsed)) {
    // A new phase: its clock and its counts start from zero.
    previous_elapsed_ = nanoseconds(0);
    previous_requests_ = 0;
    last_printed_ = nanoseconds(-1);
  }
  was_warming_up_ = live.warming_up;
  const nanoseconds dt = live.elapsed - previous_elapsed_;
  const double rps =
      dt.count() > 0 ? static_cast<double>(live.requests - previous_requests_) / seconds(dt) : 0.0;
  previous_elapsed_ = live.elapsed;
  previous_requests_ = live.requests;

  if (style_ == Style::lines) {
    // After the first part, a line when the elapsed time reaches the next multiple of 5 s.
    const auto slot = [](nanoseconds elapsed) { return (elapsed + kSlack) / kSlowEvery; };
    const bool due = last_printed_ < nanoseconds(0) || live.elapsed < kFastPart ||
                     slot(live.elapsed) > slot(last_printed_);
    if (!due) return;
    last_printed_ = live.elapsed;
  }
  std::string text = format(opts_, live, rps);
  if (style_ == Style::terminal) {
    text.insert(0, kEraseLine);
    line_shown_ = true;
  } else {
    text += '\n';
  }
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

void Progress::finish() {
  if (!line_shown_) return;
  std::fputs(kEraseLine, out_);
  std::fflush(out_);
  line_shown_ = false;
}

}  // namespace httpbench
