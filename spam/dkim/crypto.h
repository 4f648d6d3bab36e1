// crypto: the OpenSSL side of DKIM (RFC 6376 §3.3, RFC 8463) — strict base64 for the
// b=/bh=/p= values, SHA-256, public and private keys, signing and verifying the header
// hash. One place that touches EVP, so the parsers and the verifier stay OpenSSL-free.
//
// RFC 8463 §3: Ed25519-SHA256 signs the SHA-256 hash of the canonicalized header data
// with PureEdDSA (the 32-byte digest is the "message"); RSA-SHA256 is RSASSA-PKCS1-v1_5
// over the data with SHA-256 (RFC 6376 §3.3.1).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace ringmail::spam::dkim {

enum class algorithm : uint8_t { rsa_sha256, ed25519_sha256 };
std::string_view to_string(algorithm a);  // "rsa-sha256", "ed25519-sha256"

enum class key_type : uint8_t { rsa, ed25519 };

// Base64 as DKIM values carry it: whitespace (FWS) ignored, every other character in the
// alphabet, '=' padding only at the end, complete quanta. mail::decode_base64 is lenient
// (skips junk) as MIME readers must be; a signature with junk in b= is a permerror
// (RFC 6376 §6.1.1), so the leniency is checked away here. `max_out` bounds the work.
absl::StatusOr<std::string> decode_base64_strict(std::string_view text, size_t max_out);

std::string sha256(std::string_view data);  // the 32-byte digest

struct public_key {
  std::shared_ptr<EVP_PKEY> pkey;
  key_type type = key_type::rsa;
  unsigned bits = 0;  // RSA modulus size; 256 for Ed25519
};

// From a key record's decoded p=: RSA as SubjectPublicKeyInfo (RFC 6376 §3.6.1) or, as
// some publish it, a bare PKCS#1 RSAPublicKey; Ed25519 as the raw 32 bytes (RFC 8463 §4).
absl::StatusOr<public_key> parse_public_key(key_type type, std::string_view der);

struct private_key {
  std::shared_ptr<EVP_PKEY> pkey;
  key_type type = key_type::rsa;
  unsigned bits = 0;
};

// PEM: PKCS#8 ("BEGIN PRIVATE KEY") or traditional ("BEGIN RSA PRIVATE KEY"), RSA or
// Ed25519. The public half, base64 as a p= value wants it (SPKI for RSA, raw for Ed25519).
absl::StatusOr<private_key> load_private_key(std::string_view pem);
std::string public_key_record_value(const private_key& key);

// The header-hash signature over `data` (the canonicalized header fields).
absl::StatusOr<std::string> sign_data(const private_key& key, algorithm a, std::string_view data);
bool verify_data(const public_key& key, algorithm a, std::string_view data, std::string_view signature);

}  // namespace ringmail::spam::dkim
