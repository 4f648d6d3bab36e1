#include "spam/dns/dnsbl.h"

#include <netinet/in.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/when_all.h"

namespace ringmail::spam {
namespace {

constexpr uint32_t kErrorBlock = 0x7fffff00;  // 127.255.255.0/24 (Spamhaus error codes)
constexpr size_t kMaxName = 253;              // RFC 1035 §2.3.4, in text form
constexpr size_t kIpv6ReversedLength = 64;    // 32 nibbles and their dots

// ---- addresses ---------------------------------------------------------------------

// The client's IPv4 address (host order), also for IPv4-mapped IPv6 (::ffff:a.b.c.d).
std::optional<uint32_t> ipv4_of(const socket_address& client) {
  if (client.family() == AF_INET) {
    return ntohl(reinterpret_cast<const sockaddr_in*>(client.native())->sin_addr.s_addr);
  }
  if (client.family() == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(client.native())->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      uint32_t net;
      std::memcpy(&net, a.s6_addr + 12, 4);
      return ntohl(net);
    }
  }
  return std::nullopt;
}

bool in_net(uint32_t a, uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); }

// Reasons end up in SMTP replies and headers: keep printable ASCII, nothing that could
// end a line or start an escape sequence, and bound the length.
std::string sanitize_reason(std::string_view text, size_t limit) {
  std::string out;
  out.reserve(std::min(text.size(), limit));
  for (char c : text) {
    if (out.size() >= limit) break;
    auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : '?');
  }
  return out;
}

// ---- one list's answer -------------------------------------------------------------

struct classified {
  dnsbl_outcome outcome;
  std::string detail;
  std::vector<uint32_t> accepted;
};

std::string_view describe_error_code(uint32_t a) {
  switch (a & 0xff) {
    case 252: return "refused: typing error in the zone name";
    case 254: return "refused: query through a public resolver";
    case 255: return "refused: excessive number of queries";
    default: return "refused";
  }
}

classified classify(const dnsbl_list& list, const dns_answer& answer) {
  switch (answer.status) {
    case dns_status::ok: break;
    case dns_status::nxdomain:
    case dns_status::no_data: return {dnsbl_outcome::not_listed, "", {}};
    case dns_status::timeout: return {dnsbl_outcome::timeout, "timeout", {}};
    default: return {dnsbl_outcome::error, std::string(to_string(answer.status)), {}};
  }
  for (uint32_t a : answer.addresses) {
    if (in_net(a, kErrorBlock, 24)) {
      return {dnsbl_outcome::error, absl::StrCat(ipv4_to_string(a), " (", std::string(describe_error_code(a)), ")"), {}};
    }
  }
  classified c{dnsbl_outcome::not_listed, "", {}};
  for (uint32_t a : answer.addresses) {
    if (list.accepts(a)) {
      c.accepted.push_back(a);
    } else if (list.codes.empty()) {
      return {dnsbl_outcome::error, absl::StrCat(ipv4_to_string(a), " (outside 127.0.0.0/8: NXDOMAIN rewriting?)"), {}};
    }
  }
  if (!c.accepted.empty()) c.outcome = dnsbl_outcome::listed;
  if (c.accepted.empty() && !answer.addresses.empty()) {
    c.detail = absl::StrCat(ipv4_to_string(answer.addresses[0]), " (not a configured code)");
  }
  return c;
}

// Plain functions rather than loops inside the coroutine (g++ 12, see common notes).
std::vector<task<dns_answer>> start_lookups(dns_resolver& resolver, const std::vector<std::string>& names, bool txt) {
  std::vector<task<dns_answer>> lookups;
  lookups.reserve(names.size());
  for (const std::string& n : names) lookups.push_back(txt ? resolver.query_txt(n) : resolver.query_a(n));
  return lookups;
}

// Fills report.lists/hits from the A answers; returns the query names of the hits.
std::vector<std::string> record_answers(dnsbl_report& report, const std::vector<dnsbl_list>& lists,
                                        const std::vector<std::string>& names, const std::vector<size_t>& list_of_name,
                                        const std::vector<dns_answer>& answers) {
  std::vector<std::string> hit_names;
  for (size_t i = 0; i < answers.size(); ++i) {
    const dnsbl_list& list = lists[list_of_name[i]];
    classified c = classify(list, answers[i]);
    dnsbl_list_result& r = report.lists[list_of_name[i]];
    r.outcome = c.outcome;
    r.detail = std::move(c.detail);
    if (c.outcome == dnsbl_outcome::timeout) ++report.timeouts;
    if (c.outcome == dnsbl_outcome::error) ++report.errors;
    if (c.outcome == dnsbl_outcome::listed) {
      report.hits.push_back(dnsbl_hit{list.zone, std::move(c.accepted), list.score, ""});
      hit_names.push_back(names[i]);
    }
  }
  return hit_names;
}

