// The per-shard scan cache (spam/scan_cache.h, issue 15): a scan through the cache gives
// exactly what a fresh scan gives — for a repeated message, for a copy whose Received /
// Message-Id / Date differ (the body targets come from the cache, header rules run
// fresh), for a copy whose Subject or From differs, for another Bayes model — and the
// cache stays within its byte bound. The corpus test does this over 200 messages of the
// SpamAssassin corpus with the stock rules (skipped without build/corpus or the rules).
#include "spam/scan_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "spam/bayes/bayes.h"
#include "spam/scanner.h"
#include "tests/spam/opposite_models.h"

namespace ringmail::spam {
namespace {

namespace fs = std::filesystem;

void expect_same(const scan_result& cached, const scan_result& fresh, const std::string& what) {
  EXPECT_EQ(cached.tests, fresh.tests) << what;
  EXPECT_EQ(cached.score, fresh.score) << what;
  EXPECT_EQ(cached.bayes, fresh.bayes) << what;
  EXPECT_EQ(cached.truncated, fresh.truncated) << what;
}

scan_cache::digest key_of(int i) {
  scan_cache::digest d{};
  d[0] = static_cast<uint8_t>(i);
  d[1] = static_cast<uint8_t>(i >> 8);
  d[31] = 7;
  return d;
}

TEST(ScanCache, LeastRecentlyUsedGoFirstAndTheBoundHolds) {
  scan_cache cache(16 * 1024);
  for (int i = 0; i < 2000; ++i) {
    sparse_hits hits;
    for (uint32_t r = 0; r < static_cast<uint32_t>(i % 20); ++r) hits.emplace_back(r, 1);
    cache.put_body(key_of(i), std::move(hits));
    ASSERT_LE(cache.bytes(), cache.max_bytes()) << "after entry " << i;
    // Keep entry 0 in use: it must survive while the others are evicted.
    ASSERT_NE(cache.find_body(key_of(0)), nullptr) << "after entry " << i;
  }
  EXPECT_GT(cache.stats().evictions, 1000u);
  EXPECT_GT(cache.entries(), 20u);
  EXPECT_EQ(cache.find_body(key_of(1)), nullptr) << "long evicted";
  const sparse_hits* last = cache.find_body(key_of(1999));
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->size(), 1999u % 20);
  EXPECT_EQ(cache.find_message(key_of(1999), false), nullptr) << "a body entry is not a message entry";
}

TEST(ScanCache, ZeroBytesKeepsNothing) {
  scan_cache cache(0);
  EXPECT_FALSE(cache.enabled());
  cache.put_body(key_of(1), {{1, 1}});
  EXPECT_EQ(cache.find_body(key_of(1)), nullptr);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ScanCache, AnEntryLargerThanTheBoundIsNotKept) {
  scan_cache cache(4096);
  scan_cache::message_entry big;
  big.tokens.assign(10'000, 1);
  cache.put_message(key_of(1), std::move(big));
  EXPECT_EQ(cache.find_message(key_of(1), false), nullptr);
  EXPECT_LE(cache.bytes(), 4096u);
}

using test_support::class_message;

constexpr const char* kRules = R"(
header   SUBJ_FREE      Subject =~ /\bfree\b/i
score    SUBJ_FREE      1.5
header   FROM_BULK      From =~ /bulk\.example/
score    FROM_BULK      0.9
body     BODY_MONEY     /\bmillion dollars\b/
score    BODY_MONEY     2.0
body     BODY_EMPTY     /^$/
score    BODY_EMPTY     0.1
rawbody  RAW_FONT_TAG   /<font\b/i
score    RAW_FONT_TAG   0.7
uri      URI_EXAMPLE    /^https?:\/\/spam\.example\//
score    URI_EXAMPLE    1.1
full     FULL_XMAILER   /^X-Mailer: Bulk/m
score    FULL_XMAILER   0.3
header   RCVD_RELAY     X-Spam-Relays-Untrusted =~ /rdns=mx\.bulk\.example/
score    RCVD_RELAY     0.4
body     __WORD_PRIZE   /\bprize\b/
meta     MONEY_AND_FROM BODY_MONEY && FROM_BULK
score    MONEY_AND_FROM 1.0
body     BAYES_00       eval:check_bayes('0.00', '0.01')
score    BAYES_00       0 0 -1.9 -1.9
body     BAYES_99       eval:check_bayes('0.99', '1.00')
score    BAYES_99       0 0 3.5 3.5
meta     PRIZE_AND_BAYES __WORD_PRIZE && BAYES_99
score    PRIZE_AND_BAYES 0 0 1.25 1.25
)";

class CachedScan : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/ringmail-scan-cache-XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    user_model_ = test_support::train_opposite_models(dir_ + "/bayes.sqlite");
    ASSERT_NE(user_model_, nullptr);
    engine_ = build();
    ASSERT_NE(engine_, nullptr);
    ASSERT_TRUE(engine_->stats().bayes_ready);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::shared_ptr<const spam_engine> build() {
    std::ofstream(dir_ + "/rules.cf") << kRules;
    engine_options o;
    o.rule_paths.push_back(dir_ + "/rules.cf");
    o.bayes_path = dir_ + "/bayes.sqlite";
    auto e = spam_engine::build(o);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : nullptr;
  }

