// ManageSieve commands (RFC 5804): framing and tokenizing what the client sends.
//
// RFC 5804 section 4 (formal syntax), the parts a server reads:
//
//   command         = command-name *(SP argument) CRLF     (section 2: one per command)
//   atom            = 1*1024ATOM-CHAR
//   ATOM-CHAR       = "!" / %x23-27 / %x2A-5B / %x5D-7A / %x7C-7E
//   string          = quoted / literal-c2s / literal-s2c
//   quoted          = DQUOTE *QUOTED-CHAR DQUOTE
//   QUOTED-CHAR     = SAFE-UTF8-CHAR / "\" QUOTED-SPECIALS
//   QUOTED-SPECIALS = DQUOTE / "\"
//   SAFE-CHAR       = %x01-09 / %x0B-0C / %x0E-21 / %x23-5B / %x5D-7F
//   literal-c2s     = "{" number "+}" CRLF *OCTET
//   number          = 1*DIGIT   ;; A 32-bit unsigned number
//
// and, for AUTHENTICATE (section 2.1), the client's answers to the server's challenges:
// one string per line, or a bare "*" to cancel the exchange.
//
// Literals. The client sends only the non-synchronizing form "{N+}": ManageSieve has no
// command continuation request, so the octets follow the CRLF at once. Departure: the
// synchronizing form "{N}" (IMAP's, and literal-s2c) is accepted as well and likewise
// gets NO continuation - Pigeonhole's parser does the same for old clients; a client
// that waited for a "+" would wait forever either way, but one that did not (most
// older clients) keeps working.
//
// Pure and incremental (STYLE.md "Parsers"): the session hands next() everything it has
// buffered; the answer is need_more, one command with the number of bytes it used
// (bytes pipelined after it stay with the caller), or an error. Errors are recoverable
// (the malformed command's bytes, literals included, are consumed: answer NO and go on)
// or fatal (`close`: the stream cannot be resynchronized, answer BYE and close). The
// scan restarts at the front on each call: a command's text outside literals is bounded
// by max_line per line, and a literal's octets are skipped by count, never scanned, so a
// 1 MiB script arriving in pieces costs one pass over its header lines per piece.
//
// Framing follows RFC 2088's rule for literals: a line ending in "{N}" or "{N+}" (before
// its CRLF) continues with N octets and then more of the same command. Lines end at CRLF
// or at a bare LF (Pigeonhole accepts both); a CR inside a line is an error.
//
// Limits, each stopping an attack (all octets; the session passes smaller ones before
// login, where only AUTHENTICATE takes a string worth having):
//   max_line       - one line of the command between literals: without it a client that
//                    never sends LF makes us buffer without end;
//   max_literal    - one literal announcement, checked BEFORE a byte of it is buffered:
//                    "{4294967295+}" must not make us reserve or wait for 4 GiB. Larger
//                    than the script size limit, so an oversized PUTSCRIPT still reaches
//                    the session and gets NO (QUOTA/MAXSIZE) rather than BYE;
//   max_command    - every literal of one command together;
//   max_arguments  - no command takes more than 3 (PUTSCRIPT name script, HAVESPACE name
//                    size, RENAMESCRIPT old new); a line of thousands of empty strings is
//                    refused instead of becoming thousands of allocations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::managesieve {

struct parser_limits {
  size_t max_line = 8 * 1024;
  size_t max_literal = 1024 * 1024;
  size_t max_command = 1024 * 1024 + 64 * 1024;
  size_t max_arguments = 8;
};

struct argument {
  enum class kind { atom, string } k = kind::atom;
  std::string value;     // a quoted string unescaped; a literal's octets as sent
  bool literal = false;  // kind::string: it came as a literal (may hold any octet)
};

struct command {
  std::string name;  // upper-cased atom (RFC 5804 section 2: names are case-insensitive)
  std::vector<argument> args;
};

class command_reader {
 public:
  struct result {
    enum class kind { need_more, command, error } k = kind::need_more;
    size_t consumed = 0;    // drop this many bytes from the front of the input
    command cmd;            // kind::command
    std::string message;    // kind::error: fixed text for the NO/BYE reply (never client data)
    bool close = false;     // kind::error: answer BYE and close the connection
  };

  command_reader() = default;
  explicit command_reader(parser_limits l) : limits_(l) {}
  void set_limits(parser_limits l) { limits_ = l; }
  const parser_limits& limits() const { return limits_; }

  // One command: `cmd.name` is its first token (an atom), `cmd.args` the rest.
  result next(std::string_view input) const;
  // One AUTHENTICATE response line (RFC 5804 section 2.1): kind::command with an empty
  // name and args = the line's tokens. The session expects one string, or the atom "*".
  result next_response(std::string_view input) const;

 private:
  result parse(std::string_view input, bool response) const;
  parser_limits limits_;
};

// RFC 5804 section 4 `number`: 1*DIGIT, 0 .. 4294967295 (HAVESPACE's size). nullopt for
// anything else, an overflow included.
std::optional<uint32_t> parse_number(std::string_view atom);

// A string as the server sends it (RFC 5804 section 4 `string`): quoted when every octet
// is a SAFE-UTF8-CHAR other than the specials (which are escaped) and the text is short,
// else a literal-s2c "{N}\r\n" + octets. GETSCRIPT's script is always a literal
// (append_literal), as every server does.
void append_string(std::string& out, std::string_view value);
void append_literal(std::string& out, std::string_view value);

}  // namespace ringmail::managesieve
