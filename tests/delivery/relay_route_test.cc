// route_resolver (delivery/relay/route.h) against the fake DNS server on loopback: MX
// order and shuffle, implicit MX, null MX, NXDOMAIN vs NODATA vs timeout vs SERVFAIL,
// CNAME'd exchanges, the loop rule, address literals, relayhost and transport overrides.
#include "delivery/relay/route.h"

#include <chrono>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/runtime/test_util.h"
#include "tests/support/fake_dns.h"

namespace ringmail::relay {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> host_names(const route& r) {
  std::vector<std::string> out;
  for (const route_host& h : r.hosts) out.push_back(h.name);
  return out;
}

std::vector<std::string> addresses(const route_host& h) {
  std::vector<std::string> out;
  for (const socket_address& a : h.addresses) out.push_back(a.to_string());
  return out;
}

class RouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dns_options o;
    o.servers = server_.address();
    o.timeout = 300ms;  // the timeout test waits this long
    o.tries = 1;
    auto res = dns_resolver::create(*reactor_, o);
    ASSERT_TRUE(res.ok()) << res.status();
    dns_ = std::move(*res);
  }

  route resolve(const std::string& domain, route_options options = {}, uint64_t seed = 1) {
    auto engine = std::make_shared<std::mt19937_64>(seed);
    route_resolver resolver(*dns_, std::move(options), [engine] { return (*engine)(); });
    return reactor_->block_on(resolver.resolve(domain));
  }

  std::unique_ptr<reactor> reactor_ = testing::make_reactor();
  testing::fake_dns_server server_;
  std::unique_ptr<dns_resolver> dns_;
};

TEST_F(RouteTest, MxByPreferenceWithTheirAddresses) {
  server_.add_mx("example.test", 20, "mx2.example.test");
  server_.add_mx("example.test", 10, "mx1.example.test");
  server_.add_a("mx1.example.test", "127.0.0.11");
  server_.add_aaaa("mx1.example.test", "::1");
  server_.add_a("mx2.example.test", "127.0.0.12");
  server_.add_a("mx2.example.test", "127.0.0.13");
  route r = resolve("Example.Test.");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.transport, "smtp");
  EXPECT_FALSE(r.loop);
  ASSERT_EQ(host_names(r), (std::vector<std::string>{"mx1.example.test", "mx2.example.test"}));
  EXPECT_EQ(r.hosts[0].preference, 10);
  EXPECT_FALSE(r.hosts[0].implicit_mx);
  EXPECT_EQ(addresses(r.hosts[0]), (std::vector<std::string>{"127.0.0.11:25", "[::1]:25"}));
  EXPECT_EQ(addresses(r.hosts[1]), (std::vector<std::string>{"127.0.0.12:25", "127.0.0.13:25"}));
}

TEST_F(RouteTest, AddressFamilyOptions) {
  server_.add_mx("example.test", 10, "mx.example.test");
  server_.add_a("mx.example.test", "127.0.0.11");
  server_.add_aaaa("mx.example.test", "::1");
  route_options v6_first;
  v6_first.prefer_ipv6 = true;
  EXPECT_EQ(addresses(resolve("example.test", v6_first).hosts.at(0)), (std::vector<std::string>{"[::1]:25", "127.0.0.11:25"}));
  route_options v4_only;
  v4_only.ipv6 = false;
  EXPECT_EQ(addresses(resolve("example.test", v4_only).hosts.at(0)), std::vector<std::string>{"127.0.0.11:25"});
  EXPECT_EQ(server_.queries_for("mx.example.test"), 3u);  // A+AAAA, then A alone
  route_options neither;
  neither.ipv4 = neither.ipv6 = false;
  EXPECT_EQ(resolve("example.test", neither).status, route_status::temporary);
}

TEST_F(RouteTest, EqualPreferencesShuffledBySeed) {
  for (const char* h : {"a.example.test", "b.example.test", "c.example.test"}) {
    server_.add_mx("example.test", 10, h);
    server_.add_a(h, "127.0.0.1");
  }
  std::set<std::string> first;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    route r = resolve("example.test", {}, seed);
    ASSERT_TRUE(r.ok()) << r.reason;
    ASSERT_EQ(r.hosts.size(), 3u);
    first.insert(r.hosts[0].name);
    EXPECT_EQ(host_names(r), host_names(resolve("example.test", {}, seed)));  // reproducible
  }
  EXPECT_EQ(first.size(), 3u);
}

TEST_F(RouteTest, NoMxFallsBackToTheDomainsAddresses) {
  server_.add_a("plain.test", "127.0.0.5");
  server_.add_aaaa("plain.test", "::1");
  route r = resolve("plain.test");
  ASSERT_TRUE(r.ok()) << r.reason;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "plain.test");
  EXPECT_EQ(r.hosts[0].preference, 0);
  EXPECT_TRUE(r.hosts[0].implicit_mx);
  EXPECT_EQ(addresses(r.hosts[0]), (std::vector<std::string>{"127.0.0.5:25", "[::1]:25"}));
}

