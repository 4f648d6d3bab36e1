// DMARC (spam/dmarc/): the public suffix list and Organizational Domains, record parsing
// (RFC 7489 Appendix B's records), alignment (§3.1.1, §3.1.2) and evaluation over an
// in-memory DNS zone.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "runtime/task.h"
#include "spam/dmarc/check.h"
#include "spam/dmarc/public_suffix.h"
#include "spam/dmarc/record.h"
#include "spam/dns/dns_client.h"

namespace ringmail::spam::dmarc {
namespace {

// A small list in the file's format: both sections, a wildcard with an exception, an
// IDN rule in UTF-8 (as the real file writes them).
constexpr std::string_view test_list = R"(// comment
// ===BEGIN ICANN DOMAINS===
com
uk
co.uk
ck
*.ck
!www.ck
jp
*.kawasaki.jp
!city.kawasaki.jp
cn
公司.cn
// ===END ICANN DOMAINS===
// ===BEGIN PRIVATE DOMAINS===
blogspot.com
// ===END PRIVATE DOMAINS===
)";

std::shared_ptr<const public_suffix_list> small_list(bool include_private = true) {
  return public_suffix_list::from_text(test_list, {.include_private = include_private});
}

TEST(PublicSuffix, OrganizationalDomains) {
  auto list = small_list();
  EXPECT_EQ(list->organizational_domain("mail.example.co.uk"), "example.co.uk");
  EXPECT_EQ(list->organizational_domain("example.co.uk"), "example.co.uk");
  EXPECT_EQ(list->organizational_domain("co.uk"), "co.uk");  // a suffix is its own
  EXPECT_EQ(list->organizational_domain("a.b.Example.COM."), "example.com");
  // *.ck: every name directly under ck is a suffix, except www.ck.
  EXPECT_EQ(list->organizational_domain("a.b.foo.ck"), "b.foo.ck");
  EXPECT_EQ(list->public_suffix("a.b.foo.ck"), "foo.ck");
  EXPECT_EQ(list->organizational_domain("www.ck"), "www.ck");
  EXPECT_EQ(list->organizational_domain("mail.www.ck"), "www.ck");
  EXPECT_EQ(list->public_suffix("mail.www.ck"), "ck");
  EXPECT_EQ(list->organizational_domain("x.y.city.kawasaki.jp"), "city.kawasaki.jp");
  EXPECT_EQ(list->organizational_domain("x.y.other.kawasaki.jp"), "y.other.kawasaki.jp");
  // No rule: the implicit "*" (the TLD is the suffix).
  EXPECT_EQ(list->organizational_domain("mail.example.unlisted"), "example.unlisted");
  // The private section: one blog is not another's organization.
  EXPECT_EQ(list->organizational_domain("www.alice.blogspot.com"), "alice.blogspot.com");
  EXPECT_EQ(small_list(false)->organizational_domain("www.alice.blogspot.com"), "blogspot.com");
}

TEST(PublicSuffix, SingleLabelExceptionIsIgnored) {
  // "!k" would make the TLD no suffix at all (found by dmarc_record_fuzz: an empty
  // suffix threw out_of_range); such a rule is skipped.
  auto list = public_suffix_list::from_text("k\n!k\n*.k\n");
  EXPECT_EQ(list->public_suffix("a.b.k"), "b.k");
  EXPECT_EQ(list->organizational_domain("x.a.b.k"), "a.b.k");
  EXPECT_EQ(list->organizational_domain("k"), "k");
}

TEST(PublicSuffix, IdnRulesMatchUAndALabels) {
  auto list = small_list();
  EXPECT_EQ(list->organizational_domain("mail.example.公司.cn"), "example.公司.cn");
  // 公司 is xn--55qx5d.
  EXPECT_EQ(list->organizational_domain("mail.example.xn--55qx5d.cn"), "example.xn--55qx5d.cn");
}

TEST(PublicSuffix, MissingFileIsAClearError) {
  auto list = public_suffix_list::load("/nonexistent/public_suffix_list.dat");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(list.status().message().find("publicsuffix"), std::string_view::npos);
  // Without a list, the domain itself.
  EXPECT_EQ(organizational_domain(nullptr, "Mail.Example.co.uk."), "mail.example.co.uk");
}

TEST(PublicSuffix, DebianList) {
  if (!std::filesystem::exists(default_public_suffix_path)) GTEST_SKIP() << "publicsuffix not installed";
  auto list = public_suffix_list::load();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_GT((*list)->rule_count(), 5000u);
  EXPECT_EQ((*list)->organizational_domain("mail.example.co.uk"), "example.co.uk");
  EXPECT_EQ((*list)->organizational_domain("a.b.foo.ck"), "b.foo.ck");
  EXPECT_EQ((*list)->organizational_domain("mail.www.ck"), "www.ck");
  EXPECT_EQ((*list)->organizational_domain("www.alice.blogspot.com"), "alice.blogspot.com");
  EXPECT_EQ((*list)->organizational_domain("mail.example.xn--55qx5d.cn"), "example.xn--55qx5d.cn");
  // Load time bounds start-up (one read of ~250 KB).
  auto start = std::chrono::steady_clock::now();
  auto again = public_suffix_list::load();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(DmarcRecord, AppendixBRecords) {
  // B.2.1: the simplest record, monitoring only.
  auto r = parse_dmarc_record("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->policy, dmarc_policy::none);
  EXPECT_EQ(r->aggregate_report_uris, std::vector<std::string>{"mailto:dmarc-feedback@example.com"});
  EXPECT_EQ(r->percent, 100u);
  EXPECT_EQ(r->dkim_alignment, alignment::relaxed);
  // B.2.3: quarantine a quarter, two report URIs (one with a size limit).
  r = parse_dmarc_record(
      "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net!10m; pct=25");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->policy, dmarc_policy::quarantine);
  EXPECT_EQ(r->percent, 25u);
  EXPECT_EQ(r->aggregate_report_uris.size(), 2u);
  // Strict alignment, a subdomain policy, failure reporting options.
  r = parse_dmarc_record("v=DMARC1; p=reject; sp=none; adkim=s; aspf=s; fo=1; ri=3600; ruf=mailto:a@example.com");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->policy_for(false), dmarc_policy::reject);
  EXPECT_EQ(r->policy_for(true), dmarc_policy::none);
  EXPECT_EQ(r->dkim_alignment, alignment::strict);
  EXPECT_EQ(r->spf_alignment, alignment::strict);
  EXPECT_EQ(r->failure_options, "1");
  EXPECT_EQ(r->report_interval, 3600u);
}

TEST(DmarcRecord, LenientWhereTheWildIsOdd) {
  auto r = parse_dmarc_record("v = DMARC1 ;;  P=Reject ;pct= 50;;");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->policy, dmarc_policy::reject);
  EXPECT_EQ(r->percent, 50u);
  r = parse_dmarc_record("v=DMARC1; p=quarantine; p=none; adkim=x; pct=250; unknown=1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->policy, dmarc_policy::quarantine);  // the first p= counts
  EXPECT_EQ(r->dkim_alignment, alignment::relaxed);  // invalid: the default
  EXPECT_EQ(r->percent, 100u);
}

TEST(DmarcRecord, InvalidPolicies) {
  EXPECT_FALSE(parse_dmarc_record("p=reject; v=DMARC1").ok());  // v= must come first
  EXPECT_FALSE(parse_dmarc_record("v=DMARC2; p=reject").ok());
  EXPECT_FALSE(parse_dmarc_record("v=dmarc1; p=reject").ok());  // %x: case-sensitive
  EXPECT_FALSE(parse_dmarc_record("v=DMARC1").ok());
  EXPECT_FALSE(parse_dmarc_record("v=DMARC1; p=block").ok());
  EXPECT_FALSE(parse_dmarc_record("v=DMARC1; p=block; rua=not a uri").ok());
  // §6.6.3 step 6: an invalid p= (or sp=) with a valid rua= counts as p=none.
  auto r = parse_dmarc_record("v=DMARC1; p=block; rua=mailto:r@example.com");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->policy, dmarc_policy::none);
  EXPECT_TRUE(r->policy_defaulted);
  r = parse_dmarc_record("v=DMARC1; p=reject; sp=bogus; rua=mailto:r@example.com");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->policy_for(true), dmarc_policy::none);
  EXPECT_EQ(r->policy_for(false), dmarc_policy::none);
  EXPECT_FALSE(parse_dmarc_record("v=DMARC1; p=reject; sp=bogus").ok());
}

