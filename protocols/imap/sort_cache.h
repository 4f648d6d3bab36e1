// sort_cache: the SORT/THREAD values (sort.h sort_facts) of messages a shard's IMAP
// sessions sorted or threaded lately, so a warm SORT or THREAD of a big folder reads no
// file and parses no header: Dovecot keeps the same values (sort dates, base subjects,
// first addresses, message-ids) in its dovecot.index.cache for the same reason.
//
// One per shard (imap::shard_context owns a pointer; tools/ringmail/mail_services.cc
// makes it), memory only. The key is the user, the folder and the file's base name, as in
// header_cache.h: a message file's bytes never change once named, so an entry cannot go
// stale (an expunged message's entry is never asked for again and ages out). Entries hold
// every value (fill_sort_facts with all needs), so one SORT warms every key and THREAD.
// Least recently used out first, bounded by an estimate of the bytes held.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "protocols/imap/sort.h"

namespace ringmail::imap {

class sort_cache {
 public:
  // 100,000 messages of a typical folder take about 40 MB.
  static constexpr size_t kMaxBytes = 96u << 20;

  const sort_facts* find(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return &it->second->second;
  }

  void put(std::string key, sort_facts facts) {
    const size_t cost = cost_of(key, facts);
    if (cost > kMaxBytes / 16 || index_.contains(key)) return;
    while (!lru_.empty() && bytes_ + cost > kMaxBytes) {
      auto& [k, v] = lru_.back();
      bytes_ -= cost_of(k, v);
      index_.erase(k);
      lru_.pop_back();
    }
    lru_.emplace_front(std::move(key), std::move(facts));
    index_.emplace(lru_.front().first, lru_.begin());
    bytes_ += cost;
  }

  size_t bytes() const { return bytes_; }
  size_t size() const { return index_.size(); }

 private:
  static size_t cost_of(const std::string& key, const sort_facts& f) {
    size_t n = 2 * key.size() + sizeof(sort_facts) + 96;  // key twice (list + index), nodes
    for (const std::string* s : {&f.subject, &f.from, &f.to, &f.cc, &f.display_from, &f.display_to, &f.message_id}) {
      if (s->size() > 15) n += s->size() + 1;  // beyond the small-string buffer
    }
    for (const std::string& r : f.references) n += sizeof(std::string) + (r.size() > 15 ? r.size() + 1 : 0);
    return n;
  }

  std::list<std::pair<std::string, sort_facts>> lru_;
  absl::flat_hash_map<std::string, std::list<std::pair<std::string, sort_facts>>::iterator> index_;
  size_t bytes_ = 0;
};

}  // namespace ringmail::imap
