// TLS over the runtime: implicit TLS and STARTTLS-style upgrade on a real socket,
// checked with clients no one here wrote (openssl s_client, OpenSSL's own blocking
// SSL_connect), including "plaintext pipelined after the upgrade command is discarded".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runtime/stream.h"
#include "runtime/tcp_service.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"

namespace ringmail {
namespace {

using namespace std::chrono_literals;

struct tls_fixture_files {
  std::string dir, cert, key, other_cert, other_key;
  tls_fixture_files() {
    std::string tmpl = ::testing::TempDir() + "/ringmail-tls-XXXXXX";
    dir = mkdtemp(tmpl.data());
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
    other_cert = dir + "/other.pem";
    other_key = dir + "/other.key";
    EXPECT_TRUE(tls::ensure_self_signed_certificate(cert, key, "mail.example.test").ok());
    EXPECT_TRUE(tls::ensure_self_signed_certificate(other_cert, other_key, "imap.example.test").ok());
  }
  ~tls_fixture_files() { std::filesystem::remove_all(dir); }
};

// Lines: "VERSION" -> TLS version, "SNI" -> server name, "STARTTLS" -> 220 + upgrade,
// anything else is echoed.
task<void> tls_line_server(session& s, std::shared_ptr<tls::context> ctx, bool implicit) {
  stream io(std::move(s.conn), {5s, 5s}, &s.cancel);
  if (implicit && !(co_await io.start_tls(ctx, tls::role::server)).ok()) co_return;
  for (;;) {
    auto line = co_await io.read_line(1024);
    if (!line.ok()) break;
    std::string l(*line);
    if (l == "STARTTLS\r\n" && !io.tls_active()) {
      co_await io.write("220 2.0.0 ready to start TLS\r\n");
      if (!(co_await io.start_tls(ctx, tls::role::server)).ok()) break;
      continue;
    }
    if (l == "VERSION\r\n") l = io.tls_version() + "\r\n";
    if (l == "SNI\r\n") l = io.tls_server_name() + "\r\n";
    if (!(co_await io.write(l)).ok()) break;
  }
  co_await io.close();
}

class TlsStream : public ::testing::Test {
 protected:
  void start(bool implicit) {
    shards_ = testing::make_shards(2);
    auto ctx = tls::context::make_server(files_.cert, files_.key);
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    ASSERT_TRUE((*ctx)->add_sni_certificate("imap.example.test", files_.other_cert, files_.other_key).ok());
    ctx_ = *ctx;
    services_.resize(2);
    for (unsigned i = 0; i < 2; ++i) {
      testing::run_on(*shards_, i, [this, i, implicit]() -> task<void> {
        service_options o;
        o.name = "tls-echo";
        o.address = *socket_address::parse("127.0.0.1", port_);
        auto ctx = ctx_;
        auto svc = tcp_service::start(
            o, [ctx, implicit](session& s) { return tls_line_server(s, ctx, implicit); }, nullptr);
        EXPECT_TRUE(svc.ok());
        services_[i] = std::move(*svc);
        port_ = services_[i]->port();
        co_return;
      });
    }
  }
  void TearDown() override {
    for (unsigned i = 0; i < services_.size(); ++i) {
      testing::run_on(*shards_, i, [this, i]() -> task<void> {
        co_await services_[i]->drain(1s);
        services_[i].reset();
      });
    }
  }

