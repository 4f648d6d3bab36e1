#include "delivery/directory/sqlite_store.h"

#include <sqlite3.h>

#include <initializer_list>
#include <utility>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "delivery/directory/address.h"
#include "runtime/log.h"

namespace ringmail::directory {
namespace {

// The ISPmail schema (as in the guide's MariaDB tables), in SQLite's dialect. The extra
// domain_id indexes keep ON DELETE CASCADE from scanning the child tables.
constexpr const char* kSchema = R"sql(
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS virtual_domains (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS virtual_users (
  id INTEGER PRIMARY KEY,
  domain_id INTEGER NOT NULL REFERENCES virtual_domains(id) ON DELETE CASCADE,
  email TEXT NOT NULL UNIQUE,
  password TEXT NOT NULL,
  quota INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS virtual_aliases (
  id INTEGER PRIMARY KEY,
  domain_id INTEGER NOT NULL REFERENCES virtual_domains(id) ON DELETE CASCADE,
  source TEXT NOT NULL,
  destination TEXT NOT NULL,
  UNIQUE (source, destination)
);
CREATE INDEX IF NOT EXISTS virtual_aliases_source ON virtual_aliases(source);
CREATE INDEX IF NOT EXISTS virtual_aliases_destination ON virtual_aliases(destination);
CREATE INDEX IF NOT EXISTS virtual_aliases_domain_id ON virtual_aliases(domain_id);
CREATE INDEX IF NOT EXISTS virtual_users_domain_id ON virtual_users(domain_id);
COMMIT;
)sql";

// A password hash is opaque to us, but it is one line of printable text in every scheme
// Dovecot knows; anything else is a caller's mistake.
constexpr size_t kMaxPasswordHash = 1024;

using param = std::variant<std::string_view, int64_t>;

// "Cannot answer now": the database is busy, locked, unreadable, full, gone, or not a
// database. Everything that a retry (or an operator) can fix without changing the call.
bool means_unavailable(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_READONLY:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_NOLFS:
    case SQLITE_INTERRUPT:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_SCHEMA:
      return true;
    default:
      return false;
  }
}

absl::Status sqlite_status(sqlite3* db, int rc, const char* what) {
  std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string kind = sqlite3_errstr(rc);
  std::string message = absl::StrCat("sqlite: ", what, ": ", detail, detail == kind ? "" : absl::StrCat(" (", kind, ")"));
  if (means_unavailable(rc)) return absl::UnavailableError(message);
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) return absl::AlreadyExistsError(message);
  return absl::InternalError(message);
}

// A lookup that fails for any reason is a temporary failure (store.h): never let an
// InternalError from a broken custom query read as anything a caller might bounce on.
absl::Status lookup_failure(const absl::Status& s) {
  if (absl::IsUnavailable(s)) return s;
  return absl::UnavailableError(absl::StrCat("directory lookup failed: ", s.message()));
}

std::string column_text(sqlite3_stmt* stmt, int i) {
  const unsigned char* p = sqlite3_column_text(stmt, i);
  if (p == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
}

std::string to_bound_parameter(std::string query) {
  query = absl::StrReplaceAll(query, {{"'%s'", "?1"}, {"\"%s\"", "?1"}});
  return absl::StrReplaceAll(query, {{"%s", "?1"}});
}

absl::Status check_password_hash(std::string_view hash) {
  if (hash.empty()) return absl::InvalidArgumentError("empty password hash");
  if (hash.size() > kMaxPasswordHash) return absl::InvalidArgumentError("password hash longer than 1024 octets");
  for (unsigned char c : hash) {
    if (c < 0x20 || c == 0x7f) return absl::InvalidArgumentError("password hash contains a control character");
  }
  return absl::OkStatus();
}

absl::Status check_quota(int64_t quota_bytes) {
  if (quota_bytes < 0) return absl::InvalidArgumentError("quota must be 0 (unlimited) or positive");
  return absl::OkStatus();
}

// A mailbox address: normalised, and without a +detail — the resolver strips the detail
// before it looks a recipient up, so "john+x@…" could never receive mail as a user or
// be matched as an alias source.
absl::StatusOr<address> parse_user_email(std::string_view email) {
  absl::StatusOr<address> a = parse_address(email);
  if (!a.ok()) return a.status();
  if (!a->detail.empty()) return absl::InvalidArgumentError("a mailbox address cannot carry a +detail");
  return a;
}

struct alias_key {
  std::string source;  // "john@example.org" or "@example.org"
  std::string domain;  // the source's domain, which must be ours
};

absl::StatusOr<alias_key> parse_alias_source(std::string_view text) {
  if (!text.empty() && text.front() == '@') {
    absl::StatusOr<std::string> domain = parse_catch_all(text);
    if (!domain.ok()) return domain.status();
    return alias_key{absl::StrCat("@", *domain), *domain};
  }
  absl::StatusOr<address> a = parse_address(text);
  if (!a.ok()) return a.status();
  if (!a->detail.empty()) return absl::InvalidArgumentError("an alias source cannot carry a +detail");
  return alias_key{a->full(), a->domain};
}

// Destinations are full addresses, ours or remote, kept whole ("john+lists@x" delivers
// with detail "lists"; a remote "bob+tag@y" is theirs to read); "@domain" is not one.
absl::StatusOr<std::string> parse_alias_destination(std::string_view text) {
  absl::StatusOr<address> a = parse_address(text, '\0');
  if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat("alias destination: ", a.status().message()));
  return a->full();
}

}  // namespace

