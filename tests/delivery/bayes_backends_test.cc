// One suite of Bayes store behaviour run against both backends: SQLite
// (bayes_store::open) and a real MariaDB server that this binary starts and stops itself
// (tests/support/mariadb_server.h), through the public bayes_store API and, for the storage
// rules the API cannot reach (a change that empties a token), the backends directly.
#include <mysql.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "delivery/directory/mariadb_url.h"
#include "delivery/spam_store/mariadb_bayes_backend.h"
#include "gtest/gtest.h"
#include "spam/bayes/bayes.h"
#include "spam/bayes/sqlite.h"
#include "tests/support/mariadb_server.h"

namespace ringmail::spam_store {
namespace {

using spam::bayes_backend;
using spam::bayes_model;
using spam::bayes_store;
using spam::token_delta;
using test_support::mariadb_server;
using counts = std::map<uint64_t, std::pair<uint32_t, uint32_t>>;  // token -> (spam, ham)

counts tokens_of(const bayes_model& m) {
  counts out;
  for (const auto& [token, c] : m.tokens) out[token] = {c.spam, c.ham};
  return out;
}

// Runs statements on a connection of their own.
absl::Status run_sql(const directory::mariadb_config& c, const std::vector<std::string>& statements) {
  MYSQL* m = mysql_init(nullptr);
  if (mysql_real_connect(m, c.host.c_str(), c.user.c_str(), c.password.c_str(), c.database.c_str(), c.port, nullptr,
                         0) == nullptr) {
    absl::Status s = absl::UnavailableError(mysql_error(m));
    mysql_close(m);
    return s;
  }
  absl::Status s;
  for (const std::string& sql : statements) {
    if (mysql_query(m, sql.c_str()) != 0) s = absl::InternalError(mysql_error(m));
  }
  mysql_close(m);
  return s;
}

// Empties the three tables between tests (the server lives as long as the binary).
absl::Status clear_tables(const directory::mariadb_config& c) {
  return run_sql(c, {"DELETE FROM bayes_totals", "DELETE FROM bayes_tokens", "DELETE FROM bayes_seen"});
}

class BayesBackend : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      std::string tmpl = ::testing::TempDir() + "/ringmail-bayes-XXXXXX";
      dir_ = mkdtemp(tmpl.data());
      path_ = dir_ + "/bayes.sqlite";
      auto s = bayes_store::open(path_);
      ASSERT_TRUE(s.ok()) << s.status();
      store_ = std::move(*s);
    } else {
      ASSERT_EQ(mariadb_server::instance->start_error(), "") << "could not start MariaDB";
      auto config = directory::parse_mariadb_url(mariadb_server::instance->url());
      ASSERT_TRUE(config.ok()) << config.status();
      config_ = *config;
      auto backend = open_mariadb_bayes_backend(config_);  // creates the tables
      ASSERT_TRUE(backend.ok()) << backend.status();
      ASSERT_TRUE(clear_tables(config_).ok());
      store_ = bayes_store::over(std::move(*backend));
    }
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  bool mariadb() const { return GetParam() == "mariadb"; }

  // A second connection to the same store.
  std::unique_ptr<bayes_backend> another_backend(std::chrono::seconds writer_wait = std::chrono::seconds(10)) {
    absl::StatusOr<std::unique_ptr<bayes_backend>> b =
        mariadb() ? open_mariadb_bayes_backend(config_, mariadb_bayes_options{writer_wait})
                  : spam::open_sqlite_bayes_backend(path_);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? std::move(*b) : nullptr;
  }

  std::shared_ptr<const bayes_model> load(std::string_view user) {
    auto m = store_->load(user);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : std::make_shared<bayes_model>();
  }

  std::string dir_;
  std::string path_;
  directory::mariadb_config config_;
  std::unique_ptr<bayes_store> store_;
};

// Tokens whose top bit is set are stored as negative integers and must come back intact.
constexpr uint64_t kHigh = 0xFFFF'FFFF'FFFF'FFFFull;
constexpr uint64_t kTop = 0x8000'0000'0000'0000ull;
// An atime for the storage tests that do not look at it (2026-12-01).
constexpr int64_t kAtime = 1'796'083'200;

