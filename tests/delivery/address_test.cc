// Address parsing and normalisation: table-driven, every rule of address.h, and hostile
// input (header injection, path traversal, SQL metacharacters, broken UTF-8).
#include "delivery/directory/address.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ringmail::directory {
namespace {

struct good_case {
  std::string input;
  std::string local;
  std::string detail;
  std::string domain;
};

std::ostream& operator<<(std::ostream& os, const good_case& c) { return os << "\"" << c.input << "\""; }

class ParseAddressGood : public ::testing::TestWithParam<good_case> {};

TEST_P(ParseAddressGood, NormalisesAndSplits) {
  const good_case& c = GetParam();
  absl::StatusOr<address> a = parse_address(c.input);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->local, c.local);
  EXPECT_EQ(a->detail, c.detail);
  EXPECT_EQ(a->domain, c.domain);
  EXPECT_EQ(a->full(), absl::StrCat(c.local, "@", c.domain));
  // What parse_address promises to the Maildir code.
  EXPECT_TRUE(is_safe_path_component(a->local)) << a->local;
  EXPECT_TRUE(is_safe_path_component(a->domain)) << a->domain;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseAddressGood,
    ::testing::Values(
        good_case{"john@example.org", "john", "", "example.org"},
        good_case{"John.Smith@Example.ORG", "john.smith", "", "example.org"},
        good_case{"JOHN@EXAMPLE.ORG", "john", "", "example.org"},
        good_case{"john+lists@example.org", "john", "lists", "example.org"},
        good_case{"John+Lists@example.org", "john", "lists", "example.org"},
        good_case{"john+lists+more@example.org", "john", "lists+more", "example.org"},
        good_case{"john+@example.org", "john", "", "example.org"},
        // Nothing before the separator: not split (Postfix split_addr), no empty user.
        good_case{"+lists@example.org", "+lists", "", "example.org"},
        good_case{"john@bücher.example", "john", "", "xn--bcher-kva.example"},
        good_case{"john@BÜCHER.Example", "john", "", "xn--bcher-kva.example"},
        good_case{"john@xn--bcher-kva.example", "john", "", "xn--bcher-kva.example"},
        good_case{"john@XN--BCHER-KVA.example", "john", "", "xn--bcher-kva.example"},
        good_case{"john@straße.de", "john", "", "xn--strae-oqa.de"},  // non-transitional: ß kept
        good_case{"john@例え.テスト", "john", "", "xn--r8jz45g.xn--zckzah"},
        good_case{"jörg@example.org", "jörg", "", "example.org"},  // SMTPUTF8 local part
        good_case{"JÖRG@example.org", "jÖrg", "", "example.org"},  // ASCII letters only are folded
        good_case{"o'brien@example.org", "o'brien", "", "example.org"},
        good_case{"user--x@example.org", "user--x", "", "example.org"},
        good_case{"a-b_c=d?e^f`g{h|i}j~k#l$m&n*o@example.org", "a-b_c=d?e^f`g{h|i}j~k#l$m&n*o", "", "example.org"},
        good_case{"first.middle.last@sub.example.org", "first.middle.last", "", "sub.example.org"},
        good_case{"john@localhost", "john", "", "localhost"},
        good_case{"john@ab--cd.example", "john", "", "ab--cd.example"},
        good_case{"x@a1.b2.c3", "x", "", "a1.b2.c3"},
        good_case{std::string(64, 'a') + "@example.org", std::string(64, 'a'), "", "example.org"},
        good_case{"x@" + std::string(63, 'b') + ".example", "x", "", std::string(63, 'b') + ".example"}));

struct bad_case {
  std::string name;
  std::string input;
  std::string message;  // a substring of the error
};

std::ostream& operator<<(std::ostream& os, const bad_case& c) { return os << c.name; }

class ParseAddressBad : public ::testing::TestWithParam<bad_case> {};

TEST_P(ParseAddressBad, IsInvalidArgumentWithClearMessage) {
  const bad_case& c = GetParam();
  absl::StatusOr<address> a = parse_address(c.input);
  ASSERT_FALSE(a.ok()) << "accepted: local=" << a->local << " domain=" << a->domain;
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(a.status().message().find(c.message), absl::string_view::npos) << a.status();
  // Messages go back to clients: never with control characters in them.
  for (char ch : a.status().message()) EXPECT_FALSE(static_cast<unsigned char>(ch) < 0x20) << a.status();
}