TEST(DmarcAlignment, Rfc7489Examples) {
  auto list = small_list();
  // §3.1.1: DKIM d= vs the From domain.
  EXPECT_TRUE(aligned(list.get(), "example.com", "example.com", alignment::strict));
  EXPECT_TRUE(aligned(list.get(), "example.com", "news.example.com", alignment::relaxed));
  EXPECT_FALSE(aligned(list.get(), "example.com", "news.example.com", alignment::strict));
  EXPECT_TRUE(aligned(list.get(), "mail.example.com", "example.com", alignment::relaxed));
  // §3.1.2: the MAIL FROM domain vs the From domain.
  EXPECT_TRUE(aligned(list.get(), "child.example.com", "example.com", alignment::relaxed));
  EXPECT_FALSE(aligned(list.get(), "child.example.com", "example.com", alignment::strict));
  // Relaxed does not reach across a public suffix.
  EXPECT_FALSE(aligned(list.get(), "other.co.uk", "example.co.uk", alignment::relaxed));
  EXPECT_FALSE(aligned(list.get(), "bob.blogspot.com", "alice.blogspot.com", alignment::relaxed));
}

TEST(DmarcFrom, Domains) {
  EXPECT_EQ(from_domains({"\"Joe, Q\" <joe@Example.COM>"}), std::vector<std::string>{"example.com"});
  EXPECT_EQ(from_domains({"a@x.example, b@X.example", "c@y.example"}),
            (std::vector<std::string>{"x.example", "y.example"}));
  EXPECT_TRUE(from_domains({"undisclosed-recipients:;"}).empty());
  EXPECT_TRUE(from_domains({}).empty());
}

