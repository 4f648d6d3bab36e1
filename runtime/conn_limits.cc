#include "runtime/conn_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/hash/hash.h"

namespace ringmail {

namespace {
bool is_loopback(const socket_address& a) {
  if (a.family() == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in*>(a.native())->sin_addr.s_addr) >> 24) == 127;
  }
  if (a.family() == AF_INET6) {
    const in6_addr& v6 = reinterpret_cast<const sockaddr_in6*>(a.native())->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return a.family() == AF_UNIX;
}
}  // namespace

conn_limits::conn_limits(uint32_t max_total, uint32_t max_per_client, bool exempt_loopback)
    : max_total_(max_total),
      max_per_client_(max_per_client),
      exempt_loopback_(exempt_loopback),
      per_client_(new std::atomic<uint32_t>[kSlots]) {
  for (uint32_t i = 0; i < kSlots; ++i) per_client_[i].store(0, std::memory_order_relaxed);
}

uint32_t conn_limits::slot_for(const socket_address& client) const {
  if (client.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(client.native());
    const uint8_t* b = v6->sin6_addr.s6_addr;
    // IPv4-mapped addresses count as their IPv4 address; others by their /64.
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      uint32_t v4;
      std::memcpy(&v4, b + 12, 4);
      return static_cast<uint32_t>(absl::HashOf(uint64_t{v4}) % kSlots);
    }
    uint64_t prefix;
    std::memcpy(&prefix, b, 8);
    return static_cast<uint32_t>(absl::HashOf(prefix, 6) % kSlots);
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(client.native());
  return static_cast<uint32_t>(absl::HashOf(uint64_t{v4->sin_addr.s_addr}) % kSlots);
}

std::pair<conn_limits::verdict, conn_limits::permit> conn_limits::admit(const socket_address& client) {
  uint32_t total = total_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (max_total_ != 0 && total > max_total_) {
    total_.fetch_sub(1, std::memory_order_relaxed);
    return {verdict::refused_total, permit()};
  }
  uint32_t slot = slot_for(client);
  uint32_t mine = per_client_[slot].fetch_add(1, std::memory_order_relaxed) + 1;
  if (max_per_client_ != 0 && mine > max_per_client_ && !(exempt_loopback_ && is_loopback(client))) {
    per_client_[slot].fetch_sub(1, std::memory_order_relaxed);
    total_.fetch_sub(1, std::memory_order_relaxed);
    return {verdict::refused_client, permit()};
  }
  return {verdict::admitted, permit(this, slot)};
}

void conn_limits::permit::reset() {
  if (owner_ == nullptr) return;
  owner_->per_client_[slot_].fetch_sub(1, std::memory_order_relaxed);
  owner_->total_.fetch_sub(1, std::memory_order_relaxed);
  owner_ = nullptr;
}

}  // namespace ringmail
