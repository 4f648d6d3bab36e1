// The write side of the mail store: Maildir paths and names, ensure_maildir, and
// maildir_writer (tmp -> fsync -> rename -> fsync new/, with group commit), end to end on
// the real file system through the ring.
#include "delivery/mailstore/maildir.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "delivery/mailstore/folder_scan.h"
#include "delivery/mailstore/maildir_writer.h"
#include "gtest/gtest.h"
#include "runtime/file.h"
#include "runtime/reactor.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"

namespace ringmail::mailstore {
namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// ---- paths ------------------------------------------------------------------------------

TEST(MaildirPath, BuildsRootDomainLocalMaildir) {
  EXPECT_EQ(*maildir_path("/var/vmail", "example.org", "john"), "/var/vmail/example.org/john/Maildir");
  EXPECT_EQ(*maildir_path("/var/vmail/", "example.org", "john"), "/var/vmail/example.org/john/Maildir");
  EXPECT_EQ(*maildir_path("/", "example.org", "john"), "/example.org/john/Maildir");
  EXPECT_EQ(*maildir_path("data/vmail", "example.org", "john.doe"), "data/vmail/example.org/john.doe/Maildir");
}

TEST(MaildirPath, RefusesUnsafeComponents) {
  const std::string_view bad[] = {"", ".", "..", "a/b", "/", "../x", "x/..", std::string_view("a\0b", 3),
                                  std::string_view("\0", 1)};
  for (std::string_view b : bad) {
    EXPECT_FALSE(maildir_path("/var/vmail", b, "john").ok()) << "domain=" << b;
    EXPECT_FALSE(maildir_path("/var/vmail", "example.org", b).ok()) << "local=" << b;
  }
  EXPECT_FALSE(maildir_path("", "example.org", "john").ok());
  EXPECT_FALSE(maildir_path("/var/vmail", std::string(256, 'a'), "john").ok());
  EXPECT_TRUE(maildir_path("/var/vmail", std::string(255, 'a'), "john").ok());
  // Names that merely contain dots are fine: they are not "." or "..".
  EXPECT_TRUE(maildir_path("/var/vmail", "example.org", "...").ok());
  EXPECT_TRUE(maildir_path("/var/vmail", "example.org", ".hidden").ok());
}

TEST(MaildirPath, NoInputLeavesMailRoot) {
  // Every two-character and three-character combination of the dangerous bytes.
  const std::string alphabet = std::string("./a") + '\0';
  std::vector<std::string> inputs{""};
  for (int len = 1; len <= 3; ++len) {
    std::vector<std::string> longer;
    for (const std::string& s : inputs) {
      if (static_cast<int>(s.size()) != len - 1) continue;
      for (char c : alphabet) longer.push_back(s + c);
    }
    inputs.insert(inputs.end(), longer.begin(), longer.end());
  }
  for (const std::string& d : inputs) {
    for (const std::string& l : inputs) {
      auto p = maildir_path("/var/vmail", d, l);
      if (!p.ok()) continue;
      const fs::path normal = fs::path(*p).lexically_normal();
      EXPECT_EQ(normal.string().rfind("/var/vmail/", 0), 0u) << *p;
      EXPECT_EQ(std::distance(normal.begin(), normal.end()), 6) << *p;  // / var vmail d l Maildir
    }
  }
}

TEST(FolderPath, InboxJunkAndHierarchy) {
  const std::string md = "/var/vmail/example.org/john/Maildir";
  EXPECT_EQ(*folder_path(md, ""), md);
  EXPECT_EQ(*folder_path(md, "INBOX"), md);
  EXPECT_EQ(*folder_path(md, "inbox"), md);
  EXPECT_EQ(*folder_path(md + "/", "Inbox"), md);
  EXPECT_EQ(*folder_path(md, "Junk"), md + "/.Junk");
  EXPECT_EQ(*folder_path(md, "Lists.Debian"), md + "/.Lists.Debian");
  EXPECT_EQ(*folder_path(md, "Lists/Debian"), md + "/.Lists.Debian");
  EXPECT_EQ(*folder_path(md, "INBOX.Junk"), md + "/.INBOX.Junk");
  EXPECT_EQ(*folder_path(md, "Entw&APw-rfe"), md + "/.Entw&APw-rfe");
}

TEST(FolderPath, RefusesEmptyLevelsAndTraversal) {
  const std::string md = "/m/Maildir";
  const std::string_view bad[] = {".", "..", "...", ".Junk", "Junk.", "a..b", "/", "a/", "/a", "a//b", "../x",
                                  std::string_view("a\0b", 3)};
  for (std::string_view b : bad) EXPECT_FALSE(folder_path(md, b).ok()) << b;
  EXPECT_FALSE(folder_path(md, std::string(255, 'x')).ok());  // "." + 255 > NAME_MAX
  EXPECT_TRUE(folder_path(md, std::string(254, 'x')).ok());
  EXPECT_FALSE(folder_path("", "Junk").ok());
}

// ---- names ------------------------------------------------------------------------------

TEST(UniqueName, ThousandInARowAreDistinctAndWellFormed) {
  unique_namer namer("mx1.example.org", 3);
  std::set<std::string> seen;
  const std::regex shape(R"(^\d+\.M\d{1,6}P\d+Q\d+\.mx1\.example\.org,S=42,W=44$)");
  for (int i = 0; i < 1000; ++i) {
    std::string n = namer.next(42, 44);
    EXPECT_TRUE(std::regex_match(n, shape)) << n;
    EXPECT_TRUE(seen.insert(n).second) << "duplicate " << n;
  }
  EXPECT_EQ(seen.size(), 1000u);
  // Two shards of one process at the same instant still differ (the Q field).
  unique_name_fields f{1700000000, 5, 77, 1, "h", 1, 1};
  unique_namer a("h", 0), b("h", 1);
  auto q_field = [](const std::string& n) {
    size_t at = n.find('Q');
    return n.substr(at, n.find('.', at) - at);
  };
  EXPECT_NE(q_field(a.next(1, 1)), q_field(b.next(1, 1)));
  EXPECT_EQ(unique_name(f), "1700000000.M5P77Q1.h,S=1,W=1");
}

TEST(UniqueName, HostnameEscapedAsDovecotDoes) {
  EXPECT_EQ(escape_hostname("a/b:c"), "a\\057b\\072c");
  EXPECT_EQ(escape_hostname("mx.example.org"), "mx.example.org");
  unique_namer namer("evil/host:name", 0);
  std::string n = namer.next(1, 1);
  EXPECT_NE(n.find(".evil\\057host\\072name,S=1,W=1"), std::string::npos) << n;
  EXPECT_EQ(n.find('/'), std::string::npos);
  EXPECT_EQ(n.find(':'), std::string::npos);
}

TEST(UniqueName, SizeAndVirtualSize) {
  std::vector<std::string_view> lf = {"Subject: x\n", "\n", "body\nmore\n"};
  EXPECT_EQ(total_size(lf), 22u);
  EXPECT_EQ(virtual_size(lf), 26u);  // four bare LFs
  std::vector<std::string_view> crlf = {"Subject: x\r\n", "\r\n", "body\r\nmore\r\n"};
  EXPECT_EQ(total_size(crlf), 26u);
  EXPECT_EQ(virtual_size(crlf), 26u);
  // A CRLF split across two pieces is one CRLF, not a bare LF.
  std::vector<std::string_view> split = {"a\r", "\nb\r", "\n"};
  EXPECT_EQ(virtual_size(split), total_size(split));
  std::vector<std::string_view> mixed = {"\n", "a\r\n\n", "", "\r"};
  EXPECT_EQ(total_size(mixed), 6u);
  EXPECT_EQ(virtual_size(mixed), 8u);
  EXPECT_EQ(virtual_size({}), 0u);
}

// ---- on disk ----------------------------------------------------------------------------

class MaildirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/ringmail-maildir-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    reactor_ = testing::make_reactor();
    ASSERT_NE(reactor_, nullptr);
  }
  void TearDown() override { fs::remove_all(dir_); }

  writer_options options(mode_t file_mode = 0600) {
    writer_options o;
    o.hostname = "mx.test";
    o.file_mode = file_mode;
    return o;
  }

  std::string dir_;
  std::unique_ptr<reactor> reactor_;
};

