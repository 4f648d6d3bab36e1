// Pieces shared by the blocking MariaDB store (administration) and the non-blocking
// MariaDB source (shard lookups): the schema, key substitution, error classification.
#pragma once

#include <mysql.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace ringmail::directory::mariadb {

// The ISPmail tables (InnoDB, utf8mb4, ON DELETE CASCADE). Wider columns than the guide's
// varchar(50/100) so every valid address fits; an existing ISPmail database is used as is.
const std::vector<std::string>& schema_statements();

// Replaces every "%s" in `query` with `key` as a quoted, escaped SQL string literal
// (mysql_real_escape_string, which knows the connection's character set).
std::string substitute(MYSQL* mysql, std::string_view query, std::string_view key);

// True for client errors that mean "no usable connection" (server gone, cannot connect):
// the caller drops the connection, reconnects later, and reports a temporary failure.
bool is_connection_error(unsigned error_number);

// Every row of a stored result (NULL as ""), and frees it. A stored result is in client
// memory, so this does no I/O and is safe on a shard in non-blocking mode.
std::vector<std::vector<std::string>> take_rows(MYSQL_RES* result);

// The error of the last call on `mysql` as a status: connection problems and lock
// timeouts are Unavailable (temporary), duplicates AlreadyExists, the rest Internal.
absl::Status status_of(MYSQL* mysql, std::string_view what);

}  // namespace ringmail::directory::mariadb
