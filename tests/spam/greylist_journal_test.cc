// spam/greylist_journal.h on a reactor with a real offload pool: changes recorded on the
// shard reach the file within a period while run() goes on, the last ones at stop, and
// a file grown past twice the live entries is compacted on the pool.
#include "spam/greylist_journal.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "runtime/offload_pool.h"
#include "runtime/reactor.h"
#include "runtime/task_scope.h"
#include "spam/greylist_store.h"
#include "tests/runtime/test_util.h"

namespace ringmail::spam {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

size_t count_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

class GreylistJournal : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("greylist_journal_test." + std::to_string(::getpid()) + "." +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "shard-0.log").string();
    reactor_ = testing::make_reactor();
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string path_;
  offload_pool pool_{1};
  std::unique_ptr<reactor> reactor_;
};

TEST_F(GreylistJournal, FlushesWhileRunningAndAtStop) {
  ASSERT_TRUE(reactor_);
  greylist_options o;
  greylist_table table(o);
  greylist_journal_options jo;
  jo.period = 100ms;
  greylist_journal journal(pool_, path_, o, jo, 0);
  size_t during = 0, after = 0;
  reactor_->block_on([](greylist_journal& j, greylist_table& t, const std::string& path, size_t& during,
                        size_t& after) -> task<void> {
    cancel_source stop;
    task_scope scope;
    scope.spawn(j.run(t, stop));
    const auto now = std::chrono::system_clock::now();
    t.check("a", now);
    j.record("a", *t.find("a"));
    co_await sleep_for(400ms);
    during = count_lines(path);  // written by a periodic flush, not by the stop
    t.check("b", now);
    j.record("b", *t.find("b"));
    stop.request_cancel();
    co_await scope.join();
    after = count_lines(path);
  }(journal, table, path_, during, after));
  EXPECT_EQ(during, 1u);
  EXPECT_EQ(after, 2u) << "the change recorded just before the stop is written by the last flush";
  EXPECT_EQ(journal.pending_records(), 0u);
  auto loaded = read_greylist_files({path_}, o, std::chrono::system_clock::now());
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->size(), 2u);
}

TEST_F(GreylistJournal, CompactsWhenTheFileOutgrowsTheTable) {
  ASSERT_TRUE(reactor_);
  greylist_options o;
  greylist_table table(o);
  greylist_journal_options jo;
  jo.compact_floor = 10;
  greylist_journal journal(pool_, path_, o, jo, 0);
  reactor_->block_on([](greylist_journal& j, greylist_table& t) -> task<void> {
    const auto t0 = std::chrono::system_clock::now();
    // One key checked 30 times: 30 records for 1 live entry, over 2 * 1 + 10.
    for (int i = 0; i < 30; ++i) {
      t.check("hot", t0 + std::chrono::milliseconds(i));
      j.record("hot", *t.find("hot"));
    }
    co_await j.flush(t.size());
  }(journal, table));
  EXPECT_EQ(count_lines(path_), 1u) << "compacted to the one live entry";
  EXPECT_EQ(journal.records_on_disk(), 1u);
  // A few more records do not compact again: the file must double over what was kept.
  reactor_->block_on([](greylist_journal& j, greylist_table& t) -> task<void> {
    for (int i = 0; i < 5; ++i) {
      t.check("hot", std::chrono::system_clock::now());
      j.record("hot", *t.find("hot"));
    }
    co_await j.flush(t.size());
  }(journal, table));
  EXPECT_EQ(count_lines(path_), 6u);
  EXPECT_EQ(journal.records_on_disk(), 6u);
}

TEST_F(GreylistJournal, AFailingWriteIsNotFatal) {
  ASSERT_TRUE(reactor_);
  greylist_options o;
  greylist_table table(o);
  const std::string bad = (dir_ / "missing-dir" / "shard-0.log").string();
  greylist_journal journal(pool_, bad, o, greylist_journal_options{}, 0);
  reactor_->block_on([](greylist_journal& j, greylist_table& t) -> task<void> {
    t.check("k", std::chrono::system_clock::now());
    j.record("k", *t.find("k"));
    co_await j.flush(t.size());
  }(journal, table));
  EXPECT_EQ(journal.pending_records(), 0u) << "the batch is dropped, memory stays bounded";
  EXPECT_FALSE(fs::exists(bad));
}

}  // namespace
}  // namespace ringmail::spam
