// The relay agent (delivery/relay/relay_agent.h) on one shard, end to end inside the
// process: a real queue_store in a temporary directory, MX records from the fake DNS
// server, and a small threaded SMTP server on 127.0.0.1 that answers each recipient as
// its local part asks ("bad" 550, "later" 451 the first time then 250, anything else
// 250). Checks what only the agent decides: MX fallback past a refused address, the
// per-recipient outcomes written to the store, the bounce to the sender (through the
// notice sender into a capturing queue sink, null reverse path), a flush retrying the
// deferred recipient and removing the finished message, a null MX bouncing at once, no
// notice for a null sender, the queue lifetime turning a deferral into a bounce, and one
// session carrying several messages.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "delivery/directory/resolver.h"
#include "delivery/mailstore/maildir_writer.h"
#include "delivery/queue/queue_store.h"
#include "delivery/relay/notice_sender.h"
#include "delivery/relay/relay_agent.h"
#include "delivery/relay/route.h"
#include "gtest/gtest.h"
#include "runtime/dns.h"
#include "runtime/reactor.h"
#include "runtime/shard_set.h"
#include "runtime/task_scope.h"
#include "tests/runtime/test_util.h"
#include "tests/support/fake_dns.h"

namespace ringmail::relay {
namespace {

// An SMTP server without extensions (so the client sends one command at a time), one
// connection at a time, on its own thread. Records every accepted message per recipient.
class test_mx {
 public:
  test_mx() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~test_mx() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  size_t received(const std::string& rcpt) {
    std::lock_guard lock(mu_);
    return messages_.count(rcpt) ? messages_[rcpt].size() : 0;
  }
  std::string message_for(const std::string& rcpt) {
    std::lock_guard lock(mu_);
    return messages_.count(rcpt) ? messages_[rcpt].back() : "";
  }
  size_t connections() const { return connections_.load(); }
  size_t transactions() const { return transactions_.load(); }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      ++connections_;
      timeval tv{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      session(c);
      ::close(c);
    }
  }
  // Reads one line (without CRLF); false when the client went away.
  bool line(int c, std::string& buf, std::string& out) {
    size_t nl;
    while ((nl = buf.find("\r\n")) == std::string::npos) {
      char chunk[8192];
      ssize_t n = ::read(c, chunk, sizeof chunk);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<size_t>(n));
    }
    out = buf.substr(0, nl);
    buf.erase(0, nl + 2);
    return true;
  }
  void session(int c) {
    auto send = [c](const std::string& s) { (void)!::write(c, s.data(), s.size()); };
    send("220 mx.remote.test ESMTP\r\n");
    std::string buf, cmd;
    std::vector<std::string> rcpts;
    while (line(c, buf, cmd)) {
      const std::string verb = cmd.substr(0, 4);
      if (verb == "EHLO" || verb == "HELO") {
        send("250 mx.remote.test\r\n");
      } else if (verb == "MAIL") {
        rcpts.clear();
        send("250 2.1.0 ok\r\n");
      } else if (verb == "RCPT") {
        const std::string addr = cmd.substr(cmd.find('<') + 1, cmd.find('>') - cmd.find('<') - 1);
        const std::string local = addr.substr(0, addr.find('@'));
        std::lock_guard lock(mu_);
        if (local == "bad") {
          send("550 5.1.1 <" + addr + ">: no such user\r\n");
        } else if (local == "later" && later_refused_++ == 0) {
          send("451 4.3.0 try again later\r\n");
        } else {
          rcpts.push_back(addr);
          send("250 2.1.5 ok\r\n");
        }
      } else if (verb == "DATA") {
        send("354 go ahead\r\n");
        std::string body, l;
        while (line(c, buf, l) && l != ".") body += l + "\n";
        {
          std::lock_guard lock(mu_);
          for (const std::string& r : rcpts) messages_[r].push_back(body);
        }
        ++transactions_;
        send("250 2.0.0 queued\r\n");
      } else if (verb == "RSET" || verb == "NOOP") {
        send("250 2.0.0 ok\r\n");
      } else if (verb == "QUIT") {
        send("221 2.0.0 bye\r\n");
        return;
      } else {
        send("502 5.5.2 unknown\r\n");
      }
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> connections_{0};
  std::atomic<size_t> transactions_{0};
  std::thread thread_;
  std::mutex mu_;
  int later_refused_ = 0;
  std::map<std::string, std::vector<std::string>> messages_;
};

// The directory knows no domain: every notice goes to the "queue" sink below.
class no_domains : public directory::source {
 public:
  task<absl::StatusOr<bool>> has_domain(std::string) override { co_return false; }
  task<absl::StatusOr<std::optional<directory::user_record>>> find_user(std::string) override {
    co_return std::optional<directory::user_record>();
  }
  task<absl::StatusOr<std::vector<std::string>>> alias_destinations(std::string) override {
    co_return std::vector<std::string>();
  }
  task<absl::StatusOr<std::vector<std::string>>> alias_sources_for(std::string) override {
    co_return std::vector<std::string>();
  }
};

struct captured_notice {
  std::string reverse_path;
  std::string recipient;
  std::string message;
};

class capture_sink : public delivery::message_sink {
 public:
  std::vector<captured_notice> got;
  task<std::vector<delivery::delivery_result>> deliver(const delivery::sink_message& m,
                                                       std::vector<delivery::sink_recipient> rcpts) override {
    for (const auto& r : rcpts) {
      got.push_back({std::string(m.reverse_path), r.address, std::string(m.trace) + std::string(m.message)});
    }
    delivery::delivery_result ok;
    ok.st = delivery::delivery_result::ok;
    co_return std::vector<delivery::delivery_result>(rcpts.size(), ok);
  }
};

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class RelayAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/ringmail-relay-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    top_ = tmpl;
    dns_.add_mx("remote.test", 10, "mx1.remote.test");
    dns_.add_mx("remote.test", 20, "mx2.remote.test");
    dns_.add_a("mx1.remote.test", "127.0.0.2");  // nothing listens there: refused
    dns_.add_a("mx2.remote.test", "127.0.0.1");
    dns_.add_mx("nullmx.test", 0, ".");
    dns_.add_mx("stall.test", 10, "mx.stall.test");
    dns_.add_a("mx.stall.test", "127.0.0.3");
    shards_ = testing::make_shards(1);
    ASSERT_NE(shards_, nullptr);
  }
  void TearDown() override {
    run([this]() -> task<void> {
      if (agent_) agent_->stop();
      co_await runner_.join();
      agent_.reset();
      notices_.reset();
      resolver_.reset();
      routes_.reset();
      dns_resolver_.reset();
      store_.reset();
      writer_.reset();
    });
    shards_.reset();
    std::filesystem::remove_all(top_);
  }

