// header_cache: the header blocks of messages a shard's IMAP sessions searched lately.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace ringmail::imap {

// Header blocks of messages this shard searched lately (least recently used out first),
// so a SEARCH SUBJECT/FROM/HEADER over a folder reads each file once, not once per
// search: Dovecot does the same by adding the header fields a search used to its
// dovecot.index.cache. Kept in memory only, one per shard (imap::shard_context owns it;
// message files may be read from any shard). The key is the user, the folder
// and the file's base name (without the ":2,<flags>" part that flag changes rename), and
// a file's bytes never change once named (mailbox.h), so an entry cannot go stale: an
// expunged message's entry is never asked for again and ages out.
class header_cache {
 public:
  static constexpr size_t kMaxBytes = 16u << 20;  // per shard

  const std::string* find(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return &it->second->second;
  }

  void put(std::string key, std::string headers) {
    const size_t cost = key.size() + headers.size() + 64;
    if (cost > kMaxBytes / 16 || index_.contains(key)) return;
    while (!lru_.empty() && bytes_ + cost > kMaxBytes) {
      auto& [k, v] = lru_.back();
      bytes_ -= k.size() + v.size() + 64;
      index_.erase(k);
      lru_.pop_back();
    }
    lru_.emplace_front(std::move(key), std::move(headers));
    index_.emplace(lru_.front().first, lru_.begin());
    bytes_ += cost;
  }

 private:
  std::list<std::pair<std::string, std::string>> lru_;
  absl::flat_hash_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index_;
  size_t bytes_ = 0;
};

}  // namespace ringmail::imap
