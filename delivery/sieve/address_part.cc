#include "delivery/sieve/address_part.h"

#include <cstddef>

#include "mail/header.h"
#include "mail/limits.h"
#include "mail/rfc2047.h"

namespace ringmail::sieve::matching {

namespace {

enum class token_kind {
  atom, quoted, literal, comment, dot, at, colon, semicolon, comma, langle, rangle
};

struct token {
  token_kind kind;
  std::string text;  // atom/literal as written, quoted string and comment unquoted
  size_t begin = 0;  // octet range in the value, for the raw text
  size_t end = 0;
};

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_special(char c) {
  switch (c) {
    case '.': case '@': case ':': case ';': case ',': case '<': case '>':
    case '(': case ')': case '"': case '[': return true;
    default: return false;
  }
}

// RFC 5322 3.2.3 atext, and any 8-bit octet (RFC 6532 allows UTF-8 there).
bool is_atext(char c) {
  if (static_cast<unsigned char>(c) >= 0x80) return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// Splits `value` into tokens. Linear: every octet is looked at once. Unterminated quoted
// strings, comments and literals run to the end of the value.
std::vector<token> tokenize(std::string_view value) {
  std::vector<token> out;
  size_t i = 0;
  const size_t n = value.size();
  while (i < n) {
    char c = value[i];
    if (is_wsp(c)) {
      ++i;
    } else if (c == '(') {
      token t{token_kind::comment, {}, i, 0};
      std::string& text = t.text;
      int depth = 0;
      for (; i < n; ++i) {
        char d = value[i];
        if (d == '\\' && i + 1 < n) {
          text.push_back(value[++i]);
        } else if (d == '(') {
          if (depth++ > 0) text.push_back(d);
        } else if (d == ')') {
          if (--depth == 0) {
            ++i;
            break;
          }
          text.push_back(d);
        } else if (d != '\r' && d != '\n') {
          text.push_back(d);
        }
      }
      t.end = i;
      out.push_back(std::move(t));
    } else if (c == '"') {
      token t{token_kind::quoted, {}, i, 0};
      for (++i; i < n && value[i] != '"'; ++i) {
        if (value[i] == '\\' && i + 1 < n) ++i;
        if (value[i] != '\r' && value[i] != '\n') t.text.push_back(value[i]);
      }
      i = std::min(i + 1, n);
      t.end = i;
      out.push_back(std::move(t));
    } else if (c == '[') {
      size_t close = value.find(']', i);
      size_t end = close == std::string_view::npos ? n : close + 1;
      token t{token_kind::literal, {}, i, end};
      for (size_t k = i; k < end; ++k) {
        if (value[k] != '\r' && value[k] != '\n') t.text.push_back(value[k]);
      }
      out.push_back(std::move(t));
      i = end;
    } else if (is_special(c) || c == ')') {
      token_kind kind = token_kind::atom;
      switch (c) {
        case '.': kind = token_kind::dot; break;
        case '@': kind = token_kind::at; break;
        case ':': kind = token_kind::colon; break;
        case ';': kind = token_kind::semicolon; break;
        case ',': kind = token_kind::comma; break;
        case '<': kind = token_kind::langle; break;
        case '>': kind = token_kind::rangle; break;
        default: break;  // a stray ')': an atom of its own
      }
      out.push_back({kind, std::string(1, c), i, i + 1});
      ++i;
    } else {
      size_t start = i;
      while (i < n && !is_wsp(value[i]) && !is_special(value[i]) && value[i] != ')') ++i;
      out.push_back({token_kind::atom, std::string(value.substr(start, i - start)), start, i});
    }
  }
  return out;
}

// A phrase's words joined by single spaces ("John Q. Public").
std::string join_phrase(const std::vector<const token*>& words) {
  std::string out;
  for (const token* t : words) {
    if (!out.empty() && t->kind != token_kind::dot) out.push_back(' ');
    out += t->text;
  }
  return out;
}

bool is_dot_atom(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return false;
    } else if (!is_atext(s[i])) {
      return false;
    }
  }
  return true;
}

class list_parser {
 public:
  list_parser(std::string_view value, mail::charset_converter* charsets)
      : value_(value), charsets_(charsets) {}

  std::vector<parsed_address> run() {
    tokens_ = tokenize(value_);
    for (const token& t : tokens_) {
      if (out_.size() >= mail::max_addresses) break;
      if (t.kind == token_kind::comment) {
        if (!in_angle_) comment_ = &t;  // "john@example.org (John)": a display name
        continue;
      }
      if (in_angle_) {
        if (t.kind == token_kind::rangle) {
          in_angle_ = false;
          angle_done_ = true;
          last_ = &t;
        } else {
          angle_.push_back(&t);
          last_ = &t;
        }
        continue;
      }
      switch (t.kind) {
        case token_kind::comma:
        case token_kind::semicolon: finish(); break;
        case token_kind::colon:
          if (!angle_done_ && !has_at(current_)) {  // "name:" opens a group
            reset();
          } else {
            add(t);
          }
          break;
        case token_kind::langle:
          if (angle_done_ || seen_angle_) {
            add(t);  // a second '<': junk in this entry
            break;
          }
          if (first_ == nullptr) first_ = &t;
          last_ = &t;
          phrase_ = current_;
          current_.clear();
          seen_angle_ = in_angle_ = true;
          break;
        default: add(t); break;
      }
    }
    finish();
    return std::move(out_);
  }

 private:
  static bool has_at(const std::vector<const token*>& ts) {
    for (const token* t : ts) {
      if (t->kind == token_kind::at) return true;
    }
    return false;
  }

