#include "delivery/sieve/encoded_character.h"

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "mail/charset.h"
#include "mail/header.h"

namespace ringmail::sieve::matching {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits a *blank item *(1*blank item) *blank body into its hex items; nullopt when the
// body has none or holds anything but hex digits and blanks. `max_digits` bounds an item
// (2 for hex-pair; 0 for none).
std::optional<std::vector<std::string_view>> hex_items(std::string_view body,
                                                       size_t max_digits) {
  std::vector<std::string_view> items;
  size_t i = 0;
  while (i < body.size()) {
    if (is_blank(body[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < body.size() && hex_value(body[i]) >= 0) ++i;
    if (i == start) return std::nullopt;  // neither blank nor hex digit
    if (i < body.size() && !is_blank(body[i])) return std::nullopt;
    if (max_digits != 0 && i - start > max_digits) return std::nullopt;
    items.push_back(body.substr(start, i - start));
  }
  if (items.empty()) return std::nullopt;
  return items;
}

}  // namespace

absl::StatusOr<std::string> decode_encoded_characters(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  // The first '}' at or after the current opening: found once and reused while openings
  // come before it, so a value of many unterminated "${hex:" stays linear.
  size_t next_close = 0;
  bool close_known = false;
  while (i < text.size()) {
    size_t dollar = text.find("${", i);
    if (dollar == std::string_view::npos) break;
    out.append(text.substr(i, dollar - i));
    i = dollar;
    std::string_view rest = text.substr(dollar + 2);
    bool hex = rest.size() >= 4 && mail::equals_ignore_case(rest.substr(0, 4), "hex:");
    bool unicode = !hex && rest.size() >= 8 && mail::equals_ignore_case(rest.substr(0, 8), "unicode:");
    if ((hex || unicode) &&
        (!close_known || (next_close != std::string_view::npos && next_close < dollar))) {
      next_close = text.find('}', dollar);
      close_known = true;
    }
    size_t close = (hex || unicode) && next_close != std::string_view::npos
                       ? next_close - (dollar + 2)
                       : std::string_view::npos;
    if (close == std::string_view::npos) {
      out.push_back('$');
      ++i;
      continue;
    }
    size_t prefix = hex ? 4 : 8;
    std::string_view body = rest.substr(prefix, close - prefix);
    auto items = hex_items(body, hex ? 2 : 0);
    if (!items) {
      out.push_back('$');
      ++i;
      continue;
    }
    for (std::string_view item : *items) {
      uint64_t value = 0;
      for (char c : item) {
        value = value * 16 + hex_value(c);
        if (value > 0x10FFFF) break;  // out of range whatever follows; no overflow
      }
      if (hex) {
        out.push_back(static_cast<char>(value));
      } else if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
        return absl::InvalidArgumentError(
            "encoded-character: ${unicode:" + std::string(item.substr(0, 16)) +
            "} is not a Unicode scalar value");
      } else {
        mail::encode_utf8(static_cast<char32_t>(value), out);
      }
    }
    i = dollar + 2 + close + 1;
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

}  // namespace ringmail::sieve::matching
