// Power-cut consistency of Maildir delivery (tests/support/crash_replay.h): record every
// file-system mutation of ~20 deliveries, then for many cut points rebuild what a power
// cut there could leave and check DESIGN.md's "250 means on disk": every acknowledged
// message is in new/ with all its bytes, and no file in new/ is partial. The same run with
// writer_options.fsync = false must be caught losing acknowledged mail, which proves the
// harness can see a missing fsync (a kill -9 test cannot: the page cache survives it).
//
// The first tests pin the replay model itself on small hand-made traces.
#include <fcntl.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "delivery/mailstore/maildir_writer.h"
#include "gtest/gtest.h"
#include "runtime/file.h"
#include "runtime/file_trace.h"
#include "runtime/reactor.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"
#include "tests/support/crash_replay.h"

namespace ringmail {
namespace {

namespace fs = std::filesystem;
using crash::crash_model;
using kind = file_event::kind;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// ---- the model, on hand-made traces ----------------------------------------------------------

class ReplayModel : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = crash::make_temp_dir("ringmail-replay-");
    ASSERT_FALSE(out_.empty());
    rec_.root = "/r";
  }
  void TearDown() override { crash::remove_tree(out_); }

  file_event ev(kind k, std::string path = "", int fd = -1) {
    file_event e;
    e.what = k;
    e.path = std::move(path);
    e.fd = fd;
    return e;
  }
  void open(int fd, std::string path, int flags = O_CREAT | O_WRONLY) {
    file_event e = ev(kind::open, std::move(path), fd);
    e.flags = flags;
    rec_.events.push_back(e);
  }
  void write(int fd, std::string data, uint64_t offset = 0) {
    file_event e = ev(kind::write, "", fd);
    e.data = std::move(data);
    e.offset = offset;
    rec_.events.push_back(e);
  }
  // An fsync submitted when `covers` events had completed (default: just now).
  void sync(int fd, size_t covers = SIZE_MAX) {
    file_event e = ev(kind::sync, "", fd);
    e.covers = covers == SIZE_MAX ? rec_.events.size() : covers;
    rec_.events.push_back(e);
  }
  void rename(std::string from, std::string to) {
    file_event e = ev(kind::rename, std::move(from));
    e.target = std::move(to);
    rec_.events.push_back(e);
  }
  // Materializes the end of the trace; returns "name=content" for every file, sorted.
  std::vector<std::string> files_after(crash_model m = crash_model::strict) {
    crash::remove_tree(out_);
    absl::Status st = crash::materialize(rec_, rec_.events.size(), out_, m);
    EXPECT_TRUE(st.ok()) << st;
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(out_)) {
      std::string rel = fs::relative(e.path(), out_).string();
      out.push_back(e.is_directory() ? rel + "/" : rel + "=" + read_all(e.path().string()));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  crash::recording rec_;
  std::string out_;
};

TEST_F(ReplayModel, InitialTreeIsDurable) {
  rec_.initial = {{"d", true, ""}, {"d/f", false, "old"}};
  open(3, "/r/d/f", O_WRONLY | O_TRUNC);
  write(3, "new");
  EXPECT_EQ(files_after(), (std::vector<std::string>{"d/", "d/f=old"}));
  EXPECT_EQ(files_after(crash_model::metadata_survives), (std::vector<std::string>{"d/", "d/f=old"}));
  sync(3);
  EXPECT_EQ(files_after(), (std::vector<std::string>{"d/", "d/f=new"}));
}

TEST_F(ReplayModel, WriteRenameWithoutFsyncLosesEverything) {
  rec_.initial = {{"tmp", true, ""}, {"new", true, ""}};
  open(3, "/r/tmp/a");
  write(3, "hello");
  rename("/r/tmp/a", "/r/new/a");
  EXPECT_EQ(files_after(), (std::vector<std::string>{"new/", "tmp/"}));
  // A journal that kept the rename but not the data: the zero-length file.
  EXPECT_EQ(files_after(crash_model::metadata_survives), (std::vector<std::string>{"new/", "new/a=", "tmp/"}));
}

TEST_F(ReplayModel, FsyncFileThenDirectoryKeepsTheMessage) {
  rec_.initial = {{"tmp", true, ""}, {"new", true, ""}};
  open(3, "/r/tmp/a");
  write(3, "hello");
  sync(3);
  rec_.events.push_back(ev(kind::close, "", 3));
  rename("/r/tmp/a", "/r/new/a");
  open(4, "/r/new", O_RDONLY | O_DIRECTORY);
  sync(4);
  // tmp/ itself was never fsynced after the create, so tmp/a never became durable.
  EXPECT_EQ(files_after(), (std::vector<std::string>{"new/", "new/a=hello", "tmp/"}));
}

TEST_F(ReplayModel, FsyncInFlightBeforeTheRenameDoesNotCoverIt) {
  rec_.initial = {{"tmp", true, ""}, {"new", true, ""}, {"tmp/a", false, "x"}};
  open(4, "/r/new", O_RDONLY | O_DIRECTORY);
  const size_t submitted = rec_.events.size();  // the fsync goes to the kernel here ...
  rename("/r/tmp/a", "/r/new/a");
  sync(4, submitted);  // ... and completes after the rename: it proves nothing about it
  EXPECT_EQ(files_after(), (std::vector<std::string>{"new/", "tmp/", "tmp/a=x"}));
  sync(4);
  EXPECT_EQ(files_after(), (std::vector<std::string>{"new/", "new/a=x", "tmp/", "tmp/a=x"}));
  // tmp/ was not fsynced after the rename, so its durable entry still names the inode:
  // the same file under two names (a leftover for clean_tmp), written as a hard link.
  EXPECT_EQ(fs::hard_link_count(out_ + "/new/a"), 2u);
  // An older fsync completing late never rolls the directory back.
  sync(4, submitted);
  EXPECT_EQ(files_after(), (std::vector<std::string>{"new/", "new/a=x", "tmp/", "tmp/a=x"}));
}

TEST_F(ReplayModel, NewDirectoryNeedsItsParentSynced) {
  rec_.events.push_back(ev(kind::mkdir, "/r/d"));
  open(3, "/r/d/f");
  write(3, "data");
  sync(3);
  open(4, "/r/d", O_RDONLY | O_DIRECTORY);
  sync(4);
  EXPECT_EQ(files_after(), std::vector<std::string>{});
  open(5, "/r", O_RDONLY | O_DIRECTORY);
  sync(5);
  EXPECT_EQ(files_after(), (std::vector<std::string>{"d/", "d/f=data"}));
}

TEST_F(ReplayModel, RefusesWritesItCannotFollow) {
  write(7, "x");  // fd 7 was never opened in the trace
  EXPECT_FALSE(crash::materialize(rec_, 1, out_).ok());
}

TEST(CutPoints, IncludeEndsMarkersAndFsyncs) {
  crash::recording rec;
  rec.events.resize(100);  // markers by default
  for (auto& e : rec.events) e.what = kind::unlink;
  rec.events[10].what = kind::marker;
  rec.events[50].what = kind::sync;
  auto cuts = crash::cut_points(rec, 8);
  EXPECT_EQ(cuts.size(), 8u);
  EXPECT_TRUE(std::is_sorted(cuts.begin(), cuts.end()));
  for (size_t c : {size_t{0}, size_t{11}, size_t{50}, size_t{51}, size_t{100}}) {
    EXPECT_NE(std::find(cuts.begin(), cuts.end(), c), cuts.end()) << c;
  }
  EXPECT_EQ(crash::cut_points(rec, 1000).size(), 101u);
  EXPECT_EQ(crash::markers_before(rec, 11).size(), 1u);
  EXPECT_EQ(crash::markers_before(rec, 10).size(), 0u);
}

// ---- the recorder, through the runtime's file layer -----------------------------------------

TEST(FileTrace, RecordsCompletedMutationsWithAbsolutePaths) {
  auto r = testing::make_reactor();
  ASSERT_NE(r, nullptr);
  std::string root = crash::make_temp_dir("ringmail-trace-");
  auto rec = crash::record(*r, root, [&]() -> task<void> {
    EXPECT_TRUE((co_await make_directory(root + "/d")).ok());
    auto f = co_await file::open(root + "/d/../d/f", O_CREAT | O_WRONLY);
    EXPECT_TRUE(f.ok());
    const std::string data = "abc";
    EXPECT_TRUE((co_await f->write_at(data, 0)).ok());
    EXPECT_TRUE((co_await f->sync()).ok());
    EXPECT_TRUE((co_await f->close()).ok());
    file_trace::mark("after close");
    EXPECT_TRUE((co_await rename_path(root + "/d/f", root + "/d/g")).ok());
    EXPECT_FALSE((co_await rename_path(root + "/d/missing", root + "/d/h")).ok());  // not recorded
    EXPECT_TRUE((co_await unlink_path(root + "/d/g")).ok());
    EXPECT_TRUE((co_await remove_directory(root + "/d")).ok());
  });
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(r->file_recorder(), nullptr);  // detached again
  const auto& ev = rec->events;
  ASSERT_EQ(ev.size(), 9u) << crash::dump(*rec, 0, ev.size());
  EXPECT_EQ(ev[0].what, kind::mkdir);
  EXPECT_EQ(ev[1].what, kind::open);
  EXPECT_EQ(ev[1].path, rec->root + "/d/f");
  EXPECT_EQ(ev[2].what, kind::write);
  EXPECT_EQ(ev[2].data, "abc");
  EXPECT_EQ(ev[2].path, rec->root + "/d/f");
  EXPECT_EQ(ev[3].what, kind::sync);
  EXPECT_EQ(ev[3].covers, 3u);  // submitted after mkdir, open and write had completed
  EXPECT_EQ(ev[4].what, kind::close);
  EXPECT_EQ(ev[5].what, kind::marker);
  EXPECT_EQ(ev[6].what, kind::rename);
  EXPECT_EQ(ev[6].target, rec->root + "/d/g");
  EXPECT_EQ(ev[7].what, kind::unlink);
  EXPECT_EQ(ev[8].what, kind::rmdir);
  crash::remove_tree(root);
}

// ---- Maildir delivery under power cuts --------------------------------------------------------

constexpr std::string_view kReturnPath = "Return-Path: <sender@example.net>\r\n";

struct crash_findings {
  size_t states = 0;
  size_t acks_checked = 0;
  size_t lost = 0;     // an acknowledged message missing from new/
  size_t partial = 0;  // a file in new/ that is not a complete delivered message
  std::string first_problem;
};

class MaildirCrash : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_ = testing::make_reactor();
    ASSERT_NE(reactor_, nullptr);
    root_ = crash::make_temp_dir("ringmail-crash-root-", crash::fast_temp_base());
    scratch_ = crash::make_temp_dir("ringmail-crash-state-", crash::fast_temp_base());
    ASSERT_FALSE(root_.empty());
    ASSERT_FALSE(scratch_.empty());
    // Sizes from a few bytes to past the writer's 64 KiB gather limit (several writes).
    for (int i = 0; i < 20; ++i) {
      std::string body(static_cast<size_t>(i % 5 == 4 ? 100'000 + i : 40 + 97 * i), static_cast<char>('a' + i));
      messages_.push_back("Subject: message " + std::to_string(i) + "\r\n\r\n" + body + "\r\n");
    }
  }
  void TearDown() override {
    crash::remove_tree(root_);
    crash::remove_tree(scratch_);
  }

  task<void> deliver_one(mailstore::maildir_writer& w, const std::string& maildir, size_t i) {
    std::vector<std::string_view> pieces{kReturnPath, messages_[i]};
    auto r = co_await w.deliver(maildir, "", std::move(pieces));
    EXPECT_TRUE(r.delivered()) << r.reason;
    if (!r.delivered()) co_return;
    expected_[fs::path(r.path).filename().string()] = std::string(kReturnPath) + messages_[i];
    file_trace::mark("ack " + r.path);
  }

  // 4 deliveries one by one (the first creates the Maildir), then 4 rounds of 4 at once
  // so the directory fsyncs are shared (group commit).
  crash::recording run(bool fsync) {
    mailstore::writer_options o;
    o.hostname = "mx.test";
    o.fsync = fsync;
    mailstore::maildir_writer w(o);
    const std::string maildir = root_ + "/example.org/john/Maildir";
    auto rec = crash::record(*reactor_, root_, [&]() -> task<void> {
      size_t i = 0;
      for (; i < 4; ++i) co_await deliver_one(w, maildir, i);
      while (i < messages_.size()) {
        std::vector<task<void>> round;
        for (int k = 0; k < 4 && i < messages_.size(); ++k, ++i) round.push_back(deliver_one(w, maildir, i));
        co_await when_all(std::move(round));
      }
    });
    EXPECT_TRUE(rec.ok()) << rec.status();
    EXPECT_EQ(expected_.size(), messages_.size());
    if (!rec.ok()) return crash::recording{};
    // The concurrent rounds must have shared new/'s fsyncs, or group commit went untested.
    const std::string new_dir = rec->root + "/example.org/john/Maildir/new";
    size_t new_syncs = 0;
    for (const file_event& e : rec->events) new_syncs += e.what == kind::sync && e.path == new_dir;
    if (fsync) {
      EXPECT_GT(new_syncs, 0u);
      EXPECT_LT(new_syncs, messages_.size()) << "group commit shared no fsync";
    } else {
      EXPECT_EQ(new_syncs, 0u);
    }
    return std::move(*rec);
  }

  crash_findings check(const crash::recording& rec, crash_model m) {
    crash_findings f;
    const std::string new_rel = "example.org/john/Maildir/new";
    auto note = [&](size_t cut, const std::string& what) {
      if (f.first_problem.empty()) {
        f.first_problem = "cut " + std::to_string(cut) + ": " + what + "\ntrace before the cut:\n" +
                          crash::dump(rec, cut > 12 ? cut - 12 : 0, cut);
      }
    };
    absl::Status st = crash::for_each_crash_state(
        rec, crash::cut_points(rec, 100), m, scratch_,
        [&](size_t cut, const std::string& dir, const std::vector<std::string>& markers) {
          ++f.states;
          for (const std::string& mk : markers) {
            ASSERT_TRUE(mk.starts_with("ack " + rec.root + "/")) << mk;
            const std::string rel = mk.substr(4 + rec.root.size() + 1);
            const std::string name = fs::path(rel).filename().string();
            ++f.acks_checked;
            if (!fs::exists(dir + "/" + rel)) {
              ++f.lost;
              note(cut, "acknowledged but lost: " + rel);
            } else if (read_all(dir + "/" + rel) != expected_[name]) {
              ++f.partial;
              note(cut, "acknowledged but not whole: " + rel);
            }
          }
          std::error_code ec;
          for (const auto& e : fs::directory_iterator(dir + "/" + new_rel, ec)) {
            const std::string name = e.path().filename().string();
            auto it = expected_.find(name);
            if (it == expected_.end() || read_all(e.path().string()) != it->second) {
              ++f.partial;
              note(cut, "partial file in new/: " + name + " (" + std::to_string(fs::file_size(e.path())) + " bytes)");
            }
          }
        });
    EXPECT_TRUE(st.ok()) << st;
    return f;
  }

  std::unique_ptr<reactor> reactor_;
  std::string root_;
  std::string scratch_;
  std::vector<std::string> messages_;
  std::map<std::string, std::string> expected_;  // name in new/ -> bytes delivered
};

TEST_F(MaildirCrash, EveryAcknowledgedMessageSurvivesAPowerCut) {
  crash::recording rec = run(/*fsync=*/true);
  for (crash_model m : {crash_model::strict, crash_model::metadata_survives}) {
    crash_findings f = check(rec, m);
    EXPECT_GE(f.states, 40u);
    // Every ack is checked in each later state: 20 acks, many states, so far more than 20.
    EXPECT_GT(f.acks_checked, 100u);
    EXPECT_EQ(f.lost, 0u) << f.first_problem;
    EXPECT_EQ(f.partial, 0u) << f.first_problem;
  }
  // And the end state holds all 20 (the check is not vacuous).
  crash::remove_tree(scratch_);
  ASSERT_TRUE(crash::materialize(rec, rec.events.size(), scratch_).ok());
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(scratch_ + "/example.org/john/Maildir/new")) ++n;
  EXPECT_EQ(n, 20u);
}

