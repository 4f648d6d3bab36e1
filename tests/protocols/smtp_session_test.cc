// SMTP and LMTP sessions end to end on loopback: a real server (2 shards, SQLite
// directory, Maildir delivery) driven by raw transcripts, so every byte on the wire is
// under the test's control: pipelining, errors, BDAT, SIZE, smuggling, STARTTLS injection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "delivery/auth/password.h"
#include "delivery/directory/offload_source.h"
#include "delivery/directory/resolver.h"
#include "delivery/directory/sqlite_store.h"
#include "delivery/mailstore/maildir_writer.h"
#include "delivery/mailstore/mail_store.h"
#include "delivery/sink/local_sink.h"
#include "gtest/gtest.h"
#include "protocols/smtp/session.h"
#include "runtime/shard_set.h"
#include "runtime/tcp_service.h"
#include "runtime/tls_context.h"
#include "tests/runtime/test_util.h"

namespace ringmail::smtp {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct shard_state {
  std::unique_ptr<directory::offload_source> source;
  std::unique_ptr<directory::resolver> resolver;
  std::unique_ptr<mailstore::maildir_writer> writer;
  std::unique_ptr<mailstore::mail_store> store;
  std::unique_ptr<delivery::local_sink> local;
  spam_shard spam;
  shard_context context;
  std::unique_ptr<tcp_service> service;
};

class SmtpServer : public ::testing::Test {
 protected:
  void SetUp() override { start(/*lmtp=*/false); }
  void TearDown() override { stop(); }

  void start(bool lmtp, duration command_timeout = 10s) {
    std::string tmpl = ::testing::TempDir() + "/ringmail-smtp-XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    auto s = directory::sqlite_store::open(dir_ + "/directory.sqlite");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    ASSERT_TRUE(store_->ensure_schema().ok());
    ASSERT_TRUE(store_->add_domain("example.org").ok());
    ASSERT_TRUE(store_->add_user("john@example.org", "{PLAIN}x", 0).ok());
    ASSERT_TRUE(store_->add_user("jane@example.org", "{PLAIN}x", 0).ok());
    ASSERT_TRUE(store_->add_user("jörg@example.org", "{PLAIN}x", 0).ok());
    ASSERT_TRUE(store_->add_user("small@example.org", "{PLAIN}x", 300).ok());
    ASSERT_TRUE(store_->add_alias("info@example.org", "john@example.org").ok());
    ASSERT_TRUE(store_->add_alias("info@example.org", "jane@example.org").ok());
    ASSERT_TRUE(store_->add_alias("sales@example.org", "partner@remote.test").ok());
    ASSERT_TRUE(tls::ensure_self_signed_certificate(dir_ + "/cert.pem", dir_ + "/key.pem", "mx.example.org").ok());
    config_.hostname = "mx.example.org";
    config_.lmtp = lmtp;
    config_.max_message_size = 100000;
    config_.max_recipients = 50;
    config_.max_errors = 10;
    config_.command_timeout = command_timeout;
    config_.tls = *tls::context::make_server(dir_ + "/cert.pem", dir_ + "/key.pem");
    mail_root_ = dir_ + "/vmail";
    shards_ = testing::make_shards(2);
    states_.resize(2);
    for (unsigned i = 0; i < 2; ++i) states_[i] = std::make_unique<shard_state>();
    // Every shard's mail store first: a session may route a mailbox to either shard.
    stores_.assign(2, nullptr);
    for (unsigned i = 0; i < 2; ++i) {
      testing::run_on(*shards_, i, [this, i]() -> task<void> {
        shard_state& st = *states_[i];
        mailstore::writer_options wo;
        wo.hostname = "mx.example.org";
        wo.shard_id = i;
        st.writer = std::make_unique<mailstore::maildir_writer>(wo);
        st.store = std::make_unique<mailstore::mail_store>(mail_root_, mailstore::store_options{}, *st.writer,
                                                           shards_->offload());
        stores_[i] = st.store.get();
        st.local = std::make_unique<delivery::local_sink>(stores_);
        co_return;
      });
    }
    spam_all_.clear();
    for (unsigned i = 0; i < 2; ++i) spam_all_.push_back(&states_[i]->spam);
    for (unsigned i = 0; i < 2; ++i) {
      testing::run_on(*shards_, i, [this, i]() -> task<void> {
        shard_state& st = *states_[i];
        st.source = std::make_unique<directory::offload_source>(*store_, shards_->offload());
        st.resolver = std::make_unique<directory::resolver>(*st.source);
        st.context = {st.resolver.get(), st.local.get(), st.source.get()};
        if (spam_engine_) {
          st.spam.settings = &spam_settings_;
          st.spam.scanner = std::make_unique<spam::scan_context>(spam_engine_);
          st.spam.greylist = spam::greylist_table(greylist_options_);
          st.spam.all = &spam_all_;
          st.spam.pool = &shards_->offload();
          st.context.spam = &st.spam;
        }
        service_options o;
        o.name = "smtp";
        o.address = *socket_address::parse("127.0.0.1", port_);
        auto svc = tcp_service::start(o, [this, &st](session& s) { return run_session(s, config_, st.context); }, nullptr);
        EXPECT_TRUE(svc.ok()) << svc.status();
        st.service = std::move(*svc);
        port_ = st.service->port();
        co_return;
      });
    }
  }

