#include "delivery/relay/route.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/when_all.h"

namespace ringmail::relay {
namespace {

route failure(route_status status, std::string_view code, std::string reason) {
  route r;
  r.status = status;
  r.enhanced_code = std::string(code);
  r.reason = std::move(reason);
  return r;
}

// A permanent outcome for a configured next hop becomes temporary (see the header): the
// same code with class 4.
route failure_for(bool configured, route_status status, std::string_view code, std::string reason) {
  if (configured && status == route_status::permanent) {
    return failure(route_status::temporary, absl::StrCat("4", std::string(code.substr(1))), std::move(reason));
  }
  return failure(status, code, std::move(reason));
}

// "5.1.1 no such domain" -> "5.1.1" when the text starts with an RFC 3463 code of the
// wanted class ('5' for error:, '4' for retry:), else `fallback`.
std::string leading_code(std::string_view text, char wanted_class, std::string_view fallback) {
  size_t end = text.find(' ');
  std::string_view code = text.substr(0, end);
  int dots = 0;
  bool digits_only = !code.empty() && code.front() == wanted_class && code.size() <= 9;
  for (char c : code) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      digits_only = false;
    }
  }
  if (digits_only && dots == 2 && code.back() != '.' && code.find("..") == std::string_view::npos) return std::string(code);
  return std::string(fallback);
}