  std::string dir_;
  std::shared_ptr<const bayes_model> user_model_;
  std::shared_ptr<const spam_engine> engine_;
};

constexpr const char* kCampaign =
    "Received: from mx.bulk.example (mx.bulk.example [203.0.113.9]) by in.example.org with ESMTP id 1; "
    "Mon, 7 Dec 2026 10:00:00 +0000\r\n"
    "Message-Id: <1@bulk.example>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
    "From: Offers <news@bulk.example>\r\nTo: alice@example.org\r\nSubject: your prize\r\n"
    "Content-Type: text/html\r\n\r\n"
    "<html><body><font color=red>Win a million dollars</font> at "
    "<a href=\"http://spam.example/win\">here</a>, a prize for you</body></html>\r\n";

TEST_F(CachedScan, HitsGiveTheFreshVerdictAndHeaderChangesAreSeen) {
  scan_cache cache(1 << 20);
  scan_context cached(engine_), fresh(engine_);
  cached.set_cache(&cache);

  const std::string first = kCampaign;
  const scan_result r1 = cached.scan(first);
  expect_same(r1, fresh.scan(first), "first scan");
  for (const char* rule : {"BODY_MONEY", "FROM_BULK", "MONEY_AND_FROM", "RAW_FONT_TAG", "URI_EXAMPLE", "RCVD_RELAY"}) {
    EXPECT_NE(std::find(r1.tests.begin(), r1.tests.end(), rule), r1.tests.end()) << rule;
  }
  EXPECT_EQ(cache.stats().misses, 1u);

  // The same bytes again: a message hit.
  expect_same(cached.scan(first), r1, "repeat");
  EXPECT_EQ(cache.stats().message_hits, 1u);

  // Another copy of the campaign: other Received, Message-Id, Date, To, and an X-Mailer
  // that a full rule reads. The body targets are the same (a body hit); the header and
  // full rules see the new headers.
  std::string copy = absl::StrReplaceAll(first, {{"mx.bulk.example (mx.bulk.example", "relay.other.example (relay.other.example"},
                                                 {"id 1;", "id 2;"},
                                                 {"<1@bulk", "<2@bulk"},
                                                 {"10:00:00", "10:00:07"},
                                                 {"alice@", "bob@"}});
  copy = "X-Mailer: Bulk 1.0\r\n" + copy;
  const scan_result r2 = cached.scan(copy);
  EXPECT_EQ(cache.stats().body_hits, 1u);
  expect_same(r2, fresh.scan(copy), "copy with other headers");
  EXPECT_NE(std::find(r2.tests.begin(), r2.tests.end(), "FULL_XMAILER"), r2.tests.end());
  EXPECT_EQ(std::find(r2.tests.begin(), r2.tests.end(), "RCVD_RELAY"), r2.tests.end()) << "relay metadata is fresh";
  EXPECT_NE(std::find(r2.tests.begin(), r2.tests.end(), "BODY_MONEY"), r2.tests.end()) << "from the cache";
  EXPECT_EQ(std::find(r2.tests.begin(), r2.tests.end(), "BODY_EMPTY"), r2.tests.end())
      << "the emptied body of a body hit must not leak into the body rules";

  // From changes: a header rule and a meta over a cached body rule follow it.
  const std::string other_from = absl::StrReplaceAll(copy, {{"news@bulk.example", "news@shop.example"}});
  const scan_result r3 = cached.scan(other_from);
  EXPECT_EQ(cache.stats().body_hits, 2u);
  expect_same(r3, fresh.scan(other_from), "other From");
  EXPECT_EQ(std::find(r3.tests.begin(), r3.tests.end(), "MONEY_AND_FROM"), r3.tests.end());

  // The Subject is the body target's first line, matched fresh on a body hit: another
  // Subject reuses the rest of the body, and body rules see the new first line.
  const std::string other_subject =
      absl::StrReplaceAll(copy, {{"Subject: your prize", "Subject: free million dollars"}});
  const uint64_t misses = cache.stats().misses;
  const scan_result r4 = cached.scan(other_subject);
  EXPECT_EQ(cache.stats().misses, misses);
  EXPECT_EQ(cache.stats().body_hits, 3u);
  expect_same(r4, fresh.scan(other_subject), "other Subject");
  EXPECT_NE(std::find(r4.tests.begin(), r4.tests.end(), "SUBJ_FREE"), r4.tests.end());
  EXPECT_NE(std::find(r4.tests.begin(), r4.tests.end(), "BODY_MONEY"), r4.tests.end());
}