TEST_P(BayesBackend, LearnSpamThenLoad) {
  ASSERT_TRUE(store_->learn("", "<a@sa_generated>", {1, 2, kTop, kHigh}, true).ok());
  ASSERT_TRUE(store_->learn("", "<b@sa_generated>", {2, 3}, false).ok());
  auto m = load("");
  EXPECT_EQ(m->spam_messages, 1u);
  EXPECT_EQ(m->ham_messages, 1u);
  EXPECT_EQ(tokens_of(*m), (counts{{1, {1, 0}}, {2, {1, 1}}, {3, {0, 1}}, {kTop, {1, 0}}, {kHigh, {1, 0}}}));
}

TEST_P(BayesBackend, LearningTheSameWayTwiceIsANoOp) {
  ASSERT_TRUE(store_->learn("", "<a@sa_generated>", {1, 2}, true).ok());
  ASSERT_TRUE(store_->learn("", "<a@sa_generated>", {1, 2}, true).ok());
  auto batch = store_->begin_batch();
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_TRUE((*batch)->learn("", "<a@sa_generated>", {1, 2}, true).ok());
  ASSERT_TRUE((*batch)->commit().ok());
  auto m = load("");
  EXPECT_EQ(m->spam_messages, 1u);
  EXPECT_EQ(m->ham_messages, 0u);
  EXPECT_EQ(tokens_of(*m), (counts{{1, {1, 0}}, {2, {1, 0}}}));
}

TEST_P(BayesBackend, LearningTheOtherWayMovesTheCounts) {
  ASSERT_TRUE(store_->learn("", "<a@sa_generated>", {1, 2}, true).ok());
  ASSERT_TRUE(store_->learn("", "<b@sa_generated>", {2}, true).ok());
  ASSERT_TRUE(store_->learn("", "<a@sa_generated>", {1, 2}, false).ok());
  auto m = load("");
  EXPECT_EQ(m->spam_messages, 1u);
  EXPECT_EQ(m->ham_messages, 1u);
  EXPECT_EQ(tokens_of(*m), (counts{{1, {0, 1}}, {2, {1, 1}}}));
  ASSERT_TRUE(store_->learn("", "<a@sa_generated>", {1, 2}, true).ok());
  EXPECT_EQ(tokens_of(*load("")), (counts{{1, {1, 0}}, {2, {2, 0}}})) << "and back";
}

TEST_P(BayesBackend, UserStoresAreSeparateFromTheGlobalOne) {
  ASSERT_TRUE(store_->learn("", "<a@sa_generated>", {1}, true).ok());
  ASSERT_TRUE(store_->learn("alice@example.org", "<a@sa_generated>", {1, 2}, false).ok())
      << "seen is per user: the same message is new to alice";
  ASSERT_TRUE(store_->learn("bob@example.org", "<b@sa_generated>", {3}, true).ok());
  auto global = load("");
  EXPECT_EQ(global->spam_messages, 1u);
  EXPECT_EQ(global->ham_messages, 0u);
  EXPECT_EQ(tokens_of(*global), (counts{{1, {1, 0}}}));
  auto alice = load("alice@example.org");
  EXPECT_EQ(alice->spam_messages, 0u);
  EXPECT_EQ(alice->ham_messages, 1u);
  EXPECT_EQ(tokens_of(*alice), (counts{{1, {0, 1}}, {2, {0, 1}}}));
  EXPECT_EQ(tokens_of(*load("bob@example.org")), (counts{{3, {1, 0}}}));
  auto nobody = load("nobody@example.org");
  EXPECT_EQ(nobody->spam_messages + nobody->ham_messages, 0u);
  EXPECT_TRUE(nobody->tokens.empty());
}

// Bulk learning (ringmail-admin spam learn): 300 messages of 200 tokens from a shared
// vocabulary, 20 of them learned again the other way inside the same batch.
TEST_P(BayesBackend, ABatchOfManyMessagesCommitsTheRightSums) {
  std::mt19937_64 random(42);
  std::vector<uint64_t> vocabulary(6000);
  for (uint64_t& t : vocabulary) t = random();
  struct message {
    std::string id;
    std::vector<uint64_t> tokens;
    bool spam;
  };
  std::vector<message> messages;
  for (int i = 0; i < 300; ++i) {
    std::vector<uint64_t> tokens;
    std::sample(vocabulary.begin(), vocabulary.end(), std::back_inserter(tokens), 200, random);
    std::sort(tokens.begin(), tokens.end());
    messages.push_back({absl::StrCat("<", i, "@sa_generated>"), std::move(tokens), i % 3 != 0});
  }
  counts expected;
  uint32_t spam = 0, ham = 0;

  const auto started = std::chrono::steady_clock::now();
  auto batch = store_->begin_batch();
  ASSERT_TRUE(batch.ok()) << batch.status();
  for (const message& m : messages) ASSERT_TRUE((*batch)->learn("", m.id, m.tokens, m.spam).ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*batch)->learn("", messages[i].id, messages[i].tokens, !messages[i].spam).ok());
  ASSERT_TRUE((*batch)->commit().ok());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("[ bulk     ] %s: 300 messages (+20 relearned) in %.3f s: %.0f messages/s\n", GetParam().c_str(),
              seconds, 320 / seconds);

  for (int i = 0; i < 300; ++i) {
    const bool is_spam = i < 20 ? !messages[i].spam : messages[i].spam;
    (is_spam ? spam : ham) += 1;
    for (uint64_t t : messages[i].tokens) (is_spam ? expected[t].first : expected[t].second) += 1;
  }
  auto m = load("");
  EXPECT_EQ(m->spam_messages, spam);
  EXPECT_EQ(m->ham_messages, ham);
  EXPECT_EQ(tokens_of(*m), expected);
}

