// The MariaDB Bayes backend: the same storage semantics as spam/bayes/sqlite.cc (counts
// clamped at zero, emptied tokens removed), with bulk writes as multi-row
// INSERT ... ON DUPLICATE KEY UPDATE statements so a batch of thousands of tokens costs a
// handful of round trips instead of one per token.
#include "delivery/spam_store/mariadb_bayes_backend.h"

#include <mysql.h>
#include <mysqld_error.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <ctime>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "delivery/directory/mariadb_common.h"
#include "spam/bayes/bayes.h"

namespace ringmail::spam_store {
namespace {

namespace mariadb = directory::mariadb;

// utf8mb4_nopad_bin rather than utf8mb4_bin: a binary collation compares bytes, but a
// PAD SPACE one still treats "bob" and "bob " as the same key, which would merge two
// users' stores (SQLite compares TEXT keys byte for byte). DYNAMIC rows allow the 3072-byte
// keys that (user VARCHAR(320), msgid VARCHAR(255)) in utf8mb4 need.
// Counts are signed: a token first seen in a flush with a negative change is inserted
// with that change and removed or clamped right after (add_tokens).
constexpr const char* kSchema[] = {
    "CREATE TABLE IF NOT EXISTS bayes_totals ("
    " `user` VARCHAR(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,"
    " `nspam` BIGINT NOT NULL DEFAULT 0,"
    " `nham` BIGINT NOT NULL DEFAULT 0,"
    " `last_expire` BIGINT NOT NULL DEFAULT 0,"
    " PRIMARY KEY (`user`)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC",
    "CREATE TABLE IF NOT EXISTS bayes_tokens ("
    " `user` VARCHAR(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,"
    " `token` BIGINT NOT NULL,"
    " `nspam` INT NOT NULL DEFAULT 0,"
    " `nham` INT NOT NULL DEFAULT 0,"
    " `atime` BIGINT NOT NULL DEFAULT 0,"
    " PRIMARY KEY (`user`, `token`)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC",
    "CREATE TABLE IF NOT EXISTS bayes_seen ("
    " `user` VARCHAR(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,"
    " `msgid` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,"
    " `is_spam` TINYINT NOT NULL,"
    " PRIMARY KEY (`user`, `msgid`)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC",
};

// Columns added after the first release, for stores created before them: each existing
// token gets the time of the migration as its atime (its real last use is unknown; "now"
// makes it the newest rather than expiring a whole store at once). ADD COLUMN at the end
// of an InnoDB table is instant (MariaDB 10.3+), so a large store migrates at once.
struct added_column {
  const char* table;
  const char* column;
  const char* definition;  // a "%d" stands for the current time
};
constexpr added_column kAddedColumns[] = {
    {"bayes_tokens", "atime", "BIGINT NOT NULL DEFAULT %d"},
    {"bayes_totals", "last_expire", "BIGINT NOT NULL DEFAULT 0"},
};

// No index on atime: every learn rewrites the atime of the tokens it touches, and an
// index would cost each of those rows a second B-tree update; expiry runs at most once
// per 12 h per user and can scan the user's rows.

// Rows per multi-row statement, and a cap on its size (a 320-character user name is
// repeated in every row) well under the server's 16 MB max_allowed_packet.
constexpr size_t kRowsPerStatement = 1000;
constexpr size_t kMaxStatementBytes = 1 << 20;

// Strict mode on every connection whatever the server's default: a user name or msgid too
// long for its column must fail, not be truncated into someone else's key. REPEATABLE
// READ: load()'s snapshot spans two statements.
constexpr const char* kSessionSetup[] = {
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
    "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    "SET SESSION innodb_lock_wait_timeout = 10",
};

uint32_t to_count(int64_t v) {
  return static_cast<uint32_t>(std::clamp<int64_t>(v, 0, std::numeric_limits<uint32_t>::max()));
}

int64_t to_int(const char* text, unsigned long length) {
  int64_t v = 0;
  if (text != nullptr) std::from_chars(text, text + length, v);
  return v;
}

class mariadb_bayes_backend final : public spam::bayes_backend {
 public:
  mariadb_bayes_backend(directory::mariadb_config config, mariadb_bayes_options options)
      : config_(std::move(config)), options_(options) {}
  ~mariadb_bayes_backend() override {
    if (mysql_ != nullptr) mysql_close(mysql_);  // the server rolls back and frees the lock
  }
  mariadb_bayes_backend(const mariadb_bayes_backend&) = delete;
  mariadb_bayes_backend& operator=(const mariadb_bayes_backend&) = delete;

