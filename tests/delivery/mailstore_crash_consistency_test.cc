// Power-cut consistency of the mail store's index (tests/support/crash_replay.h): record
// every file-system mutation of a mixed mail-store workload on one shard, then for many cut
// points rebuild what a power cut there could leave, open a FRESH mail_store on it and check
// what mailbox.h promises under "WHAT IS TRUE AFTER A CRASH":
//   - every folder opens, its index loads (a cut may leave none yet, never a damaged one);
//   - every acknowledged delivery/copy is there, under the UID it was acknowledged with, with
//     all its bytes; acknowledged expunges (and the source side of moves) are gone;
//   - every acknowledged flag/keyword change is there, unless an operation that had begun but
//     not returned at the cut touches the same message; its modseq is <= the message's
//     modseq <= HIGHESTMODSEQ;
//   - UIDs ascend strictly and are below UIDNEXT; a UID acknowledged for one message never
//     names another; UIDVALIDITY is the one the workload saw;
//   - every indexed message's file exists and is a whole message (no entry whose file is
//     missing after the sync pass, no empty file from an unsynced write);
//   - nothing else: every indexed message was acknowledged there under its UID, or comes
//     from a delivery or copy that had begun before the cut; no folder nobody created;
//   - acknowledged folder creates and renames are there.
// The same workload with fsync off (store and writer) must be caught, and so must the correct
// trace with any ONE kind of fsync made void (index log, checkpoint, message files, new/,
// cur/, folder directories): the test proves each fsync matters, not only that the checker
// passes.
//
// Bug it found: create_folder fsynced the Maildir (the new ".name" entry) but not the new
// folder directory, so a power cut after an acknowledged CREATE could leave ".name" with no
// cur/: no folder (NotFound), yet a retried CREATE says AlreadyExists. Fixed in mailbox.cc.
//
// The workload: deliveries (one by one and four at once, so the index's group commit and
// the writer's shared directory fsyncs both happen), flag and keyword changes (one adds a
// keyword, so dovecot-keywords is rewritten under its dotlock), expunges, a copy and a move
// (hard links), a folder create and a rename, all on a store whose index checkpoints every
// 1 KiB of log, so checkpoints and log swaps happen inside the trace (asserted).
//
// The offload pool's blocking work is not recorded (runtime/file_trace.h sees the ring only):
// mailbox::ensure_locked's mkdir and ringmail.lock, folder_scan's listing and tmp/ cleaning.
// So the INBOX Maildir and ringmail.lock exist before recording starts (part of the durable
// initial snapshot), and delete_folder (whose tree removal runs on the pool) is not used.
//
// Knob: CRASH_CUTS=n checks n cut points per run (default 150; every cut is ~900).
//
// Not covered here: the "directory mtimes match the checkpoint, skip the sync pass" shortcut
// (a materialized tree has fresh mtimes, so every reopen here runs the sync pass).
#include <fcntl.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "delivery/mailstore/folder_name.h"
#include "delivery/mailstore/index_file.h"
#include "delivery/mailstore/mail_store.h"
#include "delivery/mailstore/maildir_filename.h"
#include "gtest/gtest.h"
#include "runtime/file_trace.h"
#include "runtime/log.h"
#include "runtime/offload_pool.h"
#include "runtime/reactor.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"
#include "tests/support/crash_replay.h"

