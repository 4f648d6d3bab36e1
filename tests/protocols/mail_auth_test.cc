// protocols/smtp/mail_auth.h (issue 16) without sockets: which keys sign, the From domain,
// the DKIM fields and ARC sets we add (checked by our own verifiers over an in-memory
// zone), and check_inbound's DMARC actions.
#include "protocols/smtp/mail_auth.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "mail/header.h"
#include "runtime/task.h"
#include "spam/arc/verifier.h"
#include "spam/dkim/verifier.h"
#include "spam/dns/dns_client.h"
#include "tests/spam/dkim_test_support.h"

namespace ringmail::smtp {
namespace {

using spam::dkim::testing::ed25519_key;
using spam::dkim::testing::key_record_for;
using spam::dkim::testing::rsa_key;

const std::string kMessage =
    "From: Alice <alice@news.example.org>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Lunch tomorrow?\r\n"
    "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "\r\n"
    "Shall we meet at noon?\r\n";

dkim_signing_key key(std::string selector, const spam::dkim::private_key& k) { return {std::move(selector), k}; }

// example.org has an Ed25519 key listed first and an RSA one: the settings' loader puts
// RSA first, and these tests rely on the order given.
mail_auth_settings settings_with_keys() {
  mail_auth_settings s;
  s.authserv_id = "mx.example.org";
  s.keys["example.org"] = {key("rsa1", rsa_key()), key("ed1", ed25519_key())};
  s.keys["org"] = {key("tld", rsa_key())};  // must never be used
  s.keys["forward.example"] = {key("arc", rsa_key())};
  return s;
}

spam::static_dns_client key_zone() {
  spam::static_dns_client dns;
  dns.add_txt("rsa1._domainkey.example.org", key_record_for(rsa_key()));
  dns.add_txt("ed1._domainkey.example.org", key_record_for(ed25519_key()));
  dns.add_txt("arc._domainkey.forward.example", key_record_for(rsa_key()));
  return dns;
}

TEST(SigningKeysFor, OwnParentButNeverTld) {
  mail_auth_settings s = settings_with_keys();
  const auto* own = signing_keys_for(s, "Example.ORG");
  ASSERT_NE(own, nullptr);
  EXPECT_EQ(own->front().selector, "rsa1");
  const auto* parent = signing_keys_for(s, "a.b.news.example.org");
  ASSERT_NE(parent, nullptr);
  EXPECT_EQ(parent, own);
  EXPECT_EQ(signing_keys_for(s, "example.com"), nullptr);  // would be "com", then nothing
  EXPECT_EQ(signing_keys_for(s, "other.org"), nullptr);    // "org" has keys, but is a TLD
  EXPECT_EQ(signing_keys_for(s, ""), nullptr);
  // A domain with an empty key list is skipped for its parent's. (The insertion may move
  // the map's values: compare selectors, not pointers.)
  s.keys["news.example.org"] = {};
  const auto* skipped = signing_keys_for(s, "news.example.org");
  ASSERT_NE(skipped, nullptr);
  EXPECT_EQ(skipped->front().selector, "rsa1");
  EXPECT_EQ(skipped, signing_keys_for(s, "example.org"));
}

std::string with_from(std::string_view from) {
  return "To: x@example.net\r\nFrom:" + std::string(from) + "\r\nSubject: s\r\n\r\nbody\r\n";
}

TEST(FromDomainOf, OddFromFields) {
  EXPECT_EQ(from_domain_of("To: x@example.net\r\nSubject: s\r\n\r\nbody\r\n"), "");
  EXPECT_EQ(from_domain_of(with_from(" Alice <Alice@Example.ORG>")), "example.org");
  EXPECT_EQ(from_domain_of(with_from(" alice@example.org (Alice)")), "example.org");
  EXPECT_EQ(from_domain_of(with_from(" undisclosed-recipients:;")), "");
  EXPECT_EQ(from_domain_of(with_from(" team: a@one.example, b@two.example;")), "one.example");
  EXPECT_EQ(from_domain_of(with_from(" =?utf-8?q?Al=40ice?= <alice@real.example>")), "real.example");
  EXPECT_EQ(from_domain_of(with_from(" \"a@fake.example\" <alice@real.example>")), "real.example");
  EXPECT_EQ(from_domain_of(with_from(" a@first.example, b@second.example")), "first.example");
  EXPECT_EQ(from_domain_of(with_from(" Alice\r\n <alice@folded.example>")), "folded.example");
  EXPECT_EQ(from_domain_of(with_from(" no address here")), "");
  EXPECT_EQ(from_domain_of(""), "");
}

std::vector<spam::dkim_signature_check> verify(spam::static_dns_client& dns, std::string_view message) {
  return run_inline(spam::dkim::verify_dkim(dns, message));
}

TEST(DkimSignaturesFor, RsaOnTopBothVerifyWithParentDomain) {
  mail_auth_settings s = settings_with_keys();
  const std::string fields = dkim_signatures_for(s, kMessage, "t1");
  ASSERT_FALSE(fields.empty());
  EXPECT_EQ(fields.rfind("DKIM-Signature:", 0), 0u);
  const std::string signed_message = fields + kMessage;
  spam::static_dns_client dns = key_zone();
  auto results = verify(dns, signed_message);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].algorithm, "rsa-sha256");
  EXPECT_EQ(results[1].algorithm, "ed25519-sha256");
  for (const auto& r : results) {
    EXPECT_EQ(r.result, spam::dkim_result::pass) << r.reason;
    EXPECT_EQ(r.domain, "example.org");  // the parent whose keys these are
  }
  // A change after signing breaks both.
  std::string changed = signed_message;
  changed.replace(changed.find("noon"), 4, "nine");
  for (const auto& r : verify(dns, changed)) EXPECT_EQ(r.result, spam::dkim_result::fail);
}

