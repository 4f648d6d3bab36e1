// The same directory suite against both backends: SQLite (through the offload pool) and a
// real MariaDB server that this test binary starts and stops itself
// (tests/support/mariadb.sh). Lookups go through the asynchronous sources a shard uses,
// resolution through the resolver, logins through the authenticator.
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "delivery/auth/authenticator.h"
#include "delivery/auth/password.h"
#include "delivery/directory/mariadb_source.h"
#include "delivery/directory/mariadb_store.h"
#include "delivery/directory/offload_source.h"
#include "delivery/directory/resolver.h"
#include "delivery/directory/sqlite_store.h"
#include "gtest/gtest.h"
#include "runtime/offload_pool.h"
#include "runtime/reactor.h"
#include "tests/delivery/store_suite.h"
#include "tests/support/mariadb_server.h"

namespace ringmail::directory {
namespace {

using namespace std::chrono_literals;

using test_support::mariadb_server;

// The store contract suite (tests/delivery/store_suite.h), run here against MariaDB as
// sqlite_store_test.cc runs it against SQLite.
absl::Status clear_store(store& s) {
  if (!s.list_domains().ok()) {
    absl::Status schema = s.ensure_schema();
    if (!schema.ok()) return schema;
  }
  auto domains = s.list_domains();
  if (!domains.ok()) return domains.status();
  for (const auto& d : *domains) {
    absl::Status st = s.delete_domain(d.name);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

std::unique_ptr<store> make_empty_mariadb_store() {
  if (mariadb_server::instance == nullptr || !mariadb_server::instance->start_error().empty()) return nullptr;
  auto config = parse_mariadb_url(mariadb_server::instance->url());
  if (!config.ok()) return nullptr;
  auto s = mariadb_store::open(*config);
  if (!s.ok() || !clear_store(**s).ok()) return nullptr;
  return std::move(*s);
}

const bool mariadb_suite_registered =
    testing::register_store_suite("mariadb_store_suite", &make_empty_mariadb_store, __FILE__, __LINE__);

class DirectoryBackend : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto r = reactor::create({});
    ASSERT_TRUE(r.ok()) << r.status();
    reactor_ = std::move(*r);
    if (GetParam() == "sqlite") {
      std::string tmpl = ::testing::TempDir() + "/ringmail-sqlite-XXXXXX";
      dir_ = mkdtemp(tmpl.data());
      auto s = sqlite_store::open(dir_ + "/directory.sqlite");
      ASSERT_TRUE(s.ok()) << s.status();
      store_ = std::move(*s);
      ASSERT_TRUE(store_->ensure_schema().ok());
      source_ = std::make_unique<offload_source>(*store_, pool_);
    } else {
      ASSERT_EQ(mariadb_server::instance->start_error(), "") << "could not start MariaDB";
      auto config = parse_mariadb_url(mariadb_server::instance->url());
      ASSERT_TRUE(config.ok());
      auto s = mariadb_store::open(*config);
      ASSERT_TRUE(s.ok()) << s.status();
      store_ = std::move(*s);
      // Each test starts from empty ISPmail tables.
      ASSERT_TRUE(clear_store(*store_).ok());
      source_ = std::make_unique<mariadb_source>(*config, lookup_queries{},
                                                 mariadb_source_options{2, 2s, 1s, std::chrono::milliseconds(100)});
    }
    populate();
  }
  void TearDown() override {
    source_.reset();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void populate() {
    auto hash = auth::hash_password("correct horse", auth::scheme::blf_crypt, 4);
    ASSERT_TRUE(hash.ok());
    ASSERT_TRUE(store_->add_domain("example.org").ok());
    ASSERT_TRUE(store_->add_domain("Example.NET").ok());
    ASSERT_TRUE(store_->add_user("john@example.org", *hash, 0).ok());
    ASSERT_TRUE(store_->add_user("jane@example.org", *hash, 1000000).ok());
    ASSERT_TRUE(store_->add_alias("info@example.org", "john@example.org").ok());
    ASSERT_TRUE(store_->add_alias("info@example.org", "jane@example.org").ok());
    ASSERT_TRUE(store_->add_alias("@example.net", "john@example.org").ok());
    ASSERT_TRUE(store_->add_alias("sales@example.org", "partner@remote.test").ok());
    ASSERT_TRUE(store_->add_alias("loop1@example.org", "loop2@example.org").ok());
    ASSERT_TRUE(store_->add_alias("loop2@example.org", "loop1@example.org").ok());
    // ISPmail's self-mapping: catch-all for example.org, and john maps to himself.
    ASSERT_TRUE(store_->add_alias("@example.org", "jane@example.org").ok());
    ASSERT_TRUE(store_->add_alias("john@example.org", "john@example.org").ok());
  }

  template <typename T>
  T run(task<T> t) {
    return reactor_->block_on(std::move(t));
  }

  resolution resolve(const std::string& rcpt) {
    resolver r(*source_);
    return run([](resolver& r, std::string rcpt) -> task<resolution> { co_return co_await r.resolve(rcpt); }(r, rcpt));
  }

  static std::vector<std::string> addresses(const resolution& res) {
    std::vector<std::string> out;
    for (const auto& d : res.destinations) out.push_back(d.address + (d.local ? "" : " (remote)"));
    std::sort(out.begin(), out.end());
    return out;
  }

  offload_pool pool_{2};
  std::unique_ptr<reactor> reactor_;
  std::string dir_;
  std::unique_ptr<store> store_;
  std::unique_ptr<source> source_;
};

TEST_P(DirectoryBackend, RawLookups) {
  EXPECT_TRUE(*run(source_->has_domain("example.org")));
  EXPECT_TRUE(*run(source_->has_domain("example.net"))) << "domains are stored lower-case";
  EXPECT_FALSE(*run(source_->has_domain("example.com")));
  auto john = run(source_->find_user("john@example.org"));
  ASSERT_TRUE(john.ok() && john->has_value());
  EXPECT_EQ((*john)->email, "john@example.org");
  EXPECT_EQ(run(source_->find_user("jane@example.org"))->value().quota_bytes, 1000000);
  EXPECT_FALSE(run(source_->find_user("nobody@example.org"))->has_value());
  auto info = *run(source_->alias_destinations("info@example.org"));
  std::sort(info.begin(), info.end());
  EXPECT_EQ(info, (std::vector<std::string>{"jane@example.org", "john@example.org"}));
}

TEST_P(DirectoryBackend, SqlMetacharactersAreDataNotSql) {
  for (const char* key : {"o'brien@example.org", "x' OR '1'='1", "a\"; DROP TABLE virtual_users; --", "\\'",
                          "%@example.org", "_@example.org"}) {
    auto user = run(source_->find_user(key));
    ASSERT_TRUE(user.ok()) << key << ": " << user.status();
    EXPECT_FALSE(user->has_value()) << key;
    EXPECT_FALSE(*run(source_->has_domain(key))) << key;
  }
  EXPECT_TRUE(run(source_->find_user("john@example.org"))->has_value()) << "the table is still there";
}

TEST_P(DirectoryBackend, ResolvesMailboxesAliasesCatchAllsAndDetails) {
  auto john = resolve("John+Lists@EXAMPLE.org");
  ASSERT_EQ(john.result, outcome::ok) << john.reason;
  ASSERT_EQ(john.destinations.size(), 1u);
  EXPECT_EQ(john.destinations[0].address, "john@example.org");
  EXPECT_TRUE(john.destinations[0].local);
  EXPECT_EQ(john.destinations[0].detail, "lists");

  EXPECT_EQ(addresses(resolve("info@example.org")), (std::vector<std::string>{"jane@example.org", "john@example.org"}));
  EXPECT_EQ(addresses(resolve("anything@example.net")), (std::vector<std::string>{"john@example.org"}));
  EXPECT_EQ(addresses(resolve("sales@example.org")), (std::vector<std::string>{"partner@remote.test (remote)"}));
  // The real user wins over the catch-all (john is self-mapped; jane has no alias row).
  EXPECT_EQ(addresses(resolve("jane@example.org")), (std::vector<std::string>{"jane@example.org"}));
  EXPECT_EQ(addresses(resolve("john@example.org")), (std::vector<std::string>{"john@example.org"}));
  // Unknown local part in a domain with a catch-all goes to the catch-all.
  EXPECT_EQ(addresses(resolve("whoever@example.org")), (std::vector<std::string>{"jane@example.org"}));
  EXPECT_EQ(resolve("someone@example.com").result, outcome::not_our_domain);
  EXPECT_NE(resolve("loop1@example.org").result, outcome::ok);
}

TEST_P(DirectoryBackend, SenderCheck) {
  resolver r(*source_);
  auto may = [&](const char* login, const char* from) {
    return run([](resolver& r, std::string l, std::string f) -> task<bool> {
      auto v = co_await r.may_send_as(l, f);
      co_return v.ok() && *v;
    }(r, login, from));
  };
  EXPECT_TRUE(may("john@example.org", "john@example.org"));
  EXPECT_TRUE(may("john@example.org", "info@example.org")) << "an alias that points to john";
  EXPECT_FALSE(may("jane@example.org", "sales@example.org"));
  EXPECT_FALSE(may("jane@example.org", "john@example.org"));
}

TEST_P(DirectoryBackend, LoginsVerifyOnTheOffloadPoolAndCache) {
  auth::authenticator_options options;
  options.throttle.base_delay = std::chrono::milliseconds(1);
  options.throttle.max_delay = std::chrono::milliseconds(5);
  auth::authenticator a(*source_, pool_, options);
  auto login = [&](const char* user, const char* password) {
    return run(a.login(user, password, "192.0.2.1"));
  };
  auto ok = login("john@example.org", "correct horse");
  EXPECT_EQ(ok.outcome, auth::login_outcome::ok);
  EXPECT_EQ(ok.user, "john@example.org");
  EXPECT_EQ(a.verifications(), 1u);
  EXPECT_EQ(login("John@Example.org", "correct horse").outcome, auth::login_outcome::ok);
  EXPECT_EQ(a.cache_hits(), 1u) << "the second login is a cache hit";
  EXPECT_EQ(login("john@example.org", "wrong").outcome, auth::login_outcome::bad_credentials);
  EXPECT_EQ(login("nobody@example.org", "correct horse").outcome, auth::login_outcome::bad_credentials);
  EXPECT_EQ(login("not an address", "x").outcome, auth::login_outcome::bad_credentials);
}

TEST_P(DirectoryBackend, AdminErrorsAreClear) {
  EXPECT_EQ(store_->add_domain("example.org").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->add_user("x@unknown.test", "{PLAIN}x", 0).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->add_user("john@example.org", "{PLAIN}x", 0).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->add_user("bad\r\naddress@example.org", "{PLAIN}x", 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->add_user("../../etc@example.org", "{PLAIN}x", 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->delete_user("ghost@example.org").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->delete_domain("example.net").ok());
  EXPECT_EQ(resolve("anything@example.net").result, outcome::not_our_domain) << "catch-all went with its domain";
}

TEST_P(DirectoryBackend, DatabaseDownIsATemporaryFailureAndRecovers) {
  if (GetParam() != "mariadb") GTEST_SKIP() << "SQLite is a local file: it cannot go down";
  ASSERT_EQ(resolve("john@example.org").result, outcome::ok);
  mariadb_server::instance->stop();
  auto down = resolve("john@example.org");
  EXPECT_EQ(down.result, outcome::temporary_failure) << "never 'no such user' while the directory is down";
  EXPECT_EQ(resolve("nobody@example.org").result, outcome::temporary_failure);
  auth::authenticator a(*source_, pool_);
  EXPECT_EQ(run(a.login("john@example.org", "correct horse", "192.0.2.1")).outcome,
            auth::login_outcome::temporary_failure);
  ASSERT_EQ(mariadb_server::instance->start(), "");
  outcome after = outcome::temporary_failure;
  for (int i = 0; i < 50 && after != outcome::ok; ++i) {
    after = resolve("john@example.org").result;
    if (after != outcome::ok) usleep(100000);
  }
  EXPECT_EQ(after, outcome::ok) << "lookups recover by themselves";
}

INSTANTIATE_TEST_SUITE_P(Backends, DirectoryBackend, ::testing::Values("sqlite", "mariadb"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ringmail::directory

// Registered before main() runs: gtest then calls SetUp/TearDown around all tests.
static ::testing::Environment* const g_mariadb = ringmail::test_support::mariadb_server::install();
