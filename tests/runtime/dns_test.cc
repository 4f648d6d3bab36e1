// dns_resolver against a fake DNS server on loopback: answers, NXDOMAIN/NODATA, TXT, MX,
// AAAA, CNAME chains, timeouts, server failures, 50 lookups at once, and the lifetime
// cases (the resolver or the waiting coroutine destroyed while a lookup is in flight).
#include "runtime/dns.h"

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runtime/task_scope.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"
#include "tests/support/fake_dns.h"

namespace ringmail {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

std::unique_ptr<dns_resolver> make_resolver(reactor& r, const testing::fake_dns_server& server,
                                            std::chrono::milliseconds timeout = 1000ms, int tries = 1) {
  dns_options o;
  o.servers = server.address();
  o.timeout = timeout;
  o.tries = tries;
  auto res = dns_resolver::create(r, o);
  EXPECT_TRUE(res.ok()) << res.status();
  return res.ok() ? std::move(*res) : nullptr;
}

dns_answer lookup_a(reactor& r, dns_resolver& res, std::string name) {
  return r.block_on(res.query_a(std::move(name)));
}

// Stores a lookup's answer; spawned so the test can do other things meanwhile.
task<void> store_a(dns_resolver& res, std::string name, dns_answer* out) { *out = co_await res.query_a(std::move(name)); }

class DnsTest : public ::testing::Test {
 protected:
  std::unique_ptr<reactor> reactor_ = testing::make_reactor();
  testing::fake_dns_server server_;
};

TEST_F(DnsTest, ARecord) {
  server_.add_a("host.example.test", "192.0.2.1");
  auto res = make_resolver(*reactor_, server_);
  dns_answer a = lookup_a(*reactor_, *res, "host.example.test");
  EXPECT_EQ(a.status, dns_status::ok) << to_string(a.status);
  EXPECT_EQ(a.addresses, std::vector<uint32_t>{0xC0000201u});
  EXPECT_EQ(ipv4_to_string(a.addresses.at(0)), "192.0.2.1");
  EXPECT_EQ(server_.queries_for("host.example.test"), 1u);
  EXPECT_EQ(res->pending(), 0u);
}

TEST_F(DnsTest, SeveralAddressesInReplyOrderAndCaseInsensitiveName) {
  server_.add_a("multi.example.test", "127.0.0.2");
  server_.add_a("multi.example.test", "127.0.0.4");
  server_.add_a("multi.example.test", "127.0.0.10");
  auto res = make_resolver(*reactor_, server_);
  dns_answer a = lookup_a(*reactor_, *res, "Multi.Example.TEST.");
  ASSERT_EQ(a.status, dns_status::ok) << to_string(a.status);
  EXPECT_EQ(a.addresses, (std::vector<uint32_t>{0x7f000002u, 0x7f000004u, 0x7f00000au}));
}

TEST_F(DnsTest, NxdomainAndNoData) {
  server_.add_txt("text-only.example.test", "hello");
  auto res = make_resolver(*reactor_, server_);
  dns_answer missing = lookup_a(*reactor_, *res, "missing.example.test");
  EXPECT_EQ(missing.status, dns_status::nxdomain) << to_string(missing.status);
  EXPECT_TRUE(missing.addresses.empty());
  dns_answer no_a = lookup_a(*reactor_, *res, "text-only.example.test");
  EXPECT_EQ(no_a.status, dns_status::no_data) << to_string(no_a.status);
}

TEST_F(DnsTest, TxtRecordsJoinTheirStrings) {
  std::string long_text(300, 'x');  // two <character-string>s on the wire
  long_text += " end";
  server_.add_txt("2.0.0.127.bl.example.test", "Listed, see https://bl.example.test/q?127.0.0.2");
  server_.add_txt("long.example.test", long_text);
  auto res = make_resolver(*reactor_, server_);
  dns_answer one = reactor_->block_on(res->query_txt("2.0.0.127.bl.example.test"));
  ASSERT_EQ(one.status, dns_status::ok) << to_string(one.status);
  EXPECT_EQ(one.texts, std::vector<std::string>{"Listed, see https://bl.example.test/q?127.0.0.2"});
  dns_answer joined = reactor_->block_on(res->query_txt("long.example.test"));
  ASSERT_EQ(joined.texts.size(), 1u);
  EXPECT_EQ(joined.texts[0], long_text);
}

TEST_F(DnsTest, TimeoutAfterEveryTry) {
  server_.drop("silent.example.test");
  auto res = make_resolver(*reactor_, server_, 100ms, 2);
  auto start = clock_type::now();
  dns_answer a = lookup_a(*reactor_, *res, "silent.example.test");
  auto took = clock_type::now() - start;
  EXPECT_EQ(a.status, dns_status::timeout) << to_string(a.status);
  // Two tries: 100 ms, then twice that (c-ares doubles the timeout per round).
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
  EXPECT_EQ(server_.queries_for("silent.example.test"), 2u);
  EXPECT_EQ(res->pending(), 0u);
}

TEST_F(DnsTest, ServerFailureAndRefusalAreNotNxdomain) {
  server_.fail("broken.example.test", 2);   // SERVFAIL
  server_.fail("refused.example.test", 5);  // REFUSED
  auto res = make_resolver(*reactor_, server_, 200ms, 1);
  auto start = clock_type::now();
  dns_answer a = lookup_a(*reactor_, *res, "broken.example.test");
  EXPECT_EQ(a.status, dns_status::servfail) << to_string(a.status) << " ares=" << a.ares_code;
  dns_answer b = lookup_a(*reactor_, *res, "refused.example.test");
  EXPECT_EQ(b.status, dns_status::servfail) << to_string(b.status) << " ares=" << b.ares_code;
  EXPECT_LT(clock_type::now() - start, 200ms) << "a failure answer ends the lookup without waiting for the timeout";
}

TEST_F(DnsTest, SecondServerAnswersWhenTheFirstFails) {
  testing::fake_dns_server good;
  server_.fail("host.example.test", 2);
  good.add_a("host.example.test", "192.0.2.5");
  dns_options o;
  o.servers = server_.address() + "," + good.address();
  o.timeout = 500ms;
  o.tries = 1;
  auto res = dns_resolver::create(*reactor_, o);
  ASSERT_TRUE(res.ok()) << res.status();
  dns_answer a = lookup_a(*reactor_, **res, "host.example.test");
  EXPECT_EQ(a.status, dns_status::ok) << to_string(a.status);
  EXPECT_EQ(a.addresses, std::vector<uint32_t>{0xC0000205u});
}

TEST_F(DnsTest, NoServerListening) {
  testing::fake_dns_server* gone = new testing::fake_dns_server();
  std::string address = gone->address();
  delete gone;  // the port is closed now: ICMP port unreachable on loopback
  dns_options o;
  o.servers = address;
  o.timeout = 200ms;
  o.tries = 1;
  auto res = dns_resolver::create(*reactor_, o);
  ASSERT_TRUE(res.ok()) << res.status();
  auto start = clock_type::now();
  dns_answer a = lookup_a(*reactor_, **res, "host.example.test");
  EXPECT_TRUE(a.status == dns_status::servfail || a.status == dns_status::timeout) << to_string(a.status);
  EXPECT_LT(clock_type::now() - start, 2s);
}

TEST_F(DnsTest, FiftyConcurrentLookups) {
  for (int i = 0; i < 50; ++i) {
    if (i % 10 != 9) server_.add_a(absl::StrCat("h", i, ".example.test"), absl::StrCat("10.0.0.", i));
  }
  auto res = make_resolver(*reactor_, server_);
  auto start = clock_type::now();
  auto answers = reactor_->block_on([](dns_resolver& r) -> task<std::vector<dns_answer>> {
    std::vector<task<dns_answer>> lookups;
    for (int i = 0; i < 50; ++i) lookups.push_back(r.query_a(absl::StrCat("h", i, ".example.test")));
    co_return co_await when_all(std::move(lookups));
  }(*res));
  EXPECT_LT(clock_type::now() - start, 2s) << "the lookups must overlap";
  ASSERT_EQ(answers.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    if (i % 10 == 9) {
      EXPECT_EQ(answers[i].status, dns_status::nxdomain) << i;
    } else {
      ASSERT_EQ(answers[i].status, dns_status::ok) << i;
      EXPECT_EQ(answers[i].addresses, std::vector<uint32_t>{0x0a000000u + static_cast<uint32_t>(i)}) << i;
    }
  }
  EXPECT_EQ(server_.queries(), 50u);
  EXPECT_EQ(res->pending(), 0u);
}

TEST_F(DnsTest, ResolverReusedAfterGoingIdle) {
  server_.add_a("again.example.test", "192.0.2.7");
  auto res = make_resolver(*reactor_, server_);
  for (int round = 0; round < 3; ++round) {
    dns_answer a = lookup_a(*reactor_, *res, "again.example.test");
    EXPECT_EQ(a.status, dns_status::ok) << "round " << round;
    reactor_->block_on([]() -> task<void> { co_await sleep_for(20ms); }());
  }
}

TEST_F(DnsTest, NameWithNulIsAnErrorNotATruncatedQuery) {
  server_.add_a("evil.example.test", "192.0.2.1");
  auto res = make_resolver(*reactor_, server_);
  dns_answer a = lookup_a(*reactor_, *res, std::string("evil.example.test\0.other.test", 29));
  EXPECT_EQ(a.status, dns_status::error);
  EXPECT_EQ(server_.queries(), 0u);
  dns_answer too_long = lookup_a(*reactor_, *res, std::string(70, 'a') + ".example.test");  // label > 63
  EXPECT_EQ(too_long.status, dns_status::error);
}

TEST_F(DnsTest, NewLookupWakesADriverSleepingOnALaterRound) {
  // x is in its third round (a 400 ms wait) when y starts; y's first try must still be
  // retried after 100 ms, not when x's long wait ends.
  server_.drop("x.example.test");
  server_.drop("y.example.test");
  auto res = make_resolver(*reactor_, server_, 100ms, 3);
  dns_answer x, y;
  size_t y_queries_early = 0;
  reactor_->block_on([](dns_resolver& r, testing::fake_dns_server& s, dns_answer* x, dns_answer* y,
                        size_t* y_early) -> task<void> {
    task_scope scope;
    scope.spawn(store_a(r, "x.example.test", x));
    co_await sleep_for(330ms);  // x: tries at 0, 100, 300; waits until 700
    scope.spawn(store_a(r, "y.example.test", y));
    co_await sleep_for(250ms);  // y's retry is due at ~430
    *y_early = s.queries_for("y.example.test");
    co_await scope.join();
  }(*res, server_, &x, &y, &y_queries_early));
  EXPECT_EQ(y_queries_early, 2u);
  EXPECT_EQ(x.status, dns_status::timeout);
  EXPECT_EQ(y.status, dns_status::timeout);
  EXPECT_EQ(server_.queries_for("y.example.test"), 3u);
}

TEST_F(DnsTest, DestroyingTheResolverCompletesPendingLookupsWithShutdown) {
  server_.drop("slow.example.test");
  auto res = make_resolver(*reactor_, server_, 5000ms, 1);
  dns_answer a;
  a.status = dns_status::ok;
  auto start = clock_type::now();
  reactor_->block_on([](std::unique_ptr<dns_resolver>& r, dns_answer* out) -> task<void> {
    task_scope scope;
    scope.spawn(store_a(*r, "slow.example.test", out));
    co_await sleep_for(30ms);
    EXPECT_EQ(r->pending(), 1u);
    r.reset();  // the waiter is resumed later by the ring, with an error
    co_await scope.join();
  }(res, &a));
  EXPECT_EQ(a.status, dns_status::shutdown);
  EXPECT_LT(clock_type::now() - start, 2s);
}

TEST_F(DnsTest, WaiterDestroyedBeforeTheReplyArrives) {
  server_.add_a("fast.example.test", "192.0.2.9");
  server_.drop("slow.example.test");
  auto res = make_resolver(*reactor_, server_, 100ms, 1);
  reactor_->block_on([](dns_resolver& r) -> task<void> {
    // Start two lookups by hand and destroy their coroutines while they wait.
    task<dns_answer> fast = r.query_a("fast.example.test");
    task<dns_answer> slow = r.query_a("slow.example.test");
    fast.handle().resume();
    slow.handle().resume();
    EXPECT_EQ(r.pending(), 2u);
    fast = task<dns_answer>{};
    slow = task<dns_answer>{};
    co_await sleep_for(300ms);  // the reply and the timeout both come and find nobody
    EXPECT_EQ(r.pending(), 0u);
    // The resolver still works afterwards.
    dns_answer again = co_await r.query_a("fast.example.test");
    EXPECT_EQ(again.status, dns_status::ok);
  }(*res));
}

TEST_F(DnsTest, ReplyPostedButNotYetResumedWhenWaiterIsDestroyed) {
  server_.add_a("fast.example.test", "192.0.2.9");
  auto res = make_resolver(*reactor_, server_);
  reactor_->block_on([](dns_resolver& r) -> task<void> {
    task<dns_answer> t = r.query_a("fast.example.test");
    t.handle().resume();
    // Wait until c-ares has the reply (pending drops), then destroy the waiter before
    // the ring NOP that would resume it is reaped. yield() resumes us from the ready
    // queue, which the loop runs before it submits, so the NOP is not even submitted yet.
    while (r.pending() != 0) co_await yield();
    EXPECT_FALSE(t.done()) << "the waiter must still be suspended for this test to mean anything";
    t = task<dns_answer>{};
    co_await sleep_for(10ms);
  }(*res));
  EXPECT_EQ(reactor_->ops_in_flight(), 0u) << "the orphaned NOP was reaped and released";
}

TEST_F(DnsTest, ResolverAndWaiterDestroyedAfterTheLoopStopped) {
  server_.drop("slow.example.test");
  auto res = make_resolver(*reactor_, server_, 5000ms, 1);
  task<dns_answer> t = res->query_a("slow.example.test");
  reactor_->block_on([](task<dns_answer>& t) -> task<void> {
    t.handle().resume();
    co_return;
  }(t));
  // Neither the loop nor reactor::current() exist here; both orders must be safe.
  res.reset();
  t = task<dns_answer>{};
}

TEST(DnsOptions, BadServerListAndOptionsAreRejected) {
  auto r = testing::make_reactor();
  dns_options o;
  o.servers = "not-an-address:53";
  EXPECT_FALSE(dns_resolver::create(*r, o).ok());
  o.servers = "127.0.0.1:53";
  o.tries = 0;
  EXPECT_FALSE(dns_resolver::create(*r, o).ok());
  o.tries = 1;
  o.timeout = 0ms;
  EXPECT_FALSE(dns_resolver::create(*r, o).ok());
}

TEST(DnsOptions, DefaultsComeFromResolvConf) {
  auto r = testing::make_reactor();
  auto res = dns_resolver::create(*r, dns_options{});
  EXPECT_TRUE(res.ok()) << res.status();  // no lookup: the test must not use the network
}

TEST(FakeDns, MalformedQueriesGetNoReply) {
  testing::fake_dns_server s;
  const uint8_t short_header[] = {0, 1, 0};
  EXPECT_FALSE(s.reply_to(short_header).has_value());
  // A label claiming 50 bytes in a 20-byte message.
  std::vector<uint8_t> overrun = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 50, 'a', 'b', 'c', 0, 0, 1, 0};
  EXPECT_FALSE(s.reply_to(overrun).has_value());
  // A well-formed query for an unknown name: NXDOMAIN, ID and question echoed.
  std::vector<uint8_t> q = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'x', 0, 0, 1, 0, 1};
  auto reply = s.reply_to(q);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ((*reply)[0], 0x12);
  EXPECT_EQ((*reply)[1], 0x34);
  EXPECT_EQ((*reply)[3] & 0x0f, 3);
  EXPECT_EQ(reply->size(), q.size());
}

