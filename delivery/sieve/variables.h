// The "variables" extension (RFC 5229): the variable store of one script run, the
// expansion of "${...}" references in strings, and the modifiers of "set". Pure.
//
// Names (RFC 5229 3): identifier = (ALPHA / "_") *(ALPHA / DIGIT / "_"), compared case-
// insensitively ("${Company}" is "${company}"); "num-variable" = 1*DIGIT names a match
// variable; a name with dots ("global.x", "env.phase") is in a namespace, which the
// checker must have seen required ("References to namespaces without a prior require
// statement for the relevant extension MUST cause an error"): classify_variable_name and
// variable_namespace give it what it needs; the store keeps namespaced values like any.
// Expansion (RFC 5229 3): "${name}" becomes the value, "" when unset; a "${" not followed
// by a valid name and "}" stays as written, and scanning goes on after the "$", so
// "${President, ${Company} Inc.}" gives "${President, ACME Inc.}". Match variables beyond
// what the last successful :matches/:regex set are "".
// Limits (issue 14: "huge variable expansions end within limits"), Pigeonhole's defaults:
//   - max_variables (255, sieve_variables_max_scope_size): a script that sets more is
//     stopped with an error, not allowed to grow a table without end;
//   - max_value_bytes (4096, sieve_variables_max_variable_size): a longer value is cut at
//     a character boundary when stored, as Pigeonhole cuts it;
//   - max_expansion_bytes (1 MiB): an expanded string stops there and says so
//     (expansion::truncated); "${a}" repeated in a 1 MB literal would otherwise grow to
//     a gigabyte. 1 MiB holds any vacation text a user writes.
// Set modifiers (RFC 5229 4, RFC 5435 7 for :encodeurl, Pigeonhole for :quoteregex) are
// applied highest precedence first: 40 :lower/:upper, 30 :lowerfirst/:upperfirst,
// 20 :quotewildcard/:quoteregex, 15 :encodeurl, 10 :length; two of the same precedence
// is an error. :lower/:upper/:lowerfirst/:upperfirst change ASCII letters only, as
// Pigeonhole's do (RFC 5229 leaves other characters to the implementation); :length
// counts UTF-8 characters.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "delivery/sieve/match.h"

namespace ringmail::sieve::matching {

struct variable_limits {
  size_t max_variables = 255;
  size_t max_value_bytes = 4096;
  size_t max_expansion_bytes = 1024 * 1024;
};

enum class variable_name_kind {
  invalid,     // not a variable name: "${...}" with it stays verbatim
  match,       // "0", "1", ... (num-variable)
  identifier,  // "company"
  namespaced,  // "global.company": identifier 1*("." identifier)
};
variable_name_kind classify_variable_name(std::string_view name);
// The namespace of a namespaced name ("global" for "global.company"), else "".
std::string_view variable_namespace(std::string_view name);

class variable_store {
 public:
  explicit variable_store(const variable_limits& limits = {}) : limits_(limits) {}

  // Stores `value` (cut to max_value_bytes) under `name` (an identifier or a namespaced
  // name). InvalidArgument for another kind of name, ResourceExhausted when a new name
  // would exceed max_variables.
  absl::Status set(std::string_view name, std::string_view value);
  // The value, or nullopt when never set.
  std::optional<std::string_view> get(std::string_view name) const;
  size_t size() const { return values_.size(); }

  // After a successful :matches or :regex (RFC 5229 3.2): ${0}..${9} become copies of
  // `captures` (each cut to max_value_bytes), the rest "".
  void set_match_values(const match_captures& captures);
  // ${index}: "" when not set.
  std::string_view match_value(size_t index) const;

  const variable_limits& limits() const { return limits_; }

 private:
  variable_limits limits_;
  absl::flat_hash_map<std::string, std::string> values_;  // lower-cased names
  std::vector<std::string> match_values_;
};

struct expansion {
  std::string text;
  bool truncated = false;  // max_expansion_bytes was reached; `text` is its prefix
};
// Expands the variable references in `text` from `store`.
expansion expand_variables(std::string_view text, const variable_store& store);
// Whether `text` holds a reference expansion would replace (else it is a constant).
bool has_variable_references(std::string_view text);

enum class set_modifier {
  lower, upper, lowerfirst, upperfirst, quotewildcard, quoteregex, encodeurl, length
};
// ":lower", "lower", ":UPPER", ...; nullopt for an unknown tag.
std::optional<set_modifier> parse_set_modifier(std::string_view tag);
int set_modifier_precedence(set_modifier m);
// InvalidArgument when two modifiers share a precedence (":lower :upper", or one twice).
absl::Status check_set_modifiers(std::span<const set_modifier> modifiers);
// Applies `modifiers` (checked) to `value` in precedence order.
std::string apply_set_modifiers(std::span<const set_modifier> modifiers, std::string_view value);

}  // namespace ringmail::sieve::matching
