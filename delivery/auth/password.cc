#include "delivery/auth/password.h"

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace ringmail::auth {
namespace {

struct scheme_entry {
  std::string_view name;
  scheme s;
};

// The first entry for each scheme is its canonical name (scheme_name() returns it).
constexpr scheme_entry kSchemes[] = {
    {"BLF-CRYPT", scheme::blf_crypt},       {"SHA512-CRYPT", scheme::sha512_crypt},
    {"SHA256-CRYPT", scheme::sha256_crypt}, {"ARGON2I", scheme::argon2i},
    {"ARGON2ID", scheme::argon2id},         {"SSHA512", scheme::ssha512},
    {"SSHA256", scheme::ssha256},           {"PLAIN", scheme::plain},
    {"CRYPT", scheme::crypt},
    // Dovecot's aliases for PLAIN (`doveadm pw -l` lists both).
    {"CLEARTEXT", scheme::plain},           {"CLEAR", scheme::plain},
};

char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_upper(a[i]) != ascii_upper(b[i])) return false;
  }
  return true;
}

std::optional<scheme> lookup_scheme(std::string_view name) {
  for (const auto& e : kSchemes) {
    if (iequals(e.name, name)) return e.s;
  }
  return std::nullopt;
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

absl::string_view to_absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Equal-length check, then CRYPTO_memcmp, so the time taken does not depend on where the
// first differing byte is. The length itself is not secret here: both sides are hashes
// whose length follows from the public scheme.
bool same_bytes(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// A heap-allocated `struct crypt_data` (about 32 KiB: too much for a small coroutine or
// pool thread stack), zeroed as libxcrypt asks before first use, and wiped afterwards
// because it holds the passphrase and intermediate state.
struct crypt_scratch {
  std::unique_ptr<crypt_data> data = std::make_unique<crypt_data>();
  ~crypt_scratch() { OPENSSL_cleanse(data.get(), sizeof(crypt_data)); }
};

// crypt_rn() with our own scratch area, so concurrent calls do not share static state
// (crypt(3) would). Returns nullopt on any failure; crypt_rn signals failure by NULL, and
// we also refuse the "*0"/"*1" failure tokens other crypt variants return.
std::optional<std::string> run_crypt(std::string_view password, std::string_view setting) {
  if (has_nul(password) || has_nul(setting) || setting.empty()) return std::nullopt;
  std::string phrase(password);
  std::string setting_z(setting);
  crypt_scratch scratch;
  const char* out = crypt_rn(phrase.c_str(), setting_z.c_str(), scratch.data.get(), sizeof(crypt_data));
  secure_wipe(phrase);
  if (out == nullptr || out[0] == '*' || out[0] == '\0') return std::nullopt;
  return std::string(out);
}

bool crypt_matches(std::string_view password, std::string_view stored) {
  // Dovecot, too, recomputes crypt(password, stored) and compares the whole string.
  auto out = run_crypt(password, stored);
  return out.has_value() && same_bytes(*out, stored);
}

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  for (auto p : prefixes) {
    if (s.starts_with(p)) return true;
  }
  return false;
}

// Upper bounds on the Argon2 parameters of a stored hash. A corrupt or hostile row must
// not pin an offload thread for minutes or make it allocate gigabytes; real deployments
// sit far below (Dovecot's defaults are 32-64 MiB and t=3..4).
constexpr uint64_t kMaxArgon2MemoryKiB = uint64_t{2} << 20;  // 2 GiB
constexpr uint64_t kMaxArgon2Time = 256;
constexpr uint64_t kMaxArgon2Lanes = 64;

std::optional<uint64_t> take_param(std::string_view& s, std::string_view key) {
  if (!s.starts_with(key)) return std::nullopt;
  s.remove_prefix(key.size());
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr == s.data()) return std::nullopt;
  s.remove_prefix(static_cast<size_t>(ptr - s.data()));
  return v;
}

// PHC string format as libargon2 and libsodium write it:
//   $argon2id$v=19$m=65536,t=3,p=1$<salt b64>$<hash b64>   ("v=" absent in v1.0 hashes)
// We read only the cost parameters, to apply the limits above; libargon2 parses the rest.
bool argon2_params_acceptable(std::string_view after_type) {
  std::string_view s = after_type;
  if (s.starts_with("v=")) {
    size_t dollar = s.find('$');
    if (dollar == std::string_view::npos) return false;
    s.remove_prefix(dollar + 1);
  }
  auto m = take_param(s, "m=");
  auto t = m ? take_param(s, ",t=") : std::nullopt;
  auto p = t ? take_param(s, ",p=") : std::nullopt;
  if (!p || !s.starts_with('$')) return false;
  return *m <= kMaxArgon2MemoryKiB && *t >= 1 && *t <= kMaxArgon2Time && *p >= 1 && *p <= kMaxArgon2Lanes;
}

