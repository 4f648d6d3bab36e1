// Tests of the Sieve matching library (delivery/sieve: comparator, match, match_regex,
// address_part, variables, encoded_character): the RFCs' own examples, then the inputs
// a hostile script or message would bring.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "delivery/sieve/address_part.h"
#include "delivery/sieve/comparator.h"
#include "delivery/sieve/encoded_character.h"
#include "delivery/sieve/match.h"
#include "delivery/sieve/match_list.h"
#include "delivery/sieve/match_regex.h"
#include "delivery/sieve/variables.h"
#include "mail/limits.h"

namespace ringmail::sieve::matching {
namespace {

using std::chrono::steady_clock;

double seconds_since(steady_clock::time_point start) {
  return std::chrono::duration<double>(steady_clock::now() - start).count();
}

// :matches, asserting the outcome is a clean yes/no.
bool matches(std::string_view value, std::string_view key,
             comparator c = comparator::ascii_casemap, match_captures* captures = nullptr) {
  absl::StatusOr<bool> r = string_match(match_type::matches, c, value, key, captures);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() && *r;
}

std::vector<std::string> strings(const match_captures& captures) {
  return std::vector<std::string>(captures.begin(), captures.end());
}

// ---- comparators (RFC 4790, RFC 5228 2.7.3) ----------------------------------------

TEST(SieveComparator, Names) {
  EXPECT_EQ(parse_comparator("i;octet"), comparator::octet);
  EXPECT_EQ(parse_comparator("I;ASCII-CASEMAP"), comparator::ascii_casemap);
  EXPECT_EQ(parse_comparator("i;ascii-numeric"), comparator::ascii_numeric);
  EXPECT_EQ(parse_comparator("i;unicode-casemap"), comparator::unicode_casemap);
  EXPECT_EQ(parse_comparator("i;basic"), std::nullopt);
  EXPECT_EQ(parse_comparator(""), std::nullopt);
  for (comparator c : {comparator::octet, comparator::ascii_casemap, comparator::ascii_numeric,
                       comparator::unicode_casemap}) {
    EXPECT_EQ(parse_comparator(comparator_name(c)), c);
  }
  EXPECT_FALSE(supports_substring(comparator::ascii_numeric));
  EXPECT_TRUE(supports_substring(comparator::octet));
}

TEST(SieveComparator, OctetAndAsciiCasemapEquality) {
  EXPECT_TRUE(comparator_equal(comparator::octet, "Frobnitz", "Frobnitz"));
  EXPECT_FALSE(comparator_equal(comparator::octet, "Frobnitz", "frobnitz"));
  EXPECT_TRUE(comparator_equal(comparator::ascii_casemap, "Frobnitz", "fROBNITZ"));
  EXPECT_FALSE(comparator_equal(comparator::ascii_casemap, "Frobnitz", "Frobnit"));
  // Only ASCII letters map: "É" and "é" differ under i;ascii-casemap...
  EXPECT_FALSE(comparator_equal(comparator::ascii_casemap, "\xC3\x89t\xC3\xA9", "\xC3\xA9t\xC3\xA9"));
  // ...and are equal under i;unicode-casemap.
  EXPECT_TRUE(comparator_equal(comparator::unicode_casemap, "\xC3\x89T\xC3\x89", "\xC3\xA9t\xC3\xA9"));
}

TEST(SieveComparator, AsciiNumericRfc4790) {
  const comparator n = comparator::ascii_numeric;
  // RFC 4790 9.1.1: the value is the leading digits; leading zeros do not count.
  EXPECT_TRUE(comparator_equal(n, "42", "0042"));
  EXPECT_TRUE(comparator_equal(n, "42", "42abc"));
  EXPECT_FALSE(comparator_equal(n, "42", "43"));
  // Strings without a leading digit are positive infinity: equal to each other...
  EXPECT_TRUE(comparator_equal(n, "abc", "x"));
  EXPECT_TRUE(comparator_equal(n, "", " 1"));
  EXPECT_FALSE(comparator_equal(n, "abc", "1"));
  // ...and greater than every number.
  EXPECT_LT(comparator_order(n, "99999999999999999999999", "abc"), 0);
  EXPECT_GT(comparator_order(n, "abc", "0"), 0);
  EXPECT_EQ(comparator_order(n, "abc", "def"), 0);
  // Numeric, not lexical, order; no overflow on long numbers.
  EXPECT_LT(comparator_order(n, "9", "10"), 0);
  EXPECT_GT(comparator_order(n, "100", "99"), 0);
  EXPECT_LT(comparator_order(n, "18446744073709551616", "18446744073709551617"), 0);
  EXPECT_EQ(comparator_order(n, "000", "0"), 0);
  EXPECT_EQ(canonical_form(n, "0042x"), "42");
  EXPECT_EQ(canonical_form(n, "000"), "0");
  EXPECT_EQ(canonical_form(n, "x1"), "");
}

TEST(SieveComparator, Order) {
  EXPECT_LT(comparator_order(comparator::octet, "B", "a"), 0);
  EXPECT_GT(comparator_order(comparator::ascii_casemap, "B", "a"), 0);
  EXPECT_EQ(comparator_order(comparator::ascii_casemap, "abc", "ABC"), 0);
  EXPECT_LT(comparator_order(comparator::ascii_casemap, "ab", "ABC"), 0);
  // RFC 4790 9.2 maps to upper case: "_" (0x5F) sorts after "z" (as "Z", 0x5A).
  EXPECT_GT(comparator_order(comparator::ascii_casemap, "_", "z"), 0);
  // i;octet order is unsigned.
  EXPECT_GT(comparator_order(comparator::octet, "\xC3", "z"), 0);
}

TEST(SieveComparator, Contains) {
  EXPECT_TRUE(comparator_contains(comparator::ascii_casemap, "MAKE MONEY FAST", "money"));
  EXPECT_FALSE(comparator_contains(comparator::octet, "MAKE MONEY FAST", "money"));
  EXPECT_TRUE(comparator_contains(comparator::octet, "anything", ""));
  EXPECT_TRUE(comparator_contains(comparator::unicode_casemap, "GR\xC3\x9C\xC3\x9F" "E", "\xC3\xBC\xC3\x9F"));
  EXPECT_FALSE(comparator_contains(comparator::ascii_numeric, "123", "2"));
}

TEST(SieveComparator, Utf8Characters) {
  EXPECT_EQ(utf8_character_count(""), 0u);
  EXPECT_EQ(utf8_character_count("abc"), 3u);
  EXPECT_EQ(utf8_character_count("\xC3\xA9t\xC3\xA9"), 3u);
  EXPECT_EQ(utf8_character_count("\xF0\x9F\x98\x80"), 1u);
  // Invalid octets count one each.
  EXPECT_EQ(utf8_character_count("\xC3" "a\xFF\xE2\x82"), 5u);
}

// ---- match types (RFC 5228 2.7.1) ---------------------------------------------------

TEST(SieveMatch, MatchTypeNames) {
  EXPECT_EQ(parse_match_type(":is"), match_type::is);
  EXPECT_EQ(parse_match_type("CONTAINS"), match_type::contains);
  EXPECT_EQ(parse_match_type(":matches"), match_type::matches);
  EXPECT_EQ(parse_match_type(":regex"), match_type::regex);
  EXPECT_EQ(parse_match_type(":value"), std::nullopt);
}

TEST(SieveMatch, IsAndContains) {
  EXPECT_TRUE(*string_match(match_type::is, comparator::ascii_casemap, "Frobnitz", "frobnitz"));
  EXPECT_FALSE(*string_match(match_type::is, comparator::ascii_casemap, "Frobnitz", "frob"));
  EXPECT_TRUE(*string_match(match_type::contains, comparator::ascii_casemap, "Frobnitz", "ROBN"));
  // RFC 5228 5.7's example: MAKE MONEY FAST under i;octet.
  EXPECT_TRUE(*string_match(match_type::contains, comparator::octet,
                            "Re: MAKE MONEY FAST now", "MAKE MONEY FAST"));
  EXPECT_FALSE(*string_match(match_type::contains, comparator::octet,
                             "Re: make money fast now", "MAKE MONEY FAST"));
  EXPECT_EQ(string_match(match_type::contains, comparator::ascii_numeric, "1", "1").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(string_match(match_type::matches, comparator::ascii_numeric, "1", "*").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(string_match(match_type::regex, comparator::octet, "1", "1").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SieveMatch, MatchesWildcardsRfc5228) {
  // "*" matches zero or more characters, "?" exactly one; the whole value must match.
  EXPECT_TRUE(matches("", "*"));
  EXPECT_TRUE(matches("anything at all", "*"));
  EXPECT_FALSE(matches("", "?"));
  EXPECT_TRUE(matches("x", "?"));
  EXPECT_FALSE(matches("xy", "?"));
  EXPECT_TRUE(matches("frobnitz", "frob*"));
  EXPECT_TRUE(matches("frobnitz", "*nitz"));
  EXPECT_TRUE(matches("frobnitz", "*obn*"));
  EXPECT_FALSE(matches("frobnitz", "*obn"));
  EXPECT_TRUE(matches("frobnitz", "fr?bn?tz"));
  EXPECT_FALSE(matches("frobnitz", "fr?bn?t"));
  EXPECT_TRUE(matches("frobnitz", "f*?z"));
  EXPECT_TRUE(matches(std::string_view(), "**"));  // found by sieve_match_fuzz
  EXPECT_TRUE(matches("", "*?*", comparator::octet) == false);
  EXPECT_TRUE(matches("abc", "a**c"));
  EXPECT_TRUE(matches("ac", "a**c"));
  EXPECT_FALSE(matches("ab", "a*?*?*c"));
  EXPECT_TRUE(matches("axyc", "a*?*?*c"));
  // The comparator applies to each character.
  EXPECT_TRUE(matches("FROBNITZ", "frob*"));
  EXPECT_FALSE(matches("FROBNITZ", "frob*", comparator::octet));
  // "\\" quotes: a literal star or question mark, or a backslash.
  EXPECT_TRUE(matches("what?", "what\\?"));
  EXPECT_FALSE(matches("whatx", "what\\?"));
  EXPECT_TRUE(matches("a*b", "a\\*b"));
  EXPECT_FALSE(matches("axxb", "a\\*b"));
  EXPECT_TRUE(matches("a\\b", "a\\\\b"));
  EXPECT_TRUE(matches("a\\", "a\\"));  // a backslash at the end stands for itself
  EXPECT_TRUE(matches("a\\", "a?"));
  // Segments must not overlap: the prefix and suffix both need their own octets.
  EXPECT_FALSE(matches("aba", "aba*aba"));
  EXPECT_TRUE(matches("abaaba", "aba*aba"));
  EXPECT_TRUE(matches("ababa", "ab*ba"));
  EXPECT_FALSE(matches("aba", "ab*ba"));
}

TEST(SieveMatch, QuestionMarkIsOneOctetOrOneCharacter) {
  // Pigeonhole reads "?" as one octet under i;octet and i;ascii-casemap...
  EXPECT_FALSE(matches("\xC3\xA9", "?", comparator::octet));
  EXPECT_TRUE(matches("\xC3\xA9", "??", comparator::octet));
  // ...and one character under i;unicode-casemap, where case folds per character.
  EXPECT_TRUE(matches("\xC3\xA9", "?", comparator::unicode_casemap));
  EXPECT_TRUE(matches("GR\xC3\x9C\xC3\x9F" "E", "gr\xC3\xBC?e", comparator::unicode_casemap));
  match_captures caps;
  // U+0130 (2 octets) folds to "i" (1 octet): captures are still the original octets.
  EXPECT_TRUE(matches("x\xC4\xB0yz", "x?*", comparator::unicode_casemap, &caps));
  EXPECT_EQ(strings(caps), (std::vector<std::string>{"x\xC4\xB0yz", "\xC4\xB0", "yz"}));
  EXPECT_TRUE(matches("\xC4\xB0STANBUL", "istanbul", comparator::unicode_casemap));
}

TEST(SieveMatch, MatchVariablesRfc5229) {
  match_captures caps;
  // RFC 5229 3.2: Subject: [acme-users] [fwd] version 1.0 is out
  ASSERT_TRUE(matches("[acme-users] [fwd] version 1.0 is out", "[*] *", comparator::ascii_casemap, &caps));
  EXPECT_EQ(strings(caps), (std::vector<std::string>{"[acme-users] [fwd] version 1.0 is out",
                                                      "acme-users", "[fwd] version 1.0 is out"}));
  // To: coyote@ACME.Example.COM against "coyote@**.com": ${1} is always empty.
  ASSERT_TRUE(matches("coyote@ACME.Example.COM", "coyote@**.com", comparator::ascii_casemap, &caps));
  EXPECT_EQ(strings(caps), (std::vector<std::string>{"coyote@ACME.Example.COM", "", "ACME.Example"}));
  EXPECT_FALSE(matches("coyote@ACME.Example.COM", "wile@**.com"));
  // List-ID "*<*@*".
  ASSERT_TRUE(matches("Sieve list <sieve.ietf.example.org@lists.example.org>", "*<*@*",
                      comparator::ascii_casemap, &caps));
  EXPECT_EQ(caps.at(2), "sieve.ietf.example.org");
  EXPECT_EQ(caps.at(3), "lists.example.org>");
  // "?" wildcards are numbered with the stars, in pattern order.
  ASSERT_TRUE(matches("abcdefg", "?b*e?*", comparator::octet, &caps));
  EXPECT_EQ(strings(caps), (std::vector<std::string>{"abcdefg", "a", "cd", "f", "g"}));
  // A failed match leaves the captures alone.
  match_captures before = caps;
  EXPECT_FALSE(matches("zzz", "a*", comparator::octet, &caps));
  EXPECT_EQ(caps, before);
  // At most ${0}..${9}.
  ASSERT_TRUE(matches("abcdefghijkl", "????????????", comparator::octet, &caps));
  EXPECT_EQ(caps.size(), max_match_values);
  EXPECT_EQ(caps[9], "i");
}

TEST(SieveMatch, CompiledPatternReused) {
  absl::StatusOr<wildcard_pattern> p = wildcard_pattern::compile("*@example.???", comparator::ascii_casemap);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->wildcard_count(), 4u);
  EXPECT_TRUE(*p->match("john@EXAMPLE.org"));
  EXPECT_TRUE(*p->match("@example.net"));
  EXPECT_FALSE(*p->match("john@example.org.uk"));
}

TEST(SieveMatch, HostileManyStarsAgainstOneMegabyte) {
  // Issue 14: ":matches patterns with many '*'" must end within limits. A backtracking
  // matcher takes exponential time on "*a*a*a...*b" against "aaaa...".
  std::string subject(1024 * 1024, 'a');
  std::string pattern;
  for (int i = 0; i < 1000; ++i) pattern += "*a";
  pattern += "*b";
  for (comparator c : {comparator::octet, comparator::ascii_casemap, comparator::unicode_casemap}) {
    auto start = steady_clock::now();
    absl::StatusOr<bool> r = string_match(match_type::matches, c, subject, pattern);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(*r);
    EXPECT_LT(seconds_since(start), 2.0) << comparator_name(c);
  }
  // The same with a match: every star but the last is empty.
  match_captures caps;
  std::string ok_pattern;
  for (int i = 0; i < 1000; ++i) ok_pattern += "*a";
  ok_pattern += "*";
  ASSERT_TRUE(matches(subject, ok_pattern, comparator::octet, &caps));
  EXPECT_EQ(caps[1], "");
  // Long literal segments without "?" are found with a linear search.
  std::string long_segment = "*" + std::string(5000, 'a') + "b*";
  auto start = steady_clock::now();
  EXPECT_FALSE(matches(subject, long_segment, comparator::ascii_casemap));
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST(SieveMatch, HostileScanRunsOutOfStepsCleanly) {
  // A segment with "?" is scanned directly; 1 MB x 5000 comparisons would be 5e9 steps.
  std::string subject(1024 * 1024, 'a');
  std::string pattern = "*" + std::string(5000, 'a') + "?b*";
  for (comparator c : {comparator::octet, comparator::unicode_casemap}) {
    auto start = steady_clock::now();
    absl::StatusOr<bool> r = string_match(match_type::matches, c, subject, pattern);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << comparator_name(c);
    EXPECT_LT(seconds_since(start), 2.0);
  }
  // A smaller budget stops sooner; a generous one finds the match.
  match_limits small;
  small.max_steps = 1000;
  EXPECT_EQ(string_match(match_type::matches, comparator::octet, std::string(5000, 'a') + "xb",
                         "*aaaa?b*", nullptr, small)
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(*string_match(match_type::matches, comparator::octet, std::string(5000, 'a') + "xb",
                            "*aaaa?b*"));
}

// ---- :regex ------------------------------------------------------------------------

TEST(SieveRegex, MatchAndCaptures) {
  auto re = compiled_regex::compile("^(.*)@([a-z.]+)$", comparator::ascii_casemap);
  ASSERT_TRUE(re.ok()) << re.status();
  EXPECT_EQ(re->group_count(), 2u);
  match_captures caps;
  ASSERT_TRUE(re->match("John@Example.ORG", &caps));
  EXPECT_EQ(strings(caps), (std::vector<std::string>{"John@Example.ORG", "John", "Example.ORG"}));
  auto octet = compiled_regex::compile("^(.*)@([a-z.]+)$", comparator::octet);
  ASSERT_TRUE(octet.ok());
  EXPECT_FALSE(octet->match("John@Example.ORG"));
  // Unanchored; a group that does not take part is empty.
  auto alt = compiled_regex::compile("(x)|(money)", comparator::octet);
  ASSERT_TRUE(alt.ok());
  ASSERT_TRUE(alt->match("make money fast", &caps));
  EXPECT_EQ(strings(caps), (std::vector<std::string>{"money", "", "money"}));
  // NUL octets in the value do not end it.
  auto tail = compiled_regex::compile("b$", comparator::octet);
  ASSERT_TRUE(tail.ok());
  EXPECT_TRUE(tail->match(std::string_view("a\0b", 3)));
}

TEST(SieveRegex, Refused) {
  EXPECT_FALSE(compiled_regex::compile("a", comparator::ascii_numeric).ok());
  EXPECT_FALSE(compiled_regex::compile("a", comparator::unicode_casemap).ok());
  EXPECT_FALSE(compiled_regex::compile("(unclosed", comparator::octet).ok());
  EXPECT_FALSE(compiled_regex::compile("[z-a]", comparator::octet).ok());
  EXPECT_FALSE(compiled_regex::compile("(a)\\1", comparator::octet).ok());
  EXPECT_FALSE(compiled_regex::compile(std::string(5000, 'a'), comparator::octet).ok());
  auto start = steady_clock::now();
  EXPECT_FALSE(compiled_regex::compile("((a{255}){255}){255}", comparator::octet).ok());
  EXPECT_FALSE(compiled_regex::compile("a{32767}", comparator::octet).ok());
  // glibc copies "x" for "x+": 54 '+' in a row exhausted memory (sieve_match_fuzz).
  EXPECT_FALSE(compiled_regex::compile("a" + std::string(54, '+'), comparator::octet).ok());
  EXPECT_FALSE(compiled_regex::compile("a" + std::string(60, '*'), comparator::octet).ok());
  EXPECT_TRUE(compiled_regex::compile("^.*(foo|bar)?.*[0-9]+$", comparator::octet).ok());
  EXPECT_EQ(regex_weight("a+"), 2u);
  EXPECT_EQ(regex_weight("a*b?"), 4u);
  EXPECT_EQ(regex_weight("(ab)+c"), 7u);
  EXPECT_LT(seconds_since(start), 1.0);
  EXPECT_TRUE(compiled_regex::compile("a{1,100}b{2}", comparator::octet).ok());
  EXPECT_EQ(regex_weight("abc"), 3u);
  EXPECT_EQ(regex_weight("(ab){3}"), 12u);  // (2 + 1) x 4
  EXPECT_EQ(regex_weight("[a-z]{2,}x"), 4u);
  EXPECT_EQ(regex_weight("(a*)*"), 6u);
  EXPECT_EQ(regex_weight("\\2"), std::nullopt);
}

TEST(SieveRegex, HostileSubjectIsBounded) {
  // glibc's unanchored search is quadratic in the subject: "(a|aa)*c" on 64 KiB of "a"
  // takes seconds; cut to 4 KiB it takes milliseconds.
  std::string subject(1024 * 1024, 'a');
  for (std::string_view pattern : {"(a*)*b", "(a|aa)*c", "(.*)(.*)(.*)(.*)(.*)z"}) {
    auto re = compiled_regex::compile(pattern, comparator::ascii_casemap);
    ASSERT_TRUE(re.ok());
    match_captures caps;
    auto start = steady_clock::now();
    EXPECT_FALSE(re->match(subject, &caps));
    EXPECT_LT(seconds_since(start), 3.0) << pattern;
  }
  // Past max_subject_bytes the value is not looked at.
  regex_limits small;
  small.max_subject_bytes = 10;
  auto late = compiled_regex::compile("b", comparator::octet, small);
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(late->match(std::string(10, 'a') + "b"));
  EXPECT_TRUE(late->match(std::string(9, 'a') + "b"));
}

// ---- relational (RFC 5231) ---------------------------------------------------------

TEST(SieveRelational, Names) {
  EXPECT_EQ(parse_relation("gt"), relation::gt);
  EXPECT_EQ(parse_relation("GE"), relation::ge);
  EXPECT_EQ(parse_relation("ne"), relation::ne);
  EXPECT_EQ(parse_relation("gte"), std::nullopt);
  for (relation r : {relation::gt, relation::ge, relation::lt, relation::le, relation::eq, relation::ne}) {
    EXPECT_EQ(parse_relation(relation_name(r)), r);
  }
}

TEST(SieveRelational, Rfc5231Examples) {
  // RFC 5231 6: the message has two Received fields, a Subject, "To: foo@example.com,
  // baz@example.com" and "CC: qux@example.com".
  const comparator num = comparator::ascii_numeric;
  size_t to = parse_address_list("foo@example.com, baz@example.com").size();
  size_t cc = parse_address_list("qux@example.com").size();
  // address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"] is true,
  EXPECT_TRUE(relational_count_match(relation::ge, num, to + cc, "3"));
  // and ["to"] alone is not.
  EXPECT_FALSE(relational_count_match(relation::ge, num, to, "3"));
  // header :count "ge" ["received"] ["3"] is false (two fields), with "subject" true.
  EXPECT_FALSE(relational_count_match(relation::ge, num, 2, "3"));
  EXPECT_TRUE(relational_count_match(relation::ge, num, 3, "3"));
  // address :value "lt" :all ["from"] ["M"] under i;ascii-casemap is true for a sender
  // address sorting before "M" — here "bob@..." and not "zed@...".
  EXPECT_TRUE(relational_value_match(relation::lt, comparator::ascii_casemap, "bob@example.com", "M"));
  EXPECT_FALSE(relational_value_match(relation::lt, comparator::ascii_casemap, "zed@example.com", "m"));
  // :count under i;octet compares the digits as strings: "10" < "9".
  EXPECT_TRUE(relational_count_match(relation::lt, comparator::octet, 10, "9"));
  EXPECT_FALSE(relational_count_match(relation::lt, num, 10, "9"));
}

TEST(SieveRelational, ValueUnderAsciiNumeric) {
  const comparator num = comparator::ascii_numeric;
  // header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "5"
  EXPECT_TRUE(relational_value_match(relation::ge, num, "5", "5"));
  EXPECT_TRUE(relational_value_match(relation::ge, num, "12", "5"));
  EXPECT_FALSE(relational_value_match(relation::gt, num, "05", "5"));
  EXPECT_TRUE(relational_value_match(relation::eq, num, "05", "5"));
  EXPECT_TRUE(relational_value_match(relation::ne, num, "4", "5"));
  EXPECT_TRUE(relational_value_match(relation::le, num, "4", "5"));
  // A value with no digits is infinity: greater than any number, equal to another.
  EXPECT_TRUE(relational_value_match(relation::gt, num, "none", "999"));
  EXPECT_TRUE(relational_value_match(relation::eq, num, "none", "n/a"));
}

// ---- whole tests: value lists against key lists ------------------------------------

match_spec spec_of(match_type type, comparator c = comparator::ascii_casemap,
                   std::optional<relation> value = std::nullopt,
                   std::optional<relation> count = std::nullopt) {
  match_spec spec;
  spec.type = type;
  spec.compare = c;
  spec.value_relation = value;
  spec.count_relation = count;
  return spec;
}

absl::StatusOr<bool> run(const match_spec& spec, std::vector<std::string> keys,
                         std::vector<std::string_view> values, match_captures* caps = nullptr) {
  absl::StatusOr<compiled_match> m = compiled_match::compile(spec, keys);
  if (!m.ok()) return m.status();
  return m->match(values, caps);
}

TEST(SieveMatchList, AnyValueAgainstAnyKey) {
  match_spec is;
  EXPECT_TRUE(*run(is, {"x", "Frobnitz"}, {"nothing", "frobnitz"}));
  EXPECT_FALSE(*run(is, {"x", "y"}, {"nothing", "frobnitz"}));
  EXPECT_FALSE(*run(is, {"x"}, {}));
  match_spec contains = spec_of(match_type::contains);
  EXPECT_TRUE(*run(contains, {"MONEY"}, {"make money fast"}));
  // The first matching pair (values outer, keys inner) sets the match variables.
  match_spec m = spec_of(match_type::matches);
  match_captures caps;
  ASSERT_TRUE(*run(m, {"*@b.example", "*@*"}, {"x@a.example", "y@b.example"}, &caps));
  EXPECT_EQ(strings(caps), (std::vector<std::string>{"x@a.example", "x", "a.example"}));
  match_captures before = caps;
  EXPECT_FALSE(*run(m, {"nomatch*"}, {"x@a.example"}, &caps));
  EXPECT_EQ(caps, before);
  match_spec re = spec_of(match_type::regex);
  ASSERT_TRUE(*run(re, {"^([^@]*)@b\\.example$"}, {"x@a.example", "Y@B.example"}, &caps));
  EXPECT_EQ(strings(caps), (std::vector<std::string>{"Y@B.example", "Y"}));
  EXPECT_TRUE(compiled_match::compile(m, std::vector<std::string>{"*"})->sets_match_variables());
  EXPECT_FALSE(compiled_match::compile(is, std::vector<std::string>{"*"})->sets_match_variables());
}

TEST(SieveMatchList, RelationalRfc5231) {
  match_spec count = spec_of(match_type::is, comparator::ascii_numeric, std::nullopt, relation::ge);
  // address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]: three addresses.
  EXPECT_TRUE(*run(count, {"3"}, {"foo@example.com", "baz@example.com", "qux@example.com"}));
  EXPECT_FALSE(*run(count, {"3"}, {"foo@example.com", "baz@example.com"}));
  // Any key will do; no values count as 0.
  EXPECT_TRUE(*run(count, {"5", "2"}, {"a", "b"}));
  match_spec zero = spec_of(match_type::is, comparator::ascii_numeric, std::nullopt, relation::eq);
  EXPECT_TRUE(*run(zero, {"0"}, {}));
  match_spec value = spec_of(match_type::is, comparator::ascii_numeric, relation::gt);
  // header :value "gt" :comparator "i;ascii-numeric" "X-Priority" "3"
  EXPECT_TRUE(*run(value, {"3"}, {"1", "5 (lowest)"}));
  EXPECT_FALSE(*run(value, {"3"}, {"1", "3"}));
}

TEST(SieveMatchList, Errors) {
  match_spec contains = spec_of(match_type::contains, comparator::ascii_numeric);
  EXPECT_FALSE(compiled_match::compile(contains, std::vector<std::string>{"1"}).ok());
  match_spec re = spec_of(match_type::regex);
  EXPECT_FALSE(compiled_match::compile(re, std::vector<std::string>{"ok", "(bad"}).ok());
  match_spec m = spec_of(match_type::matches, comparator::octet);
  auto hostile = compiled_match::compile(m, std::vector<std::string>{"*" + std::string(5000, 'a') + "?b*"});
  ASSERT_TRUE(hostile.ok());
  std::string big(1024 * 1024, 'a');
  std::vector<std::string_view> values{big};
  EXPECT_EQ(hostile->match(values).status().code(), absl::StatusCode::kResourceExhausted);
}

// ---- address parts (RFC 5228 2.7.4, RFC 5233) --------------------------------------

std::optional<std::string> part_of(std::string_view value, address_part part,
                                   std::string_view separators = "+") {
  std::vector<parsed_address> list = parse_address_list(value);
  EXPECT_EQ(list.size(), 1u) << value;
  if (list.empty()) return std::nullopt;
  return extract_address_part(list[0], part, separators);
}

TEST(SieveAddress, PartNames) {
  EXPECT_EQ(parse_address_part(":all"), address_part::all);
  EXPECT_EQ(parse_address_part("localpart"), address_part::localpart);
  EXPECT_EQ(parse_address_part(":DOMAIN"), address_part::domain);
  EXPECT_EQ(parse_address_part(":user"), address_part::user);
  EXPECT_EQ(parse_address_part(":detail"), address_part::detail);
  EXPECT_EQ(parse_address_part(":is"), std::nullopt);
}

TEST(SieveAddress, Parts) {
  EXPECT_EQ(part_of("John Doe <john@Example.ORG>", address_part::all), "john@Example.ORG");
  EXPECT_EQ(part_of("John Doe <john@Example.ORG>", address_part::localpart), "john");
  EXPECT_EQ(part_of("John Doe <john@Example.ORG>", address_part::domain), "Example.ORG");
  EXPECT_EQ(part_of("john@example.org (John Doe)", address_part::all), "john@example.org");
  EXPECT_EQ(part_of("  john . doe @ example . org ", address_part::all), "john.doe@example.org");
  EXPECT_EQ(part_of("\"john doe\"@example.org", address_part::localpart), "john doe");
  EXPECT_EQ(part_of("\"john doe\"@example.org", address_part::all), "\"john doe\"@example.org");
  EXPECT_EQ(part_of("\"a\\\"b\"@example.org", address_part::all), "\"a\\\"b\"@example.org");
  EXPECT_EQ(part_of("<@relay.example:john@example.org>", address_part::all), "john@example.org");
  EXPECT_EQ(part_of("x <john@[192.0.2.1]>", address_part::domain), "[192.0.2.1]");
  EXPECT_EQ(part_of("\"Doe, John\" <john@example.org>", address_part::all), "john@example.org");
}

TEST(SieveAddress, SubaddressRfc5233) {
  // RFC 5233 6: mail for "ken+mta-filters@example.com".
  EXPECT_EQ(part_of("ken+mta-filters@example.com", address_part::user), "ken");
  EXPECT_EQ(part_of("ken+mta-filters@example.com", address_part::detail), "mta-filters");
  EXPECT_EQ(part_of("ken+foo@example.com", address_part::detail), "foo");
  // "envelope :user "to" "postmaster"" also holds for plain postmaster@.
  EXPECT_EQ(part_of("postmaster@example.com", address_part::user), "postmaster");
  // No separator: :user is the whole local part and :detail matches nothing.
  EXPECT_EQ(part_of("postmaster@example.com", address_part::detail), std::nullopt);
  // A separator with nothing after it: the empty detail.
  EXPECT_EQ(part_of("ken+@example.com", address_part::detail), "");
  // Only the first separator splits.
  EXPECT_EQ(part_of("ken+a+b@example.com", address_part::detail), "a+b");
  // Dovecot's recipient_delimiter may list several characters.
  EXPECT_EQ(part_of("ken-lists@example.com", address_part::user, "+-"), "ken");
  EXPECT_EQ(part_of("ken-lists@example.com", address_part::user, "+"), "ken-lists");
  EXPECT_EQ(part_of("ken-lists@example.com", address_part::detail, ""), std::nullopt);
}

TEST(SieveAddress, ListsAndGroups) {
  std::vector<parsed_address> list = parse_address_list(
      "a@example.org, \"B\" <b@example.org>,\r\n team: c@example.org, D <d@example.org>;, "
      "undisclosed-recipients:;, , e@example.org");
  std::vector<std::string> all;
  for (const parsed_address& a : list) all.push_back(*extract_address_part(a, address_part::all));
  EXPECT_EQ(all, (std::vector<std::string>{"a@example.org", "b@example.org", "c@example.org",
                                           "d@example.org", "e@example.org"}));
  EXPECT_EQ(list[1].display_name, "B");
  EXPECT_EQ(list[3].display_name, "D");
  EXPECT_TRUE(parse_address_list("").empty());
  EXPECT_TRUE(parse_address_list("undisclosed-recipients:;").empty());
  EXPECT_TRUE(parse_address_list(" (just a comment) ").empty());
}

TEST(SieveAddress, InvalidEntriesGiveOnlyAll) {
  std::vector<parsed_address> list = parse_address_list("root, broken@, @nowhere, <>");
  ASSERT_EQ(list.size(), 4u);
  for (const parsed_address& a : list) {
    EXPECT_FALSE(a.valid) << a.raw;
    EXPECT_EQ(extract_address_part(a, address_part::localpart), std::nullopt);
    EXPECT_EQ(extract_address_part(a, address_part::domain), std::nullopt);
    EXPECT_EQ(extract_address_part(a, address_part::user), std::nullopt);
  }
  EXPECT_EQ(extract_address_part(list[0], address_part::all), "root");
  EXPECT_EQ(extract_address_part(list[1], address_part::all), "broken@");
  EXPECT_EQ(extract_address_part(list[3], address_part::all), "<>");
}

TEST(SieveAddress, DisplayNamesDecodedOnlyForDisplay) {
  mail::charset_converter charsets;
  std::vector<parsed_address> list =
      parse_address_list("=?utf-8?q?J=C3=B6rg?= <=?utf-8?q?x?=@example.org>", &charsets);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].display_name, "J\xC3\xB6rg");
  EXPECT_EQ(list[0].local_part, "=?utf-8?q?x?=");  // never decoded in the address
}

TEST(SieveAddress, Envelope) {
  parsed_address null = parse_envelope_address("<>");
  EXPECT_FALSE(null.valid);
  EXPECT_EQ(extract_address_part(null, address_part::all), "");
  EXPECT_EQ(extract_address_part(null, address_part::localpart), std::nullopt);
  parsed_address a = parse_envelope_address("<ken+foo@example.com>");
  ASSERT_TRUE(a.valid);
  EXPECT_EQ(extract_address_part(a, address_part::detail), "foo");
  EXPECT_EQ(extract_address_part(parse_envelope_address("john@example.org"), address_part::domain),
            "example.org");
  EXPECT_EQ(extract_address_part(parse_envelope_address("<@a,@b:john@example.org>"), address_part::all),
            "john@example.org");
  // Found by sieve_match_fuzz: an unterminated comment right after '<'.
  parsed_address comment = parse_envelope_address("(");
  EXPECT_FALSE(comment.valid);
  EXPECT_EQ(extract_address_part(comment, address_part::all), "(");
  EXPECT_EQ(parse_address_list("<(>").size(), 1u);
}

TEST(SieveAddress, HostileListIsBounded) {
  std::string value;
  for (int i = 0; i < 50000; ++i) value += "a@b,";
  value += std::string(100000, '(');  // an unterminated, deeply nested comment
  value += std::string(100000, '"');
  auto start = steady_clock::now();
  std::vector<parsed_address> list = parse_address_list(value);
  EXPECT_EQ(list.size(), mail::max_addresses);
  EXPECT_LT(seconds_since(start), 2.0);
}

// ---- variables (RFC 5229) ----------------------------------------------------------

TEST(SieveVariables, Names) {
  EXPECT_EQ(classify_variable_name("company"), variable_name_kind::identifier);
  EXPECT_EQ(classify_variable_name("_x9"), variable_name_kind::identifier);
  EXPECT_EQ(classify_variable_name("0"), variable_name_kind::match);
  EXPECT_EQ(classify_variable_name("10"), variable_name_kind::match);
  EXPECT_EQ(classify_variable_name("global.company"), variable_name_kind::namespaced);
  EXPECT_EQ(variable_namespace("global.company"), "global");
  EXPECT_EQ(variable_namespace("company"), "");
  for (std::string_view bad : {"", "9a", "doh!", "a..b", ".a", "a.", "a.1", "a b", "ä"}) {
    EXPECT_EQ(classify_variable_name(bad), variable_name_kind::invalid) << bad;
  }
}

TEST(SieveVariables, ExpansionRfc5229Section3) {
  variable_store store;
  ASSERT_TRUE(store.set("company", "ACME").ok());
  EXPECT_EQ(expand_variables("&%${}!", store).text, "&%${}!");
  EXPECT_EQ(expand_variables("${doh!}", store).text, "${doh!}");
  EXPECT_EQ(expand_variables("${full}", store).text, "");
  EXPECT_EQ(expand_variables("${company}", store).text, "ACME");
  EXPECT_EQ(expand_variables("${BAD${Company}", store).text, "${BADACME");
  EXPECT_EQ(expand_variables("${President, ${Company} Inc.}", store).text,
            "${President, ACME Inc.}");
  EXPECT_EQ(expand_variables("${company", store).text, "${company");
  EXPECT_EQ(expand_variables("$${company}$", store).text, "$ACME$");
  EXPECT_TRUE(has_variable_references("x ${company} y"));
  EXPECT_TRUE(has_variable_references("${1}"));
  EXPECT_FALSE(has_variable_references("${doh!} ${} $x"));
}

TEST(SieveVariables, MatchVariables) {
  variable_store store;
  match_captures caps;
  ASSERT_TRUE(matches("[acme-users] [fwd] version 1.0 is out", "[*] *", comparator::ascii_casemap, &caps));
  store.set_match_values(caps);
  EXPECT_EQ(expand_variables("INBOX.lists.${1}", store).text, "INBOX.lists.acme-users");
  EXPECT_EQ(expand_variables("${0}|${2}|${3}|${10}|${0000001}", store).text,
            "[acme-users] [fwd] version 1.0 is out|[fwd] version 1.0 is out|||acme-users");
  store.set_match_values({});
  EXPECT_EQ(expand_variables("[${1}]", store).text, "[]");
}

TEST(SieveVariables, SetModifiersRfc5229Section4) {
  variable_store store;
  ASSERT_TRUE(store.set("honorific", "Mr").ok());
  ASSERT_TRUE(store.set("first_name", "Wile").ok());
  ASSERT_TRUE(store.set("last_name", "Coyote").ok());
  EXPECT_EQ(expand_variables("Dear ${HONORIFIC} ${last_name},\n", store).text, "Dear Mr Coyote,\n");
  const std::string a = "juMBlEd lETteRS";
  using m = set_modifier;
  auto apply = [&](std::vector<set_modifier> mods, std::string_view v) {
    EXPECT_TRUE(check_set_modifiers(mods).ok());
    return apply_set_modifiers(mods, v);
  };
  EXPECT_EQ(apply({m::length}, a), "15");
  EXPECT_EQ(apply({m::lower}, a), "jumbled letters");
  EXPECT_EQ(apply({m::upperfirst}, a), "JuMBlEd lETteRS");
  // Precedence, not the order written: :lower (40) first, then :upperfirst (30).
  EXPECT_EQ(apply({m::upperfirst, m::lower}, a), "Jumbled letters");
  EXPECT_EQ(apply({m::lower, m::upperfirst}, a), "Jumbled letters");
  EXPECT_EQ(apply({m::quotewildcard}, "Rock*"), "Rock\\*");
  // :length comes last and counts characters.
  EXPECT_EQ(apply({m::length, m::quotewildcard}, "a*?"), "5");
  EXPECT_EQ(apply({m::length}, "\xC3\xA9t\xC3\xA9"), "3");
  EXPECT_EQ(apply({m::upper}, "\xC3\xA9t\xC3\xA9"), "\xC3\xA9T\xC3\xA9");  // ASCII only
  EXPECT_EQ(apply({m::lowerfirst}, "ABC"), "aBC");
  EXPECT_EQ(apply({m::quoteregex}, "a.b*(c)"), "a\\.b\\*\\(c\\)");
  EXPECT_EQ(apply({m::encodeurl}, "a b/\xC3\xA9~_.-"), "a%20b%2F%C3%A9~_.-");
  EXPECT_FALSE(check_set_modifiers(std::vector<set_modifier>{m::lower, m::upper}).ok());
  EXPECT_FALSE(check_set_modifiers(std::vector<set_modifier>{m::quotewildcard, m::quoteregex}).ok());
  EXPECT_FALSE(check_set_modifiers(std::vector<set_modifier>{m::length, m::length}).ok());
  EXPECT_EQ(parse_set_modifier(":upperfirst"), m::upperfirst);
  EXPECT_EQ(parse_set_modifier("ENCODEURL"), m::encodeurl);
  EXPECT_EQ(parse_set_modifier(":bogus"), std::nullopt);
}

TEST(SieveVariables, StoreIsCaseInsensitiveAndBounded) {
  variable_limits limits;
  limits.max_variables = 3;
  limits.max_value_bytes = 5;
  variable_store store(limits);
  ASSERT_TRUE(store.set("Name", "abc").ok());
  EXPECT_EQ(store.get("NAME"), "abc");
  ASSERT_TRUE(store.set("name", "xyz").ok());
  EXPECT_EQ(store.get("Name"), "xyz");
  EXPECT_EQ(store.get("other"), std::nullopt);
  EXPECT_EQ(store.set("1", "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.set("doh!", "x").code(), absl::StatusCode::kInvalidArgument);
  // Cut at a character boundary: "ab" + "é" + "é" is 6 octets; 5 would split the second.
  ASSERT_TRUE(store.set("cut", "ab\xC3\xA9\xC3\xA9").ok());
  EXPECT_EQ(store.get("cut"), "ab\xC3\xA9");
  ASSERT_TRUE(store.set("global.x", "g").ok());
  EXPECT_EQ(store.set("fourth", "x").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(store.set("CUT", "again").ok());  // an existing name is no new variable
  EXPECT_EQ(store.size(), 3u);
}

TEST(SieveVariables, HugeExpansionEndsWithinLimits) {
  variable_store store;
  ASSERT_TRUE(store.set("a", std::string(100000, 'x')).ok());
  EXPECT_EQ(store.get("a")->size(), 4096u);  // Pigeonhole's sieve_variables_max_variable_size
  std::string text;
  for (int i = 0; i < 250000; ++i) text += "${a}";  // a 1 MB literal: 1 GB if unbounded
  auto start = steady_clock::now();
  expansion e = expand_variables(text, store);
  EXPECT_TRUE(e.truncated);
  EXPECT_EQ(e.text.size(), store.limits().max_expansion_bytes);
  EXPECT_LT(seconds_since(start), 2.0);
  // Many "${" with no end are copied through in linear time.
  std::string opens;
  for (int i = 0; i < 200000; ++i) opens += "${${a";
  start = steady_clock::now();
  expansion o = expand_variables(opens, store);
  EXPECT_FALSE(o.truncated);
  EXPECT_EQ(o.text, opens);
  EXPECT_LT(seconds_since(start), 2.0);
}

// ---- encoded-character (RFC 5228 2.4.2.4) -----------------------------------------

TEST(SieveEncodedCharacter, Rfc5228Examples) {
  auto d = [](std::string_view s) {
    absl::StatusOr<std::string> r = decode_encoded_characters(s);
    EXPECT_TRUE(r.ok()) << s << ": " << r.status();
    return r.ok() ? *r : std::string("<error>");
  };
  EXPECT_EQ(d("${hex:40}"), "@");
  EXPECT_EQ(d("${hex: 40 }"), "@");
  EXPECT_EQ(d("${HEX:40}"), "@");
  EXPECT_EQ(d("${hex:40"), "${hex:40");
  EXPECT_EQ(d("${hex:400}"), "${hex:400}");
  EXPECT_EQ(d("${hex:4${hex:30}}"), "${hex:40}");
  EXPECT_EQ(d("${unicode:40}"), "@");
  EXPECT_EQ(d("${ unicode:40}"), "${ unicode:40}");
  EXPECT_EQ(d("${UNICODE:40}"), "@");
  EXPECT_EQ(d("${UnICoDE:0000040}"), "@");
  EXPECT_EQ(d("${Unicode:40}"), "@");
  EXPECT_EQ(d("${Unicode:Cool}"), "${Unicode:Cool}");
  EXPECT_FALSE(decode_encoded_characters("${unicode:200000}").ok());
  EXPECT_FALSE(decode_encoded_characters("${Unicode:DF01}").ok());
  EXPECT_FALSE(decode_encoded_characters("x ${unicode:FFFFFFFFFFFFFFFFFFFFFFFF} y").ok());
}

TEST(SieveEncodedCharacter, Sequences) {
  EXPECT_EQ(*decode_encoded_characters("${hex:24 24}"), "$$");
  EXPECT_EQ(*decode_encoded_characters("$${hex:24}"), "$$");
  EXPECT_EQ(*decode_encoded_characters("${hex:4 f\r\n 4B}"), "\x04\x0fK");
  EXPECT_EQ(*decode_encoded_characters("${hex:}"), "${hex:}");
  EXPECT_EQ(*decode_encoded_characters("${hex:  }"), "${hex:  }");
  EXPECT_EQ(*decode_encoded_characters("${hex:4g}"), "${hex:4g}");
  EXPECT_EQ(*decode_encoded_characters("${unicode:e9 1F600}"),
            "\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(*decode_encoded_characters("${hex:00}"), std::string(1, '\0'));
  EXPECT_EQ(*decode_encoded_characters("no encodings ${x} $ {hex:40}"),
            "no encodings ${x} $ {hex:40}");
  // Unterminated openings are linear, not quadratic.
  std::string hostile;
  for (int i = 0; i < 100000; ++i) hostile += "${hex:";
  auto start = steady_clock::now();
  EXPECT_EQ(*decode_encoded_characters(hostile), hostile);
  EXPECT_LT(seconds_since(start), 2.0);
}

}  // namespace
}  // namespace ringmail::sieve::matching
