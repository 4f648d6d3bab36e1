// notice_sender (delivery/relay/notice_sender.h): where a DSN goes. Routing over a fake
// directory and recording sinks (local, remote, alias to both, unknown user, no notice for
// the null sender or MAILER-DAEMON, directory and sink failures, no queue), then on the
// runtime with 2 shards and the real sinks: a local sender finds the DSN in its Maildir
// (Return-Path: <>), a remote sender's DSN is in the outbound queue with the null reverse
// path, an unknown local sender's is dropped and nothing is written.
#include "delivery/relay/notice_sender.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "delivery/mailstore/mail_store.h"
#include "delivery/mailstore/maildir_writer.h"
#include "delivery/queue/queue_sink.h"
#include "delivery/queue/queue_store.h"
#include "delivery/relay/dsn.h"
#include "delivery/sink/local_sink.h"
#include "gtest/gtest.h"
#include "runtime/shard_set.h"
#include "tests/runtime/test_util.h"

namespace ringmail::relay {
namespace {

namespace fs = std::filesystem;
using delivery::delivery_result;

// Completes synchronously (no co_await suspends), so the routing tests need no reactor.
class fake_source : public directory::source {
 public:
  std::set<std::string> domains;
  std::set<std::string> users;
  std::map<std::string, std::vector<std::string>> aliases;
  bool failing = false;
  int lookups = 0;

  task<absl::StatusOr<bool>> has_domain(std::string domain) override {
    ++lookups;
    if (failing) co_return absl::UnavailableError("injected");
    co_return domains.contains(domain);
  }
  task<absl::StatusOr<std::optional<directory::user_record>>> find_user(std::string email) override {
    ++lookups;
    if (failing) co_return absl::UnavailableError("injected");
    if (!users.contains(email)) co_return std::optional<directory::user_record>();
    directory::user_record u;
    u.id = 1;
    u.email = email;
    u.password = "{PLAIN}x";
    co_return std::optional<directory::user_record>(u);
  }
  task<absl::StatusOr<std::vector<std::string>>> alias_destinations(std::string key) override {
    ++lookups;
    if (failing) co_return absl::UnavailableError("injected");
    auto it = aliases.find(key);
    co_return it == aliases.end() ? std::vector<std::string>() : it->second;
  }
  task<absl::StatusOr<std::vector<std::string>>> alias_sources_for(std::string) override {
    co_return std::vector<std::string>();
  }
};

// Records what it was handed and answers `answer` for every recipient.
class recording_sink : public delivery::message_sink {
 public:
  struct call {
    std::string reverse_path;
    std::string trace;
    std::string message;
    std::vector<std::string> recipients;  // "address" or "address+detail"
  };
  std::vector<call> calls;
  delivery_result answer = ok();

  static delivery_result ok() {
    delivery_result r;
    r.st = delivery_result::ok;
    r.enhanced = "2.0.0";
    return r;
  }

