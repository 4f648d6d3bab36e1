// SPF (RFC 7208): record syntax, §7.4's macro examples, the §4.6.4 limits, loops, DNS
// failures and hostile sizes, over static_dns_client zones (run_inline: nothing suspends).
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "runtime/task.h"
#include "spam/dns/dns_client.h"
#include "spam/spf/check.h"
#include "spam/spf/macro.h"
#include "spam/spf/record.h"

namespace ringmail::spam {
namespace {

spf_check check(static_dns_client& zone, std::string ip, std::string sender, std::string helo = "mail.example.net") {
  spf_request r;
  r.client_ip = std::move(ip);
  r.sender = std::move(sender);
  r.helo = std::move(helo);
  return run_inline(check_host(zone, r));
}

spf::macro_values rfc_values() {
  spf::macro_values v;
  v.sender = "strong-bad@email.example.com";
  v.local_part = "strong-bad";
  v.sender_domain = "email.example.com";
  v.domain = "email.example.com";
  v.ip = "192.0.2.3";
  v.ip_version = "in-addr";
  v.validated_name = "unknown";
  v.helo = "mx.example.org";
  v.client_ip = "192.0.2.3";
  v.receiver = "unknown";
  v.timestamp = 1234;
  return v;
}

std::string expand(std::string_view s, const spf::macro_values& v = rfc_values()) {
  return spf::expand_macros(s, v, spf::macro_context::domain_spec).value_or("<error>");
}

TEST(SpfMacro, Rfc7208Section74Examples) {
  EXPECT_EQ(expand("%{s}"), "strong-bad@email.example.com");
  EXPECT_EQ(expand("%{o}"), "email.example.com");
  EXPECT_EQ(expand("%{d}"), "email.example.com");
  EXPECT_EQ(expand("%{d4}"), "email.example.com");
  EXPECT_EQ(expand("%{d3}"), "email.example.com");
  EXPECT_EQ(expand("%{d2}"), "example.com");
  EXPECT_EQ(expand("%{d1}"), "com");
  EXPECT_EQ(expand("%{dr}"), "com.example.email");
  EXPECT_EQ(expand("%{d2r}"), "example.email");
  EXPECT_EQ(expand("%{l}"), "strong-bad");
  EXPECT_EQ(expand("%{l-}"), "strong.bad");
  EXPECT_EQ(expand("%{lr}"), "strong-bad");
  EXPECT_EQ(expand("%{lr-}"), "bad.strong");
  EXPECT_EQ(expand("%{l1r-}"), "strong");
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}"), "3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp._spf.%{d2}"), "bad.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}"), "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}"), "3.2.0.192.in-addr.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{d2}.trusted-domains.example.net"), "example.com.trusted-domains.example.net");
  spf::macro_values v6 = rfc_values();
  v6.ip = "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1";
  v6.ip_version = "ip6";
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}", v6),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

TEST(SpfMacro, EscapesDelimitersAndErrors) {
  EXPECT_EQ(expand("%%%_%-"), "% %20");
  EXPECT_EQ(expand("%{S}"), "strong-bad%40email.example.com");  // upper case: URL-escaped
  EXPECT_EQ(expand("%{L+}"), "strong-bad");
  EXPECT_EQ(expand("%{d99999999999999999999}"), "email.example.com");  // more parts than exist: all
  EXPECT_EQ(expand("%{d0}"), "<error>");     // §7.1: a digit transformer is nonzero
  EXPECT_EQ(expand("%{x}"), "<error>");      // no such letter
  EXPECT_EQ(expand("%{d"), "<error>");       // unterminated
  EXPECT_EQ(expand("%{d2!}"), "<error>");    // '!' is no delimiter
  EXPECT_EQ(expand("100%"), "<error>");      // a lone '%'
  EXPECT_EQ(expand("%x"), "<error>");
  // c, r, t only in explanations (§7.1).
  EXPECT_EQ(expand("%{c}"), "<error>");
  auto exp = spf::expand_macros("%{c} via %{r} at %{t}", rfc_values(), spf::macro_context::explanation);
  ASSERT_TRUE(exp.has_value());
  EXPECT_EQ(*exp, "192.0.2.3 via unknown at 1234");
  EXPECT_TRUE(spf::uses_validated_name("a%{p2}.x"));
  EXPECT_FALSE(spf::uses_validated_name("a%%{p}.x"));  // "%%" then literal "{p}"
}

