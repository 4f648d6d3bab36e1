// Greylisting (RFC 6647): the first delivery attempt of an unknown (client network,
// sender, recipient) triplet is deferred with 451 4.7.1; a retry after `delay` and
// within `retry_window` passes the triplet, which stays known for `pass_ttl` (postgrey's
// defaults: 5 minutes, 2 days, 35 days). Clients are grouped by IPv4 /24 and IPv6 /64,
// as postgrey does, since big senders retry from another host of the same pool.
//
// Threading: one greylist_table per shard, holding the triplets whose key hashes to that
// shard (owner_shard): the SMTP session asks the owner with on_shard(). Memory is bounded
// by max_entries; the oldest entries go first.
//
// Persistence: every change check() makes is journalled by the caller (greylist_journal.h)
// to <data_dir>/greylist/shard-N.log and the files are read back at start-up
// (greylist_store.h), so a restart keeps pending and passed triplets. The journal is
// flushed about once a second without fsync: a crash may lose the last second of changes
// (those senders are deferred once more), which greylisting tolerates by design.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace ringmail::spam {

struct greylist_options {
  std::chrono::seconds delay{300};
  std::chrono::seconds retry_window{std::chrono::hours(48)};
  std::chrono::seconds pass_ttl{std::chrono::hours(24 * 35)};
  size_t max_entries = 1'000'000;
};

// The table key: "<network>/<sender>/<recipient>", lower-cased.
std::string greylist_key(std::string_view client_ip, std::string_view sender, std::string_view recipient);

struct greylist_entry {
  std::chrono::system_clock::time_point first_seen;
  std::chrono::system_clock::time_point last_seen;
  bool passed = false;
};

// Whether `e` is forgotten at `now`: passed and unused for pass_ttl, or pending and not
// retried within retry_window. Eviction and the start-up load drop the same entries.
bool greylist_expired(const greylist_entry& e, std::chrono::system_clock::time_point now,
                      const greylist_options& options);

class greylist_table {
 public:
  using clock = std::chrono::system_clock;
  explicit greylist_table(greylist_options options = {}) : options_(options) {}

  // True: pass. False: defer (first sight, or retried too early / too late).
  bool check(const std::string& key, clock::time_point now);
  // The entry check() left for `key` (for the journal); null if there is none.
  const greylist_entry* find(const std::string& key) const;
  // Puts back an entry read from the journal at start-up (replacing any with that key).
  void restore(std::string key, const greylist_entry& e);
  size_t size() const { return entries_.size(); }

 private:
  using entry = greylist_entry;
  void evict(clock::time_point now);
  greylist_options options_;
  absl::flat_hash_map<std::string, entry> entries_;
};

}  // namespace ringmail::spam
