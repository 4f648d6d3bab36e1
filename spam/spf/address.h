// spf::address: the SMTP client's address as SPF compares it (RFC 7208 §5.6 ip4/ip6 with
// CIDR lengths, §5.3 a, §5.4 mx) and prints it (§7.3 macros i, c, v).
//
// An IPv4-mapped IPv6 address (::ffff:192.0.2.1, what a dual-stack listener reports for an
// IPv4 client) is treated as the IPv4 address: the client did connect over IPv4, and the
// domain's ip4/A terms are the ones written for it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/dns.h"

namespace ringmail::spam::spf {

struct address {
  bool v6 = false;
  // IPv4: the first 4 bytes (network order); IPv6: all 16.
  std::array<uint8_t, 16> bytes{};

  // "192.0.2.1", "2001:db8::1" (numeric only); nullopt for anything else.
  static std::optional<address> parse(std::string_view text);
  static address from_ipv4(uint32_t host_order);
  static address from_ipv6(const ipv6_bytes& b);

  // Same family and the first `prefix` bits equal.
  bool in_network(const address& network, unsigned prefix) const;
  // %{i}: dotted quad, or 32 dot-separated nibbles for IPv6 (§7.3).
  std::string macro_i() const;
  // %{c}: dotted quad, or the RFC 5952 text form.
  std::string text() const;
  // The PTR query name: "1.2.0.192.in-addr.arpa" / nibbles reversed ".ip6.arpa".
  std::string reverse_name() const;
};

}  // namespace ringmail::spam::spf
