// The FETCH body renderer (see message_render.h).
//
// The MIME tree (which bytes are which part) comes from mail/message.h. The header VALUES
// IMAP shows are read again here, with Dovecot's RFC 822 tokenizer rules (lib-mail
// rfc822-parser.c, message-address.c, rfc2231-parser.c), because IMAP wants them as the
// header wrote them: mail::content_type lower-cases and RFC 2231/2047-decodes for the spam
// scanner, and ENVELOPE/BODYSTRUCTURE must not (RFC 9051 7.5.2).
#include "protocols/imap/message_render.h"

#include <algorithm>
#include <cstring>

#include "mail/encoding.h"
#include "mail/header.h"

namespace ringmail::imap {
namespace {

using mail::equals_ignore_case;
using mail::message;
using mail::mime_part;

// ---- strings -----------------------------------------------------------------------

// Dovecot imap-quote.c: past four quoted-specials a literal is shorter than escaping.
constexpr int max_quoted_escapes = 4;

void append_literal(std::string& out, std::string_view s) {
  out += '{';
  out += std::to_string(s.size());
  out += "}\r\n";
  out += s;
}

void append_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

// Dovecot remove_newlines() (imap_append_nstring_nolf): header values are shown on one
// line; a fold "LF TAB" becomes one space, other CR and LF bytes go.
std::string without_newlines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') continue;
    if (s[i] == '\n') {
      if (i + 1 < s.size() && s[i + 1] == '\t') {
        out += ' ';
        ++i;
      }
      continue;
    }
    out += s[i];
  }
  return out;
}

void append_nstring_nolf(std::string& out, const std::optional<std::string>& s) {
  if (!s) {
    out += "NIL";
  } else if (s->find_first_of("\r\n") == std::string::npos) {
    append_string(out, *s);
  } else {
    append_string(out, without_newlines(*s));
  }
}

// Dovecot imap_append_string_for_humans(): subject and display names. Tabs and runs of
// spaces become one space, leading/trailing whitespace and CR/LF go, NUL becomes 0x80;
// when anything had to change (or a quote, backslash or 8-bit byte is there) the value
// goes out as a literal.
void append_for_humans(std::string& out, std::string_view src) {
  bool modify = false;
  bool last_lwsp = true;
  bool whitespace_prefix = true;
  size_t remove_count = 0;
  for (char ch : src) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case 0:
        last_lwsp = false;
        modify = true;
        break;
      case '\t':
      case ' ':
        if (c == '\t') modify = true;
        if (last_lwsp) {
          modify = true;
          ++remove_count;
        }
        last_lwsp = true;
        break;
      case '\r':
      case '\n':
        ++remove_count;
        modify = true;
        break;
      case '"':
      case '\\':
        modify = true;
        last_lwsp = false;
        break;
      default:
        if (c & 0x80) modify = true;
        last_lwsp = false;
        break;
    }
    if (!last_lwsp) whitespace_prefix = false;
  }
  if (last_lwsp && !src.empty() && !whitespace_prefix) {
    modify = true;
    ++remove_count;
  }
  if (!modify) {
    out += '"';
    out += src;
    out += '"';
    return;
  }
  if (src.size() == remove_count) {
    out += "\"\"";
    return;
  }
  std::string clean;
  clean.reserve(src.size());
  last_lwsp = true;
  whitespace_prefix = true;
  for (char ch : src) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case 0:
        clean += static_cast<char>(0x80);
        last_lwsp = false;
        break;
      case '\t':
      case ' ':
        if (!last_lwsp) clean += ' ';
        last_lwsp = true;
        break;
      case '\r':
      case '\n':
        break;
      default:
        last_lwsp = false;
        clean += ch;
        break;
    }
    if (!last_lwsp) whitespace_prefix = false;
  }
  if (last_lwsp && !src.empty() && !whitespace_prefix && !clean.empty()) clean.pop_back();
  append_literal(out, clean);
}

// ---- header fields as Dovecot's header parser sees them -----------------------------

struct raw_field {
  std::string_view name;   // before the colon, trailing whitespace removed
  std::string_view lines;  // the field's lines as in the message, with their line ends
  std::string value;       // Dovecot's full_value: after the colon and its leading WSP;
                           // a fold keeps its whitespace and its LF (CR dropped)
};

