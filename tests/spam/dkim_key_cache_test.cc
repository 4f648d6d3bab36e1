// spam/dkim/key_cache: parsed DKIM keys kept by record text, LRU-bounded, and verify_dkim /
// verify_arc giving the same results with it (dkim_test.cc and arc_test.cc also run every
// verification with and without a cache and compare).
#include <gtest/gtest.h>

#include <string>

#include "runtime/task.h"
#include "spam/arc/sealer.h"
#include "spam/arc/verifier.h"
#include "spam/dkim/key_cache.h"
#include "spam/dkim/signer.h"
#include "spam/dkim/verifier.h"
#include "spam/dns/dns_client.h"
#include "tests/spam/dkim_test_support.h"

namespace ringmail::spam::dkim {
namespace {

using testing::ed25519_key;
using testing::key_record_for;
using testing::rsa_key;

const std::string kMessage =
    "From: Alice <alice@example.org>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Lunch\r\n"
    "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "\r\n"
    "Noon?\r\n";

std::string signed_message(const private_key& key, std::string_view selector) {
  dkim_sign_options o;
  o.domain = "example.org";
  o.selector = std::string(selector);
  o.key = &key;
  o.timestamp = 1799999000;
  auto field = sign_dkim(kMessage, o);
  EXPECT_TRUE(field.ok()) << field.status();
  return field.ok() ? *field + kMessage : kMessage;
}

// Distinct record texts for one key: tags the parser ignores (RFC 6376 §3.6.1: unknown
// tags MUST be ignored) make a different text, as a re-published record would.
std::string record_number(int i) { return key_record_for(ed25519_key()) + "; n=" + std::to_string(i); }

TEST(DkimKeyCache, HitReturnsTheSameObjectWithoutParsing) {
  key_cache cache;
  const std::string record = key_record_for(rsa_key());
  auto first = cache.get(record, {});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = cache.get(record, {});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ((*first)->key.pkey.get(), (*second)->key.pkey.get());
  EXPECT_EQ(cache.misses(), 1u);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ((*second)->key.bits, 2048u);
}

TEST(DkimKeyCache, DifferentTextIsAMissWithItsOwnFlags) {
  key_cache cache;
  const std::string record = key_record_for(rsa_key());
  auto plain = cache.get(record, {});
  auto testing = cache.get(record + "; t=y", {});
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(testing.ok());
  EXPECT_NE(plain->get(), testing->get());
  EXPECT_FALSE((*plain)->testing);
  EXPECT_TRUE((*testing)->testing);
  EXPECT_EQ(cache.misses(), 2u);
  EXPECT_EQ(cache.hits(), 0u);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(DkimKeyCache, BoundHoldsAndEvictsTheLeastRecentlyUsed) {
  key_cache cache(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cache.get(record_number(i), {}).ok());
  auto zero = cache.get(record_number(0), {});  // used again: 1 is now the oldest
  ASSERT_TRUE(zero.ok());
  ASSERT_TRUE(cache.get(record_number(3), {}).ok());
  EXPECT_EQ(cache.size(), 3u);
  const uint64_t misses = cache.misses();
  EXPECT_EQ(cache.get(record_number(0), {})->get(), zero->get());  // kept
  ASSERT_TRUE(cache.get(record_number(2), {}).ok());
  ASSERT_TRUE(cache.get(record_number(3), {}).ok());
  EXPECT_EQ(cache.misses(), misses);
  ASSERT_TRUE(cache.get(record_number(1), {}).ok());  // evicted: parsed again
  EXPECT_EQ(cache.misses(), misses + 1);

  for (int i = 0; i < 50; ++i) ASSERT_TRUE(cache.get(record_number(100 + i), {}).ok());
  EXPECT_EQ(cache.size(), 3u);
}

TEST(DkimKeyCache, ZeroCapacityKeepsNothing) {
  key_cache cache(0);
  const std::string record = key_record_for(ed25519_key());
  auto a = cache.get(record, {});
  auto b = cache.get(record, {});
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->get(), b->get());
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.misses(), 2u);
}

TEST(DkimKeyCache, RefusalsAreNotKeptAndMatchTheParser) {
  key_cache cache;
  for (const char* bad : {"v=DKIM1; k=rsa; p=", "v=DKIM2; p=AAAA", "k=dsa; p=AAAA", "p=!!!!"}) {
    auto cached = cache.get(bad, {});
    auto parsed = parse_key_record(bad);
    ASSERT_FALSE(cached.ok()) << bad;
    EXPECT_EQ(cached.status(), parsed.status()) << bad;
  }
  EXPECT_EQ(cache.size(), 0u);
}

TEST(DkimKeyCache, LimitsCheckedAgainOnAHit) {
  key_cache cache;
  const std::string record = key_record_for(rsa_key());
  ASSERT_TRUE(cache.get(record, {}).ok());
  key_limits strict;
  strict.min_rsa_bits = 4096;
  auto refused = cache.get(record, strict);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status(), parse_key_record(record, strict).status());
  EXPECT_EQ(refused.status().message(), "key too small (2048 bits)");
  strict = {};
  strict.max_rsa_bits = 1024;
  EXPECT_EQ(cache.get(record, strict).status().message(), "key too large");
  EXPECT_TRUE(cache.get(record, {}).ok());  // still kept for the usual limits
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(DkimKeyCache, VerifyUsesItAcrossMessages) {
  static_dns_client dns;
  dns.add_txt("sel._domainkey.example.org", key_record_for(rsa_key()));
  dns.add_txt("ed._domainkey.example.org", key_record_for(ed25519_key()));
  key_cache cache;
  dkim_verify_options options;
  options.now = 1800000000;
  options.key_cache = &cache;
  const std::string m = signed_message(rsa_key(), "sel");
  const std::string ed = signed_message(ed25519_key(), "ed");
  for (int i = 0; i < 3; ++i) {
    for (const std::string* message : {&m, &ed}) {
      auto r = run_inline(verify_dkim(dns, *message, options));
      ASSERT_EQ(r.size(), 1u);
      EXPECT_EQ(r[0].result, dkim_result::pass) << r[0].reason;
    }
  }
  EXPECT_EQ(cache.misses(), 2u);
  EXPECT_EQ(cache.hits(), 4u);
  EXPECT_EQ(dns.lookups(), 6u);  // the DNS (its cache) is still asked: it decides a record's life

  // The key rotated: a new record text, a miss, and the old key no longer verifies.
  static_dns_client rotated;
  rotated.add_txt("sel._domainkey.example.org", key_record_for(testing::other_rsa_key()));
  auto r = run_inline(verify_dkim(rotated, m, options));
  EXPECT_EQ(r[0].result, dkim_result::fail);
  EXPECT_EQ(r[0].reason, "signature did not verify");
  EXPECT_EQ(cache.misses(), 3u);
}

TEST(DkimKeyCache, ArcUsesItThroughItsOptions) {
  static_dns_client dns;
  dns.add_txt("arc._domainkey.lists.example.net", key_record_for(rsa_key()));
  arc::arc_seal_options o;
  o.authserv_id = "mx.lists.example.net";
  o.auth_results = "spf=pass smtp.mailfrom=example.org";
  o.chain = arc_result::none;
  o.domain = "lists.example.net";
  o.selector = "arc";
  o.key = &rsa_key();
  o.timestamp = 1800000000;
  auto fields = arc::arc_seal(kMessage, o);
  ASSERT_TRUE(fields.ok()) << fields.status();
  const std::string m = fields->all() + kMessage;
  key_cache cache;
  arc::arc_verify_options options;
  options.keys.key_cache = &cache;
  for (int i = 0; i < 2; ++i) {
    arc_check c = run_inline(arc::verify_arc(dns, m, options));
    EXPECT_EQ(c.result, arc_result::pass) << c.reason;
  }
  EXPECT_EQ(cache.misses(), 1u);  // one key for the AMS and the seal, parsed once
  EXPECT_EQ(cache.hits(), 1u);
}

}  // namespace
}  // namespace ringmail::spam::dkim
