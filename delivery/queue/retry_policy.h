// retry_policy: when the relay tries a deferred recipient again, and when it gives up.
// Pure functions of times and counts, no runtime, no clock: the caller passes `now`.
//
// Postfix's defaults, which we keep (postconf(5)):
//   minimal_backoff_time 300s   "The minimal time between attempts to deliver a deferred
//                                message"
//   maximal_backoff_time 4000s  "The maximal time between attempts to deliver a deferred
//                                message"
//   maximal_queue_lifetime 5d   "Consider a message as undeliverable, when delivery fails
//                                with a temporary error, and the time in the queue has
//                                reached the maximal_queue_lifetime limit."
//   delay_warning_time 0h       "The time after which the sender receives a copy of the
//                                message headers of mail that is still queued." 0 = off.
//
// DEPARTURE: Postfix's queue manager sets the next attempt from the message's AGE (the
// back-off is the time since arrival, clamped to the two limits), per message. We back
// off per recipient from its ATTEMPT COUNT: minimal * 2^(attempts-1), clamped — the
// same doubling when attempts follow the schedule, but independent of how long the
// message waited before its first attempt (after a long outage the first retry comes
// after minimal_backoff_time, not after maximal). The last attempt is never scheduled
// past the lifetime: the recipient gets one final try at arrival + lifetime, and a
// temporary failure at or after that point bounces it.
#pragma once

#include <chrono>
#include <cstdint>

namespace ringmail::queue {

// The queue's clock: unix seconds now (arrival times, next attempts). The functions below
// take `now` as an argument; this is for their callers.
int64_t unix_now();

struct retry_policy {
  std::chrono::seconds minimal_backoff{300};
  std::chrono::seconds maximal_backoff{4000};
  std::chrono::seconds maximal_lifetime{5 * 24 * 3600};
  std::chrono::seconds delay_warning{0};  // 0: no delay notices
};

// The back-off after `attempts` failed attempts (>= 1; 0 is treated as 1).
std::chrono::seconds backoff_after(const retry_policy& policy, uint32_t attempts);

// What to do with a recipient whose attempt number `attempts` (counting this one) just
// failed temporarily at `now`, for a message that arrived at `arrival` (unix seconds).
struct retry_decision {
  bool bounce = false;       // the lifetime is over: give up, send a DSN (RFC 3464)
  int64_t next_attempt = 0;  // when not bouncing: unix seconds of the next attempt
};
retry_decision after_temporary_failure(const retry_policy& policy, int64_t arrival, int64_t now, uint32_t attempts);

// True when a delay notice is due at `now` and was not yet due at the previous attempt
// `previous` (0: none): the warning time passed between the two. Off when
// delay_warning is 0 or not shorter than the lifetime (the bounce comes first).
bool delay_notice_due(const retry_policy& policy, int64_t arrival, int64_t previous, int64_t now);

}  // namespace ringmail::queue
