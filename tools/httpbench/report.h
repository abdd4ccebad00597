// httpbench's report: the text a person reads after a run, the JSON a script reads, and the
// exit status.
#pragma once

#include <iosfwd>

#include <nlohmann/json.hpp>

#include "options.h"
#include "stats.h"

namespace httpbench {

struct Report {
  Options options;        // what was asked for (URLs, connections, rate, ...)
  Stats stats;            // the merged shards, warmup excluded
  double duration_s = 0;  // the measured part of the run, warmup excluded
};

// The text report: requests (succeeded/failed), duration, req/s, bytes/s; latency min/mean/
// stdev/max and p50/p75/p90/p99/p99.9/p99.99; a latency histogram drawn with bars; status
// codes with their shares; errors: HTTP status >= 400 apart from transport errors, these by
// class (non-zero ones only), or "none".
void print_report(std::ostream& out, const Report& report);

// One object; numbers in plain units, never nan or inf:
//   requests, responses, errors (= failed: transport_errors + http_errors), transport_errors,
//   http_errors (responses with status >= 400): counts, requests = responses + transport_errors
//   duration_s, rps (requests / duration_s; 0 when the duration is 0), bytes_received,
//   bytes_per_s
//   status_codes {"200": n, ...}: only codes seen
//   errors_by_class {"connect": n, "timeout": n, "reset": n, "read": n, "other": n}: all classes
//   latency_us {min, max, p50, p75, p90, p99, p999, p9999: integers; mean, stdev: numbers}, all
//     0 without responses
//   latency_histogram_us [{from, to, count}, ...]: the text report's bars (empty without
//     responses); latency_saturated: latencies above Histogram::kMaxValue
//   connections, method, urls [...], rate (requests/s, null when unlimited)
nlohmann::json report_json(const Report& report);

// 0 when every request got a response with status < 400 and at least one request completed;
// 1 when any failed or none completed (a run that measured nothing is no success). 2 (usage
// error) and 3 (the run could not be carried out) are decided before and around a run.
int exit_status(const Report& report);

}  // namespace httpbench
