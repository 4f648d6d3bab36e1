// source: the directory's raw lookups as seen from a shard — asynchronous, never blocking
// the shard. Implementations: mariadb_source (libmariadb's non-blocking API driven by the
// ring), offload_source (any synchronous store, e.g. SQLite, run on the offload pool),
// cached_source (the per-shard cache in front of either).
//
// Same error contract as store.h: UnavailableError = temporary failure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/directory/store.h"
#include "runtime/task.h"

namespace ringmail::directory {

class source {
 public:
  virtual ~source() = default;
  // Keys are normalised (lower-case, no +detail) by the caller (resolver).
  virtual task<absl::StatusOr<bool>> has_domain(std::string domain) = 0;
  virtual task<absl::StatusOr<std::optional<user_record>>> find_user(std::string email) = 0;
  virtual task<absl::StatusOr<std::vector<std::string>>> alias_destinations(std::string source) = 0;
  virtual task<absl::StatusOr<std::vector<std::string>>> alias_sources_for(std::string destination) = 0;
};

}  // namespace ringmail::directory