bool argon2_matches(std::string_view password, std::string_view encoded) {
  // The type comes from the encoded string, not the {ARGON2I}/{ARGON2ID} tag: Dovecot
  // verifies both through libsodium's crypto_pwhash_str_verify, which does the same.
  argon2_type type;
  std::string_view after_type;
  if (encoded.starts_with("$argon2id$")) {
    type = Argon2_id;
    after_type = encoded.substr(10);
  } else if (encoded.starts_with("$argon2i$")) {
    type = Argon2_i;
    after_type = encoded.substr(9);
  } else {
    return false;  // argon2d is for non-password uses; libsodium refuses it too
  }
  if (has_nul(encoded) || !argon2_params_acceptable(after_type)) return false;
  std::string encoded_z(encoded);
  // argon2_verify recomputes the hash and compares in constant time.
  return argon2_verify(encoded_z.c_str(), password.data(), password.size(), type) == ARGON2_OK;
}

// digest(password || salt), as Dovecot's SSHA family computes it.
std::optional<std::string> salted_digest(const EVP_MD* md, std::string_view password, std::string_view salt) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), password.data(), password.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), salt.data(), salt.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out, &out_len) != 1) {
    return std::nullopt;
  }
  std::string digest(reinterpret_cast<const char*>(out), out_len);
  OPENSSL_cleanse(out, sizeof(out));
  return digest;
}

// Dovecot: {SSHA512} = base64(SHA512(password || salt) || salt), salt of any length
// (Dovecot writes 4 bytes; we write 16). Dovecot refuses a value no longer than the bare
// digest, and so do we.
bool ssha_matches(const EVP_MD* md, std::string_view password, std::string_view b64) {
  std::string raw;
  if (!absl::Base64Unescape(to_absl(b64), &raw)) return false;
  size_t digest_len = static_cast<size_t>(EVP_MD_get_size(md));
  if (raw.size() <= digest_len) return false;
  std::string_view raw_view(raw);
  auto digest = salted_digest(md, password, raw_view.substr(digest_len));
  return digest.has_value() && same_bytes(*digest, raw_view.substr(0, digest_len));
}

bool plain_matches(std::string_view password, std::string_view stored) {
  // Compare digests rather than the strings, so neither the length of the stored
  // password nor the position of the first wrong byte shows in the timing.
  auto a = salted_digest(EVP_sha256(), password, {});
  auto b = salted_digest(EVP_sha256(), stored, {});
  return a && b && same_bytes(*a, *b) && password.size() == stored.size();
}

absl::StatusOr<std::string> random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return out;
}

// crypt_gensalt_rn(prefix, count, 16 random bytes) then crypt_rn(password, setting).
absl::StatusOr<std::string> crypt_hash(std::string_view password, const char* prefix, unsigned long count) {
  auto rbytes = random_bytes(16);
  if (!rbytes.ok()) return rbytes.status();
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(prefix, count, rbytes->data(), static_cast<int>(rbytes->size()), setting,
                       sizeof(setting)) == nullptr) {
    return absl::InternalError(absl::StrCat("crypt_gensalt_rn(", prefix, ") failed: ", std::strerror(errno)));
  }
  auto out = run_crypt(password, setting);
  if (!out) return absl::InternalError(absl::StrCat("crypt_rn(", prefix, ") failed"));
  return std::move(*out);
}

