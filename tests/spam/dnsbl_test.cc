// DNSBL checks against a fake DNS server on loopback, and the --dnsbl spec parser.
#include "spam/dns/dnsbl.h"

#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/runtime/test_util.h"
#include "tests/support/fake_dns.h"

namespace ringmail::spam {
namespace {

using namespace std::chrono_literals;

socket_address ip(std::string_view host) {
  auto a = socket_address::parse(host, 25);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *a : socket_address{};
}

std::vector<dnsbl_list> lists_from(std::string_view spec) {
  auto lists = parse_dnsbl_lists(spec);
  EXPECT_TRUE(lists.ok()) << lists.status();
  return lists.ok() ? *lists : std::vector<dnsbl_list>{};
}

class DnsblTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dns_options o;
    o.servers = server_.address();
    o.timeout = 100ms;
    o.tries = 1;
    auto r = dns_resolver::create(*reactor_, o);
    ASSERT_TRUE(r.ok()) << r.status();
    resolver_ = std::move(*r);
  }
  void TearDown() override { resolver_.reset(); }

  dnsbl_report check(std::string_view client, std::string_view spec, dnsbl_check_options options = {}) {
    socket_address address = ip(client);
    std::vector<dnsbl_list> lists = lists_from(spec);
    return reactor_->block_on(check_dnsbl_report(*resolver_, address, lists, options));
  }

  std::unique_ptr<reactor> reactor_ = testing::make_reactor();
  testing::fake_dns_server server_;
  std::unique_ptr<dns_resolver> resolver_;
};

TEST_F(DnsblTest, ListedIpv4WithReason) {
  server_.add_a("99.2.0.192.bl.example.test", "127.0.0.2");
  server_.add_txt("99.2.0.192.bl.example.test", "Listed, see https://bl.example.test/lookup?ip=192.0.2.99");
  dnsbl_report r = check("192.0.2.99", "bl.example.test:3");
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].zone, "bl.example.test");
  EXPECT_EQ(r.hits[0].returned, std::vector<uint32_t>{0x7f000002u});
  EXPECT_EQ(r.hits[0].returned_text(), "127.0.0.2");
  EXPECT_EQ(r.hits[0].score, 3.0);
  EXPECT_EQ(r.hits[0].reason, "Listed, see https://bl.example.test/lookup?ip=192.0.2.99");
  ASSERT_EQ(r.lists.size(), 1u);
  EXPECT_EQ(r.lists[0].outcome, dnsbl_outcome::listed);
  EXPECT_EQ(r.timeouts + r.errors, 0u);
}

TEST_F(DnsblTest, NotListed) {
  server_.add_a("99.2.0.192.bl.example.test", "127.0.0.2");  // a different client is listed
  dnsbl_report r = check("192.0.2.98", "bl.example.test");
  EXPECT_TRUE(r.hits.empty());
  ASSERT_EQ(r.lists.size(), 1u);
  EXPECT_EQ(r.lists[0].outcome, dnsbl_outcome::not_listed);
  EXPECT_EQ(server_.queries_for("98.2.0.192.bl.example.test"), 1u);
  EXPECT_EQ(server_.queries(), 1u) << "no TXT lookup without a hit";
}

TEST_F(DnsblTest, Ipv6ClientIsLookedUpByReversedNibbles) {
  const std::string name = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example.test";
  EXPECT_EQ(dnsbl_query_name(ip("2001:db8::1"), "bl.example.test"), name);
  server_.add_a(name, "127.0.0.3");
  dnsbl_report r = check("2001:db8::1", "bl.example.test", {.fetch_reasons = false});
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].returned_text(), "127.0.0.3");
  EXPECT_EQ(r.hits[0].reason, "");
}

TEST_F(DnsblTest, Ipv4MappedClientIsLookedUpAsIpv4) {
  EXPECT_EQ(dnsbl_query_name(ip("::ffff:192.0.2.99"), "bl.example.test"), "99.2.0.192.bl.example.test");
  server_.add_a("99.2.0.192.bl.example.test", "127.0.0.2");
  EXPECT_EQ(check("::ffff:192.0.2.99", "bl.example.test").hits.size(), 1u);
}

