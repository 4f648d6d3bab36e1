// The mail store end to end on real files (mailbox.h, mail_store.h, local_sink.h): UIDs,
// flags as Maildir file names, modseqs, expunge, copy/move, folders, subscriptions,
// reopening, rebuilding and damaged indexes, files changed behind the store's back,
// Dovecot's uidlist, hostile folder names, the folder cap, and two shards changing one
// mailbox while a watcher on each shard follows its events.
//
// The mail root lives on /dev/shm when it can (fsync off: durability is the crash
// harness's job, crash_consistency_test.cc), so the whole suite stays fast under ASan.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/escaping.h"
#include "delivery/mailstore/folder_index.h"
#include "delivery/mailstore/mail_store.h"
#include "delivery/mailstore/maildir_filename.h"
#include "delivery/mailstore/maildir_writer.h"
#include "delivery/sink/local_sink.h"
#include "gtest/gtest.h"
#include "runtime/shard_set.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"

namespace ringmail::mailstore {
namespace {

namespace fs = std::filesystem;

constexpr char kUser[] = "john@example.org";
constexpr unsigned kShards = 2;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void write_all(const std::string& path, std::string_view bytes, bool append = false) {
  std::ofstream out(path, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// What must survive a reopen: everything but the parse cache and the directory times
// (the live state's times are those of its last checkpoint).
void expect_same_state(const folder_state& want, const folder_state& got, const std::string& what) {
  EXPECT_EQ(want.uid_validity, got.uid_validity) << what;
  EXPECT_EQ(want.uid_next, got.uid_next) << what;
  EXPECT_EQ(want.highest_modseq, got.highest_modseq) << what;
  EXPECT_EQ(want.mailbox_guid, got.mailbox_guid) << what;
  EXPECT_EQ(want.keywords, got.keywords) << what;
  EXPECT_EQ(want.expunged, got.expunged) << what;
  ASSERT_EQ(want.messages.size(), got.messages.size()) << what;
  for (size_t i = 0; i < want.messages.size(); ++i) {
    message_entry a = want.messages[i], b = got.messages[i];
    a.cache.clear();
    b.cache.clear();
    EXPECT_EQ(a, b) << what << ": message " << i << " uid " << a.uid;
  }
}

// UIDs, file names, flags and keywords (a rebuild may start a new modseq epoch).
void expect_same_messages(const folder_state& want, const folder_state& got, const std::string& what) {
  EXPECT_EQ(want.uid_validity, got.uid_validity) << what;
  EXPECT_EQ(want.uid_next, got.uid_next) << what;
  EXPECT_EQ(want.keywords, got.keywords) << what;
  ASSERT_EQ(want.messages.size(), got.messages.size()) << what;
  for (size_t i = 0; i < want.messages.size(); ++i) {
    const auto& a = want.messages[i];
    const auto& b = got.messages[i];
    EXPECT_EQ(a.uid, b.uid) << what;
    EXPECT_EQ(a.base, b.base) << what;
    EXPECT_EQ(a.flags, b.flags) << what << " uid " << a.uid;
    EXPECT_EQ(a.keywords, b.keywords) << what << " uid " << a.uid;
    EXPECT_EQ(a.in_new, b.in_new) << what << " uid " << a.uid;
    EXPECT_EQ(a.size, b.size) << what << " uid " << a.uid;
  }
}

class MailStore : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string base = ::access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : ::testing::TempDir();
    std::string tmpl = base + "/ringmail-mailstore-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    maildir_ = root_ + "/example.org/john/Maildir";
    shards_ = testing::make_shards(kShards);
    ASSERT_NE(shards_, nullptr);
    owner_ = owner_of(kUser, kShards);
    open_stores();
  }

  void TearDown() override {
    // Clean: close_all() waits for the folders' background dovecot-uidlist appends, which
    // would otherwise still be in flight when the shards stop (their frames never finish).
    if (shards_) close_stores(true);
    shards_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  store_options options() const {
    store_options o;
    o.fsync = false;
    return o;
  }

  void open_stores() {
    writers_.resize(kShards);
    owned_.resize(kShards);
    stores_.assign(kShards, nullptr);
    for (unsigned i = 0; i < kShards; ++i) {
      testing::run_on(*shards_, i, [this, i]() -> task<void> {
        writer_options wo;
        wo.hostname = "mx.example.org";
        wo.shard_id = i;
        wo.fsync = false;
        writers_[i] = std::make_unique<maildir_writer>(wo);
        owned_[i] = std::make_unique<mail_store>(root_, options(), *writers_[i], shards_->offload());
        stores_[i] = owned_[i].get();
        co_return;
      });
    }
  }

  // clean: a checkpoint of every open folder first (server stop); otherwise the stores are
  // just dropped, as a killed process leaves them (with fsync off nothing is lost here:
  // every write reached the page cache).
  void close_stores(bool clean) {
    for (unsigned i = 0; i < kShards; ++i) {
      testing::run_on(*shards_, i, [this, i, clean]() -> task<void> {
        if (owned_[i] && clean) {
          absl::Status st = co_await owned_[i]->close_all();
          EXPECT_TRUE(st.ok()) << st;
        }
        owned_[i].reset();
        writers_[i].reset();
        co_return;
      });
    }
  }

  void reopen(bool clean) {
    close_stores(clean);
    open_stores();
  }

  // Runs fn(mailbox&) -> task<R> on the owner shard, waits, and returns R.
  template <typename F>
  auto on_box(F fn) {
    using R = typename detail::unwrap_task<std::invoke_result_t<F&, mailbox&>>::type;
    return testing::run_on(*shards_, owner_, [this, fn]() mutable -> task<R> {
      auto box = stores_[owner_]->mailbox_for(kUser);
      EXPECT_TRUE(box.ok()) << box.status();
      auto t = fn(**box);
      co_return co_await std::move(t);
    });
  }

  uint32_t deliver(std::string folder, std::string body) {
    return on_box([folder, body](mailbox& b) -> task<uint32_t> {
      uint32_t uid = 0;
      std::vector<std::string_view> pieces{body};
      auto t = b.deliver(folder, std::move(pieces), &uid);
      delivery_result r = co_await std::move(t);
      EXPECT_TRUE(r.delivered()) << r.reason;
      co_return uid;
    });
  }

  std::string message(int i) {
    return "From: a@example.net\r\nSubject: message " + std::to_string(i) + "\r\n\r\nbody " + std::to_string(i) +
           "\r\n";
  }

  folder_state state(std::string folder) {
    return on_box([folder](mailbox& b) -> task<folder_state> {
      auto f = co_await b.folder(folder);
      EXPECT_TRUE(f.ok()) << folder << ": " << f.status();
      if (!f.ok()) co_return folder_state{};
      co_return (*f)->state();
    });
  }

  absl::StatusOr<std::vector<uint32_t>> store(std::string folder, std::vector<uint32_t> uids, flag_op op,
                                              uint8_t flags, std::vector<std::string> keywords = {},
                                              std::optional<uint64_t> unchanged_since = std::nullopt,
                                              std::vector<uint32_t>* failed = nullptr) {
    return on_box([=](mailbox& b) -> task<absl::StatusOr<std::vector<uint32_t>>> {
      auto t = b.store(folder, uids, op, flags, keywords, unchanged_since, failed);
      co_return co_await std::move(t);
    });
  }

  absl::StatusOr<std::vector<uint32_t>> expunge(std::string folder, std::vector<uint32_t> uids) {
    return on_box([=](mailbox& b) -> task<absl::StatusOr<std::vector<uint32_t>>> {
      auto t = b.expunge(folder, uids);
      co_return co_await std::move(t);
    });
  }

  absl::StatusOr<std::vector<std::pair<uint32_t, uint32_t>>> copy(std::string from, std::vector<uint32_t> uids,
                                                                  std::string to, bool move) {
    return on_box([=](mailbox& b) -> task<absl::StatusOr<std::vector<std::pair<uint32_t, uint32_t>>>> {
      auto t = b.copy(from, uids, to, move);
      co_return co_await std::move(t);
    });
  }

  absl::Status create(std::string name) {
    return on_box([name](mailbox& b) -> task<absl::Status> {
      auto t = b.create_folder(name);
      co_return co_await std::move(t);
    });
  }

  absl::Status rename(std::string from, std::string to) {
    return on_box([from, to](mailbox& b) -> task<absl::Status> {
      auto t = b.rename_folder(from, to);
      co_return co_await std::move(t);
    });
  }

  absl::Status remove(std::string name) {
    return on_box([name](mailbox& b) -> task<absl::Status> {
      auto t = b.delete_folder(name);
      co_return co_await std::move(t);
    });
  }

  absl::Status open(std::string name) {
    return on_box([name](mailbox& b) -> task<absl::Status> {
      auto f = co_await b.folder(name);
      co_return f.status();
    });
  }

  std::vector<std::string> folders() {
    auto list = on_box([](mailbox& b) -> task<absl::StatusOr<std::vector<std::string>>> {
      auto t = b.list_folders();
      co_return co_await std::move(t);
    });
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : std::vector<std::string>{};
  }

  absl::Status subscribe(std::string name, bool on) {
    return on_box([name, on](mailbox& b) -> task<absl::Status> {
      auto t = b.subscribe(name, on);
      co_return co_await std::move(t);
    });
  }

  std::vector<std::string> subscriptions() {
    auto list = on_box([](mailbox& b) -> task<absl::StatusOr<std::vector<std::string>>> {
      auto t = b.subscriptions();
      co_return co_await std::move(t);
    });
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : std::vector<std::string>{};
  }

  quota_usage usage() {
    auto u = on_box([](mailbox& b) -> task<absl::StatusOr<quota_usage>> {
      auto t = b.usage();
      co_return co_await std::move(t);
    });
    EXPECT_TRUE(u.ok()) << u.status();
    return u.ok() ? *u : quota_usage{};
  }

  absl::Status rebuild(std::string folder) {
    return on_box([folder](mailbox& b) -> task<absl::Status> {
      auto t = b.rebuild(folder);
      co_return co_await std::move(t);
    });
  }

  std::string path_of(const std::string& folder, uint32_t uid) {
    return on_box([folder, uid](mailbox& b) -> task<std::string> {
      auto f = co_await b.folder(folder);
      if (!f.ok()) co_return std::string();
      const message_entry* m = (*f)->state().find(uid);
      co_return m == nullptr ? std::string() : (*f)->path_of(*m);
    });
  }

  std::string root_;
  std::string maildir_;
  std::unique_ptr<shard_set> shards_;
  unsigned owner_ = 0;
  std::vector<std::unique_ptr<maildir_writer>> writers_;
  std::vector<std::unique_ptr<mail_store>> owned_;
  store_set stores_;
};

// ---- messages ------------------------------------------------------------------------------

TEST_F(MailStore, DeliveriesGetUidsOneToNInNewAndCountInUsage) {
  constexpr int kN = 12;
  uint64_t bytes = 0;
  for (int i = 1; i <= kN; ++i) {
    EXPECT_EQ(deliver("INBOX", message(i)), static_cast<uint32_t>(i));
    bytes += message(i).size();
  }
  const folder_state s = state("INBOX");
  EXPECT_EQ(s.uid_next, kN + 1u);
  ASSERT_EQ(s.messages.size(), size_t{kN});
  EXPECT_NE(s.uid_validity, 0u);
  EXPECT_EQ(s.mailbox_guid.size(), 32u);
  uint64_t last_modseq = 0;
  for (int i = 0; i < kN; ++i) {
    const message_entry& m = s.messages[i];
    EXPECT_EQ(m.uid, i + 1u);
    EXPECT_TRUE(m.in_new);
    EXPECT_EQ(m.flags, 0);
    EXPECT_GT(m.modseq, last_modseq);
    last_modseq = m.modseq;
    EXPECT_EQ(m.size, message(i + 1).size());
    EXPECT_EQ(m.vsize, message(i + 1).size());  // already CRLF
    EXPECT_EQ(read_all(maildir_ + "/new/" + m.base), message(i + 1));
  }
  EXPECT_EQ(s.highest_modseq, last_modseq);
  EXPECT_EQ(names_in(maildir_ + "/new").size(), size_t{kN});
  EXPECT_TRUE(names_in(maildir_ + "/cur").empty());
  EXPECT_TRUE(names_in(maildir_ + "/tmp").empty());
  quota_usage u = usage();
  EXPECT_EQ(u.messages, uint64_t{kN});
  EXPECT_EQ(u.bytes, bytes);
  // The running totals follow later changes without a recount.
  deliver("INBOX", "x\r\n");
  u = usage();
  EXPECT_EQ(u.messages, kN + 1u);
  EXPECT_EQ(u.bytes, bytes + 3);
  ASSERT_TRUE(expunge("INBOX", {1}).ok());
  u = usage();
  EXPECT_EQ(u.messages, uint64_t{kN});
  EXPECT_EQ(u.bytes, bytes + 3 - message(1).size());
}

TEST_F(MailStore, StoreRenamesIntoCurWithInfoAndModseqsRise) {
  for (int i = 1; i <= 3; ++i) deliver("INBOX", message(i));
  folder_state s = state("INBOX");
  const std::string base1 = s.messages[0].base;
  uint64_t high = s.highest_modseq;

  auto changed = store("INBOX", {1}, flag_op::add, flag_seen);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, std::vector<uint32_t>{1});
  EXPECT_FALSE(fs::exists(maildir_ + "/new/" + base1));
  EXPECT_TRUE(fs::exists(maildir_ + "/cur/" + base1 + ":2,S"));
  s = state("INBOX");
  EXPECT_EQ(s.find(1)->flags, flag_seen);
  EXPECT_FALSE(s.find(1)->in_new);
  EXPECT_GT(s.find(1)->modseq, high);
  EXPECT_EQ(s.highest_modseq, s.find(1)->modseq);
  high = s.highest_modseq;

  // A keyword gets a letter in dovecot-keywords (written before any file name uses it).
  changed = store("INBOX", {1, 2}, flag_op::add, flag_flagged, {"$Forwarded"});
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, (std::vector<uint32_t>{1, 2}));
  EXPECT_TRUE(fs::exists(maildir_ + "/cur/" + base1 + ":2,FSa"));
  EXPECT_EQ(read_all(maildir_ + "/dovecot-keywords"), "0 $Forwarded\n");
  s = state("INBOX");
  EXPECT_EQ(s.keywords, std::vector<std::string>{"$Forwarded"});
  EXPECT_EQ(s.find(2)->keywords, 1u);
  EXPECT_EQ(s.find(2)->flags, flag_flagged);
  EXPECT_GT(s.find(1)->modseq, high);
  EXPECT_GT(s.find(2)->modseq, s.find(1)->modseq) << "one modseq per message changed";
  EXPECT_EQ(s.highest_modseq, s.find(2)->modseq);
  high = s.highest_modseq;