TEST_F(RouteTest, NoMxAndNoAddressIsPermanent) {
  server_.add_txt("txt-only.test", "v=spf1 -all");
  route r = resolve("txt-only.test");
  EXPECT_EQ(r.status, route_status::permanent) << r.reason;
  EXPECT_EQ(r.enhanced_code, "5.4.4");
}

TEST_F(RouteTest, NullMxBouncesAtOnce) {
  server_.add_mx("nomail.test", 0, ".");
  server_.add_a("nomail.test", "127.0.0.1");
  route r = resolve("nomail.test");
  EXPECT_EQ(r.status, route_status::permanent);
  EXPECT_EQ(r.enhanced_code, "5.1.10");
  EXPECT_NE(r.reason.find("does not accept mail"), std::string::npos) << r.reason;
  EXPECT_TRUE(r.hosts.empty());
  EXPECT_EQ(server_.queries_for("nomail.test"), 1u);  // no A/AAAA fallback
}

TEST_F(RouteTest, NxdomainIsPermanent) {
  route r = resolve("nowhere.test");
  EXPECT_EQ(r.status, route_status::permanent);
  EXPECT_EQ(r.enhanced_code, "5.1.2");
}

TEST_F(RouteTest, DnsTroubleIsNeverPermanent) {
  server_.drop("slow.test");
  route slow = resolve("slow.test");
  EXPECT_EQ(slow.status, route_status::temporary) << slow.reason;
  EXPECT_EQ(slow.enhanced_code, "4.4.3");
  server_.fail("broken.test", 2);  // SERVFAIL
  route broken = resolve("broken.test");
  EXPECT_EQ(broken.status, route_status::temporary) << broken.reason;
  EXPECT_EQ(broken.enhanced_code, "4.4.3");
  // The MX answers, but its host's address lookups time out.
  server_.add_mx("half.test", 10, "mx.half.test");
  server_.drop("mx.half.test");
  route half = resolve("half.test");
  EXPECT_EQ(half.status, route_status::temporary) << half.reason;
  EXPECT_FALSE(half.notes.empty());
}

TEST_F(RouteTest, HostsWithoutAddressesAreDroppedNotFatal) {
  server_.add_mx("example.test", 10, "gone.example.test");     // NXDOMAIN
  server_.add_mx("example.test", 20, "timeout.example.test");  // no answer
  server_.add_mx("example.test", 30, "ok.example.test");
  server_.drop("timeout.example.test");
  server_.add_a("ok.example.test", "127.0.0.30");
  route r = resolve("example.test");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(host_names(r), std::vector<std::string>{"ok.example.test"});
  EXPECT_EQ(r.notes.size(), 2u);
}

TEST_F(RouteTest, CnameExchangeIsFollowed) {
  server_.add_mx("example.test", 10, "alias.example.test");
  server_.add_cname("alias.example.test", "real.example.test");
  server_.add_a("real.example.test", "127.0.0.40");
  route r = resolve("example.test");
  ASSERT_TRUE(r.ok()) << r.reason;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "alias.example.test");
  EXPECT_EQ(addresses(r.hosts[0]), std::vector<std::string>{"127.0.0.40:25"});
}

TEST_F(RouteTest, OwnNameAsBestMxIsALoop) {
  server_.add_mx("example.test", 10, "me.example.test");
  server_.add_mx("example.test", 20, "backup.example.test");
  server_.add_a("backup.example.test", "127.0.0.50");
  route_options o;
  o.my_hostname = "ME.example.test";
  route r = resolve("example.test", o);
  EXPECT_EQ(r.status, route_status::permanent);
  EXPECT_EQ(r.enhanced_code, "5.4.6");
  EXPECT_TRUE(r.loop);
  // As a backup MX we forward to the better host.
  server_.add_mx("backup.test", 10, "primary.example.test");
  server_.add_mx("backup.test", 20, "me.example.test");
  server_.add_a("primary.example.test", "127.0.0.51");
  route b = resolve("backup.test", o);
  ASSERT_TRUE(b.ok()) << b.reason;
  EXPECT_TRUE(b.loop);
  EXPECT_EQ(host_names(b), std::vector<std::string>{"primary.example.test"});
}

TEST_F(RouteTest, MxPointingAtAnAddressLiteralIsSkipped) {
  server_.add_mx("literal.test", 10, "127.0.0.1");
  route r = resolve("literal.test");
  EXPECT_EQ(r.status, route_status::permanent);
  EXPECT_EQ(r.enhanced_code, "5.4.4");
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("address literal"), std::string::npos) << r.notes[0];
}

TEST_F(RouteTest, RecipientAddressLiteralNeedsNoDns) {
  route r = resolve("[127.0.0.9]");
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(addresses(r.hosts.at(0)), std::vector<std::string>{"127.0.0.9:25"});
  route v6 = resolve("[IPv6:::1]");
  ASSERT_TRUE(v6.ok()) << v6.reason;
  EXPECT_EQ(addresses(v6.hosts.at(0)), std::vector<std::string>{"[::1]:25"});
  EXPECT_EQ(resolve("[not-an-address]").status, route_status::permanent);
  EXPECT_EQ(resolve("[127.0.0.9]:2525").status, route_status::permanent);
  EXPECT_EQ(server_.queries(), 0u);
}

