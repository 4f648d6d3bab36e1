// Opens the directory the flags name: SQLite under --data_dir by default, MariaDB with
// --directory=mariadb://… — the same choice for ringmail serve and ringmail-admin.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "delivery/directory/store.h"

namespace ringmail::directory {

struct directory_location {
  std::string data_dir;   // SQLite: <data_dir>/directory.sqlite
  std::string directory;  // empty, or a mariadb:// URL
  lookup_queries queries;
};

std::string sqlite_path(const std::string& data_dir);

// Opens (and for SQLite, creates with the schema) the directory store. Blocking.
absl::StatusOr<std::unique_ptr<store>> open_store(const directory_location& where);

}  // namespace ringmail::directory