namespace ringmail::mailstore {
namespace {

namespace fs = std::filesystem;
using crash::crash_model;
using kind = file_event::kind;

constexpr char kUser[] = "john@example.org";
constexpr char kMaildirRel[] = "example.org/john/Maildir";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// The message for `id`: the id in a header, distinct sizes (one past the writer's 64 KiB
// gather limit).
std::string body_of(const std::string& id, size_t n) {
  std::string b = absl::StrCat("Return-Path: <sender@example.net>\r\nMessage-ID: <", id,
                               "@crash.test>\r\nSubject: crash test ", id, "\r\n\r\n");
  const size_t lines = n == 7 ? 2000 : 3 + 5 * n;
  for (size_t i = 0; i < lines; ++i) absl::StrAppend(&b, "line ", i, " of ", id, "\r\n");
  return b;
}

std::optional<std::string> id_in(std::string_view text) {
  constexpr std::string_view kStart = "Message-ID: <";
  size_t a = text.find(kStart);
  if (a == std::string_view::npos) return std::nullopt;
  a += kStart.size();
  size_t b = text.find("@crash.test>", a);
  if (b == std::string_view::npos) return std::nullopt;
  return std::string(text.substr(a, b - a));
}

std::set<std::string> keyword_names(const folder_state& s, uint32_t mask) {
  std::set<std::string> out;
  for (size_t i = 0; i < s.keywords.size() && i < 32; ++i) {
    if (mask & (1u << i)) out.insert(s.keywords[i]);
  }
  return out;
}

// ---- what the workload did ---------------------------------------------------------------------

// A message as acknowledged: which message, and its flags after the last acked change.
struct acked_message {
  std::string id;
  uint8_t flags = 0;
  std::set<std::string> keywords;
  uint64_t modseq = 0;  // of the last acked change to it
};

struct operation {
  enum kind_t { deliver, store, expunge, copy, create, rename } k = deliver;
  std::string folder;  // deliver/store/expunge/copy source/create; rename: from
  std::string to;      // copy destination; rename: to
  bool move = false;
  std::string id;                // deliver
  std::vector<uint32_t> uids;    // store, expunge, copy: the source UIDs asked for
  // Results, filled when the operation returns ok (before its "ack" marker).
  uint32_t uid = 0;                                  // deliver
  std::vector<std::pair<uint32_t, uint32_t>> pairs;  // copy
  std::map<uint32_t, acked_message> after;           // store: each changed message after it
  std::vector<uint32_t> removed;                     // expunge
};

struct findings {
  size_t states = 0;
  size_t acks_checked = 0;
  size_t messages_checked = 0;
  size_t violations = 0;
  std::string first_problems;  // the first few, with the trace before the cut
};

class MailStoreCrash : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_ = testing::make_reactor();
    ASSERT_NE(reactor_, nullptr);
    pool_ = std::make_unique<offload_pool>(2);
    root_ = crash::make_temp_dir("ringmail-mscrash-root-", crash::fast_temp_base());
    scratch_ = crash::make_temp_dir("ringmail-mscrash-state-", crash::fast_temp_base());
    ASSERT_FALSE(root_.empty());
    ASSERT_FALSE(scratch_.empty());
    // The parts the offload pool would create unrecorded (see the header).
    const std::string maildir = root_ + "/" + kMaildirRel;
    for (const char* sub : {"/cur", "/new", "/tmp"}) fs::create_directories(maildir + sub);
    std::ofstream(maildir + "/ringmail.lock").flush();
  }
  void TearDown() override {
    crash::remove_tree(root_);
    crash::remove_tree(scratch_);
  }

  // ---- the workload ----------------------------------------------------------------------------

  size_t begin(operation op) {
    ops_.push_back(std::move(op));
    return ops_.size() - 1;
  }
  static void mark_begin(const std::vector<size_t>& ids) {
    file_trace::mark(absl::StrCat("begin ", absl::StrJoin(ids, " ")));
  }
  static void mark_ack(size_t id) { file_trace::mark(absl::StrCat("ack ", id)); }

  acked_message now_of(const open_folder& f, uint32_t uid, const std::string& id) {
    acked_message a;
    a.id = id;
    if (const message_entry* m = f.state().find(uid)) {
      a.flags = m->flags;
      a.keywords = keyword_names(f.state(), m->keywords);
      a.modseq = m->modseq;
    }
    return a;
  }

  task<void> do_deliver(mailbox& box, size_t op) {
    const std::string folder = ops_[op].folder;
    const std::string id = ops_[op].id;
    bodies_[id] = body_of(id, bodies_.size());
    std::vector<std::string_view> pieces{bodies_[id]};
    uint32_t uid = 0;
    delivery_result r = co_await box.deliver(folder, std::move(pieces), &uid);
    EXPECT_TRUE(r.delivered()) << r.reason;
    EXPECT_NE(uid, 0u);
    if (!r.delivered() || uid == 0) co_return;
    ops_[op].uid = uid;
    auto f = co_await box.folder(folder);
    if (f.ok()) ops_[op].after[uid] = now_of(**f, uid, id);
    mark_ack(op);
  }

  task<void> do_store(mailbox& box, size_t op, flag_op how, uint8_t flags, std::vector<std::string> keywords) {
    const std::string folder = ops_[op].folder;
    auto changed = co_await box.store(folder, ops_[op].uids, how, flags, std::move(keywords));
    EXPECT_TRUE(changed.ok()) << changed.status();
    if (!changed.ok()) co_return;
    EXPECT_EQ(changed->size(), ops_[op].uids.size());
    auto f = co_await box.folder(folder);
    if (!f.ok()) co_return;
    for (uint32_t uid : *changed) ops_[op].after[uid] = now_of(**f, uid, "");
    mark_ack(op);
  }

