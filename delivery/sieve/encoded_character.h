// The "encoded-character" extension (RFC 5228 2.4.2.4): in a script's string literals,
//   encoded-arb-octets   = "${hex:" hex-pair-seq "}"
//   hex-pair-seq         = *blank hex-pair *(1*blank hex-pair) *blank
//   hex-pair             = 1*2HEXDIG
//   encoded-unicode-char = "${unicode:" unicode-hex-seq "}"
//   unicode-hex-seq      = *blank unicode-hex *(1*blank unicode-hex) *blank
//   unicode-hex          = 1*HEXDIG
//   blank                = WSP / CRLF
// "hex:" and "unicode:" are case-insensitive. A sequence that does not follow this
// grammar is left as written ("${hex:40" and "${hex:400}" stay verbatim), and decoding is
// one pass: "${hex:4${hex:30}}" becomes "${hex:40}", not "@". "It is an error for a
// script to use a hexadecimal value that isn't in either the range 0 to D7FF or the range
// E000 to 10FFFF": such a ${unicode:...} fails the whole string (the script does not
// compile). ${hex:...} may produce any octets, including invalid UTF-8 (the RFC allows
// it; where a string must be UTF-8 the checker says so).
// The parser applies this to every string literal when the script requires
// "encoded-character", before variables are expanded. Pure.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringmail::sieve::matching {

// Decodes every encoded character in `text`. InvalidArgument for a ${unicode:...} whose
// value is a surrogate or above U+10FFFF. The output is never longer than the input
// (each encoding takes more octets than what it stands for).
absl::StatusOr<std::string> decode_encoded_characters(std::string_view text);

}  // namespace ringmail::sieve::matching
