// The SPF, DKIM and DMARC plugins' evals over message_auth (spam/evals/auth.cc): the
// functions one by one on small rule texts, then Debian's stock rules through the scanner
// (skipped when spamassassin is not installed), with and without a scan cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "mail/charset.h"
#include "mail/message.h"
#include "mail/message_text.h"
#include "spam/auth/message_auth.h"
#include "spam/evals/evals.h"
#include "spam/evals/received.h"
#include "spam/rules/loader.h"
#include "spam/scan_cache.h"
#include "spam/scanner.h"

namespace ringmail::spam {
namespace {

dkim_signature_check sig(dkim_result r, std::string domain, unsigned bits = 2048,
                         std::string algorithm = "rsa-sha256") {
  dkim_signature_check s;
  s.result = r;
  s.domain = domain;
  s.selector = "sel";
  s.identity = "@" + domain;
  s.algorithm = std::move(algorithm);
  s.key_bits = bits;
  return s;
}

message_auth passing(const std::string& domain) {
  message_auth a;
  a.checked = true;
  a.spf.result = spf_result::pass;
  a.spf.domain = domain;
  a.helo_spf.result = spf_result::pass;
  a.dkim.push_back(sig(dkim_result::pass, domain));
  a.dmarc.result = dmarc_result::pass;
  a.dmarc.from_domain = domain;
  a.dmarc.policy = dmarc_policy::reject;
  return a;
}

message_auth failing(const std::string& domain, dmarc_policy disposition) {
  message_auth a;
  a.checked = true;
  a.spf.result = spf_result::fail;
  a.helo_spf.result = spf_result::softfail;
  a.dkim.push_back(sig(dkim_result::fail, domain));
  a.dmarc.result = dmarc_result::fail;
  a.dmarc.from_domain = domain;
  a.dmarc.policy = disposition;
  a.dmarc.disposition = disposition;
  return a;
}

// One parsed message and a rule text's settings, for calling evals directly.
struct fixture {
  explicit fixture(std::string raw, std::string rules_text = "") : bytes(std::move(raw)) {
    msg = mail::parse_message(bytes, charsets);
    text = mail::render_text(msg, charsets);
    relays = parse_relays(text);
    rules = load_rules_from_text(rules_text, load_options{});
    settings = eval_settings::from(rules);
  }
  bool run(const char* name, const message_auth* auth, std::vector<std::string> args = {}) {
    eval_function f = find_eval(name);
    EXPECT_NE(f, nullptr) << name;
    if (f == nullptr) return false;
    eval_cache cache;
    eval_input in{msg, text, relays, rules, settings, cache, auth};
    return f(in, args);
  }
  std::string bytes;
  mail::charset_converter charsets;
  mail::message msg;
  mail::message_text text;
  relay_info relays;
  rule_set rules;
  eval_settings settings;
};

const char* kFromExample = "From: Alice <alice@example.org>\r\nSubject: hi\r\n\r\nhello\r\n";

TEST(AuthEvals, NullOrUncheckedAuthIsFalseEverywhere) {
  fixture f(kFromExample);
  message_auth unchecked = passing("example.org");
  unchecked.checked = false;
  for (const char* name : {"check_for_spf_pass", "check_for_spf_helo_pass", "check_dkim_signed", "check_dkim_valid",
                           "check_dkim_valid_author_sig", "check_dkim_dependable", "check_dmarc_pass"}) {
    EXPECT_FALSE(f.run(name, nullptr)) << name;
    EXPECT_FALSE(f.run(name, &unchecked)) << name;
  }
  // SPF none is a result, not an absence: only with checked results.
  EXPECT_FALSE(f.run("check_for_spf_none", nullptr));
}

TEST(AuthEvals, SpfResultsMapOneToOne) {
  fixture f(kFromExample);
  const std::vector<std::pair<spf_result, const char*>> table = {
      {spf_result::pass, "pass"},         {spf_result::neutral, "neutral"},     {spf_result::none, "none"},
      {spf_result::fail, "fail"},         {spf_result::softfail, "softfail"},   {spf_result::permerror, "permerror"},
      {spf_result::temperror, "temperror"}};
  for (const auto& [result, word] : table) {
    message_auth a;
    a.checked = true;
    a.spf.result = result;
    a.helo_spf.result = spf_result::none;
    for (const auto& [other, other_word] : table) {
      const std::string mailfrom = std::string("check_for_spf_") + other_word;
      const std::string helo = std::string("check_for_spf_helo_") + other_word;
      EXPECT_EQ(f.run(mailfrom.c_str(), &a), other == result) << word << " vs " << mailfrom;
      EXPECT_EQ(f.run(helo.c_str(), &a), other == spf_result::none) << word << " vs " << helo;
    }
  }
}

TEST(AuthEvals, DkimSignedValidAndAuthorSignature) {
  fixture f(kFromExample);
  message_auth a = passing("example.org");
  EXPECT_TRUE(f.run("check_dkim_signed", &a));
  EXPECT_TRUE(f.run("check_dkim_valid", &a));
  EXPECT_TRUE(f.run("check_dkim_valid_author_sig", &a));
  EXPECT_TRUE(f.run("check_dkim_valid", &a, {"example.org"}));
  EXPECT_FALSE(f.run("check_dkim_valid", &a, {"linkedin.com"}));
  EXPECT_TRUE(f.run("check_dkim_valid", &a, {".org"})) << "a leading dot: the domain or a subdomain";
  EXPECT_FALSE(f.run("check_dkim_valid_author_sig", &a, {"other.example"}));

  // A third party's valid signature: valid, not the author's.
  message_auth third = passing("example.org");
  third.dkim[0] = sig(dkim_result::pass, "mailer.example.net");
  EXPECT_TRUE(f.run("check_dkim_valid", &third));
  EXPECT_FALSE(f.run("check_dkim_valid_author_sig", &third));

  // A failing signature: signed, not valid.
  message_auth bad = failing("example.org", dmarc_policy::none);
  EXPECT_TRUE(f.run("check_dkim_signed", &bad));
  EXPECT_TRUE(f.run("check_dkim_signed", &bad, {"example.org"}));
  EXPECT_FALSE(f.run("check_dkim_signed", &bad, {"example.com"}));
  EXPECT_FALSE(f.run("check_dkim_valid", &bad));

  // No signature at all: not signed.
  message_auth none = passing("example.org");
  none.dkim.clear();
  EXPECT_FALSE(f.run("check_dkim_signed", &none));
  EXPECT_TRUE(f.run("check_dkim_dependable", &none));
}

TEST(AuthEvals, WeakRsaKeysAreNotAuthorSignaturesButEd25519Is) {
  fixture f(kFromExample);
  message_auth weak = passing("example.org");
  weak.dkim[0].key_bits = 512;
  EXPECT_TRUE(f.run("check_dkim_valid", &weak)) << "any key size is valid";
  EXPECT_FALSE(f.run("check_dkim_valid_author_sig", &weak)) << "dkim_minimum_key_bits 1024";
  EXPECT_FALSE(f.run("check_dkim_valid", &weak, {"example.org"}));

  message_auth ed = passing("example.org");
  ed.dkim[0] = sig(dkim_result::pass, "example.org", 256, "ed25519-sha256");
  EXPECT_TRUE(f.run("check_dkim_valid_author_sig", &ed));

  fixture low(kFromExample, "dkim_minimum_key_bits 512\n");
  EXPECT_TRUE(low.run("check_dkim_valid_author_sig", &weak));
}

TEST(AuthEvals, DmarcPolicies) {
  fixture f(kFromExample);
  message_auth pass = passing("example.org");
  EXPECT_TRUE(f.run("check_dmarc_pass", &pass));
  EXPECT_FALSE(f.run("check_dmarc_reject", &pass)) << "passing mail is not rejected whatever p= says";

  const std::vector<std::pair<dmarc_policy, const char*>> table = {
      {dmarc_policy::reject, "check_dmarc_reject"},
      {dmarc_policy::quarantine, "check_dmarc_quarantine"},
      {dmarc_policy::none, "check_dmarc_none"}};
  for (const auto& [policy, hit] : table) {
    message_auth a = failing("example.org", policy);
    for (const auto& [other, name] : table) EXPECT_EQ(f.run(name, &a), other == policy) << hit << " vs " << name;
    EXPECT_FALSE(f.run("check_dmarc_pass", &a));
    EXPECT_FALSE(f.run("check_dmarc_missing", &a));
  }
  // pct= sampled out: p=reject applied as quarantine.
  message_auth sampled = failing("example.org", dmarc_policy::reject);
  sampled.dmarc.disposition = dmarc_policy::quarantine;
  EXPECT_FALSE(f.run("check_dmarc_reject", &sampled));
  EXPECT_TRUE(f.run("check_dmarc_quarantine", &sampled));

  message_auth missing = passing("example.org");
  missing.dmarc = dmarc_check{};
  missing.dmarc.from_domain = "example.org";
  EXPECT_TRUE(f.run("check_dmarc_missing", &missing));
  missing.dmarc.from_domain.clear();  // no author address: no DMARC result at all
  EXPECT_FALSE(f.run("check_dmarc_missing", &missing));
}

TEST(AuthEvals, Arc) {
  fixture f(kFromExample);
  message_auth a = passing("example.org");
  EXPECT_FALSE(f.run("check_arc_signed", &a));
  a.arc.result = arc_result::fail;
  a.arc.instances = 2;
  EXPECT_TRUE(f.run("check_arc_signed", &a));
  EXPECT_FALSE(f.run("check_arc_valid", &a));
  a.arc.result = arc_result::pass;
  EXPECT_TRUE(f.run("check_arc_valid", &a));
  EXPECT_FALSE(f.run("check_arc_valid", &a, {"example.org"})) << "the Perl never matches with domains";
}

TEST(AuthEvals, DkimWelcomelists) {
  const std::string rules =
      "welcomelist_from_dkim *@example.org\n"                 // author domain signature
      "whitelist_from_dkim boss@example.net signer.example\n"  // pre-4.0 name, a third party
      "def_welcomelist_from_dkim *@*.shop.example .shop.example\n"
      "welcomelist_from_dkim gone@example.com\n"
      "unwelcomelist_from_dkim gone@example.com\n";
  {
    fixture f(kFromExample, rules);
    message_auth a = passing("example.org");
    EXPECT_TRUE(f.run("check_for_dkim_welcomelist_from", &a));
    EXPECT_TRUE(f.run("check_for_dkim_whitelist_from", &a));
    EXPECT_FALSE(f.run("check_for_def_dkim_welcomelist_from", &a));
    message_auth bad = failing("example.org", dmarc_policy::none);
    EXPECT_FALSE(f.run("check_for_dkim_welcomelist_from", &bad)) << "only a valid signature welcome-lists";
    message_auth weak = passing("example.org");
    weak.dkim[0].key_bits = 768;
    EXPECT_FALSE(f.run("check_for_dkim_welcomelist_from", &weak));
  }
  {
    fixture f("From: boss@example.net\r\n\r\nx\r\n", rules);
    message_auth a = passing("signer.example");
    EXPECT_TRUE(f.run("check_for_dkim_welcomelist_from", &a));
    message_auth own = passing("example.net");
    EXPECT_FALSE(f.run("check_for_dkim_welcomelist_from", &own)) << "the entry names another signer";
  }
  {
    fixture f("From: deals@mail.shop.example\r\n\r\nx\r\n", rules);
    message_auth a = passing("news.shop.example");
    EXPECT_TRUE(f.run("check_for_def_dkim_welcomelist_from", &a));
    EXPECT_FALSE(f.run("check_for_dkim_welcomelist_from", &a));
    message_auth apex = passing("shop.example");
    EXPECT_FALSE(f.run("check_for_def_dkim_welcomelist_from", &apex)) << ".domain: subdomains only";
  }
  {
    fixture f("From: gone@example.com\r\n\r\nx\r\n", rules);
    message_auth a = passing("example.com");
    EXPECT_FALSE(f.run("check_for_dkim_welcomelist_from", &a)) << "removed by unwelcomelist_from_dkim";
  }
}

TEST(AuthEvals, SpfWelcomelistsUseTheEnvelopeSender) {
  const std::string rules = "welcomelist_from_spf *@lists.example.org\ndef_welcomelist_auth bounce-??@example.net\n";
  fixture f("Return-Path: <news@lists.example.org>\r\nFrom: x@example.com\r\n\r\nx\r\n", rules);
  message_auth a = passing("lists.example.org");
  EXPECT_TRUE(f.run("check_for_spf_welcomelist_from", &a));
  EXPECT_FALSE(f.run("check_for_def_spf_welcomelist_from", &a));
  a.spf.result = spf_result::softfail;
  EXPECT_FALSE(f.run("check_for_spf_welcomelist_from", &a)) << "only an SPF pass welcome-lists";

  fixture g("Return-Path: <bounce-42@example.net>\r\nFrom: x@example.com\r\n\r\nx\r\n", rules);
  message_auth b = passing("example.net");
  EXPECT_TRUE(g.run("check_for_def_spf_welcomelist_from", &b));
  fixture h("Return-Path: <bounce-420@example.net>\r\nFrom: x@example.com\r\n\r\nx\r\n", rules);
  EXPECT_FALSE(h.run("check_for_def_spf_welcomelist_from", &b)) << "'?' is one character";
}

TEST(AuthEvals, AdspOverride) {
  const std::string rules = "adsp_override example.org\nadsp_override *.bank.example custom_high\n";
  fixture f(kFromExample, rules);
  message_auth unsigned_mail = passing("example.org");
  unsigned_mail.dkim.clear();
  EXPECT_TRUE(f.run("check_dkim_adsp", &unsigned_mail, {"D"}));
  EXPECT_TRUE(f.run("check_dkim_adsp", &unsigned_mail, {"*"}));
  EXPECT_FALSE(f.run("check_dkim_adsp", &unsigned_mail, {"3"}));
  EXPECT_TRUE(f.run("check_dkim_adsp", &unsigned_mail, {"D", "example.org"}));
  EXPECT_FALSE(f.run("check_dkim_adsp", &unsigned_mail, {"D", "example.com"}));
  message_auth signed_mail = passing("example.org");
  EXPECT_FALSE(f.run("check_dkim_adsp", &signed_mail, {"D"})) << "a valid author signature satisfies ADSP";

  fixture g("From: a@www.bank.example\r\n\r\nx\r\n", rules);
  EXPECT_TRUE(g.run("check_dkim_adsp", &unsigned_mail, {"3"}));
  EXPECT_FALSE(g.run("check_dkim_adsp", nullptr, {"3"}));
}

TEST(AuthEvals, HostileWelcomelistGlobStaysCheap) {
  std::string glob;
  for (int i = 0; i < 2000; ++i) glob += "*a";
  glob += "*b@x";
  std::string from = "From: " + std::string(5000, 'a') + "@example.org\r\n\r\nx\r\n";
  fixture f(from, "welcomelist_auth " + glob + "\n");
  message_auth a = passing("example.org");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(f.run("check_for_dkim_welcomelist_from", &a));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(AuthEvals, FingerprintTellsResultsApart) {
  message_auth a = passing("example.org");
  message_auth b = a;
  EXPECT_EQ(evals::auth_fingerprint(a), evals::auth_fingerprint(b));
  b.dkim[0].result = dkim_result::fail;
  EXPECT_NE(evals::auth_fingerprint(a), evals::auth_fingerprint(b));
  b = a;
  b.dmarc.disposition = dmarc_policy::quarantine;
  EXPECT_NE(evals::auth_fingerprint(a), evals::auth_fingerprint(b));
  EXPECT_TRUE(evals::reads_message_auth(find_eval("check_dkim_valid")));
  EXPECT_FALSE(evals::reads_message_auth(find_eval("check_for_missing_to_header")));
}

// ---- the stock rules ----------------------------------------------------------------------

constexpr const char* kStockDir = "/usr/share/spamassassin";

const char* kMessage =
    "Return-Path: <alice@example.org>\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=x; b=y\r\n"
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.com\r\n"
    "Subject: lunch on friday\r\n"
    "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "\r\n"
    "Shall we meet at noon?\r\n";

bool has(const scan_result& r, const std::string& test) {
  return std::find(r.tests.begin(), r.tests.end(), test) != r.tests.end();
}

class StockAuthRules : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(std::string(kStockDir) + "/50_scores.cf")) return;
    // Building the stock engine (every rule compiled for Hyperscan) takes about two
    // minutes per test process in the ASan+UBSan build; the evals themselves run there
    // through the AuthEvals tests over small rule texts. The stock rules run in release.
    if (sanitized()) return;
    engine_options o;
    o.rule_paths.push_back(kStockDir);
    o.network_tests = true;  // the auth results come from the network: score set 1
    auto built = spam_engine::build(o);
    ASSERT_TRUE(built.ok()) << built.status();
    engine_ = new std::shared_ptr<const spam_engine>(*built);
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  void SetUp() override {
    if (sanitized()) GTEST_SKIP() << "the stock engine's build is too slow under the sanitizers";
    if (engine_ == nullptr) GTEST_SKIP() << kStockDir << " not installed";
  }
  static bool sanitized() {
#if defined(__SANITIZE_ADDRESS__)
    return true;
#else
    return false;
#endif
  }
  static std::shared_ptr<const spam_engine>* engine_;
};
std::shared_ptr<const spam_engine>* StockAuthRules::engine_ = nullptr;

TEST_F(StockAuthRules, TheRulesLoad) {
  const rule_set& rules = (*engine_)->rules();
  for (const char* name : {"SPF_PASS", "SPF_FAIL", "SPF_HELO_PASS", "DKIM_SIGNED", "DKIM_VALID", "DKIM_VALID_AU",
                           "DKIM_INVALID", "DMARC_PASS", "DMARC_REJECT", "DMARC_QUAR", "DMARC_MISSING",
                           "USER_IN_DEF_DKIM_WL", "USER_IN_DEF_SPF_WL", "DKIM_ADSP_DISCARD", "ARC_VALID"}) {
    EXPECT_NE(rules.find(name), nullptr) << name;
  }
}

TEST_F(StockAuthRules, PassingMailHitsThePassRules) {
  scan_context ctx(*engine_);
  const message_auth auth = passing("example.org");
  const scan_result r = ctx.scan(kMessage, {}, nullptr, &auth);
  for (const char* name : {"SPF_PASS", "SPF_HELO_PASS", "DKIM_SIGNED", "DKIM_VALID", "DKIM_VALID_AU", "DKIM_VALID_EF",
                           "DMARC_PASS"}) {
    EXPECT_TRUE(has(r, name)) << name;
  }
  for (const char* name : {"DKIM_INVALID", "SPF_FAIL", "DMARC_REJECT", "DMARC_MISSING"}) EXPECT_FALSE(has(r, name)) << name;
}

TEST_F(StockAuthRules, FailingMailHitsTheFailRules) {
  scan_context ctx(*engine_);
  const message_auth auth = failing("example.org", dmarc_policy::reject);
  const scan_result r = ctx.scan(kMessage, {}, nullptr, &auth);
  for (const char* name : {"SPF_FAIL", "SPF_HELO_SOFTFAIL", "DKIM_SIGNED", "DKIM_INVALID", "DMARC_REJECT"}) {
    EXPECT_TRUE(has(r, name)) << name;
  }
  for (const char* name : {"DKIM_VALID", "DKIM_VALID_AU", "SPF_PASS", "DMARC_PASS"}) EXPECT_FALSE(has(r, name)) << name;

  const message_auth quarantine = failing("example.org", dmarc_policy::quarantine);
  EXPECT_TRUE(has(ctx.scan(kMessage, {}, nullptr, &quarantine), "DMARC_QUAR"));
}

TEST_F(StockAuthRules, ScoresFollowTheResults) {
  scan_context ctx(*engine_);
  const scan_result none = ctx.scan(kMessage);
  for (const std::string& t : none.tests) {
    EXPECT_TRUE(t.rfind("SPF_", 0) != 0 && t.rfind("DKIM_", 0) != 0 && t.rfind("DMARC_", 0) != 0) << t;
  }
  const message_auth good = passing("example.org");
  const message_auth bad = failing("example.org", dmarc_policy::reject);
  const scan_result pass = ctx.scan(kMessage, {}, nullptr, &good);
  const scan_result fail = ctx.scan(kMessage, {}, nullptr, &bad);
  EXPECT_LT(pass.score, none.score);
  EXPECT_GT(fail.score, none.score + 3.0) << "SPF_FAIL, SPF_HELO_SOFTFAIL, DKIM_INVALID, DMARC_REJECT";
}

TEST_F(StockAuthRules, StockWelcomelistsAndAdsp) {
  scan_context ctx(*engine_);
  const std::string ebay =
      "From: orders@ebay.com\r\nTo: bob@example.com\r\nSubject: your order\r\n\r\nShipped.\r\n";
  message_auth signed_by_ebay = passing("ebay.com");
  EXPECT_TRUE(has(ctx.scan(ebay, {}, nullptr, &signed_by_ebay), "USER_IN_DEF_DKIM_WL"));
  message_auth forged = passing("ebay.com");
  forged.dkim.clear();
  forged.dmarc.result = dmarc_result::fail;
  const scan_result r = ctx.scan(ebay, {}, nullptr, &forged);
  EXPECT_FALSE(has(r, "USER_IN_DEF_DKIM_WL"));
  EXPECT_TRUE(has(r, "DKIM_ADSP_DISCARD")) << "60_adsp_override_dkim.cf: adsp_override ebay.com";
}

TEST_F(StockAuthRules, CachedScansAreKeyedByTheResults) {
  scan_context fresh(*engine_), cached(*engine_);
  scan_cache cache(8 << 20);
  cached.set_cache(&cache);
  const message_auth good = passing("example.org");
  const message_auth bad = failing("example.org", dmarc_policy::reject);
  for (int round = 0; round < 2; ++round) {
    for (const message_auth* auth : {&good, &bad, static_cast<const message_auth*>(nullptr)}) {
      const scan_result want = fresh.scan(kMessage, {}, nullptr, auth);
      const scan_result got = cached.scan(kMessage, {}, nullptr, auth);
      EXPECT_EQ(got.tests, want.tests) << "round " << round;
      EXPECT_DOUBLE_EQ(got.score, want.score);
    }
  }
  EXPECT_EQ(cache.stats().message_hits, 3u) << "the second round: one hit per distinct result";
}

}  // namespace
}  // namespace ringmail::spam
