// auth_cache: positive verification cache with injected time.
#include "delivery/auth/auth_cache.h"

#include <string>

#include "gtest/gtest.h"

namespace ringmail::auth {
namespace {

using namespace std::chrono_literals;

const auth_cache::time_point t0 = auth_cache::clock::time_point() + 1000h;
constexpr std::string_view kHash = "{SSHA512}f7SxF0ya87AUTrgssp7BX58qSeYZQRW1vSjntVwnZD412eplWNHkfx53m2uJv5GV3+4v+cYn3";

TEST(AuthCache, HitAfterRemember) {
  auth_cache c(60s, 100);
  EXPECT_FALSE(c.hit("alice@example.org", "secret", kHash, t0));
  c.remember("alice@example.org", "secret", kHash, t0);
  EXPECT_TRUE(c.hit("alice@example.org", "secret", kHash, t0));
  EXPECT_TRUE(c.hit("alice@example.org", "secret", kHash, t0 + 59s));
  EXPECT_EQ(c.size(), 1u);
}

TEST(AuthCache, MissForAnotherPasswordUserOrHash) {
  auth_cache c(60s, 100);
  c.remember("alice@example.org", "secret", kHash, t0);
  EXPECT_FALSE(c.hit("alice@example.org", "secret2", kHash, t0));
  EXPECT_FALSE(c.hit("alice@example.org", "Secret", kHash, t0));
  EXPECT_FALSE(c.hit("alice@example.org", "", kHash, t0));
  EXPECT_FALSE(c.hit("bob@example.org", "secret", kHash, t0));
  // The password changed in the directory: the old cache entry must not vouch for it.
  EXPECT_FALSE(c.hit("alice@example.org", "secret", "{PLAIN}other", t0));
}

TEST(AuthCache, FieldBoundariesDoNotCollide) {
  auth_cache c(60s, 100);
  c.remember("ab", "c", kHash, t0);
  EXPECT_FALSE(c.hit("a", "bc", kHash, t0));
  EXPECT_FALSE(c.hit("abc", "", kHash, t0));
}

TEST(AuthCache, ExpiresAfterTtl) {
  auth_cache c(60s, 100);
  c.remember("alice@example.org", "secret", kHash, t0);
  EXPECT_FALSE(c.hit("alice@example.org", "secret", kHash, t0 + 60s));
  EXPECT_EQ(c.size(), 0u) << "an expired entry found by hit() is dropped";
}

TEST(AuthCache, RememberAgainRestartsTtl) {
  auth_cache c(60s, 100);
  c.remember("alice@example.org", "secret", kHash, t0);
  c.remember("alice@example.org", "secret", kHash, t0 + 50s);
  EXPECT_TRUE(c.hit("alice@example.org", "secret", kHash, t0 + 100s));
  EXPECT_FALSE(c.hit("alice@example.org", "secret", kHash, t0 + 110s));
}

TEST(AuthCache, RememberPrunesExpiredEntries) {
  auth_cache c(60s, 100);
  for (int i = 0; i < 10; ++i) c.remember("user" + std::to_string(i), "pw", kHash, t0);
  c.remember("late", "pw", kHash, t0 + 61s);
  EXPECT_EQ(c.size(), 1u);
}

TEST(AuthCache, SizeBoundEvictsOldest) {
  auth_cache c(3600s, 3);
  for (int i = 0; i < 5; ++i) c.remember("user" + std::to_string(i), "pw", kHash, t0 + std::chrono::seconds(i));
  EXPECT_EQ(c.size(), 3u);
  auto now = t0 + 10s;
  EXPECT_FALSE(c.hit("user0", "pw", kHash, now));
  EXPECT_FALSE(c.hit("user1", "pw", kHash, now));
  EXPECT_TRUE(c.hit("user2", "pw", kHash, now));
  EXPECT_TRUE(c.hit("user3", "pw", kHash, now));
  EXPECT_TRUE(c.hit("user4", "pw", kHash, now));
}

TEST(AuthCache, RefreshedEntryIsNoLongerOldest) {
  auth_cache c(3600s, 2);
  c.remember("a", "pw", kHash, t0);
  c.remember("b", "pw", kHash, t0 + 1s);
  c.remember("a", "pw", kHash, t0 + 2s);  // a is now the newest
  c.remember("c", "pw", kHash, t0 + 3s);  // evicts b
  EXPECT_TRUE(c.hit("a", "pw", kHash, t0 + 4s));
  EXPECT_FALSE(c.hit("b", "pw", kHash, t0 + 4s));
  EXPECT_TRUE(c.hit("c", "pw", kHash, t0 + 4s));
}

TEST(AuthCache, ForgetUserDropsAllTheirEntriesOnly) {
  auth_cache c(60s, 100);
  c.remember("alice@example.org", "secret", kHash, t0);
  c.remember("alice@example.org", "secret", "{PLAIN}secret", t0);
  c.remember("bob@example.org", "secret", kHash, t0);
  c.forget_user("alice@example.org");
  EXPECT_FALSE(c.hit("alice@example.org", "secret", kHash, t0));
  EXPECT_FALSE(c.hit("alice@example.org", "secret", "{PLAIN}secret", t0));
  EXPECT_TRUE(c.hit("bob@example.org", "secret", kHash, t0));
  EXPECT_EQ(c.size(), 1u);
  c.forget_user("nobody@example.org");  // no entries: a no-op
  c.forget_user("bob@example.org");
  EXPECT_EQ(c.size(), 0u);
  // Remembering after a forget works as before.
  c.remember("alice@example.org", "secret", kHash, t0);
  EXPECT_TRUE(c.hit("alice@example.org", "secret", kHash, t0));
}

TEST(AuthCache, ZeroTtlOrSizeDisables) {
  auth_cache no_ttl(0s, 100);
  no_ttl.remember("a", "pw", kHash, t0);
  EXPECT_FALSE(no_ttl.hit("a", "pw", kHash, t0));
  auth_cache no_room(60s, 0);
  no_room.remember("a", "pw", kHash, t0);
  EXPECT_FALSE(no_room.hit("a", "pw", kHash, t0));
  EXPECT_EQ(no_room.size(), 0u);
}

TEST(AuthCache, KeysDifferBetweenInstances) {
  // Each cache has its own random HMAC key; nothing observable should depend on another.
  auth_cache a(60s, 10), b(60s, 10);
  a.remember("u", "pw", kHash, t0);
  EXPECT_FALSE(b.hit("u", "pw", kHash, t0));
}

}  // namespace
}  // namespace ringmail::auth
