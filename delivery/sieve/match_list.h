// A whole Sieve test's comparison: a list of values (what the message gives) against a
// list of keys (what the script gives), RFC 5228 2.7.1 and RFC 5231. Pure.
//
// RFC 5228 2.7.1 / 5.7: a test with string lists is true "if any of the strings in the
// list match" (any value against any key). Pairs are tried values outer, keys inner, as
// Pigeonhole does, and the first matching pair wins: its match variables are the ones
// reported (RFC 5229 3.2: the last successful :matches/:regex sets them; a failed test
// leaves them alone).
// :count (RFC 5231 4.2) compares the NUMBER of values, in decimal, with each key under
// the comparator; true if any key satisfies the relation (0 values count as "0").
// :value compares each value with each key (relational_value_match).
// Keys are compiled once (wildcard patterns, regexes) so a script's constant keys cost
// nothing per message; keys holding ${...} references are compiled after expansion.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/sieve/comparator.h"
#include "delivery/sieve/match.h"
#include "delivery/sieve/match_regex.h"

namespace ringmail::sieve::matching {

struct match_spec {
  match_type type = match_type::is;
  comparator compare = comparator::ascii_casemap;  // RFC 5228 2.7.3's default
  // Set for :value / :count (RFC 5231); `type` is then ignored.
  std::optional<relation> value_relation;
  std::optional<relation> count_relation;
};

class compiled_match {
 public:
  // InvalidArgument when a key cannot be compiled (:regex syntax or limits) or the
  // comparator has no substring operation for :contains/:matches/:regex.
  static absl::StatusOr<compiled_match> compile(const match_spec& spec,
                                                std::span<const std::string> keys,
                                                const regex_limits& regex = {});

  // Whether any value matches any key. `captures` (when given) receives the first
  // matching pair's match variables for :matches and :regex, and is left alone
  // otherwise. ResourceExhausted when a :matches ran out of steps.
  absl::StatusOr<bool> match(std::span<const std::string_view> values,
                             match_captures* captures = nullptr,
                             const match_limits& limits = {}) const;

  // Whether this test sets match variables on success (:matches or :regex).
  bool sets_match_variables() const;

 private:
  match_spec spec_;
  std::vector<std::string> keys_;
  std::vector<wildcard_pattern> patterns_;  // :matches, one per key
  std::vector<compiled_regex> regexes_;     // :regex, one per key
};

}  // namespace ringmail::sieve::matching
