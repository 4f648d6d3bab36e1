#include "mail/casefold.h"

#include <cstddef>
#include <cstdint>

#include "mail/charset.h"

namespace ringmail::mail {

namespace {

// In the blocks where upper and lower case alternate (upper at one parity, lower at the
// next code point), the folded form of an upper-case letter is the next code point.
constexpr bool pair_upper(char32_t c, char32_t first, char32_t last, bool upper_even) {
  return c >= first && c <= last && ((c % 2 == 0) == upper_even);
}

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 when it is not a valid,
// shortest-form sequence of a scalar value.
size_t decode_utf8(std::string_view s, size_t i, char32_t& cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  size_t n;
  char32_t min;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}


}  // namespace

char32_t fold_code_point(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (c < 0x100) {
    // Latin-1 Supplement: À..Þ except the multiplication sign.
    return (c >= 0xC0 && c <= 0xDE && c != 0xD7) ? c + 32 : c;
  }
  if (c <= 0x17F) {
    // Latin Extended-A (CaseFolding.txt): pairs with the upper case at even code points
    // from Ā to ķ and from Ŋ to ŷ, at odd ones from Ĺ to ň and from Ź to ž.
    if (c == 0x130) return 'i';    // İ: simple fold is none; Dovecot and most mailers
                                   // lower it to "i" (its full fold is i + U+0307)
    if (c == 0x178) return 0xFF;   // Ÿ -> ÿ
    if (c == 0x17F) return 's';    // ſ (long s) folds to s
    if (pair_upper(c, 0x100, 0x137, true) && c != 0x130) return c + 1;
    if (c == 0x131 || c == 0x138 || c == 0x149) return c;  // ı, ĸ, ŉ: no simple fold
    if (pair_upper(c, 0x139, 0x148, false)) return c + 1;
    if (pair_upper(c, 0x14A, 0x177, true)) return c + 1;
    if (pair_upper(c, 0x179, 0x17E, false)) return c + 1;
    return c;
  }
  if (c >= 0x370 && c <= 0x3FF) {  // Greek and Coptic
    if (c == 0x386) return 0x3AC;                        // Ά
    if (c >= 0x388 && c <= 0x38A) return c + 37;         // Έ Ή Ί
    if (c == 0x38C) return 0x3CC;                        // Ό
    if (c == 0x38E || c == 0x38F) return c + 63;         // Ύ Ώ
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;  // Α..Ϋ
    if (c == 0x3C2) return 0x3C3;                        // ς final sigma -> σ
    if (pair_upper(c, 0x3D8, 0x3EF, true)) return c + 1; // archaic letters, Coptic
    return c;
  }
  if (c >= 0x400 && c <= 0x52F) {  // Cyrillic and Cyrillic Supplement
    if (c <= 0x40F) return c + 80;                       // Ѐ..Џ -> ѐ..џ
    if (c <= 0x42F) return c + 32;                       // А..Я -> а..я
    if (c < 0x460) return c;                             // already lower case
    if (pair_upper(c, 0x460, 0x481, true)) return c + 1;
    if (pair_upper(c, 0x48A, 0x4BF, true)) return c + 1;
    if (c == 0x4C0) return 0x4CF;                        // Ӏ palochka
    if (pair_upper(c, 0x4C1, 0x4CE, false)) return c + 1;
    if (pair_upper(c, 0x4D0, 0x52F, true)) return c + 1;
    return c;
  }
  return c;
}

void fold_case(std::string_view utf8, std::string& out) {
  out.reserve(out.size() + utf8.size());
  size_t i = 0;
  while (i < utf8.size()) {
    unsigned char c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {  // the common case, byte at a time
      out.push_back(static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : c));
      ++i;
      continue;
    }
    char32_t cp = 0;
    size_t n = decode_utf8(utf8, i, cp);
    if (n == 0) {  // not UTF-8: the byte as it is
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    char32_t folded = fold_code_point(cp);
    if (folded == cp) {
      out.append(utf8.substr(i, n));
    } else {
      encode_utf8(folded, out);
    }
    i += n;
  }
}

}  // namespace ringmail::mail
