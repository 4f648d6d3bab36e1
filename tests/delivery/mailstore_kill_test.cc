// mailstore_kill_test: kill -9 at random points of a mixed load on the mail store, in a
// loop; after each kill every acknowledged change must be there and nothing else wrong.
//
// HOW. Each round forks a child that starts a shard, opens a mail_store (fsync on) on the
// same mail root as every round before, and runs a mixed workload on one user until it is
// killed: deliveries (a small body carrying a unique id), flag and keyword changes,
// expunges, copies and moves, folder creates and renames. Message operations run in
// batches of one to four under when_all, so several changes of one folder share a group
// commit; operations of one batch touch disjoint messages, and folder operations run alone
// in their batch (a rename with a delivery in flight into the same folder is a different
// question from crash recovery). Before a batch starts the child appends a "begin" line per
// operation to a ledger; when an operation RETURNS OK it appends an "ack" line (write +
// fdatasync; the child is a test, its shard may block). The parent sleeps 20-300 ms,
// SIGKILLs the child, opens the store itself through the same code (mailbox::folder: log
// replay, torn tails, the sync pass) and checks, against the last verified state and the
// ledger:
//   - every acked delivery/copy/move is present with its exact body, in the folder it was
//     acked in (or the one an acked rename moved it to), unless an acked expunge/move
//     removed it; an acked expunge is gone; acked flags and keywords are there, with the
//     modseq the owner reported;
//   - begun but unacked operations may or may not have happened (a delivery's message may
//     be there once, a flag change may be old or new, an expunged message may survive, a
//     rename may have happened or not), but nothing else may differ;
//   - UIDs ascend strictly, are below UIDNEXT, and a (mailbox GUID, UIDVALIDITY, UID) never
//     names two different messages over all rounds; new UIDs are >= the UIDNEXT of the
//     last verified state; UIDVALIDITY and the GUID of a folder never change (a rebuilt
//     damaged index would give a new UIDVALIDITY); acked modseqs are above the folder's
//     previous HIGHESTMODSEQ, rise per message, and HIGHESTMODSEQ never goes back.
// The observed state becomes the baseline of the next round.
//
// A SIGKILL keeps the page cache, so this tests the recovery logic, not fsync placement
// (tests/delivery/crash_consistency_test.cc and the power-cut harness do that).
//
// Odd rounds make the index checkpoint every ~1 KiB of log, so kills also cut checkpoints.
//
// Knobs: KILL_ROUNDS (default 20), KILL_SEED (default random; printed on failure).
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "delivery/mailstore/mail_store.h"
#include "delivery/mailstore/maildir_filename.h"
#include "gtest/gtest.h"
#include "runtime/log.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"

namespace ringmail::mailstore {
namespace {

constexpr char kUser[] = "kill@example.org";
// Folder names the workload creates and renames between (one needs modified UTF-7).
const std::vector<std::string> kFolderPool = {"Archive", "Work", "Entwürfe", "Lists", "Old"};
const std::vector<std::string> kKeywordPool = {"$Work", "$Later", "Todo"};
constexpr size_t kMaxOtherFolders = 3;
constexpr size_t kMaxMessages = 120;  // over all folders: expunge more beyond this

// ---- message bodies --------------------------------------------------------------------------

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// The message for `id`: distinct sizes, the id in a header and at the end.
std::string body_of(const std::string& id) {
  std::string b = absl::StrCat("Return-Path: <sender@example.net>\r\nMessage-ID: <", id,
                               "@kill.test>\r\nSubject: kill test ", id, "\r\n\r\n");
  const size_t lines = fnv1a(id) % 40;
  for (size_t i = 0; i < lines; ++i) absl::StrAppend(&b, "line ", i, " of ", id, " lorem ipsum dolor sit amet\r\n");
  absl::StrAppend(&b, "end ", id, "\r\n");
  return b;
}

std::optional<std::string> id_in(std::string_view text) {
  constexpr std::string_view kStart = "Message-ID: <";
  size_t a = text.find(kStart);
  if (a == std::string_view::npos) return std::nullopt;
  a += kStart.size();
  size_t b = text.find("@kill.test>", a);
  if (b == std::string_view::npos) return std::nullopt;
  return std::string(text.substr(a, b - a));
}

// Keyword mask -> sorted names, "," separated; "-" for none (a ledger token).
std::string keyword_names(const folder_state& s, uint32_t mask) {
  std::set<std::string> names;
  for (size_t i = 0; i < s.keywords.size() && i < 32; ++i) {
    if (mask & (1u << i)) names.insert(s.keywords[i]);
  }
  return names.empty() ? "-" : absl::StrJoin(names, ",");
}

// Splits on `sep`, dropping empty pieces (Debian's abseil has its own string_view).
std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::set<std::string> split_names(std::string_view csv) {
  std::set<std::string> out;
  if (csv == "-") return out;
  for (auto& n : split(csv, ',')) out.insert(std::move(n));
  return out;
}

std::string join_names(const std::set<std::string>& names) { return names.empty() ? "-" : absl::StrJoin(names, ","); }

// ---- the child: workload and ledger -------------------------------------------------------------

class ledger {
 public:
  explicit ledger(const std::string& path) : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) {
    if (fd_ < 0) ::_exit(3);
  }
  ~ledger() { ::close(fd_); }
  // One write per call, so a kill never leaves half of an operation's line.
  void write(const std::string& lines) {
    size_t off = 0;
    while (off < lines.size()) {
      ssize_t n = ::write(fd_, lines.data() + off, lines.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) ::_exit(3);
      off += static_cast<size_t>(n);
    }
    if (::fdatasync(fd_) != 0) ::_exit(3);
  }