  task<void> do_expunge(mailbox& box, size_t op) {
    auto removed = co_await box.expunge(ops_[op].folder, ops_[op].uids);
    EXPECT_TRUE(removed.ok()) << removed.status();
    if (!removed.ok()) co_return;
    EXPECT_EQ(removed->size(), ops_[op].uids.size());
    ops_[op].removed = *removed;
    mark_ack(op);
  }

  task<void> do_copy(mailbox& box, size_t op) {
    const operation& o = ops_[op];
    auto pairs = co_await box.copy(o.folder, o.uids, o.to, o.move);
    EXPECT_TRUE(pairs.ok()) << pairs.status();
    if (!pairs.ok()) co_return;
    EXPECT_EQ(pairs->size(), ops_[op].uids.size());
    ops_[op].pairs = *pairs;
    auto f = co_await box.folder(ops_[op].to);
    if (!f.ok()) co_return;
    for (auto [src, dst] : *pairs) ops_[op].after[dst] = now_of(**f, dst, "");
    mark_ack(op);
  }

  task<void> do_folder_op(mailbox& box, size_t op) {
    // No conditional expression around a co_await: g++ 12 destroys its temporaries twice.
    absl::Status st;
    if (ops_[op].k == operation::create) {
      st = co_await box.create_folder(ops_[op].folder);
    } else {
      st = co_await box.rename_folder(ops_[op].folder, ops_[op].to);
    }
    EXPECT_TRUE(st.ok()) << st;
    if (st.ok()) mark_ack(op);
  }

  // One operation alone: its begin marker, then it.
  task<void> one(mailbox& box, size_t op) {
    mark_begin({op});
    co_await run_op(box, op);
  }
  // Several at once (they touch disjoint messages), sharing group commits.
  task<void> together(mailbox& box, std::vector<size_t> ids) {
    mark_begin(ids);
    std::vector<task<void>> batch;
    for (size_t op : ids) batch.push_back(run_op(box, op));
    co_await when_all(std::move(batch));
  }

  struct store_args {
    flag_op how = flag_op::add;
    uint8_t flags = 0;
    std::vector<std::string> keywords;
  };
  std::map<size_t, store_args> store_args_;

  task<void> run_op(mailbox& box, size_t op) {
    switch (ops_[op].k) {
      case operation::deliver: co_await do_deliver(box, op); break;
      case operation::store: {
        store_args a = store_args_[op];
        co_await do_store(box, op, a.how, a.flags, std::move(a.keywords));
        break;
      }
      case operation::expunge: co_await do_expunge(box, op); break;
      case operation::copy: co_await do_copy(box, op); break;
      case operation::create:
      case operation::rename: co_await do_folder_op(box, op); break;
    }
  }

  size_t deliver_op(const std::string& folder) {
    operation o;
    o.k = operation::deliver;
    o.folder = folder;
    o.id = absl::StrCat("m", ++next_id_);
    return begin(std::move(o));
  }
  size_t store_op(const std::string& folder, std::vector<uint32_t> uids, flag_op how, uint8_t flags,
                  std::vector<std::string> keywords) {
    operation o;
    o.k = operation::store;
    o.folder = folder;
    o.uids = std::move(uids);
    size_t id = begin(std::move(o));
    store_args_[id] = store_args{how, flags, std::move(keywords)};
    return id;
  }
  size_t expunge_op(const std::string& folder, std::vector<uint32_t> uids) {
    operation o;
    o.k = operation::expunge;
    o.folder = folder;
    o.uids = std::move(uids);
    return begin(std::move(o));
  }
  size_t copy_op(const std::string& from, std::vector<uint32_t> uids, const std::string& to, bool move) {
    operation o;
    o.k = operation::copy;
    o.folder = from;
    o.uids = std::move(uids);
    o.to = to;
    o.move = move;
    return begin(std::move(o));
  }
  size_t folder_op(operation::kind_t k, const std::string& from, const std::string& to = "") {
    operation o;
    o.k = k;
    o.folder = from;
    o.to = to;
    return begin(std::move(o));
  }
  uint32_t uid_of(size_t deliver_op_id) const { return ops_[deliver_op_id].uid; }