// The evaluation over a zone. example.com publishes reject with sp=quarantine.
class DmarcCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    list_ = small_list();
    dns_.add_txt("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com");
    dns_.add_txt("_dmarc.example.com", "some other TXT record");
  }
  dmarc_check run(const dmarc_request& request) { return run_inline(check_dmarc(dns_, list_.get(), request)); }
  static dmarc_request from(std::string value) {
    dmarc_request r;
    r.from_values.push_back(std::move(value));
    return r;
  }
  static dkim_signature_check dkim(std::string domain, dkim_result result = dkim_result::pass) {
    dkim_signature_check c;
    c.domain = std::move(domain);
    c.result = result;
    return c;
  }
  static_dns_client dns_;
  std::shared_ptr<const public_suffix_list> list_;
};

TEST_F(DmarcCheck, PassByAlignedDkimOrSpf) {
  dmarc_request r = from("Alice <alice@example.com>");
  r.dkim.push_back(dkim("mail.example.com"));
  dmarc_check c = run(r);
  EXPECT_EQ(c.result, dmarc_result::pass);
  EXPECT_TRUE(c.dkim_aligned);
  EXPECT_FALSE(c.spf_aligned);
  EXPECT_EQ(c.policy, dmarc_policy::reject);
  EXPECT_EQ(c.disposition, dmarc_policy::none);
  EXPECT_EQ(c.policy_domain, "example.com");

  r = from("alice@example.com");
  r.spf.result = spf_result::pass;
  r.spf.domain = "bounces.example.com";
  c = run(r);
  EXPECT_EQ(c.result, dmarc_result::pass);
  EXPECT_TRUE(c.spf_aligned);
}

TEST_F(DmarcCheck, FailWhenPassesAreUnalignedOrNotPasses) {
  dmarc_request r = from("alice@example.com");
  r.dkim.push_back(dkim("attacker.example"));                     // passes, unaligned
  r.dkim.push_back(dkim("example.com", dkim_result::fail));        // aligned, fails
  r.spf.result = spf_result::softfail;
  r.spf.domain = "example.com";
  dmarc_check c = run(r);
  EXPECT_EQ(c.result, dmarc_result::fail);
  EXPECT_EQ(c.policy, dmarc_policy::reject);
  EXPECT_EQ(c.disposition, dmarc_policy::reject);
  EXPECT_FALSE(c.dkim_aligned);
  EXPECT_FALSE(c.spf_aligned);
}

TEST_F(DmarcCheck, SubdomainPolicyFromTheOrganizationalDomain) {
  // news.example.com has no record: the org domain's sp= applies.
  dmarc_check c = run(from("n@news.example.com"));
  EXPECT_EQ(c.result, dmarc_result::fail);
  EXPECT_EQ(c.policy_domain, "example.com");
  EXPECT_EQ(c.policy, dmarc_policy::quarantine);
  EXPECT_EQ(dns_.lookups_of(dns_type::txt, "_dmarc.news.example.com"), 1u);
  // A record of its own at the subdomain: its p= applies, sp= of the parent does not.
  dns_.add_txt("_dmarc.own.example.com", "v=DMARC1; p=none");
  c = run(from("n@own.example.com"));
  EXPECT_EQ(c.policy_domain, "own.example.com");
  EXPECT_EQ(c.policy, dmarc_policy::none);
  // Without sp=, p= applies to subdomains too.
  dns_.add_txt("_dmarc.nosp.co.uk", "v=DMARC1; p=reject");
  c = run(from("x@a.b.nosp.co.uk"));
  EXPECT_EQ(c.policy_domain, "nosp.co.uk");
  EXPECT_EQ(c.policy, dmarc_policy::reject);
}