 private:
  int fd_;
};

class workload {
 public:
  workload(mailbox& box, ledger& led, int round, uint64_t seed) : box_(box), led_(led), round_(round), rng_(seed) {}

  // Runs batches until the process is killed.
  task<void> run() {
    for (;;) {
      auto names = co_await box_.list_folders();
      if (!names.ok()) fatal("list_folders", names.status().ToString());
      std::map<std::string, std::shared_ptr<open_folder>> folders;
      size_t total = 0;
      for (const auto& name : *names) {
        auto f = co_await box_.folder(name);
        if (!f.ok()) fatal("folder " + name, f.status().ToString());
        total += (*f)->state().messages.size();
        folders[name] = *f;
      }
      std::string begins;
      std::vector<task<bool>> ops;
      if (pick(100) < 6) {
        folder_operation(folders, begins, ops);
      } else {
        std::set<std::pair<std::string, uint32_t>> claimed;
        const size_t k = 1 + pick(4);
        for (size_t i = 0; i < k; ++i) message_operation(folders, total, claimed, begins, ops);
      }
      if (ops.empty()) continue;
      led_.write(begins);
      co_await when_all(std::move(ops));
    }
  }

 private:
  size_t pick(size_t n) { return static_cast<size_t>(rng_() % n); }
  std::string next_opid() { return absl::StrCat(round_, ".", ++ops_); }
  [[noreturn]] void fatal(const std::string& what, const std::string& why) {
    led_.write(absl::StrCat("fail - ", what, ": ", why, "\n"));
    ::_exit(4);
  }
  void fail(const std::string& opid, const std::string& why) { led_.write(absl::StrCat("fail ", opid, " ", why, "\n")); }

  // Up to n messages of f that no other operation of this batch touches.
  std::vector<uint32_t> choose(const std::string& name, const open_folder& f, size_t n,
                               std::set<std::pair<std::string, uint32_t>>& claimed) {
    std::vector<uint32_t> free;
    for (const auto& m : f.state().messages) {
      if (!claimed.contains({name, m.uid})) free.push_back(m.uid);
    }
    std::shuffle(free.begin(), free.end(), rng_);
    if (free.size() > n) free.resize(n);
    std::sort(free.begin(), free.end());
    for (uint32_t u : free) claimed.insert({name, u});
    return free;
  }

  void folder_operation(const std::map<std::string, std::shared_ptr<open_folder>>& folders, std::string& begins,
                        std::vector<task<bool>>& ops) {
    std::vector<std::string> absent, present;
    for (const auto& n : kFolderPool) (folders.contains(n) ? present : absent).push_back(n);
    const std::string opid = next_opid();
    const std::string to = absent[pick(absent.size())];
    if (present.size() < kMaxOtherFolders) {
      absl::StrAppend(&begins, "begin ", opid, " create ", to, "\n");
      ops.push_back(do_create(opid, to));
    } else {
      const std::string from = present[pick(present.size())];
      absl::StrAppend(&begins, "begin ", opid, " rename ", from, " ", to, "\n");
      ops.push_back(do_rename(opid, from, to));
    }
  }

