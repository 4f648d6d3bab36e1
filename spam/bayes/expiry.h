// Token expiry as SpamAssassin's bayes_auto_expire does it (BayesStore.pm expiry_due and
// expire_old_tokens_trapped): each token keeps its atime (when it was last learned); a
// user's store that holds max_db_size tokens or more is cut back to max(75 % of that,
// 100,000) by removing the least recently learned tokens, at most once per expiry period
// (12 h), never a token learned within one period of the newest.
//
// Departures from SpamAssassin, and why:
//   - The cut-off atime is found exactly, as the atime of the token at the rank the goal
//     asks for, and every token strictly older goes. SA tries 12 h x 2^k (k = 0..9) and
//     keeps the largest cut that stays within the goal, because its DBM store can only
//     count tokens older than a given age with a pass over the whole file. Both remove at
//     most the goal; ties at the cut-off stay (a bulk-learned corpus shares one atime).
//   - atime is the time of learning, not the message's Received date (SA's msgatime):
//     learning is given the tokens, not the message's date, and an IMAP Junk move says
//     "spam now".
//   - atime is not updated when a scan uses a token. SA touches the tokens that decided
//     a score on every scan (the SQL store writes at once, DBM through a journal synced
//     later). Here the scanner classifies against an in-memory model shared by the shard
//     threads, on the receive path issue 15 is making cheaper: a touch would need a
//     per-shard collector and a pool writer for a benefit only to stores above the limit
//     whose useful tokens were not learned again within their expiry window. Tokens that
//     keep mattering keep turning up in newly learned mail, which refreshes them.
//   - SA's minimum reduction of 1,000 tokens per run is kept; its check of the database
//     format version has no equivalent (the schema is migrated at open).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "spam/bayes/backend.h"

namespace ringmail::spam {

struct bayes_expiry_options {
  // bayes_auto_expire: expire opportunistically after learning. A forced run
  // (`ringmail-admin spam expire`) ignores it.
  bool auto_expire = true;
  // bayes_expiry_max_db_size: a store with fewer tokens is not expired.
  int64_t max_db_size = 150'000;
  // bayes_expiry_pct: what an expiry keeps, as a fraction of max_db_size.
  double keep_fraction = 0.75;
  // SA keeps at least this many tokens whatever max_db_size says ("keep at least 100k
  // tokens"): a small store classifies badly. Tests lower it.
  int64_t min_keep = 100'000;
  // A run that would remove fewer tokens is skipped (and counts as a run).
  int64_t min_reduction = 1'000;
  // bayes_expiry_period: the least time between two runs for one user, and the youngest
  // a removed token can be, counted back from the store's newest token.
  int64_t period_seconds = 43'200;
};

struct bayes_expiry_result {
  bool ran = false;             // tokens were considered for removal (and last_expire set)
  std::string skipped;          // why not, when !ran or nothing went ("" when tokens went)
  int64_t tokens_before = 0;
  int64_t removed = 0;
  int64_t cutoff_atime = 0;     // tokens learned before this went (0 when none)
};

// One expiry of `user`'s tokens at time `now`, inside the backend's write transaction
// (the caller begins and commits). Without `force` it runs only when SA's expiry_due()
// would: auto expiry on, the period passed since the last run, the store at max_db_size
// or above (and above min_keep), and its tokens' atimes spanning at least one period.
absl::StatusOr<bayes_expiry_result> expire_tokens(bayes_backend& backend, std::string_view user,
                                                  const bayes_expiry_options& options, int64_t now, bool force);

}  // namespace ringmail::spam
