// The relay's SMTP client (delivery/relay/smtp_client.h) on 127.0.0.1 against:
// - a scripted server in this file (always): AUTH PLAIN on the wire, AUTH refused without
//   TLS, EHLO 502 -> HELO, the SIZE limit, the greeting timeout;
// - Postfix's smtp-sink, started by tests/tools/relay_client_test.sh with the ports in
//   RELAY_SINK_PORT (default flags), RELAY_SINK_NOPIPE_PORT (-p), RELAY_SINK_DATA4XX_PORT
//   (-r data), RELAY_SINK_RCPT5XX_PORT (-f rcpt) and RELAY_SINK_NOESMTP_PORT (-e): many
//   messages on one connection with and without PIPELINING, 4xx at DATA, all RCPTs 5xx,
//   HELO fallback, and a message needing SMTPUTF8 (smtp-sink does not offer it);
// - `ringmail serve` (RELAY_RINGMAIL_PORT, RELAY_RINGMAIL_CERT, RELAY_RINGMAIL_VMAIL):
//   STARTTLS required and verified against the host name, a 550 RCPT among 250s, SMTPUTF8
//   offered, the dot-stuffed body stored as sent; and on its submission port
//   (RELAY_RINGMAIL_SUBMISSION_PORT) AUTH PLAIN after STARTTLS, right and wrong password.
// Tests whose server is not given skip.
#include "delivery/relay/smtp_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/runtime/test_util.h"

