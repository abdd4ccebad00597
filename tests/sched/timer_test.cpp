// Timers through the scheduler's internal API (what go::Timer, go::after and deadlines use).
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "go/go.h"
#include "sched/scheduler.h"
#include "test_util.h"

using namespace std::chrono_literals;
using go::detail::Timer;
using gocxx_test::procs;

namespace {

struct Probe {
  Timer timer;
  std::atomic<int> fired{0};
  std::atomic<std::int64_t> fired_at{0};
};

void arm(Probe& p, std::chrono::nanoseconds in) {
  p.timer.when = go::detail::now_ns() + in.count();
  p.timer.fire = [](Timer*, void* arg) {
    auto* probe = static_cast<Probe*>(arg);
    probe->fired_at = go::detail::now_ns();
    probe->fired.fetch_add(1);
  };
  p.timer.arg = &p;
  go::detail::add_timer(&p.timer);
}

TEST(Timers, DeletedBeforeItsTimeNeverFires) {
  Probe p;
  bool deleted = false;
  go::run(
      [&] {
        arm(p, 20ms);
        deleted = go::detail::del_timer(&p.timer);
        go::this_fiber::sleep_for(40ms);
      },
      procs(2));
  EXPECT_TRUE(deleted);
  EXPECT_EQ(p.fired.load(), 0);
}

TEST(Timers, DeleteAfterFiringReportsFalse) {
  Probe p;
  bool deleted = true;
  std::int64_t due = 0;
  go::run(
      [&] {
        arm(p, 2ms);
        due = p.timer.when;
        go::this_fiber::sleep_for(20ms);
        deleted = go::detail::del_timer(&p.timer);
      },
      procs(1));
  EXPECT_EQ(p.fired.load(), 1);
  EXPECT_GE(p.fired_at.load(), due) << "fired early";
  EXPECT_FALSE(deleted);
}

TEST(Timers, ArmedFromAPlainThreadWhileEveryPSleeps) {
  Probe p;
  std::int64_t due = 0;
  go::run(
      [&] {
        std::thread t([&] {
          std::this_thread::sleep_for(10ms);  // every P is idle by now
          arm(p, 5ms);
          due = p.timer.when;
        });
        go::this_fiber::sleep_for(200ms);
        t.join();
      },
      procs(2));
  EXPECT_EQ(p.fired.load(), 1);
  EXPECT_GE(p.fired_at.load(), due);
}

// Fibers arm and delete timers concurrently on several Ps: each timer either fires exactly once
// (and then delete says false) or is deleted (and never fires).
TEST(Timers, ConcurrentArmAndDeleteAreExact) {
  const int fibers = 16;
  const int per_fiber = static_cast<int>(gocxx_test::iterations(2000));
  std::vector<std::unique_ptr<Probe>> probes;
  for (int i = 0; i < fibers * per_fiber; ++i) probes.push_back(std::make_unique<Probe>());
  std::atomic<long> deleted{0}, done{0};
  std::vector<char> was_deleted(probes.size(), 0);
  go::run(
      [&] {
        for (int f = 0; f < fibers; ++f)
          go([&, f] {
            for (int i = 0; i < per_fiber; ++i) {
              const int k = f * per_fiber + i;
              arm(*probes[k], std::chrono::microseconds((k * 7919) % 500));
              if (k % 2 == 0) go::this_fiber::yield();
              if (k % 3 == 0 && go::detail::del_timer(&probes[k]->timer)) {
                was_deleted[k] = 1;
                deleted.fetch_add(1);
              }
            }
            done.fetch_add(1);
          });
        while (done.load() < fibers) go::this_fiber::sleep_for(1ms);
        go::this_fiber::sleep_for(20ms);  // every remaining timer is due by now
      },
      procs(4));
  long fired = 0;
  for (std::size_t k = 0; k < probes.size(); ++k) {
    ASSERT_EQ(probes[k]->fired.load(), was_deleted[k] ? 0 : 1) << "timer " << k;
    fired += probes[k]->fired.load();
  }
  EXPECT_EQ(fired + deleted.load(), static_cast<long>(probes.size()));
}

}  // namespace

namespace {

// A timer still armed when go::run ends is handed back through its cancel hook (its owner may
// be keeping something alive for the callback), and never fires.
TEST(Timers, ArmedAtExitAreCancelledNotFired) {
  struct Owned {
    Timer timer;
    std::atomic<int> fired{0}, cancelled{0};
  } owned;
  go::run([&] {
    owned.timer.when = go::detail::now_ns() + std::int64_t{3600} * 1'000'000'000;
    owned.timer.fire = [](Timer*, void* arg) { static_cast<Owned*>(arg)->fired.fetch_add(1); };
    owned.timer.cancel = [](Timer*, void* arg) {
      static_cast<Owned*>(arg)->cancelled.fetch_add(1);
    };
    owned.timer.arg = &owned;
    go::detail::add_timer(&owned.timer);
  });
  EXPECT_EQ(owned.fired.load(), 0);
  EXPECT_EQ(owned.cancelled.load(), 1);
}

}  // namespace
