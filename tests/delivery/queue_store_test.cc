// The outbound queue's store (delivery/queue/queue_store.h) on real files through a
// shard: enqueue is durable and group-committed, a restart (a new store on the same
// directory) finds every message and state, crash leftovers in tmp/ are removed, damaged
// files are moved to corrupt/ and never deleted, write failures are temporary, and
// update/remove keep their rules. Plus queue_sink (message_sink.h) over the store.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "delivery/mailstore/maildir_writer.h"
#include "delivery/queue/queue_sink.h"
#include "delivery/queue/queue_store.h"
#include "delivery/queue/spool_reader.h"
#include "gtest/gtest.h"
#include "runtime/shard_set.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"

namespace ringmail::queue {
namespace {

namespace fs = std::filesystem;

std::vector<recipient_state> rcpts(std::initializer_list<const char*> addresses) {
  std::vector<recipient_state> out;
  for (const char* a : addresses) {
    recipient_state s;
    s.address = a;
    out.push_back(std::move(s));
  }
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count_files(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) {
    if (it->is_regular_file()) ++n;
  }
  return n;
}

class QueueStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string base = ::access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : ::testing::TempDir();
    std::string tmpl = base + "/ringmail-queue-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl + "/queue";
    top_ = tmpl;
    shards_ = testing::make_shards(1);
    ASSERT_NE(shards_, nullptr);
    testing::run_on(*shards_, 0, [this]() -> task<void> {
      mailstore::writer_options wo;
      wo.hostname = "mx.example.org";
      writer_ = std::make_unique<mailstore::maildir_writer>(wo);
      co_return;
    });
    open_store();
  }

  void TearDown() override {
    testing::run_on(*shards_, 0, [this]() -> task<void> {
      store_.reset();
      writer_.reset();
      co_return;
    });
    shards_.reset();
    std::error_code ec;
    fs::remove_all(top_, ec);
  }

  // A new store on the same directory, as after a restart.
  void open_store() {
    absl::Status st = testing::run_on(*shards_, 0, [this]() -> task<absl::Status> {
      store_.reset();
      queue_options o;
      o.shard = 0;
      store_ = std::make_unique<queue_store>(root_, o, *writer_, shards_->offload());
      co_return co_await store_->load_all();
    });
    ASSERT_TRUE(st.ok()) << st;
  }

  enqueue_result enqueue(std::string message, std::vector<recipient_state> r, int64_t arrival = 1000) {
    return testing::run_on(*shards_, 0, [&]() -> task<enqueue_result> {
      std::vector<std::string_view> pieces;
      pieces.push_back(message);
      co_return co_await store_->enqueue(std::move(pieces), "alice@example.org", r, arrival);
    });
  }
  absl::Status update(const std::string& id, std::vector<recipient_outcome> o) {
    return testing::run_on(*shards_, 0, [&]() -> task<absl::Status> { co_return co_await store_->update(id, o); });
  }
  absl::Status remove(const std::string& id) {
    return testing::run_on(*shards_, 0, [&]() -> task<absl::Status> { co_return co_await store_->remove(id); });
  }
  absl::StatusOr<std::string> read(const std::string& id) {
    return testing::run_on(*shards_, 0,
                           [&]() -> task<absl::StatusOr<std::string>> { co_return co_await store_->read_message(id); });
  }
  absl::Status set_held(const std::string& id, bool held) {
    return testing::run_on(*shards_, 0,
                           [&]() -> task<absl::Status> { co_return co_await store_->set_held(id, held); });
  }
  absl::Status remove_forced(const std::string& id) {
    return testing::run_on(*shards_, 0, [&]() -> task<absl::Status> { co_return co_await store_->remove(id, true); });
  }
  std::vector<queue_record> list() {
    return testing::run_on(*shards_, 0, [&]() -> task<std::vector<queue_record>> { co_return store_->list(); });
  }
  std::string dir() const { return root_ + "/0"; }

  std::string top_;
  std::string root_;
  std::unique_ptr<shard_set> shards_;
  std::unique_ptr<mailstore::maildir_writer> writer_;
  std::unique_ptr<queue_store> store_;
};