// One SQLite connection and its prepared statements. Used by one thread at a time (the
// one holding its lease).
struct sqlite_store::connection {
  sqlite3* db = nullptr;
  absl::flat_hash_map<std::string, sqlite3_stmt*> statements;

  connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() {
    for (auto& [sql, stmt] : statements) sqlite3_finalize(stmt);
    sqlite3_close(db);
  }

  static absl::StatusOr<std::unique_ptr<connection>> open(const std::string& path, const sqlite_options& options) {
    auto c = std::make_unique<connection>();
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_EXRESCODE
    flags |= SQLITE_OPEN_EXRESCODE;
#endif
    int rc = sqlite3_open_v2(path.c_str(), &c->db, flags, nullptr);
    if (rc != SQLITE_OK) {
      // CANTOPEN and friends: the file cannot be reached, which is "cannot answer".
      absl::Status s = sqlite_status(c->db, rc, "open");
      return absl::UnavailableError(absl::StrCat(s.message(), " path=", path));
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, static_cast<int>(options.busy_timeout.count()));
    rc = sqlite3_exec(c->db, "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return sqlite_status(c->db, rc, "PRAGMA foreign_keys");
    return c;
  }

  // Prepared once per connection and kept; SQLite re-prepares it itself after a schema
  // change. A failed prepare is not cached (the table may appear with ensure_schema).
  absl::StatusOr<sqlite3_stmt*> prepare(const std::string& sql) {
    if (auto it = statements.find(sql); it != statements.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) return sqlite_status(db, rc, "prepare");
    if (stmt == nullptr) return absl::InvalidArgumentError(absl::StrCat("sqlite: empty query: ", sql));
    if (tail != nullptr && std::string_view(tail).find_first_not_of(" \t\r\n;") != std::string_view::npos) {
      sqlite3_finalize(stmt);
      return absl::InvalidArgumentError(absl::StrCat("sqlite: query holds more than one statement: ", sql));
    }
    statements.emplace(sql, stmt);
    return stmt;
  }

  // Runs `sql` with `params` bound as ?1, ?2, … (as many as the statement has) and calls
  // on_row(stmt) for each row. Resets the statement whatever happens.
  template <typename F>
  absl::Status run(const std::string& sql, std::initializer_list<param> params, F&& on_row) {
    absl::StatusOr<sqlite3_stmt*> prepared = prepare(sql);
    if (!prepared.ok()) return prepared.status();
    sqlite3_stmt* stmt = *prepared;
    struct reset_guard {
      sqlite3_stmt* s;
      ~reset_guard() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } guard{stmt};
    int wanted = sqlite3_bind_parameter_count(stmt);
    int index = 1;
    for (const param& p : params) {
      if (index > wanted) break;
      int rc;
      if (const auto* text = std::get_if<std::string_view>(&p)) {
        // A null pointer would bind SQL NULL: an empty key is still the empty string.
        const char* data = text->empty() ? "" : text->data();
        rc = sqlite3_bind_text(stmt, index, data, static_cast<int>(text->size()), SQLITE_TRANSIENT);
      } else {
        rc = sqlite3_bind_int64(stmt, index, std::get<int64_t>(p));
      }
      if (rc != SQLITE_OK) return sqlite_status(db, rc, "bind");
      ++index;
    }
    for (;;) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) return absl::OkStatus();
      if (rc != SQLITE_ROW) return sqlite_status(db, rc, "step");
      if (absl::Status s = on_row(stmt); !s.ok()) return s;
    }
  }

  // Runs a statement that returns no rows; returns the number of rows it changed.
  absl::StatusOr<int> change(const std::string& sql, std::initializer_list<param> params) {
    absl::Status s = run(sql, params, [](sqlite3_stmt*) { return absl::OkStatus(); });
    if (!s.ok()) return s;
    return sqlite3_changes(db);
  }
};

