// fake_dns_server: a tiny authoritative DNS server on 127.0.0.1 for tests (never the
// network). UDP only, one thread with poll() and a stop flag. It answers A, AAAA, MX,
// TXT, PTR and CNAME queries from a table (a name with a CNAME answers other types with the
// CNAME followed by the target's records, one level deep, as a recursive server would), NXDOMAIN for unknown names, NODATA for known names without a
// record of the asked type, and can be told to drop queries (timeout tests) or answer
// with an error RCODE. Messages are encoded by hand (RFC 1035 §4.1): header, the
// question echoed, answer RRs whose owner is a compression pointer to the question name.
//
// Thread-safety: configure before or while serving; the table is guarded by a mutex
// (tests only: nothing here is a hot path).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ringmail::testing {

class fake_dns_server {
 public:
  // Binds 127.0.0.1 on an ephemeral port and starts serving. Aborts the test binary if
  // the socket cannot be set up (loopback is always there).
  fake_dns_server();
  ~fake_dns_server();  // stops and joins within one poll interval
  fake_dns_server(const fake_dns_server&) = delete;
  fake_dns_server& operator=(const fake_dns_server&) = delete;

  uint16_t port() const { return port_; }
  // "127.0.0.1:<port>", the form dns_options::servers takes.
  std::string address() const;

  // Names are matched case-insensitively, with or without a trailing dot.
  void add_a(std::string_view name, std::string_view ipv4);
  void add_txt(std::string_view name, std::string_view text);
  void add_aaaa(std::string_view name, std::string_view ipv6);
  // exchange "." (or "") is the root: a null MX (RFC 7505).
  void add_mx(std::string_view name, uint16_t preference, std::string_view exchange);
  void add_cname(std::string_view name, std::string_view target);
  void add_ptr(std::string_view name, std::string_view target);  // every answer's TTL is 60
  void drop(std::string_view name);                  // never answer: the client times out
  void fail(std::string_view name, uint8_t rcode);   // 2 SERVFAIL, 5 REFUSED, …

  size_t queries() const { return queries_.load(); }
  size_t queries_for(std::string_view name) const;

  // The reply to one query datagram, or nothing (malformed, not a query, or dropped).
  // Public so a test can check the encoding without a socket.
  std::optional<std::vector<uint8_t>> reply_to(std::span<const uint8_t> query);

 private:
  struct record {
    uint16_t type;
    std::vector<uint8_t> rdata;
  };
  void serve();

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> queries_{0};
  mutable std::mutex mu_;
  std::map<std::string, std::vector<record>> records_;
  std::set<std::string> dropped_;
  std::map<std::string, uint8_t> failing_;
  std::map<std::string, size_t> seen_;
  std::thread thread_;
};

}  // namespace ringmail::testing
