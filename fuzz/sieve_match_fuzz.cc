// libFuzzer target for the Sieve matching library (delivery/sieve: comparator, match,
// match_regex, address_part, variables, encoded_character). Build: see fuzz/README.md;
// sources: delivery/sieve/*.cc, mail/casefold.cc, mail/header.cc and the mail decoders
// (rfc2047 for display names), absl.
//
// Byte 0 picks the comparator (bits 0-1) and the :matches step budget (bit 2: tiny, so
// the ResourceExhausted path is reached); the rest is cut at the first '\0' into a
// pattern (a :matches key, a regex, a string with ${...} references) and a subject (a
// header value). Checked, whatever the input:
//   - :matches under i;octet and i;ascii-casemap agrees with a plain dynamic-programming
//     matcher on short inputs; a match's captures are ${0} = the subject and then views
//     inside it, one per wildcard up to ${9}, in increasing, non-overlapping order; the
//     pattern's own quoted form (:quotewildcard) matches the pattern's literal text;
//     compiled_match over one value and one key answers the same, with the same captures;
//   - comparator order is antisymmetric and agrees with equality, :contains holds for the
//     subject itself, the canonical form decides equality;
//   - variable expansion stays within max_expansion_bytes, a string without references
//     expands to itself;
//   - encoded-character decoding never grows the text; :regex compiles or is refused and
//     its captures lie inside the subject;
//   - the address list yields at most max_addresses entries, valid ones with a non-empty
//     domain, and :user + separator + :detail = :localpart.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/sieve/address_part.h"
#include "delivery/sieve/comparator.h"
#include "delivery/sieve/encoded_character.h"
#include "delivery/sieve/match.h"
#include "delivery/sieve/match_list.h"
#include "delivery/sieve/match_regex.h"
#include "delivery/sieve/variables.h"
#include "mail/limits.h"

using namespace ringmail::sieve::matching;

namespace {

void check(bool ok) {
  if (!ok) abort();
}

// Reference :matches for byte comparators: O(n*m) dynamic programming, no captures.
bool reference_matches(std::string_view value, std::string_view key, comparator c) {
  struct unit {
    int kind;  // 0 literal, 1 '?', 2 '*'
    char ch;
  };
  auto fold = [&](char ch) {
    return (c == comparator::ascii_casemap && ch >= 'A' && ch <= 'Z') ? char(ch + 32) : ch;
  };
  std::vector<unit> p;
  for (size_t i = 0; i < key.size(); ++i) {
    if (key[i] == '*') {
      p.push_back({2, 0});
    } else if (key[i] == '?') {
      p.push_back({1, 0});
    } else {
      if (key[i] == '\\' && i + 1 < key.size()) ++i;
      p.push_back({0, fold(key[i])});
    }
  }
  const size_t n = value.size();
  // can[j] after processing k pattern units: value prefix of length j matched.
  std::vector<char> can(n + 1, 0), next(n + 1, 0);
  can[0] = 1;
  for (const unit& u : p) {
    std::fill(next.begin(), next.end(), 0);
    for (size_t j = 0; j <= n; ++j) {
      if (!can[j]) continue;
      if (u.kind == 2) {
        for (size_t k = j; k <= n; ++k) next[k] = 1;
        break;
      }
      if (j < n && (u.kind == 1 || fold(value[j]) == u.ch)) next[j + 1] = 1;
    }
    can.swap(next);
  }
  return can[n];
}

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const comparator comparators[] = {comparator::octet, comparator::ascii_casemap,
                                    comparator::ascii_numeric, comparator::unicode_casemap};
  const comparator c = comparators[data[0] & 3];
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t nul = input.find('\0');
  std::string_view pattern = input.substr(0, nul);
  std::string_view subject = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  // Comparators.
  int o = comparator_order(c, pattern, subject);
  check(o == -comparator_order(c, subject, pattern));
  check((o == 0) == comparator_equal(c, pattern, subject));
  check(comparator_equal(c, subject, subject));
  check(comparator_equal(c, pattern, subject) ==
        (canonical_form(c, pattern) == canonical_form(c, subject)));
  if (supports_substring(c)) check(comparator_contains(c, subject, subject));
  check(utf8_character_count(subject) <= subject.size());

