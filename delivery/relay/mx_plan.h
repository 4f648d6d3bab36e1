// Which MX hosts to try, in which order: the pure half of the relay's routing (RFC 5321
// §5.1 and RFC 7505), separate from the DNS lookups so it can be tested and fuzzed alone.
//
// RFC 5321 §5.1: "Multiple MX records contain a preference indication that MUST be used
// in sorting ... Lower numbers are more preferred than higher ones. If there are multiple
// destinations with the same preference and there is no clear reason to favor one ...
// then the sender-SMTP MUST randomize them to spread the load." And: "If the domain name
// is found to be one of the MX hosts ... the SMTP client MUST discard all MX records
// with a preference level equal to or greater than its own" (so a backup MX forwards to
// the better hosts only, and a primary that finds itself has nowhere to go: a loop).
// RFC 7505 §3: a null MX is a single MX record whose exchange is the root "."; mail for
// such a domain fails at once with 5.1.10 (§4.1: "domain does not accept mail").
//
// Departures and choices:
// - A null MX is recognised when it is the only MX record, whatever its preference (the
//   RFC says SHOULD be 0; the root exchange is what makes it null). A "." record among
//   others (which §3 forbids) is skipped, not obeyed: the other hosts may accept mail.
// - An exchange that is an address literal ("192.0.2.1": MX data must be a domain name,
//   RFC 1035 §3.3.9, RFC 7505 §4.5 warns of IP literals) is skipped and reported, as
//   Postfix does; it is never connected to.
// - At most kMaxMxHosts hosts are kept (the best ones): every kept host costs two address
//   lookups, and a hostile domain could list hundreds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::relay {

// More MX hosts than any real domain needs (Postfix tries 5 addresses by default); the
// cap bounds the DNS work one hostile domain can cause.
inline constexpr size_t kMaxMxHosts = 10;

struct mx_record {
  uint16_t preference = 0;
  std::string exchange;  // "" or "." is the root

  bool operator==(const mx_record&) const = default;
};

// A source of random numbers for the shuffle among equal preferences; tests inject a
// seeded or scripted one.
using random_source = std::function<uint64_t()>;

enum class mx_skip_reason {
  null_exchange,    // "." among other records
  address_literal,  // an IP address where a name belongs
  self,             // our own host name, or worse than it (RFC 5321 §5.1 loop rule)
  over_limit,       // beyond kMaxMxHosts
};
std::string_view to_string(mx_skip_reason r);

struct mx_skipped {
  mx_record record;
  mx_skip_reason reason;
};

struct mx_plan {
  bool null_mx = false;   // RFC 7505: the domain accepts no mail
  bool found_self = false;  // our own name was among the records (loop rule applied)
  std::vector<mx_record> hosts;  // to try in order; exchange canonical (lower case, no dot)
  std::vector<mx_skipped> skipped;
};

// Orders and filters one MX answer. `my_hostname` empty: no loop check.
mx_plan plan_mx(std::vector<mx_record> records, std::string_view my_hostname, const random_source& random);

// RFC 7505: exactly one record, and its exchange is the root.
bool is_null_mx(const std::vector<mx_record>& records);

}  // namespace ringmail::relay
