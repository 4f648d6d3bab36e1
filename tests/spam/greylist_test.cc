#include "spam/greylist.h"

#include <gtest/gtest.h>

namespace ringmail::spam {
namespace {

using namespace std::chrono_literals;
using clock_type = greylist_table::clock;

TEST(GreylistKey, GroupsClientsByNetworkAndLowerCases) {
  EXPECT_EQ(greylist_key("192.0.2.17", "A@Example.org", "Bob@Example.NET"), "192.0.2.0/24/a@example.org/bob@example.net");
  EXPECT_EQ(greylist_key("192.0.2.200", "a@example.org", "bob@example.net"),
            greylist_key("192.0.2.17", "a@example.org", "bob@example.net"));
  EXPECT_NE(greylist_key("192.0.3.17", "a@example.org", "bob@example.net"),
            greylist_key("192.0.2.17", "a@example.org", "bob@example.net"));
  EXPECT_EQ(greylist_key("2001:db8:1:2:aaaa::1", "", "x@y"), greylist_key("2001:db8:1:2:bbbb::9", "", "x@y"));
  EXPECT_NE(greylist_key("2001:db8:1:3::1", "", "x@y"), greylist_key("2001:db8:1:2::1", "", "x@y"));
  EXPECT_EQ(greylist_key("::ffff:192.0.2.9", "s", "r"), greylist_key("192.0.2.1", "s", "r"));
}

TEST(Greylist, DefersFirstSightPassesRetryAfterDelay) {
  greylist_table t;
  const auto t0 = clock_type::now();
  const std::string key = greylist_key("192.0.2.1", "s@a.example", "r@b.example");
  EXPECT_FALSE(t.check(key, t0));             // unknown: 451
  EXPECT_FALSE(t.check(key, t0 + 60s));       // too early: still 451
  EXPECT_TRUE(t.check(key, t0 + 301s));       // after the 5-minute delay: pass
  EXPECT_TRUE(t.check(key, t0 + 24h));        // known from now on
  EXPECT_FALSE(t.check(greylist_key("192.0.2.1", "other@a.example", "r@b.example"), t0 + 24h));
}

TEST(Greylist, EarlyRetryDoesNotRestartTheClock) {
  greylist_table t;
  const auto t0 = clock_type::now();
  EXPECT_FALSE(t.check("k", t0));
  EXPECT_FALSE(t.check("k", t0 + 299s));
  EXPECT_TRUE(t.check("k", t0 + 300s));
}

TEST(Greylist, RetryAfterTheWindowStartsOver) {
  greylist_options o;
  o.retry_window = 1h;
  greylist_table t(o);
  const auto t0 = clock_type::now();
  EXPECT_FALSE(t.check("k", t0));
  EXPECT_FALSE(t.check("k", t0 + 2h));        // too late: a new first sight
  EXPECT_TRUE(t.check("k", t0 + 2h + 301s));
}

TEST(Greylist, PassedEntriesExpire) {
  greylist_options o;
  o.pass_ttl = 24h;
  greylist_table t(o);
  const auto t0 = clock_type::now();
  t.check("k", t0);
  EXPECT_TRUE(t.check("k", t0 + 10min));
  EXPECT_FALSE(t.check("k", t0 + 10min + 25h));
}

TEST(Greylist, MemoryIsBounded) {
  greylist_options o;
  o.max_entries = 1000;
  greylist_table t(o);
  const auto t0 = clock_type::now();
  for (int i = 0; i < 10000; ++i) t.check("key" + std::to_string(i), t0 + std::chrono::seconds(i));
  EXPECT_LE(t.size(), 1000u);
  // The newest entries survive eviction: a retry of the last one still passes.
  EXPECT_TRUE(t.check("key9999", t0 + 9999s + 301s));
}

}  // namespace
}  // namespace ringmail::spam
