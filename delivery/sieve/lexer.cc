#include "delivery/sieve/lexer.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ringmail::sieve {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word_start(char c) { return is_alpha(c) || c == '_'; }
bool is_word(char c) { return is_alpha(c) || is_digit(c) || c == '_'; }

// 'x' for a printable octet, 0x00 for the rest (never echo control bytes into a log).
std::string show_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u > 31 && u < 127) return absl::StrFormat("'%c'", c);
  return absl::StrFormat("0x%02x", u);
}

absl::Status syntax_error(source_location where, std::string_view message) {
  return absl::InvalidArgumentError(located(where, message));
}

}  // namespace

std::string_view describe(token_kind kind) {
  switch (kind) {
    case token_kind::identifier: return "identifier";
    case token_kind::tag: return "tag";
    case token_kind::number: return "number";
    case token_kind::string: return "string";
    case token_kind::left_bracket: return "'['";
    case token_kind::right_bracket: return "']'";
    case token_kind::left_paren: return "'('";
    case token_kind::right_paren: return "')'";
    case token_kind::left_brace: return "'{'";
    case token_kind::right_brace: return "'}'";
    case token_kind::semicolon: return "';'";
    case token_kind::comma: return "','";
    case token_kind::end: return "end of script";
  }
  return "token";
}

std::string located(source_location where, std::string_view message) {
  return absl::StrCat("line ", where.line, ", column ", where.column, ": ", av(message));
}

lexer::lexer(std::string_view script, size_t max_string_bytes, size_t max_identifier_bytes)
    : input_(script),
      max_string_bytes_(max_string_bytes),
      max_identifier_bytes_(max_identifier_bytes) {}

source_location lexer::here() const {
  return {line_, static_cast<uint32_t>(pos_ - line_start_ + 1)};
}

void lexer::advance() {
  if (at_end()) return;
  if (input_[pos_] == '\n') {
    ++line_;
    line_start_ = pos_ + 1;
  }
  ++pos_;
}

absl::Status lexer::skip_hash_comment() {
  while (!at_end() && peek() != '\n') {
    if (peek() == '\0') return syntax_error(here(), "NUL character in hash comment");
    advance();
  }
  advance();  // the LF (a comment may also end with the script)
  return absl::OkStatus();
}

