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

}  // namespace
}  // namespace ringmail::fts
