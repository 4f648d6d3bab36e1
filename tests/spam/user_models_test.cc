// user_models (spam/bayes/user_models.h): the per-shard cache of recipients' own Bayes
// models. find() never waits for the store: a miss answers nullptr (the global verdict)
// and loads on the pool; a trained user's model then comes from memory; untrained users
// get nullptr; entries are reloaded after ttl; memory stays within max_bytes.
#include "spam/bayes/user_models.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "runtime/offload_pool.h"
#include "tests/runtime/test_util.h"
#include "spam/bayes/bayes.h"

namespace ringmail::spam {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string message(bool spam, int i) {
  return absl::StrCat("Message-ID: <", spam ? "s" : "h", i, "@test>\r\nSubject: ", spam ? "cheap pills" : "agenda",
                      "\r\n\r\n", spam ? "cheap pills casino offer" : "meeting agenda project notes", " ref", i, "\r\n");
}

class UserModels : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("user_models_test." + std::to_string(::getpid()) + "." +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "bayes.sqlite").string();
    auto s = bayes_store::open(db_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    train("trained@example.org", 0, 200);
    train("small@example.org", 0, 20);
    reactor_ = testing::make_reactor();
  }
  void TearDown() override {
    // Loads in flight hop back to the reactor: let them land before it goes.
    if (reactor_) drain();
    fs::remove_all(dir_);
  }

  void train(const std::string& user, int from, int to) {
    auto batch = store_->begin_batch();
    ASSERT_TRUE(batch.ok());
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE(learn_message(**batch, user, message(true, i), true).ok());
      ASSERT_TRUE(learn_message(**batch, user, message(false, i), false).ok());
    }
    ASSERT_TRUE((*batch)->commit().ok());
  }

  user_models::store_opener opener() {
    return [this] {
      ++opens_;
      return bayes_store::open(db_);
    };
  }

  // Runs the reactor until `models` has finished `loads` loads (or failures).
  void wait_loads(user_models& models, uint64_t loads) {
    reactor_->block_on([](user_models& m, uint64_t n) -> task<void> {
      for (int i = 0; i < 2000 && m.stats().loads + m.stats().failures < n; ++i) co_await sleep_for(5ms);
    }(models, loads));
    ASSERT_GE(models.stats().loads + models.stats().failures, loads);
  }
  // find() as a shard calls it: a miss starts a load that resumes on the calling
  // reactor (off a reactor there is none to come back to).
  std::shared_ptr<const bayes_model> find(user_models& m, const std::string& user,
                                          user_models::clock::time_point now = user_models::clock::now()) {
    std::shared_ptr<const bayes_model> out;
    reactor_->block_on([](user_models& m, const std::string& user, user_models::clock::time_point now,
                          std::shared_ptr<const bayes_model>& out) -> task<void> {
      out = m.find(user, now);
      co_return;
    }(m, user, now, out));
    return out;
  }
  void drain() {
    reactor_->block_on([]() -> task<void> { co_await sleep_for(50ms); }());
  }

  fs::path dir_;
  std::string db_;
  std::unique_ptr<bayes_store> store_;
  std::unique_ptr<reactor> reactor_;
  offload_pool pool_{2};
  std::atomic<int> opens_{0};
};

TEST_F(UserModels, AMissLoadsOnThePoolAndATrainedUserThenComesFromMemory) {
  user_models models(pool_, opener());
  std::shared_ptr<const bayes_model> first;
  reactor_->block_on([](user_models& m, std::shared_ptr<const bayes_model>& out) -> task<void> {
    out = m.find("trained@example.org");  // on the shard: never waits
    co_return;
  }(models, first));
  EXPECT_EQ(first, nullptr) << "a cold miss answers the global verdict";
  EXPECT_EQ(models.stats().misses, 1u);
  wait_loads(models, 1);
  auto model = find(models, "trained@example.org");
  ASSERT_NE(model, nullptr);
  EXPECT_TRUE(model->ready());
  EXPECT_EQ(model->spam_messages, 200u);
  EXPECT_EQ(find(models, "trained@example.org"), model) << "the same snapshot, no reload within ttl";
  EXPECT_EQ(models.stats().loads, 1u);
  EXPECT_EQ(models.stats().hits, 2u);
  EXPECT_EQ(opens_.load(), 1);
}

