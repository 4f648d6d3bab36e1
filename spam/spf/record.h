// SPF records (RFC 7208 §4.5 selection, §4.6 and §12 syntax): "v=spf1" followed by
// mechanisms (all include a mx ptr ip4 ip6 exists, each with an optional qualifier, a
// and mx with dual CIDR lengths) and modifiers (redirect=, exp=, unknown ones ignored).
//
// The whole record is checked before anything is evaluated (§4.6: a syntax error anywhere
// makes the result permerror, even after a matching term), including every domain-spec's
// macro grammar and domain-end (§12: "." toplabel, or a macro). Names of mechanisms,
// modifiers and the version are case-insensitive (§4.6.1: "the ABNF is case-insensitive").
// Only ASCII SP separates terms; anything else (a tab, a non-ASCII byte) lands inside a
// term and makes it invalid (§3.1: records are 7-bit ASCII).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "spam/auth/message_auth.h"
#include "spam/spf/address.h"

namespace ringmail::spam::spf {

enum class mechanism_kind : uint8_t { all, include, a, mx, ptr, ip4, ip6, exists };
std::string_view to_string(mechanism_kind kind);

struct mechanism {
  spf_result qualifier = spf_result::pass;  // pass, fail, softfail or neutral
  mechanism_kind kind = mechanism_kind::all;
  std::string domain_spec;  // a macro-string; empty for a/mx/ptr without one (= <domain>)
  address network;          // ip4, ip6
  unsigned cidr4 = 32;      // a, mx, ip4
  unsigned cidr6 = 128;     // a, mx, ip6

  bool queries_dns() const {  // the §4.6.4 terms that count toward the 10-lookup limit
    return kind == mechanism_kind::include || kind == mechanism_kind::a || kind == mechanism_kind::mx ||
           kind == mechanism_kind::ptr || kind == mechanism_kind::exists;
  }
};

struct record {
  std::vector<mechanism> mechanisms;
  std::optional<std::string> redirect;  // domain-spec
  std::optional<std::string> exp;       // domain-spec
};

// §4.5: "v=spf1" (any case) followed by a space or the end of the string.
bool is_spf_record(std::string_view text);

// The parsed record, or InvalidArgument naming the bad term (the result is permerror).
absl::StatusOr<record> parse_record(std::string_view text);

// §12 domain-spec: a valid macro-string that ends in "." toplabel [ "." ] or in a macro.
bool valid_domain_spec(std::string_view spec);

}  // namespace ringmail::spam::spf
