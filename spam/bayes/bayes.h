// A token-based Bayesian classifier in the SpamAssassin / bogofilter tradition: tokens
// from the decoded body text (words), selected headers (prefixed with the header name),
// and URL parts; per-token probabilities by Robinson's f(w) with the SpamAssassin
// constants; the most significant tokens combined by Fisher's chi-square method. The
// result is a probability in [0, 1] that scanner.h turns into the BAYES_xx pseudo-rules
// of 23_bayes.cf (eval:check_bayes('lo','hi')).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mail/message_text.h"
#include "spam/bayes/backend.h"
#include "spam/bayes/expiry.h"

namespace ringmail::spam {

// Tokens are 64-bit hashes of the token text (SpamAssassin stores 40-bit SHA-1 prefixes;
// we need only equality). Each token counted once per message: the result is sorted and
// free of duplicates. The hash is FNV-1a 64 (bayes_token_hash), fixed forever: the
// values are stored on disk, so changing it (or the tokenizer) makes learned data stale.
std::vector<uint64_t> bayes_tokens(const mail::message_text& text);

// The same tokens as text ("Hello", "hello", "UD:example.com", "H*F:D*example.com",
// "sk:abcdefg", ...), de-duplicated, in no particular order: for tests, tuning and for
// explaining a verdict. bayes_tokens(t) == sorted {bayes_token_hash(s) : s in these}.
std::vector<std::string> bayes_token_strings(const mail::message_text& text);

// FNV-1a 64 of the token's bytes.
uint64_t bayes_token_hash(std::string_view token);

struct token_counts {
  uint32_t spam = 0;
  uint32_t ham = 0;
};

// A read-only in-memory snapshot of one token store (global or one user's), shared by all
// shards; classification never touches the disk.
class bayes_model {
 public:
  bayes_model() = default;
  uint32_t spam_messages = 0;
  uint32_t ham_messages = 0;
  absl::flat_hash_map<uint64_t, token_counts> tokens;

  // SpamAssassin's bayes_min_spam_num / bayes_min_ham_num: below them, no verdict.
  static constexpr uint32_t min_spam = 200;
  static constexpr uint32_t min_ham = 200;
  bool ready() const { return spam_messages >= min_spam && ham_messages >= min_ham; }

  // P(spam) in [0, 1], or nullopt when not ready or no token of the message is both known
  // and significant (SpamAssassin: "not enough usable tokens found").
  std::optional<double> classify(const std::vector<uint64_t>& tokens) const;
};

// A user's token store ("" = the global one; every user's store is separate from it),
// kept by a bayes_backend: SQLite under the data dir (open()), or MariaDB when the
// directory is MariaDB (delivery/spam_store/, over()). Learning follows sa-learn.
// Blocking: use from the offload pool or from tools. Thread-safe: calls are serialised
// by a mutex (learning and loading are rare; classification uses a loaded bayes_model).
class bayes_store {
 public:
  // SQLite at `sqlite_path` (created as needed; bayes_sqlite.h).
  static absl::StatusOr<std::unique_ptr<bayes_store>> open(const std::string& sqlite_path);
  // Any other backend.
  static std::unique_ptr<bayes_store> over(std::unique_ptr<bayes_backend> backend);
  ~bayes_store();

  // Learns one message as spam or ham for `user` ("" = global), as sa-learn does:
  // learning a message the same way twice is a no-op; learning it the other way first
  // unlearns it (the counts move from one class to the other). `msg_id` names the message
  // (learn_message uses SpamAssassin's generated id, see below); `tokens` are its
  // bayes_tokens — the same ones each time, since unlearning subtracts them again.
  absl::Status learn(std::string_view user, std::string_view msg_id, const std::vector<uint64_t>& tokens,
                     bool is_spam);

  // Learns many messages in one transaction (ringmail-admin spam learn): the token counts
  // are summed in memory and written at commit(), which makes bulk learning thousands of
  // messages a second. The batch holds the store (its mutex and an open write
  // transaction) until commit() or destruction (which rolls back): do not call the
  // store's other methods from the thread that holds a batch.
  class batch;
  absl::StatusOr<std::unique_ptr<batch>> begin_batch();

  // Loads a user's store into memory.
  absl::StatusOr<std::shared_ptr<const bayes_model>> load(std::string_view user);

  // Token expiry (expiry.h) in a write transaction of its own: when due under the
  // options (bayes_auto_expire), or whenever `force` (`ringmail-admin spam expire`).
  // Learning never expires by itself: the callers that learn call this afterwards (the
  // trainer on its pool thread, `ringmail-admin spam learn`), so expiry never runs on a
  // shard thread and its outcome can be logged where logging exists.
  absl::StatusOr<bayes_expiry_result> expire(std::string_view user, bool force);

  // Set right after opening, before the store is shared between threads.
  void set_expiry_options(const bayes_expiry_options& options) { expiry_ = options; }
  const bayes_expiry_options& expiry_options() const { return expiry_; }
  // The clock for tokens' atime and for expiry, in seconds since the epoch (default
  // time(nullptr)); tests move it. Set before the store is shared.
  void set_clock(std::function<int64_t()> now) { now_ = std::move(now); }

 private:
  explicit bayes_store(std::unique_ptr<bayes_backend> backend);
  std::unique_ptr<bayes_backend> backend_;
  std::mutex mutex_;
  bayes_expiry_options expiry_;
  std::function<int64_t()> now_;
};

class bayes_store::batch {
 public:
  virtual ~batch() = default;
  virtual absl::Status learn(std::string_view user, std::string_view msg_id,
                             const std::vector<uint64_t>& tokens, bool is_spam) = 0;
  // Writes everything and ends the transaction. The batch is unusable afterwards.
  virtual absl::Status commit() = 0;
};

// The identity of a message for bayes_seen, as SpamAssassin's generate_msgid(): a hash of
// the To and Date headers and the body, "<hex>@sa_generated". Not the Message-ID: spamware
// reuses Message-IDs, and a reused one would make a new message look "already learned".
std::string bayes_message_id(const mail::message_text& text, std::string_view body_bytes);

// The one call the IMAP server (moves into/out of Junk) and the admin tool need: parses
// the raw message (a leading mbox "From " line is skipped), renders its text, tokenizes
// it and learns it for `user` ("" = global). Blocking.
absl::Status learn_message(bayes_store& store, std::string_view user, std::string_view message_bytes,
                           bool is_spam);
// The same inside a batch (bulk training: one transaction for many messages).
absl::Status learn_message(bayes_store::batch& batch, std::string_view user, std::string_view message_bytes,
                           bool is_spam);

}  // namespace ringmail::spam