TEST_F(UserModels, TooLittleTrainingOrNoStoreGivesNoModel) {
  user_models models(pool_, opener());
  EXPECT_EQ(find(models, "small@example.org"), nullptr);
  EXPECT_EQ(find(models, "nobody@example.org"), nullptr);
  wait_loads(models, 2);
  EXPECT_EQ(find(models, "small@example.org"), nullptr) << "20/20 is below bayes_min_spam_num/ham_num";
  EXPECT_EQ(find(models, "nobody@example.org"), nullptr);
  EXPECT_EQ(models.stats().loads, 2u) << "the untrained answer is remembered too";
  EXPECT_EQ(models.stats().hits, 2u);

  // A server whose store file does not exist yet (opener gives nullptr): no model.
  user_models none(pool_, [] { return absl::StatusOr<std::unique_ptr<bayes_store>>(std::unique_ptr<bayes_store>()); });
  EXPECT_EQ(find(none, "trained@example.org"), nullptr);
  wait_loads(none, 1);
  EXPECT_EQ(find(none, "trained@example.org"), nullptr);
  EXPECT_EQ(none.stats().failures, 0u);
}

TEST_F(UserModels, AnEntryOlderThanTtlIsReloadedWhileTheOldOneServes) {
  user_models_options o;
  o.ttl = 10s;
  user_models models(pool_, opener(), o);
  find(models, "small@example.org");
  wait_loads(models, 1);
  EXPECT_EQ(find(models, "small@example.org"), nullptr);
  train("small@example.org", 20, 200);  // now 200/200: trained
  EXPECT_EQ(find(models, "small@example.org"), nullptr) << "within ttl: the remembered answer";
  const auto later = user_models::clock::now() + 11s;
  EXPECT_EQ(find(models, "small@example.org", later), nullptr) << "stale answers while the reload runs";
  wait_loads(models, 2);
  auto model = find(models, "small@example.org");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->ham_messages, 200u);

  // A failed reload keeps the model it had.
  user_models flaky(pool_, [this, calls = std::make_shared<int>(0)]() -> absl::StatusOr<std::unique_ptr<bayes_store>> {
    if ((*calls)++ == 0) return bayes_store::open(db_);
    return absl::UnavailableError("database down");
  }, o);
  find(flaky, "trained@example.org");
  wait_loads(flaky, 1);
  auto kept = find(flaky, "trained@example.org");
  ASSERT_NE(kept, nullptr);
  // The store stays open once opened, so a reload does not call the opener again; it
  // succeeds and gives an equal model.
  find(flaky, "trained@example.org", user_models::clock::now() + 11s);
  wait_loads(flaky, 2);
  EXPECT_NE(find(flaky, "trained@example.org"), nullptr);
}

TEST_F(UserModels, MemoryStaysWithinTheBound) {
  for (int u = 0; u < 4; ++u) train(absl::StrCat("u", u, "@example.org"), 0, 200);
  user_models probe(pool_, opener());
  find(probe, "u0@example.org");
  wait_loads(probe, 1);
  auto one = find(probe, "u0@example.org");
  ASSERT_NE(one, nullptr);
  const size_t model_size = user_models::model_bytes(*one);

  user_models_options o;
  o.max_bytes = model_size * 2 + 1024;  // room for two models
  user_models models(pool_, opener(), o);
  for (int u = 0; u < 4; ++u) {
    find(models, absl::StrCat("u", u, "@example.org"));
    wait_loads(models, u + 1);
    EXPECT_LE(models.stats().bytes, o.max_bytes);
  }
  EXPECT_GE(models.stats().evictions, 2u);
  EXPECT_NE(find(models, "u3@example.org"), nullptr) << "the most recent stays";
  EXPECT_LE(models.stats().entries, 3u);

  // A model larger than the whole bound is not kept: that user gets the global verdict.
  user_models_options tiny;
  tiny.max_bytes = model_size / 2;
  user_models small(pool_, opener(), tiny);
  find(small, "u0@example.org");
  wait_loads(small, 1);
  EXPECT_EQ(find(small, "u0@example.org"), nullptr);
  EXPECT_LE(small.stats().bytes, tiny.max_bytes);
}

}  // namespace
}  // namespace ringmail::spam
