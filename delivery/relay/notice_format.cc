#include "delivery/relay/notice_format.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_format.h"

namespace ringmail::relay {
namespace {

constexpr char kCrlf[] = "\r\n";
// Postfix's bounce_print_wrap: LENGTH 79, INDENT 4. We keep lines under 78 (RFC 5322
// 2.1.1's SHOULD) and cut a word that alone would pass the 998-octet MUST.
constexpr size_t kWrapColumns = 78;
constexpr size_t kWrapIndent = 4;
constexpr size_t kMaxWordBytes = 900;
// RFC 5322 2.1.1: "Each line of characters MUST be no more than 998 characters".
constexpr size_t kMaxLineBytes = 998;
// The boundary's collision suffix: "." and 8 hex digits.
constexpr size_t kBoundarySuffixBytes = 9;

bool is_printable_ascii(unsigned char c) { return c >= 0x21 && c <= 0x7e; }

// Decodes one UTF-8 sequence at `s` (not empty); an invalid one is U+FFFD for one octet.
char32_t next_code_point(std::string_view& s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  size_t len = 0;
  char32_t cp = 0;
  if (b0 < 0x80) { len = 1; cp = b0; }
  else if (b0 >= 0xc2 && b0 <= 0xdf) { len = 2; cp = b0 & 0x1f; }
  else if (b0 >= 0xe0 && b0 <= 0xef) { len = 3; cp = b0 & 0x0f; }
  else if (b0 >= 0xf0 && b0 <= 0xf4) { len = 4; cp = b0 & 0x07; }
  bool ok = len != 0 && s.size() >= len;
  for (size_t i = 1; ok && i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    ok = (b & 0xc0) == 0x80;
    cp = (cp << 6) | (b & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not characters.
  if (ok && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
             (cp >= 0xd800 && cp <= 0xdfff))) {
    ok = false;
  }
  if (!ok) {
    s.remove_prefix(1);
    return 0xfffd;
  }
  s.remove_prefix(len);
  return cp;
}

// RFC 5322 3.2.3 atext.
bool is_atext(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_dot_atom(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return false;
    } else if (!is_atext(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

// Remote text made safe for one logical line: every run of control octets (CR, LF, TAB,
// NUL, ...) and spaces becomes one space, 8-bit octets '?' (Postfix's bounce_log_read
// masks the same way); leading and trailing space dropped.
std::string clean_text(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  bool space = false;
  for (unsigned char c : in) {
    if (c <= 0x20 || c == 0x7f) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c >= 0x80 ? '?' : static_cast<char>(c);
  }
  return out;
}

// A host name from our configuration or a remote reply: [A-Za-z0-9.-_:[]] kept (an
// address literal "[192.0.2.1]" stays readable), anything else '-'.
std::string clean_host(std::string_view in) {
  std::string out;
  for (unsigned char c : in.substr(0, 255)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
    out += ok ? static_cast<char>(c) : '-';
  }
  return out.empty() ? "localhost" : out;
}

// Appends `text` (one line, already clean: no control octets) wrapped at spaces into lines
// of at most kWrapColumns, continuation lines indented by kWrapIndent spaces, each line
// ending in CRLF. In a header field the indented lines are folding (RFC 5322 2.2.3).
void append_wrapped(std::string& out, std::string_view text) {
  size_t column = 0;
  bool first_word = true;
  while (!text.empty()) {
    size_t sp = text.find(' ');
    std::string_view word = text.substr(0, sp);
    text = sp == std::string_view::npos ? std::string_view{} : text.substr(sp + 1);
    if (word.empty()) continue;
    while (!word.empty()) {
      std::string_view piece = word.substr(0, kMaxWordBytes);
      word.remove_prefix(piece.size());
      if (!first_word && column + 1 + piece.size() > kWrapColumns) {
        out += kCrlf;
        out.append(kWrapIndent, ' ');
        column = kWrapIndent;
      } else if (!first_word) {
        out += ' ';
        ++column;
      }
      out += piece;
      column += piece.size();
      first_word = false;
    }
  }
  out += kCrlf;
}

// RFC 6533's utf-8-addr-xtext: every octet outside QCHAR ('+', '=', '\', space, controls,
// non-ASCII) is written "\x{HEX}" of its code point.
typed_address notice_address(std::string_view addr) {
  if (!addr.empty() && std::all_of(addr.begin(), addr.end(), [](char c) { return is_printable_ascii(c); })) {
    return {"rfc822", std::string(addr)};
  }
  typed_address out{"utf-8", {}};
  std::string_view rest = addr.substr(0, 1024);
  while (!rest.empty()) {
    const char32_t cp = next_code_point(rest);
    if (cp >= 0x21 && cp <= 0x7e && cp != '+' && cp != '=' && cp != '\\') {
      out.text += static_cast<char>(cp);
    } else {
      absl::StrAppendFormat(&out.text, "\\x{%X}", static_cast<uint32_t>(cp));
    }
  }
  return out;
}

// The sender as the To: field's addr-spec: the local part quoted when it is not a
// dot-atom (RFC 5322 3.4.1), control octets masked (wants_dsn refuses such senders; this
// is the second wall). 8-bit octets stay: an SMTPUTF8 sender gets an RFC 6532 header.
std::string to_field(std::string_view sender) {
  std::string masked;
  for (unsigned char c : sender.substr(0, 1024)) masked += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  const size_t at = masked.rfind('@');
  std::string_view local = std::string_view(masked).substr(0, at);
  std::string_view domain = at == std::string::npos ? std::string_view{} : std::string_view(masked).substr(at);
  if (is_dot_atom(local)) return masked;
  std::string q = "\"";
  for (char c : local) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  q += '"';
  q.append(domain);
  return q;
}

// The original's header section: up to its first empty line, line ends made CRLF (a bare
// CR inside a line becomes a space), cut at the last whole line within
// kMaxReturnedHeaderBytes.
std::string returned_headers(std::string_view original) {
  std::string out;
  size_t pos = 0;
  while (pos < original.size()) {
    size_t nl = original.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? original.size() : nl;
    std::string_view line = original.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the end of the header section
    if (out.size() + line.size() + 2 > kMaxReturnedHeaderBytes) break;
    // RFC 5322 2.1.1: no line over 998 octets. A longer one cannot be sent on as is, and
    // cutting a header line would change what it says: the copy ends before it.
    if (line.size() > kMaxLineBytes) break;
    for (char c : line) out += c == '\r' ? ' ' : c;
    out += kCrlf;
    pos = end + 1;
  }
  return out;
}

bool has_8bit(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// RFC 2046 5.1.1: the boundary must occur in none of the parts. `base` is tried first; if
// it occurs anywhere, base + "." + 8 hex digits, with the first number that follows no
// occurrence of base. Linear in the content: each occurrence rules out one number, so
// one of the first (occurrences + 1) numbers is free.
std::string pick_boundary(const std::string& base, std::initializer_list<std::string_view> contents) {
  std::vector<std::string> taken;
  for (std::string_view c : contents) {
    for (size_t at = c.find(base); at != std::string_view::npos; at = c.find(base, at + 1)) {
      taken.emplace_back(c.substr(at + base.size(), kBoundarySuffixBytes));
    }
  }
  if (taken.empty()) return base;
  std::sort(taken.begin(), taken.end());
  for (uint32_t i = 0;; ++i) {
    std::string suffix = absl::StrFormat(".%08x", i);
    if (!std::binary_search(taken.begin(), taken.end(), suffix)) return base + suffix;
  }
}

}  // namespace ringmail::relay