std::string long_domain(size_t octets) {
  // Labels of 63 'd's separated by dots, cut to `octets`, never ending in a dot.
  std::string d;
  while (d.size() < octets) {
    if (!d.empty()) d += '.';
    d += std::string(63, 'd');
  }
  d.resize(octets);
  if (d.back() == '.') d.back() = 'e';
  return d;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseAddressBad,
    ::testing::Values(
        bad_case{"empty", "", "empty address"},
        // Header and SMTP command injection.
        bad_case{"crlf_injection", "john@example.org\r\nRCPT TO:<victim@example.net>", "line break"},
        bad_case{"lf", "john\n@example.org", "line break"},
        bad_case{"cr", "john@example.org\r", "line break"},
        bad_case{"nul", std::string("john\0evil@example.org", 21), "NUL"},
        bad_case{"nul_in_domain", std::string("john@example.org\0.evil", 22), "NUL"},
        bad_case{"tab", "jo\thn@example.org", "control character"},
        bad_case{"del", "jo\x7fhn@example.org", "control character"},
        bad_case{"escape", "jo\x1bhn@example.org", "control character"},
        bad_case{"c1_control", "jo\xc2\x85hn@example.org", "control character"},
        bad_case{"space", "john smith@example.org", "space"},
        bad_case{"space_in_domain", "john@exa mple.org", "space"},
        // Lengths (RFC 5321 4.5.3.1).
        bad_case{"local_65", std::string(65, 'a') + "@example.org", "local part longer than 64"},
        bad_case{"domain_256", "x@" + long_domain(256), "domain longer than 255"},
        bad_case{"address_255", std::string(64, 'a') + "@" + long_domain(190), "address longer than 254"},
        bad_case{"label_64", "x@" + std::string(64, 'b') + ".example", "label longer than 63"},
        // Quotes and routing.
        bad_case{"quoted", "\"john\"@example.org", "quoted local parts"},
        bad_case{"quoted_with_at", "\"john@evil\"@example.org", "quoted local parts"},
        bad_case{"quoted_with_space", "\"john doe\"@example.org", "space"},
        bad_case{"double_quote_inside", "jo\"hn@example.org", "quoted local parts"},
        bad_case{"percent_hack", "victim%example.net@example.org", "'%'"},
        bad_case{"bang_path", "host!victim@example.org", "'!'"},
        bad_case{"source_route", "@a:b@c", "source routes"},
        bad_case{"source_route_list", "@relay1,@relay2:john@example.org", "source routes"},
        bad_case{"catch_all_form", "@example.org", "no local part"},
        // Paths.
        bad_case{"dot_dot_slash", "../etc@example.org", "starts with a dot"},
        bad_case{"slash", "a/b@example.org", "path separators"},
        bad_case{"slash_traversal", "x/../../etc@example.org", "two dots in a row"},
        bad_case{"backslash", "a\\b@example.org", "path separators"},
        bad_case{"dot_local", ".@example.org", "\".\" or \"..\""},
        bad_case{"dot_dot_local", "..@example.org", "\".\" or \"..\""},
        bad_case{"leading_dot", ".john@example.org", "starts with a dot"},
        bad_case{"trailing_dot", "john.@example.org", "ends with a dot"},
        bad_case{"double_dot", "jo..hn@example.org", "two dots in a row"},
        bad_case{"domain_slash", "john@example.org/x", "'/'"},
        bad_case{"domain_dot_dot", "john@example..org", "two dots in a row"},
        bad_case{"domain_leading_dot", "john@.example.org", "domain starts with a dot"},
        bad_case{"domain_trailing_dot", "john@example.org.", "domain ends with a dot"},
        bad_case{"domain_dot_only", "john@.", "domain starts with a dot"},
        bad_case{"domain_dot_dot_only", "john@..", "domain starts with a dot"},
        // Structure.
        bad_case{"no_at", "john", "no '@'"},
        bad_case{"no_domain", "john@", "no domain"},
        bad_case{"two_ats", "john@evil@example.org", "more than one '@'"},
        bad_case{"angle_brackets", "<john@example.org>", "'<'"},
        // SQL metacharacters: not atext, refused before any query sees them.
        bad_case{"semicolon", "x;DROP@example.org", "';'"},
        bad_case{"sql_comment_and_quote", "x'--;@example.org", "';'"},
        bad_case{"sql_in_domain", "john@example.org'--", "'''"},
        bad_case{"sql_injection_spaces", "john' OR '1'='1@example.org", "space"},
        bad_case{"comma", "a,b@example.org", "','"},
        bad_case{"colon", "a:b@example.org", "':'"},
        bad_case{"parens", "john(comment)@example.org", "'('"},
        // Domains.
        bad_case{"hyphen_start", "john@-example.org", "hyphen"},
        bad_case{"hyphen_end", "john@example-.org", "hyphen"},
        bad_case{"underscore", "john@exa_mple.org", "'_'"},
        bad_case{"literal", "john@[192.0.2.1]", "address literals"},
        bad_case{"literal_v6", "john@[IPv6:2001:db8::1]", "address literals"},
        bad_case{"dotted_quad", "john@192.0.2.1", "IP address"},
        bad_case{"numeric_tld", "john@example.123", "IP address"},
        bad_case{"bad_punycode", "john@xn--zz.example", "internationalised"},
        bad_case{"idn_with_underscore", "john@bü_cher.example", "'_'"},
        bad_case{"idn_hyphen_rule", "john@bü-.example", "internationalised"},
        // UTF-8.
        bad_case{"latin1_local", "j\xf6rg@example.org", "not valid UTF-8"},
        bad_case{"overlong_slash", "a\xc0\xaf" "b@example.org", "not valid UTF-8"},
        bad_case{"surrogate", "a\xed\xa0\x80@example.org", "not valid UTF-8"},
        bad_case{"truncated_sequence", "a\xe2\x82@example.org", "not valid UTF-8"},
        bad_case{"latin1_domain", "john@b\xfc" "cher.example", "not valid UTF-8"}),
    [](const ::testing::TestParamInfo<bad_case>& info) { return info.param.name; });

