// A cache of recent successful password verifications, so that a client that logs in
// again and again (IMAP clients open several connections, phones reconnect on every
// network change) does not cost a bcrypt/Argon2 run each time. Modelled on Dovecot's auth
// cache (auth_cache_size / auth_cache_ttl), but positive results only: a failure is never
// cached, so a wrong password always pays the full hash and the login throttle's delay.
//
// The cache never holds a password, nor anything an offline attacker could test guesses
// against without the process memory: the key is HMAC-SHA256 under a random key made at
// construction over (user, password, stored hash). Including the stored hash means a
// password change in the directory misses the cache by itself; forget_user() is for
// dropping entries at once (e.g. when the admin tool changes or locks the account).
//
// Not thread-safe: one instance per shard, used only from that shard's thread.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace ringmail::auth {

class auth_cache {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  // ttl: how long a verification counts; max_entries: the size bound, beyond which the
  // oldest entry goes. Either being zero disables the cache (every lookup misses).
  auth_cache(std::chrono::seconds ttl, size_t max_entries);
  ~auth_cache();
  auth_cache(const auth_cache&) = delete;
  auth_cache& operator=(const auth_cache&) = delete;

  // True when this exact (user, password, stored_hash) was remembered less than ttl ago.
  // An expired entry found here is dropped.
  bool hit(std::string_view user, std::string_view password, std::string_view stored_hash, time_point now);

  // Call after verify_password() succeeded. Remembering again restarts the entry's ttl.
  void remember(std::string_view user, std::string_view password, std::string_view stored_hash, time_point now);

  // Drops every entry for `user`, compared byte for byte: pass the same canonical form
  // (e.g. the lower-cased address) to all three calls.
  void forget_user(std::string_view user);

  size_t size() const { return entries_.size(); }

 private:
  using digest = std::array<unsigned char, 32>;
  struct entry {
    time_point expires;
    std::list<digest>::iterator order;  // position in order_
    std::string user;                   // to find the by_user_ list on eviction
  };

  // nullopt when the cache is disabled or HMAC fails.
  std::optional<digest> key_for(std::string_view user, std::string_view password,
                                std::string_view stored_hash) const;
  void erase(absl::flat_hash_map<digest, entry>::iterator it);

  std::chrono::seconds ttl_;
  size_t max_entries_;
  bool enabled_;
  std::array<unsigned char, 32> hmac_key_{};
  absl::flat_hash_map<digest, entry> entries_;
  // Oldest remembered first. With one ttl for all entries, that is also the order of
  // expiry, so both expiry pruning and size eviction take from the front.
  std::list<digest> order_;
  absl::flat_hash_map<std::string, std::vector<digest>> by_user_;
};

}  // namespace ringmail::auth
