// MX ordering and filtering (delivery/relay/mx_plan.h): RFC 5321 §5.1 sorting and
// shuffling, the loop rule, RFC 7505 null MX, address literals, the host limit.
#include "delivery/relay/mx_plan.h"

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringmail::relay {
namespace {

std::vector<std::string> names(const mx_plan& p) {
  std::vector<std::string> out;
  for (const mx_record& r : p.hosts) out.push_back(r.exchange);
  return out;
}

random_source seeded(uint64_t seed) {
  auto engine = std::make_shared<std::mt19937_64>(seed);
  return [engine] { return (*engine)(); };
}

random_source always(uint64_t value) {
  return [value] { return value; };
}

TEST(MxPlan, SortedByPreference) {
  mx_plan p = plan_mx({{30, "c.example"}, {10, "A.Example."}, {20, "b.example"}}, "", always(0));
  EXPECT_FALSE(p.null_mx);
  EXPECT_EQ(names(p), (std::vector<std::string>{"a.example", "b.example", "c.example"}));
  EXPECT_EQ(p.hosts[0].preference, 10);
  EXPECT_TRUE(p.skipped.empty());
}

TEST(MxPlan, EqualPreferencesShuffledByTheRandomSource) {
  std::vector<mx_record> records = {{10, "a.example"}, {10, "b.example"}, {10, "c.example"}, {5, "first.example"},
                                    {20, "last.example"}};
  // Every order of the three equals shows up over many seeds, and the others never move.
  std::set<std::vector<std::string>> orders;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    mx_plan p = plan_mx(records, "", seeded(seed));
    std::vector<std::string> n = names(p);
    ASSERT_EQ(n.size(), 5u);
    EXPECT_EQ(n.front(), "first.example");
    EXPECT_EQ(n.back(), "last.example");
    orders.insert({n[1], n[2], n[3]});
  }
  EXPECT_EQ(orders.size(), 6u);
  // The same seed gives the same order (tests and reproducible logs).
  EXPECT_EQ(names(plan_mx(records, "", seeded(7))), names(plan_mx(records, "", seeded(7))));
  // Roughly uniform: each host leads its group about a third of the time.
  std::map<std::string, int> leads;
  auto source = seeded(42);
  for (int i = 0; i < 3000; ++i) ++leads[plan_mx(records, "", source).hosts[1].exchange];
  for (const auto& [name, count] : leads) EXPECT_GT(count, 800) << name;
}

TEST(MxPlan, NullMx) {
  EXPECT_TRUE(plan_mx({{0, ""}}, "", always(0)).null_mx);
  EXPECT_TRUE(plan_mx({{0, "."}}, "", always(0)).null_mx);
  EXPECT_TRUE(plan_mx({{10, ""}}, "", always(0)).null_mx);  // the root makes it null, not the 0
  EXPECT_TRUE(is_null_mx({{0, ""}}));
  EXPECT_FALSE(is_null_mx({}));
  EXPECT_FALSE(is_null_mx({{0, "mx.example"}}));
  // A "." beside real hosts (RFC 7505 §3 forbids it) is skipped, the rest used.
  mx_plan mixed = plan_mx({{0, ""}, {10, "mx.example"}}, "", always(0));
  EXPECT_FALSE(mixed.null_mx);
  EXPECT_EQ(names(mixed), std::vector<std::string>{"mx.example"});
  ASSERT_EQ(mixed.skipped.size(), 1u);
  EXPECT_EQ(mixed.skipped[0].reason, mx_skip_reason::null_exchange);
}

TEST(MxPlan, AddressLiteralsAreSkipped) {
  mx_plan p = plan_mx({{10, "192.0.2.1"}, {20, "2001:db8::1"}, {30, "[192.0.2.2]"}, {40, "mx.example"}}, "",
                      always(0));
  EXPECT_EQ(names(p), std::vector<std::string>{"mx.example"});
  ASSERT_EQ(p.skipped.size(), 3u);
  for (const mx_skipped& s : p.skipped) EXPECT_EQ(s.reason, mx_skip_reason::address_literal);
  EXPECT_TRUE(plan_mx({{10, "192.0.2.1"}}, "", always(0)).hosts.empty());
}

TEST(MxPlan, LoopRuleDropsSelfAndWorse) {
  // We are a backup MX: only the better host is left.
  mx_plan backup = plan_mx({{10, "primary.example"}, {20, "Me.Example"}, {20, "peer.example"}, {30, "worse.example"}},
                           "me.example.", always(0));
  EXPECT_TRUE(backup.found_self);
  EXPECT_EQ(names(backup), std::vector<std::string>{"primary.example"});
  EXPECT_EQ(backup.skipped.size(), 3u);
  // We are the best MX: nothing left (the caller reports the loop).
  mx_plan primary = plan_mx({{10, "me.example"}, {20, "backup.example"}}, "me.example", always(0));
  EXPECT_TRUE(primary.found_self);
  EXPECT_TRUE(primary.hosts.empty());
  // Not us: untouched.
  mx_plan other = plan_mx({{10, "mx.example"}}, "me.example", always(0));
  EXPECT_FALSE(other.found_self);
  EXPECT_EQ(other.hosts.size(), 1u);
}

TEST(MxPlan, DuplicatesAndLimit) {
  mx_plan dup = plan_mx({{20, "mx.example"}, {10, "mx.example"}}, "", always(0));
  ASSERT_EQ(dup.hosts.size(), 1u);
  EXPECT_EQ(dup.hosts[0].preference, 10);

  std::vector<mx_record> many;
  for (int i = 0; i < 50; ++i) many.push_back({static_cast<uint16_t>(i), "mx" + std::to_string(i) + ".example"});
  mx_plan p = plan_mx(many, "", always(0));
  ASSERT_EQ(p.hosts.size(), kMaxMxHosts);
  EXPECT_EQ(p.hosts.front().exchange, "mx0.example");
  EXPECT_EQ(p.skipped.size(), 50 - kMaxMxHosts);
  EXPECT_EQ(p.skipped.front().reason, mx_skip_reason::over_limit);
}

}  // namespace
}  // namespace ringmail::relay