TEST_F(DnsblTest, SpamhausRefusalCodeIsAnErrorNotAListing) {
  server_.add_a("99.2.0.192.zen.example.test", "127.255.255.254");
  server_.add_a("99.2.0.192.both.example.test", "127.0.0.2");
  server_.add_a("99.2.0.192.both.example.test", "127.255.255.255");
  dnsbl_report r = check("192.0.2.99", "zen.example.test:3,both.example.test=127.0.0.0-127.255.255.255:2");
  EXPECT_TRUE(r.hits.empty()) << "even a configured range covering 127.255.255.x does not make it a listing";
  EXPECT_EQ(r.errors, 2u);
  EXPECT_EQ(r.lists[0].outcome, dnsbl_outcome::error);
  EXPECT_NE(r.lists[0].detail.find("public resolver"), std::string::npos) << r.lists[0].detail;
  EXPECT_NE(r.lists[1].detail.find("excessive"), std::string::npos) << r.lists[1].detail;
}

TEST_F(DnsblTest, AnswerOutside127IsAnError) {
  server_.add_a("99.2.0.192.bl.example.test", "198.51.100.7");  // an NXDOMAIN-rewriting resolver
  dnsbl_report r = check("192.0.2.99", "bl.example.test");
  EXPECT_TRUE(r.hits.empty());
  EXPECT_EQ(r.errors, 1u);
}

TEST_F(DnsblTest, TwoListsAtOnceScoresSummedByTheCaller) {
  server_.add_a("99.2.0.192.zen.example.test", "127.0.0.4");
  server_.add_a("99.2.0.192.zen.example.test", "127.0.0.10");
  server_.add_a("99.2.0.192.spamcop.example.test", "127.0.0.2");
  dnsbl_report r = check("192.0.2.99", "zen.example.test=127.0.0.2-127.0.0.7:3, spamcop.example.test:2");
  ASSERT_EQ(r.hits.size(), 2u);
  EXPECT_EQ(r.hits[0].zone, "zen.example.test");
  EXPECT_EQ(r.hits[0].returned_text(), "127.0.0.4") << "127.0.0.10 (PBL) is not a configured code";
  EXPECT_EQ(r.hits[1].zone, "spamcop.example.test");
  double total = 0;
  for (const dnsbl_hit& h : r.hits) total += h.score;
  EXPECT_EQ(total, 5.0);
}

TEST_F(DnsblTest, OnlyUnconfiguredCodesMeanNotListed) {
  server_.add_a("99.2.0.192.zen.example.test", "127.0.0.10");
  dnsbl_report r = check("192.0.2.99", "zen.example.test=127.0.0.2,127.0.0.4:3");
  EXPECT_TRUE(r.hits.empty());
  EXPECT_EQ(r.lists[0].outcome, dnsbl_outcome::not_listed);
  EXPECT_EQ(r.errors, 0u);
}

TEST_F(DnsblTest, TimeoutIsNotListedButCounted) {
  server_.drop("99.2.0.192.slow.example.test");
  server_.add_a("99.2.0.192.fast.example.test", "127.0.0.2");
  auto start = std::chrono::steady_clock::now();
  dnsbl_report r = check("192.0.2.99", "slow.example.test:5,fast.example.test:1", {.fetch_reasons = false});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "one 100 ms timeout, lists queried concurrently";
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].zone, "fast.example.test");
  EXPECT_EQ(r.timeouts, 1u);
  EXPECT_EQ(r.lists[0].outcome, dnsbl_outcome::timeout);
}

TEST_F(DnsblTest, HostileReasonIsSanitizedAndBounded) {
  server_.add_a("99.2.0.192.bl.example.test", "127.0.0.2");
  server_.add_txt("99.2.0.192.bl.example.test", "bad\r\n250 OK\x1b[31m\xff" + std::string(400, 'z'));
  dnsbl_report r = check("192.0.2.99", "bl.example.test", {.max_reason_length = 100});
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].reason.substr(0, 17), "bad??250 OK?[31m?");
  EXPECT_EQ(r.hits[0].reason.size(), 100u);
}

TEST_F(DnsblTest, PrivateAndLoopbackClientsAreNotChecked) {
  for (const char* client : {"127.0.0.1", "10.1.2.3", "192.168.0.5", "172.16.9.9", "100.64.0.1", "::1", "fe80::1", "fd00::5", "::ffff:10.0.0.1"}) {
    dnsbl_report r = check(client, "bl.example.test");
    EXPECT_TRUE(r.skipped) << client;
  }
  EXPECT_EQ(server_.queries(), 0u);
  // Unless asked to (here 127.0.0.2, the RFC 5782 §5 test point).
  server_.add_a("2.0.0.127.bl.example.test", "127.0.0.2");
  EXPECT_EQ(check("127.0.0.2", "bl.example.test", {.skip_private = false}).hits.size(), 1u);
}

