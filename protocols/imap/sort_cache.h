// sort_cache: the SORT/THREAD values (sort.h sort_facts) of the messages a shard's IMAP
// sessions sorted or threaded lately, so a warm SORT or THREAD of a big folder reads no
// file, parses no header and copies no file name: Dovecot keeps the same values (sort
// dates, base subjects, first addresses, message-ids) in its dovecot.index.cache for the
// same reason.
//
// One per shard (imap::shard_context has a pointer; tools/ringmail/mail_services.cc
// makes it), memory only. Values are kept per folder (user and folder name) and UID: a
// UID names one message for as long as the folder's UIDVALIDITY holds (RFC 9051 2.3.1.1),
// and the message's bytes never change, so a value cannot go stale; a new UIDVALIDITY
// drops the folder's values. Values of expunged messages stay until their folder is
// dropped. Each value holds everything (fill_sort_facts with every need), so one SORT
// warms every key and THREAD. Bounded by an estimate of the bytes held: the folder used
// least recently goes first; a folder alone over the bound keeps what it has.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "protocols/imap/sort.h"

namespace ringmail::imap {

class sort_cache {
 public:
  // 100,000 messages of a typical folder take about 40 MB.
  static constexpr size_t kMaxBytes = 96u << 20;

  // Every cached message's rank by one string key (equal strings, equal ranks), made
  // when a warm SORT asks and the values changed since: Dovecot keeps such orders in its
  // index too, so a warm SORT compares numbers, not strings.
  struct rank_table {
    uint64_t version = ~uint64_t{0};
    absl::flat_hash_map<uint32_t, uint32_t> by_uid;
  };

  // Every cached message's UID in the order of one key (REVERSE or not), ties by UID
  // ascending, which is sequence order (RFC 9051 2.3.1.2: sequence numbers ascend with
  // UIDs): a warm one-key SORT is a filter of it, O(n), not a sort (sort_commands.cc).
  struct order_table {
    uint64_t version = ~uint64_t{0};
    std::vector<uint32_t> uids;
    size_t counted = 0;  // bytes of it counted in the bound
  };

  struct folder_values {
    uint32_t uid_validity = 0;
    // UID -> index into `values`: small slots, so the lookups of a 100,000-message SORT
    // stay in cache (a map of whole values was most of a warm SORT's time).
    absl::flat_hash_map<uint32_t, uint32_t> by_uid;
    std::vector<sort_facts> values;
    size_t bytes = 0;
    uint64_t last_use = 0;
    uint64_t version = 0;  // bumped by each put
    std::array<rank_table, 9> ranks;  // by sort_criterion::kind; string keys only
    std::array<order_table, 18> orders;  // by 2 * sort_criterion::kind + reverse
    // INTERNALDATE and RFC822.SIZE of messages that only an ARRIVAL or SIZE SORT saw (no
    // header values read): enough for the next such SORT to need no owner hop. Fixed
    // for a UID, as the values are.
    absl::flat_hash_map<uint32_t, std::pair<int64_t, uint64_t>> index_facts;
    // The last THREAD answered from the cache (sort_commands.cc on_thread): its response
    // holds while the candidates (sequence numbers and UIDs, in order) are the same, as a
    // UID's values never change. One per folder: a client threads its view one way.
    struct thread_memo {
      bool valid = false;
      thread_algorithm alg = thread_algorithm::references;
      bool uid = false;
      std::vector<std::pair<uint32_t, uint32_t>> candidates;  // (seq, uid)
      std::string response;
    } thread;
  };

  // The values of `folder` ("user\nname") at `uid_validity`, marked as used now.
  folder_values& folder(const std::string& folder, uint32_t uid_validity) {
    folder_values& f = folders_[folder];
    if (f.uid_validity != uid_validity) {
      bytes_ -= f.bytes;
      f = folder_values();
      f.uid_validity = uid_validity;
    }
    f.last_use = ++clock_;
    return f;
  }

  // Valid until the next put() into the same folder.
  static const sort_facts* find(const folder_values& f, uint32_t uid) {
    auto it = f.by_uid.find(uid);
    return it == f.by_uid.end() ? nullptr : &f.values[it->second];
  }

  void put(folder_values& f, uint32_t uid, sort_facts facts) {
    const size_t cost = cost_of(facts);
    while (bytes_ + cost > kMaxBytes && evict_other_than(f)) {
    }
    if (bytes_ + cost > kMaxBytes) return;
    auto [it, inserted] = f.by_uid.try_emplace(uid, static_cast<uint32_t>(f.values.size()));
    if (!inserted) return;
    f.values.push_back(std::move(facts));
    f.values.back().uid = uid;
    f.bytes += cost;
    bytes_ += cost;
    ++f.version;
  }

  // The ranks of every message of `f` by string key `k` (sort.h sort_string), made again
  // when values were added since the last time.
  static const absl::flat_hash_map<uint32_t, uint32_t>& ranks(folder_values& f, sort_criterion::kind k) {
    rank_table& t = f.ranks[static_cast<size_t>(k)];
    if (t.version == f.version) return t.by_uid;
    std::vector<std::pair<const std::string*, uint32_t>> all;
    all.reserve(f.by_uid.size());
    for (const sort_facts& v : f.values) all.emplace_back(sort_string(v, k), v.uid);
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
    t.by_uid.clear();
    t.by_uid.reserve(all.size());
    uint32_t rank = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      if (i > 0 && *all[i].first != *all[i - 1].first) ++rank;
      t.by_uid.emplace(all[i].second, rank);
    }
    t.version = f.version;
    return t.by_uid;
  }

