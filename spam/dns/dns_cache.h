// dns_cache: the shard's dns_client — lookups through the shard's c-ares resolver, answers
// kept for their TTL (issue 16: "DNS answers cached per shard with their TTLs"). SPF, DKIM,
// DMARC and ARC ask for the same few names over and over (a sender domain's SPF record and
// its includes, a selector's key, _dmarc.<domain>): a busy receiver answers most of them
// from here without a packet.
//
// What is kept: positive answers for min(TTL, max_ttl), at least min_ttl (a TTL of 0 would
// make every message of a campaign ask again); NXDOMAIN and no-data for negative_ttl (RFC
// 2308 bounds negative caching by the SOA, which c-ares does not hand us). Timeouts,
// SERVFAIL and errors are never kept: the next message asks again, and its check gives
// temperror again rather than a stale failure.
//
// One per shard, used only on its thread (no lock). Bounded: past max_entries the oldest
// entry goes (insertion order; expired ones first as they are met).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "runtime/dns.h"
#include "spam/dns/dns_client.h"

namespace ringmail::spam {

struct dns_cache_options {
  size_t max_entries = 20000;
  std::chrono::seconds min_ttl{30};
  std::chrono::seconds max_ttl{3600};
  std::chrono::seconds negative_ttl{300};
};

struct dns_cache_stats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
};

class dns_cache final : public dns_client {
 public:
  using clock = std::chrono::steady_clock;

  // `resolver` must outlive the cache.
  dns_cache(dns_resolver& resolver, dns_cache_options options = {});

  task<dns_answer> lookup(dns_type type, std::string name) override;

  const dns_cache_stats& stats() const { return stats_; }
  size_t size() const { return entries_.size(); }
  // For tests: pretend this much time has passed (expiry is checked against now + skew).
  void advance_clock_for_testing(std::chrono::seconds by) { skew_ += by; }

 private:
  struct entry {
    dns_answer answer;
    clock::time_point expires;
  };
  using key = std::pair<dns_type, std::string>;

  clock::time_point now() const { return clock::now() + skew_; }
  task<dns_answer> ask(dns_type type, std::string name);
  void remember(key k, const dns_answer& answer);

  dns_resolver& resolver_;
  dns_cache_options options_;
  absl::flat_hash_map<key, entry> entries_;
  std::deque<key> order_;  // insertion order, for eviction (may hold keys already gone)
  dns_cache_stats stats_;
  clock::duration skew_{};
};

}  // namespace ringmail::spam
