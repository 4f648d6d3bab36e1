// The directory's data: the ISPmail schema (virtual_domains, virtual_users,
// virtual_aliases), unchanged, so an existing ISPmail database works as it is.
//
// Two interfaces over it:
//   store  — synchronous: administration (ringmail-admin) and the raw lookups. A blocking
//            call: use it from a tool, or from a shard only through the offload pool.
//   source — asynchronous raw lookups for shards (directory/source.h).
// Alias *resolution* (recursion, catch-all, +detail) is not here: see resolver.h.
//
// Errors: absl::UnavailableError for "cannot answer now" (database down) — callers turn it
// into a temporary failure (451 4.3.0), never into "no such user". NotFound and
// AlreadyExists for admin operations on missing or duplicate rows; InvalidArgument for
// bad input. A lookup that finds nothing is not an error (false / nullopt / empty).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringmail::directory {

struct domain_record {
  int64_t id = 0;
  std::string name;
};

struct user_record {
  int64_t id = 0;
  int64_t domain_id = 0;
  std::string email;
  std::string password;     // a Dovecot-style hash: "{BLF-CRYPT}$2y$..."
  int64_t quota_bytes = 0;  // 0 = unlimited
};

struct alias_record {
  int64_t id = 0;
  int64_t domain_id = 0;
  std::string source;       // "john@example.org", or "@example.org" for a catch-all
  std::string destination;  // a local or remote address
};

// The lookup queries, overridable by flags as Postfix's and Dovecot's SQL maps are.
// "%s" stands for the (normalised, lower-case) key; backends bind it as a parameter or
// escape it — it is never pasted into SQL as is. Result columns must keep this order.
struct lookup_queries {
  std::string domain = "SELECT 1 FROM virtual_domains WHERE name = %s";
  std::string user = "SELECT id, domain_id, email, password, quota FROM virtual_users WHERE email = %s";
  std::string alias = "SELECT destination FROM virtual_aliases WHERE source = %s";
  std::string sender = "SELECT source FROM virtual_aliases WHERE destination = %s";
};

class store {
 public:
  virtual ~store() = default;

  // Creates the three tables (and indexes) if missing; idempotent.
  virtual absl::Status ensure_schema() = 0;

  // ---- raw lookups (keys already normalised: lower-case, no +detail) ----
  virtual absl::StatusOr<bool> has_domain(std::string_view domain) = 0;
  virtual absl::StatusOr<std::optional<user_record>> find_user(std::string_view email) = 0;
  virtual absl::StatusOr<std::vector<std::string>> alias_destinations(std::string_view source) = 0;
  // Sources of aliases whose destination is `destination` (for the sender check).
  virtual absl::StatusOr<std::vector<std::string>> alias_sources_for(std::string_view destination) = 0;

  // ---- administration ----
  virtual absl::StatusOr<std::vector<domain_record>> list_domains() = 0;
  virtual absl::Status add_domain(std::string_view name) = 0;     // AlreadyExists
  virtual absl::Status delete_domain(std::string_view name) = 0;  // NotFound; cascades to users, aliases
  // domain empty = all domains.
  virtual absl::StatusOr<std::vector<user_record>> list_users(std::string_view domain) = 0;
  // NotFound if the address's domain is not ours; AlreadyExists on a duplicate email.
  virtual absl::Status add_user(std::string_view email, std::string_view password_hash, int64_t quota_bytes) = 0;
  virtual absl::Status delete_user(std::string_view email) = 0;  // NotFound
  virtual absl::Status set_password(std::string_view email, std::string_view password_hash) = 0;
  virtual absl::Status set_quota(std::string_view email, int64_t quota_bytes) = 0;
  virtual absl::StatusOr<std::vector<alias_record>> list_aliases(std::string_view domain) = 0;
  // NotFound if the source's domain is not ours; AlreadyExists on a duplicate pair.
  virtual absl::Status add_alias(std::string_view source, std::string_view destination) = 0;
  virtual absl::Status delete_alias(std::string_view source, std::string_view destination) = 0;
};

}  // namespace ringmail::directory
