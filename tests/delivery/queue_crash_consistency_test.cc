// Power-cut consistency of the outbound queue (delivery/queue/queue_store.h) with the
// replay harness (tests/support/crash_replay.h): record 20 enqueues (4 one by one, then 4
// rounds of 4 at once, so directory fsyncs are shared), updates and removes; then for many
// cut points rebuild what a power cut could leave, open a new store on it and check
// DESIGN.md's promise for the queue: every acknowledged enqueue is there with all its
// bytes, every acknowledged update is there (or a later one), a message whose remove was
// under way is gone or back with every recipient final, an acknowledged remove stays
// gone, an acknowledged hold or release (the admin's, <id>.hold) is what a restart finds,
// an acknowledged forced delete stays gone, and nothing is ever found damaged (files are
// fsynced before they are named). The same run without fsync must be caught losing mail.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "delivery/mailstore/maildir_writer.h"
#include "delivery/queue/queue_store.h"
#include "gtest/gtest.h"
#include "runtime/file_trace.h"
#include "runtime/offload_pool.h"
#include "runtime/reactor.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"
#include "tests/support/crash_replay.h"

namespace ringmail::queue {
namespace {

using crash::crash_model;

struct findings {
  size_t states = 0;
  size_t acks_checked = 0;
  size_t lost = 0;       // an acknowledged enqueue or update missing
  size_t damaged = 0;    // a wrong body, or a file moved to corrupt/
  size_t resurrected = 0;  // a finished message back with work left, or a removed one back
  std::string first_problem;
};

class QueueCrash : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_ = testing::make_reactor();
    ASSERT_NE(reactor_, nullptr);
    pool_ = std::make_unique<offload_pool>(1);
    root_ = crash::make_temp_dir("ringmail-qcrash-root-", crash::fast_temp_base());
    scratch_ = crash::make_temp_dir("ringmail-qcrash-state-", crash::fast_temp_base());
    ASSERT_FALSE(root_.empty());
    ASSERT_FALSE(scratch_.empty());
    for (int i = 0; i < 20; ++i) {
      std::string body(static_cast<size_t>(i % 5 == 4 ? 70'000 + i : 40 + 97 * i), static_cast<char>('a' + i));
      messages_.push_back("Subject: message " + std::to_string(i) + "\r\n\r\n" + body + "\r\n");
    }
  }
  void TearDown() override {
    crash::remove_tree(root_);
    crash::remove_tree(scratch_);
  }

  std::vector<recipient_state> two_rcpts() {
    std::vector<recipient_state> r(2);
    r[0].address = "x@example.net";
    r[1].address = "y@example.net";
    return r;
  }

  task<void> enqueue_one(queue_store& s, size_t i) {
    std::vector<std::string_view> pieces;
    pieces.push_back(messages_[i]);
    enqueue_result r = co_await s.enqueue(std::move(pieces), "a@example.org", two_rcpts(), 1000 + static_cast<int64_t>(i));
    EXPECT_TRUE(r.result.delivered()) << r.result.reason;
    if (!r.result.delivered()) co_return;
    expected_[r.id] = messages_[i];
    ids_.push_back(r.id);
    file_trace::mark("ack " + r.id);
  }

  crash::recording run(bool fsync) {
    queue_options o;
    o.fsync = fsync;
    mailstore::maildir_writer w(mailstore::writer_options{});
    queue_store store(root_ + "/queue", o, w, *pool_);
    // Made before recording: load_all's mkdirs run on the offload pool, unrecorded.
    absl::Status loaded = reactor_->block_on(store.load_all());
    EXPECT_TRUE(loaded.ok()) << loaded;
    auto rec = crash::record(*reactor_, root_, [&]() -> task<void> {
      size_t i = 0;
      for (; i < 4; ++i) co_await enqueue_one(store, i);
      while (i < messages_.size()) {
        std::vector<task<void>> round;
        for (int k = 0; k < 4 && i < messages_.size(); ++k, ++i) round.push_back(enqueue_one(store, i));
        co_await when_all(std::move(round));
      }
      // First attempts: recipient 0 deferred on 8 messages, then delivered on 4 of them
      // along with recipient 1 bounced, and those 4 removed.
      for (size_t k = 0; k < 8; ++k) {
        std::vector<recipient_outcome> o = {{0, rcpt_status::deferred, 5000, "451 4.4.1 later"}};
        absl::Status st = co_await store.update(ids_[k], std::move(o));
        EXPECT_TRUE(st.ok()) << st;
        if (st.ok()) file_trace::mark("upd " + ids_[k]);
      }
      for (size_t k = 0; k < 4; ++k) {
        std::vector<recipient_outcome> o = {{0, rcpt_status::delivered, 0, ""}, {1, rcpt_status::bounced, 0, "550 5.1.1"}};
        absl::Status st = co_await store.update(ids_[k], std::move(o));
        EXPECT_TRUE(st.ok()) << st;
        if (st.ok()) file_trace::mark("fin " + ids_[k]);
        st = co_await store.remove(ids_[k]);
        EXPECT_TRUE(st.ok()) << st;
        if (st.ok()) file_trace::mark("rm " + ids_[k]);
      }
      // The admin: hold 4..7, release 4 and 5, then delete 7 (held, recipients pending)
      // and 8 (not held) with force.
      // "holding"/"releasing"/"deleting" mark a change under way: either outcome may be found.
      for (size_t k = 4; k < 8; ++k) {
        file_trace::mark("holding " + ids_[k]);
        absl::Status st = co_await store.set_held(ids_[k], true);
        EXPECT_TRUE(st.ok()) << st;
        if (st.ok()) file_trace::mark("hold " + ids_[k]);
      }
      for (size_t k = 4; k < 6; ++k) {
        file_trace::mark("releasing " + ids_[k]);
        absl::Status st = co_await store.set_held(ids_[k], false);
        EXPECT_TRUE(st.ok()) << st;
        if (st.ok()) file_trace::mark("rel " + ids_[k]);
      }
      for (size_t k = 7; k < 9; ++k) {
        file_trace::mark("deleting " + ids_[k]);
        absl::Status st = co_await store.remove(ids_[k], true);
        EXPECT_TRUE(st.ok()) << st;
        if (st.ok()) file_trace::mark("rm " + ids_[k]);
      }
    });
    EXPECT_TRUE(rec.ok()) << rec.status();
    EXPECT_EQ(expected_.size(), messages_.size());
    if (!rec.ok()) return crash::recording{};
    size_t dir_syncs = 0;
    for (const file_event& e : rec->events) dir_syncs += e.what == file_event::kind::sync && e.path == rec->root + "/queue/0";
    if (fsync) {
      // + 12 for the updates and removes, + 8 for the admin's holds, releases and deletes.
      EXPECT_LT(dir_syncs, messages_.size() + 20) << "group commit shared no fsync";
    }
    return std::move(*rec);
  }

  findings check(const crash::recording& rec, crash_model m) {
    findings f;
    auto note = [&](size_t cut, const std::string& what) {
      if (f.first_problem.empty()) {
        f.first_problem = "cut " + std::to_string(cut) + ": " + what + "\ntrace before the cut:\n" +
                          crash::dump(rec, cut > 12 ? cut - 12 : 0, cut);
      }
    };
    absl::Status st = crash::for_each_crash_state(
        rec, crash::cut_points(rec, 80), m, scratch_,
        [&](size_t cut, const std::string& dir, const std::vector<std::string>& markers) {
          ++f.states;
          mailstore::maildir_writer w(mailstore::writer_options{});
          queue_store store(dir + "/queue", queue_options{}, w, *pool_);
          absl::Status loaded = reactor_->block_on(store.load_all());
          ASSERT_TRUE(loaded.ok()) << loaded;
          if (store.moved_to_corrupt() > 0) {
            ++f.damaged;
            note(cut, "a file was found damaged");
          }
          // id -> 1 enqueued, 2 updated, 3 every recipient final (a remove may be under
          // way: gone, or back all final), 4 removed (gone for good), 5 a forced delete
          // under way (gone, or there whole)
          std::map<std::string, int> promised;
          // 1 held, 0 released (acknowledged), -1 a hold or release under way
          std::map<std::string, int> held;
          for (const std::string& mk : markers) {
            const size_t sp = mk.find(' ');
            const std::string what = mk.substr(0, sp), id = mk.substr(sp + 1);
            if (what == "hold" || what == "rel" || what == "holding" || what == "releasing") {
              held[id] = what == "hold" ? 1 : what == "rel" ? 0 : -1;
              continue;
            }
            promised[id] = what == "ack" ? 1 : what == "upd" ? 2 : what == "fin" ? 3 : what == "deleting" ? 5 : 4;
          }
          for (const auto& [id, want] : held) {
            if (want < 0 || promised[id] >= 4) continue;  // under way, or deleted since
            ++f.acks_checked;
            if (store.held(id) != (want == 1)) {
              ++f.lost;
              note(cut, std::string("acknowledged ") + (want == 1 ? "hold" : "release") + " lost: " + id);
            }
          }
          for (const auto& [id, level] : promised) {
            ++f.acks_checked;
            const queue_record* r = store.find(id);
            if (level == 3) {
              if (r != nullptr && !r->all_final()) {
                ++f.resurrected;
                note(cut, "finished message back with work left: " + id);
              }
              continue;
            }
            if (level == 5) continue;  // gone or whole (the body check below)
            if (level == 4) {
              if (r != nullptr) {
                ++f.resurrected;
                note(cut, "removed message back: " + id);
              }
              continue;
            }
            if (r == nullptr) {
              ++f.lost;
              note(cut, "acknowledged but lost: " + id);
              continue;
            }
            if (level == 2 && r->recipients[0].attempts < 1) {
              ++f.lost;
              note(cut, "acknowledged update lost: " + id);
            }
          }
          // Everything the store loaded, acknowledged or not, is a whole message.
          for (const queue_record& r : store.list()) {
            auto body = reactor_->block_on(store.read_message(r.id));
            if (!body.ok() || *body != expected_[r.id]) {
              ++f.damaged;
              note(cut, "wrong body: " + r.id);
            }
          }
        });
    EXPECT_TRUE(st.ok()) << st;
    return f;
  }

  std::unique_ptr<reactor> reactor_;
  std::unique_ptr<offload_pool> pool_;
  std::string root_;
  std::string scratch_;
  std::vector<std::string> messages_;
  std::vector<std::string> ids_;
  std::map<std::string, std::string> expected_;  // id -> message bytes
};

TEST_F(QueueCrash, EveryAcknowledgedChangeSurvivesAPowerCut) {
  crash::recording rec = run(/*fsync=*/true);
  for (crash_model m : {crash_model::strict, crash_model::metadata_survives}) {
    findings f = check(rec, m);
    EXPECT_GE(f.states, 40u);
    EXPECT_GT(f.acks_checked, 100u);
    EXPECT_EQ(f.lost, 0u) << f.first_problem;
    EXPECT_EQ(f.damaged, 0u) << f.first_problem;
    EXPECT_EQ(f.resurrected, 0u) << f.first_problem;
  }
}

TEST_F(QueueCrash, WithoutFsyncTheHarnessCatchesLostMail) {
  crash::recording rec = run(/*fsync=*/false);
  findings f = check(rec, crash_model::strict);
  EXPECT_GT(f.acks_checked, 0u);
  EXPECT_GT(f.lost, 0u) << "a missing fsync went unnoticed";
}

}  // namespace
}  // namespace ringmail::queue
