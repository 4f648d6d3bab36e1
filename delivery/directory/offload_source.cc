#include "delivery/directory/offload_source.h"

namespace ringmail::directory {

// Each key lives in this coroutine's frame, which outlives the offloaded call: the lambda
// may capture it by reference.

task<absl::StatusOr<bool>> offload_source::has_domain(std::string domain) {
  co_return co_await offload(pool_, [&] { return store_.has_domain(domain); });
}

task<absl::StatusOr<std::optional<user_record>>> offload_source::find_user(std::string email) {
  co_return co_await offload(pool_, [&] { return store_.find_user(email); });
}

task<absl::StatusOr<std::vector<std::string>>> offload_source::alias_destinations(std::string key) {
  co_return co_await offload(pool_, [&] { return store_.alias_destinations(key); });
}

task<absl::StatusOr<std::vector<std::string>>> offload_source::alias_sources_for(std::string destination) {
  co_return co_await offload(pool_, [&] { return store_.alias_sources_for(destination); });
}

}  // namespace ringmail::directory
