// Password hashes in Dovecot's "{SCHEME}hash" form, so that an existing ISPmail
// `virtual_users.password` column keeps working and `doveadm pw -t` accepts what we make.
// Scheme names and formats follow Dovecot 2.3 (doc: "Password Schemes",
// src/auth/password-scheme*.c).
//
// Everything here is pure and CPU-bound: bcrypt and Argon2 cost tens of milliseconds and
// Argon2 touches tens of MiB, so callers run these on the offload pool, never on a shard.
// No function keeps state between calls; all are safe to call from many threads at once
// (crypt_rn gets its own `struct crypt_data` per call; libargon2 and OpenSSL are
// reentrant).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringmail::auth {

enum class scheme {
  blf_crypt,     // {BLF-CRYPT}    bcrypt, $2y$ (also verifies $2a$, $2b$)
  sha512_crypt,  // {SHA512-CRYPT} $6$ (Drepper's SHA-crypt)
  sha256_crypt,  // {SHA256-CRYPT} $5$
  argon2i,       // {ARGON2I}      $argon2i$v=19$m=...,t=...,p=...$salt$hash
  argon2id,      // {ARGON2ID}     $argon2id$v=19$...
  ssha512,       // {SSHA512}      base64(SHA512(password || salt) || salt)
  ssha256,       // {SSHA256}      base64(SHA256(password || salt) || salt)
  plain,         // {PLAIN}        the password itself; aliases {CLEARTEXT}, {CLEAR}
  crypt,         // {CRYPT} or a bare "$id$..." string: whatever libxcrypt's crypt() knows
};

// Case-insensitive, as Dovecot compares scheme names. Accepts the names above (and the
// PLAIN aliases); anything else is InvalidArgument.
absl::StatusOr<scheme> parse_scheme(std::string_view name);

// The canonical upper-case name, as written between the braces.
std::string_view scheme_name(scheme s);

// True when `password` matches `stored`, which is "{SCHEME}rest" or a bare crypt string
// beginning with '$' (treated as {CRYPT}, as Dovecot does with default_pass_scheme=CRYPT).
// Anything unknown or malformed is false; this never throws and never aborts.
//
// Not supported, so false: Dovecot's explicit encoding suffixes ("{SSHA512.b64}",
// "{SHA256.hex}"), unsalted digests ({SHA512}, {MD5}, ...), MD5-CRYPT/DES-CRYPT by those
// names (a "$1$" hash under {CRYPT} still works if libxcrypt has it enabled), SCRAM,
// PBKDF2 and the challenge-response schemes. An empty password never verifies.
//
// Limits inherited from the algorithms: bcrypt reads only the first 72 bytes of the
// password, and no crypt()-based scheme can carry a NUL byte, so a password containing one
// never verifies against those schemes (rather than matching its truncated prefix).
bool verify_password(std::string_view password, std::string_view stored);

// A new "{SCHEME}..." hash with a fresh random salt (OpenSSL RAND_bytes).
// `cost` 0 means the default; its meaning per scheme:
//   blf_crypt, crypt: bcrypt log2 rounds, 4..31, default 10 ({CRYPT} hashes as bcrypt $2y$,
//                     which is what Dovecot 2.3's CRYPT generates too).
//   sha512_crypt, sha256_crypt: rounds, 1000..999999999; default 5000, written as the
//                     plain "$6$salt$hash" form without "rounds=".
//   argon2i, argon2id: time cost t, 1..256 (the most verify_password accepts); memory and
//                     parallelism as Dovecot's defaults (argon2id m=65536 KiB t=3 p=1;
//                     argon2i m=32768 KiB t=4 p=1).
//   ssha512, ssha256, plain: no cost parameter; ignored, as `doveadm pw -r` ignores it.
// InvalidArgument for an empty password, one containing NUL or longer than 511 bytes
// (crypt(3) cannot take those, and every scheme takes the same inputs so that changing the
// default scheme never strands a password), or a cost out of range; Internal when the
// random source or a library fails.
absl::StatusOr<std::string> hash_password(std::string_view password, scheme s, int cost = 0);

// Overwrites the string's bytes in a way the compiler may not elide (OPENSSL_cleanse),
// then clears it. For callers that held a password or another secret.
void secure_wipe(std::string& s);

}  // namespace ringmail::auth
