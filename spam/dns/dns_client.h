// dns_client: the lookups the mail-authentication checks (SPF, DKIM, DMARC, ARC) make,
// behind one virtual call, so the same checks run over the shard's caching resolver
// (spam/dns/dns_cache.h, c-ares on the ring), over an in-memory zone (static_dns_client:
// tests, fuzz targets, offline tools), or over anything else that answers like DNS.
//
// Answers are runtime/dns.h's dns_answer: status (ok / nxdomain / no_data / timeout /
// servfail / error), and the records of the asked type. A check that must tell "no such
// record" (a void lookup, RFC 7208 §4.6.4; no DKIM key, "none") from "could not ask"
// (temperror) reads the status, never an empty list alone.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/dns.h"
#include "runtime/task.h"

namespace ringmail::spam {

enum class dns_type : uint8_t { a, aaaa, mx, txt, ptr };
std::string_view to_string(dns_type type);

class dns_client {
 public:
  virtual ~dns_client() = default;
  // `name` as the check built it, with or without a trailing dot, any letter case.
  virtual task<dns_answer> lookup(dns_type type, std::string name) = 0;
};

// A zone held in memory. Names match case-insensitively, with or without a trailing
// dot. A name with no record of any type answers NXDOMAIN; a name with records of other
// types only, no_data; set_status() forces an outcome (timeout, servfail) for one name
// and type. Not thread-safe: one per test or per checking thread.
class static_dns_client final : public dns_client {
 public:
  void add_a(std::string_view name, std::string_view ipv4);    // "192.0.2.1"
  void add_aaaa(std::string_view name, std::string_view ipv6); // "2001:db8::1"
  void add_mx(std::string_view name, uint16_t preference, std::string_view exchange);
  // One TXT record; its character-strings already joined (as dns_answer::texts holds them).
  void add_txt(std::string_view name, std::string_view text);
  void add_ptr(std::string_view name, std::string_view target);  // "1.2.0.192.in-addr.arpa" -> "mail.example.org"
  void set_status(std::string_view name, dns_type type, dns_status status);
  void set_ttl(uint32_t ttl) { ttl_ = ttl; }  // the TTL every answer reports (default 300)

  task<dns_answer> lookup(dns_type type, std::string name) override;
  dns_answer answer(dns_type type, std::string_view name) const;  // the same, synchronously

  size_t lookups() const { return lookups_; }  // lookup() calls so far
  // lookup() calls per (type, normalized name), for tests of limits and caching.
  size_t lookups_of(dns_type type, std::string_view name) const;

 private:
  struct node {
    std::vector<uint32_t> a;
    std::vector<ipv6_bytes> aaaa;
    std::vector<dns_mx> mx;
    std::vector<std::string> txt;
    std::vector<std::string> ptr;
    std::map<dns_type, dns_status> forced;
  };
  static std::string normalize(std::string_view name);
  std::map<std::string, node> nodes_;
  std::map<std::pair<dns_type, std::string>, size_t> counts_;
  size_t lookups_ = 0;
  uint32_t ttl_ = 300;
};

}  // namespace ringmail::spam
