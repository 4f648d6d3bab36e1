// sqlite_store: the shared store suite (store_suite.h) on SQLite, then what only SQLite
// has: the schema on disk, WAL, custom and Postfix-style queries, "cannot answer" errors,
// threads, and lookups through offload_source (and the resolver) from a reactor.
#include "delivery/directory/sqlite_store.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "delivery/directory/cache.h"
#include "delivery/directory/offload_source.h"
#include "delivery/directory/resolver.h"
#include "gtest/gtest.h"
#include "runtime/offload_pool.h"
#include "runtime/when_all.h"
#include "tests/delivery/store_suite.h"
#include "tests/runtime/test_util.h"

namespace ringmail::directory {
namespace {

using namespace std::chrono_literals;

// One directory for every database this binary creates; removed at the end.
const std::string& temp_root() {
  static const std::string dir = [] {
    std::string tmpl = ::testing::TempDir() + "/ringmail-sqlite-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return std::string();
    return tmpl;
  }();
  return dir;
}

class remove_temp_root : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    if (!temp_root().empty()) std::filesystem::remove_all(temp_root(), ec);
  }
};
::testing::Environment* const temp_env = ::testing::AddGlobalTestEnvironment(new remove_temp_root);

std::string fresh_path(std::string_view tag) {
  static std::atomic<int> counter{0};
  return absl::StrCat(temp_root(), "/", std::string(tag), "-", counter++, ".sqlite");
}

std::unique_ptr<store> make_empty_store() {
  absl::StatusOr<std::unique_ptr<sqlite_store>> s = sqlite_store::open(fresh_path("suite"));
  if (!s.ok()) {
    ADD_FAILURE() << s.status();
    return nullptr;
  }
  if (absl::Status schema = (*s)->ensure_schema(); !schema.ok()) {
    ADD_FAILURE() << schema;
    return nullptr;
  }
  return std::move(*s);
}

const bool suite_registered = testing::register_store_suite("sqlite_store_suite", &make_empty_store, __FILE__, __LINE__);