TEST_F(MaildirTest, EnsureMaildirCreatesParentsAndSubdirsWithMode) {
  const std::string md = dir_ + "/vmail/example.org/john/Maildir";
  io_status st = reactor_->block_on(ensure_maildir(md, 0710));
  ASSERT_TRUE(st.ok()) << st.to_string();
  for (const char* sub : {"", "/cur", "/new", "/tmp"}) {
    EXPECT_TRUE(fs::is_directory(md + sub)) << sub;
    EXPECT_EQ(mode_of(md + sub), 0710u) << sub;
  }
  EXPECT_EQ(mode_of(dir_ + "/vmail"), 0710u);
  // Again: everything exists, still fine.
  EXPECT_TRUE(reactor_->block_on(ensure_maildir(md, 0710)).ok());
  // A folder also makes its parent a Maildir and gets Dovecot's maildirfolder marker.
  const std::string other = dir_ + "/vmail/example.org/jane/Maildir";
  ASSERT_TRUE(reactor_->block_on(ensure_maildir(other + "/.Junk", 0700)).ok());
  EXPECT_TRUE(fs::is_directory(other + "/.Junk/new"));
  EXPECT_TRUE(fs::is_regular_file(other + "/.Junk/maildirfolder"));
  EXPECT_TRUE(fs::is_directory(other + "/cur"));
  EXPECT_FALSE(fs::exists(other + "/maildirfolder"));
}

