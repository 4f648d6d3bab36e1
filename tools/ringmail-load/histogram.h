// latency_histogram: a log-linear histogram of durations in microseconds, in the manner
// of HdrHistogram: exact below 128 us, then 64 sub-buckets per power of two, so every
// recorded value is known to within 1/64 (1.6%) whatever its magnitude. Fixed size
// (about 4 KiB), O(1) to record, and mergeable, so each shard keeps its own without
// locks and the totals are added at the end.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace ringmail::load {

class latency_histogram {
 public:
  void record(uint64_t micros) {
    ++counts_[bucket_of(micros)];
    ++total_;
    if (micros > max_) max_ = micros;
  }

  void merge(const latency_histogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    if (other.max_ > max_) max_ = other.max_;
  }

  uint64_t count() const { return total_; }
  uint64_t max() const { return max_; }

  // The smallest recorded value v such that at least fraction q of all values are <= v,
  // reported as the upper edge of v's bucket (never below the truth, at most 1.6% above
  // it) and capped at the largest value recorded. 0 when nothing was recorded.
  uint64_t quantile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
    if (rank < 1) rank = 1;
    if (rank > total_) rank = total_;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        uint64_t upper = upper_edge(i);
        return upper < max_ ? upper : max_;
      }
    }
    return max_;
  }

 private:
  static constexpr unsigned kSubBits = 6;                // 64 sub-buckets per octave
  static constexpr uint64_t kLinear = 2u << kSubBits;    // 0..127 recorded exactly
  static constexpr unsigned kOctaves = 64 - kSubBits - 1;
  static constexpr size_t kBuckets = kLinear + kOctaves * (1u << kSubBits);

  static size_t bucket_of(uint64_t v) {
    if (v < kLinear) return static_cast<size_t>(v);
    // v has its top bit at position p >= 7; keep the 7 leading bits (64..127).
    unsigned p = 63 - static_cast<unsigned>(std::countl_zero(v));
    unsigned shift = p - kSubBits;
    uint64_t sub = (v >> shift) - (1u << kSubBits);  // 0..63
    return kLinear + (shift - 1) * (1u << kSubBits) + static_cast<size_t>(sub);
  }

  static uint64_t upper_edge(size_t bucket) {
    if (bucket < kLinear) return bucket;
    size_t rel = bucket - kLinear;
    unsigned shift = static_cast<unsigned>(rel >> kSubBits) + 1;
    uint64_t sub = (rel & ((1u << kSubBits) - 1)) + (1u << kSubBits);
    return ((sub + 1) << shift) - 1;
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

}  // namespace ringmail::load
