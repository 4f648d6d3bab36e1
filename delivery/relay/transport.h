// Where the relay sends mail for a domain, as configured: the smart host (--relayhost)
// and per-domain transport overrides, in Postfix's syntax so an administrator can carry
// an existing configuration over. Pure parsers over strings: no DNS, no files, no runtime
// (the caller reads the file at start-up; tests and the fuzz target link only this).
//
// Next hop (Postfix relayhost(5) and transport(5), "nexthop" field):
//   "host"          the MX records of host (A/AAAA of host when it has none), port 25
//   "host:port"     the same on another port
//   "[host]"        host itself, no MX lookup ("the [] form turns off MX lookups")
//   "[host]:port"   the same on another port
//   "[192.0.2.1]", "[2001:db8::1]:2525", "[ipv6:2001:db8::1]"  address literals (no DNS)
// Departures: one destination per relayhost (Postfix 3.5 accepts a list for fallback);
// ports are numeric or one of smtp/submission/submissions/smtps (no /etc/services: that
// would be a file read, and one of four names covers every real configuration); the old
// "[host:port]" form is refused, it is ambiguous with IPv6 literals.
//
// Transport table (Postfix transport(5), one entry per line):
//   "example.com     smtp:[10.0.0.1]:2525"   mail for example.com only
//   ".example.com    relay:mx.example.net"   mail for every subdomain of example.com
//   "*               smtp:[smarthost]"       everything else (before --relayhost)
//   "example.org     error:5.7.1 no mail for example.org, please"
// The result is "transport:nexthop". Transports: smtp and relay (the same client here),
// error (bounce with the text) and retry (defer with the text). An empty transport is
// smtp (":[gw]"), an empty nexthop is the recipient domain itself ("smtp:").
// Lines: blank and '#' lines are skipped; a line starting with white space continues the
// previous one (postmap's "multi-line text"). Keys are case-insensitive, a trailing dot
// is ignored. The flag form (--transport) is Postfix's inline table without the braces:
// "example.com=smtp:[10.0.0.1]:2525, .example.org=relay:gw.example.net".
// Departures: keys are domains only (Postfix also matches user@domain and user@ keys,
// which route single addresses: not needed for a relay of whole domains). As in Postfix
// by default (transport_maps is not in parent_domain_matches_subdomains), a bare key
// matches that domain only and ".parent" keys match its subdomains.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmail::relay {

inline constexpr uint16_t kSmtpPort = 25;
// Longest transport table we accept (bytes): the file is read whole at start-up; a table
// bigger than this is a mistake (a log file passed by accident), not a configuration.
inline constexpr size_t kMaxTransportTableBytes = 16 * 1024 * 1024;

struct next_hop {
  std::string host;        // a domain name (lower case, no trailing dot) or an IP address
  uint16_t port = kSmtpPort;
  bool mx_lookup = true;   // false for the [host] form
  bool address_literal = false;  // host is an IPv4/IPv6 address ("[192.0.2.1]")

  bool operator==(const next_hop&) const = default;
};

// Parses one next hop. Fails on an empty string, a bad port, unbalanced brackets, an
// address literal without brackets ("192.0.2.1": Postfix would look up its MX), or a
// host that is not a plausible domain name.
absl::StatusOr<next_hop> parse_next_hop(std::string_view text);

enum class transport_kind {
  smtp,   // deliver over SMTP (also "relay")
  error,  // bounce every recipient with `text`
  retry,  // defer every recipient with `text`
};

struct transport_entry {
  transport_kind kind = transport_kind::smtp;
  std::string name;                // "smtp", "relay", "error", "retry": for logs
  std::optional<next_hop> nexthop; // smtp without a nexthop: the recipient domain's MX
  std::string text;                // error/retry: the message ("5.1.1 no such domain")

  bool operator==(const transport_entry&) const = default;
};

// Parses the "transport:nexthop" value of one entry.
absl::StatusOr<transport_entry> parse_transport_entry(std::string_view value);

class transport_table {
 public:
  transport_table() = default;

  // The file format above. Errors name the line ("transport line 7: ...").
  static absl::StatusOr<transport_table> parse(std::string_view text);
  // The flag format above. An empty value is an empty table.
  static absl::StatusOr<transport_table> parse_flag(std::string_view value);

  // The entry for a recipient domain: the domain itself, then ".parent" entries from the
  // closest parent up, then "*". Null when nothing matches.
  const transport_entry* find(std::string_view domain) const;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  // Adds one "key value" pair; a repeated key is an error (postmap warns and keeps the
  // first; a silent choice between two routes is worse than refusing to start).
  absl::Status add(std::string_view key, std::string_view value);

  std::vector<std::pair<std::string, transport_entry>> entries_;  // sorted by key
};

// "example.com" from "Example.COM." (ASCII lower case, one trailing dot removed): the
// form transport keys and MX names are compared in.
std::string canonical_domain(std::string_view name);

}  // namespace ringmail::relay