  void stop() {
    if (!shards_) return;
    for (unsigned i = 0; i < 2; ++i) {
      testing::run_on(*shards_, i, [this, i]() -> task<void> {
        co_await states_[i]->service->drain(1s);
        // As serve does at a stop: the stores finish their Dovecot file writes, which
        // would otherwise still be in flight when the shards stop.
        co_await states_[i]->store->close_all();
        states_[i].reset();
      });
    }
    shards_.reset();
    fs::remove_all(dir_);
  }

  // ---- a raw client -------------------------------------------------------------
  int connect_client() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }
  static void send_raw(int fd, std::string_view bytes) {
    ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  // One whole reply (all its "NNN-" lines and the final "NNN " line), or "" at EOF.
  static std::string read_reply(int fd) {
    std::string reply, line;
    char c;
    while (read(fd, &c, 1) == 1) {
      line.push_back(c);
      if (c != '\n') continue;
      reply += line;
      bool last = line.size() >= 4 && line[3] == ' ';
      line.clear();
      if (last) break;
    }
    return reply;
  }
  static std::string code_of(const std::string& reply) { return reply.substr(0, std::min<size_t>(reply.size(), 9)); }

  // Sends each command and collects the replies' first 9 characters ("250 2.1.0").
  std::vector<std::string> converse(int fd, const std::vector<std::string>& commands) {
    std::vector<std::string> codes;
    for (const auto& c : commands) {
      send_raw(fd, c);
      codes.push_back(code_of(read_reply(fd)));
    }
    return codes;
  }

  std::vector<std::string> delivered(const std::string& user, const std::string& domain = "example.org") {
    std::vector<std::string> out;
    fs::path dir = fs::path(mail_root_) / domain / user / "Maildir" / "new";
    if (!fs::exists(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir)) {
      std::ifstream in(e.path(), std::ios::binary);
      out.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    return out;
  }
  size_t total_delivered() {
    size_t n = 0;
    if (!fs::exists(mail_root_)) return 0;
    for (const auto& e : fs::recursive_directory_iterator(mail_root_)) {
      if (e.is_regular_file() && e.path().parent_path().filename() == "new") ++n;
    }
    return n;
  }
  static std::string body_of(const std::string& file) {
    // Strip the three headers delivery and reception prepend.
    size_t pos = file.find("Subject:");
    return pos == std::string::npos ? file : file.substr(pos);
  }

  std::string dir_;
  std::string mail_root_;
  mailstore::store_set stores_;
  std::unique_ptr<directory::sqlite_store> store_;
  server_config config_;
  std::unique_ptr<shard_set> shards_;
  std::vector<std::unique_ptr<shard_state>> states_;
  uint16_t port_ = 0;
  // Spam scanning: off unless a test fixture sets the engine before start().
  std::shared_ptr<const spam::spam_engine> spam_engine_;
  spam_settings spam_settings_;
  spam::greylist_options greylist_options_;
  std::vector<spam_shard*> spam_all_;
};

TEST_F(SmtpServer, GreetingAndEhloExtensions) {
  int fd = connect_client();
  EXPECT_EQ(read_reply(fd), "220 mx.example.org ESMTP ringmail\r\n");
  send_raw(fd, "EHLO client.test\r\n");
  std::string ehlo = read_reply(fd);
  for (const char* ext : {"250-PIPELINING", "250-SIZE 100000", "250-8BITMIME", "250-SMTPUTF8",
                          "250-ENHANCEDSTATUSCODES", "250-CHUNKING", "250 STARTTLS"}) {
    EXPECT_NE(ehlo.find(ext), std::string::npos) << ext << " in " << ehlo;
  }
  EXPECT_EQ(converse(fd, {"HELO client.test\r\n", "NOOP\r\n", "VRFY john\r\n", "HELP\r\n", "FOO\r\n", "QUIT\r\n"}),
            (std::vector<std::string>{"250 mx.ex", "250 2.0.0", "252 2.5.0", "214 2.0.0", "500 5.5.2", "221 2.0.0"}));
  EXPECT_EQ(read_reply(fd), "") << "closed after QUIT";
  close(fd);
}

TEST_F(SmtpServer, DeliversWithTraceHeadersAndExactDotUnstuffing) {
  int fd = connect_client();
  read_reply(fd);
  EXPECT_EQ(converse(fd, {"EHLO client.test\r\n", "MAIL FROM:<sender@remote.test> SIZE=200\r\n",
                          "RCPT TO:<john+lists@example.org>\r\n", "DATA\r\n"}),
            (std::vector<std::string>{"250-mx.ex", "250 2.1.0", "250 2.1.5", "354 End d"}));
  send_raw(fd, "Subject: test\r\n\r\n..leading dot\r\n.\r\n");
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.0.0");
  auto files = delivered("john");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].rfind("Return-Path: <sender@remote.test>\r\nDelivered-To: john@example.org\r\nReceived: from client.test ([127.0.0.1])\r\n\tby mx.example.org (ringmail) with ESMTP id ", 0), 0u) << files[0];
  EXPECT_NE(files[0].find("\tfor <john+lists@example.org>; "), std::string::npos);
  EXPECT_EQ(body_of(files[0]), "Subject: test\r\n\r\n.leading dot\r\n");
  close(fd);
}

