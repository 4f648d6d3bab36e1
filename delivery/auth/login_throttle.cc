#include "delivery/auth/login_throttle.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace ringmail::auth {

std::string client_key(const sockaddr* sa) {
  if (sa == nullptr) return "unknown";
  char buf[INET6_ADDRSTRLEN];
  switch (sa->sa_family) {
    case AF_INET: {
      sockaddr_in sin;
      std::memcpy(&sin, sa, sizeof(sin));  // the caller's storage may be unaligned for us
      if (inet_ntop(AF_INET, &sin.sin_addr, buf, sizeof(buf)) == nullptr) return "unknown";
      return buf;
    }
    case AF_INET6: {
      sockaddr_in6 sin6;
      std::memcpy(&sin6, sa, sizeof(sin6));
      // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d (RFC 4291 2.5.5.2);
      // they are IPv4 clients and must share the IPv4 key, not one /64 for all of them.
      if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
        in_addr v4;
        std::memcpy(&v4, &sin6.sin6_addr.s6_addr[12], sizeof(v4));
        if (inet_ntop(AF_INET, &v4, buf, sizeof(buf)) == nullptr) return "unknown";
        return buf;
      }
      // Keep the routing prefix and subnet id (RFC 4291 2.5.4), drop the interface id.
      std::memset(&sin6.sin6_addr.s6_addr[8], 0, 8);
      if (inet_ntop(AF_INET6, &sin6.sin6_addr, buf, sizeof(buf)) == nullptr) return "unknown";
      return std::string(buf) + "/64";
    }
    case AF_UNIX:
      return "local";
    default:
      return "unknown";
  }
}

uint32_t login_throttle::failure_table::count(const std::string& key, time_point now) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || now - it->second.last_failure >= window_) return 0;
  return it->second.failures;
}

void login_throttle::failure_table::add(const std::string& key, time_point now) {
  if (max_entries_ == 0) return;
  // Least recently failed keys are at the front; drop those whose window has passed.
  while (!order_.empty()) {
    auto oldest = entries_.find(order_.front());
    if (now - oldest->second.last_failure < window_) break;
    entries_.erase(oldest);
    order_.pop_front();
  }
  if (auto it = entries_.find(key); it != entries_.end()) {
    entry& e = it->second;
    if (e.failures < std::numeric_limits<uint32_t>::max()) ++e.failures;
    e.last_failure = now;
    order_.splice(order_.end(), order_, e.order);
    return;
  }
  // Full of live keys: a flood of addresses pushes out the one that failed longest ago,
  // which is the cheapest to forget.
  while (entries_.size() >= max_entries_) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(key);
  entries_.emplace(key, entry{1, now, std::prev(order_.end())});
}

void login_throttle::failure_table::clear(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  order_.erase(it->second.order);
  entries_.erase(it);
}

login_throttle::login_throttle(options opts)
    : opts_(opts), by_ip_(opts.window, opts.max_entries), by_account_(opts.window, opts.max_entries) {}

std::string login_throttle::account_key(std::string_view account) {
  std::string key(account);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

std::chrono::milliseconds login_throttle::delay_for(const std::string& ip_key, std::string_view account,
                                                    time_point now) const {
  uint32_t n = std::max({by_ip_.count(ip_key, now), by_account_.count(account_key(account), now), uint32_t{1}});
  std::chrono::milliseconds d = opts_.base_delay;
  if (d <= std::chrono::milliseconds::zero()) return std::chrono::milliseconds::zero();
  // Doubling stops once at the cap, so this runs at most log2(max/base) times and the
  // product never overflows.
  for (uint32_t i = 1; i < n && d < opts_.max_delay; ++i) {
    d = d > opts_.max_delay / 2 ? opts_.max_delay : d * 2;
  }
  return std::min(d, opts_.max_delay);
}

bool login_throttle::blocked(const std::string& ip_key, std::string_view account, time_point now) const {
  if (opts_.max_failures_per_ip != 0 && by_ip_.count(ip_key, now) >= opts_.max_failures_per_ip) return true;
  return opts_.max_failures_per_account != 0 &&
         by_account_.count(account_key(account), now) >= opts_.max_failures_per_account;
}

void login_throttle::record_failure(const std::string& ip_key, std::string_view account, time_point now) {
  by_ip_.add(ip_key, now);
  by_account_.add(account_key(account), now);
}

void login_throttle::record_success(const std::string& ip_key, std::string_view account) {
  (void)ip_key;  // see the header: the address keeps its count
  by_account_.clear(account_key(account));
}

}  // namespace ringmail::auth
