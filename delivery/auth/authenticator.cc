#include "delivery/auth/authenticator.h"

#include "delivery/auth/password.h"
#include "delivery/directory/address.h"

namespace ringmail::auth {
namespace {

// Verified against when the user does not exist, so that an unknown login costs as much
// as a known one with a wrong password. A bcrypt hash of a random string, cost 10.
constexpr const char* kDummyHash = "{BLF-CRYPT}$2y$10$m5c7jzGwmEq6Z/7QUW3tyenSNcoJrwB13pQNPNcXLhKRubh845nbm";

}  // namespace

authenticator::authenticator(directory::source& source, offload_pool& pool, authenticator_options options)
    : source_(source), pool_(pool), cache_(options.cache_ttl, options.cache_entries), throttle_(options.throttle) {}

task<login_result> authenticator::login(std::string user, std::string password, std::string client) {
  login_result result;
  auto now = std::chrono::steady_clock::now();
  auto parsed = directory::parse_address(user, '\0');
  const std::string account = parsed.ok() ? parsed->full() : user;
  if (throttle_.blocked(client, account, now)) {
    secure_wipe(password);
    result.outcome = login_outcome::throttled;
    result.reason = "too many failed logins";
    co_return result;
  }
  std::string stored = kDummyHash;
  bool known = false;
  if (parsed.ok()) {
    auto found = co_await source_.find_user(account);
    if (!found.ok()) {
      secure_wipe(password);
      result.outcome = login_outcome::temporary_failure;
      result.reason = std::string(found.status().message());
      co_return result;
    }
    if (found->has_value()) {
      stored = (*found)->password;
      known = true;
    }
  }
  bool ok = false;
  if (known && cache_.hit(account, password, stored, now)) {
    ++cache_hits_;
    ok = true;
  } else {
    ++verifications_;
    // Named, not a temporary inside co_await (see the g++ 12 note in smtp/session.cc).
    auto verify = [&] { return verify_password(password, stored); };
    ok = co_await offload(pool_, std::move(verify));
    ok = ok && known;
    if (ok) cache_.remember(account, password, stored, std::chrono::steady_clock::now());
  }
  secure_wipe(password);
  if (ok) {
    throttle_.record_success(client, account);
    result.outcome = login_outcome::ok;
    result.user = account;
    co_return result;
  }
  now = std::chrono::steady_clock::now();
  throttle_.record_failure(client, account, now);
  auto delay = throttle_.delay_for(client, account, now);
  if (delay.count() > 0) co_await sleep_for(std::chrono::duration_cast<duration>(delay));
  result.outcome = login_outcome::bad_credentials;
  result.reason = known ? "wrong password" : "unknown user";
  co_return result;
}

}  // namespace ringmail::auth