TEST_F(SmtpServer, PipelinedTransactionsGetRepliesInOrder) {
  int fd = connect_client();
  read_reply(fd);
  send_raw(fd,
           "EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<john@example.org>\r\nRCPT TO:<nobody@example.org>\r\n"
           "RCPT TO:<info@example.org>\r\nDATA\r\n");
  std::vector<std::string> codes;
  for (int i = 0; i < 6; ++i) codes.push_back(code_of(read_reply(fd)));
  EXPECT_EQ(codes, (std::vector<std::string>{"250-mx.ex", "250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "354 End d"}));
  send_raw(fd, "Subject: p\r\n\r\nbody\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<jane@example.org>\r\nDATA\r\n");
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.0.0");
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.1.0");
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.1.5");
  EXPECT_EQ(code_of(read_reply(fd)), "354 End d");
  send_raw(fd, "Subject: q\r\n\r\nsecond\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.0.0");
  EXPECT_EQ(code_of(read_reply(fd)), "221 2.0.0");
  EXPECT_EQ(delivered("john").size(), 1u) << "john directly and via info@: one copy";
  EXPECT_EQ(delivered("jane").size(), 2u) << "via info@, then directly in the second message";
  close(fd);
}

TEST_F(SmtpServer, SequenceAndRecipientErrors) {
  int fd = connect_client();
  read_reply(fd);
  EXPECT_EQ(converse(fd, {"MAIL FROM:<a@b.test>\r\n", "EHLO c\r\n", "RCPT TO:<john@example.org>\r\n", "DATA\r\n",
                          "MAIL FROM:<a@b.test>\r\n", "MAIL FROM:<a@b.test>\r\n", "DATA\r\n",
                          "RCPT TO:<x@elsewhere.test>\r\n", "RCPT TO:<john%elsewhere.test@example.org>\r\n",
                          "RCPT TO:<john!elsewhere.test@example.org>\r\n", "RCPT TO:<\"john@elsewhere.test\"@example.org>\r\n",
                          "RCPT TO:<@example.org:x@elsewhere.test>\r\n", "RCPT TO:<sales@example.org>\r\n",
                          "RSET\r\n", "RCPT TO:<john@example.org>\r\n"}),
            (std::vector<std::string>{"503 5.5.1", "250-mx.ex", "503 5.5.1", "503 5.5.1", "250 2.1.0", "503 5.5.1",
                                      "554 5.5.1", "554 5.7.1", "554 5.7.1", "554 5.7.1", "554 5.7.1", "554 5.7.1",
                                      "451 4.4.0", "250 2.0.0", "503 5.5.1"}));
  close(fd);
}

TEST_F(SmtpServer, SizeLimits) {
  int fd = connect_client();
  read_reply(fd);
  EXPECT_EQ(converse(fd, {"EHLO c\r\n", "MAIL FROM:<a@b.test> SIZE=100001\r\n", "MAIL FROM:<a@b.test> SIZE=99\r\n",
                          "RCPT TO:<john@example.org>\r\n", "DATA\r\n"}),
            (std::vector<std::string>{"250-mx.ex", "552 5.3.4", "250 2.1.0", "250 2.1.5", "354 End d"}));
  std::string big(200000, 'x');
  send_raw(fd, "Subject: big\r\n\r\n" + big + "\r\n.\r\n");
  EXPECT_EQ(code_of(read_reply(fd)), "552 5.3.4");
  EXPECT_EQ(converse(fd, {"NOOP\r\n"}), (std::vector<std::string>{"250 2.0.0"})) << "the session goes on";
  EXPECT_EQ(total_delivered(), 0u);
  close(fd);
}

TEST_F(SmtpServer, BdatChunksZeroLengthAndLast) {
  int fd = connect_client();
  read_reply(fd);
  EXPECT_EQ(converse(fd, {"EHLO c\r\n", "MAIL FROM:<a@b.test>\r\n", "RCPT TO:<john@example.org>\r\n"}),
            (std::vector<std::string>{"250-mx.ex", "250 2.1.0", "250 2.1.5"}));
  std::string part1 = "Subject: bdat\r\n\r\n";
  std::string part2 = ".no stuffing in BDAT\r\n";
  send_raw(fd, absl::StrCat("BDAT ", part1.size(), "\r\n", part1));
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.0.0");
  send_raw(fd, "BDAT 0\r\n");
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.0.0");
  send_raw(fd, absl::StrCat("BDAT ", part2.size(), " LAST\r\n", part2));
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.0.0");
  auto files = delivered("john");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(body_of(files[0]), part1 + part2);
  // BDAT then DATA in one transaction is a sequence error (RFC 3030 section 3).
  EXPECT_EQ(converse(fd, {"MAIL FROM:<a@b.test>\r\n", "RCPT TO:<jane@example.org>\r\n", "BDAT 3\r\nabc", "DATA\r\n"}),
            (std::vector<std::string>{"250 2.1.0", "250 2.1.5", "250 2.0.0", "503 5.5.1"}));
  EXPECT_EQ(delivered("jane").size(), 0u);
  close(fd);
}

TEST_F(SmtpServer, SmtpUtf8Recipient) {
  int fd = connect_client();
  read_reply(fd);
  EXPECT_EQ(converse(fd, {"EHLO c\r\n", "MAIL FROM:<a@b.test> SMTPUTF8\r\n", "RCPT TO:<jörg@example.org>\r\n", "DATA\r\n"}),
            (std::vector<std::string>{"250-mx.ex", "250 2.1.0", "250 2.1.5", "354 End d"}));
  send_raw(fd, "Subject: utf8\r\n\r\nGrüße\r\n.\r\n");
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.0.0");
  EXPECT_EQ(delivered("jörg").size(), 1u);
  close(fd);
}

// Every end-of-data variant that some MTA might take for the end, followed by a
// smuggled second transaction: nothing may ever reach the smuggled recipient.
TEST_F(SmtpServer, SmugglingVariantsNeverDeliverASecondMessage) {
  const std::vector<std::string> fake_ends = {"\n.\n", "\r.\r", "\r.\n", "\n.\r", "\n.\r\n", "\r\n.\n",
                                              "\r.\r\n", "\r\n.\r", "\r\n\0.\r\n", "\r\n.\0\r\n"};
  for (size_t i = 0; i < fake_ends.size(); ++i) {
    int fd = connect_client();
    read_reply(fd);
    EXPECT_EQ(converse(fd, {"EHLO c\r\n", "MAIL FROM:<a@b.test>\r\n", "RCPT TO:<john@example.org>\r\n", "DATA\r\n"})[3],
              "354 End d");
    std::string payload = "Subject: first\r\n\r\nbody" + fake_ends[i] +
                          "MAIL FROM:<evil@b.test>\r\nRCPT TO:<jane@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n";
    send_raw(fd, payload);
    std::string r = read_reply(fd);
    EXPECT_TRUE(r.rfind("550 5.5.2", 0) == 0 || r.rfind("250 2.0.0", 0) == 0) << i << ": " << r;
    EXPECT_EQ(converse(fd, {"QUIT\r\n"})[0], "221 2.0.0") << i << ": the stream is in sync after the real end";
    close(fd);
  }
  EXPECT_EQ(delivered("jane").size(), 0u) << "a smuggled message was delivered";
}

TEST_F(SmtpServer, StartTlsDropsPipelinedCommands) {
  int fd = connect_client();
  read_reply(fd);
  EXPECT_EQ(converse(fd, {"EHLO c\r\n"})[0], "250-mx.ex");
  send_raw(fd, "STARTTLS\r\nRSET\r\n");
  EXPECT_EQ(code_of(read_reply(fd)), "220 2.0.0");
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  ASSERT_EQ(SSL_connect(ssl), 1);
  auto tls_reply = [&] {
    std::string reply, line;
    char c;
    while (SSL_read(ssl, &c, 1) == 1) {
      line.push_back(c);
      if (c != '\n') continue;
      reply += line;
      bool last = line.size() >= 4 && line[3] == ' ';
      line.clear();
      if (last) break;
    }
    return reply;
  };
  std::string cmd = "EHLO again\r\n";
  SSL_write(ssl, cmd.data(), static_cast<int>(cmd.size()));
  std::string first = tls_reply();
  EXPECT_EQ(first.substr(0, 4), "250-") << "had RSET survived, its 250 2.0.0 would come first: " << first;
  EXPECT_EQ(first.find("STARTTLS"), std::string::npos) << "not offered again under TLS";
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
}

TEST_F(SmtpServer, HostileCommandsGetErrorsAndTheSessionSurvives) {
  int fd = connect_client();
  read_reply(fd);
  send_raw(fd, "EHLO c\r\n" + std::string(100000, 'A') + "\r\nNOOP\r\n");
  EXPECT_EQ(code_of(read_reply(fd)), "250-mx.ex");
  EXPECT_EQ(code_of(read_reply(fd)).substr(0, 1), "5") << "over-long line";
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.0.0") << "and the next command still works";
  EXPECT_EQ(converse(fd, {"MAIL FROM:<;sleep 1;>\r\n"})[0].substr(0, 1), "5");
  static constexpr char kNulInPath[] = "MAIL FROM:<a\0b@example.org>\r\n";
  send_raw(fd, std::string(kNulInPath, sizeof kNulInPath - 1));
  EXPECT_EQ(code_of(read_reply(fd)).substr(0, 1), "5");
  EXPECT_EQ(converse(fd, {"MAIL FROM:<a@b.test> BODY=8BITMIME X=\x01\r\n"})[0].substr(0, 1), "5");
  EXPECT_EQ(converse(fd, {"MAIL FROM:<a@b.test>\r\n"})[0], "250 2.1.0");
  send_raw(fd, "RCPT TO:<jo\rhn@example.org>\r\n");
  EXPECT_EQ(code_of(read_reply(fd)).substr(0, 1), "5");
  close(fd);
}

TEST_F(SmtpServer, TooManyRecipientsAndTooManyErrors) {
  int fd = connect_client();
  read_reply(fd);
  converse(fd, {"EHLO c\r\n", "MAIL FROM:<a@b.test>\r\n"});
  // 10,000 RCPTs in one pipelined burst: 50 accepted (the limit), the rest 452.
  std::string burst;
  for (int i = 0; i < 10000; ++i) burst += "RCPT TO:<john@example.org>\r\n";
  std::thread writer([&] { send_raw(fd, burst); });
  int accepted = 0, refused = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string code = code_of(read_reply(fd));
    accepted += code == "250 2.1.5";
    refused += code == "452 4.5.3";
  }
  writer.join();
  EXPECT_EQ(accepted, 50);
  EXPECT_EQ(refused, 9950);
  std::string junk;
  for (int i = 0; i < 12; ++i) junk += "BOGUS\r\n";
  send_raw(fd, junk);
  std::string all;
  for (std::string r; !(r = read_reply(fd)).empty();) all += r;
  EXPECT_NE(all.find("421 4.7.0"), std::string::npos) << all;
  close(fd);
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

TEST_F(SmtpServer, FiveThousandIdleConnectionsStayCheapAndOthersAreServed) {
  const long before = rss_kib();
  std::vector<int> idle;
  for (int i = 0; i < 5000; ++i) {
    int fd = connect_client();
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  // Every one of them got its greeting: the sessions exist and wait for a command.
  for (int fd : idle) ASSERT_EQ(read_reply(fd).substr(0, 4), "220 ");
  const long grown = rss_kib() - before;
  int fd = connect_client();
  read_reply(fd);
  EXPECT_EQ(converse(fd, {"EHLO c\r\n", "MAIL FROM:<a@b.test>\r\n", "RCPT TO:<john@example.org>\r\n", "DATA\r\n"})[3],
            "354 End d");
  send_raw(fd, "Subject: busy\r\n\r\nstill served\r\n.\r\n");
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.0.0");
  close(fd);
  // Server and client share this process: < 16 KiB per idle session all told.
  EXPECT_LT(grown, 5000 * 16) << "RSS grew by " << grown << " KiB for 5,000 idle sessions";
  std::printf("rss growth for 5000 idle sessions: %ld KiB (%.1f KiB each)\n", grown, grown / 5000.0);
  for (int i : idle) close(i);
}

TEST_F(SmtpServer, OverQuotaIs452) {
  int fd = connect_client();
  read_reply(fd);
  EXPECT_EQ(converse(fd, {"EHLO c\r\n", "MAIL FROM:<a@b.test>\r\n", "RCPT TO:<small@example.org>\r\n", "DATA\r\n"}),
            (std::vector<std::string>{"250-mx.ex", "250 2.1.0", "250 2.1.5", "354 End d"}));
  send_raw(fd, "Subject: fills the 300-byte quota\r\n\r\n" + std::string(400, 'q') + "\r\n.\r\n");
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.0.0");
  EXPECT_EQ(converse(fd, {"MAIL FROM:<a@b.test>\r\n", "RCPT TO:<small@example.org>\r\n", "RCPT TO:<john@example.org>\r\n"}),
            (std::vector<std::string>{"250 2.1.0", "452 4.2.2", "250 2.1.5"}));
  close(fd);
}

class SmtpTimeouts : public SmtpServer {
 protected:
  void SetUp() override { start(false, 300ms); }
};

TEST_F(SmtpTimeouts, IdleAndSlowDripClientsAreTimedOut) {
  int fd = connect_client();
  read_reply(fd);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(code_of(read_reply(fd)), "421 4.4.2");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  close(fd);
  // One byte every 100 ms, never finishing a line: each read is quick, the command is not.
  int drip = connect_client();
  read_reply(drip);
  start = std::chrono::steady_clock::now();
  std::string reply;
  for (int i = 0; i < 50 && reply.empty(); ++i) {
    if (write(drip, "N", 1) != 1) break;
    usleep(100000);
    timeval tv{0, 1000};
    setsockopt(drip, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[64];
    ssize_t n = read(drip, buf, sizeof buf);
    if (n > 0) reply.assign(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(reply.substr(0, 9), "421 4.4.2") << "a slow-drip client must be timed out";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  close(drip);
}

class LmtpServer : public SmtpServer {
 protected:
  void SetUp() override { start(/*lmtp=*/true); }
};

TEST_F(LmtpServer, OneReplyPerRecipientAfterData) {
  int fd = connect_client();
  EXPECT_EQ(read_reply(fd), "220 mx.example.org LMTP ringmail\r\n");
  EXPECT_EQ(converse(fd, {"EHLO c\r\n", "LHLO c\r\n", "MAIL FROM:<a@b.test>\r\n", "RCPT TO:<john@example.org>\r\n",
                          "RCPT TO:<ghost@example.org>\r\n", "RCPT TO:<info@example.org>\r\n", "DATA\r\n"}),
            (std::vector<std::string>{"500 5.5.1", "250-mx.ex", "250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5",
                                      "354 End d"}));
  send_raw(fd, "Subject: lmtp\r\n\r\nhi\r\n.\r\n");
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.0.0");
  EXPECT_EQ(code_of(read_reply(fd)), "250 2.0.0") << "one reply per accepted recipient";
  EXPECT_EQ(delivered("john").size(), 1u) << "one copy although reached twice";
  EXPECT_EQ(delivered("jane").size(), 1u);
  close(fd);
}

// ---- spam verdicts in the SMTP path ----------------------------------------------
// A small rule set in SpamAssassin syntax: one word per action, so each test decides
// the score by what it puts in the body.
constexpr const char* kSpamRules =
    "body RM_TEST_REJECT /\\bpurple-monkey-dishwasher\\b/i\n"
    "score RM_TEST_REJECT 20\n"
    "body RM_TEST_JUNK /\\blottery winnings\\b/i\n"
    "score RM_TEST_JUNK 6\n"
    "header RM_TEST_GREY Subject =~ /greyish/\n"
    "score RM_TEST_GREY 4.5\n";

class SmtpSpam : public SmtpServer {
 protected:
  void SetUp() override {}  // each test configures, then calls begin()
  void begin(bool greylist = false) {
    std::string tmpl = ::testing::TempDir() + "/ringmail-rules-XXXXXX";
    rules_dir_ = mkdtemp(tmpl.data());
    std::ofstream(rules_dir_ + "/test.cf") << kSpamRules;
    spam::engine_options o;
    o.rule_paths.push_back(rules_dir_);
    auto engine = spam::spam_engine::build(o);
    ASSERT_TRUE(engine.ok()) << engine.status();
    spam_engine_ = *engine;
    spam_settings_.policy.greylist = greylist;
    greylist_options_.delay = std::chrono::seconds(0);  // a retry passes at once
    start(/*lmtp=*/false);
  }
  void TearDown() override {
    SmtpServer::TearDown();
    if (!rules_dir_.empty()) fs::remove_all(rules_dir_);
  }
  // One message from a fresh connection; returns the end-of-data reply code.
  std::string send_message(const std::string& subject, const std::string& body,
                           const std::string& rcpt = "john@example.org") {
    int fd = connect_client();
    read_reply(fd);
    auto codes = converse(fd, {"EHLO client.test\r\n", "MAIL FROM:<sender@remote.test>\r\n",
                               "RCPT TO:<" + rcpt + ">\r\n", "DATA\r\n"});
    EXPECT_EQ(codes[3], "354 End d");
    send_raw(fd, "From: sender@remote.test\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n.\r\n");
    std::string reply = read_reply(fd);
    send_raw(fd, "QUIT\r\n");
    read_reply(fd);
    close(fd);
    return reply;
  }
  std::vector<std::string> in_folder(const std::string& user, const std::string& folder) {
    std::vector<std::string> out;
    fs::path dir = fs::path(mail_root_) / "example.org" / user / "Maildir" / folder / "new";
    if (!fs::exists(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir)) {
      std::ifstream in(e.path(), std::ios::binary);
      out.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    return out;
  }
  std::string rules_dir_;
};

TEST_F(SmtpSpam, HamGoesToInboxWithSpamStatusNo) {
  begin();
  EXPECT_EQ(code_of(send_message("lunch", "see you at noon")), "250 2.0.0");
  auto inbox = delivered("john");
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_NE(inbox[0].find("X-Spam-Status: No, score=0.0 required=5.0 tests=none\r\n"), std::string::npos) << inbox[0];
  EXPECT_NE(inbox[0].find("X-Spam-Score: 0.0\r\n"), std::string::npos);
  EXPECT_TRUE(in_folder("john", ".Junk").empty());
}

TEST_F(SmtpSpam, SpamGoesToJunkWithFlag) {
  begin();
  EXPECT_EQ(code_of(send_message("hello", "claim your LOTTERY WINNINGS today")), "250 2.0.0");
  EXPECT_TRUE(delivered("john").empty());
  auto junk = in_folder("john", ".Junk");
  ASSERT_EQ(junk.size(), 1u);
  EXPECT_NE(junk[0].find("X-Spam-Flag: YES\r\n"), std::string::npos);
  EXPECT_NE(junk[0].find("X-Spam-Status: Yes, score=6.0 required=5.0 tests=RM_TEST_JUNK"), std::string::npos) << junk[0];
  EXPECT_NE(junk[0].find("claim your LOTTERY WINNINGS today"), std::string::npos) << "the message itself is intact";
}

TEST_F(SmtpSpam, HeadersOnlyModeKeepsSpamInInbox) {
  spam_settings_.policy.junk_folder = false;
  begin();
  EXPECT_EQ(code_of(send_message("hello", "lottery winnings")), "250 2.0.0");
  auto inbox = delivered("john");
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_NE(inbox[0].find("X-Spam-Flag: YES"), std::string::npos);
  EXPECT_TRUE(in_folder("john", ".Junk").empty());
}

TEST_F(SmtpSpam, HighScoreIsRejectedAtEndOfData) {
  begin();
  EXPECT_EQ(code_of(send_message("hi", "the purple-monkey-dishwasher says hello")), "554 5.7.1");
  EXPECT_EQ(total_delivered(), 0u);
  // The server goes on: the next (clean) message is accepted.
  EXPECT_EQ(code_of(send_message("hi", "all fine")), "250 2.0.0");
  EXPECT_EQ(total_delivered(), 1u);
}

TEST_F(SmtpSpam, GreylistDefersUnknownTripletThenPassesRetry) {
  begin(/*greylist=*/true);
  EXPECT_EQ(code_of(send_message("greyish offer", "body")), "451 4.7.1");
  EXPECT_EQ(total_delivered(), 0u);
  EXPECT_EQ(code_of(send_message("greyish offer", "body")), "250 2.0.0") << "retry after the (zero) delay";
  EXPECT_EQ(code_of(send_message("greyish offer", "body", "jane@example.org")), "451 4.7.1") << "new triplet";
  EXPECT_EQ(code_of(send_message("plain", "body", "jane@example.org")), "250 2.0.0") << "low scores are not greylisted";
  EXPECT_EQ(total_delivered(), 2u);
}

TEST_F(SmtpSpam, OversizedMessagesAreDeliveredUnscanned) {
  spam_settings_.max_scan_size = 100;
  begin();
  EXPECT_EQ(code_of(send_message("big", std::string(200, 'x') + " purple-monkey-dishwasher")), "250 2.0.0");
  auto inbox = delivered("john");
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_NE(inbox[0].find("X-Spam-Status: No, skipped=too-large\r\n"), std::string::npos);
}

TEST_F(SmtpSpam, BigMessagesAreScannedOnTheOffloadPool) {
  spam_settings_.offload_scan_size = 4096;
  begin();
  // Past the threshold: scanned off the shard, with the same verdicts.
  const std::string filler = std::string(8000, 'x') + "\r\n";
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(code_of(send_message("small", "claim your lottery winnings")), "250 2.0.0");
  EXPECT_EQ(code_of(send_message("big", filler + "claim your lottery winnings")), "250 2.0.0");
  const std::string log = ::testing::internal::GetCapturedStderr();
  const size_t on_shard = log.find("scanned_on=shard"), on_pool = log.find("scanned_on=pool");
  EXPECT_NE(on_shard, std::string::npos) << log;
  EXPECT_NE(on_pool, std::string::npos) << log;
  EXPECT_LT(on_shard, on_pool) << "the small message first, on the shard";
  auto junk = in_folder("john", ".Junk");
  ASSERT_EQ(junk.size(), 2u);
  for (const auto& m : junk) {
    EXPECT_NE(m.find("X-Spam-Status: Yes, score=6.0 required=5.0 tests=RM_TEST_JUNK"), std::string::npos);
  }
  EXPECT_EQ(code_of(send_message("big", filler + "the purple-monkey-dishwasher")), "554 5.7.1");
  EXPECT_EQ(code_of(send_message("big", filler + "nothing to see")), "250 2.0.0");
  auto inbox = delivered("john");
  ASSERT_EQ(inbox.size(), 1u);
  EXPECT_NE(inbox[0].find("X-Spam-Status: No, score=0.0"), std::string::npos);
}

}  // namespace
}  // namespace ringmail::smtp
