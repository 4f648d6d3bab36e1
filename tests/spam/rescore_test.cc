// scan_context::rescore_with_bayes (issue 15, Bayes per recipient): one scan's kept state
// scored again for another Bayes model must give exactly what a scan with that model
// gives — the check_bayes rules, the metas over them and the sum are redone, the rest of
// the hits are reused.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "spam/bayes/bayes.h"
#include "spam/scanner.h"
#include "tests/spam/opposite_models.h"

namespace ringmail::spam {
namespace {

namespace fs = std::filesystem;

using test_support::class_message;

constexpr const char* kRules = R"(
header   SUBJ_FREE      Subject =~ /\bfree\b/i
score    SUBJ_FREE      1.5
body     __WORD_PRIZE   /\bprize\b/
body     BAYES_00       eval:check_bayes('0.00', '0.01')
score    BAYES_00       0 0 -1.9 -1.9
body     BAYES_99       eval:check_bayes('0.99', '1.00')
score    BAYES_99       0 0 3.5 3.5
meta     PRIZE_AND_BAYES __WORD_PRIZE && BAYES_99
score    PRIZE_AND_BAYES 0 0 1.25 1.25
meta     FREE_NOT_BAYES SUBJ_FREE && !BAYES_99
score    FREE_NOT_BAYES 0.5
)";

class Rescore : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/ringmail-rescore-XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    user_model_ = test_support::train_opposite_models(dir_ + "/bayes.sqlite");
    ASSERT_NE(user_model_, nullptr);
    ASSERT_TRUE(user_model_->ready());

    std::ofstream(dir_ + "/rules.cf") << kRules;
    engine_options o;
    o.rule_paths.push_back(dir_ + "/rules.cf");
    o.bayes_path = dir_ + "/bayes.sqlite";
    auto e = spam_engine::build(o);
    ASSERT_TRUE(e.ok()) << e.status();
    engine_ = *e;
    ASSERT_TRUE(engine_->stats().bayes_ready);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void expect_same(const scan_result& a, const scan_result& b) {
    EXPECT_EQ(a.score, b.score);
    EXPECT_EQ(a.tests, b.tests);
    EXPECT_EQ(a.bayes, b.bayes);
    EXPECT_EQ(a.required, b.required);
    EXPECT_EQ(a.truncated, b.truncated);
  }

  std::string dir_;
  std::shared_ptr<const spam_engine> engine_;
  std::shared_ptr<const bayes_model> user_model_;
};

const std::vector<std::pair<std::string, double>> kDnsbl = {{"RCVD_IN_TEST_BL", 2.0}};

TEST_F(Rescore, SameModelGivesTheScansResult) {
  scan_context ctx(engine_);
  for (bool spam : {true, false}) {
    scan_state state;
    const scan_result scanned = ctx.scan(class_message(spam, 1000), kDnsbl, &state);
    const scan_result again = ctx.rescore_with_bayes(state, engine_->bayes());
    expect_same(again, scanned);
    // And the state is not used up by rescoring.
    expect_same(ctx.rescore_with_bayes(state, engine_->bayes()), scanned);
  }
  scan_state state;
  const scan_result spam = ctx.scan(class_message(true, 1000), kDnsbl, &state);
  EXPECT_EQ(spam.tests, (std::vector<std::string>{"BAYES_99", "PRIZE_AND_BAYES", "RCVD_IN_TEST_BL", "SUBJ_FREE"}));
  EXPECT_NEAR(spam.score, 1.5 + 3.5 + 1.25 + 2.0, 1e-9);
}

TEST_F(Rescore, AnotherModelGivesWhatAScanWithItGives) {
  scan_context global(engine_);
  scan_context as_user(engine_->with_bayes(user_model_));
  for (bool spam : {true, false}) {
    const std::string message = class_message(spam, 2000);
    scan_state state;
    const scan_result g = global.scan(message, kDnsbl, &state);
    const scan_result direct = as_user.scan(message, kDnsbl);
    const scan_result rescored = global.rescore_with_bayes(state, user_model_.get());
    expect_same(rescored, direct);
    // The user's store says the opposite of the global one: the verdicts really differ.
    ASSERT_TRUE(g.bayes && rescored.bayes);
    EXPECT_EQ(*g.bayes > 0.99, spam);
    EXPECT_EQ(*rescored.bayes > 0.99, !spam);
    EXPECT_NE(g.score, rescored.score);
  }
  scan_state state;
  global.scan(class_message(true, 3000), kDnsbl, &state);
  const scan_result r = global.rescore_with_bayes(state, user_model_.get());
  EXPECT_EQ(r.tests, (std::vector<std::string>{"BAYES_00", "FREE_NOT_BAYES", "RCVD_IN_TEST_BL", "SUBJ_FREE"}));
  EXPECT_NEAR(r.score, 1.5 - 1.9 + 0.5 + 2.0, 1e-9);
}

TEST_F(Rescore, NoOrUntrainedModelMeansNoBayesVerdict) {
  scan_context global(engine_);
  scan_context without(engine_->with_bayes(nullptr));
  const std::string message = class_message(true, 4000);
  scan_state state;
  global.scan(message, {}, &state);
  EXPECT_FALSE(state.tokens.empty());
  const scan_result direct = without.scan(message);
  expect_same(global.rescore_with_bayes(state, nullptr), direct);
  auto untrained = std::make_shared<bayes_model>(*user_model_);
  untrained->ham_messages = bayes_model::min_ham - 1;
  expect_same(global.rescore_with_bayes(state, untrained.get()), direct);
  EXPECT_FALSE(direct.bayes.has_value());
}

TEST_F(Rescore, TheStateKeepsTokensEvenWhenTheEngineHasNoBayes) {
  // An engine without a global model still lets a recipient's model classify.
  scan_context without(engine_->with_bayes(nullptr));
  scan_state state;
  const scan_result plain = without.scan(class_message(false, 5000), {}, &state);
  EXPECT_FALSE(plain.bayes.has_value());
  const scan_result r = without.rescore_with_bayes(state, user_model_.get());
  ASSERT_TRUE(r.bayes.has_value());
  EXPECT_GT(*r.bayes, 0.99);
  EXPECT_NE(std::find(r.tests.begin(), r.tests.end(), "BAYES_99"), r.tests.end());
}

}  // namespace
}  // namespace ringmail::spam