TEST_F(QueueStoreTest, RestartFindsEveryMessageAndState) {
  enqueue_result a = enqueue("Subject: a\r\n\r\nA\r\n", rcpts({"x@example.net", "y@example.net"}), 1000);
  ASSERT_TRUE(a.result.delivered()) << a.result.reason;
  EXPECT_EQ(a.result.enhanced, "2.0.0");
  EXPECT_TRUE(fs::exists(dir() + "/" + a.id + ".msg"));
  EXPECT_FALSE(fs::exists(dir() + "/" + a.id + ".state"));  // all pending: no state file yet
  enqueue_result b = enqueue(std::string("Subject: b\r\n\r\n\0binary\xff\r\n", 24), rcpts({"z@example.com"}), 999);
  ASSERT_TRUE(b.result.delivered()) << b.result.reason;
  EXPECT_NE(a.id, b.id);
  ASSERT_TRUE(update(a.id, {{0, rcpt_status::delivered, 0, ""}, {1, rcpt_status::deferred, 1600, "451 4.7.1 later"}}).ok());
  EXPECT_TRUE(fs::exists(dir() + "/" + a.id + ".state"));
  const std::vector<queue_record> before = list();
  ASSERT_EQ(before.size(), 2u);
  EXPECT_EQ(before[0].id, b.id);  // oldest arrival first

  open_store();
  const std::vector<queue_record> after = list();
  EXPECT_EQ(after, before);
  const queue_record* ra = store_->find(a.id);
  ASSERT_NE(ra, nullptr);
  EXPECT_EQ(ra->reverse_path, "alice@example.org");
  EXPECT_EQ(ra->recipients[0].status, rcpt_status::delivered);
  EXPECT_EQ(ra->recipients[1].status, rcpt_status::deferred);
  EXPECT_EQ(ra->recipients[1].attempts, 1u);
  EXPECT_EQ(ra->recipients[1].next_attempt, 1600);
  EXPECT_EQ(ra->recipients[1].text, "451 4.7.1 later");
  auto body = read(b.id);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, std::string("Subject: b\r\n\r\n\0binary\xff\r\n", 24));
  // New ids after a restart never reuse an old one.
  enqueue_result c = enqueue("Subject: c\r\n\r\nC\r\n", rcpts({"w@example.net"}), 1000);
  ASSERT_TRUE(c.result.delivered());
  EXPECT_NE(c.id, a.id);
  EXPECT_NE(c.id, b.id);
}

TEST_F(QueueStoreTest, ConcurrentEnqueuesShareDirectoryFsyncs) {
  constexpr int kMessages = 64;
  const uint64_t syncs_before = testing::run_on(*shards_, 0, [&]() -> task<uint64_t> { co_return writer_->directory_syncs(); });
  std::vector<std::string> bodies;
  for (int i = 0; i < kMessages; ++i) bodies.push_back("Subject: " + std::to_string(i) + "\r\n\r\nbody\r\n");
  std::vector<enqueue_result> results = testing::run_on(*shards_, 0, [&]() -> task<std::vector<enqueue_result>> {
    std::vector<task<enqueue_result>> tasks;
    for (int i = 0; i < kMessages; ++i) {
      std::vector<std::string_view> pieces;
      pieces.push_back(bodies[i]);
      tasks.push_back(store_->enqueue(std::move(pieces), "alice@example.org", rcpts({"x@example.net"}), 1000 + i));
    }
    co_return co_await when_all(std::move(tasks));
  });
  const uint64_t syncs = testing::run_on(*shards_, 0, [&]() -> task<uint64_t> { co_return writer_->directory_syncs(); }) -
                         syncs_before;
  std::set<std::string> ids;
  for (const enqueue_result& r : results) {
    ASSERT_TRUE(r.result.delivered()) << r.result.reason;
    ids.insert(r.id);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kMessages));
  std::printf("%d concurrent enqueues, %llu directory fsyncs\n", kMessages, static_cast<unsigned long long>(syncs));
  EXPECT_GE(syncs, 1u);
  EXPECT_LT(syncs, static_cast<uint64_t>(kMessages)) << "every enqueue paid its own directory fsync";
  EXPECT_EQ(count_files(dir()), static_cast<size_t>(kMessages));
  EXPECT_EQ(count_files(dir() + "/tmp"), 0u);
  open_store();
  ASSERT_EQ(list().size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    auto body = read(results[i].id);
    ASSERT_TRUE(body.ok()) << body.status();
    EXPECT_EQ(*body, bodies[i]);
  }
}

