// What a run measured. Each worker thread fills its own Stats shard (no shared state on the
// hot path); after the run the shards are merged into one, which the report prints.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "histogram.h"

namespace httpbench {

// Why a request failed before a complete HTTP response arrived (transport errors). A response
// with status >= 400 is not a transport error: it is counted by status code.
enum class ErrorClass : int {
  connect,  // could not connect: refused, unreachable, DNS failure
  timeout,  // --timeout passed (connecting or waiting for the response)
  reset,    // the peer reset or closed the connection mid-request
  read,     // sending or receiving failed otherwise, or the response was malformed
  other,    // anything else libcurl reports
};
inline constexpr int kErrorClasses = 5;
static_assert(static_cast<int>(ErrorClass::other) + 1 == kErrorClasses);
// "connect", "timeout", "reset", "read", "other"; throws std::invalid_argument for a value
// that is no ErrorClass.
std::string_view error_class_name(ErrorClass c);

struct Stats {
  Histogram latency_us;  // every completed response (any status), in microseconds
  std::array<std::uint64_t, 600> status{};            // responses by status code (0..599)
  std::array<std::uint64_t, kErrorClasses> errors{};  // transport errors by class
  std::uint64_t bytes_received = 0;                   // response headers and bodies

  std::uint64_t responses() const;         // complete responses, any status
  std::uint64_t http_errors() const;       // responses with status >= 400
  std::uint64_t transport_errors() const;  // sum of errors
  // Every request that ended: responses() + transport_errors().
  std::uint64_t requests() const { return responses() + transport_errors(); }
  // Requests that failed: transport errors and responses with status >= 400.
  std::uint64_t failed() const { return transport_errors() + http_errors(); }

  void merge(const Stats& other);
};

}  // namespace httpbench
