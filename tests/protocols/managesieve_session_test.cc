// ManageSieve sessions (protocols/managesieve/session.h) on loopback: a real listener on 2
// shards with the shared authenticator over a SQLite directory, and an in-memory
// script_access standing in for the script store (whose own tests cover the files), so
// every response and response code of RFC 5804 is checked byte for byte. The end-to-end
// run against `ringmail serve` with the real store, STARTTLS and sieve-connect is
// tests/tools/managesieve_test.sh.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "delivery/directory/offload_source.h"
#include "delivery/directory/sqlite_store.h"
#include "gtest/gtest.h"
#include "protocols/managesieve/session.h"
#include "runtime/shard_set.h"
#include "runtime/tcp_service.h"
#include "tests/runtime/test_util.h"

namespace ringmail::managesieve {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The store's contract (script_store.h) in memory, with its status codes and texts.
class memory_scripts final : public script_access {
 public:
  size_t max_scripts = 3;
  struct user_scripts {
    std::map<std::string, std::string> scripts;
    std::string active;
  };
  std::map<std::string, user_scripts> users;

  task<absl::StatusOr<std::vector<sieve::script_info>>> list(std::string user) override {
    std::vector<sieve::script_info> out;
    for (const auto& [name, text] : users[user].scripts) out.push_back({name, name == users[user].active, text.size()});
    co_return out;
  }
  task<absl::StatusOr<std::string>> get(std::string user, std::string name) override {
    auto& u = users[user];
    if (!u.scripts.contains(name)) co_return absl::NotFoundError("no such script");
    co_return u.scripts[name];
  }
  task<absl::Status> put(std::string user, std::string name, std::string text) override {
    auto& u = users[user];
    if (name.empty() || name.find('/') != std::string::npos) co_return absl::InvalidArgumentError("invalid script name");
    if (!u.scripts.contains(name) && u.scripts.size() >= max_scripts) {
      co_return absl::ResourceExhaustedError(absl::StrCat("too many scripts (at most ", max_scripts, ")"));
    }
    u.scripts[name] = std::move(text);
    co_return absl::OkStatus();
  }
  task<absl::Status> remove(std::string user, std::string name) override {
    auto& u = users[user];
    if (!u.scripts.contains(name)) co_return absl::NotFoundError("no such script");
    if (u.active == name) co_return absl::FailedPreconditionError("the active script cannot be deleted");
    u.scripts.erase(name);
    co_return absl::OkStatus();
  }
  task<absl::Status> rename(std::string user, std::string from, std::string to) override {
    auto& u = users[user];
    if (!u.scripts.contains(from)) co_return absl::NotFoundError("no such script");
    if (u.scripts.contains(to)) co_return absl::AlreadyExistsError("a script with that name already exists");
    u.scripts[to] = std::move(u.scripts[from]);
    u.scripts.erase(from);
    if (u.active == from) u.active = to;
    co_return absl::OkStatus();
  }
  task<absl::Status> set_active(std::string user, std::string name) override {
    auto& u = users[user];
    if (!name.empty() && !u.scripts.contains(name)) co_return absl::NotFoundError("no such script");
    u.active = name;
    co_return absl::OkStatus();
  }
  task<absl::Status> have_space(std::string user, std::string name, uint64_t) override {
    auto& u = users[user];
    if (!u.scripts.contains(name) && u.scripts.size() >= max_scripts) {
      co_return absl::ResourceExhaustedError(absl::StrCat("too many scripts (at most ", max_scripts, ")"));
    }
    co_return absl::OkStatus();
  }
};

struct shard_state {
  std::unique_ptr<directory::offload_source> source;
  std::unique_ptr<auth::authenticator> auth;
  shard_context context;
  std::unique_ptr<tcp_service> service;
};

class ManageSieveSession : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/ringmail-msieve-XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    auto s = directory::sqlite_store::open(dir_ + "/directory.sqlite");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    ASSERT_TRUE(store_->ensure_schema().ok());
    ASSERT_TRUE(store_->add_domain("example.org").ok());
    ASSERT_TRUE(store_->add_user("john@example.org", "{PLAIN}secret", 0).ok());
    config_.hostname = "mx.example.org";
    config_.allow_plaintext_auth = true;  // no TLS client here: STARTTLS is the e2e test's
    config_.max_errors = 5;
    config_.max_script_bytes = 1000;
    shards_ = testing::make_shards(2);
    for (unsigned i = 0; i < 2; ++i) {
      states_.push_back(std::make_unique<shard_state>());
      testing::run_on(*shards_, i, [this, i]() -> task<void> {
        shard_state& st = *states_[i];
        st.source = std::make_unique<directory::offload_source>(*store_, shards_->offload());
        st.auth = std::make_unique<auth::authenticator>(*st.source, shards_->offload());
        st.context.auth = st.auth.get();
        st.context.scripts = &scripts_;  // the fake is used from one session at a time
        service_options o;
        o.name = "managesieve";
        o.address = *socket_address::parse("127.0.0.1", port_);
        auto svc = tcp_service::start(o, [this, &st](session& s) { return run_session(s, config_, st.context); }, nullptr);
        EXPECT_TRUE(svc.ok()) << svc.status();
        st.service = std::move(*svc);
        port_ = st.service->port();
        co_return;
      });
    }
  }
  void TearDown() override {
    for (unsigned i = 0; i < 2; ++i) {
      testing::run_on(*shards_, i, [this, i]() -> task<void> {
        co_await states_[i]->service->drain(1s);
        states_[i].reset();
      });
    }
    shards_.reset();
    fs::remove_all(dir_);
  }

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
  static std::string read_line(int fd) {
    std::string line;
    char c;
    while (read(fd, &c, 1) == 1) {
      line.push_back(c);
      if (c == '\n') break;
    }
    return line;
  }
  // Everything up to and including the OK/NO/BYE line ("" at EOF), literals read whole.
  static std::string read_response(int fd) {
    std::string out;
    for (;;) {
      std::string line = read_line(fd);
      if (line.empty()) return out;
      out += line;
      // A line ending in "{N}": N octets follow.
      if (line.size() >= 5 && line.ends_with("}\r\n")) {
        size_t open = line.rfind('{');
        if (open != std::string::npos) {
          size_t n = std::stoul(line.substr(open + 1));
          std::string data(n, '\0');
          size_t got = 0;
          while (got < n) {
            ssize_t r = read(fd, data.data() + got, n - got);
            if (r <= 0) return out;
            got += static_cast<size_t>(r);
          }
          out += data;
          continue;
        }
      }
      if (line.starts_with("OK") || line.starts_with("NO") || line.starts_with("BYE")) return out;
    }
  }
  std::string cmd(int fd, std::string_view c) {
    send_raw(fd, c);
    return read_response(fd);
  }
  int logged_in() {
    int fd = connect_client();
    read_response(fd);
    std::string token = absl::Base64Escape(std::string("\0john@example.org\0secret", 24));
    EXPECT_EQ(cmd(fd, "AUTHENTICATE \"PLAIN\" \"" + token + "\"\r\n"), "OK \"Logged in.\"\r\n");
    return fd;
  }
  static std::string lit(const std::string& s) { return absl::StrCat("{", s.size(), "+}\r\n", s); }

  std::string dir_;
  std::unique_ptr<directory::sqlite_store> store_;
  server_config config_;
  memory_scripts scripts_;
  std::unique_ptr<shard_set> shards_;
  std::vector<std::unique_ptr<shard_state>> states_;
  uint16_t port_ = 0;
};

