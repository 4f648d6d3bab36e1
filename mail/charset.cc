// Charset conversion to UTF-8 over iconv (as Dovecot's charset-iconv.c), with the repairs
// mail needs: bogus charset labels mapped to what the sender meant, invalid bytes turned
// into U+FFFD one byte at a time, and an unknown charset read as Windows-1252 unless the
// bytes already are UTF-8 (what mail clients do with "unknown-8bit").
#include "mail/charset.h"

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"

namespace ringmail::mail {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
// Charset labels are short; anything longer is junk and would only bloat the cache.
constexpr size_t kMaxCharsetName = 64;
// A shard lives for days and hostile mail can name any number of charsets: the cache is
// flushed when it grows past this (real mail uses a few dozen names).
constexpr size_t kMaxCachedHandles = 256;
const iconv_t kNoHandle = reinterpret_cast<iconv_t>(-1);

// What the label says -> what it means. Labels a sender gets wrong in practice; the
// WHATWG Encoding Standard makes the same substitutions (ISO-8859-1 and GB2312 are read
// as their supersets Windows-1252 and GB18030, since senders use the extra characters).
struct charset_alias {
  std::string_view label;   // lower case
  std::string_view target;  // iconv name; "" means: unknown, use the fallback
};
constexpr charset_alias kAliases[] = {
    {"utf8", "UTF-8"},
    {"unicode-1-1-utf-8", "UTF-8"},
    {"ks_c_5601-1987", "CP949"},
    {"ks_c_5601", "CP949"},
    {"euc-kr", "CP949"},
    {"gb2312", "GB18030"},
    {"gbk", "GB18030"},
    {"x-gbk", "GB18030"},
    {"cp936", "GB18030"},
    {"iso-8859-8-i", "ISO-8859-8"},
    {"iso-8859-1", "WINDOWS-1252"},
    {"iso8859-1", "WINDOWS-1252"},
    {"latin1", "WINDOWS-1252"},
    {"iso-8859-9", "WINDOWS-1254"},
    {"tis-620", "WINDOWS-874"},
    {"shift_jis", "CP932"},
    {"shift-jis", "CP932"},
    {"x-sjis", "CP932"},
    {"sjis", "CP932"},
    {"big5", "BIG5-HKSCS"},
    {"chinesebig5", "BIG5-HKSCS"},
    {"gb2312_charset", "GB18030"},
    {"x-unknown", ""},
    {"unknown-8bit", ""},
    {"unknown", ""},
    {"x-user-defined", ""},
    {"default", ""},
    {"default_charset", ""},
    {"charset", ""},
};

// Labels that mean "the bytes are UTF-8 (or ASCII)"; invalid sequences are repaired.
bool is_utf8_label(std::string_view name) {
  return name.empty() || name == "utf-8" || name == "us-ascii" || name == "ascii" ||
         name == "ansi_x3.4-1968" || name == "utf8" || name == "unicode-1-1-utf-8";
}

// Charsets where bytes below 0x80 are ASCII, so pure-ASCII input converts to itself.
// Not true of UTF-16/32, UTF-7, ISO-2022-* or HZ, whose escapes are themselves ASCII.
bool is_ascii_compatible(std::string_view name) {
  for (std::string_view prefix : {"iso-8859-", "iso8859", "windows-", "cp125", "koi8", "gb",
                                  "big5", "euc-", "shift", "sjis", "x-sjis", "ks_c", "latin",
                                  "tis-620", "x-mac", "macintosh", "ibm"}) {
    if (name.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

bool is_ascii(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if ((w & 0x8080808080808080ULL) != 0) return false;
  }
  for (; i < n; ++i) {
    if (static_cast<unsigned char>(p[i]) >= 0x80) return false;
  }
  return true;
}

// Trims blanks and quotes (charset="utf-8" survives some parsers) and lower-cases.
std::string normalize_label(std::string_view charset) {
  while (!charset.empty() && (charset.front() == ' ' || charset.front() == '\t' ||
                              charset.front() == '"' || charset.front() == '\'')) {
    charset.remove_prefix(1);
  }
  while (!charset.empty() && (charset.back() == ' ' || charset.back() == '\t' ||
                              charset.back() == '"' || charset.back() == '\'')) {
    charset.remove_suffix(1);
  }
  std::string name(charset.substr(0, kMaxCharsetName + 1));
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return name;
}

// Converts through `cd`, replacing what iconv rejects with U+FFFD.
void convert(iconv_t cd, std::string_view in, std::string& out) {
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // initial shift state (ISO-2022-JP)
  char buf[16384];
  char* inp = const_cast<char*>(in.data());
  size_t inleft = in.size();
  while (inleft > 0) {
    char* outp = buf;
    size_t outleft = sizeof buf;
    size_t r = iconv(cd, &inp, &inleft, &outp, &outleft);
    int err = errno;
    out.append(buf, static_cast<size_t>(outp - buf));
    if (r != static_cast<size_t>(-1)) break;
    if (err == E2BIG) continue;
    out.append(kReplacement);
    if (err == EILSEQ) {
      // Skip one byte and resynchronise: one bad byte costs one U+FFFD, never the rest.
      ++inp;
      --inleft;
    } else {
      break;  // EINVAL: the input ends inside a multibyte sequence
    }
  }
  char* outp = buf;
  size_t outleft = sizeof buf;
  iconv(cd, nullptr, nullptr, &outp, &outleft);  // flush a stateful encoding
  out.append(buf, static_cast<size_t>(outp - buf));
}

// The length of the well-formed UTF-8 sequence at p (Unicode 15, table 3-7), or, when it
// is ill-formed, 0 and in *bad the length of its maximal subpart (the bytes one U+FFFD
// replaces, as the Unicode "best practice" and the WHATWG decoder count them).
inline size_t utf8_sequence(const unsigned char* p, size_t avail, size_t* bad) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    *bad = 1;
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if (k >= avail) {
      *bad = k;
      return 0;
    }
    unsigned char b = p[k];
    bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) {
      *bad = k;
      return 0;
    }
  }
  return len;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    size_t bad;
    size_t len = utf8_sequence(p + i, n - i, &bad);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void repair_utf8(std::string_view s, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t i = 0;
  size_t run = 0;  // start of the current run of valid bytes, appended in one go
  out.reserve(out.size() + n);
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    size_t bad = 0;
    size_t len = utf8_sequence(p + i, n - i, &bad);
    if (len != 0) {
      i += len;
      continue;
    }
    out.append(s.data() + run, i - run);
    out.append(kReplacement);
    i += bad;
    run = i;
  }
  out.append(s.data() + run, n - run);
}

