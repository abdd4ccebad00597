// Histogram against exact answers computed from the sorted samples: percentiles within the
// documented relative error (exact below 2^kPrecisionBits), exact count/min/max/mean/stdev,
// merge() equal to recording everything in one histogram, saturation, reset() and bars().
#include "histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

namespace httpbench {
namespace {

using Samples = std::vector<std::uint64_t>;

// The percentiles checked, as thousandths of a percent too, so that the expected rank is
// computed in integers (independently of the double arithmetic in percentile()).
struct Percentile {
  double p;
  std::uint64_t per_100k;  // p * 1000
};
constexpr Percentile kReported[] = {
    {50, 50'000},     {75, 75'000}, {90, 90'000}, {99, 99'000}, {99.9, 99'900}, {99.99, 99'990},
    {99.999, 99'999}, {0.001, 1},   {0.1, 100},   {1, 1'000},   {25, 25'000},   {100, 100'000}};

// The rank percentile() documents: ceil(p/100 * count), at least 1.
std::uint64_t exact_rank(std::uint64_t per_100k, std::uint64_t count) {
  return std::max<std::uint64_t>(1, (per_100k * count + 99'999) / 100'000);
}

std::uint64_t exact_percentile(const Samples& sorted, std::uint64_t per_100k) {
  return sorted[exact_rank(per_100k, sorted.size()) - 1];
}

Histogram histogram_of(const Samples& samples) {
  Histogram h;
  for (std::uint64_t v : samples) h.record(v);
  return h;
}

// v is never below the exact sample and at most relative_error() above it, and never above
// max(). In integers: (v - exact) / exact <= 2^-(kPrecisionBits-1).
void expect_within_error(const Histogram& h, double p, std::uint64_t exact) {
  const std::uint64_t v = h.percentile(p);
  const auto inverse_error = static_cast<std::uint64_t>(1 / Histogram::relative_error());
  EXPECT_GE(v, exact) << "p" << p;
  EXPECT_LE((v - exact) * inverse_error, exact) << "p" << p << ": " << v << " vs " << exact;
  EXPECT_LE(v, h.max()) << "p" << p;
  EXPECT_LE(static_cast<double>(v), static_cast<double>(exact) * (1 + Histogram::relative_error()));
}

// Checks every reported percentile, a sweep over 0.1 .. 100 in steps of 0.1, p = 0, and the
// exact statistics.
void check_against_exact(Samples samples) {
  const Histogram h = histogram_of(samples);
  std::sort(samples.begin(), samples.end());
  ASSERT_EQ(h.count(), samples.size());
  EXPECT_EQ(h.min(), samples.front());
  EXPECT_EQ(h.max(), samples.back());
  EXPECT_EQ(h.percentile(0), samples.front());
  for (const Percentile& q : kReported) {
    expect_within_error(h, q.p, exact_percentile(samples, q.per_100k));
  }
  for (int tenths = 1; tenths <= 1000; ++tenths) {
    expect_within_error(h, tenths / 10.0, exact_percentile(samples, tenths * 100u));
  }

  long double sum = 0;
  for (std::uint64_t v : samples) sum += v;
  const long double mean = sum / samples.size();
  long double squares = 0;
  for (std::uint64_t v : samples) squares += (v - mean) * (v - mean);
  const auto stdev = static_cast<double>(std::sqrt(squares / samples.size()));
  EXPECT_NEAR(h.mean(), static_cast<double>(mean), 1e-12 * static_cast<double>(mean));
  EXPECT_NEAR(h.stdev(), stdev, 1e-9 * static_cast<double>(mean) + 1e-9);
  EXPECT_EQ(h.saturated(), 0u);
}

TEST(Histogram, EmptyHistogramReportsZeros) {
  const Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stdev(), 0.0);
  EXPECT_EQ(h.saturated(), 0u);
  EXPECT_EQ(h.percentile(0), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.percentile(100), 0u);
  EXPECT_TRUE(h.bars(10).empty());
}

TEST(Histogram, ExactBelowPrecisionLimit) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<std::uint64_t> value(0, (1u << Histogram::kPrecisionBits) - 1);
  Samples samples(100'000);
  for (auto& v : samples) v = value(rng);
  const Histogram h = histogram_of(samples);
  std::sort(samples.begin(), samples.end());
  for (int tenths = 1; tenths <= 1000; ++tenths) {
    EXPECT_EQ(h.percentile(tenths / 10.0), exact_percentile(samples, tenths * 100u))
        << tenths / 10.0;
  }
  for (const Percentile& q : kReported) {
    EXPECT_EQ(h.percentile(q.p), exact_percentile(samples, q.per_100k)) << q.p;
  }
}

TEST(Histogram, RankOfDecimalPercentiles) {
  // 99.9 is 99.900000000000006 as a double; the rank must still be 999 of 1000, not 1000.
  Histogram h;
  for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v);
  EXPECT_EQ(h.percentile(0), 1u);
  EXPECT_EQ(h.percentile(0.05), 1u);  // ceil(0.5) = 1
  EXPECT_EQ(h.percentile(0.1), 1u);
  EXPECT_EQ(h.percentile(0.15), 2u);
  EXPECT_EQ(h.percentile(50), 500u);
  EXPECT_EQ(h.percentile(50.05), 501u);
  EXPECT_EQ(h.percentile(75), 750u);
  EXPECT_EQ(h.percentile(90), 900u);
  EXPECT_EQ(h.percentile(99), 990u);
  EXPECT_EQ(h.percentile(99.9), 999u);
  EXPECT_EQ(h.percentile(99.91), 1000u);
  EXPECT_EQ(h.percentile(99.99), 1000u);
  EXPECT_EQ(h.percentile(100), 1000u);
  EXPECT_EQ(h.percentile(std::nextafter(100.0, 0.0)), 1000u);
}

TEST(Histogram, UniformOverWideRange) {
  std::mt19937_64 rng(2);
  std::uniform_int_distribution<std::uint64_t> value(0, 1'000'000'000);
  Samples samples(300'000);
  for (auto& v : samples) v = value(rng);
  check_against_exact(samples);
}

TEST(Histogram, LogNormalLatencies) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> latency(std::log(2000.0), 1.2);  // median 2 ms in us
  Samples samples(300'000);
  for (auto& v : samples) v = static_cast<std::uint64_t>(latency(rng));
  check_against_exact(samples);
}

TEST(Histogram, Bimodal1msAnd100ms) {
  std::mt19937_64 rng(4);
  std::normal_distribution<double> fast(1000, 50);
  std::normal_distribution<double> slow(100'000, 5000);
  std::bernoulli_distribution is_slow(0.05);
  Samples samples(300'000);
  for (auto& v : samples) {
    v = static_cast<std::uint64_t>(std::max(0.0, is_slow(rng) ? slow(rng) : fast(rng)));
  }
  check_against_exact(samples);
}

TEST(Histogram, ConstantSamples) {
  check_against_exact(Samples(100'000, 123'456'789));
  const Histogram h = histogram_of(Samples(100'000, 123'456'789));
  EXPECT_EQ(h.percentile(50), 123'456'789u);  // clamped to max(), so exact
  EXPECT_EQ(h.stdev(), 0.0);
}

TEST(Histogram, AllZero) {
  check_against_exact(Samples(100'000, 0));
  const Histogram h = histogram_of(Samples(100'000, 0));
  EXPECT_EQ(h.percentile(99.99), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(Histogram, OneSample) {
  check_against_exact(Samples{987'654'321});
  const Histogram h = histogram_of(Samples{987'654'321});
  for (const Percentile& q : kReported) EXPECT_EQ(h.percentile(q.p), 987'654'321u) << q.p;
}

TEST(Histogram, ValuesNearPowersOfTwo) {
  // Bucket edges: 2^k - 1 is the top of a bucket, 2^k starts a wider octave.
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> exponent(0, 35);
  std::uniform_int_distribution<int> offset(-2, 2);
  Samples samples(200'000);
  for (auto& v : samples) {
    const std::int64_t power = std::int64_t{1} << exponent(rng);
    v = static_cast<std::uint64_t>(std::max<std::int64_t>(0, power + offset(rng)));
  }
  check_against_exact(samples);
}

TEST(Histogram, EveryBucketEdgeUpToMax) {
  // The largest value of each bucket and the one after it, one sample each, up to kMaxValue:
  // ranks then land on both sides of every bucket boundary in turn.
  Samples samples;
  for (int k = Histogram::kPrecisionBits; k <= 36; ++k) {
    const std::uint64_t width = std::uint64_t{1} << (k - Histogram::kPrecisionBits);
    for (std::uint64_t low = std::uint64_t{1} << (k - 1); low < (std::uint64_t{1} << k);
         low += width) {
      samples.push_back(low);
      samples.push_back(low + width - 1);
    }
  }
  ASSERT_EQ(samples.back(), Histogram::kMaxValue);
  check_against_exact(samples);
}

TEST(Histogram, PercentileZeroIsTheExactMinimum) {
  // 1'000'001 lies in a bucket 512 values wide: any p > 0 reports that bucket's top (clamped
  // to max()), p = 0 the exact minimum.
  Histogram h;
  h.record(1'000'001);
  h.record(2'000'000);
  EXPECT_EQ(h.percentile(0), 1'000'001u);
  const std::uint64_t tiny = h.percentile(0.0001);
  EXPECT_GT(tiny, 1'000'001u);
  EXPECT_LE(tiny, 1'000'001u + 1'000'001u / 1024);
}

TEST(Histogram, RecordWithCountEqualsRepeatedRecord) {
  Histogram once;
  Histogram repeated;
  once.record(5000, 7);
  once.record(12, 0);  // records nothing: must not move min()
  for (int i = 0; i < 7; ++i) repeated.record(5000);
  EXPECT_EQ(once.count(), 7u);
  EXPECT_EQ(once.min(), 5000u);
  EXPECT_EQ(once.max(), 5000u);
  EXPECT_EQ(once.mean(), repeated.mean());
  EXPECT_EQ(once.stdev(), repeated.stdev());
  EXPECT_EQ(once.percentile(50), repeated.percentile(50));
}

void expect_identical(const Histogram& a, const Histogram& b) {
  EXPECT_EQ(a.count(), b.count());
  EXPECT_EQ(a.min(), b.min());
  EXPECT_EQ(a.max(), b.max());
  EXPECT_EQ(a.saturated(), b.saturated());
  EXPECT_EQ(a.mean(), b.mean());
  EXPECT_EQ(a.stdev(), b.stdev());
  EXPECT_EQ(a.percentile(0), b.percentile(0));
  for (int hundredths = 1; hundredths <= 10'000; ++hundredths) {
    const double p = hundredths / 100.0;
    ASSERT_EQ(a.percentile(p), b.percentile(p)) << p;
  }
  for (int n : {1, 7, 20, 1000}) {
    const auto bars_a = a.bars(n);
    const auto bars_b = b.bars(n);
    ASSERT_EQ(bars_a.size(), bars_b.size());
    for (std::size_t i = 0; i < bars_a.size(); ++i) {
      EXPECT_EQ(bars_a[i].from, bars_b[i].from);
      EXPECT_EQ(bars_a[i].to, bars_b[i].to);
      EXPECT_EQ(bars_a[i].count, bars_b[i].count);
    }
  }
}

TEST(Histogram, MergeOfShardsEqualsOneHistogram) {
  // Values below 2^20 and 2*10^5 samples keep the sums of squares below 2^64, where long
  // double adds integers exactly in any order, so even mean and stdev must match bit for bit.
  std::mt19937_64 rng(6);
  std::lognormal_distribution<double> latency(std::log(3000.0), 1.0);
  std::uniform_int_distribution<int> shard_of(0, 3);
  Histogram all;
  Histogram shards[4];
  for (int i = 0; i < 200'000; ++i) {
    const auto v = std::min<std::uint64_t>(static_cast<std::uint64_t>(latency(rng)), 1u << 20);
    all.record(v);
    shards[shard_of(rng)].record(v);
  }
  Histogram merged;
  for (const Histogram& shard : shards) merged.merge(shard);
  expect_identical(merged, all);

  // An empty histogram on either side changes nothing.
  merged.merge(Histogram());
  expect_identical(merged, all);
  Histogram into_empty;
  into_empty.merge(all);
  expect_identical(into_empty, all);
}

TEST(Histogram, MergeCarriesSaturationAndExtremes) {
  Histogram low;
  Histogram high;
  low.record(3);
  high.record(Histogram::kMaxValue + 100, 2);
  low.merge(high);
  EXPECT_EQ(low.count(), 3u);
  EXPECT_EQ(low.min(), 3u);
  EXPECT_EQ(low.max(), Histogram::kMaxValue);
  EXPECT_EQ(low.saturated(), 2u);
  EXPECT_EQ(low.percentile(100), Histogram::kMaxValue);
  EXPECT_EQ(low.percentile(33), 3u);
}

TEST(Histogram, MergeIntoItselfDoubles) {
  Histogram h;
  for (std::uint64_t v : {10u, 20u, 5000u, 70000u}) h.record(v);
  Histogram twice;
  for (std::uint64_t v : {10u, 20u, 5000u, 70000u}) twice.record(v, 2);
  h.merge(h);
  expect_identical(h, twice);
}

TEST(Histogram, SaturatesAboveMaxValue) {
  Histogram h;
  h.record(Histogram::kMaxValue);
  h.record(Histogram::kMaxValue + 1);
  h.record(std::numeric_limits<std::uint64_t>::max());
  h.record(Histogram::kMaxValue + 5, 3);
  EXPECT_EQ(h.count(), 6u);
  EXPECT_EQ(h.saturated(), 5u);  // kMaxValue itself is tracked, not saturated
  EXPECT_EQ(h.min(), Histogram::kMaxValue);
  EXPECT_EQ(h.max(), Histogram::kMaxValue);
  EXPECT_EQ(h.percentile(50), Histogram::kMaxValue);
  EXPECT_EQ(h.percentile(100), Histogram::kMaxValue);
  EXPECT_DOUBLE_EQ(h.mean(), static_cast<double>(Histogram::kMaxValue));
  EXPECT_EQ(h.stdev(), 0.0);
  const auto bars = h.bars(10);
  ASSERT_EQ(bars.size(), 1u);
  EXPECT_EQ(bars[0].count, 6u);
}

TEST(Histogram, ResetForgetsEverything) {
  Histogram h;
  for (std::uint64_t v : {1u, 500u, 90'000u}) h.record(v);
  h.record(Histogram::kMaxValue + 1);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.saturated(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stdev(), 0.0);
  EXPECT_EQ(h.percentile(99), 0u);
  EXPECT_TRUE(h.bars(5).empty());

  // Afterwards it behaves as a fresh histogram, bucket counts included.
  Histogram fresh;
  for (std::uint64_t v : {42u, 4242u, 424242u}) {
    h.record(v);
    fresh.record(v);
  }
  expect_identical(h, fresh);
}

TEST(Histogram, InvalidArgumentsThrow) {
  Histogram h;
  h.record(10);
  EXPECT_THROW(h.percentile(-0.001), std::invalid_argument);
  EXPECT_THROW(h.percentile(100.001), std::invalid_argument);
  EXPECT_THROW(h.percentile(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
  EXPECT_THROW(h.percentile(std::numeric_limits<double>::infinity()), std::invalid_argument);
  EXPECT_THROW(h.percentile(-std::numeric_limits<double>::infinity()), std::invalid_argument);
  EXPECT_THROW(h.bars(0), std::invalid_argument);
  EXPECT_THROW(h.bars(-3), std::invalid_argument);
  // Also when empty: a bad argument is a bug whether or not samples arrived.
  EXPECT_THROW(Histogram().percentile(101), std::invalid_argument);
  EXPECT_THROW(Histogram().bars(0), std::invalid_argument);
}

// Bars are in order, contiguous, cover [min, max], have widths within one of each other, and
// their counts add up to count().
void expect_well_formed_bars(const Histogram& h, int n) {
  const auto bars = h.bars(n);
  const std::uint64_t span = h.max() - h.min() + 1;
  ASSERT_EQ(bars.size(), std::min<std::uint64_t>(n, span));
  EXPECT_EQ(bars.front().from, h.min());
  EXPECT_EQ(bars.back().to, h.max());
  std::uint64_t total = 0;
  std::uint64_t narrowest = UINT64_MAX;
  std::uint64_t widest = 0;
  for (std::size_t i = 0; i < bars.size(); ++i) {
    ASSERT_LE(bars[i].from, bars[i].to);
    if (i > 0) {
      EXPECT_EQ(bars[i].from, bars[i - 1].to + 1);
    }
    narrowest = std::min(narrowest, bars[i].to - bars[i].from + 1);
    widest = std::max(widest, bars[i].to - bars[i].from + 1);
    total += bars[i].count;
  }
  EXPECT_LE(widest - narrowest, 1u);
  EXPECT_EQ(total, h.count());
}

std::uint64_t samples_in(const Samples& sorted, std::uint64_t from, std::uint64_t to) {
  if (from > to) return 0;
  return static_cast<std::uint64_t>(std::upper_bound(sorted.begin(), sorted.end(), to) -
                                    std::lower_bound(sorted.begin(), sorted.end(), from));
}

TEST(Histogram, BarsOfLatencies) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(std::log(2000.0), 0.8);
  Samples samples(200'000);
  for (auto& v : samples) v = static_cast<std::uint64_t>(latency(rng));
  const Histogram h = histogram_of(samples);
  std::sort(samples.begin(), samples.end());
  for (int n : {1, 2, 10, 20, 100}) expect_well_formed_bars(h, n);

  // A sample is counted in the bar holding its bucket's midpoint, which lies within one
  // bucket width (at most value / 2^(kPrecisionBits-1) + 1) of it. So a bar holds at least the
  // samples a width inside its edges and at most those a width outside them.
  const auto width_at = [](std::uint64_t v) {
    return static_cast<std::uint64_t>(static_cast<double>(v) * Histogram::relative_error()) + 1;
  };
  for (const auto& bar : h.bars(20)) {
    const std::uint64_t inner = samples_in(samples, bar.from + width_at(bar.from),
                                           bar.to - std::min(bar.to, width_at(bar.to)));
    const std::uint64_t outer = samples_in(
        samples, bar.from - std::min(bar.from, width_at(bar.from)), bar.to + width_at(bar.to));
    EXPECT_GE(bar.count, inner) << bar.from << ".." << bar.to;
    EXPECT_LE(bar.count, outer) << bar.from << ".." << bar.to;
  }
}

TEST(Histogram, BarsAreExactBelowPrecisionLimit) {
  std::mt19937_64 rng(8);
  std::uniform_int_distribution<std::uint64_t> value(3, 1900);
  Samples samples(50'000);
  for (auto& v : samples) v = value(rng);
  const Histogram h = histogram_of(samples);
  std::sort(samples.begin(), samples.end());
  for (int n : {1, 3, 20, 64, 1898, 5000}) {
    expect_well_formed_bars(h, n);
    for (const auto& bar : h.bars(n)) {
      EXPECT_EQ(bar.count, samples_in(samples, bar.from, bar.to)) << bar.from << ".." << bar.to;
    }
  }
}

TEST(Histogram, BarsPlaceAWideBucketAtItsMidpoint) {
  // 15000 falls in the bucket [15000, 15007] (8 values wide), whose midpoint is 15003. Two
  // bars over [0, max] split at max / 2 + 1, which lands on either side of the midpoint.
  for (const auto& [max, first_bar_count] :
       {std::pair<std::uint64_t, std::uint64_t>{30'009, 2},     // second bar from 15005
        std::pair<std::uint64_t, std::uint64_t>{30'003, 1}}) {  // second bar from 15002
    Histogram h;
    h.record(0);
    h.record(15'000);
    h.record(max);
    const auto bars = h.bars(2);
    ASSERT_EQ(bars.size(), 2u);
    EXPECT_EQ(bars[1].from, max / 2 + 1);
    EXPECT_EQ(bars[0].count, first_bar_count) << "max " << max;
    EXPECT_EQ(bars[1].count, 3 - first_bar_count) << "max " << max;
  }
}

TEST(Histogram, BarsOfOneValue) {
  Histogram h;
  h.record(250'000, 1234);
  const auto bars = h.bars(20);
  ASSERT_EQ(bars.size(), 1u);
  EXPECT_EQ(bars[0].from, 250'000u);
  EXPECT_EQ(bars[0].to, 250'000u);
  EXPECT_EQ(bars[0].count, 1234u);
}

TEST(Histogram, BarsOfNarrowRangeAreOneValueEach) {
  Histogram h;
  for (std::uint64_t v = 10; v <= 14; ++v) h.record(v, v);
  const auto bars = h.bars(20);
  ASSERT_EQ(bars.size(), 5u);
  for (std::uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(bars[i].from, 10 + i);
    EXPECT_EQ(bars[i].to, 10 + i);
    EXPECT_EQ(bars[i].count, 10 + i);
  }
}

TEST(Histogram, BarsOverTheWholeRange) {
  // [0, kMaxValue] with a sample in every octave: wide bars, large offsets.
  Histogram h;
  h.record(0);
  for (int k = 0; k <= 35; ++k) h.record(std::uint64_t{3} << k >> 1);
  h.record(Histogram::kMaxValue);
  for (int n : {1, 7, 20, 1000, 100'000}) expect_well_formed_bars(h, n);
  const auto bars = h.bars(2);
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_EQ(bars[0].to, Histogram::kMaxValue / 2);
  EXPECT_EQ(bars[1].count, 2u);  // 3 * 2^34 and kMaxValue
}

}  // namespace
}  // namespace httpbench
