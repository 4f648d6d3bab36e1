// route_resolver: for a recipient domain, the ordered list of hosts and addresses the
// relay should try (issue 13, "The relay"). Resolution only; connecting is the client's.
//
// Order of decision (as Postfix's trivial-rewrite and smtp(8)):
//   1. the transport table entry for the domain (transport.h): error -> permanent failure
//      with its text, retry -> temporary failure, smtp/relay -> its next hop, or the
//      recipient domain's MX when the entry names none ("smtp:");
//   2. --relayhost, when set;
//   3. the MX records of the recipient domain (RFC 5321 §5.1, mx_plan.h).
// A next hop "[host]" is looked up as A/AAAA only; "host" through its MX records like a
// recipient domain. An address literal ("[192.0.2.1]", also a recipient domain written
// as one, RFC 5321 §4.1.3) needs no DNS.
//
// RFC 5321 §5.1 "If an empty list of MXs is returned, the address is treated as if it
// was associated with an implicit MX RR, with a preference of 0, pointing to that host."
// NXDOMAIN is a permanent failure (5.1.2), a null MX (RFC 7505) too (5.1.10); a DNS
// timeout, SERVFAIL or malformed reply is always temporary (4.4.3): a resolver having a
// bad minute must never bounce mail. Each host's A and AAAA records are looked up
// concurrently; a host without addresses is dropped (and reported); no host with an
// address left is 5.4.4 when every lookup said so authoritatively, 4.4.3 otherwise.
// When our own name is the best MX (after the loop rule nothing is left) the mail loops:
// 5.4.6, as Postfix's "mail for X loops back to myself".
// Choice: every failure while resolving a configured next hop (relayhost or a transport
// entry's host) is temporary: the fault is in our configuration, which an administrator
// can fix before the queue lifetime runs out, not in the recipient's domain.
//
// Threading: one resolver per shard, on that shard's thread, beside its dns_resolver.
// No DNS cache here (TTLs are in dns_answer for the one the relay will add).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "delivery/relay/mx_plan.h"
#include "delivery/relay/transport.h"
#include "runtime/dns.h"
#include "runtime/net.h"
#include "runtime/task.h"

namespace ringmail::relay {

enum class route_status {
  ok,         // hosts has at least one host with at least one address
  temporary,  // defer: try again later (4.x.x)
  permanent,  // bounce (5.x.x)
};
std::string_view to_string(route_status s);

struct route_host {
  std::string name;         // the MX exchange or next-hop host; the address for literals
  uint16_t preference = 0;  // 0 for implicit MX and next hops without MX lookup
  bool implicit_mx = false;  // the domain itself, for want of MX records
  std::vector<socket_address> addresses;  // in the order to try, port set
};

struct route {
  route_status status = route_status::temporary;
  std::string enhanced_code;  // RFC 3463, "5.1.10"; empty when ok
  std::string reason;         // for the DSN and the log
  std::string transport = "smtp";  // the transport entry's name, for logs
  std::vector<route_host> hosts;
  // What was left out and why, for the log: "mx.example.test: address literal ...".
  std::vector<std::string> notes;
  bool loop = false;  // our own name was among the MX hosts (RFC 5321 §5.1)
  bool relayhost = false;  // the hosts are --relayhost's (its AUTH credentials apply)

  bool ok() const { return status == route_status::ok; }
};

struct route_options {
  std::string my_hostname;  // for the loop rule; empty: no loop check
  std::optional<next_hop> relayhost;
  transport_table transports;
  bool ipv4 = true;
  bool ipv6 = true;
  bool prefer_ipv6 = false;  // per host: AAAA addresses before A ones
  // The port MX hosts (and next hops written without one) are contacted on. Always 25 in
  // production; tests point it at receiving servers on a high port of 127.0.0.x.
  uint16_t smtp_port = 25;
};

class route_resolver {
 public:
  // `random` shuffles equal MX preferences; empty: a std::mt19937_64 of our own, seeded
  // once from std::random_device (one per shard: no shared state, no lock).
  route_resolver(dns_resolver& dns, route_options options, random_source random = {});
  route_resolver(const route_resolver&) = delete;
  route_resolver& operator=(const route_resolver&) = delete;

  // `domain` is the recipient domain as in the address (case and trailing dot ignored),
  // or an address literal "[192.0.2.1]" / "[IPv6:2001:db8::1]".
  task<route> resolve(std::string domain);

  const route_options& options() const { return options_; }

 private:
  // References into the caller's frame, which awaits each call at once: g++ 12 destroys
  // owning temporaries in a co_await expression twice (see runtime/offload_pool.h), so
  // nothing owning is passed by value here.
  task<route> resolve_hop(const next_hop& hop, bool configured);
  task<route> resolve_mx(const std::string& domain, uint16_t port, bool configured);
  // Looks up every host's addresses and moves the hosts that have some into `partial`.
  task<route> resolve_addresses(std::vector<route_host>& hosts, const std::string& what, uint16_t port,
                                bool configured, route& partial);

  dns_resolver& dns_;
  route_options options_;
  std::mt19937_64 engine_;
  random_source random_;
};

}  // namespace ringmail::relay
