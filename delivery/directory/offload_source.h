// offload_source: a synchronous, thread-safe store (sqlite_store) seen as a `source` by a
// shard. Each lookup hops to the offload pool, runs the blocking call there and resumes
// on the calling shard (runtime/offload_pool.h), so a slow disk or a busy database never
// stalls the shard's other sessions.
//
// Threading: the store is called from pool threads, several at once; it must be safe for
// that (sqlite_store is). The offload_source itself holds no state and may be shared by
// all shards. Put a cached_source (cache.h) per shard in front of it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/directory/source.h"
#include "delivery/directory/store.h"
#include "runtime/offload_pool.h"
#include "runtime/task.h"

namespace ringmail::directory {

class offload_source final : public source {
 public:
  // Both must outlive this. Lookups must be awaited from a reactor thread (a shard).
  offload_source(store& s, offload_pool& pool) : store_(s), pool_(pool) {}

  task<absl::StatusOr<bool>> has_domain(std::string domain) override;
  task<absl::StatusOr<std::optional<user_record>>> find_user(std::string email) override;
  task<absl::StatusOr<std::vector<std::string>>> alias_destinations(std::string source) override;
  task<absl::StatusOr<std::vector<std::string>>> alias_sources_for(std::string destination) override;

 private:
  store& store_;
  offload_pool& pool_;
};

}  // namespace ringmail::directory
