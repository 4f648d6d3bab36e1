// The scanner end to end over real rule files: load -> compile -> scan -> metas -> score,
// with Bayes from a trained store. The single pieces have their own tests; this one checks
// that they are put together the way SpamAssassin puts them together.
#include "spam/scanner.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "spam/bayes/bayes.h"

namespace ringmail::spam {
namespace {

namespace fs = std::filesystem;

class Scanner : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/ringmail-scanner-XXXXXX";
    dir_ = mkdtemp(tmpl.data());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::shared_ptr<const spam_engine> engine_for(const std::string& rules, const std::string& bayes = "") {
    std::ofstream(dir_ + "/rules.cf") << rules;
    engine_options o;
    o.rule_paths.push_back(dir_ + "/rules.cf");
    o.bayes_path = bayes;
    auto e = spam_engine::build(o);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : nullptr;
  }
  std::string dir_;
};

constexpr const char* kRules = R"(
header   SUBJ_FREE      Subject =~ /\bfree\b/i
score    SUBJ_FREE      1.5
body     BODY_MONEY     /\bmillion dollars\b/
score    BODY_MONEY     2.0
rawbody  RAW_FONT_TAG   /<font\b/i
score    RAW_FONT_TAG   0.7
uri      URI_EXAMPLE    /^https?:\/\/spam\.example\//
score    URI_EXAMPLE    1.1
full     FULL_XMAILER   /^X-Mailer: Bulk/m
score    FULL_XMAILER   0.3
body     __SUB_A        /\bwire transfer\b/
body     __SUB_B        /\burgent\b/i
meta     META_BOTH      __SUB_A && __SUB_B
score    META_BOTH      2.5
meta     META_COUNT     (SUBJ_FREE + BODY_MONEY + URI_EXAMPLE) >= 2
score    META_COUNT     1.0
body     NICE_RULE      /\bregards, your colleague\b/
score    NICE_RULE      -2.0
body     ZERO_RULE      /\bmillion\b/
score    ZERO_RULE      0
required_score 5.0
)";

TEST_F(Scanner, ScoresAddUpAsInSpamAssassin) {
  auto engine = engine_for(kRules);
  ASSERT_NE(engine, nullptr);
  scan_context ctx(engine);

  scan_result ham = ctx.scan("From: a@b.example\r\nSubject: meeting\r\n\r\nSee you tomorrow.\r\n");
  EXPECT_EQ(ham.score, 0);
  EXPECT_TRUE(ham.tests.empty());
  EXPECT_FALSE(ham.is_spam());

  scan_result spam = ctx.scan(
      "From: a@b.example\r\nSubject: FREE offer\r\nX-Mailer: Bulk Sender 2.0\r\n"
      "Content-Type: text/html\r\n\r\n"
      "<html><body><font size=5>URGENT: a million dollars by wire transfer.</font> "
      "<a href=\"http://spam.example/claim\">claim</a></body></html>\r\n");
  // SUBJ_FREE 1.5 + BODY_MONEY 2.0 + RAW_FONT_TAG 0.7 + URI_EXAMPLE 1.1 + FULL_XMAILER 0.3
  // + META_BOTH 2.5 + META_COUNT 1.0 = 9.1; ZERO_RULE and the sub-rules add nothing.
  EXPECT_NEAR(spam.score, 9.1, 1e-9);
  EXPECT_EQ(spam.tests, (std::vector<std::string>{"BODY_MONEY", "FULL_XMAILER", "META_BOTH", "META_COUNT",
                                                  "RAW_FONT_TAG", "SUBJ_FREE", "URI_EXAMPLE"}));
  EXPECT_TRUE(spam.is_spam());
}

TEST_F(Scanner, NegativeScoresAndExtraHits) {
  auto engine = engine_for(kRules);
  ASSERT_NE(engine, nullptr);
  scan_context ctx(engine);
  scan_result r = ctx.scan("Subject: free\r\n\r\nThanks.\nregards, your colleague\r\n",
                           {{"RCVD_IN_TEST_BL", 3.0}});
  EXPECT_NEAR(r.score, 1.5 - 2.0 + 3.0, 1e-9);
  EXPECT_EQ(r.tests, (std::vector<std::string>{"NICE_RULE", "RCVD_IN_TEST_BL", "SUBJ_FREE"}));
}