TEST_F(DmarcCheck, PercentSamplingBothWays) {
  dns_.add_txt("_dmarc.sampled.example", "v=DMARC1; p=reject; pct=30");
  dmarc_request r = from("x@sampled.example");
  r.percent_roll = [] { return 29u; };  // below pct: sampled in
  dmarc_check c = run(r);
  EXPECT_EQ(c.result, dmarc_result::fail);
  EXPECT_EQ(c.disposition, dmarc_policy::reject);
  r.percent_roll = [] { return 30u; };  // at pct: out, one step down
  c = run(r);
  EXPECT_EQ(c.policy, dmarc_policy::reject);
  EXPECT_EQ(c.disposition, dmarc_policy::quarantine);
  dns_.add_txt("_dmarc.q.example", "v=DMARC1; p=quarantine; pct=0");
  r = from("x@q.example");
  r.percent_roll = [] { return 0u; };
  EXPECT_EQ(run(r).disposition, dmarc_policy::none);
  // pct=100 (the default) never rolls.
  r = from("x@example.com");
  r.percent_roll = [] { ADD_FAILURE() << "rolled"; return 99u; };
  EXPECT_EQ(run(r).disposition, dmarc_policy::reject);
}

TEST_F(DmarcCheck, NoRecordMultipleRecordsInvalidRecord) {
  dmarc_check c = run(from("x@unpublished.example"));
  EXPECT_EQ(c.result, dmarc_result::none);
  EXPECT_EQ(c.disposition, dmarc_policy::none);
  EXPECT_EQ(c.from_domain, "unpublished.example");

  dns_.add_txt("_dmarc.twice.example", "v=DMARC1; p=reject");
  dns_.add_txt("_dmarc.twice.example", "v=DMARC1; p=none");
  c = run(from("x@twice.example"));
  EXPECT_EQ(c.result, dmarc_result::none);
  EXPECT_NE(c.reason.find("multiple"), std::string::npos);

  dns_.add_txt("_dmarc.broken.example", "v=DMARC1; p=maybe");
  c = run(from("x@broken.example"));
  EXPECT_EQ(c.result, dmarc_result::permerror);
  EXPECT_EQ(c.disposition, dmarc_policy::none);
}

TEST_F(DmarcCheck, DnsTimeoutIsTemperror) {
  dns_.set_status("_dmarc.slow.example", dns_type::txt, dns_status::timeout);
  dmarc_check c = run(from("x@slow.example"));
  EXPECT_EQ(c.result, dmarc_result::temperror);
  EXPECT_EQ(c.disposition, dmarc_policy::none);
  // A timeout at the From domain does not fall back to the org domain's policy.
  dns_.set_status("_dmarc.sub.example.com", dns_type::txt, dns_status::servfail);
  c = run(from("x@sub.example.com"));
  EXPECT_EQ(c.result, dmarc_result::temperror);
  EXPECT_EQ(dns_.lookups_of(dns_type::txt, "_dmarc.example.com"), 0u);
}

TEST_F(DmarcCheck, MultipleFromDomainsTakeTheStrictestFailure) {
  dns_.add_txt("_dmarc.lax.example", "v=DMARC1; p=none");
  dmarc_request r;
  r.from_values = {"a@lax.example", "b@example.com"};  // two From fields
  r.dkim.push_back(dkim("lax.example"));
  dmarc_check c = run(r);
  EXPECT_EQ(c.result, dmarc_result::fail);
  EXPECT_EQ(c.from_domain, "example.com");
  EXPECT_EQ(c.disposition, dmarc_policy::reject);
  // The same domain twice is one domain.
  r.from_values = {"a@example.com, b@EXAMPLE.com"};
  r.dkim = {dkim("example.com")};
  EXPECT_EQ(run(r).result, dmarc_result::pass);
  // No From domain: none.
  r.from_values = {"undisclosed-recipients:;"};
  EXPECT_EQ(run(r).result, dmarc_result::none);
  // Too many distinct domains: permerror without lookups.
  r.from_values = {"a@1.example, a@2.example, a@3.example, a@4.example, a@5.example, a@6.example"};
  size_t before = dns_.lookups();
  EXPECT_EQ(run(r).result, dmarc_result::permerror);
  EXPECT_EQ(dns_.lookups(), before);
}

TEST_F(DmarcCheck, HugeTxtAnswerIsBounded) {
  for (int i = 0; i < 10000; ++i) dns_.add_txt("_dmarc.many.example", "v=spf1 -all " + std::to_string(i));
  dns_.add_txt("_dmarc.many.example", "v=DMARC1; p=quarantine");
  auto start = std::chrono::steady_clock::now();
  dmarc_check c = run(from("x@many.example"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(c.result, dmarc_result::fail);
  EXPECT_EQ(c.policy, dmarc_policy::quarantine);
}

}  // namespace
}  // namespace ringmail::spam::dmarc
