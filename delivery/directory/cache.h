// cached_source: the per-shard directory cache (DESIGN.md "Data and durability": lookups
// are cached per shard, positive and negative, with a TTL and a size bound).
//
// Threading: NOT thread-safe, on purpose — one instance per shard, used only from that
// shard's thread, so the hot path takes no lock. Concurrent lookups of one key from
// several coroutines of the shard may each miss and each ask the inner source; the last
// answer is kept.
//
// What is cached: every definite answer — positive (a domain, a user, a non-empty alias
// list) for positive_ttl, negative (no such domain / user / alias) for negative_ttl,
// shorter so that a newly added user starts receiving mail soon. Errors, UnavailableError
// above all, are never cached: the next lookup asks again. A ttl of zero turns that half
// of the cache off. Consequence to know: a password or quota change is seen by lookups
// through the cache up to positive_ttl later unless invalidate_all() is called.
//
// Size bound: at most max_entries entries over the four tables; when full, the entry
// inserted longest ago is evicted (FIFO — with two fixed TTLs the oldest insert is also
// the first to expire). Expired entries are dropped when looked up or evicted.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "delivery/directory/source.h"
#include "runtime/task.h"

namespace ringmail::directory {

struct cache_options {
  std::chrono::seconds positive_ttl{60};
  std::chrono::seconds negative_ttl{10};
  size_t max_entries = 100000;
};

struct cache_stats {
  uint64_t hits = 0;
  uint64_t misses = 0;     // lookups that went to the inner source (including errors)
  uint64_t evictions = 0;  // live entries dropped for room (not expiries)
  size_t entries = 0;      // entries held now (some may have expired, not yet dropped)
};

class cached_source final : public source {
 public:
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;

  // `inner` must outlive this. `clock` defaults to std::chrono::steady_clock::now; tests
  // inject their own.
  explicit cached_source(source& inner, cache_options options = {}, clock_fn clock = nullptr);

  task<absl::StatusOr<bool>> has_domain(std::string domain) override;
  task<absl::StatusOr<std::optional<user_record>>> find_user(std::string email) override;
  task<absl::StatusOr<std::vector<std::string>>> alias_destinations(std::string source) override;
  task<absl::StatusOr<std::vector<std::string>>> alias_sources_for(std::string destination) override;

  cache_stats stats() const;
  // Drops every entry; answers already in flight from the inner source are not stored.
  void invalidate_all();

 private:
  using time_point = std::chrono::steady_clock::time_point;
  template <typename T>
  struct entry {
    T value;
    time_point expires;
    uint64_t seq = 0;  // matches the fifo item that inserted it
  };
  template <typename T>
  using table = absl::flat_hash_map<std::string, entry<T>>;
  enum class kind : uint8_t { domain, user, alias, sender };
  struct fifo_item {
    kind which;
    std::string key;
    uint64_t seq;
  };

  template <typename T>
  task<absl::StatusOr<T>> lookup(table<T>& t, kind which, std::string key,
                                 task<absl::StatusOr<T>> (source::*fetch)(std::string));
  template <typename T>
  void insert(table<T>& t, kind which, std::string key, const T& value, bool positive);
  template <typename T>
  bool erase_if_current(table<T>& t, const std::string& key, uint64_t seq);
  bool erase_item(const fifo_item& item);
  void evict_one();
  void compact_fifo();

  source& inner_;
  cache_options options_;
  clock_fn clock_;
  table<bool> domains_;
  table<std::optional<user_record>> users_;
  table<std::vector<std::string>> aliases_;
  table<std::vector<std::string>> senders_;
  // Insertion order, for eviction. Items whose entry was since replaced or erased are
  // stale (seq mismatch) and skipped; the deque is compacted when stale items pile up.
  std::deque<fifo_item> fifo_;
  size_t size_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t generation_ = 0;  // bumped by invalidate_all
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace ringmail::directory
