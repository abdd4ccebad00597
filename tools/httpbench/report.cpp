// httpbench's report.
//
// The text report takes from each of the usual tools what reads best: wrk's latency figures
// with a unit chosen per value, oha's percentile list, hey's bar histogram and status-code
// counts, and one errors section that keeps HTTP statuses >= 400 apart from transport errors
// (which never got a response). Every rate is guarded against a zero duration and every share
// against a zero total, so an empty run prints zeros, never nan or inf.
//
// The JSON report carries the same figures under fixed keys (see report_json), in plain units
// (seconds, microseconds, bytes) so that scripts need not parse units.
#include "report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace httpbench {

namespace {

struct Percentile {
  double p;
  const char* label;     // in the text report
  const char* json_key;  // in latency_us
};
constexpr Percentile kPercentiles[] = {{50, "p50", "p50"},      {75, "p75", "p75"},
                                       {90, "p90", "p90"},      {99, "p99", "p99"},
                                       {99.9, "p99.9", "p999"}, {99.99, "p99.99", "p9999"}};

constexpr int kHistogramBars = 10;
constexpr int kBarWidth = 40;  // characters of the longest bar

// The measured duration, or 0 when the runner handed over something that is not a positive
// finite number, so that the rates below are 0 instead of nan or inf.
double measured_seconds(const Report& r) {
  return std::isfinite(r.duration_s) && r.duration_s > 0 ? r.duration_s : 0.0;
}

double per_second(double amount, double seconds) {
  return seconds > 0 ? amount / seconds : 0.0;
}

double percent(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

// A latency in microseconds as a number and the unit that keeps it readable: us below 1 ms,
// ms below 1 s, else s. The bounds are where two decimals would round up to 1000 (999.996 us
// is "1.00 ms", not "1000.00 us").
struct Scaled {
  double value;
  const char* unit;
};
Scaled scale_latency(double us) {
  if (us < 999.995) return {us, "us"};
  if (us < 999'995) return {us / 1e3, "ms"};
  return {us / 1e6, "s"};
}

// "  label      12.34 ms": numbers right-aligned so that the decimal points line up.
std::string latency_line(std::string_view label, double us) {
  const Scaled l = scale_latency(us);
  return fmt::format("  {:<8}{:>7.2f} {}\n", label, l.value, l.unit);
}

// Binary units, as bytes are counted.
std::string format_bytes(double bytes, const char* suffix = "") {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return fmt::format("{:.0f} B{}", bytes, suffix);
  double value = bytes / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.2f} {}{}", value, kUnits[unit], suffix);
}

void print_summary(std::ostream& out, const Report& r, double seconds) {
  const Stats& s = r.stats;
  out << "Summary:\n";
  const char* url_label = r.options.urls.size() > 1 ? "URLs:" : "URL:";
  for (std::size_t i = 0; i < r.options.urls.size(); ++i) {
    out << fmt::format("  {:<16}{}\n", i == 0 ? url_label : "", r.options.urls[i]);
  }
  if (r.options.urls.size() > 1) out << fmt::format("  {:<16}{}\n", "", "(in turn, round-robin)");
  out << fmt::format("  {:<16}{}\n", "Connections:", r.options.connections);
  if (r.options.rate > 0) {
    out << fmt::format("  {:<16}{:.2f} req/s (latency from each request's intended send time)\n",
                       "Target rate:", r.options.rate);
  }
  out << fmt::format("  {:<16}{} ({} succeeded, {} failed)\n", "Requests:", s.requests(),
                     s.requests() - s.failed(), s.failed());
  out << fmt::format("  {:<16}{:.2f} s\n", "Duration:", seconds);
  out << fmt::format("  {:<16}{:.2f}\n",
                     "Requests/sec:", per_second(static_cast<double>(s.requests()), seconds));
  out << fmt::format("  {:<16}{} ({} received)\n", "Transfer/sec:",
                     format_bytes(per_second(static_cast<double>(s.bytes_received), seconds), "/s"),
                     format_bytes(static_cast<double>(s.bytes_received)));
}

void print_latency(std::ostream& out, const Histogram& h) {
  out << fmt::format("\nLatency ({} response{}):\n", h.count(), h.count() == 1 ? "" : "s");
  if (h.count() == 0) {
    out << "  none: no response arrived\n";
    return;
  }
  const std::pair<const char*, double> figures[] = {{"min", static_cast<double>(h.min())},
                                                    {"mean", h.mean()},
                                                    {"stdev", h.stdev()},
                                                    {"max", static_cast<double>(h.max())}};
  for (const auto& [label, us] : figures) {
    out << latency_line(label, us);
  }
  if (h.saturated() > 0) {
    const Scaled limit = scale_latency(static_cast<double>(Histogram::kMaxValue));
    out << fmt::format("  ({} latencies above {:.2f} {} were counted as that)\n", h.saturated(),
                       limit.value, limit.unit);
  }
  out << "\nLatency percentiles:\n";
  for (const Percentile& p : kPercentiles) {
    out << latency_line(p.label, static_cast<double>(h.percentile(p.p)));
  }
}

// hey's histogram: equal-width latency ranges, bars scaled to the fullest. Each range is
// labelled by its upper end (the ranges are adjacent, and the first starts at min); all labels
// share one unit, picked by the largest latency, with the decimals that show one range's width
// to two digits (at most 3 decimals: finer than that is noise), so that neighbouring labels
// differ.
void print_histogram(std::ostream& out, const Histogram& h) {
  const std::vector<Histogram::Bar> bars = h.bars(kHistogramBars);
  if (bars.empty()) return;
  const double max_us = static_cast<double>(bars.back().to);
  const auto [scale, unit] = max_us < 1e3   ? std::pair{1.0, "us"}
                             : max_us < 1e6 ? std::pair{1e3, "ms"}
                                            : std::pair{1e6, "s"};
  const double range_width = static_cast<double>(bars.front().to - bars.front().from + 1) / scale;
  int decimals = 0;
  while (decimals < 3 && range_width * std::pow(10.0, decimals) < 10) ++decimals;
  if (scale == 1.0) decimals = 0;  // microseconds are whole numbers
  std::uint64_t fullest = 0;
  std::vector<std::string> labels;
  for (const auto& bar : bars) {
    fullest = std::max(fullest, bar.count);
    labels.push_back(fmt::format("{:.{}f}", static_cast<double>(bar.to) / scale, decimals));
  }
  std::size_t label_width = 0;
  for (const auto& label : labels) label_width = std::max(label_width, label.size());
  const std::size_t count_width = std::to_string(fullest).size();

  out << "\nLatency histogram (responses by latency, each range up to the value shown):\n";
  for (std::size_t i = 0; i < bars.size(); ++i) {
    // Rounded to the nearest character, but a range with any sample gets at least one.
    std::uint64_t length = (bars[i].count * kBarWidth + fullest / 2) / fullest;
    if (bars[i].count > 0) length = std::max<std::uint64_t>(length, 1);
    std::string bar;
    for (std::uint64_t c = 0; c < length; ++c) bar += "■";
    out << fmt::format("  {:>{}} {}  [{:>{}}]  {}\n", labels[i], label_width, unit, bars[i].count,
                       count_width, bar);
  }
}

void print_status_codes(std::ostream& out, const Stats& s) {
  const std::uint64_t responses = s.responses();
  if (responses == 0) {
    out << "\nStatus codes: none (no response arrived)\n";
    return;
  }
  out << "\nStatus codes:\n";
  for (std::size_t code = 0; code < s.status.size(); ++code) {
    if (s.status[code] == 0) continue;
    out << fmt::format("  {:<8}{:>10}  ({:>6.2f}%)\n", code, s.status[code],
                       percent(s.status[code], responses));
  }
}

void print_errors(std::ostream& out, const Stats& s) {
  if (s.failed() == 0) {
    out << "\nErrors: none\n";
    return;
  }
  out << fmt::format("\nErrors ({} of {} requests failed, {:.2f}%):\n", s.failed(), s.requests(),
                     percent(s.failed(), s.requests()));
  out << fmt::format("  {:<22}{:>12}\n", "HTTP status >= 400", s.http_errors());
  out << fmt::format("  {:<22}{:>12}\n", "transport errors", s.transport_errors());
  for (int c = 0; c < kErrorClasses; ++c) {
    if (s.errors[c] == 0) continue;
    out << fmt::format("    {:<20}{:>12}\n", error_class_name(static_cast<ErrorClass>(c)),
                       s.errors[c]);
  }
}

}  // namespace

void print_report(std::ostream& out, const Report& report) {
  const double seconds = measured_seconds(report);
  print_summary(out, report, seconds);
  print_latency(out, report.stats.latency_us);
  print_histogram(out, report.stats.latency_us);
  print_status_codes(out, report.stats);
  print_errors(out, report.stats);
}

nlohmann::json report_json(const Report& report) {
  using nlohmann::json;
  const Stats& s = report.stats;
  const Histogram& h = s.latency_us;
  const double seconds = measured_seconds(report);

  json status_codes = json::object();
  for (std::size_t code = 0; code < s.status.size(); ++code) {
    if (s.status[code] != 0) status_codes[std::to_string(code)] = s.status[code];
  }
  json errors_by_class = json::object();
  for (int c = 0; c < kErrorClasses; ++c) {
    errors_by_class[std::string(error_class_name(static_cast<ErrorClass>(c)))] = s.errors[c];
  }
  json latency = {{"min", h.min()}, {"mean", h.mean()}, {"stdev", h.stdev()}, {"max", h.max()}};
  for (const Percentile& p : kPercentiles) latency[p.json_key] = h.percentile(p.p);
  json histogram = json::array();
  for (const auto& bar : h.bars(kHistogramBars)) {
    histogram.push_back({{"from", bar.from}, {"to", bar.to}, {"count", bar.count}});
  }

  return {
      {"requests", s.requests()},
      {"responses", s.responses()},
      {"errors", s.failed()},
      {"transport_errors", s.transport_errors()},
      {"http_errors", s.http_errors()},
      {"duration_s", seconds},
      {"rps", per_second(static_cast<double>(s.requests()), seconds)},
      {"bytes_received", s.bytes_received},
      {"bytes_per_s", per_second(static_cast<double>(s.bytes_received), seconds)},
      {"status_codes", status_codes},
      {"errors_by_class", errors_by_class},
      {"latency_us", latency},
      {"latency_histogram_us", histogram},
      {"latency_saturated", h.saturated()},
      {"connections", report.options.connections},
      {"method", report.options.method},
      {"urls", report.options.urls},
      {"rate", report.options.rate > 0 ? json(report.options.rate) : json(nullptr)},
  };
}

int exit_status(const Report& report) {
  const Stats& s = report.stats;
  return s.failed() == 0 && s.requests() > 0 ? 0 : 1;
}

}  // namespace httpbench
