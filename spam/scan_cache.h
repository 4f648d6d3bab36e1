// A per-shard cache of scan work for messages seen before (issue 15): a campaign or a
// newsletter reaches many users with the same body, and smtp-source-like senders repeat
// whole messages. Two kinds of entry, each keyed by a SHA-256 of exactly what the cached
// work read, so that a hit gives what a fresh scan would:
//   message  the whole message as scan() got it -> the rule hits after matching and the
//            evals, and the Bayes tokens. Only byte-identical messages share it (the
//            relay metadata and every target are functions of the bytes and the rules).
//   body     the body, rawbody and uri scan targets (mail::message_text body after its
//            first line, raw_body, uris) -> the hits of the body, rawbody and uri rules
//            there, the costliest part of matching. The body target's first line is the
//            Subject (SpamAssassin's body text starts with it), which campaigns
//            personalise and load generators number: it is matched fresh and its counts
//            added (scan_context::match_rules). Copies of a campaign that differ only in
//            Received, Message-Id, Date, To, Subject ... share an entry; their header and
//            full rules and the evals still run.
// Bayes is never cached: the check_bayes rules, the metas and the score are computed per
// scan from the scanning engine's own model, so a per-user model gives that user's verdict.
//
// Entries belong to one compiled rule set: bind() empties the cache when it sees another
// (a reload). Bounded: the entries' bytes plus the index never exceed max_bytes; the least
// recently used go first. Not thread-safe: one per shard (no lock on the hot path).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "mail/message_text.h"
#include "spam/match/matcher.h"
#include "spam/rules/rule.h"

namespace ringmail::spam {

// (rule index, hit count) of the rules that hit: a few dozen, against thousands of rules.
using sparse_hits = std::vector<std::pair<uint32_t, uint32_t>>;

// The regex rules whose hits depend on the body targets alone (body, rawbody, uri).
std::vector<uint32_t> body_target_rules(const rule_set& rules);

class scan_cache {
 public:
  using digest = std::array<uint8_t, 32>;

  struct message_entry {
    sparse_hits hits;              // after matching and the evals; no check_bayes, no metas
    std::vector<uint64_t> tokens;  // bayes_tokens of the message, when has_tokens
    bool has_tokens = false;       // a scan without Bayes (nor rescoring) skips tokenizing
    bool truncated = false;
  };

  struct counters {
    uint64_t message_hits = 0;
    uint64_t body_hits = 0;
    uint64_t misses = 0;      // scans that found neither
    uint64_t evictions = 0;
    uint64_t clears = 0;      // rule set changes
  };

  // 0: disabled (enabled() is false and nothing is kept).
  explicit scan_cache(size_t max_bytes);
  ~scan_cache();
  scan_cache(const scan_cache&) = delete;
  scan_cache& operator=(const scan_cache&) = delete;

  bool enabled() const { return max_bytes_ > 0; }
  // Forgets every entry unless they came from `rules` (the same live compiled rule set:
  // engines made by spam_engine::with_bayes share theirs, so their scans share entries).
  void bind(const std::shared_ptr<const compiled_rules>& rules);

  digest message_key(std::string_view message);
  // `rest_of_body`: text.body after its first line.
  digest body_key(std::string_view rest_of_body, const mail::message_text& text);

  // The entry under `key` (made most recently used), or nullptr. Valid until the next put.
  // A put under a key already there replaces its entry.
  // `need_tokens`: an entry without them (from a scan without Bayes) does not count.
  const message_entry* find_message(const digest& key, bool need_tokens);
  const sparse_hits* find_body(const digest& key);
  void put_message(const digest& key, message_entry entry);
  void put_body(const digest& key, sparse_hits hits);
  // A scan that used neither kind of entry (for the counters).
  void note_miss() { ++counters_.misses; }

  size_t bytes() const;  // what the entries and the index take now
  size_t max_bytes() const { return max_bytes_; }
  size_t entries() const { return lru_.size(); }
  const counters& stats() const { return counters_; }

 private:
  struct node {
    digest key;
    bool is_message = false;
    message_entry entry;  // body entries use entry.hits only
    size_t bytes = 0;
  };
  void put(node n);
  node* find(const digest& key, bool is_message);
  void evict_to(size_t limit);
  void clear();
  size_t index_bytes() const;

  size_t max_bytes_;
  size_t entry_bytes_ = 0;
  std::list<node> lru_;  // most recently used first
  struct digest_hash {
    size_t operator()(const digest& d) const;
  };
  absl::flat_hash_map<digest, std::list<node>::iterator, digest_hash> index_;
  std::weak_ptr<const compiled_rules> rules_;
  const compiled_rules* rules_address_ = nullptr;
  struct hasher;
  std::unique_ptr<hasher> hasher_;
  counters counters_;
};

}  // namespace ringmail::spam