TEST_P(BayesBackend, ABatchDestroyedWithoutCommitLeavesNothing) {
  {
    auto batch = store_->begin_batch();
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*batch)->learn("", absl::StrCat("<", i, ">"), {1, 2, 3}, true).ok());
    ASSERT_TRUE((*batch)->learn("carol@example.org", "<x>", {4}, false).ok());
  }
  auto m = load("");
  EXPECT_EQ(m->spam_messages, 0u);
  EXPECT_TRUE(m->tokens.empty());
  EXPECT_TRUE(load("carol@example.org")->tokens.empty());
  // The seen rows went too: the message is new again.
  ASSERT_TRUE(store_->learn("", "<0>", {1}, true).ok());
  EXPECT_EQ(tokens_of(*load("")), (counts{{1, {1, 0}}}));
  // And the writer is free for another connection (MariaDB: the named lock was released).
  auto other = another_backend(std::chrono::seconds(1));
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(other->begin().ok());
  other->rollback();
}

// Relearning after the tokenizer changed: the tokens subtracted were never added.
TEST_P(BayesBackend, UnlearningNeverMakesCountsNegative) {
  ASSERT_TRUE(store_->learn("", "<a>", {1, 2}, true).ok());
  ASSERT_TRUE(store_->learn("", "<a>", {2, 3}, false).ok());
  auto m = load("");
  EXPECT_EQ(m->spam_messages, 0u);
  EXPECT_EQ(m->ham_messages, 1u);
  EXPECT_EQ(tokens_of(*m), (counts{{1, {1, 0}}, {2, {0, 1}}, {3, {0, 1}}}))
      << "token 3 was new with a spam change of -1: clamped to 0, not -1";
}

// The storage rules below the learning logic: clamping, and emptied tokens removed.
TEST_P(BayesBackend, BackendClampsAtZeroAndDropsEmptiedTokens) {
  auto b = another_backend();
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->begin().ok());
  ASSERT_TRUE(b->add_tokens("u", {{1, 2, 0}, {2, 1, 0}, {3, 0, 1}, {4, 2, 5}, {kHigh, 1, 1}}, kAtime).ok());
  ASSERT_TRUE(b->add_totals("u", 2, 1).ok());
  ASSERT_TRUE(b->commit().ok());

  ASSERT_TRUE(b->begin().ok());
  ASSERT_TRUE(b->add_tokens("u", {{1, -1, 0},
                                  {2, -1, 0},   // -> (0, 0): removed
                                  {3, 0, -5},   // -> (0, 0): removed
                                  {4, -5, -1},  // -> (0, 4)
                                  {kHigh, -1, -1},
                                  {5, -1, 0},   // new, negative: never stored
                                  {6, -1, 2},   // new: (0, 2)
                                  {7, 0, -3},
                                  {8, 1, 0}},
                                 kAtime)
                  .ok());
  ASSERT_TRUE(b->add_totals("u", -5, 0).ok());
  ASSERT_TRUE(b->add_totals("v", -1, -1).ok());
  ASSERT_TRUE(b->commit().ok());
  auto m = b->load("u");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->spam_messages, 0u);
  EXPECT_EQ((*m)->ham_messages, 1u);
  EXPECT_EQ(tokens_of(**m), (counts{{1, {1, 0}}, {4, {0, 4}}, {6, {0, 2}}, {8, {1, 0}}}));
  auto v = b->load("v");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)->spam_messages + (*v)->ham_messages, 0u);
}

