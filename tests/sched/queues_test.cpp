// The run queue and the timer heap on their own.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sched/run_queue.h"
#include "sched/timer_heap.h"
#include "test_util.h"

using go::detail::G;
using go::detail::LocalRunQueue;
using go::detail::Timer;
using go::detail::TimerHeap;

namespace {

// Fake fiber pointers: the ring never dereferences what it holds.
G* fake(std::uintptr_t i) {
  return reinterpret_cast<G*>((i + 1) * 16);
}
std::uintptr_t index_of(G* g) {
  return reinterpret_cast<std::uintptr_t>(g) / 16 - 1;
}

TEST(LocalRunQueue, FifoForTheOwner) {
  auto q = std::make_unique<LocalRunQueue>();
  for (std::uintptr_t i = 0; i < LocalRunQueue::kCapacity; ++i) ASSERT_TRUE(q->push(fake(i)));
  EXPECT_FALSE(q->push(fake(999))) << "full";
  for (std::uintptr_t i = 0; i < LocalRunQueue::kCapacity; ++i) ASSERT_EQ(q->pop(), fake(i));
  EXPECT_EQ(q->pop(), nullptr);
}

TEST(LocalRunQueue, OverflowTakesTheOldestHalf) {
  auto q = std::make_unique<LocalRunQueue>();
  for (std::uintptr_t i = 0; i < LocalRunQueue::kCapacity; ++i) ASSERT_TRUE(q->push(fake(i)));
  std::vector<G*> half(LocalRunQueue::kCapacity / 2);
  ASSERT_EQ(q->take_half_for_overflow(half.data()), LocalRunQueue::kCapacity / 2);
  for (std::uintptr_t i = 0; i < half.size(); ++i) EXPECT_EQ(half[i], fake(i));
  EXPECT_EQ(q->size(), LocalRunQueue::kCapacity / 2);
  EXPECT_EQ(q->pop(), fake(LocalRunQueue::kCapacity / 2));
}

// The owner pushes and pops, thieves steal: every item comes out exactly once.
TEST(LocalRunQueue, ConcurrentStealsLoseAndDuplicateNothing) {
  const std::uintptr_t items = static_cast<std::uintptr_t>(gocxx_test::iterations(2000000));
  auto q = std::make_unique<LocalRunQueue>();
  std::vector<std::atomic<int>> seen(items);
  std::atomic<bool> done{false};
  std::atomic<std::uintptr_t> consumed{0};
  auto take = [&](G* g) {
    seen[index_of(g)].fetch_add(1, std::memory_order_relaxed);
    consumed.fetch_add(1, std::memory_order_relaxed);
  };
  std::vector<std::thread> thieves;
  for (int t = 0; t < 2; ++t)
    thieves.emplace_back([&] {
      std::vector<G*> loot(LocalRunQueue::kCapacity / 2);
      while (!done.load()) {
        std::uint32_t n = q->steal_half(loot.data());
        for (std::uint32_t i = 0; i < n; ++i) take(loot[i]);
        if (n == 0) std::this_thread::yield();
      }
    });
  std::vector<G*> overflow(LocalRunQueue::kCapacity / 2);
  std::mt19937 rng(7);
  for (std::uintptr_t i = 0; i < items; ++i) {
    while (!q->push(fake(i))) {
      std::uint32_t n = q->take_half_for_overflow(overflow.data());
      for (std::uint32_t k = 0; k < n; ++k) take(overflow[k]);
    }
    if (rng() % 3 == 0)
      if (G* g = q->pop()) take(g);
  }
  while (G* g = q->pop()) take(g);
  while (consumed.load() < items) std::this_thread::yield();
  done = true;
  for (auto& t : thieves) t.join();
  for (std::uintptr_t i = 0; i < items; ++i) ASSERT_EQ(seen[i].load(), 1) << "item " << i;
}

TEST(TimerHeap, PopsInDeadlineOrderAndRemovesAnywhere) {
  const int n = 10000;
  std::vector<Timer> timers(n);
  std::mt19937_64 rng(11);
  TimerHeap heap;
  for (auto& t : timers) {
    t.when = static_cast<std::int64_t>(rng() % 1000000);
    heap.push(&t);
  }
  std::set<Timer*> removed;
  for (int i = 0; i < n / 3; ++i) {
    Timer* t = &timers[rng() % n];
    if (removed.insert(t).second) heap.remove(t);
  }
  EXPECT_EQ(heap.size(), n - removed.size());
  std::int64_t last = -1;
  std::size_t popped = 0;
  while (Timer* t = heap.pop()) {
    EXPECT_GE(t->when, last);
    EXPECT_EQ(removed.count(t), 0u);
    last = t->when;
    ++popped;
  }
  EXPECT_EQ(popped, n - removed.size());
}

}  // namespace
