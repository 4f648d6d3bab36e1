// spam/bayes/trainer.h against the real SQLite Bayes store: learning happens on the pool
// (learn() returns while the store is still unavailable), lands in the user's rows only,
// Junk -> INBOX turns spam into ham, renamed Maildir files are found, and a full queue
// drops instead of growing.
#include "spam/bayes/trainer.h"

#include <unistd.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/offload_pool.h"
#include "spam/bayes/bayes.h"
#include "spam/bayes/sqlite.h"

namespace ringmail::spam {
namespace {

namespace fs = std::filesystem;

class BayesTrainer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("bayes_trainer_test." + std::to_string(::getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "Maildir/.Junk/cur");
    fs::create_directories(dir_ / "Maildir/.Junk/new");
    fs::create_directories(dir_ / "Maildir/cur");
    db_ = (dir_ / "bayes.sqlite").string();
    auto s = bayes_store::open(db_);
    ASSERT_TRUE(s.ok()) << s.status();
    reader_ = std::move(*s);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A message file in `folder` (relative to the Maildir) named `name`.
  std::string write_message(const std::string& folder, const std::string& name, const std::string& subject,
                            const std::string& body) {
    const fs::path p = dir_ / "Maildir" / folder / name;
    std::ofstream out(p, std::ios::binary);
    out << "From: Sender <sender@example.net>\r\n"
        << "To: john@example.org\r\n"
        << "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
        << "Subject: " << subject << "\r\n"
        << "Message-ID: <" << name.substr(0, name.find(':')) << "@example.net>\r\n"
        << "\r\n"
        << body << "\r\n";
    return p.string();
  }

  bayes_trainer::store_opener opener() {
    return [path = db_] { return bayes_store::open(path); };
  }

  std::shared_ptr<const bayes_model> model(const std::string& user) {
    auto m = reader_->load(user);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : std::make_shared<bayes_model>();
  }

  fs::path dir_;
  std::string db_;
  std::unique_ptr<bayes_store> reader_;
  offload_pool pool_{2};
};

TEST_F(BayesTrainer, LearnsSpamForThatUserOnlyOnThePool) {
  const std::string path = write_message(".Junk/cur", "1700000000.M1P1.host:2,S", "Cheap pills",
                                         "Buy cheap pills now, limited offer, click here");
  // The store opens only when the test says so: learn() must return before that.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> opened{false};
  bayes_trainer trainer(pool_, [&, inner = opener()] {
    released.wait();
    opened = true;
    return inner();
  });
  EXPECT_TRUE(trainer.learn("john@example.org", {path}, /*spam=*/true));
  EXPECT_FALSE(opened.load());  // learn() did not wait for the store
  EXPECT_EQ(model("john@example.org")->spam_messages, 0u);
  release.set_value();
  trainer.wait_idle();
  EXPECT_TRUE(opened.load());
  auto m = model("john@example.org");
  EXPECT_EQ(m->spam_messages, 1u);
  EXPECT_EQ(m->ham_messages, 0u);
  EXPECT_FALSE(m->tokens.empty());
  EXPECT_EQ(model("")->spam_messages, 0u) << "the global store must not learn a user's move";
  EXPECT_EQ(model("jane@example.org")->spam_messages, 0u);
  EXPECT_EQ(trainer.stats().learned, 1u);
}

TEST_F(BayesTrainer, MovingOutOfJunkTurnsSpamIntoHam) {
  bayes_trainer trainer(pool_, opener());
  const std::string junk = write_message(".Junk/cur", "1700000001.M2P1.host:2,S", "Meeting notes",
                                         "Minutes of the meeting attached, see you tomorrow");
  ASSERT_TRUE(trainer.learn("john@example.org", {junk}, true));
  trainer.wait_idle();
  EXPECT_EQ(model("john@example.org")->spam_messages, 1u);
  // The copy in INBOX has the same content (a MOVE keeps the bytes).
  const std::string inbox = write_message("cur", "1700000002.M3P1.host:2,S", "Meeting notes",
                                          "Minutes of the meeting attached, see you tomorrow");
  ASSERT_TRUE(trainer.learn("john@example.org", {inbox}, false));
  trainer.wait_idle();
  auto m = model("john@example.org");
  EXPECT_EQ(m->spam_messages, 0u);
  EXPECT_EQ(m->ham_messages, 1u);
  // Again the same way: a no-op, as sa-learn.
  ASSERT_TRUE(trainer.learn("john@example.org", {inbox}, false));
  trainer.wait_idle();
  EXPECT_EQ(model("john@example.org")->ham_messages, 1u);
}

TEST_F(BayesTrainer, ManyMessagesAcrossTurns) {
  bayes_trainer_options o;
  o.per_turn = 3;  // several re-posts to the pool
  bayes_trainer trainer(pool_, opener(), o);
  std::vector<std::string> paths;
  for (int i = 0; i < 20; ++i) {
    paths.push_back(write_message(".Junk/cur", "17000001" + std::to_string(10 + i) + ".M1P1.host:2,", "Offer " + std::to_string(i),
                                  "Unique offer number " + std::to_string(i) + " winner prize"));
  }
  ASSERT_TRUE(trainer.learn("john@example.org", paths, true));
  trainer.wait_idle();
  EXPECT_EQ(model("john@example.org")->spam_messages, 20u);
  EXPECT_EQ(trainer.stats().learned, 20u);
}

TEST_F(BayesTrainer, FindsAFileRenamedByAFlagChange) {
  bayes_trainer trainer(pool_, opener());
  // The session named ":2,S"; a STORE +FLAGS (\Flagged) renamed it before the pool ran.
  write_message(".Junk/cur", "1700000003.M4P1.host:2,FS", "Renamed", "Renamed message body text here");
  const std::string named = (dir_ / "Maildir/.Junk/cur/1700000003.M4P1.host:2,S").string();
  ASSERT_TRUE(trainer.learn("john@example.org", {named}, true));
  trainer.wait_idle();
  EXPECT_EQ(model("john@example.org")->spam_messages, 1u);
  EXPECT_EQ(trainer.stats().skipped, 0u);
}

TEST_F(BayesTrainer, GoneAndTooLargeFilesAreSkipped) {
  bayes_trainer_options o;
  o.max_message_size = 200;
  bayes_trainer trainer(pool_, opener(), o);
  const std::string big = write_message(".Junk/cur", "1700000004.M5P1.host:2,S", "Big", std::string(1000, 'x'));
  const std::string gone = (dir_ / "Maildir/.Junk/cur/1700000005.M6P1.host:2,S").string();
  ASSERT_TRUE(trainer.learn("john@example.org", {big, gone}, true));
  trainer.wait_idle();
  EXPECT_EQ(model("john@example.org")->spam_messages, 0u);
  EXPECT_EQ(trainer.stats().skipped, 2u);
  EXPECT_EQ(trainer.stats().learned, 0u);
}

TEST_F(BayesTrainer, AFullQueueDropsInsteadOfGrowing) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  bayes_trainer_options o;
  o.max_queued = 3;
  o.per_turn = 1;
  bayes_trainer trainer(
      pool_,
      [&, inner = opener()] {
        released.wait();
        return inner();
      },
      o);
  std::vector<std::string> p;
  for (int i = 0; i < 5; ++i) {
    p.push_back(write_message(".Junk/cur", "17000002" + std::to_string(10 + i) + ".M1P1.host:2,S", "Q" + std::to_string(i),
                              "Queue test message " + std::to_string(i)));
  }
  // p[0] is queued or already taken by the drainer (blocked in the opener): either way
  // p[1..2] fit and p[3..4] on top exceed 3.
  ASSERT_TRUE(trainer.learn("john@example.org", {p[0]}, true));
  EXPECT_TRUE(trainer.learn("john@example.org", {p[1], p[2]}, true));
  EXPECT_FALSE(trainer.learn("john@example.org", {p[3], p[4]}, true));
  EXPECT_EQ(trainer.stats().dropped, 2u);
  release.set_value();
  trainer.wait_idle();
  EXPECT_EQ(model("john@example.org")->spam_messages, 3u);
  EXPECT_EQ(trainer.stats().learned, 3u);
}

TEST_F(BayesTrainer, AStoreThatCannotOpenFailsTheBatchAndIsRetried) {
  std::atomic<int> calls{0};
  bayes_trainer trainer(pool_, [&, inner = opener()]() -> absl::StatusOr<std::unique_ptr<bayes_store>> {
    if (calls++ == 0) return absl::UnavailableError("database down");
    return inner();
  });
  const std::string a = write_message(".Junk/cur", "1700000006.M7P1.host:2,S", "A", "First message body words");
  const std::string b = write_message(".Junk/cur", "1700000007.M8P1.host:2,S", "B", "Second message body words");
  ASSERT_TRUE(trainer.learn("john@example.org", {a}, true));
  trainer.wait_idle();
  EXPECT_EQ(trainer.stats().failed, 1u);
  ASSERT_TRUE(trainer.learn("john@example.org", {b}, true));
  trainer.wait_idle();
  EXPECT_EQ(trainer.stats().learned, 1u);
  EXPECT_EQ(model("john@example.org")->spam_messages, 1u);
}

// Expiry runs on the drainer after learning (never on the caller's thread), for the user
// that learned, and at most once per expiry period.
TEST_F(BayesTrainer, ExpiresTheUsersOldTokensAfterLearningOncePerPeriod) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto seed = [&](uint64_t first, int64_t atime) {
    auto b = open_sqlite_bayes_backend(db_);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE((*b)->begin().ok());
    // One second apart: token `first` is the oldest.
    for (uint64_t t = first; t < first + 300; ++t) {
      const int64_t when = atime + static_cast<int64_t>(t - first);
      ASSERT_TRUE((*b)->add_tokens("john@example.org", {{t, 1, 0}}, when).ok());
      ASSERT_TRUE((*b)->add_tokens("jane@example.org", {{t, 1, 0}}, when).ok());
    }
    ASSERT_TRUE((*b)->commit().ok());
  };
  seed(1, now - 40 * 86400);
  bayes_trainer trainer(pool_, [path = db_] {
    auto s = bayes_store::open(path);
    if (s.ok()) {
      bayes_expiry_options o;
      o.max_db_size = 200;
      o.min_keep = 0;
      o.min_reduction = 1;
      (*s)->set_expiry_options(o);
    }
    return s;
  });
  const std::string junk = write_message(".Junk/cur", "1700000009.M9P1.host:2,S", "Cheap pills",
                                         "Buy cheap pills now, limited offer, click here");
  ASSERT_TRUE(trainer.learn("john@example.org", {junk}, true));
  trainer.wait_idle();
  // 300 old + the message's new tokens, keep 150 (75 % of 200): the oldest go, never the
  // message's, learned just now.
  auto m = model("john@example.org");
  size_t fresh = 0;
  for (const auto& [t, c] : m->tokens) fresh += (t < 1 || t > 300) ? 1 : 0;
  ASSERT_GT(fresh, 10u);
  ASSERT_LT(fresh, 150u);
  const uint64_t removed = 300 + fresh - 150;
  EXPECT_EQ(m->tokens.size(), 150u);
  EXPECT_EQ(trainer.stats().expired_tokens, removed);
  for (uint64_t t = 1; t <= 300; ++t) EXPECT_EQ(m->tokens.contains(t), t > removed) << t;
  EXPECT_EQ(m->spam_messages, 1u);
  EXPECT_EQ(model("jane@example.org")->tokens.size(), 300u) << "only the user who learned is expired";

  // More old tokens, learning again within the period: no second run.
  seed(1000, now - 40 * 86400);
  const std::string more = write_message(".Junk/cur", "1700000010.M10P1.host:2,S", "Cheap watches",
                                         "Replica watches at low prices");
  ASSERT_TRUE(trainer.learn("john@example.org", {more}, true));
  trainer.wait_idle();
  EXPECT_EQ(trainer.stats().expired_tokens, removed);
  EXPECT_TRUE(model("john@example.org")->tokens.contains(1000));
}

}  // namespace
}  // namespace ringmail::spam
