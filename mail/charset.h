// Charset conversion to UTF-8 through iconv, as Dovecot's charset-iconv.c does.
// A converter caches one iconv_t per charset name: NOT thread-safe, one per shard (or per
// scanning thread). Unknown charsets and invalid bytes never fail: bytes that cannot be
// converted become U+FFFD, and an unknown charset is treated as Windows-1252 if the bytes
// are not valid UTF-8 (what mail clients do for "unknown-8bit").
#pragma once

#include <iconv.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace ringmail::mail {

class charset_converter {
 public:
  charset_converter();
  ~charset_converter();
  charset_converter(const charset_converter&) = delete;
  charset_converter& operator=(const charset_converter&) = delete;

  // Appends `bytes` in `charset` (any case, aliases as iconv knows them; empty means
  // us-ascii, i.e. pass through with invalid UTF-8 repaired) to `out` as UTF-8.
  void to_utf8(std::string_view bytes, std::string_view charset, std::string& out);
  std::string to_utf8(std::string_view bytes, std::string_view charset) {
    std::string out;
    to_utf8(bytes, charset, out);
    return out;
  }

 private:
  iconv_t handle_for(std::string_view charset);  // (iconv_t)-1 when unknown
  absl::flat_hash_map<std::string, iconv_t> handles_;  // lower-cased name -> handle
};

// True if `s` is well-formed UTF-8.
bool is_valid_utf8(std::string_view s);
// Appends `s` to out with every invalid UTF-8 sequence replaced by U+FFFD.
void repair_utf8(std::string_view s, std::string& out);
// Appends code point `cp` (a Unicode scalar value: at most U+10FFFF, not a surrogate) as
// UTF-8. The caller has checked it.
void encode_utf8(char32_t cp, std::string& out);

}  // namespace ringmail::mail
