// Debian's SpamAssassin 4.0.1 rules (/usr/share/spamassassin) load completely, with the
// plugins and eval functions this scanner supports. Skipped when the package is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "spam/rules/meta.h"
#include "spam/rules/loader.h"

namespace ringmail::spam {
namespace {

constexpr const char* kStockDir = "/usr/share/spamassassin";

load_options stock_options() {
  load_options o;
  o.score_set = 2;
  o.plugins = {"Mail::SpamAssassin::Plugin::ReplaceTags", "Mail::SpamAssassin::Plugin::Bayes",
               "Mail::SpamAssassin::Plugin::BodyEval",    "Mail::SpamAssassin::Plugin::HeaderEval",
               "Mail::SpamAssassin::Plugin::MIMEEval",    "Mail::SpamAssassin::Plugin::HTMLEval"};
  o.eval_functions = {"check_bayes"};
  return o;
}

class StockRules : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(std::string(kStockDir) + "/50_scores.cf")) return;
    auto loaded = load_rules({kStockDir}, stock_options());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    set_ = new rule_set(*std::move(loaded));
  }
  static void TearDownTestSuite() {
    delete set_;
    set_ = nullptr;
  }
  void SetUp() override {
    if (set_ == nullptr) GTEST_SKIP() << kStockDir << " not installed";
  }
  static const rule& get(const std::string& name) {
    const rule* r = set_->find(name);
    EXPECT_NE(r, nullptr) << name;
    static const rule missing;
    return r ? *r : missing;
  }
  static rule_set* set_;
};
rule_set* StockRules::set_ = nullptr;

TEST_F(StockRules, EveryFileLoadsWithoutErrors) {
  size_t cf_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(kStockDir)) {
    if (e.path().extension() == ".cf") ++cf_files;
  }
  EXPECT_EQ(set_->stats.files, cf_files);
  EXPECT_EQ(set_->stats.parse_errors, 0u)
      << (set_->stats.error_samples.empty() ? "" : set_->stats.error_samples.front());
  EXPECT_GT(set_->rules.size(), 500u);
  EXPECT_EQ(set_->stats.rules, set_->rules.size());
  EXPECT_DOUBLE_EQ(set_->required_score, 5.0);
  EXPECT_GT(set_->stats.lines, 10000u);
}

TEST_F(StockRules, KnownRulesWithScoreSetTwo) {
  const rule& dear = get("DEAR_FRIEND");  // 20_phrases.cf: body /^\s*Dear Friend\b/i
  EXPECT_EQ(dear.kind, rule_kind::regex);
  EXPECT_EQ(dear.target, rule_target::body);
  EXPECT_EQ(dear.pattern, "^\\s*Dear Friend\\b");
  EXPECT_EQ(dear.flags, "i");
  EXPECT_DOUBLE_EQ(dear.score, 1.801);  // score DEAR_FRIEND 2.683 2.604 1.801 2.577

  const rule& ip = get("NORMAL_HTTP_TO_IP");  // 20_uri_tests.cf: uri m{...}i
  EXPECT_EQ(ip.target, rule_target::uri);
  EXPECT_EQ(ip.flags, "i");
  EXPECT_EQ(ip.pattern.substr(0, 10), "^https?://");
  EXPECT_DOUBLE_EQ(ip.score, 0.795);

  const rule& random_from = get("HK_RANDOM_FROM");  // From:addr =~ /...[+=^~\#-].../mi
  EXPECT_EQ(random_from.target, rule_target::header);
  EXPECT_EQ(random_from.header_name, "From");
  EXPECT_EQ(random_from.header_modifier, ":addr");
  EXPECT_EQ(random_from.flags, "im");
  EXPECT_NE(random_from.pattern.find("[+=^~#-]"), std::string::npos);  // "\#" unescaped

  const rule& date = get("INVALID_DATE");  // Date !~ /.../ [if-unset: ...]
  EXPECT_TRUE(date.negate);
  EXPECT_TRUE(date.has_if_unset);
  EXPECT_EQ(date.if_unset, "Wed, 31 Jul 2002 16:41:57 +0200");

  EXPECT_EQ(get("HIDE_WIN_STATUS").target, rule_target::rawbody);
  EXPECT_EQ(get("X_IP").kind, rule_kind::exists);
  EXPECT_EQ(get("X_IP").header_name, "X-IP");

  const rule& bayes = get("BAYES_99");  // body eval:check_bayes('0.99', '1.00')
  EXPECT_EQ(bayes.kind, rule_kind::eval);
  EXPECT_EQ(bayes.eval_function, "check_bayes");
  EXPECT_EQ(bayes.eval_args.size(), 2u);
  EXPECT_DOUBLE_EQ(bayes.score, 3.8);  // score BAYES_99 0 0 3.8 3.5

  const rule& missing_mid = get("MISSING_MID");  // meta !__HAS_MESSAGE_ID
  EXPECT_EQ(missing_mid.kind, rule_kind::meta);
  EXPECT_DOUBLE_EQ(missing_mid.score, 1.199);

  EXPECT_DOUBLE_EQ(get("__HAS_MSGID").score, 0.0);  // sub-rules are never scored
}

