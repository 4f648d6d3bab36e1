#include "delivery/directory/mariadb_common.h"

#include <errmsg.h>
#include <mysqld_error.h>

#include "absl/strings/str_cat.h"

namespace ringmail::directory::mariadb {

const std::vector<std::string>& schema_statements() {
  static const std::vector<std::string> statements = {
      "CREATE TABLE IF NOT EXISTS virtual_domains ("
      " id INT NOT NULL AUTO_INCREMENT, name VARCHAR(255) NOT NULL,"
      " PRIMARY KEY (id), UNIQUE KEY name (name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
      "CREATE TABLE IF NOT EXISTS virtual_users ("
      " id INT NOT NULL AUTO_INCREMENT, domain_id INT NOT NULL, email VARCHAR(255) NOT NULL,"
      " password VARCHAR(255) NOT NULL, quota BIGINT NOT NULL DEFAULT 0,"
      " PRIMARY KEY (id), UNIQUE KEY email (email),"
      " FOREIGN KEY (domain_id) REFERENCES virtual_domains(id) ON DELETE CASCADE) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
      "CREATE TABLE IF NOT EXISTS virtual_aliases ("
      " id INT NOT NULL AUTO_INCREMENT, domain_id INT NOT NULL, source VARCHAR(255) NOT NULL,"
      " destination VARCHAR(255) NOT NULL, PRIMARY KEY (id), KEY source (source), KEY destination (destination),"
      " FOREIGN KEY (domain_id) REFERENCES virtual_domains(id) ON DELETE CASCADE) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
  };
  return statements;
}

std::string substitute(MYSQL* mysql, std::string_view query, std::string_view key) {
  std::string literal(key.size() * 2 + 3, '\0');
  literal[0] = '\'';
  unsigned long n = mysql_real_escape_string(mysql, literal.data() + 1, key.data(), key.size());
  literal.resize(n + 1);
  literal.push_back('\'');
  std::string out;
  out.reserve(query.size() + literal.size());
  for (size_t i = 0; i < query.size(); ++i) {
    if (query[i] == '%' && i + 1 < query.size() && query[i + 1] == 's') {
      out += literal;
      ++i;
    } else {
      out.push_back(query[i]);
    }
  }
  return out;
}

std::vector<std::vector<std::string>> take_rows(MYSQL_RES* result) {
  std::vector<std::vector<std::string>> rows;
  const unsigned fields = mysql_num_fields(result);
  while (MYSQL_ROW r = mysql_fetch_row(result)) {
    unsigned long* lengths = mysql_fetch_lengths(result);
    std::vector<std::string> out;
    out.reserve(fields);
    for (unsigned i = 0; i < fields; ++i) out.emplace_back(r[i] ? std::string(r[i], lengths[i]) : std::string());
    rows.push_back(std::move(out));
  }
  mysql_free_result(result);
  return rows;
}

bool is_connection_error(unsigned e) {
  switch (e) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_UNKNOWN_HOST:
    case CR_COMMANDS_OUT_OF_SYNC:
    case CR_SERVER_LOST_EXTENDED:
    case ER_CON_COUNT_ERROR:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
      return true;
    default:
      return e >= 2000 && e < 3000;  // every client-side (CR_) error is about the link
  }
}

absl::Status status_of(MYSQL* mysql, std::string_view what) {
  unsigned e = mysql_errno(mysql);
  std::string message = absl::StrCat(std::string(what), ": ", mysql_error(mysql), " (", e, ")");
  if (e == ER_DUP_ENTRY) return absl::AlreadyExistsError(message);
  if (is_connection_error(e) || e == ER_LOCK_WAIT_TIMEOUT || e == ER_LOCK_DEADLOCK) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

}  // namespace ringmail::directory::mariadb
