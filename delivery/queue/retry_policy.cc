#include "delivery/queue/retry_policy.h"

#include <algorithm>
#include <chrono>

namespace ringmail::queue {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::chrono::seconds backoff_after(const retry_policy& policy, uint32_t attempts) {
  const int64_t lo = std::max<int64_t>(policy.minimal_backoff.count(), 1);
  const int64_t hi = std::max<int64_t>(policy.maximal_backoff.count(), lo);
  int64_t b = lo;
  // Doubling stops at the maximum, so no shift can overflow.
  for (uint32_t i = 1; i < attempts && b < hi; ++i) b *= 2;
  return std::chrono::seconds(std::min(b, hi));
}

retry_decision after_temporary_failure(const retry_policy& policy, int64_t arrival, int64_t now, uint32_t attempts) {
  retry_decision d;
  const int64_t expires = arrival + policy.maximal_lifetime.count();
  if (now >= expires) {
    d.bounce = true;
    return d;
  }
  d.next_attempt = std::min(now + backoff_after(policy, attempts).count(), expires);
  return d;
}

bool delay_notice_due(const retry_policy& policy, int64_t arrival, int64_t previous, int64_t now) {
  if (policy.delay_warning.count() <= 0 || policy.delay_warning >= policy.maximal_lifetime) return false;
  const int64_t due = arrival + policy.delay_warning.count();
  return now >= due && previous < due;
}

}  // namespace ringmail::queue