TEST_F(StockRules, UnsupportedEvalsAreCountedNotKept) {
  EXPECT_GT(set_->stats.unsupported_evals, 50u);
  EXPECT_EQ(set_->find("MISSING_HEADERS"), nullptr);  // eval:check_for_missing_to_header()
  for (const rule& r : set_->rules) {
    if (r.kind == rule_kind::eval) {
      EXPECT_EQ(r.eval_function, "check_bayes") << r.name;
    }
  }
}

TEST_F(StockRules, BlocksForUnloadedPluginsAreSkipped) {
  EXPECT_GT(set_->stats.skipped_blocks, 100u);
  EXPECT_GT(set_->stats.skipped_block_lines, set_->stats.skipped_blocks);
  // ifplugin Mail::SpamAssassin::Plugin::MIMEHeader / FreeMail: not loaded here.
  for (const rule& r : set_->rules) EXPECT_NE(r.target, rule_target::mimeheader) << r.name;
  EXPECT_EQ(set_->find("T_GB_WEBFORM"), nullptr);  // a meta inside ifplugin ...::FreeMail
  // if can(Mail::SpamAssassin::Conf::feature_capture_rules): captures are not supported.
  EXPECT_EQ(set_->find("T_GB_YOUTUBE_EMAIL"), nullptr);

  // With MIMEHeader loaded, its blocks come in.
  load_options o = stock_options();
  o.plugins.push_back("Mail::SpamAssassin::Plugin::MIMEHeader");
  auto more = load_rules({kStockDir}, o);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->stats.parse_errors, 0u);
  EXPECT_LT(more->stats.skipped_blocks, set_->stats.skipped_blocks);
  size_t mime = 0;
  for (const rule& r : more->rules) mime += r.target == rule_target::mimeheader;
  EXPECT_GT(mime, 0u);
}

TEST_F(StockRules, ReplaceTagsApplied) {
  const rule& money = get("FUZZY_MONEY");  // body /(?!money)<M><O><N><E><Y>/i
  EXPECT_EQ(money.pattern.find("<M>"), std::string::npos);
  EXPECT_EQ(money.pattern.substr(0, 9), "(?!money)");
  EXPECT_NE(money.pattern.find("(?:[mM\\xcc]|rn|"), std::string::npos);
  // <inter W2><post P3>: \W{0,2} between tags, {1,3} after each.
  const rule& vpill = get("__SUBJECT_FUZZY_VPILL");
  EXPECT_EQ(vpill.target, rule_target::header);
  EXPECT_NE(vpill.pattern.find("){1,3}\\W{0,2}(?:"), std::string::npos);
  EXPECT_EQ(vpill.pattern.find("<inter"), std::string::npos);
  // The prefilter form: the same expansion with short stand-ins for the look-alike lists.
  const rule& norton = get("FUZZY_NORTON");
  ASSERT_FALSE(norton.prefilter_pattern.empty());
  EXPECT_LT(norton.prefilter_pattern.size() * 4, norton.pattern.size());
  EXPECT_NE(norton.prefilter_pattern.find("(?:[nN\\xcd\\xd0\\xd1\\xde\\xe7\\xf0\\xf1]|[\\xc0-\\xf7][\\x80-\\xbf]+)"),
            std::string::npos)
      << norton.prefilter_pattern;
  EXPECT_TRUE(get("__YOUR_PASSWORD").prefilter_pattern.size() < get("__YOUR_PASSWORD").pattern.size());
  EXPECT_TRUE(get("GTUBE").prefilter_pattern.empty());  // not a ReplaceTags rule
  // No rule keeps an unreplaced single-letter tag.
  for (const rule& r : set_->rules) {
    if (r.kind != rule_kind::regex) continue;
    for (char c = 'A'; c <= 'Z'; ++c) {
      EXPECT_EQ(r.pattern.find(std::string("<") + c + ">"), std::string::npos) << r.name;
    }
  }
}

TEST_F(StockRules, UnknownDirectivesAreConfigurationOnly) {
  EXPECT_GT(set_->stats.unknown_directives, 0u);
  for (const char* rule_directive : {"header", "body", "rawbody", "uri", "full", "meta", "score", "describe",
                                     "tflags", "priority", "replace_tag", "replace_rules"}) {
    EXPECT_EQ(set_->stats.unknown_by_directive.count(rule_directive), 0u) << rule_directive;
  }
  EXPECT_GT(set_->stats.unknown_by_directive.at("util_rb_2tld"), 100u);
}

TEST_F(StockRules, MetasCompileAndEvaluate) {
  meta_program program(*set_);
  EXPECT_EQ(program.dropped(), 0u) << (program.errors().empty() ? "" : program.errors().front());
  std::vector<uint32_t> hits(set_->rules.size(), 0);
  program.evaluate(hits);
  // Nothing hit: a meta like MISSING_MID (!__HAS_MESSAGE_ID) fires, one like
  // EMPTY_MESSAGE needs more.
  EXPECT_EQ(hits[set_->index.at("MISSING_MID")], 1u);
  hits.assign(set_->rules.size(), 0);
  hits[set_->index.at("__HAS_MESSAGE_ID")] = 1;
  program.evaluate(hits);
  EXPECT_EQ(hits[set_->index.at("MISSING_MID")], 0u);
}

}  // namespace
}  // namespace ringmail::spam
