// key_record: the DKIM public key TXT record at <s>._domainkey.<d> (RFC 6376 §3.6.1,
// RFC 8463 §4): "v=DKIM1; k=rsa|ed25519; h=sha256; s=email|*; t=y:s; p=base64".
//
// Refusals (the reason is the status message; all are permerrors for the signature):
// v= not DKIM1, unknown k=, h= without sha256, s= without email or *, an empty p= (the
// key was revoked, §3.6.1), bad base64 or DER, an RSA key under 1,024 bits (RFC 8301 §3.2)
// or over 8,192 bits ("key too large": verifying with a 16,384-bit key costs many
// milliseconds per signature, an attacker's lever; the p= size is checked before any
// DER is parsed).
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"
#include "spam/dkim/crypto.h"

namespace ringmail::spam::dkim {

struct key_limits {
  unsigned min_rsa_bits = 1024;
  unsigned max_rsa_bits = 8192;
};

// A TXT record longer than this is no key record we accept (an 8,192-bit key's p= is
// about 1,400 characters).
inline constexpr size_t max_key_record_bytes = 8192;

struct key_record {
  public_key key;
  bool testing = false;          // t=y
  bool strict_identity = false;  // t=s: i= must be in d= itself, not a subdomain
};

absl::StatusOr<key_record> parse_key_record(std::string_view txt, const key_limits& limits = {});

// The RSA size limits alone, on a key parsed before (key_cache: a key kept from a parse
// under other limits). The same refusals as parse_key_record's.
absl::Status check_key_limits(const public_key& key, const key_limits& limits);

}  // namespace ringmail::spam::dkim