TEST_F(ManageSieveSession, GreetingIsTheCapabilityList) {
  int fd = connect_client();
  std::string g = read_response(fd);
  EXPECT_TRUE(g.starts_with("\"IMPLEMENTATION\" \"ringmail\"\r\n\"SASL\" \"PLAIN LOGIN\"\r\n\"SIEVE\" \"")) << g;
  EXPECT_NE(g.find("fileinto"), std::string::npos) << g;
  EXPECT_NE(g.find("\"MAXREDIRECTS\" \"4\"\r\n"), std::string::npos) << g;
  EXPECT_NE(g.find("\"VERSION\" \"1.0\"\r\nOK \"mx.example.org ringmail ManageSieve ready.\"\r\n"), std::string::npos) << g;
  EXPECT_EQ(g.find("STARTTLS"), std::string::npos) << g;  // no certificate configured
  EXPECT_EQ(g.find("NOTIFY"), std::string::npos) << g;
  EXPECT_EQ(g.find("OWNER"), std::string::npos) << g;
  EXPECT_EQ(cmd(fd, "LISTSCRIPTS\r\n"), "NO \"Authenticate first.\"\r\n");
  EXPECT_EQ(cmd(fd, "STARTTLS\r\n"), "NO \"STARTTLS is not available.\"\r\n");
  EXPECT_EQ(cmd(fd, "LOGOUT\r\n"), "OK \"Logout completed.\"\r\n");
  EXPECT_EQ(read_line(fd), "");
  close(fd);
}

