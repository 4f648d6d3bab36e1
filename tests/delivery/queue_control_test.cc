// The queue control channel end to end inside one process: two shards, each with its own
// queue_store and a recording queue_runner, the control socket served by shard 0
// (start_queue_control), and the admin tool's blocking client (call_queue_control) on the
// test thread. Covers list across shards, show, hold/release (durable, the relay told on
// release), flush, delete with an id and ALL, the error texts, the socket's mode, a peer
// speaking nonsense, and "not running" (no socket, a stale socket file).
#include "delivery/queue/queue_control.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include "delivery/mailstore/maildir_writer.h"
#include "delivery/queue/queue_control_client.h"
#include "delivery/queue/queue_store.h"
#include "gtest/gtest.h"
#include "runtime/shard_set.h"
#include "tests/runtime/test_util.h"

namespace ringmail::queue {
namespace {

namespace fs = std::filesystem;

// What the relay agent would be told; called on its shard, read from the test thread.
class recording_runner final : public queue_runner {
 public:
  void flush() override {
    std::lock_guard lock(mu_);
    ++flushes_;
  }
  void schedule(std::string id) override {
    std::lock_guard lock(mu_);
    scheduled_.push_back(std::move(id));
  }
  int flushes() {
    std::lock_guard lock(mu_);
    return flushes_;
  }
  std::vector<std::string> scheduled() {
    std::lock_guard lock(mu_);
    return scheduled_;
  }

 private:
  std::mutex mu_;
  int flushes_ = 0;
  std::vector<std::string> scheduled_;
};

control_request req(control_verb v, std::string id = "", bool all = false) {
  control_request r;
  r.verb = v;
  r.id = std::move(id);
  r.all = all;
  return r;
}

class QueueControlTest : public ::testing::Test {
 protected:
  static constexpr unsigned kShards = 2;

  void SetUp() override {
    const std::string base = ::access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : ::testing::TempDir();
    std::string tmpl = base + "/ringmail-qctl-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    data_dir_ = tmpl;
    shards_ = testing::make_shards(kShards);
    ASSERT_NE(shards_, nullptr);
    control_.resize(kShards);
    writers_.resize(kShards);
    stores_.resize(kShards);
    for (unsigned i = 0; i < kShards; ++i) {
      absl::Status st = testing::run_on(*shards_, i, [this, i]() -> task<absl::Status> {
        mailstore::writer_options wo;
        wo.hostname = "mx.example.org";
        writers_[i] = std::make_unique<mailstore::maildir_writer>(wo);
        queue_options o;
        o.shard = i;
        stores_[i] = std::make_unique<queue_store>(data_dir_ + "/queue", o, *writers_[i], shards_->offload());
        absl::Status loaded = co_await stores_[i]->load_all();
        control_[i].store = stores_[i].get();
        control_[i].runner = &runners_[i];
        co_return loaded;
      });
      ASSERT_TRUE(st.ok()) << st;
    }
    absl::Status started = testing::run_on(*shards_, 0, [this]() -> task<absl::Status> {
      auto svc = start_queue_control(data_dir_, &control_);
      if (!svc.ok()) co_return svc.status();
      service_ = std::move(*svc);
      co_return absl::OkStatus();
    });
    ASSERT_TRUE(started.ok()) << started;
  }

  void TearDown() override {
    if (shards_ == nullptr) return;
    testing::run_on(*shards_, 0, [this]() -> task<void> {
      if (service_ != nullptr) {
        service_->stop_accepting();
        co_await service_->drain(std::chrono::seconds(1));
        service_.reset();
      }
    });
    for (unsigned i = 0; i < kShards; ++i) {
      testing::run_on(*shards_, i, [this, i]() -> task<void> {
        stores_[i].reset();
        writers_[i].reset();
        co_return;
      });
    }
    shards_.reset();
    std::error_code ec;
    fs::remove_all(data_dir_, ec);
  }

  std::string enqueue(unsigned shard, std::string message, int64_t arrival) {
    enqueue_result r = testing::run_on(*shards_, shard, [&]() -> task<enqueue_result> {
      std::vector<std::string_view> pieces;
      pieces.push_back(message);
      std::vector<recipient_state> rcpts(1);
      rcpts[0].address = "bob@remote.example";
      co_return co_await stores_[shard]->enqueue(std::move(pieces), "alice@example.org", rcpts, arrival);
    });
    EXPECT_TRUE(r.result.delivered()) << r.result.reason;
    return r.id;
  }

