// Content-Type / Content-Disposition values: RFC 2045 5.1 syntax
//   value *(";" attribute "=" (token / quoted-string))
// with RFC 822 comments allowed anywhere between tokens, RFC 2231 parameter value
// continuations and charset/language encoding, and the leniency real mail needs:
// unquoted values with spaces ("name=my file.pdf"), a missing ';' before the next
// "attribute=", RFC 2047 encoded words inside quoted values (Outlook, Thunderbird < 3),
// and unterminated quotes and comments (taken to run to the end of the value).
#include "mail/content_type.h"

#include <algorithm>

#include "mail/limits.h"
#include "mail/rfc2047.h"

namespace ringmail::mail {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// RFC 2045 token: any CHAR except SPACE, CTLs and tspecials. 8-bit bytes are accepted
// (raw UTF-8 in unquoted filenames is common).
bool is_token_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u == 0x7F) return false;
  return std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
}

struct cursor {
  std::string_view s;
  size_t pos = 0;

  bool done() const { return pos >= s.size(); }
  char peek() const { return s[pos]; }

  // RFC 822 comment, nesting and quoted-pairs included; pos is at '('.
  void skip_comment() {
    int depth = 0;
    while (pos < s.size()) {
      char c = s[pos++];
      if (c == '\\') {
        ++pos;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')' && --depth == 0) {
        return;
      }
    }
    pos = std::min(pos, s.size());
  }
  void skip_cfws() {
    while (pos < s.size()) {
      if (is_blank(s[pos])) {
        ++pos;
      } else if (s[pos] == '(') {
        skip_comment();
      } else {
        return;
      }
    }
  }
  // RFC 822 quoted-string with backslash escapes; pos is at '"'.
  std::string quoted_string() {
    std::string out;
    ++pos;
    while (pos < s.size()) {
      size_t stop = s.find_first_of("\"\\", pos);
      if (stop == std::string_view::npos) stop = s.size();
      out.append(s.substr(pos, stop - pos));
      pos = stop;
      if (pos >= s.size()) break;
      if (s[pos] == '"') {
        ++pos;
        break;
      }
      if (pos + 1 < s.size()) out.push_back(s[pos + 1]);  // quoted-pair
      pos += 2;
    }
    pos = std::min(pos, s.size());
    return out;
  }
  size_t token_end(size_t from) const {
    while (from < s.size() && is_token_char(s[from])) ++from;
    return from;
  }
  // True when "token [blanks] =" starts at pos: the next parameter after a missing ';'.
  bool at_parameter_start() const {
    size_t end = token_end(pos);
    if (end == pos) return false;
    while (end < s.size() && is_blank(s[end])) ++end;
    return end < s.size() && s[end] == '=';
  }
};

// An unquoted value: runs of non-blank characters up to ';', kept with single spaces
// between them (broken senders do not quote "my file.pdf"), comments dropped, stopping
// before the next "attribute=" when the ';' was forgotten.
std::string unquoted_value(cursor& c) {
  std::string out;
  while (!c.done()) {
    char ch = c.peek();
    if (ch == ';') break;
    if (ch == '(') {
      c.skip_comment();
      continue;
    }
    if (is_blank(ch)) {
      c.skip_cfws();
      if (c.done() || c.peek() == ';' || c.at_parameter_start()) break;
      if (!out.empty()) out.push_back(' ');
      continue;
    }
    out.push_back(ch);
    ++c.pos;
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// RFC 2231 3: %XX octets; a '%' that starts no escape stays as it is.
void percent_decode(std::string_view in, std::string& out) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 &&
        hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
}

// RFC 2231 4: charset'language'value. Returns the charset and strips the prefix; a value
// without both quotes has no prefix.
std::string_view split_charset_prefix(std::string_view& value) {
  size_t q1 = value.find('\'');
  if (q1 == std::string_view::npos) return {};
  size_t q2 = value.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return {};
  std::string_view charset = value.substr(0, q1);
  value.remove_prefix(q2 + 1);
  return charset;
}

struct segment {
  size_t index;
  bool encoded;
  std::string value;
};

// Everything gathered for one parameter name before the RFC 2231 pieces are joined.
struct pending_param {
  std::string name;
  bool has_plain = false;
  std::string plain;           // name=value (first one wins)
  bool has_extended = false;
  std::string extended;        // name*=charset'lang'value (first one wins)
  std::vector<segment> segments;  // name*N= / name*N*=
};

// Splits "title*1*" into name "title", index 1, encoded. Returns false for a plain name.
bool split_2231_name(std::string_view raw, std::string_view& base, long& index, bool& encoded) {
  size_t star = raw.find('*');
  if (star == std::string_view::npos || star == 0) return false;
  base = raw.substr(0, star);
  std::string_view rest = raw.substr(star + 1);
  index = -1;
  encoded = false;
  if (rest.empty()) {  // name*
    encoded = true;
    return true;
  }
  size_t digits = 0;
  long n = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9' && digits < 6) {
    n = n * 10 + (rest[digits] - '0');
    ++digits;
  }
  if (digits == 0) return false;
  rest.remove_prefix(digits);
  if (rest == "*") {
    encoded = true;
  } else if (!rest.empty()) {
    return false;
  }
  index = n;
  return true;
}