  void message_operation(const std::map<std::string, std::shared_ptr<open_folder>>& folders, size_t total,
                         std::set<std::pair<std::string, uint32_t>>& claimed, std::string& begins,
                         std::vector<task<bool>>& ops) {
    auto it = folders.begin();
    std::advance(it, pick(folders.size()));
    const std::string& name = it->first;
    const open_folder& f = *it->second;
    const std::string opid = next_opid();
    size_t kind = pick(100);
    if (total > kMaxMessages) kind = 60;  // expunge
    if (kind < 40) {
      const std::string id = absl::StrCat("r", round_, "m", ops_);
      absl::StrAppend(&begins, "begin ", opid, " deliver ", name, " ", id, "\n");
      ops.push_back(do_deliver(opid, name, id));
    } else if (kind < 60) {
      std::vector<uint32_t> uids = choose(name, f, 1 + pick(3), claimed);
      if (uids.empty()) return;
      const flag_op op = static_cast<flag_op>(pick(3));
      uint8_t flags = 0;
      for (uint8_t bit : {flag_seen, flag_answered, flag_flagged, flag_deleted, flag_draft}) {
        if (pick(3) == 0) flags |= bit;
      }
      std::vector<std::string> keywords;
      for (const auto& k : kKeywordPool) {
        if (pick(3) == 0) keywords.push_back(k);
      }
      // What each message should look like afterwards (the begin line: an unacked change
      // may leave the old or this new state).
      std::string line = absl::StrCat("begin ", opid, " flags ", name);
      for (uint32_t uid : uids) {
        const message_entry* m = f.state().find(uid);
        std::set<std::string> have = split_names(keyword_names(f.state(), m->keywords));
        uint8_t after = m->flags;
        switch (op) {
          case flag_op::add:
            after |= flags;
            have.insert(keywords.begin(), keywords.end());
            break;
          case flag_op::remove:
            after &= static_cast<uint8_t>(~flags);
            for (const auto& k : keywords) have.erase(k);
            break;
          case flag_op::replace:
            after = flags;
            have = std::set<std::string>(keywords.begin(), keywords.end());
            break;
        }
        absl::StrAppend(&line, " ", uid, ":", after, ":", join_names(have));
      }
      absl::StrAppend(&begins, line, "\n");
      ops.push_back(do_flags(opid, name, uids, op, flags, keywords));
    } else if (kind < 75) {
      std::vector<uint32_t> uids = choose(name, f, total > kMaxMessages ? 4 : 1 + pick(2), claimed);
      if (uids.empty()) return;
      absl::StrAppend(&begins, "begin ", opid, " expunge ", name, " ", absl::StrJoin(uids, " "), "\n");
      ops.push_back(do_expunge(opid, name, uids));
    } else {
      if (folders.size() < 2) return;
      auto to = folders.begin();
      std::advance(to, pick(folders.size()));
      if (to->first == name) return;
      std::vector<uint32_t> uids = choose(name, f, 1 + pick(3), claimed);
      if (uids.empty()) return;
      const bool move = pick(2) == 0;
      absl::StrAppend(&begins, "begin ", opid, move ? " move " : " copy ", name, " ", to->first, " ",
                      absl::StrJoin(uids, " "), "\n");
      ops.push_back(do_copy(opid, name, uids, to->first, move));
    }
  }

  task<bool> do_deliver(std::string opid, std::string folder, std::string id) {
    const std::string body = body_of(id);
    std::vector<std::string_view> pieces{body};
    uint32_t uid = 0;
    delivery_result r = co_await box_.deliver(folder, pieces, &uid);
    if (!r.delivered() || uid == 0) {
      fail(opid, absl::StrCat("deliver: ", r.enhanced, " ", r.reason, " uid=", uid));
      co_return false;
    }
    auto f = co_await box_.folder(folder);
    const message_entry* m = f.ok() ? (*f)->state().find(uid) : nullptr;
    if (m == nullptr) {
      fail(opid, "delivered message not in the index");
      co_return false;
    }
    led_.write(absl::StrCat("ack ", opid, " deliver ", folder, " ", uid, " ", m->modseq, " ", id, "\n"));
    co_return true;
  }

  task<bool> do_flags(std::string opid, std::string folder, std::vector<uint32_t> uids, flag_op op, uint8_t flags,
                      std::vector<std::string> keywords) {
    auto changed = co_await box_.store(folder, uids, op, flags, keywords);
    if (!changed.ok()) {
      fail(opid, "store: " + changed.status().ToString());
      co_return false;
    }
    auto f = co_await box_.folder(folder);
    if (!f.ok()) {
      fail(opid, "folder: " + f.status().ToString());
      co_return false;
    }
    std::string line = absl::StrCat("ack ", opid, " flags ", folder);
    for (uint32_t uid : uids) {
      const message_entry* m = (*f)->state().find(uid);
      if (m == nullptr) {
        fail(opid, absl::StrCat("uid ", uid, " vanished during store"));
        co_return false;
      }
      absl::StrAppend(&line, " ", uid, ":", m->flags, ":", keyword_names((*f)->state(), m->keywords), ":", m->modseq);
    }
    led_.write(line + "\n");
    co_return true;
  }

