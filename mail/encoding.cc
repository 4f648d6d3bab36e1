// Content-Transfer-Encoding decoders (RFC 2045 sec. 6.7, 6.8) and the RFC 2047 "Q" variant.
//
// Both decoders are lenient in the way MIME::Base64 / MIME::QuotedPrint (which
// SpamAssassin uses) and mail readers are: nothing is fatal, bad characters are skipped or
// kept literally and counted. Both run over megabytes per message, so the inner loops
// work on runs of ordinary bytes (table lookups, memchr) rather than per-byte branching.
#include "mail/encoding.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace ringmail::mail {
namespace {

constexpr uint8_t kInvalid = 0xFF;
constexpr uint8_t kSkip = 0xFE;  // whitespace: skipped silently (line breaks, indentation)
constexpr uint8_t kPad = 0xFD;

constexpr std::array<uint8_t, 256> make_base64_table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (uint8_t i = 0; i < 64; ++i) t[static_cast<uint8_t>(alphabet[i])] = i;
  for (char c : {' ', '\t', '\r', '\n', '\f', '\v'}) t[static_cast<uint8_t>(c)] = kSkip;
  t['='] = kPad;
  return t;
}
constexpr std::array<uint8_t, 256> kBase64 = make_base64_table();

constexpr std::array<int8_t, 256> make_hex_table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<int8_t>(i);
  for (int i = 0; i < 6; ++i) {
    t['A' + i] = static_cast<int8_t>(10 + i);
    t['a' + i] = static_cast<int8_t>(10 + i);  // RFC 2045 wants upper case; lower is common
  }
  return t;
}
constexpr std::array<int8_t, 256> kHex = make_hex_table();

inline uint8_t b64(char c) { return kBase64[static_cast<uint8_t>(c)]; }

}  // namespace

void decode_base64(std::string_view in, std::string& out, decode_stats* stats, size_t max_out) {
  const size_t start = out.size();
  const size_t bound = in.size() / 4 * 3 + 3;
  out.resize(start + (bound < max_out ? bound : max_out));
  char* dst = out.data() + start;
  char* const dst_end = out.data() + out.size();
  const char* p = in.data();
  const char* const end = p + in.size();
  size_t invalid = 0;
  uint32_t acc = 0;
  int have = 0;  // sextets in acc
  bool padded = false;
  bool full = false;  // stopped at max_out

  while (p < end) {
    if (dst >= dst_end) {
      full = true;
      break;
    }
    // Fast path: a whole quantum of alphabet characters (the body of every line).
    if (have == 0 && end - p >= 4 && dst_end - dst >= 3) {
      uint8_t a = b64(p[0]), b = b64(p[1]), c = b64(p[2]), d = b64(p[3]);
      if ((a | b | c | d) < 64) {
        uint32_t v = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6) | d;
        dst[0] = static_cast<char>(v >> 16);
        dst[1] = static_cast<char>(v >> 8);
        dst[2] = static_cast<char>(v);
        dst += 3;
        p += 4;
        continue;
      }
    }
    uint8_t v = b64(*p++);
    if (v < 64) {
      acc = (acc << 6) | v;
      if (++have == 4) {
        char bytes[3] = {static_cast<char>(acc >> 16), static_cast<char>(acc >> 8),
                         static_cast<char>(acc)};
        for (char byte : bytes) {
          if (dst < dst_end) *dst++ = byte;
        }
        acc = 0;
        have = 0;
      }
    } else if (v == kPad) {
      // MIME::Base64: "characters occurring after a '=' padding character are never
      // decoded". Many messages append signatures or junk after the padding.
      padded = true;
      break;
    } else if (v == kInvalid) {
      ++invalid;  // RFC 2045 6.8: "must be ignored by decoding software"
    }
  }
  // A partial quantum still yields its whole bytes: 2 sextets -> 1 byte, 3 -> 2 bytes.
  // This is how missing padding ("QQ" for "A") decodes, as in every mail reader.
  if (have >= 2 && dst < dst_end) {
    *dst++ = static_cast<char>(acc >> (have * 6 - 8));
    if (have == 3 && dst < dst_end) *dst++ = static_cast<char>(acc >> 2);
  }
  out.resize(static_cast<size_t>(dst - out.data()));
  if (stats != nullptr) {
    stats->invalid += invalid;
    // Input ended inside a quantum without padding (or a lone sextet before '=').
    if (!full && ((have != 0 && !padded) || have == 1)) stats->truncated = true;
  }
}