TEST(ParseAddress, LengthBoundariesAreExact) {
  // 254 octets in all is accepted; 255 is not.
  std::string local(64, 'a');
  std::string domain = long_domain(254 - 65);
  ASSERT_EQ(local.size() + 1 + domain.size(), 254u);
  EXPECT_TRUE(parse_address(local + "@" + domain).ok());
  EXPECT_FALSE(parse_address(local + "@" + domain + "x").ok());
  // 255-octet domain: legal as a domain (parse_domain), too long inside an address.
  EXPECT_TRUE(parse_domain(long_domain(255)).ok());
  EXPECT_FALSE(parse_domain(long_domain(256)).ok());
  absl::StatusOr<address> a = parse_address("x@" + long_domain(255));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("address longer than 254"), absl::string_view::npos) << a.status();
}

TEST(ParseAddress, LengthIsCountedInOctetsNotCharacters) {
  // 32 two-octet characters fill the 64 octets; 33 do not fit.
  std::string u32, u33;
  for (int i = 0; i < 32; ++i) u32 += "ö";
  u33 = u32 + "ö";
  EXPECT_TRUE(parse_address(u32 + "@example.org").ok());
  EXPECT_FALSE(parse_address(u33 + "@example.org").ok());
}

TEST(ParseAddress, DetailSeparatorIsConfigurable) {
  absl::StatusOr<address> dash = parse_address("john-lists@example.org", '-');
  ASSERT_TRUE(dash.ok()) << dash.status();
  EXPECT_EQ(dash->local, "john");
  EXPECT_EQ(dash->detail, "lists");

  absl::StatusOr<address> plus_with_dash = parse_address("john+lists@example.org", '-');
  ASSERT_TRUE(plus_with_dash.ok());
  EXPECT_EQ(plus_with_dash->local, "john+lists");
  EXPECT_EQ(plus_with_dash->detail, "");

  absl::StatusOr<address> none = parse_address("john+lists@example.org", '\0');
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->local, "john+lists");
  EXPECT_EQ(none->detail, "");
  EXPECT_EQ(none->full(), "john+lists@example.org");
}

TEST(ParseAddress, FullIsLowerCaseWithoutDetail) {
  absl::StatusOr<address> a = parse_address("John.Doe+Spam@Bücher.Example");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->full(), "john.doe@xn--bcher-kva.example");
  EXPECT_EQ(a->detail, "spam");
}

