// check_message_auth (spam/auth/check.h, issue 16): SPF (MAIL FROM and HELO), DKIM and ARC
// together, then DMARC over their results — over an in-memory zone, run inline.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "runtime/task.h"
#include "spam/arc/sealer.h"
#include "spam/auth/check.h"
#include "spam/dkim/signer.h"
#include "spam/dns/dns_client.h"
#include "tests/spam/dkim_test_support.h"

namespace ringmail::spam {
namespace {

using dkim::testing::key_record_for;
using dkim::testing::rsa_key;

const std::string kMessage =
    "From: Alice <alice@example.org>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Lunch tomorrow?\r\n"
    "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "\r\n"
    "Shall we meet at noon?\r\n";

const std::string kClient = "192.0.2.10";

// example.org: SPF allows 192.0.2.0/24, a DKIM key at sel._domainkey, DMARC p=reject;
// the HELO name mail.example.org has its own SPF record allowing the client.
static_dns_client zone(std::string dmarc = "v=DMARC1; p=reject") {
  static_dns_client dns;
  dns.add_txt("example.org", "v=spf1 ip4:192.0.2.0/24 -all");
  dns.add_txt("mail.example.org", "v=spf1 ip4:192.0.2.10 -all");
  dns.add_txt("sel._domainkey.example.org", key_record_for(rsa_key()));
  dns.add_txt("_dmarc.example.org", dmarc);
  dns.add_txt("other.example", "v=spf1 ip4:192.0.2.0/24 -all");
  dns.add_txt("arc._domainkey.forwarder.example", key_record_for(rsa_key()));
  return dns;
}

std::string signed_message(const std::string& message = kMessage, std::string selector = "sel") {
  dkim::dkim_sign_options o;
  o.domain = "example.org";
  o.selector = std::move(selector);
  o.key = &rsa_key();
  auto field = dkim::sign_dkim(message, o);
  EXPECT_TRUE(field.ok()) << field.status();
  return field.ok() ? *field + message : message;
}

auth_request request_for(const std::string& message, std::string mail_from = "alice@example.org") {
  auth_request r;
  r.message = message;
  r.client_ip = kClient;
  r.helo = "mail.example.org";
  r.mail_from = std::move(mail_from);
  r.receiver = "mx.example.net";
  return r;
}

message_auth check(static_dns_client& dns, const auth_request& request, const auth_options& options = {}) {
  return run_inline(check_message_auth(dns, nullptr, request, options));
}

TEST(AuthCheck, EverythingPasses) {
  static_dns_client dns = zone();
  const std::string m = signed_message();
  message_auth a = check(dns, request_for(m));
  EXPECT_TRUE(a.checked);
  EXPECT_EQ(a.spf.result, spf_result::pass) << a.spf.explanation;
  EXPECT_EQ(a.spf.domain, "example.org");
  EXPECT_EQ(a.helo_spf.result, spf_result::pass) << a.helo_spf.explanation;
  EXPECT_EQ(a.helo_spf.domain, "mail.example.org");
  ASSERT_EQ(a.dkim.size(), 1u);
  EXPECT_EQ(a.dkim[0].result, dkim_result::pass) << a.dkim[0].reason;
  EXPECT_EQ(a.dmarc.result, dmarc_result::pass) << a.dmarc.reason;
  EXPECT_TRUE(a.dmarc.spf_aligned);
  EXPECT_TRUE(a.dmarc.dkim_aligned);
  EXPECT_EQ(a.dmarc.disposition, dmarc_policy::none);
  EXPECT_EQ(a.arc.result, arc_result::none);
}

TEST(AuthCheck, SpfFailButAlignedDkimPassesDmarc) {
  static_dns_client dns = zone();
  const std::string m = signed_message();
  auth_request r = request_for(m);
  r.client_ip = "198.51.100.1";  // outside example.org's SPF
  message_auth a = check(dns, r);
  EXPECT_EQ(a.spf.result, spf_result::fail);
  ASSERT_EQ(a.dkim.size(), 1u);
  EXPECT_EQ(a.dkim[0].result, dkim_result::pass) << a.dkim[0].reason;
  EXPECT_EQ(a.dmarc.result, dmarc_result::pass) << a.dmarc.reason;
  EXPECT_FALSE(a.dmarc.spf_aligned);
  EXPECT_TRUE(a.dmarc.dkim_aligned);
}

TEST(AuthCheck, UnalignedSpfPassWithoutDkimFailsDmarcWithReject) {
  static_dns_client dns = zone();
  message_auth a = check(dns, request_for(kMessage, "bounce@other.example"));
  EXPECT_EQ(a.spf.result, spf_result::pass);
  EXPECT_EQ(a.spf.domain, "other.example");
  EXPECT_TRUE(a.dkim.empty());
  EXPECT_EQ(a.dmarc.result, dmarc_result::fail) << a.dmarc.reason;
  EXPECT_FALSE(a.dmarc.spf_aligned);
  EXPECT_EQ(a.dmarc.policy, dmarc_policy::reject);
  EXPECT_EQ(a.dmarc.disposition, dmarc_policy::reject);
}

TEST(AuthCheck, PctZeroSamplesRejectDownToQuarantine) {
  static_dns_client dns = zone("v=DMARC1; p=reject; pct=0");
  auth_options options;
  options.percent_roll = [] { return 0u; };  // the lowest roll: only pct=0 leaves it out
  message_auth a = check(dns, request_for(kMessage, "bounce@other.example"), options);
  EXPECT_EQ(a.dmarc.result, dmarc_result::fail);
  EXPECT_EQ(a.dmarc.policy, dmarc_policy::reject);
  EXPECT_EQ(a.dmarc.disposition, dmarc_policy::quarantine);
}

TEST(AuthCheck, SpfTimeoutIsTemperrorAndDmarcNotAPermanentFail) {
  static_dns_client dns = zone();
  dns.set_status("example.org", dns_type::txt, dns_status::timeout);
  message_auth a = check(dns, request_for(kMessage));
  EXPECT_EQ(a.spf.result, spf_result::temperror);
  EXPECT_NE(a.dmarc.result, dmarc_result::fail) << a.dmarc.reason;
  EXPECT_NE(a.dmarc.result, dmarc_result::permerror) << a.dmarc.reason;
  EXPECT_NE(a.dmarc.result, dmarc_result::pass);
  EXPECT_EQ(a.dmarc.disposition, dmarc_policy::none);
}

TEST(AuthCheck, NullSenderUsesTheHeloIdentity) {
  static_dns_client dns = zone();
  message_auth a = check(dns, request_for(kMessage, ""));
  EXPECT_EQ(a.spf.result, spf_result::pass) << a.spf.explanation;
  EXPECT_EQ(a.spf.domain, "mail.example.org");
  // mail.example.org is not example.org: strict names differ, and without a suffix list
  // the Organizational Domain is the name itself, so SPF does not align.
  EXPECT_FALSE(a.dmarc.spf_aligned);
  EXPECT_EQ(a.dmarc.result, dmarc_result::fail);
}

TEST(AuthCheck, HeloCheckOff) {
  static_dns_client dns = zone();
  auth_options options;
  options.check_helo = false;
  message_auth a = check(dns, request_for(kMessage), options);
  EXPECT_EQ(a.spf.result, spf_result::pass);
  EXPECT_EQ(a.helo_spf.result, spf_result::none);
  EXPECT_EQ(dns.lookups_of(dns_type::txt, "mail.example.org"), 0u);
}

std::string arc_sealed(const std::string& message) {
  arc::arc_seal_options o;
  o.authserv_id = "mx.forwarder.example";
  o.auth_results = "spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org";
  o.domain = "forwarder.example";
  o.selector = "arc";
  o.key = &rsa_key();
  auto fields = arc::arc_seal(message, o);
  EXPECT_TRUE(fields.ok()) << fields.status();
  return fields.ok() ? fields->all() + message : message;
}

TEST(AuthCheck, ArcSealedPassesAndTamperedFails) {
  static_dns_client dns = zone();
  const std::string sealed = arc_sealed(signed_message());
  message_auth a = check(dns, request_for(sealed));
  EXPECT_EQ(a.arc.result, arc_result::pass) << a.arc.reason;
  EXPECT_EQ(a.arc.instances, 1u);

  std::string tampered = sealed;
  size_t at = tampered.find("noon");
  ASSERT_NE(at, std::string::npos);
  tampered.replace(at, 4, "nine");
  message_auth t = check(dns, request_for(tampered));
  EXPECT_EQ(t.arc.result, arc_result::fail);
  ASSERT_EQ(t.dkim.size(), 1u);
  EXPECT_EQ(t.dkim[0].result, dkim_result::fail);
}

TEST(AuthCheck, ArcOffIsNotLookedAt) {
  static_dns_client dns = zone();
  const std::string sealed = arc_sealed(kMessage);
  auth_options options;
  options.check_arc = false;
  message_auth a = check(dns, request_for(sealed), options);
  EXPECT_EQ(a.arc.result, arc_result::none);
  EXPECT_EQ(dns.lookups_of(dns_type::txt, "arc._domainkey.forwarder.example"), 0u);
}

TEST(AuthCheck, HundredSignaturesAndTenThousandTxtRecordsEndQuickly) {
  static_dns_client dns = zone();
  // 10,000 TXT records at the SPF name (two or more v=spf1: permerror) and at the key
  // name (only the first max_key_records looked at).
  for (int i = 0; i < 10000; ++i) {
    dns.add_txt("example.org", "v=spf1 ip4:192.0.2.0/24 -all " + std::to_string(i));
    dns.add_txt("many._domainkey.example.org", "junk " + std::to_string(i));
  }
  std::string fields;
  const std::string one_sel = signed_message(kMessage, "sel");
  const std::string one_many = signed_message(kMessage, "many");
  const std::string sel_field = one_sel.substr(0, one_sel.size() - kMessage.size());
  const std::string many_field = one_many.substr(0, one_many.size() - kMessage.size());
  for (int i = 0; i < 100; ++i) fields += i % 2 == 0 ? sel_field : many_field;
  const std::string m = fields + kMessage;

  auto start = std::chrono::steady_clock::now();
  message_auth a = check(dns, request_for(m));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(2));

  EXPECT_EQ(a.spf.result, spf_result::permerror);
  ASSERT_EQ(a.dkim.size(), 100u);
  EXPECT_EQ(a.dkim[0].result, dkim_result::pass) << a.dkim[0].reason;
  EXPECT_EQ(a.dkim[1].result, dkim_result::permerror) << a.dkim[1].reason;
  size_t policy = 0;
  for (const dkim_signature_check& c : a.dkim) policy += c.result == dkim_result::policy;
  EXPECT_EQ(policy, 90u);  // past max_signatures (10): not verified
  EXPECT_EQ(a.dmarc.result, dmarc_result::pass) << a.dmarc.reason;
  EXPECT_TRUE(a.dmarc.dkim_aligned);
}

}  // namespace
}  // namespace ringmail::spam