// A borrowed connection, given back to the pool when the lease ends.
class sqlite_store::lease {
 public:
  lease(sqlite_store* owner, std::unique_ptr<connection> c) : owner_(owner), c_(std::move(c)) {}
  lease(lease&& other) noexcept = default;
  lease& operator=(lease&&) = delete;
  ~lease() {
    if (c_ != nullptr) owner_->give_back(std::move(c_));
  }
  connection* operator->() const { return c_.get(); }
  connection& operator*() const { return *c_; }

 private:
  sqlite_store* owner_;
  std::unique_ptr<connection> c_;
};

sqlite_store::sqlite_store(std::string path, lookup_queries queries, sqlite_options options)
    : path_(std::move(path)), queries_(std::move(queries)), options_(options) {}

sqlite_store::~sqlite_store() = default;

absl::StatusOr<std::unique_ptr<sqlite_store>> sqlite_store::open(const std::string& path, lookup_queries queries,
                                                                 sqlite_options options) {
  if (path.empty() || path == ":memory:" || path.rfind("file::memory:", 0) == 0) {
    return absl::InvalidArgumentError("sqlite_store needs a database file (each pooled connection opens the path)");
  }
  if (sqlite3_threadsafe() == 0) {
    return absl::FailedPreconditionError("libsqlite3 was built without thread support (SQLITE_THREADSAFE=0)");
  }
  queries.domain = to_bound_parameter(std::move(queries.domain));
  queries.user = to_bound_parameter(std::move(queries.user));
  queries.alias = to_bound_parameter(std::move(queries.alias));
  queries.sender = to_bound_parameter(std::move(queries.sender));
  std::unique_ptr<sqlite_store> s(new sqlite_store(path, std::move(queries), options));

  absl::StatusOr<std::unique_ptr<connection>> first = connection::open(path, options);
  if (!first.ok()) return first.status();
  // WAL is a property of the file, so setting it once is enough for every connection.
  // This is also the first read of the file: a file that is not a database fails here.
  std::string mode;
  absl::Status wal = (*first)->run("PRAGMA journal_mode = WAL", {}, [&](sqlite3_stmt* stmt) {
    mode = column_text(stmt, 0);
    return absl::OkStatus();
  });
  if (!wal.ok()) return lookup_failure(wal);
  if (mode != "wal") log::warn("directory_sqlite_no_wal", {{"path", path}, {"journal_mode", mode}});
  s->give_back(std::move(*first));
  return s;
}

