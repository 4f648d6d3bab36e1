#include "delivery/sieve/comparator.h"

#include <algorithm>
#include <cstring>

#include "mail/casefold.h"
#include "mail/header.h"

namespace ringmail::sieve::matching {

namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
unsigned char ascii_upper(unsigned char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<unsigned char>(c - 32) : c;
}

// i;ascii-numeric: the digits that make the value, without leading zeros; nullopt for
// positive infinity.
std::optional<std::string_view> numeric_value(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  if (n == 0) return std::nullopt;
  size_t z = 0;
  while (z + 1 < n && s[z] == '0') ++z;
  return s.substr(z, n - z);
}

int numeric_order(std::string_view a, std::string_view b) {
  auto va = numeric_value(a);
  auto vb = numeric_value(b);
  if (!va || !vb) return (va ? -1 : 0) + (vb ? 1 : 0);  // infinity is the greatest
  if (va->size() != vb->size()) return va->size() < vb->size() ? -1 : 1;
  int r = va->compare(*vb);
  return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

int octet_order(std::string_view a, std::string_view b) {
  int r = a.compare(b);  // char_traits<char>::compare is unsigned (memcmp)
  return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

}  // namespace

std::optional<comparator> parse_comparator(std::string_view name) {
  using mail::equals_ignore_case;
  if (equals_ignore_case(name, "i;octet")) return comparator::octet;
  if (equals_ignore_case(name, "i;ascii-casemap")) return comparator::ascii_casemap;
  if (equals_ignore_case(name, "i;ascii-numeric")) return comparator::ascii_numeric;
  if (equals_ignore_case(name, "i;unicode-casemap")) return comparator::unicode_casemap;
  return std::nullopt;
}

std::string_view comparator_name(comparator c) {
  switch (c) {
    case comparator::octet: return "i;octet";
    case comparator::ascii_casemap: return "i;ascii-casemap";
    case comparator::ascii_numeric: return "i;ascii-numeric";
    case comparator::unicode_casemap: return "i;unicode-casemap";
  }
  return "";
}

bool supports_substring(comparator c) { return c != comparator::ascii_numeric; }

std::string canonical_form(comparator c, std::string_view s) {
  switch (c) {
    case comparator::octet: return std::string(s);
    case comparator::ascii_casemap: {
      std::string out(s);
      for (char& ch : out) ch = ascii_lower(ch);
      return out;
    }
    case comparator::unicode_casemap: return mail::fold_case(s);
    case comparator::ascii_numeric: return std::string(numeric_value(s).value_or(""));
  }
  return std::string(s);
}

bool comparator_equal(comparator c, std::string_view a, std::string_view b) {
  switch (c) {
    case comparator::octet: return a == b;
    case comparator::ascii_casemap: return mail::equals_ignore_case(a, b);
    case comparator::ascii_numeric: return numeric_order(a, b) == 0;
    case comparator::unicode_casemap: return mail::fold_case(a) == mail::fold_case(b);
  }
  return false;
}

int comparator_order(comparator c, std::string_view a, std::string_view b) {
  switch (c) {
    case comparator::octet: return octet_order(a, b);
    case comparator::ascii_casemap: {
      size_t n = std::min(a.size(), b.size());
      for (size_t i = 0; i < n; ++i) {
        unsigned char x = ascii_upper(static_cast<unsigned char>(a[i]));
        unsigned char y = ascii_upper(static_cast<unsigned char>(b[i]));
        if (x != y) return x < y ? -1 : 1;
      }
      return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
    }
    case comparator::ascii_numeric: return numeric_order(a, b);
    case comparator::unicode_casemap: return octet_order(mail::fold_case(a), mail::fold_case(b));
  }
  return 0;
}

bool comparator_contains(comparator c, std::string_view haystack, std::string_view needle) {
  if (c == comparator::ascii_numeric) return false;
  if (needle.empty()) return true;
  if (c == comparator::octet) {
    // glibc's memmem is the two-way algorithm: linear, whatever the needle.
    return memmem(haystack.data(), haystack.size(), needle.data(), needle.size()) != nullptr;
  }
  std::string h = canonical_form(c, haystack);
  std::string n = canonical_form(c, needle);
  return memmem(h.data(), h.size(), n.data(), n.size()) != nullptr;
}

size_t utf8_character_at(std::string_view s, size_t i, char32_t* cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  size_t n;
  char32_t v;
  char32_t min;
  if (c < 0x80) {
    if (cp) *cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2, v = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, v = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, v = c & 0x07, min = 0x10000;
  } else {
    if (cp) *cp = c;
    return 1;
  }
  bool ok = i + n <= s.size();
  for (size_t k = 1; ok && k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) ok = false;
    v = (v << 6) | (b(k) & 0x3F);
  }
  if (!ok || v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
    if (cp) *cp = c;
    return 1;
  }
  if (cp) *cp = v;
  return n;
}

size_t utf8_character_count(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); i += utf8_character_at(s, i)) ++count;
  return count;
}

}  // namespace ringmail::sieve::matching
