// What a ManageSieve session asks of a user's scripts (RFC 5804 sections 2.5-2.12). In
// the server this is the script store on the user's OWNER shard (delivery/sieve/
// script_store.h, reached through with_scripts: see store_access.h); the session stays
// on the shard that accepted it and never touches the store's files or cache itself.
//
// The status codes are the store's (script_store.h): NotFound for a name that is not
// there, FailedPrecondition for deleting the active script, AlreadyExists for renaming
// onto a name in use, ResourceExhausted for the limits, InvalidArgument for a script
// that does not compile (its message the checker's "line L, column C: ...").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/sieve/script_store.h"
#include "runtime/task.h"

namespace ringmail::managesieve {

class script_access {
 public:
  virtual ~script_access() = default;
  // `user` is the normalised login (local@domain) the authenticator returned.
  virtual task<absl::StatusOr<std::vector<sieve::script_info>>> list(std::string user) = 0;
  virtual task<absl::StatusOr<std::string>> get(std::string user, std::string name) = 0;
  virtual task<absl::Status> put(std::string user, std::string name, std::string text) = 0;
  virtual task<absl::Status> remove(std::string user, std::string name) = 0;
  virtual task<absl::Status> rename(std::string user, std::string from, std::string to) = 0;
  virtual task<absl::Status> set_active(std::string user, std::string name) = 0;  // "" deactivates
  virtual task<absl::Status> have_space(std::string user, std::string name, uint64_t bytes) = 0;
};

}  // namespace ringmail::managesieve