// A raw connection beside the store, to look at and tamper with the file.
class raw_db {
 public:
  explicit raw_db(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 2000);
  }
  ~raw_db() { sqlite3_close(db_); }
  int exec(const std::string& sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) ADD_FAILURE() << sql << ": " << (error != nullptr ? error : "?");
    sqlite3_free(error);
    return rc;
  }
  // All rows, columns joined with '|'.
  std::vector<std::string> query(const std::string& sql) {
    std::vector<std::string> rows;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
    while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        if (i > 0) row += '|';
        const unsigned char* t = sqlite3_column_text(stmt, i);
        row += t != nullptr ? reinterpret_cast<const char*>(t) : "NULL";
      }
      rows.push_back(row);
    }
    sqlite3_finalize(stmt);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::unique_ptr<sqlite_store> open_or_die(const std::string& path, lookup_queries q = {}, sqlite_options o = {}) {
  absl::StatusOr<std::unique_ptr<sqlite_store>> s = sqlite_store::open(path, std::move(q), o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(SqliteStore, CreatesTheIspmailSchemaInWalMode) {
  std::string path = fresh_path("schema");
  auto s = open_or_die(path);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->ensure_schema().ok());
  ASSERT_TRUE(s->ensure_schema().ok());
  raw_db raw(path);
  EXPECT_EQ(raw.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
            (std::vector<std::string>{"virtual_aliases", "virtual_domains", "virtual_users"}));
  std::vector<std::string> indexes =
      raw.query("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  EXPECT_NE(std::find(indexes.begin(), indexes.end(), "virtual_aliases_source"), indexes.end());
  EXPECT_NE(std::find(indexes.begin(), indexes.end(), "virtual_aliases_destination"), indexes.end());
  EXPECT_EQ(raw.query("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  EXPECT_EQ(raw.query("PRAGMA table_info(virtual_users)"),
            (std::vector<std::string>{"0|id|INTEGER|0|NULL|1", "1|domain_id|INTEGER|1|NULL|0", "2|email|TEXT|1|NULL|0",
                                      "3|password|TEXT|1|NULL|0", "4|quota|INTEGER|1|0|0"}));
  // foreign_key_list: id|seq|table|from|to|on_update|on_delete|match
  EXPECT_EQ(raw.query("PRAGMA foreign_key_list(virtual_users)"),
            std::vector<std::string>{"0|0|virtual_domains|domain_id|id|NO ACTION|CASCADE|NONE"});
  EXPECT_EQ(raw.query("PRAGMA foreign_key_list(virtual_aliases)"),
            std::vector<std::string>{"0|0|virtual_domains|domain_id|id|NO ACTION|CASCADE|NONE"});
  // UNIQUE(source, destination) exists as an index on exactly those columns.
  bool unique_pair = false;
  for (const std::string& idx : raw.query("SELECT name FROM pragma_index_list('virtual_aliases') WHERE \"unique\" = 1")) {
    if (raw.query("SELECT name FROM pragma_index_info('" + idx + "')") ==
        std::vector<std::string>{"source", "destination"}) {
      unique_pair = true;
    }
  }
  EXPECT_TRUE(unique_pair);
}

TEST(SqliteStore, WorksOnAnExistingIspmailDatabase) {
  // Tables as an ISPmail admin would have made them, filled by hand, before ringmail.
  std::string path = fresh_path("ispmail");
  {
    raw_db raw(path);
    raw.exec(
        "CREATE TABLE virtual_domains (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
        "CREATE TABLE virtual_users (id INTEGER PRIMARY KEY, domain_id INTEGER NOT NULL REFERENCES "
        "virtual_domains(id) ON DELETE CASCADE, email TEXT NOT NULL UNIQUE, password TEXT NOT NULL, quota INTEGER NOT "
        "NULL DEFAULT 0);"
        "CREATE TABLE virtual_aliases (id INTEGER PRIMARY KEY, domain_id INTEGER NOT NULL REFERENCES "
        "virtual_domains(id) ON DELETE CASCADE, source TEXT NOT NULL, destination TEXT NOT NULL, UNIQUE(source, "
        "destination));"
        "INSERT INTO virtual_domains (id, name) VALUES (1, 'example.org');"
        "INSERT INTO virtual_users (domain_id, email, password) VALUES (1, 'john@example.org', "
        "'{SHA512-CRYPT}$6$x$y');"
        "INSERT INTO virtual_aliases (domain_id, source, destination) VALUES (1, 'info@example.org', "
        "'john@example.org');");
  }
  auto s = open_or_die(path);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->ensure_schema().ok());  // adds only the missing indexes
  EXPECT_TRUE(*s->has_domain("example.org"));
  absl::StatusOr<std::optional<user_record>> u = s->find_user("john@example.org");
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->password, "{SHA512-CRYPT}$6$x$y");
  EXPECT_EQ((*u)->quota_bytes, 0);
  EXPECT_EQ(*s->alias_destinations("info@example.org"), std::vector<std::string>{"john@example.org"});
}

TEST(SqliteStore, OpenErrors) {
  EXPECT_EQ(sqlite_store::open(":memory:").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sqlite_store::open("").status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::unique_ptr<sqlite_store>> missing_dir = sqlite_store::open(temp_root() + "/no/such/dir/x.sqlite");
  EXPECT_TRUE(absl::IsUnavailable(missing_dir.status())) << missing_dir.status();
  std::string junk = fresh_path("junk");
  std::ofstream(junk) << std::string(8192, 'x');
  absl::StatusOr<std::unique_ptr<sqlite_store>> not_a_db = sqlite_store::open(junk);
  EXPECT_TRUE(absl::IsUnavailable(not_a_db.status())) << not_a_db.status();
}

TEST(SqliteStore, PostfixStyleQueriesAreBoundNotPasted) {
  // Queries as copied from ISPmail's Postfix map files, quotes around %s and all.
  lookup_queries q;
  q.domain = "SELECT 1 FROM virtual_domains WHERE name='%s'";
  q.user = "SELECT id, domain_id, email, password, quota FROM virtual_users WHERE email=\"%s\"";
  q.alias = "SELECT destination FROM virtual_aliases WHERE source='%s' UNION SELECT email FROM virtual_users WHERE email='%s'";
  std::string path = fresh_path("postfix");
  auto s = open_or_die(path, q);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->ensure_schema().ok());
  ASSERT_TRUE(s->add_domain("example.org").ok());
  ASSERT_TRUE(s->add_user("john@example.org", "{PLAIN}x", 0).ok());
  ASSERT_TRUE(s->add_alias("info@example.org", "john@example.org").ok());
  EXPECT_TRUE(*s->has_domain("example.org"));
  EXPECT_FALSE(*s->has_domain("x' OR '1'='1"));
  EXPECT_TRUE(s->find_user("john@example.org")->has_value());
  EXPECT_FALSE(s->find_user("x\" OR \"1\"=\"1")->has_value());
  // The key is bound twice (both %s are ?1).
  EXPECT_EQ(*s->alias_destinations("john@example.org"), std::vector<std::string>{"john@example.org"});
  EXPECT_EQ(*s->alias_destinations("info@example.org"), std::vector<std::string>{"john@example.org"});
}

TEST(SqliteStore, BrokenCustomQueryIsUnavailableNotNotFound) {
  lookup_queries q;
  q.domain = "SELECT 1 FROM no_such_table WHERE name = %s";
  q.alias = "SELECT destination FROM virtual_aliases WHERE source = %s; DELETE FROM virtual_aliases";
  q.user = "SELECT id FROM virtual_users WHERE email = %s";  // too few columns
  auto s = open_or_die(fresh_path("broken"), q);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->ensure_schema().ok());
  ASSERT_TRUE(s->add_domain("example.org").ok());
  ASSERT_TRUE(s->add_user("john@example.org", "{PLAIN}x", 0).ok());
  absl::StatusOr<bool> d = s->has_domain("example.org");
  EXPECT_TRUE(absl::IsUnavailable(d.status())) << d.status();
  absl::StatusOr<std::vector<std::string>> a = s->alias_destinations("info@example.org");
  EXPECT_TRUE(absl::IsUnavailable(a.status())) << a.status();
  absl::StatusOr<std::optional<user_record>> u = s->find_user("john@example.org");
  EXPECT_TRUE(absl::IsUnavailable(u.status())) << u.status();
}

