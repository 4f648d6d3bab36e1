// Greylisting (RFC 6647): the first delivery attempt of an unknown (client network,
// sender, recipient) triplet is deferred with 451 4.7.1; a retry after `delay` and
// within `retry_window` passes the triplet, which stays known for `pass_ttl` (postgrey's
// defaults: 5 minutes, 2 days, 35 days). Clients are grouped by IPv4 /24 and IPv6 /64,
// as postgrey does, since big senders retry from another host of the same pool.
//
// Threading: one greylist_table per shard, holding the triplets whose key hashes to that
// shard (owner_shard): the SMTP session asks the owner with on_shard(). Memory is bounded
// by max_entries; the oldest entries go first. State is in memory only: a restart forgets
// pending triplets (their senders retry once more).
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

class greylist_table {
 public:
  using clock = std::chrono::system_clock;
  explicit greylist_table(greylist_options options = {}) : options_(options) {}

  // True: pass. False: defer (first sight, or retried too early / too late).
  bool check(const std::string& key, clock::time_point now);
  size_t size() const { return entries_.size(); }

 private:
  struct entry {
    clock::time_point first_seen;
    clock::time_point last_seen;
    bool passed = false;
  };
  void evict(clock::time_point now);
  greylist_options options_;
  absl::flat_hash_map<std::string, entry> entries_;
};

}  // namespace ringmail::spam
