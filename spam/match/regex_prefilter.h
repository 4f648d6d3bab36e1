// Cheap Hyperscan prefilters for the rules that run on PCRE2.
//
// Hyperscan's own HS_FLAG_PREFILTER mode handles back references and look-arounds, but
// compiling some of SpamAssassin's patterns that way takes minutes (__SPOOFED_URL: 78 s),
// and large counted repeats (`[^>]{0,2048}` nested in `{0,99}`) make even exact compiles
// slow or "too large". So we relax patterns ourselves into a superset Hyperscan compiles
// quickly: every string the original matches, the relaxed pattern matches too, so PCRE2
// need only run on messages where the relaxed pattern fired.
//
// Input is PCRE syntax as translate_perl_regex() writes it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ringmail::spam {

struct repeat_analysis {
  // The largest product of nested counted-repeat bounds: `a{0,40}` is 40,
  // `(?:,[^,]{1,90}){50}` is 4500, `x*` and `x+` count 1. Hyperscan's compile time grows
  // with it; above a threshold a pattern is better run by PCRE2 behind a relaxed prefilter.
  size_t largest_repeat = 1;
  bool parsed = false;  // false: syntax the walker does not know (treated as expensive)
};
repeat_analysis analyse_repeats(std::string_view pattern);

// A superset of `pattern` for Hyperscan, or nullopt when there is none worth having
// (recursion, conditionals, branch reset, verbs, unknown syntax):
//   look-arounds (?=..) (?!..) (?<=..) (?<!..) are removed, \G and \K too;
//   back references become (?:[\s\S]*);
//   atomic groups become plain groups, possessive quantifiers greedy ones;
//   named groups become plain ones;
//   counted repeats whose nested product exceeds `max_repeat` become * (or + when the
//   minimum is at least 1);
//   a result longer than `max_length` keeps only a run of its top-level atoms that fits
//   (any contiguous part of a concatenation is a superset of it; the stock "fuzzy word"
//   patterns run to 6 kB and take Hyperscan seconds each, a few letters milliseconds),
//   the run with the most atoms that must consume input, if it keeps at least half of
//   the pattern (a shorter one fires on nearly every message). A pattern with a
//   top-level '|' cannot be cut: nullopt.
std::optional<std::string> relax_pattern(std::string_view pattern, size_t max_repeat,
                                         size_t max_length = static_cast<size_t>(-1));

}  // namespace ringmail::spam