// As in SpamAssassin, "score NAME 0" disables a rule: it does not run, so it neither
// hits nor feeds metas; sub-rules always run.
TEST_F(Scanner, ZeroScoredRulesDoNotRunButSubRulesDo) {
  auto engine = engine_for(R"(
body     DISABLED     /\bmillion\b/
score    DISABLED     0
body     __SUB        /\bdollars\b/
meta     BOTH         DISABLED && __SUB
score    BOTH         3
meta     SUB_ONLY     __SUB
score    SUB_ONLY     1.5
header   DISABLED_HDR Subject =~ /offer/
score    DISABLED_HDR 0
meta     HDR_META     DISABLED_HDR
score    HDR_META     2
)");
  ASSERT_NE(engine, nullptr);
  scan_context ctx(engine);
  scan_result r = ctx.scan("Subject: offer\r\n\r\na million dollars\r\n");
  EXPECT_EQ(r.tests, (std::vector<std::string>{"SUB_ONLY"}));
  EXPECT_NEAR(r.score, 1.5, 1e-9);
}

TEST_F(Scanner, ProfileAccountsStagesTargetsAndPcreRules) {
  // A back reference: Hyperscan cannot take it, so PCRE2 runs it on every message.
  auto engine = engine_for(std::string(kRules) + "body DOUBLED_WORD /\\b(\\w+) \\1\\b/\nscore DOUBLED_WORD 0.5\n");
  ASSERT_NE(engine, nullptr);
  scan_context ctx(engine);
  scan_profile profile;
  ctx.set_profile(&profile);
  ctx.scan("Subject: free\r\n\r\nthe the million dollars\r\n");
  ctx.scan("Subject: hello\r\n\r\nnothing here\r\n");
  EXPECT_EQ(profile.messages, 2u);
  EXPECT_GT(profile.parse_ns, 0u);
  EXPECT_GT(profile.match_ns, 0u);
  const uint32_t doubled = engine->rules().index.at("DOUBLED_WORD");
  const uint32_t money = engine->rules().index.at("BODY_MONEY");
  ASSERT_GT(profile.match.rule_runs.size(), doubled);
  EXPECT_EQ(profile.match.rule_runs[doubled], 2u);
  EXPECT_GT(profile.match.rule_ns[doubled], 0u);
  EXPECT_EQ(profile.match.rule_runs[money], 0u);  // on Hyperscan: counted per target instead
  uint64_t hyperscan_ns = 0;
  for (uint64_t ns : profile.match.target_ns) hyperscan_ns += ns;
  EXPECT_GT(hyperscan_ns, 0u);
  EXPECT_EQ(profile.match.target_ns.size(), engine->matcher().target_count());

  ctx.set_profile(nullptr);  // detached: nothing more is counted
  ctx.scan("Subject: free\r\n\r\nthe the\r\n");
  EXPECT_EQ(profile.messages, 2u);
  EXPECT_EQ(profile.match.rule_runs[doubled], 2u);
}

TEST_F(Scanner, BodyRulesDoNotSeeHeadersAndHeaderRulesDoNotSeeBody) {
  auto engine = engine_for(kRules);
  ASSERT_NE(engine, nullptr);
  scan_context ctx(engine);
  scan_result r = ctx.scan("Subject: a million dollars\r\n\r\nnothing is free here\r\n");
  // The Subject is part of SpamAssassin's body text, so BODY_MONEY hits through it;
  // SUBJ_FREE must not hit on the body's "free".
  EXPECT_EQ(r.tests, (std::vector<std::string>{"BODY_MONEY"}));
}

std::string synthetic(bool spam, int i) {
  // Many words per class, so that the chi-square combination is far from the bucket
  // edges (BAYES_00 is P <= 0.01) whatever the floating-point details of the build.
  static const char* spam_words[] = {"viagra", "casino", "winner", "prize",   "cheap",    "pills",   "offer",
                                     "bonus",  "jackpot", "lottery", "refinance", "mortgage", "rolex", "replica",
                                     "discount", "unsubscribe"};
  static const char* ham_words[] = {"meeting",  "agenda", "project", "review",   "commit",  "patch",
                                    "lunch",    "notes",  "kernel",  "compiler", "release", "changelog",
                                    "debugger", "branch", "merge",   "tarball"};
  // Through a pointer: g++ 12 with -fsanitize=undefined miscompiles
  // `(spam ? spam_words : ham_words)[n]` into always the first word of the ham list, which
  // once made the ASan build's ham messages all "meeting meeting ...".
  const char* const* words = spam ? spam_words : ham_words;
  std::string body;
  for (int k = 0; k < 40; ++k) {
    body += words[(i + k * 5) % 16];
    body += ' ';
  }
  body += absl::StrCat("ref", i);  // every message distinct: learning skips repeats
  return absl::StrCat("Message-ID: <", spam ? "s" : "h", i, "@test>\r\nSubject: ", spam ? "win" : "work", " ", i,
                      "\r\n\r\n", body, "\r\n");
}