void record_reasons(dnsbl_report& report, const std::vector<dns_answer>& texts, size_t limit) {
  for (size_t i = 0; i < texts.size() && i < report.hits.size(); ++i) {
    if (texts[i].ok()) report.hits[i].reason = sanitize_reason(absl::StrJoin(texts[i].texts, " "), limit);
  }
}

}  // namespace

std::optional<std::string> dnsbl_query_name(const socket_address& client, std::string_view zone) {
  std::string name;
  if (std::optional<uint32_t> v4 = ipv4_of(client)) {
    // RFC 5782 §2.1: the octets in reverse order.
    name = absl::StrCat(*v4 & 0xff, ".", (*v4 >> 8) & 0xff, ".", (*v4 >> 16) & 0xff, ".", *v4 >> 24, ".");
  } else if (client.family() == AF_INET6) {
    // RFC 5782 §2.4: every nibble, least significant first, as in ip6.arpa (RFC 3596).
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(client.native())->sin6_addr;
    static constexpr char kHex[] = "0123456789abcdef";
    name.reserve(kIpv6ReversedLength + zone.size());
    for (int i = 15; i >= 0; --i) {
      name.push_back(kHex[a.s6_addr[i] & 0xf]);
      name.push_back('.');
      name.push_back(kHex[a.s6_addr[i] >> 4]);
      name.push_back('.');
    }
  } else {
    return std::nullopt;
  }
  name.append(zone);
  if (name.size() > kMaxName) return std::nullopt;
  return name;
}

bool is_private_address(const socket_address& client) {
  if (std::optional<uint32_t> a = ipv4_of(client)) {
    return in_net(*a, 0x00000000, 8) ||   // "this network", 0.0.0.0
           in_net(*a, 0x0a000000, 8) ||   // 10/8 (RFC 1918)
           in_net(*a, 0x64400000, 10) ||  // 100.64/10 (RFC 6598)
           in_net(*a, 0x7f000000, 8) ||   // loopback
           in_net(*a, 0xa9fe0000, 16) ||  // link-local
           in_net(*a, 0xac100000, 12) ||  // 172.16/12
           in_net(*a, 0xc0a80000, 16);    // 192.168/16
  }
  if (client.family() != AF_INET6) return true;  // not an IP client at all
  const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(client.native())->sin6_addr;
  return IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_LINKLOCAL(&a) ||
         (a.s6_addr[0] & 0xfe) == 0xfc;  // fc00::/7 unique local (RFC 4193)
}

std::string dnsbl_hit::returned_text() const {
  std::string out;
  for (uint32_t a : returned) absl::StrAppend(&out, out.empty() ? "" : ",", ipv4_to_string(a));
  return out;
}

task<dnsbl_report> check_dnsbl_report(dns_resolver& resolver, const socket_address& client,
                                      const std::vector<dnsbl_list>& lists, dnsbl_check_options options) {
  dnsbl_report report;
  if ((options.skip_private && is_private_address(client)) || !dnsbl_query_name(client, "x")) {
    report.skipped = true;
    co_return report;
  }
  report.lists.resize(lists.size());
  std::vector<std::string> names;
  std::vector<size_t> list_of_name;
  for (size_t i = 0; i < lists.size(); ++i) {
    report.lists[i].zone = lists[i].zone;
    std::optional<std::string> name = dnsbl_query_name(client, lists[i].zone);
    if (!name) {
      report.lists[i].outcome = dnsbl_outcome::error;
      report.lists[i].detail = "query name too long";
      ++report.errors;
      continue;
    }
    names.push_back(std::move(*name));
    list_of_name.push_back(i);
  }
  std::vector<dns_answer> answers = co_await when_all(start_lookups(resolver, names, false));
  std::vector<std::string> hit_names = record_answers(report, lists, names, list_of_name, answers);
  if (options.fetch_reasons && !hit_names.empty()) {
    std::vector<dns_answer> texts = co_await when_all(start_lookups(resolver, hit_names, true));
    record_reasons(report, texts, options.max_reason_length);
  }
  co_return report;
}

task<std::vector<dnsbl_hit>> check_dnsbl(dns_resolver& resolver, const socket_address& client,
                                         const std::vector<dnsbl_list>& lists) {
  dnsbl_report report = co_await check_dnsbl_report(resolver, client, lists);
  co_return std::move(report.hits);
}

}  // namespace ringmail::spam