TEST(SqliteStore, LookupsBeforeTheSchemaExistAreUnavailable) {
  auto s = open_or_die(fresh_path("noschema"));
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(absl::IsUnavailable(s->has_domain("example.org").status()));
  ASSERT_TRUE(s->ensure_schema().ok());
  // The same pooled connection prepares the query now that the table exists.
  absl::StatusOr<bool> d = s->has_domain("example.org");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(*d);
}

TEST(SqliteStore, SeveralDestinationsInOneRowAreSplit) {
  // Postfix accepts "a, b" in one alias row; some ISPmail tables have such rows.
  std::string path = fresh_path("commas");
  auto s = open_or_die(path);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->ensure_schema().ok());
  ASSERT_TRUE(s->add_domain("example.org").ok());
  raw_db raw(path);
  raw.exec(
      "INSERT INTO virtual_aliases (domain_id, source, destination) "
      "VALUES (1, 'team@example.org', 'john@example.org, jane@example.org,bob@remote.test ')");
  EXPECT_EQ(*s->alias_destinations("team@example.org"),
            (std::vector<std::string>{"john@example.org", "jane@example.org", "bob@remote.test"}));
}

TEST(SqliteStore, LockedDatabaseIsUnavailable) {
  std::string path = fresh_path("busy");
  sqlite_options o;
  o.busy_timeout = 50ms;
  auto s = open_or_die(path, {}, o);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->ensure_schema().ok());
  ASSERT_TRUE(s->add_domain("example.org").ok());
  {
    // Another writer (ringmail-admin, say) holds the write lock: writes wait, then give
    // up with Unavailable; WAL readers go on and see the last committed state.
    raw_db other(path);
    other.exec("BEGIN IMMEDIATE; INSERT INTO virtual_domains (name) VALUES ('pending.example')");
    absl::Status w = s->add_domain("example.net");
    EXPECT_TRUE(absl::IsUnavailable(w)) << w;
    absl::StatusOr<bool> r = s->has_domain("example.org");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(*r);
    EXPECT_FALSE(*s->has_domain("pending.example"));
    other.exec("ROLLBACK");
  }
  EXPECT_TRUE(s->add_domain("example.net").ok());
}

TEST(SqliteStore, FileLockedAtOpenIsUnavailable) {
  std::string path = fresh_path("exclusive");
  raw_db other(path);
  // WAL in exclusive locking mode: nobody else may even read the file.
  other.exec("PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1)");
  sqlite_options o;
  o.busy_timeout = 50ms;
  absl::StatusOr<std::unique_ptr<sqlite_store>> s = sqlite_store::open(path, {}, o);
  EXPECT_TRUE(absl::IsUnavailable(s.status())) << s.status();
}