  // :matches.
  match_limits limits;
  limits.max_steps = (data[0] & 4) ? 50 : 100000;
  match_captures caps;
  absl::StatusOr<bool> m = string_match(match_type::matches, c, subject, pattern, &caps, limits);
  if (c == comparator::ascii_numeric) {
    check(!m.ok());
  } else if (m.ok() && *m) {
    check(!caps.empty() && caps.size() <= max_match_values);
    check(caps[0].data() == subject.data() && caps[0].size() == subject.size());
    const char* last_end = subject.data();
    for (size_t k = 1; k < caps.size(); ++k) {
      check(inside(caps[k], subject));
      if (caps[k].empty()) continue;
      check(caps[k].data() >= last_end);
      last_end = caps[k].data() + caps[k].size();
    }
  } else if (!m.ok()) {
    check(m.status().code() == absl::StatusCode::kResourceExhausted);
  }
  if (m.ok() && (c == comparator::octet || c == comparator::ascii_casemap) &&
      pattern.size() <= 64 && subject.size() <= 256) {
    check(*m == reference_matches(subject, pattern, c));
  }
  {
    // The list form gives the single pair's answer and captures.
    match_spec spec;
    spec.type = match_type::matches;
    spec.compare = c;
    std::vector<std::string> keys{std::string(pattern)};
    absl::StatusOr<compiled_match> list = compiled_match::compile(spec, keys);
    check(list.ok() == (c != comparator::ascii_numeric));
    if (list.ok()) {
      std::vector<std::string_view> values{subject};
      match_captures list_caps;
      absl::StatusOr<bool> lm = list->match(values, &list_caps, limits);
      check(lm.ok() == m.ok());
      if (lm.ok()) {
        check(*lm == *m);
        if (*lm) check(list_caps == caps);
      }
    }
  }
  if (c == comparator::octet && pattern.size() <= 1024) {
    // :quotewildcard makes any text a pattern that matches exactly that text.
    const set_modifier quote[] = {set_modifier::quotewildcard};
    std::string quoted = apply_set_modifiers(quote, pattern);
    absl::StatusOr<bool> self = string_match(match_type::matches, c, pattern, quoted);
    check(self.ok() && *self);
  }

  // Variables.
  variable_limits vlimits;
  vlimits.max_expansion_bytes = 4096;
  variable_store store(vlimits);
  check(store.set("a", subject).ok());
  check(store.set("Global.B", pattern).ok());
  store.set_match_values(caps);
  expansion e = expand_variables(pattern, store);
  check(e.text.size() <= vlimits.max_expansion_bytes);
  if (!has_variable_references(pattern) && pattern.size() <= vlimits.max_expansion_bytes) {
    check(!e.truncated && e.text == pattern);
  }
  classify_variable_name(pattern);

  // encoded-character.
  absl::StatusOr<std::string> decoded = decode_encoded_characters(pattern);
  if (decoded.ok()) check(decoded->size() <= pattern.size());

  // :regex, on a short subject (regexec is quadratic in it).
  regex_limits rlimits;
  rlimits.max_subject_bytes = 256;
  rlimits.max_pattern_bytes = 256;
  rlimits.max_weight = 500;
  absl::StatusOr<compiled_regex> re = compiled_regex::compile(pattern, c, rlimits);
  if (re.ok()) {
    match_captures rcaps;
    if (re->match(subject, &rcaps)) {
      check(!rcaps.empty() && rcaps.size() <= max_match_values);
      for (std::string_view cap : rcaps) check(inside(cap, subject));
    }
  }

  // Addresses.
  std::vector<parsed_address> list = parse_address_list(subject);
  check(list.size() <= ringmail::mail::max_addresses);
  for (const parsed_address& a : list) {
    check(extract_address_part(a, address_part::all).has_value());
    if (!a.valid) {
      check(!extract_address_part(a, address_part::localpart).has_value());
      continue;
    }
    check(!a.domain.empty());  // the local part may be "" (a quoted empty string)
    std::optional<std::string> user = extract_address_part(a, address_part::user, "+");
    std::optional<std::string> detail = extract_address_part(a, address_part::detail, "+");
    check(user.has_value());
    check((detail ? *user + "+" + *detail : *user) == a.local_part);
  }
  parse_envelope_address(pattern);
  return 0;
}
