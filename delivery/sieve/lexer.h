// The Sieve lexer: RFC 5228 section 8.1 (lexical tokens) over a whole script held in
// memory. Pure: no I/O, no runtime; the parser (parser.h) pulls one token at a time.
//
//   white-space  = 1*(SP / CRLF / HTAB) / comment
//   comment      = bracket-comment / hash-comment        ("/* ... */", "# ... CRLF")
//   identifier   = (ALPHA / "_") *(ALPHA / DIGIT / "_")
//   tag          = ":" identifier
//   number       = 1*DIGIT [ QUANTIFIER ]                 (K = 2^10, M = 2^20, G = 2^30)
//   quoted-string = DQUOTE quoted-text DQUOTE             ("\\" is \, "\"" is ", and any
//                                                          other "\x" is just x: 2.4.2)
//   multi-line   = "text:" *(SP / HTAB) (hash-comment / CRLF)
//                  *(multiline-literal / multiline-dotstart) "." CRLF
//                  ; a line of only "." ends it; a leading "." is removed when another
//                  ; "." follows (dot-stuffing)
//
// Where the RFC leaves room we do what Pigeonhole (Dovecot's Sieve) does, so scripts
// written for it read the same here:
//   - a bare LF ends a line like CRLF; line ends inside strings become CRLF in the value
//     (the RFC's grammar has CRLF only); a CR not followed by LF inside a string is an
//     error; outside strings a stray CR is white space;
//   - a NUL octet is an error everywhere (the grammar excludes %x00);
//   - quantifiers are case-insensitive ("100k"), as ABNF literals are;
//   - numbers are 64-bit unsigned; a value or a quantified value above 2^64-1 is refused
//     rather than wrapped (RFC 5228 2.4.1 asks for at least 31 bits);
//   - a hash comment may end at the end of the script without a line end;
//   - ".foo" in a multi-line string is ".foo" (a lone dot is kept when no second dot
//     follows, as RFC 5228 2.4.2 says).
// Limits (a hostile script ends quickly with a clear error): the longest string value
// and the longest identifier, passed in by the parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "delivery/sieve/ast.h"

namespace ringmail::sieve {

enum class token_kind : uint8_t {
  identifier,     // text = the name
  tag,            // text = the name without ':'
  number,         // number
  string,         // text = the decoded value (quoted or multi-line)
  left_bracket,   // [
  right_bracket,  // ]
  left_paren,     // (
  right_paren,    // )
  left_brace,     // {
  right_brace,    // }
  semicolon,      // ;
  comma,          // ,
  end,            // end of the script
};

// "identifier", "'{'", "end of script": for "expected X, but found Y" messages.
std::string_view describe(token_kind kind);

struct token {
  token_kind kind = token_kind::end;
  source_location where;
  std::string text;
  uint64_t number = 0;
};

// Debian's abseil has its own string_view type, so absl::StrCat does not take a
// std::string_view: av() hands one over.
inline absl::string_view av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Formats "line L, column C: message" as every error of the Sieve front end reads.
std::string located(source_location where, std::string_view message);

class lexer {
 public:
  lexer(std::string_view script, size_t max_string_bytes, size_t max_identifier_bytes);

  // The next token, skipping white space and comments; kind `end` at the end (and again
  // on every later call). An error is InvalidArgument ("line L, column C: ..."), or
  // ResourceExhausted for a string or identifier over its limit.
  absl::StatusOr<token> next();

 private:
  source_location here() const;
  bool at_end() const { return pos_ >= input_.size(); }
  char peek(size_t ahead = 0) const {
    return pos_ + ahead < input_.size() ? input_[pos_ + ahead] : '\0';
  }
  void advance();  // one octet, counting lines

  absl::Status skip_space_and_comments();
  absl::Status skip_hash_comment();
  absl::StatusOr<token> scan_number();
  absl::StatusOr<token> scan_word();  // identifier, tag or "text:"
  absl::StatusOr<token> scan_quoted_string();
  absl::StatusOr<token> scan_multi_line(token start);

  std::string_view input_;
  size_t max_string_bytes_;
  size_t max_identifier_bytes_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  size_t line_start_ = 0;
};

}  // namespace ringmail::sieve
