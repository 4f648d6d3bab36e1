#include "delivery/sieve/checker_encoded_character.h"

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "delivery/sieve/lexer.h"
#include "mail/charset.h"
#include "mail/header.h"

namespace ringmail::sieve {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_blank_at(std::string_view s, size_t i, size_t& width) {
  if (s[i] == ' ' || s[i] == '\t') {
    width = 1;
    return true;
  }
  if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
    width = 2;
    return true;
  }
  return false;
}

struct decoded {
  size_t end = 0;            // offset after the closing '}'
  std::string bytes;         // what the sequence stands for
  std::optional<uint32_t> bad_code_point;  // unicode value out of range
};

// Tries the sequence of values starting at `i` (just after "hex:"/"unicode:"); nullopt
// when it is malformed (then it stays as written).
std::optional<decoded> decode_sequence(std::string_view s, size_t i, bool unicode) {
  decoded out;
  size_t width = 0;
  bool any = false;
  bool need_blank = false;
  for (;;) {
    if (i >= s.size()) return std::nullopt;
    if (s[i] == '}') {
      if (!any) return std::nullopt;
      out.end = i + 1;
      return out;
    }
    if (is_blank_at(s, i, width)) {
      i += width;
      need_blank = false;
      continue;
    }
    if (need_blank || hex_value(s[i]) < 0) return std::nullopt;
    uint64_t value = 0;
    size_t digits = 0;
    while (i < s.size() && hex_value(s[i]) >= 0) {
      value = value * 16 + static_cast<uint64_t>(hex_value(s[i]));
      if (value > 0x7FFFFFFF) value = 0x7FFFFFFF;  // stays out of range, never wraps
      ++digits;
      ++i;
    }
    if (!unicode && digits > 2) return std::nullopt;  // hex-pair = 1*2HEXDIG
    if (unicode) {
      if ((value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF) {
        if (!out.bad_code_point) out.bad_code_point = static_cast<uint32_t>(value);
      } else {
        mail::encode_utf8(static_cast<char32_t>(value), out.bytes);
      }
    } else {
      out.bytes += static_cast<char>(value);
    }
    any = true;
    need_blank = true;
  }
}

}  // namespace

absl::StatusOr<std::string> decode_encoded_characters(std::string_view text,
                                                      source_location where) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      const std::string_view rest = text.substr(i + 2);
      std::optional<decoded> d;
      if (rest.size() >= 4 && mail::equals_ignore_case(rest.substr(0, 4), "hex:")) {
        d = decode_sequence(text, i + 6, false);
      } else if (rest.size() >= 8 && mail::equals_ignore_case(rest.substr(0, 8), "unicode:")) {
        d = decode_sequence(text, i + 10, true);
      }
      if (d) {
        if (d->bad_code_point) {
          return absl::InvalidArgumentError(located(
              where, absl::StrFormat("invalid unicode character U+%04X in an encoded "
                                     "character (not in 0-D7FF or E000-10FFFF)",
                                     *d->bad_code_point)));
        }
        out += d->bytes;
        i = d->end;
        continue;
      }
    }
    out += text[i];
    ++i;
  }
  return out;
}

}  // namespace ringmail::sieve
