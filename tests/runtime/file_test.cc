// File operations through the ring: the Maildir delivery pattern end to end.
#include "runtime/file.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"

namespace ringmail {
namespace {

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/ringmail-file-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    reactor_ = testing::make_reactor();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  std::unique_ptr<reactor> reactor_;
};

TEST_F(FileTest, WriteSyncRenameIntoNewReadBack) {
  const std::string payload = "Return-Path: <a@b>\r\nSubject: hi\r\n\r\nbody\r\n";
  auto outcome = reactor_->block_on([&]() -> task<std::string> {
    EXPECT_TRUE((co_await make_directory(dir_ + "/tmp", 0700)).ok());
    EXPECT_TRUE((co_await make_directory(dir_ + "/new", 0700)).ok());
    auto f = co_await file::open(dir_ + "/tmp/msg", O_CREAT | O_EXCL | O_WRONLY, 0600);
    EXPECT_TRUE(f.ok());
    EXPECT_TRUE((co_await f->write_at(std::span<const char>(payload.data(), payload.size()), 0)).ok());
    EXPECT_TRUE((co_await f->sync()).ok());
    EXPECT_TRUE((co_await f->close()).ok());
    EXPECT_TRUE((co_await rename_path(dir_ + "/tmp/msg", dir_ + "/new/msg")).ok());
    auto d = co_await file::open(dir_ + "/new", O_RDONLY | O_DIRECTORY);
    EXPECT_TRUE(d.ok());
    EXPECT_TRUE((co_await d->sync()).ok()) << "the directory entry must be made durable too";
    auto st = co_await stat_path(dir_ + "/new/msg");
    EXPECT_TRUE(st.ok());
    EXPECT_EQ(st->stx_size, payload.size());
    EXPECT_EQ(st->stx_mode & 0777, 0600u);
    auto r = co_await file::open(dir_ + "/new/msg", O_RDONLY);
    std::string back(payload.size() + 10, '\0');
    auto n = co_await r->read_at(std::span<char>(back.data(), back.size()), 0);
    EXPECT_TRUE(n.ok());
    back.resize(*n);
    co_return back;
  }());
  EXPECT_EQ(outcome, payload);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/tmp/msg"));
}

// write_all_at: many pieces (empty ones, more than one writev's 1024 iovecs, a big one)
// land back to back at the offset, in one request per round.
TEST_F(FileTest, WriteAllAtGathersPieces) {
  std::vector<std::string> owned;
  owned.push_back("head\n");
  owned.push_back("");
  for (int i = 0; i < 2000; ++i) owned.push_back(std::to_string(i) + ",");
  owned.push_back(std::string(3 << 20, 'x'));
  owned.push_back("");
  owned.push_back("tail\n");
  std::string expected = "PRE";
  for (const std::string& o : owned) expected += o;
  std::vector<std::string_view> pieces(owned.begin(), owned.end());
  auto back = reactor_->block_on([&]() -> task<std::string> {
    auto f = co_await file::open(dir_ + "/gathered", O_CREAT | O_EXCL | O_RDWR, 0600);
    EXPECT_TRUE(f.ok());
    EXPECT_TRUE((co_await f->write_at(std::span<const char>("PRE", 3), 0)).ok());
    EXPECT_TRUE((co_await f->write_all_at(pieces, 3)).ok());
    std::string out(expected.size() + 10, '\0');
    auto n = co_await f->read_at(std::span<char>(out.data(), out.size()), 0);
    EXPECT_TRUE(n.ok());
    out.resize(n.ok() ? *n : 0);
    co_await f->close();
    co_return out;
  }());
  EXPECT_EQ(back.size(), expected.size());
  EXPECT_TRUE(back == expected);
}

TEST_F(FileTest, ExclusiveCreateFailsOnExistingFile) {
  auto kind = reactor_->block_on([&]() -> task<int> {
    auto a = co_await file::open(dir_ + "/x", O_CREAT | O_EXCL | O_WRONLY);
    EXPECT_TRUE(a.ok());
    auto b = co_await file::open(dir_ + "/x", O_CREAT | O_EXCL | O_WRONLY);
    co_return b.status().error_number;
  }());
  EXPECT_EQ(kind, EEXIST);
}

TEST_F(FileTest, LinkUnlinkAndStatOfMissingFile) {
  reactor_->block_on([&]() -> task<void> {
    auto f = co_await file::open(dir_ + "/a", O_CREAT | O_WRONLY);
    co_await f->write_at(std::span<const char>("abc", 3), 0);
    co_await f->data_sync();
    EXPECT_TRUE((co_await link_path(dir_ + "/a", dir_ + "/b")).ok());
    auto st = co_await f->stat();
    EXPECT_TRUE(st.ok());
    EXPECT_EQ(st->stx_nlink, 2u);
    EXPECT_TRUE((co_await unlink_path(dir_ + "/a")).ok());
    auto gone = co_await stat_path(dir_ + "/a");
    EXPECT_EQ(gone.status().error_number, ENOENT);
    auto b = co_await stat_path(dir_ + "/b");
    EXPECT_EQ(b->stx_size, 3u);
    EXPECT_EQ((co_await link_path(dir_ + "/b", dir_ + "/b")).error_number, EEXIST);
  }());
}

TEST_F(FileTest, LargeWriteAndChunkedRead) {
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  auto back = reactor_->block_on([&]() -> task<std::string> {
    auto f = co_await file::open(dir_ + "/big", O_CREAT | O_RDWR);
    EXPECT_TRUE((co_await f->write_at(std::span<const char>(big.data(), big.size()), 0)).ok());
    std::string out;
    std::string chunk(65536, '\0');
    uint64_t off = 0;
    for (;;) {
      auto n = co_await f->read_at(std::span<char>(chunk.data(), chunk.size()), off);
      EXPECT_TRUE(n.ok());
      if (!n.ok() || *n == 0) break;
      out.append(chunk.data(), *n);
      off += *n;
    }
    co_return out;
  }());
  EXPECT_TRUE(back == big);
}

TEST_F(FileTest, ConcurrentWritersOnOneShard) {
  auto ok = reactor_->block_on([&]() -> task<int> {
    std::vector<task<bool>> writers;
    for (int i = 0; i < 100; ++i) {
      writers.push_back([](std::string path, int i) -> task<bool> {
        auto f = co_await file::open(path, O_CREAT | O_EXCL | O_WRONLY);
        if (!f.ok()) co_return false;
        std::string body = "message " + std::to_string(i);
        if (!(co_await f->write_at(std::span<const char>(body.data(), body.size()), 0)).ok()) co_return false;
        co_return (co_await f->sync()).ok();
      }(dir_ + "/m" + std::to_string(i), i));
    }
    auto results = co_await when_all(std::move(writers));
    co_return static_cast<int>(std::count(results.begin(), results.end(), true));
  }());
  EXPECT_EQ(ok, 100);
  for (int i = 0; i < 100; ++i) {
    std::ifstream in(dir_ + "/m" + std::to_string(i));
    std::string content((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(content, "message " + std::to_string(i));
  }
}

}  // namespace
}  // namespace ringmail
