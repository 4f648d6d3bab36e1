// login_throttle: delays, blocks, window expiry, bounded tables, and per-/64 client keys.
#include "delivery/auth/login_throttle.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace ringmail::auth {
namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

const login_throttle::time_point t0 = login_throttle::clock::time_point() + 1000h;

login_throttle::options opts() {
  login_throttle::options o;
  o.max_failures_per_ip = 10;
  o.max_failures_per_account = 5;
  o.window = 300s;
  o.base_delay = 100ms;
  o.max_delay = 1000ms;
  return o;
}

std::string key4(const char* text) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(143);
  EXPECT_EQ(inet_pton(AF_INET, text, &sin.sin_addr), 1) << text;
  return client_key(reinterpret_cast<const sockaddr*>(&sin));
}

std::string key6(const char* text) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(143);
  EXPECT_EQ(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1) << text;
  return client_key(reinterpret_cast<const sockaddr*>(&sin6));
}

TEST(LoginThrottle, DelayDoublesAndCaps) {
  login_throttle t(opts());
  const std::string ip = "192.0.2.1";
  EXPECT_EQ(t.delay_for(ip, "alice", t0), ms(100)) << "asked after a failure: at least the base";
  std::vector<ms> seen;
  for (int i = 0; i < 7; ++i) {
    t.record_failure(ip, "account" + std::to_string(i), t0);  // the address's count drives it
    seen.push_back(t.delay_for(ip, "account" + std::to_string(i), t0));
  }
  EXPECT_EQ(seen, (std::vector<ms>{ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000), ms(1000)}));
}

TEST(LoginThrottle, AccountFailuresFromManyAddressesAlsoDelay) {
  login_throttle t(opts());
  for (int i = 0; i < 3; ++i) t.record_failure("198.51.100." + std::to_string(i), "alice", t0);
  EXPECT_EQ(t.delay_for("203.0.113.9", "alice", t0), ms(400));
  EXPECT_EQ(t.delay_for("203.0.113.9", "bob", t0), ms(100));
}

TEST(LoginThrottle, HugeFailureCountsDoNotOverflow) {
  auto o = opts();
  o.max_delay = ms::max();
  login_throttle t(o);
  for (int i = 0; i < 200; ++i) t.record_failure("192.0.2.1", "alice", t0);
  EXPECT_EQ(t.delay_for("192.0.2.1", "alice", t0), ms::max());
}

TEST(LoginThrottle, ZeroBaseDelayMeansNoDelay) {
  auto o = opts();
  o.base_delay = 0ms;
  login_throttle t(o);
  t.record_failure("192.0.2.1", "alice", t0);
  EXPECT_EQ(t.delay_for("192.0.2.1", "alice", t0), ms(0));
}

TEST(LoginThrottle, BlockedAfterAccountLimit) {
  login_throttle t(opts());
  for (int i = 0; i < 4; ++i) {
    t.record_failure("192.0.2." + std::to_string(i), "alice@example.org", t0);
    EXPECT_FALSE(t.blocked("192.0.2.99", "alice@example.org", t0)) << i;
  }
  t.record_failure("192.0.2.4", "alice@example.org", t0);
  EXPECT_TRUE(t.blocked("192.0.2.99", "alice@example.org", t0));
  EXPECT_TRUE(t.blocked("192.0.2.99", "Alice@Example.ORG", t0)) << "case must not dodge the limit";
  EXPECT_FALSE(t.blocked("192.0.2.99", "bob@example.org", t0));
}

TEST(LoginThrottle, BlockedAfterAddressLimit) {
  login_throttle t(opts());
  for (int i = 0; i < 10; ++i) t.record_failure("192.0.2.1", "user" + std::to_string(i), t0);
  EXPECT_TRUE(t.blocked("192.0.2.1", "someone-new", t0));
  EXPECT_FALSE(t.blocked("192.0.2.2", "someone-new", t0));
}

TEST(LoginThrottle, ZeroLimitsNeverBlock) {
  auto o = opts();
  o.max_failures_per_ip = 0;
  o.max_failures_per_account = 0;
  login_throttle t(o);
  for (int i = 0; i < 100; ++i) t.record_failure("192.0.2.1", "alice", t0);
  EXPECT_FALSE(t.blocked("192.0.2.1", "alice", t0));
}

