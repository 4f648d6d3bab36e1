// The shard's DNS cache over the real resolver and a fake DNS server on loopback: answers
// kept for their TTL, negative answers for negative_ttl, failures never, and the bound.
#include "spam/dns/dns_cache.h"

#include <chrono>
#include <string>

#include "gtest/gtest.h"
#include "tests/runtime/test_util.h"
#include "tests/support/fake_dns.h"

namespace ringmail::spam {
namespace {

using namespace std::chrono_literals;

class DnsCacheTest : public ::testing::Test {
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
  void TearDown() override {
    cache_.reset();
    resolver_.reset();
  }
  dns_cache& cache(dns_cache_options options = {}) {
    cache_ = std::make_unique<dns_cache>(*resolver_, options);
    return *cache_;
  }
  dns_answer ask(dns_type type, std::string name) { return reactor_->block_on(cache_->lookup(type, std::move(name))); }

  std::unique_ptr<reactor> reactor_ = testing::make_reactor();
  testing::fake_dns_server server_;
  std::unique_ptr<dns_resolver> resolver_;
  std::unique_ptr<dns_cache> cache_;
};

TEST_F(DnsCacheTest, PositiveAnswerKeptForItsTtl) {
  server_.add_txt("example.test", "v=spf1 -all");
  cache();  // min_ttl 30 s, the fake server's TTL is 60 s
  dns_answer first = ask(dns_type::txt, "example.test");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.texts, std::vector<std::string>{"v=spf1 -all"});
  EXPECT_EQ(first.ttl, 60u);
  dns_answer again = ask(dns_type::txt, "EXAMPLE.test.");  // same name, other spelling
  EXPECT_EQ(again.texts, first.texts);
  EXPECT_EQ(server_.queries_for("example.test"), 1u);
  EXPECT_EQ(cache_->stats().hits, 1u);
  cache_->advance_clock_for_testing(61s);
  ask(dns_type::txt, "example.test");
  EXPECT_EQ(server_.queries_for("example.test"), 2u);
}

TEST_F(DnsCacheTest, TypesAreCachedApart) {
  server_.add_a("mail.example.test", "192.0.2.1");
  server_.add_mx("mail.example.test", 10, "mx.example.test");
  cache();
  EXPECT_EQ(ask(dns_type::a, "mail.example.test").addresses, std::vector<uint32_t>{0xc0000201u});
  ASSERT_EQ(ask(dns_type::mx, "mail.example.test").mx.size(), 1u);
  EXPECT_EQ(ask(dns_type::txt, "mail.example.test").status, dns_status::no_data);
  EXPECT_EQ(server_.queries_for("mail.example.test"), 3u);
  EXPECT_EQ(ask(dns_type::txt, "mail.example.test").status, dns_status::no_data);  // negative, cached
  EXPECT_EQ(server_.queries_for("mail.example.test"), 3u);
}

TEST_F(DnsCacheTest, NegativeAnswersKeptForNegativeTtl) {
  dns_cache_options o;
  o.negative_ttl = 10s;
  cache(o);
  EXPECT_EQ(ask(dns_type::txt, "_dmarc.nowhere.test").status, dns_status::nxdomain);
  EXPECT_EQ(ask(dns_type::txt, "_dmarc.nowhere.test").status, dns_status::nxdomain);
  EXPECT_EQ(server_.queries_for("_dmarc.nowhere.test"), 1u);
  cache_->advance_clock_for_testing(11s);
  ask(dns_type::txt, "_dmarc.nowhere.test");
  EXPECT_EQ(server_.queries_for("_dmarc.nowhere.test"), 2u);
}

TEST_F(DnsCacheTest, TimeoutsAndServfailAreNotKept) {
  server_.drop("slow.test");
  server_.fail("broken.test", 2);
  cache();
  EXPECT_EQ(ask(dns_type::txt, "slow.test").status, dns_status::timeout);
  EXPECT_EQ(ask(dns_type::txt, "slow.test").status, dns_status::timeout);
  EXPECT_EQ(server_.queries_for("slow.test"), 2u);
  EXPECT_EQ(ask(dns_type::txt, "broken.test").status, dns_status::servfail);
  EXPECT_EQ(ask(dns_type::txt, "broken.test").status, dns_status::servfail);
  EXPECT_EQ(server_.queries_for("broken.test"), 2u);
  EXPECT_EQ(cache_->size(), 0u);
}

TEST_F(DnsCacheTest, PtrAnswersThroughTheResolver) {
  server_.add_ptr("1.2.0.192.in-addr.arpa", "mail.example.test");
  cache();
  dns_answer a = ask(dns_type::ptr, "1.2.0.192.in-addr.arpa");
  ASSERT_TRUE(a.ok()) << to_string(a.status);
  EXPECT_EQ(a.names, std::vector<std::string>{"mail.example.test"});
  EXPECT_EQ(a.ttl, 60u);
}

TEST_F(DnsCacheTest, BoundedByMaxEntries) {
  dns_cache_options o;
  o.max_entries = 3;
  cache(o);
  for (int i = 0; i < 10; ++i) {
    std::string name = "n" + std::to_string(i) + ".test";
    server_.add_txt(name, "x");
    ask(dns_type::txt, name);
    EXPECT_LE(cache_->size(), 3u);
  }
  EXPECT_EQ(cache_->stats().evictions, 7u);
  ask(dns_type::txt, "n9.test");  // the newest is still there
  EXPECT_EQ(server_.queries_for("n9.test"), 1u);
  ask(dns_type::txt, "n0.test");  // the oldest went
  EXPECT_EQ(server_.queries_for("n0.test"), 2u);
}

}  // namespace
}  // namespace ringmail::spam