  // Vectors made outside the coroutine body: g++ 12 rejects braced lists that live across
  // a co_await ("array used as initializer").
  template <typename... T>
  static std::vector<uint32_t> uids(T... v) {
    return {static_cast<uint32_t>(v)...};
  }
  template <typename... T>
  static std::vector<size_t> ops(T... v) {
    return {static_cast<size_t>(v)...};
  }
  static std::vector<std::string> keywords(const char* k) { return std::vector<std::string>(1, k); }

  task<void> workload(mailbox& box) {
    // INBOX's index is built (and dovecot-uidlist written) inside the trace.
    auto inbox = co_await box.folder("INBOX");
    EXPECT_TRUE(inbox.ok()) << inbox.status();
    if (!inbox.ok()) co_return;
    uid_validity_["INBOX"] = (*inbox)->state().uid_validity;
    std::vector<size_t> d;
    for (int i = 0; i < 5; ++i) {
      d.push_back(deliver_op("INBOX"));
      co_await one(box, d.back());
    }
    for (int round = 0; round < 2; ++round) {
      std::vector<size_t> batch;
      for (int i = 0; i < 4; ++i) batch.push_back(d.emplace_back(deliver_op("INBOX")));
      co_await together(box, batch);
    }
    size_t op = store_op("INBOX", uids(uid_of(d[0]), uid_of(d[1])), flag_op::add, flag_seen, {});
    co_await one(box, op);
    op = store_op("INBOX", uids(uid_of(d[2])), flag_op::add, flag_flagged, keywords("$Work"));  // a new keyword
    co_await one(box, op);
    std::vector<size_t> batch = ops(store_op("INBOX", uids(uid_of(d[3])), flag_op::replace, flag_seen | flag_deleted, {}),
                                    store_op("INBOX", uids(uid_of(d[0])), flag_op::remove, flag_seen, {}),
                                    deliver_op("INBOX"));
    co_await together(box, batch);
    op = expunge_op("INBOX", uids(uid_of(d[3]), uid_of(d[5])));
    co_await one(box, op);
    op = folder_op(operation::create, "Archive");
    co_await one(box, op);
    op = copy_op("INBOX", uids(uid_of(d[2])), "Archive", false);
    co_await one(box, op);
    op = copy_op("INBOX", uids(uid_of(d[4]), uid_of(d[6])), "Archive", true);
    co_await one(box, op);
    auto archive = co_await box.folder("Archive");
    EXPECT_TRUE(archive.ok()) << archive.status();
    if (!archive.ok()) co_return;
    uid_validity_["Archive"] = (*archive)->state().uid_validity;
    std::vector<size_t> a;
    for (int i = 0; i < 3; ++i) a.push_back(deliver_op("Archive"));
    co_await together(box, a);
    op = store_op("Archive", uids(uid_of(a[0])), flag_op::add, flag_answered, keywords("$Work"));
    co_await one(box, op);
    // Wait for the background dovecot-uidlist appends, so none is in flight across the rename.
    absl::Status checkpointed = co_await box.checkpoint_all();
    EXPECT_TRUE(checkpointed.ok()) << checkpointed;
    op = folder_op(operation::rename, "Archive", "Old");
    co_await one(box, op);
    uid_validity_["Old"] = uid_validity_["Archive"];
    batch = ops(deliver_op("Old"), deliver_op("Old"),
                store_op("INBOX", uids(uid_of(d[7]), uid_of(d[8])), flag_op::add, flag_seen, {}), deliver_op("INBOX"));
    co_await together(box, batch);
    op = expunge_op("Old", uids(uid_of(a[1])));
    co_await one(box, op);
    std::vector<size_t> late;
    for (int round = 0; round < 3; ++round) {
      batch.clear();
      for (int i = 0; i < 3; ++i) batch.push_back(i == 2 ? deliver_op("Old") : late.emplace_back(deliver_op("INBOX")));
      co_await together(box, batch);
    }
    op = store_op("INBOX", uids(uid_of(d[9]), uid_of(late.back())), flag_op::add, flag_seen, keywords("Todo"));
    co_await one(box, op);
    op = expunge_op("INBOX", uids(uid_of(d[10])));
    co_await one(box, op);
    // A clean shutdown: checkpoints, uidlist appends drained.
    checkpointed = co_await box.checkpoint_all();
    EXPECT_TRUE(checkpointed.ok()) << checkpointed;
  }

