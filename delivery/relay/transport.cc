#include "delivery/relay/transport.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ringmail::relay {
namespace {

// Debian's Abseil has its own string_view type; these cross between it and std's.
absl::string_view av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string_view sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }
std::string_view strip(std::string_view s) { return sv(absl::StripAsciiWhitespace(av(s))); }
std::string lower(std::string_view s) { return absl::AsciiStrToLower(av(s)); }
bool consume_prefix(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}
bool consume_suffix(std::string_view& s, std::string_view suffix) {
  if (!s.ends_with(suffix)) return false;
  s.remove_suffix(suffix.size());
  return true;
}

constexpr size_t kMaxDomainLength = 253;  // RFC 1035 §2.3.4 (255 octets on the wire)
constexpr size_t kMaxLabelLength = 63;

bool is_ipv4(std::string_view s) {
  in_addr a{};
  return s.size() < INET_ADDRSTRLEN && inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
}

bool is_ipv6(std::string_view s) {
  in6_addr a{};
  return s.size() < INET6_ADDRSTRLEN && inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

// RFC 1123 §2.1 host names, plus '_' (seen in internal names; harmless to a resolver).
bool is_domain(std::string_view s) {
  if (s.empty() || s.size() > kMaxDomainLength) return false;
  for (absl::string_view label : absl::StrSplit(av(s), '.')) {
    if (label.empty() || label.size() > kMaxLabelLength) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
  }
  return true;
}

absl::StatusOr<uint16_t> parse_port(std::string_view s) {
  if (s == "smtp") return uint16_t{25};
  if (s == "submission") return uint16_t{587};
  if (s == "submissions" || s == "smtps") return uint16_t{465};
  uint32_t port = 0;
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(av(s), &port) || port == 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port \"", av(s), "\""));
  }
  return static_cast<uint16_t>(port);
}

// A table key: "*", "domain" or ".domain", canonical.
absl::StatusOr<std::string> parse_key(std::string_view key) {
  if (key == "*") return std::string(key);
  bool subdomains = consume_prefix(key, ".");
  std::string domain = canonical_domain(key);
  if (!is_domain(domain)) return absl::InvalidArgumentError(absl::StrCat("bad domain \"", av(key), "\""));
  return subdomains ? absl::StrCat(".", domain) : domain;
}

}  // namespace

std::string canonical_domain(std::string_view name) {
  consume_suffix(name, ".");
  return lower(name);
}

absl::StatusOr<next_hop> parse_next_hop(std::string_view text) {
  text = strip(text);
  next_hop hop;
  std::string_view host;
  std::string_view port;
  if (consume_prefix(text, "[")) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return absl::InvalidArgumentError("next hop: '[' without ']'");
    host = text.substr(0, close);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!consume_prefix(rest, ":")) return absl::InvalidArgumentError("next hop: text after ']'");
      port = rest;
      if (port.empty()) return absl::InvalidArgumentError("next hop: empty port");
    }
    hop.mx_lookup = false;
    // Postfix writes IPv6 literals as [ipv6:...] in SMTP (RFC 5321 §4.1.3) and accepts it here.
    std::string_view v6 = host;
    if (consume_prefix(v6, "ipv6:") || consume_prefix(v6, "IPv6:") || consume_prefix(v6, "IPV6:")) {
      if (!is_ipv6(v6)) return absl::InvalidArgumentError(absl::StrCat("next hop: bad IPv6 address \"", av(v6), "\""));
      host = v6;
    }
    if (host.find(':') != std::string_view::npos && !is_ipv6(host)) {
      // "[host:port]", the old form: ambiguous with IPv6, refused (see the header).
      return absl::InvalidArgumentError(absl::StrCat("next hop: \"[", av(host), "]\" is neither a host nor an IPv6 address (write [host]:port)"));
    }
  } else {
    size_t colon = text.find(':');
    if (colon != std::string_view::npos) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (port.empty()) return absl::InvalidArgumentError("next hop: empty port");
    } else {
      host = text;
    }
    if (is_ipv4(host)) {
      return absl::InvalidArgumentError(absl::StrCat("next hop: write the address literal as [", av(host), "]"));
    }
  }
  if (host.empty()) return absl::InvalidArgumentError("next hop: empty host");
  if (!port.empty()) {
    absl::StatusOr<uint16_t> p = parse_port(port);
    if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat("next hop: ", p.status().message()));
    hop.port = *p;
  }
  if (!hop.mx_lookup && (is_ipv4(host) || is_ipv6(host))) {
    hop.address_literal = true;
    hop.host = std::string(host);
    return hop;
  }
  hop.host = canonical_domain(host);
  // "0.0.0.1." is an address once its trailing dot is gone: refused like "0.0.0.1", or
  // it would print as a host name and parse back as an address (relay_transport_fuzz).
  if (is_ipv4(hop.host)) {
    return absl::InvalidArgumentError(absl::StrCat("next hop: write the address literal as [", av(hop.host), "]"));
  }
  if (!is_domain(hop.host)) return absl::InvalidArgumentError(absl::StrCat("next hop: bad host name \"", av(host), "\""));
  return hop;
}

