// What a context switch must carry for each fiber beyond its registers (src/sched/context.cpp).
#include <cfenv>

#include <gtest/gtest.h>

#include "go/go.h"
#include "test_util.h"

using gocxx_test::procs;

namespace {

// Opaque to the optimizer, so that the division happens at run time, in the rounding mode
// of the fiber that runs it (SSE: MXCSR).
double divide(double a, double b) {
  volatile double x = a;
  volatile double y = b;
  return x / y;
}

// The floating-point control words (rounding mode, exception masks: MXCSR and the x87 control
// word) are callee-saved in the x86-64 ABI, so they belong to each fiber: a fiber that changes
// the rounding mode and parks must not hand that mode to the fiber that runs next, and must
// find its own again when it resumes.
TEST(Context, FloatingPointRoundingModeBelongsToEachFiber) {
  const double nearest = divide(1.0, 3.0);
  std::fesetround(FE_UPWARD);
  const double upward = divide(1.0, 3.0);
  std::fesetround(FE_TONEAREST);
  ASSERT_NE(nearest, upward);

  int other_mode = -1, own_mode = -1;
  double other_result = 0, own_result = 0;
  go::run(
      [&] {
        go::Channel<int> step;
        go::WaitGroup wg;
        wg.add(2);
        // Spawned first, so it runs second (the fiber spawned last runs first).
        go([&] {
          (void)step.recv();
          other_mode = std::fegetround();
          other_result = divide(1.0, 3.0);
          wg.done();
        });
        go([&] {
          std::fesetround(FE_UPWARD);
          step.send(1);  // nobody receives yet: parks, and the other fiber runs
          own_mode = std::fegetround();
          own_result = divide(1.0, 3.0);
          std::fesetround(FE_TONEAREST);
          wg.done();
        });
        wg.wait();
      },
      procs(1));
  EXPECT_EQ(other_mode, FE_TONEAREST);
  EXPECT_EQ(other_result, nearest);
  EXPECT_EQ(own_mode, FE_UPWARD);
  EXPECT_EQ(own_result, upward);
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);
}

}  // namespace