TEST_F(RouteTest, RelayhostWithoutMxLookup) {
  server_.add_mx("example.test", 10, "mx.example.test");  // must not be asked
  server_.add_a("smarthost.test", "127.0.0.60");
  server_.add_mx("smarthost.test", 10, "elsewhere.test");  // [host]: no MX lookup
  route_options o;
  o.relayhost = *parse_next_hop("[smarthost.test]:2525");
  route r = resolve("example.test", o);
  ASSERT_TRUE(r.ok()) << r.reason;
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].name, "smarthost.test");
  EXPECT_EQ(addresses(r.hosts[0]), std::vector<std::string>{"127.0.0.60:2525"});
  EXPECT_EQ(server_.queries_for("example.test"), 0u);
}

TEST_F(RouteTest, RelayhostWithMxLookup) {
  server_.add_mx("relay.test", 10, "mx.relay.test");
  server_.add_a("mx.relay.test", "127.0.0.61");
  route_options o;
  o.relayhost = *parse_next_hop("relay.test:587");
  route r = resolve("example.test", o);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(host_names(r), std::vector<std::string>{"mx.relay.test"});
  EXPECT_EQ(addresses(r.hosts[0]), std::vector<std::string>{"127.0.0.61:587"});
}

TEST_F(RouteTest, BrokenRelayhostDefersInsteadOfBouncing) {
  route_options o;
  o.relayhost = *parse_next_hop("[missing-relay.test]");
  route r = resolve("example.test", o);
  EXPECT_EQ(r.status, route_status::temporary) << r.reason;
  EXPECT_EQ(r.enhanced_code, "4.4.4");
  o.relayhost = *parse_next_hop("missing-relay.test");
  route mx = resolve("example.test", o);
  EXPECT_EQ(mx.status, route_status::temporary) << mx.reason;
  EXPECT_EQ(mx.enhanced_code, "4.1.2");
}

TEST_F(RouteTest, TransportEntryBeforeRelayhostBeforeMx) {
  server_.add_mx("example.test", 10, "mx.example.test");
  server_.add_a("mx.example.test", "127.0.0.70");
  server_.add_a("smarthost.test", "127.0.0.71");
  route_options o;
  o.relayhost = *parse_next_hop("[smarthost.test]");
  o.transports = *transport_table::parse(
      "special.test     smtp:[127.0.0.72]:2525\n"
      ".sub.test        relay:[smarthost.test]:26\n"
      "direct.test      smtp:\n"
      "blocked.test     error:5.7.1 we do not send there\n"
      "held.test        retry:maintenance\n");
  route special = resolve("special.test", o);
  ASSERT_TRUE(special.ok()) << special.reason;
  EXPECT_EQ(addresses(special.hosts.at(0)), std::vector<std::string>{"127.0.0.72:2525"});

  route sub = resolve("a.sub.test", o);
  ASSERT_TRUE(sub.ok()) << sub.reason;
  EXPECT_EQ(sub.transport, "relay");
  EXPECT_EQ(addresses(sub.hosts.at(0)), std::vector<std::string>{"127.0.0.71:26"});

  // "smtp:" without a next hop: the recipient domain's own MX, past the relayhost.
  server_.add_mx("direct.test", 10, "mx.example.test");
  route direct = resolve("direct.test", o);
  ASSERT_TRUE(direct.ok()) << direct.reason;
  EXPECT_EQ(host_names(direct), std::vector<std::string>{"mx.example.test"});

  route blocked = resolve("blocked.test", o);
  EXPECT_EQ(blocked.status, route_status::permanent);
  EXPECT_EQ(blocked.enhanced_code, "5.7.1");
  EXPECT_EQ(blocked.reason, "5.7.1 we do not send there");
  EXPECT_EQ(blocked.transport, "error");

  route held = resolve("held.test", o);
  EXPECT_EQ(held.status, route_status::temporary);
  EXPECT_EQ(held.enhanced_code, "4.0.0");

  // No entry: the relayhost.
  route other = resolve("example.test", o);
  ASSERT_TRUE(other.ok()) << other.reason;
  EXPECT_EQ(host_names(other), std::vector<std::string>{"smarthost.test"});
  EXPECT_EQ(server_.queries_for("example.test"), 0u);
}

TEST_F(RouteTest, DefaultRandomSourceWorks) {
  server_.add_mx("example.test", 10, "a.example.test");
  server_.add_mx("example.test", 10, "b.example.test");
  server_.add_a("a.example.test", "127.0.0.1");
  server_.add_a("b.example.test", "127.0.0.2");
  route_resolver resolver(*dns_, {});
  route r = reactor_->block_on(resolver.resolve("example.test"));
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.hosts.size(), 2u);
}

}  // namespace
}  // namespace ringmail::relay