  control_reply call(const control_request& r) {
    auto reply = call_queue_control(socket(), r, std::chrono::seconds(10));
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : control_reply{};
  }

  bool held_on(unsigned shard, const std::string& id) {
    return testing::run_on(*shards_, shard, [&]() -> task<bool> { co_return stores_[shard]->held(id); });
  }

  std::string socket() const { return control_socket_path(data_dir_); }
  std::string spool(unsigned shard) const { return data_dir_ + "/queue/" + std::to_string(shard); }

  std::string data_dir_;
  std::unique_ptr<shard_set> shards_;
  std::vector<control_shard> control_;
  std::vector<std::unique_ptr<mailstore::maildir_writer>> writers_;
  std::vector<std::unique_ptr<queue_store>> stores_;
  recording_runner runners_[kShards];
  std::unique_ptr<tcp_service> service_;
};

TEST_F(QueueControlTest, ListShowsEveryShardOldestFirstAndShowSendsTheMessage) {
  const std::string a = enqueue(1, "Subject: a\r\n\r\nA\r\n", 2000);
  const std::string b = enqueue(0, "Subject: bb\r\n\r\nB\r\n", 1000);
  struct stat st {};
  ASSERT_EQ(::stat(socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  control_reply list = call(req(control_verb::list));
  ASSERT_TRUE(list.ok) << list.error;
  ASSERT_EQ(list.messages.size(), 2u);
  EXPECT_EQ(list.messages[0].record.id, b);
  EXPECT_EQ(list.messages[0].shard, 0u);
  EXPECT_EQ(list.messages[0].size, 18u);
  EXPECT_EQ(list.messages[1].record.id, a);
  EXPECT_EQ(list.messages[1].shard, 1u);
  EXPECT_EQ(list.messages[1].record.recipients[0].address, "bob@remote.example");
  EXPECT_FALSE(list.messages[1].held);
  // The same answer offline, from the spool.
  auto offline = read_spool_messages(data_dir_ + "/queue");
  ASSERT_TRUE(offline.ok()) << offline.status();
  EXPECT_EQ(*offline, list.messages);

  control_reply show = call(req(control_verb::show, a));
  ASSERT_TRUE(show.ok) << show.error;
  ASSERT_EQ(show.messages.size(), 1u);
  EXPECT_EQ(show.messages[0].record.id, a);
  EXPECT_EQ(show.text, "Subject: a\r\n\r\nA\r\n");
  auto offline_show = read_spool_message(data_dir_ + "/queue", a);
  ASSERT_TRUE(offline_show.ok()) << offline_show.status();
  EXPECT_EQ(offline_show->text, show.text);
  EXPECT_EQ(offline_show->messages, show.messages);

  for (const std::string& id : {std::string("6751a2b3-0-999"), std::string("6751a2b3-7-1"), std::string("nodash")}) {
    control_reply none = call(req(control_verb::show, id));
    EXPECT_FALSE(none.ok);
    EXPECT_EQ(none.error, "no such queue id: " + id);
  }
  EXPECT_EQ(read_spool_message(data_dir_ + "/queue", "6751a2b3-0-999").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(QueueControlTest, HoldReleaseFlushDelete) {
  const std::string a = enqueue(0, "Subject: a\r\n\r\nA\r\n", 1000);
  const std::string b = enqueue(1, "Subject: b\r\n\r\nB\r\n", 1001);
  const std::string c = enqueue(1, "Subject: c\r\n\r\nC\r\n", 1002);

  control_reply held = call(req(control_verb::hold, b));
  ASSERT_TRUE(held.ok) << held.error;
  EXPECT_EQ(held.done, std::vector<std::string>{b});
  EXPECT_TRUE(held_on(1, b));
  EXPECT_TRUE(fs::exists(spool(1) + "/" + b + ".hold"));
  control_reply list = call(req(control_verb::list));
  ASSERT_EQ(list.messages.size(), 3u);
  EXPECT_TRUE(list.messages[1].held);
  auto offline = read_spool_messages(data_dir_ + "/queue");
  ASSERT_TRUE(offline.ok());
  EXPECT_TRUE((*offline)[1].held);

  // A held message is not flushed; the others are asked for by id or all at once.
  control_reply refused = call(req(control_verb::flush, b));
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.error.find("on hold"), std::string::npos) << refused.error;
  ASSERT_TRUE(call(req(control_verb::flush, c)).ok);
  EXPECT_EQ(runners_[1].scheduled(), std::vector<std::string>{c});
  ASSERT_TRUE(call(req(control_verb::flush)).ok);
  EXPECT_EQ(runners_[0].flushes(), 1);
  EXPECT_EQ(runners_[1].flushes(), 1);

  // hold ALL holds the two not yet held; release ALL releases all three and schedules them.
  control_reply all = call(req(control_verb::hold, "", true));
  ASSERT_TRUE(all.ok) << all.error;
  EXPECT_EQ(all.done.size(), 2u);
  EXPECT_TRUE(held_on(0, a) && held_on(1, b) && held_on(1, c));
  control_reply released = call(req(control_verb::release, "", true));
  ASSERT_TRUE(released.ok) << released.error;
  EXPECT_EQ(released.done.size(), 3u);
  EXPECT_FALSE(held_on(0, a) || held_on(1, b) || held_on(1, c));
  EXPECT_EQ(runners_[0].scheduled(), std::vector<std::string>{a});
  EXPECT_EQ(runners_[1].scheduled().size(), 3u);  // c (flush), then b and c
  EXPECT_FALSE(fs::exists(spool(1) + "/" + b + ".hold"));
  // Releasing a message that is not held changes nothing and tells the relay nothing.
  ASSERT_TRUE(call(req(control_verb::release, a)).ok);
  EXPECT_EQ(runners_[0].scheduled().size(), 1u);

  // delete: pending recipients or not, every file of the message goes.
  ASSERT_TRUE(call(req(control_verb::hold, a)).ok);
  control_reply deleted = call(req(control_verb::remove, a));
  ASSERT_TRUE(deleted.ok) << deleted.error;
  EXPECT_EQ(deleted.done, std::vector<std::string>{a});
  EXPECT_FALSE(fs::exists(spool(0) + "/" + a + ".msg"));
  EXPECT_FALSE(fs::exists(spool(0) + "/" + a + ".hold"));
  control_reply again = call(req(control_verb::remove, a));
  EXPECT_FALSE(again.ok);
  EXPECT_EQ(again.error, "no such queue id: " + a);
  control_reply rest = call(req(control_verb::remove, "", true));
  ASSERT_TRUE(rest.ok) << rest.error;
  EXPECT_EQ(rest.done.size(), 2u);
  EXPECT_TRUE(call(req(control_verb::list)).messages.empty());
  EXPECT_FALSE(fs::exists(spool(1) + "/" + b + ".msg"));
  EXPECT_FALSE(fs::exists(spool(1) + "/" + c + ".msg"));
}

TEST_F(QueueControlTest, WithoutARelayFlushSaysSo) {
  const std::string a = enqueue(0, "Subject: a\r\n\r\nA\r\n", 1000);
  for (unsigned i = 0; i < kShards; ++i) {
    testing::run_on(*shards_, i, [this, i]() -> task<void> {
      control_[i].runner = nullptr;
      co_return;
    });
  }
  control_reply r = call(req(control_verb::flush));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "this server runs no relay");
  ASSERT_TRUE(call(req(control_verb::hold, a)).ok);
  ASSERT_TRUE(call(req(control_verb::release, a)).ok);  // released, nobody to tell
}

// Raw bytes on the socket: a bad command gets an error line and the session goes on; an
// over-long line gets one and the connection closes.
TEST_F(QueueControlTest, NonsenseGetsAnErrorLine) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket().c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string in = "frobnicate\nlist\n" + std::string(1000, 'x') + "\n";
  ASSERT_EQ(::send(fd, in.data(), in.size(), MSG_NOSIGNAL), static_cast<ssize_t>(in.size()));
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(got,
            "error unknown command (list, show, flush, delete, hold, release)\nok\n"
            "error command line too long\n");
}

TEST_F(QueueControlTest, NotRunningIsReportedAsSuch) {
  auto none = call_queue_control(data_dir_ + "/nowhere/control.sock", req(control_verb::list));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition) << none.status();
  EXPECT_NE(std::string(none.status().message()).find("not running"), std::string::npos);
  // A stale socket file: the server is gone, the file stays.
  testing::run_on(*shards_, 0, [this]() -> task<void> {
    service_->stop_accepting();
    co_await service_->drain(std::chrono::seconds(1));
    service_.reset();
  });
  auto stale = call_queue_control(socket(), req(control_verb::list));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition) << stale.status();
}

}  // namespace
}  // namespace ringmail::queue
