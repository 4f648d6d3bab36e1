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
  virtual absl::Status add_tokens(std::string_view user, const std::vector<token_delta>& deltas) = 0;

  // Outside a write transaction: a user's totals and tokens, from one consistent snapshot.
  // A user never learned has an empty model.
  virtual absl::StatusOr<std::shared_ptr<const bayes_model>> load(std::string_view user) = 0;
};

}  // namespace ringmail::spam