// tflags multiple counts: a body rule that matches in the Subject line and in the body
// counts both on a body hit (first line fresh + the rest from the cache), up to maxhits.
TEST_F(CachedScan, FirstLineAndCachedRestCountTogether) {
  std::ofstream(dir_ + "/rules.cf") << R"(
body     WORD_WIN       /\bwin\b/i
tflags   WORD_WIN       multiple maxhits=3
score    WORD_WIN       0.01
body     WORD_WIN_ONCE  /\bwin\b/i
score    WORD_WIN_ONCE  0.02
meta     WIN_TWICE      WORD_WIN > 1
score    WIN_TWICE      0.2
meta     WIN_THRICE     WORD_WIN > 2
score    WIN_THRICE     0.1
)";
  engine_options o;
  o.rule_paths.push_back(dir_ + "/rules.cf");
  auto engine = spam_engine::build(o);
  ASSERT_TRUE(engine.ok()) << engine.status();
  scan_cache cache(1 << 20);
  scan_context cached(*engine), fresh(*engine);
  cached.set_cache(&cache);
  auto message = [](std::string_view subject) {
    return "From: a@example.org\r\nSubject: " + std::string(subject) + "\r\n\r\nwin a car\r\n\r\nno wins here\r\n";
  };
  for (std::string_view subject : {"hello", "win win", "win", "nothing", "win win win win"}) {
    const std::string m = message(subject);
    const scan_result got = cached.scan(m);
    const scan_result want = fresh.scan(m);
    expect_same(got, want, std::string("subject ") + std::string(subject));
    EXPECT_NEAR(got.score, want.score, 1e-9) << subject;
  }
  EXPECT_EQ(cache.stats().misses, 1u);
  EXPECT_EQ(cache.stats().body_hits, 4u);
  // The counts the metas see: 1 in the body alone; 2 with "win" in the Subject; 3 with
  // "win win"; capped at maxhits=3 with four.
  EXPECT_NEAR(cached.scan(message("hello")).score, 0.03, 1e-9);
  EXPECT_NEAR(cached.scan(message("win")).score, 0.23, 1e-9);
  EXPECT_NEAR(cached.scan(message("win win")).score, 0.33, 1e-9);
  EXPECT_NEAR(cached.scan(message("win win win win")).score, 0.33, 1e-9);
}