// `header`: a header block (CRLF lines, possibly with the empty line at its end).
std::vector<raw_field> split_fields(std::string_view header) {
  std::vector<raw_field> fields;
  size_t pos = 0;
  while (pos < header.size()) {
    size_t nl = header.find('\n', pos);
    size_t next = nl == std::string_view::npos ? header.size() : nl + 1;
    std::string_view line = header.substr(pos, next - pos);
    std::string_view content = line;
    if (!content.empty() && content.back() == '\n') content.remove_suffix(1);
    if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
    if (content.empty()) break;  // the end of the header
    if ((content[0] == ' ' || content[0] == '\t') && !fields.empty()) {
      raw_field& f = fields.back();
      f.lines = std::string_view(f.lines.data(), f.lines.size() + line.size());
      // Dovecot's full value: a fold keeps its LF, except after an empty first line.
      if (!f.value.empty()) f.value += '\n';
      f.value += content;
      pos = next;
      continue;
    }
    size_t colon = content.find(':');
    if (colon == std::string_view::npos) {
      pos = next;  // neither field nor continuation: no value IMAP shows
      continue;
    }
    raw_field& f = fields.emplace_back();
    std::string_view name = content.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    f.name = name;
    f.lines = line;
    std::string_view value = content.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    f.value.assign(value);
    pos = next;
  }
  return fields;
}

std::string_view header_of(const mime_part& p) {
  return p.bytes.substr(0, static_cast<size_t>(p.body.data() - p.bytes.data()));
}

// ---- Dovecot's RFC 822 tokenizer (lib-mail rfc822-parser.c) -------------------------

// 1: atext, 2: alpha/digit/8-bit, 4: atext but a MIME tspecial ('/', '=', '?').
constexpr unsigned char atext_class(unsigned char c) {
  if (c >= 0x80) return 2;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 2;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
      return 1;
    case '/': case '=': case '?':
      return 4;
    default:
      return 0;
  }
}
bool is_atext(char c) { return atext_class(static_cast<unsigned char>(c)) != 0; }
bool is_token_char(char c) { return (atext_class(static_cast<unsigned char>(c)) & 3) != 0; }

struct rfc822_parser {
  std::string_view s;
  size_t pos = 0;
  std::string* last_comment = nullptr;

  bool at_end() const { return pos >= s.size(); }
  char peek() const { return at_end() ? '\0' : s[pos]; }
  // Dovecot's return convention: -1 error, 0 end of input, 1 more input follows.
  int more() const { return at_end() ? 0 : 1; }

  int skip_comment() {
    int level = 1;
    if (last_comment) last_comment->clear();
    size_t start = ++pos;
    for (; pos < s.size(); ++pos) {
      char c = s[pos];
      if (c == '(') {
        ++level;
      } else if (c == ')') {
        if (--level == 0) {
          if (last_comment) last_comment->append(s.substr(start, pos - start));
          ++pos;
          return more();
        }
      } else if (c == '\\') {
        if (last_comment) last_comment->append(s.substr(start, pos - start));
        start = pos + 1;
        ++pos;
        if (pos >= s.size()) return -1;
      }
    }
    return -1;
  }

