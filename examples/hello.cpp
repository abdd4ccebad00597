// hello: the scheduler at work. Spawns many fibers that sleep for a random while and then count
// themselves; main waits until every one has checked in, then prints what happened.
#include <go/go.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

int main(int argc, char** argv) {
  const int fibers = argc > 1 ? std::atoi(argv[1]) : 100000;
  if (fibers <= 0) {
    std::fprintf(stderr, "usage: hello [fibers > 0]\n");
    return 2;
  }
  return go::run([fibers] {
    std::atomic<int> done{0};
    const auto start = std::chrono::steady_clock::now();
    std::mt19937 rng(42);
    for (int i = 0; i < fibers; ++i) {
      auto nap = std::chrono::milliseconds(rng() % 50);
      go([&done, nap] {
        go::this_fiber::sleep_for(nap);
        done.fetch_add(1, std::memory_order_relaxed);
      });
    }
    go::Stats mid = go::stats();
    while (done.load(std::memory_order_relaxed) < fibers)
      go::this_fiber::sleep_for(std::chrono::milliseconds(1));
    const auto ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    go::Stats end = go::stats();
    std::printf("hello from gocxx: %d fibers slept 0-49 ms each on %d procs, all done in %.1f ms\n",
                fibers, end.procs, ms);
    std::printf(
        "  at peak: %llu fibers alive in %llu stack slabs; context switches: %llu, "
        "steals: %llu\n",
        static_cast<unsigned long long>(mid.fibers_alive),
        static_cast<unsigned long long>(mid.stack_slabs),
        static_cast<unsigned long long>(end.context_switches),
        static_cast<unsigned long long>(end.steals));
  });
}
