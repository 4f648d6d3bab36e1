// Frames IMAP commands out of the client's byte stream (RFC 9051 section 2.2, 4.3 and
// 7.5; RFC 7888 LITERAL+ / LITERAL-). A command is a line ending in CRLF, except that a
// line ending in a literal header "{n}" / "{n+}" / "~{n}" continues with n octets and
// then more of the command. Pure and incremental, like smtp/command_reader.h: the session
// passes what it has buffered and gets back one of
//   need_more      - read more bytes (possibly after sending `+ ...`, see below);
//   continue_literal - a synchronizing literal "{n}" was accepted: send the client a
//                    continuation request ("+ Ready for literal data") once, then read;
//   command        - `consumed` bytes form one command; `bytes` is it without the final
//                    CRLF, to hand to parse_command();
//   error          - a framing error: `tag` (or "*") and `message` for the BAD/NO reply,
//                    `close` if the stream cannot be resynchronised (the session answers
//                    and closes: RFC 7888 section 4 for a too-large non-synchronizing
//                    literal, since its bytes are already on the way).
// The bytes of a command are never interpreted beyond the framing: the parser does that.
//
// Limits (all octets): a line (the text between literals) may be at most max_line; a
// literal at most max_literal, and a non-synchronizing one at most max_nonsync_literal
// (RFC 7888 LITERAL-: 4096) unless literal_plus; the whole command (lines + literals) at
// most max_command. Before authentication the session passes small limits. A refused
// synchronizing literal gets a tagged NO/BAD and the command ends there (the client sent
// nothing after "{n}" and waits for our answer). An over-long line is answered once and
// discarded up to its CRLF. Lines end at CRLF or at a bare LF (Dovecot accepts a bare LF
// in IMAP too); literal octets are never searched for line ends.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringmail::imap {

class command_reader {
 public:
  struct limits {
    size_t max_line = 64 * 1024;
    size_t max_literal = 64ull << 20;       // APPEND's size flag after login
    size_t max_nonsync_literal = 4096;      // RFC 7888 LITERAL-
    bool literal_plus = false;              // LITERAL+: any size may be non-synchronizing
    size_t max_command = 65ull << 20;
  };

  struct result {
    enum class kind { need_more, continue_literal, command, error } k = kind::need_more;
    std::string_view bytes;  // kind::command: the command without its final CRLF
    size_t consumed = 0;     // drop this many bytes from the front of the input
    std::string tag;         // kind::error: the command's tag, or "*" if none was read
    std::string message;     // kind::error: fixed text for the reply
    bool too_big = false;    // kind::error: answer NO [TOOBIG] (RFC 4469/7888) not BAD;
                             //   with `close`: "tag BAD [TOOBIG] ..." as RFC 7888
                             //   section 4 asks for a non-synchronizing literal
    bool close = false;      // kind::error: answer, then close the connection
  };

  command_reader() = default;
  explicit command_reader(limits l) : limits_(l) {}
  void set_limits(limits l) { limits_ = l; }
  const limits& current_limits() const { return limits_; }

  // `input` must begin where the previous call's consumption ended; the result's
  // `bytes` points into it. Calls after need_more/continue_literal may pass the same
  // prefix again with more bytes appended: the reader remembers how far it scanned.
  result next(std::string_view input);

  // For AUTHENTICATE responses and IDLE's "DONE": one plain line (no literals) of at most
  // max_line octets. kind::command with the line, need_more, or error (too long).
  result next_line(std::string_view input);

 private:
  limits limits_;
  // Scanning state of the command being framed (offsets into the caller's buffer).
  size_t scanned_ = 0;          // bytes of the current command examined so far
  size_t literal_left_ = 0;     // bytes of a literal still to come
  size_t line_start_ = 0;       // where the current line segment began
  bool continuation_sent_ = false;
  bool skipping_ = false;       // discarding an over-long line up to its CRLF
};

}  // namespace ringmail::imap