  template <typename F>
  void run(F f) {
    testing::run_on(*shards_, 0, std::move(f));
  }

  void start(queue::retry_policy retry = {}, std::chrono::seconds timeout = std::chrono::seconds(5)) {
    run([this, retry, timeout]() -> task<void> {
      mailstore::writer_options wo;
      wo.hostname = "relay.example.org";
      wo.fsync = false;
      writer_ = std::make_unique<mailstore::maildir_writer>(wo);
      queue::queue_options qo;
      qo.fsync = false;
      store_ = std::make_unique<queue::queue_store>(top_ + "/queue", qo, *writer_, shards_->offload());
      absl::Status loaded = co_await store_->load_all();
      EXPECT_TRUE(loaded.ok()) << loaded;
      dns_options d;
      d.servers = dns_.address();
      d.timeout = std::chrono::milliseconds(500);
      auto r = dns_resolver::create(*reactor::current(), d);
      EXPECT_TRUE(r.ok()) << r.status();
      dns_resolver_ = std::move(*r);
      route_options ro;
      ro.my_hostname = "relay.example.org";
      ro.smtp_port = mx_.port();
      ro.ipv6 = false;
      routes_ = std::make_unique<route_resolver>(*dns_resolver_, ro);
      resolver_ = std::make_unique<directory::resolver>(directory_);
      notices_ = std::make_unique<notice_sender>(*resolver_, local_, &queued_notices_);
      relay_options o;
      o.hostname = "relay.example.org";
      o.retry = retry;
      o.starttls = tls_policy::none;
      o.timeouts = client_timeouts::uniform(timeout);
      agent_ = std::make_unique<relay_agent>(*store_, *routes_, *notices_, o);
      runner_.spawn(agent_->run());
      co_return;
    });
  }

