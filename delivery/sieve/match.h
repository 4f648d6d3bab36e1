// Sieve match types (RFC 5228 2.7.1) and relational matches (RFC 5231), given the strings:
// the interpreter extracts the values (header, address part, envelope, ...) and asks
// these whether a key matches. Pure: no runtime, no I/O.
//
// :is       comparator equality.
// :contains comparator substring ("a :contains match ... if the key is a substring of the
//           value"; the empty key is a substring of everything).
// :matches  RFC 5228 2.7.1: "*" matches zero or more characters, "?" exactly one, and "\\"
//           quotes the next character ("\\*" is a literal star; a backslash at the very
//           end stands for itself, as Pigeonhole reads it). The comparator applies to each
//           literal character. A "character" is an octet for i;octet and i;ascii-casemap
//           (as Pigeonhole's "?" consumes one octet) and a UTF-8 character for
//           i;unicode-casemap.
//           Match variables (RFC 5229 3.2): captures[0] is the whole value ("${0}"), then
//           one entry per wildcard, "*" and "?" alike, in pattern order, up to ${9}. Each
//           "*" takes as little as it can, leftmost first, so "[*] *" on "[a] [b] c" gives
//           ${1} "a" and ${2} "[b] c", and "coyote@**.com" gives ${1} "" (the RFC's
//           examples).
//           Algorithm: the pattern is split at its stars into segments (literals and "?");
//           the first segment must match at the start, the last at the end, and each
//           middle segment is placed at its leftmost occurrence after the previous one.
//           Leftmost placement is optimal (a later one leaves less room for what follows),
//           so there is no backtracking: "*a*a*a...*b" against 1 MB of "a" costs one pass.
//           A segment is found with memmem (two-way, linear) when it is all literal octets;
//           with "?" inside (or for i;unicode-casemap) by a direct scan whose comparisons
//           count against match_limits::max_steps, and a match that runs out fails with
//           ResourceExhausted (a runtime error: the script's implicit keep applies).
// Relational (RFC 5231): :value "gt"/"ge"/"lt"/"le"/"eq"/"ne" compares the VALUE (left)
// with the KEY (right) under the comparator's ordering; :count compares the number of
// values, written in decimal, with the key the same way (so "i;ascii-numeric" gives
// numeric order, and any other comparator compares the digits as strings, as RFC 5231 4
// says it must).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/sieve/comparator.h"

namespace ringmail::sieve::matching {

// ${0} .. ${9} (RFC 5229 3.2: "num-variable" references beyond those are empty).
inline constexpr size_t max_match_values = 10;

// Views into the matched value: [0] the whole value, [1..] the wildcards (or the regex
// groups) in order. At most max_match_values entries.
using match_captures = std::vector<std::string_view>;

struct match_limits {
  // Unit comparisons one :matches may spend finding segments that hold "?" (or under
  // i;unicode-casemap). 10^7 is a few milliseconds: far above what a real pattern on a
  // real header needs, far below what would stall a shard.
  size_t max_steps = 10'000'000;
};

enum class match_type { is, contains, matches, regex };
// "is", ":is", "IS", ... -> match_type; nullopt for anything else.
std::optional<match_type> parse_match_type(std::string_view tag);

// A :matches key, parsed once (keys are usually constants of the script).
class wildcard_pattern {
 public:
  // InvalidArgument for i;ascii-numeric (no substring operation).
  static absl::StatusOr<wildcard_pattern> compile(std::string_view key, comparator c);

  // Whether `value` matches. On a match, and when `captures` is given, it is replaced
  // with the match values (views into `value`). ResourceExhausted when the step budget
  // ran out (captures untouched).
  absl::StatusOr<bool> match(std::string_view value, match_captures* captures = nullptr,
                             const match_limits& limits = {}) const;

  // Number of wildcards ("*" and "?") in the pattern.
  size_t wildcard_count() const { return wildcards_; }

 private:
  struct item {
    bool any = false;  // "?"
    char32_t unit = 0;
  };
  // The pattern between two stars: literal units and "?"s.
  struct segment {
    std::vector<item> items;
    std::string literal;  // the items as octets, when there is no "?" and units are octets
    bool has_any = false;
  };
  // `View` is std::string_view (octet units) or std::u32string_view (folded code points);
  // `spans` receives each wildcard's [begin, end) in units.
  template <typename View>
  absl::StatusOr<bool> match_units(View units, std::vector<std::pair<size_t, size_t>>& spans,
                                   const match_limits& limits) const;

  comparator comparator_ = comparator::octet;
  std::vector<segment> segments_;  // segments_.size() == stars + 1
  size_t wildcards_ = 0;
};

// One key against one value with :is, :contains or :matches (a :matches key is compiled
// on each call; compile a wildcard_pattern to reuse it). :regex is in match_regex.h.
// InvalidArgument for :contains/:matches with i;ascii-numeric, or for match_type::regex.
absl::StatusOr<bool> string_match(match_type type, comparator c, std::string_view value,
                                  std::string_view key, match_captures* captures = nullptr,
                                  const match_limits& limits = {});

// RFC 5231 relational operators.
enum class relation { gt, ge, lt, le, eq, ne };
// "gt", "GE", ... (RFC 5231 relational-match, case-insensitive as ABNF strings are).
std::optional<relation> parse_relation(std::string_view text);
std::string_view relation_name(relation r);

// :value — relation(value, key) under the comparator's order.
bool relational_value_match(relation r, comparator c, std::string_view value,
                            std::string_view key);
// :count — relation(count, key), the count in decimal, under the comparator's order.
bool relational_count_match(relation r, comparator c, size_t count, std::string_view key);

}  // namespace ringmail::sieve::matching