namespace ringmail::relay {
namespace {

using namespace std::chrono_literals;

std::optional<uint16_t> env_port(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return static_cast<uint16_t>(std::atoi(v));
}

socket_address loopback(uint16_t port) { return *socket_address::parse("127.0.0.1", port); }

client_options quick_options() {
  client_options o;
  o.helo_name = "relay.test";
  o.timeouts = client_timeouts::uniform(10s);
  return o;
}

// A message with lines that need stuffing, as the queue would store it (LF line ends).
std::string message_text(int n) {
  return "From: a@example.net\nTo: b@example.org\nSubject: relay test " + std::to_string(n) +
         "\n\n.leading dot " + std::to_string(n) + "\n..two dots\n.\nlast line\n";
}

// Everything a test does with one client, run on a shard.
template <typename F>
auto on_shard(F f) {
  static std::unique_ptr<shard_set> shards = testing::make_shards(1);
  return testing::run_on(*shards, 0, std::move(f));
}

transaction_result open_failed(const failure& why) {
  transaction_result t;
  t.kind = outcome::error;
  t.why = why;
  return t;
}

// ---------------------------------------------------------------- scripted server

// Accepts one connection on 127.0.0.1, sends the greeting (unless empty), then for each
// step reads one command line and sends the step's reply. Records the lines it read.
class scripted_server {
 public:
  explicit scripted_server(std::string greeting, std::vector<std::string> replies)
      : greeting_(std::move(greeting)), replies_(std::move(replies)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~scripted_server() {
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept() if no client came
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  // The lines read, after the client is done (joins the server thread).
  const std::vector<std::string>& lines() {
    if (thread_.joinable()) thread_.join();
    return lines_;
  }

 private:
  void serve() {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    timeval tv{5, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto send_all = [c](const std::string& s) { (void)!::write(c, s.data(), s.size()); };
    if (greeting_.empty()) {
      char b;
      (void)!::read(c, &b, 1);  // hold the connection open, silent, until the client leaves
      ::close(c);
      return;
    }
    send_all(greeting_);
    std::string buf;
    for (const std::string& reply : replies_) {
      size_t nl;
      while ((nl = buf.find("\r\n")) == std::string::npos) {
        char chunk[4096];
        ssize_t n = ::read(c, chunk, sizeof chunk);
        if (n <= 0) {
          ::close(c);
          return;
        }
        buf.append(chunk, n);
      }
      lines_.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 2);
      send_all(reply);
    }
    ::close(c);
  }

  std::string greeting_;
  std::vector<std::string> replies_;
  std::vector<std::string> lines_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

TEST(SmtpClientScripted, AuthPlainOnTheWire) {
  scripted_server s("220 smart.test ESMTP\r\n",
                    {"250-smart.test\r\n250-AUTH LOGIN PLAIN\r\n250 SIZE 0\r\n", "235 2.7.0 ok\r\n", "221 bye\r\n"});
  client_options o = quick_options();
  o.auth = auth_credentials{"john", "secret"};
  o.auth_without_tls = true;
  auto [ok, authenticated] = on_shard([&]() -> task<std::pair<bool, bool>> {
    open_result r = co_await smtp_client::open(loopback(s.port()), o);
    if (!r.client) co_return std::pair{false, false};
    bool a = r.client->authenticated();
    co_await r.client->quit();
    co_return std::pair{true, a};
  });
  EXPECT_TRUE(ok);
  EXPECT_TRUE(authenticated);
  ASSERT_EQ(s.lines().size(), 3u);
  EXPECT_EQ(s.lines()[0], "EHLO relay.test");
  // base64("\0john\0secret")
  EXPECT_EQ(s.lines()[1], "AUTH PLAIN AGpvaG4Ac2VjcmV0");
  EXPECT_EQ(s.lines()[2], "QUIT");
}

TEST(SmtpClientScripted, AuthRefusedAndNotWithoutTls) {
  {
    scripted_server s("220 smart.test\r\n", {"250-smart.test\r\n250 AUTH PLAIN\r\n", "221 bye\r\n"});
    client_options o = quick_options();
    o.auth = auth_credentials{"john", "secret"};
    failure f = on_shard([&]() -> task<failure> { co_return (co_await smtp_client::open(loopback(s.port()), o)).why; });
    EXPECT_EQ(f.at, stage::auth);
    EXPECT_EQ(f.kind, outcome::error);
    ASSERT_EQ(s.lines().size(), 1u);  // EHLO only: no credentials went out in plaintext
  }
  {
    scripted_server s("220 smart.test\r\n", {"250-smart.test\r\n250 AUTH PLAIN\r\n",
                                             "535 5.7.8 Authentication credentials invalid\r\n", "221 bye\r\n"});
    client_options o = quick_options();
    o.auth = auth_credentials{"john", "wrong"};
    o.auth_without_tls = true;
    failure f = on_shard([&]() -> task<failure> { co_return (co_await smtp_client::open(loopback(s.port()), o)).why; });
    EXPECT_EQ(f.at, stage::auth);
    EXPECT_EQ(f.kind, outcome::perm_fail);
    EXPECT_EQ(f.describe(), "stage=auth reply=\"535 5.7.8 Authentication credentials invalid\"");
  }
}

TEST(SmtpClientScripted, HeloFallbackAfter502) {
  scripted_server s("220 old.test\r\n", {"502 5.5.1 command not implemented\r\n", "250 old.test\r\n",
                                         "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n", "221 bye\r\n"});
  client_options o = quick_options();
  o.pipelining = true;  // not offered: one command at a time
  std::vector<std::string> rcpts{"b@example.org"};
  transaction_result t = on_shard([&]() -> task<transaction_result> {
    open_result r = co_await smtp_client::open(loopback(s.port()), o);
    if (!r.client) co_return open_failed(r.why);
    transaction_result t = co_await r.client->send_message({"a@example.net", rcpts, 10}, "hi\n.x\n");
    co_await r.client->quit();
    co_return t;
  });
  EXPECT_EQ(t.kind, outcome::ok) << t.why.describe();
  const auto& l = s.lines();
  ASSERT_GE(l.size(), 6u);
  EXPECT_EQ(l[0], "EHLO relay.test");
  EXPECT_EQ(l[1], "HELO relay.test");
  EXPECT_EQ(l[2], "MAIL FROM:<a@example.net>");  // no SIZE=: HELO offers no extensions
  EXPECT_EQ(l[3], "RCPT TO:<b@example.org>");
  EXPECT_EQ(l[4], "DATA");
  EXPECT_EQ(l[5], "hi");  // the server reads the payload as "command" lines from here
}

TEST(SmtpClientScripted, SizeLimitRefusedLocally) {
  scripted_server s("220 mx.test\r\n", {"250-mx.test\r\n250 SIZE 1000\r\n", "221 bye\r\n"});
  client_options o = quick_options();
  std::vector<std::string> rcpts{"b@example.org", "c@example.org"};
  transaction_result t = on_shard([&]() -> task<transaction_result> {
    open_result r = co_await smtp_client::open(loopback(s.port()), o);
    if (!r.client) co_return open_failed(r.why);
    transaction_result t = co_await r.client->send({"a@example.net", rcpts, 5000}, "x\r\n.\r\n");
    co_await r.client->quit();
    co_return t;
  });
  EXPECT_EQ(t.kind, outcome::perm_fail);
  ASSERT_EQ(t.replies.size(), 2u);
  EXPECT_EQ(t.replies[1].code, 552);
  EXPECT_EQ(t.replies[1].enhanced.str(), "5.3.4");
  EXPECT_EQ(classify(t.replies[0]), disposition::bounced);
  EXPECT_TRUE(t.session_usable);
  EXPECT_EQ(s.lines(), (std::vector<std::string>{"EHLO relay.test", "QUIT"}));  // no MAIL was sent
}

TEST(SmtpClientScripted, GreetingTimeout) {
  scripted_server s("", {});
  client_options o = quick_options();
  o.timeouts.greeting = 300ms;
  auto start = std::chrono::steady_clock::now();
  failure f = on_shard([&]() -> task<failure> { co_return (co_await smtp_client::open(loopback(s.port()), o)).why; });
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(f.at, stage::greeting);
  EXPECT_EQ(f.kind, outcome::error);
  EXPECT_LT(took, 5s);
}

// ---------------------------------------------------------------- smtp-sink

struct batch_result {
  failure open_failure;
  bool opened = false;
  extensions offered;
  std::vector<transaction_result> results;
};

// Opens one session and sends `count` messages to `rcpts`, then QUIT.
batch_result send_batch(uint16_t port, const client_options& o, int count, const std::vector<std::string>& rcpts,
                        bool smtputf8 = false) {
  return on_shard([&]() -> task<batch_result> {
    batch_result b;
    open_result r = co_await smtp_client::open(loopback(port), o);
    if (!r.client) {
      b.open_failure = r.why;
      co_return b;
    }
    b.opened = true;
    b.offered = r.client->offered();
    for (int i = 0; i < count; ++i) {
      std::string text = message_text(i);
      envelope env{"sender@example.net", rcpts, text.size()};
      env.smtputf8 = smtputf8;
      b.results.push_back(co_await r.client->send_message(env, text));
      if (!b.results.back().session_usable) break;
    }
    co_await r.client->quit();
    co_return b;
  });
}

TEST(SmtpClientSink, ManyMessagesOneConnectionPipelinedAndNot) {
  auto port = env_port("RELAY_SINK_PORT");
  if (!port) GTEST_SKIP() << "RELAY_SINK_PORT not set (tests/tools/relay_client_test.sh sets it)";
  for (bool pipelining : {true, false}) {
    client_options o = quick_options();
    o.pipelining = pipelining;
    batch_result b = send_batch(*port, o, 25, {"one@example.org", "two@example.org", "three@example.org"});
    ASSERT_TRUE(b.opened) << b.open_failure.describe();
    EXPECT_TRUE(b.offered.pipelining);
    EXPECT_FALSE(b.offered.smtputf8);
    ASSERT_EQ(b.results.size(), 25u);
    for (const transaction_result& t : b.results) {
      EXPECT_EQ(t.kind, outcome::ok) << t.why.describe();
      EXPECT_EQ(t.delivered, (std::vector<bool>{true, true, true}));
      for (const smtp_reply& r : t.replies) {
        EXPECT_EQ(r.code, 250);
        EXPECT_EQ(classify(r), disposition::delivered);
      }
    }
  }
}

TEST(SmtpClientSink, WithoutPipeliningOffered) {
  auto port = env_port("RELAY_SINK_NOPIPE_PORT");
  if (!port) GTEST_SKIP() << "RELAY_SINK_NOPIPE_PORT not set";
  client_options o = quick_options();
  o.pipelining = true;
  batch_result b = send_batch(*port, o, 5, {"one@example.org", "two@example.org"});
  ASSERT_TRUE(b.opened) << b.open_failure.describe();
  EXPECT_FALSE(b.offered.pipelining);
  ASSERT_EQ(b.results.size(), 5u);
  for (const transaction_result& t : b.results) EXPECT_EQ(t.kind, outcome::ok) << t.why.describe();
}

TEST(SmtpClientSink, NeedsSmtpUtf8ButPeerLacksIt) {
  auto port = env_port("RELAY_SINK_PORT");
  if (!port) GTEST_SKIP() << "RELAY_SINK_PORT not set";
  batch_result b = send_batch(*port, quick_options(), 2, {"one@example.org", "two@example.org"}, /*smtputf8=*/true);
  ASSERT_TRUE(b.opened) << b.open_failure.describe();
  ASSERT_EQ(b.results.size(), 2u);
  for (const transaction_result& t : b.results) {
    EXPECT_EQ(t.kind, outcome::perm_fail);
    EXPECT_EQ(t.why.at, stage::mail);
    EXPECT_TRUE(t.session_usable);
    ASSERT_EQ(t.replies.size(), 2u);
    for (const smtp_reply& r : t.replies) {
      EXPECT_EQ(r.enhanced.str(), "5.6.7");
      EXPECT_EQ(classify(r), disposition::bounced);
    }
  }
}

TEST(SmtpClientSink, TemporaryFailureAtDataThenTheSessionGoesOn) {
  auto port = env_port("RELAY_SINK_DATA4XX_PORT");
  if (!port) GTEST_SKIP() << "RELAY_SINK_DATA4XX_PORT not set";
  for (bool pipelining : {true, false}) {
    client_options o = quick_options();
    o.pipelining = pipelining;
    batch_result b = send_batch(*port, o, 3, {"one@example.org", "two@example.org"});
    ASSERT_TRUE(b.opened) << b.open_failure.describe();
    ASSERT_EQ(b.results.size(), 3u);  // every transaction ran: RSET kept the session usable
    for (const transaction_result& t : b.results) {
      EXPECT_EQ(t.kind, outcome::temp_fail);
      EXPECT_EQ(t.why.at, stage::data);
      EXPECT_TRUE(t.session_usable);
      EXPECT_EQ(t.delivered, (std::vector<bool>{false, false}));
      for (const smtp_reply& r : t.replies) {
        EXPECT_EQ(r.code / 100, 4);
        EXPECT_EQ(classify(r), disposition::deferred);
      }
    }
  }
}

TEST(SmtpClientSink, EveryRecipientRefused) {
  auto port = env_port("RELAY_SINK_RCPT5XX_PORT");
  if (!port) GTEST_SKIP() << "RELAY_SINK_RCPT5XX_PORT not set";
  for (bool pipelining : {true, false}) {
    client_options o = quick_options();
    o.pipelining = pipelining;
    batch_result b = send_batch(*port, o, 2, {"one@example.org", "two@example.org"});
    ASSERT_TRUE(b.opened) << b.open_failure.describe();
    ASSERT_EQ(b.results.size(), 2u);
    for (const transaction_result& t : b.results) {
      EXPECT_EQ(t.kind, outcome::perm_fail);
      EXPECT_EQ(t.why.at, stage::rcpt);
      EXPECT_TRUE(t.session_usable);
      for (const smtp_reply& r : t.replies) EXPECT_EQ(classify(r), disposition::bounced) << r.describe();
    }
  }
}

TEST(SmtpClientSink, HeloWhenEsmtpIsNotOffered) {
  auto port = env_port("RELAY_SINK_NOESMTP_PORT");
  if (!port) GTEST_SKIP() << "RELAY_SINK_NOESMTP_PORT not set";
  client_options o = quick_options();
  o.pipelining = true;
  batch_result b = send_batch(*port, o, 2, {"one@example.org"});
  ASSERT_TRUE(b.opened) << b.open_failure.describe();
  EXPECT_FALSE(b.offered.pipelining);
  ASSERT_EQ(b.results.size(), 2u);
  for (const transaction_result& t : b.results) EXPECT_EQ(t.kind, outcome::ok) << t.why.describe();
}

// ---------------------------------------------------------------- ringmail serve

struct ringmail_target {
  uint16_t port;
  std::string cert;
  std::string vmail;
};
std::optional<ringmail_target> ringmail_from_env() {
  auto port = env_port("RELAY_RINGMAIL_PORT");
  const char* cert = std::getenv("RELAY_RINGMAIL_CERT");
  const char* vmail = std::getenv("RELAY_RINGMAIL_VMAIL");
  if (!port || cert == nullptr || vmail == nullptr) return std::nullopt;
  return ringmail_target{*port, cert, vmail};
}

TEST(SmtpClientRingmail, StartTlsVerifiedMixedRecipientsAndStoredBody) {
  auto target = ringmail_from_env();
  if (!target) GTEST_SKIP() << "RELAY_RINGMAIL_* not set";
  auto ctx = tls::context::make_client(/*verify_peer=*/true, target->cert);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  client_options o = quick_options();
  o.starttls = tls_policy::required;
  o.tls = *ctx;
  o.tls_host = "mx.test";
  o.pipelining = true;
  const std::vector<std::string> rcpts{"john@example.org", "nobody@example.org", "user1@example.org"};
  struct outcome_set {
    failure open_failure;
    bool tls = false;
    tls_details details;
    extensions offered;
    std::vector<transaction_result> results;
  };
  outcome_set got = on_shard([&]() -> task<outcome_set> {
    outcome_set g;
    open_result r = co_await smtp_client::open(loopback(target->port), o);
    if (!r.client) {
      g.open_failure = r.why;
      co_return g;
    }
    g.tls = r.client->tls_active();
    g.details = r.client->tls_info();
    g.offered = r.client->offered();
    for (int i = 0; i < 4; ++i) {
      std::string text = "Message-ID: <relay-client-" + std::to_string(i) + "@test>\n" + message_text(i);
      envelope env{"sender@example.net", rcpts, text.size()};
      env.smtputf8 = i == 3;  // offered by ringmail: the MAIL parameter is sent
      g.results.push_back(co_await r.client->send_message(env, text));
    }
    co_await r.client->quit();
    co_return g;
  });
  ASSERT_TRUE(got.open_failure.detail.empty()) << got.open_failure.describe();
  EXPECT_TRUE(got.tls);
  EXPECT_TRUE(got.details.version.starts_with("TLSv1")) << got.details.version;
  EXPECT_FALSE(got.details.cipher.empty());
  EXPECT_TRUE(got.offered.smtputf8);
  EXPECT_TRUE(got.offered.pipelining);
  EXPECT_FALSE(got.offered.starttls);  // not offered again inside TLS
  ASSERT_EQ(got.results.size(), 4u);
  for (const transaction_result& t : got.results) {
    EXPECT_EQ(t.kind, outcome::perm_fail);
    EXPECT_EQ(t.why.at, stage::rcpt);
    EXPECT_TRUE(t.session_usable);
    EXPECT_EQ(t.delivered, (std::vector<bool>{true, false, true}));
    ASSERT_EQ(t.replies.size(), 3u);
    EXPECT_EQ(classify(t.replies[0]), disposition::delivered);
    EXPECT_EQ(t.replies[1].code, 550);
    EXPECT_EQ(t.replies[1].enhanced.str(), "5.1.1");
    EXPECT_EQ(classify(t.replies[1]), disposition::bounced);
    EXPECT_EQ(classify(t.replies[2]), disposition::delivered);
  }
  // The stored message has the body as the queue held it: dots unstuffed.
  namespace fs = std::filesystem;
  std::string all;
  for (const char* sub : {"new", "cur"}) {
    fs::path dir = fs::path(target->vmail) / "example.org/john/Maildir" / sub;
    if (!fs::exists(dir)) continue;
    for (const auto& f : fs::directory_iterator(dir)) {
      std::ifstream in(f.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      if (ss.str().find("<relay-client-2@test>") != std::string::npos) all = ss.str();
    }
  }
  ASSERT_FALSE(all.empty()) << "message 2 not found in john's Maildir";
  EXPECT_NE(all.find("\n.leading dot 2\r\n..two dots\r\n.\r\nlast line\r\n"), std::string::npos) << all;
}

TEST(SmtpClientRingmail, VerificationAgainstTheWrongNameFails) {
  auto target = ringmail_from_env();
  if (!target) GTEST_SKIP() << "RELAY_RINGMAIL_* not set";
  auto ctx = tls::context::make_client(/*verify_peer=*/true, target->cert);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  client_options o = quick_options();
  o.starttls = tls_policy::opportunistic;
  o.tls = *ctx;
  o.tls_host = "not-mx.test";
  failure f = on_shard([&]() -> task<failure> { co_return (co_await smtp_client::open(loopback(target->port), o)).why; });
  EXPECT_EQ(f.at, stage::tls_handshake) << f.describe();
  EXPECT_EQ(f.kind, outcome::error);
}

TEST(SmtpClientRingmail, AuthPlainOnSubmissionAfterStartTls) {
  auto target = ringmail_from_env();
  auto port = env_port("RELAY_RINGMAIL_SUBMISSION_PORT");
  if (!target || !port) GTEST_SKIP() << "RELAY_RINGMAIL_SUBMISSION_PORT not set";
  auto ctx = tls::context::make_client(/*verify_peer=*/true, target->cert);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  client_options o = quick_options();
  o.starttls = tls_policy::required;
  o.tls = *ctx;
  o.tls_host = "mx.test";
  o.pipelining = true;
  o.auth = auth_credentials{"john@example.org", "pw-john"};
  const std::vector<std::string> rcpts{"user1@example.org"};
  batch_result b = on_shard([&]() -> task<batch_result> {
    batch_result b;
    open_result r = co_await smtp_client::open(loopback(*port), o);
    if (!r.client) {
      b.open_failure = r.why;
      co_return b;
    }
    b.opened = r.client->authenticated() && r.client->tls_active();
    std::string text = "From: john@example.org\nTo: user1@example.org\nSubject: submitted\n\nhello\n";
    b.results.push_back(co_await r.client->send_message({"john@example.org", rcpts, text.size()}, text));
    co_await r.client->quit();
    co_return b;
  });
  ASSERT_TRUE(b.opened) << b.open_failure.describe();
  ASSERT_EQ(b.results.size(), 1u);
  EXPECT_EQ(b.results[0].kind, outcome::ok) << b.results[0].why.describe();

  o.auth = auth_credentials{"john@example.org", "wrong"};
  failure f = on_shard([&]() -> task<failure> { co_return (co_await smtp_client::open(loopback(*port), o)).why; });
  EXPECT_EQ(f.at, stage::auth) << f.describe();
  EXPECT_EQ(f.kind, outcome::perm_fail) << f.describe();
  EXPECT_TRUE(f.detail.starts_with("535")) << f.describe();
}

}  // namespace
}  // namespace ringmail::relay
