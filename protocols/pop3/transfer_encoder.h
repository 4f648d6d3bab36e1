// transfer_encoder: a message file as RETR and TOP send it (RFC 1939 section 3).
//
// "Responses to certain commands are multi-line. ... each line is terminated by a CRLF
// pair. ... If any line of the multi-line response begins with the termination octet,
// the line is 'byte-stuffed' by pre-pending the termination octet to that line ...
// the multi-line response is terminated with the octets "CRLF.CRLF"."
//
// Maildir files may end their lines with LF (Dovecot, most MDAs) or CRLF (ringmail's own
// deliveries keep what arrived): every LF not already after a CR goes out as CRLF, the
// same rule as the index's vsize (the size LIST and STAT report), so the octets sent for
// a message equal its listed size plus the stuffing and the terminator. A message whose
// last line has no line end gets a CRLF before the terminating ".".
//
// TOP msg n (section 7): the headers, the blank line after them, then at most n lines of
// the body. done() turns true once that much has been sent, so the caller stops reading.
//
// Streaming: feed() takes the file in chunks of any size (state crosses chunk borders),
// so a large message never sits whole in memory. Pure; fuzzed and tested alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringmail::pop3 {

class transfer_encoder {
 public:
  // `body_lines`: TOP's n; nullopt for RETR (the whole message).
  explicit transfer_encoder(std::optional<uint32_t> body_lines = std::nullopt) : body_lines_(body_lines) {}

  // Appends the encoded form of `chunk` (the next bytes of the file) to *out. Bytes after
  // done() are ignored.
  void feed(std::string_view chunk, std::string* out);
  // Appends the end of the response: a CRLF if the last line was not ended, then ".\r\n".
  void finish(std::string* out);
  // TOP has sent all it should; the rest of the file is not needed.
  bool done() const { return done_; }

 private:
  void end_line(std::string* out);

  std::optional<uint32_t> body_lines_;
  bool at_line_start_ = true;
  bool prev_cr_ = false;     // the last byte fed was CR (its LF may come in the next chunk)
  bool line_empty_ = true;   // the current line has had nothing but CRs so far
  bool in_headers_ = true;
  uint32_t body_lines_sent_ = 0;
  bool done_ = false;
};

}  // namespace ringmail::pop3