TEST_F(MaildirTest, EnsureMaildirUnderARegularFileFails) {
  std::ofstream(dir_ + "/plain") << "x";
  io_status st = reactor_->block_on(ensure_maildir(dir_ + "/plain/Maildir", 0700));
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.error_number, ENOTDIR);
}

TEST_F(MaildirTest, DeliverWritesExactBytesIntoNewAndNothingInTmp) {
  const std::string md = dir_ + "/example.org/john/Maildir";
  const std::string return_path = "Return-Path: <alice@example.net>\n";
  const std::string delivered_to = "Delivered-To: john@example.org\n";
  const std::string message = "From: alice@example.net\r\nSubject: hi\r\n\r\nbody line\r\nlast\n";
  maildir_writer w(options(0640));
  auto r = reactor_->block_on(w.deliver(md, "", {return_path, delivered_to, message}));
  ASSERT_TRUE(r.delivered()) << r.enhanced << " " << r.reason;
  EXPECT_EQ(r.enhanced, "2.0.0");
  EXPECT_EQ(fs::path(r.path).parent_path().string(), md + "/new");
  const std::string expected = return_path + delivered_to + message;
  EXPECT_EQ(read_all(r.path), expected);
  EXPECT_EQ(mode_of(r.path), 0640u);
  auto news = names_in(md + "/new");
  ASSERT_EQ(news.size(), 1u);
  // Bare LFs: the two prefix lines and "last\n" -> W = S + 3.
  EXPECT_NE(news[0].find(",S=" + std::to_string(expected.size()) + ",W=" + std::to_string(expected.size() + 3)),
            std::string::npos)
      << news[0];
  EXPECT_TRUE(names_in(md + "/tmp").empty());
  EXPECT_TRUE(names_in(md + "/cur").empty());
  EXPECT_EQ(w.deliveries(), 1u);
  EXPECT_GE(w.directory_syncs(), 1u);
}