TEST(ParseCatchAll, AcceptsOnlyTheAtDomainForm) {
  absl::StatusOr<std::string> d = parse_catch_all("@Example.ORG");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, "example.org");
  absl::StatusOr<std::string> idn = parse_catch_all("@bücher.example");
  ASSERT_TRUE(idn.ok()) << idn.status();
  EXPECT_EQ(*idn, "xn--bcher-kva.example");

  for (std::string bad : {"", "example.org", "john@example.org", "@", "@@example.org", "@a:b@c", "@exa mple.org",
                          "@example.org\r\n", "@[192.0.2.1]", "@example..org", "@-x.org", "@example.org."}) {
    absl::StatusOr<std::string> r = parse_catch_all(bad);
    EXPECT_FALSE(r.ok()) << "accepted \"" << bad << "\" as " << *r;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  // The catch-all form is refused by parse_address: it is not a mailbox.
  EXPECT_FALSE(parse_address("@example.org").ok());
}

TEST(ParseDomain, NormalisesAndRejects) {
  EXPECT_EQ(*parse_domain("Example.ORG"), "example.org");
  EXPECT_EQ(*parse_domain("bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(*parse_domain("bücher。example"), "xn--bcher-kva.example");  // ideographic full stop
  for (std::string bad : {"", ".", "example.org.", "a..b", "-a.org", "a-.org", "a_b.org", "a b.org", "[1.2.3.4]",
                          "1.2.3.4", "x@example.org", "a/b", "a\\b", "xn--zz", "example.org\n"}) {
    absl::StatusOr<std::string> r = parse_domain(bad);
    EXPECT_FALSE(r.ok()) << "accepted \"" << bad << "\" as " << *r;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(IsSafePathComponent, Table) {
  struct item {
    std::string s;
    bool safe;
  };
  for (const item& c : std::vector<item>{{"john", true},
                                         {"example.org", true},
                                         {"o'brien", true},
                                         {"a.b", true},
                                         {".hidden", true},
                                         {"", false},
                                         {".", false},
                                         {"..", false},
                                         {"../x", false},
                                         {"x/..", false},
                                         {"a/b", false},
                                         {"/", false},
                                         {"a..b", false},
                                         {std::string("a\0b", 3), false}}) {
    EXPECT_EQ(is_safe_path_component(c.s), c.safe) << "\"" << c.s << "\"";
  }
}

// Random strings over an alphabet of every troublesome byte: whatever parses must keep
// every promise of address.h. Deterministic (fixed seed) so a failure reproduces.
TEST(ParseAddress, RandomHostileInputKeepsItsPromises) {
  const std::string alphabet = std::string("aZ09.-+_@%!/\\\"'; :,<>[]()\r\n\t\x7f ") + std::string(1, '\0') +
                               "\xc3\xb6\xc0\xaf\xff\xe2\x82";
  std::mt19937 rng(20261128);
  std::uniform_int_distribution<size_t> length(0, 40), pick(0, alphabet.size() - 1);
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    size_t n = length(rng);
    for (size_t k = 0; k < n; ++k) s += alphabet[pick(rng)];
    if (i % 2 == 0) s.insert(s.size() / 2, "@");  // give half of them a chance to be an address
    absl::StatusOr<address> a = parse_address(s);
    if (!a.ok()) {
      ASSERT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    ++accepted;
    ASSERT_TRUE(is_safe_path_component(a->local)) << s;
    ASSERT_TRUE(is_safe_path_component(a->domain)) << s;
    ASSERT_LE(a->local.size() + (a->detail.empty() ? 0 : a->detail.size() + 1), 64u) << s;
    for (unsigned char c : a->full()) {
      ASSERT_FALSE(c < 0x20 || c == 0x7f || c == ' ' || c == '"' || c == '\\' || c == '/' || c == '%' || c == '!' ||
                   c == ';')
          << s;
    }
    // Normalising is idempotent.
    absl::StatusOr<address> again = parse_address(a->full());
    ASSERT_TRUE(again.ok()) << s << " -> " << a->full() << ": " << again.status();
    ASSERT_EQ(again->full(), a->full());
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace ringmail::directory
