#include "delivery/auth/auth_cache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>

#include "delivery/auth/password.h"

namespace ringmail::auth {
namespace {

// Each field is prefixed by its length so that ("ab", "c") and ("a", "bc") cannot give
// the same HMAC input.
void append_field(std::string& buf, std::string_view field) {
  uint64_t n = field.size();
  buf.append(reinterpret_cast<const char*>(&n), sizeof(n));
  buf.append(field);
}

}  // namespace

auth_cache::auth_cache(std::chrono::seconds ttl, size_t max_entries)
    : ttl_(ttl), max_entries_(max_entries) {
  // Without a secret key the digests would be a plain hash of the password, testable
  // offline from a memory dump; rather than that, run without a cache.
  enabled_ = ttl_.count() > 0 && max_entries_ > 0 &&
             RAND_bytes(hmac_key_.data(), static_cast<int>(hmac_key_.size())) == 1;
}

auth_cache::~auth_cache() { OPENSSL_cleanse(hmac_key_.data(), hmac_key_.size()); }

std::optional<auth_cache::digest> auth_cache::key_for(std::string_view user, std::string_view password,
                                                      std::string_view stored_hash) const {
  if (!enabled_) return std::nullopt;
  std::string buf;
  buf.reserve(3 * sizeof(uint64_t) + user.size() + password.size() + stored_hash.size());
  append_field(buf, user);
  append_field(buf, password);
  append_field(buf, stored_hash);
  digest out;
  unsigned int out_len = 0;
  bool ok = HMAC(EVP_sha256(), hmac_key_.data(), static_cast<int>(hmac_key_.size()),
                 reinterpret_cast<const unsigned char*>(buf.data()), buf.size(), out.data(), &out_len) != nullptr &&
            out_len == out.size();
  secure_wipe(buf);  // it held the password
  if (!ok) return std::nullopt;
  return out;
}

bool auth_cache::hit(std::string_view user, std::string_view password, std::string_view stored_hash,
                     time_point now) {
  auto key = key_for(user, password, stored_hash);
  if (!key) return false;
  auto it = entries_.find(*key);
  if (it == entries_.end()) return false;
  if (now >= it->second.expires) {
    erase(it);
    return false;
  }
  return true;
}

void auth_cache::remember(std::string_view user, std::string_view password, std::string_view stored_hash,
                          time_point now) {
  auto key = key_for(user, password, stored_hash);
  if (!key) return;
  // Expired entries sit at the front; dropping them here keeps memory to what is live.
  while (!order_.empty()) {
    auto oldest = entries_.find(order_.front());
    if (now < oldest->second.expires) break;
    erase(oldest);
  }
  time_point expires = now + ttl_;
  if (auto it = entries_.find(*key); it != entries_.end()) {
    it->second.expires = expires;
    order_.splice(order_.end(), order_, it->second.order);
    return;
  }
  while (entries_.size() >= max_entries_) erase(entries_.find(order_.front()));
  order_.push_back(*key);
  std::string user_key(user);
  entries_.emplace(*key, entry{expires, std::prev(order_.end()), user_key});
  by_user_[user_key].push_back(*key);
}

void auth_cache::forget_user(std::string_view user) {
  auto it = by_user_.find(std::string(user));
  if (it == by_user_.end()) return;
  // erase() edits this very list, so work from a copy.
  std::vector<digest> keys = it->second;
  for (const auto& k : keys) {
    if (auto e = entries_.find(k); e != entries_.end()) erase(e);
  }
}

void auth_cache::erase(absl::flat_hash_map<digest, entry>::iterator it) {
  if (auto u = by_user_.find(it->second.user); u != by_user_.end()) {
    auto& keys = u->second;
    keys.erase(std::remove(keys.begin(), keys.end(), it->first), keys.end());
    if (keys.empty()) by_user_.erase(u);
  }
  order_.erase(it->second.order);
  entries_.erase(it);
}

}  // namespace ringmail::auth