  void add(const token& t) {
    if (first_ == nullptr) first_ = &t;
    last_ = &t;
    if (!angle_done_) current_.push_back(&t);
  }

  void reset() {
    current_.clear();
    phrase_.clear();
    angle_.clear();
    first_ = last_ = nullptr;
    seen_angle_ = in_angle_ = angle_done_ = false;
    comment_ = nullptr;
  }

  void finish() {
    std::vector<const token*> spec = seen_angle_ ? angle_ : current_;
    if (seen_angle_ && !spec.empty() && spec.front()->kind == token_kind::at) {
      // obs-route "@a,@b:" before the addr-spec (RFC 5322 4.4): dropped.
      size_t k = 0;
      while (k < spec.size() && spec[k]->kind != token_kind::colon) ++k;
      if (k < spec.size()) spec.erase(spec.begin(), spec.begin() + k + 1);
    }
    if (first_ == nullptr || (spec.empty() && !seen_angle_)) {
      reset();
      return;
    }
    parsed_address a;
    a.raw = std::string(value_.substr(first_->begin, last_->end - first_->begin));
    std::string display;
    if (seen_angle_) {
      display = join_phrase(phrase_);
    } else if (comment_ != nullptr) {
      display = comment_->text;
    }
    if (!display.empty() && charsets_ != nullptr) {
      display = mail::decode_header_words(display, *charsets_);
    }
    a.display_name = std::move(display);
    size_t at = spec.size();
    for (size_t k = 0; k < spec.size(); ++k) {
      if (spec[k]->kind == token_kind::at) at = k;
    }
    bool ok = at != spec.size() && at > 0 && at + 1 < spec.size();
    for (size_t k = 0; ok && k < spec.size(); ++k) {
      token_kind kind = spec[k]->kind;
      if (k < at) {
        ok = kind == token_kind::atom || kind == token_kind::quoted || kind == token_kind::dot;
        if (ok) a.local_part += spec[k]->text;
      } else if (k > at) {
        ok = kind == token_kind::atom || kind == token_kind::literal || kind == token_kind::dot;
        if (ok) a.domain += spec[k]->text;
      }
    }
    a.valid = ok;
    if (!ok) {
      a.local_part.clear();
      a.domain.clear();
    }
    out_.push_back(std::move(a));
    reset();
  }

  std::string_view value_;
  mail::charset_converter* charsets_;
  std::vector<token> tokens_;
  const token* comment_ = nullptr;     // the entry's last comment outside '<' '>'
  std::vector<const token*> current_;  // the entry so far (outside angle brackets)
  std::vector<const token*> phrase_;   // the display name before '<'
  std::vector<const token*> angle_;    // inside '<' '>'
  const token* first_ = nullptr;       // the entry's first and last tokens (raw text)
  const token* last_ = nullptr;
  bool seen_angle_ = false;
  bool in_angle_ = false;
  bool angle_done_ = false;
  std::vector<parsed_address> out_;
};

}  // namespace

std::optional<address_part> parse_address_part(std::string_view tag) {
  if (!tag.empty() && tag[0] == ':') tag.remove_prefix(1);
  if (mail::equals_ignore_case(tag, "all")) return address_part::all;
  if (mail::equals_ignore_case(tag, "localpart")) return address_part::localpart;
  if (mail::equals_ignore_case(tag, "domain")) return address_part::domain;
  if (mail::equals_ignore_case(tag, "user")) return address_part::user;
  if (mail::equals_ignore_case(tag, "detail")) return address_part::detail;
  return std::nullopt;
}

std::vector<parsed_address> parse_address_list(std::string_view value,
                                               mail::charset_converter* charsets) {
  return list_parser(value, charsets).run();
}

parsed_address parse_envelope_address(std::string_view path) {
  while (!path.empty() && is_wsp(path.front())) path.remove_prefix(1);
  while (!path.empty() && is_wsp(path.back())) path.remove_suffix(1);
  if (path.size() >= 2 && path.front() == '<' && path.back() == '>') {
    path = path.substr(1, path.size() - 2);
  }
  parsed_address a;
  if (path.empty()) return a;  // the null reverse path
  std::string bracketed = "<" + std::string(path) + ">";
  std::vector<parsed_address> list = parse_address_list(bracketed);
  if (list.size() == 1 && list[0].valid) {
    a = std::move(list[0]);
    a.display_name.clear();
  }
  a.raw = std::string(path);
  return a;
}

std::optional<std::string> extract_address_part(const parsed_address& address, address_part part,
                                                std::string_view separators) {
  if (part == address_part::all) {
    if (!address.valid) return address.raw;
    std::string out;
    if (is_dot_atom(address.local_part)) {
      out = address.local_part;
    } else {
      out.push_back('"');
      for (char c : address.local_part) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
      }
      out.push_back('"');
    }
    out.push_back('@');
    out += address.domain;
    return out;
  }
  if (!address.valid) return std::nullopt;
  const std::string& local = address.local_part;
  size_t sep = separators.empty() ? std::string::npos : local.find_first_of(separators);
  switch (part) {
    case address_part::localpart: return local;
    case address_part::domain: return address.domain;
    case address_part::user: return sep == std::string::npos ? local : local.substr(0, sep);
    case address_part::detail:
      if (sep == std::string::npos) return std::nullopt;
      return local.substr(sep + 1);
    case address_part::all: break;
  }
  return std::nullopt;
}

}  // namespace ringmail::sieve::matching