  int skip_lwsp() {
    while (pos < s.size()) {
      char c = s[pos];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++pos;
        continue;
      }
      if (c != '(') break;
      if (skip_comment() < 0) return -1;
    }
    return more();
  }

  int parse_atom(std::string& out) {
    if (at_end() || !is_atext(s[pos])) return -1;
    size_t start = pos++;
    while (pos < s.size() && is_atext(s[pos])) ++pos;
    out.append(s.substr(start, pos - start));
    return skip_lwsp();
  }

  int parse_dot_atom(std::string& out) {
    if (at_end() || !is_atext(s[pos])) return -1;
    size_t start = pos++;
    for (;;) {
      while (pos < s.size() && is_atext(s[pos])) ++pos;
      out.append(s.substr(start, pos - start));
      if (at_end()) return 0;
      int ret = skip_lwsp();
      if (ret <= 0) return ret;
      if (s[pos] != '.') return 1;
      ++pos;
      out += '.';
      ret = skip_lwsp();
      if (ret <= 0) return ret;
      start = pos;
    }
  }

  int parse_mime_token(std::string& out) {
    size_t start = pos;
    while (pos < s.size() && (is_token_char(s[pos]) || s[pos] == '.')) ++pos;
    out.append(s.substr(start, pos - start));
    if (at_end()) return 0;
    return skip_lwsp();
  }

  int parse_quoted_string(std::string& out) {
    ++pos;  // '"'
    size_t start = pos;
    for (; pos < s.size(); ++pos) {
      char c = s[pos];
      if (c == '"') {
        out.append(s.substr(start, pos - start));
        ++pos;
        return skip_lwsp();
      }
      if (c == '\n') {
        size_t len = pos - start;
        if (len > 0 && s[start + len - 1] == '\r') --len;
        out.append(s.substr(start, len));
        start = pos + 1;
      } else if (c == '\\') {
        ++pos;
        if (pos >= s.size()) return -1;
        out.append(s.substr(start, pos - start - 1));
        start = pos;
      }
    }
    return -1;
  }

  int parse_atom_or_dot(std::string& out) {
    size_t start = pos;
    while (pos < s.size() && (is_atext(s[pos]) || s[pos] == '.')) ++pos;
    out.append(s.substr(start, pos - start));
    if (at_end()) return 0;
    return skip_lwsp();
  }

  int parse_phrase(std::string& out) {
    if (at_end()) return 0;
    if (s[pos] == '.') return -1;
    for (;;) {
      int ret = peek() == '"' ? parse_quoted_string(out) : parse_atom_or_dot(out);
      if (ret <= 0) return ret;
      char c = peek();
      if (!is_atext(c) && c != '"' && c != '.') break;
      out += ' ';
    }
    return skip_lwsp();
  }

  int parse_domain_literal(std::string& out) {
    size_t start = pos;
    for (; pos < s.size(); ++pos) {
      if (s[pos] == '\\') {
        ++pos;
        if (pos >= s.size()) break;
      } else if (s[pos] == ']') {
        ++pos;
        out.append(s.substr(start, pos - start));
        return skip_lwsp();
      }
    }
    return -1;
  }

  int parse_domain(std::string& out) {
    ++pos;  // '@'
    if (skip_lwsp() <= 0) return -1;
    if (s[pos] == '[') return parse_domain_literal(out);
    return parse_dot_atom(out);
  }

  int parse_content_type(std::string& out) {
    if (skip_lwsp() <= 0) return -1;
    if (parse_mime_token(out) <= 0) return -1;
    if (peek() != '/') return -1;
    ++pos;
    if (skip_lwsp() <= 0) return -1;
    out += '/';
    return parse_mime_token(out);
  }

  // One "; key=value". 0: no more, -1: broken, 1: key and value set.
  int parse_content_param(std::string& key, std::string& value) {
    key.clear();
    value.clear();
    if (at_end()) return 0;
    if (s[pos] != ';') return -1;
    ++pos;
    if (skip_lwsp() <= 0) return -1;
    if (parse_mime_token(key) <= 0) return -1;
    if (peek() != '=') return -1;
    ++pos;
    int ret = skip_lwsp();
    if (ret <= 0) {
      // broken / no value
    } else if (s[pos] == '"') {
      ret = parse_quoted_string(value);
    } else if (s[pos] == '=') {
      // Dovecot: a workaround for name==?utf-8?b?...?=
      while (pos < s.size() && s[pos] != ';' && s[pos] != ' ' && s[pos] != '\t' &&
             s[pos] != '\r' && s[pos] != '\n') {
        value += s[pos++];
      }
    } else {
      ret = parse_mime_token(value);
    }
    return ret < 0 ? -1 : 1;
  }
};

using param_list = std::vector<std::pair<std::string, std::string>>;

// RFC 2231 (Dovecot rfc2231-parser.c): name*0, name*1 ... are joined in index order;
// extended values stay encoded and the merged name gets a '*'; a sequence with a missing
// index is left as it came.
param_list parse_params(rfc822_parser& p) {
  struct indexed {
    std::string key;
    std::string value;
    unsigned idx = 0;
    bool extended = false;
  };
  param_list result;
  std::vector<indexed> pieces;
  std::string key, value;
  int ret;
  size_t rounds = 0;
  while ((ret = p.parse_content_param(key, value)) != 0) {
    if (++rounds > 10000) break;  // bounded by the input anyway; belt and braces
    if (ret < 0) {
      if (p.at_end()) break;
      ++p.pos;
      continue;
    }
    size_t star = key.find('*');
    bool plain = true;
    if (star != std::string::npos) {
      indexed piece;
      size_t i = star;
      if (i + 1 < key.size()) {
        ++i;
        while (i < key.size() && key[i] >= '0' && key[i] <= '9') {
          piece.idx = piece.idx * 10 + static_cast<unsigned>(key[i] - '0');
          ++i;
        }
      }
      if (i < key.size() && key[i] == '*') {
        piece.extended = true;
        ++i;
      }
      if (i >= key.size()) {
        piece.key = key.substr(0, star);
        piece.value = value;
        pieces.push_back(std::move(piece));
        plain = false;
      }
    }
    if (plain) result.emplace_back(key, value);
  }
  if (pieces.empty()) return result;
  std::stable_sort(pieces.begin(), pieces.end(), [](const indexed& a, const indexed& b) {
    int c = a.key.compare(b.key);
    if (c != 0) return c < 0;
    return a.idx < b.idx;
  });
  for (size_t i = 0, next = 0; i < pieces.size(); i = next) {
    bool ok = true;
    bool have_extended = false;
    unsigned next_idx = 0;
    size_t j = i;
    for (; j < pieces.size(); ++j) {
      if (!equals_ignore_case(pieces[i].key, pieces[j].key)) break;
      if (pieces[j].idx != next_idx) ok = false;
      if (pieces[j].extended) have_extended = true;
      ++next_idx;
    }
    next = j;
    if (!ok) {
      for (j = i; j < next; ++j) {
        std::string k = pieces[j].key + "*" + std::to_string(pieces[j].idx);
        if (pieces[j].extended) k += '*';
        result.emplace_back(std::move(k), pieces[j].value);
      }
      continue;
    }
    std::string merged;
    if (!pieces[i].extended && have_extended) merged = "''";
    for (j = i; j < next; ++j) {
      if (!pieces[j].extended && have_extended) {
        for (char c : pieces[j].value) {
          if (c == '%') {
            merged += "%25";
          } else {
            merged += c;
          }
        }
      } else {
        merged += pieces[j].value;
      }
    }
    std::string k = pieces[i].key;
    if (have_extended) k += '*';
    result.emplace_back(std::move(k), std::move(merged));
  }
  return result;
}

