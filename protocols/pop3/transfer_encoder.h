// transfer_encoder: a message file as RETR and TOP send it (RFC 1939 section 3), a thin
// face over mail/dot_stuffing.h (the one dot-stuffing encoder, shared with the SMTP relay).
//
// "Responses to certain commands are multi-line. ... each line is terminated by a CRLF
// pair. ... If any line of the multi-line response begins with the termination octet,
// the line is 'byte-stuffed' by pre-pending the termination octet to that line ...
// the multi-line response is terminated with the octets "CRLF.CRLF"."
//
// Maildir files may end their lines with LF (Dovecot, most MDAs) or CRLF (ringmail's own
// deliveries keep what arrived): every LF not already after a CR goes out as CRLF and a
// lone CR is sent as data (bare_cr::keep), the same rule as the index's vsize (the size
// LIST and STAT report), so the octets sent for a message equal its listed size plus the
// stuffing and the terminator. A message whose last line has no line end gets a CRLF
// before the terminating ".".
//
// TOP msg n (section 7): the headers, the blank line after them, then at most n lines of
// the body. done() turns true once that much has been sent, so the caller stops reading.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mail/dot_stuffing.h"

namespace ringmail::pop3 {

class transfer_encoder {
 public:
  // `body_lines`: TOP's n; nullopt for RETR (the whole message).
  explicit transfer_encoder(std::optional<uint32_t> body_lines = std::nullopt)
      : stuffer_({.cr = mail::bare_cr::keep, .body_lines = body_lines}) {}

  // Appends the encoded form of `chunk` (the next bytes of the file) to *out. Bytes after
  // done() are ignored.
  void feed(std::string_view chunk, std::string* out) { stuffer_.append(chunk, *out); }
  // Appends the end of the response: a CRLF if the last line was not ended, then ".\r\n".
  void finish(std::string* out) { stuffer_.finish(*out); }
  // TOP has sent all it should; the rest of the file is not needed.
  bool done() const { return stuffer_.done(); }

 private:
  mail::dot_stuffer stuffer_;
};

}  // namespace ringmail::pop3
