#include "spam/spf/macro.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ringmail::spam::spf {
namespace {

bool is_delimiter(char c) {
  return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

// RFC 3986 unreserved characters stay as they are when an upper-case letter asks for
// URL escaping (§7.3); everything else becomes %XX.
void append_url_escaped(std::string& out, std::string_view value) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
}

const std::string* letter_value(char lower, const macro_values& v, macro_context context,
                                std::string& scratch) {
  switch (lower) {
    case 's': return &v.sender;
    case 'l': return &v.local_part;
    case 'o': return &v.sender_domain;
    case 'd': return &v.domain;
    case 'i': return &v.ip;
    case 'p': return &v.validated_name;
    case 'v': return &v.ip_version;
    case 'h': return &v.helo;
    default: break;
  }
  if (context != macro_context::explanation) return nullptr;  // §7.1: c, r, t are exp-only
  switch (lower) {
    case 'c': return &v.client_ip;
    case 'r': return &v.receiver;
    case 't': scratch = std::to_string(v.timestamp); return &scratch;
    default: return nullptr;
  }
}

// Splits on any of `delimiters`, keeps the rightmost `keep` parts (after reversing when
// asked) and joins them with '.' (§7.3).
std::string transform(std::string_view value, std::string_view delimiters, size_t keep, bool reverse) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || delimiters.find(value[i]) != std::string_view::npos) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  if (reverse) std::reverse(parts.begin(), parts.end());
  size_t first = (keep != 0 && keep < parts.size()) ? parts.size() - keep : 0;
  std::string out;
  for (size_t i = first; i < parts.size(); ++i) {
    if (i > first) out += '.';
    out += parts[i];
  }
  return out;
}

// One pass for both checking and expanding: `values` null means check only.
bool run(std::string_view text, const macro_values* values, macro_context context, std::string* out) {
  static const macro_values empty;
  const macro_values& v = values ? *values : empty;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '%') {
      bool ok = (c >= 0x21 && c <= 0x7e) || (c == ' ' && context == macro_context::explanation);
      if (!ok) return false;
      if (out) *out += c;
      continue;
    }
    if (++i >= text.size()) return false;
    char n = text[i];
    if (n == '%') { if (out) *out += '%'; continue; }
    if (n == '_') { if (out) *out += ' '; continue; }
    if (n == '-') { if (out) *out += "%20"; continue; }
    if (n != '{') return false;
    if (++i >= text.size()) return false;
    char letter = text[i];
    char lower = absl::ascii_tolower(static_cast<unsigned char>(letter));
    std::string scratch;
    const std::string* value = letter_value(lower, v, context, scratch);
    if (value == nullptr) return false;
    ++i;
    // transformers: *DIGIT ["r"]; the count is capped (more parts than exist = all).
    size_t keep = 0;
    bool digits = false;
    while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      keep = std::min<size_t>(keep * 10 + (text[i] - '0'), 1000);
      digits = true;
      ++i;
    }
    if (digits && keep == 0) return false;  // §7.1: "the value MUST be nonzero"
    bool reverse = false;
    if (i < text.size() && (text[i] == 'r' || text[i] == 'R')) { reverse = true; ++i; }
    size_t delim_start = i;
    while (i < text.size() && is_delimiter(text[i])) ++i;
    if (i >= text.size() || text[i] != '}') return false;
    if (!out) continue;
    std::string_view delimiters = text.substr(delim_start, i - delim_start);
    std::string expanded = (digits || reverse || !delimiters.empty())
                               ? transform(*value, delimiters.empty() ? "." : delimiters, keep, reverse)
                               : *value;
    if (absl::ascii_isupper(static_cast<unsigned char>(letter))) {
      append_url_escaped(*out, expanded);
    } else {
      *out += expanded;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string> expand_macros(std::string_view text, const macro_values& values,
                                         macro_context context) {
  std::string out;
  if (!run(text, &values, context, &out)) return std::nullopt;
  return out;
}

bool valid_macro_string(std::string_view text, macro_context context) {
  return run(text, nullptr, context, nullptr);
}

bool uses_validated_name(std::string_view text) {
  for (size_t i = 0; i + 2 < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (text[i + 1] == '{' && (text[i + 2] == 'p' || text[i + 2] == 'P')) return true;
    ++i;  // "%%{p}" is a literal '%' then "{p}"
  }
  return false;
}

std::string fit_domain_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  while (name.size() > 253) {
    size_t dot = name.find('.');
    if (dot == std::string_view::npos) return std::string();
    name.remove_prefix(dot + 1);
  }
  return std::string(name);
}

}  // namespace ringmail::spam::spf