TEST_F(ManageSieveSession, AuthenticateExchanges) {
  int fd = connect_client();
  read_response(fd);
  std::string good = absl::Base64Escape(std::string("\0john@example.org\0secret", 24));
  std::string wrong = absl::Base64Escape(std::string("\0john@example.org\0wrong", 23));
  EXPECT_EQ(cmd(fd, "AUTHENTICATE \"PLAIN\" \"" + wrong + "\"\r\n"), "NO \"Authentication failed.\"\r\n");
  EXPECT_EQ(cmd(fd, "AUTHENTICATE \"CRAM-MD5\"\r\n"), "NO \"Unsupported authentication mechanism.\"\r\n");
  // Continuation: the challenge is an (empty) string; "*" cancels.
  send_raw(fd, "AUTHENTICATE \"PLAIN\"\r\n");
  EXPECT_EQ(read_line(fd), "\"\"\r\n");
  EXPECT_EQ(cmd(fd, "*\r\n"), "NO \"Authentication cancelled.\"\r\n");
  // LOGIN, answers as a quoted string and as a literal.
  send_raw(fd, "AUTHENTICATE \"LOGIN\"\r\n");
  EXPECT_EQ(read_line(fd), "\"VXNlcm5hbWU6\"\r\n");
  send_raw(fd, "\"" + absl::Base64Escape("john@example.org") + "\"\r\n");
  EXPECT_EQ(read_line(fd), "\"UGFzc3dvcmQ6\"\r\n");
  EXPECT_EQ(cmd(fd, lit(absl::Base64Escape("secret")) + "\r\n"), "OK \"Logged in.\"\r\n");
  std::string caps = cmd(fd, "CAPABILITY\r\n");
  EXPECT_NE(caps.find("\"OWNER\" \"john@example.org\"\r\n"), std::string::npos) << caps;
  EXPECT_EQ(caps.find("SASL"), std::string::npos) << caps;
  EXPECT_EQ(cmd(fd, "AUTHENTICATE \"PLAIN\" \"" + good + "\"\r\n"), "NO \"Already authenticated.\"\r\n");
  EXPECT_EQ(cmd(fd, "UNAUTHENTICATE\r\n"), "OK \"Unauthenticate completed.\"\r\n");
  EXPECT_EQ(cmd(fd, "LISTSCRIPTS\r\n"), "NO \"Authenticate first.\"\r\n");
  EXPECT_EQ(cmd(fd, "AUTHENTICATE \"PLAIN\" \"" + good + "\"\r\n"), "OK \"Logged in.\"\r\n");
  close(fd);
}

