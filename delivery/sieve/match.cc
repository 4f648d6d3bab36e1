#include "delivery/sieve/match.h"

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "mail/casefold.h"
#include "mail/header.h"

namespace ringmail::sieve::matching {

namespace {

bool byte_units(comparator c) { return c != comparator::unicode_casemap; }

char32_t byte_unit(comparator c, unsigned char b) {
  if (c == comparator::ascii_casemap && b >= 'A' && b <= 'Z') return b + 32;
  return b;
}

// An octet that does not start a valid UTF-8 character is a unit of its own, kept apart
// from every code point.
constexpr char32_t invalid_byte_base = 0x110000;

// The unit at s[i] for i;unicode-casemap and its length in octets.
size_t unicode_unit(std::string_view s, size_t i, char32_t& unit) {
  char32_t cp = 0;
  size_t n = utf8_character_at(s, i, &cp);
  if (n == 1 && static_cast<unsigned char>(s[i]) >= 0x80) {
    unit = invalid_byte_base + static_cast<unsigned char>(s[i]);
  } else {
    unit = mail::fold_code_point(cp);
  }
  return n;
}

absl::Status out_of_steps() {
  return absl::ResourceExhaustedError(":matches ran out of its step budget");
}

}  // namespace

std::optional<match_type> parse_match_type(std::string_view tag) {
  if (!tag.empty() && tag[0] == ':') tag.remove_prefix(1);
  if (mail::equals_ignore_case(tag, "is")) return match_type::is;
  if (mail::equals_ignore_case(tag, "contains")) return match_type::contains;
  if (mail::equals_ignore_case(tag, "matches")) return match_type::matches;
  if (mail::equals_ignore_case(tag, "regex")) return match_type::regex;
  return std::nullopt;
}

absl::StatusOr<wildcard_pattern> wildcard_pattern::compile(std::string_view key, comparator c) {
  if (!supports_substring(c)) {
    return absl::InvalidArgumentError(":matches cannot use comparator " +
                                      std::string(comparator_name(c)));
  }
  wildcard_pattern p;
  p.comparator_ = c;
  p.segments_.emplace_back();
  auto literal = [&](char32_t unit) { p.segments_.back().items.push_back({false, unit}); };
  for (size_t i = 0; i < key.size();) {
    char ch = key[i];
    if (ch == '*') {
      ++p.wildcards_;
      p.segments_.emplace_back();
      ++i;
      continue;
    }
    if (ch == '?') {
      ++p.wildcards_;
      p.segments_.back().items.push_back({true, 0});
      p.segments_.back().has_any = true;
      ++i;
      continue;
    }
    if (ch == '\\' && i + 1 < key.size()) ++i;  // quotes the next character
    if (byte_units(c)) {
      literal(byte_unit(c, static_cast<unsigned char>(key[i])));
      ++i;
    } else {
      char32_t unit;
      i += unicode_unit(key, i, unit);
      literal(unit);
    }
  }
  if (byte_units(c)) {
    for (segment& s : p.segments_) {
      if (s.has_any) continue;
      for (const item& it : s.items) s.literal.push_back(static_cast<char>(it.unit));
    }
  }
  return p;
}

template <typename View>
absl::StatusOr<bool> wildcard_pattern::match_units(View units,
                                                   std::vector<std::pair<size_t, size_t>>& spans,
                                                   const match_limits& limits) const {
  size_t steps = 0;
  const size_t n = units.size();
  auto unit_at = [&](size_t i) -> char32_t {
    if constexpr (sizeof(typename View::value_type) == 1) {
      return static_cast<unsigned char>(units[i]);
    } else {
      return units[i];
    }
  };
  // Does `s` match at position q? (The caller checked that it fits.)
  auto matches_at = [&](const segment& s, size_t q) {
    for (size_t j = 0; j < s.items.size(); ++j) {
      ++steps;
      if (!s.items[j].any && s.items[j].unit != unit_at(q + j)) return false;
    }
    return true;
  };
  auto record_anys = [&](const segment& s, size_t q) {
    for (size_t j = 0; j < s.items.size(); ++j) {
      if (s.items[j].any) spans.emplace_back(q + j, q + j + 1);
    }
  };

  const segment& first = segments_.front();
  if (segments_.size() == 1) {  // no star: the whole value, unit for unit
    if (first.items.size() != n || !matches_at(first, 0)) return false;
    record_anys(first, 0);
    return true;
  }
  const segment& last = segments_.back();
  if (first.items.size() + last.items.size() > n) return false;
  if (!matches_at(first, 0)) return false;
  record_anys(first, 0);
  const size_t end_limit = n - last.items.size();  // where the last segment must start
  size_t p = first.items.size();
  for (size_t k = 1; k + 1 < segments_.size(); ++k) {
    const segment& s = segments_[k];
    const size_t len = s.items.size();
    if (p + len > end_limit) return false;
    size_t q = p;
    bool found = false;
    if (len == 0) {
      found = true;  // "**": an empty segment is at p (units.data() may be null)
    } else if constexpr (sizeof(typename View::value_type) == 1) {
      if (!s.has_any) {
        const void* hit = memmem(units.data() + p, end_limit - p, s.literal.data(), len);
        steps += 1;
        if (hit != nullptr) {
          q = static_cast<const char*>(hit) - units.data();
          found = true;
        }
      }
    }
    if (!found && (s.has_any || sizeof(typename View::value_type) != 1)) {
      for (; q + len <= end_limit; ++q) {
        if (matches_at(s, q)) {
          found = true;
          break;
        }
        if (steps > limits.max_steps) return out_of_steps();
      }
    }
    if (!found) return false;
    spans.emplace_back(p, q);  // the star before this segment
    record_anys(s, q);
    p = q + len;
  }
  if (p > end_limit || !matches_at(last, end_limit)) return false;
  spans.emplace_back(p, end_limit);  // the last star
  record_anys(last, end_limit);
  if (steps > limits.max_steps) return out_of_steps();
  return true;
}

absl::StatusOr<bool> wildcard_pattern::match(std::string_view value, match_captures* captures,
                                             const match_limits& limits) const {
  std::vector<std::pair<size_t, size_t>> spans;
  absl::StatusOr<bool> r;
  std::vector<size_t> offsets;  // unit index -> octet offset in `value` (unicode only)
  if (comparator_ == comparator::octet) {
    r = match_units(value, spans, limits);
  } else if (comparator_ == comparator::ascii_casemap) {
    std::string folded = canonical_form(comparator_, value);  // same length as `value`
    r = match_units(std::string_view(folded), spans, limits);
  } else {
    std::u32string units;
    units.reserve(value.size());
    offsets.reserve(value.size() + 1);
    for (size_t i = 0; i < value.size();) {
      char32_t u;
      offsets.push_back(i);
      i += unicode_unit(value, i, u);
      units.push_back(u);
    }
    offsets.push_back(value.size());
    r = match_units(std::u32string_view(units), spans, limits);
  }
  if (!r.ok() || !*r || captures == nullptr) return r;
  // match_units records the first segment's "?"s, then for each later segment the star
  // before it and its "?"s: pattern order, as RFC 5229 numbers them.
  captures->clear();
  captures->push_back(value);
  for (const auto& [b, e] : spans) {
    if (captures->size() == max_match_values) break;
    size_t ob = offsets.empty() ? b : offsets[b];
    size_t oe = offsets.empty() ? e : offsets[e];
    captures->push_back(value.substr(ob, oe - ob));
  }
  return true;
}

absl::StatusOr<bool> string_match(match_type type, comparator c, std::string_view value,
                                  std::string_view key, match_captures* captures,
                                  const match_limits& limits) {
  switch (type) {
    case match_type::is: return comparator_equal(c, value, key);
    case match_type::contains:
      if (!supports_substring(c)) {
        return absl::InvalidArgumentError(":contains cannot use comparator i;ascii-numeric");
      }
      return comparator_contains(c, value, key);
    case match_type::matches: {
      absl::StatusOr<wildcard_pattern> p = wildcard_pattern::compile(key, c);
      if (!p.ok()) return p.status();
      return p->match(value, captures, limits);
    }
    case match_type::regex: break;
  }
  return absl::InvalidArgumentError(":regex needs a compiled_regex (match_regex.h)");
}

std::optional<relation> parse_relation(std::string_view text) {
  static constexpr std::pair<std::string_view, relation> names[] = {
      {"gt", relation::gt}, {"ge", relation::ge}, {"lt", relation::lt},
      {"le", relation::le}, {"eq", relation::eq}, {"ne", relation::ne}};
  for (const auto& [name, r] : names) {
    if (mail::equals_ignore_case(text, name)) return r;
  }
  return std::nullopt;
}

std::string_view relation_name(relation r) {
  switch (r) {
    case relation::gt: return "gt";
    case relation::ge: return "ge";
    case relation::lt: return "lt";
    case relation::le: return "le";
    case relation::eq: return "eq";
    case relation::ne: return "ne";
  }
  return "";
}

bool relational_value_match(relation r, comparator c, std::string_view value,
                            std::string_view key) {
  int order = comparator_order(c, value, key);
  switch (r) {
    case relation::gt: return order > 0;
    case relation::ge: return order >= 0;
    case relation::lt: return order < 0;
    case relation::le: return order <= 0;
    case relation::eq: return order == 0;
    case relation::ne: return order != 0;
  }
  return false;
}

bool relational_count_match(relation r, comparator c, size_t count, std::string_view key) {
  return relational_value_match(r, c, std::to_string(count), key);
}

}  // namespace ringmail::sieve::matching
