// conn_limits: global and per-client caps, IPv6 clients counted per /64.
#include "runtime/conn_limits.h"

#include "gtest/gtest.h"

namespace ringmail {
namespace {

socket_address addr(const char* host) { return *socket_address::parse(host, 25); }

TEST(ConnLimits, GlobalCapAndRelease) {
  conn_limits limits(2, 0);
  auto [v1, p1] = limits.admit(addr("192.0.2.1"));
  auto [v2, p2] = limits.admit(addr("192.0.2.2"));
  auto [v3, p3] = limits.admit(addr("192.0.2.3"));
  EXPECT_EQ(v1, conn_limits::verdict::admitted);
  EXPECT_EQ(v2, conn_limits::verdict::admitted);
  EXPECT_EQ(v3, conn_limits::verdict::refused_total);
  EXPECT_FALSE(p3);
  EXPECT_EQ(limits.total(), 2u);
  p1.reset();
  EXPECT_EQ(limits.total(), 1u);
  auto [v4, p4] = limits.admit(addr("192.0.2.3"));
  EXPECT_EQ(v4, conn_limits::verdict::admitted);
}

TEST(ConnLimits, PerClientCapIsPerAddressForIpv4) {
  conn_limits limits(0, 2);
  auto [a1, pa1] = limits.admit(addr("198.51.100.7"));
  auto [a2, pa2] = limits.admit(addr("198.51.100.7"));
  auto [a3, pa3] = limits.admit(addr("198.51.100.7"));
  auto [b1, pb1] = limits.admit(addr("198.51.100.8"));
  EXPECT_EQ(a3, conn_limits::verdict::refused_client);
  EXPECT_EQ(b1, conn_limits::verdict::admitted) << "another address has its own count";
  EXPECT_EQ(limits.total(), 3u) << "a refusal must not leak a count";
}

TEST(ConnLimits, Ipv6ClientsShareTheirSlash64) {
  conn_limits limits(0, 2);
  auto [a, pa] = limits.admit(addr("2001:db8:1:2::1"));
  auto [b, pb] = limits.admit(addr("2001:db8:1:2:ffff::9"));
  auto [c, pc] = limits.admit(addr("2001:db8:1:2::abcd"));
  auto [d, pd] = limits.admit(addr("2001:db8:1:3::1"));
  EXPECT_EQ(a, conn_limits::verdict::admitted);
  EXPECT_EQ(b, conn_limits::verdict::admitted);
  EXPECT_EQ(c, conn_limits::verdict::refused_client) << "same /64: one client";
  EXPECT_EQ(d, conn_limits::verdict::admitted) << "another /64: another client";
}

TEST(ConnLimits, V4MappedCountsAsTheIpv4Address) {
  conn_limits limits(0, 1);
  auto [a, pa] = limits.admit(addr("203.0.113.5"));
  auto [b, pb] = limits.admit(addr("::ffff:203.0.113.5"));
  EXPECT_EQ(b, conn_limits::verdict::refused_client);
}

TEST(ConnLimits, LoopbackExemptFromThePerClientCapWhenAsked) {
  conn_limits strict(0, 1);
  auto [a, pa] = strict.admit(addr("127.0.0.1"));
  auto [b, pb] = strict.admit(addr("127.0.0.1"));
  EXPECT_EQ(b, conn_limits::verdict::refused_client);
  conn_limits exempt(3, 1, /*exempt_loopback=*/true);
  std::vector<conn_limits::permit> held;
  for (const char* h : {"127.0.0.1", "127.0.0.1", "::1"}) {
    auto [v, p] = exempt.admit(addr(h));
    EXPECT_EQ(v, conn_limits::verdict::admitted) << h;
    held.push_back(std::move(p));
  }
  EXPECT_EQ(exempt.admit(addr("127.0.0.1")).first, conn_limits::verdict::refused_total) << "the total still applies";
  held.clear();
  auto [c, pc] = exempt.admit(addr("192.0.2.9"));
  auto [d, pd] = exempt.admit(addr("192.0.2.9"));
  EXPECT_EQ(d, conn_limits::verdict::refused_client) << "other clients keep their cap";
}

TEST(ConnLimits, PermitMovesKeepOneCount) {
  conn_limits limits(0, 0);
  auto [v, p] = limits.admit(addr("192.0.2.1"));
  conn_limits::permit moved = std::move(p);
  EXPECT_EQ(limits.total(), 1u);
  moved = conn_limits::permit();
  EXPECT_EQ(limits.total(), 0u);
}

TEST(SocketAddress, ParsesAndPrintsBothFamilies) {
  EXPECT_EQ(addr("127.0.0.1").to_string(), "127.0.0.1:25");
  EXPECT_EQ(addr("::1").to_string(), "[::1]:25");
  EXPECT_EQ(addr("[2001:db8::1]").to_string(), "[2001:db8::1]:25");
  EXPECT_FALSE(socket_address::parse("mail.example.org", 25).ok()) << "names go through DNS, not here";
  EXPECT_FALSE(socket_address::parse("127.0.0.1\r\n", 25).ok());
}

}  // namespace
}  // namespace ringmail
