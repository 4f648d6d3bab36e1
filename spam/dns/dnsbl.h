// DNS blocklist checks of the connecting client (RFC 5782), over the shard's resolver.
//
// A client 192.0.2.99 is looked up as 99.2.0.192.<zone> (A record); an IPv6 client as its
// 32 nibbles, least significant first (RFC 5782 §2.4). All lists are queried at once.
// Outcomes per list:
//   - an A answer with an accepted return code: listed (a hit, scored);
//   - NXDOMAIN / no A record: not listed (RFC 5782 §2.1);
//   - a timeout: not listed, counted in the report (a slow list must not block mail);
//   - 127.255.255.0/24: an error, not a listing. Spamhaus answers 127.255.255.254 to
//     queries through public resolvers, .255 for excessive queries and .252 for a
//     mistyped zone; taking those as listings would reject everybody;
//   - with no return codes configured, an address outside 127.0.0.0/8 is an error too:
//     DNSBL codes live in 127/8 (RFC 5782 §2.1), so anything else is a resolver that
//     rewrites NXDOMAIN into an advertising server's address.
// For each hit the TXT record of the same name is fetched as the reason text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/dns.h"
#include "runtime/net.h"
#include "runtime/task.h"
#include "spam/dns/dnsbl_spec.h"

namespace ringmail::spam {

// "99.2.0.192.zen.spamhaus.org", or nothing for a client that is not an IP address (a
// Unix socket) or a name longer than DNS allows (RFC 1035 §2.3.4). IPv4-mapped IPv6
// clients (a dual-stack listener) are looked up as IPv4.
std::optional<std::string> dnsbl_query_name(const socket_address& client, std::string_view zone);
// Loopback, private (RFC 1918, RFC 4193), link-local, CGNAT (RFC 6598), unspecified:
// public lists know nothing about these, so asking only leaks them.
bool is_private_address(const socket_address& client);

struct dnsbl_hit {
  std::string zone;
  std::vector<uint32_t> returned;  // every accepted code, reply order (non-empty)
  double score = 0;
  std::string reason;  // the list's TXT record, printable ASCII only; empty if none

  std::string returned_text() const;  // "127.0.0.2,127.0.0.4"
};

enum class dnsbl_outcome { listed, not_listed, timeout, error };

struct dnsbl_list_result {
  std::string zone;
  dnsbl_outcome outcome = dnsbl_outcome::not_listed;
  std::string detail;  // why, for logs: "127.255.255.254 (refused: public resolver?)", "servfail"
};

struct dnsbl_report {
  std::vector<dnsbl_hit> hits;  // in list order; the caller sums the scores
  std::vector<dnsbl_list_result> lists;  // one per list, in list order (empty if skipped)
  unsigned timeouts = 0;
  unsigned errors = 0;
  bool skipped = false;  // the client was not checked (private address, not IP)
};

struct dnsbl_check_options {
  bool fetch_reasons = true;  // one TXT lookup per hit, after the A lookups
  bool skip_private = true;   // see is_private_address
  size_t max_reason_length = 300;
};

// `client` and `lists` must stay alive until the task completes.
task<dnsbl_report> check_dnsbl_report(dns_resolver& resolver, const socket_address& client,
                                      const std::vector<dnsbl_list>& lists, dnsbl_check_options options = {});
// Just the hits (timeouts and errors count as not listed).
task<std::vector<dnsbl_hit>> check_dnsbl(dns_resolver& resolver, const socket_address& client,
                                         const std::vector<dnsbl_list>& lists);

}  // namespace ringmail::spam