  task<bool> do_expunge(std::string opid, std::string folder, std::vector<uint32_t> uids) {
    auto removed = co_await box_.expunge(folder, uids);
    if (!removed.ok() || *removed != uids) {
      fail(opid, removed.ok() ? absl::StrCat("expunge removed ", absl::StrJoin(*removed, ","))
                              : "expunge: " + removed.status().ToString());
      co_return false;
    }
    led_.write(absl::StrCat("ack ", opid, " expunge ", folder, " ", absl::StrJoin(uids, " "), "\n"));
    co_return true;
  }

  task<bool> do_copy(std::string opid, std::string from, std::vector<uint32_t> uids, std::string to, bool move) {
    auto pairs = co_await box_.copy(from, uids, to, move);
    if (!pairs.ok() || pairs->size() != uids.size()) {
      fail(opid, pairs.ok() ? absl::StrCat("copied ", pairs->size(), " of ", uids.size())
                            : "copy: " + pairs.status().ToString());
      co_return false;
    }
    auto d = co_await box_.folder(to);
    if (!d.ok()) {
      fail(opid, "folder: " + d.status().ToString());
      co_return false;
    }
    std::string line = absl::StrCat("ack ", opid, move ? " move " : " copy ", from, " ", to);
    for (const auto& [src, dst] : *pairs) {
      const message_entry* m = (*d)->state().find(dst);
      if (m == nullptr) {
        fail(opid, absl::StrCat("copied uid ", dst, " not in the index"));
        co_return false;
      }
      absl::StrAppend(&line, " ", src, ":", dst, ":", m->modseq);
    }
    led_.write(line + "\n");
    co_return true;
  }

  task<bool> do_create(std::string opid, std::string name) {
    absl::Status st = co_await box_.create_folder(name);
    if (!st.ok()) {
      fail(opid, "create: " + st.ToString());
      co_return false;
    }
    led_.write(absl::StrCat("ack ", opid, " create ", name, "\n"));
    co_return true;
  }

  task<bool> do_rename(std::string opid, std::string from, std::string to) {
    absl::Status st = co_await box_.rename_folder(from, to);
    if (!st.ok()) {
      fail(opid, "rename: " + st.ToString());
      co_return false;
    }
    led_.write(absl::StrCat("ack ", opid, " rename ", from, " ", to, "\n"));
    co_return true;
  }

