// SPF macros (RFC 7208 §7): the %{...} expansions of domain-specs and explanation strings.
//
// Expansion is synchronous and pure: the one letter that needs DNS, %{p} (the validated
// client name, §7.3/§5.5), is looked up by the evaluator beforehand (only when
// uses_validated_name() says the string has it) and passed in as a value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringmail::spam::spf {

struct macro_values {
  std::string sender;          // s: local-part@domain (postmaster@helo for MAIL FROM:<>)
  std::string local_part;      // l
  std::string sender_domain;   // o
  std::string domain;          // d: the domain being checked (changes with include/redirect)
  std::string ip;              // i: dotted quad, or dot-separated nibbles for IPv6
  std::string validated_name;  // p: "unknown" when there is none
  std::string ip_version;      // v: "in-addr" or "ip6"
  std::string helo;            // h
  std::string client_ip;       // c (exp only): readable form
  std::string receiver;        // r (exp only): "unknown" when not given
  int64_t timestamp = 0;       // t (exp only): seconds since the epoch
};

enum class macro_context : uint8_t {
  domain_spec,  // mechanisms, redirect=, exp=: c, r, t refused (§7.1), printable ASCII only
  explanation,  // the TXT record exp= names: all letters, spaces allowed (§6.2)
};

// The expanded string, or nullopt on a syntax error (a '%' not followed by '{', '%', '_'
// or '-', an unknown letter, a zero digit transformer, a bad delimiter, no closing '}',
// an exp-only letter outside an explanation, a character outside the grammar) — the
// caller turns that into permerror (or, for explanations, "no explanation").
std::optional<std::string> expand_macros(std::string_view text, const macro_values& values,
                                         macro_context context);

// The grammar check alone (what expand_macros would refuse), used when parsing records.
bool valid_macro_string(std::string_view text, macro_context context);

// Whether the string has a %{p} (so the evaluator must find the validated name first).
bool uses_validated_name(std::string_view text);

// §7.3: an expanded name longer than 253 characters loses labels from the left until it
// fits. A trailing dot is dropped.
std::string fit_domain_name(std::string_view name);

}  // namespace ringmail::spam::spf