  // Keeps a message's INTERNALDATE and size (index_facts), within the bound.
  void put_index_facts(folder_values& f, uint32_t uid, int64_t internal_date, uint64_t size) {
    constexpr size_t cost = sizeof(uint32_t) + sizeof(std::pair<int64_t, uint64_t>) + 8;
    if (bytes_ + cost > kMaxBytes) return;
    if (!f.index_facts.try_emplace(uid, internal_date, size).second) return;
    f.bytes += cost;
    bytes_ += cost;
    ++f.version;
  }

  // The UIDs of `f` in the order of key `k` (REVERSE when `reverse`), ties by UID
  // ascending: the messages with values, and for ARRIVAL and SIZE also those with index
  // facts only. Made again when values were added since the last time; its size counts
  // against the bound (it is dropped rather than kept over it, then made per command).
  const std::vector<uint32_t>& order(folder_values& f, sort_criterion::kind k, bool reverse) {
    order_table& t = f.orders[2 * static_cast<size_t>(k) + (reverse ? 1 : 0)];
    if (t.version == f.version) return t.uids;
    f.bytes -= t.counted;
    bytes_ -= t.counted;
    t.counted = 0;
    using ck = sort_criterion::kind;
    struct entry {
      uint32_t uid;
      int64_t number;  // ARRIVAL, DATE, SIZE
      const std::string* text;  // string keys
    };
    std::vector<entry> all;
    all.reserve(f.values.size() + f.index_facts.size());
    const bool numeric = sort_string(sort_facts(), k) == nullptr;
    for (const sort_facts& v : f.values) {
      int64_t n = k == ck::arrival ? v.internal_date : k == ck::date ? v.sent_date : static_cast<int64_t>(v.size);
      all.push_back({v.uid, numeric ? n : 0, numeric ? nullptr : sort_string(v, k)});
    }
    if (k == ck::arrival || k == ck::size) {
      for (const auto& [uid, facts] : f.index_facts) {
        if (f.by_uid.contains(uid)) continue;
        all.push_back({uid, k == ck::arrival ? facts.first : static_cast<int64_t>(facts.second), nullptr});
      }
    }
    std::sort(all.begin(), all.end(), [&](const entry& a, const entry& b) {
      int c = numeric ? (a.number < b.number ? -1 : (b.number < a.number ? 1 : 0)) : a.text->compare(*b.text);
      if (c != 0) return reverse ? c > 0 : c < 0;
      return a.uid < b.uid;
    });
    t.uids.clear();
    t.uids.shrink_to_fit();
    t.version = f.version;
    const size_t cost = all.size() * sizeof(uint32_t);
    if (bytes_ + cost > kMaxBytes) {
      t.version = ~uint64_t{0};  // not kept: made again next time
    } else {
      t.counted = cost;
      f.bytes += cost;
      bytes_ += cost;
    }
    t.uids.reserve(all.size());
    for (const entry& e : all) t.uids.push_back(e.uid);
    return t.uids;
  }

  // Keeps `m` as the folder's THREAD memo; what it holds counts against the bound.
  void put_thread(folder_values& f, folder_values::thread_memo m) {
    const size_t old_cost = memo_cost(f.thread);
    f.bytes -= old_cost;
    bytes_ -= old_cost;
    f.thread = folder_values::thread_memo();
    const size_t cost = memo_cost(m);
    if (bytes_ + cost > kMaxBytes) return;
    f.thread = std::move(m);
    f.thread.valid = true;
    f.bytes += cost;
    bytes_ += cost;
  }

  size_t bytes() const { return bytes_; }

 private:
  static size_t cost_of(const sort_facts& f) {
    size_t n = sizeof(sort_facts) + 2 * sizeof(uint32_t) + 8;  // the value and its index slot
    for (const std::string* s : {&f.subject, &f.from, &f.to, &f.cc, &f.display_from, &f.display_to, &f.message_id}) {
      if (s->size() > 15) n += s->size() + 1;  // beyond the small-string buffer
    }
    for (const std::string& r : f.references) n += sizeof(std::string) + (r.size() > 15 ? r.size() + 1 : 0);
    return n;
  }

  static size_t memo_cost(const folder_values::thread_memo& m) {
    return m.candidates.capacity() * sizeof(m.candidates[0]) + m.response.capacity();
  }

  // Drops the least recently used folder other than `keep`; false if there is none.
  bool evict_other_than(const folder_values& keep) {
    auto victim = folders_.end();
    for (auto it = folders_.begin(); it != folders_.end(); ++it) {
      if (&it->second == &keep) continue;
      if (victim == folders_.end() || it->second.last_use < victim->second.last_use) victim = it;
    }
    if (victim == folders_.end()) return false;
    bytes_ -= victim->second.bytes;
    folders_.erase(victim);
    return true;
  }

  // node_hash_map: a folder_values& stays valid while other folders come and go.
  absl::node_hash_map<std::string, folder_values> folders_;
  size_t bytes_ = 0;
  uint64_t clock_ = 0;
};

}  // namespace ringmail::imap