absl::Status lexer::skip_space_and_comments() {
  while (!at_end()) {
    const char c = peek();
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      advance();
    } else if (c == '#') {
      if (absl::Status s = skip_hash_comment(); !s.ok()) return s;
    } else if (c == '/' && peek(1) == '*') {
      const source_location start = here();
      advance();
      advance();
      for (;;) {
        if (at_end()) {
          return syntax_error(start, "bracket comment ('/* ... */') is not closed before the end of the script");
        }
        if (peek() == '\0') return syntax_error(here(), "NUL character in bracket comment");
        if (peek() == '*' && peek(1) == '/') {
          advance();
          advance();
          break;
        }
        advance();
      }
    } else {
      break;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<token> lexer::next() {
  if (absl::Status s = skip_space_and_comments(); !s.ok()) return s;
  token t;
  t.where = here();
  if (at_end()) return t;
  const char c = peek();
  auto single = [&](token_kind kind) {
    advance();
    t.kind = kind;
    return t;
  };
  switch (c) {
    case '[': return single(token_kind::left_bracket);
    case ']': return single(token_kind::right_bracket);
    case '(': return single(token_kind::left_paren);
    case ')': return single(token_kind::right_paren);
    case '{': return single(token_kind::left_brace);
    case '}': return single(token_kind::right_brace);
    case ';': return single(token_kind::semicolon);
    case ',': return single(token_kind::comma);
    case '"': return scan_quoted_string();
    default: break;
  }
  if (is_digit(c)) return scan_number();
  if (is_word_start(c) || c == ':') return scan_word();
  return syntax_error(t.where, absl::StrCat("unexpected character ", show_char(c)));
}

absl::StatusOr<token> lexer::scan_number() {
  token t;
  t.kind = token_kind::number;
  t.where = here();
  constexpr uint64_t max = std::numeric_limits<uint64_t>::max();
  uint64_t value = 0;
  bool overflow = false;
  while (!at_end() && is_digit(peek())) {
    const uint64_t digit = static_cast<uint64_t>(peek() - '0');
    if (value > (max - digit) / 10) overflow = true;
    if (!overflow) value = value * 10 + digit;
    advance();
  }
  int shift = 0;
  switch (peek()) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: break;
  }
  if (shift != 0 && !at_end()) {
    advance();
    if (value > (max >> shift)) overflow = true;
    else value <<= shift;
  }
  if (overflow) {
    return syntax_error(t.where, absl::StrCat("number exceeds the integer limit (max ", max, ")"));
  }
  t.number = value;
  return t;
}

absl::StatusOr<token> lexer::scan_word() {
  token t;
  t.where = here();
  t.kind = token_kind::identifier;
  if (peek() == ':') {
    advance();
    if (at_end() || !is_word_start(peek())) {
      return syntax_error(t.where, "':' must be followed by a tag name (a letter or '_')");
    }
    t.kind = token_kind::tag;
  }
  const size_t begin = pos_;
  while (!at_end() && is_word(peek())) advance();
  const std::string_view word = input_.substr(begin, pos_ - begin);
  // "text:" opens a multi-line string (the keyword is case-insensitive, as ABNF is).
  if (t.kind == token_kind::identifier && peek() == ':' && word.size() == 4 &&
      (word[0] | 0x20) == 't' && (word[1] | 0x20) == 'e' && (word[2] | 0x20) == 'x' &&
      (word[3] | 0x20) == 't') {
    advance();
    return scan_multi_line(std::move(t));
  }
  if (word.size() > max_identifier_bytes_) {
    return absl::ResourceExhaustedError(located(
        t.where, absl::StrCat(t.kind == token_kind::tag ? "tag" : "identifier",
                              " is longer than ", max_identifier_bytes_, " characters")));
  }
  t.text = std::string(word);
  return t;
}

absl::StatusOr<token> lexer::scan_quoted_string() {
  token t;
  t.kind = token_kind::string;
  t.where = here();
  advance();  // the opening quote
  std::string& out = t.text;
  for (;;) {
    if (at_end()) {
      return syntax_error(t.where, "quoted string is not closed before the end of the script");
    }
    char c = peek();
    if (c == '"') {
      advance();
      break;
    }
    if (c == '\\') {
      // RFC 5228 2.4.2: \\ and \" are the escapes; any other \x is x.
      advance();
      if (at_end()) continue;  // reported as unclosed above
      c = peek();
    }
    if (c == '\0') return syntax_error(here(), "NUL character in quoted string");
    if (c == '\r') {
      if (peek(1) != '\n') {
        return syntax_error(here(), "carriage return (CR) without line feed in quoted string");
      }
      advance();
      continue;  // the LF appends CRLF
    }
    if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
    advance();
    if (out.size() > max_string_bytes_) {
      return absl::ResourceExhaustedError(located(
          t.where, absl::StrCat("quoted string is longer than ", max_string_bytes_, " bytes")));
    }
  }
  return t;
}

absl::StatusOr<token> lexer::scan_multi_line(token t) {
  t.kind = token_kind::string;
  // "text:" *(SP / HTAB) (hash-comment / CRLF)
  while (!at_end() && (peek() == ' ' || peek() == '\t')) advance();
  if (at_end()) {
    return syntax_error(t.where, "multi-line string is not closed before the end of the script");
  }
  if (peek() == '#') {
    if (absl::Status s = skip_hash_comment(); !s.ok()) return s;
  } else if (peek() == '\r' && peek(1) == '\n') {
    advance();
    advance();
  } else if (peek() == '\n') {
    advance();
  } else {
    return syntax_error(here(), absl::StrCat("unexpected character ", show_char(peek()),
                                             " after 'text:' (a line end must follow)"));
  }
  std::string& out = t.text;
  for (;;) {  // one line per round
    if (at_end()) {
      return syntax_error(t.where, "multi-line string is not closed before the end of the script (a line of a single '.' ends it)");
    }
    if (peek() == '.') {
      if (peek(1) == '\n' || (peek(1) == '\r' && peek(2) == '\n')) {
        advance();
        if (peek() == '\r') advance();
        advance();
        return t;
      }
      advance();
      out += '.';
      if (peek() == '.') advance();  // dot-stuffing: ".." is "."
    }
    while (!at_end() && peek() != '\n') {
      const char c = peek();
      if (c == '\0') return syntax_error(here(), "NUL character in multi-line string");
      if (c == '\r') {
        if (peek(1) != '\n') {
          return syntax_error(here(), "carriage return (CR) without line feed in multi-line string");
        }
        advance();
        continue;
      }
      out += c;
      advance();
      if (out.size() > max_string_bytes_) break;
    }
    if (out.size() <= max_string_bytes_ && at_end()) continue;  // reported as unclosed
    if (out.size() <= max_string_bytes_) {
      advance();  // LF
      out += "\r\n";
    }
    if (out.size() > max_string_bytes_) {
      return absl::ResourceExhaustedError(located(
          t.where, absl::StrCat("multi-line string is longer than ", max_string_bytes_, " bytes")));
    }
  }
}

}  // namespace ringmail::sieve
