// RFC 2047 encoded-word decoding, lenient in the ways SpamAssassin's
// Mail::SpamAssassin::Message::Node::_decode_header and mail readers are:
//  - encoded words are found anywhere, not only between whitespace (RFC 2047 5 forbids
//    them inside quoted strings and words; senders put them there anyway);
//  - the encoded text may hold any character but '?' (SA's [^?]*), so a word with a stray
//    space still decodes;
//  - consecutive words in the same charset have their BYTES joined before conversion,
//    since senders split multibyte characters across words (SA bug 7249, against
//    RFC 2047 5 "each encoded-word MUST represent an integral number of characters").
// Whitespace between two encoded words is dropped (RFC 2047 6.2); a word that does not
// parse is kept literally.
#include "mail/rfc2047.h"

#include <algorithm>
#include <cstring>

#include "mail/encoding.h"
#include "mail/limits.h"

namespace ringmail::mail {
namespace {

// RFC 2978 charset names are at most 40 characters; 75 is the whole encoded-word limit.
constexpr size_t kMaxCharsetLabel = 75;

struct encoded_word {
  std::string charset;  // lower case, RFC 2231 "*language" removed
  char encoding = 0;    // 'b' or 'q'
  std::string_view text;
  size_t end = 0;  // offset just after "?="
};

bool is_charset_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '*' || c == '.' || c == ':' || c == '+';
}

// Parses "=?charset?e?text?=" at value[at] (which is "=?").
bool parse_encoded_word(std::string_view value, size_t at, encoded_word& word) {
  size_t p = at + 2;
  size_t charset_start = p;
  while (p < value.size() && p - charset_start <= kMaxCharsetLabel && is_charset_char(value[p])) {
    ++p;
  }
  if (p == charset_start || p - charset_start > kMaxCharsetLabel) return false;
  std::string_view charset = value.substr(charset_start, p - charset_start);
  if (p + 3 > value.size() || value[p] != '?' || value[p + 2] != '?') return false;
  char enc = value[p + 1];
  if (enc == 'B' || enc == 'b') {
    word.encoding = 'b';
  } else if (enc == 'Q' || enc == 'q') {
    word.encoding = 'q';
  } else {
    return false;
  }
  size_t text_start = p + 3;
  size_t q = value.find('?', text_start);
  if (q == std::string_view::npos || q + 1 >= value.size() || value[q + 1] != '=') return false;
  // RFC 2231 5: "charset*language".
  charset = charset.substr(0, charset.find('*'));
  word.charset.assign(charset);
  for (char& c : word.charset) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  word.text = value.substr(text_start, q - text_start);
  word.end = q + 2;
  return true;
}

bool all_blank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace

std::string decode_header_words(std::string_view value, charset_converter& charsets) {
  std::string out;
  size_t at = value.find("=?");
  if (at == std::string_view::npos) {
    charsets.to_utf8(value, "", out);
    return out;
  }
  // Decoded bytes of the current run of adjacent same-charset words, converted together.
  std::string run;
  std::string run_charset;
  bool in_run = false;
  auto flush_run = [&] {
    if (in_run) charsets.to_utf8(run, run_charset, out);
    run.clear();
    in_run = false;
  };

  size_t literal_start = 0;  // text not yet emitted starts here
  size_t words = 0;
  encoded_word word;
  while (at != std::string_view::npos && words < max_encoded_words) {
    if (!parse_encoded_word(value, at, word)) {
      at = value.find("=?", at + 1);
      continue;
    }
    std::string_view between = value.substr(literal_start, at - literal_start);
    if (!(in_run && all_blank(between))) {
      flush_run();
      charsets.to_utf8(between, "", out);
    } else if (word.charset != run_charset) {
      flush_run();  // adjacent words: the whitespace between them goes (RFC 2047 6.2)
    }
    if (word.encoding == 'b') {
      decode_base64(word.text, run);
    } else {
      decode_quoted_printable(word.text, run, nullptr, /*header_mode=*/true);
    }
    run_charset = word.charset;
    in_run = true;
    ++words;
    literal_start = word.end;
    at = value.find("=?", literal_start);
  }
  flush_run();
  charsets.to_utf8(value.substr(literal_start), "", out);
  return out;
}

std::string encode_header_words(std::string_view utf8, size_t first_word_max) {
  bool plain = true;
  for (unsigned char c : utf8) plain = plain && c >= 0x20 && c < 0x7f;
  // "=?" in plain text would be read back as the start of an encoded word.
  if (plain && utf8.find("=?") == std::string_view::npos) return std::string(utf8);
  std::string text;
  repair_utf8(utf8, text);
  // "=?utf-8?B?" + base64 + "?=" <= 75 octets: 63 base64 characters, so 45 octets of text
  // (whole base64 quanta of 3 octets).
  auto chunk_for = [](size_t word_max) { return (std::max<size_t>(word_max, 24) - 12) / 4 * 3; };
  const size_t kMaxChunk = chunk_for(75);
  std::string out;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t max_chunk = out.empty() ? std::min(kMaxChunk, chunk_for(first_word_max)) : kMaxChunk;
    size_t n = std::min(max_chunk, rest.size());
    // Back up to a character boundary: never cut before a continuation octet.
    while (n < rest.size() && n > 0 && (static_cast<unsigned char>(rest[n]) & 0xc0) == 0x80) --n;
    if (n == 0) n = std::min(max_chunk, rest.size());  // cannot happen with repaired UTF-8
    if (!out.empty()) out += ' ';
    out += "=?utf-8?B?";
    out += encode_base64(rest.substr(0, n));
    out += "?=";
    rest.remove_prefix(n);
  }
  return out;
}

}  // namespace ringmail::mail