  mailbox& box_;
  ledger& led_;
  int round_;
  std::mt19937_64 rng_;
  uint64_t ops_ = 0;
};

[[noreturn]] void child_main(const std::string& root, const std::string& ledger_path, int round, uint64_t seed) {
  log::set_level(log::level::warn);
  auto shards = testing::make_shards(1);
  if (shards == nullptr) ::_exit(2);
  testing::run_on(*shards, 0, [&]() -> task<void> {
    ledger led(ledger_path);
    writer_options wo;
    maildir_writer writer(wo);
    store_options so;  // fsync on
    // Every other round checkpoints after ~1 KiB of log, so kills also land in checkpoint
    // writes (ringmail-index.tmp, its rename, the fresh log's rename).
    if (round % 2 == 1) so.index.checkpoint_bytes = 1024;
    mail_store store(root, so, writer, shards->offload());
    auto box = store.mailbox_for(kUser);
    if (!box.ok()) {
      led.write("fail - mailbox_for " + box.status().ToString() + "\n");
      ::_exit(4);
    }
    workload w(**box, led, round, seed);
    co_await w.run();
  });
  ::_exit(5);  // run() never returns
}

// ---- the parent: what is on disk --------------------------------------------------------------

struct seen_message {
  uint32_t uid = 0;
  uint8_t flags = 0;
  std::string keywords;  // keyword_names()
  uint64_t modseq = 0;
  std::string path;
};

struct seen_folder {
  uint32_t uid_validity = 0;
  uint32_t uid_next = 0;
  uint64_t highest_modseq = 0;
  std::string guid;
  std::vector<seen_message> messages;  // in index order
};

using seen_store = std::map<std::string, seen_folder>;

// Opens the store as a restarted server would and reads every folder; then drops it
// without a checkpoint, as the next crash would.
absl::StatusOr<seen_store> observe(const std::string& root) {
  auto shards = testing::make_shards(1);
  if (shards == nullptr) return absl::InternalError("no shards");
  return testing::run_on(*shards, 0, [&]() -> task<absl::StatusOr<seen_store>> {
    writer_options wo;
    maildir_writer writer(wo);
    mail_store store(root, store_options{}, writer, shards->offload());
    auto box = store.mailbox_for(kUser);
    if (!box.ok()) co_return box.status();
    auto names = co_await (*box)->list_folders();
    if (!names.ok()) co_return names.status();
    seen_store out;
    for (const auto& name : *names) {
      auto f = co_await (*box)->folder(name);
      if (!f.ok()) co_return absl::InternalError(absl::StrCat("folder ", name, ": ", f.status().ToString()));
      const folder_state& s = (*f)->state();
      seen_folder& sf = out[name];
      sf.uid_validity = s.uid_validity;
      sf.uid_next = s.uid_next;
      sf.highest_modseq = s.highest_modseq;
      sf.guid = s.mailbox_guid;
      for (const auto& m : s.messages) {
        sf.messages.push_back({m.uid, m.flags, keyword_names(s, m.keywords), m.modseq, (*f)->path_of(m)});
      }
    }
    co_return out;
  });
}

// ---- the parent: the model ----------------------------------------------------------------------

struct model_message {
  std::string id;
  uint8_t flags = 0;
  std::string keywords;
  uint64_t modseq = 0;
};

struct model_folder {
  bool known = false;      // identity (uid_validity, guid) from an earlier verification
  uint32_t uid_validity = 0;
  std::string guid;
  uint32_t base_uid_next = 1;     // UIDNEXT at the start of the round: new UIDs are >= it
  uint64_t base_modseq = 0;       // HIGHESTMODSEQ at the start of the round
  uint64_t acked_modseq = 0;      // the largest modseq acked this round
  std::set<uint64_t> modseqs;     // every modseq acked this round: each change has its own
  std::map<uint32_t, model_message> messages;
};

using model = std::map<std::string, model_folder>;

struct ledger_op {
  std::vector<std::string> begin, ack;
  bool failed = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> tokens(std::string_view line) { return split(line, ' '); }

// "a:b:c" -> parts (none is empty in the ledger).
std::vector<std::string> parts(std::string_view t) { return split(t, ':'); }

uint32_t u32(std::string_view s) { return static_cast<uint32_t>(std::stoul(std::string(s))); }
uint64_t u64(std::string_view s) { return std::stoull(std::string(s)); }

class checker {
 public:
  // One round: the ledger the child left and the store as it is now. Returns the problems.
  std::vector<std::string> verify(const std::string& ledger_text, const seen_store& seen) {
    problems_.clear();
    // Parse: complete lines only (a kill cannot cut one write, but be safe).
    std::map<std::string, ledger_op> ops;
    std::vector<std::string> ack_order;
    size_t start = 0;
    while (true) {
      size_t nl = ledger_text.find('\n', start);
      if (nl == std::string::npos) break;
      std::string line = ledger_text.substr(start, nl - start);
      start = nl + 1;
      auto t = tokens(line);
      if (t.size() < 2) continue;
      if (t[0] == "begin") {
        ops[t[1]].begin = t;
      } else if (t[0] == "ack") {
        ops[t[1]].ack = t;
        ack_order.push_back(t[1]);
      } else if (t[0] == "fail") {
        ops[t[1]].failed = true;
        problem("the workload reported a failure: " + line);
      }
    }

    model e = base_;
    if (!e.contains("INBOX")) e["INBOX"];  // created on first use by whoever opens first
    for (auto& [name, f] : e) {
      f.acked_modseq = f.base_modseq;
    }
    for (const auto& opid : ack_order) apply_ack(e, ops[opid].ack);

    // Begun, not acked: what may or may not have happened.
    std::map<std::string, std::multiset<std::string>> extras;  // folder -> ids that may appear
    std::map<std::pair<std::string, uint32_t>, std::pair<uint8_t, std::string>> maybe_flags;
    std::set<std::pair<std::string, uint32_t>> maybe_gone;
    for (const auto& [opid, op] : ops) {
      if (!op.ack.empty() || op.begin.size() < 3) continue;
      ++unacked_;
      const auto& b = op.begin;
      const std::string& kind = b[2];
      if (kind == "deliver") {
        extras[b[3]].insert(b[4]);
      } else if (kind == "flags") {
        for (size_t i = 4; i < b.size(); ++i) {
          auto p = parts(b[i]);
          maybe_flags[{b[3], u32(p[0])}] = {static_cast<uint8_t>(u32(p[1])), p[2]};
        }
      } else if (kind == "expunge") {
        for (size_t i = 4; i < b.size(); ++i) maybe_gone.insert({b[3], u32(b[i])});
      } else if (kind == "copy" || kind == "move") {
        for (size_t i = 5; i < b.size(); ++i) {
          auto f = e.find(b[3]);
          if (f == e.end() || !f->second.messages.contains(u32(b[i]))) {
            problem("unacked " + kind + " of a message the model does not have: " + absl::StrJoin(b, " "));
            continue;
          }
          extras[b[4]].insert(f->second.messages[u32(b[i])].id);
          if (kind == "move") maybe_gone.insert({b[3], u32(b[i])});
        }
      } else if (kind == "create") {
        if (seen.contains(b[3]) && !e.contains(b[3])) e[b[3]];
      } else if (kind == "rename") {
        const std::string &from = b[3], &to = b[4];
        if (seen.contains(to) && !seen.contains(from) && e.contains(from) && !e.contains(to)) {
          e[to] = std::move(e[from]);
          e.erase(from);
        }
      }
    }

    // Folders.
    std::set<std::string> expected_names, seen_names;
    for (const auto& [n, f] : e) expected_names.insert(n);
    for (const auto& [n, f] : seen) seen_names.insert(n);
    if (expected_names != seen_names) {
      problem(absl::StrCat("folders: expected {", absl::StrJoin(expected_names, ","), "} found {",
                           absl::StrJoin(seen_names, ","), "}"));
    }

    model next;
    for (const auto& [name, sf] : seen) {
      auto ef = e.find(name);
      model_folder empty;
      const model_folder& f = ef != e.end() ? ef->second : empty;
      const std::string where = "folder " + name;
      if (f.known && (sf.uid_validity != f.uid_validity || sf.guid != f.guid)) {
        problem(absl::StrCat(where, ": UIDVALIDITY/GUID changed from ", f.uid_validity, "/", f.guid, " to ",
                             sf.uid_validity, "/", sf.guid, " (the index was rebuilt)"));
      }
      if (sf.highest_modseq < f.acked_modseq) {
        problem(absl::StrCat(where, ": HIGHESTMODSEQ ", sf.highest_modseq, " below acked/previous ", f.acked_modseq));
      }
      uint32_t last_uid = 0;
      std::map<std::string, size_t> extra_count;
      std::set<uint32_t> present;
      for (const auto& m : sf.messages) {
        const std::string at = absl::StrCat(where, " uid ", m.uid);
        if (m.uid <= last_uid) problem(at + ": UIDs not strictly ascending");
        last_uid = m.uid;
        if (m.uid >= sf.uid_next) problem(absl::StrCat(at, ": not below UIDNEXT ", sf.uid_next));
        if (m.modseq > sf.highest_modseq) problem(absl::StrCat(at, ": modseq above HIGHESTMODSEQ"));
        present.insert(m.uid);
        const std::string text = read_file(m.path);
        auto id = id_in(text);
        if (!id || text != body_of(*id)) {
          problem(at + ": unreadable or wrong body at " + m.path);
          continue;
        }
        remember_uid(sf, m.uid, *id, at);
        auto em = f.messages.find(m.uid);
        if (em != f.messages.end()) {
          const model_message& want = em->second;
          if (*id != want.id) problem(absl::StrCat(at, ": holds ", *id, ", acked as ", want.id));
          auto alt = maybe_flags.find({name, m.uid});
          const bool old_flags = m.flags == want.flags && m.keywords == want.keywords;
          if (alt != maybe_flags.end()) {
            const bool new_flags = m.flags == alt->second.first && m.keywords == alt->second.second;
            if (new_flags && !old_flags) ++unacked_seen_;
            if (!old_flags && !new_flags) {
              problem(absl::StrCat(at, ": flags ", int(m.flags), " ", m.keywords, " are neither the acked ",
                                   int(want.flags), " ", want.keywords, " nor the pending ", int(alt->second.first),
                                   " ", alt->second.second));
            }
            if (m.modseq < want.modseq) problem(absl::StrCat(at, ": modseq went back"));
          } else {
            if (!old_flags) {
              problem(absl::StrCat(at, ": flags ", int(m.flags), " ", m.keywords, ", acked ", int(want.flags), " ",
                                   want.keywords));
            }
            if (m.modseq != want.modseq) problem(absl::StrCat(at, ": modseq ", m.modseq, ", acked ", want.modseq));
          }
        } else {
          // Not acked: must be an unacked delivery or copy, new this round, once.
          if (m.uid < f.base_uid_next) {
            problem(absl::StrCat(at, ": unknown message ", *id, " with an old UID (< ", f.base_uid_next, ")"));
          }
          auto& allowed = extras[name];
          auto a = allowed.find(*id);
          if (a == allowed.end()) {
            problem(absl::StrCat(at, ": message ", *id, " that no operation put here"));
          } else {
            allowed.erase(a);
            ++unacked_seen_;
          }
          if (m.modseq <= f.base_modseq) problem(absl::StrCat(at, ": new message with an old modseq"));
        }
      }
      for (const auto& [uid, want] : f.messages) {
        if (!present.contains(uid) && maybe_gone.contains({name, uid})) ++unacked_seen_;
        if (!present.contains(uid) && !maybe_gone.contains({name, uid})) {
          problem(absl::StrCat(where, " uid ", uid, ": acknowledged message ", want.id, " is missing"));
        }
      }
      // The next round's baseline: what is there now.
      model_folder& nf = next[name];
      nf.known = true;
      nf.uid_validity = sf.uid_validity;
      nf.guid = sf.guid;
      nf.base_uid_next = sf.uid_next;
      nf.base_modseq = sf.highest_modseq;
      for (const auto& m : sf.messages) {
        auto id = id_in(read_file(m.path));
        nf.messages[m.uid] = {id.value_or("?"), m.flags, m.keywords, m.modseq};
      }
    }
    base_ = std::move(next);
    return problems_;
  }

