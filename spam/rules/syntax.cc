#include "spam/rules/syntax.h"

#include "absl/strings/str_cat.h"

namespace ringmail::spam {
namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
// Perl \s (ASCII): space, \t, \n, \v, \f, \r.
bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

size_t skip_spaces(std::string_view s, size_t p) {
  while (p < s.size() && is_space(s[p])) ++p;
  return p;
}

// Modifier letters Util::compile_regexp accepts after the end delimiter: [a-df-z]
// ('e' is refused there because it would evaluate code).
bool is_modifier_char(char c) { return c >= 'a' && c <= 'z' && c != 'e'; }

char closing_bracket(char c) {
  switch (c) {
    case '{': return '}';
    case '(': return ')';
    case '<': return '>';
    case '[': return ']';
    default: return 0;
  }
}

// A delimiter inside the pattern must be escaped, except for the closing brackets } ) ]
// which SpamAssassin does not check (they occur in .{0,10} and [xyz]).
bool has_unescaped_delimiter(std::string_view re, char delim) {
  std::string stripped;
  stripped.reserve(re.size());
  for (size_t i = 0; i < re.size(); ++i) {
    if (re[i] == '\\' && i + 1 < re.size() && re[i + 1] == '\\') {
      ++i;  // drop escaped backslashes "\\" first, as compile_regexp does
      continue;
    }
    stripped.push_back(re[i]);
  }
  for (size_t i = 0; i < stripped.size(); ++i) {
    if (stripped[i] == delim && (i == 0 || stripped[i - 1] != '\\')) return true;
  }
  return false;
}

std::string kept_flags(std::string_view mods) {
  std::string out;
  for (char f : {'i', 'm', 's', 'x'}) {
    if (mods.find(f) != std::string_view::npos) out.push_back(f);
  }
  return out;
}

}  // namespace