  std::string enqueue(const std::string& from, std::vector<std::string> to, int64_t arrival = 0) {
    std::string id;
    run([&]() -> task<void> {
      std::vector<queue::recipient_state> rcpts;
      for (const std::string& a : to) {
        queue::recipient_state s;
        s.address = a;
        rcpts.push_back(std::move(s));
      }
      std::vector<std::string_view> pieces;
      const std::string body = "Subject: relay test\r\nFrom: <" + from + ">\r\n\r\nhello\r\n";
      pieces.push_back(body);
      queue::enqueue_result r =
          co_await store_->enqueue(std::move(pieces), from, std::move(rcpts), arrival ? arrival : unix_now());
      EXPECT_TRUE(r.result.delivered()) << r.result.reason;
      id = r.id;
      agent_->schedule(id);
    });
    return id;
  }

  // Polls (bounded: 10 s) until `done` holds on the shard.
  bool wait_for(std::function<bool()> done) {
    bool ok = false;
    run([&]() -> task<void> {
      for (int i = 0; i < 200 && !(ok = done()); ++i) co_await sleep_for(std::chrono::milliseconds(50));
    });
    return ok;
  }

  std::optional<queue::queue_record> record(const std::string& id) {
    std::optional<queue::queue_record> out;
    run([&]() -> task<void> {
      if (const queue::queue_record* r = store_->find(id)) out = *r;
      co_return;
    });
    return out;
  }

  std::string top_;
  testing::fake_dns_server dns_;
  test_mx mx_;
  std::unique_ptr<shard_set> shards_;
  std::unique_ptr<mailstore::maildir_writer> writer_;
  std::unique_ptr<queue::queue_store> store_;
  std::unique_ptr<dns_resolver> dns_resolver_;
  std::unique_ptr<route_resolver> routes_;
  no_domains directory_;
  std::unique_ptr<directory::resolver> resolver_;
  capture_sink local_;
  capture_sink queued_notices_;
  std::unique_ptr<notice_sender> notices_;
  std::unique_ptr<relay_agent> agent_;
  task_scope runner_;
};

TEST_F(RelayAgentTest, OutcomesPerRecipientBounceNoticeAndFlush) {
  start();
  const std::string id = enqueue("sender@origin.test", {"ok@remote.test", "bad@remote.test", "later@remote.test"});
  ASSERT_TRUE(wait_for([&] {
    const queue::queue_record* r = store_->find(id);
    return r != nullptr && r->recipients[2].status == queue::rcpt_status::deferred;
  }));
  EXPECT_EQ(mx_.received("ok@remote.test"), 1u) << "delivered through mx2 after mx1 refused the connection";
  EXPECT_NE(mx_.message_for("ok@remote.test").find("Subject: relay test"), std::string::npos);
  std::optional<queue::queue_record> r = record(id);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->recipients[0].status, queue::rcpt_status::delivered);
  EXPECT_EQ(r->recipients[1].status, queue::rcpt_status::bounced);
  EXPECT_NE(r->recipients[1].text.find("550 5.1.1"), std::string::npos) << r->recipients[1].text;
  EXPECT_EQ(r->recipients[2].status, queue::rcpt_status::deferred);
  EXPECT_NE(r->recipients[2].text.find("451 4.3.0"), std::string::npos) << r->recipients[2].text;
  EXPECT_GE(r->recipients[2].next_attempt, unix_now() + 250) << "the first back-off is 300 s";

  // One bounce, to the sender, from the null reverse path, naming only the failed one.
  ASSERT_TRUE(wait_for([&] { return queued_notices_.got.size() == 1; }));
  const captured_notice& n = queued_notices_.got[0];
  EXPECT_EQ(n.reverse_path, "");
  EXPECT_EQ(n.recipient, "sender@origin.test");
  EXPECT_NE(n.message.find("multipart/report"), std::string::npos);
  EXPECT_NE(n.message.find("Final-Recipient: rfc822; bad@remote.test"), std::string::npos) << n.message;
  EXPECT_NE(n.message.find("Status: 5.1.1"), std::string::npos);
  EXPECT_EQ(n.message.find("Final-Recipient: rfc822; later@remote.test"), std::string::npos);

  // A flush retries the deferred recipient now; it is accepted and the message leaves.
  run([&]() -> task<void> {
    agent_->flush();
    co_return;
  });
  ASSERT_TRUE(wait_for([&] { return store_->find(id) == nullptr; }));
  EXPECT_EQ(mx_.received("later@remote.test"), 1u);
  EXPECT_EQ(mx_.received("ok@remote.test"), 1u) << "a delivered recipient is not sent twice";
  EXPECT_EQ(queued_notices_.got.size(), 1u);
}

