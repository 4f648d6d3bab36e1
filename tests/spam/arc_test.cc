// ARC (RFC 8617): sealing and chain validation over an in-memory zone.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "runtime/task.h"
#include "spam/arc/arc_set.h"
#include "spam/arc/sealer.h"
#include "spam/arc/verifier.h"
#include "spam/dkim/key_cache.h"
#include "spam/dns/dns_client.h"
#include "tests/spam/dkim_test_support.h"

namespace ringmail::spam::arc {
namespace {

using dkim::testing::ed25519_key;
using dkim::testing::key_record_for;
using dkim::testing::rsa_key;

const std::string kMessage =
    "Received: from client.example.org by mx.example.org; Mon, 7 Dec 2026 10:00:00 +0000\r\n"
    "From: Alice <alice@example.org>\r\n"
    "To: list@lists.example.net\r\n"
    "Subject: Lunch tomorrow?\r\n"
    "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "\r\n"
    "Shall we meet at noon?\r\n";

static_dns_client zone() {
  static_dns_client dns;
  dns.add_txt("arc._domainkey.lists.example.net", key_record_for(rsa_key()));
  dns.add_txt("ed._domainkey.relay.example.com", key_record_for(ed25519_key()));
  dns.add_txt("arc._domainkey.relay.example.com", key_record_for(rsa_key()));
  return dns;
}

std::string seal(const std::string& message, arc_result chain, std::string domain = "lists.example.net",
                 const dkim::private_key& key = rsa_key(), std::string selector = "arc") {
  arc_seal_options o;
  o.authserv_id = "mx." + domain;
  o.auth_results = "spf=pass smtp.mailfrom=example.org; dkim=none";
  o.chain = chain;
  o.domain = domain;
  o.selector = selector;
  o.key = &key;
  o.timestamp = 1800000000;
  auto fields = arc_seal(message, o);
  EXPECT_TRUE(fields.ok()) << fields.status();
  return fields.ok() ? fields->all() + message : message;
}

// Each chain is also verified twice with a process-wide key cache (cold, then warm) over
// a copy of the zone (the tests count the first run's lookups): the same result.
arc_check verify(static_dns_client& dns, const std::string& message) {
  arc_check plain = run_inline(verify_arc(dns, message));
  static dkim::key_cache shared(4);
  static_dns_client copy = dns;
  arc_verify_options options;
  options.keys.key_cache = &shared;
  for (int run = 0; run < 2; ++run) {
    arc_check cached = run_inline(verify_arc(copy, message, options));
    EXPECT_EQ(cached.result, plain.result) << "with the key cache, run " << run;
    EXPECT_EQ(cached.instances, plain.instances);
    EXPECT_EQ(cached.reason, plain.reason);
    EXPECT_EQ(cached.oldest_pass_domain, plain.oldest_pass_domain);
  }
  return plain;
}

TEST(Arc, NoArcFieldsIsNone) {
  static_dns_client dns = zone();
  arc_check c = verify(dns, kMessage);
  EXPECT_EQ(c.result, arc_result::none);
  EXPECT_EQ(c.instances, 0u);
  EXPECT_EQ(dns.lookups(), 0u);
}

TEST(Arc, SealThenVerify) {
  static_dns_client dns = zone();
  std::string m = seal(kMessage, arc_result::none);
  EXPECT_NE(m.find("ARC-Seal: i=1; a=rsa-sha256; cv=none;"), std::string::npos) << m;
  EXPECT_NE(m.find("ARC-Authentication-Results: i=1; mx.lists.example.net;"), std::string::npos);
  EXPECT_NE(m.find("ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed;"), std::string::npos);
  arc_check c = verify(dns, m);
  EXPECT_EQ(c.result, arc_result::pass) << c.reason;
  EXPECT_EQ(c.instances, 1u);
  EXPECT_EQ(c.oldest_pass_domain, "lists.example.net");
}

TEST(Arc, TwoHopsWithEd25519Second) {
  static_dns_client dns = zone();
  std::string m = seal(kMessage, arc_result::none);
  ASSERT_EQ(verify(dns, m).result, arc_result::pass);
  m = seal(m, arc_result::pass, "relay.example.com", ed25519_key(), "ed");
  EXPECT_NE(m.find("ARC-Seal: i=2; a=ed25519-sha256; cv=pass;"), std::string::npos);
  arc_check c = verify(dns, m);
  EXPECT_EQ(c.result, arc_result::pass) << c.reason;
  EXPECT_EQ(c.instances, 2u);
  EXPECT_EQ(c.oldest_pass_domain, "lists.example.net");  // hop 1's AMS still verifies
}

TEST(Arc, ModifiedAfterFirstHopKeepsChainButNotOldestPass) {
  static_dns_client dns = zone();
  std::string m = seal(kMessage, arc_result::none);
  // The list rewrites the Subject (as lists do), then seals: the chain passes, hop 1's
  // AMS no longer does.
  m.replace(m.find("Subject: Lunch"), 14, "Subject: [list] Lunch");
  m = seal(m, arc_result::pass, "relay.example.com");
  arc_check c = verify(dns, m);
  EXPECT_EQ(c.result, arc_result::pass) << c.reason;
  EXPECT_EQ(c.oldest_pass_domain, "relay.example.com");
}

TEST(Arc, TamperingBreaksIt) {
  static_dns_client dns = zone();
  std::string sealed = seal(kMessage, arc_result::none);
  std::string body = sealed;
  body.replace(body.find("noon"), 4, "nine");
  arc_check c = verify(dns, body);
  EXPECT_EQ(c.result, arc_result::fail);
  EXPECT_EQ(c.reason, "ARC-Message-Signature i=1: body hash did not verify");

  std::string two = seal(sealed, arc_result::pass, "relay.example.com");
  std::string aar = two;
  aar.replace(aar.find("spf=pass"), 8, "spf=fail");  // hop 2's AAR comes first
  c = verify(dns, aar);
  EXPECT_EQ(c.result, arc_result::fail);
  EXPECT_EQ(c.reason, "ARC-Seal i=2 did not verify");
  // Hop 1's AAR changed: the newest AMS does not cover it, but seal 1 (and 2) do.
  std::string aar1 = two;
  aar1.replace(aar1.rfind("spf=pass"), 8, "spf=fail");
  c = verify(dns, aar1);
  EXPECT_EQ(c.result, arc_result::fail);
  EXPECT_EQ(c.reason, "ARC-Seal i=2 did not verify");
}

TEST(Arc, CvFailPropagatesAndStopsSealing) {
  static_dns_client dns = zone();
  std::string m = seal(kMessage, arc_result::none);
  m = seal(m, arc_result::fail, "relay.example.com");
  EXPECT_NE(m.find("cv=fail"), std::string::npos);
  arc_check c = verify(dns, m);
  EXPECT_EQ(c.result, arc_result::fail);
  EXPECT_EQ(c.reason, "ARC-Seal i=2 says cv=fail");
  arc_seal_options o;
  o.authserv_id = "mx.third.example";
  o.domain = "third.example";
  o.selector = "arc";
  o.key = &rsa_key();
  o.chain = arc_result::fail;
  auto again = arc_seal(m, o);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), "the chain was sealed cv=fail before");
}

