// authenticator: "is this password right for this login?" for every protocol (SMTP AUTH,
// IMAP, POP3, ManageSieve), one per shard.
//
//   1. refuse at once while the client (IP, IPv6 /64) or account is throttled;
//   2. find the user through the directory source (a fault there is a temporary failure,
//      never "wrong password");
//   3. a recent successful verification of the same user+password+hash is a cache hit
//      (Dovecot's auth cache): no hashing;
//   4. otherwise verify on the offload pool — bcrypt/argon2 take tens of milliseconds and
//      must never run on a shard thread;
//   5. a failure is recorded and answered only after the throttle's delay (a timer on the
//      ring, not a sleeping thread). Unknown users cost a verification too, so response
//      time does not tell which logins exist.
#pragma once

#include <chrono>
#include <string>

#include "delivery/auth/auth_cache.h"
#include "delivery/auth/login_throttle.h"
#include "delivery/directory/source.h"
#include "runtime/offload_pool.h"

namespace ringmail::auth {

enum class login_outcome { ok, bad_credentials, temporary_failure, throttled };

struct login_result {
  login_outcome outcome = login_outcome::bad_credentials;
  std::string user;    // the normalised login (local@domain) when ok
  std::string reason;  // for logs; never contains the password
};

struct authenticator_options {
  std::chrono::seconds cache_ttl{300};
  size_t cache_entries = 100000;
  login_throttle::options throttle{/*max_failures_per_ip=*/20, /*max_failures_per_account=*/10,
                                   /*window=*/std::chrono::seconds(300),
                                   /*base_delay=*/std::chrono::milliseconds(500),
                                   /*max_delay=*/std::chrono::milliseconds(8000)};
};

class authenticator {
 public:
  authenticator(directory::source& source, offload_pool& pool, authenticator_options options = {});

  // `password` is wiped before the task ends. `client` is login_throttle's client_key().
  task<login_result> login(std::string user, std::string password, std::string client);

  uint64_t cache_hits() const { return cache_hits_; }
  uint64_t verifications() const { return verifications_; }

 private:
  directory::source& source_;
  offload_pool& pool_;
  auth_cache cache_;
  login_throttle throttle_;
  uint64_t cache_hits_ = 0;
  uint64_t verifications_ = 0;
};

}  // namespace ringmail::auth