  // Operations begun but not acknowledged when the child died, and effects of such
  // operations found on disk afterwards (messages, flag changes, removals).
  size_t unacked() const { return unacked_; }
  size_t unacked_seen() const { return unacked_seen_; }

  size_t messages() const {
    size_t n = 0;
    for (const auto& [name, f] : base_) n += f.messages.size();
    return n;
  }

 private:
  void problem(std::string p) { problems_.push_back(std::move(p)); }

  // A UID of a folder (GUID + UIDVALIDITY) names one message, ever.
  void remember_uid(const seen_folder& sf, uint32_t uid, const std::string& id, const std::string& at) {
    auto [it, inserted] = uids_ever_.emplace(std::make_tuple(sf.guid, sf.uid_validity, uid), id);
    if (!inserted && it->second != id) problem(absl::StrCat(at, ": UID reused: was ", it->second, ", now ", id));
  }

  void acked_uid(const model_folder& f, uint32_t uid, const std::string& id, const std::string& at) {
    if (!f.known) return;
    auto [it, inserted] = uids_ever_.emplace(std::make_tuple(f.guid, f.uid_validity, uid), id);
    if (!inserted && it->second != id) problem(absl::StrCat(at, ": acked UID reused: was ", it->second, ", now ", id));
  }

  // Fresh modseq for a change acked this round in folder f.
  void acked_modseq(model_folder& f, uint64_t modseq, const std::string& at) {
    if (modseq <= f.base_modseq) {
      problem(absl::StrCat(at, ": acked modseq ", modseq, " not above the round's start ", f.base_modseq));
    }
    if (!f.modseqs.insert(modseq).second) problem(absl::StrCat(at, ": acked modseq ", modseq, " twice"));
    f.acked_modseq = std::max(f.acked_modseq, modseq);
  }