TEST_F(MaildirTest, LargeMessageWrittenFromCallerMemoryIsExact) {
  const std::string md = dir_ + "/Maildir";
  std::string big(3 * 1024 * 1024 + 11, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = i % 77 == 76 ? '\n' : static_cast<char>('a' + i % 26);
  const std::string small1 = "Return-Path: <>\r\n", small2 = std::string(70000, 'x') + "\r\n", tail = "\r\n";
  maildir_writer w(options());
  auto r = reactor_->block_on(w.deliver(md, "INBOX", {small1, small2, big, tail}));
  ASSERT_TRUE(r.delivered()) << r.reason;
  EXPECT_TRUE(read_all(r.path) == small1 + small2 + big + tail);
}

TEST_F(MaildirTest, JunkFolderDeliveryLandsInDotJunkNew) {
  const std::string md = dir_ + "/example.org/john/Maildir";
  maildir_writer w(options());
  auto r = reactor_->block_on(w.deliver(md, "Junk", {"Subject: spam\r\n\r\nbuy\r\n"}));
  ASSERT_TRUE(r.delivered()) << r.reason;
  EXPECT_EQ(fs::path(r.path).parent_path().string(), md + "/.Junk/new");
  EXPECT_EQ(names_in(md + "/.Junk/new").size(), 1u);
  EXPECT_TRUE(names_in(md + "/new").empty());
  EXPECT_TRUE(fs::is_regular_file(md + "/.Junk/maildirfolder"));
  EXPECT_TRUE(fs::is_directory(md + "/cur"));
}

TEST_F(MaildirTest, InvalidFolderIsPermanent) {
  maildir_writer w(options());
  auto r = reactor_->block_on(w.deliver(dir_ + "/Maildir", "..", {"x"}));
  EXPECT_EQ(r.st, delivery_result::permanent);
  EXPECT_EQ(r.enhanced, "5.2.0");
  EXPECT_FALSE(fs::exists(dir_ + "/Maildir"));
}

TEST_F(MaildirTest, TwoHundredConcurrentDeliveriesShareDirectorySyncs) {
  const std::string md = dir_ + "/example.org/john/Maildir";
  ASSERT_TRUE(reactor_->block_on(ensure_maildir(md, 0700)).ok());
  constexpr int kN = 200;
  std::vector<std::string> bodies;
  for (int i = 0; i < kN; ++i) {
    bodies.push_back("Subject: message " + std::to_string(i) + "\r\n\r\n" + std::string(1000 + i * 37, 'a' + i % 26) +
                     "\r\n");
  }
  maildir_writer w(options());
  auto results = reactor_->block_on([&]() -> task<std::vector<delivery_result>> {
    std::vector<task<delivery_result>> all;
    for (int i = 0; i < kN; ++i) all.push_back(w.deliver(md, "", {"Delivered-To: john@example.org\r\n", bodies[i]}));
    co_return co_await when_all(std::move(all));
  }());
  std::set<std::string> paths;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(results[i].delivered()) << i << " " << results[i].reason;
    EXPECT_TRUE(paths.insert(results[i].path).second);
    EXPECT_EQ(read_all(results[i].path), "Delivered-To: john@example.org\r\n" + bodies[i]) << i;
  }
  EXPECT_EQ(names_in(md + "/new").size(), static_cast<size_t>(kN));
  EXPECT_TRUE(names_in(md + "/tmp").empty());
  EXPECT_EQ(w.deliveries(), static_cast<uint64_t>(kN));
  std::printf("[ figures  ] %d concurrent deliveries into one Maildir: %llu directory fsyncs\n", kN,
              static_cast<unsigned long long>(w.directory_syncs()));
  EXPECT_GE(w.directory_syncs(), 1u);
  EXPECT_LT(w.directory_syncs(), static_cast<uint64_t>(kN));
  EXPECT_LT(w.directory_syncs(), static_cast<uint64_t>(kN) / 4) << "group commit should batch far more";
}

TEST_F(MaildirTest, ConcurrentFirstDeliveriesCreateTheMaildirTogether) {
  const std::string md = dir_ + "/new.example/fresh/Maildir";
  maildir_writer w(options());
  auto results = reactor_->block_on([&]() -> task<std::vector<delivery_result>> {
    std::vector<task<delivery_result>> all;
    for (int i = 0; i < 50; ++i) all.push_back(w.deliver(md, i % 2 ? "Junk" : "", {"Subject: x\r\n\r\nhello\r\n"}));
    co_return co_await when_all(std::move(all));
  }());
  for (const auto& r : results) EXPECT_TRUE(r.delivered()) << r.reason;
  EXPECT_EQ(names_in(md + "/new").size(), 25u);
  EXPECT_EQ(names_in(md + "/.Junk/new").size(), 25u);
  std::printf("[ figures  ] 50 first deliveries (creating Maildir and .Junk): %llu directory fsyncs\n",
              static_cast<unsigned long long>(w.directory_syncs()));
}

