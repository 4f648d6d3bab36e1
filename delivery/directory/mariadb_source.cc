#include "delivery/directory/mariadb_source.h"

#include <mysql.h>
#include <poll.h>
#include <sys/socket.h>

#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "delivery/directory/mariadb_common.h"
#include "runtime/log.h"
#include "runtime/poll.h"

namespace ringmail::directory {
namespace {

using steady = std::chrono::steady_clock;

int64_t to_int(const std::string& s) {
  int64_t v = 0;
  (void)absl::SimpleAtoi(s, &v);
  return v;
}

// mysql_init() initialises the library on first use, which is not thread-safe; shards
// create connections concurrently, so do it once up front.
void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

absl::Status unavailable(std::string_view why) { return absl::UnavailableError(std::string(why)); }

}  // namespace

mariadb_source::mariadb_source(mariadb_config config, lookup_queries queries, mariadb_source_options options)
    : config_(std::move(config)), queries_text_(std::move(queries)), options_(options) {
  init_library_once();
  if (options_.pool_size == 0) options_.pool_size = 1;
}

mariadb_source::~mariadb_source() {
  for (auto& c : pool_) drop(*c);
}

size_t mariadb_source::open_connections() const {
  size_t n = 0;
  for (const auto& c : pool_) n += c->mysql != nullptr ? 1 : 0;
  return n;
}

void mariadb_source::drop(connection& c) {
  if (c.mysql == nullptr) return;
  // Shut the socket first: mysql_close would otherwise try to say goodbye on a socket
  // that may block or be dead, on a shard thread.
  int fd = mysql_get_socket(c.mysql);
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  mysql_close(c.mysql);
  c.mysql = nullptr;
}

task<int> mariadb_source::wait_for(MYSQL* m, int status, steady::time_point deadline) {
  unsigned events = 0;
  if (status & MYSQL_WAIT_READ) events |= POLLIN;
  if (status & MYSQL_WAIT_WRITE) events |= POLLOUT;
  if (status & MYSQL_WAIT_EXCEPT) events |= POLLPRI;
  auto now = steady::now();
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
  bool library_timeout = false;
  if (status & MYSQL_WAIT_TIMEOUT) {
    auto lib = std::chrono::milliseconds(mysql_get_timeout_value_ms(m));
    if (lib < left) {
      left = lib;
      library_timeout = true;
    }
  }
  if (left.count() <= 0) co_return library_timeout ? MYSQL_WAIT_TIMEOUT : -1;
  auto ready = co_await wait_ready(mysql_get_socket(m), events, left);
  if (!ready.ok()) {
    if (ready.status().kind == io_kind::timeout) co_return library_timeout ? MYSQL_WAIT_TIMEOUT : -1;
    co_return -1;
  }
  int out = 0;
  if (*ready & (POLLIN | POLLERR | POLLHUP)) out |= MYSQL_WAIT_READ;
  if (*ready & POLLOUT) out |= MYSQL_WAIT_WRITE;
  if (*ready & POLLPRI) out |= MYSQL_WAIT_EXCEPT;
  co_return out;
}

task<absl::Status> mariadb_source::connect(connection& c) {
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) co_return unavailable("mysql_init failed");
  mysql_options(m, MYSQL_OPT_NONBLOCK, nullptr);
  unsigned timeout_s = static_cast<unsigned>(std::max<int64_t>(1, options_.connect_timeout.count() / 1000));
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
  mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  const char* socket = config_.socket.empty() ? nullptr : config_.socket.c_str();
  MYSQL* ret = nullptr;
  const auto deadline = steady::now() + options_.connect_timeout;
  int status = mysql_real_connect_start(&ret, m, config_.host.c_str(), config_.user.c_str(), config_.password.c_str(),
                                        config_.database.c_str(), config_.port, socket, 0);
  while (status != 0) {
    int happened = co_await wait_for(m, status, deadline);
    if (happened < 0) {
      c.mysql = m;
      drop(c);
      co_return unavailable(absl::StrCat("connecting to ", describe(config_), " timed out"));
    }
    status = mysql_real_connect_cont(&ret, m, happened);
  }
  if (ret == nullptr) {
    absl::Status st = unavailable(absl::StrCat("cannot connect to ", describe(config_), ": ", mysql_error(m)));
    mysql_close(m);  // never connected: nothing to say goodbye to
    co_return st;
  }
  c.mysql = m;
  co_return absl::OkStatus();
}