  task<std::vector<delivery_result>> deliver(const delivery::sink_message& m,
                                             std::vector<delivery::sink_recipient> rcpts) override {
    call c{std::string(m.reverse_path), std::string(m.trace), std::string(m.message), {}};
    for (const auto& r : rcpts) c.recipients.push_back(r.detail.empty() ? r.address : r.address + "+" + r.detail);
    calls.push_back(std::move(c));
    co_return std::vector<delivery_result>(rcpts.size(), answer);
  }
};

template <typename T>
T run(task<T> t) {
  auto h = t.handle();
  h.resume();
  if (!h.done()) {
    ADD_FAILURE() << "task suspended: the fakes never suspend";
    std::abort();
  }
  return h.promise().take_result();
}

const char kNotice[] = "From: MAILER-DAEMON@mail.example.org\r\nSubject: x\r\n\r\nbody\r\n";

class NoticeRouting : public ::testing::Test {
 protected:
  void SetUp() override {
    src_.domains = {"example.org"};
    src_.users = {"john@example.org", "jane@example.org"};
    src_.aliases["team@example.org"] = {"jane@example.org", "friend@remote.example"};
  }
  delivery_result send(std::string to, bool with_queue = true) {
    directory::resolver resolver(src_);
    notice_sender sender(resolver, local_, with_queue ? &queue_ : nullptr);
    return run(sender.send(std::move(to), kNotice));
  }
  fake_source src_;
  recording_sink local_;
  recording_sink queue_;
};

TEST_F(NoticeRouting, LocalSenderGetsItThroughTheLocalSink) {
  delivery_result r = send("John+Lists@Example.org");
  EXPECT_EQ(r.st, delivery_result::ok) << r.reason;
  ASSERT_EQ(local_.calls.size(), 1u);
  EXPECT_TRUE(queue_.calls.empty());
  EXPECT_EQ(local_.calls[0].reverse_path, "");
  EXPECT_EQ(local_.calls[0].trace, "");
  EXPECT_EQ(local_.calls[0].message, kNotice);
  EXPECT_EQ(local_.calls[0].recipients, std::vector<std::string>{"john@example.org+lists"});
}

TEST_F(NoticeRouting, RemoteSenderGetsItThroughTheQueueFromTheNullSender) {
  delivery_result r = send("someone@remote.example");
  EXPECT_EQ(r.st, delivery_result::ok) << r.reason;
  EXPECT_TRUE(local_.calls.empty());
  ASSERT_EQ(queue_.calls.size(), 1u);
  EXPECT_EQ(queue_.calls[0].reverse_path, "");
  EXPECT_EQ(queue_.calls[0].message, kNotice);
  EXPECT_EQ(queue_.calls[0].recipients, std::vector<std::string>{"someone@remote.example"});
}

TEST_F(NoticeRouting, AliasSenderReachesEveryDestination) {
  delivery_result r = send("team@example.org");
  EXPECT_EQ(r.st, delivery_result::ok) << r.reason;
  ASSERT_EQ(local_.calls.size(), 1u);
  EXPECT_EQ(local_.calls[0].recipients, std::vector<std::string>{"jane@example.org"});
  ASSERT_EQ(queue_.calls.size(), 1u);
  EXPECT_EQ(queue_.calls[0].recipients, std::vector<std::string>{"friend@remote.example"});
  EXPECT_EQ(queue_.calls[0].reverse_path, "");
}

TEST_F(NoticeRouting, UnknownLocalUserIsDropped) {
  delivery_result r = send("nobody@example.org");
  EXPECT_EQ(r.st, delivery_result::permanent);
  EXPECT_EQ(r.enhanced, "5.1.1");
  EXPECT_TRUE(local_.calls.empty());
  EXPECT_TRUE(queue_.calls.empty());
}

TEST_F(NoticeRouting, NoNoticeForTheNullSenderOrAMailerDaemon) {
  for (std::string to : {"", "MAILER-DAEMON@remote.example", "mailer-daemon@example.org", "john@example.org\r\nBcc: x@y"}) {
    delivery_result r = send(to);
    EXPECT_EQ(r.st, delivery_result::permanent) << to;
  }
  EXPECT_EQ(src_.lookups, 0);  // refused before the directory is asked
  EXPECT_TRUE(local_.calls.empty());
  EXPECT_TRUE(queue_.calls.empty());
}

TEST_F(NoticeRouting, DirectoryFailureIsTemporary) {
  src_.failing = true;
  delivery_result r = send("john@example.org");
  EXPECT_EQ(r.st, delivery_result::temporary);
  EXPECT_TRUE(local_.calls.empty());
  EXPECT_TRUE(queue_.calls.empty());
}

TEST_F(NoticeRouting, RemoteWithoutAQueueIsTemporary) {
  delivery_result r = send("someone@remote.example", /*with_queue=*/false);
  EXPECT_EQ(r.st, delivery_result::temporary);
  EXPECT_EQ(r.enhanced, "4.3.2");
}

TEST_F(NoticeRouting, SinkOutcomesCombine) {
  // A temporary failure of any copy wins: the caller retries.
  queue_.answer.st = delivery_result::temporary;
  queue_.answer.enhanced = "4.3.1";
  delivery_result r = send("team@example.org");
  EXPECT_EQ(r.st, delivery_result::temporary);
  EXPECT_EQ(r.enhanced, "4.3.1");
  // One copy delivered and one refused for good: someone has the notice.
  queue_.answer.st = delivery_result::permanent;
  queue_.answer.enhanced = "5.3.4";
  r = send("team@example.org");
  EXPECT_EQ(r.st, delivery_result::ok);
  // Every copy refused for good: dropped with the sink's reason.
  local_.answer = queue_.answer;
  r = send("john@example.org");
  EXPECT_EQ(r.st, delivery_result::permanent);
  EXPECT_EQ(r.enhanced, "5.3.4");
}

// The real sinks on 2 shards: the Maildir of the local sender, the queue for the remote.
class NoticeDelivery : public ::testing::Test {
 protected:
  static constexpr unsigned kShards = 2;

  void SetUp() override {
    const std::string base = ::access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : ::testing::TempDir();
    std::string tmpl = base + "/ringmail-notice-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    top_ = tmpl;
    shards_ = testing::make_shards(kShards);
    ASSERT_NE(shards_, nullptr);
    writers_.resize(kShards);
    owned_.resize(kShards);
    stores_.assign(kShards, nullptr);
    for (unsigned i = 0; i < kShards; ++i) {
      testing::run_on(*shards_, i, [this, i]() -> task<void> {
        mailstore::writer_options wo;
        wo.hostname = "mail.example.org";
        wo.shard_id = i;
        wo.fsync = false;
        writers_[i] = std::make_unique<mailstore::maildir_writer>(wo);
        mailstore::store_options so;
        so.fsync = false;
        owned_[i] = std::make_unique<mailstore::mail_store>(top_ + "/vmail", so, *writers_[i], shards_->offload());
        stores_[i] = owned_[i].get();
        co_return;
      });
    }
    absl::Status st = testing::run_on(*shards_, 0, [this]() -> task<absl::Status> {
      queue::queue_options qo;
      qo.shard = 0;
      qo.fsync = false;
      queue_ = std::make_unique<queue::queue_store>(top_ + "/queue", qo, *writers_[0], shards_->offload());
      co_return co_await queue_->load_all();
    });
    ASSERT_TRUE(st.ok()) << st;
    src_.domains = {"example.org"};
    src_.users = {"john@example.org"};
  }