  crash::recording run(bool fsync) {
    writer_options wo;
    wo.hostname = "mx.test";
    wo.fsync = fsync;
    maildir_writer writer(wo);
    store_options so;
    so.fsync = fsync;
    so.index.checkpoint_bytes = 1024;
    mail_store store(root_, so, writer, *pool_);
    auto rec = crash::record(*reactor_, root_, [&]() -> task<void> {
      auto box = store.mailbox_for(kUser);
      EXPECT_TRUE(box.ok()) << box.status();
      if (box.ok()) co_await workload(**box);
    });
    EXPECT_TRUE(rec.ok()) << rec.status();
    if (!rec.ok()) return crash::recording{};
    size_t acks = 0;
    for (const auto& e : rec->events) acks += e.what == kind::marker && e.data.starts_with("ack ");
    EXPECT_EQ(acks, ops_.size()) << "every operation must have been acknowledged";
    return std::move(*rec);
  }

  // ---- the checker -----------------------------------------------------------------------------

  // What the acked operations before a cut promise, and what the begun-but-unacked ones
  // may have done.
  struct expectation {
    std::map<std::string, std::map<uint32_t, acked_message>> folders;  // current name -> uid -> message
    std::map<std::string, std::map<uint32_t, std::string>> ever;       // uid -> id, never reused
    std::map<std::string, std::set<uint32_t>> gone;                    // acked expunges
    std::map<std::string, std::set<uint32_t>> loose;                   // in-flight ops touch these
    std::set<std::string> in_flight_ids;                               // deliveries in flight
    std::optional<std::pair<std::string, std::string>> rename_in_flight;
    std::set<std::string> maybe_folders;                               // creates in flight
  };

  template <typename Map>
  static void rekey(Map& m, const std::string& from, const std::string& to) {
    auto node = m.extract(from);
    if (node.empty()) return;
    node.key() = to;
    m.insert(std::move(node));
  }

  expectation expect_from(const std::vector<std::string>& markers) {
    expectation x;
    x.folders["INBOX"];
    std::set<size_t> begun, acked;
    for (const std::string& mk : markers) {
      if (mk.starts_with("begin ")) {
        for (size_t pos = 6; pos < mk.size();) {
          size_t end = mk.find(' ', pos);
          if (end == std::string::npos) end = mk.size();
          begun.insert(std::stoul(mk.substr(pos, end - pos)));
          pos = end + 1;
        }
        continue;
      }
      const size_t op = std::stoul(mk.substr(4));
      acked.insert(op);
      const operation& o = ops_[op];
      switch (o.k) {
        case operation::deliver: {
          std::string folder = o.folder;
          acked_message m = o.after.at(o.uid);
          m.id = o.id;
          x.folders[folder][o.uid] = m;
          x.ever[folder][o.uid] = o.id;
          break;
        }
        case operation::store:
          for (const auto& [uid, after] : o.after) {
            auto& m = x.folders[o.folder][uid];
            m.flags = after.flags;
            m.keywords = after.keywords;
            m.modseq = after.modseq;
          }
          break;
        case operation::expunge:
          for (uint32_t uid : o.removed) {
            x.folders[o.folder].erase(uid);
            x.gone[o.folder].insert(uid);
          }
          break;
        case operation::copy:
          for (auto [src, dst] : o.pairs) {
            acked_message m = o.after.at(dst);
            m.id = x.folders[o.folder].at(src).id;
            x.folders[o.to][dst] = m;
            x.ever[o.to][dst] = m.id;
            if (o.move) {
              x.folders[o.folder].erase(src);
              x.gone[o.folder].insert(src);
            }
          }
          break;
        case operation::create: x.folders[o.folder]; break;
        case operation::rename:
          rekey(x.folders, o.folder, o.to);
          rekey(x.ever, o.folder, o.to);
          rekey(x.gone, o.folder, o.to);
          break;
      }
    }
    for (size_t op : begun) {
      if (acked.contains(op)) continue;
      const operation& o = ops_[op];
      switch (o.k) {
        case operation::deliver: x.in_flight_ids.insert(o.id); break;
        case operation::store:
        case operation::expunge:
          for (uint32_t uid : o.uids) x.loose[o.folder].insert(uid);
          break;
        case operation::copy:
          for (uint32_t uid : o.uids) {
            x.in_flight_ids.insert(x.folders[o.folder].at(uid).id);
            if (o.move) x.loose[o.folder].insert(uid);
          }
          break;
        case operation::create: x.maybe_folders.insert(o.folder); break;
        case operation::rename: x.rename_in_flight = {o.folder, o.to}; break;
      }
    }
    return x;
  }