TEST(Arc, StructureChecked) {
  static_dns_client dns = zone();
  std::string m = seal(kMessage, arc_result::none);
  std::string no_seal = m;
  size_t at = no_seal.find("ARC-Seal:");
  no_seal.erase(at, no_seal.find("ARC-Message-Signature:") - at);
  EXPECT_EQ(verify(dns, no_seal).reason, "incomplete or missing ARC set");
  std::string doubled = "ARC-Authentication-Results: i=1; x.example; none\r\n" + m;
  EXPECT_EQ(verify(dns, doubled).reason, "two ARC fields of one kind for i=1");
  std::string gap = m;
  for (size_t p = gap.find("i=1;"); p != std::string::npos; p = gap.find("i=1;", p)) gap.replace(p, 4, "i=2;");
  EXPECT_EQ(verify(dns, gap).reason, "incomplete or missing ARC set");
  std::string bad_i = "ARC-Seal: i=51; a=rsa-sha256; cv=pass; d=x; s=y; b=AAAA\r\n" + m;
  EXPECT_EQ(verify(dns, bad_i).reason, "ARC header field without a valid i=");
  // A second hop claiming cv=none breaks the cv= rules.
  std::string cv = seal(m, arc_result::pass, "relay.example.com");
  cv.replace(cv.find("cv=pass"), 7, "cv=none");
  EXPECT_EQ(verify(dns, cv).reason, "ARC-Seal i=2 has cv=none");
  EXPECT_EQ(dns.lookups(), 0u);  // all refused before any DNS
}

