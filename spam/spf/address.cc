#include "spam/spf/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace ringmail::spam::spf {

std::optional<address> address::parse(std::string_view text) {
  std::string s(text);
  address a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  ipv6_bytes b{};
  if (inet_pton(AF_INET6, s.c_str(), b.data()) != 1) return std::nullopt;
  return from_ipv6(b);
}

address address::from_ipv4(uint32_t host_order) {
  address a;
  a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<uint8_t>(host_order);
  return a;
}

address address::from_ipv6(const ipv6_bytes& b) {
  static constexpr uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  address a;
  if (std::memcmp(b.data(), mapped_prefix, 12) == 0) {
    std::copy(b.begin() + 12, b.end(), a.bytes.begin());
    return a;
  }
  a.v6 = true;
  a.bytes = b;
  return a;
}

bool address::in_network(const address& network, unsigned prefix) const {
  if (v6 != network.v6) return false;
  unsigned bits = v6 ? 128 : 32;
  if (prefix > bits) prefix = bits;
  unsigned whole = prefix / 8;
  if (std::memcmp(bytes.data(), network.bytes.data(), whole) != 0) return false;
  unsigned rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (bytes[whole] & mask) == (network.bytes[whole] & mask);
}

std::string address::macro_i() const {
  if (!v6) return text();
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(63);
  for (uint8_t b : bytes) {
    if (!out.empty()) out += '.';
    out += hex[b >> 4];
    out += '.';
    out += hex[b & 15];
  }
  return out;
}

std::string address::text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::string address::reverse_name() const {
  std::string out;
  if (!v6) {
    for (int i = 3; i >= 0; --i) out += std::to_string(bytes[i]) + ".";
    return out + "in-addr.arpa";
  }
  static constexpr char hex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    out += hex[bytes[i] & 15];
    out += '.';
    out += hex[bytes[i] >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

}  // namespace ringmail::spam::spf