TEST(LoginThrottle, FailuresExpireOneWindowAfterTheLast) {
  login_throttle t(opts());
  for (int i = 0; i < 5; ++i) t.record_failure("192.0.2.1", "alice", t0 + std::chrono::seconds(i));
  EXPECT_TRUE(t.blocked("192.0.2.1", "alice", t0 + 299s));
  EXPECT_TRUE(t.blocked("192.0.2.1", "alice", t0 + 303s)) << "the last failure was at t0+4s";
  EXPECT_FALSE(t.blocked("192.0.2.1", "alice", t0 + 304s));
  EXPECT_EQ(t.delay_for("192.0.2.1", "alice", t0 + 304s), ms(100));
  // A failure after expiry starts counting from one again.
  t.record_failure("192.0.2.1", "alice", t0 + 400s);
  EXPECT_EQ(t.delay_for("192.0.2.1", "alice", t0 + 400s), ms(100));
  EXPECT_FALSE(t.blocked("192.0.2.1", "alice", t0 + 400s));
}

TEST(LoginThrottle, SuccessClearsTheAccountButNotTheAddress) {
  login_throttle t(opts());
  for (int i = 0; i < 5; ++i) t.record_failure("192.0.2.1", "alice", t0);
  EXPECT_TRUE(t.blocked("192.0.2.2", "alice", t0));
  t.record_success("192.0.2.2", "ALICE");
  EXPECT_FALSE(t.blocked("192.0.2.2", "alice", t0));
  EXPECT_EQ(t.delay_for("192.0.2.3", "alice", t0), ms(100));
  EXPECT_EQ(t.delay_for("192.0.2.1", "bob", t0), ms(1000)) << "the address keeps its 5 failures";
}

TEST(LoginThrottle, TablesAreBoundedOldestGoesFirst) {
  auto o = opts();
  o.max_entries = 3;
  o.max_failures_per_ip = 2;
  login_throttle t(o);
  for (int i = 0; i < 3; ++i) {
    t.record_failure("192.0.2." + std::to_string(i), "a" + std::to_string(i), t0 + std::chrono::seconds(i));
    t.record_failure("192.0.2." + std::to_string(i), "a" + std::to_string(i), t0 + std::chrono::seconds(i));
  }
  EXPECT_TRUE(t.blocked("192.0.2.0", "x", t0 + 10s));
  t.record_failure("192.0.2.1", "a1", t0 + 11s);  // refreshes .1: now .0 is the oldest
  t.record_failure("192.0.2.9", "a9", t0 + 12s);  // a fourth address evicts .0
  EXPECT_FALSE(t.blocked("192.0.2.0", "x", t0 + 12s));
  EXPECT_TRUE(t.blocked("192.0.2.1", "x", t0 + 12s));
  EXPECT_TRUE(t.blocked("192.0.2.2", "x", t0 + 12s));
}

TEST(ClientKey, Ipv4IsTheAddress) {
  EXPECT_EQ(key4("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(key4("203.0.113.255"), "203.0.113.255");
}

TEST(ClientKey, Ipv6SameSlash64SharesKey) {
  EXPECT_EQ(key6("2001:db8:1:2::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(key6("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(key6("2001:db8:1:2::1"), key6("2001:db8:1:2:ffff:ffff:ffff:ffff"));
}

TEST(ClientKey, Ipv6DifferentSlash64DiffersKey) {
  EXPECT_NE(key6("2001:db8:1:2::1"), key6("2001:db8:1:3::1"));
  EXPECT_NE(key6("2001:db8:1:2::1"), key6("2001:db9:1:2::1"));
  EXPECT_EQ(key6("2001:db8::1"), "2001:db8::/64");
}

TEST(ClientKey, Ipv4MappedIsIpv4) { EXPECT_EQ(key6("::ffff:192.0.2.7"), "192.0.2.7"); }

TEST(ClientKey, OtherFamilies) {
  EXPECT_EQ(client_key(nullptr), "unknown");
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  EXPECT_EQ(client_key(reinterpret_cast<const sockaddr*>(&sun)), "local");
}

TEST(LoginThrottle, Ipv6ClientsInOneSlash64ShareLimits) {
  login_throttle t(opts());
  for (int i = 1; i <= 10; ++i) {
    std::string addr = "2001:db8:1:2::" + std::to_string(i);
    t.record_failure(key6(addr.c_str()), "user" + std::to_string(i), t0);
  }
  EXPECT_TRUE(t.blocked(key6("2001:db8:1:2:dead:beef::1"), "new", t0));
  EXPECT_FALSE(t.blocked(key6("2001:db8:1:3::1"), "new", t0));
}

}  // namespace
}  // namespace ringmail::auth