  absl::Status connect();
  absl::Status create_schema();

  absl::Status begin() override;
  absl::Status commit() override;
  void rollback() override;
  absl::StatusOr<std::optional<bool>> seen(std::string_view user, std::string_view msg_id) override;
  absl::Status record_seen(std::string_view user, std::string_view msg_id, bool is_spam) override;
  absl::Status add_totals(std::string_view user, int64_t spam, int64_t ham) override;
  absl::Status add_tokens(std::string_view user, const std::vector<spam::token_delta>& deltas, int64_t atime) override;
  absl::StatusOr<spam::token_ages> ages(std::string_view user) override;
  absl::StatusOr<std::optional<int64_t>> atime_at_rank(std::string_view user, int64_t rank) override;
  absl::StatusOr<int64_t> remove_tokens_before(std::string_view user, int64_t cutoff) override;
  absl::Status set_last_expire(std::string_view user, int64_t when) override;
  absl::StatusOr<std::shared_ptr<const spam::bayes_model>> load(std::string_view user) override;

 private:
  absl::Status run(std::string_view sql, std::string_view what);
  absl::StatusOr<std::vector<std::vector<std::string>>> select(std::string_view sql, std::string_view what);
  absl::Status error(std::string_view what);
  std::string quote(std::string_view value) { return mariadb::substitute(mysql_, "%s", value); }
  absl::Status ensure_connected();
  absl::Status write_token_rows(const std::string& user_literal, const std::vector<spam::token_delta>& rows,
                                int64_t atime);
  absl::Status fix_negative_rows(const std::string& user_literal, const std::vector<int64_t>& tokens);
  absl::Status load_into(std::string_view user, spam::bayes_model& model);
  void end_transaction(const char* how);