TEST_F(MaildirTest, SyncsJoinedTogetherShareOneFsync) {
  const std::string d = dir_;
  maildir_writer w(options());
  auto statuses = reactor_->block_on([&]() -> task<std::vector<io_status>> {
    std::vector<task<io_status>> all;
    for (int i = 0; i < 10; ++i) all.push_back(w.sync_directory(d));
    co_return co_await when_all(std::move(all));
  }());
  for (const auto& st : statuses) EXPECT_TRUE(st.ok());
  EXPECT_EQ(w.directory_syncs(), 1u) << "all ten joined before the fsync was submitted";
}

TEST_F(MaildirTest, JoiningAfterFsyncWasSubmittedWaitsForTheNextOne) {
  const std::string d = dir_;
  maildir_writer w(options());
  reactor* r = reactor_.get();
  uint64_t a_resumed_at = 0, b_resumed_at = 0, syncs_when_b_joined = 0;
  reactor_->block_on([&]() -> task<void> {
    auto a = [&]() -> task<void> {
      EXPECT_TRUE((co_await w.sync_directory(d)).ok());
      a_resumed_at = r->completions_processed();
    };
    auto b = [&]() -> task<void> {
      while (w.directory_syncs() == 0) co_await yield();  // A's fsync is now submitted
      syncs_when_b_joined = w.directory_syncs();
      EXPECT_TRUE((co_await w.sync_directory(d)).ok());
      b_resumed_at = r->completions_processed();
    };
    co_await when_all(a(), b());
  }());
  EXPECT_EQ(syncs_when_b_joined, 1u);
  EXPECT_EQ(w.directory_syncs(), 2u) << "B needed an fsync that started after it joined";
  EXPECT_GT(b_resumed_at, a_resumed_at) << "B must not be released by A's fsync";
}

TEST_F(MaildirTest, WaiterDestroyedWhileWaitingIsUnlinked) {
  const std::string d = dir_;
  maildir_writer w(options());
  reactor_->block_on([&]() -> task<void> {
    task<io_status> kept = w.sync_directory(d);
    task<io_status> dropped = w.sync_directory(d);
    kept.handle().resume();     // runs until it waits for the sync
    dropped.handle().resume();  // joins the same batch
    dropped = task<io_status>{};  // its frame goes away mid-wait
    while (!kept.done()) co_await yield();
    EXPECT_TRUE(kept.handle().promise().take_result().ok());
    // The state for the directory was retired; a new sync starts afresh.
    EXPECT_TRUE((co_await w.sync_directory(d)).ok());
  }());
  EXPECT_EQ(w.directory_syncs(), 2u);
}

TEST_F(MaildirTest, UnwritableLocationIsTemporaryAndLeavesNothing) {
  // Tests run as root, which bypasses permission bits, so break the path instead: the
  // Maildir's parent is a regular file (ENOTDIR).
  std::ofstream(dir_ + "/plain") << "not a directory";
  maildir_writer w(options());
  auto r = reactor_->block_on(w.deliver(dir_ + "/plain/Maildir", "", {"Subject: x\r\n\r\ny\r\n"}));
  EXPECT_EQ(r.st, delivery_result::temporary) << r.reason;
  EXPECT_EQ(r.enhanced, "4.2.0");
  EXPECT_TRUE(r.path.empty());
  EXPECT_EQ(read_all(dir_ + "/plain"), "not a directory");
  EXPECT_EQ(names_in(dir_), std::vector<std::string>{"plain"});
  EXPECT_EQ(w.deliveries(), 0u);
}

