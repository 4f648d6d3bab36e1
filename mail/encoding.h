// Content-Transfer-Encodings (RFC 2045 sec. 6): base64 and quoted-printable decoding.
// Lenient as mail readers are: invalid characters are skipped and counted, never fatal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringmail::mail {

struct decode_stats {
  size_t invalid = 0;   // characters skipped (not in the alphabet, broken =XX escapes)
  bool truncated = false;  // input ended inside a quantum / an escape
};

// Appends the decoded bytes to `out`; skips whitespace and invalid characters (counted);
// stops at the first '=' padding quantum and ignores what follows. Decodes at most
// `max_out` bytes of output.
void decode_base64(std::string_view in, std::string& out, decode_stats* stats = nullptr,
                   size_t max_out = static_cast<size_t>(-1));
// RFC 2045 6.7: soft line breaks (=CRLF / =LF), =XX (either case), trailing whitespace on
// lines dropped. `header_mode` (RFC 2047 "Q"): '_' means space.
void decode_quoted_printable(std::string_view in, std::string& out, decode_stats* stats = nullptr,
                             bool header_mode = false, size_t max_out = static_cast<size_t>(-1));
// Base64 encoding (for tests and for the IMAP server's BINARY answers later).
std::string encode_base64(std::string_view in);

}  // namespace ringmail::mail