TEST(DkimSignaturesFor, NothingWithoutKeyOrWhenOff) {
  mail_auth_settings s = settings_with_keys();
  EXPECT_EQ(dkim_signatures_for(s, with_from(" a@example.com"), "t2"), "");
  EXPECT_EQ(dkim_signatures_for(s, with_from(" a@other.org"), "t2"), "");  // not the TLD's key
  EXPECT_EQ(dkim_signatures_for(s, "Subject: no from\r\n\r\nx\r\n", "t2"), "");
  s.dkim_sign = false;
  EXPECT_EQ(dkim_signatures_for(s, kMessage, "t2"), "");
}

spam::message_auth checked_auth() {
  spam::message_auth auth;
  auth.checked = true;
  auth.spf.result = spam::spf_result::pass;
  auth.spf.domain = "example.org";
  return auth;
}

const std::string kAuthHeader =
    "Authentication-Results: mx.example.org;\r\n"
    "\tspf=pass smtp.mailfrom=example.org;\r\n"
    "\tdkim=pass header.d=example.org header.s=rsa1\r\n";

TEST(ArcSealForForward, SealVerifiesAndCarriesOurResults) {
  mail_auth_settings s = settings_with_keys();
  const std::string outgoing = "Received: from a by b; Mon, 7 Dec 2026 10:00:00 +0000\r\n" + kMessage;
  const std::string set = arc_seal_for_forward(s, "Forward.Example", outgoing, kAuthHeader, checked_auth(), "t3");
  ASSERT_FALSE(set.empty());
  EXPECT_EQ(set.rfind("ARC-Seal: i=1;", 0), 0u) << set;
  EXPECT_NE(set.find("d=forward.example"), std::string::npos);

  const std::string sealed = set + outgoing;  // the header block's views point into it
  const mail::header_block headers = mail::parse_header_block(sealed);
  const mail::header_field* aar = headers.find("ARC-Authentication-Results");
  ASSERT_NE(aar, nullptr);
  // The sealer folds after the authserv-id; our header's own folds are gone (one line).
  std::string aar_value = mail::unfold(aar->value);
  std::replace(aar_value.begin(), aar_value.end(), '\t', ' ');
  EXPECT_EQ(aar_value,
            "i=1; mx.example.org; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org header.s=rsa1");

  spam::static_dns_client dns = key_zone();
  spam::arc_check c = run_inline(spam::arc::verify_arc(dns, set + outgoing));
  EXPECT_EQ(c.result, spam::arc_result::pass) << c.reason;
  EXPECT_EQ(c.instances, 1u);
}