TEST_F(ManageSieveSession, ScriptCommandsAndResponseCodes) {
  int fd = logged_in();
  const std::string good = "require \"fileinto\";\r\nfileinto \"x\";\r\n";
  const std::string bad = "require \"fileinto\";\r\nfileinto;\r\n";
  std::string r = cmd(fd, "PUTSCRIPT \"a\" " + lit(bad) + "\r\n");
  EXPECT_TRUE(r.starts_with("NO \"line 2, column ")) << r;
  EXPECT_TRUE(scripts_.users["john@example.org"].scripts.empty());
  r = cmd(fd, "CHECKSCRIPT " + lit("if exists \"a:b\" {}\r\n") + "\r\n");
  EXPECT_TRUE(r.starts_with("OK (WARNINGS) \"line 1, column 11: ")) << r;
  EXPECT_EQ(cmd(fd, "CHECKSCRIPT " + lit(good) + "\r\n"), "OK \"Script is valid.\"\r\n");
  EXPECT_EQ(cmd(fd, "PUTSCRIPT \"a\" " + lit(good) + "\r\n"), "OK \"PUTSCRIPT completed.\"\r\n");
  EXPECT_EQ(scripts_.users["john@example.org"].scripts["a"], good);
  EXPECT_EQ(cmd(fd, "PUTSCRIPT \"b\" \"keep;\"\r\n"), "OK \"PUTSCRIPT completed.\"\r\n");
  EXPECT_EQ(cmd(fd, "SETACTIVE \"a\"\r\n"), "OK \"Setactive completed.\"\r\n");
  EXPECT_EQ(cmd(fd, "SETACTIVE \"zz\"\r\n"), "NO (NONEXISTENT) \"There is no script by that name.\"\r\n");
  EXPECT_EQ(cmd(fd, "LISTSCRIPTS\r\n"), "\"a\" ACTIVE\r\n\"b\"\r\nOK \"Listscripts completed.\"\r\n");
  EXPECT_EQ(cmd(fd, "GETSCRIPT \"a\"\r\n"), absl::StrCat("{", good.size(), "}\r\n", good, "\r\nOK \"Getscript completed.\"\r\n"));
  EXPECT_EQ(cmd(fd, "GETSCRIPT \"zz\"\r\n"), "NO (NONEXISTENT) \"There is no script by that name.\"\r\n");
  EXPECT_EQ(cmd(fd, "DELETESCRIPT \"a\"\r\n"), "NO (ACTIVE) \"the active script cannot be deleted\"\r\n");
  EXPECT_EQ(cmd(fd, "RENAMESCRIPT \"a\" \"b\"\r\n"), "NO (ALREADYEXISTS) \"A script by that name already exists.\"\r\n");
  EXPECT_EQ(cmd(fd, "RENAMESCRIPT \"zz\" \"c\"\r\n"), "NO (NONEXISTENT) \"There is no script by that name.\"\r\n");
  EXPECT_EQ(cmd(fd, "RENAMESCRIPT \"a\" \"c\"\r\n"), "OK \"Renamescript completed.\"\r\n");
  EXPECT_EQ(scripts_.users["john@example.org"].active, "c");
  EXPECT_EQ(cmd(fd, "HAVESPACE \"d\" 100\r\n"), "OK \"Putscript would succeed.\"\r\n");
  EXPECT_EQ(cmd(fd, "HAVESPACE \"d\" 1001\r\n"),
            "NO (QUOTA/MAXSIZE) \"Script is larger than the limit of 1000 bytes.\"\r\n");
  EXPECT_EQ(cmd(fd, "HAVESPACE \"d\" x\r\n"), "NO \"Invalid size.\"\r\n");
  EXPECT_EQ(cmd(fd, "PUTSCRIPT \"big\" " + lit(std::string(1001, '#')) + "\r\n"),
            "NO (QUOTA/MAXSIZE) \"Script is larger than the limit of 1000 bytes.\"\r\n");
  EXPECT_EQ(cmd(fd, "PUTSCRIPT \"d\" \"keep;\"\r\n"), "OK \"PUTSCRIPT completed.\"\r\n");
  EXPECT_EQ(cmd(fd, "PUTSCRIPT \"e\" \"keep;\"\r\n"), "NO (QUOTA/MAXSCRIPTS) \"too many scripts (at most 3)\"\r\n");
  EXPECT_EQ(cmd(fd, "HAVESPACE \"e\" 5\r\n"), "NO (QUOTA/MAXSCRIPTS) \"too many scripts (at most 3)\"\r\n");
  EXPECT_EQ(cmd(fd, "SETACTIVE \"\"\r\n"), "OK \"No script is active.\"\r\n");
  EXPECT_EQ(cmd(fd, "DELETESCRIPT \"c\"\r\n"), "OK \"Deletescript completed.\"\r\n");
  EXPECT_EQ(cmd(fd, "NOOP \"t\\\"1\"\r\n"), "OK (TAG \"t\\\"1\") \"Done\"\r\n");
  EXPECT_EQ(cmd(fd, "NOOP\r\n"), "OK \"NOOP completed.\"\r\n");
  EXPECT_EQ(cmd(fd, "PUTSCRIPT \"a\"\r\n"), "NO \"PUTSCRIPT takes a script name and a script, as strings.\"\r\n");
  close(fd);
}

