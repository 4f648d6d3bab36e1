#include "delivery/directory/cache.h"

#include <functional>
#include <utility>

namespace ringmail::directory {
namespace {

bool is_positive(bool v) { return v; }
bool is_positive(const std::optional<user_record>& v) { return v.has_value(); }
bool is_positive(const std::vector<std::string>& v) { return !v.empty(); }

}  // namespace

cached_source::cached_source(source& inner, cache_options options, clock_fn clock)
    : inner_(inner), options_(options), clock_(clock ? std::move(clock) : clock_fn(&std::chrono::steady_clock::now)) {}

task<absl::StatusOr<bool>> cached_source::has_domain(std::string domain) {
  return lookup(domains_, kind::domain, std::move(domain), &source::has_domain);
}

task<absl::StatusOr<std::optional<user_record>>> cached_source::find_user(std::string email) {
  return lookup(users_, kind::user, std::move(email), &source::find_user);
}

task<absl::StatusOr<std::vector<std::string>>> cached_source::alias_destinations(std::string key) {
  return lookup(aliases_, kind::alias, std::move(key), &source::alias_destinations);
}

task<absl::StatusOr<std::vector<std::string>>> cached_source::alias_sources_for(std::string destination) {
  return lookup(senders_, kind::sender, std::move(destination), &source::alias_sources_for);
}

template <typename T>
task<absl::StatusOr<T>> cached_source::lookup(table<T>& t, kind which, std::string key,
                                              task<absl::StatusOr<T>> (source::*fetch)(std::string)) {
  if (auto it = t.find(key); it != t.end()) {
    if (clock_() < it->second.expires) {
      ++hits_;
      co_return it->second.value;
    }
    t.erase(it);  // its fifo item goes stale
    --size_;
  }
  ++misses_;
  uint64_t generation = generation_;
  absl::StatusOr<T> answer = co_await std::invoke(fetch, inner_, key);
  // No iterator is held across the co_await: other coroutines of this shard may have
  // changed the tables meanwhile.
  if (answer.ok() && generation == generation_) insert(t, which, std::move(key), *answer, is_positive(*answer));
  co_return answer;
}

template <typename T>
void cached_source::insert(table<T>& t, kind which, std::string key, const T& value, bool positive) {
  std::chrono::seconds ttl = positive ? options_.positive_ttl : options_.negative_ttl;
  if (ttl.count() <= 0 || options_.max_entries == 0) return;
  uint64_t seq = ++next_seq_;
  auto [it, inserted] = t.try_emplace(key);
  it->second.value = value;
  it->second.expires = clock_() + ttl;
  it->second.seq = seq;
  if (inserted) ++size_;
  fifo_.push_back(fifo_item{which, std::move(key), seq});
  while (size_ > options_.max_entries) evict_one();
  if (fifo_.size() > 2 * options_.max_entries + 64) compact_fifo();
}

template <typename T>
bool cached_source::erase_if_current(table<T>& t, const std::string& key, uint64_t seq) {
  auto it = t.find(key);
  if (it == t.end() || it->second.seq != seq) return false;
  t.erase(it);
  return true;
}

bool cached_source::erase_item(const fifo_item& item) {
  switch (item.which) {
    case kind::domain: return erase_if_current(domains_, item.key, item.seq);
    case kind::user: return erase_if_current(users_, item.key, item.seq);
    case kind::alias: return erase_if_current(aliases_, item.key, item.seq);
    case kind::sender: return erase_if_current(senders_, item.key, item.seq);
  }
  return false;
}

void cached_source::evict_one() {
  while (!fifo_.empty()) {
    fifo_item item = std::move(fifo_.front());
    fifo_.pop_front();
    if (erase_item(item)) {
      --size_;
      ++evictions_;
      return;
    }
  }
}

void cached_source::compact_fifo() {
  auto live = [&](const fifo_item& item) {
    auto check = [&](const auto& t) {
      auto it = t.find(item.key);
      return it != t.end() && it->second.seq == item.seq;
    };
    switch (item.which) {
      case kind::domain: return check(domains_);
      case kind::user: return check(users_);
      case kind::alias: return check(aliases_);
      case kind::sender: return check(senders_);
    }
    return false;
  };
  std::deque<fifo_item> kept;
  for (fifo_item& item : fifo_) {
    if (live(item)) kept.push_back(std::move(item));
  }
  fifo_ = std::move(kept);
}

cache_stats cached_source::stats() const { return cache_stats{hits_, misses_, evictions_, size_}; }

void cached_source::invalidate_all() {
  domains_.clear();
  users_.clear();
  aliases_.clear();
  senders_.clear();
  fifo_.clear();
  size_ = 0;
  ++generation_;
}

}  // namespace ringmail::directory
