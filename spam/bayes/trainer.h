// bayes_trainer: learns message files as spam or ham for a user on the offload pool, for
// the IMAP server's "moved into / out of Junk" training (issue 10; the seed's set-up is
// Dovecot's imapsieve piping the message to `rspamc learn_spam|learn_ham`).
//
//   spam::bayes_trainer trainer(pool, [] { return bayes_store::open(path); });
//   trainer.learn("john@example.org", {"/vmail/example.org/john/Maildir/.Junk/cur/1.x:2,S"}, true);
//
// The caller (a shard) never waits: learn() appends to a bounded queue under a mutex and
// returns. At most one pool thread drains the queue at a time, a few messages per turn,
// then re-posts itself behind whatever else is queued on the pool, so a burst of training
// never takes every pool thread from password hashing. The store's own mutex serialises
// writers anyway (bayes.h), so a second drainer would only wait on it.
//
// Departures from the seed, and why:
//   - A full queue drops the request (one log line, counted) instead of growing: a user
//     moving 100,000 messages into Junk must not cost the server unbounded memory, and
//     training is advisory (the user can retrain with `ringmail-admin spam learn`).
//   - The files are read when the drainer gets to them, not when the session asked. A
//     message whose flags changed meanwhile has been renamed (Maildir keeps the base name
//     before ':'), so a missing file is looked up by its base in cur/ and new/; one that
//     was moved on or expunged is skipped with a log line.
//   - Files over `max_message_size` are skipped, as the scanner skips them
//     (--spam_max_scan_size): learning what is never classified only adds noise.
//
// After learning for a user the drainer runs the store's expiry for that user (expiry.h,
// SpamAssassin's opportunistic bayes_auto_expire): on the pool thread, never a shard's.
// The store decides from its own last_expire whether a run is due; the drainer asks it
// at most once per expiry period per user, so a busy trainer does not count a store's
// tokens after every message.
//
// Learned data goes to the store like `ringmail-admin spam learn --user=...` writes it
// (bayes_store::learn_message into that user's rows; learning a message the other way
// first unlearns it, so Junk -> INBOX moves the counts from spam to ham).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "runtime/offload_pool.h"
#include "spam/bayes/bayes.h"

namespace ringmail::spam {

struct bayes_trainer_options {
  // Messages waiting to be learned; a learn() that would exceed it is dropped whole.
  size_t max_queued = 10'000;
  // Larger files are not learned.
  uint64_t max_message_size = 10ull << 20;
  // Messages learned per pool turn before the drainer yields the thread.
  size_t per_turn = 16;
};

class bayes_trainer {
 public:
  // Opens the store on first use, on a pool thread (opening is blocking: SQLite creates
  // the file, MariaDB connects). A failed open is logged and retried with the next batch.
  using store_opener = std::function<absl::StatusOr<std::unique_ptr<bayes_store>>()>;

  bayes_trainer(offload_pool& pool, store_opener open, bayes_trainer_options options = {});
  // Blocks until the queue is drained (the pool must still be running).
  ~bayes_trainer();
  bayes_trainer(const bayes_trainer&) = delete;
  bayes_trainer& operator=(const bayes_trainer&) = delete;

  // Any thread, never blocks on I/O. Queues `paths` to be learned as spam (or ham) for
  // `user` ("" = the global store). Returns false when the queue was full and the request
  // was dropped (logged as event=spam_training_dropped).
  bool learn(const std::string& user, std::vector<std::string> paths, bool spam);

  // Blocks until everything queued so far has been handled. Tests and shutdown only.
  void wait_idle();

  struct counters {
    uint64_t learned = 0;  // messages learned (re-learning the same way is a no-op, counted)
    uint64_t skipped = 0;  // file gone, too large or unreadable
    uint64_t failed = 0;   // the store refused (or could not be opened)
    uint64_t dropped = 0;  // queue full
    uint64_t expired_tokens = 0;  // removed by expiry runs after learning
  };
  counters stats() const;

 private:
  struct item {
    std::string user;
    std::string path;
    bool spam = false;
  };
  struct drain_work : remote_work {
    bayes_trainer* owner = nullptr;
  };
  void drain();               // a pool thread
  void learn_one(const item& it);  // a pool thread, the only drainer
  void maybe_expire(const std::string& user);  // the drainer, after learning for `user`

  offload_pool& pool_;
  store_opener open_;
  bayes_trainer_options options_;
  std::unique_ptr<bayes_store> store_;  // drainer only
  // When the drainer last asked the store to expire each user (steady clock): drainer only.
  absl::flat_hash_map<std::string, std::chrono::steady_clock::time_point> expiry_asked_;

  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::deque<item> queue_;
  bool draining_ = false;  // drain_ is posted or running
  counters counters_;
  drain_work drain_;
};

}  // namespace ringmail::spam
