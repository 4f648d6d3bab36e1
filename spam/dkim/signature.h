// signature: the DKIM-Signature header field's tag list (RFC 6376 §3.5), parsed and
// checked, and the same for ARC-Message-Signature (RFC 8617 §4.1.2: DKIM's tags, i= is
// the ARC instance, no v=).
//
// Refusals are permerrors (RFC 6376 §6.1.1) with the reason as the status message:
// v= not 1, a missing required tag, an unknown or weak algorithm (rsa-sha1: RFC 8301 §3.1
// says verifiers MUST NOT consider it valid), i= outside d=, h= without From, x= before
// t=, bad base64. Limits against hostile headers (the numbers below): h= names, b= size,
// the tag count (parse_tag_list looks duplicates up linearly).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "spam/dkim/crypto.h"

namespace ringmail::spam::dkim {

enum class canonicalization : uint8_t { simple, relaxed };

// h= names at most (200): more is no honest signature; each costs a header scan.
inline constexpr size_t max_signed_header_names = 200;
// b= at most 1,024 bytes decoded: an 8,192-bit RSA signature.
inline constexpr size_t max_signature_bytes = 1024;
// A tag list longer than this many tags is refused before parsing it.
inline constexpr size_t max_signature_tags = 64;

enum class signature_kind : uint8_t { dkim, arc_message_signature };

struct signature {
  algorithm algo = algorithm::rsa_sha256;
  canonicalization header_canon = canonicalization::simple;
  canonicalization body_canon = canonicalization::simple;
  std::string domain;    // d=, as written
  std::string selector;  // s=
  std::string identity;  // i= (DKIM; "@" + d= when absent)
  unsigned instance = 0; // i= (ARC)
  std::vector<std::string> signed_headers;  // h=, names trimmed, in order
  std::string body_hash;       // bh=, decoded
  std::string signature_data;  // b=, decoded
  std::string b_text;          // b= without whitespace (for header.b, RFC 6008)
  std::optional<uint64_t> body_length;  // l=
  std::optional<uint64_t> timestamp;    // t=
  std::optional<uint64_t> expiry;       // x=
};

absl::StatusOr<signature> parse_signature(std::string_view value,
                                          signature_kind kind = signature_kind::dkim);

// A decimal tag value (t=, x=, l=, i= of ARC): 1-20 digits, no sign, fits in 64 bits.
std::optional<uint64_t> parse_decimal(std::string_view text);

// `d` equals `parent` or is a subdomain of it, case-insensitively (i= within d=).
bool is_same_or_subdomain(std::string_view d, std::string_view parent);

}  // namespace ringmail::spam::dkim