// The same over more tokens than one multi-row statement holds (MariaDB writes 1000 rows
// per statement), so every chunk boundary is crossed.
TEST_P(BayesBackend, BackendClampsAcrossManyTokens) {
  auto token = [](uint64_t i) { return (i + 1) * 0x9E37'79B9'7F4A'7C15ull; };
  auto b = another_backend();
  ASSERT_NE(b, nullptr);
  std::vector<token_delta> first;
  for (uint64_t i = 0; i < 2500; ++i) first.push_back({token(i), 1, 0});
  ASSERT_TRUE(b->begin().ok());
  ASSERT_TRUE(b->add_tokens("", first, kAtime).ok());
  ASSERT_TRUE(b->commit().ok());

  std::vector<token_delta> second;
  counts expected;
  for (uint64_t i = 0; i < 2500; ++i) {
    if (i % 2 == 0) {
      second.push_back({token(i), -1, 0});
    } else {
      second.push_back({token(i), -1, 1});
      expected[token(i)] = {0, 1};
    }
  }
  for (uint64_t i = 2500; i < 4000; ++i) {
    if (i % 2 == 0) {
      second.push_back({token(i), -2, 0});
    } else {
      second.push_back({token(i), -1, 3});
      expected[token(i)] = {0, 3};
    }
  }
  ASSERT_TRUE(b->begin().ok());
  ASSERT_TRUE(b->add_tokens("", second, kAtime).ok());
  ASSERT_TRUE(b->commit().ok());
  EXPECT_EQ(tokens_of(*load("")), expected);
}

TEST_P(BayesBackend, LoadSeesNeitherNorWaitsForAnOpenWriter) {
  ASSERT_TRUE(store_->learn("", "<a>", {1}, true).ok());
  auto writer = another_backend();
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->begin().ok());
  ASSERT_TRUE(writer->add_tokens("", {{1, 1, 0}, {2, 0, 1}}, kAtime).ok());
  ASSERT_TRUE(writer->add_totals("", 1, 1).ok());
  auto before = load("");
  EXPECT_EQ(before->spam_messages, 1u);
  EXPECT_EQ(tokens_of(*before), (counts{{1, {1, 0}}}));
  ASSERT_TRUE(writer->commit().ok());
  auto after = load("");
  EXPECT_EQ(after->spam_messages, 2u);
  EXPECT_EQ(tokens_of(*after), (counts{{1, {2, 0}}, {2, {0, 1}}}));
}

TEST_P(BayesBackend, HostileUserNamesAndMessageIdsRoundTrip) {
  std::string emoji_320;
  for (int i = 0; i < 320; ++i) emoji_320 += "\xF0\x9F\x98\x80";  // U+1F600, 4 bytes each
  const std::vector<std::string> users = {
      "o'brien@example.org",
      "x' OR '1'='1",
      "a\"; DROP TABLE bayes_tokens; --",
      "back\\slash\\",
      "\\'",
      "%_",
      "Grüße 例え@テスト.example",
      "tab\tnew\nline\r",
      "trailing space ",
      "trailing space",
      "TRAILING SPACE",
      std::string(320, 'a'),
      emoji_320,
  };
  for (size_t i = 0; i < users.size(); ++i) {
    ASSERT_TRUE(store_->learn(users[i], "<'\\\"@sa_generated>", {i + 100}, i % 2 == 0).ok()) << users[i];
  }
  for (size_t i = 0; i < users.size(); ++i) {
    auto m = load(users[i]);
    EXPECT_EQ(m->spam_messages, i % 2 == 0 ? 1u : 0u) << users[i];
    EXPECT_EQ(m->ham_messages, i % 2 == 0 ? 0u : 1u) << users[i];
    EXPECT_EQ(tokens_of(*m), (counts{{i + 100, {i % 2 == 0 ? 1u : 0u, i % 2 == 0 ? 0u : 1u}}})) << users[i];
  }
  EXPECT_TRUE(load("")->tokens.empty()) << "none of them leaked into the global store";
  // The hostile msgid was recorded as such: learning it again is a no-op.
  ASSERT_TRUE(store_->learn(users[0], "<'\\\"@sa_generated>", {100}, true).ok());
  EXPECT_EQ(load(users[0])->spam_messages, 1u);
}