// ---- MX and AAAA (the relay's lookups, issue 13) ----------------------------------------

TEST_F(DnsTest, MxRecordsInReplyOrder) {
  server_.add_mx("mx.example.test", 20, "backup.example.test");
  server_.add_mx("mx.example.test", 10, "Primary.Example.TEST.");
  auto res = make_resolver(*reactor_, server_);
  dns_answer a = reactor_->block_on(res->query_mx("mx.example.test"));
  ASSERT_EQ(a.status, dns_status::ok) << to_string(a.status);
  // c-ares returns the exchange without its trailing dot (the fake server writes names in
  // lower case, so the case seen here is the server's).
  EXPECT_EQ(a.mx, (std::vector<dns_mx>{{20, "backup.example.test"}, {10, "primary.example.test"}}));
}

TEST_F(DnsTest, NullMxExchangeIsTheEmptyName) {
  server_.add_mx("nomail.example.test", 0, ".");
  auto res = make_resolver(*reactor_, server_);
  dns_answer a = reactor_->block_on(res->query_mx("nomail.example.test"));
  ASSERT_EQ(a.status, dns_status::ok) << to_string(a.status);
  EXPECT_EQ(a.mx, (std::vector<dns_mx>{{0, ""}}));
}

TEST_F(DnsTest, MxNxdomainNoDataAndServfail) {
  server_.add_a("a-only.example.test", "192.0.2.1");
  server_.fail("broken.example.test", 2);
  auto res = make_resolver(*reactor_, server_);
  EXPECT_EQ(reactor_->block_on(res->query_mx("missing.example.test")).status, dns_status::nxdomain);
  dns_answer no_mx = reactor_->block_on(res->query_mx("a-only.example.test"));
  EXPECT_EQ(no_mx.status, dns_status::no_data) << to_string(no_mx.status);
  EXPECT_TRUE(no_mx.mx.empty());
  EXPECT_EQ(reactor_->block_on(res->query_mx("broken.example.test")).status, dns_status::servfail);
}