TEST(SqliteStore, CorruptFileIsUnavailableNotNotFound) {
  std::string path = fresh_path("corrupt");
  auto s = open_or_die(path);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->ensure_schema().ok());
  ASSERT_TRUE(s->add_domain("example.org").ok());
  ASSERT_TRUE(s->add_user("john@example.org", "{PLAIN}x", 0).ok());
  std::vector<std::string> roots;
  {
    raw_db raw(path);
    raw.exec("INSERT INTO virtual_domains (name) VALUES ('example.net')");  // so readers drop their caches
    raw.query("PRAGMA wal_checkpoint(TRUNCATE)");                           // every page into the main file
    roots = raw.query(
        "SELECT rootpage FROM sqlite_master WHERE tbl_name IN ('virtual_domains', 'virtual_users') AND rootpage > 0");
  }
  ASSERT_FALSE(roots.empty());
  // Overwrite the tables' and their indexes' root pages with garbage.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    const std::string garbage(4096, '\xff');
    for (const std::string& root : roots) {
      f.seekp(static_cast<std::streamoff>(std::stoll(root) - 1) * 4096);
      f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    }
  }
  absl::StatusOr<bool> d = s->has_domain("example.org");
  EXPECT_TRUE(absl::IsUnavailable(d.status())) << d.status();
  absl::StatusOr<std::optional<user_record>> u = s->find_user("john@example.org");
  EXPECT_TRUE(absl::IsUnavailable(u.status())) << u.status();
}

TEST(SqliteStore, PasswordHashAndDetailValidation) {
  auto s = open_or_die(fresh_path("hash"));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->ensure_schema().ok());
  ASSERT_TRUE(s->add_domain("example.org").ok());
  EXPECT_EQ(s->add_user("john@example.org", "", 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s->add_user("john@example.org", "{PLAIN}a\nb", 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s->add_user("john@example.org", std::string("{PLAIN}a\0b", 10), 0).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(s->add_user("john@example.org", "{PLAIN}x", 0).ok());
  EXPECT_EQ(s->set_password("john@example.org", "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s->set_password("john@example.org", "x\r\ny").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*s->find_user("john@example.org"))->password, "{PLAIN}x");
}

TEST(SqliteStore, ManyThreadsAtOnce) {
  auto s = open_or_die(fresh_path("threads"));
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->ensure_schema().ok());
  ASSERT_TRUE(s->add_domain("example.org").ok());
  constexpr int kThreads = 8, kUsers = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kUsers; ++i) {
        std::string email = absl::StrCat("u", t, "-", i, "@example.org");
        if (!s->add_user(email, "{PLAIN}x", i).ok()) ++failures;
        if (!s->add_alias(absl::StrCat("a", t, "-", i, "@example.org"), email).ok()) ++failures;
        absl::StatusOr<std::optional<user_record>> u = s->find_user(email);
        if (!u.ok() || !u->has_value() || (*u)->quota_bytes != i) ++failures;
        absl::StatusOr<bool> d = s->has_domain("example.org");
        if (!d.ok() || !*d) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(s->list_users("example.org")->size(), size_t{kThreads * kUsers});
  EXPECT_EQ(s->list_aliases("")->size(), size_t{kThreads * kUsers});
}

// ---- from a shard ------------------------------------------------------------------------

class SqliteFromReactor : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor_ = ringmail::testing::make_reactor();
    ASSERT_NE(reactor_, nullptr);
    store_ = open_or_die(fresh_path("reactor"));
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->ensure_schema().ok());
    ASSERT_TRUE(store_->add_domain("example.org").ok());
    ASSERT_TRUE(store_->add_user("john@example.org", "{PLAIN}john", 0).ok());
    ASSERT_TRUE(store_->add_user("jane@example.org", "{PLAIN}jane", 0).ok());
    ASSERT_TRUE(store_->add_alias("info@example.org", "john@example.org").ok());
    ASSERT_TRUE(store_->add_alias("info@example.org", "jane@example.org").ok());
    ASSERT_TRUE(store_->add_alias("info@example.org", "someone@remote.test").ok());
    ASSERT_TRUE(store_->add_alias("@example.org", "jane@example.org").ok());
  }
  std::unique_ptr<reactor> reactor_;
  std::unique_ptr<sqlite_store> store_;
  offload_pool pool_{4};
};