absl::StatusOr<std::string> argon2_encoded(std::string_view password, argon2_type type, int cost,
                                           uint32_t default_t_cost, uint32_t m_cost_kib) {
  // Stay within what argon2_matches() accepts, or we would write unverifiable hashes.
  if (cost < 0 || static_cast<uint64_t>(cost) > kMaxArgon2Time) {
    return absl::InvalidArgumentError(absl::StrCat("Argon2 time cost must be 1..", kMaxArgon2Time));
  }
  uint32_t t_cost = cost == 0 ? default_t_cost : static_cast<uint32_t>(cost);
  constexpr uint32_t kLanes = 1, kSaltLen = 16, kHashLen = 32;  // as libsodium/Dovecot
  auto salt = random_bytes(kSaltLen);
  if (!salt.ok()) return salt.status();
  std::string encoded(argon2_encodedlen(t_cost, m_cost_kib, kLanes, kSaltLen, kHashLen, type), '\0');
  int rc = ::argon2_hash(t_cost, m_cost_kib, kLanes, password.data(), password.size(), salt->data(), kSaltLen,
                       nullptr, kHashLen, encoded.data(), encoded.size(), type, ARGON2_VERSION_13);
  if (rc != ARGON2_OK) return absl::InternalError(absl::StrCat("argon2: ", argon2_error_message(rc)));
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

absl::StatusOr<std::string> ssha_hash(const EVP_MD* md, std::string_view password) {
  auto salt = random_bytes(16);
  if (!salt.ok()) return salt.status();
  auto digest = salted_digest(md, password, *salt);
  if (!digest) return absl::InternalError("SHA-2 digest failed");
  return absl::Base64Escape(absl::StrCat(*digest, *salt));
}

absl::StatusOr<std::string> hash_body(std::string_view password, scheme s, int cost) {
  switch (s) {
    case scheme::blf_crypt:
    case scheme::crypt: {
      // bcrypt's cost is log2(rounds); crypt_blowfish accepts 4..31.
      int c = cost == 0 ? 10 : cost;
      if (c < 4 || c > 31) return absl::InvalidArgumentError("bcrypt cost must be 4..31");
      return crypt_hash(password, "$2y$", static_cast<unsigned long>(c));
    }
    case scheme::sha512_crypt:
    case scheme::sha256_crypt: {
      // Drepper's SHA-crypt spec: rounds 1000..999,999,999, default 5000. count 0 asks
      // libxcrypt for the default, which it writes without "rounds=" (as Dovecot does).
      if (cost != 0 && (cost < 1000 || cost > 999'999'999)) {
        return absl::InvalidArgumentError("SHA-crypt rounds must be 1000..999999999");
      }
      return crypt_hash(password, s == scheme::sha512_crypt ? "$6$" : "$5$", static_cast<unsigned long>(cost));
    }
    case scheme::argon2id:
      // Dovecot 2.3 `doveadm pw -s ARGON2ID`: $argon2id$v=19$m=65536,t=3,p=1$...
      return argon2_encoded(password, Argon2_id, cost, 3, 65536);
    case scheme::argon2i:
      // Dovecot 2.3 `doveadm pw -s ARGON2I`: $argon2i$v=19$m=32768,t=4,p=1$...
      return argon2_encoded(password, Argon2_i, cost, 4, 32768);
    case scheme::ssha512:
      return ssha_hash(EVP_sha512(), password);
    case scheme::ssha256:
      return ssha_hash(EVP_sha256(), password);
    case scheme::plain:
      return std::string(password);
  }
  return absl::InvalidArgumentError("unknown scheme");
}

}  // namespace

absl::StatusOr<scheme> parse_scheme(std::string_view name) {
  if (auto s = lookup_scheme(name)) return *s;
  return absl::InvalidArgumentError(absl::StrCat("unknown password scheme \"", std::string(name), "\""));
}

std::string_view scheme_name(scheme s) {
  for (const auto& e : kSchemes) {
    if (e.s == s) return e.name;
  }
  return "UNKNOWN";
}

bool verify_password(std::string_view password, std::string_view stored) {
  if (password.empty()) return false;
  scheme s;
  std::string_view rest;
  if (stored.starts_with('{')) {
    size_t close = stored.find('}');
    if (close == std::string_view::npos) return false;
    auto found = lookup_scheme(stored.substr(1, close - 1));
    if (!found) return false;  // also "{SSHA512.b64}": encoding suffixes are not supported
    s = *found;
    rest = stored.substr(close + 1);
  } else if (stored.starts_with('$')) {
    s = scheme::crypt;
    rest = stored;
  } else {
    return false;  // a bare non-crypt value: we do not guess PLAIN
  }
  if (rest.empty()) return false;

  switch (s) {
    case scheme::blf_crypt:
      // Dovecot's BLF-CRYPT refuses anything not "$2": a {BLF-CRYPT} row holding some
      // other crypt variant is corrupt, not a cue to fall back.
      return starts_with_any(rest, {"$2a$", "$2b$", "$2y$"}) && crypt_matches(password, rest);
    case scheme::sha512_crypt:
      return rest.starts_with("$6$") && crypt_matches(password, rest);
    case scheme::sha256_crypt:
      return rest.starts_with("$5$") && crypt_matches(password, rest);
    case scheme::crypt:
      return crypt_matches(password, rest);
    case scheme::argon2i:
    case scheme::argon2id:
      return argon2_matches(password, rest);
    case scheme::ssha512:
      return ssha_matches(EVP_sha512(), password, rest);
    case scheme::ssha256:
      return ssha_matches(EVP_sha256(), password, rest);
    case scheme::plain:
      return plain_matches(password, rest);
  }
  return false;
}

absl::StatusOr<std::string> hash_password(std::string_view password, scheme s, int cost) {
  if (password.empty()) return absl::InvalidArgumentError("empty password");
  if (has_nul(password)) return absl::InvalidArgumentError("password contains a NUL byte");
  if (password.size() >= CRYPT_MAX_PASSPHRASE_SIZE) {
    return absl::InvalidArgumentError(absl::StrCat("password longer than ", CRYPT_MAX_PASSPHRASE_SIZE - 1, " bytes"));
  }
  if (cost < 0) return absl::InvalidArgumentError("negative cost");
  auto body = hash_body(password, s, cost);
  if (!body.ok()) return body.status();
  return absl::StrCat("{", std::string(scheme_name(s)), "}", *body);
}

void secure_wipe(std::string& s) {
  // Grow to the capacity first so bytes left beyond size() by an earlier, longer value
  // are wiped too; resize within capacity does not reallocate.
  s.resize(s.capacity());
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace ringmail::auth