  task<void> check_state(const std::string& dir, const expectation& x, findings& f,
                         const std::function<void(const std::string&)>& bad) {
    writer_options wo;
    wo.hostname = "check.test";
    wo.fsync = false;  // the checker's own writes need not be durable
    maildir_writer writer(wo);
    store_options so;
    so.fsync = false;
    mail_store store(dir, so, writer, *pool_);
    auto box = store.mailbox_for(kUser);
    if (!box.ok()) {
      bad("mailbox_for: " + box.status().ToString());
      co_return;
    }
    auto names = co_await (*box)->list_folders();
    if (!names.ok()) {
      bad("list_folders: " + names.status().ToString());
      co_return;
    }
    std::set<std::string> present(names->begin(), names->end());
    // "A crash at any point leaves an index that loads" (the issue): with the fsyncs in
    // place a cut may leave no index yet (a folder just made), never a damaged one that
    // must be rebuilt from the files. Checked on the files before the store opens them.
    for (const std::string& name : present) {
      auto folder_dir = folder_to_dir(name);
      if (!folder_dir.ok()) continue;
      const std::string path = folder_dir->empty() ? (*box)->maildir() : (*box)->maildir() + "/" + *folder_dir;
      folder_state probe;
      index_presence presence = index_presence::missing;
      auto opened = co_await folder_log::open(path, index_options{.fsync = false}, &probe, &presence);
      if (!opened.ok()) {
        bad("index of " + name + " unreadable: " + opened.status().ToString());
      } else if (presence == index_presence::damaged) {
        bad("index of " + name + " damaged (would be rebuilt from the files)");
      }
    }
    for (const std::string& name : present) {
      if (!x.folders.contains(name) && !x.maybe_folders.contains(name) &&
          !(x.rename_in_flight && x.rename_in_flight->second == name)) {
        bad("a folder nobody created: " + name);
      }
    }
    for (const auto& [expected_name, messages] : x.folders) {
      std::string name = expected_name;
      // A rename that had begun: the folder is under exactly one of its names.
      if (x.rename_in_flight && x.rename_in_flight->first == name && !present.contains(name) &&
          present.contains(x.rename_in_flight->second)) {
        name = x.rename_in_flight->second;
      }
      ++f.acks_checked;
      auto opened = co_await (*box)->folder(name);
      if (!opened.ok()) {
        bad("folder " + name + " (acknowledged) does not open: " + opened.status().ToString());
        continue;
      }
      const open_folder& fo = **opened;
      const folder_state& s = fo.state();
      // (Only once something was acknowledged there: a folder whose first index was lost
      // may be built afresh with a new UIDVALIDITY.)
      auto v = uid_validity_.find(expected_name);
      if (v != uid_validity_.end() && x.ever.contains(expected_name) && v->second != s.uid_validity) {
        bad(absl::StrCat(name, ": UIDVALIDITY ", s.uid_validity, ", acknowledged ", v->second));
      }
      // Every indexed message: ascending, below UIDNEXT, its file whole, its UID never reused.
      const std::map<uint32_t, std::string> no_uids;
      auto ever_it = x.ever.find(expected_name);
      const auto& ever = ever_it == x.ever.end() ? no_uids : ever_it->second;
      auto gone_it = x.gone.find(expected_name);
      uint32_t previous = 0;
      std::set<std::string> ids;
      for (const message_entry& m : s.messages) {
        ++f.messages_checked;
        if (m.uid <= previous) bad(absl::StrCat(name, ": UIDs not ascending at ", m.uid));
        previous = m.uid;
        if (m.uid >= s.uid_next) bad(absl::StrCat(name, ": UID ", m.uid, " >= UIDNEXT ", s.uid_next));
        if (m.modseq > s.highest_modseq) bad(absl::StrCat(name, ": modseq ", m.modseq, " > HIGHESTMODSEQ"));
        const std::string path = fo.path_of(m);
        if (!fs::exists(path)) {
          bad(absl::StrCat(name, ": UID ", m.uid, " indexed but its file is missing: ", path));
          continue;
        }
        const std::string text = read_all(path);
        auto id = id_in(text);
        if (!id || !bodies_.contains(*id) || bodies_[*id] != text) {
          bad(absl::StrCat(name, ": UID ", m.uid, " is not a whole message (", text.size(), " bytes)"));
          continue;
        }
        if (!ids.insert(*id).second) bad(absl::StrCat(name, ": message ", *id, " twice"));
        if (auto e = ever.find(m.uid); e != ever.end() && e->second != *id) {
          bad(absl::StrCat(name, ": UID ", m.uid, " was acknowledged for ", e->second, ", now names ", *id));
        }
        // Nothing else: a message is acknowledged here under this UID, or came from an
        // operation that had begun (a delivery or copy that did not return before the cut).
        if (auto want = messages.find(m.uid);
            (want == messages.end() || want->second.id != *id) && !x.in_flight_ids.contains(*id)) {
          bad(absl::StrCat(name, ": UID ", m.uid, " holds ", *id, ", which nothing put there"));
        }
        if (gone_it != x.gone.end() && gone_it->second.contains(m.uid)) {
          bad(absl::StrCat(name, ": UID ", m.uid, " was expunged (acknowledged) but is back"));
        }
      }
      // Every acknowledged message, with its flags.
      auto loose_it = x.loose.find(expected_name);
      for (const auto& [uid, want] : messages) {
        ++f.acks_checked;
        const bool loose = loose_it != x.loose.end() && loose_it->second.contains(uid);
        const message_entry* m = s.find(uid);
        if (m == nullptr) {
          if (!loose) bad(absl::StrCat(name, ": acknowledged UID ", uid, " (", want.id, ") lost"));
          continue;
        }
        auto id = id_in(read_all(fo.path_of(*m)));
        if (!id || *id != want.id) {
          bad(absl::StrCat(name, ": UID ", uid, " should be ", want.id));
          continue;
        }
        if (want.modseq > s.highest_modseq) {
          bad(absl::StrCat(name, ": acknowledged modseq ", want.modseq, " > HIGHESTMODSEQ ", s.highest_modseq));
        }
        if (loose) continue;
        const std::set<std::string> kw = keyword_names(s, m->keywords);
        if (m->flags != want.flags || kw != want.keywords) {
          bad(absl::StrCat(name, ": UID ", uid, " flags ", int{m->flags}, " [", absl::StrJoin(kw, ","),
                           "], acknowledged ", int{want.flags}, " [", absl::StrJoin(want.keywords, ","), "]"));
        }
        if (m->modseq < want.modseq) {
          bad(absl::StrCat(name, ": UID ", uid, " modseq ", m->modseq, " below the acknowledged ", want.modseq));
        }
      }
    }
    co_return;
  }