absl::StatusOr<sqlite_store::lease> sqlite_store::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<connection> c = std::move(idle_.back());
      idle_.pop_back();
      return lease(this, std::move(c));
    }
  }
  // Opening takes a few hundred microseconds: not under the lock.
  absl::StatusOr<std::unique_ptr<connection>> c = connection::open(path_, options_);
  if (!c.ok()) return c.status();
  return lease(this, std::move(*c));
}

void sqlite_store::give_back(std::unique_ptr<connection> c) {
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(c));
}

absl::Status sqlite_store::ensure_schema() {
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return c.status();
  char* error = nullptr;
  int rc = sqlite3_exec((*c)->db, kSchema, nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    if (!sqlite3_get_autocommit((*c)->db)) sqlite3_exec((*c)->db, "ROLLBACK", nullptr, nullptr, nullptr);
    std::string text = absl::StrCat("sqlite: creating the schema: ", message, " (", sqlite3_errstr(rc), ")");
    if (means_unavailable(rc)) return absl::UnavailableError(text);
    return absl::InternalError(text);
  }
  return absl::OkStatus();
}

// ---- lookups ----------------------------------------------------------------------------

absl::StatusOr<bool> sqlite_store::has_domain(std::string_view domain) {
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return lookup_failure(c.status());
  bool found = false;
  absl::Status s = (*c)->run(queries_.domain, {domain}, [&](sqlite3_stmt*) {
    found = true;
    return absl::OkStatus();
  });
  if (!s.ok()) return lookup_failure(s);
  return found;
}

absl::StatusOr<std::optional<user_record>> sqlite_store::find_user(std::string_view email) {
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return lookup_failure(c.status());
  std::optional<user_record> user;
  absl::Status s = (*c)->run(queries_.user, {email}, [&](sqlite3_stmt* stmt) {
    if (user.has_value()) return absl::OkStatus();  // email is UNIQUE; a custom query may not be
    if (sqlite3_column_count(stmt) < 5) {
      return absl::InternalError("user query must return id, domain_id, email, password, quota");
    }
    user_record u;
    u.id = sqlite3_column_int64(stmt, 0);
    u.domain_id = sqlite3_column_int64(stmt, 1);
    u.email = column_text(stmt, 2);
    u.password = column_text(stmt, 3);
    u.quota_bytes = sqlite3_column_int64(stmt, 4);
    user = std::move(u);
    return absl::OkStatus();
  });
  if (!s.ok()) return lookup_failure(s);
  return user;
}