bool is_rule_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  char c0 = name[0];
  if (!(c0 == '_' || (c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z'))) return false;
  for (char c : name) {
    if (!is_word_char(c)) return false;
  }
  return true;
}

absl::StatusOr<regex_literal> parse_regex_literal(std::string_view text) {
  std::string_view re = text;
  char delim_end = 0;
  if (!re.empty() && re[0] == '/') {
    delim_end = '/';
    re.remove_prefix(1);
  } else {
    size_t p = 0;
    if (re.substr(0, 1) == "m") {
      p = 1;
    } else if (re.substr(0, 2) == "qr") {
      p = 2;
    } else {
      return absl::InvalidArgumentError("missing regexp delimiters");
    }
    if (p >= re.size()) return absl::InvalidArgumentError("missing regexp delimiters");
    char c = re[p];
    if (char close = closing_bracket(c)) {
      delim_end = close;
    } else if (!is_word_char(c)) {
      if (c == '\\') return absl::InvalidArgumentError("backslash delimiter not allowed");
      delim_end = c;
    } else {
      return absl::InvalidArgumentError("missing regexp delimiters");
    }
    re.remove_prefix(p + 1);
  }

  size_t mods_len = 0;
  while (mods_len < re.size() && is_modifier_char(re[re.size() - 1 - mods_len])) ++mods_len;
  if (mods_len >= re.size() || re[re.size() - 1 - mods_len] != delim_end) {
    return absl::InvalidArgumentError("invalid end delimiter/mods");
  }
  std::string_view mods = re.substr(re.size() - mods_len);
  std::string_view pattern = re.substr(0, re.size() - 1 - mods_len);

  // Perl code blocks (?{ }) and (??{ }): refused, as SpamAssassin refuses them.
  if (pattern.find("(?{") != std::string_view::npos || pattern.find("(??{") != std::string_view::npos) {
    return absl::InvalidArgumentError("eval (?{}) found");
  }
  if (delim_end != '}' && delim_end != ')' && delim_end != ']' && has_unescaped_delimiter(pattern, delim_end)) {
    return absl::InvalidArgumentError(absl::StrCat("unquoted delimiter '", std::string(1, delim_end), "' found"));
  }
  return regex_literal{std::string(pattern), kept_flags(mods)};
}

absl::StatusOr<eval_call> parse_eval_call(std::string_view text) {
  size_t name_end = 0;
  while (name_end < text.size() && is_word_char(text[name_end])) ++name_end;
  if (name_end == 0 || name_end >= text.size() || text[name_end] != '(' || text.back() != ')' ||
      text.size() < name_end + 2) {
    return absl::InvalidArgumentError("eval function must look like name(args)");
  }
  eval_call call;
  call.function = std::string(text.substr(0, name_end));
  std::string_view args = text.substr(name_end + 1, text.size() - name_end - 2);

  // pack_eval_args: quoted strings (the shortest that is followed by a comma or the end)
  // or bare [\d.:A-Za-z-]+ words; anything else makes the whole call invalid.
  size_t p = 0;
  auto at_separator = [&](size_t q, size_t* next) {
    q = skip_spaces(args, q);
    if (q == args.size()) {
      *next = q;
      return true;
    }
    if (args[q] != ',') return false;
    *next = skip_spaces(args, q + 1);
    return true;
  };
  if (skip_spaces(args, 0) == args.size() && !args.empty()) return call;  // only blanks: no args
  while (p < args.size()) {
    size_t start = skip_spaces(args, p);
    if (start >= args.size()) break;
    char c = args[start];
    bool parsed = false;
    if (c == '\'' || c == '"') {
      for (size_t k = args.find(c, start + 1); k != std::string_view::npos; k = args.find(c, k + 1)) {
        size_t next;
        if (at_separator(k + 1, &next)) {
          call.args.emplace_back(args.substr(start + 1, k - start - 1));
          p = next;
          parsed = true;
          break;
        }
      }
    } else {
      size_t k = start;
      auto bare = [](char ch) {
        return (ch >= '0' && ch <= '9') || ch == '.' || ch == ':' || ch == '-' || (ch >= 'a' && ch <= 'z') ||
               (ch >= 'A' && ch <= 'Z');
      };
      while (k < args.size() && bare(args[k])) ++k;
      size_t next;
      if (k > start && at_separator(k, &next)) {
        call.args.emplace_back(args.substr(start, k - start));
        p = next;
        parsed = true;
      }
    }
    if (!parsed) return absl::InvalidArgumentError("syntax error in eval arguments");
  }
  return call;
}

absl::StatusOr<header_test> parse_header_test(std::string_view text, bool mime) {
  header_test t;
  size_t p = 0;
  if (mime) {
    while (p < text.size() && text[p] != ':' && !is_space(text[p])) ++p;
  } else {
    while (p < text.size() && (is_word_char(text[p]) || text[p] == '.' || text[p] == '-')) ++p;
  }
  if (p == 0) return absl::InvalidArgumentError("invalid header test");
  t.header_name = std::string(text.substr(0, p));

  // Which modifier spellings to try, in the order the SpamAssassin regex tries them.
  auto operator_at = [&](size_t q) -> size_t {
    q = skip_spaces(text, q);
    if (q + 1 < text.size() && (text[q] == '=' || text[q] == '!') && text[q + 1] == '~') return q;
    return std::string_view::npos;
  };
  auto letters_from = [&](size_t q) {
    size_t e = q;
    while (e < text.size() && text[e] >= 'a' && text[e] <= 'z') ++e;
    return e;
  };
  std::vector<size_t> modifier_ends;  // candidate ends of "Name[:mods]"
  if (p < text.size() && text[p] == ':') {
    modifier_ends.push_back(p + 1);  // "Name:"
    size_t e1 = letters_from(p + 1);
    if (e1 > p + 1) {
      if (mime) {
        if (text.substr(p + 1, e1 - p - 1) == "raw") modifier_ends.push_back(e1);
      } else {
        if (e1 < text.size() && text[e1] == ':') {
          size_t e2 = letters_from(e1 + 1);
          if (e2 > e1 + 1) modifier_ends.push_back(e2);
        }
        modifier_ends.push_back(e1);
      }
    }
  }
  modifier_ends.push_back(p);
  size_t op = std::string_view::npos, name_end = p;
  for (size_t e : modifier_ends) {
    op = operator_at(e);
    if (op != std::string_view::npos) {
      name_end = e;
      break;
    }
  }
  if (op == std::string_view::npos) return absl::InvalidArgumentError("invalid header test (no =~ or !~)");
  std::string_view mods = text.substr(p, name_end - p);
  if (!mods.empty() && mods.back() == ':') mods.remove_suffix(1);
  if (!mime) {
    // 4.0 modifiers; anything else is refused (Conf::Parser::add_test).
    static constexpr std::string_view kKnown[] = {"raw", "addr", "name", "host", "domain",
                                                  "ip",  "revip", "first", "last"};
    for (size_t q = 0; q < mods.size();) {
      size_t e = mods.find(':', q + 1);
      if (e == std::string_view::npos) e = mods.size();
      std::string_view m = mods.substr(q + 1, e - q - 1);
      bool ok = false;
      for (auto k : kKnown) ok = ok || m == k;
      if (!ok) return absl::InvalidArgumentError(absl::StrCat("invalid header modifier :", std::string(m)));
      q = e;
    }
  }
  t.header_modifier = std::string(mods);
  t.negate = text[op] == '!';
  std::string_view pat = text.substr(skip_spaces(text, op + 2));
  if (pat.empty()) return absl::InvalidArgumentError("invalid header test (no pattern)");

  // "\s+[if-unset:\s+TEXT]" at the end of the line.
  if (!pat.empty() && pat.back() == ']') {
    for (size_t at = pat.find("[if-unset:"); at != std::string_view::npos; at = pat.find("[if-unset:", at + 1)) {
      size_t text_start = at + 10;
      if (at == 0 || !is_space(pat[at - 1]) || text_start >= pat.size() || !is_space(pat[text_start])) continue;
      text_start = skip_spaces(pat, text_start);
      if (text_start >= pat.size() - 1) continue;
      size_t ws = at;
      while (ws > 0 && is_space(pat[ws - 1])) --ws;
      t.has_if_unset = true;
      t.if_unset = std::string(pat.substr(text_start, pat.size() - 1 - text_start));
      pat = pat.substr(0, ws);
      break;
    }
  }
  auto re = parse_regex_literal(pat);
  if (!re.ok()) return re.status();
  t.regex = *std::move(re);
  return t;
}

absl::StatusOr<std::string> parse_exists_test(std::string_view text) {
  if (text.substr(0, 7) != "exists:") return absl::InvalidArgumentError("not an exists: test");
  std::string_view hdr = text.substr(7);
  if (!hdr.empty() && hdr.back() == ':') hdr.remove_suffix(1);
  if (hdr.empty()) return absl::InvalidArgumentError("exists: without a header name");
  for (char c : hdr) {
    if (!is_word_char(c) && c != '.' && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat("invalid header name for exists: ", std::string(hdr)));
    }
  }
  return std::string(hdr);
}

}  // namespace ringmail::spam