  // A second keyword, then -\Seen and -keyword.
  changed = store("INBOX", {1}, flag_op::add, 0, {"Junk"});
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(fs::exists(maildir_ + "/cur/" + base1 + ":2,FSab"));
  EXPECT_EQ(read_all(maildir_ + "/dovecot-keywords"), "0 $Forwarded\n1 Junk\n");
  changed = store("INBOX", {1}, flag_op::remove, flag_seen, {"$Forwarded"});
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(fs::exists(maildir_ + "/cur/" + base1 + ":2,Fb"));
  s = state("INBOX");
  EXPECT_EQ(s.find(1)->flags, flag_flagged);
  EXPECT_EQ(s.find(1)->keywords, 2u);
  EXPECT_GT(s.highest_modseq, high);
  high = s.highest_modseq;

  // A change that changes nothing takes no modseq.
  changed = store("INBOX", {1}, flag_op::add, flag_flagged);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(changed->empty());
  EXPECT_EQ(state("INBOX").highest_modseq, high);

  // UNCHANGEDSINCE (RFC 7162 3.1.3): a message modified after the given modseq fails.
  const uint64_t m1 = state("INBOX").find(1)->modseq;
  std::vector<uint32_t> failed;
  changed = store("INBOX", {1, 3}, flag_op::add, flag_answered, {}, m1 - 1, &failed);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, std::vector<uint32_t>{3});
  EXPECT_EQ(failed, std::vector<uint32_t>{1});
  EXPECT_EQ(state("INBOX").find(1)->flags, flag_flagged);
  failed.clear();
  changed = store("INBOX", {1}, flag_op::add, flag_answered, {}, m1, &failed);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, std::vector<uint32_t>{1});
  EXPECT_TRUE(failed.empty());

  // Every message's modseq is at most the folder's, and the folder's is one of them.
  s = state("INBOX");
  uint64_t max_modseq = 0;
  for (const auto& m : s.messages) max_modseq = std::max(max_modseq, m.modseq);
  EXPECT_EQ(s.highest_modseq, max_modseq);
  // Each file name carries exactly the flags the index holds.
  for (const auto& m : s.messages) {
    const std::string p = path_of("INBOX", m.uid);
    EXPECT_TRUE(fs::exists(p)) << p;
    if (!m.in_new) {
      maildir_name n = parse_maildir_name(p.substr(p.rfind('/') + 1));
      EXPECT_EQ(n.flags, m.flags);
      EXPECT_EQ(n.keywords, m.keywords);
    }
  }
}