TEST_F(QueueStoreTest, CrashLeftoversAndDamagedFilesAtStart) {
  enqueue_result good = enqueue("Subject: good\r\n\r\n.\r\n", rcpts({"x@example.net"}));
  enqueue_result torn = enqueue("Subject: torn\r\n\r\n.\r\n", rcpts({"x@example.net"}));
  enqueue_result bad_state = enqueue("Subject: s\r\n\r\n.\r\n", rcpts({"x@example.net", "y@example.net"}));
  enqueue_result gone = enqueue("Subject: gone\r\n\r\n.\r\n", rcpts({"x@example.net"}));
  for (const auto* r : {&good, &torn, &bad_state, &gone}) ASSERT_TRUE(r->result.delivered());
  ASSERT_TRUE(update(torn.id, {{0, rcpt_status::deferred, 2000, "451 try later"}}).ok());
  ASSERT_TRUE(update(bad_state.id, {{0, rcpt_status::delivered, 0, ""}}).ok());
  ASSERT_TRUE(update(gone.id, {{0, rcpt_status::delivered, 0, ""}}).ok());

  // A crash mid-write leaves tmp/ files; a torn .msg; a .state with one flipped byte; a
  // .state whose message was removed (an interrupted remove()).
  std::ofstream(dir() + "/tmp/" + good.id + "-next.msg") << "ringmail-queue-msg 1\nid half";
  std::ofstream(dir() + "/tmp/other") << "x";
  const std::string torn_path = dir() + "/" + torn.id + ".msg";
  const std::string torn_bytes = slurp(torn_path);
  std::ofstream(torn_path, std::ios::binary | std::ios::trunc) << torn_bytes.substr(0, torn_bytes.size() - 7);
  const std::string state_path = dir() + "/" + bad_state.id + ".state";
  std::string state_bytes = slurp(state_path);
  state_bytes[state_bytes.size() / 2] ^= 0x04;
  std::ofstream(state_path, std::ios::binary | std::ios::trunc) << state_bytes;
  fs::remove(dir() + "/" + gone.id + ".msg");

  open_store();
  EXPECT_EQ(store_->tmp_removed(), 2u);
  EXPECT_EQ(count_files(dir() + "/tmp"), 0u);
  // The torn message and its state, and the damaged state, are in corrupt/, not deleted.
  EXPECT_EQ(store_->moved_to_corrupt(), 3u);
  std::vector<std::string> corrupt;
  for (const auto& e : fs::directory_iterator(root_ + "/corrupt")) corrupt.push_back(e.path().filename());
  ASSERT_EQ(corrupt.size(), 3u);
  size_t torn_copies = 0;
  for (const std::string& name : corrupt) {
    if (name.starts_with("0-" + torn.id + ".msg-")) {
      ++torn_copies;
      EXPECT_EQ(slurp(root_ + "/corrupt/" + name), torn_bytes.substr(0, torn_bytes.size() - 7));
    }
    if (name.starts_with("0-" + torn.id + ".state-")) ++torn_copies;
    if (name.starts_with("0-" + bad_state.id + ".state-")) ++torn_copies;
  }
  EXPECT_EQ(torn_copies, 3u);
  EXPECT_EQ(store_->find(torn.id), nullptr);
  ASSERT_NE(store_->find(good.id), nullptr);
  // Duplicates rather than loss: a message whose state is damaged is kept, all pending.
  const queue_record* s = store_->find(bad_state.id);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->recipients[0].status, rcpt_status::pending);
  EXPECT_EQ(s->recipients[1].status, rcpt_status::pending);
  EXPECT_FALSE(fs::exists(dir() + "/" + bad_state.id + ".state"));
  // The orphan state is gone; so is its message.
  EXPECT_EQ(store_->find(gone.id), nullptr);
  EXPECT_FALSE(fs::exists(dir() + "/" + gone.id + ".state"));
  EXPECT_EQ(list().size(), 2u);
}

