// deflate_stream (raw DEFLATE, RFC 4978) alone, and under stream on a real socket: round
// trips against zlib used directly (as a client such as Python's zlib would), sync
// flushes, input split byte by byte, a deflate bomb cut off, a corrupt stream.
#include "runtime/deflate_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <random>

#include "gtest/gtest.h"
#include "runtime/stream.h"
#include "runtime/tcp_service.h"
#include "tests/runtime/test_util.h"

namespace ringmail {
namespace {

using namespace std::chrono_literals;

// The peer's side, written with zlib directly: raw deflate, sync flush per call.
struct peer_codec {
  z_stream d{}, i{};
  peer_codec() {
    deflateInit2(&d, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    inflateInit2(&i, -15);
  }
  ~peer_codec() {
    deflateEnd(&d);
    inflateEnd(&i);
  }
  std::string compress(std::string_view s, int flush = Z_SYNC_FLUSH) {
    std::string out(deflateBound(&d, s.size()) + 64, '\0');
    d.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
    d.avail_in = static_cast<uInt>(s.size());
    d.next_out = reinterpret_cast<Bytef*>(out.data());
    d.avail_out = static_cast<uInt>(out.size());
    EXPECT_NE(::deflate(&d, flush), Z_STREAM_ERROR);
    out.resize(out.size() - d.avail_out);
    return out;
  }
  // Inflates everything in `s` (which must end on a flush point).
  std::string decompress(std::string_view s) {
    std::string out;
    i.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
    i.avail_in = static_cast<uInt>(s.size());
    char buf[4096];
    do {
      i.next_out = reinterpret_cast<Bytef*>(buf);
      i.avail_out = sizeof buf;
      int rc = ::inflate(&i, Z_SYNC_FLUSH);
      EXPECT_TRUE(rc == Z_OK || rc == Z_BUF_ERROR) << rc;
      out.append(buf, sizeof buf - i.avail_out);
      if (rc == Z_BUF_ERROR) break;
    } while (i.avail_in > 0 || i.avail_out == 0);
    return out;
  }
};

// Everything the inflater can produce now, in chunks of `chunk`.
std::string drain(deflate::inflater& inf, size_t chunk = 1000) {
  std::string out;
  std::string buf(chunk, '\0');
  for (;;) {
    auto r = inf.inflate(std::span<char>(buf.data(), buf.size()));
    if (r.st != deflate::inflater::status::ok) break;
    out.append(buf.data(), r.bytes);
  }
  return out;
}

std::string sample_text() {
  std::string s;
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) {
    s += "* " + std::to_string(i) + " FETCH (UID " + std::to_string(rng() % 100000) + " FLAGS (\\Seen))\r\n";
    if (i % 7 == 0) s += std::string(rng() % 300, static_cast<char>('a' + rng() % 26)) + "\r\n";
  }
  return s;
}

TEST(DeflateCodec, DeflaterOutputIsDecodedByZlibAfterEachSyncFlush) {
  deflate::deflater def;
  peer_codec peer;
  const std::string text = sample_text();
  std::string all_wire;
  for (size_t pos = 0; pos < text.size(); pos += 5000) {
    std::string wire;
    ASSERT_TRUE(def.deflate(std::string_view(text).substr(pos, 5000), wire));
    // Z_SYNC_FLUSH ends with an empty stored block: the peer needs nothing more.
    ASSERT_GE(wire.size(), 4u);
    EXPECT_EQ(wire.substr(wire.size() - 4), std::string("\0\0\xff\xff", 4));
    EXPECT_EQ(peer.decompress(wire), text.substr(pos, 5000));
    all_wire += wire;
  }
  EXPECT_LT(all_wire.size(), text.size() / 3);  // it does compress
  EXPECT_EQ(def.total_in(), text.size());
  EXPECT_EQ(def.total_out(), all_wire.size());
  std::string nothing;
  EXPECT_TRUE(def.deflate("", nothing));
  EXPECT_TRUE(nothing.empty());
}

TEST(DeflateCodec, InflaterRoundTripWholeAndByteAtATime) {
  peer_codec peer;
  const std::string text = sample_text();
  std::string wire;
  for (size_t pos = 0; pos < text.size(); pos += 777) wire += peer.compress(std::string_view(text).substr(pos, 777));

  deflate::inflater whole;
  whole.feed(wire);
  EXPECT_EQ(drain(whole, 16384), text);
  EXPECT_EQ(whole.pending_input(), 0u);

  deflate::inflater bytewise;
  std::string got;
  for (char ch : wire) {
    bytewise.feed(std::span<const char>(&ch, 1));
    got += drain(bytewise, 7);
  }
  EXPECT_EQ(got, text);
  EXPECT_EQ(bytewise.total_in(), wire.size());
  EXPECT_EQ(bytewise.total_out(), text.size());
}

TEST(DeflateCodec, OwnDeflaterToOwnInflater) {
  deflate::deflater def({.level = 1, .mem_level = 1});
  deflate::inflater inf;
  std::string wire;
  ASSERT_TRUE(def.deflate("A1 OK COMPRESS active\r\n", wire));
  inf.feed(wire);
  EXPECT_EQ(drain(inf), "A1 OK COMPRESS active\r\n");
  auto r = inf.inflate(std::span<char>(wire.data(), wire.size()));
  EXPECT_EQ(r.st, deflate::inflater::status::need_input);
}

// 64 MiB of zeros compress to ~64 KB. The inflater hands out only what it is asked for
// and keeps the rest compressed.
TEST(DeflateCodec, BombIsInflatedOnlyAsFarAsAsked) {
  peer_codec peer;
  std::string wire;
  const std::string zeros(1 << 20, '\0');
  for (int i = 0; i < 64; ++i) wire += peer.compress(zeros, Z_NO_FLUSH);
  wire += peer.compress("", Z_SYNC_FLUSH);
  ASSERT_LT(wire.size(), 100u * 1024);
  deflate::inflater inf;
  inf.feed(wire);
  std::string buf(16384, 'x');
  for (int i = 0; i < 10; ++i) {
    auto r = inf.inflate(std::span<char>(buf.data(), buf.size()));
    ASSERT_EQ(r.st, deflate::inflater::status::ok);
    EXPECT_EQ(r.bytes, buf.size());
  }
  EXPECT_EQ(inf.total_out(), 10u * 16384);
  EXPECT_GT(inf.pending_input(), 0u);  // most of the bomb is still compressed
}

TEST(DeflateCodec, CorruptStreamFailsAndStaysFailed) {
  deflate::inflater inf;
  const std::string junk = "\xff\xff\xff\xff this is not deflate";
  inf.feed(junk);
  char buf[100];
  auto r = inf.inflate(buf);
  EXPECT_EQ(r.st, deflate::inflater::status::error);
  EXPECT_FALSE(inf.reason().empty());
  peer_codec peer;
  inf.feed(peer.compress("hello\r\n"));
  EXPECT_EQ(inf.inflate(buf).st, deflate::inflater::status::error);
}

TEST(DeflateCodec, FinalBlockEndsTheStream) {
  peer_codec peer;
  deflate::inflater inf;
  inf.feed(peer.compress("bye\r\n", Z_FINISH));
  char buf[100];
  auto r = inf.inflate(buf);
  ASSERT_EQ(r.st, deflate::inflater::status::ok);
  EXPECT_EQ(std::string(buf, r.bytes), "bye\r\n");
  EXPECT_EQ(inf.inflate(buf).st, deflate::inflater::status::end);
}

// ---- under stream, on a socket ----------------------------------------------------------

// What the test server saw, read by the test thread after the session ends.
struct server_log {
  std::mutex mu;
  std::vector<std::string> lines;
  io_status last;
  size_t max_buffered_seen = 0;
  bool starttls_refused = false;
};

// "COMPRESS\r\n" in plain text -> "OK\r\n", then compressed: lines are echoed; "FILL" reads
// without consuming until the stream refuses (reports the largest buffer seen).
task<void> compress_server(session& s, server_log* log) {
  stream io(std::move(s.conn), {5s, 5s}, &s.cancel);
  auto first = co_await io.read_line(1024);
  if (!first.ok() || *first != "COMPRESS\r\n") co_return;
  co_await io.write("OK\r\n");
  EXPECT_TRUE(io.start_compression(/*max_buffered=*/64 * 1024));
  EXPECT_FALSE(io.start_compression(64 * 1024));
  for (;;) {
    auto line = co_await io.read_line(8192);
    if (!line.ok()) {
      if (line.status().kind == io_kind::too_long) {
        // Like the IMAP session under COMPRESS: keep reading without consuming.
        io_status st;
        for (;;) {
          st = co_await io.read_more();
          std::lock_guard lock(log->mu);
          log->max_buffered_seen = std::max(log->max_buffered_seen, io.buffered().size());
          if (!st.ok()) break;
        }
        std::lock_guard lock(log->mu);
        log->last = st;
        break;
      }
      std::lock_guard lock(log->mu);
      log->last = line.status();
      break;
    }
    std::string l(*line);
    if (l == "STARTTLS\r\n") {
      // Refused before the context is looked at.
      io_status st = co_await io.start_tls(nullptr, tls::role::server);
      std::lock_guard lock(log->mu);
      log->starttls_refused = !st.ok();
      l = "refused\r\n";
    }
    {
      std::lock_guard lock(log->mu);
      log->lines.push_back(l);
    }
    if (!(co_await io.write(l)).ok()) break;
  }
  co_await io.close();
}

class CompressedStream : public ::testing::Test {
 protected:
  void SetUp() override {
    shards_ = testing::make_shards(2);
    services_.resize(2);
    for (unsigned i = 0; i < 2; ++i) {
      testing::run_on(*shards_, i, [this, i]() -> task<void> {
        service_options o;
        o.name = "compress-echo";
        o.address = *socket_address::parse("127.0.0.1", port_);
        auto* log = &log_;
        auto svc = tcp_service::start(o, [log](session& s) { return compress_server(s, log); }, nullptr);
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
  int connect_and_compress() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    send_all(fd, "COMPRESS\r\n");
    std::string ok;
    char c;
    while (read(fd, &c, 1) == 1) {
      ok.push_back(c);
      if (c == '\n') break;
    }
    EXPECT_EQ(ok, "OK\r\n");
    return fd;
  }
  static void send_all(int fd, std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      s.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads compressed replies until `want` plaintext bytes arrived (or EOF/timeout).
  static std::string read_plain(int fd, peer_codec& peer, size_t want) {
    std::string plain;
    char buf[4096];
    while (plain.size() < want) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      plain += peer.decompress(std::string_view(buf, static_cast<size_t>(n)));
    }
    return plain;
  }
  // True once the server closes (read returns 0 or an error other than a timeout).
  static bool closed_by_server(int fd) {
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n == 0) return true;
      if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    }
  }

  server_log log_;
  std::unique_ptr<shard_set> shards_;
  std::vector<std::unique_ptr<tcp_service>> services_;
  uint16_t port_ = 0;
};

TEST_F(CompressedStream, EchoBothWaysWithInputSplitByteByByte) {
  int fd = connect_and_compress();
  peer_codec peer;
  std::string wire = peer.compress("first line\r\n");
  wire += peer.compress("second ");
  wire += peer.compress("line\r\n");
  for (char ch : wire) {
    send_all(fd, std::string_view(&ch, 1));
    usleep(200);
  }
  EXPECT_EQ(read_plain(fd, peer, 24), "first line\r\nsecond line\r\n");
  // A long line, in one go.
  const std::string big = std::string(5000, 'q') + "\r\n";
  send_all(fd, peer.compress(big));
  EXPECT_EQ(read_plain(fd, peer, big.size()), big);
  close(fd);
}

TEST_F(CompressedStream, CommandPipelinedRightAfterCompressIsInflated) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  peer_codec peer;
  // A client that does not wait for the OK: its bytes after the CRLF are compressed.
  send_all(fd, "COMPRESS\r\n" + peer.compress("pipelined\r\n"));
  std::string ok;
  char c;
  while (read(fd, &c, 1) == 1) {
    ok.push_back(c);
    if (c == '\n') break;
  }
  EXPECT_EQ(ok, "OK\r\n");
  EXPECT_EQ(read_plain(fd, peer, 11), "pipelined\r\n");
  close(fd);
}

TEST_F(CompressedStream, BombIsCutOffAtTheBufferLimit) {
  int fd = connect_and_compress();
  peer_codec peer;
  // 256 MiB of 'x' without a line end: ~256 KB compressed.
  const std::string chunk(1 << 20, 'x');
  std::string wire;
  for (int i = 0; i < 256; ++i) wire += peer.compress(chunk, Z_NO_FLUSH);
  wire += peer.compress("", Z_SYNC_FLUSH);
  send_all(fd, wire);
  EXPECT_TRUE(closed_by_server(fd));
  close(fd);
  TearDown();
  services_.clear();
  std::lock_guard lock(log_.mu);
  EXPECT_EQ(log_.last.kind, io_kind::too_long) << log_.last.to_string();
  // Never more than the limit plus one inflate chunk.
  EXPECT_GE(log_.max_buffered_seen, 8192u);
  EXPECT_LE(log_.max_buffered_seen, 64u * 1024 + 16384);
}

TEST_F(CompressedStream, CorruptStreamClosesWithBadMessage) {
  int fd = connect_and_compress();
  peer_codec peer;
  send_all(fd, peer.compress("fine\r\n"));
  EXPECT_EQ(read_plain(fd, peer, 6), "fine\r\n");
  send_all(fd, std::string("\xff\xfe\xfd garbage that is not deflate\r\n"));
  EXPECT_TRUE(closed_by_server(fd));
  close(fd);
  TearDown();
  services_.clear();
  std::lock_guard lock(log_.mu);
  EXPECT_EQ(log_.last.kind, io_kind::error);
  EXPECT_EQ(log_.last.error_number, EBADMSG);
}

TEST_F(CompressedStream, StartTlsIsRefusedOnceCompressed) {
  int fd = connect_and_compress();
  peer_codec peer;
  send_all(fd, peer.compress("STARTTLS\r\n"));
  EXPECT_EQ(read_plain(fd, peer, 9), "refused\r\n");
  close(fd);
  TearDown();
  services_.clear();
  std::lock_guard lock(log_.mu);
  EXPECT_TRUE(log_.starttls_refused);
}

}  // namespace
}  // namespace ringmail