  void TearDown() override {
    for (unsigned i = 0; i < kShards; ++i) {
      testing::run_on(*shards_, i, [this, i]() -> task<void> {
        if (i == 0) queue_.reset();
        if (owned_[i]) {
          absl::Status st = co_await owned_[i]->close_all();
          EXPECT_TRUE(st.ok()) << st;
        }
        owned_[i].reset();
        writers_[i].reset();
        co_return;
      });
    }
    shards_.reset();
    std::error_code ec;
    fs::remove_all(top_, ec);
  }

  // Runs notice_sender::send on shard 0 (the queue's shard).
  delivery_result send(std::string to, std::string message) {
    return testing::run_on(*shards_, 0, [&]() -> task<delivery_result> {
      directory::resolver resolver(src_);
      delivery::local_sink local(stores_);
      queue::queue_sink queued(*queue_);
      notice_sender sender(resolver, local, &queued);
      co_return co_await sender.send(to, message);
    });
  }

  std::vector<std::string> maildir_new(const std::string& domain, const std::string& user) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(top_ + "/vmail/" + domain + "/" + user + "/Maildir/new", ec)) {
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      out.push_back(ss.str());
    }
    return out;
  }

  std::vector<queue::queue_record> queued() {
    return testing::run_on(*shards_, 0, [&]() -> task<std::vector<queue::queue_record>> { co_return queue_->list(); });
  }

  std::string top_;
  std::unique_ptr<shard_set> shards_;
  std::vector<std::unique_ptr<mailstore::maildir_writer>> writers_;
  std::vector<std::unique_ptr<mailstore::mail_store>> owned_;
  mailstore::store_set stores_;
  std::unique_ptr<queue::queue_store> queue_;
  fake_source src_;
};

dsn_request bounce_for(std::string sender) {
  dsn_request rq;
  rq.reporting_mta = "mail.example.org";
  rq.queue_id = "0.1A2B";
  rq.sender = std::move(sender);
  rq.arrival = 1796601600;
  rq.now = rq.arrival + 60;
  dsn_recipient r;
  r.address = "jane@remote.example";
  r.status = "5.1.1";
  r.remote_mta = "mx.remote.example";
  r.diagnostic = "550 5.1.1 no such user";
  rq.recipients.push_back(r);
  rq.original = "From: x\r\nSubject: hi\r\n\r\nbody\r\n";
  return rq;
}

TEST_F(NoticeDelivery, LocalSenderFindsTheDsnInItsMaildir) {
  const std::string dsn = build_dsn(bounce_for("john@example.org"));
  delivery_result r = send("john@example.org", dsn);
  ASSERT_EQ(r.st, delivery_result::ok) << r.reason;
  auto files = maildir_new("example.org", "john");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(files[0].starts_with("Return-Path: <>\r\nDelivered-To: john@example.org\r\n")) << files[0].substr(0, 200);
  EXPECT_TRUE(files[0].ends_with(dsn));
  EXPECT_TRUE(queued().empty());
}

TEST_F(NoticeDelivery, RemoteSendersDsnIsQueuedFromTheNullSender) {
  const std::string dsn = build_dsn(bounce_for("someone@remote.example"));
  delivery_result r = send("someone@remote.example", dsn);
  ASSERT_EQ(r.st, delivery_result::ok) << r.reason;
  auto q = queued();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].reverse_path, "");
  ASSERT_EQ(q[0].recipients.size(), 1u);
  EXPECT_EQ(q[0].recipients[0].address, "someone@remote.example");
  auto body = testing::run_on(*shards_, 0, [&]() -> task<absl::StatusOr<std::string>> {
    co_return co_await queue_->read_message(q[0].id);
  });
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, dsn);
}

TEST_F(NoticeDelivery, UnknownLocalSenderIsDroppedAndNothingWritten) {
  delivery_result r = send("nobody@example.org", build_dsn(bounce_for("nobody@example.org")));
  EXPECT_EQ(r.st, delivery_result::permanent);
  EXPECT_TRUE(maildir_new("example.org", "nobody").empty());
  EXPECT_TRUE(queued().empty());
}

}  // namespace
}  // namespace ringmail::relay