socket_address ipv4_address(uint32_t host_order, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(host_order);
  return socket_address::from(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

socket_address ipv6_address(const ipv6_bytes& bytes, uint16_t port) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  std::memcpy(sa.sin6_addr.s6_addr, bytes.data(), bytes.size());
  return socket_address::from(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

// NXDOMAIN and NODATA are the name server's word; everything else may change in a minute.
bool authoritative(dns_status s) {
  return s == dns_status::ok || s == dns_status::nxdomain || s == dns_status::no_data;
}

}  // namespace

std::string_view to_string(route_status s) {
  switch (s) {
    case route_status::ok: return "ok";
    case route_status::temporary: return "temporary";
    case route_status::permanent: return "permanent";
  }
  return "?";
}

route_resolver::route_resolver(dns_resolver& dns, route_options options, random_source random)
    : dns_(dns), options_(std::move(options)), random_(std::move(random)) {
  if (!random_) {
    engine_.seed(std::random_device{}());
    random_ = [this] { return engine_(); };
  }
}

task<route> route_resolver::resolve(std::string domain) {
  if (!domain.empty() && domain.front() == '[') {
    // A recipient domain written as an address literal (RFC 5321 §4.1.3): no DNS, no
    // transport table, no relayhost (Postfix too sends [address] mail straight there).
    absl::StatusOr<next_hop> hop = parse_next_hop(domain);
    if (!hop.ok() || !hop->address_literal || hop->port != kSmtpPort) {
      co_return failure(route_status::permanent, "5.1.2", absl::StrCat("bad address literal ", domain));
    }
    hop->port = options_.smtp_port;
    route r = co_await resolve_hop(*hop, false);
    co_return r;
  }
  std::string name = canonical_domain(domain);
  if (name.empty()) co_return failure(route_status::permanent, "5.1.2", "empty recipient domain");

  if (const transport_entry* entry = options_.transports.find(name)) {
    route r;
    switch (entry->kind) {
      case transport_kind::error:
        r = failure(route_status::permanent, leading_code(entry->text, '5', "5.0.0"),
                    entry->text.empty() ? absl::StrCat("mail for ", name, " is refused by the transport table") : entry->text);
        break;
      case transport_kind::retry:
        r = failure(route_status::temporary, leading_code(entry->text, '4', "4.0.0"),
                    entry->text.empty() ? absl::StrCat("mail for ", name, " is held by the transport table") : entry->text);
        break;
      case transport_kind::smtp:
        if (entry->nexthop) {
          route got = co_await resolve_hop(*entry->nexthop, true);
          r = std::move(got);
        } else {
          route got = co_await resolve_mx(name, options_.smtp_port, false);
          r = std::move(got);
        }
        break;
    }
    r.transport = entry->name;
    co_return r;
  }
  if (options_.relayhost) {
    route r = co_await resolve_hop(*options_.relayhost, true);
    r.relayhost = true;
    co_return r;
  }
  route r = co_await resolve_mx(name, options_.smtp_port, false);
  co_return r;
}

task<route> route_resolver::resolve_hop(const next_hop& hop, bool configured) {
  if (hop.address_literal) {
    absl::StatusOr<socket_address> address = socket_address::parse(hop.host, hop.port);
    if (!address.ok()) {
      co_return failure_for(configured, route_status::permanent, "5.1.2", absl::StrCat("bad address ", hop.host));
    }
    route r;
    r.status = route_status::ok;
    r.hosts.push_back(route_host{hop.host, 0, false, {*address}});
    co_return r;
  }
  if (hop.mx_lookup) {
    route r = co_await resolve_mx(hop.host, hop.port, configured);
    co_return r;
  }
  std::vector<route_host> hosts;
  hosts.push_back(route_host{hop.host, 0, false, {}});
  route partial;
  route r = co_await resolve_addresses(hosts, hop.host, hop.port, configured, partial);
  co_return r;
}

task<route> route_resolver::resolve_mx(const std::string& domain, uint16_t port, bool configured) {
  std::string name = domain;
  dns_answer mx = co_await dns_.query_mx(std::move(name));
  std::vector<route_host> hosts;
  route r;
  switch (mx.status) {
    case dns_status::ok: {
      std::vector<mx_record> records;
      records.reserve(mx.mx.size());
      for (dns_mx& m : mx.mx) records.push_back({m.preference, std::move(m.exchange)});
      mx_plan plan = plan_mx(std::move(records), options_.my_hostname, random_);
      if (plan.null_mx) {
        co_return failure_for(configured, route_status::permanent, "5.1.10",
                              absl::StrCat("domain ", domain, " does not accept mail (null MX, RFC 7505)"));
      }
      r.loop = plan.found_self;
      for (const mx_skipped& s : plan.skipped) {
        r.notes.push_back(absl::StrCat("MX ", s.record.preference, " ", s.record.exchange.empty() ? "." : s.record.exchange,
                                       ": ", std::string(to_string(s.reason))));
      }
      if (plan.hosts.empty()) {
        route f = plan.found_self
                      ? failure_for(configured, route_status::permanent, "5.4.6",
                                    absl::StrCat("mail for ", domain, " loops back to myself"))
                      : failure_for(configured, route_status::permanent, "5.4.4",
                                    absl::StrCat("no usable MX host for ", domain));
        f.loop = plan.found_self;
        f.notes = std::move(r.notes);
        co_return f;
      }
      for (mx_record& h : plan.hosts) hosts.push_back(route_host{std::move(h.exchange), h.preference, false, {}});
      break;
    }
    case dns_status::no_data:
      // RFC 5321 §5.1: the implicit MX. (Our own name as the domain is not a loop here:
      // the relay only sees domains that are not local.)
      hosts.push_back(route_host{domain, 0, true, {}});
      break;
    case dns_status::nxdomain:
      co_return failure_for(configured, route_status::permanent, "5.1.2",
                            absl::StrCat("domain ", domain, " not found (NXDOMAIN)"));
    default:
      co_return failure(route_status::temporary, "4.4.3",
                        absl::StrCat("MX lookup for ", domain, " failed: ", std::string(to_string(mx.status))));
  }
  route result = co_await resolve_addresses(hosts, domain, port, configured, r);
  co_return result;
}

task<route> route_resolver::resolve_addresses(std::vector<route_host>& hosts, const std::string& what, uint16_t port,
                                              bool configured, route& partial) {
  std::vector<task<dns_answer>> lookups;
  for (const route_host& h : hosts) {
    if (options_.ipv4) lookups.push_back(dns_.query_a(h.name));
    if (options_.ipv6) lookups.push_back(dns_.query_aaaa(h.name));
  }
  if (lookups.empty()) {  // both address families switched off: a configuration mistake
    co_return failure(route_status::temporary, "4.4.4", "neither IPv4 nor IPv6 is enabled for the relay");
  }
  std::vector<dns_answer> answers = co_await when_all(std::move(lookups));

  route r = std::move(partial);
  bool any_temporary = false;
  size_t next = 0;
  for (route_host& h : hosts) {
    const dns_answer* a4 = options_.ipv4 ? &answers[next++] : nullptr;
    const dns_answer* a6 = options_.ipv6 ? &answers[next++] : nullptr;
    std::vector<socket_address> v4;
    std::vector<socket_address> v6;
    if (a4 != nullptr) {
      for (uint32_t a : a4->addresses) v4.push_back(ipv4_address(a, port));
    }
    if (a6 != nullptr) {
      for (const ipv6_bytes& a : a6->addresses6) v6.push_back(ipv6_address(a, port));
    }
    std::vector<socket_address>& first = options_.prefer_ipv6 ? v6 : v4;
    std::vector<socket_address>& second = options_.prefer_ipv6 ? v4 : v6;
    h.addresses = std::move(first);
    h.addresses.insert(h.addresses.end(), second.begin(), second.end());
    std::vector<std::string> failed;
    if (a4 != nullptr && !authoritative(a4->status)) failed.push_back(absl::StrCat("A ", std::string(to_string(a4->status))));
    if (a6 != nullptr && !authoritative(a6->status)) failed.push_back(absl::StrCat("AAAA ", std::string(to_string(a6->status))));
    if (!failed.empty()) {
      r.notes.push_back(absl::StrCat(h.name, ": ", absl::StrJoin(failed, ", ")));
      if (h.addresses.empty()) any_temporary = true;
    } else if (h.addresses.empty()) {
      r.notes.push_back(absl::StrCat(h.name, ": no address"));
    }
    if (!h.addresses.empty()) r.hosts.push_back(std::move(h));
  }
  if (!r.hosts.empty()) {
    r.status = route_status::ok;
    r.enhanced_code.clear();
    r.reason.clear();
    co_return r;
  }
  route f = any_temporary
                ? failure(route_status::temporary, "4.4.3", absl::StrCat("address lookup for ", what, " failed"))
                : failure_for(configured, route_status::permanent, "5.4.4", absl::StrCat("no address found for ", what));
  f.notes = std::move(r.notes);
  f.loop = r.loop;
  co_return f;
}

}  // namespace ringmail::relay
