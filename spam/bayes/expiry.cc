// SpamAssassin's expiry_due() and expire_old_tokens_trapped() over bayes_backend
// (expiry.h says where this departs from them).
#include "spam/bayes/expiry.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>

namespace ringmail::spam {
namespace {

// Why a store is not due for expiry, or nullptr when it is (BayesStore.pm expiry_due).
const char* not_due(const token_ages& a, int64_t newest, const bayes_expiry_options& o, int64_t now) {
  if (!o.auto_expire) return "auto expiry off";
  if (now - a.last_expire < o.period_seconds) return "expired within the period";
  if (a.tokens <= o.min_keep || a.tokens < o.max_db_size) return "below max_db_size";
  if (newest - a.oldest_atime < o.period_seconds) return "atimes span less than the period";
  return nullptr;
}

}  // namespace

absl::StatusOr<bayes_expiry_result> expire_tokens(bayes_backend& backend, std::string_view user,
                                                  const bayes_expiry_options& options, int64_t now, bool force) {
  absl::StatusOr<token_ages> ages = backend.ages(user);
  if (!ages.ok()) return ages.status();
  bayes_expiry_result r;
  r.tokens_before = ages->tokens;
  // SA: "expiry found newest atime in the future, resetting to current time".
  const int64_t newest = std::min(ages->newest_atime, now);
  if (ages->tokens == 0) {
    r.skipped = "no tokens";  // and no totals row made for a user that never learned
    return r;
  }
  if (!force) {
    if (const char* why = not_due(*ages, newest, options, now)) {
      r.skipped = why;
      return r;
    }
  }

  r.ran = true;
  const auto keep = std::max(static_cast<int64_t>(static_cast<double>(options.max_db_size) * options.keep_fraction),
                             options.min_keep);
  const int64_t reduction = ages->tokens - keep;
  if (reduction < std::max<int64_t>(options.min_reduction, 1)) {
    r.skipped = "too few tokens to remove";
  } else {
    // The token at rank `reduction` is the oldest one kept: everything strictly older
    // goes, at most `reduction` tokens. No token that recent use protects goes either.
    absl::StatusOr<std::optional<int64_t>> at_rank = backend.atime_at_rank(user, reduction);
    if (!at_rank.ok()) return at_rank.status();
    const int64_t cutoff = std::min(at_rank->value_or(std::numeric_limits<int64_t>::max()),
                                    newest - options.period_seconds);
    absl::StatusOr<int64_t> removed = backend.remove_tokens_before(user, cutoff);
    if (!removed.ok()) return removed.status();
    r.removed = *removed;
    r.cutoff_atime = cutoff;
    if (r.removed == 0) r.skipped = "no token old enough";
  }
  if (absl::Status s = backend.set_last_expire(user, now); !s.ok()) return s;
  return r;
}

}  // namespace ringmail::spam