namespace {

// Decodes the =XX escapes (and '_' in header mode) of one span that holds no line break.
void decode_qp_span(std::string_view s, std::string& out, size_t& invalid, bool header_mode) {
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p < end) {
    const char* stop = static_cast<const char*>(memchr(p, '=', static_cast<size_t>(end - p)));
    const char* run_end = stop != nullptr ? stop : end;
    if (header_mode) {
      // RFC 2047 4.2 (2): "_" represents the space character.
      for (const char* q = p; q < run_end; ++q) out.push_back(*q == '_' ? ' ' : *q);
    } else {
      out.append(p, static_cast<size_t>(run_end - p));
    }
    if (stop == nullptr) return;
    p = stop + 1;
    if (end - p >= 2 && kHex[static_cast<uint8_t>(p[0])] >= 0 &&
        kHex[static_cast<uint8_t>(p[1])] >= 0) {
      out.push_back(static_cast<char>(kHex[static_cast<uint8_t>(p[0])] * 16 +
                                      kHex[static_cast<uint8_t>(p[1])]));
      p += 2;
    } else {
      // RFC 2045 6.7 note (2): a '=' not followed by two hex digits is best kept as is
      // (what MIME::QuotedPrint and most readers do).
      out.push_back('=');
      ++invalid;
    }
  }
}

inline bool is_lwsp(char c) { return c == ' ' || c == '\t'; }

}  // namespace

void decode_quoted_printable(std::string_view in, std::string& out, decode_stats* stats,
                             bool header_mode, size_t max_out) {
  const size_t start = out.size();
  size_t invalid = 0;
  bool truncated = false;
  if (header_mode) {
    // Header values are unfolded and carry no line structure.
    decode_qp_span(in, out, invalid, true);
    // "=X" at the very end: the escape was cut off.
    truncated = in.size() >= 2 && in[in.size() - 2] == '=' &&
                kHex[static_cast<uint8_t>(in.back())] >= 0;
  } else {
    size_t pos = 0;
    while (pos < in.size() && out.size() - start < max_out) {
      size_t nl = in.find('\n', pos);
      size_t line_end = nl == std::string_view::npos ? in.size() : nl;
      size_t break_len = nl == std::string_view::npos ? 0 : 1;
      if (break_len != 0 && line_end > pos && in[line_end - 1] == '\r') {
        --line_end;
        ++break_len;
      }
      // RFC 2045 6.7 rule (3): trailing whitespace was added in transport; delete it.
      size_t content_end = line_end;
      while (content_end > pos && is_lwsp(in[content_end - 1])) --content_end;
      // Rule (5): a '=' ending the line is a soft line break.
      bool soft = content_end > pos && in[content_end - 1] == '=';
      if (soft) --content_end;
      decode_qp_span(in.substr(pos, content_end - pos), out, invalid, false);
      if (nl == std::string_view::npos && content_end - pos >= 2 && in[content_end - 2] == '=' &&
          kHex[static_cast<uint8_t>(in[content_end - 1])] >= 0) {
        truncated = true;  // the last line ends inside an escape ("=A")
      }
      if (!soft) out.append(in.substr(line_end, break_len));  // the line break as written
      pos = line_end + break_len;
    }
  }
  if (out.size() - start > max_out) out.resize(start + max_out);
  if (stats != nullptr) {
    stats->invalid += invalid;
    stats->truncated = stats->truncated || truncated;
  }
}

std::string encode_base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.resize((in.size() + 2) / 3 * 4);
  char* dst = out.data();
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t n = in.size();
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    *dst++ = kAlphabet[v >> 18];
    *dst++ = kAlphabet[(v >> 12) & 63];
    *dst++ = kAlphabet[(v >> 6) & 63];
    *dst++ = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = uint32_t{p[i]} << 16;
    *dst++ = kAlphabet[v >> 18];
    *dst++ = kAlphabet[(v >> 12) & 63];
    *dst++ = '=';
    *dst++ = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    *dst++ = kAlphabet[v >> 18];
    *dst++ = kAlphabet[(v >> 12) & 63];
    *dst++ = kAlphabet[(v >> 6) & 63];
    *dst++ = '=';
  }
  return out;
}

}  // namespace ringmail::mail
