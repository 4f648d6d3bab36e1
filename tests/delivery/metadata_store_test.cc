// METADATA entries (RFC 5464) in the mail store: the file format (metadata_format.h), its
// refusal of torn and corrupted files, and the store's durable read/replace through the
// mailbox (metadata_store.h): follows RENAME, goes with DELETE, crash leftovers ignored.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "delivery/mailstore/mail_store.h"
#include "delivery/mailstore/maildir_writer.h"
#include "delivery/mailstore/metadata_format.h"
#include "delivery/mailstore/metadata_store.h"
#include "gtest/gtest.h"
#include "runtime/shard_set.h"
#include "tests/runtime/test_util.h"

namespace ringmail::mailstore {
namespace {

namespace fs = std::filesystem;

TEST(MetadataFormat, NamesFollowRfc5464Section32) {
  EXPECT_TRUE(valid_metadata_name("/private/comment"));
  EXPECT_TRUE(valid_metadata_name("/shared/comment"));
  EXPECT_TRUE(valid_metadata_name("/Shared/Vendor/Acme/x"));
  EXPECT_TRUE(valid_metadata_name("/private/a.b-c_d"));
  EXPECT_FALSE(valid_metadata_name(""));
  EXPECT_FALSE(valid_metadata_name("/comment"));           // neither tree
  EXPECT_FALSE(valid_metadata_name("/private"));           // the tree itself
  EXPECT_FALSE(valid_metadata_name("/private/"));
  EXPECT_FALSE(valid_metadata_name("/private/a/"));        // ends with "/"
  EXPECT_FALSE(valid_metadata_name("/private//a"));        // "//"
  EXPECT_FALSE(valid_metadata_name("/private/a*"));
  EXPECT_FALSE(valid_metadata_name("/private/a%"));
  EXPECT_FALSE(valid_metadata_name("/private/a\x01"));
  EXPECT_FALSE(valid_metadata_name("/private/\xc3\xa9"));  // non-ASCII
  EXPECT_FALSE(valid_metadata_name("/private/a\x7f"));
  EXPECT_TRUE(valid_metadata_name("/private/" + std::string(kMaxMetadataNameBytes - 9, 'a')));
  EXPECT_FALSE(valid_metadata_name("/private/" + std::string(kMaxMetadataNameBytes - 8, 'a')));
  EXPECT_EQ(canonical_metadata_name("/Shared/Comment"), "/shared/comment");
}

metadata_entries sample() {
  metadata_entries e;
  e["/private/comment"] = "My own comment";
  e["/shared/comment"] = "Shared";
  e["/shared/vendor/x/bin"] = std::string("a\0b\r\n\xff end 1 x\n", 15);
  e["/private/empty"] = "";
  return e;
}

TEST(MetadataFormat, RoundTrip) {
  const metadata_entries e = sample();
  const std::string file = format_metadata(e);
  auto back = parse_metadata(file);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, e);
  auto empty = parse_metadata(format_metadata({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_TRUE(parse_metadata("").ok());  // no file yet
}

// A torn write (any strict prefix) and any one corrupted byte are refused as a whole.
TEST(MetadataFormat, TornAndCorruptFilesAreRefused) {
  const std::string file = format_metadata(sample());
  for (size_t n = 1; n < file.size(); ++n) {
    EXPECT_FALSE(parse_metadata(file.substr(0, n)).ok()) << "prefix of " << n << " bytes";
  }
  for (size_t i = 0; i < file.size(); ++i) {
    std::string bad = file;
    bad[i] ^= 0x20;
    EXPECT_FALSE(parse_metadata(bad).ok()) << "byte " << i << " flipped";
  }
  EXPECT_FALSE(parse_metadata(file + "x").ok());
  EXPECT_FALSE(parse_metadata(file + file).ok());
}

TEST(MetadataFormat, ChangesAreAllOrNothing) {
  metadata_entries e = sample();
  const metadata_entries before = e;
  // One invalid name: nothing changes.
  EXPECT_EQ(apply_metadata_changes(e, {{"/private/new", "v"}, {"/bad", "v"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e, before);
  EXPECT_EQ(apply_metadata_changes(e, {{"/private/new", std::string(kMaxMetadataValueBytes + 1, 'x')}}).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(e, before);
  // Too many entries.
  std::vector<metadata_change> many;
  for (size_t i = 0; i < kMaxMetadataEntries; ++i) many.push_back({"/private/n" + std::to_string(i), "v"});
  EXPECT_EQ(apply_metadata_changes(e, many).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(e, before);
  // Set (case-insensitively) and delete with NIL.
  ASSERT_TRUE(apply_metadata_changes(e, {{"/PRIVATE/Comment", "new"}, {"/shared/comment", std::nullopt}}).ok());
  EXPECT_EQ(e["/private/comment"], "new");
  EXPECT_FALSE(e.contains("/shared/comment"));
  // Deleting what is absent is fine; a full set may still shrink.
  EXPECT_TRUE(apply_metadata_changes(e, {{"/private/absent", std::nullopt}}).ok());
}

constexpr char kUser[] = "meta@example.org";

class MetadataStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string base = ::access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : ::testing::TempDir();
    std::string tmpl = base + "/ringmail-metadata-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    maildir_ = root_ + "/example.org/meta/Maildir";
    shards_ = testing::make_shards(1);
    ASSERT_NE(shards_, nullptr);
    testing::run_on(*shards_, 0, [this]() -> task<void> {
      writer_options wo;
      wo.hostname = "mx.example.org";
      wo.fsync = true;
      writer_ = std::make_unique<maildir_writer>(wo);
      store_options so;
      so.fsync = true;
      store_ = std::make_unique<mail_store>(root_, so, *writer_, shards_->offload());
      co_return;
    });
  }

  void TearDown() override {
    testing::run_on(*shards_, 0, [this]() -> task<void> {
      absl::Status st = co_await store_->close_all();
      EXPECT_TRUE(st.ok()) << st;
      store_.reset();
      writer_.reset();
    });
    shards_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  template <typename F>
  auto on_box(F fn) {
    using R = typename detail::unwrap_task<std::invoke_result_t<F&, mailbox&>>::type;
    return testing::run_on(*shards_, 0, [this, fn]() mutable -> task<R> {
      auto box = store_->mailbox_for(kUser);
      EXPECT_TRUE(box.ok()) << box.status();
      auto t = fn(**box);
      co_return co_await std::move(t);
    });
  }

  absl::StatusOr<metadata_entries> get(std::string folder) {
    return on_box([folder](mailbox& b) { return b.metadata(folder); });
  }
  absl::Status set(std::string folder, std::vector<metadata_change> changes) {
    return on_box([folder, changes](mailbox& b) { return b.set_metadata(folder, changes); });
  }
  absl::Status create(std::string name) {
    return on_box([name](mailbox& b) { return b.create_folder(name); });
  }
  absl::Status rename(std::string from, std::string to) {
    return on_box([from, to](mailbox& b) { return b.rename_folder(from, to); });
  }
  absl::Status remove(std::string name) {
    return on_box([name](mailbox& b) { return b.delete_folder(name); });
  }

  std::string root_, maildir_;
  std::unique_ptr<shard_set> shards_;
  std::unique_ptr<maildir_writer> writer_;
  std::unique_ptr<mail_store> store_;
};

TEST_F(MetadataStoreTest, FolderAndServerEntriesAreKeptApartAndDurable) {
  ASSERT_TRUE(create("Work").ok());
  ASSERT_TRUE(set("Work", {{"/private/comment", "work private"}, {"/shared/comment", "work shared"}}).ok());
  ASSERT_TRUE(set("inbox", {{"/shared/comment", "inbox shared"}}).ok());
  ASSERT_TRUE(set("", {{"/private/vendor/x", "server"}}).ok());
  auto work = get("Work");
  ASSERT_TRUE(work.ok()) << work.status();
  EXPECT_EQ(work->size(), 2u);
  EXPECT_EQ((*work)["/private/comment"], "work private");
  EXPECT_EQ((*work)["/shared/comment"], "work shared");
  auto inbox = get("INBOX");
  ASSERT_TRUE(inbox.ok());
  EXPECT_EQ(inbox->size(), 1u);
  auto server = get("");
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(server->size(), 1u);
  EXPECT_EQ((*server)["/private/vendor/x"], "server");
  // On disk where metadata_store.h says, in the documented format.
  std::ifstream in(maildir_ + "/.Work/ringmail-metadata", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(bytes, format_metadata(*work));
  EXPECT_TRUE(fs::exists(maildir_ + "/ringmail-server-metadata"));
  EXPECT_TRUE(fs::exists(maildir_ + "/ringmail-metadata"));
  EXPECT_FALSE(fs::exists(maildir_ + "/.Work/ringmail-metadata.tmp"));
  // NIL deletes.
  ASSERT_TRUE(set("Work", {{"/shared/comment", std::nullopt}}).ok());
  work = get("Work");
  ASSERT_TRUE(work.ok());
  EXPECT_EQ(work->size(), 1u);
}

TEST_F(MetadataStoreTest, MissingFolderIsNotFound) {
  EXPECT_EQ(get("Nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(set("Nope", {{"/private/comment", "x"}}).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(maildir_ + "/.Nope"));
}

TEST_F(MetadataStoreTest, LimitsRefuseWithoutChanging) {
  ASSERT_TRUE(create("Work").ok());
  ASSERT_TRUE(set("Work", {{"/private/comment", "keep"}}).ok());
  EXPECT_EQ(set("Work", {{"/private/a", "x"}, {"/private/big", std::string(kMaxMetadataValueBytes + 1, 'x')}}).code(),
            absl::StatusCode::kOutOfRange);
  std::vector<metadata_change> many;
  for (size_t i = 0; i < kMaxMetadataEntries; ++i) many.push_back({"/shared/n" + std::to_string(i), "v"});
  EXPECT_EQ(set("Work", many).code(), absl::StatusCode::kResourceExhausted);
  auto work = get("Work");
  ASSERT_TRUE(work.ok());
  EXPECT_EQ(work->size(), 1u);
}

TEST_F(MetadataStoreTest, FollowsRenameAndGoesWithDelete) {
  ASSERT_TRUE(create("a").ok());
  ASSERT_TRUE(create("a/b").ok());
  ASSERT_TRUE(set("a", {{"/private/comment", "A"}}).ok());
  ASSERT_TRUE(set("a/b", {{"/private/comment", "B"}}).ok());
  ASSERT_TRUE(rename("a", "z").ok());
  auto z = get("z");
  ASSERT_TRUE(z.ok());
  EXPECT_EQ((*z)["/private/comment"], "A");
  auto zb = get("z/b");
  ASSERT_TRUE(zb.ok());
  EXPECT_EQ((*zb)["/private/comment"], "B");
  EXPECT_EQ(get("a").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(remove("z/b").ok());
  ASSERT_TRUE(create("z/b").ok());  // a new folder of the same name starts empty
  zb = get("z/b");
  ASSERT_TRUE(zb.ok());
  EXPECT_TRUE(zb->empty());
}

// What a crash can leave: a stale .tmp beside the file (crash before the rename) is never
// read; a damaged file (torn by a lying disk) is set aside and reads as empty, and the
// next write works.
TEST_F(MetadataStoreTest, CrashLeftoversAndDamagedFiles) {
  ASSERT_TRUE(create("Work").ok());
  ASSERT_TRUE(set("Work", {{"/private/comment", "durable"}}).ok());
  const std::string file = maildir_ + "/.Work/ringmail-metadata";
  {
    metadata_entries newer;
    newer["/private/comment"] = "never renamed";
    std::string half = format_metadata(newer);
    half.resize(half.size() / 2);
    std::ofstream(file + ".tmp", std::ios::binary) << half;
  }
  auto work = get("Work");
  ASSERT_TRUE(work.ok());
  EXPECT_EQ((*work)["/private/comment"], "durable");
  // A torn file itself.
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign((std::istreambuf_iterator<char>(in)), {});
  }
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 3);
  work = get("Work");
  ASSERT_TRUE(work.ok()) << work.status();
  EXPECT_TRUE(work->empty());
  EXPECT_TRUE(fs::exists(file + ".damaged"));
  ASSERT_TRUE(set("Work", {{"/shared/comment", "again"}}).ok());
  work = get("Work");
  ASSERT_TRUE(work.ok());
  EXPECT_EQ(work->size(), 1u);
}

// NOTIFY's folder-level events: each durable create/rename/delete, (un)subscribe and
// metadata change reaches a user_watch once, in order, with the changed entry names.
TEST_F(MetadataStoreTest, UserEventsReachWatchers) {
  auto w = std::make_shared<user_watch>();
  w->shard = 0;
  on_box([w](mailbox& b) -> task<absl::Status> {
    b.watch_user(w);
    co_return absl::OkStatus();
  });
  ASSERT_TRUE(create("a").ok());
  ASSERT_TRUE(on_box([](mailbox& b) { return b.subscribe("a", true); }).ok());
  ASSERT_TRUE(on_box([](mailbox& b) { return b.subscribe("a", true); }).ok());  // no change: no event
  ASSERT_TRUE(set("a", {{"/private/comment", "x"}, {"/shared/y", "z"}}).ok());
  ASSERT_TRUE(set("a", {{"/private/comment", "x"}}).ok());  // no change: no event
  ASSERT_TRUE(set("", {{"/private/comment", std::nullopt}}).ok());  // nothing to delete
  ASSERT_TRUE(set("", {{"/private/s", "1"}}).ok());
  ASSERT_TRUE(rename("a", "b").ok());
  ASSERT_TRUE(remove("b").ok());
  ASSERT_TRUE(create("x").ok());
  on_box([](mailbox&) -> task<absl::Status> { co_return absl::OkStatus(); });
  std::vector<user_event> want = {
      {.k = user_event::created, .name = "a"},
      {.k = user_event::subscribed, .name = "a"},
      {.k = user_event::metadata_changed, .name = "a", .entries = {"/private/comment", "/shared/y"}},
      {.k = user_event::metadata_changed, .name = "", .entries = {"/private/s"}},
      {.k = user_event::renamed, .name = "a", .new_name = "b"},
      {.k = user_event::deleted, .name = "b"},
      {.k = user_event::created, .name = "x"},
  };
  EXPECT_EQ(w->events, want);
  w->closed.store(true);
  ASSERT_TRUE(create("y").ok());
  EXPECT_EQ(w->events.size(), want.size());
}

// A watcher that does not keep up is told it overflowed instead of queueing forever
// (the session then answers NOTIFICATIONOVERFLOW and stops NOTIFY).
TEST_F(MetadataStoreTest, UserEventsOverflow) {
  auto w = std::make_shared<user_watch>();
  w->shard = 0;
  on_box([w](mailbox& b) -> task<absl::Status> {
    b.watch_user(w);
    for (size_t i = 0; i <= kMaxUserEventsQueued; ++i) {
      absl::Status st = co_await b.subscribe("a", i % 2 == 0);
      EXPECT_TRUE(st.ok()) << st;
    }
    co_return absl::OkStatus();
  });
  EXPECT_EQ(w->events.size(), kMaxUserEventsQueued);
  EXPECT_TRUE(w->overflowed);
}

}  // namespace
}  // namespace ringmail::mailstore
