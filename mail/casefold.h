// A simple Unicode case fold for case-insensitive matching of UTF-8 text (IMAP SEARCH,
// later Sieve :comparator "i;ascii-casemap" users that want more than ASCII).
//
// RFC 9051 6.4.4: "In all search keys that use strings, a message matches the key if the
// string is a substring of the associated text. The matching SHOULD ignore the case of
// characters" — and for IMAP4rev2 with UTF-8, "case-insensitive" means i;unicode-casemap
// (RFC 5051) in Dovecot. This is a SUBSET, enough for the scripts our users write:
//   - ASCII A-Z;
//   - Latin-1 Supplement (U+00C0-U+00DE except U+00D7; U+0178 Ÿ -> U+00FF ÿ);
//   - Latin Extended-A (U+0100-U+017F: the upper/lower pairs, U+0130 İ -> "i",
//     U+017F ſ -> "s");
//   - Greek (U+0386-U+03AB, the archaic pairs U+03D8-U+03EF, and final sigma ς -> σ so
//     "ΟΔΟΣ" finds "οδος");
//   - Cyrillic (U+0400-U+052F).
// Every mapping is one code point to one code point (simple case folding, Unicode
// CaseFolding.txt status C/S); no full folds (ß stays ß, not "ss", as Dovecot's
// titlecase map leaves it), no normalization (é precomposed and e + U+0301 differ: RFC
// 5051's decomposition comes with issue 11, which brings i;unicode-casemap whole).
// Invalid UTF-8 bytes are copied unchanged. Pure, no allocation beyond the output.
#pragma once

#include <string>
#include <string_view>

namespace ringmail::mail {

// The folded form of one code point (the code point itself when it has none here).
char32_t fold_code_point(char32_t c);

// Appends the folded form of `utf8` to `out`. Folding is idempotent: fold(fold(s)) ==
// fold(s). The output is at most as long as the input (no mapping grows in UTF-8).
void fold_case(std::string_view utf8, std::string& out);
inline std::string fold_case(std::string_view utf8) {
  std::string out;
  fold_case(utf8, out);
  return out;
}

}  // namespace ringmail::mail