// Each fsync's absence is caught on its own: the correct run's trace with only the new/
// directory fsyncs, or only the message files' fsyncs, made to cover nothing.
TEST_F(MaildirCrash, EachMissingFsyncIsCaught) {
  const crash::recording rec = run(/*fsync=*/true);
  auto without_syncs_of = [&](auto matches) {
    crash::recording r = rec;
    size_t dropped = 0;
    for (file_event& e : r.events) {
      if (e.what == kind::sync && matches(e.path)) {
        e.fd = -100;  // a descriptor the trace never opened: the fsync covers nothing
        ++dropped;
      }
    }
    EXPECT_GT(dropped, 0u);
    return r;
  };
  crash_findings no_dir_sync =
      check(without_syncs_of([](const std::string& p) { return p.ends_with("/new"); }), crash_model::strict);
  EXPECT_GT(no_dir_sync.lost, 0u) << "a missing directory fsync went unnoticed";
  crash_findings no_file_sync = check(
      without_syncs_of([](const std::string& p) { return p.find("/tmp/") != std::string::npos; }), crash_model::strict);
  EXPECT_GT(no_file_sync.partial, 0u) << "a missing file fsync went unnoticed";
}

TEST_F(MaildirCrash, WithoutFsyncTheHarnessCatchesLostMail) {
  crash::recording rec = run(/*fsync=*/false);
  crash_findings strict = check(rec, crash_model::strict);
  EXPECT_GT(strict.acks_checked, 0u);
  EXPECT_GT(strict.lost, 0u) << "a missing fsync went unnoticed";
  // Where renames survive but unsynced data does not, new/ holds empty files instead.
  crash_findings journaled = check(rec, crash_model::metadata_survives);
  EXPECT_GT(journaled.partial, 0u) << "a missing file fsync went unnoticed";
}

}  // namespace
}  // namespace ringmail
