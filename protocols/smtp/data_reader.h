// Streaming readers for SMTP message content: DATA (RFC 5321 section 4.1.1.4) with
// dot-unstuffing (section 4.5.2), and BDAT chunks (RFC 3030 CHUNKING / BINARYMIME).
//
// Both are byte automata whose state survives between feed() calls, so a message fed
// in pieces split anywhere gives exactly the output, consumption and verdict of the
// same message fed at once. Neither buffers the message: unstuffed bytes are appended
// to the caller's `out`, which the caller may drain (to the spam scanner, to disk)
// between calls.
//
// SMTP smuggling defence: the only end of DATA is <CRLF>.<CRLF>. A bare LF, a bare CR
// or a NUL anywhere in the content rejects the message (a line ends only at CRLF, RFC
// 5321 section 2.3.8; 7BIT and 8BITMIME content holds no NUL, RFC 2045 section 2.8),
// but the reader still runs on to the real terminator, so no "\n.\n"-style fake end can
// make the rest of the message look like new commands. The verdict comes at that
// terminator.
// After the first error nothing more is appended to `out` (what it holds then is a
// prefix of the content, at most max_size octets): discard it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmail::smtp {

// Why a message was refused. `text` is fixed and never quotes client bytes.
struct content_error {
  int code;
  const char* enhanced;
  const char* text;
};

namespace detail {
// What both readers keep about the content: its size and the first error. Appends to
// `out` only while the message is acceptable (up to max_size octets exactly), so a
// refused message costs no memory however long it runs, and `out` is the same however
// the input was split.
struct content_meter {
  uint64_t max_size;
  uint64_t size = 0;
  const content_error* failed = nullptr;

  void fail(const content_error& e) {
    if (!failed) failed = &e;
  }
  void emit(std::string_view bytes, std::string& out);
};
}  // namespace detail

class data_reader {
 public:
  struct limits {
    uint64_t max_size;           // unstuffed octets; more is refused with 552 5.3.4
    bool allow_bare_lf = false;  // normalize mode: a bare LF is written out as CRLF
  };

  struct result {
    // need_more: everything was consumed and the message goes on.
    // done:      the terminator was consumed; the message in `out` is complete.
    // error:     the terminator was consumed, but the message is refused: answer
    //            code/enhanced/error and go on with the next command.
    enum class kind { need_more, done, error } k = kind::need_more;
    size_t consumed = 0;  // bytes of the input used; after done/error, the rest is
                          // the client's next command
    std::string error;
    int code = 0;
    const char* enhanced = "";
  };

  // The reader starts at the beginning of a line: the CRLF that ended the DATA command
  // line is the first CRLF of a possible <CRLF>.<CRLF>, so ".\r\n" at once is an empty
  // message (RFC 5321 section 4.1.1.4).
  explicit data_reader(limits l);

  // Consumes bytes up to and including the terminator. Once done or error, further
  // calls consume nothing and repeat the verdict.
  result feed(std::string_view input, std::string& out);

  // The message will be refused at its end (a caller may stop scanning it early).
  bool rejected() const noexcept { return meter_.failed != nullptr; }
  // Octets written (or, after an error, that would have been written) so far.
  uint64_t size() const noexcept { return meter_.size; }

 private:
  enum class state : uint8_t {
    line_start,  // after CRLF
    text,        // inside a line
    cr,          // after a CR inside or at the start of a line
    dot,         // a '.' at the start of a line
    dot_cr,      // ".\r" at the start of a line
    done,
  };
  void step(char c, std::string& out);
  result verdict(size_t consumed) const;

  bool allow_bare_lf_;
  detail::content_meter meter_;
  state state_ = state::line_start;
};

// Reads the content of BDAT chunks (RFC 3030 section 2): exactly the announced number
// of octets, no dot-stuffing, no terminator. One reader per message; state (a CR at the
// end of one chunk, the size so far, an error) carries across its chunks.
class bdat_reader {
 public:
  struct limits {
    uint64_t max_size;           // octets over all chunks; more is refused with 552 5.3.4
    bool allow_bare_lf = false;  // normalize mode: a bare LF is written out as CRLF
    // BODY=BINARYMIME (RFC 3030 section 3): content is arbitrary octets, so bare CR/LF
    // and NUL are data, not errors, and nothing is rewritten.
    bool binary = false;
  };

  // need_more: the chunk goes on. done: the chunk is complete (and, after a LAST chunk,
  // the message). error: the chunk is complete but the message is refused; every later
  // chunk of the same message completes with the same error.
  using result = data_reader::result;

  explicit bdat_reader(limits l);

  // Starts the chunk of a "BDAT size [LAST]" command. A zero-size chunk completes on
  // the next feed(), even an empty one.
  void begin_chunk(uint64_t size, bool last);

  // Consumes at most the rest of the current chunk. Outside a chunk it consumes nothing
  // and returns done (or the message's error).
  result feed(std::string_view input, std::string& out);

  bool rejected() const noexcept { return meter_.failed != nullptr; }
  uint64_t size() const noexcept { return meter_.size; }

 private:
  result verdict(size_t consumed) const;

  limits limits_;
  detail::content_meter meter_;
  uint64_t remaining_ = 0;  // octets left in the current chunk
  bool in_chunk_ = false;
  bool last_ = false;
  bool prev_cr_ = false;  // the previous content octet (maybe of the last chunk) was CR
};

}  // namespace ringmail::smtp
