// script_access over the server's script stores (delivery/sieve/script_store.h): each
// operation finds the user's home (sieve::user_home: <mail_root>/<domain>/<local>, the
// Maildir's parent) and runs on the user's owner shard through sieve::with_scripts, so a
// PUTSCRIPT and a delivery to the same user never race and the owner's program cache is
// the one that sees the change.
#pragma once

#include <string>

#include "delivery/sieve/script_store.h"
#include "protocols/managesieve/script_access.h"

namespace ringmail::managesieve {

class store_access final : public script_access {
 public:
  // `stores`: every shard's store (index = shard id), built at start-up and read-only.
  store_access(const sieve::script_store_set& stores, std::string mail_root)
      : stores_(stores), mail_root_(std::move(mail_root)) {}

  task<absl::StatusOr<std::vector<sieve::script_info>>> list(std::string user) override;
  task<absl::StatusOr<std::string>> get(std::string user, std::string name) override;
  task<absl::Status> put(std::string user, std::string name, std::string text) override;
  task<absl::Status> remove(std::string user, std::string name) override;
  task<absl::Status> rename(std::string user, std::string from, std::string to) override;
  task<absl::Status> set_active(std::string user, std::string name) override;
  task<absl::Status> have_space(std::string user, std::string name, uint64_t bytes) override;

 private:
  const sieve::script_store_set& stores_;
  std::string mail_root_;
};

}  // namespace ringmail::managesieve