  tls_fixture_files files_;
  std::unique_ptr<shard_set> shards_;
  std::shared_ptr<tls::context> ctx_;
  std::vector<std::unique_ptr<tcp_service>> services_;
  uint16_t port_ = 0;
};

int plain_connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string read_line_plain(int fd) {
  std::string out;
  char c;
  while (read(fd, &c, 1) == 1) {
    out.push_back(c);
    if (c == '\n') break;
  }
  return out;
}

// OpenSSL's own blocking client on an already connected socket.
struct openssl_client {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  bool connect(int fd, const char* sni) {
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (sni) SSL_set_tlsext_host_name(ssl, sni);
    return SSL_connect(ssl) == 1;
  }
  bool send(const std::string& s) { return SSL_write(ssl, s.data(), static_cast<int>(s.size())) == static_cast<int>(s.size()); }
  std::string read_line() {
    std::string out;
    char c;
    while (SSL_read(ssl, &c, 1) == 1) {
      out.push_back(c);
      if (c == '\n') break;
    }
    return out;
  }
  std::string peer_cn() {
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (!cert) return "";
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
    X509_free(cert);
    return buf;
  }
  ~openssl_client() {
    if (ssl) SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
};

TEST_F(TlsStream, ImplicitTlsEchoWithOpensslClient) {
  start(/*implicit=*/true);
  int fd = plain_connect(port_);
  openssl_client c;
  ASSERT_TRUE(c.connect(fd, "mail.example.test"));
  ASSERT_TRUE(c.send("hello over tls\r\n"));
  EXPECT_EQ(c.read_line(), "hello over tls\r\n");
  ASSERT_TRUE(c.send("VERSION\r\n"));
  std::string version = c.read_line();
  EXPECT_TRUE(version == "TLSv1.3\r\n" || version == "TLSv1.2\r\n") << version;
  std::string big(100000, 'z');
  ASSERT_TRUE(c.send(big.substr(0, 1000) + "\r\n"));
  EXPECT_EQ(c.read_line(), big.substr(0, 1000) + "\r\n");
  close(fd);
}

TEST_F(TlsStream, SniSelectsTheSecondCertificate) {
  start(/*implicit=*/true);
  int fd = plain_connect(port_);
  openssl_client c;
  ASSERT_TRUE(c.connect(fd, "imap.example.test"));
  EXPECT_EQ(c.peer_cn(), "imap.example.test");
  ASSERT_TRUE(c.send("SNI\r\n"));
  EXPECT_EQ(c.read_line(), "imap.example.test\r\n");
  close(fd);
}

TEST_F(TlsStream, OpensslSClientRoundTrip) {
  start(/*implicit=*/true);
  // The real command-line client: send a line, keep stdin open a moment, print the echo.
  std::string cmd = absl::StrCat("(printf 'from s_client\\r\\n'; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:",
                                 port_, " -servername mail.example.test -quiet -no_ign_eof 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  EXPECT_EQ(out, "from s_client\r\n");
}

TEST_F(TlsStream, StartTlsDiscardsPipelinedPlaintext) {
  start(/*implicit=*/false);
  int fd = plain_connect(port_);
  // Before the upgrade, plain echo works.
  std::string hello = "plain\r\n";
  ASSERT_EQ(write(fd, hello.data(), hello.size()), static_cast<ssize_t>(hello.size()));
  EXPECT_EQ(read_line_plain(fd), "plain\r\n");
  // The attack: a command smuggled in the same packet as STARTTLS.
  std::string attack = "STARTTLS\r\nINJECTED COMMAND\r\n";
  ASSERT_EQ(write(fd, attack.data(), attack.size()), static_cast<ssize_t>(attack.size()));
  EXPECT_EQ(read_line_plain(fd), "220 2.0.0 ready to start TLS\r\n");
  openssl_client c;
  ASSERT_TRUE(c.connect(fd, "mail.example.test"));
  ASSERT_TRUE(c.send("after upgrade\r\n"));
  // Had the injected line survived, its echo would come first.
  EXPECT_EQ(c.read_line(), "after upgrade\r\n");
  ASSERT_TRUE(c.send("VERSION\r\n"));
  EXPECT_NE(c.read_line(), "\r\n");
  close(fd);
}

TEST_F(TlsStream, RuntimeClientUpgradesAgainstRuntimeServer) {
  start(/*implicit=*/false);
  auto client_ctx = tls::context::make_client(/*verify_peer=*/true, files_.cert);
  ASSERT_TRUE(client_ctx.ok()) << client_ctx.status();
  auto client_shards = testing::make_shards(1);
  auto answers = testing::run_on(*client_shards, 0, [&]() -> task<std::vector<std::string>> {
    std::vector<std::string> got;
    auto c = co_await connect_to(*socket_address::parse("127.0.0.1", port_), 5s);
    if (!c.ok()) co_return got;
    stream io(std::move(c).value(), {5s, 5s});
    co_await io.write("STARTTLS\r\n");
    auto l = co_await io.read_line(512);
    got.emplace_back(l.ok() ? *l : "read failed");
    auto up = co_await io.start_tls(*client_ctx, tls::role::client, "mail.example.test");
    got.emplace_back(up.ok() ? "upgraded" : up.to_string());
    co_await io.write("over tls\r\n");
    l = co_await io.read_line(512);
    got.emplace_back(l.ok() ? *l : "read failed");
    co_await io.close();
    co_return got;
  });
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[0], "220 2.0.0 ready to start TLS\r\n");
  EXPECT_EQ(answers[1], "upgraded");
  EXPECT_EQ(answers[2], "over tls\r\n");
}

TEST_F(TlsStream, GarbageInsteadOfHandshakeEndsOnlyThatSession) {
  start(/*implicit=*/true);
  int bad = plain_connect(port_);
  std::string junk = "EHLO this is not tls\r\n";
  ASSERT_EQ(write(bad, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  char buf[512];
  ssize_t n;
  while ((n = read(bad, buf, sizeof buf)) > 0) {
  }
  close(bad);
  // The server is still there for the next client.
  int fd = plain_connect(port_);
  openssl_client c;
  ASSERT_TRUE(c.connect(fd, "mail.example.test"));
  ASSERT_TRUE(c.send("still alive\r\n"));
  EXPECT_EQ(c.read_line(), "still alive\r\n");
  close(fd);
}

// Idle sessions pin no buffers (issue 10: 100,000 IMAP IDLE sessions in 2 GiB). A server
// stream reads a 60 KB line and writes a 300 KB answer, then waits for the next line: while
// it waits, its plaintext buffer and the TLS engine's memory BIOs must be back to almost
// nothing (before, they kept the 64 KiB / 400 KiB they had grown to), and the stream must
// still work afterwards.
struct idle_memory_result {
  std::string first, second;
  size_t busy_capacity = 0;     // right after the big exchange, before waiting
  size_t waiting_capacity = 0;  // while the next read_line waits for the peer
  size_t answer_bytes = 0;
};

idle_memory_result run_idle_memory_exchange(std::shared_ptr<tls::context> server_ctx,
                                            std::shared_ptr<tls::context> client_ctx) {
  auto r = testing::make_reactor(/*buffers=*/64, /*buffer_size=*/4096);
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  idle_memory_result out;
  r->block_on([&]() -> task<void> {
    stream server(connection(fds[0], socket_address()), {5s, 5s});
    stream client(connection(fds[1], socket_address()), {5s, 5s});
    if (server_ctx) {
      auto [a, b] = co_await when_all(server.start_tls(server_ctx, tls::role::server),
                                      client.start_tls(client_ctx, tls::role::client, "mail.example.test"));
      EXPECT_TRUE(a.ok() && b.ok()) << a.to_string() << " / " << b.to_string();
    }
    const std::string big_line = std::string(60000, 'q') + "\r\n";
    const std::string answer(300000, 'a');
    auto server_side = [&]() -> task<void> {
      auto line = co_await server.read_line(100000);
      out.first = line.ok() ? std::string(*line) : line.status().to_string();
      EXPECT_TRUE((co_await server.write(answer)).ok());
      out.busy_capacity = server.buffer_capacity();
      line = co_await server.read_line(100000);
      out.second = line.ok() ? std::string(*line) : line.status().to_string();
    };
    auto client_side = [&]() -> task<void> {
      EXPECT_TRUE((co_await client.write(big_line)).ok());
      while (out.answer_bytes < answer.size()) {
        auto got = co_await client.read_some();
        if (!got.ok()) break;
        out.answer_bytes += got->size();
      }
      // The server has sent everything and is waiting for its next line by now.
      co_await sleep_for(50ms);
      out.waiting_capacity = server.buffer_capacity();
      EXPECT_TRUE((co_await client.write("next\r\n")).ok());
    };
    co_await when_all(server_side(), client_side());
    co_await server.close();
    co_await client.close();
  }());
  return out;
}

TEST_F(TlsStream, WaitingTlsStreamKeepsNoGrownBuffers) {
  auto server_ctx = tls::context::make_server(files_.cert, files_.key);
  auto client_ctx = tls::context::make_client(/*verify_peer=*/false, "");
  ASSERT_TRUE(server_ctx.ok() && client_ctx.ok());
  idle_memory_result r = run_idle_memory_exchange(*server_ctx, *client_ctx);
  EXPECT_EQ(r.first, std::string(60000, 'q') + "\r\n");
  EXPECT_EQ(r.answer_bytes, 300000u);
  EXPECT_EQ(r.second, "next\r\n");
  EXPECT_GT(r.busy_capacity, 16000u);  // the measure sees the buffers that were grown
  EXPECT_LE(r.waiting_capacity, 2048u);
}

TEST_F(TlsStream, WaitingPlainStreamKeepsNoGrownBuffers) {
  // In plain mode a line longer than one provided buffer (4 KiB here) is joined in the
  // stream's own buffer; that copy must not outlive the wait for the next line either.
  idle_memory_result r = run_idle_memory_exchange(nullptr, nullptr);
  EXPECT_EQ(r.first, std::string(60000, 'q') + "\r\n");
  EXPECT_EQ(r.answer_bytes, 300000u);
  EXPECT_EQ(r.second, "next\r\n");
  EXPECT_GT(r.busy_capacity, 50000u);
  EXPECT_LE(r.waiting_capacity, 256u);
}

}  // namespace
}  // namespace ringmail
