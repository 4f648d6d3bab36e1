#include "delivery/directory/open_store.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "delivery/directory/mariadb_store.h"
#include "delivery/directory/mariadb_url.h"
#include "delivery/directory/sqlite_store.h"

namespace ringmail::directory {

std::string sqlite_path(const std::string& data_dir) { return data_dir + "/directory.sqlite"; }

absl::StatusOr<std::unique_ptr<store>> open_store(const directory_location& where) {
  if (!where.directory.empty()) {
    auto config = parse_mariadb_url(where.directory);
    if (!config.ok()) return config.status();
    auto s = mariadb_store::open(*config, where.queries);
    if (!s.ok()) return s.status();
    // An existing ISPmail database is used as it is (its user may lack CREATE rights);
    // only when the tables cannot be read are they created.
    if (!(*s)->list_domains().ok()) {
      absl::Status schema = (*s)->ensure_schema();
      if (!schema.ok()) return schema;
    }
    return std::unique_ptr<store>(std::move(*s));
  }
  std::error_code ec;
  std::filesystem::create_directories(where.data_dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", where.data_dir, ": ", ec.message()));
  auto s = sqlite_store::open(sqlite_path(where.data_dir), where.queries);
  if (!s.ok()) return s.status();
  absl::Status schema = (*s)->ensure_schema();
  if (!schema.ok()) return schema;
  return std::unique_ptr<store>(std::move(*s));
}

}  // namespace ringmail::directory