TEST_F(CachedScan, AHitScoresWithTheScanningEnginesOwnBayes) {
  scan_cache cache(1 << 20);
  auto user_engine = engine_->with_bayes(user_model_);
  scan_context global(engine_), user(user_engine), fresh_user(user_engine);
  global.set_cache(&cache);
  user.set_cache(&cache);  // one shard cache, two models: the entries are shared

  const std::string message = class_message(true, 5000);
  const scan_result g = global.scan(message);
  ASSERT_TRUE(g.bayes.has_value());
  EXPECT_GT(*g.bayes, 0.99);
  const scan_result u = user.scan(message);
  EXPECT_EQ(cache.stats().message_hits, 1u) << "the user's scan reused the global one's work";
  expect_same(u, fresh_user.scan(message), "user's model");
  ASSERT_TRUE(u.bayes.has_value());
  EXPECT_LE(*u.bayes, 0.01);
  EXPECT_NE(std::find(u.tests.begin(), u.tests.end(), "BAYES_00"), u.tests.end());
  EXPECT_EQ(std::find(u.tests.begin(), u.tests.end(), "PRIZE_AND_BAYES"), u.tests.end());

  // A scan without Bayes keeps no tokens: its entry serves scans without Bayes only.
  auto no_bayes_engine = engine_->with_bayes(nullptr);
  scan_context no_bayes(no_bayes_engine), fresh_no_bayes(no_bayes_engine), fresh_global(engine_);
  no_bayes.set_cache(&cache);
  const std::string other = class_message(false, 6000);
  EXPECT_FALSE(no_bayes.scan(other).bayes.has_value());
  EXPECT_EQ(cache.stats().message_hits, 1u);
  const scan_result og = global.scan(other);
  EXPECT_EQ(cache.stats().message_hits, 1u) << "no tokens to classify: scanned again";
  expect_same(og, fresh_global.scan(other), "after a scan without Bayes");
  ASSERT_TRUE(og.bayes.has_value());
  expect_same(no_bayes.scan(other), fresh_no_bayes.scan(other), "without Bayes, from the entry with tokens");
  EXPECT_EQ(cache.stats().message_hits, 2u) << "the entry now has tokens";

  // The kept state of a cached scan rescored gives the same as rescoring a fresh one.
  scan_state kept;
  const scan_result again = global.scan(message, {}, &kept);
  expect_same(again, g, "hit with keep");
  expect_same(global.rescore_with_bayes(kept, user_model_.get()), u, "rescored from a hit");
}

TEST_F(CachedScan, AnotherRuleSetEmptiesTheCache) {
  scan_cache cache(1 << 20);
  scan_context before(engine_);
  before.set_cache(&cache);
  before.scan(kCampaign);
  ASSERT_GT(cache.entries(), 0u);
  auto reloaded = build();  // the same files compiled again: another rule set
  ASSERT_NE(reloaded, nullptr);
  scan_context after(reloaded), fresh(reloaded);
  after.set_cache(&cache);
  expect_same(after.scan(kCampaign), fresh.scan(kCampaign), "after the reload");
  EXPECT_EQ(cache.stats().clears, 1u);
  EXPECT_EQ(cache.stats().message_hits, 0u);
  EXPECT_EQ(cache.stats().body_hits, 0u);
}

// ---- the corpus test ---------------------------------------------------------------------

constexpr const char* kStockRules = "/usr/share/spamassassin";

std::vector<std::string> corpus_sample(size_t per_folder) {
  const char* env = std::getenv("RINGMAIL_CORPUS");
  const fs::path root = env != nullptr ? env : RINGMAIL_SOURCE_DIR "/build/corpus";
  std::vector<std::string> out;
  for (const char* folder : {"spam-2", "easy-ham-2"}) {
    std::error_code ec;
    std::vector<fs::path> paths;
    for (const auto& e : fs::directory_iterator(root / folder, ec)) paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
    for (size_t i = 0; i < per_folder && i < paths.size(); ++i) {
      std::ifstream in(paths[i * paths.size() / per_folder], std::ios::binary);
      std::ostringstream s;
      s << in.rdbuf();
      out.push_back(s.str());
    }
  }
  return out;
}

