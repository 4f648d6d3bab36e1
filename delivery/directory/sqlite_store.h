// sqlite_store: the directory in an SQLite file (the embedded default, DESIGN.md "Data and
// durability"), with the ISPmail schema unchanged so the same rows work in MariaDB.
//
// Threading: safe to call from several threads at once (the offload pool). Each call
// borrows a connection from a small pool and gives it back when done; a connection (and
// its prepared statements) is used by one thread at a time, so connections are opened
// SQLITE_OPEN_NOMUTEX and no SQLite mutex is taken per call. In WAL mode readers on
// different connections run in parallel and never wait for a writer. The pool grows to
// the number of concurrent callers (at most the offload pool's size) and never shrinks.
// Because every connection opens `path` anew, ":memory:" is refused: use a file.
//
// Durability: journal_mode=WAL with the default synchronous=FULL, so an admin change that
// returned OK survives a power cut. foreign_keys=ON on every connection (SQLite's is
// per connection), which makes "ON DELETE CASCADE" work. busy_timeout lets a writer wait
// for another writer (ringmail-admin beside the daemon) instead of failing at once.
//
// Queries: only bound parameters. The lookup_queries' "%s" (also when written '%s' or
// "%s", as in Postfix's and ISPmail's map files) becomes "?1", bound to the key. Custom
// queries are prepared on first use (the tables may not exist before ensure_schema), so
// a broken one shows up as UnavailableError at lookup time, with SQLite's message.
// An alias query row may hold several destinations separated by commas or spaces, as
// Postfix reads them from ISPmail tables.
//
// Errors (store.h): every failure of a lookup is UnavailableError — a lookup that cannot
// answer must never read as "not found". Admin ops: SQLITE_BUSY/LOCKED/IOERR/CANTOPEN/
// FULL/NOMEM/READONLY/CORRUPT/NOTADB/PROTOCOL/… → UnavailableError; a UNIQUE violation →
// AlreadyExists; anything else → InternalError. list_users / list_aliases of a domain
// that is not ours list nothing. Users and alias sources may not carry a +detail
// (InvalidArgument): the resolver looks recipients up without it.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/directory/store.h"

namespace ringmail::directory {

struct sqlite_options {
  std::chrono::milliseconds busy_timeout{5000};
};

class sqlite_store final : public store {
 public:
  // Opens (creating if missing) the database file and switches it to WAL. Does not create
  // the tables: call ensure_schema(). Errors: InvalidArgument for ":memory:" or an empty
  // path; UnavailableError when the file cannot be opened or is not a database.
  static absl::StatusOr<std::unique_ptr<sqlite_store>> open(const std::string& path, lookup_queries queries = {},
                                                             sqlite_options options = {});
  ~sqlite_store() override;
  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

  absl::Status ensure_schema() override;

  absl::StatusOr<bool> has_domain(std::string_view domain) override;
  absl::StatusOr<std::optional<user_record>> find_user(std::string_view email) override;
  absl::StatusOr<std::vector<std::string>> alias_destinations(std::string_view source) override;
  absl::StatusOr<std::vector<std::string>> alias_sources_for(std::string_view destination) override;

  absl::StatusOr<std::vector<domain_record>> list_domains() override;
  absl::Status add_domain(std::string_view name) override;
  absl::Status delete_domain(std::string_view name) override;
  absl::StatusOr<std::vector<user_record>> list_users(std::string_view domain) override;
  absl::Status add_user(std::string_view email, std::string_view password_hash, int64_t quota_bytes) override;
  absl::Status delete_user(std::string_view email) override;
  absl::Status set_password(std::string_view email, std::string_view password_hash) override;
  absl::Status set_quota(std::string_view email, int64_t quota_bytes) override;
  absl::StatusOr<std::vector<alias_record>> list_aliases(std::string_view domain) override;
  absl::Status add_alias(std::string_view source, std::string_view destination) override;
  absl::Status delete_alias(std::string_view source, std::string_view destination) override;

  const std::string& path() const { return path_; }

 private:
  struct connection;
  class lease;
  sqlite_store(std::string path, lookup_queries queries, sqlite_options options);

  // Borrows an idle connection or opens a new one. Any thread.
  absl::StatusOr<lease> acquire();
  void give_back(std::unique_ptr<connection> c);

  std::string path_;
  lookup_queries queries_;  // with "%s" already turned into "?1"
  sqlite_options options_;
  std::mutex mutex_;        // guards idle_
  std::vector<std::unique_ptr<connection>> idle_;
};

}  // namespace ringmail::directory
