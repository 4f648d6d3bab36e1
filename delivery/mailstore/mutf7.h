// IMAP modified UTF-7 (RFC 3501 section 5.1.3, unchanged in RFC 9051 section 5.1.3), the
// encoding Dovecot uses for folder names on disk (".Entw&APw-rfe") and in `subscriptions`.
//
// RFC 3501 5.1.3: "printable US-ASCII characters, except for "&", represent themselves;
// that is, characters with octet values 0x20-0x25 and 0x27-0x7e. The character "&"
// (0x26) is represented by the two-octet sequence "&-". All other characters (octet
// values 0x00-0x1f and 0x7f-0xff) are represented in modified BASE64, with a further
// modification from [UTF-7] that "," is used instead of "/". Modified BASE64 MUST NOT be
// used to represent any printing US-ASCII character which can represent itself."
// And: "'&' is used to shift to modified BASE64 and '-' to shift back to US-ASCII ...
// All names start in US-ASCII, and MUST end in US-ASCII".
//
// The decoder accepts only the canonical form, so decode -> encode gives back the input
// byte for byte (two names that differ on disk never decode to the same folder). It
// rejects: raw bytes outside 0x20-0x7e, an unterminated shift, characters outside the
// modified BASE64 alphabet, padding ('='), a shift that encodes printable ASCII, two
// shifts back to back ("&AOQ-&AOQ-", which an encoder writes as one), leftover bits that
// are not zero or that make up a whole 16-bit unit's worth of junk, and broken UTF-16
// (lone or reversed surrogates). "&-" is the only zero-length shift and means '&'.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringmail::mailstore {

// UTF-8 -> modified UTF-7. InvalidArgument on invalid UTF-8 (overlong forms, surrogates,
// code points above U+10FFFF, truncated sequences).
absl::StatusOr<std::string> utf8_to_mutf7(std::string_view utf8);

// Modified UTF-7 -> UTF-8. InvalidArgument on any non-canonical or malformed input (above).
absl::StatusOr<std::string> mutf7_to_utf8(std::string_view mutf7);

// True if `utf8` is well-formed UTF-8 (the same rules utf8_to_mutf7 applies).
bool is_valid_utf8(std::string_view utf8);

}  // namespace ringmail::mailstore