// ---- addresses (Dovecot message-address.c, fill_missing) -----------------------------

struct address {
  std::optional<std::string> name, route, mailbox, domain;
};

class address_parser {
 public:
  explicit address_parser(std::string_view value) {
    p_.s = value;
    p_.last_comment = &comment_;
  }

  std::vector<address> parse() {
    if (p_.skip_lwsp() <= 0) return {};
    parse_address_list();
    return std::move(out_);
  }

 private:
  int parse_local_part() {
    std::string str;
    // Dovecot 2.3 takes dots anywhere in a local part ("....@example.org" is mail too).
    int ret;
    if (p_.peek() == '"') {
      ret = p_.parse_quoted_string(str);
    } else if (is_atext(p_.peek()) || p_.peek() == '.') {
      ret = p_.parse_atom_or_dot(str);
    } else {
      ret = -1;
    }
    if (ret < 0) return -1;
    addr_.mailbox = std::move(str);
    return ret;
  }

  int parse_domain() {
    std::string str;
    int ret = p_.parse_domain(str);
    // Dovecot 2.3: "user@example." has no domain (MISSING_DOMAIN).
    if (ret < 0 || (!str.empty() && str.back() == '.')) return -1;
    addr_.domain = std::move(str);
    return ret;
  }

  int parse_domain_list() {
    std::string str;
    for (;;) {
      if (p_.at_end()) return 0;
      if (p_.s[p_.pos] != '@') break;
      if (!str.empty()) str += ',';
      str += '@';
      int ret = p_.parse_domain(str);
      if (ret <= 0) return ret;
      while (p_.skip_lwsp() > 0 && p_.s[p_.pos] == ',') ++p_.pos;
    }
    addr_.route = std::move(str);
    return 1;
  }

  int parse_angle_addr() {
    ++p_.pos;  // '<'
    int ret = p_.skip_lwsp();
    if (ret <= 0) return ret;
    if (p_.s[p_.pos] == '>') {  // "<>": no mailbox, no domain (MISSING_* below)
      ++p_.pos;
      return p_.skip_lwsp();
    }
    if (p_.s[p_.pos] == '@') {
      if (parse_domain_list() <= 0 || p_.peek() != ':') {
        addr_.route = "INVALID_ROUTE";
        return -1;
      }
      ++p_.pos;
      ret = p_.skip_lwsp();
      if (ret <= 0) return ret;
    }
    ret = parse_local_part();
    if (ret <= 0) return ret;
    if (p_.peek() == '@') {
      ret = parse_domain();
      if (ret <= 0) return ret;
    }
    if (p_.peek() != '>') return -1;
    ++p_.pos;
    return p_.skip_lwsp();
  }

  int parse_name_addr() {
    std::string str;
    if (p_.parse_phrase(str) <= 0 || p_.peek() != '<') return -1;
    if (!str.empty()) addr_.name = std::move(str);
    if (parse_angle_addr() < 0) {
      addr_.domain = "SYNTAX_ERROR";
    }
    return p_.at_end() ? 0 : 1;
  }

  int parse_addr_spec() {
    comment_.clear();
    bool had_at = false;
    int ret = parse_local_part();
    if (ret != 0 && p_.peek() == '@') {
      had_at = true;
      int ret2 = parse_domain();
      if (ret2 <= 0) ret = ret2;
    }
    if (!comment_.empty()) {
      addr_.name = comment_;
    } else if (!had_at) {
      // Dovecot 2.3: a lone "user" is a mailbox, but "user" followed by more words
      // ("\"Bannedcd\"eowu345@yahoo.com") is a display name without an address.
      std::string str = addr_.mailbox.value_or("");
      str += ' ';
      size_t before = str.size();
      p_.parse_phrase(str);
      if (str.size() != before) {
        addr_.mailbox.reset();
        addr_.name = std::move(str);
      }
    }
    return ret;
  }

  void add_address() {
    if (out_.size() < max_addresses_) out_.push_back(std::move(addr_));
    addr_ = address();
  }

