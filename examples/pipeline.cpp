// pipeline: two classic Go channel programs.
//  1. The concurrent prime sieve: a chain of fibers, each filtering multiples of one prime.
//  2. A fan-out/fan-in worker pool: jobs on one channel, N workers, results gathered on another,
//     a WaitGroup closing the results channel when every worker is done.
#include <go/go.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

// Sends 2, 3, 4, ... to ch until ch is closed by the consumer (ChannelClosed ends it).
void generate(go::Channel<int> ch) {
  try {
    for (int i = 2;; ++i) ch.send(i);
  } catch (const go::ChannelClosed&) {
  }
}

// Copies values from in to out, dropping multiples of prime; closes out when in is done.
void filter(go::Channel<int> in, go::Channel<int> out, int prime) {
  try {
    for (int v : in)
      if (v % prime != 0) out.send(v);
  } catch (const go::ChannelClosed&) {
  }
  in.close();  // tell the stage before us to stop (it may already be closed by then)
}

std::vector<int> sieve(int count) {
  std::vector<int> primes;
  go::Channel<int> ch;
  go(generate, ch);
  for (int i = 0; i < count; ++i) {
    int prime = *ch.recv();
    primes.push_back(prime);
    go::Channel<int> next;
    go(filter, ch, next, prime);
    ch = next;
  }
  // Shut the chain down from its end: the last filter's send fails, it closes its input, and so
  // on back to the generator. Each channel has exactly one closer: the stage that reads it.
  ch.close();
  return primes;
}

long long worker_pool(int jobs, int workers) {
  go::Channel<int> todo(64);
  go::Channel<long long> results(64);
  go::WaitGroup wg;
  for (int w = 0; w < workers; ++w) {
    wg.add();
    go([&] {
      for (int n : todo) results.send(static_cast<long long>(n) * n);
      wg.done();
    });
  }
  go([&] {
    wg.wait();
    results.close();
  });
  go([&] {
    for (int i = 1; i <= jobs; ++i) todo.send(i);
    todo.close();
  });
  long long sum = 0;
  for (long long r : results) sum += r;
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const int primes = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int jobs = argc > 2 ? std::atoi(argv[2]) : 100000;
  if (primes <= 0 || jobs <= 0) {
    std::fprintf(stderr, "usage: pipeline [primes > 0] [jobs > 0]\n");
    return 2;
  }
  return go::run([&] {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<int> p = sieve(primes);
    auto t1 = std::chrono::steady_clock::now();
    std::printf("prime sieve: the first %d primes end with %d (%.1f ms, %d fibers in a chain)\n",
                primes, p.back(), std::chrono::duration<double, std::milli>(t1 - t0).count(),
                primes + 1);
    long long sum = worker_pool(jobs, 8);
    auto t2 = std::chrono::steady_clock::now();
    long long expect = static_cast<long long>(jobs) * (jobs + 1) * (2LL * jobs + 1) / 6;
    std::printf("worker pool: sum of squares 1..%d = %lld (%s, %.1f ms, 8 workers)\n", jobs, sum,
                sum == expect ? "correct" : "WRONG",
                std::chrono::duration<double, std::milli>(t2 - t1).count());
    if (sum != expect) throw std::runtime_error("worker pool computed a wrong sum");
  });
}
