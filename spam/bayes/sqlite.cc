// The Bayes token store in SQLite under the data directory (bayes_backend.h), in the
// shape of SpamAssassin's BayesStore/SQL.pm (bayes_vars / bayes_token / bayes_seen per
// user) reduced to what we use: no atime and no expiry yet, tokens are 64-bit hashes
// rather than 40-bit SHA-1 prefixes. WAL mode: loading never waits for a writer.
#include "spam/bayes/sqlite.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
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
constexpr const char* kSchema = R"sql(
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS bayes_totals (
  user TEXT NOT NULL PRIMARY KEY,
  nspam INTEGER NOT NULL DEFAULT 0,
  nham INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS bayes_tokens (
  user TEXT NOT NULL,
  token INTEGER NOT NULL,
  nspam INTEGER NOT NULL DEFAULT 0,
  nham INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user, token)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bayes_seen (
  user TEXT NOT NULL,
  msgid TEXT NOT NULL,
  is_spam INTEGER NOT NULL,
  PRIMARY KEY (user, msgid)
) WITHOUT ROWID;
COMMIT;
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

  sqlite_backend() = default;
  sqlite_backend(const sqlite_backend&) = delete;
  sqlite_backend& operator=(const sqlite_backend&) = delete;
  ~sqlite_backend() override {
    for (sqlite3_stmt* s : {begin_write, commit_write, rollback_write, begin_read, select_seen, put_seen, upsert_totals, upsert_token,
                            drop_empty_token, select_totals, count_tokens, select_tokens}) {
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

  absl::Status add_tokens(std::string_view user, const std::vector<token_delta>& deltas) override {
    for (const token_delta& d : deltas) {
      {
        statement_use q(upsert_token);
        q.bind(1, user);
        q.bind(2, static_cast<int64_t>(d.token));
        q.bind(3, int64_t{d.spam});
        q.bind(4, int64_t{d.ham});
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

  absl::StatusOr<std::shared_ptr<const bayes_model>> load(std::string_view user) override;

};

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
  rc = sqlite3_exec(s->db, kSchema, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status e = sqlite_error(s->db, rc, "create schema");
    sqlite3_exec(s->db, "ROLLBACK", nullptr, nullptr, nullptr);
    return e;
  }
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
      {"INSERT INTO bayes_tokens (user, token, nspam, nham) VALUES (?1, ?2, max(0, ?3), max(0, ?4)) "
       "ON CONFLICT (user, token) DO UPDATE SET nspam = max(0, nspam + ?3), nham = max(0, nham + ?4)",
       &s->upsert_token},
      {"DELETE FROM bayes_tokens WHERE user = ?1 AND token = ?2 AND nspam = 0 AND nham = 0", &s->drop_empty_token},
      {"SELECT nspam, nham FROM bayes_totals WHERE user = ?1", &s->select_totals},
      {"SELECT count(*) FROM bayes_tokens WHERE user = ?1", &s->count_tokens},
      {"SELECT token, nspam, nham FROM bayes_tokens WHERE user = ?1", &s->select_tokens},
  };
  for (auto& st : statements) {
    if (absl::Status e = s->prepare(st.sql, st.stmt); !e.ok()) return e;
  }
  return std::unique_ptr<bayes_backend>(std::move(s));
}

}  // namespace ringmail::spam