TEST_F(QueueStoreTest, WriteFailuresAreTemporaryAndLeaveNothing) {
  testing::run_on(*shards_, 0, [&]() -> task<void> {
    store_->inject_write_errno(ENOSPC);
    co_return;
  });
  enqueue_result full = enqueue("Subject: x\r\n\r\n.\r\n", rcpts({"x@example.net"}));
  EXPECT_EQ(full.result.st, delivery_result::temporary);
  EXPECT_EQ(full.result.enhanced, "4.3.1");
  EXPECT_TRUE(full.id.empty());
  EXPECT_EQ(full.result.reason.find('/'), std::string::npos) << "no path in a reply: " << full.result.reason;
  EXPECT_EQ(count_files(dir()), 0u);
  EXPECT_EQ(count_files(dir() + "/tmp"), 0u);
  EXPECT_TRUE(list().empty());

  enqueue_result ok = enqueue("Subject: x\r\n\r\n.\r\n", rcpts({"x@example.net"}));
  ASSERT_TRUE(ok.result.delivered());
  testing::run_on(*shards_, 0, [&]() -> task<void> {
    store_->inject_write_errno(EIO);
    co_return;
  });
  absl::Status st = update(ok.id, {{0, rcpt_status::delivered, 0, ""}});
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_EQ(store_->find(ok.id)->recipients[0].status, rcpt_status::pending);  // nothing changed
  EXPECT_FALSE(fs::exists(dir() + "/" + ok.id + ".state"));
  EXPECT_EQ(count_files(dir() + "/tmp"), 0u);
  EXPECT_TRUE(update(ok.id, {{0, rcpt_status::delivered, 0, ""}}).ok());  // and again: it works
}

// A real full file system (ENOSPC from the kernel, not injected): run by
// tests/delivery/queue_full_fs_test.sh on a 256 KiB tmpfs in a private mount namespace,
// skipped when RINGMAIL_QUEUE_SMALL_FS is not set. Enqueues until the disk is full: the
// failure is temporary (4.3.1), leaves nothing in tmp/ or the spool, and every message
// acknowledged before it is found again after a restart.
TEST(QueueStoreFullFs, FullFileSystemIsATemporaryError) {
  const char* small = ::getenv("RINGMAIL_QUEUE_SMALL_FS");
  if (small == nullptr) GTEST_SKIP() << "RINGMAIL_QUEUE_SMALL_FS not set (see queue_full_fs_test.sh)";
  const std::string root = std::string(small) + "/queue";
  auto shards = testing::make_shards(1);
  ASSERT_NE(shards, nullptr);
  const std::string body = "Subject: big\r\n\r\n" + std::string(16 * 1024, 'x') + "\r\n";
  size_t accepted = 0;
  delivery_result refused;
  testing::run_on(*shards, 0, [&]() -> task<void> {
    mailstore::maildir_writer writer(mailstore::writer_options{});
    queue_store store(root, queue_options{}, writer, shards->offload());
    absl::Status st = co_await store.load_all();
    EXPECT_TRUE(st.ok()) << st;
    for (int i = 0; i < 1000; ++i) {
      std::vector<std::string_view> pieces;
      pieces.push_back(body);
      std::vector<recipient_state> to = rcpts({"b@example.net"});
      enqueue_result r = co_await store.enqueue(std::move(pieces), "a@example.org", std::move(to), 1000);
      if (!r.result.delivered()) {
        refused = r.result;
        break;
      }
      ++accepted;
    }
    EXPECT_EQ(store.size(), accepted);
  });
  EXPECT_GT(accepted, 0u);
  EXPECT_EQ(refused.st, delivery_result::temporary) << refused.reason;
  EXPECT_EQ(refused.enhanced, "4.3.1") << refused.reason;
  EXPECT_EQ(count_files(root + "/0/tmp"), 0u);
  EXPECT_EQ(count_files(root + "/0"), accepted);
  size_t after_restart = 0;
  testing::run_on(*shards, 0, [&]() -> task<void> {
    mailstore::maildir_writer writer(mailstore::writer_options{});
    queue_store store(root, queue_options{}, writer, shards->offload());
    absl::Status st = co_await store.load_all();
    EXPECT_TRUE(st.ok()) << st;
    after_restart = store.size();
    EXPECT_EQ(store.moved_to_corrupt(), 0u);
  });
  EXPECT_EQ(after_restart, accepted);
}

TEST_F(QueueStoreTest, ReadOnlySpoolIsATemporaryError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  ASSERT_EQ(::chmod((dir() + "/tmp").c_str(), 0500), 0);
  enqueue_result r = enqueue("Subject: x\r\n\r\n.\r\n", rcpts({"x@example.net"}));
  ::chmod((dir() + "/tmp").c_str(), 0700);
  EXPECT_EQ(r.result.st, delivery_result::temporary);
  EXPECT_TRUE(list().empty());
}