// Another delivery of the same message: a Received line on top and another Message-Id.
std::string another_copy(const std::string& message, size_t i) {
  std::string copy = absl::StrCat("Received: from relay", i, ".example.net (relay", i,
                                  ".example.net [198.51.100.", i % 250,
                                  "]) by mx.example.org with ESMTP; Mon, 7 Dec 2026 10:00:00 +0000\r\n", message);
  for (const char* id : {"\nMessage-Id:", "\nMessage-ID:", "\nMessage-id:"}) {
    const size_t at = copy.find(id);
    if (at != std::string::npos) copy.insert(at + std::string_view(id).size(), absl::StrCat(" <copy", i, ">"));
  }
  return copy;
}

TEST(CachedScanCorpus, SampleScansAsFreshThroughTheCache) {
  if (!fs::exists(std::string(kStockRules) + "/50_scores.cf")) GTEST_SKIP() << kStockRules << " not installed";
  const std::vector<std::string> messages = corpus_sample(100);
  if (messages.size() < 100) GTEST_SKIP() << "no corpus (scripts/fetch-corpus.sh build/corpus)";
  engine_options o;
  o.rule_paths.push_back(kStockRules);
  auto engine = spam_engine::build(o);
  ASSERT_TRUE(engine.ok()) << engine.status();

  scan_context fresh(*engine), cached(*engine);
  scan_cache cache(64 << 20);
  cached.set_cache(&cache);
  size_t spam = 0;
  for (const std::string& m : messages) {
    const scan_result want = fresh.scan(m);
    spam += want.is_spam();
    expect_same(cached.scan(m), want, "first scan");
  }
  EXPECT_GT(spam, 20u) << "the sample has spam in it";
  EXPECT_EQ(cache.stats().message_hits, 0u);
  for (const std::string& m : messages) expect_same(cached.scan(m), fresh.scan(m), "repeat");
  EXPECT_EQ(cache.stats().message_hits, messages.size()) << "every repeat is a hit";

  // Copies with another Received and Message-Id: the body targets are reused, the verdict
  // is what a fresh scan of the copy gives (the Received line changes relay rules).
  const uint64_t body_hits = cache.stats().body_hits;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string copy = another_copy(messages[i], i);
    expect_same(cached.scan(copy), fresh.scan(copy), "copy " + std::to_string(i));
  }
  EXPECT_EQ(cache.stats().body_hits - body_hits, messages.size());

  // Copies with another Subject as well: still body hits (the first line is matched
  // fresh), and still the fresh verdicts.
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string copy = another_copy(messages[i], i + 500);
    for (const char* subject : {"\nSubject: ", "\nSUBJECT: ", "\nsubject: "}) {
      const size_t at = copy.find(subject);
      if (at != std::string::npos) copy.insert(at + std::string_view(subject).size(), absl::StrCat("[", i, "] "));
    }
    expect_same(cached.scan(copy), fresh.scan(copy), "copy with Subject " + std::to_string(i));
  }
  EXPECT_EQ(cache.stats().body_hits - body_hits, 2 * messages.size());

  // A small bound over many distinct messages: never exceeded, entries evicted, and the
  // verdicts still the fresh ones.
  scan_cache small(32 << 10);
  scan_context bounded(*engine);
  bounded.set_cache(&small);
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string copy = another_copy(messages[i], i + 1000);
    expect_same(bounded.scan(copy), fresh.scan(copy), "bounded " + std::to_string(i));
    ASSERT_LE(small.bytes(), small.max_bytes()) << "after message " << i;
  }
  EXPECT_GT(small.stats().evictions, 0u);
  std::printf("scan cache corpus: %zu messages, %zu spam; 64 MiB cache: %zu entries %zu bytes; 32 KiB cache: %zu "
              "entries, %llu evictions\n",
              messages.size(), spam, cache.entries(), cache.bytes(), small.entries(),
              static_cast<unsigned long long>(small.stats().evictions));
}

}  // namespace
}  // namespace ringmail::spam