absl::StatusOr<std::vector<std::string>> sqlite_store::alias_destinations(std::string_view source) {
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return lookup_failure(c.status());
  std::vector<std::string> out;
  absl::Status s = (*c)->run(queries_.alias, {source}, [&](sqlite3_stmt* stmt) {
    // Postfix reads "a@x, b@y" in one row as two destinations; so do we.
    std::string row = column_text(stmt, 0);
    for (absl::string_view part : absl::StrSplit(row, absl::ByAnyChar(", \t\r\n"), absl::SkipEmpty())) {
      out.emplace_back(part.data(), part.size());
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return lookup_failure(s);
  return out;
}

absl::StatusOr<std::vector<std::string>> sqlite_store::alias_sources_for(std::string_view destination) {
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return lookup_failure(c.status());
  std::vector<std::string> out;
  absl::Status s = (*c)->run(queries_.sender, {destination}, [&](sqlite3_stmt* stmt) {
    out.push_back(column_text(stmt, 0));
    return absl::OkStatus();
  });
  if (!s.ok()) return lookup_failure(s);
  return out;
}

// ---- administration ---------------------------------------------------------------------

absl::StatusOr<std::vector<domain_record>> sqlite_store::list_domains() {
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return c.status();
  std::vector<domain_record> out;
  absl::Status s = (*c)->run("SELECT id, name FROM virtual_domains ORDER BY name", {}, [&](sqlite3_stmt* stmt) {
    out.push_back(domain_record{sqlite3_column_int64(stmt, 0), column_text(stmt, 1)});
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status sqlite_store::add_domain(std::string_view name) {
  absl::StatusOr<std::string> domain = parse_domain(name);
  if (!domain.ok()) return domain.status();
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return c.status();
  absl::StatusOr<int> changed = (*c)->change("INSERT INTO virtual_domains (name) VALUES (?1)", {*domain});
  if (absl::IsAlreadyExists(changed.status())) {
    return absl::AlreadyExistsError(absl::StrCat("domain ", *domain, " already exists"));
  }
  return changed.status();
}

absl::Status sqlite_store::delete_domain(std::string_view name) {
  absl::StatusOr<std::string> domain = parse_domain(name);
  if (!domain.ok()) return domain.status();
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return c.status();
  // The domain's users and aliases go with it (ON DELETE CASCADE, foreign_keys=ON).
  absl::StatusOr<int> changed = (*c)->change("DELETE FROM virtual_domains WHERE name = ?1", {*domain});
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return absl::NotFoundError(absl::StrCat("domain ", *domain, " not found"));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<user_record>> sqlite_store::list_users(std::string_view domain) {
  std::string name;
  if (!domain.empty()) {
    absl::StatusOr<std::string> parsed = parse_domain(domain);
    if (!parsed.ok()) return parsed.status();
    name = std::move(*parsed);
  }
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return c.status();
  std::vector<user_record> out;
  auto on_row = [&](sqlite3_stmt* stmt) {
    out.push_back(user_record{sqlite3_column_int64(stmt, 0), sqlite3_column_int64(stmt, 1), column_text(stmt, 2),
                              column_text(stmt, 3), sqlite3_column_int64(stmt, 4)});
    return absl::OkStatus();
  };
  // An unknown domain lists nothing: store.h makes "found nothing" an empty answer.
  absl::Status s =
      name.empty()
          ? (*c)->run("SELECT id, domain_id, email, password, quota FROM virtual_users ORDER BY email", {}, on_row)
          : (*c)->run(
                "SELECT u.id, u.domain_id, u.email, u.password, u.quota FROM virtual_users u "
                "JOIN virtual_domains d ON d.id = u.domain_id WHERE d.name = ?1 ORDER BY u.email",
                {name}, on_row);
  if (!s.ok()) return s;
  return out;
}

absl::Status sqlite_store::add_user(std::string_view email, std::string_view password_hash, int64_t quota_bytes) {
  absl::StatusOr<address> user = parse_user_email(email);
  if (!user.ok()) return user.status();
  if (absl::Status s = check_password_hash(password_hash); !s.ok()) return s;
  if (absl::Status s = check_quota(quota_bytes); !s.ok()) return s;
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return c.status();
  std::string key = user->full();
  // One statement: the domain cannot vanish between finding its id and the insert.
  absl::StatusOr<int> changed = (*c)->change(
      "INSERT INTO virtual_users (domain_id, email, password, quota) "
      "SELECT id, ?2, ?3, ?4 FROM virtual_domains WHERE name = ?1",
      {user->domain, key, password_hash, quota_bytes});
  if (absl::IsAlreadyExists(changed.status())) {
    return absl::AlreadyExistsError(absl::StrCat("user ", key, " already exists"));
  }
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return absl::NotFoundError(absl::StrCat("domain ", user->domain, " not found"));
  return absl::OkStatus();
}

absl::Status sqlite_store::delete_user(std::string_view email) {
  absl::StatusOr<address> user = parse_user_email(email);
  if (!user.ok()) return user.status();
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return c.status();
  std::string key = user->full();
  absl::StatusOr<int> changed = (*c)->change("DELETE FROM virtual_users WHERE email = ?1", {key});
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return absl::NotFoundError(absl::StrCat("user ", key, " not found"));
  return absl::OkStatus();
}

absl::Status sqlite_store::set_password(std::string_view email, std::string_view password_hash) {
  absl::StatusOr<address> user = parse_user_email(email);
  if (!user.ok()) return user.status();
  if (absl::Status s = check_password_hash(password_hash); !s.ok()) return s;
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return c.status();
  std::string key = user->full();
  absl::StatusOr<int> changed =
      (*c)->change("UPDATE virtual_users SET password = ?2 WHERE email = ?1", {key, password_hash});
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return absl::NotFoundError(absl::StrCat("user ", key, " not found"));
  return absl::OkStatus();
}

absl::Status sqlite_store::set_quota(std::string_view email, int64_t quota_bytes) {
  absl::StatusOr<address> user = parse_user_email(email);
  if (!user.ok()) return user.status();
  if (absl::Status s = check_quota(quota_bytes); !s.ok()) return s;
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return c.status();
  std::string key = user->full();
  absl::StatusOr<int> changed = (*c)->change("UPDATE virtual_users SET quota = ?2 WHERE email = ?1", {key, quota_bytes});
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return absl::NotFoundError(absl::StrCat("user ", key, " not found"));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<alias_record>> sqlite_store::list_aliases(std::string_view domain) {
  std::string name;
  if (!domain.empty()) {
    absl::StatusOr<std::string> parsed = parse_domain(domain);
    if (!parsed.ok()) return parsed.status();
    name = std::move(*parsed);
  }
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return c.status();
  std::vector<alias_record> out;
  auto on_row = [&](sqlite3_stmt* stmt) {
    out.push_back(alias_record{sqlite3_column_int64(stmt, 0), sqlite3_column_int64(stmt, 1), column_text(stmt, 2),
                               column_text(stmt, 3)});
    return absl::OkStatus();
  };
  absl::Status s =
      name.empty()
          ? (*c)->run("SELECT id, domain_id, source, destination FROM virtual_aliases ORDER BY source, destination", {},
                      on_row)
          : (*c)->run(
                "SELECT a.id, a.domain_id, a.source, a.destination FROM virtual_aliases a "
                "JOIN virtual_domains d ON d.id = a.domain_id WHERE d.name = ?1 ORDER BY a.source, a.destination",
                {name}, on_row);
  if (!s.ok()) return s;
  return out;
}

absl::Status sqlite_store::add_alias(std::string_view source, std::string_view destination) {
  absl::StatusOr<alias_key> from = parse_alias_source(source);
  if (!from.ok()) return from.status();
  absl::StatusOr<std::string> to = parse_alias_destination(destination);
  if (!to.ok()) return to.status();
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return c.status();
  absl::StatusOr<int> changed = (*c)->change(
      "INSERT INTO virtual_aliases (domain_id, source, destination) "
      "SELECT id, ?2, ?3 FROM virtual_domains WHERE name = ?1",
      {from->domain, from->source, *to});
  if (absl::IsAlreadyExists(changed.status())) {
    return absl::AlreadyExistsError(absl::StrCat("alias ", from->source, " -> ", *to, " already exists"));
  }
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return absl::NotFoundError(absl::StrCat("domain ", from->domain, " not found"));
  return absl::OkStatus();
}

absl::Status sqlite_store::delete_alias(std::string_view source, std::string_view destination) {
  absl::StatusOr<alias_key> from = parse_alias_source(source);
  if (!from.ok()) return from.status();
  absl::StatusOr<std::string> to = parse_alias_destination(destination);
  if (!to.ok()) return to.status();
  absl::StatusOr<lease> c = acquire();
  if (!c.ok()) return c.status();
  absl::StatusOr<int> changed =
      (*c)->change("DELETE FROM virtual_aliases WHERE source = ?1 AND destination = ?2", {from->source, *to});
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return absl::NotFoundError(absl::StrCat("alias ", from->source, " -> ", *to, " not found"));
  return absl::OkStatus();
}

}  // namespace ringmail::directory