TEST_F(RelayAgentTest, NullMxBouncesAtOnceAndNullSenderGetsNoNotice) {
  start();
  const std::string a = enqueue("sender@origin.test", {"x@nullmx.test"});
  const std::string b = enqueue("", {"y@nullmx.test"});
  ASSERT_TRUE(wait_for([&] { return store_->find(a) == nullptr && store_->find(b) == nullptr; }));
  ASSERT_TRUE(wait_for([&] { return !queued_notices_.got.empty(); }));
  run([]() -> task<void> { co_await sleep_for(std::chrono::milliseconds(200)); });
  ASSERT_EQ(queued_notices_.got.size(), 1u) << "the bounce's own failure is never reported";
  EXPECT_EQ(queued_notices_.got[0].recipient, "sender@origin.test");
  EXPECT_NE(queued_notices_.got[0].message.find("5.1.10"), std::string::npos) << queued_notices_.got[0].message;
}

TEST_F(RelayAgentTest, DeferralPastTheLifetimeBounces) {
  queue::retry_policy short_life;
  short_life.maximal_lifetime = std::chrono::seconds(60);
  start(short_life);
  // Arrived two minutes ago: the first temporary failure is past the lifetime.
  const std::string id = enqueue("sender@origin.test", {"later@remote.test"}, unix_now() - 120);
  ASSERT_TRUE(wait_for([&] { return store_->find(id) == nullptr; }));
  ASSERT_TRUE(wait_for([&] { return queued_notices_.got.size() == 1; }));
  EXPECT_NE(queued_notices_.got[0].message.find("Final-Recipient: rfc822; later@remote.test"), std::string::npos);
  EXPECT_NE(queued_notices_.got[0].message.find("Status: 5.4.7"), std::string::npos) << "delivery time expired";
  EXPECT_EQ(mx_.received("later@remote.test"), 0u);
}

TEST_F(RelayAgentTest, ManyRecipientsGoInTransactionsOfFifty) {
  start();
  std::vector<std::string> to;
  for (int i = 0; i < 120; ++i) to.push_back("r" + std::to_string(i) + "@remote.test");
  const std::string id = enqueue("sender@origin.test", to);
  ASSERT_TRUE(wait_for([&] { return store_->find(id) == nullptr; }));
  for (const std::string& r : to) EXPECT_EQ(mx_.received(r), 1u) << r;
  EXPECT_EQ(mx_.transactions(), 3u) << "50 + 50 + 20";
  EXPECT_EQ(mx_.connections(), 1u) << "all on one session";
}

TEST_F(RelayAgentTest, OneSessionCarriesSeveralMessages) {
  start();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(enqueue("sender@origin.test", {"user" + std::to_string(i) + "@remote.test"}));
    ASSERT_TRUE(wait_for([&] { return store_->find(ids.back()) == nullptr; }));
  }
  for (int i = 0; i < 5; ++i) EXPECT_EQ(mx_.received("user" + std::to_string(i) + "@remote.test"), 1u);
  EXPECT_EQ(mx_.connections(), 1u) << "the idle session is reused for the next message";
  EXPECT_TRUE(queued_notices_.got.empty());
}

// A server that takes the connection and never says a word: stopping the relay cuts the
// connection after its grace instead of waiting out the (here 60 s) greeting timeout,
// and the recipient is deferred, its state written, to be tried after a restart.
TEST_F(RelayAgentTest, StopCutsAStalledDeliveryAndDefersIt) {
  const int stall = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(mx_.port());
  ::inet_pton(AF_INET, "127.0.0.3", &a.sin_addr);
  ASSERT_EQ(::bind(stall, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(stall, 4), 0);
  timeval tv{10, 0};
  ::setsockopt(stall, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);  // bounds accept()
  start({}, std::chrono::seconds(60));
  const std::string id = enqueue("sender@origin.test", {"x@stall.test"});
  const int conn = ::accept4(stall, nullptr, nullptr, SOCK_CLOEXEC);  // connected, then silence
  ASSERT_GE(conn, 0) << "the relay did not connect";
  const auto began = std::chrono::steady_clock::now();
  run([this]() -> task<void> {
    agent_->stop();
    co_await runner_.join();
  });
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_LT(took, std::chrono::seconds(15)) << "the stalled connection was cut";
  std::optional<queue::queue_record> r = record(id);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->recipients[0].status, queue::rcpt_status::deferred) << r->recipients[0].text;
  EXPECT_TRUE(queued_notices_.got.empty());
  ::close(conn);
  ::close(stall);
}

}  // namespace
}  // namespace ringmail::relay
