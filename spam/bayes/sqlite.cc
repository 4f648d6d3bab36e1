// The Bayes token store in SQLite under the data directory (bayes_backend.h), in the
// shape of SpamAssassin's BayesStore/SQL.pm (bayes_vars / bayes_token / bayes_seen per
// user) reduced to what we use: tokens are 64-bit hashes rather than 40-bit SHA-1
// prefixes, and the per-user variables are the totals row (message counts, last expiry).
// WAL mode: loading never waits for a writer.
#include "spam/bayes/sqlite.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "spam/bayes/bayes.h"

namespace ringmail::spam {
namespace {

// WITHOUT ROWID: the tables are looked up and updated by their primary keys only, and
// the token rows are small; a clustered key halves their size and their lookups.
// No index on atime: every learn rewrites the atime of each token it touches, so an index
// would cost every learn a second B-tree update, while expiry (at most once per 12 h per
// user) can afford to scan the user's rows.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS bayes_totals (
  user TEXT NOT NULL PRIMARY KEY,
  nspam INTEGER NOT NULL DEFAULT 0,
  nham INTEGER NOT NULL DEFAULT 0,
  last_expire INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS bayes_tokens (
  user TEXT NOT NULL,
  token INTEGER NOT NULL,
  nspam INTEGER NOT NULL DEFAULT 0,
  nham INTEGER NOT NULL DEFAULT 0,
  atime INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user, token)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bayes_seen (
  user TEXT NOT NULL,
  msgid TEXT NOT NULL,
  is_spam INTEGER NOT NULL,
  PRIMARY KEY (user, msgid)
) WITHOUT ROWID;
)sql";

absl::Status sqlite_error(sqlite3* db, int rc, std::string_view what) {
  std::string message = absl::StrCat("bayes store: ", std::string(what), ": ",
                                     db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

// A prepared statement in use: reset and unbound when the scope ends, so the next user
// starts clean (the statement itself is kept for the connection's life).
class statement_use {
 public:
  explicit statement_use(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~statement_use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  statement_use(const statement_use&) = delete;
  statement_use& operator=(const statement_use&) = delete;

  void bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }
  void bind(int i, int64_t value) { sqlite3_bind_int64(stmt_, i, value); }
  int step() { return sqlite3_step(stmt_); }
  int64_t column(int i) const { return sqlite3_column_int64(stmt_, i); }

 private:
  sqlite3_stmt* stmt_;
};

uint32_t to_count(int64_t v) {
  return static_cast<uint32_t>(std::clamp<int64_t>(v, 0, std::numeric_limits<uint32_t>::max()));
}

class sqlite_backend final : public bayes_backend {
 public:
  sqlite3* db = nullptr;
  sqlite3_stmt* begin_write = nullptr;
  sqlite3_stmt* commit_write = nullptr;
  sqlite3_stmt* rollback_write = nullptr;
  sqlite3_stmt* begin_read = nullptr;
  sqlite3_stmt* select_seen = nullptr;
  sqlite3_stmt* put_seen = nullptr;
  sqlite3_stmt* upsert_totals = nullptr;
  sqlite3_stmt* upsert_token = nullptr;
  sqlite3_stmt* drop_empty_token = nullptr;
  sqlite3_stmt* select_totals = nullptr;
  sqlite3_stmt* count_tokens = nullptr;
  sqlite3_stmt* select_tokens = nullptr;
  sqlite3_stmt* select_ages = nullptr;
  sqlite3_stmt* select_last_expire = nullptr;
  sqlite3_stmt* select_atime_at_rank = nullptr;
  sqlite3_stmt* delete_before = nullptr;
  sqlite3_stmt* put_last_expire = nullptr;

  sqlite_backend() = default;
  sqlite_backend(const sqlite_backend&) = delete;
  sqlite_backend& operator=(const sqlite_backend&) = delete;
  ~sqlite_backend() override {
    for (sqlite3_stmt* s : {begin_write, commit_write, rollback_write, begin_read, select_seen, put_seen, upsert_totals, upsert_token,
                            drop_empty_token, select_totals, count_tokens, select_tokens, select_ages,
                            select_last_expire, select_atime_at_rank, delete_before, put_last_expire}) {
      sqlite3_finalize(s);
    }
    sqlite3_close(db);
  }

  absl::Status prepare(const char* sql, sqlite3_stmt** out) {
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db, rc, absl::StrCat("prepare ", sql));
    return absl::OkStatus();
  }

  absl::Status run(sqlite3_stmt* stmt, std::string_view what) {
    statement_use use(stmt);
    int rc = use.step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return sqlite_error(db, rc, what);
    return absl::OkStatus();
  }

  absl::Status begin() override { return run(begin_write, "begin"); }
  absl::Status commit() override { return run(commit_write, "commit"); }
  void rollback() override { (void)run(rollback_write, "rollback"); }

  absl::StatusOr<std::optional<bool>> seen(std::string_view user, std::string_view msg_id) override {
    statement_use q(select_seen);
    q.bind(1, user);
    q.bind(2, msg_id);
    int rc = q.step();
    if (rc == SQLITE_ROW) return std::optional<bool>(q.column(0) != 0);
    if (rc != SQLITE_DONE) return sqlite_error(db, rc, "select seen");
    return std::optional<bool>();
  }

  absl::Status record_seen(std::string_view user, std::string_view msg_id, bool is_spam) override {
    statement_use q(put_seen);
    q.bind(1, user);
    q.bind(2, msg_id);
    q.bind(3, int64_t{is_spam ? 1 : 0});
    int rc = q.step();
    if (rc != SQLITE_DONE) return sqlite_error(db, rc, "record seen");
    return absl::OkStatus();
  }

  absl::Status add_totals(std::string_view user, int64_t spam, int64_t ham) override {
    statement_use q(upsert_totals);
    q.bind(1, user);
    q.bind(2, spam);
    q.bind(3, ham);
    if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_error(db, rc, "update totals");
    return absl::OkStatus();
  }

  absl::Status add_tokens(std::string_view user, const std::vector<token_delta>& deltas, int64_t atime) override {
    for (const token_delta& d : deltas) {
      {
        statement_use q(upsert_token);
        q.bind(1, user);
        q.bind(2, static_cast<int64_t>(d.token));
        q.bind(3, int64_t{d.spam});
        q.bind(4, int64_t{d.ham});
        q.bind(5, atime);
        if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_error(db, rc, "update token");
      }
      if (d.spam < 0 || d.ham < 0) {
        statement_use q(drop_empty_token);
        q.bind(1, user);
        q.bind(2, static_cast<int64_t>(d.token));
        if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_error(db, rc, "drop token");
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<token_ages> ages(std::string_view user) override {
    token_ages out;
    {
      statement_use q(select_ages);
      q.bind(1, user);
      int rc = q.step();
      if (rc != SQLITE_ROW) return sqlite_error(db, rc, "token ages");
      out.tokens = q.column(0);
      out.oldest_atime = q.column(1);  // NULL (no tokens) reads as 0
      out.newest_atime = q.column(2);
    }
    statement_use q(select_last_expire);
    q.bind(1, user);
    int rc = q.step();
    if (rc == SQLITE_ROW) out.last_expire = q.column(0);
    else if (rc != SQLITE_DONE) return sqlite_error(db, rc, "last expire");
    return out;
  }

  absl::StatusOr<std::optional<int64_t>> atime_at_rank(std::string_view user, int64_t rank) override {
    statement_use q(select_atime_at_rank);
    q.bind(1, user);
    q.bind(2, rank);
    int rc = q.step();
    if (rc == SQLITE_ROW) return std::optional<int64_t>(q.column(0));
    if (rc != SQLITE_DONE) return sqlite_error(db, rc, "atime at rank");
    return std::optional<int64_t>();
  }

  absl::StatusOr<int64_t> remove_tokens_before(std::string_view user, int64_t cutoff) override {
    statement_use q(delete_before);
    q.bind(1, user);
    q.bind(2, cutoff);
    if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_error(db, rc, "expire tokens");
    return static_cast<int64_t>(sqlite3_changes64(db));
  }

  absl::Status set_last_expire(std::string_view user, int64_t when) override {
    statement_use q(put_last_expire);
    q.bind(1, user);
    q.bind(2, when);
    if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_error(db, rc, "set last expire");
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<const bayes_model>> load(std::string_view user) override;
};

// Stores made before expiry existed lack the atime columns: add them, giving every
// existing token the time of this open as its atime (SQLite's ADD COLUMN takes only a
// constant default). Their real last use is unknown; "now" makes them the newest rather
// than expiring a whole store the first time it is opened.
absl::Status migrate(sqlite3* db) {
  struct {
    const char* table;
    const char* column;
    std::string definition;
  } added[] = {
      {"bayes_tokens", "atime", absl::StrCat("INTEGER NOT NULL DEFAULT ", static_cast<int64_t>(std::time(nullptr)))},
      {"bayes_totals", "last_expire", "INTEGER NOT NULL DEFAULT 0"},
  };
  for (const auto& a : added) {
    sqlite3_stmt* q = nullptr;
    int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2", -1, &q, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db, rc, "read schema");
    int64_t present = 0;
    {
      statement_use use(q);
      use.bind(1, std::string_view(a.table));
      use.bind(2, std::string_view(a.column));
      rc = use.step();
      if (rc == SQLITE_ROW) present = use.column(0);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW) return sqlite_error(db, rc, "read schema");
    if (present != 0) continue;
    const std::string sql = absl::StrCat("ALTER TABLE ", a.table, " ADD COLUMN ", a.column, " ", a.definition);
    rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db, rc, sql);
  }
  return absl::OkStatus();
}

// Creates the tables and migrates old ones in one write transaction, so two processes
// opening a store of the old shape at once do not both add the columns.
absl::Status create_schema(sqlite3* db) {
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db, rc, "create schema");
  rc = sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr);
  absl::Status s = rc == SQLITE_OK ? migrate(db) : sqlite_error(db, rc, "create schema");
  if (s.ok()) {
    rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return absl::OkStatus();
    s = sqlite_error(db, rc, "create schema");
  }
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return s;
}

absl::StatusOr<std::shared_ptr<const bayes_model>> sqlite_backend::load(std::string_view user) {
  sqlite_backend& s = *this;
  // One read transaction: totals and tokens from the same snapshot.
  if (absl::Status e = s.run(s.begin_read, "begin"); !e.ok()) return e;
  struct end_read {
    sqlite_backend& s;
    ~end_read() { (void)s.run(s.commit_write, "end read"); }
  } end{s};

  auto model = std::make_shared<bayes_model>();
  {
    statement_use q(s.select_totals);
    q.bind(1, user);
    int rc = q.step();
    if (rc == SQLITE_ROW) {
      model->spam_messages = to_count(q.column(0));
      model->ham_messages = to_count(q.column(1));
    } else if (rc != SQLITE_DONE) {
      return sqlite_error(s.db, rc, "select totals");
    }
  }
  {
    statement_use q(s.count_tokens);
    q.bind(1, user);
    int rc = q.step();
    if (rc != SQLITE_ROW) return sqlite_error(s.db, rc, "count tokens");
    model->tokens.reserve(static_cast<size_t>(std::max<int64_t>(0, q.column(0))));
  }
  {
    statement_use q(s.select_tokens);
    q.bind(1, user);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      model->tokens[static_cast<uint64_t>(q.column(0))] = token_counts{to_count(q.column(1)), to_count(q.column(2))};
    }
    if (rc != SQLITE_DONE) return sqlite_error(s.db, rc, "select tokens");
  }
  return std::shared_ptr<const bayes_model>(std::move(model));
}


}  // namespace

absl::StatusOr<std::unique_ptr<bayes_backend>> open_sqlite_bayes_backend(const std::string& sqlite_path) {
  auto s = std::make_unique<sqlite_backend>();
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(sqlite_path.c_str(), &s->db, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status e = sqlite_error(s->db, rc, "open");
    return absl::UnavailableError(absl::StrCat(e.message(), " path=", sqlite_path));
  }
  sqlite3_extended_result_codes(s->db, 1);
  // The server (learning on IMAP moves) and ringmail-admin may write at the same time.
  sqlite3_busy_timeout(s->db, 10'000);
  // WAL: readers (load) never wait for a writer. synchronous=NORMAL: in WAL mode a power
  // loss can lose the last transactions but never corrupts the file; losing a few learned
  // messages is fine for a statistical store. A bigger page cache for bulk learning.
  for (const char* pragma :
       {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA cache_size = -32768"}) {
    rc = sqlite3_exec(s->db, pragma, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(s->db, rc, pragma);
  }
  if (absl::Status e = create_schema(s->db); !e.ok()) return e;
  struct {
    const char* sql;
    sqlite3_stmt** stmt;
  } statements[] = {
      {"BEGIN IMMEDIATE", &s->begin_write},
      {"COMMIT", &s->commit_write},
      {"ROLLBACK", &s->rollback_write},
      {"BEGIN", &s->begin_read},
      {"SELECT is_spam FROM bayes_seen WHERE user = ?1 AND msgid = ?2", &s->select_seen},
      {"INSERT INTO bayes_seen (user, msgid, is_spam) VALUES (?1, ?2, ?3) "
       "ON CONFLICT (user, msgid) DO UPDATE SET is_spam = excluded.is_spam",
       &s->put_seen},
      {"INSERT INTO bayes_totals (user, nspam, nham) VALUES (?1, max(0, ?2), max(0, ?3)) "
       "ON CONFLICT (user) DO UPDATE SET nspam = max(0, nspam + ?2), nham = max(0, nham + ?3)",
       &s->upsert_totals},
      {"INSERT INTO bayes_tokens (user, token, nspam, nham, atime) VALUES (?1, ?2, max(0, ?3), max(0, ?4), ?5) "
       "ON CONFLICT (user, token) DO UPDATE SET nspam = max(0, nspam + ?3), nham = max(0, nham + ?4), "
       "atime = max(atime, ?5)",
       &s->upsert_token},
      {"DELETE FROM bayes_tokens WHERE user = ?1 AND token = ?2 AND nspam = 0 AND nham = 0", &s->drop_empty_token},
      {"SELECT nspam, nham FROM bayes_totals WHERE user = ?1", &s->select_totals},
      {"SELECT count(*) FROM bayes_tokens WHERE user = ?1", &s->count_tokens},
      {"SELECT token, nspam, nham FROM bayes_tokens WHERE user = ?1", &s->select_tokens},
      {"SELECT count(*), min(atime), max(atime) FROM bayes_tokens WHERE user = ?1", &s->select_ages},
      {"SELECT last_expire FROM bayes_totals WHERE user = ?1", &s->select_last_expire},
      {"SELECT atime FROM bayes_tokens WHERE user = ?1 ORDER BY atime LIMIT 1 OFFSET ?2", &s->select_atime_at_rank},
      {"DELETE FROM bayes_tokens WHERE user = ?1 AND atime < ?2", &s->delete_before},
      {"INSERT INTO bayes_totals (user, last_expire) VALUES (?1, ?2) "
       "ON CONFLICT (user) DO UPDATE SET last_expire = excluded.last_expire",
       &s->put_last_expire},
  };
  for (auto& st : statements) {
    if (absl::Status e = s->prepare(st.sql, st.stmt); !e.ok()) return e;
  }
  return std::unique_ptr<bayes_backend>(std::move(s));
}

}  // namespace ringmail::spam