TEST_F(DnsTest, AaaaRecordsWithTtl) {
  server_.add_aaaa("v6.example.test", "2001:db8::1");
  server_.add_aaaa("v6.example.test", "::1");
  server_.add_a("v4.example.test", "192.0.2.7");
  auto res = make_resolver(*reactor_, server_);
  dns_answer a = reactor_->block_on(res->query_aaaa("v6.example.test"));
  ASSERT_EQ(a.status, dns_status::ok) << to_string(a.status);
  ASSERT_EQ(a.addresses6.size(), 2u);
  EXPECT_EQ(ipv6_to_string(a.addresses6[0]), "2001:db8::1");
  EXPECT_EQ(ipv6_to_string(a.addresses6[1]), "::1");
  EXPECT_TRUE(a.addresses.empty());
  EXPECT_EQ(a.ttl, 60u);  // the fake server's TTL
  dns_answer v4 = reactor_->block_on(res->query_a("v4.example.test"));
  EXPECT_EQ(v4.ttl, 60u);
  EXPECT_EQ(reactor_->block_on(res->query_aaaa("v4.example.test")).status, dns_status::no_data);
}

TEST_F(DnsTest, CnameChainsAreFollowedForAAndAaaa) {
  server_.add_cname("alias.example.test", "real.example.test");
  server_.add_a("real.example.test", "192.0.2.9");
  server_.add_aaaa("real.example.test", "2001:db8::9");
  auto res = make_resolver(*reactor_, server_);
  dns_answer a = reactor_->block_on(res->query_a("alias.example.test"));
  ASSERT_EQ(a.status, dns_status::ok) << to_string(a.status);
  EXPECT_EQ(a.addresses, std::vector<uint32_t>{0xC0000209u});
  dns_answer aaaa = reactor_->block_on(res->query_aaaa("alias.example.test"));
  ASSERT_EQ(aaaa.status, dns_status::ok) << to_string(aaaa.status);
  EXPECT_EQ(ipv6_to_string(aaaa.addresses6.at(0)), "2001:db8::9");
}

}  // namespace
}  // namespace ringmail