TEST(Arc, ManyFieldsRefusedQuickly) {
  static_dns_client dns = zone();
  std::string top;
  for (int i = 0; i < 10000; ++i) top += "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=x; s=y; b=AAAA\r\n";
  auto start = std::chrono::steady_clock::now();
  arc_check c = verify(dns, top + kMessage);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_EQ(c.result, arc_result::fail);
  EXPECT_EQ(c.reason, "two ARC fields of one kind for i=1");
  // 150 fields make 50 whole sets at most; the 151st is refused before anything else.
  top.clear();
  for (std::string kind : {"ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal"}) {
    for (int i = 1; i <= 50; ++i) top += kind + ": i=" + std::to_string(i) + "; x=y\r\n";
  }
  c = verify(dns, top + "ARC-Seal: i=1; x=y\r\n" + kMessage);
  EXPECT_EQ(c.reason, "too many ARC header fields");
  // One ARC-Seal of 90 KB of tags (parse_tag_list is quadratic in them): refused unparsed.
  std::string tags;
  for (int i = 0; i < 20000; ++i) tags += "t" + std::to_string(i) + "=1;";
  start = std::chrono::steady_clock::now();
  c = verify(dns, "ARC-Seal: " + tags + " i=1\r\n" + kMessage);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_EQ(c.reason, "ARC header field without a valid i=");
  EXPECT_EQ(dns.lookups(), 0u);
}

TEST(Arc, FiftyInstancesVerifyAndNoFiftyFirst) {
  static_dns_client dns = zone();
  std::string m = kMessage;
  for (int i = 0; i < 50; ++i) m = seal(m, i == 0 ? arc_result::none : arc_result::pass);
  arc_check c = verify(dns, m);
  EXPECT_EQ(c.result, arc_result::pass) << c.reason;
  EXPECT_EQ(c.instances, 50u);
  arc_seal_options o;
  o.domain = "lists.example.net";
  o.selector = "arc";
  o.key = &rsa_key();
  o.chain = arc_result::pass;
  EXPECT_FALSE(arc_seal(m, o).ok());
}

TEST(Arc, KeyProblemsFail) {
  std::string m = seal(kMessage, arc_result::none);
  static_dns_client empty;
  arc_check c = run_inline(verify_arc(empty, m));
  EXPECT_EQ(c.result, arc_result::fail);
  EXPECT_EQ(c.reason, "ARC-Message-Signature i=1: no key for signature");
  static_dns_client slow;
  slow.set_status("arc._domainkey.lists.example.net", dns_type::txt, dns_status::timeout);
  c = run_inline(verify_arc(slow, m));
  EXPECT_EQ(c.result, arc_result::fail);
  EXPECT_EQ(c.reason, "ARC-Message-Signature i=1: key lookup timed out");
}

TEST(ArcSet, InstanceOf) {
  EXPECT_EQ(instance_of("i=3; mx.example.org; spf=pass"), 3u);
  EXPECT_EQ(instance_of("a=rsa-sha256; i=7; cv=pass"), 7u);
  EXPECT_EQ(instance_of("i=0; x"), 0u);
  EXPECT_EQ(instance_of("i=51; x"), 0u);
  EXPECT_EQ(instance_of("mx.example.org; i=1"), 0u);
}

TEST(ArcSet, SealRefusals) {
  auto err = [](std::string_view v) {
    auto s = parse_seal(v);
    return s.ok() ? std::string("ok") : std::string(s.status().message());
  };
  EXPECT_EQ(err("i=1; a=rsa-sha256; cv=none; d=x; s=y; b=AAAA"), "ok");
  EXPECT_EQ(err("i=1; a=rsa-sha256; cv=none; d=x; s=y; h=from; b=AAAA"), "ARC-Seal with h=");
  EXPECT_EQ(err("i=1; a=rsa-sha1; cv=none; d=x; s=y; b=AAAA"), "ARC-Seal: unsupported a=");
  EXPECT_EQ(err("i=1; a=rsa-sha256; cv=maybe; d=x; s=y; b=AAAA"), "ARC-Seal: bad cv=");
  EXPECT_EQ(err("i=1; a=rsa-sha256; d=x; s=y; b=AAAA"), "ARC-Seal without cv=");
  EXPECT_EQ(err("i=1; a=rsa-sha256; cv=none; d=x; s=y; b=A*AA"), "ARC-Seal: bad b=");
}

}  // namespace
}  // namespace ringmail::spam::arc
