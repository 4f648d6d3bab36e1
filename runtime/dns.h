// dns_resolver: asynchronous DNS lookups on a shard, c-ares driven by the shard's ring.
//
// c-ares does the protocol (query encoding, retries, server rotation, TCP fallback on
// truncation, reply parsing); we only tell it when its sockets are ready. Its sockets are
// registered in a private epoll set (ARES_OPT_SOCK_STATE_CB keeps that set in step with
// what c-ares wants to watch), and one driver coroutine per resolver awaits readiness of
// the epoll fd through the ring (wait_ready) with a deadline taken from ares_timeout(),
// then calls ares_process_fd. The driver runs only while queries are pending; an idle
// resolver costs no ring operation.
//
// Threading: one resolver per shard, created, used and destroyed on that shard's thread.
// Nothing here blocks after construction: create() reads /etc/resolv.conf once (a small
// local file, at start-up), queries never touch /etc/hosts (ares_query, not
// ares_gethostbyname).
//
// Lifetimes: a finished lookup does not resume its coroutine from inside c-ares. The
// c-ares callback stores the answer and posts a ring NOP; the waiter is resumed when that
// completes, like any other I/O. So user code never runs inside ares_process_fd (where
// destroying the resolver would free the channel under c-ares' feet), and a waiter whose
// coroutine is destroyed meanwhile simply orphans the NOP (io_op.h). Destroying the
// resolver with lookups pending completes them with dns_status::shutdown: their
// coroutines are resumed later by the ring and must not touch the resolver again.
// The resolver must be destroyed before its reactor.
#pragma once

#include <array>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/reactor.h"
#include "runtime/task.h"

struct ares_channeldata;

namespace ringmail {

struct dns_options {
  // "127.0.0.1:5353,[::1]:53,192.0.2.1" (ares_set_servers_ports_csv syntax). Empty: the
  // nameservers of /etc/resolv.conf (or 127.0.0.1:53 when it names none).
  std::string servers;
  // Time each server gets on the first try; c-ares doubles it for later rounds.
  std::chrono::milliseconds timeout{2000};
  // Rounds over the server list before a lookup reports dns_status::timeout.
  int tries = 2;
};

enum class dns_status {
  ok,        // answered with at least one record of the asked type
  nxdomain,  // RCODE 3: the name does not exist (RFC 1035 §4.1.1)
  no_data,   // the name exists but has no record of this type (RFC 2308 §2.2)
  timeout,   // no server answered in time, after every try
  // No server gave a usable answer: SERVFAIL or REFUSED from each, or none reachable
  // (ICMP unreachable). c-ares 1.18 reports all of these as ARES_ECONNREFUSED once every
  // server was tried; ares_code tells them apart where c-ares does (ARES_ESERVFAIL, …).
  servfail,
  error,     // anything else: bad name, malformed reply, out of memory
  shutdown,  // the resolver was destroyed before the lookup finished
};
std::string_view to_string(dns_status s);

// One MX record (RFC 1035 §3.3.9). The exchange is as c-ares expands it: without the
// trailing dot, and "" for the root name "." (a null MX, RFC 7505).
struct dns_mx {
  uint16_t preference = 0;
  std::string exchange;

  bool operator==(const dns_mx&) const = default;
};

using ipv6_bytes = std::array<uint8_t, 16>;  // network order, as in the AAAA RDATA

struct dns_answer {
  dns_status status = dns_status::error;
  // A lookups: IPv4 addresses in host byte order (127.0.0.2 == 0x7f000002), in the
  // order of the reply (CNAME chains are followed by c-ares).
  std::vector<uint32_t> addresses;
  // TXT lookups: one string per TXT record, its character-strings concatenated
  // (RFC 7208 §3.3 joins them the same way).
  std::vector<std::string> texts;
  // MX lookups: the records in reply order (sorting by preference is the caller's job:
  // RFC 5321 §5.1 also wants equal preferences shuffled, which is policy, not DNS).
  std::vector<dns_mx> mx;
  // AAAA lookups: IPv6 addresses in reply order (CNAME chains followed by c-ares).
  std::vector<ipv6_bytes> addresses6;
  // PTR lookups: the target names, without the trailing dot.
  std::vector<std::string> names;
  // The smallest TTL among the answer's records, in seconds (how long the answer may be
  // cached); 0 when the reply had no answer records (NXDOMAIN, no data).
  uint32_t ttl = 0;
  int ares_code = 0;  // the c-ares status, for logs (ares_strerror)

  bool ok() const { return status == dns_status::ok; }
};

// "127.0.0.2" from a host-order address.
std::string ipv4_to_string(uint32_t address);
// "2001:db8::1" (RFC 5952 form, inet_ntop).
std::string ipv6_to_string(const ipv6_bytes& address);

class dns_resolver {
 public:
  // Must run on the shard thread that owns `r`. Fails on a malformed server list or when
  // c-ares cannot set up (no memory, unreadable resolv.conf).
  static absl::StatusOr<std::unique_ptr<dns_resolver>> create(reactor& r, const dns_options& options);
  ~dns_resolver();
  dns_resolver(const dns_resolver&) = delete;
  dns_resolver& operator=(const dns_resolver&) = delete;

  // The name is queried as given (ares_query: no search-list suffixes, which would turn a
  // DNSBL name into a lookup under the local domain). A trailing dot is allowed.
  task<dns_answer> query_a(std::string name);
  task<dns_answer> query_txt(std::string name);
  task<dns_answer> query_aaaa(std::string name);
  task<dns_answer> query_mx(std::string name);
  // "4.3.2.1.in-addr.arpa" / nibbles ".ip6.arpa" -> names (SPF's ptr mechanism and %{p}).
  task<dns_answer> query_ptr(std::string name);

  // Lookups started and not yet answered (including those whose waiter went away).
  size_t pending() const { return pending_; }

 private:
  class lookup;
  struct lookup_record;

  dns_resolver(reactor& r, int epoll_fd);
  task<dns_answer> query(std::string name, int type);
  void start(const std::string& name, int type, lookup_record* record);
  task<void> drive();
  void process_ready_sockets();
  void wake_driver_if_late();

  static void on_socket_state(void* self, int fd, int readable, int writable);
  static void on_reply(void* record, int status, int timeouts, unsigned char* reply, int length);

  reactor& reactor_;
  ares_channeldata* channel_ = nullptr;
  int epoll_fd_ = -1;
  size_t pending_ = 0;

  // The driver, started on the first pending lookup; its frame stays (finished) until
  // the next start or our destruction.
  task<void> driver_;
  bool driver_waiting_ = false;
  // While the driver waits: when its deadline fires, and the handle that cuts the wait
  // short (a new lookup whose first timeout is sooner than that deadline).
  std::chrono::steady_clock::time_point wait_until_{};
  cancel_source* wake_ = nullptr;
};

}  // namespace ringmail
