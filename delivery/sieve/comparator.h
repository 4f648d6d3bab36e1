// Sieve comparators (RFC 5228 2.7.3, defined by RFC 4790 and RFC 5051): how two strings
// are compared for equality, order (relational, RFC 5231) and substring (:contains).
// Pure: no runtime, no I/O; the interpreter calls these once it has the strings.
//
// RFC 5228 2.7.3: "Implementations MUST support "i;octet" and "i;ascii-casemap"";
// RFC 5231 asks for "i;ascii-numeric" with the relational tests. The four here:
//   - "i;octet" (RFC 4790 9.3): octet by octet; order is unsigned octet order.
//   - "i;ascii-casemap" (RFC 4790 9.2): "US-ASCII letters [are mapped] to uppercase"
//     first, then i;octet. Equality and substring do not care which case is the target;
//     the ORDER does: mapped to upper case, "_" sorts after "z" as after "Z" (lower-casing
//     would put it before "a"), so order maps to upper case as the RFC says.
//   - "i;ascii-numeric" (RFC 4790 9.1): "interprets strings as decimal positive integers
//     represented as US-ASCII digits"; the value is the leading digits, and "strings
//     which do not start with a digit represent positive infinity". Equal when the two
//     values are equal (so "0042" equals "42x" and "abc" equals "x"); infinity sorts last.
//     It has no substring operation: :contains and :matches with it are errors (RFC 4790
//     9.1.1 lists only equality and ordering), which the checker reports.
//   - "i;unicode-casemap" (RFC 5051), a DEPARTURE: RFC 5051 titlecases, decomposes (NFKD)
//     and drops spaces before comparing; we apply mail/casefold.h's simple case fold only
//     (the same subset IMAP SEARCH uses), so "ÉTÉ" equals "été" but a precomposed é and
//     e + U+0301 differ. Order is by folded octets (RFC 5051's ordering is i;octet of the
//     canonical forms, so this departs only where the canonical forms do).
// Comparator names are matched ASCII case-insensitively (RFC 4790 3.1: names are
// case-insensitive).
//
// The matching library (comparator.h, match.h, match_regex.h, address_part.h,
// variables.h, encoded_character.h) lives in ringmail::sieve::matching: the checker's
// tree (checker_tree.h) names its own comparator/match_type/relation/address_part enums
// in ringmail::sieve, and the interpreter maps those onto these, which carry what the
// operations need (i;unicode-casemap, the match-variable limits) and nothing of the AST.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ringmail::sieve::matching {

enum class comparator { octet, ascii_casemap, ascii_numeric, unicode_casemap };

// "i;octet" -> octet, ...; nullopt for a comparator we do not implement.
std::optional<comparator> parse_comparator(std::string_view name);
std::string_view comparator_name(comparator c);

// False for i;ascii-numeric: :contains, :matches and :regex cannot use it.
bool supports_substring(comparator c);

// The comparator's canonical form: two strings are equal under `c` exactly when their
// canonical forms are equal octet strings, and substring is octet substring of them.
// i;octet: the string; i;ascii-casemap: ASCII letters lower-cased (same length);
// i;unicode-casemap: mail::fold_case; i;ascii-numeric: the leading digits without
// leading zeros ("0" for all zeros), or "" for infinity (no digit first).
std::string canonical_form(comparator c, std::string_view s);

// RFC 4790 equality.
bool comparator_equal(comparator c, std::string_view a, std::string_view b);
// RFC 4790 ordering: negative if a < b, 0 if equal, positive if a > b.
int comparator_order(comparator c, std::string_view a, std::string_view b);
// :contains (RFC 5228 2.7.1): `needle` occurs in `haystack` under `c` (the empty needle
// occurs everywhere). For i;ascii-numeric (no substring operation) this is false.
bool comparator_contains(comparator c, std::string_view haystack, std::string_view needle);

// Character boundaries, as the wildcards, :length and :upperfirst count them: the length
// of the UTF-8 sequence at s[i] (1..4), or 1 for a byte that does not start a valid,
// shortest-form sequence of a scalar value (such a byte is one character of its own).
// `i` must be < s.size(). `cp` receives the code point (the byte itself when invalid).
size_t utf8_character_at(std::string_view s, size_t i, char32_t* cp = nullptr);
// Characters in `s` counted as utf8_character_at steps.
size_t utf8_character_count(std::string_view s);

}  // namespace ringmail::sieve::matching