TEST_F(MailStore, ExpungedUidsAreNeverReused) {
  for (int i = 1; i <= 4; ++i) deliver("INBOX", message(i));
  const std::string p3 = path_of("INBOX", 3), p4 = path_of("INBOX", 4);
  const uint64_t before = state("INBOX").highest_modseq;
  auto removed = expunge("INBOX", {4, 3, 99});
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, (std::vector<uint32_t>{4, 3}));
  EXPECT_FALSE(fs::exists(p3));
  EXPECT_FALSE(fs::exists(p4));
  folder_state s = state("INBOX");
  EXPECT_EQ(s.messages.size(), 2u);
  ASSERT_EQ(s.expunged.size(), 2u);
  EXPECT_GT(s.expunged[0].second, before);
  EXPECT_GT(s.expunged[1].second, s.expunged[0].second);
  EXPECT_EQ(s.highest_modseq, s.expunged[1].second);

  EXPECT_EQ(deliver("INBOX", message(5)), 5u);
  ASSERT_TRUE(expunge("INBOX", {5}).ok());
  reopen(/*clean=*/false);
  EXPECT_EQ(state("INBOX").uid_next, 6u);
  EXPECT_EQ(deliver("INBOX", message(6)), 6u);
  // \Deleted messages go with an empty UID list (EXPUNGE).
  ASSERT_TRUE(store("INBOX", {1, 6}, flag_op::add, flag_deleted).ok());
  removed = expunge("INBOX", {});
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, (std::vector<uint32_t>{1, 6}));
  reopen(/*clean=*/true);
  EXPECT_EQ(deliver("INBOX", message(7)), 7u);
  reopen(/*clean=*/false);
  s = state("INBOX");
  ASSERT_EQ(s.messages.size(), 2u);
  EXPECT_EQ(s.messages[0].uid, 2u);
  EXPECT_EQ(s.messages[1].uid, 7u);
  EXPECT_EQ(s.uid_next, 8u);
  EXPECT_EQ(deliver("INBOX", message(8)), 8u);
}

