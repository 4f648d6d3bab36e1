// RFC 5228 2.4.2.4 "encoded-character": once a script requires it, "${hex:...}" and
// "${unicode:...}" in its strings stand for octets and characters.
//
//   encoded-arb-octets   = "${hex:" hex-pair-seq "}"
//   hex-pair-seq         = *blank hex-pair *(1*blank hex-pair) *blank
//   hex-pair             = 1*2HEXDIG
//   encoded-unicode-char = "${unicode:" unicode-hex-seq "}"
//   unicode-hex-seq      = *blank unicode-hex *(1*blank unicode-hex) *blank
//   unicode-hex          = 1*HEXDIG
//   blank                = WSP / CRLF
//
// "hex" and "unicode" are case-insensitive. A malformed sequence is not decoded and stays
// as written ("${hex:xy}"); a unicode value outside 0-D7FF and E000-10FFFF is an error
// (the RFC: "It is an error for a script to use a hexadecimal value that isn't in either
// the range 0 to D7FF or the range E000 to 10FFFF"), as in Pigeonhole. Characters become
// UTF-8. Part of the checker: it runs on every string after the require commands.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "delivery/sieve/ast.h"

namespace ringmail::sieve {

// The decoded string; InvalidArgument "line L, column C: ..." (at `where`, the string's
// place) for a unicode value out of range. Linear in the input.
absl::StatusOr<std::string> decode_encoded_characters(std::string_view text,
                                                      source_location where);

}  // namespace ringmail::sieve
