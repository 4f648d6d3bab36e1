// --directory=mariadb://user:password@host:port/database
//            mariadb://user:password@localhost/database?socket=/run/mysqld/mysqld.sock
// User and password may be percent-encoded (a password with '@' or '/' in it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringmail::directory {

struct mariadb_config {
  std::string user;
  std::string password;
  std::string host = "localhost";
  uint16_t port = 3306;
  std::string database;
  std::string socket;  // set: connect through this Unix socket instead of TCP
};

absl::StatusOr<mariadb_config> parse_mariadb_url(std::string_view url);

// The URL again with the password hidden, for logs.
std::string describe(const mariadb_config& c);

}  // namespace ringmail::directory