TEST_F(ManageSieveSession, PipelinedCommandsAndSynchronizingLiterals) {
  int fd = logged_in();
  // All at once: the answers come in order; {N} needs no continuation.
  send_raw(fd, "NOOP \"1\"\r\nCHECKSCRIPT {7}\r\nkeep;\r\n\r\nNOOP \"2\"\r\n");
  EXPECT_EQ(read_response(fd), "OK (TAG \"1\") \"Done\"\r\n");
  EXPECT_EQ(read_response(fd), "OK \"Script is valid.\"\r\n");
  EXPECT_EQ(read_response(fd), "OK (TAG \"2\") \"Done\"\r\n");
  close(fd);
}

TEST_F(ManageSieveSession, HostileInput) {
  int fd = logged_in();
  EXPECT_EQ(cmd(fd, "PUTSCRIPT \"x\" \"open\r\n"), "NO \"Unterminated quoted string.\"\r\n");
  EXPECT_EQ(cmd(fd, std::string("NOOP \"a\0b\"\r\n", 12)), "NO \"NUL in quoted string.\"\r\n");
  EXPECT_EQ(cmd(fd, "FROB\r\n"), "NO \"Unknown command.\"\r\n");
  EXPECT_EQ(cmd(fd, "NOOP\r\n"), "OK \"NOOP completed.\"\r\n");
  // The announcement alone ends the session: nothing of 4 GiB is awaited.
  EXPECT_EQ(cmd(fd, "PUTSCRIPT \"x\" {4294967295+}\r\n"), "BYE \"Literal too large.\"\r\n");
  EXPECT_EQ(read_line(fd), "");
  close(fd);
  // Before login the limits are small: a 5000-octet literal is refused at once.
  fd = connect_client();
  read_response(fd);
  EXPECT_EQ(cmd(fd, "AUTHENTICATE \"PLAIN\" {5000+}\r\n"), "BYE \"Literal too large.\"\r\n");
  close(fd);
  // max_errors (5) mistakes end the session.
  fd = connect_client();
  read_response(fd);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(cmd(fd, "FROB\r\n"), "NO \"Unknown command.\"\r\n");
  EXPECT_EQ(cmd(fd, "FROB\r\n"), "NO \"Unknown command.\"\r\n");
  EXPECT_EQ(read_response(fd), "BYE \"Too many errors.\"\r\n");
  close(fd);
}

TEST_F(ManageSieveSession, PlaintextRefusedWithoutTls) {
  config_.allow_plaintext_auth = false;
  int fd = connect_client();
  std::string g = read_response(fd);
  EXPECT_NE(g.find("\"SASL\" \"\"\r\n"), std::string::npos) << g;
  EXPECT_EQ(cmd(fd, "AUTHENTICATE \"PLAIN\" \"AGpvaG5AZXhhbXBsZS5vcmcAc2VjcmV0\"\r\n"),
            "NO (ENCRYPT-NEEDED) \"Plaintext authentication disallowed on non-secure connections.\"\r\n");
  close(fd);
}

}  // namespace
}  // namespace ringmail::managesieve