TEST_F(Scanner, BayesPseudoRulesFollowTheClassifier) {
  const std::string store_path = dir_ + "/bayes.sqlite";
  {
    auto store = bayes_store::open(store_path);
    ASSERT_TRUE(store.ok()) << store.status();
    auto batch = (*store)->begin_batch();
    ASSERT_TRUE(batch.ok());
    for (int i = 0; i < 250; ++i) {
      ASSERT_TRUE(learn_message(**batch, "", synthetic(true, i), true).ok());
      ASSERT_TRUE(learn_message(**batch, "", synthetic(false, i), false).ok());
    }
    ASSERT_TRUE((*batch)->commit().ok());
  }
  auto engine = engine_for(
      "body BAYES_00 eval:check_bayes('0.00', '0.01')\nscore BAYES_00 0 0 -1.9 -1.9\n"
      "body BAYES_99 eval:check_bayes('0.99', '1.00')\nscore BAYES_99 0 0 3.5 3.5\n",
      store_path);
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(engine->stats().bayes_ready);
  scan_context ctx(engine);
  scan_result s = ctx.scan(synthetic(true, 1000));
  ASSERT_TRUE(s.bayes.has_value());
  EXPECT_GT(*s.bayes, 0.99);
  EXPECT_EQ(s.tests, (std::vector<std::string>{"BAYES_99"}));
  EXPECT_NEAR(s.score, 3.5, 1e-9) << "score set 2 (Bayes on) is used";
  scan_result h = ctx.scan(synthetic(false, 1000));
  ASSERT_TRUE(h.bayes.has_value());
  EXPECT_LE(*h.bayes, 0.01);
  EXPECT_EQ(h.tests, (std::vector<std::string>{"BAYES_00"}));
  EXPECT_NEAR(h.score, -1.9, 1e-9);
}

TEST_F(Scanner, AnUnusableBayesStoreCostsBayesNotTheRules) {
  const std::string damaged = dir_ + "/bayes.sqlite";
  std::ofstream(damaged) << std::string(4096, 'x');  // not a database
  auto engine = engine_for("body WORD /\\bword\\b/\nscore WORD 1.0\n", damaged);
  ASSERT_NE(engine, nullptr);
  EXPECT_FALSE(engine->stats().bayes_ready);
  EXPECT_FALSE(engine->stats().bayes_error.empty());
  scan_context ctx(engine);
  scan_result r = ctx.scan("Subject: x\r\n\r\na word\r\n");
  EXPECT_FALSE(r.bayes.has_value());
  EXPECT_EQ(r.tests, (std::vector<std::string>{"WORD"}));
}

TEST_F(Scanner, WithoutBayesScoreSetZeroIsUsed) {
  auto engine = engine_for("body WORD /\\bword\\b/\nscore WORD 1.0 2.0 3.0 4.0\n");
  ASSERT_NE(engine, nullptr);
  scan_context ctx(engine);
  EXPECT_NEAR(ctx.scan("Subject: x\r\n\r\na word\r\n").score, 1.0, 1e-9);
}

TEST_F(Scanner, HostileMessagesGetAVerdictInBoundedWork) {
  auto engine = engine_for(kRules);
  ASSERT_NE(engine, nullptr);
  scan_context ctx(engine);
  // 10,000 MIME parts.
  std::string many = "Subject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 10000; ++i) many += "--b\r\nContent-Type: text/plain\r\n\r\nmillion dollars\r\n";
  many += "--b--\r\n";
  scan_result r = ctx.scan(many);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.tests, (std::vector<std::string>{"BODY_MONEY"}));
  // Deep nesting.
  std::string deep = "Subject: deep\r\n";
  for (int i = 0; i < 2000; ++i) deep += absl::StrCat("Content-Type: multipart/mixed; boundary=b", i, "\r\n\r\n--b", i, "\r\n");
  deep += "Content-Type: text/plain\r\n\r\nhello\r\n";
  EXPECT_TRUE(ctx.scan(deep).truncated);
  // Broken base64 and a 50 MB line.
  std::string broken = "Subject: b64\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!bWlsbGlvbiBkb2xsYXJz@@@===garbage\r\n";
  EXPECT_EQ(ctx.scan(broken).tests, (std::vector<std::string>{"BODY_MONEY"}));
  std::string huge = "Subject: long\r\n\r\n" + std::string(50u << 20, 'a') + "\r\n";
  scan_result l = ctx.scan(huge);
  EXPECT_TRUE(l.tests.empty());
}

}  // namespace
}  // namespace ringmail::spam