TEST(SpfMacro, LongNamesLoseLabelsFromTheLeft) {
  std::string label(60, 'a');
  std::string name = label + "." + label + "." + label + "." + label + "." + label + ".example.com";
  std::string fit = spf::fit_domain_name(name);
  EXPECT_LE(fit.size(), 253u);
  // 4 labels + ".example.com" would be 255 octets: the 4th from the right goes too.
  EXPECT_EQ(fit, label + "." + label + "." + label + ".example.com");
}

TEST(SpfRecord, ParsesMechanismsModifiersAndCase) {
  auto r = spf::parse_record("V=SPF1 +A:Example.COM/24//64 -mx ~ptr ?IP4:192.0.2.0/24 ip6:2001:db8::/32 "
                             "exists:%{i}.x.example include:_spf.example.org Redirect=r.example.org "
                             "exp=e.example.org foo=bar all");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->mechanisms.size(), 8u);
  EXPECT_EQ(r->mechanisms[0].kind, spf::mechanism_kind::a);
  EXPECT_EQ(r->mechanisms[0].domain_spec, "Example.COM");
  EXPECT_EQ(r->mechanisms[0].cidr4, 24u);
  EXPECT_EQ(r->mechanisms[0].cidr6, 64u);
  EXPECT_EQ(r->mechanisms[1].qualifier, spf_result::fail);
  EXPECT_EQ(r->mechanisms[2].qualifier, spf_result::softfail);
  EXPECT_EQ(r->mechanisms[3].qualifier, spf_result::neutral);
  EXPECT_EQ(r->mechanisms[3].cidr4, 24u);
  EXPECT_EQ(r->mechanisms[4].cidr6, 32u);
  EXPECT_EQ(r->redirect.value_or(""), "r.example.org");
  EXPECT_EQ(r->exp.value_or(""), "e.example.org");
}

TEST(SpfRecord, SyntaxErrors) {
  for (const char* bad : {"v=spf1 a:", "v=spf1 ip4:192.0.2.0/33", "v=spf1 ip6:2001:db8::/129", "v=spf1 a/024",
                          "v=spf1 redirect=a.example redirect=b.example", "v=spf1 exp=a.example exp=b.example",
                          "v=spf1 foo", "v=spf1 a:example.123", "v=spf1 include", "v=spf1 all:x",
                          "v=spf1 ip4:1.2.3", "v=spf1 ip4:2001:db8::1", "v=spf1 a:%{q}.example.com",
                          "v=spf1 a:%{c}.example.com", "v=spf1 1x=y", "v=spf1 a:exa\xc3\xa9mple.com",
                          "v=spf1\ta", "v=spf1 =all"}) {
    EXPECT_FALSE(spf::parse_record(bad).ok()) << bad;
  }
  EXPECT_TRUE(spf::is_spf_record("v=spf1"));
  EXPECT_TRUE(spf::is_spf_record("v=SPF1 -all"));
  EXPECT_FALSE(spf::is_spf_record("v=spf10 -all"));
  EXPECT_FALSE(spf::is_spf_record(" v=spf1 -all"));
}

