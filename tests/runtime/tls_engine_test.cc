// tls::engine driven entirely in memory: two engines (or an engine and a raw OpenSSL
// client) exchange ciphertext through take_output()/feed_ciphertext(), no sockets.
#include "runtime/tls_engine.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/tls_context.h"

namespace ringmail::tls {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Moves all pending ciphertext from `from` to `to`, at most `chunk` bytes per feed (as a
// socket would deliver it in pieces). Returns the byte count.
size_t transfer(engine& from, engine& to, size_t chunk = SIZE_MAX) {
  std::string bytes;
  from.take_output(bytes);
  for (size_t off = 0; off < bytes.size(); off += chunk) {
    to.feed_ciphertext(
        std::span<const char>(bytes).subspan(off, std::min(chunk, bytes.size() - off)));
  }
  return bytes.size();
}

// Runs both handshakes to completion, shuttling ciphertext between them.
::testing::AssertionResult handshake_pair(engine& client, engine& server) {
  for (int round = 0; round < 50; ++round) {
    status c = client.handshake();
    status s = server.handshake();
    if (c == status::error)
      return ::testing::AssertionFailure() << "client: " << client.last_error();
    if (s == status::error)
      return ::testing::AssertionFailure() << "server: " << server.last_error();
    size_t moved = transfer(client, server) + transfer(server, client);
    if (moved == 0) {
      if (c == status::ok && s == status::ok) return ::testing::AssertionSuccess();
      return ::testing::AssertionFailure() << "handshake stalled in round " << round;
    }
  }
  return ::testing::AssertionFailure() << "handshake did not finish";
}

// Reads plaintext until the engine needs more ciphertext; returns the final status.
status read_available(engine& e, std::string& out) {
  char buf[4096];
  for (;;) {
    io_result r = e.read(buf);
    if (r.st != status::ok) return r.st;
    out.append(buf, r.bytes);
  }
}

class tls_engine_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = ::testing::TempDir() + "tls_engine_test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = new std::string(pattern);
    ASSERT_TRUE(
        ensure_self_signed_certificate(path("default.crt"), path("default.key"), "default.test")
            .ok());
    ASSERT_TRUE(
        ensure_self_signed_certificate(path("mail.crt"), path("mail.key"), "mail.example.test")
            .ok());
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  static std::string path(std::string_view name) { return *dir_ + "/" + std::string(name); }

  static std::shared_ptr<context> server_context() {
    auto ctx = context::make_server(path("default.crt"), path("default.key"));
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return ctx.ok() ? *ctx : nullptr;
  }
  static std::shared_ptr<context> client_context(bool verify = false, const std::string& ca = "") {
    auto ctx = context::make_client(verify, ca);
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return ctx.ok() ? *ctx : nullptr;
  }

  static std::string* dir_;
};
std::string* tls_engine_test::dir_ = nullptr;

TEST_F(tls_engine_test, HandshakeAndEchoBothWays) {
  engine server(server_context(), role::server);
  engine client(client_context(), role::client, "default.test");
  EXPECT_FALSE(client.handshake_done());
  EXPECT_EQ(client.version(), "");
  ASSERT_TRUE(handshake_pair(client, server));
  EXPECT_TRUE(client.handshake_done());
  EXPECT_TRUE(server.handshake_done());
  EXPECT_TRUE(client.version() == "TLSv1.3" || client.version() == "TLSv1.2") << client.version();
  EXPECT_EQ(client.version(), server.version());
  EXPECT_FALSE(client.cipher().empty());
  EXPECT_EQ(client.cipher(), server.cipher());
  EXPECT_EQ(server.server_name(), "default.test");
  EXPECT_EQ(client.peer_certificate_subject(), "CN=default.test");

  std::string_view ping = "EHLO client.test\r\n";
  io_result w = client.write(ping);
  ASSERT_EQ(w.st, status::ok);
  EXPECT_EQ(w.bytes, ping.size());
  transfer(client, server);
  std::string got;
  EXPECT_EQ(read_available(server, got), status::want_read);
  EXPECT_EQ(got, ping);

  std::string_view pong = "250 mail.example.test\r\n";
  ASSERT_EQ(server.write(pong).st, status::ok);
  transfer(server, client);
  got.clear();
  EXPECT_EQ(read_available(client, got), status::want_read);
  EXPECT_EQ(got, pong);
  EXPECT_EQ(client.last_error(), "");
}

TEST_F(tls_engine_test, OneMebibyteInPiecesBothWays) {
  engine server(server_context(), role::server);
  engine client(client_context(), role::client, "default.test");
  ASSERT_TRUE(handshake_pair(client, server));

  std::string payload(1 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>((i * 131 + i / 7) & 0xff);

  for (auto [from, to] : {std::pair{&client, &server}, std::pair{&server, &client}}) {
    std::string received;
    constexpr size_t kPiece = 10000;  // not a multiple of the 16 KiB record size
    for (size_t off = 0; off < payload.size(); off += kPiece) {
      std::span<const char> piece =
          std::span<const char>(payload).subspan(off, std::min(kPiece, payload.size() - off));
      io_result w = from->write(piece);
      ASSERT_EQ(w.st, status::ok) << from->last_error();
      ASSERT_EQ(w.bytes, piece.size());
      transfer(*from, *to, 1448);  // one TCP segment at a time
      ASSERT_EQ(read_available(*to, received), status::want_read) << to->last_error();
    }
    ASSERT_EQ(received.size(), payload.size());
    EXPECT_TRUE(received == payload);
  }
}

// Issue 10 (100,000 idle IMAP sessions in 2 GiB): an engine that has moved a lot of data
// keeps no grown ciphertext buffer once drained, and still works with the fresh ones.
TEST_F(tls_engine_test, DrainedEngineKeepsNoGrownBuffers) {
  engine server(server_context(), role::server);
  engine client(client_context(), role::client, "default.test");
  ASSERT_TRUE(handshake_pair(client, server));
  EXPECT_LE(client.buffered_capacity(), 2048u);
  EXPECT_LE(server.buffered_capacity(), 2048u);

  std::string payload(512 * 1024, 'p');
  ASSERT_EQ(client.write(payload).st, status::ok);
  EXPECT_GT(client.buffered_capacity(), payload.size());  // the output BIO holds it all
  std::string ciphertext;
  client.take_output(ciphertext);
  EXPECT_LE(client.buffered_capacity(), 2048u);  // drained: the grown BIO is gone
  server.feed_ciphertext(ciphertext);            // in one piece: the input BIO grows
  EXPECT_GT(server.buffered_capacity(), payload.size());
  std::string got;
  ASSERT_EQ(read_available(server, got), status::want_read) << server.last_error();
  EXPECT_EQ(got.size(), payload.size());
  EXPECT_LE(server.buffered_capacity(), 2048u);  // consumed: the grown BIO is gone

  // Both directions still work, a record split across feeds included.
  for (int round = 0; round < 3; ++round) {
    std::string ping = "ping " + std::to_string(round) + std::string(3000, '.') + "\r\n";
    ASSERT_EQ(server.write(ping).st, status::ok);
    transfer(server, client, 700);
    std::string echoed;
    ASSERT_EQ(read_available(client, echoed), status::want_read) << client.last_error();
    EXPECT_EQ(echoed, ping);
    ASSERT_EQ(client.write(echoed).st, status::ok);
    transfer(client, server, 1000);
    std::string back;
    ASSERT_EQ(read_available(server, back), status::want_read) << server.last_error();
    EXPECT_EQ(back, ping);
  }
}

TEST_F(tls_engine_test, HandshakeFedOneByteAtATime) {
  engine server(server_context(), role::server);
  engine client(client_context(), role::client, "default.test");
  std::string bytes;
  for (int round = 0; round < 10 && !(client.handshake_done() && server.handshake_done());
       ++round) {
    ASSERT_NE(client.handshake(), status::error) << client.last_error();
    for (auto [from, to] : {std::pair{&client, &server}, std::pair{&server, &client}}) {
      bytes.clear();
      from->take_output(bytes);
      for (char c : bytes) {
        to->feed_ciphertext(std::span<const char>(&c, 1));
        ASSERT_NE(to->handshake(), status::error) << to->last_error();
      }
    }
  }
  ASSERT_TRUE(client.handshake_done());
  ASSERT_TRUE(server.handshake_done());
  ASSERT_EQ(client.write(std::string_view("x")).st, status::ok);
  transfer(client, server);
  std::string got;
  EXPECT_EQ(read_available(server, got), status::want_read);
  EXPECT_EQ(got, "x");
}

TEST_F(tls_engine_test, RefusesTls11Client) {
  engine server(server_context(), role::server);

  // A raw OpenSSL client capped at TLS 1.1, with the security level lowered so it is
  // willing to offer it at all: the refusal must come from our server.
  SSL_CTX* raw_ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(raw_ctx, nullptr);
  SSL_CTX_set_security_level(raw_ctx, 0);
  ASSERT_EQ(SSL_CTX_set_cipher_list(raw_ctx, "DEFAULT:@SECLEVEL=0"), 1);
  ASSERT_EQ(SSL_CTX_set_min_proto_version(raw_ctx, TLS1_VERSION), 1);
  ASSERT_EQ(SSL_CTX_set_max_proto_version(raw_ctx, TLS1_1_VERSION), 1);
  SSL* raw = SSL_new(raw_ctx);
  BIO* raw_in = BIO_new(BIO_s_mem());
  BIO* raw_out = BIO_new(BIO_s_mem());
  SSL_set_bio(raw, raw_in, raw_out);
  SSL_set_connect_state(raw);

  EXPECT_EQ(SSL_get_error(raw, SSL_do_handshake(raw)), SSL_ERROR_WANT_READ);
  char* hello = nullptr;
  long hello_size = BIO_get_mem_data(raw_out, &hello);
  ASSERT_GT(hello_size, 0) << "the raw client sent no ClientHello";
  server.feed_ciphertext(std::span<const char>(hello, static_cast<size_t>(hello_size)));

  EXPECT_EQ(server.handshake(), status::error);
  EXPECT_NE(server.last_error().find("unsupported protocol"), std::string::npos)
      << server.last_error();
  EXPECT_FALSE(server.handshake_done());
  // The engine stays failed.
  EXPECT_EQ(server.handshake(), status::error);
  EXPECT_EQ(server.read(std::span<char>()).st, status::error);

  // The protocol_version alert reaches the client.
  std::string alert;
  ASSERT_GT(server.take_output(alert), 0u);
  BIO_write(raw_in, alert.data(), static_cast<int>(alert.size()));
  EXPECT_EQ(SSL_get_error(raw, SSL_do_handshake(raw)), SSL_ERROR_SSL);
  ERR_clear_error();
  SSL_free(raw);
  SSL_CTX_free(raw_ctx);
}

TEST_F(tls_engine_test, SniSelectsCertificateCaseInsensitively) {
  std::shared_ptr<context> ctx = server_context();
  ASSERT_TRUE(
      ctx->add_sni_certificate("Mail.Example.TEST.", path("mail.crt"), path("mail.key")).ok());

  struct sni_case {
    std::string_view sni;
    std::string_view expected_subject;
  };
  for (auto [sni, expected] :
       {sni_case{"mail.example.test", "CN=mail.example.test"},
        sni_case{"MAIL.example.Test", "CN=mail.example.test"},
        sni_case{"other.test", "CN=default.test"}, sni_case{"", "CN=default.test"}}) {
    engine server(ctx, role::server);
    engine client(client_context(), role::client, sni);
    ASSERT_TRUE(handshake_pair(client, server)) << sni;
    EXPECT_EQ(client.peer_certificate_subject(), expected) << sni;
    EXPECT_EQ(server.server_name(), sni);
  }
}

TEST_F(tls_engine_test, SniOnClientContextIsRefused) {
  EXPECT_FALSE(
      client_context()->add_sni_certificate("x.test", path("mail.crt"), path("mail.key")).ok());
}

TEST_F(tls_engine_test, VerifyingClientChecksChainAndHostName) {
  std::shared_ptr<context> server_ctx = server_context();
  ASSERT_TRUE(
      server_ctx->add_sni_certificate("mail.example.test", path("mail.crt"), path("mail.key"))
          .ok());
  auto trusts_mail = client_context(true, path("mail.crt"));
  auto trusts_default = client_context(true, path("default.crt"));

  {
    engine server(server_ctx, role::server);
    engine client(trusts_mail, role::client, "mail.example.test");
    EXPECT_TRUE(handshake_pair(client, server));
  }
  {
    // The right certificate, trusted, but for another name than the one we asked for.
    engine server(server_ctx, role::server);
    engine client(trusts_default, role::client, "elsewhere.test");
    EXPECT_FALSE(handshake_pair(client, server));
    EXPECT_NE(client.last_error().find("hostname mismatch"), std::string::npos)
        << client.last_error();
  }
  {
    // A certificate for the right name that no trusted CA vouches for.
    engine server(server_ctx, role::server);
    engine client(trusts_mail, role::client, "default.test");
    EXPECT_FALSE(handshake_pair(client, server));
    EXPECT_NE(client.last_error().find("certificate verify failed"), std::string::npos)
        << client.last_error();
  }
  {
    engine client(trusts_mail, role::client);
    EXPECT_EQ(client.handshake(), status::error);
    EXPECT_NE(client.last_error().find("host name"), std::string::npos) << client.last_error();
  }
}

TEST_F(tls_engine_test, RoleMustMatchContext) {
  engine e(client_context(), role::server);
  EXPECT_EQ(e.handshake(), status::error);
  EXPECT_FALSE(e.last_error().empty());
}

TEST_F(tls_engine_test, GarbageBeforeHandshakeIsAnError) {
  engine server(server_context(), role::server);
  std::string_view junk = "EHLO i-forgot-starttls.example\r\n";
  server.feed_ciphertext(junk);
  EXPECT_EQ(server.handshake(), status::error);
  EXPECT_FALSE(server.last_error().empty());
  EXPECT_EQ(server.write(std::string_view("x")).st, status::error);
  EXPECT_EQ(server.shutdown(), status::error);
}

TEST_F(tls_engine_test, GarbageRecordAfterHandshakeIsAnError) {
  engine server(server_context(), role::server);
  engine client(client_context(), role::client, "default.test");
  ASSERT_TRUE(handshake_pair(client, server));
  // A well-formed application_data record header with 64 bytes that no key produced.
  std::string record = std::string("\x17\x03\x03\x00\x40", 5) + std::string(64, '\x5a');
  client.feed_ciphertext(record);
  char buf[256];
  io_result r = client.read(buf);
  EXPECT_EQ(r.st, status::error);
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_FALSE(client.last_error().empty());
  EXPECT_EQ(client.read(buf).st, status::error);
}

TEST_F(tls_engine_test, StaleErrorsOnThisThreadDoNotLeakIntoOtherConnections) {
  engine broken(server_context(), role::server);
  broken.feed_ciphertext(std::string_view("\x16\x03\x01\x00\x05hello", 10));
  EXPECT_EQ(broken.handshake(), status::error);
  // Leave junk on the queue, as careless code elsewhere on this thread might.
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH);

  engine server(server_context(), role::server);
  engine client(client_context(), role::client, "default.test");
  ASSERT_TRUE(handshake_pair(client, server));
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH);
  char buf[16];
  EXPECT_EQ(server.read(buf).st, status::want_read) << server.last_error();
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST_F(tls_engine_test, CleanShutdownIsSeenAsClosed) {
  engine server(server_context(), role::server);
  engine client(client_context(), role::client, "default.test");
  ASSERT_TRUE(handshake_pair(client, server));

  ASSERT_EQ(client.write(std::string_view("QUIT\r\n")).st, status::ok);
  EXPECT_EQ(client.shutdown(), status::ok);
  transfer(client, server);
  std::string got;
  EXPECT_EQ(read_available(server, got), status::closed);
  EXPECT_EQ(got, "QUIT\r\n");
  // The peer already closed its side, so ours completes the exchange.
  EXPECT_EQ(server.shutdown(), status::closed);
  transfer(server, client);
  got.clear();
  EXPECT_EQ(read_available(client, got), status::closed);
  EXPECT_EQ(got, "");
  EXPECT_EQ(client.shutdown(), status::closed);
}

TEST_F(tls_engine_test, ShutdownBeforeHandshakeSendsNothing) {
  engine client(client_context(), role::client, "default.test");
  EXPECT_EQ(client.shutdown(), status::closed);
  EXPECT_FALSE(client.has_output());
}

TEST_F(tls_engine_test, SelfSignedCertificateIsCreatedOnceWithPrivateModes) {
  std::string dir = path("fresh/nested");
  std::string cert = dir + "/cert.pem";
  std::string key = dir + "/key.pem";
  ASSERT_TRUE(ensure_self_signed_certificate(cert, key, "mx.example.test").ok());

  struct stat key_st, dir_st;
  ASSERT_EQ(::stat(key.c_str(), &key_st), 0);
  EXPECT_EQ(key_st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat(dir.c_str(), &dir_st), 0);
  EXPECT_EQ(dir_st.st_mode & 07777, 0700u);
  // No temporary files left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir),
                          std::filesystem::directory_iterator()),
            2);

  std::string cert_before = read_file(cert);
  std::string key_before = read_file(key);
  EXPECT_NE(cert_before.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(key_before.find("BEGIN PRIVATE KEY"), std::string::npos);
  ASSERT_TRUE(ensure_self_signed_certificate(cert, key, "mx.example.test").ok());
  EXPECT_EQ(read_file(cert), cert_before);
  EXPECT_EQ(read_file(key), key_before);
  struct stat again;
  ASSERT_EQ(::stat(key.c_str(), &again), 0);
  EXPECT_EQ(again.st_ino, key_st.st_ino);

  // The pair is usable and names the host.
  auto ctx = context::make_server(cert, key);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  engine server(*ctx, role::server);
  engine client(client_context(true, cert), role::client, "MX.example.test.");
  ASSERT_TRUE(handshake_pair(client, server));
  EXPECT_EQ(client.peer_certificate_subject(), "CN=mx.example.test");

  // A lone certificate without its key is replaced by a fresh pair.
  ASSERT_EQ(::unlink(key.c_str()), 0);
  ASSERT_TRUE(ensure_self_signed_certificate(cert, key, "mx.example.test").ok());
  EXPECT_NE(read_file(cert), cert_before);
  EXPECT_TRUE(context::make_server(cert, key).ok());
}