  void add_fixed_address() {
    if (!addr_.mailbox) addr_.mailbox = "MISSING_MAILBOX";
    if (!addr_.domain) addr_.domain = "MISSING_DOMAIN";
    add_address();
  }

  int parse_mailbox() {
    size_t start = p_.pos;
    int ret = parse_name_addr();
    if (ret < 0) {
      p_.pos = start;
      addr_ = address();
      ret = parse_addr_spec();
    }
    add_fixed_address();
    return ret;
  }

  int parse_group() {
    std::string str;
    if (p_.parse_phrase(str) <= 0 || p_.peek() != ':') return -1;
    ++p_.pos;
    int ret = p_.skip_lwsp();
    addr_ = address();
    addr_.mailbox = std::move(str);
    add_address();
    if (ret > 0 && p_.peek() != ';') {
      for (;;) {
        if (parse_mailbox() <= 0) {
          ret = -1;
          break;
        }
        if (p_.peek() != ',') break;
        ++p_.pos;
        if (p_.skip_lwsp() <= 0) {
          ret = -1;
          break;
        }
      }
    }
    if (ret >= 0) {
      if (p_.peek() != ';') {
        ret = -1;
      } else {
        ++p_.pos;
        ret = p_.skip_lwsp();
      }
    }
    add_address();  // the end of the group: all NIL
    return ret == 0 ? 0 : 1;
  }

  int parse_address() {
    size_t start = p_.pos;
    size_t count = out_.size();
    int ret = parse_group();
    if (ret < 0) {
      p_.pos = start;
      out_.resize(count);
      addr_ = address();
      ret = parse_mailbox();
    }
    return ret;
  }

  void parse_address_list() {
    for (size_t n = 0; n < max_addresses_; ++n) {
      if (parse_address() == 0) break;
      if (p_.peek() != ',') break;
      ++p_.pos;
      int ret = p_.skip_lwsp();
      if (ret <= 0) {
        if (ret < 0) add_fixed_address();
        break;
      }
    }
  }

  // Dovecot parses without a limit; a header of 100k addresses is still bounded by the
  // header size limits, and each address costs O(its length).
  static constexpr size_t max_addresses_ = 100000;
  rfc822_parser p_;
  std::string comment_;
  address addr_;
  std::vector<address> out_;
};

void append_address_list(std::string& out, const std::vector<address>& list) {
  if (list.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const address& a : list) {
    out += '(';
    if (a.name) {
      append_for_humans(out, *a.name);
    } else {
      out += "NIL";
    }
    out += ' ';
    append_nstring_nolf(out, a.route);
    out += ' ';
    append_nstring_nolf(out, a.mailbox);
    out += ' ';
    append_nstring_nolf(out, a.domain);
    out += ')';
  }
  out += ')';
}

// ---- ENVELOPE -------------------------------------------------------------------------

void write_envelope(std::string& out, std::string_view header) {
  static constexpr std::string_view names[] = {"Date", "Subject", "From", "Sender",
                                               "Reply-To", "To", "Cc", "Bcc",
                                               "In-Reply-To", "Message-ID"};
  std::optional<std::string> values[10];
  std::vector<address> lists[10];
  for (raw_field& f : split_fields(header)) {
    for (size_t i = 0; i < 10; ++i) {
      if (!equals_ignore_case(f.name, names[i])) continue;
      if (i >= 2 && i <= 7) {
        // Address fields given twice add up (Dovecot 2.3: a list per field).
        std::vector<address> more = address_parser(f.value).parse();
        lists[i].insert(lists[i].end(), std::make_move_iterator(more.begin()),
                        std::make_move_iterator(more.end()));
      } else {
        values[i] = std::move(f.value);  // the last one counts, as in Dovecot
      }
    }
  }
  append_nstring_nolf(out, values[0]);
  out += ' ';
  if (values[1]) {
    append_for_humans(out, *values[1]);
  } else {
    out += "NIL";
  }
  std::string from;
  append_address_list(from, lists[2]);
  out += ' ';
  out += from;
  // RFC 9051 7.5.2: an absent (or empty) Sender or Reply-To is set to From.
  for (size_t i = 3; i <= 4; ++i) {
    out += ' ';
    if (!lists[i].empty()) {
      append_address_list(out, lists[i]);
    } else {
      out += from;
    }
  }
  for (size_t i = 5; i < 8; ++i) {
    out += ' ';
    append_address_list(out, lists[i]);
  }
  out += ' ';
  append_nstring_nolf(out, values[8]);
  out += ' ';
  append_nstring_nolf(out, values[9]);
}

// ---- BODYSTRUCTURE ------------------------------------------------------------------------

struct part_data {
  std::optional<std::string> type, subtype;
  param_list params;
  std::optional<std::string> id, description, cte, md5, location;
  std::optional<std::string> disposition;
  param_list disposition_params;
  std::vector<std::string> language;
};