std::string join_segments(pending_param& p, charset_converter& charsets) {
  std::stable_sort(p.segments.begin(), p.segments.end(),
                   [](const segment& a, const segment& b) { return a.index < b.index; });
  std::string bytes;
  std::string_view charset;
  bool any_encoded = false;
  for (size_t i = 0; i < p.segments.size(); ++i) {
    const segment& seg = p.segments[i];
    if (i > 0 && seg.index == p.segments[i - 1].index) continue;  // duplicate: first wins
    std::string_view v = seg.value;
    if (seg.encoded) {
      // RFC 2231 4.1: only the first segment carries charset'language'.
      if (seg.index == 0) charset = split_charset_prefix(v);
      percent_decode(v, bytes);
      any_encoded = true;
    } else {
      bytes.append(v);
    }
  }
  std::string out;
  if (any_encoded) {
    charsets.to_utf8(bytes, charset, out);
  } else {
    out = decode_header_words(bytes, charsets);  // plain continuations may hold 2047 words
  }
  return out;
}

bool plausible_value(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v) {
    if (!is_token_char(c) && c != '/') return false;
  }
  return true;
}

}  // namespace

const std::string* parameterized_value::param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < key.size() && same; ++i) same = key[i] == lower(name[i]);
    if (same) return &value;
  }
  return nullptr;
}