TEST(ArcSealForForward, NothingWhenUncheckedOffOrWithoutKey) {
  mail_auth_settings s = settings_with_keys();
  spam::message_auth unchecked;
  EXPECT_EQ(arc_seal_for_forward(s, "forward.example", kMessage, kAuthHeader, unchecked, "t4"), "");
  EXPECT_EQ(arc_seal_for_forward(s, "nokeys.example", kMessage, kAuthHeader, checked_auth(), "t4"), "");
  s.arc_seal = false;
  EXPECT_EQ(arc_seal_for_forward(s, "forward.example", kMessage, kAuthHeader, checked_auth(), "t4"), "");
}

// check_inbound over a zone where sender.example fails DMARC (SPF fails, no DKIM).
struct inbound_fixture {
  spam::static_dns_client dns;
  std::shared_ptr<mail_auth_settings> settings = std::make_shared<mail_auth_settings>();
  mail_auth_shard shard;

  explicit inbound_fixture(std::string dmarc) {
    dns.add_txt("sender.example", "v=spf1 ip4:192.0.2.0/24 -all");
    dns.add_txt("_dmarc.sender.example", dmarc);
    settings->authserv_id = "mx.example.org";
    shard.settings = settings;
    shard.dns = &dns;
  }

  inbound_auth run(const std::string& message, std::string client_ip = "198.51.100.9") {
    inbound_request in;
    in.message = message;
    in.client_ip = std::move(client_ip);
    in.helo = "client.sender.example";
    in.mail_from = "a@sender.example";
    in.receiver = "mx.example.org";
    return run_inline(check_inbound(shard, in));
  }
};

const std::string kInbound =
    "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=sender.example\r\n"
    "Authentication-Results: other.example; spf=fail\r\n"
    "From: a@sender.example\r\n"
    "Subject: hi\r\n"
    "\r\n"
    "body\r\n";

TEST(CheckInbound, ForgedResultsFoundAndOurHeaderWritten) {
  inbound_fixture f("v=DMARC1; p=none");
  inbound_auth out = f.run(kInbound, "192.0.2.5");
  ASSERT_EQ(out.forged.size(), 1u);
  const spam::byte_range& r = out.forged[0];
  EXPECT_EQ(kInbound.substr(r.offset, r.length).rfind("Authentication-Results: mx.example.org;", 0), 0u);
  EXPECT_EQ(kInbound.substr(r.offset, r.length).find("other.example"), std::string::npos);
  EXPECT_EQ(out.auth.spf.result, spam::spf_result::pass);
  EXPECT_EQ(out.auth.dmarc.result, spam::dmarc_result::pass);
  EXPECT_EQ(out.header.rfind("Authentication-Results: mx.example.org;", 0), 0u) << out.header;
  EXPECT_NE(out.header.find("spf=pass"), std::string::npos) << out.header;
  EXPECT_EQ(out.action, dmarc_action::accept);
}

TEST(CheckInbound, DmarcRejectFollowsOnReject) {
  inbound_fixture f("v=DMARC1; p=reject");
  inbound_auth out = f.run(kInbound);
  EXPECT_EQ(out.auth.spf.result, spam::spf_result::fail);
  EXPECT_EQ(out.auth.dmarc.result, spam::dmarc_result::fail);
  EXPECT_EQ(out.action, dmarc_action::reject);
  f.settings->on_reject = dmarc_reject_action::junk;
  EXPECT_EQ(f.run(kInbound).action, dmarc_action::junk);
  f.settings->on_reject = dmarc_reject_action::none;
  EXPECT_EQ(f.run(kInbound).action, dmarc_action::accept);
}

TEST(CheckInbound, DmarcQuarantineToJunkUnlessOff) {
  inbound_fixture f("v=DMARC1; p=quarantine");
  EXPECT_EQ(f.run(kInbound).action, dmarc_action::junk);
  f.settings->quarantine_to_junk = false;
  EXPECT_EQ(f.run(kInbound).action, dmarc_action::accept);
  // Passing mail is accepted whatever the policy.
  f.settings->quarantine_to_junk = true;
  EXPECT_EQ(f.run(kInbound, "192.0.2.5").action, dmarc_action::accept);
}

}  // namespace
}  // namespace ringmail::smtp
