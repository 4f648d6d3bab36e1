// The :regex match type (draft-ietf-sieve-regex-01) as Pigeonhole implements it: the key
// is a POSIX extended regular expression (regcomp with REG_EXTENDED; REG_ICASE under
// "i;ascii-casemap"; other comparators are refused, as Pigeonhole refuses them), the
// match is unanchored, and the match variables are ${0} (the whole match) and ${1}..${9}
// (the groups; a group that did not take part is empty).
//
// Limits, since glibc's regex engine is ours to protect and a script is user input:
//   - the pattern is at most regex_limits::max_pattern_bytes;
//   - back-references (\1..\9, which glibc accepts in an ERE) are refused: they make
//     matching exponential;
//   - counted repetitions multiply: "((a{255}){255}){255}" compiles to millions of
//     states; glibc builds "x+" as "xx*", so "a+++...+" doubles with each '+', and
//     stacked "a***...*" nests empty loops it closes recursively. The pattern's "weight"
//     (each atom 1, a group the sum of its parts plus 1, a bound {n,m} multiplies what it
//     repeats by max(n, m) + 1, "*", "+" and "?" by 2) must stay under max_weight;
//   - the subject is cut to max_subject_bytes (4 KiB) before matching. regexec cannot be
//     interrupted, and glibc's unanchored search is QUADRATIC in the subject: it runs the
//     automaton from every start position that can begin a match, each run up to the end,
//     so "(a|aa)*c" against 64 KiB of "a" takes about 10 s, against 4 KiB about 50 ms
//     (measured on the CI machine). A DEPARTURE from Pigeonhole, which matches whole
//     values: a regex looking past the first 4 KiB of a header or body does not see it.
//     Real header values are far shorter; the interpreter should still count each :regex
//     match against its CPU budget (Pigeonhole's sieve_max_cpu_time does the same) or run
//     scripts with :regex on the offload pool.
// Compile once per key (the compiled form holds a regex_t), match many times. regcomp's
// meaning of characters follows the process's locale (the server runs in "C": octets).
#pragma once

#include <regex.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "delivery/sieve/comparator.h"
#include "delivery/sieve/match.h"

namespace ringmail::sieve::matching {

struct regex_limits {
  size_t max_pattern_bytes = 4096;
  size_t max_weight = 10'000;
  size_t max_subject_bytes = 4 * 1024;
};

class compiled_regex {
 public:
  // InvalidArgument for an unsupported comparator, a syntax error (regerror's text), a
  // back-reference, or a pattern over the limits.
  static absl::StatusOr<compiled_regex> compile(std::string_view pattern, comparator c,
                                                const regex_limits& limits = {});

  // Whether the regex matches somewhere in `value` (its first max_subject_bytes). On a
  // match, and when `captures` is given, it is replaced with ${0}..${9} as views into
  // `value`.
  bool match(std::string_view value, match_captures* captures = nullptr) const;

  // Groups in the pattern (regex_t::re_nsub).
  size_t group_count() const;

 private:
  struct regex_deleter {
    void operator()(regex_t* re) const;
  };
  std::unique_ptr<regex_t, regex_deleter> regex_;
  size_t max_subject_bytes_ = 0;
};

// The weight of an ERE as described above (exposed for tests), or nullopt for a
// back-reference.
std::optional<size_t> regex_weight(std::string_view pattern);

}  // namespace ringmail::sieve::matching