  // The CRASH_CUTS knob (see the header).
  static size_t cuts_wanted(size_t otherwise) {
    const char* v = std::getenv("CRASH_CUTS");
    return v != nullptr && std::atol(v) > 0 ? static_cast<size_t>(std::atol(v)) : otherwise;
  }

  findings check(const crash::recording& rec, crash_model model, size_t max_cuts = cuts_wanted(150)) {
    // Reopening after a crash logs (index rebuilt, stale dotlock, tmp cleaned) by design.
    const log::level was = log::current_level();
    log::set_level(log::level::error);
    findings f;
    size_t shown = 0;
    absl::Status st = crash::for_each_crash_state(
        rec, crash::cut_points(rec, max_cuts), model, scratch_,
        [&](size_t cut, const std::string& dir, const std::vector<std::string>& markers) {
          ++f.states;
          const expectation x = expect_from(markers);
          auto bad = [&](const std::string& what) {
            ++f.violations;
            if (shown++ < 3) {
              absl::StrAppend(&f.first_problems, "cut ", cut, ": ", what, "\n");
              if (shown == 1) {
                absl::StrAppend(&f.first_problems, "trace before the cut:\n",
                                crash::dump(rec, cut > 25 ? cut - 25 : 0, cut), "\n");
              }
            }
          };
          reactor_->block_on(check_state(dir, x, f, bad));
        });
    log::set_level(was);
    EXPECT_TRUE(st.ok()) << st;
    return f;
  }

  std::unique_ptr<reactor> reactor_;
  std::unique_ptr<offload_pool> pool_;
  std::string root_;
  std::string scratch_;
  std::vector<operation> ops_;
  std::map<std::string, std::string> bodies_;  // id -> bytes
  std::map<std::string, uint32_t> uid_validity_;
  int next_id_ = 0;
};

