// The Bayes token store in SQLite, in the shape of SpamAssassin's BayesStore/SQL.pm
// (bayes_vars / bayes_token / bayes_seen per user) reduced to what we use: no atime and no
// expiry yet, tokens are 64-bit hashes rather than 40-bit SHA-1 prefixes.
//
// One connection, serialised by a mutex: learning and loading are rare and run on the
// offload pool or in tools; the scanner classifies against a loaded bayes_model.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "spam/bayes.h"

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

// Token deltas are summed in memory per batch; past this many distinct (user, token)
// entries (about 100 MB) they are written out early, inside the same transaction.
constexpr size_t kMaxPendingTokens = 2'000'000;

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

}  // namespace

struct bayes_store::impl {
  sqlite3* db = nullptr;
  std::mutex mutex;  // one user of the connection at a time
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* rollback = nullptr;
  sqlite3_stmt* begin_read = nullptr;
  sqlite3_stmt* select_seen = nullptr;
  sqlite3_stmt* put_seen = nullptr;
  sqlite3_stmt* add_totals = nullptr;
  sqlite3_stmt* add_token = nullptr;
  sqlite3_stmt* drop_empty_token = nullptr;
  sqlite3_stmt* select_totals = nullptr;
  sqlite3_stmt* count_tokens = nullptr;
  sqlite3_stmt* select_tokens = nullptr;

  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  ~impl() {
    for (sqlite3_stmt* s : {begin, commit, rollback, begin_read, select_seen, put_seen, add_totals, add_token,
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
};

namespace {

// The pending changes of one batch for one user.
struct user_delta {
  int64_t spam = 0;
  int64_t ham = 0;
  absl::flat_hash_map<uint64_t, std::pair<int32_t, int32_t>> tokens;  // token -> (dspam, dham)
};

class sqlite_batch final : public bayes_store::batch {
 public:
  sqlite_batch(bayes_store::impl& store, std::unique_lock<std::mutex> lock) : store_(store), lock_(std::move(lock)) {}

  ~sqlite_batch() override {
    if (open_) (void)store_.run(store_.rollback, "rollback");
  }

  absl::Status start() {
    if (absl::Status s = store_.run(store_.begin, "begin"); !s.ok()) return s;
    open_ = true;
    return absl::OkStatus();
  }

  absl::Status learn(std::string_view user, std::string_view msg_id, const std::vector<uint64_t>& tokens,
                     bool is_spam) override {
    if (!open_) return absl::FailedPreconditionError("bayes store: batch already committed");
    if (!failed_.ok()) return failed_;
    absl::Status s = learn_one(user, msg_id, tokens, is_spam);
    // A failure may leave this message half-recorded (seen row vs summed counts): the
    // batch refuses to go on or commit, and rolls back when destroyed.
    if (!s.ok()) failed_ = s;
    return s;
  }

  absl::Status commit() override {
    if (!open_) return absl::FailedPreconditionError("bayes store: batch already committed");
    if (!failed_.ok()) return failed_;
    if (absl::Status s = flush(); !s.ok()) {
      failed_ = s;
      return s;
    }
    if (absl::Status s = store_.run(store_.commit, "commit"); !s.ok()) {
      failed_ = s;
      return s;
    }
    open_ = false;
    lock_.unlock();
    return absl::OkStatus();
  }

 private:
  absl::Status learn_one(std::string_view user, std::string_view msg_id, const std::vector<uint64_t>& tokens,
                         bool is_spam) {
    // sa-learn semantics (Plugin/Bayes.pm _learn_trapped): seen the same way -> nothing
    // to do; seen the other way -> forget it first.
    int previous = -1;
    {
      statement_use q(store_.select_seen);
      q.bind(1, user);
      q.bind(2, msg_id);
      int rc = q.step();
      if (rc == SQLITE_ROW) previous = q.column(0) != 0 ? 1 : 0;
      else if (rc != SQLITE_DONE) return sqlite_error(store_.db, rc, "select seen");
    }
    if (previous == (is_spam ? 1 : 0)) return absl::OkStatus();

    user_delta& d = pending_[std::string(user)];
    if (previous >= 0) add(d, tokens, previous == 1, -1);
    add(d, tokens, is_spam, +1);
    {
      statement_use q(store_.put_seen);
      q.bind(1, user);
      q.bind(2, msg_id);
      q.bind(3, int64_t{is_spam ? 1 : 0});
      int rc = q.step();
      if (rc != SQLITE_DONE) return sqlite_error(store_.db, rc, "record seen");
    }
    pending_tokens_ += tokens.size();
    if (pending_tokens_ >= kMaxPendingTokens) return flush();
    return absl::OkStatus();
  }

  static void add(user_delta& d, const std::vector<uint64_t>& tokens, bool spam, int sign) {
    (spam ? d.spam : d.ham) += sign;
    for (uint64_t t : tokens) {
      auto& [ds, dh] = d.tokens[t];
      (spam ? ds : dh) += sign;
    }
  }

  // Writes the summed deltas. Counts never go below zero (a message unlearned after the
  // tokenizer changed may subtract tokens it never added; SA clamps the same way), and a
  // token row whose counts both reach zero is deleted.
  absl::Status flush() {
    for (auto& [user, d] : pending_) {
      if (d.spam != 0 || d.ham != 0) {
        statement_use q(store_.add_totals);
        q.bind(1, user);
        q.bind(2, d.spam);
        q.bind(3, d.ham);
        if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_error(store_.db, rc, "update totals");
      }
      for (const auto& [token, delta] : d.tokens) {
        const auto [ds, dh] = delta;
        if (ds == 0 && dh == 0) continue;
        {
          statement_use q(store_.add_token);
          q.bind(1, user);
          q.bind(2, static_cast<int64_t>(token));
          q.bind(3, int64_t{ds});
          q.bind(4, int64_t{dh});
          if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_error(store_.db, rc, "update token");
        }
        if (ds < 0 || dh < 0) {
          statement_use q(store_.drop_empty_token);
          q.bind(1, user);
          q.bind(2, static_cast<int64_t>(token));
          if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_error(store_.db, rc, "drop token");
        }
      }
    }
    pending_.clear();
    pending_tokens_ = 0;
    return absl::OkStatus();
  }

  bayes_store::impl& store_;
  std::unique_lock<std::mutex> lock_;
  bool open_ = false;
  absl::Status failed_;
  absl::flat_hash_map<std::string, user_delta> pending_;
  size_t pending_tokens_ = 0;
};

}  // namespace

bayes_store::bayes_store(std::unique_ptr<impl> impl) : impl_(std::move(impl)) {}
bayes_store::~bayes_store() = default;

absl::StatusOr<std::unique_ptr<bayes_store>> bayes_store::open(const std::string& sqlite_path) {
  auto s = std::make_unique<impl>();
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
      {"BEGIN IMMEDIATE", &s->begin},
      {"COMMIT", &s->commit},
      {"ROLLBACK", &s->rollback},
      {"BEGIN", &s->begin_read},
      {"SELECT is_spam FROM bayes_seen WHERE user = ?1 AND msgid = ?2", &s->select_seen},
      {"INSERT INTO bayes_seen (user, msgid, is_spam) VALUES (?1, ?2, ?3) "
       "ON CONFLICT (user, msgid) DO UPDATE SET is_spam = excluded.is_spam",
       &s->put_seen},
      {"INSERT INTO bayes_totals (user, nspam, nham) VALUES (?1, max(0, ?2), max(0, ?3)) "
       "ON CONFLICT (user) DO UPDATE SET nspam = max(0, nspam + ?2), nham = max(0, nham + ?3)",
       &s->add_totals},
      {"INSERT INTO bayes_tokens (user, token, nspam, nham) VALUES (?1, ?2, max(0, ?3), max(0, ?4)) "
       "ON CONFLICT (user, token) DO UPDATE SET nspam = max(0, nspam + ?3), nham = max(0, nham + ?4)",
       &s->add_token},
      {"DELETE FROM bayes_tokens WHERE user = ?1 AND token = ?2 AND nspam = 0 AND nham = 0", &s->drop_empty_token},
      {"SELECT nspam, nham FROM bayes_totals WHERE user = ?1", &s->select_totals},
      {"SELECT count(*) FROM bayes_tokens WHERE user = ?1", &s->count_tokens},
      {"SELECT token, nspam, nham FROM bayes_tokens WHERE user = ?1", &s->select_tokens},
  };
  for (auto& st : statements) {
    if (absl::Status e = s->prepare(st.sql, st.stmt); !e.ok()) return e;
  }
  return std::unique_ptr<bayes_store>(new bayes_store(std::move(s)));
}

absl::StatusOr<std::unique_ptr<bayes_store::batch>> bayes_store::begin_batch() {
  auto b = std::make_unique<sqlite_batch>(*impl_, std::unique_lock<std::mutex>(impl_->mutex));
  if (absl::Status s = b->start(); !s.ok()) return s;
  return std::unique_ptr<batch>(std::move(b));
}

absl::Status bayes_store::learn(std::string_view user, std::string_view msg_id, const std::vector<uint64_t>& tokens,
                                bool is_spam) {
  absl::StatusOr<std::unique_ptr<batch>> b = begin_batch();
  if (!b.ok()) return b.status();
  if (absl::Status s = (*b)->learn(user, msg_id, tokens, is_spam); !s.ok()) return s;
  return (*b)->commit();
}

absl::StatusOr<std::shared_ptr<const bayes_model>> bayes_store::load(std::string_view user) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl& s = *impl_;
  // One read transaction: totals and tokens from the same snapshot.
  if (absl::Status e = s.run(s.begin_read, "begin"); !e.ok()) return e;
  struct end_read {
    impl& s;
    ~end_read() { (void)s.run(s.commit, "end read"); }
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

}  // namespace ringmail::spam