TEST_P(BayesBackend, NamesTooLongAreRefusedNotTruncated) {
  if (!mariadb()) GTEST_SKIP() << "SQLite keys have no length limit";
  ASSERT_TRUE(store_->learn(std::string(320, 'a'), "<a>", {1}, true).ok());
  absl::Status s = store_->learn(std::string(321, 'a'), "<b>", {2}, true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(store_->learn("", std::string(256, 'm'), {2}, true).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tokens_of(*load(std::string(320, 'a'))), (counts{{1, {1, 0}}})) << "nothing merged into a prefix";
  EXPECT_TRUE(load("")->tokens.empty());
}

TEST_P(BayesBackend, AWriterWaitsForAnotherAndThenGivesUp) {
  if (!mariadb()) GTEST_SKIP() << "SQLite's busy timeout is fixed at 10 s";
  auto batch = store_->begin_batch();
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_TRUE((*batch)->learn("", "<a>", {1}, true).ok());
  auto other = another_backend(std::chrono::seconds(1));
  ASSERT_NE(other, nullptr);
  const auto started = std::chrono::steady_clock::now();
  absl::Status s = other->begin();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(900));
  ASSERT_TRUE((*batch)->commit().ok());
  ASSERT_TRUE(other->begin().ok()) << "free once the first writer committed";
  auto seen = other->seen("", "<a>");
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(*seen, std::optional<bool>(true));
  ASSERT_TRUE(other->commit().ok());
}