TEST_F(QueueStoreTest, UpdateAndRemoveRules) {
  enqueue_result m = enqueue("Subject: x\r\n\r\n.\r\n", rcpts({"x@example.net", "y@example.net"}));
  ASSERT_TRUE(m.result.delivered());
  EXPECT_EQ(update("nope", {{0, rcpt_status::delivered, 0, ""}}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(update(m.id, {{2, rcpt_status::delivered, 0, ""}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(update(m.id, {{0, rcpt_status::pending, 0, ""}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(update(m.id, {{0, rcpt_status::bounced, 0, std::string(kMaxQueueTextBytes + 1, 'e')}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(remove(m.id).code(), absl::StatusCode::kFailedPrecondition);  // recipients left
  ASSERT_TRUE(update(m.id, {{0, rcpt_status::deferred, 5000, "451 busy"}}).ok());
  ASSERT_TRUE(update(m.id, {{0, rcpt_status::deferred, 6000, "451 still busy"}}).ok());
  EXPECT_EQ(store_->find(m.id)->recipients[0].attempts, 2u);
  ASSERT_TRUE(update(m.id, {{0, rcpt_status::bounced, 0, "550 5.1.1 unknown"}}).ok());
  EXPECT_EQ(update(m.id, {{0, rcpt_status::delivered, 0, ""}}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(remove(m.id).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(update(m.id, {{1, rcpt_status::delivered, 0, "ignored"}}).ok());
  const queue_record* r = store_->find(m.id);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->recipients[0].text, "550 5.1.1 unknown");
  EXPECT_EQ(r->recipients[0].next_attempt, 0);
  EXPECT_EQ(r->recipients[1].text, "");
  EXPECT_TRUE(r->all_final());
  ASSERT_TRUE(remove(m.id).ok());
  EXPECT_EQ(store_->find(m.id), nullptr);
  EXPECT_EQ(remove(m.id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(count_files(dir()), 0u);
  open_store();
  EXPECT_TRUE(list().empty());
}

TEST_F(QueueStoreTest, RefusesEnvelopesItCannotStore) {
  enqueue_result none = enqueue("x", {});
  EXPECT_EQ(none.result.st, delivery_result::permanent);
  std::vector<recipient_state> many = rcpts({"x@example.net"});
  many.resize(kMaxQueueRecipients + 1, many[0]);
  enqueue_result too_many = enqueue("x", many);
  EXPECT_EQ(too_many.result.st, delivery_result::permanent);
  EXPECT_EQ(too_many.result.enhanced, "5.5.3");
  EXPECT_TRUE(list().empty());
  EXPECT_EQ(count_files(dir()), 0u);
}

TEST_F(QueueStoreTest, SinkQueuesTraceAndMessageForEveryRecipient) {
  auto results = testing::run_on(*shards_, 0, [&]() -> task<std::vector<delivery::delivery_result>> {
    queue_sink sink(*store_);
    delivery::sink_message m;
    m.reverse_path = "alice@example.org";
    m.trace = "Received: from client by mx.example.org\r\n";
    m.message = "Subject: hi\r\n\r\nhello\r\n";
    std::vector<delivery::sink_recipient> to = {{"bob@example.net", ""}, {"carol@example.com", "tag"}};
    co_return co_await sink.deliver(m, std::move(to));
  });
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    EXPECT_TRUE(r.delivered()) << r.reason;
    EXPECT_TRUE(r.reason.starts_with("queued as ")) << r.reason;
  }
  std::vector<queue_record> q = list();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].reverse_path, "alice@example.org");
  ASSERT_EQ(q[0].recipients.size(), 2u);
  EXPECT_EQ(q[0].recipients[1].address, "carol@example.com");
  EXPECT_EQ(q[0].recipients[1].detail, "tag");
  auto body = read(q[0].id);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, "Received: from client by mx.example.org\r\nSubject: hi\r\n\r\nhello\r\n");
}

// ringmail-admin's offline view (spool_reader.h) agrees with the store, and reports a
// damaged file instead of moving it.
TEST_F(QueueStoreTest, OfflineReaderSeesWhatTheStoreHas) {
  enqueue_result a = enqueue("Subject: a\r\n\r\nA\r\n", rcpts({"x@example.net", "y@example.net"}), 1000);
  enqueue_result b = enqueue("Subject: b\r\n\r\nB\r\n", rcpts({"z@example.net"}), 900);
  ASSERT_TRUE(a.result.delivered() && b.result.delivered());
  ASSERT_TRUE(update(a.id, {{1, rcpt_status::deferred, 4000, "451 4.4.1 no answer"}}).ok());
  auto spool = read_spool(root_);
  ASSERT_TRUE(spool.ok()) << spool.status();
  const std::vector<queue_record> listed = list();
  ASSERT_EQ(spool->size(), listed.size());
  for (size_t i = 0; i < listed.size(); ++i) {
    EXPECT_EQ((*spool)[i].record, listed[i]);
    EXPECT_EQ((*spool)[i].shard, 0u);
    EXPECT_EQ((*spool)[i].message_size, 17u);
    EXPECT_EQ((*spool)[i].problem, "");
  }
  const std::string path = dir() + "/" + b.id + ".msg";
  std::string bytes = slurp(path);
  bytes[5] ^= 0x10;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  spool = read_spool(root_);
  ASSERT_TRUE(spool.ok());
  ASSERT_EQ(spool->size(), 2u);
  EXPECT_NE((*spool)[0].problem, "");
  EXPECT_TRUE(fs::exists(path));  // reported, not moved
  EXPECT_EQ(read_spool(top_ + "/missing").status().code(), absl::StatusCode::kNotFound);
}

// Hold (postsuper -h/-H): a marker file written durably, found again by a restart, and
// gone with its message; an orphan marker (its message removed by an interrupted
// remove) is dropped at start, one beside an unreadable message is kept.
TEST_F(QueueStoreTest, HoldIsDurableAndSurvivesRestart) {
  enqueue_result a = enqueue("Subject: a\r\n\r\nA\r\n", rcpts({"x@example.net"}), 1000);
  enqueue_result b = enqueue("Subject: b\r\n\r\nBB\r\n", rcpts({"y@example.net"}), 1001);
  ASSERT_TRUE(a.result.delivered() && b.result.delivered());
  const std::string hold_a = dir() + "/" + a.id + ".hold";
  EXPECT_FALSE(store_->held(a.id));
  EXPECT_EQ(set_held("nope-0-1", true).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(set_held(a.id, true).ok());
  EXPECT_TRUE(store_->held(a.id));
  EXPECT_FALSE(store_->held(b.id));
  EXPECT_TRUE(fs::exists(hold_a));
  EXPECT_EQ(fs::file_size(hold_a), 0u);
  EXPECT_TRUE(set_held(a.id, true).ok());  // already held: ok, nothing written
  EXPECT_EQ(count_files(dir() + "/tmp"), 0u);
  // A hold keeps the states: a deferred recipient stays deferred with its error.
  ASSERT_TRUE(update(a.id, {{0, rcpt_status::deferred, 5000, "451 4.4.1 no answer"}}).ok());

  open_store();  // restart
  EXPECT_TRUE(store_->held(a.id));
  EXPECT_FALSE(store_->held(b.id));
  EXPECT_EQ(store_->message_size(a.id), 17u);  // the size is known after a restart too
  EXPECT_EQ(store_->message_size(b.id), 18u);
  EXPECT_EQ(store_->find(a.id)->recipients[0].text, "451 4.4.1 no answer");
  ASSERT_TRUE(set_held(a.id, false).ok());
  EXPECT_FALSE(store_->held(a.id));
  EXPECT_FALSE(fs::exists(hold_a));
  open_store();
  EXPECT_FALSE(store_->held(a.id));

  // An orphan marker goes; one whose .msg is unreadable now stays with it.
  std::ofstream(dir() + "/1-0-99.hold").flush();
  ASSERT_TRUE(set_held(b.id, true).ok());
  const std::string msg_b = dir() + "/" + b.id + ".msg";
  ::chmod(msg_b.c_str(), 0);
  const bool root = ::access(msg_b.c_str(), R_OK) == 0;  // root reads it anyway
  open_store();
  EXPECT_FALSE(fs::exists(dir() + "/1-0-99.hold"));
  EXPECT_TRUE(fs::exists(dir() + "/" + b.id + ".hold"));
  ::chmod(msg_b.c_str(), 0600);
  if (!root) {
    EXPECT_EQ(store_->find(b.id), nullptr);
    open_store();
  }
  EXPECT_TRUE(store_->held(b.id));

  // A held message whose .msg is damaged goes to corrupt/; its marker does not stay behind.
  const std::string msg_path = dir() + "/" + b.id + ".msg";
  std::string bytes = slurp(msg_path);
  bytes[5] ^= 0x10;
  std::ofstream(msg_path, std::ios::binary | std::ios::trunc) << bytes;
  open_store();
  EXPECT_EQ(store_->find(b.id), nullptr);
  EXPECT_FALSE(fs::exists(dir() + "/" + b.id + ".hold"));
  EXPECT_EQ(store_->moved_to_corrupt(), 1u);
}

TEST_F(QueueStoreTest, FailedHoldChangesNothing) {
  enqueue_result a = enqueue("Subject: a\r\n\r\nA\r\n", rcpts({"x@example.net"}));
  ASSERT_TRUE(a.result.delivered());
  store_->inject_write_errno(ENOSPC);
  absl::Status st = set_held(a.id, true);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_FALSE(store_->held(a.id));
  EXPECT_FALSE(fs::exists(dir() + "/" + a.id + ".hold"));
  EXPECT_EQ(count_files(dir() + "/tmp"), 0u);
  EXPECT_TRUE(set_held(a.id, true).ok());  // and the next try works
  EXPECT_TRUE(store_->held(a.id));
}

// The admin's delete (postsuper -d): any recipient states, the hold marker too.
// The first read of a message this store enqueued comes from memory (the relay takes it
// at once), later ones from the file: proven by damaging the file behind the store's back.
TEST_F(QueueStoreTest, FirstReadIsServedFromMemoryThenFromTheFile) {
  const std::string message = "Subject: cached\r\n\r\nbody\r\n";
  enqueue_result a = enqueue(message, rcpts({"x@example.net"}));
  ASSERT_TRUE(a.result.delivered()) << a.result.reason;
  {
    std::ofstream damage(dir() + "/" + a.id + ".msg", std::ios::binary | std::ios::trunc);
    damage << "not a queue file";
  }
  absl::StatusOr<std::string> first = read(a.id);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, message);
  absl::StatusOr<std::string> second = read(a.id);
  EXPECT_FALSE(second.ok()) << "the second read goes to the (damaged) file";
}

// remove_delivered: the message and its state file go, nothing else; a restart does not
// bring it back.
TEST_F(QueueStoreTest, RemoveDeliveredTakesMessageAndState) {
  enqueue_result a = enqueue("Subject: a\r\n\r\nA\r\n", rcpts({"x@example.net", "y@example.net"}));
  enqueue_result b = enqueue("Subject: b\r\n\r\nB\r\n", rcpts({"z@example.net"}));
  ASSERT_TRUE(a.result.delivered() && b.result.delivered());
  recipient_outcome deferred;
  deferred.index = 1;
  deferred.status = rcpt_status::deferred;
  deferred.next_attempt = 5000;
  deferred.text = "451 later";
  ASSERT_TRUE(update(a.id, {deferred}).ok());
  ASSERT_TRUE(fs::exists(dir() + "/" + a.id + ".state"));
  absl::Status removed = testing::run_on(*shards_, 0, [&]() -> task<absl::Status> {
    co_return co_await store_->remove_delivered(a.id);
  });
  ASSERT_TRUE(removed.ok()) << removed;
  EXPECT_FALSE(fs::exists(dir() + "/" + a.id + ".msg"));
  EXPECT_FALSE(fs::exists(dir() + "/" + a.id + ".state"));
  EXPECT_TRUE(fs::exists(dir() + "/" + b.id + ".msg"));
  absl::Status again = testing::run_on(*shards_, 0, [&]() -> task<absl::Status> {
    co_return co_await store_->remove_delivered(a.id);
  });
  EXPECT_TRUE(absl::IsNotFound(again)) << again;
  open_store();
  std::vector<queue_record> left = list();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, b.id);
}

// A delivered message's file becomes a spare in tmp/ and the next enqueue writes over it
// (same inode, no allocation); a shorter message over a longer one reads back exactly,
// and a restart empties tmp/ of spares (they are never mail).
TEST_F(QueueStoreTest, DeliveredFilesAreRecycledForTheNextEnqueue) {
  const std::string long_message = "Subject: long\r\n\r\n" + std::string(20000, 'L') + "\r\n";
  enqueue_result a = enqueue(long_message, rcpts({"x@example.net"}));
  ASSERT_TRUE(a.result.delivered());
  struct stat before {};
  ASSERT_EQ(::stat((dir() + "/" + a.id + ".msg").c_str(), &before), 0);
  ASSERT_TRUE(testing::run_on(*shards_, 0, [&]() -> task<absl::Status> {
                co_return co_await store_->remove_delivered(a.id);
              }).ok());
  EXPECT_EQ(count_files(dir() + "/tmp"), 1u) << "kept as a spare";
  const std::string short_message = "Subject: short\r\n\r\nS\r\n";
  enqueue_result b = enqueue(short_message, rcpts({"y@example.net"}));
  ASSERT_TRUE(b.result.delivered());
  struct stat after {};
  ASSERT_EQ(::stat((dir() + "/" + b.id + ".msg").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino) << "the spare's inode was written over";
  EXPECT_EQ(count_files(dir() + "/tmp"), 0u);
  ASSERT_TRUE(read(b.id).ok());        // the first read comes from memory...
  absl::StatusOr<std::string> from_file = read(b.id);  // ...this one from the file
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(*from_file, short_message);
  ASSERT_TRUE(testing::run_on(*shards_, 0, [&]() -> task<absl::Status> {
                co_return co_await store_->remove_delivered(b.id);
              }).ok());
  EXPECT_EQ(count_files(dir() + "/tmp"), 1u);
  open_store();
  EXPECT_EQ(count_files(dir() + "/tmp"), 0u) << "a restart drops spares";
  EXPECT_TRUE(list().empty());
}

TEST_F(QueueStoreTest, ForcedRemoveTakesEveryFile) {
  enqueue_result a = enqueue("Subject: a\r\n\r\nA\r\n", rcpts({"x@example.net", "y@example.net"}));
  ASSERT_TRUE(a.result.delivered());
  ASSERT_TRUE(update(a.id, {{0, rcpt_status::deferred, 5000, "451 later"}}).ok());
  ASSERT_TRUE(set_held(a.id, true).ok());
  EXPECT_EQ(remove(a.id).code(), absl::StatusCode::kFailedPrecondition);  // the relay's remove keeps its rule
  EXPECT_EQ(remove_forced("nope-0-1").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(remove_forced(a.id).ok());
  EXPECT_EQ(store_->find(a.id), nullptr);
  EXPECT_FALSE(store_->held(a.id));
  EXPECT_EQ(count_files(dir()), 0u);
  EXPECT_EQ(update(a.id, {{1, rcpt_status::delivered, 0, ""}}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(set_held(a.id, false).code(), absl::StatusCode::kNotFound);
  open_store();
  EXPECT_TRUE(list().empty());
}

// A delete that comes while the relay's update is being written (update first) or an
// update that comes while the delete runs (delete first): either way the message is gone,
// no file is left behind (no .state re-created after the delete), and a restart agrees.
TEST_F(QueueStoreTest, ForcedRemoveRacingAnUpdate) {
  for (bool delete_first : {false, true}) {
    SCOPED_TRACE(delete_first ? "delete first" : "update first");
    enqueue_result a = enqueue("Subject: a\r\n\r\nA\r\n", rcpts({"x@example.net"}));
    ASSERT_TRUE(a.result.delivered());
    auto [updated, removed] = testing::run_on(*shards_, 0, [&]() -> task<std::tuple<absl::Status, absl::Status>> {
      auto upd = [&]() -> task<absl::Status> {
        std::vector<recipient_outcome> outcomes;  // named: g++ 12 and braced lists in coroutines
        outcomes.push_back({0, rcpt_status::deferred, 5000, "451 later"});
        co_return co_await store_->update(a.id, std::move(outcomes));
      };
      auto del = [&]() -> task<absl::Status> { co_return co_await store_->remove(a.id, true); };
      if (delete_first) {
        auto [r, u] = co_await when_all(del(), upd());
        co_return std::tuple<absl::Status, absl::Status>(u, r);
      }
      co_return co_await when_all(upd(), del());
    });
    EXPECT_TRUE(removed.ok()) << removed;
    if (delete_first) {
      EXPECT_FALSE(updated.ok());  // busy or not found: the relay drops the message
    } else {
      EXPECT_TRUE(updated.ok()) << updated;  // the delete waited for the write
    }
    EXPECT_EQ(store_->find(a.id), nullptr);
    EXPECT_EQ(count_files(dir()), 0u);
    EXPECT_EQ(count_files(dir() + "/tmp"), 0u);
  }
  open_store();
  EXPECT_TRUE(list().empty());
}

}  // namespace
}  // namespace ringmail::queue