  void apply_ack(model& e, const std::vector<std::string>& a) {
    const std::string at = absl::StrJoin(a, " ");
    if (a.size() < 4) return problem("short ack: " + at);
    const std::string& kind = a[2];
    auto folder = [&](const std::string& name) -> model_folder* {
      auto it = e.find(name);
      if (it == e.end()) {
        problem("ack for a folder the model does not have: " + at);
        return nullptr;
      }
      return &it->second;
    };
    if (kind == "deliver") {
      model_folder* f = folder(a[3]);
      if (f == nullptr) return;
      const uint32_t uid = u32(a[4]);
      if (uid < f->base_uid_next || f->messages.contains(uid)) problem("delivery got a used UID: " + at);
      acked_modseq(*f, u64(a[5]), at);
      acked_uid(*f, uid, a[6], at);
      f->messages[uid] = {a[6], 0, "-", u64(a[5])};
    } else if (kind == "flags") {
      model_folder* f = folder(a[3]);
      if (f == nullptr) return;
      for (size_t i = 4; i < a.size(); ++i) {
        auto p = parts(a[i]);
        auto m = f->messages.find(u32(p[0]));
        if (m == f->messages.end()) {
          problem("flags acked for a message the model does not have: " + at);
          continue;
        }
        const uint64_t modseq = u64(p[3]);
        if (modseq != m->second.modseq) {
          if (modseq < m->second.modseq) problem("a message's modseq went back: " + at);
          acked_modseq(*f, modseq, at);
        }
        m->second.flags = static_cast<uint8_t>(u32(p[1]));
        m->second.keywords = p[2];
        m->second.modseq = modseq;
      }
    } else if (kind == "expunge") {
      model_folder* f = folder(a[3]);
      if (f == nullptr) return;
      for (size_t i = 4; i < a.size(); ++i) {
        if (f->messages.erase(u32(a[i])) == 0) problem("expunge acked for a message the model does not have: " + at);
      }
    } else if (kind == "copy" || kind == "move") {
      model_folder* src = folder(a[3]);
      model_folder* dst = folder(a[4]);
      if (src == nullptr || dst == nullptr) return;
      for (size_t i = 5; i < a.size(); ++i) {
        auto p = parts(a[i]);
        const uint32_t su = u32(p[0]), du = u32(p[1]);
        auto m = src->messages.find(su);
        if (m == src->messages.end()) {
          problem("copy acked for a message the model does not have: " + at);
          continue;
        }
        if (du < dst->base_uid_next || dst->messages.contains(du)) problem("copy got a used UID: " + at);
        model_message copied = m->second;
        copied.modseq = u64(p[2]);
        acked_modseq(*dst, copied.modseq, at);
        acked_uid(*dst, du, copied.id, at);
        dst->messages[du] = copied;
        if (kind == "move") src->messages.erase(m);
      }
    } else if (kind == "create") {
      if (e.contains(a[3])) problem("create acked for a folder that exists: " + at);
      e[a[3]];
    } else if (kind == "rename") {
      if (!e.contains(a[3]) || e.contains(a[4])) return problem("rename acked that the model cannot apply: " + at);
      e[a[4]] = std::move(e[a[3]]);
      e.erase(a[3]);
    } else {
      problem("unknown ack: " + at);
    }
  }

