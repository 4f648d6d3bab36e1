// Slows down and then stops password guessing, per client address and per account, like
// Dovecot's auth penalty (auth-penalty.c: a delay that doubles with each recent failure)
// plus hard limits in the spirit of Postfix's anvil rate limits.
//
// The throttle only counts and decides; it never sleeps. The protocol session asks
// blocked() before verifying (if true: answer at once with a temporary error, e.g. SMTP
// "454 4.7.0", IMAP "NO [UNAVAILABLE]", and do not verify or record_failure(), so a
// blocked client cannot extend its own block), and after a failed verification calls
// record_failure() then delay_for(), and waits that long on its own timer before answering.
//
// Failures are forgotten one `window` after the most recent failure for that key (not a
// sliding log of timestamps: a single counter and time per key keeps the memory per key
// fixed). Both tables are bounded by max_entries; when full, the key that failed longest
// ago goes first.
//
// Not thread-safe and lock-free by design: one instance per shard. Counts are therefore
// per shard; with SO_REUSEPORT spreading connections, a client's limits are effectively
// multiplied by at most the shard count, which the limits should allow for.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace ringmail::auth {

// The throttling key for a client: "192.0.2.1" for IPv4 (and IPv4-mapped IPv6), and the
// /64 prefix such as "2001:db8:1:2::/64" for IPv6, since one customer or host usually owns
// a whole /64 (RFC 6177) and can pick any address in it. "local" for AF_UNIX, "unknown"
// for a null pointer or any other family.
std::string client_key(const sockaddr* sa);

class login_throttle {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  struct options {
    uint32_t max_failures_per_ip = 0;       // blocked once this many recent failures; 0: no limit
    uint32_t max_failures_per_account = 0;  // likewise per account; 0: no limit
    std::chrono::seconds window{0};         // failures count until this long after the last one
    std::chrono::milliseconds base_delay{0};
    std::chrono::milliseconds max_delay{0};
    size_t max_entries = 100'000;  // per table (addresses, accounts)
  };

  explicit login_throttle(options opts);

  // How long to wait before answering a failed login: base_delay * 2^(n-1), capped at
  // max_delay, where n is the larger of the address's and the account's recent failure
  // counts (at least 1: this is only asked after a failure).
  std::chrono::milliseconds delay_for(const std::string& ip_key, std::string_view account, time_point now) const;

  // True when the address or the account has reached its failure limit within the window.
  bool blocked(const std::string& ip_key, std::string_view account, time_point now) const;

  void record_failure(const std::string& ip_key, std::string_view account, time_point now);

  // Clears the account's count only. The address keeps its count: one valid account must
  // not let a client wipe the evidence of guessing at others from the same address.
  void record_success(const std::string& ip_key, std::string_view account);

 private:
  // One counter per key, oldest-failed first in a list so that expiry and eviction are
  // O(1) from the front.
  class failure_table {
   public:
    failure_table(std::chrono::seconds window, size_t max_entries) : window_(window), max_entries_(max_entries) {}
    uint32_t count(const std::string& key, time_point now) const;
    void add(const std::string& key, time_point now);
    void clear(const std::string& key);
    size_t size() const { return entries_.size(); }

   private:
    struct entry {
      uint32_t failures;
      time_point last_failure;
      std::list<std::string>::iterator order;
    };
    std::chrono::seconds window_;
    size_t max_entries_;
    absl::flat_hash_map<std::string, entry> entries_;
    std::list<std::string> order_;  // least recently failed first
  };

  // Accounts are compared ASCII-case-insensitively, so "Alice@Example.org" and
  // "alice@example.org" share one counter (as they name one mailbox).
  static std::string account_key(std::string_view account);

  options opts_;
  failure_table by_ip_;
  failure_table by_account_;
};

}  // namespace ringmail::auth