// Dovecot message-part-data.c: the first of each Content-* field counts (Disposition:
// until one with parameters came); without MIME-Version and Content-Type none does.
part_data read_part_data(const mime_part& p, bool in_multipart) {
  part_data d;
  bool is_mime = in_multipart;
  for (raw_field& f : split_fields(header_of(p))) {
    if (equals_ignore_case(f.name, "MIME-Version") || equals_ignore_case(f.name, "Content-Type")) {
      is_mime = true;
    }
    if (f.name.size() < 8 || !equals_ignore_case(f.name.substr(0, 8), "Content-")) continue;
    std::string_view name = f.name.substr(8);
    if (equals_ignore_case(name, "ID")) {
      if (!d.id) d.id = f.value;
    } else if (equals_ignore_case(name, "MD5")) {
      if (!d.md5) d.md5 = f.value;
    } else if (equals_ignore_case(name, "Type")) {
      if (d.type) continue;
      rfc822_parser parser{f.value};
      parser.skip_lwsp();
      std::string str;
      int ret = parser.parse_content_type(str);
      if (ret < 0 || (ret > 0 && parser.peek() != ';')) {
        // Dovecot 2.3: a Content-Type it cannot read ("TEXT/PLAIN charset=x", no ';')
        // is kept as an empty type and subtype, with no parameters.
        d.type = "";
        d.subtype = "";
        continue;
      }
      size_t slash = str.find('/');
      if (slash != std::string::npos) {
        d.subtype = str.substr(slash + 1);
        str.resize(slash);
      }
      d.type = std::move(str);
      d.params = parse_params(parser);
    } else if (equals_ignore_case(name, "Transfer-Encoding")) {
      if (d.cte) continue;
      rfc822_parser parser{f.value};
      parser.skip_lwsp();
      std::string str;
      if (parser.parse_mime_token(str) >= 0 && parser.skip_lwsp() == 0 && !str.empty()) {
        d.cte = std::move(str);
      }
    } else if (equals_ignore_case(name, "Language")) {
      if (!d.language.empty()) continue;
      rfc822_parser parser{f.value};
      parser.skip_lwsp();
      std::string str;
      while (parser.parse_atom(str) >= 0) {
        d.language.push_back(str);
        str.clear();
        if (parser.at_end() || parser.s[parser.pos] != ',') break;
        ++parser.pos;
        parser.skip_lwsp();
      }
    } else if (equals_ignore_case(name, "Location")) {
      if (!d.location) d.location = f.value;
    } else if (equals_ignore_case(name, "Description")) {
      if (!d.description) d.description = f.value;
    } else if (equals_ignore_case(name, "Disposition")) {
      if (!d.disposition_params.empty()) continue;
      rfc822_parser parser{f.value};
      parser.skip_lwsp();
      std::string str;
      if (parser.parse_mime_token(str) < 0) continue;
      d.disposition = std::move(str);
      d.disposition_params = parse_params(parser);
    }
  }
  if (!is_mime) return part_data();
  return d;
}

bool is_enclosed_message(const message& m, uint32_t i) {
  const mime_part& p = m.parts[i];
  return p.type.is("message", "rfc822") && p.children.size() == 1 && !p.type.is_multipart();
}

bool is_multipart(const message& m, uint32_t i) {
  const mime_part& p = m.parts[i];
  return p.type.is_multipart() && !p.type.boundary().empty();
}