TEST_F(MailStoreCrash, EveryAcknowledgedChangeSurvivesAPowerCut) {
  crash::recording rec = run(/*fsync=*/true);
  ASSERT_FALSE(rec.events.empty());
  // Checkpoints (ringmail-index.tmp renamed over ringmail-index) and log swaps happened
  // inside the trace, in more than one folder's index, so cuts fall inside them.
  size_t checkpoints = 0, log_swaps = 0;
  for (const file_event& e : rec.events) {
    if (e.what != kind::rename) continue;
    checkpoints += e.target.ends_with("/ringmail-index");
    log_swaps += e.target.ends_with("/ringmail-index.log");
  }
  EXPECT_GE(checkpoints, 4u);
  EXPECT_GE(log_swaps, 4u);
  for (crash_model m : {crash_model::strict, crash_model::metadata_survives}) {
    findings f = check(rec, m);
    EXPECT_GE(f.states, 60u);
    EXPECT_GT(f.acks_checked, 500u);
    EXPECT_GT(f.messages_checked, 500u);
    EXPECT_EQ(f.violations, 0u) << (m == crash_model::strict ? "strict" : "metadata_survives") << " model\n"
                                << f.first_problems;
  }
  // The end state holds what the workload left: the check is not vacuous.
  crash::remove_tree(scratch_);
  ASSERT_TRUE(crash::materialize(rec, rec.events.size(), scratch_).ok());
  size_t files = 0;
  for (const char* folder : {"", "/.Old"}) {
    for (const char* sub : {"/cur", "/new"}) {
      for ([[maybe_unused]] const auto& e : fs::directory_iterator(scratch_ + "/" + kMaildirRel + folder + sub)) ++files;
    }
  }
  EXPECT_EQ(files, bodies_.size() - 4 /* expunged */ + 1 /* the copy */);
}

TEST_F(MailStoreCrash, WithoutFsyncTheCheckerFindsLosses) {
  crash::recording rec = run(/*fsync=*/false);
  ASSERT_FALSE(rec.events.empty());
  findings strict = check(rec, crash_model::strict, cuts_wanted(40));
  EXPECT_GT(strict.acks_checked, 0u);
  EXPECT_GT(strict.violations, 0u) << "a store without fsyncs went unnoticed";
  findings journaled = check(rec, crash_model::metadata_survives, cuts_wanted(40));
  EXPECT_GT(journaled.violations, 0u) << "a store without fsyncs went unnoticed (metadata_survives)";
}

// Each kind of fsync the store makes is needed: the correct run's trace with only that kind
// made to cover nothing must be caught.
TEST_F(MailStoreCrash, EachMissingFsyncIsCaught) {
  const crash::recording rec = run(/*fsync=*/true);
  ASSERT_FALSE(rec.events.empty());
  const std::string maildir = rec.root + "/" + kMaildirRel;
  struct fsync_kind {
    const char* what;
    std::function<bool(const std::string&)> matches;
  };
  const std::vector<fsync_kind> kinds = {
      {"index log", [](const std::string& p) { return p.ends_with("/ringmail-index.log"); }},
      {"index checkpoint", [](const std::string& p) { return p.ends_with("/ringmail-index.tmp"); }},
      {"message files", [](const std::string& p) { return p.find("/tmp/") != std::string::npos; }},
      {"new/", [](const std::string& p) { return p.ends_with("/new"); }},
      {"cur/", [](const std::string& p) { return p.ends_with("/cur"); }},
      {"folder directories", [&](const std::string& p) { return p == maildir || p == maildir + "/.Archive" || p == maildir + "/.Old"; }},
  };
  for (const fsync_kind& k : kinds) {
    crash::recording r = rec;
    size_t dropped = 0;
    for (file_event& e : r.events) {
      if (e.what == kind::sync && k.matches(e.path)) {
        e.fd = -100;  // a descriptor the trace never opened: the fsync covers nothing
        ++dropped;
      }
    }
    EXPECT_GT(dropped, 0u) << k.what;
    findings f = check(r, crash_model::strict, cuts_wanted(60));
    EXPECT_GT(f.violations, 0u) << "missing " << k.what << " fsyncs went unnoticed";
  }
}

}  // namespace
}  // namespace ringmail::mailstore
