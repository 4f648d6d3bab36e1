// mariadb_source: directory lookups against MariaDB that never block a shard.
//
// libmariadb's non-blocking API (mysql_real_query_start / _cont, …) does the protocol;
// whenever it would block it returns what it waits for (read, write, a timeout), and we
// wait for exactly that on the ring (runtime/poll.h), then call _cont. Each shard has its
// own small pool of connections, so no lock is shared between shards.
//
// A lost connection is closed and reopened on a later lookup; while the server is down,
// lookups fail fast with UnavailableError (a temporary failure) and at most one connect
// attempt is made per `retry_interval`, so a dead database is not hammered.
#pragma once

#include <chrono>
#include <coroutine>
#include <deque>
#include <memory>
#include <vector>

#include "delivery/directory/mariadb_url.h"
#include "delivery/directory/source.h"
#include "runtime/reactor.h"

typedef struct st_mysql MYSQL;

namespace ringmail::directory {

struct mariadb_source_options {
  size_t pool_size = 2;
  duration query_timeout{std::chrono::seconds(5)};
  duration connect_timeout{std::chrono::seconds(3)};
  std::chrono::milliseconds retry_interval{500};
};

class mariadb_source : public source {
 public:
  mariadb_source(mariadb_config config, lookup_queries queries = {}, mariadb_source_options options = {});
  ~mariadb_source() override;

  task<absl::StatusOr<bool>> has_domain(std::string domain) override;
  task<absl::StatusOr<std::optional<user_record>>> find_user(std::string email) override;
  task<absl::StatusOr<std::vector<std::string>>> alias_destinations(std::string source) override;
  task<absl::StatusOr<std::vector<std::string>>> alias_sources_for(std::string destination) override;

  size_t open_connections() const;
  uint64_t queries_run() const { return queries_; }

 private:
  using row = std::vector<std::string>;
  struct connection {
    MYSQL* mysql = nullptr;
    bool busy = false;
  };

  // Runs query_template with %s bound to key (escaped) and returns its rows.
  task<absl::StatusOr<std::vector<row>>> query(const std::string& query_template, std::string key);
  task<absl::StatusOr<connection*>> acquire();
  void release(connection* c, bool broken);
  task<absl::Status> connect(connection& c);
  // Waits for what libmariadb asked for (MYSQL_WAIT_*) and returns what happened.
  task<int> wait_for(MYSQL* m, int status, std::chrono::steady_clock::time_point deadline);
  static void drop(connection& c);

  mariadb_config config_;
  lookup_queries queries_text_;
  mariadb_source_options options_;
  std::vector<std::unique_ptr<connection>> pool_;
  std::deque<std::coroutine_handle<>> waiters_;
  std::chrono::steady_clock::time_point next_connect_attempt_{};
  uint64_t queries_ = 0;
};

}  // namespace ringmail::directory
