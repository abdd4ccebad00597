// producer_consumer: producers and consumers on one buffered channel, with a select that also
// watches a ticker (progress) and a deadline, the way a Go service loop looks.
#include <go/go.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const int producers = 4, consumers = 4;
  const int per_producer = argc > 1 ? std::atoi(argv[1]) : 250000;
  if (per_producer <= 0) {
    std::fprintf(stderr, "usage: producer_consumer [items per producer > 0]\n");
    return 2;
  }
  return go::run([&] {
    go::Channel<int> items(256);
    go::Channel<long long> sums(consumers);
    go::WaitGroup producing;
    for (int p = 0; p < producers; ++p) {
      producing.add();
      go([&, p] {
        for (int i = 0; i < per_producer; ++i) items.send(p * per_producer + i);
        producing.done();
      });
    }
    go([&] {
      producing.wait();
      items.close();  // consumers drain what is left, then their range-for ends
    });
    for (int c = 0; c < consumers; ++c)
      go([&] {
        long long sum = 0;
        for (int v : items) sum += v;
        sums.send(sum);
      });

    go::Ticker progress(50ms);
    auto deadline = go::after(60s);
    long long total = 0;
    int reported = 0;
    while (reported < consumers) {
      go::select(
          go::on_recv(sums,
                      [&](std::optional<long long> s) {
                        total += *s;
                        ++reported;
                      }),
          go::on_recv(progress.channel(),
                      [&](auto) { std::printf("  ... %zu items buffered\n", items.size()); }),
          go::on_recv(deadline, [&](auto) {
            throw std::runtime_error("producer_consumer: not done within 60 s");
          }));
    }
    const long long n = static_cast<long long>(producers) * per_producer;
    const long long expect = n * (n - 1) / 2;
    std::printf("producer_consumer: %d producers, %d consumers, %lld items, sum %lld (%s)\n",
                producers, consumers, n, total, total == expect ? "correct" : "WRONG");
    if (total != expect) throw std::runtime_error("producer_consumer computed a wrong sum");
  });
}
