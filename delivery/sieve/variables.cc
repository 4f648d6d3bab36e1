#include "delivery/sieve/variables.h"

#include <algorithm>
#include <array>

#include "delivery/sieve/comparator.h"
#include "mail/header.h"

namespace ringmail::sieve::matching {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '.'; }

bool is_identifier(std::string_view s) {
  if (s.empty() || !(is_alpha(s[0]) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

std::string lower_name(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

// `value` cut to at most `max` octets, not inside a UTF-8 character.
std::string_view cut(std::string_view value, size_t max) {
  if (value.size() <= max) return value;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(value[n]) & 0xC0) == 0x80) --n;
  return value.substr(0, n);
}

// The match variable index of a num-variable; values past ${9} are all "too big".
size_t match_index(std::string_view digits) {
  size_t v = 0;
  for (char c : digits) {
    v = v * 10 + (c - '0');
    if (v >= max_match_values) return max_match_values;
  }
  return v;
}

}  // namespace

variable_name_kind classify_variable_name(std::string_view name) {
  if (name.empty()) return variable_name_kind::invalid;
  if (std::all_of(name.begin(), name.end(), is_digit)) return variable_name_kind::match;
  size_t dot = name.find('.');
  if (dot == std::string_view::npos) {
    return is_identifier(name) ? variable_name_kind::identifier : variable_name_kind::invalid;
  }
  size_t start = 0;
  while (true) {
    size_t end = name.find('.', start);
    std::string_view part = name.substr(start, end == std::string_view::npos ? end : end - start);
    if (!is_identifier(part)) return variable_name_kind::invalid;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return variable_name_kind::namespaced;
}

std::string_view variable_namespace(std::string_view name) {
  if (classify_variable_name(name) != variable_name_kind::namespaced) return {};
  return name.substr(0, name.find('.'));
}

absl::Status variable_store::set(std::string_view name, std::string_view value) {
  variable_name_kind kind = classify_variable_name(name);
  if (kind != variable_name_kind::identifier && kind != variable_name_kind::namespaced) {
    return absl::InvalidArgumentError("set: invalid variable name");
  }
  std::string key = lower_name(name);
  auto it = values_.find(key);
  if (it == values_.end()) {
    if (values_.size() >= limits_.max_variables) {
      return absl::ResourceExhaustedError("set: too many variables");
    }
    it = values_.emplace(std::move(key), std::string()).first;
  }
  it->second.assign(cut(value, limits_.max_value_bytes));
  return absl::OkStatus();
}

std::optional<std::string_view> variable_store::get(std::string_view name) const {
  auto it = values_.find(lower_name(name));
  if (it == values_.end()) return std::nullopt;
  return std::string_view(it->second);
}

void variable_store::set_match_values(const match_captures& captures) {
  match_values_.clear();
  for (size_t k = 0; k < captures.size() && k < max_match_values; ++k) {
    match_values_.emplace_back(cut(captures[k], limits_.max_value_bytes));
  }
}

std::string_view variable_store::match_value(size_t index) const {
  return index < match_values_.size() ? std::string_view(match_values_[index]) : std::string_view();
}

bool has_variable_references(std::string_view text) {
  for (size_t i = text.find("${"); i != std::string_view::npos; i = text.find("${", i + 1)) {
    size_t j = i + 2;
    while (j < text.size() && is_name_char(text[j])) ++j;
    if (j < text.size() && text[j] == '}' &&
        classify_variable_name(text.substr(i + 2, j - i - 2)) != variable_name_kind::invalid) {
      return true;
    }
  }
  return false;
}

expansion expand_variables(std::string_view text, const variable_store& store) {
  expansion out;
  const size_t max = store.limits().max_expansion_bytes;
  auto append = [&](std::string_view s) {
    if (out.text.size() + s.size() > max) {
      out.text.append(cut(s, max - out.text.size()));
      out.truncated = true;
      return false;
    }
    out.text.append(s);
    return true;
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t dollar = text.find("${", i);
    if (dollar == std::string_view::npos) break;
    if (!append(text.substr(i, dollar - i))) return out;
    size_t j = dollar + 2;
    while (j < text.size() && is_name_char(text[j])) ++j;
    std::string_view name = text.substr(dollar + 2, j - dollar - 2);
    variable_name_kind kind =
        j < text.size() && text[j] == '}' ? classify_variable_name(name) : variable_name_kind::invalid;
    if (kind == variable_name_kind::invalid) {
      if (!append("$")) return out;
      i = dollar + 1;
      continue;
    }
    std::string_view value = kind == variable_name_kind::match
                                 ? store.match_value(match_index(name))
                                 : store.get(name).value_or(std::string_view());
    if (!append(value)) return out;
    i = j + 1;
  }
  if (i < text.size()) append(text.substr(i));
  return out;
}

std::optional<set_modifier> parse_set_modifier(std::string_view tag) {
  if (!tag.empty() && tag[0] == ':') tag.remove_prefix(1);
  static constexpr std::pair<std::string_view, set_modifier> names[] = {
      {"lower", set_modifier::lower},
      {"upper", set_modifier::upper},
      {"lowerfirst", set_modifier::lowerfirst},
      {"upperfirst", set_modifier::upperfirst},
      {"quotewildcard", set_modifier::quotewildcard},
      {"quoteregex", set_modifier::quoteregex},
      {"encodeurl", set_modifier::encodeurl},
      {"length", set_modifier::length},
  };
  for (const auto& [name, m] : names) {
    if (mail::equals_ignore_case(tag, name)) return m;
  }
  return std::nullopt;
}

int set_modifier_precedence(set_modifier m) {
  switch (m) {
    case set_modifier::lower:
    case set_modifier::upper: return 40;
    case set_modifier::lowerfirst:
    case set_modifier::upperfirst: return 30;
    case set_modifier::quotewildcard:
    case set_modifier::quoteregex: return 20;
    case set_modifier::encodeurl: return 15;
    case set_modifier::length: return 10;
  }
  return 0;
}

absl::Status check_set_modifiers(std::span<const set_modifier> modifiers) {
  for (size_t a = 0; a < modifiers.size(); ++a) {
    for (size_t b = a + 1; b < modifiers.size(); ++b) {
      if (set_modifier_precedence(modifiers[a]) == set_modifier_precedence(modifiers[b])) {
        return absl::InvalidArgumentError(
            "set: two modifiers of the same precedence (RFC 5229 4)");
      }
    }
  }
  return absl::OkStatus();
}

std::string apply_set_modifiers(std::span<const set_modifier> modifiers, std::string_view value) {
  std::vector<set_modifier> order(modifiers.begin(), modifiers.end());
  std::stable_sort(order.begin(), order.end(), [](set_modifier a, set_modifier b) {
    return set_modifier_precedence(a) > set_modifier_precedence(b);
  });
  std::string s(value);
  for (set_modifier m : order) {
    switch (m) {
      case set_modifier::lower:
        for (char& c : s) {
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        }
        break;
      case set_modifier::upper:
        for (char& c : s) {
          if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
        }
        break;
      case set_modifier::lowerfirst:
        if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] + 32);
        break;
      case set_modifier::upperfirst:
        if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 32);
        break;
      case set_modifier::quotewildcard:
      case set_modifier::quoteregex: {
        std::string_view special =
            m == set_modifier::quotewildcard ? "*?\\" : "\\^$.[]|()?*+{}";
        std::string q;
        q.reserve(s.size());
        for (char c : s) {
          if (special.find(c) != std::string_view::npos) q.push_back('\\');
          q.push_back(c);
        }
        s = std::move(q);
        break;
      }
      case set_modifier::encodeurl: {
        // RFC 5435 7 (RFC 3986 2.3): every octet but ALPHA DIGIT "-" "." "_" "~"
        // is percent-encoded.
        static constexpr char hex[] = "0123456789ABCDEF";
        std::string q;
        q.reserve(s.size());
        for (char c : s) {
          if (is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            q.push_back(c);
          } else {
            unsigned char b = static_cast<unsigned char>(c);
            q.push_back('%');
            q.push_back(hex[b >> 4]);
            q.push_back(hex[b & 15]);
          }
        }
        s = std::move(q);
        break;
      }
      case set_modifier::length: s = std::to_string(utf8_character_count(s)); break;
    }
  }
  return s;
}

}  // namespace ringmail::sieve::matching