TEST_P(BayesBackend, ServerDownIsUnavailableAndRecovers) {
  if (!mariadb()) GTEST_SKIP() << "SQLite is a local file: it cannot go down";
  ASSERT_TRUE(store_->learn("", "<a>", {1}, true).ok());
  auto writer = another_backend();
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->begin().ok());
  ASSERT_TRUE(writer->record_seen("", "<b>", true).ok());

  mariadb_server::instance->stop();
  EXPECT_EQ(writer->add_tokens("", {{2, 1, 0}}, kAtime).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(writer->add_totals("", 1, 0).code(), absl::StatusCode::kUnavailable)
      << "no silent reconnect in the middle of a transaction";
  writer->rollback();  // quiet
  EXPECT_EQ(store_->load("").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_->learn("", "<c>", {3}, true).code(), absl::StatusCode::kUnavailable);

  ASSERT_EQ(mariadb_server::instance->start(), "");
  absl::StatusOr<std::shared_ptr<const bayes_model>> m = absl::UnavailableError("not yet");
  for (int i = 0; i < 50 && !m.ok(); ++i) {
    m = store_->load("");
    if (!m.ok()) usleep(100000);
  }
  ASSERT_TRUE(m.ok()) << "reconnects by itself: " << m.status();
  EXPECT_EQ(tokens_of(**m), (counts{{1, {1, 0}}})) << "the interrupted transaction left nothing";
  ASSERT_TRUE(writer->begin().ok()) << "the writer reconnects on its next transaction";
  auto seen = writer->seen("", "<b>");
  ASSERT_TRUE(seen.ok());
  EXPECT_FALSE(seen->has_value());
  writer->rollback();
  ASSERT_TRUE(store_->learn("", "<c>", {3}, true).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, BayesBackend, ::testing::Values("sqlite", "mariadb"),
                         [](const auto& info) { return info.param; });

// --- Expiry (spam/bayes/expiry.h) -------------------------------------------------------

constexpr int64_t kDay = 86'400;
constexpr int64_t kHour = 3'600;

// Options small enough for a test: expire at 1,000 tokens down to 750.
spam::bayes_expiry_options small_store() {
  spam::bayes_expiry_options o;
  o.max_db_size = 1000;
  o.min_keep = 0;
  o.min_reduction = 1;
  return o;
}

class BayesExpiry : public BayesBackend {
 protected:
  // Writes `n` tokens numbered from `first` for `user`, `step` seconds apart from
  // `atime` on (token `first` is the least recently learned), one transaction.
  void seed(std::string_view user, uint64_t first, uint64_t n, int64_t atime, int64_t step) {
    auto b = another_backend();
    ASSERT_NE(b, nullptr);
    ASSERT_TRUE(b->begin().ok());
    std::vector<token_delta> same_time;
    for (uint64_t i = 0; i < n; ++i) {
      same_time.push_back({first + i, 1, 1});
      // Tokens that share an atime go in one multi-row write.
      if (step != 0 || i + 1 == n) {
        ASSERT_TRUE(b->add_tokens(user, same_time, atime + static_cast<int64_t>(i) * step).ok());
        same_time.clear();
      }
    }
    ASSERT_TRUE(b->commit().ok());
  }

  spam::token_ages ages(std::string_view user) {
    auto b = another_backend();
    if (b == nullptr || !b->begin().ok()) return {};
    auto a = b->ages(user);
    EXPECT_TRUE(a.ok()) << a.status();
    b->rollback();
    return a.ok() ? *a : spam::token_ages{};
  }

  void set_now(int64_t now) {
    now_ = now;
    store_->set_clock([this] { return now_; });
  }

  spam::bayes_expiry_result expire(bool force = false, std::string_view user = "u") {
    auto r = store_->expire(user, force);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : spam::bayes_expiry_result{};
  }

  int64_t now_ = 0;
};

TEST_P(BayesExpiry, RemovesTheLeastRecentlyLearnedDownToThreeQuartersOfTheMax) {
  const int64_t t0 = 1'790'000'000;
  // 1,200 tokens learned one per 10 minutes over 8 1/3 days; token 1 is the oldest.
  seed("u", 1, 1200, t0, 600);
  seed("other", 1, 1200, t0, 600);
  {
    auto b = another_backend();
    ASSERT_TRUE(b->begin().ok());
    ASSERT_TRUE(b->add_totals("u", 30, 40).ok());
    ASSERT_TRUE(b->commit().ok());
  }
  store_->set_expiry_options(small_store());
  set_now(t0 + 1200 * 600);
  spam::bayes_expiry_result r = expire();
  EXPECT_TRUE(r.ran);
  EXPECT_EQ(r.skipped, "");
  EXPECT_EQ(r.tokens_before, 1200);
  EXPECT_EQ(r.removed, 450) << "down to 750 = 75 % of 1,000";
  EXPECT_EQ(r.cutoff_atime, t0 + 450 * 600);
  auto m = load("u");
  EXPECT_EQ(m->tokens.size(), 750u);
  for (uint64_t t = 1; t <= 1200; ++t) EXPECT_EQ(m->tokens.contains(t), t > 450) << t;
  EXPECT_EQ(m->tokens.at(451).spam, 1u) << "kept tokens keep their counts";
  EXPECT_EQ(m->spam_messages, 30u) << "expiry forgets tokens, not the messages learned";
  EXPECT_EQ(m->ham_messages, 40u);
  spam::token_ages a = ages("u");
  EXPECT_EQ(a.tokens, 750);
  EXPECT_EQ(a.oldest_atime, t0 + 450 * 600);
  EXPECT_EQ(a.last_expire, now_);
  EXPECT_EQ(load("other")->tokens.size(), 1200u) << "each user's store expires on its own";
  EXPECT_EQ(ages("other").last_expire, 0);

  // Over the limit again an hour later: not before the period (12 h) has passed.
  seed("u", 5000, 600, now_, 0);
  set_now(now_ + kHour);
  r = expire();
  EXPECT_FALSE(r.ran);
  EXPECT_EQ(r.skipped, "expired within the period");
  EXPECT_EQ(load("u")->tokens.size(), 1350u);
  set_now(now_ + 12 * kHour);
  r = expire();
  EXPECT_TRUE(r.ran);
  EXPECT_EQ(r.removed, 600);
  EXPECT_EQ(load("u")->tokens.size(), 750u);
}

TEST_P(BayesExpiry, NeverRemovesTokensLearnedWithinThePeriod) {
  const int64_t now = 1'790'000'000;
  seed("u", 1, 100, now - 30 * kDay, 0);
  seed("u", 1000, 300, now - 300 * 120, 120);  // the last 10 hours
  spam::bayes_expiry_options o = small_store();
  o.max_db_size = 200;  // keep 150: the goal would take 250
  store_->set_expiry_options(o);
  set_now(now);
  spam::bayes_expiry_result r = expire();
  EXPECT_TRUE(r.ran);
  EXPECT_EQ(r.removed, 100);
  EXPECT_EQ(r.cutoff_atime, now - 120 - 12 * kHour) << "newest token's atime minus the period";
  auto m = load("u");
  EXPECT_EQ(m->tokens.size(), 300u);
  for (uint64_t t = 1000; t < 1300; ++t) EXPECT_TRUE(m->tokens.contains(t)) << t;

  // Forced runs obey the same floor.
  set_now(now + kHour);
  r = expire(/*force=*/true);
  EXPECT_TRUE(r.ran);
  EXPECT_EQ(r.removed, 0);
  EXPECT_EQ(load("u")->tokens.size(), 300u);
}

TEST_P(BayesExpiry, AStoreBelowTheLimitIsUntouched) {
  const int64_t now = 1'790'000'000;
  seed("u", 1, 999, now - 100 * kDay, 600);
  store_->set_expiry_options(small_store());
  set_now(now);
  spam::bayes_expiry_result r = expire();
  EXPECT_FALSE(r.ran);
  EXPECT_EQ(r.skipped, "below max_db_size");
  EXPECT_EQ(ages("u").last_expire, 0) << "a store not due is not written";
  // Forced: runs, but 999 - 750 < SA's minimum run of 1,000 tokens.
  spam::bayes_expiry_options o = small_store();
  o.min_reduction = 1000;
  store_->set_expiry_options(o);
  r = expire(/*force=*/true);
  EXPECT_TRUE(r.ran);
  EXPECT_EQ(r.removed, 0);
  EXPECT_EQ(r.skipped, "too few tokens to remove");
  EXPECT_EQ(load("u")->tokens.size(), 999u);
  // A user with no tokens: nothing, and no totals row invented for them.
  r = expire(/*force=*/true, "nobody");
  EXPECT_FALSE(r.ran);
  EXPECT_EQ(ages("nobody").last_expire, 0);
}

TEST_P(BayesExpiry, AutoExpiryOffLeavesItToTheAdmin) {
  const int64_t now = 1'790'000'000;
  seed("u", 1, 1200, now - 10 * kDay, 600);
  spam::bayes_expiry_options o = small_store();
  o.auto_expire = false;
  store_->set_expiry_options(o);
  set_now(now);
  EXPECT_FALSE(expire().ran);
  EXPECT_EQ(load("u")->tokens.size(), 1200u);
  spam::bayes_expiry_result r = expire(/*force=*/true);  // ringmail-admin spam expire
  EXPECT_EQ(r.removed, 450);
  EXPECT_EQ(load("u")->tokens.size(), 750u);
}

// SpamAssassin's own numbers: at 150,000 tokens or more, keep max(112,500, 100,000).
TEST_P(BayesExpiry, DefaultsAreSpamAssassins) {
  const int64_t now = 1'790'000'000;
  // 160,000 tokens, 10,000 per day over 16 days: the goal (47,500) reaches into day 4,
  // whose tokens share one atime and stay, so days 0-3 go.
  for (uint64_t day = 0; day < 16; ++day) {
    seed("u", 1 + day * 10'000, 10'000, now - static_cast<int64_t>(16 - day) * kDay, 0);
  }
  set_now(now);
  spam::bayes_expiry_result r = expire();
  EXPECT_TRUE(r.ran);
  EXPECT_EQ(r.removed, 40'000);
  spam::token_ages a = ages("u");
  EXPECT_EQ(a.tokens, 120'000);
  EXPECT_EQ(a.oldest_atime, now - 12 * kDay);
  EXPECT_EQ(load("u")->tokens.size(), 120'000u);
}

TEST_P(BayesExpiry, LearningStampsAtimeAndNeverMovesItBack) {
  set_now(1'790'000'000);
  ASSERT_TRUE(store_->learn("u", "<a>", {1, 2}, true).ok());
  set_now(1'790'000'100);
  ASSERT_TRUE(store_->learn("u", "<b>", {2, 3}, false).ok());
  spam::token_ages a = ages("u");
  EXPECT_EQ(a.oldest_atime, 1'790'000'000);  // token 1
  EXPECT_EQ(a.newest_atime, 1'790'000'100);
  set_now(1'790'000'050);  // the clock went back: token 3 stays at +100
  ASSERT_TRUE(store_->learn("u", "<c>", {3, 4}, true).ok());
  auto b = another_backend();
  ASSERT_TRUE(b->begin().ok());
  EXPECT_EQ(*b->atime_at_rank("u", 0), 1'790'000'000);
  EXPECT_EQ(*b->atime_at_rank("u", 1), 1'790'000'050);  // token 4
  EXPECT_EQ(*b->atime_at_rank("u", 2), 1'790'000'100);
  EXPECT_EQ(*b->atime_at_rank("u", 3), 1'790'000'100);
  EXPECT_FALSE(b->atime_at_rank("u", 4)->has_value());
  b->rollback();
  // Unlearning touches too: <a> relearned as ham rewrites tokens 1 and 2.
  set_now(1'790'000'200);
  ASSERT_TRUE(store_->learn("u", "<a>", {1, 2}, false).ok());
  EXPECT_EQ(ages("u").oldest_atime, 1'790'000'050);
}

// A store made before atime existed: opening adds the columns, the old tokens get the
// time of the migration, and everything else keeps working.
TEST_P(BayesExpiry, OldStoresAreMigratedAtOpen) {
  const std::vector<std::string> old_schema = {
      "CREATE TABLE bayes_totals (user TEXT NOT NULL PRIMARY KEY, nspam INTEGER NOT NULL DEFAULT 0,"
      " nham INTEGER NOT NULL DEFAULT 0)",
      "CREATE TABLE bayes_tokens (user TEXT NOT NULL, token INTEGER NOT NULL, nspam INTEGER NOT NULL DEFAULT 0,"
      " nham INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user, token)) WITHOUT ROWID",
      "CREATE TABLE bayes_seen (user TEXT NOT NULL, msgid TEXT NOT NULL, is_spam INTEGER NOT NULL,"
      " PRIMARY KEY (user, msgid)) WITHOUT ROWID",
      "INSERT INTO bayes_totals VALUES ('', 3, 4)",
      "INSERT INTO bayes_tokens VALUES ('', 7, 2, 1)",
      "INSERT INTO bayes_tokens VALUES ('', -1, 1, 0)",
      "INSERT INTO bayes_seen VALUES ('', '<old>', 1)",
  };
  const std::string opts = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin";
  const std::vector<std::string> old_mariadb = {
      "DROP TABLE bayes_totals",
      "DROP TABLE bayes_tokens",
      "DROP TABLE bayes_seen",
      "CREATE TABLE bayes_totals (`user` VARCHAR(320) NOT NULL, `nspam` BIGINT NOT NULL DEFAULT 0,"
      " `nham` BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (`user`))" + opts,
      "CREATE TABLE bayes_tokens (`user` VARCHAR(320) NOT NULL, `token` BIGINT NOT NULL, `nspam` INT NOT NULL"
      " DEFAULT 0, `nham` INT NOT NULL DEFAULT 0, PRIMARY KEY (`user`, `token`))" + opts,
      "CREATE TABLE bayes_seen (`user` VARCHAR(320) NOT NULL, `msgid` VARCHAR(255) NOT NULL,"
      " `is_spam` TINYINT NOT NULL, PRIMARY KEY (`user`, `msgid`))" + opts,
      old_schema[3], old_schema[4], old_schema[5], old_schema[6],
  };
  std::unique_ptr<bayes_store> migrated;
  const int64_t before = static_cast<int64_t>(std::time(nullptr));
  if (mariadb()) {
    store_.reset();
    ASSERT_TRUE(run_sql(config_, old_mariadb).ok());
    auto b = open_mariadb_bayes_backend(config_);
    ASSERT_TRUE(b.ok()) << b.status();
    migrated = bayes_store::over(std::move(*b));
  } else {
    const std::string old_path = dir_ + "/old.sqlite";
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(old_path.c_str(), &db), SQLITE_OK);
    for (const std::string& sql : old_schema) ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(db);
    auto s = bayes_store::open(old_path);
    ASSERT_TRUE(s.ok()) << s.status();
    migrated = std::move(*s);
    path_ = old_path;  // another_backend() opens it too
  }
  auto m = migrated->load("");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->spam_messages, 3u);
  EXPECT_EQ(tokens_of(**m), (counts{{7, {2, 1}}, {kHigh, {1, 0}}}));
  spam::token_ages a = ages("");
  EXPECT_EQ(a.tokens, 2);
  EXPECT_GE(a.oldest_atime, before) << "old tokens count as learned at the migration";
  EXPECT_LE(a.newest_atime, static_cast<int64_t>(std::time(nullptr)));
  EXPECT_EQ(a.last_expire, 0);
  // Learning and seen-tracking go on; a reopen does not migrate again.
  ASSERT_TRUE(migrated->learn("", "<old>", {7}, true).ok());
  ASSERT_TRUE(migrated->learn("", "<new>", {8}, false).ok());
  auto again = another_backend();
  ASSERT_NE(again, nullptr);
  auto m2 = again->load("");
  ASSERT_TRUE(m2.ok());
  EXPECT_EQ(tokens_of(**m2), (counts{{7, {2, 1}}, {8, {0, 1}}, {kHigh, {1, 0}}}));
  ASSERT_TRUE(migrated->expire("", /*force=*/true).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, BayesExpiry, ::testing::Values("sqlite", "mariadb"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ringmail::spam_store

// Registered before main() runs: gtest then calls SetUp/TearDown around all tests.
static ::testing::Environment* const g_mariadb = ringmail::test_support::mariadb_server::install();
