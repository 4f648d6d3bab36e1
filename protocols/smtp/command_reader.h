// Splits an SMTP (RFC 5321) or LMTP (RFC 2033) client stream into command lines.
//
// Pure and incremental: the session passes whatever bytes it has buffered and gets back a
// line, an error, or "need more", plus how many bytes were consumed. Bytes after the
// command are never touched, so pipelined commands (RFC 2920) survive, and STARTTLS and
// DATA/BDAT switch modes at the exact byte where the command ended.
//
// A line ends only at CRLF (RFC 5321 section 2.3.8). A bare LF, a bare CR or a NUL inside
// a command is an error: tolerating them is how command and data framing get out of step
// between MTAs (SMTP smuggling). An erroneous or over-long line is reported once and then
// discarded up to and including its CRLF - never re-read as a command - even when that
// CRLF arrives in a later call (meanwhile need_more results consume the junk).
//
// Driving loop (the line view points into the caller's buffer, so use it before erasing):
//   for (;;) {
//     auto r = reader.next(buffer);
//     if (r.k == result::kind::line) handle(r.line);
//     else if (r.k == result::kind::error) reply(r.code, r.enhanced, r.error);
//     buffer.erase(0, r.consumed);
//     if (r.k == result::kind::need_more) break;   // read more, then call again
//   }
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringmail::smtp {

class command_reader {
 public:
  // RFC 5321 section 4.5.3.1.4 allows 512 octets including CRLF, but every extension
  // lengthens MAIL FROM (RFC 1870 SIZE= by 26, RFC 4954 section 3 AUTH= by 500, plus
  // BODY=, SMTPUTF8 and UTF-8 paths), and an AUTH initial response for PLAIN with
  // 255-octet fields is about 1 KiB of base64. 4096 covers all of that with room to spare
  // while bounding what a client can make us buffer before it sends a CRLF.
  static constexpr size_t default_max_line = 4096;
  // Smallest usable limit: CRLF plus one byte; smaller values are raised to it.
  static constexpr size_t min_max_line = 3;

  struct limits {
    size_t max_line = default_max_line;  // octets, including the CRLF (as RFC 5321 counts)
    bool allow_bare_lf = false;          // normalize mode: LF alone also ends a line
  };

  struct result {
    enum class kind { need_more, line, error } k = kind::need_more;
    std::string_view line;  // kind::line: the command without its CRLF
    std::string error;      // kind::error: "line too long", "bare LF", "bare CR",
                            //   "NUL in command" - fixed text, never client bytes
    int code = 0;           // kind::error: suggested reply, 500 (RFC 5321 4.5.3.1)
    const char* enhanced = "";  // kind::error: "5.5.2" (RFC 3463 syntax error)
    size_t consumed = 0;    // drop this many bytes from the front of the input
  };

  command_reader();
  explicit command_reader(limits l);

  // Splits off the first line of `input`, which must begin where the previous call's
  // consumption ended. need_more may still consume bytes (junk of a bad line).
  result next(std::string_view input);

 private:
  result fail(std::string_view input, size_t bad, size_t already, const char* why);
  // Index just past the first line terminator at or after `from`, or npos.
  size_t line_end(std::string_view input, size_t from) const;

  limits limits_;
  bool skipping_ = false;  // inside a reported bad line, discarding up to its CRLF
};

}  // namespace ringmail::smtp
