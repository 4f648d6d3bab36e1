// What a Bayes token store keeps and how: the storage primitives under bayes_store, so the
// learning logic (sa-learn's seen/unlearn rules, summing a batch's token counts in memory)
// is written once and the data can live in SQLite under the data directory or, when the
// directory is MariaDB, in the same MariaDB database (delivery/spam_store/).
//
// Every store keeps, per user ("" = the global store):
//   totals   messages learned as spam and as ham
//   tokens   per token (a 64-bit hash, stored as a signed 64-bit integer): how many spam
//            and ham messages held it
//   seen     which messages were learned, and as what (msgid: bayes_message_id())
//   atime    per token, when it was last learned (seconds since the epoch), and per user
//            when expiry last ran: what SpamAssassin's expiry works from (expiry.h)
//
// Blocking calls: for the offload pool and tools. A backend is used by one thread at a
// time (bayes_store serialises calls with its mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringmail::spam {

class bayes_model;

// A user's tokens by age, for expiry. Times are seconds since the epoch; oldest/newest are
// 0 when the user has no tokens, last_expire is 0 when expiry never ran.
struct token_ages {
  int64_t tokens = 0;
  int64_t oldest_atime = 0;
  int64_t newest_atime = 0;
  int64_t last_expire = 0;
};

struct token_delta {
  uint64_t token = 0;
  int32_t spam = 0;  // change of the spam count (negative when unlearning)
  int32_t ham = 0;
};

class bayes_backend {
 public:
  virtual ~bayes_backend() = default;

  // A write transaction, exclusive against other writers (another process learning at the
  // same time waits or fails with Unavailable). rollback() is also called after a failed
  // call inside the transaction, and must not fail loudly.
  virtual absl::Status begin() = 0;
  virtual absl::Status commit() = 0;
  virtual void rollback() = 0;

  // Inside a transaction. How `user` learned `msg_id`: true = spam, false = ham,
  // nullopt = never.
  virtual absl::StatusOr<std::optional<bool>> seen(std::string_view user, std::string_view msg_id) = 0;
  virtual absl::Status record_seen(std::string_view user, std::string_view msg_id, bool is_spam) = 0;
  // Adds to the message totals; a count never goes below zero.
  virtual absl::Status add_totals(std::string_view user, int64_t spam, int64_t ham) = 0;
  // Adds to token counts, creating tokens as needed; a count never goes below zero (a
  // message unlearned after the tokenizer changed subtracts tokens it never added, and
  // SpamAssassin clamps the same way), and a token whose counts are both zero afterwards
  // is removed. `deltas` holds each token at most once, none with both changes zero.
  // Every token written gets atime = max(its atime, `atime`), as SpamAssassin's SQL store
  // does on learning (a clock set back never makes a token look older).
  virtual absl::Status add_tokens(std::string_view user, const std::vector<token_delta>& deltas, int64_t atime) = 0;

  // Inside a transaction: what expiry decides from (SpamAssassin's get_storage_variables).
  virtual absl::StatusOr<token_ages> ages(std::string_view user) = 0;
  // The atime of the token at `rank` (0 = the least recently learned) in atime order, or
  // nullopt when the user has no more than `rank` tokens.
  virtual absl::StatusOr<std::optional<int64_t>> atime_at_rank(std::string_view user, int64_t rank) = 0;
  // Removes the user's tokens whose atime is before `cutoff`; returns how many went.
  virtual absl::StatusOr<int64_t> remove_tokens_before(std::string_view user, int64_t cutoff) = 0;
  // Records when expiry last ran for the user (creating the totals row as needed).
  virtual absl::Status set_last_expire(std::string_view user, int64_t when) = 0;

  // Outside a write transaction: a user's totals and tokens, from one consistent snapshot.
  // A user never learned has an empty model.
  virtual absl::StatusOr<std::shared_ptr<const bayes_model>> load(std::string_view user) = 0;
};

}  // namespace ringmail::spam