task<absl::StatusOr<mariadb_source::connection*>> mariadb_source::acquire() {
  for (;;) {
    for (auto& c : pool_) {
      if (!c->busy && c->mysql != nullptr) {
        c->busy = true;
        co_return c.get();
      }
    }
    connection* slot = nullptr;
    for (auto& c : pool_) {
      if (!c->busy && c->mysql == nullptr) slot = c.get();
    }
    if (slot == nullptr && pool_.size() < options_.pool_size) {
      pool_.push_back(std::make_unique<connection>());
      slot = pool_.back().get();
    }
    if (slot != nullptr) {
      if (steady::now() < next_connect_attempt_) co_return unavailable("directory database unavailable (retrying)");
      slot->busy = true;
      absl::Status st = co_await connect(*slot);
      if (!st.ok()) {
        slot->busy = false;
        next_connect_attempt_ = steady::now() + options_.retry_interval;
        log::warn("directory_connect_failed", {{"reason", st.message()}});
        co_return st;
      }
      co_return slot;
    }
    // Every connection is busy: wait for one to be released.
    struct wait_turn {
      mariadb_source* self;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) { self->waiters_.push_back(h); }
      void await_resume() const noexcept {}
    };
    co_await wait_turn{this};
  }
}

void mariadb_source::release(connection* c, bool broken) {
  if (broken) drop(*c);
  c->busy = false;
  if (!waiters_.empty()) {
    auto h = waiters_.front();
    waiters_.pop_front();
    reactor::current()->schedule(h);
  }
}

task<absl::StatusOr<std::vector<mariadb_source::row>>> mariadb_source::query(const std::string& query_template,
                                                                           std::string key) {
  auto acquired = co_await acquire();
  if (!acquired.ok()) co_return acquired.status();
  connection* c = *acquired;
  MYSQL* m = c->mysql;
  ++queries_;
  const std::string sql = mariadb::substitute(m, query_template, key);
  const auto deadline = steady::now() + options_.query_timeout;

  int err = 0;
  int status = mysql_real_query_start(&err, m, sql.data(), sql.size());
  while (status != 0) {
    int happened = co_await wait_for(m, status, deadline);
    if (happened < 0) {
      release(c, /*broken=*/true);
      co_return unavailable("directory query timed out");
    }
    status = mysql_real_query_cont(&err, m, happened);
  }
  if (err != 0) {
    absl::Status st = mariadb::status_of(m, "directory query failed");
    bool broken = mariadb::is_connection_error(mysql_errno(m));
    if (broken) next_connect_attempt_ = {};  // reconnect at once on the next lookup
    release(c, broken);
    co_return st;
  }
  MYSQL_RES* res = nullptr;
  status = mysql_store_result_start(&res, m);
  while (status != 0) {
    int happened = co_await wait_for(m, status, deadline);
    if (happened < 0) {
      release(c, /*broken=*/true);
      co_return unavailable("directory query timed out");
    }
    status = mysql_store_result_cont(&res, m, happened);
  }
  std::vector<row> rows;
  if (res == nullptr) {
    if (mysql_field_count(m) != 0) {
      absl::Status st = mariadb::status_of(m, "reading directory result failed");
      release(c, mariadb::is_connection_error(mysql_errno(m)));
      co_return st;
    }
    release(c, false);
    co_return rows;
  }
  rows = mariadb::take_rows(res);
  release(c, false);
  co_return rows;
}

task<absl::StatusOr<bool>> mariadb_source::has_domain(std::string domain) {
  auto rows = co_await query(queries_text_.domain, std::move(domain));
  if (!rows.ok()) co_return rows.status();
  co_return !rows->empty();
}

task<absl::StatusOr<std::optional<user_record>>> mariadb_source::find_user(std::string email) {
  auto rows = co_await query(queries_text_.user, std::move(email));
  if (!rows.ok()) co_return rows.status();
  if (rows->empty()) co_return std::optional<user_record>();
  const row& x = rows->front();
  if (x.size() < 5) co_return absl::InternalError("user query must return id, domain_id, email, password, quota");
  co_return std::optional<user_record>(user_record{to_int(x[0]), to_int(x[1]), x[2], x[3], to_int(x[4])});
}

task<absl::StatusOr<std::vector<std::string>>> mariadb_source::alias_destinations(std::string source) {
  auto rows = co_await query(queries_text_.alias, std::move(source));
  if (!rows.ok()) co_return rows.status();
  std::vector<std::string> out;
  for (const row& x : *rows) out.push_back(x.empty() ? std::string() : x[0]);
  co_return out;
}

task<absl::StatusOr<std::vector<std::string>>> mariadb_source::alias_sources_for(std::string destination) {
  auto rows = co_await query(queries_text_.sender, std::move(destination));
  if (!rows.ok()) co_return rows.status();
  std::vector<std::string> out;
  for (const row& x : *rows) out.push_back(x.empty() ? std::string() : x[0]);
  co_return out;
}

}  // namespace ringmail::directory
