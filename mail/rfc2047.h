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

}  // namespace ringmail::mail
