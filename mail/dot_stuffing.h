// dot_stuffing: a message as a dot-terminated multi-line payload, the one encoder behind
// SMTP DATA (delivery/relay/smtp_client) and POP3 RETR/TOP (protocols/pop3/transfer_encoder.h).
//
// RFC 5321 4.5.2: "Before sending a line of mail text, the SMTP client checks the first
// character of the line. If it is a period, one additional period is inserted at the
// beginning of the line." The payload ends with CRLF "." CRLF (RFC 5321 4.1.1.4).
// RFC 1939 section 3: "If any line of the multi-line response begins with the termination
// octet, the line is 'byte-stuffed' by pre-pending the termination octet to that line ...
// the multi-line response is terminated with the octets "CRLF.CRLF"."
//
// Line ends: every LF not already after a CR goes out as CRLF (queued messages and Maildir
// files may use bare LF). A bare CR is where the two callers differ:
//   - bare_cr::line_break (SMTP; RFC 5321 2.3.8 forbids a bare CR on the wire): a CR not
//     followed by LF is a line end and goes out as CRLF.
//   - bare_cr::keep (POP3): a lone CR is data and goes out as it is, so the octets sent
//     equal the index's vsize (delivery/mailstore folder_scan.cc count_vsize: every LF not
//     after a CR is one octet more), which LIST and STAT have announced.
// Departure from both RFCs: a message whose last line has no line end gets one before the
// terminating "." (in keep mode, a last line ending in a lone CR gets just its LF).
//
// TOP msg n (RFC 1939 section 7): with `body_lines` set, only the headers, the blank line
// after them (a line with nothing but CRs counts as blank) and at most n lines of the body
// are sent; done() turns true once they have been, so the caller stops reading.
//
// Streaming: append() takes the message in pieces of any size, empty ones included, and the
// output does not depend on where it is split (a CR at the end of one piece and an LF at
// the start of the next are one CRLF), so a large message never sits whole in memory.
// Pure; tested against whole-buffer references (tests/mail/dot_stuffing_test.cc) and
// fuzzed (fuzz/dot_stuffing_fuzz.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringmail::mail {

enum class bare_cr : uint8_t {
  line_break,  // a CR not followed by LF ends the line (SMTP)
  keep,        // a CR not followed by LF is data (POP3; keeps the vsize count)
};

struct dot_stuffing_options {
  bare_cr cr = bare_cr::line_break;
  // TOP's n: the headers and at most this many body lines; nullopt = the whole message.
  std::optional<uint32_t> body_lines;
};

class dot_stuffer {
 public:
  explicit dot_stuffer(dot_stuffing_options options = {}) : options_(options) {}

  // Appends the stuffed form of `in` (the next piece of the message) to `out`. Bytes
  // after done() are ignored.
  void append(std::string_view in, std::string& out);
  // Appends the end of the payload: a line end if the message did not end in one, then
  // ".\r\n". The stuffer is then ready for the next message (same options).
  void finish(std::string& out);
  // With body_lines: everything that will be sent has been; the rest is not needed.
  bool done() const { return done_; }

 private:
  void end_line();

  dot_stuffing_options options_;
  bool at_line_start_ = true;
  // The last byte taken was CR. line_break: its CRLF is written, a following LF is
  // swallowed. keep: the CR is written, a following LF gets no second CR.
  bool prev_cr_ = false;
  bool line_empty_ = true;  // the current line has had nothing but CRs so far
  bool in_headers_ = true;
  uint32_t body_lines_sent_ = 0;
  bool done_ = false;
};

// The whole payload at once, for tests and small messages.
std::string dot_stuff(std::string_view message, dot_stuffing_options options = {});

}  // namespace ringmail::mail
