// A line-echo server on loopback across 2 shards: 1,000 concurrent clients get every
// byte back in order; connection limits refuse the 1,001st; shutdown drains sessions.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runtime/conn_limits.h"
#include "runtime/stream.h"
#include "runtime/tcp_service.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"

namespace ringmail {
namespace {

using namespace std::chrono_literals;

task<void> line_echo(session& s) {
  stream io(std::move(s.conn), {5s, 5s}, &s.cancel);
  for (;;) {
    auto line = co_await io.read_line(1024);
    if (!line.ok()) {
      if (line.status().kind == io_kind::too_long) {
        co_await io.write("ERR line too long\n");
        continue;
      }
      break;
    }
    if (!(co_await io.write(*line)).ok()) break;
  }
  co_await io.close();
}

// One echo service per shard, all on the same port, sharing one conn_limits.
class echo_server {
 public:
  echo_server(shard_set& set, std::shared_ptr<conn_limits> limits, std::string host = "127.0.0.1")
      : set_(set), services_(set.size()) {
    for (unsigned i = 0; i < set.size(); ++i) {
      testing::run_on(set, i, [&, i, limits, host]() -> task<void> {
        service_options o;
        o.name = "echo";
        o.address = *socket_address::parse(host, port_);
        o.refusal_message = "421 4.7.0 too many connections\r\n";
        auto svc = tcp_service::start(o, line_echo, limits);
        EXPECT_TRUE(svc.ok()) << svc.status();
        services_[i] = std::move(*svc);
        port_ = services_[i]->port();  // shard 0 picks a free port; the others join it
        co_return;
      });
    }
  }
  ~echo_server() { stop(2s); }
  void stop(duration grace) {
    for (unsigned i = 0; i < set_.size(); ++i) {
      if (!services_[i]) continue;
      testing::run_on(set_, i, [this, i, grace]() -> task<void> {
        co_await services_[i]->drain(grace);
        services_[i].reset();
      });
    }
  }
  uint16_t port() const { return port_; }
  size_t sessions_on(unsigned shard) {
    return testing::run_on(set_, shard, [this, shard]() -> task<size_t> { co_return services_[shard]->sessions(); });
  }