TEST(SpfCheck, BasicResultsAndNullSender) {
  static_dns_client zone;
  zone.add_txt("example.com", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a:host.example.com ~all");
  zone.add_a("host.example.com", "198.51.100.7");
  zone.add_txt("mail.example.net", "v=spf1 -all");
  EXPECT_EQ(check(zone, "192.0.2.9", "a@example.com").result, spf_result::pass);
  EXPECT_EQ(check(zone, "::ffff:192.0.2.9", "a@example.com").result, spf_result::pass);  // mapped = IPv4
  EXPECT_EQ(check(zone, "2001:db8::5", "a@EXAMPLE.com").result, spf_result::pass);
  EXPECT_EQ(check(zone, "198.51.100.7", "a@example.com").result, spf_result::pass);
  EXPECT_EQ(check(zone, "203.0.113.1", "a@example.com").result, spf_result::softfail);
  spf_check null = check(zone, "192.0.2.9", "");  // <>: postmaster@helo
  EXPECT_EQ(null.result, spf_result::fail);
  EXPECT_EQ(null.domain, "mail.example.net");
  spf_request r{"192.0.2.9", "a@example.com", "mail.example.net", "", 0};
  EXPECT_EQ(run_inline(check_helo(zone, r)).result, spf_result::fail);
  EXPECT_EQ(check(zone, "192.0.2.9", "a@nosuch.example").result, spf_result::none);
  EXPECT_EQ(check(zone, "192.0.2.9", "a@[192.0.2.9]").result, spf_result::none);
  EXPECT_EQ(check(zone, "not an address", "a@example.com").result, spf_result::none);
}

TEST(SpfCheck, TwoRecordsArePermerror) {
  static_dns_client zone;
  zone.add_txt("example.com", "v=spf1 +all");
  zone.add_txt("example.com", "v=spf1 -all");
  EXPECT_EQ(check(zone, "192.0.2.1", "a@example.com").result, spf_result::permerror);
}

TEST(SpfCheck, EleventhDnsTermIsPermerror) {
  static_dns_client zone;
  std::string ten = "v=spf1", eleven;
  for (int i = 1; i <= 10; ++i) {
    std::string name = "i" + std::to_string(i) + ".example.com";
    zone.add_txt(name, "v=spf1 -all");
    ten += " include:" + name;
  }
  zone.add_txt("i11.example.com", "v=spf1 -all");
  eleven = ten + " include:i11.example.com -all";
  ten += " -all";
  zone.add_txt("ten.example.com", ten);
  zone.add_txt("eleven.example.com", eleven);
  EXPECT_EQ(check(zone, "192.0.2.1", "a@ten.example.com").result, spf_result::fail);
  EXPECT_EQ(check(zone, "192.0.2.1", "a@eleven.example.com").result, spf_result::permerror);
  EXPECT_EQ(zone.lookups_of(dns_type::txt, "i11.example.com"), 0u);  // refused before asking
  // Nested: 3 includes each with 4 a terms = 15 terms across the recursion.
  zone.add_txt("top.example.com", "v=spf1 include:n1.example.com include:n2.example.com include:n3.example.com -all");
  for (int i = 1; i <= 3; ++i) {
    zone.add_txt("n" + std::to_string(i) + ".example.com", "v=spf1 a a a a -all");
    zone.add_a("n" + std::to_string(i) + ".example.com", "198.51.100.1");
  }
  EXPECT_EQ(check(zone, "192.0.2.1", "a@top.example.com").result, spf_result::permerror);
}

TEST(SpfCheck, ThirdVoidLookupIsPermerror) {
  static_dns_client zone;
  zone.add_txt("two.example.com", "v=spf1 a:v1.example.com mx:v2.example.com -all");
  zone.add_txt("three.example.com", "v=spf1 a:v1.example.com mx:v2.example.com exists:v3.example.com -all");
  EXPECT_EQ(check(zone, "192.0.2.1", "a@two.example.com").result, spf_result::fail);
  EXPECT_EQ(check(zone, "192.0.2.1", "a@three.example.com").result, spf_result::permerror);
}

TEST(SpfCheck, IncludeAndRedirectLoopsEnd) {
  static_dns_client zone;
  zone.add_txt("a.example.com", "v=spf1 include:b.example.com -all");
  zone.add_txt("b.example.com", "v=spf1 include:a.example.com -all");
  zone.add_txt("self.example.com", "v=spf1 redirect=self.example.com");
  EXPECT_EQ(check(zone, "192.0.2.1", "x@a.example.com").result, spf_result::permerror);
  EXPECT_LE(zone.lookups(), 12u);
  EXPECT_EQ(check(zone, "192.0.2.1", "x@self.example.com").result, spf_result::permerror);
  // With the term limit lifted, the depth guard still ends it.
  spf_options unlimited;
  unlimited.max_dns_terms = 1000000;
  unlimited.max_depth = 30;
  spf_request r{"192.0.2.1", "x@a.example.com", "h.example", "", 0};
  size_t before = zone.lookups();
  EXPECT_EQ(run_inline(check_host(zone, r, unlimited)).result, spf_result::permerror);
  EXPECT_LE(zone.lookups() - before, 32u);
}

TEST(SpfCheck, IncludeAndRedirectResults) {
  static_dns_client zone;
  zone.add_txt("inc.example.com", "v=spf1 include:none.example.com -all");
  zone.add_txt("red.example.com", "v=spf1 redirect=none.example.com");
  zone.add_txt("red2.example.com", "v=spf1 redirect=ok.example.com");
  zone.add_txt("ok.example.com", "v=spf1 ip4:192.0.2.1 -all");
  zone.add_txt("withall.example.com", "v=spf1 ?all redirect=ok.example.com");
  EXPECT_EQ(check(zone, "192.0.2.1", "x@inc.example.com").result, spf_result::permerror);  // include of none
  EXPECT_EQ(check(zone, "192.0.2.1", "x@red.example.com").result, spf_result::permerror);  // redirect to none
  EXPECT_EQ(check(zone, "192.0.2.1", "x@red2.example.com").result, spf_result::pass);
  EXPECT_EQ(check(zone, "192.0.2.2", "x@red2.example.com").result, spf_result::fail);
  EXPECT_EQ(check(zone, "192.0.2.1", "x@withall.example.com").result, spf_result::neutral);
}

TEST(SpfCheck, DnsFailuresAreTemperror) {
  static_dns_client zone;
  zone.set_status("slow.example.com", dns_type::txt, dns_status::timeout);
  zone.add_txt("inc.example.com", "v=spf1 include:slow.example.com -all");
  zone.add_txt("a.example.com", "v=spf1 a:broken.example.com -all");
  zone.set_status("broken.example.com", dns_type::a, dns_status::servfail);
  zone.add_txt("mx.example.com", "v=spf1 mx -all");
  zone.add_mx("mx.example.com", 10, "mx1.example.com");
  zone.set_status("mx1.example.com", dns_type::a, dns_status::timeout);
  EXPECT_EQ(check(zone, "192.0.2.1", "x@slow.example.com").result, spf_result::temperror);
  EXPECT_EQ(check(zone, "192.0.2.1", "x@inc.example.com").result, spf_result::temperror);
  EXPECT_EQ(check(zone, "192.0.2.1", "x@a.example.com").result, spf_result::temperror);
  EXPECT_EQ(check(zone, "192.0.2.1", "x@mx.example.com").result, spf_result::temperror);
}

TEST(SpfCheck, MxNameLimitAndMatching) {
  static_dns_client zone;
  zone.add_txt("ten.example.com", "v=spf1 mx -all");
  zone.add_txt("eleven.example.com", "v=spf1 mx -all");
  for (int i = 0; i < 10; ++i) {
    std::string name = "m" + std::to_string(i) + ".example.com";
    zone.add_a(name, "198.51.100." + std::to_string(i + 1));
    zone.add_mx("ten.example.com", 10, name);
    zone.add_mx("eleven.example.com", 10, name);
  }
  zone.add_mx("eleven.example.com", 20, "m0.example.com");
  EXPECT_EQ(check(zone, "198.51.100.10", "x@ten.example.com").result, spf_result::pass);
  EXPECT_EQ(check(zone, "198.51.100.10", "x@eleven.example.com").result, spf_result::permerror);
}

TEST(SpfCheck, PtrAndValidatedName) {
  static_dns_client zone;
  zone.add_ptr("5.2.0.192.in-addr.arpa", "mail.example.com");
  zone.add_ptr("5.2.0.192.in-addr.arpa", "liar.example.com");  // its A does not point back
  zone.add_a("mail.example.com", "192.0.2.5");
  zone.add_a("liar.example.com", "203.0.113.1");
  zone.add_txt("example.com", "v=spf1 ptr -all exp=why.example.com");
  zone.add_txt("why.example.com", "%{p} is not %{d}'s; %{i} via %{r}");
  zone.add_txt("example.org", "v=spf1 ptr -all");
  EXPECT_EQ(check(zone, "192.0.2.5", "x@example.com").result, spf_result::pass);
  EXPECT_EQ(check(zone, "192.0.2.5", "x@example.org").result, spf_result::fail);
  spf_check f = check(zone, "192.0.2.6", "x@example.com");
  EXPECT_EQ(f.result, spf_result::fail);
  EXPECT_EQ(f.explanation, "unknown is not example.com's; 192.0.2.6 via unknown");
}

TEST(SpfCheck, ExplanationOnlyOnFailAndErrorsIgnored) {
  static_dns_client zone;
  zone.add_txt("example.com", "v=spf1 ip4:192.0.2.1 -all exp=exp.example.com");
  zone.add_txt("exp.example.com", "%{l} may not send for %{o}");
  zone.add_txt("bad.example.com", "v=spf1 -all exp=slow.example.com");
  zone.set_status("slow.example.com", dns_type::txt, dns_status::timeout);
  EXPECT_EQ(check(zone, "192.0.2.1", "joe@example.com").result, spf_result::pass);
  EXPECT_EQ(zone.lookups_of(dns_type::txt, "exp.example.com"), 0u);
  spf_check f = check(zone, "192.0.2.2", "joe@example.com");
  EXPECT_EQ(f.result, spf_result::fail);
  EXPECT_EQ(f.explanation, "joe may not send for example.com");
  spf_check g = check(zone, "192.0.2.2", "joe@bad.example.com");
  EXPECT_EQ(g.result, spf_result::fail);
  EXPECT_EQ(g.explanation, "");
}

TEST(SpfCheck, TenThousandTxtStringsAndHugeRecords) {
  static_dns_client zone;
  for (int i = 0; i < 10000; ++i) zone.add_txt("many.example.com", "google-site-verification=" + std::to_string(i));
  zone.add_txt("many.example.com", "v=spf1 ip4:192.0.2.0/24 -all");
  // One record of 10,000 ip4 terms (DNS would carry it as many character-strings).
  std::string big = "v=spf1";
  for (int i = 0; i < 10000; ++i) big += " ip4:198.51." + std::to_string(i % 256) + "." + std::to_string(i / 256);
  zone.add_txt("big.example.com", big + " -all");
  // 100,000 DNS-querying terms: the limit stops the evaluation after 10.
  std::string lookups = "v=spf1";
  for (int i = 0; i < 100000; ++i) lookups += " a:h" + std::to_string(i) + ".example.com";
  zone.add_txt("lookups.example.com", lookups + " -all");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(check(zone, "192.0.2.3", "x@many.example.com").result, spf_result::pass);
  EXPECT_EQ(check(zone, "198.51.200.38", "x@big.example.com").result, spf_result::pass);  // the last term
  EXPECT_EQ(check(zone, "192.0.2.3", "x@big.example.com").result, spf_result::fail);
  size_t before = zone.lookups();
  EXPECT_EQ(check(zone, "192.0.2.3", "x@lookups.example.com").result, spf_result::permerror);
  EXPECT_LE(zone.lookups() - before, 4u);  // the TXT and 2 void A lookups, then the 3rd void ends it
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(SpfCheck, MacrosInDomainSpecsAndLongNames) {
  static_dns_client zone;
  zone.add_txt("example.com", "v=spf1 exists:%{ir}.%{l1r+}._spf.%{d} -all");
  zone.add_a("1.2.0.192.joe._spf.example.com", "127.0.0.2");
  EXPECT_EQ(check(zone, "192.0.2.1", "joe+tag@example.com").result, spf_result::pass);
  EXPECT_EQ(check(zone, "192.0.2.1", "ann@example.com").result, spf_result::fail);
  // A 64-octet local part makes a label no query can carry: a void lookup, not a crash.
  EXPECT_EQ(check(zone, "192.0.2.1", std::string(64, 'l') + "@example.com").result, spf_result::fail);
}

}  // namespace
}  // namespace ringmail::spam
