#include "spam/dns/dns_cache.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace ringmail::spam {

dns_cache::dns_cache(dns_resolver& resolver, dns_cache_options options) : resolver_(resolver), options_(options) {}

task<dns_answer> dns_cache::lookup(dns_type type, std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  std::string lowered = absl::AsciiStrToLower(name);
  key k(type, lowered);
  if (auto it = entries_.find(k); it != entries_.end()) {
    if (it->second.expires > now()) {
      ++stats_.hits;
      co_return it->second.answer;
    }
    entries_.erase(it);
  }
  ++stats_.misses;
  auto pending = ask(type, std::move(lowered));
  dns_answer answer = co_await std::move(pending);
  remember(std::move(k), answer);
  co_return answer;
}

task<dns_answer> dns_cache::ask(dns_type type, std::string name) {
  switch (type) {
    case dns_type::a: return resolver_.query_a(std::move(name));
    case dns_type::aaaa: return resolver_.query_aaaa(std::move(name));
    case dns_type::mx: return resolver_.query_mx(std::move(name));
    case dns_type::txt: return resolver_.query_txt(std::move(name));
    case dns_type::ptr: return resolver_.query_ptr(std::move(name));
  }
  return resolver_.query_txt(std::move(name));
}

void dns_cache::remember(key k, const dns_answer& answer) {
  std::chrono::seconds ttl;
  switch (answer.status) {
    case dns_status::ok:
      ttl = std::clamp(std::chrono::seconds(answer.ttl), options_.min_ttl, options_.max_ttl);
      break;
    case dns_status::nxdomain:
    case dns_status::no_data: ttl = options_.negative_ttl; break;
    default: return;  // timeouts and failures: ask again next time
  }
  if (options_.max_entries == 0 || ttl.count() <= 0) return;
  while (entries_.size() >= options_.max_entries && !order_.empty()) {
    // The oldest insertion goes; a key already replaced or expired-and-erased is skipped.
    if (entries_.erase(order_.front()) > 0) ++stats_.evictions;
    order_.pop_front();
  }
  order_.push_back(k);
  entries_.insert_or_assign(std::move(k), entry{answer, now() + ttl});
  // order_ may hold keys of entries already gone; keep it from growing without bound.
  if (order_.size() > 2 * options_.max_entries + 16) {
    std::deque<key> live;
    for (auto& o : order_) {
      if (entries_.contains(o)) live.push_back(std::move(o));
    }
    order_ = std::move(live);
  }
}

}  // namespace ringmail::spam