  model base_;
  std::map<std::tuple<std::string, uint32_t, uint32_t>, std::string> uids_ever_;
  std::vector<std::string> problems_;
  size_t unacked_ = 0, unacked_seen_ = 0;
};

int env_int(const char* name, int fallback) {
  const char* v = ::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

TEST(MailstoreKill, AcknowledgedChangesSurviveSigkillInALoop) {
  const int rounds = env_int("KILL_ROUNDS", 20);
  const uint64_t seed = ::getenv("KILL_SEED") != nullptr ? std::stoull(::getenv("KILL_SEED")) : std::random_device{}();
  SCOPED_TRACE(absl::StrCat("KILL_SEED=", seed));
  std::mt19937_64 rng(seed);

  std::string base = ::getenv("TMPDIR") != nullptr ? ::getenv("TMPDIR") : "/tmp";
  std::string pattern = base + "/mailstore_kill.XXXXXX";
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const std::string dir = pattern;
  const std::string root = dir + "/vmail";
  log::set_level(log::level::warn);

  checker check;
  bool clean = true;
  size_t acks = 0;
  for (int round = 0; round < rounds && clean; ++round) {
    const std::string ledger_path = absl::StrCat(dir, "/ledger-", round);
    const uint64_t child_seed = rng();
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) child_main(root, ledger_path, round, child_seed);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 281));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    const std::string text = read_file(ledger_path);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
      ADD_FAILURE() << "round " << round << ": the workload ended by itself (status " << status << "):\n" << text;
      clean = false;
      break;
    }
    for (const auto& line : split(text, '\n')) acks += line.starts_with("ack ") ? 1 : 0;
    auto seen = observe(root);
    ASSERT_TRUE(seen.ok()) << "round " << round << ": " << seen.status();
    std::vector<std::string> problems = check.verify(text, *seen);
    if (!problems.empty()) {
      ADD_FAILURE() << "round " << round << " (files kept in " << dir << "):\n  " << absl::StrJoin(problems, "\n  ");
      clean = false;
    }
  }
  // The workload must have done something worth checking.
  EXPECT_GT(acks, static_cast<size_t>(rounds)) << "too few acknowledged operations";
  EXPECT_GT(check.messages(), 0u);
  std::cerr << "mailstore_kill: " << rounds << " rounds, " << acks << " acked operations, " << check.unacked()
            << " in flight at a kill (" << check.unacked_seen() << " effects of those found), " << check.messages()
            << " messages at the end\n";
  if (clean) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ringmail::mailstore
