#include "spam/greylist.h"

#include <arpa/inet.h>

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ringmail::spam {

namespace {

// The client's network: IPv4 /24, IPv6 /64 (postgrey's --lookup-by-subnet).
std::string client_network(std::string_view ip) {
  std::string s(ip);
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    const auto* b = reinterpret_cast<const unsigned char*>(&v4.s_addr);
    return absl::StrCat(b[0], ".", b[1], ".", b[2], ".0/24");
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      return absl::StrCat(v6.s6_addr[12], ".", v6.s6_addr[13], ".", v6.s6_addr[14], ".0/24");
    }
    for (int i = 8; i < 16; ++i) v6.s6_addr[i] = 0;
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, &v6, buf, sizeof buf);
    return absl::StrCat(buf, "/64");
  }
  return s;  // not an address (a Unix socket peer): the whole string
}

}  // namespace

std::string greylist_key(std::string_view client_ip, std::string_view sender, std::string_view recipient) {
  return absl::AsciiStrToLower(absl::StrCat(client_network(client_ip), "/", std::string(sender), "/", std::string(recipient)));
}

bool greylist_expired(const greylist_entry& e, std::chrono::system_clock::time_point now,
                      const greylist_options& options) {
  return e.passed ? now - e.last_seen > options.pass_ttl : now - e.first_seen > options.retry_window;
}

const greylist_entry* greylist_table::find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

void greylist_table::restore(std::string key, const greylist_entry& e) { entries_.insert_or_assign(std::move(key), e); }

bool greylist_table::check(const std::string& key, clock::time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= options_.max_entries) evict(now);
    entries_.emplace(key, entry{now, now, false});
    return false;
  }
  entry& e = it->second;
  if (e.passed) {
    if (now - e.last_seen <= options_.pass_ttl) {
      e.last_seen = now;
      return true;
    }
    e = entry{now, now, false};  // forgotten: starts over
    return false;
  }
  const auto waited = now - e.first_seen;
  if (waited < options_.delay) {
    e.last_seen = now;
    return false;  // retried too early: the clock does not restart (postgrey)
  }
  if (waited > options_.retry_window) {
    e = entry{now, now, false};  // retried too late: a new first sight
    return false;
  }
  e.passed = true;
  e.last_seen = now;
  return true;
}

void greylist_table::evict(clock::time_point now) {
  // Drop expired entries; if that frees too little, drop the oldest half. Linear, but it
  // runs once per max_entries/2 insertions, so the cost per insertion stays constant.
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (greylist_expired(it->second, now, options_)) {
      entries_.erase(it++);
    } else {
      ++it;
    }
  }
  if (entries_.size() < options_.max_entries) return;
  std::vector<clock::time_point> ages;
  ages.reserve(entries_.size());
  for (const auto& [k, e] : entries_) ages.push_back(e.last_seen);
  auto middle = ages.begin() + static_cast<long>(ages.size() / 2);
  std::nth_element(ages.begin(), middle, ages.end());
  const clock::time_point cutoff = *middle;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.last_seen <= cutoff) {
      entries_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace ringmail::spam