TEST_F(tls_engine_test, SelfSignedCertificateForIpAddress) {
  std::string cert = path("ip.crt");
  std::string key = path("ip.key");
  ASSERT_TRUE(ensure_self_signed_certificate(cert, key, "127.0.0.1").ok());
  auto ctx = context::make_server(cert, key);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  engine server(*ctx, role::server);
  engine client(client_context(true, cert), role::client, "127.0.0.1");
  ASSERT_TRUE(handshake_pair(client, server));
  EXPECT_EQ(server.server_name(), "");  // IP literals are not sent as SNI
}

TEST_F(tls_engine_test, SelfSignedCertificateRejectsOddHostNames) {
  EXPECT_FALSE(ensure_self_signed_certificate(path("odd.crt"), path("odd.key"), "a,b=c").ok());
  EXPECT_FALSE(ensure_self_signed_certificate(path("odd.crt"), path("odd.key"), "").ok());
}

TEST_F(tls_engine_test, ContextErrorsNameTheFile) {
  auto missing = context::make_server(path("nope.crt"), path("default.key"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.crt"), std::string_view::npos)
      << missing.status();

  auto mismatched = context::make_server(path("default.crt"), path("mail.key"));
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.status().message().find("does not match"), std::string_view::npos)
      << mismatched.status();
  EXPECT_NE(mismatched.status().message().find("mail.key"), std::string_view::npos);

  std::string not_pem = path("not.pem");
  std::ofstream(not_pem) << "hello\n";
  auto garbage = context::make_server(not_pem, path("default.key"));
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("not.pem"), std::string_view::npos) << garbage.status();
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace ringmail::tls
