// An HDR-style histogram of non-negative integers (httpbench records latencies in
// microseconds): constant memory, bounded relative error, exact count/min/max/mean/stdev, and
// merge() to combine shards that were filled without any shared state.
//
// Buckets are log-linear, as in HdrHistogram: values below 2^kPrecisionBits are counted
// exactly; above that, each power-of-two range [2^k, 2^(k+1)) is split into
// 2^(kPrecisionBits-1) equal buckets, 2^(k+1-kPrecisionBits) values wide. A bucket's width is
// thus at most its lowest value / 2^(kPrecisionBits-1), which bounds the relative error. A
// percentile is reported as the highest value of its bucket (clamped to max()), so it is never
// below the true sample and less than relative_error() above it. With the constants below
// the counts take 27,648 buckets (216 KiB), allocated once by the constructor.
//
// Not thread-safe: one writer at a time, and merge()/reads only after the writers are done
// (httpbench keeps one histogram per worker thread and merges them at the end).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace httpbench {

class Histogram {
 public:
  static constexpr int kPrecisionBits = 11;  // relative error <= 2^-10, about 0.1%
  // Largest value tracked; a larger one is recorded as kMaxValue (in the buckets and in
  // min/max/mean/stdev alike, so that every statistic describes the same clamped samples) and
  // counted in saturated(). 2^36 us is about 19 hours.
  static constexpr std::uint64_t kMaxValue = (std::uint64_t{1} << 36) - 1;

  Histogram();

  // Records `count` samples of `value`: O(1), no allocation, no floating point on the bucket
  // index. count = 0 records nothing.
  void record(std::uint64_t value) noexcept { record(value, 1); }
  void record(std::uint64_t value, std::uint64_t count) noexcept;
  // Adds other's samples to this one, as if they had been recorded here (bucket counts, count,
  // min/max and saturated() come out identical; mean/stdev up to long double rounding).
  void merge(const Histogram& other) noexcept;
  // Forgets every sample; keeps the bucket array.
  void reset() noexcept;

  std::uint64_t count() const noexcept { return count_; }
  // Exact (tracked beside the buckets); 0 for an empty histogram.
  std::uint64_t min() const noexcept;
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept;
  double stdev() const noexcept;  // population standard deviation
  std::uint64_t saturated() const noexcept { return saturated_; }

  // The value at or below which p percent of the samples lie (0 <= p <= 100): the upper end of
  // the bucket holding the ceil(p/100 * count())-th smallest sample, clamped to max(); p = 0
  // gives min(). 0 for an empty histogram. Throws std::invalid_argument for p outside [0, 100]
  // or NaN. The rank is computed so that decimal percentiles a double cannot hold exactly
  // still mean what they say: 99.9 of 1000 samples is the 999th, not the 1000th.
  std::uint64_t percentile(double p) const;

  // The bound on percentile()'s error relative to the true sample value.
  static constexpr double relative_error() { return 1.0 / (1 << (kPrecisionBits - 1)); }

  // For drawing: `n` bars of equal width covering [min(), max()] (fewer when the range is
  // narrower than n values), each with the number of samples in it, as hey draws them. Widths
  // are integers, so they differ by at most one value. The ranges are contiguous, in order,
  // and the counts add up to count(). Approximation: a bucket wider than one value may
  // straddle a bar boundary, and its whole count goes to the bar holding the bucket's
  // midpoint (clamped to [min(), max()]); below 2^kPrecisionBits buckets are single values and
  // the bars are exact. Empty histogram: no bars. Throws std::invalid_argument for n <= 0.
  struct Bar {
    std::uint64_t from;  // inclusive
    std::uint64_t to;    // inclusive
    std::uint64_t count;
  };
  std::vector<Bar> bars(int n) const;

 private:
  // Buckets per power-of-two range above the exact region.
  static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << (kPrecisionBits - 1);
  // The bucket of `value` (<= kMaxValue). With shift = max(0, bit_width(value) -
  // kPrecisionBits), the bucket is (shift << (kPrecisionBits-1)) + (value >> shift): below
  // 2^kPrecisionBits shift is 0 and the bucket is the value itself; above, value >> shift lies
  // in [kSubBuckets, 2 * kSubBuckets), so each octave takes the next kSubBuckets indexes. OR-ing
  // in the low bits makes bit_width at least kPrecisionBits, so the max(0, ...) costs one OR
  // instead of a compare.
  static constexpr std::size_t bucket_index(std::uint64_t value) noexcept {
    const int shift =
        std::bit_width(value | ((std::uint64_t{1} << kPrecisionBits) - 1)) - kPrecisionBits;
    return static_cast<std::size_t>((std::uint64_t(shift) << (kPrecisionBits - 1)) +
                                    (value >> shift));
  }
  // The inverse of bucket_index: the bucket's shift, then its lowest and highest values.
  static constexpr int bucket_shift(std::size_t index) noexcept {
    const auto octave = static_cast<int>(index >> (kPrecisionBits - 1));
    return octave > 0 ? octave - 1 : 0;
  }
  static constexpr std::uint64_t bucket_lowest(std::size_t index) noexcept {
    const int shift = bucket_shift(index);
    return (index - (std::uint64_t(shift) << (kPrecisionBits - 1))) << shift;
  }
  static constexpr std::uint64_t bucket_highest(std::size_t index) noexcept {
    return bucket_lowest(index) + ((std::uint64_t{1} << bucket_shift(index)) - 1);
  }
  // bucket_index(kMaxValue) + 1, spelled out because a constexpr member function cannot be
  // called inside its class's definition (histogram.cpp checks the two agree).
  static constexpr int kTopShift = std::bit_width(kMaxValue) - kPrecisionBits;
  static constexpr std::size_t kBuckets =
      (std::size_t{kTopShift} << (kPrecisionBits - 1)) + (kMaxValue >> kTopShift) + 1;

  std::vector<std::uint64_t> counts_;  // kBuckets entries, sized once by the constructor
  std::uint64_t count_ = 0;
  // Start at the identities of min and max, so record() and merge() update them without
  // testing for emptiness; min() hides UINT64_MAX.
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  std::uint64_t saturated_ = 0;
  long double sum_ = 0;          // of the (clamped) values; exact up to 2^64
  long double sum_squares_ = 0;  // for stdev(); exact while the total stays below 2^64
};

}  // namespace httpbench
