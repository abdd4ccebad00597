// Helpers shared by the test suites.
#pragma once

#include <cstdint>

namespace gocxx_test {

// Scales a count of simultaneously live fibers down in TSan builds: GCC 12's TSan treats every
// live fiber as a thread (it dies past 8,128) and costs ~2 ms per live fiber.
constexpr std::int64_t live_fibers(std::int64_t plain) {
#if defined(GOCXX_TSAN)
  return plain < 2000 ? plain : 2000;
#else
  return plain;
#endif
}

// Scales an iteration count down in sanitizer builds, which run 5-20x slower.
constexpr std::int64_t iterations(std::int64_t plain) {
#if defined(GOCXX_TSAN) || defined(GOCXX_ASAN)
  return plain / 10 > 0 ? plain / 10 : 1;
#else
  return plain;
#endif
}

}  // namespace gocxx_test
