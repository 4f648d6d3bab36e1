#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "spam/dns/dns_client.h"

namespace ringmail::spam {

std::string_view to_string(dns_type type) {
  switch (type) {
    case dns_type::a: return "A";
    case dns_type::aaaa: return "AAAA";
    case dns_type::mx: return "MX";
    case dns_type::txt: return "TXT";
    case dns_type::ptr: return "PTR";
  }
  return "?";
}

std::string static_dns_client::normalize(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return absl::AsciiStrToLower(std::string(name));
}

void static_dns_client::add_a(std::string_view name, std::string_view ipv4) {
  in_addr a{};
  if (inet_pton(AF_INET, std::string(ipv4).c_str(), &a) != 1) return;
  nodes_[normalize(name)].a.push_back(ntohl(a.s_addr));
}

void static_dns_client::add_aaaa(std::string_view name, std::string_view ipv6) {
  ipv6_bytes b{};
  if (inet_pton(AF_INET6, std::string(ipv6).c_str(), b.data()) != 1) return;
  nodes_[normalize(name)].aaaa.push_back(b);
}

void static_dns_client::add_mx(std::string_view name, uint16_t preference, std::string_view exchange) {
  nodes_[normalize(name)].mx.push_back({preference, normalize(exchange)});
}

void static_dns_client::add_txt(std::string_view name, std::string_view text) {
  nodes_[normalize(name)].txt.emplace_back(text);
}

void static_dns_client::add_ptr(std::string_view name, std::string_view target) {
  nodes_[normalize(name)].ptr.push_back(normalize(target));
}

void static_dns_client::set_status(std::string_view name, dns_type type, dns_status status) {
  nodes_[normalize(name)].forced[type] = status;
}

dns_answer static_dns_client::answer(dns_type type, std::string_view name) const {
  dns_answer out;
  auto it = nodes_.find(normalize(name));
  if (it == nodes_.end()) {
    out.status = dns_status::nxdomain;
    return out;
  }
  const node& n = it->second;
  if (auto forced = n.forced.find(type); forced != n.forced.end()) {
    out.status = forced->second;
    return out;
  }
  bool any = false;
  switch (type) {
    case dns_type::a: out.addresses = n.a; any = !n.a.empty(); break;
    case dns_type::aaaa: out.addresses6 = n.aaaa; any = !n.aaaa.empty(); break;
    case dns_type::mx: out.mx = n.mx; any = !n.mx.empty(); break;
    case dns_type::txt: out.texts = n.txt; any = !n.txt.empty(); break;
    case dns_type::ptr: out.names = n.ptr; any = !n.ptr.empty(); break;
  }
  bool name_exists = !n.a.empty() || !n.aaaa.empty() || !n.mx.empty() || !n.txt.empty() || !n.ptr.empty() ||
                     !n.forced.empty();
  out.status = any ? dns_status::ok : name_exists ? dns_status::no_data : dns_status::nxdomain;
  if (any) out.ttl = ttl_;
  return out;
}

task<dns_answer> static_dns_client::lookup(dns_type type, std::string name) {
  ++lookups_;
  ++counts_[std::make_pair(type, normalize(name))];
  co_return answer(type, name);
}

size_t static_dns_client::lookups_of(dns_type type, std::string_view name) const {
  auto it = counts_.find(std::make_pair(type, normalize(name)));
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace ringmail::spam
