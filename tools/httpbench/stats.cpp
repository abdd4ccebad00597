#include "stats.h"

#include <numeric>
#include <stdexcept>
#include <string>

namespace httpbench {

std::string_view error_class_name(ErrorClass c) {
  switch (c) {
    case ErrorClass::connect:
      return "connect";
    case ErrorClass::timeout:
      return "timeout";
    case ErrorClass::reset:
      return "reset";
    case ErrorClass::read:
      return "read";
    case ErrorClass::other:
      return "other";
  }
  throw std::invalid_argument("error_class_name: no ErrorClass " +
                              std::to_string(static_cast<int>(c)));
}

std::uint64_t Stats::responses() const {
  return std::accumulate(status.begin(), status.end(), std::uint64_t{0});
}

std::uint64_t Stats::http_errors() const {
  return std::accumulate(status.begin() + 400, status.end(), std::uint64_t{0});
}

std::uint64_t Stats::transport_errors() const {
  return std::accumulate(errors.begin(), errors.end(), std::uint64_t{0});
}

void Stats::merge(const Stats& other) {
  latency_us.merge(other.latency_us);
  for (std::size_t i = 0; i < status.size(); ++i) status[i] += other.status[i];
  for (std::size_t i = 0; i < errors.size(); ++i) errors[i] += other.errors[i];
  bytes_received += other.bytes_received;
}

}  // namespace httpbench
