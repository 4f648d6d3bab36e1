// mariadb_store: the directory in MariaDB (or MySQL), blocking libmariadb calls.
// For ringmail-admin and tests; shards use mariadb_source, which never blocks.
// One connection, reopened on the next call after a connection error. Not thread-safe.
#pragma once

#include <mysql.h>

#include <memory>

#include "delivery/directory/mariadb_url.h"
#include "delivery/directory/store.h"

namespace ringmail::directory {

class mariadb_store : public store {
 public:
  static absl::StatusOr<std::unique_ptr<mariadb_store>> open(mariadb_config config, lookup_queries queries = {});
  ~mariadb_store() override;

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

 private:
  using row = std::vector<std::string>;
  mariadb_store(mariadb_config config, lookup_queries queries) : config_(std::move(config)), queries_(std::move(queries)) {}
  absl::Status connect();
  // Runs a statement; for SELECTs returns the rows (NULLs as ""). Reconnects first if the
  // previous call lost the connection.
  absl::StatusOr<std::vector<row>> run(const std::string& sql);
  absl::StatusOr<uint64_t> run_update(const std::string& sql);  // affected rows
  std::string quote(std::string_view value);
  absl::StatusOr<int64_t> domain_id(std::string_view domain);

  mariadb_config config_;
  lookup_queries queries_;
  MYSQL* mysql_ = nullptr;
};

}  // namespace ringmail::directory