absl::StatusOr<transport_entry> parse_transport_entry(std::string_view value) {
  value = strip(value);
  size_t colon = value.find(':');
  std::string_view name = value.substr(0, colon);  // all of it when there is no ':'
  std::string_view rest = colon == std::string_view::npos ? std::string_view() : value.substr(colon + 1);
  transport_entry entry;
  entry.name = name.empty() ? "smtp" : lower(name);
  if (entry.name == "error" || entry.name == "retry") {
    entry.kind = entry.name == "error" ? transport_kind::error : transport_kind::retry;
    entry.text = std::string(strip(rest));
    return entry;
  }
  if (entry.name != "smtp" && entry.name != "relay") {
    return absl::InvalidArgumentError(
        absl::StrCat("transport \"", av(name), "\" is not one of smtp, relay, error, retry"));
  }
  rest = strip(rest);
  if (!rest.empty()) {
    absl::StatusOr<next_hop> hop = parse_next_hop(rest);
    if (!hop.ok()) return hop.status();
    entry.nexthop = std::move(*hop);
  }
  return entry;
}

absl::Status transport_table::add(std::string_view key, std::string_view value) {
  absl::StatusOr<std::string> k = parse_key(key);
  if (!k.ok()) return k.status();
  absl::StatusOr<transport_entry> entry = parse_transport_entry(value);
  if (!entry.ok()) return entry.status();
  auto at = std::lower_bound(entries_.begin(), entries_.end(), *k,
                             [](const auto& e, const std::string& want) { return e.first < want; });
  if (at != entries_.end() && at->first == *k) return absl::InvalidArgumentError(absl::StrCat("\"", *k, "\" appears twice"));
  entries_.emplace(at, std::move(*k), std::move(*entry));
  return absl::OkStatus();
}

absl::StatusOr<transport_table> transport_table::parse(std::string_view text) {
  if (text.size() > kMaxTransportTableBytes) return absl::InvalidArgumentError("transport table too large");
  transport_table table;
  // Joins continuation lines into logical lines, remembering where each began.
  std::string logical;
  size_t logical_line = 0;
  auto flush = [&]() -> absl::Status {
    if (logical.empty()) return absl::OkStatus();
    std::string_view line = strip(logical);
    size_t split = line.find_first_of(" \t");
    absl::Status s = split == std::string_view::npos
                         ? absl::InvalidArgumentError("a key without a value")
                         : table.add(line.substr(0, split), line.substr(split + 1));
    logical.clear();
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("transport line ", logical_line, ": ", s.message()));
    return absl::OkStatus();
  };
  size_t number = 0;
  for (absl::string_view piece : absl::StrSplit(av(text), '\n')) {
    std::string_view line = sv(piece);
    ++number;
    consume_suffix(line, "\r");
    std::string_view stripped = strip(line);
    if (stripped.empty() || stripped.front() == '#') continue;
    if (line.front() == ' ' || line.front() == '\t') {
      if (logical.empty()) return absl::InvalidArgumentError(absl::StrCat("transport line ", number, ": continuation of nothing"));
      absl::StrAppend(&logical, " ", av(stripped));
      continue;
    }
    if (absl::Status s = flush(); !s.ok()) return s;
    logical = std::string(stripped);
    logical_line = number;
  }
  if (absl::Status s = flush(); !s.ok()) return s;
  return table;
}

absl::StatusOr<transport_table> transport_table::parse_flag(std::string_view value) {
  value = strip(value);
  if (consume_prefix(value, "{")) {
    if (!consume_suffix(value, "}")) return absl::InvalidArgumentError("--transport: '{' without '}'");
  }
  transport_table table;
  for (absl::string_view piece : absl::StrSplit(av(value), ',', absl::SkipWhitespace())) {
    std::string_view item = strip(sv(piece));
    size_t eq = item.find('=');
    absl::Status s = eq == std::string_view::npos
                         ? absl::InvalidArgumentError("expected key=transport:nexthop")
                         : table.add(strip(item.substr(0, eq)), item.substr(eq + 1));
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("--transport \"", av(item), "\": ", s.message()));
  }
  return table;
}

const transport_entry* transport_table::find(std::string_view domain) const {
  auto lookup = [this](std::string_view key) -> const transport_entry* {
    auto at = std::lower_bound(entries_.begin(), entries_.end(), key,
                               [](const auto& e, std::string_view want) { return e.first < want; });
    return at != entries_.end() && at->first == key ? &at->second : nullptr;
  };
  std::string name = canonical_domain(domain);
  if (name.empty()) return lookup("*");
  if (const transport_entry* e = lookup(name)) return e;
  // ".b.c" then ".c" for "a.b.c": the closest parent first.
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
    if (const transport_entry* e = lookup(std::string_view(name).substr(dot))) return e;
  }
  return lookup("*");
}

}  // namespace ringmail::relay