  directory::mariadb_config config_;
  mariadb_bayes_options options_;
  MYSQL* mysql_ = nullptr;
  bool in_transaction_ = false;
  std::string lock_literal_;  // the GET_LOCK name as a quoted SQL string
};

absl::Status mariadb_bayes_backend::connect() {
  if (mysql_ != nullptr) {
    mysql_close(mysql_);
    mysql_ = nullptr;
  }
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return absl::ResourceExhaustedError("bayes store: mysql_init failed");
  // Reads and writes get longer than the directory's 5 s: a bulk commit or a long wait for
  // the writer lock (options_.writer_wait) is a legitimate slow answer.
  unsigned connect_timeout = 5;
  unsigned io_timeout = static_cast<unsigned>(std::max<int64_t>(30, options_.writer_wait.count() + 20));
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
  mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
  mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  for (const char* sql : kSessionSetup) mysql_options(m, MYSQL_INIT_COMMAND, sql);
  const char* socket = config_.socket.empty() ? nullptr : config_.socket.c_str();
  if (mysql_real_connect(m, config_.host.c_str(), config_.user.c_str(), config_.password.c_str(),
                         config_.database.c_str(), config_.port, socket, 0) == nullptr) {
    absl::Status st = absl::UnavailableError(
        absl::StrCat("bayes store: cannot connect to ", directory::describe(config_), ": ", mysql_error(m)));
    mysql_close(m);
    return st;
  }
  mysql_ = m;
  // GET_LOCK names are server-wide (at most 64 characters): one lock per database.
  lock_literal_ = quote(absl::StrCat("ringmail.bayes.", config_.database).substr(0, 64));
  return absl::OkStatus();
}

absl::Status mariadb_bayes_backend::create_schema() {
  for (const char* sql : kSchema) {
    if (absl::Status s = run(sql, "create schema"); !s.ok()) return s;
  }
  // Looked up first rather than ALTER ... ADD COLUMN IF NOT EXISTS on every open: an ALTER
  // waits for an exclusive metadata lock, i.e. for every open transaction on the table.
  for (const added_column& c : kAddedColumns) {
    auto present = select(absl::StrCat("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                                       " AND TABLE_NAME = ", quote(c.table), " AND COLUMN_NAME = ", quote(c.column)),
                          "read schema");
    if (!present.ok()) return present.status();
    if (!present->empty() && !present->front().empty() && present->front().front() != "0") continue;
    const std::string definition =
        absl::StrReplaceAll(c.definition, {{"%d", absl::StrCat(static_cast<int64_t>(std::time(nullptr)))}});
    // IF NOT EXISTS: another server may be migrating the same table right now.
    if (absl::Status s = run(absl::StrCat("ALTER TABLE ", c.table, " ADD COLUMN IF NOT EXISTS `", c.column, "` ",
                                          definition),
                             "migrate schema");
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// A call outside a transaction may reconnect; inside one it must not, since the new
// connection would run the rest of the transaction's statements on their own.
absl::Status mariadb_bayes_backend::ensure_connected() {
  if (mysql_ != nullptr) return absl::OkStatus();
  if (in_transaction_) return absl::UnavailableError("bayes store: connection to MariaDB lost in a transaction");
  return connect();
}

absl::Status mariadb_bayes_backend::error(std::string_view what) {
  const unsigned e = mysql_errno(mysql_);
  absl::Status st = mariadb::status_of(mysql_, absl::StrCat("bayes store: ", std::string(what)));
  if (mariadb::is_connection_error(e)) {
    mysql_close(mysql_);
    mysql_ = nullptr;
  } else if (e == ER_DATA_TOO_LONG || e == ER_TRUNCATED_WRONG_VALUE_FOR_FIELD) {
    // A user name over 320 characters, a msgid over 255, or bytes that are not UTF-8.
    return absl::InvalidArgumentError(st.message());
  }
  return st;
}

absl::Status mariadb_bayes_backend::run(std::string_view sql, std::string_view what) {
  if (absl::Status s = ensure_connected(); !s.ok()) return s;
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return error(what);
  // Statements that return rows (GET_LOCK) are read and dropped.
  if (MYSQL_RES* res = mysql_store_result(mysql_)) mysql_free_result(res);
  else if (mysql_field_count(mysql_) != 0) return error(what);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::vector<std::string>>> mariadb_bayes_backend::select(std::string_view sql,
                                                                                   std::string_view what) {
  if (absl::Status s = ensure_connected(); !s.ok()) return s;
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return error(what);
  MYSQL_RES* res = mysql_store_result(mysql_);
  if (res == nullptr) return error(what);
  return mariadb::take_rows(res);
}

// Writers are serialised by a named lock, as SQLite's BEGIN IMMEDIATE serialises them:
// InnoDB's row locks alone would let two writers both read "not seen" for the same message
// and count it twice, and locking reads of absent bayes_seen rows take gap locks that
// deadlock two writers inserting into the same gap. The lock belongs to the connection,
// so a writer that dies releases it.
absl::Status mariadb_bayes_backend::begin() {
  if (in_transaction_) return absl::FailedPreconditionError("bayes store: transaction already open");
  auto got = select(absl::StrCat("SELECT GET_LOCK(", lock_literal_, ", ", options_.writer_wait.count(), ")"),
                    "wait for the writer lock");
  if (!got.ok()) return got.status();
  if (got->empty() || got->front().empty() || got->front().front() != "1") {
    return absl::UnavailableError(absl::StrCat("bayes store: another writer held the store for ",
                                               options_.writer_wait.count(), " s"));
  }
  in_transaction_ = true;
  if (absl::Status s = run("START TRANSACTION", "begin"); !s.ok()) {
    end_transaction("ROLLBACK");
    return s;
  }
  return absl::OkStatus();
}

absl::Status mariadb_bayes_backend::commit() {
  if (!in_transaction_) return absl::FailedPreconditionError("bayes store: no transaction to commit");
  absl::Status s = run("COMMIT", "commit");
  // A failed COMMIT (deadlock, lost connection) has rolled back on the server already.
  end_transaction(s.ok() ? nullptr : "ROLLBACK");
  return s;
}

void mariadb_bayes_backend::rollback() {
  if (in_transaction_) end_transaction("ROLLBACK");
}

// Ends the transaction (running `how` first unless null) and releases the writer lock; a
// lost connection did both already.
void mariadb_bayes_backend::end_transaction(const char* how) {
  if (mysql_ != nullptr && how != nullptr) (void)run(how, how);
  if (mysql_ != nullptr) (void)run(absl::StrCat("DO RELEASE_LOCK(", lock_literal_, ")"), "release the writer lock");
  in_transaction_ = false;
}

absl::StatusOr<std::optional<bool>> mariadb_bayes_backend::seen(std::string_view user, std::string_view msg_id) {
  if (absl::Status s = ensure_connected(); !s.ok()) return s;
  auto rows = select(absl::StrCat("SELECT `is_spam` FROM bayes_seen WHERE `user` = ", quote(user),
                                  " AND `msgid` = ", quote(msg_id)),
                     "select seen");
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<bool>();
  return std::optional<bool>(rows->front().front() != "0");
}

absl::Status mariadb_bayes_backend::record_seen(std::string_view user, std::string_view msg_id, bool is_spam) {
  if (absl::Status s = ensure_connected(); !s.ok()) return s;
  return run(absl::StrCat("INSERT INTO bayes_seen (`user`, `msgid`, `is_spam`) VALUES (", quote(user), ", ",
                          quote(msg_id), ", ", is_spam ? 1 : 0, ") ON DUPLICATE KEY UPDATE `is_spam` = VALUES(`is_spam`)"),
             "record seen");
}

absl::Status mariadb_bayes_backend::add_totals(std::string_view user, int64_t spam, int64_t ham) {
  if (absl::Status s = ensure_connected(); !s.ok()) return s;
  return run(absl::StrCat("INSERT INTO bayes_totals (`user`, `nspam`, `nham`) VALUES (", quote(user), ", GREATEST(0, ",
                          spam, "), GREATEST(0, ", ham, ")) ON DUPLICATE KEY UPDATE `nspam` = GREATEST(0, `nspam` + ",
                          spam, "), `nham` = GREATEST(0, `nham` + ", ham, ")"),
             "update totals");
}

// A new row takes the change as given (VALUES() must carry the raw change for the UPDATE
// branch, so it cannot be clamped there); existing rows are clamped in place. The rows a
// negative change may have made negative or empty are fixed by fix_negative_rows.
absl::Status mariadb_bayes_backend::add_tokens(std::string_view user, const std::vector<spam::token_delta>& deltas,
                                              int64_t atime) {
  if (deltas.empty()) return absl::OkStatus();
  if (absl::Status s = ensure_connected(); !s.ok()) return s;
  const std::string user_literal = quote(user);
  // In key order: B-tree inserts in order, and row locks taken in one order.
  std::vector<spam::token_delta> sorted = deltas;
  std::sort(sorted.begin(), sorted.end(), [](const spam::token_delta& a, const spam::token_delta& b) {
    return static_cast<int64_t>(a.token) < static_cast<int64_t>(b.token);
  });
  if (absl::Status s = write_token_rows(user_literal, sorted, atime); !s.ok()) return s;
  std::vector<int64_t> lowered;
  for (const spam::token_delta& d : sorted) {
    if (d.spam < 0 || d.ham < 0) lowered.push_back(static_cast<int64_t>(d.token));
  }
  return fix_negative_rows(user_literal, lowered);
}

absl::Status mariadb_bayes_backend::write_token_rows(const std::string& user_literal,
                                                     const std::vector<spam::token_delta>& rows, int64_t atime) {
  constexpr std::string_view kHead = "INSERT INTO bayes_tokens (`user`, `token`, `nspam`, `nham`, `atime`) VALUES ";
  constexpr std::string_view kTail =
      " ON DUPLICATE KEY UPDATE `nspam` = GREATEST(0, `nspam` + VALUES(`nspam`)),"
      " `nham` = GREATEST(0, `nham` + VALUES(`nham`)), `atime` = GREATEST(`atime`, VALUES(`atime`))";
  std::string sql;
  sql.reserve(std::min(kMaxStatementBytes, rows.size() * (user_literal.size() + 40)) + 256);
  size_t in_statement = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (in_statement == 0) sql.assign(kHead);
    else sql += ',';
    absl::StrAppend(&sql, "(", user_literal, ",", static_cast<int64_t>(rows[i].token), ",", rows[i].spam, ",",
                    rows[i].ham, ",", atime, ")");
    ++in_statement;
    if (in_statement == kRowsPerStatement || sql.size() >= kMaxStatementBytes || i + 1 == rows.size()) {
      sql += kTail;
      if (absl::Status s = run(sql, "update tokens"); !s.ok()) return s;
      in_statement = 0;
    }
  }
  return absl::OkStatus();
}

// After write_token_rows only rows created with a negative change can hold a negative
// count, and only rows that had a negative change can have reached zero in both: delete
// the empty ones and clamp the rest, as SQLite's max(0, ...) on insert does.
absl::Status mariadb_bayes_backend::fix_negative_rows(const std::string& user_literal,
                                                      const std::vector<int64_t>& tokens) {
  for (size_t start = 0; start < tokens.size(); start += kRowsPerStatement) {
    std::string list;
    const size_t end = std::min(tokens.size(), start + kRowsPerStatement);
    for (size_t i = start; i < end; ++i) absl::StrAppend(&list, i == start ? "" : ",", tokens[i]);
    const std::string where = absl::StrCat(" WHERE `user` = ", user_literal, " AND `token` IN (", list, ")");
    if (absl::Status s = run(absl::StrCat("DELETE FROM bayes_tokens", where, " AND `nspam` <= 0 AND `nham` <= 0"),
                             "drop emptied tokens");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = run(absl::StrCat("UPDATE bayes_tokens SET `nspam` = GREATEST(0, `nspam`),"
                                          " `nham` = GREATEST(0, `nham`)",
                                          where, " AND (`nspam` < 0 OR `nham` < 0)"),
                             "clamp tokens");
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<spam::token_ages> mariadb_bayes_backend::ages(std::string_view user) {
  const std::string user_literal = quote(user);
  spam::token_ages out;
  auto tokens = select(absl::StrCat("SELECT COUNT(*), MIN(`atime`), MAX(`atime`) FROM bayes_tokens WHERE `user` = ",
                                    user_literal),
                       "token ages");
  if (!tokens.ok()) return tokens.status();
  if (!tokens->empty()) {
    const auto& row = tokens->front();  // MIN/MAX of no rows are NULL: read as 0
    out.tokens = to_int(row[0].data(), row[0].size());
    out.oldest_atime = to_int(row[1].data(), row[1].size());
    out.newest_atime = to_int(row[2].data(), row[2].size());
  }
  auto last = select(absl::StrCat("SELECT `last_expire` FROM bayes_totals WHERE `user` = ", user_literal),
                     "last expire");
  if (!last.ok()) return last.status();
  if (!last->empty()) out.last_expire = to_int(last->front()[0].data(), last->front()[0].size());
  return out;
}

absl::StatusOr<std::optional<int64_t>> mariadb_bayes_backend::atime_at_rank(std::string_view user, int64_t rank) {
  auto rows = select(absl::StrCat("SELECT `atime` FROM bayes_tokens WHERE `user` = ", quote(user),
                                  " ORDER BY `atime` LIMIT 1 OFFSET ", std::max<int64_t>(0, rank)),
                     "atime at rank");
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(to_int(rows->front()[0].data(), rows->front()[0].size()));
}

absl::StatusOr<int64_t> mariadb_bayes_backend::remove_tokens_before(std::string_view user, int64_t cutoff) {
  if (absl::Status s = run(absl::StrCat("DELETE FROM bayes_tokens WHERE `user` = ", quote(user), " AND `atime` < ", cutoff),
                           "expire tokens");
      !s.ok()) {
    return s;
  }
  return static_cast<int64_t>(mysql_affected_rows(mysql_));
}

absl::Status mariadb_bayes_backend::set_last_expire(std::string_view user, int64_t when) {
  return run(absl::StrCat("INSERT INTO bayes_totals (`user`, `last_expire`) VALUES (", quote(user), ", ", when,
                          ") ON DUPLICATE KEY UPDATE `last_expire` = VALUES(`last_expire`)"),
             "set last expire");
}

// One read-only transaction with a consistent snapshot: the totals and the tokens are
// from the same moment, and a writer learning meanwhile is neither seen nor waited for.
absl::StatusOr<std::shared_ptr<const spam::bayes_model>> mariadb_bayes_backend::load(std::string_view user) {
  if (in_transaction_) return absl::FailedPreconditionError("bayes store: load inside a write transaction");
  if (absl::Status s = run("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", "begin read"); !s.ok()) return s;
  auto model = std::make_shared<spam::bayes_model>();
  absl::Status s = load_into(user, *model);
  if (mysql_ != nullptr) {
    absl::Status end = run(s.ok() ? "COMMIT" : "ROLLBACK", "end read");
    if (s.ok()) s = end;
  }
  if (!s.ok()) return s;
  return std::shared_ptr<const spam::bayes_model>(std::move(model));
}

absl::Status mariadb_bayes_backend::load_into(std::string_view user, spam::bayes_model& model) {
  const std::string user_literal = quote(user);
  auto totals = select(absl::StrCat("SELECT `nspam`, `nham` FROM bayes_totals WHERE `user` = ", user_literal),
                       "select totals");
  if (!totals.ok()) return totals.status();
  if (!totals->empty()) {
    const auto& row = totals->front();
    model.spam_messages = to_count(to_int(row[0].data(), row[0].size()));
    model.ham_messages = to_count(to_int(row[1].data(), row[1].size()));
  }
  // Streamed row by row (mysql_use_result): a global store can hold millions of tokens,
  // and a stored result would hold them all a second time in client memory.
  const std::string sql =
      absl::StrCat("SELECT `token`, `nspam`, `nham` FROM bayes_tokens WHERE `user` = ", user_literal);
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return error("select tokens");
  MYSQL_RES* res = mysql_use_result(mysql_);
  if (res == nullptr) return error("select tokens");
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    const unsigned long* len = mysql_fetch_lengths(res);
    model.tokens[static_cast<uint64_t>(to_int(row[0], len[0]))] =
        spam::token_counts{to_count(to_int(row[1], len[1])), to_count(to_int(row[2], len[2]))};
  }
  // The result is freed before error() may close the connection under it.
  const unsigned e = mysql_errno(mysql_);
  absl::Status st = e == 0 ? absl::OkStatus() : mariadb::status_of(mysql_, "bayes store: read tokens");
  mysql_free_result(res);
  if (e != 0 && mariadb::is_connection_error(e)) {
    mysql_close(mysql_);
    mysql_ = nullptr;
  }
  return st;
}

}  // namespace

absl::StatusOr<std::unique_ptr<spam::bayes_backend>> open_mariadb_bayes_backend(const directory::mariadb_config& config,
                                                                                 const mariadb_bayes_options& options) {
  auto backend = std::make_unique<mariadb_bayes_backend>(config, options);
  if (absl::Status s = backend->connect(); !s.ok()) return s;
  if (absl::Status s = backend->create_schema(); !s.ok()) return s;
  return std::unique_ptr<spam::bayes_backend>(std::move(backend));
}

}  // namespace ringmail::spam_store