TEST_F(MaildirTest, FailedRenameRemovesTheTmpFile) {
  // new/ replaced by a regular file: open, write and fsync in tmp/ succeed, the rename
  // fails with ENOTDIR, and the finished tmp file must be removed.
  const std::string md = dir_ + "/Maildir";
  ASSERT_TRUE(reactor_->block_on(ensure_maildir(md, 0700)).ok());
  fs::remove(md + "/new");
  std::ofstream(md + "/new") << "";
  maildir_writer w(options());
  auto r = reactor_->block_on(w.deliver(md, "", {"Subject: x\r\n\r\n", std::string(100000, 'z')}));
  EXPECT_EQ(r.st, delivery_result::temporary) << r.reason;
  EXPECT_EQ(r.enhanced, "4.2.0");
  EXPECT_TRUE(names_in(md + "/tmp").empty());
  EXPECT_TRUE(fs::is_regular_file(md + "/new"));
  EXPECT_EQ(fs::file_size(md + "/new"), 0u);
}

TEST_F(MaildirTest, FolderScanCleansOldTmpFilesOnly) {
  const std::string md = dir_ + "/Maildir";
  ASSERT_TRUE(reactor_->block_on(ensure_maildir(md + "/.Junk", 0700)).ok());
  auto make = [](const std::string& path, int age_hours) {
    std::ofstream(path) << "partial";
    struct timespec times[2];
    ::clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= age_hours * 3600;
    times[1] = times[0];
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  };
  make(md + "/tmp/old", 48);
  make(md + "/tmp/recent", 1);
  make(md + "/tmp/fresh", 0);
  make(md + "/.Junk/tmp/old", 72);
  make(md + "/new/old-but-delivered", 100);
  fs::create_directory(md + "/tmp/olddir");
  // Lazily, per folder: scanning INBOX cleans INBOX's tmp/ and leaves .Junk's alone.
  EXPECT_EQ(scan_folder(md, std::chrono::hours(36)).tmp_removed, 1u);
  EXPECT_EQ(names_in(md + "/tmp"), (std::vector<std::string>{"fresh", "olddir", "recent"}));
  EXPECT_EQ(names_in(md + "/.Junk/tmp"), (std::vector<std::string>{"old"}));
  EXPECT_EQ(scan_folder(md + "/.Junk", std::chrono::hours(36)).tmp_removed, 1u);
  EXPECT_TRUE(names_in(md + "/.Junk/tmp").empty());
  EXPECT_TRUE(fs::exists(md + "/new/old-but-delivered"));
  // A missing folder is nothing to clean, not an error.
  EXPECT_EQ(scan_folder(dir_ + "/none", std::chrono::seconds(0)).tmp_removed, 0u);
}

TEST(ResultFromErrno, TemporaryUnlessNoRetryCanHelp) {
  struct row {
    int err;
    delivery_result::status st;
    const char* code;
  };
  const row table[] = {
      {ENOSPC, delivery_result::temporary, "4.3.1"}, {EDQUOT, delivery_result::temporary, "4.2.2"},
      {EFBIG, delivery_result::permanent, "5.2.3"},  {EACCES, delivery_result::temporary, "4.2.0"},
      {EPERM, delivery_result::temporary, "4.2.0"},  {ENOTDIR, delivery_result::temporary, "4.2.0"},
      {EAGAIN, delivery_result::temporary, "4.2.0"}, {ESTALE, delivery_result::temporary, "4.2.0"},
      {ENAMETOOLONG, delivery_result::temporary, "4.3.5"}, {EIO, delivery_result::temporary, "4.3.0"},
      {EROFS, delivery_result::temporary, "4.3.0"},  {EMFILE, delivery_result::temporary, "4.3.0"},
      {-ENOSPC, delivery_result::temporary, "4.3.1"}, {EPROTO, delivery_result::temporary, "4.2.0"},
  };
  for (const row& r : table) {
    delivery_result d = result_from_errno(r.err, "write");
    EXPECT_EQ(d.st, r.st) << r.err;
    EXPECT_EQ(d.enhanced, r.code) << r.err;
    EXPECT_NE(d.reason.find("write: "), std::string::npos) << d.reason;
    EXPECT_EQ(d.enhanced[0], r.st == delivery_result::permanent ? '5' : '4');
  }
}

}  // namespace
}  // namespace ringmail::mailstore