charset_converter::charset_converter() = default;

charset_converter::~charset_converter() {
  for (auto& [name, handle] : handles_) {
    if (handle != kNoHandle) iconv_close(handle);
  }
}

iconv_t charset_converter::handle_for(std::string_view charset) {
  // Debian's abseil has its own string_view type, not std::string_view.
  absl::string_view key(charset.data(), charset.size());
  if (auto it = handles_.find(key); it != handles_.end()) return it->second;
  if (handles_.size() >= kMaxCachedHandles) {
    for (auto& [name, handle] : handles_) {
      if (handle != kNoHandle) iconv_close(handle);
    }
    handles_.clear();
  }
  std::string target(charset);
  for (const charset_alias& alias : kAliases) {
    if (alias.label == charset) {
      target = alias.target;
      break;
    }
  }
  iconv_t handle = kNoHandle;
  // Names with characters no charset has ("//TRANSLIT" tricks, spaces) are not asked.
  bool plausible = !target.empty() && target.size() <= kMaxCharsetName &&
                   target.find_first_of("/ \t,;") == std::string::npos;
  if (plausible) handle = iconv_open("UTF-8", target.c_str());
  handles_.emplace(std::string(charset), handle);
  return handle;
}

void charset_converter::to_utf8(std::string_view bytes, std::string_view charset,
                                std::string& out) {
  std::string name = normalize_label(charset);
  if (is_utf8_label(name) || (is_ascii_compatible(name) && is_ascii(bytes))) {
    if (is_valid_utf8(bytes)) {
      out.append(bytes);
    } else {
      repair_utf8(bytes, out);
    }
    return;
  }
  iconv_t cd = handle_for(name);
  if (cd == kNoHandle) {
    // Unknown or "unknown-8bit": UTF-8 if it is, else the commonest 8-bit charset.
    if (is_valid_utf8(bytes)) {
      out.append(bytes);
      return;
    }
    cd = handle_for("windows-1252");
    if (cd == kNoHandle) {  // an iconv without CP1252 (not glibc)
      repair_utf8(bytes, out);
      return;
    }
  }
  convert(cd, bytes, out);
}

void encode_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace ringmail::mail