void write_params(std::string& out, const param_list& params, bool default_charset) {
  if (!default_charset && params.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  bool seen_charset = false;
  bool first = true;
  for (const auto& [k, v] : params) {
    if (!first) out += ' ';
    first = false;
    if (default_charset && equals_ignore_case(k, "charset")) seen_charset = true;
    append_string(out, k);
    out += ' ';
    append_string(out, v);
  }
  if (default_charset && !seen_charset) {
    if (!first) out += ' ';
    out += "\"charset\" \"us-ascii\"";
  }
  out += ')';
}

void write_extension_common(std::string& out, const part_data& d) {
  out += ' ';
  if (!d.disposition) {
    out += "NIL";
  } else {
    out += '(';
    append_string(out, *d.disposition);
    out += ' ';
    write_params(out, d.disposition_params, false);
    out += ')';
  }
  out += ' ';
  if (d.language.empty()) {
    out += "NIL";
  } else {
    out += '(';
    for (size_t i = 0; i < d.language.size(); ++i) {
      if (i) out += ' ';
      append_string(out, d.language[i]);
    }
    out += ')';
  }
  out += ' ';
  append_nstring_nolf(out, d.location);
}

size_t count_lines(std::string_view s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

void write_part(std::string& out, const message& m, uint32_t i, bool ext, int depth);

void write_multipart(std::string& out, const message& m, uint32_t i, const part_data& d, bool ext,
                     int depth) {
  const mime_part& p = m.parts[i];
  if (p.children.empty()) {
    // RFC 2046 requires a body part; Dovecot writes one empty text/plain (so do we).
    out += ext ? "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
               : "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)";
  }
  for (uint32_t child : p.children) {
    out += '(';
    write_part(out, m, child, ext, depth + 1);
    out += ')';
  }
  out += ' ';
  if (d.subtype) {
    append_string(out, *d.subtype);
  } else {
    out += "\"x-unknown\"";
  }
  if (!ext) return;
  out += ' ';
  write_params(out, d.params, false);
  write_extension_common(out, d);
}

void write_part(std::string& out, const message& m, uint32_t i, bool ext, int depth) {
  const mime_part& p = m.parts[i];
  bool in_multipart = p.parent != mail::no_part && is_multipart(m, p.parent);
  part_data d = read_part_data(p, in_multipart);
  if (is_multipart(m, i)) {
    write_multipart(out, m, i, d, ext, depth);
    return;
  }
  bool rfc822 = is_enclosed_message(m, i);
  bool text = false;
  if (rfc822) {
    out += "\"message\" \"rfc822\"";
  } else if (!d.type) {
    text = true;
    out += "\"text\" \"plain\"";
  } else {
    text = equals_ignore_case(*d.type, "text");
    append_string(out, *d.type);
    out += ' ';
    if (d.subtype) {
      append_string(out, *d.subtype);
    } else {
      out += text ? "\"plain\"" : "\"unknown\"";
    }
  }
  out += ' ';
  write_params(out, d.params, text);
  out += ' ';
  append_nstring_nolf(out, d.id);
  out += ' ';
  append_nstring_nolf(out, d.description);
  out += ' ';
  if (d.cte) {
    append_string(out, *d.cte);
  } else {
    out += "\"7bit\"";
  }
  out += ' ';
  out += std::to_string(p.body.size());
  if (text) {
    out += ' ';
    out += std::to_string(count_lines(p.body));
  } else if (rfc822) {
    uint32_t child = p.children[0];
    out += " (";
    write_envelope(out, header_of(m.parts[child]));
    out += ") (";
    write_part(out, m, child, ext, depth + 1);
    out += ") ";
    out += std::to_string(count_lines(p.body));
  }
  if (!ext) return;
  out += ' ';
  append_nstring_nolf(out, d.md5);
  write_extension_common(out, d);
}

// ---- sections -----------------------------------------------------------------------------

// Dovecot imap-msgpart.c: each number first steps into an enclosed message, then picks
// a child of a multipart; a non-multipart part has only part 1, itself.
std::optional<uint32_t> find_part(const message& m, const std::vector<uint32_t>& path) {
  if (m.parts.empty()) return std::nullopt;
  uint32_t cur = 0;
  for (uint32_t n : path) {
    if (is_enclosed_message(m, cur)) cur = m.parts[cur].children[0];
    if (!is_multipart(m, cur)) {
      if (n != 1) return std::nullopt;
    } else {
      const auto& ch = m.parts[cur].children;
      if (n == 0 || n > ch.size()) return std::nullopt;
      cur = ch[n - 1];
    }
  }
  return cur;
}

std::string header_fields(std::string_view header, const std::vector<std::string>& wanted,
                          bool exclude) {
  std::string out;
  for (const raw_field& f : split_fields(header)) {
    bool listed = false;
    for (const std::string& w : wanted) {
      if (equals_ignore_case(f.name, w)) {
        listed = true;
        break;
      }
    }
    if (listed == exclude) continue;
    out += f.lines;
    if (out.back() != '\n') out += "\r\n";  // the header's last line had no line end
  }
  out += "\r\n";
  return out;
}

// BINARY: the part's content decoded. nullopt: unknown encoding.
std::optional<std::string> decoded_content(const message& m, uint32_t i) {
  const mime_part& p = m.parts[i];
  bool in_multipart = p.parent != mail::no_part && is_multipart(m, p.parent);
  part_data d = read_part_data(p, in_multipart);
  std::string cte = d.cte.value_or("7bit");
  std::transform(cte.begin(), cte.end(), cte.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string out;
  if (cte == "7bit" || cte == "8bit" || cte == "binary") {
    out.assign(p.body);
  } else if (cte == "base64") {
    mail::decode_base64(p.body, out);
  } else if (cte == "quoted-printable") {
    mail::decode_quoted_printable(p.body, out);
  } else {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::string to_crlf(std::string_view bytes) {
  std::string out;
  size_t bare = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r')) ++bare;
  }
  out.reserve(bytes.size() + bare);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r')) out += '\r';
    out += bytes[i];
  }
  return out;
}

void append_string(std::string& out, std::string_view s) {
  int escapes = 0;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      if (escapes++ < max_quoted_escapes) continue;
      append_literal(out, s);
      return;
    }
    if (c == '\r' || c == '\n' || c == 0 || c >= 0x80) {
      append_literal(out, s);
      return;
    }
  }
  append_quoted(out, s);
}

void append_nstring(std::string& out, std::optional<std::string_view> s) {
  if (!s) {
    out += "NIL";
  } else {
    append_string(out, *s);
  }
}

std::string render_envelope(const message& m) {
  std::string out = "(";
  if (!m.parts.empty()) {
    write_envelope(out, header_of(m.parts[0]));
  } else {
    out += "NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL";
  }
  out += ')';
  return out;
}

namespace {

// Dovecot message_part_data_is_plain_7bit(): a one-part text/plain message whose only
// (first) parameter is charset=us-ascii, 7bit, with no other Content-* data. Dovecot
// caches that as one flag and answers BODY from it in its own spelling (lower case),
// whatever case the header used; BODYSTRUCTURE it writes from the header as usual.
bool is_plain_7bit(const message& m) {
  if (m.parts.empty() || is_multipart(m, 0) || is_enclosed_message(m, 0)) return false;
  part_data d = read_part_data(m.parts[0], false);
  if (d.type && !equals_ignore_case(*d.type, "text")) return false;
  if (d.subtype && !equals_ignore_case(*d.subtype, "plain")) return false;
  if (d.params.size() > 1) return false;
  if (!d.params.empty() && (!equals_ignore_case(d.params[0].first, "charset") ||
                            !equals_ignore_case(d.params[0].second, "us-ascii"))) {
    return false;
  }
  if (d.id || d.description) return false;
  if (d.cte && !equals_ignore_case(*d.cte, "7bit")) return false;
  return !d.md5 && !d.disposition && d.language.empty() && !d.location;
}

}  // namespace

std::string render_body_structure(const message& m, bool extensible) {
  std::string out = "(";
  if (!extensible && is_plain_7bit(m)) {
    const mime_part& p = m.parts[0];
    out += "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" ";
    out += std::to_string(p.body.size());
    out += ' ';
    out += std::to_string(count_lines(p.body));
  } else if (m.parts.empty()) {
    out += "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0";
    if (extensible) out += " NIL NIL NIL NIL";
  } else {
    write_part(out, m, 0, extensible, 0);
  }
  out += ')';
  return out;
}

section_result render_section(const message& m, const section_spec& s, bool binary) {
  section_result r;
  std::optional<uint32_t> found = find_part(m, s.part);
  if (!found) {
    r.st = section_result::status::missing;
    return r;
  }
  uint32_t i = *found;
  const mime_part* p = &m.parts[i];
  using kind = section_spec::kind;
  if (s.k == kind::whole) {
    if (s.part.empty()) {
      r.bytes.assign(m.bytes);
      return r;
    }
    if (binary && !is_multipart(m, i) && !is_enclosed_message(m, i)) {
      std::optional<std::string> decoded = decoded_content(m, i);
      if (!decoded) {
        r.st = section_result::status::unknown_cte;
        return r;
      }
      r.bytes = std::move(*decoded);
      return r;
    }
    r.bytes.assign(p->body);
    return r;
  }
  if (s.k == kind::mime) {
    r.bytes.assign(header_of(*p));
    return r;
  }
  // HEADER, HEADER.FIELDS(.NOT), TEXT: of the message, or of the message a
  // message/rfc822 part encloses.
  if (!s.part.empty() && is_enclosed_message(m, i)) p = &m.parts[p->children[0]];
  switch (s.k) {
    case kind::header:
      r.bytes.assign(header_of(*p));
      break;
    case kind::header_fields:
    case kind::header_fields_not:
      r.bytes = header_fields(header_of(*p), s.fields, s.k == kind::header_fields_not);
      break;
    case kind::text:
      r.bytes.assign(p->body);
      break;
    default:
      break;
  }
  return r;
}

std::optional<uint64_t> binary_size(const message& m, const std::vector<uint32_t>& part) {
  section_spec s;
  s.part = part;
  section_result r = render_section(m, s, true);
  // A part that does not exist is empty, as its BODY[] is (and as Dovecot answers:
  // BINARY.SIZE[9] of a two-part message is 0). It matters for a multipart with no
  // child: BODYSTRUCTURE shows it with an empty text/plain part 1 (RFC 9051's body-type-
  // mpart needs one), whose size is then 0, not an error.
  if (r.st == section_result::status::missing) return 0;
  if (r.st != section_result::status::ok) return std::nullopt;
  return r.bytes.size();
}

std::optional<first_address_result> first_address(std::string_view value) {
  std::vector<address> list = address_parser(value).parse();
  if (list.empty()) return std::nullopt;
  first_address_result r;
  r.name = std::move(list.front().name);
  r.mailbox = std::move(list.front().mailbox);
  r.domain = std::move(list.front().domain);
  return r;
}

}  // namespace ringmail::imap
