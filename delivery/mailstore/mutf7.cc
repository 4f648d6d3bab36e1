#include "delivery/mailstore/mutf7.h"

#include <cstdint>
#include <vector>

namespace ringmail::mailstore {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

bool is_direct(uint32_t c) { return c >= 0x20 && c <= 0x7e && c != '&'; }

// Decodes one code point at `i`; returns false on malformed UTF-8.
bool next_code_point(std::string_view s, size_t& i, uint32_t& cp) {
  auto b0 = static_cast<unsigned char>(s[i]);
  int len;
  uint32_t min;
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  } else if ((b0 & 0xe0) == 0xc0) {
    len = 2, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (i + len > s.size()) return false;
  for (int k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3f);
  }
  // Overlong forms, UTF-16 surrogates and values past Unicode are not UTF-8 (RFC 3629 3).
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  i += len;
  return true;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

void flush_shift(std::string& out, const std::vector<uint16_t>& units) {
  out += '&';
  uint32_t bits = 0;
  int nbits = 0;
  for (uint16_t u : units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out += kAlphabet[(bits >> nbits) & 0x3f];
    }
    bits &= (1u << nbits) - 1;
  }
  if (nbits > 0) out += kAlphabet[(bits << (6 - nbits)) & 0x3f];
  out += '-';
}

absl::Status bad(std::string_view what) {
  return absl::InvalidArgumentError(std::string("modified UTF-7: ") + std::string(what));
}

}  // namespace

bool is_valid_utf8(std::string_view utf8) {
  size_t i = 0;
  uint32_t cp;
  while (i < utf8.size()) {
    if (!next_code_point(utf8, i, cp)) return false;
  }
  return true;
}

absl::StatusOr<std::string> utf8_to_mutf7(std::string_view utf8) {
  std::string out;
  std::vector<uint16_t> units;
  size_t i = 0;
  while (i < utf8.size()) {
    uint32_t cp;
    if (!next_code_point(utf8, i, cp)) {
      return absl::InvalidArgumentError("invalid UTF-8 in mailbox name");
    }
    if (is_direct(cp) || cp == '&') {
      if (!units.empty()) {
        flush_shift(out, units);
        units.clear();
      }
      if (cp == '&') {
        out += "&-";
      } else {
        out += static_cast<char>(cp);
      }
      continue;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push_back(static_cast<uint16_t>(0xd800 | (cp >> 10)));
      units.push_back(static_cast<uint16_t>(0xdc00 | (cp & 0x3ff)));
    } else {
      units.push_back(static_cast<uint16_t>(cp));
    }
  }
  if (!units.empty()) flush_shift(out, units);
  return out;
}

absl::StatusOr<std::string> mutf7_to_utf8(std::string_view in) {
  std::string out;
  size_t i = 0;
  bool previous_was_shift = false;
  while (i < in.size()) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x20 || c > 0x7e) return bad("byte outside printable US-ASCII");
    if (c != '&') {
      out += static_cast<char>(c);
      ++i;
      previous_was_shift = false;
      continue;
    }
    size_t end = in.find('-', i + 1);
    if (end == std::string_view::npos) return bad("'&' without closing '-'");
    if (end == i + 1) {  // "&-" is '&'
      out += '&';
      i = end + 1;
      previous_was_shift = false;
      continue;
    }
    if (previous_was_shift) return bad("two encoded runs back to back (not canonical)");
    uint32_t bits = 0;
    int nbits = 0;
    uint32_t high = 0;  // pending high surrogate
    for (size_t k = i + 1; k < end; ++k) {
      int v = b64_value(in[k]);
      if (v < 0) return bad("character outside the modified BASE64 alphabet");
      bits = (bits << 6) | static_cast<uint32_t>(v);
      nbits += 6;
      if (nbits < 16) continue;
      nbits -= 16;
      auto unit = static_cast<uint16_t>(bits >> nbits);
      bits &= (1u << nbits) - 1;
      uint32_t cp;
      if (high != 0) {
        if (unit < 0xdc00 || unit > 0xdfff) return bad("high surrogate without low surrogate");
        cp = 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00);
        high = 0;
      } else if (unit >= 0xd800 && unit <= 0xdbff) {
        high = unit;
        continue;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        return bad("low surrogate without high surrogate");
      } else {
        cp = unit;
      }
      if (is_direct(cp) || cp == '&') return bad("printable US-ASCII encoded in BASE64");
      append_utf8(out, cp);
    }
    if (high != 0) return bad("truncated surrogate pair");
    // A canonical encoder pads the last unit with fewer than 6 zero bits.
    if (nbits >= 6 || bits != 0) return bad("leftover bits in an encoded run");
    i = end + 1;
    previous_was_shift = true;
  }
  return out;
}

}  // namespace ringmail::mailstore