TEST_F(DnsblTest, CheckDnsblReturnsTheHits) {
  server_.add_a("99.2.0.192.bl.example.test", "127.0.0.2");
  socket_address client = ip("192.0.2.99");
  std::vector<dnsbl_list> lists = lists_from("bl.example.test:2.5");
  std::vector<dnsbl_hit> hits = reactor_->block_on(check_dnsbl(*resolver_, client, lists));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].score, 2.5);
}

TEST_F(DnsblTest, NoListsNoQueries) {
  dnsbl_report r = check("192.0.2.99", "");
  EXPECT_TRUE(r.hits.empty());
  EXPECT_EQ(server_.queries(), 0u);
}

// ---- spec parsing ------------------------------------------------------------------

TEST(DnsblSpec, LeadsFlagForm) {
  auto lists = parse_dnsbl_lists("zen.spamhaus.org:3,bl.spamcop.net:2");
  ASSERT_TRUE(lists.ok()) << lists.status();
  ASSERT_EQ(lists->size(), 2u);
  EXPECT_EQ((*lists)[0].zone, "zen.spamhaus.org");
  EXPECT_EQ((*lists)[0].score, 3.0);
  EXPECT_TRUE((*lists)[0].codes.empty());
  EXPECT_EQ((*lists)[1].zone, "bl.spamcop.net");
  EXPECT_EQ((*lists)[1].score, 2.0);
}

TEST(DnsblSpec, CodesRangesAndDefaults) {
  auto lists = parse_dnsbl_lists("ZEN.Spamhaus.org.=127.0.0.2-127.0.0.3,127.0.0.9:3.5, dnsbl.example.test , x.example.test=127.0.0.4");
  ASSERT_TRUE(lists.ok()) << lists.status();
  ASSERT_EQ(lists->size(), 3u);
  const dnsbl_list& zen = (*lists)[0];
  EXPECT_EQ(zen.zone, "zen.spamhaus.org");
  EXPECT_EQ(zen.score, 3.5);
  EXPECT_EQ(zen.codes, (std::vector<dnsbl_code_range>{{0x7f000002, 0x7f000003}, {0x7f000009, 0x7f000009}}));
  EXPECT_TRUE(zen.accepts(0x7f000003));
  EXPECT_FALSE(zen.accepts(0x7f000004));
  EXPECT_EQ((*lists)[1].score, 1.0);
  EXPECT_TRUE((*lists)[1].accepts(0x7f0000ff));
  EXPECT_FALSE((*lists)[1].accepts(0x0a000001));
  EXPECT_EQ((*lists)[2].codes.size(), 1u);
  EXPECT_EQ(to_spec(zen), "zen.spamhaus.org=127.0.0.2-127.0.0.3,127.0.0.9:3.5");
  auto again = parse_dnsbl_list(to_spec(zen));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->codes, zen.codes);
  EXPECT_TRUE(parse_dnsbl_lists("").ok());
  EXPECT_TRUE(parse_dnsbl_lists("")->empty());
}

TEST(DnsblSpec, RejectsMalformedSpecs) {
  for (const char* bad : {
           ",",                                    // empty entries
           "zen.spamhaus.org,,bl.spamcop.net",     //
           "zen.spamhaus.org:",                    // empty score
           "zen.spamhaus.org:abc",                 //
           "zen.spamhaus.org:nan",                 //
           "zen.spamhaus.org:inf",                 //
           "zen.spamhaus.org:1e9",                 // absurd score
           "zen.spamhaus.org=",                    // empty code
           "zen.spamhaus.org=127.0.0.256",         //
           "zen.spamhaus.org=127.0.0.3-127.0.0.2", // empty range
           "zen.spamhaus.org=127.0.0.2:3,127.0.0.4",  // a code after the score
           "127.0.0.2",                            // a code is not a zone
           "zen..spamhaus.org",                    // empty label
           "-zen.spamhaus.org",                    //
           "zen.spam haus.org",                    //
           "zen.spamhaus.org\n:3",                 //
           "zen.spamhaus.org,zen.spamhaus.org",    // twice
       }) {
    EXPECT_FALSE(parse_dnsbl_lists(bad).ok()) << bad;
  }
  EXPECT_FALSE(parse_dnsbl_lists(std::string(64, 'a') + ".example.test").ok()) << "label over 63";
  std::string long_zone;
  for (int i = 0; i < 20; ++i) long_zone += "abcdefghi.";
  long_zone += "test";  // 194 characters: an IPv6 query name would pass 253
  EXPECT_FALSE(parse_dnsbl_lists(long_zone).ok());
  EXPECT_FALSE(parse_dnsbl_list("a.test,b.test").ok()) << "one list expected";
}

}  // namespace
}  // namespace ringmail::spam