 private:
  shard_set& set_;
  std::vector<std::unique_ptr<tcp_service>> services_;
  uint16_t port_ = 0;
};

int blocking_connect(uint16_t port) {
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

std::string read_exactly(int fd, size_t n) {
  std::string out;
  char buf[4096];
  while (out.size() < n) {
    ssize_t got = read(fd, buf, std::min(sizeof buf, n - out.size()));
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

std::string read_until_eof(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t got = read(fd, buf, sizeof buf);
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

bool round_trip(int fd, const std::string& line) {
  if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return false;
  return read_exactly(fd, line.size()) == line;
}

// One client on the runtime: sends its lines in pipelined bursts, checks the echo.
task<bool> echo_client(uint16_t port, int id, int lines) {
  auto c = co_await connect_to(*socket_address::parse("127.0.0.1", port), 10s);
  if (!c.ok()) co_return false;
  stream io(std::move(c).value(), {10s, 10s});
  std::string expected;
  for (int burst = 0; burst < lines; burst += 5) {
    std::string out;
    for (int j = burst; j < std::min(lines, burst + 5); ++j) {
      out += absl::StrCat("client ", id, " line ", j, " ", std::string(static_cast<size_t>(j * 7 % 200), 'x'), "\r\n");
    }
    if (!(co_await io.write(out)).ok()) co_return false;
    std::string back;
    while (back.size() < out.size()) {
      auto got = co_await io.read_some();
      if (!got.ok()) co_return false;
      back.append(*got);
    }
    if (back != out) co_return false;
  }
  co_await io.close();
  co_return true;
}

TEST(Echo, ThousandConcurrentClientsAcrossTwoShards) {
  auto server_shards = testing::make_shards(2);
  auto client_shards = testing::make_shards(2);
  ASSERT_TRUE(server_shards && client_shards);
  echo_server server(*server_shards, std::make_shared<conn_limits>(0, 0));
  const uint16_t port = server.port();
  constexpr int kClients = 1000;
  std::atomic<int> ok_count{0};
  // Half the clients from each client shard, all running at once.
  std::vector<std::thread> waiters;
  for (unsigned cs = 0; cs < 2; ++cs) {
    waiters.emplace_back([&, cs] {
      auto results = testing::run_on(*client_shards, cs, [=]() -> task<std::vector<bool>> {
        std::vector<task<bool>> clients;
        for (int i = static_cast<int>(cs); i < kClients; i += 2) clients.push_back(echo_client(port, i, 20));
        co_return co_await when_all(std::move(clients));
      });
      for (bool b : results) ok_count += b ? 1 : 0;
    });
  }
  for (auto& t : waiters) t.join();
  EXPECT_EQ(ok_count.load(), kClients) << "every client must get every byte back, in order";
}

TEST(Echo, Ipv6Loopback) {
  auto server_shards = testing::make_shards(2);
  auto client_shards = testing::make_shards(1);
  echo_server server(*server_shards, std::make_shared<conn_limits>(0, 0), "::1");
  const uint16_t port = server.port();
  auto result = testing::run_on(*client_shards, 0, [port]() -> task<std::string> {
    auto c = co_await connect_to(*socket_address::parse("::1", port), 5s);
    if (!c.ok()) co_return "connect failed: " + c.status().to_string();
    std::string peer = c->peer().to_string();
    stream io(std::move(c).value(), {5s, 5s});
    co_await io.write("over ipv6\r\n");
    auto line = co_await io.read_line(100);
    co_await io.close();
    co_return peer + " " + (line.ok() ? std::string(*line) : line.status().to_string());
  });
  EXPECT_EQ(result, absl::StrCat("[::1]:", port, " over ipv6\r\n"));
}

TEST(Echo, BothShardsServeConnections) {
  auto shards = testing::make_shards(2);
  echo_server server(*shards, std::make_shared<conn_limits>(0, 0));
  std::vector<int> fds;
  for (int i = 0; i < 64; ++i) {
    int fd = blocking_connect(server.port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(round_trip(fd, "ping\n"));
    fds.push_back(fd);
  }
  // SO_REUSEPORT spreads by the 4-tuple hash: with 64 connections both shards get some.
  EXPECT_GT(server.sessions_on(0), 0u);
  EXPECT_GT(server.sessions_on(1), 0u);
  EXPECT_EQ(server.sessions_on(0) + server.sessions_on(1), 64u);
  for (int fd : fds) close(fd);
}

TEST(Echo, GlobalLimitRefusesTheThousandAndFirst) {
  auto shards = testing::make_shards(2);
  auto limits = std::make_shared<conn_limits>(1000, 0);
  echo_server server(*shards, limits);
  std::vector<int> fds;
  for (int i = 0; i < 1000; ++i) {
    int fd = blocking_connect(server.port());
    ASSERT_GE(fd, 0) << "connection " << i;
    // A round trip proves the session was admitted and is running.
    ASSERT_TRUE(round_trip(fd, absl::StrCat("hello ", i, "\n"))) << "connection " << i;
    fds.push_back(fd);
  }
  EXPECT_EQ(limits->total(), 1000u);
  int extra = blocking_connect(server.port());
  ASSERT_GE(extra, 0);
  EXPECT_EQ(read_until_eof(extra), "421 4.7.0 too many connections\r\n");
  close(extra);
  // Once one session ends, a new client is admitted again.
  close(fds.back());
  fds.pop_back();
  bool admitted = false;
  for (int attempt = 0; attempt < 100 && !admitted; ++attempt) {
    int fd = blocking_connect(server.port());
    admitted = round_trip(fd, "again\n");
    if (admitted) {
      fds.push_back(fd);
    } else {
      close(fd);
      usleep(10000);
    }
  }
  EXPECT_TRUE(admitted);
  for (int fd : fds) close(fd);
}

TEST(Echo, PerClientLimit) {
  auto shards = testing::make_shards(2);
  echo_server server(*shards, std::make_shared<conn_limits>(0, 3));
  std::vector<int> fds;
  for (int i = 0; i < 3; ++i) {
    int fd = blocking_connect(server.port());
    ASSERT_TRUE(round_trip(fd, "ok\n"));
    fds.push_back(fd);
  }
  int fourth = blocking_connect(server.port());
  EXPECT_EQ(read_until_eof(fourth), "421 4.7.0 too many connections\r\n");
  close(fourth);
  for (int fd : fds) close(fd);
}

TEST(Echo, OverlongLineIsReportedAndTheSessionGoesOn) {
  auto shards = testing::make_shards(2);
  echo_server server(*shards, std::make_shared<conn_limits>(0, 0));
  int fd = blocking_connect(server.port());
  std::string huge(5000, 'a');
  huge += "\nafter\n";
  ASSERT_EQ(write(fd, huge.data(), huge.size()), static_cast<ssize_t>(huge.size()));
  EXPECT_EQ(read_exactly(fd, 24), "ERR line too long\nafter\n");
  close(fd);
}

TEST(Echo, DrainCancelsIdleSessionsAfterGraceAndRefusesNewOnes) {
  auto shards = testing::make_shards(2);
  echo_server server(*shards, std::make_shared<conn_limits>(0, 0));
  const uint16_t port = server.port();
  int idle = blocking_connect(port);
  ASSERT_TRUE(round_trip(idle, "hi\n"));
  auto start = std::chrono::steady_clock::now();
  server.stop(200ms);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 150ms) << "an idle session gets its grace period";
  EXPECT_LT(took, 3s) << "and is then cancelled, not waited for";
  EXPECT_EQ(read_until_eof(idle), "") << "the cancelled session's socket is closed";
  close(idle);
  EXPECT_LT(blocking_connect(port), 0) << "no listener after shutdown";
}

}  // namespace
}  // namespace ringmail
