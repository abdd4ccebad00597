// Histogram: see histogram.h for the bucket layout and the error bound.
//
// Design notes.
// - record() is on the hot path of every request: the bucket index is a bit_width, a shift
//   and an add (bucket_index in the header), the clamp to kMaxValue and the min/max updates
//   compile to conditional moves, and the only branch is the count == 0 test.
// - Everything that reads (percentile, bars) walks all kBuckets buckets: about 28k additions,
//   done a handful of times per run, so no index of non-empty buckets is kept.
// - mean/stdev come from the sum and sum of squares in long double (64-bit mantissa): a
//   latency in microseconds squared is below 2^72, and a run of a few million samples keeps
//   the sums exact or within one part in 2^64, far below anything the report prints.
//   Welford's running update would be more robust for huge means with tiny spread, but costs
//   a division per sample and needs a separate formula to merge.
#include "histogram.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace httpbench {

static_assert(Histogram::kPrecisionBits >= 2 && Histogram::kPrecisionBits <= 30);
static_assert(Histogram::kMaxValue >= (std::uint64_t{1} << Histogram::kPrecisionBits));

Histogram::Histogram() : counts_(kBuckets, 0) {
  // Checks of the private bucket arithmetic, here because only members may name it.
  static_assert(kBuckets == bucket_index(kMaxValue) + 1);
  static_assert(bucket_highest(kBuckets - 1) == kMaxValue);
  static_assert(bucket_index(0) == 0 && bucket_highest(0) == 0);
  static_assert(bucket_index(2047) == 2047 && bucket_highest(2047) == 2047);
  // The first inexact octave: buckets two values wide, right after the exact ones.
  static_assert(bucket_index(2048) == 2048 && bucket_index(2049) == 2048);
  static_assert(bucket_lowest(2048) == 2048 && bucket_highest(2048) == 2049);
  static_assert(bucket_index(4095) == 3071 && bucket_index(4096) == 3072);
  static_assert(bucket_lowest(3072) == 4096 && bucket_highest(3072) == 4099);
}

void Histogram::record(std::uint64_t value, std::uint64_t count) noexcept {
  if (count == 0) return;  // would otherwise move min_/max_
  saturated_ += value > kMaxValue ? count : 0;
  value = std::min(value, kMaxValue);
  counts_[bucket_index(value)] += count;
  count_ += count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  const auto v = static_cast<long double>(value);
  sum_ += v * count;
  sum_squares_ += v * v * count;
}

void Histogram::merge(const Histogram& other) noexcept {
  // Element by element, so merging a histogram into itself doubles it, as it should.
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  saturated_ += other.saturated_;
  sum_ += other.sum_;
  sum_squares_ += other.sum_squares_;
}

void Histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  saturated_ = 0;
  sum_ = 0;
  sum_squares_ = 0;
}

std::uint64_t Histogram::min() const noexcept {
  return count_ == 0 ? 0 : min_;
}

double Histogram::mean() const noexcept {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / count_);
}

double Histogram::stdev() const noexcept {
  if (count_ == 0) return 0.0;
  const long double mean = sum_ / count_;
  // E[x^2] - E[x]^2 can come out a hair below zero through rounding when all samples are
  // (nearly) equal.
  const long double variance = std::max(0.0L, sum_squares_ / count_ - mean * mean);
  return static_cast<double>(std::sqrt(variance));
}

namespace {

// The 1-based rank of the sample at percentile p among `count` (p in (0, 100]):
// ceil(p / 100 * count), at least 1, at most count. A double cannot hold 99.9 exactly (it is
// 99.900000000000006), and a plain ceil would make 99.9 of 1000 samples the 1000th; so a
// product within a relative 1e-12 of an integer is taken as that integer. The double's own
// error is about 1e-16 relative, so the tolerance only absorbs representation noise.
std::uint64_t rank_at(double p, std::uint64_t count) {
  const long double exact = static_cast<long double>(p) / 100 * count;
  const long double nearest = std::round(exact);
  const long double rank =
      std::fabs(exact - nearest) <= exact * 1e-12L ? nearest : std::ceil(exact);
  return std::clamp<std::uint64_t>(static_cast<std::uint64_t>(rank), 1, count);
}

}  // namespace

std::uint64_t Histogram::percentile(double p) const {
  if (!(p >= 0 && p <= 100)) {  // written so that NaN fails it too
    throw std::invalid_argument("Histogram::percentile(" + std::to_string(p) +
                                "): p must be in [0, 100]");
  }
  if (count_ == 0) return 0;
  if (p == 0) return min_;
  const std::uint64_t rank = rank_at(p, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(bucket_highest(i), max_);
  }
  return max_;  // unreachable: the bucket counts add up to count_
}

std::vector<Histogram::Bar> Histogram::bars(int n) const {
  if (n <= 0) {
    throw std::invalid_argument("Histogram::bars(" + std::to_string(n) +
                                "): the number of bars must be positive");
  }
  std::vector<Bar> out;
  if (count_ == 0) return out;
  // `span` values in [min_, max_] split into `bars` integer ranges: bar j starts at offset
  // floor(j * span / bars), so widths differ by at most one. The product is computed from the
  // quotient and remainder of span / bars, since j * span can exceed 64 bits.
  const std::uint64_t span = max_ - min_ + 1;
  const std::uint64_t bar_count = std::min<std::uint64_t>(static_cast<std::uint64_t>(n), span);
  const std::uint64_t quotient = span / bar_count;
  const std::uint64_t remainder = span % bar_count;
  auto start = [&](std::uint64_t j) { return j * quotient + j * remainder / bar_count; };
  out.reserve(bar_count);
  for (std::uint64_t j = 0; j < bar_count; ++j) {
    out.push_back(Bar{min_ + start(j), min_ + start(j + 1) - 1, 0});
  }
  // Bucket midpoints increase with the index, so one forward pass over buckets and bars
  // suffices.
  std::size_t bar = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    if (counts_[i] == 0) continue;
    const std::uint64_t low = bucket_lowest(i);
    const std::uint64_t midpoint = low + (bucket_highest(i) - low) / 2;
    const std::uint64_t value = std::clamp(midpoint, min_, max_);
    while (out[bar].to < value) ++bar;
    out[bar].count += counts_[i];
  }
  return out;
}

}  // namespace httpbench