TEST_F(MailStore, CopyAndMoveKeepFlagsShareBytesAndPairUids) {
  ASSERT_TRUE(create("Archive").ok());
  for (int i = 1; i <= 3; ++i) deliver("INBOX", message(i));
  deliver("Archive", message(100));  // Archive's next UID is 2
  ASSERT_TRUE(store("INBOX", {1}, flag_op::add, flag_flagged | flag_seen, {"Work"}).ok());
  ASSERT_TRUE(store("Archive", {1}, flag_op::add, 0, {"Other"}).ok());  // "Work" gets letter b there

  auto pairs = copy("INBOX", {1, 2, 42}, "Archive", false);
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  EXPECT_EQ(*pairs, (std::vector<std::pair<uint32_t, uint32_t>>{{1, 2}, {2, 3}}));
  const folder_state src = state("INBOX");
  const folder_state dst = state("Archive");
  EXPECT_EQ(src.messages.size(), 3u);
  ASSERT_EQ(dst.messages.size(), 3u);
  EXPECT_EQ(dst.keywords, (std::vector<std::string>{"Other", "Work"}));
  EXPECT_EQ(dst.find(2)->flags, flag_flagged | flag_seen);
  EXPECT_EQ(dst.find(2)->keywords, 2u) << "keywords are mapped by name, not by letter";
  EXPECT_NE(dst.find(2)->base, src.find(1)->base);
  // Hard links: one inode, two names.
  struct stat a {}, b {};
  ASSERT_EQ(::stat(path_of("INBOX", 1).c_str(), &a), 0);
  ASSERT_EQ(::stat(path_of("Archive", 2).c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
  EXPECT_TRUE(path_of("Archive", 2).ends_with(":2,FSb"));
  EXPECT_EQ(usage().messages, 6u);

  const std::string moved_from = path_of("INBOX", 3);
  pairs = copy("INBOX", {3}, "Archive", true);
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  EXPECT_EQ(*pairs, (std::vector<std::pair<uint32_t, uint32_t>>{{3, 4}}));
  EXPECT_FALSE(fs::exists(moved_from));
  EXPECT_EQ(state("INBOX").find(3), nullptr);
  const std::string moved_to = path_of("Archive", 4);
  ASSERT_EQ(::stat(moved_to.c_str(), &b), 0);
  EXPECT_EQ(b.st_nlink, 1u);
  EXPECT_EQ(read_all(moved_to), message(3));
  EXPECT_EQ(usage().messages, 6u);
  // Moving within one folder changes nothing.
  pairs = copy("Archive", {4}, "Archive", true);
  ASSERT_TRUE(pairs.ok());
  EXPECT_TRUE(pairs->empty());
  EXPECT_NE(state("Archive").find(4), nullptr);
  // Copy to a folder that does not exist: NotFound (IMAP's [TRYCREATE]).
  EXPECT_TRUE(absl::IsNotFound(copy("INBOX", {1}, "Nowhere", false).status()));
}

// ---- folders and subscriptions -----------------------------------------------------------

TEST_F(MailStore, CreateRenameWithChildrenAndDeleteFolders) {
  ASSERT_TRUE(create("Work").ok());
  ASSERT_TRUE(create("Work/Projects").ok());
  ASSERT_TRUE(create("Work/Projects/2024").ok());
  ASSERT_TRUE(create("Workshop").ok());  // a sibling sharing the prefix, not a child
  ASSERT_TRUE(create("Entwürfe").ok());
  EXPECT_TRUE(absl::IsAlreadyExists(create("Work")));
  EXPECT_TRUE(absl::IsAlreadyExists(create("inbox")));
  EXPECT_TRUE(fs::is_directory(maildir_ + "/.Entw&APw-rfe/cur"));
  EXPECT_EQ(folders(),
            (std::vector<std::string>{"INBOX", "Entwürfe", "Work", "Work/Projects", "Work/Projects/2024", "Workshop"}));
  EXPECT_EQ(deliver("Work/Projects", message(1)), 1u);
  ASSERT_TRUE(store("Work/Projects", {1}, flag_op::add, flag_seen).ok());
  const folder_state before = state("Work/Projects");

  ASSERT_TRUE(rename("Work", "Job").ok());
  EXPECT_EQ(folders(),
            (std::vector<std::string>{"INBOX", "Entwürfe", "Job", "Job/Projects", "Job/Projects/2024", "Workshop"}));
  EXPECT_TRUE(absl::IsNotFound(open("Work/Projects")));
  const folder_state after = state("Job/Projects");
  expect_same_state(before, after, "renamed folder");
  EXPECT_TRUE(absl::IsAlreadyExists(rename("Job", "Workshop")));
  EXPECT_TRUE(absl::IsNotFound(rename("Nothing", "Else")));

  ASSERT_TRUE(remove("Job/Projects/2024").ok());
  EXPECT_TRUE(absl::IsNotFound(remove("Job/Projects/2024")));
  EXPECT_FALSE(remove("INBOX").ok());
  EXPECT_EQ(folders(), (std::vector<std::string>{"INBOX", "Entwürfe", "Job", "Job/Projects", "Workshop"}));
  // Nothing of the deleted folder is left in the Maildir (its trash went too).
  for (const auto& n : names_in(maildir_)) EXPECT_EQ(n.find("ringmail-trashed"), std::string::npos) << n;
  ASSERT_TRUE(remove("Job/Projects").ok());
  EXPECT_EQ(usage().messages, 0u);
}

TEST_F(MailStore, RenamingInboxMovesItsMessages) {
  for (int i = 1; i <= 3; ++i) deliver("INBOX", message(i));
  ASSERT_TRUE(store("INBOX", {2}, flag_op::add, flag_answered).ok());
  ASSERT_TRUE(rename("INBOX", "Old").ok());
  const folder_state old = state("Old");
  ASSERT_EQ(old.messages.size(), 3u);
  EXPECT_EQ(old.messages[1].flags, flag_answered);
  EXPECT_EQ(read_all(path_of("Old", old.messages[2].uid)), message(3));
  const folder_state inbox = state("INBOX");
  EXPECT_TRUE(inbox.messages.empty());
  EXPECT_EQ(inbox.uid_next, 4u) << "INBOX stays, and its UIDs are not reused";
  EXPECT_TRUE(names_in(maildir_ + "/new").empty());
  EXPECT_TRUE(names_in(maildir_ + "/cur").empty());
  EXPECT_EQ(deliver("INBOX", message(4)), 4u);
  EXPECT_TRUE(absl::IsAlreadyExists(rename("Old", "INBOX")));
}

TEST_F(MailStore, SubscriptionsAreKeptAndFollowRenames) {
  ASSERT_TRUE(create("Work").ok());
  ASSERT_TRUE(create("Work/Sub").ok());
  EXPECT_TRUE(subscriptions().empty());
  ASSERT_TRUE(subscribe("Work", true).ok());
  ASSERT_TRUE(subscribe("Work/Sub", true).ok());
  ASSERT_TRUE(subscribe("Sent", true).ok());  // RFC 9051 6.3.7: need not exist
  ASSERT_TRUE(subscribe("Sent", true).ok());  // twice is once
  ASSERT_TRUE(subscribe("inbox", true).ok());
  EXPECT_EQ(subscriptions(), (std::vector<std::string>{"Work", "Work/Sub", "Sent", "INBOX"}));
  ASSERT_TRUE(subscribe("Sent", false).ok());
  EXPECT_FALSE(subscribe("../x", true).ok());
  EXPECT_EQ(subscriptions(), (std::vector<std::string>{"Work", "Work/Sub", "INBOX"}));
  ASSERT_TRUE(rename("Work", "Job").ok());
  reopen(false);
  EXPECT_EQ(subscriptions(), (std::vector<std::string>{"Job", "Job/Sub", "INBOX"}));
  EXPECT_NE(read_all(maildir_ + "/subscriptions").find("Job"), std::string::npos);
}

// ---- reopening, rebuilding, damage ---------------------------------------------------------

// A little history in two folders: deliveries, flags, keywords, expunges, a copy.
class MailStoreHistory : public MailStore {
 protected:
  void make_history() {
    ASSERT_TRUE(create("Archive").ok());
    for (int i = 1; i <= 8; ++i) deliver("INBOX", message(i));
    ASSERT_TRUE(store("INBOX", {1, 2, 3}, flag_op::add, flag_seen).ok());
    ASSERT_TRUE(store("INBOX", {2, 5}, flag_op::add, flag_flagged, {"$Forwarded", "Later"}).ok());
    ASSERT_TRUE(store("INBOX", {2}, flag_op::remove, 0, {"$Forwarded"}).ok());
    ASSERT_TRUE(expunge("INBOX", {4, 8}).ok());
    ASSERT_TRUE(copy("INBOX", {1, 5}, "Archive", false).ok());
    ASSERT_TRUE(copy("INBOX", {6}, "Archive", true).ok());
    deliver("INBOX", message(9));
  }
};

TEST_F(MailStoreHistory, AReopenedStoreEqualsTheLiveState) {
  make_history();
  const folder_state inbox = state("INBOX"), archive = state("Archive");
  ASSERT_EQ(inbox.messages.size(), 6u);
  reopen(/*clean=*/false);  // from checkpoint + log
  expect_same_state(inbox, state("INBOX"), "INBOX after a drop");
  expect_same_state(archive, state("Archive"), "Archive after a drop");
  reopen(/*clean=*/true);   // from a fresh checkpoint
  expect_same_state(inbox, state("INBOX"), "INBOX after a clean close");
  expect_same_state(archive, state("Archive"), "Archive after a clean close");
  reopen(/*clean=*/false);
  expect_same_state(inbox, state("INBOX"), "INBOX after a second open");
  // dovecot-uidlist was kept in step: it names every message with its UID.
  const std::string uidlist = read_all(maildir_ + "/dovecot-uidlist");
  for (const auto& m : inbox.messages) {
    EXPECT_NE(uidlist.find(std::to_string(m.uid) + " :" + m.base), std::string::npos) << uidlist;
  }
}

TEST_F(MailStoreHistory, RebuildEqualsTheLiveIndex) {
  make_history();
  for (const std::string folder : {"INBOX", "Archive"}) {
    const folder_state live = state(folder);
    ASSERT_TRUE(rebuild(folder).ok());
    expect_same_messages(live, state(folder), folder + " rebuilt");
    EXPECT_EQ(state(folder).mailbox_guid, live.mailbox_guid);
    reopen(false);
    expect_same_messages(live, state(folder), folder + " rebuilt, reopened");
  }
  EXPECT_EQ(deliver("INBOX", message(10)), 10u);
  EXPECT_TRUE(absl::IsNotFound(rebuild("Nowhere")));
}

TEST_F(MailStoreHistory, DamagedCheckpointsAreRebuiltNeverTrusted) {
  make_history();
  const folder_state live = state("INBOX");
  const std::string index = maildir_ + "/ringmail-index";
  std::mt19937 rng(7);
  for (int round = 0; round < 4; ++round) {
    reopen(/*clean=*/true);  // checkpoint + dovecot-uidlist written
    std::string bytes = read_all(index);
    ASSERT_GT(bytes.size(), 40u);
    switch (round) {
      case 0: bytes.resize(bytes.size() / 2); break;                      // truncated
      case 1: bytes.resize(bytes.size() - 1); break;                      // one byte short
      case 2: for (int i = 0; i < 16; ++i) bytes[8 + rng() % (bytes.size() - 8)] ^= 0x5a; break;
      case 3: bytes.assign(300, '\0'); for (char& c : bytes) c = static_cast<char>(rng()); break;
    }
    write_all(index, bytes);
    close_stores(false);
    open_stores();
    const folder_state got = state("INBOX");
    expect_same_messages(live, got, "round " + std::to_string(round));
    EXPECT_EQ(got.mailbox_guid, live.mailbox_guid);
    // The rebuilt index is whole again.
    EXPECT_TRUE(decode_checkpoint(read_all(index)).ok()) << "round " << round;
  }
}

TEST_F(MailStoreHistory, GarbageAfterTheLogIsIgnoredAndOverwritten) {
  make_history();
  const folder_state live = state("INBOX");
  close_stores(false);  // the changes since the last checkpoint are only in the log
  const std::string log = maildir_ + "/ringmail-index.log";
  ASSERT_GT(fs::file_size(log), 0u);
  std::string garbage(777, '\0');
  std::mt19937 rng(9);
  for (char& c : garbage) c = static_cast<char>(rng());
  write_all(log, garbage, /*append=*/true);
  open_stores();
  expect_same_state(live, state("INBOX"), "log with garbage");
  // New records go after the last valid one; a later open still sees all of them.
  EXPECT_EQ(deliver("INBOX", message(20)), live.uid_next);
  ASSERT_TRUE(store("INBOX", {live.uid_next}, flag_op::add, flag_seen).ok());
  const folder_state later = state("INBOX");
  close_stores(false);
  write_all(log, std::string("\x10\0\0\0garbage", 11), true);
  open_stores();
  expect_same_state(later, state("INBOX"), "log written over garbage");
}

TEST_F(MailStore, FilesChangedWhileClosedArePickedUp) {
  for (int i = 1; i <= 3; ++i) deliver("INBOX", message(i));
  ASSERT_TRUE(store("INBOX", {1}, flag_op::add, flag_seen).ok());
  const folder_state live = state("INBOX");
  close_stores(/*clean=*/true);
  // Another program (Dovecot's LDA, a script) drops a file into new/, removes message 2,
  // and flags message 1 by renaming it.
  write_all(maildir_ + "/new/1800000000.M1P1.other,S=5", "abcd\n");
  const std::string p1 = maildir_ + "/cur/" + live.find(1)->base + ":2,S";
  ASSERT_TRUE(fs::exists(p1));
  fs::rename(p1, maildir_ + "/cur/" + live.find(1)->base + ":2,FS");
  ASSERT_TRUE(fs::remove(maildir_ + "/new/" + live.find(2)->base));
  open_stores();
  const folder_state s = state("INBOX");
  ASSERT_EQ(s.messages.size(), 3u);
  EXPECT_EQ(s.messages[0].flags, flag_seen | flag_flagged);
  EXPECT_GT(s.messages[0].modseq, live.highest_modseq);
  EXPECT_EQ(s.find(2), nullptr) << "the removed file is expunged";
  EXPECT_EQ(s.messages[2].uid, 4u) << "the foreign file gets the next UID";
  EXPECT_EQ(s.messages[2].base, "1800000000.M1P1.other,S=5");
  EXPECT_EQ(s.messages[2].size, 5u);
  EXPECT_EQ(s.uid_next, 5u);
  EXPECT_FALSE(s.expunged.empty());
  EXPECT_EQ(s.expunged.back().first, 2u);
  EXPECT_EQ(deliver("INBOX", message(5)), 5u);
  EXPECT_EQ(usage().messages, 4u);
}

TEST_F(MailStore, DovecotUidlistGivesTheUidsAtFirstOpen) {
  // A Maildir Dovecot served: UIDs 17 and 42, next 50, and a keyword letter.
  for (const char* d : {"cur", "new", "tmp"}) fs::create_directories(maildir_ + "/" + d);
  write_all(maildir_ + "/cur/1700000001.M1P1.vm,S=4:2,Sa", "one\n");
  write_all(maildir_ + "/cur/1700000002.M2P1.vm,S=4:2,", "two\n");
  write_all(maildir_ + "/new/1700000003.M3P1.vm,S=6", "three\n");
  write_all(maildir_ + "/dovecot-uidlist",
            "3 V1234567 N50 G1cd09405f5c5156b9b31000083ecc375\n"
            "17 :1700000001.M1P1.vm,S=4\n"
            "42 :1700000002.M2P1.vm,S=4\n");
  write_all(maildir_ + "/dovecot-keywords", "0 $Junk\n");
  const folder_state s = state("INBOX");
  EXPECT_EQ(s.uid_validity, 1234567u);
  EXPECT_EQ(s.mailbox_guid, "1cd09405f5c5156b9b31000083ecc375");
  ASSERT_EQ(s.messages.size(), 3u);
  EXPECT_EQ(s.messages[0].uid, 17u);
  EXPECT_EQ(s.messages[0].flags, flag_seen);
  EXPECT_EQ(s.messages[0].keywords, 1u);
  EXPECT_EQ(s.keywords, std::vector<std::string>{"$Junk"});
  EXPECT_EQ(s.messages[1].uid, 42u);
  EXPECT_EQ(s.messages[2].uid, 50u) << "a file Dovecot had not numbered comes after N";
  EXPECT_TRUE(s.messages[2].in_new);
  EXPECT_EQ(s.uid_next, 51u);
  EXPECT_EQ(deliver("INBOX", message(1)), 51u);
  // The uidlist is rewritten for Dovecot with every UID.
  const std::string uidlist = read_all(maildir_ + "/dovecot-uidlist");
  EXPECT_NE(uidlist.find("V1234567"), std::string::npos) << uidlist;
  EXPECT_NE(uidlist.find("50 :1700000003.M3P1.vm,S=6"), std::string::npos) << uidlist;
}

// ---- hostile folder names ------------------------------------------------------------------

TEST_F(MailStore, HostileFolderNamesAreRefusedAndNothingLeavesTheMaildir) {
  deliver("INBOX", message(1));  // the Maildir exists
  const std::vector<std::string> bad = {
      "../x", "a/../../b", "/etc", "/", "~root", "a//b", ".", "..", "a/./b", "a/..", "x/", "",
      "a.b", std::string("a\0b", 3), std::string("\0", 1), "a\x01" "b", "tab\there", "del\x7f", "new\nline",
      std::string(256, 'a'), std::string(300, 'x') + "/y", "\xff\xfe", "\xc3",  // invalid UTF-8
      // 100 x U+00FC is 200 bytes of UTF-8 but > 255 bytes of modified UTF-7 on disk.
      [] { std::string s; for (int i = 0; i < 100; ++i) s += "\xc3\xbc"; return s; }(),
  };
  for (const std::string& name : bad) {
    const absl::Status made = create(name);
    EXPECT_FALSE(made.ok()) << "create " << absl::CEscape(name);
    EXPECT_FALSE(absl::IsAlreadyExists(made)) << absl::CEscape(name);
    EXPECT_FALSE(open(name).ok()) << "open " << absl::CEscape(name);
    EXPECT_FALSE(subscribe(name, true).ok()) << "subscribe " << absl::CEscape(name);
    EXPECT_FALSE(rename("INBOX", name).ok()) << "rename to " << absl::CEscape(name);
    uint32_t uid = on_box([name](mailbox& b) -> task<uint32_t> {
      uint32_t u = 0;
      std::string body = "x\r\n";
      std::vector<std::string_view> pieces{body};
      auto t = b.deliver(name, std::move(pieces), &u);
      delivery_result r = co_await std::move(t);
      EXPECT_FALSE(r.delivered()) << "deliver to " << absl::CEscape(name);
      co_return u;
    });
    EXPECT_EQ(uid, 0u);
  }
  // The longest name that fits is fine.
  EXPECT_TRUE(create(std::string(254, 'a')).ok());
  // Nothing was created anywhere but INBOX's own directories and files.
  std::vector<std::string> made;
  for (const auto& e : fs::recursive_directory_iterator(root_)) {
    const std::string p = e.path().string();
    if (e.is_directory() && p.rfind(maildir_, 0) != 0) {
      EXPECT_TRUE(maildir_.rfind(p, 0) == 0) << p;
    }
    if (p.rfind(maildir_ + "/.", 0) == 0) made.push_back(p.substr(maildir_.size() + 1, p.find('/', maildir_.size() + 1) - maildir_.size() - 1));
  }
  std::set<std::string> top(made.begin(), made.end());
  EXPECT_EQ(top, std::set<std::string>{"." + std::string(254, 'a')});
  EXPECT_EQ(names_in(root_), std::vector<std::string>{"example.org"});
  EXPECT_EQ(names_in(root_ + "/example.org"), std::vector<std::string>{"john"});
  EXPECT_EQ(names_in(root_ + "/example.org/john"), std::vector<std::string>{"Maildir"});
  EXPECT_FALSE(fs::exists("/etc/cur"));
  EXPECT_FALSE(fs::exists(root_ + "/example.org/john/b"));
}

TEST_F(MailStore, TenThousandFoldersThenTheCap) {
  const auto start = std::chrono::steady_clock::now();
  // Everything from one coroutine on the owner: 10,000 create_folder calls, then a list.
  auto result = on_box([](mailbox& b) -> task<absl::Status> {
    for (size_t i = 1; i < kMaxFolders; ++i) {  // INBOX is the first of kMaxFolders
      auto t = b.create_folder("f" + std::to_string(i));
      absl::Status st = co_await std::move(t);
      if (!st.ok()) co_return absl::InternalError("folder " + std::to_string(i) + ": " + std::string(st.message()));
    }
    co_return absl::OkStatus();
  });
  ASSERT_TRUE(result.ok()) << result;
  const std::vector<std::string> list = folders();
  ASSERT_EQ(list.size(), kMaxFolders);
  EXPECT_EQ(list.front(), "INBOX");
  std::set<std::string> unique(list.begin(), list.end());
  EXPECT_EQ(unique.size(), kMaxFolders);
  EXPECT_TRUE(unique.count("f1") && unique.count("f9999"));
  const absl::Status over = create("one-too-many");
  EXPECT_TRUE(absl::IsResourceExhausted(over)) << over;
  EXPECT_NE(over.message().find("10000"), std::string::npos) << over;
  EXPECT_FALSE(fs::exists(maildir_ + "/.one-too-many"));
  // Deleting one makes room again.
  ASSERT_TRUE(remove("f5000").ok());
  EXPECT_TRUE(create("one-too-many").ok());
  const auto took = std::chrono::steady_clock::now() - start;
  std::cerr << "10000 folders: " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
}

// ---- two shards, one mailbox -------------------------------------------------------------

TEST_F(MailStore, TwoShardsChangeOneMailboxAndBothWatchersSeeOneHistory) {
  constexpr int kDeliveries = 60;
  constexpr int kRounds = 30;
  const unsigned other = 1 - owner_;
  std::shared_ptr<open_folder> inbox = on_box([](mailbox& b) -> task<std::shared_ptr<open_folder>> {
    auto f = co_await b.folder("INBOX");
    EXPECT_TRUE(f.ok()) << f.status();
    co_return f.ok() ? *f : nullptr;
  });
  ASSERT_NE(inbox, nullptr);

  std::vector<std::shared_ptr<folder_watch>> watches(kShards);
  for (unsigned i = 0; i < kShards; ++i) {
    watches[i] = std::make_shared<folder_watch>();
    watches[i]->shard = i;
    auto w = watches[i];
    testing::run_on(*shards_, owner_, [inbox, w]() -> task<void> {
      inbox->watch(w);
      co_return;
    });
  }
  std::atomic<uint64_t> target{0};  // the last sequence; 0 while work is running
  std::vector<std::vector<folder_event>> seen(kShards);
  std::vector<int> wakes(kShards, 0);
  std::vector<std::thread> watchers;
  for (unsigned i = 0; i < kShards; ++i) {
    watchers.emplace_back([&, i] {
      testing::run_on(*shards_, i, [&, i]() -> task<void> {
        uint64_t last = 0;
        const unsigned owner = owner_;
        for (;;) {
          auto ask = [inbox, last] { return inbox->events_since(last); };
          auto hop = on_shard(owner, std::move(ask));
          open_folder::event_batch batch = co_await std::move(hop);
          EXPECT_FALSE(batch.reset);
          for (const auto& e : batch.events) seen[i].push_back(e);
          last = batch.last_seq;
          const uint64_t want = target.load();
          if (want != 0 && last >= want) break;
          co_await watches[i]->wake.wait();
          ++wakes[i];
        }
      });
    });
  }

  // Deliveries from the shard that does not own the mailbox, through the local sink and
  // with_mailbox, concurrently; flags and expunges from the owner's shard meanwhile.
  std::thread deliverer([&] {
    testing::run_on(*shards_, other, [&]() -> task<void> {
      delivery::local_sink sink(stores_);
      std::vector<std::string> bodies;
      for (int i = 0; i < kDeliveries; ++i) bodies.push_back(message(i));
      std::vector<task<void>> jobs;
      auto one = [&](int i) -> task<void> {
        if (i % 2 == 0) {
          delivery::sink_message m;
          m.reverse_path = "a@example.net";
          m.message = bodies[i];
          std::vector<delivery::sink_recipient> rcpts{{kUser, ""}};
          auto t = sink.deliver(m, std::move(rcpts));
          std::vector<delivery_result> r = co_await std::move(t);
          EXPECT_TRUE(r.size() == 1 && r[0].delivered());
        } else {
          std::string_view body = bodies[i];
          auto t = with_mailbox(
              stores_, kUser,
              [body](mailbox& b) -> task<bool> {
                std::vector<std::string_view> pieces{body};
                auto d = b.deliver("INBOX", std::move(pieces));
                delivery_result r = co_await std::move(d);
                co_return r.delivered();
              },
              [](const absl::Status&) { return false; });
          EXPECT_TRUE(co_await std::move(t));
        }
      };
      for (int batch = 0; batch < kDeliveries; batch += 10) {
        jobs.clear();
        for (int i = batch; i < batch + 10; ++i) jobs.push_back(one(i));
        co_await when_all(std::move(jobs));
      }
    });
  });
  std::thread changer([&] {
    testing::run_on(*shards_, owner_, [&]() -> task<void> {
      std::mt19937 rng(11);
      for (int round = 0; round < kRounds; ++round) {
        auto t = with_mailbox(
            stores_, kUser,
            [&rng, round](mailbox& b) -> task<bool> {
              auto f = co_await b.folder("INBOX");
              if (!f.ok() || (*f)->state().messages.empty()) co_return true;
              const auto& msgs = (*f)->state().messages;
              std::vector<uint32_t> pick{msgs[rng() % msgs.size()].uid, msgs[rng() % msgs.size()].uid};
              const uint8_t flag = round % 3 == 0 ? flag_seen : flag_flagged;
              auto s = b.store("INBOX", pick, round % 2 == 0 ? flag_op::add : flag_op::remove, flag, {"k1"});
              auto changed = co_await std::move(s);
              if (!changed.ok()) co_return false;
              if (round % 4 == 3) {
                std::vector<uint32_t> victim{pick[0]};
                auto e = b.expunge("INBOX", std::move(victim));
                auto gone = co_await std::move(e);
                if (!gone.ok()) co_return false;
              }
              co_return true;
            },
            [](const absl::Status&) { return false; });
        EXPECT_TRUE(co_await std::move(t));
      }
    });
  });
  deliverer.join();
  changer.join();
  // Deliveries return once their files are durable; their index records may still wait
  // for the folder's background commit. Make those durable (and visible) too.
  const absl::Status flushed = on_box([](mailbox& b) -> task<absl::Status> {
    auto t = b.flush("INBOX");
    co_return co_await std::move(t);
  });
  ASSERT_TRUE(flushed.ok()) << flushed;

  const folder_state final_state = state("INBOX");
  const uint64_t last_seq = testing::run_on(*shards_, owner_, [inbox]() -> task<uint64_t> { co_return inbox->visible_seq(); });
  ASSERT_GT(last_seq, 0u);
  target.store(last_seq);
  for (unsigned i = 0; i < kShards; ++i) {
    auto w = watches[i];
    shards_->run_on(i, [w] { w->wake.notify_all(); });
  }
  for (auto& t : watchers) t.join();

  ASSERT_FALSE(seen[0].empty());
  EXPECT_EQ(seen[0], seen[1]) << "both shards saw one history";
  EXPECT_GT(wakes[0] + wakes[1], 2) << "watchers were woken by the owner, not only at the end";
  std::map<uint32_t, folder_event> alive;
  int appended = 0;
  for (size_t k = 0; k < seen[0].size(); ++k) {
    const folder_event& e = seen[0][k];
    if (k > 0) {
      EXPECT_GT(e.seq, seen[0][k - 1].seq);
      EXPECT_GT(e.modseq, seen[0][k - 1].modseq);
    }
    switch (e.k) {
      case folder_event::appended:
        ++appended;
        EXPECT_EQ(alive.count(e.uid), 0u);
        alive[e.uid] = e;
        break;
      case folder_event::flags_changed:
        EXPECT_EQ(alive.count(e.uid), 1u);
        alive[e.uid] = e;
        break;
      case folder_event::expunged:
        EXPECT_EQ(alive.erase(e.uid), 1u);
        break;
    }
  }
  EXPECT_EQ(appended, kDeliveries);
  EXPECT_EQ(seen[0].back().seq, last_seq);
  EXPECT_EQ(seen[0].back().modseq, final_state.highest_modseq);
  // The events, replayed, give the final state.
  ASSERT_EQ(alive.size(), final_state.messages.size());
  for (const auto& m : final_state.messages) {
    ASSERT_EQ(alive.count(m.uid), 1u) << m.uid;
    EXPECT_EQ(alive[m.uid].flags, m.flags) << m.uid;
    EXPECT_EQ(alive[m.uid].keywords, m.keywords) << m.uid;
    EXPECT_EQ(alive[m.uid].modseq, m.modseq) << m.uid;
  }
  for (unsigned i = 0; i < kShards; ++i) {
    auto w = watches[i];
    w->closed = true;
    testing::run_on(*shards_, owner_, [inbox, w]() -> task<void> {
      inbox->unwatch(w.get());
      co_return;
    });
  }
  inbox.reset();
}

// STATUS of a folder that is not open comes from the checkpoint's header; it must agree
// with a full open, and fall back to one when the files changed behind the store's back.
TEST_F(MailStore, StatusOfAClosedFolderAgreesWithAFullOpen) {
  for (int i = 1; i <= 4; ++i) deliver("INBOX", message(i));
  ASSERT_TRUE(store("INBOX", {2}, flag_op::add, flag_seen).ok());
  const folder_summary live = on_box([](mailbox& b) -> task<folder_summary> {
    auto f = co_await b.folder("INBOX");
    co_return (*f)->summary();
  });
  auto status_now = [this] {
    return on_box([](mailbox& b) -> task<absl::StatusOr<folder_summary>> {
      auto t = b.status("INBOX");
      co_return co_await std::move(t);
    });
  };
  close_stores(/*clean=*/true);
  open_stores();
  auto quick = status_now();
  ASSERT_TRUE(quick.ok()) << quick.status();
  EXPECT_EQ(quick->messages, 4u);
  EXPECT_EQ(quick->unseen, 3u);
  EXPECT_EQ(quick->uid_next, live.uid_next);
  EXPECT_EQ(quick->uid_validity, live.uid_validity);
  EXPECT_EQ(quick->highest_modseq, live.highest_modseq);
  EXPECT_EQ(quick->vsize, live.vsize);
  // The header answered: the folder was not opened (no index log was opened for it).
  EXPECT_EQ(on_box([](mailbox& b) -> task<size_t> { co_return b.open_folder_count(); }), 0u);

  // A file dropped into new/ by another program: the header is out of date, so STATUS
  // opens the folder (and its sync pass finds the file).
  close_stores(/*clean=*/true);
  write_all(maildir_ + "/new/1800000001.M1P1.other,S=5", "abcd\n");
  open_stores();
  auto fresh = status_now();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->messages, 5u);
  EXPECT_EQ(fresh->unseen, 4u);
  EXPECT_EQ(fresh->uid_next, live.uid_next + 1);
}

// UIDs kept from dovecot-uidlist keep clients' caches, so their modseqs must not go back
// either (RFC 7162 3.1): an index built with Dovecot's UIDs starts above any modseq.
TEST_F(MailStore, AnIndexBuiltOnDovecotsUidsStartsModseqsHigh) {
  for (const char* d : {"cur", "new", "tmp"}) fs::create_directories(maildir_ + "/" + d);
  write_all(maildir_ + "/cur/1700000001.M1P1.vm,S=4:2,S", "one\n");
  write_all(maildir_ + "/dovecot-uidlist", "3 V1234567 N8 G1cd09405f5c5156b9b31000083ecc375\n7 :1700000001.M1P1.vm,S=4\n");
  const folder_state s = state("INBOX");
  ASSERT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(s.uid_validity, 1234567u);
  EXPECT_GT(s.highest_modseq, uint64_t{1} << 40) << "microseconds since the epoch, above any change counter";
  EXPECT_GE(s.messages[0].modseq, s.highest_modseq);
}

// A dovecot-uidlist whose UIDs leave no room to grow is numbered afresh under a new
// UIDVALIDITY, never wrapped (the fuzzer found uid_next wrapping at 2^32 - 1).
TEST_F(MailStore, UidsThatCannotGrowAreRenumberedUnderANewUidvalidity) {
  for (const char* d : {"cur", "new", "tmp"}) fs::create_directories(maildir_ + "/" + d);
  write_all(maildir_ + "/cur/1700000001.M1P1.vm,S=4:2,S", "one\n");
  write_all(maildir_ + "/cur/1700000002.M2P1.vm,S=4:2,", "two\n");
  write_all(maildir_ + "/dovecot-uidlist",
            "3 V1234567 N4294967295 G1cd09405f5c5156b9b31000083ecc375\n"
            "4294967290 :1700000001.M1P1.vm,S=4\n"
            "4294967294 :1700000002.M2P1.vm,S=4\n");
  const folder_state s = state("INBOX");
  ASSERT_EQ(s.messages.size(), 2u);
  EXPECT_NE(s.uid_validity, 1234567u);
  EXPECT_EQ(s.messages[0].uid, 1u);
  EXPECT_EQ(s.messages[1].uid, 2u);
  EXPECT_EQ(s.uid_next, 3u);
  EXPECT_EQ(deliver("INBOX", message(1)), 3u);
}

// ringmail-admin against a running server: a second mail store (as another process would)
// is refused while the first holds the mailbox, and gets it once the first closes it.
TEST_F(MailStore, ASecondProcessIsRefusedWhileTheMailboxIsHeld) {
  deliver("INBOX", message(1));
  auto second_open = [this] {
    return testing::run_on(*shards_, owner_, [this]() -> task<absl::Status> {
      writer_options wo;
      wo.fsync = false;
      maildir_writer writer(wo);
      mail_store other(root_, options(), writer, shards_->offload());
      auto box = other.mailbox_for(kUser);
      if (!box.ok()) co_return box.status();
      auto f = co_await (*box)->folder("INBOX");
      absl::Status st = f.ok() ? absl::OkStatus() : f.status();
      co_await other.close_all();
      co_return st;
    });
  };
  absl::Status held = second_open();
  EXPECT_TRUE(absl::IsUnavailable(held)) << held;
  EXPECT_NE(std::string(held.message()).find("in use"), std::string::npos) << held;
  // The server closes the mailbox (idle or stopping): now the other may open it.
  const size_t closed = testing::run_on(*shards_, owner_, [this]() -> task<size_t> {
    auto t = stores_[owner_]->close_idle(std::chrono::milliseconds(0));
    co_return co_await std::move(t);
  });
  EXPECT_EQ(closed, 1u);
  EXPECT_TRUE(second_open().ok());
  // And the first takes it back on its next use.
  EXPECT_EQ(deliver("INBOX", message(2)), 2u);
}

// OBJECTID (RFC 8474): the mailbox GUID is IMAP's MAILBOXID. It survives reopening
// (clean or not), is what a closed folder's STATUS reads from the checkpoint header,
// follows RENAME (the index moves with the directory), and is new after DELETE + CREATE.
TEST_F(MailStore, MailboxGuidIsStableAcrossReopenAndRenameAndNewAfterDelete) {
  ASSERT_TRUE(create("Proj").ok());
  deliver("Proj", message(1));
  const std::string guid = state("Proj").mailbox_guid;
  ASSERT_EQ(guid.size(), 32u);
  EXPECT_NE(state("INBOX").mailbox_guid, guid);
  reopen(/*clean=*/false);
  EXPECT_EQ(state("Proj").mailbox_guid, guid);
  reopen(/*clean=*/true);
  auto quick = on_box([](mailbox& b) -> task<absl::StatusOr<folder_summary>> {
    auto t = b.status("Proj");
    co_return co_await std::move(t);
  });
  ASSERT_TRUE(quick.ok()) << quick.status();
  EXPECT_EQ(quick->mailbox_guid, guid) << "from the checkpoint header";
  EXPECT_EQ(on_box([](mailbox& b) -> task<size_t> { co_return b.open_folder_count(); }), 0u);
  ASSERT_TRUE(rename("Proj", "Archive/Proj").ok());
  EXPECT_EQ(state("Archive/Proj").mailbox_guid, guid);
  ASSERT_TRUE(remove("Archive/Proj").ok());
  ASSERT_TRUE(create("Archive/Proj").ok());
  const std::string fresh = state("Archive/Proj").mailbox_guid;
  EXPECT_EQ(fresh.size(), 32u);
  EXPECT_NE(fresh, guid);
}

// An index written without a mailbox GUID still opens, keeps its UIDs, and gets a GUID
// that is durable: the same after the next reopen.
TEST_F(MailStore, AnIndexWithoutAGuidGetsOneOnOpen) {
  for (int i = 1; i <= 2; ++i) deliver("INBOX", message(i));
  const folder_state before = state("INBOX");
  close_stores(/*clean=*/true);
  const std::string path = maildir_ + "/ringmail-index";
  auto cp = decode_checkpoint(read_all(path));
  ASSERT_TRUE(cp.ok()) << cp.status();
  cp->state.mailbox_guid.clear();
  write_all(path, encode_checkpoint(cp->state, cp->seq));
  open_stores();
  const folder_state opened = state("INBOX");
  EXPECT_EQ(opened.mailbox_guid.size(), 32u);
  expect_same_messages(before, opened, "old index");
  reopen(/*clean=*/false);
  EXPECT_EQ(state("INBOX").mailbox_guid, opened.mailbox_guid);
}

// A COPY keeps the message's bytes (a hard link) and its cache blob, so the EMAILID
// derived from the bytes and cached in the blob is the same in both folders.
TEST_F(MailStore, CopyKeepsTheCacheBlob) {
  ASSERT_TRUE(create("Other").ok());
  deliver("INBOX", message(1));
  ASSERT_TRUE(on_box([](mailbox& b) -> task<absl::Status> {
                auto t = b.set_cache("INBOX", {{1, "imap1:0:0:0:4:Mabc4:Tdef0:"}});
                co_return co_await std::move(t);
              }).ok());
  ASSERT_TRUE(copy("INBOX", {1}, "Other", false).ok());
  EXPECT_EQ(state("Other").find(1)->cache, "imap1:0:0:0:4:Mabc4:Tdef0:");
  EXPECT_EQ(read_all(path_of("Other", 1)), read_all(path_of("INBOX", 1)));
}

}  // namespace
}  // namespace ringmail::mailstore