parameterized_value parse_parameterized(std::string_view value, charset_converter& charsets) {
  parameterized_value result;
  cursor c{value};

  // The main value ("text/plain", "attachment"): tokens and '/' up to ';', with comments
  // and blanks removed ("text / plain" is legal CFWS). A forgotten ';' is tolerated: a
  // blank after a complete "type/subtype", or before "attribute=", also ends it.
  std::string main;
  bool has_slash = false;
  c.skip_cfws();
  while (!c.done() && c.peek() != ';') {
    char ch = c.peek();
    if (ch == '(' || is_blank(ch)) {
      c.skip_cfws();
      if (!main.empty() && main.back() != '/' && !c.done() && c.peek() != '/' &&
          (has_slash || c.at_parameter_start())) {
        break;  // after "type/subtype" (or before "attribute="), anything else is not it
      }
      continue;
    }
    has_slash = has_slash || ch == '/';
    main.push_back(lower(ch));
    ++c.pos;
  }
  if (plausible_value(main)) result.value = std::move(main);

  std::vector<pending_param> pending;
  while (!c.done()) {
    if (c.peek() == ';' || is_blank(c.peek()) || c.peek() == '(') {
      if (c.peek() == ';') ++c.pos;
      c.skip_cfws();
      continue;
    }
    // attribute
    size_t name_end = c.pos;
    while (name_end < value.size() && value[name_end] != '=' && value[name_end] != ';' &&
           value[name_end] != '"' && value[name_end] != '(' && !is_blank(value[name_end])) {
      ++name_end;
    }
    std::string name;
    for (char ch : value.substr(c.pos, name_end - c.pos)) name.push_back(lower(ch));
    c.pos = name_end;
    c.skip_cfws();
    if (name.empty() || c.done() || c.peek() != '=') {
      // Not "attribute=": skip the junk up to the next ';' (quotes respected).
      if (name.empty() && !c.done() && c.peek() == '"') {
        c.quoted_string();
      } else if (name.empty() && !c.done()) {
        ++c.pos;
      }
      continue;
    }
    ++c.pos;  // '='
    c.skip_cfws();
    std::string v;
    bool quoted = !c.done() && c.peek() == '"';
    if (quoted) {
      v = c.quoted_string();
      // Junk after the closing quote up to ';' is ignored (filename="a.pdf" .exe).
      while (!c.done() && c.peek() != ';') {
        char ch = c.peek();
        if (ch == '"') {
          c.quoted_string();
        } else if (ch == '(' || is_blank(ch)) {
          c.skip_cfws();
          if (!c.done() && c.at_parameter_start()) break;
        } else {
          ++c.pos;
        }
      }
    } else {
      v = unquoted_value(c);
    }

    std::string_view base = name;
    long index = -1;
    bool encoded = false;
    bool is_2231 = split_2231_name(name, base, index, encoded);
    auto it = std::find_if(pending.begin(), pending.end(),
                           [&](const pending_param& p) { return p.name == base; });
    if (it == pending.end()) {
      if (pending.size() >= max_parameters) continue;  // the rest is dropped (limits.h)
      pending.emplace_back();
      pending.back().name.assign(base);
      it = pending.end() - 1;
    }
    if (!is_2231) {
      if (!it->has_plain) {
        it->plain = std::move(v);
        it->has_plain = true;
      }
    } else if (index < 0) {
      if (!it->has_extended) {
        it->extended = std::move(v);
        it->has_extended = true;
      }
    } else if (static_cast<size_t>(index) < max_parameter_segments &&
               it->segments.size() < max_parameter_segments) {
      it->segments.push_back(segment{static_cast<size_t>(index), encoded, std::move(v)});
    }
  }

  // RFC 2231 values win over a plain one of the same name: senders give the plain one as
  // an ASCII fallback for readers that do not know RFC 2231 (filename="a.pdf";
  // filename*=utf-8''%C3%A4.pdf), as Thunderbird and Dovecot read them.
  result.params.reserve(pending.size());
  for (pending_param& p : pending) {
    std::string decoded;
    if (p.has_extended) {
      std::string_view v = p.extended;
      std::string_view charset = split_charset_prefix(v);
      std::string bytes;
      percent_decode(v, bytes);
      charsets.to_utf8(bytes, charset, decoded);
    } else if (!p.segments.empty()) {
      decoded = join_segments(p, charsets);
    } else if (p.name == "boundary") {
      // Compared byte for byte with the delimiter lines: never decoded or repaired.
      decoded = std::move(p.plain);
    } else {
      // Encoded words in a quoted value break RFC 2047 5 but are what Outlook sends.
      decoded = decode_header_words(p.plain, charsets);
    }
    result.params.emplace_back(std::move(p.name), std::move(decoded));
  }
  return result;
}

std::string content_type::charset() const {
  const std::string* v = raw.param("charset");
  if (v == nullptr) return {};
  std::string out;
  for (char c : *v) {
    if (!is_blank(c)) out.push_back(lower(c));
  }
  return out;
}

std::string content_type::boundary() const {
  const std::string* v = raw.param("boundary");
  return v != nullptr ? *v : std::string();
}

content_type parse_content_type(std::string_view value, charset_converter& charsets,
                                std::string_view default_type) {
  content_type ct;
  ct.raw = parse_parameterized(value, charsets);
  std::string_view v = ct.raw.value;
  size_t slash = v.find('/');
  std::string_view type = v.substr(0, slash);
  std::string_view subtype =
      slash == std::string_view::npos ? std::string_view() : v.substr(slash + 1);
  bool valid = !type.empty() && !subtype.empty() && subtype.find('/') == std::string_view::npos;
  if (!valid && type == "text") {
    // "Content-Type: text" (seen from old mailers) means text/plain.
    subtype = "plain";
    valid = true;
  }
  if (!valid) {
    // RFC 2045 5.2: a syntactically invalid Content-Type is treated as the default.
    size_t s = default_type.find('/');
    type = default_type.substr(0, s);
    subtype = s == std::string_view::npos ? std::string_view("plain") : default_type.substr(s + 1);
  }
  ct.type.assign(type);
  ct.subtype.assign(subtype);
  for (char& ch : ct.type) ch = lower(ch);
  for (char& ch : ct.subtype) ch = lower(ch);
  return ct;
}

}  // namespace ringmail::mail
