// RFC 2047 encoded words in header values: =?charset?B|Q?text?=, with the RFC's rules
// (whitespace between adjacent encoded words is dropped) and the usual leniency (encoded
// words inside quoted strings or words, RFC 2231 language suffix "charset*lang").
#pragma once

#include <string>
#include <string_view>

#include "mail/charset.h"

namespace ringmail::mail {

// Decodes an UNFOLDED header value to UTF-8. Text outside encoded words is taken as
// UTF-8 (invalid bytes repaired; 8-bit headers are common). At most max_encoded_words
// (limits.h) are decoded, the rest kept as is.
std::string decode_header_words(std::string_view value, charset_converter& charsets);

// The other direction, for header fields we write (Sieve's vacation Subject:, a reject
// notice's Subject:): UTF-8 text as RFC 2047 "B" encoded words in utf-8, each at most 75
// octets (RFC 2047 2) and an integral number of characters (RFC 2047 5), separated by
// single spaces so the caller can fold between them (RFC 2047 2: a line holding an
// encoded word is at most 76 characters). Invalid UTF-8 is repaired first (U+FFFD).
// Returns the text unchanged when it is printable ASCII with spaces; control octets are
// the caller's to remove (a CR or LF here is encoded, never written raw).
// `first_word_max` (at least 24) bounds the first word, so it can share its line with
// the field name ("Subject: " takes 9 of the 76).
std::string encode_header_words(std::string_view utf8, size_t first_word_max = 75);

}  // namespace ringmail::mail
