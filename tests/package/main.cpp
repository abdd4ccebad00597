// Proves the umbrella header and the exported target are enough for a user's program.
#include <go/go.h>

#include <atomic>
#include <cstdio>

int main() {
  std::atomic<int> ran{0};
  go::run([&] {
    for (int i = 0; i < 100; ++i) go([&] { ran.fetch_add(1); });
    while (ran.load() < 100) go::this_fiber::yield();
  });
  std::printf("consumer: %d fibers ran\n", ran.load());
  return ran.load() == 100 ? 0 : 1;
}
