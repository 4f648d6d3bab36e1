// user_models: each recipient's own Bayes model for the verdict at delivery (issue 15),
// kept per shard. The SMTP/LMTP session asks find() for every local mailbox of a message;
// a user whose store has enough training (bayes_model::ready(): 200 spam and 200 ham, as
// SpamAssassin's bayes_min_spam_num / bayes_min_ham_num) gets their own verdict, others
// the global one.
//
// Loading a store is blocking (SQLite or MariaDB), so it never happens on the shard:
// find() answers from memory only and, on a miss or an entry older than `ttl`, starts a
// load on the offload pool and returns what it has (nullptr on a miss). The decision,
// against waiting for the load with a timeout: the 250 is never delayed by a store read;
// the cost is that the first message to a user after a start (or after their entry was
// evicted) gets the global verdict while the cache warms. A stale entry keeps serving
// until its reload lands, so a trained user's verdicts stay per user across refreshes.
// Training (IMAP Junk moves, `ringmail-admin spam learn --user`) reaches verdicts within
// `ttl`: the store has no change notification to subscribe to.
//
// Memory: whole models (every token of the user) are kept, bounded by `max_bytes` per
// shard (least recently used out first); a model larger than the bound is not kept and
// that user gets the global verdict. Users with too little training cost one small
// entry (remembered for `ttl` too, so they are not reloaded for every message).
//
// Threading: find() and stats() on the owning shard only. The loads run on the pool and
// hand their result back to the shard (offload()); the store is opened on first load, on
// the pool, and shared by this shard's loads (bayes_store serialises them).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/offload_pool.h"
#include "spam/bayes/bayes.h"

namespace ringmail::spam {

struct user_models_options {
  std::chrono::milliseconds ttl{std::chrono::seconds(60)};  // reload an entry older than this
  size_t max_bytes = 64ull << 20;  // estimated memory of the models one shard keeps
  size_t max_loading = 4;          // loads in flight per shard; more misses wait their turn
};

class user_models {
 public:
  using clock = std::chrono::steady_clock;
  using store_opener = std::function<absl::StatusOr<std::unique_ptr<bayes_store>>()>;

  user_models(offload_pool& pool, store_opener open, user_models_options options = {});
  ~user_models();
  user_models(const user_models&) = delete;
  user_models& operator=(const user_models&) = delete;

  // `user`'s model when it is in memory and ready; nullptr otherwise (then the global
  // verdict applies). Never blocks; may start a load (see above).
  std::shared_ptr<const bayes_model> find(const std::string& user) { return find(user, clock::now()); }
  std::shared_ptr<const bayes_model> find(const std::string& user, clock::time_point now);

  struct counters {
    uint64_t hits = 0;       // answered from memory (ready or not)
    uint64_t misses = 0;     // not in memory: the global verdict was used
    uint64_t loads = 0;      // loads finished
    uint64_t failures = 0;   // loads that failed (store down): retried after ttl
    uint64_t evictions = 0;
    size_t entries = 0;
    size_t bytes = 0;
  };
  counters stats() const;

  // Estimated heap bytes of a model (its token table); for the bound.
  static size_t model_bytes(const bayes_model& model);

 private:
  struct state;
  void start_load(const std::string& user);
  // Detached: owns a reference to the state, so a load in flight may outlive the cache.
  static detail::fire_and_forget run_load(std::shared_ptr<state> s, std::string user);
  std::shared_ptr<state> state_;  // shared with loads in flight, so they may outlive us
};

}  // namespace ringmail::spam
