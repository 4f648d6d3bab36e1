// The lexical layer of the IMAP command parser; see parser_cursor.h.
#include "protocols/imap/parser_cursor.h"

#include <cstring>

namespace ringmail::imap::detail {

namespace {

bool is_ctl(unsigned char u) { return u < 0x20 || u == 0x7f; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 9051 list-wildcards and resp-specials, which list-char / ASTRING-CHAR add.
bool is_astring_char(char c) { return is_atom_char(c) || c == ']'; }
bool is_list_char(char c) { return is_astring_char(c) || c == '%' || c == '*'; }

// Length of a valid UTF-8 sequence (2 to 4 octets, RFC 3629, no overlongs or
// surrogates) starting at s[i], or 0.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = at(i);
  size_t n;
  uint32_t cp;
  if (b >= 0xc2 && b <= 0xdf) {
    n = 2, cp = b & 0x1f;
  } else if (b >= 0xe0 && b <= 0xef) {
    n = 3, cp = b & 0x0f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4, cp = b & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((at(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (at(i + k) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return n;
}

}  // namespace

bool is_atom_char(char c) {
  // CHAR minus atom-specials: "(" ")" "{" SP CTL list-wildcards quoted-specials
  // resp-specials (RFC 9051 section 9).
  auto u = static_cast<unsigned char>(c);
  if (u == 0 || u >= 0x80 || is_ctl(u)) return false;
  return std::strchr("(){ %*\"\\]", c) == nullptr;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x -= 32;
    if (y >= 'a' && y <= 'z') y -= 32;
    if (x != y) return false;
  }
  return true;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c -= 32;
  }
  return out;
}

bool cursor::take(char c) {
  if (!ok() || eof() || s_[pos_] != c) return false;
  ++pos_;
  return true;
}

bool cursor::expect(char c) {
  if (take(c)) return true;
  if (!ok()) return false;
  if (c == ' ') return fail(eof() ? "Missing argument" : "Expected one space");
  return fail("Syntax error in arguments");
}

bool cursor::end() {
  if (!ok()) return false;
  return eof() || fail("Unexpected extra arguments");
}

std::string_view cursor::word() {
  if (!ok()) return {};
  size_t b = pos_;
  while (!eof()) {
    char c = s_[pos_];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c);
    if (!alnum && c != '.' && c != '-' && c != '$' && c != '_') break;
    ++pos_;
  }
  return s_.substr(b, pos_ - b);
}

bool cursor::take_word(std::string_view w) {
  size_t b = pos_;
  if (iequals(word(), w)) return true;
  pos_ = b;
  return false;
}

bool cursor::atom(std::string& out) {
  if (!ok()) return false;
  size_t b = pos_;
  while (!eof() && is_atom_char(s_[pos_])) ++pos_;
  if (pos_ == b) return fail(eof() ? "Missing argument" : "Expected an atom");
  out.assign(s_.substr(b, pos_ - b));
  return true;
}

bool cursor::quoted(std::string& out) {
  if (!expect('"')) return false;
  out.clear();
  while (!eof()) {
    char c = s_[pos_];
    auto u = static_cast<unsigned char>(c);
    if (c == '"') {
      ++pos_;
      return true;
    }
    if (c == '\\') {
      if (pos_ + 1 >= s_.size() || (s_[pos_ + 1] != '"' && s_[pos_ + 1] != '\\')) {
        return fail("Invalid escape in quoted string");
      }
      out.push_back(s_[pos_ + 1]);
      pos_ += 2;
      continue;
    }
    if (u == 0 || c == '\r' || c == '\n') return fail("Invalid character in quoted string");
    if (u >= 0x80) {
      // RFC 9051 4.3: UTF-8 in quoted strings only once UTF-8 is allowed; IMAP4rev1
      // strings are 7-bit (8-bit text goes in literals).
      size_t n = options_.utf8 ? utf8_sequence(s_, pos_) : 0;
      if (n == 0) return fail("8-bit character in quoted string");
      out.append(s_.substr(pos_, n));
      pos_ += n;
      continue;
    }
    out.push_back(c);
    ++pos_;
  }
  return fail("Unterminated quoted string");
}

bool cursor::literal(std::string& out, bool allow_literal8, bool* binary) {
  if (!ok()) return false;
  bool eight = false;
  if (take('~')) {
    if (!allow_literal8) return fail("literal8 not allowed here");
    eight = true;
  }
  if (!expect('{')) return false;
  uint64_t n = 0;
  if (!number64(n)) return false;
  take('+');  // RFC 7888 "{n+}" (and "~{n+}", RFC 7888 section 5)
  if (!expect('}')) return false;
  take('\r');  // CRLF, or a bare LF as command_reader accepts
  if (!take('\n')) return fail("Literal header not at end of line");
  if (n > s_.size() - pos_) return fail("Truncated literal");
  std::string_view data = s_.substr(pos_, static_cast<size_t>(n));
  // literal = *CHAR8 (no NUL); literal8 may carry any octet (RFC 3516).
  if (!eight && data.find('\0') != std::string_view::npos) return fail("NUL in literal");
  out.assign(data);
  pos_ += static_cast<size_t>(n);
  if (binary != nullptr) *binary = eight;
  return true;
}

bool cursor::string(std::string& out) {
  if (!ok()) return false;
  if (peek() == '"') return quoted(out);
  if (peek() == '{') return literal(out);
  return fail(eof() ? "Missing argument" : "Expected a string");
}

bool cursor::astring(std::string& out) {
  if (!ok()) return false;
  if (peek() == '"' || peek() == '{') return string(out);
  size_t b = pos_;
  while (!eof() && is_astring_char(s_[pos_])) ++pos_;
  if (pos_ == b) return fail(eof() ? "Missing argument" : "Expected a string");
  out.assign(s_.substr(b, pos_ - b));
  return true;
}

bool cursor::nstring(std::optional<std::string>& out) {
  if (!ok()) return false;
  size_t b = pos_;
  if (word().size() == 3 && iequals(s_.substr(b, 3), "NIL")) {
    out.reset();
    return true;
  }
  pos_ = b;
  std::string v;
  if (!string(v)) return false;
  out = std::move(v);
  return true;
}

bool cursor::mailbox(std::string& out) {
  if (!astring(out)) return false;
  if (iequals(out, "INBOX")) out = "INBOX";  // RFC 9051 5.1: INBOX is case-insensitive
  return true;
}

bool cursor::list_mailbox(std::string& out) {
  if (!ok()) return false;
  if (peek() == '"' || peek() == '{') return string(out);
  size_t b = pos_;
  while (!eof() && is_list_char(s_[pos_])) ++pos_;
  if (pos_ == b) return fail(eof() ? "Missing argument" : "Expected a mailbox pattern");
  out.assign(s_.substr(b, pos_ - b));
  return true;
}

bool cursor::number64(uint64_t& out) {
  if (!ok()) return false;
  size_t b = pos_;
  uint64_t v = 0;
  while (!eof() && is_digit(s_[pos_])) {
    if (v > (uint64_t{1} << 63) / 10) return fail("Number too large");
    v = v * 10 + static_cast<uint64_t>(s_[pos_] - '0');
    if (v >= (uint64_t{1} << 63)) return fail("Number too large");
    ++pos_;
  }
  if (pos_ == b) return fail(eof() ? "Missing argument" : "Expected a number");
  out = v;
  return true;
}

bool cursor::number(uint32_t& out) {
  uint64_t v = 0;
  if (!number64(v)) return false;
  if (v > UINT32_MAX) return fail("Number too large");
  out = static_cast<uint32_t>(v);
  return true;
}

bool cursor::nz_number(uint32_t& out) {
  if (!ok()) return false;
  if (peek() == '0') return fail("Expected a non-zero number");
  return number(out);
}

bool cursor::flag(std::string& out) {
  if (!ok()) return false;
  std::string a;
  if (take('\\')) {
    if (!atom(a)) return false;
    out = "\\" + a;
    return true;
  }
  if (!atom(a)) return false;
  out = std::move(a);
  return true;
}

bool cursor::flag_list(std::vector<std::string>& out) {
  if (!expect('(')) return false;
  if (take(')')) return true;
  do {
    std::string f;
    if (!flag(f)) return false;
    out.push_back(std::move(f));
  } while (take(' '));
  return expect(')');
}

bool cursor::date(int64_t& days) {
  if (!ok()) return false;
  size_t b = pos_;
  bool q = take('"');
  while (!eof() && s_[pos_] != '"' && s_[pos_] != ' ' && s_[pos_] != ')') ++pos_;
  std::string_view text = s_.substr(b + (q ? 1 : 0), pos_ - b - (q ? 1 : 0));
  if (q && !expect('"')) return false;
  std::optional<int64_t> d = parse_date(text);
  if (!d) return fail("Invalid date");
  days = *d;
  return true;
}

bool cursor::date_time(int64_t& seconds) {
  if (!expect('"')) return false;
  size_t b = pos_;
  while (!eof() && s_[pos_] != '"') ++pos_;
  std::string_view text = s_.substr(b, pos_ - b);
  if (!expect('"')) return false;
  std::optional<int64_t> t = parse_date_time(text);
  if (!t) return fail("Invalid date-time");
  seconds = *t;
  return true;
}

bool cursor::skip_ext_value(int depth) {
  if (!ok()) return false;
  if (depth >= max_depth) return fail("Too deeply nested");
  if (take('(')) {
    if (take(')')) return true;
    do {
      if (!skip_ext_value(depth + 1)) return false;
    } while (take(' '));
    return expect(')');
  }
  if (peek() == '"' || peek() == '{') {
    std::string ignored;
    return string(ignored);
  }
  // number / sequence-set / atom-ish value: one run of ASTRING-CHARs (covers "1:*,5").
  size_t b = pos_;
  while (!eof() && (is_astring_char(s_[pos_]) || s_[pos_] == '*')) ++pos_;
  return pos_ > b || fail("Syntax error in arguments");
}

}  // namespace ringmail::imap::detail