TEST_F(SqliteFromReactor, LookupsThroughTheOffloadPool) {
  offload_source src(*store_, pool_);
  auto [domain, user, aliases, senders] = reactor_->block_on([&]() -> task<std::tuple<
      absl::StatusOr<bool>, absl::StatusOr<std::optional<user_record>>, absl::StatusOr<std::vector<std::string>>,
      absl::StatusOr<std::vector<std::string>>>> {
    co_return co_await when_all(src.has_domain("example.org"), src.find_user("john@example.org"),
                                src.alias_destinations("info@example.org"), src.alias_sources_for("jane@example.org"));
  }());
  ASSERT_TRUE(domain.ok() && user.ok() && aliases.ok() && senders.ok());
  EXPECT_TRUE(*domain);
  ASSERT_TRUE(user->has_value());
  EXPECT_EQ((*user)->password, "{PLAIN}john");
  EXPECT_EQ(aliases->size(), 3u);
  std::vector<std::string> s = *senders;
  std::sort(s.begin(), s.end());
  EXPECT_EQ(s, (std::vector<std::string>{"@example.org", "info@example.org"}));
}

TEST_F(SqliteFromReactor, ManyConcurrentLookups) {
  offload_source src(*store_, pool_);
  std::vector<absl::StatusOr<bool>> answers = reactor_->block_on([&]() -> task<std::vector<absl::StatusOr<bool>>> {
    std::vector<task<absl::StatusOr<bool>>> lookups;
    for (int i = 0; i < 200; ++i) lookups.push_back(src.has_domain(i % 2 == 0 ? "example.org" : "example.net"));
    co_return co_await when_all(std::move(lookups));
  }());
  ASSERT_EQ(answers.size(), 200u);
  for (size_t i = 0; i < answers.size(); ++i) {
    ASSERT_TRUE(answers[i].ok()) << answers[i].status();
    EXPECT_EQ(*answers[i], i % 2 == 0);
  }
}

TEST_F(SqliteFromReactor, ResolverOverCacheOverOffload) {
  offload_source src(*store_, pool_);
  cached_source cache(src);
  resolver r(cache);
  auto [info, john, stranger, foreign, may] =
      reactor_->block_on([&]() -> task<std::tuple<resolution, resolution, resolution, resolution, absl::StatusOr<bool>>> {
        resolution a = co_await r.resolve("Info+Sales@Example.org");
        resolution b = co_await r.resolve("john@example.org");
        resolution c = co_await r.resolve("stranger@example.org");
        resolution d = co_await r.resolve("x@elsewhere.test");
        absl::StatusOr<bool> e = co_await r.may_send_as("john@example.org", "info@example.org");
        co_return std::make_tuple(std::move(a), std::move(b), std::move(c), std::move(d), std::move(e));
      }());
  ASSERT_EQ(info.result, outcome::ok) << info.reason;
  // The default alias query has no ORDER BY: compare as a set.
  std::vector<std::string> got;
  for (const destination& d : info.destinations) {
    got.push_back(absl::StrCat(d.local ? "local:" : "remote:", d.address, d.detail.empty() ? "" : " +", d.detail));
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"local:jane@example.org +sales", "local:john@example.org +sales",
                                           "remote:someone@remote.test"}));
  ASSERT_EQ(john.result, outcome::ok);
  EXPECT_EQ(john.destinations.size(), 1u);
  ASSERT_EQ(stranger.result, outcome::ok);  // the catch-all
  EXPECT_EQ(stranger.destinations[0].address, "jane@example.org");
  EXPECT_EQ(foreign.result, outcome::not_our_domain);
  ASSERT_TRUE(may.ok());
  EXPECT_TRUE(*may);
  EXPECT_GT(cache.stats().hits, 0u);
}

TEST_F(SqliteFromReactor, UnavailableStoreIsTemporaryFailureThroughEveryLayer) {
  lookup_queries q;
  q.alias = "SELECT destination FROM no_such_table WHERE source = %s";
  std::unique_ptr<sqlite_store> broken = open_or_die(store_->path(), q);
  ASSERT_NE(broken, nullptr);
  offload_source src(*broken, pool_);
  cached_source cache(src);
  resolver r(cache);
  resolution res = reactor_->block_on(r.resolve("john@example.org"));
  EXPECT_EQ(res.result, outcome::temporary_failure) << res.reason;
  EXPECT_EQ(cache.stats().entries, 1u);  // only has_domain's answer; the failure is not cached
}

}  // namespace
}  // namespace ringmail::directory
