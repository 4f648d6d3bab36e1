// libFuzzer target for the message-model decoding primitives (mail/): base64, quoted-
// printable, charset conversion and UTF-8 repair, RFC 2047 header words, Content-Type
// parameters, HTML rendering and URI extraction. Build: see fuzz/README.md and
// scripts/fuzz.sh.
//
// Input: byte 0 picks a charset from kCharsets (and byte 0 bit 7 a small max_out), the
// rest is the data, fed to every decoder.
// Invariants (any break aborts): decoders stay within their size bounds and limits;
// base64 decodes its own encoding back; everything that promises UTF-8 (charset
// conversion, repair, header words, parameter values) gives valid UTF-8; repair leaves
// valid UTF-8 unchanged; HTML and URI extraction respect their caps.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mail/charset.h"
#include "mail/content_type.h"
#include "mail/encoding.h"
#include "mail/html_text.h"
#include "mail/limits.h"
#include "mail/rfc2047.h"
#include "mail/uri_extract.h"

namespace {

using namespace ringmail::mail;

void check(bool ok) {
  if (!ok) abort();
}

constexpr std::string_view kCharsets[] = {
    "",           "utf-8",      "us-ascii",      "iso-8859-1",  "windows-1252",
    "koi8-r",     "shift_jis",  "iso-2022-jp",   "gb2312",      "ks_c_5601-1987",
    "big5",       "utf-16",     "utf-7",         "x-unknown",   "no-such-charset",
    "ISO-8859-8-I"};

void fuzz_encodings(std::string_view data, size_t max_out) {
  decode_stats stats;
  std::string b64;
  decode_base64(data, b64, &stats);
  check(b64.size() <= data.size() / 4 * 3 + 3);
  check(stats.invalid <= data.size());
  std::string limited;
  decode_base64(data, limited, nullptr, max_out);
  check(limited.size() <= max_out && limited == b64.substr(0, limited.size()));

  std::string round;
  decode_base64(encode_base64(data), round, &stats);
  check(round == data);

  for (bool header : {false, true}) {
    std::string qp;
    decode_quoted_printable(data, qp, &stats, header);
    check(qp.size() <= data.size());
    std::string qp_limited;
    decode_quoted_printable(data, qp_limited, nullptr, header, max_out);
    check(qp_limited.size() <= max_out && qp_limited == qp.substr(0, qp_limited.size()));
  }
}

void fuzz_text(std::string_view data, std::string_view charset, charset_converter& charsets) {
  std::string converted = charsets.to_utf8(data, charset);
  check(is_valid_utf8(converted));

  std::string repaired;
  repair_utf8(data, repaired);
  check(is_valid_utf8(repaired));
  if (is_valid_utf8(data)) check(repaired == data);

  std::string header = decode_header_words(data, charsets);
  check(is_valid_utf8(header));

  content_type ct = parse_content_type(data, charsets);
  check(!ct.type.empty() && !ct.subtype.empty());
  for (char c : ct.type + ct.subtype) check(!(c >= 'A' && c <= 'Z'));
  check(ct.raw.params.size() <= max_parameters);
  for (const auto& [name, value] : ct.raw.params) {
    if (name != "boundary") check(is_valid_utf8(value));
  }
}

// Every extracted URI is "scheme:" plus at least one character.
bool has_scheme_and_more(std::string_view uri) {
  std::string lower;
  for (char c : uri.substr(0, 8)) lower.push_back(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (std::string_view prefix : {"http://", "https://", "ftp://", "mailto:"}) {
    if (lower.substr(0, prefix.size()) == prefix && uri.size() > prefix.size()) return true;
  }
  return false;
}

void fuzz_html_and_uris(std::string_view data) {
  constexpr size_t kMaxUris = 16;
  html_render r = render_html(data, kMaxUris);
  // Every rendered byte comes from at least one input byte (entities only shrink, except
  // "&#1;"-style references: at most 3 output bytes for 4 input bytes, and a line break
  // for a tag's 3).
  check(r.text.size() <= data.size());
  check(r.uris.size() <= kMaxUris);
  check(r.images <= r.tags && r.tags <= data.size());
  for (const std::string& u : r.uris) check(!u.empty());

  std::vector<std::string> uris{"preexisting"};
  extract_uris(data, uris, kMaxUris);
  check(uris.size() <= kMaxUris && uris[0] == "preexisting");
  for (size_t i = 1; i < uris.size(); ++i) check(has_scheme_and_more(uris[i]));
  extract_uris(r.text, uris, kMaxUris);
  check(uris.size() <= kMaxUris);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  static charset_converter charsets;  // reused, as a shard does: the cache is exercised
  std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  std::string_view charset = kCharsets[bytes[0] % std::size(kCharsets)];
  size_t max_out = (bytes[0] & 0x80) != 0 ? bytes[0] & 0x0F : data.size();
  fuzz_encodings(data, max_out);
  fuzz_text(data, charset, charsets);
  fuzz_html_and_uris(data);
  return 0;
}
