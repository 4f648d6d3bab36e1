// delivery/fts/text_index_store.h: one user's folder indexes on disk, through the ring:
// write, reopen, and the files that must not be trusted (torn, garbled, another
// UIDVALIDITY) give an empty index to be rebuilt, never a wrong one.
#include "delivery/fts/text_index_store.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/task_scope.h"
#include "tests/runtime/test_util.h"

namespace ringmail::fts {
namespace {

std::vector<uint32_t> grams(std::string_view s) {
  std::vector<uint32_t> g;
  add_grams(s, g);
  return g;
}

class FtsStore : public ::testing::Test {
 protected:
  void SetUp() override {
    shards_ = testing::make_shards(1);
    ASSERT_NE(shards_, nullptr);
    dir_ = std::filesystem::temp_directory_path() / ("fts_store_" + std::to_string(getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    shards_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A fresh store (a restarted server) opening the folder: (from_file, size, "warning" hits).
  struct opened {
    bool from_file = false;
    size_t size = 0;
    std::vector<uint32_t> hits;
  };
  opened reopen(uint32_t uid_validity) {
    return testing::run_on(*shards_, 0, [this, uid_validity]() -> task<opened> {
      user_text_index store;
      auto e = co_await store.folder(dir_.string(), uid_validity);
      co_return opened{e->from_file, e->index.size(), e->index.query("warning").uids};
    });
  }
  // Indexes three messages and writes the file.
  void write_sample() {
    absl::Status st = testing::run_on(*shards_, 0, [this]() -> task<absl::Status> {
      user_text_index store;
      auto e = co_await store.folder(dir_.string(), 42);
      EXPECT_FALSE(e->from_file);
      e->index.add(1, grams("a warning"));
      e->index.add(2, grams("nothing"));
      e->index.add(3, grams("warnings"));
      for (uint32_t u = 10; u < 40; ++u) e->index.add(u, grams("filler"));
      e->unsaved = 2;
      // Under a tenth of the index: not written unless forced.
      EXPECT_TRUE((co_await store.save(dir_.string())).ok());
      EXPECT_FALSE(std::filesystem::exists(dir_.string() + kIndexFileName));
      co_return co_await store.save(dir_.string(), /*force=*/true);
    });
    ASSERT_TRUE(st.ok()) << st;
  }
  std::string file() const { return dir_.string() + kIndexFileName; }

  std::unique_ptr<shard_set> shards_;
  std::filesystem::path dir_;
};

TEST_F(FtsStore, NoFileIsEmpty) {
  opened o = reopen(42);
  EXPECT_FALSE(o.from_file);
  EXPECT_EQ(o.size, 0u);
}

TEST_F(FtsStore, WriteAndReopen) {
  write_sample();
  opened o = reopen(42);
  EXPECT_TRUE(o.from_file);
  EXPECT_EQ(o.size, 33u);
  EXPECT_EQ(o.hits, (std::vector<uint32_t>{1, 3}));
}

TEST_F(FtsStore, OtherUidValidityIsRebuilt) {
  write_sample();
  opened o = reopen(43);
  EXPECT_FALSE(o.from_file);
  EXPECT_EQ(o.size, 0u);
}

// A folder renamed away and created again at the same path within the same second has
// the same UIDVALIDITY (a time): the index kept in memory must not serve the new folder.
TEST_F(FtsStore, AnotherFolderAtTheSamePathIsNotServedTheOldIndex) {
  auto sizes = testing::run_on(*shards_, 0, [this]() -> task<std::pair<size_t, size_t>> {
    user_text_index store;
    auto old_folder = co_await store.folder(dir_.string(), 42, "guid-a");
    old_folder->index.add(1, grams("a warning"));
    auto again = co_await store.folder(dir_.string(), 42, "guid-a");
    auto other = co_await store.folder(dir_.string(), 42, "guid-b");
    co_return std::pair<size_t, size_t>{again->index.size(), other->index.size()};
  });
  EXPECT_EQ(sizes.first, 1u);
  EXPECT_EQ(sizes.second, 0u);
}

TEST_F(FtsStore, TornFileIsRebuilt) {
  write_sample();
  const auto full = std::filesystem::file_size(file());
  std::filesystem::resize_file(file(), full / 2);
  opened o = reopen(42);
  EXPECT_FALSE(o.from_file);
  EXPECT_EQ(o.size, 0u);
  std::filesystem::resize_file(file(), 0);  // rename landed, data did not (no fsync)
  EXPECT_FALSE(reopen(42).from_file);
}

TEST_F(FtsStore, GarbledFileIsRebuilt) {
  write_sample();
  {
    std::fstream f(file(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');
  }
  opened o = reopen(42);
  EXPECT_FALSE(o.from_file);
  EXPECT_EQ(o.size, 0u);
}

TEST_F(FtsStore, RemovedMessagesAreCompactedBeforeWriting) {
  write_sample();
  absl::Status st = testing::run_on(*shards_, 0, [this]() -> task<absl::Status> {
    user_text_index store;
    auto e = co_await store.folder(dir_.string(), 42);
    const uint32_t live[] = {2, 3};
    e->unsaved += e->index.retain(live);  // 1 and the fillers were expunged
    co_return co_await store.save(dir_.string());  // due: most of it changed
  });
  ASSERT_TRUE(st.ok()) << st;
  opened o = reopen(42);
  EXPECT_TRUE(o.from_file);
  EXPECT_EQ(o.size, 2u);
  EXPECT_EQ(o.hits, (std::vector<uint32_t>{3}));
}

// A save reads the index on the offload pool: meanwhile the owner keeps going. A message
// indexed during the save waits (pending, known) and lands in memory when the save's job
// returns; the file holds exactly the index as it was when the save began; queries
// answer the same before, during and after.
TEST_F(FtsStore, AddsDuringASaveWaitAndTheFileIsTheSnapshot) {
  write_sample();
  struct seen {
    bool frozen_during = false, pending_known = false, in_index_during = false;
    std::vector<uint32_t> hits_during, hits_after;
    bool in_index_after = false, known_after = false;
    size_t removed_after = 99;
    absl::Status saved;
  };
  seen s = testing::run_on(*shards_, 0, [this]() -> task<seen> {
    seen r;
    user_text_index store;
    auto e = co_await store.folder(dir_.string(), 42);
    const uint32_t live[] = {1, 2, 3};  // the fillers were expunged: the save compacts
    e->unsaved += e->index.retain(live);
    task_scope scope;
    auto save = [&]() -> task<void> { r.saved = co_await store.save(dir_.string()); };
    scope.spawn(save());  // runs until it hops to the pool
    r.frozen_during = e->frozen;
    e->add(4, grams("warning again"));
    r.pending_known = e->known(4);
    r.in_index_during = e->index.contains(4);
    r.hits_during = e->index.query("warning").uids;
    co_await scope.join();
    r.in_index_after = e->index.contains(4);
    r.known_after = e->known(4);
    r.hits_after = e->index.query("warning").uids;
    r.removed_after = e->index.removed_since_compact();
    co_return r;
  });
  ASSERT_TRUE(s.saved.ok()) << s.saved;
  EXPECT_TRUE(s.frozen_during);
  EXPECT_TRUE(s.pending_known);
  EXPECT_FALSE(s.in_index_during);
  EXPECT_EQ(s.hits_during, (std::vector<uint32_t>{1, 3}));
  EXPECT_TRUE(s.in_index_after);
  EXPECT_TRUE(s.known_after);
  EXPECT_EQ(s.hits_after, (std::vector<uint32_t>{1, 3, 4}));
  EXPECT_EQ(s.removed_after, 0u);  // the compacted copy was swapped in
  opened o = reopen(42);
  EXPECT_TRUE(o.from_file);
  EXPECT_EQ(o.size, 3u);  // 1, 2, 3: not 4, which came after the snapshot
  EXPECT_EQ(o.hits, (std::vector<uint32_t>{1, 3}));
}

// loaded() (APPEND's check) never reads a file: only an index already in memory, and only
// for the same folder (UIDVALIDITY and MAILBOXID).
TEST_F(FtsStore, LoadedOnlyAnswersFromMemory) {
  write_sample();  // a file exists, but this store has not loaded it
  auto r = testing::run_on(*shards_, 0, [this]() -> task<std::vector<bool>> {
    user_text_index store;
    std::vector<bool> out;
    out.push_back(store.loaded(dir_.string(), 42, "g") != nullptr);
    auto e = co_await store.folder(dir_.string(), 42, "g");
    out.push_back(store.loaded(dir_.string(), 42, "g") == e);
    out.push_back(store.loaded(dir_.string(), 43, "g") != nullptr);
    out.push_back(store.loaded(dir_.string(), 42, "other") != nullptr);
    co_return out;
  });
  EXPECT_EQ(r, (std::vector<bool>{false, true, false, false}));
}

// While frozen, pruning is refused (the pool is reading present_); afterwards it works.
TEST_F(FtsStore, PruneWaitsForTheFreeze) {
  auto r = testing::run_on(*shards_, 0, [this]() -> task<std::pair<bool, size_t>> {
    user_text_index store;
    auto e = co_await store.folder(dir_.string(), 42);
    e->add(1, grams("a warning"));
    e->add(2, grams("nothing"));
    const uint32_t live[] = {2};
    e->frozen = true;
    const bool pruned_frozen = e->prune(live);
    const size_t size_frozen = e->index.size();
    e->thaw();
    EXPECT_TRUE(e->prune(live));
    EXPECT_EQ(e->index.size(), 1u);
    co_return std::pair<bool, size_t>{pruned_frozen, size_frozen};
  });
  EXPECT_FALSE(r.first);
  EXPECT_EQ(r.second, 2u);
}

}  // namespace
}  // namespace ringmail::fts
