#include "delivery/sieve/outgoing_message.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "delivery/relay/notice_format.h"
#include "mail/charset.h"
#include "mail/encoding.h"
#include "mail/rfc2047.h"
#include "runtime/fnv1a.h"

namespace ringmail::sieve {
namespace {

constexpr char kCrlf[] = "\r\n";
// RFC 5322 2.1.1: "Each line of characters MUST be no more than 998 characters".
constexpr size_t kMaxLineBytes = 998;
// RFC 5322 2.1.1: lines SHOULD be at most 78 characters.
constexpr size_t kFoldColumns = 78;
// RFC 2045 6.8: base64 lines of at most 76 characters.
constexpr size_t kBase64LineBytes = 76;

bool is_id_char(unsigned char c) { return c > 0x20 && c < 0x7f && c != '<' && c != '>'; }

}  // namespace

std::string header_text(std::string_view text, size_t max_bytes) {
  std::string repaired;
  mail::repair_utf8(text.substr(0, max_bytes * 4 + 16), repaired);
  std::string out;
  bool space = false;
  for (unsigned char c : repaired) {
    if (c <= 0x20 || c == 0x7f) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(c);
  }
  if (out.size() > max_bytes) {
    size_t n = max_bytes;
    while (n > 0 && (static_cast<unsigned char>(out[n]) & 0xc0) == 0x80) --n;  // whole characters
    out.resize(n);
    while (!out.empty() && out.back() == ' ') out.pop_back();
  }
  return out;
}

void append_text_field(std::string& out, std::string_view name, std::string_view value) {
  // Folded by hand rather than with relay::append_wrapped: its 4-space continuation would
  // unfold to 4 spaces inside the text; here the space between two words becomes the
  // fold (CRLF SP), so the value unfolds to exactly what it was (RFC 5322 2.2.3). The
  // first word stays on the name's line (sized for it by encode_header_words), every
  // word is at most 75 octets when encoded and at most 256 when not (header_text).
  const size_t used = name.size() + 2;
  const std::string words = mail::encode_header_words(header_text(value), used < 52 ? 76 - used : 24);
  out.append(name);
  out += ':';
  size_t column = used - 1;
  std::string_view rest = words;
  bool first = true;
  while (!rest.empty() || first) {
    const size_t sp = rest.find(' ');
    const std::string_view word = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    if (!first && column + 1 + word.size() > kFoldColumns) {
      out += "\r\n";
      column = 0;
    }
    out += ' ';
    out += word;
    column += 1 + word.size();
    first = false;
  }
  out += kCrlf;
}

encoded_body encode_text_body(std::string_view utf8) {
  std::string text;
  text.reserve(utf8.size() + utf8.size() / 32 + 2);
  size_t line = 0;
  size_t longest = 0;
  bool eight_bit = false;
  bool nul = false;
  for (size_t i = 0; i < utf8.size(); ++i) {
    const char c = utf8[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < utf8.size() && utf8[i + 1] == '\n') ++i;
      text += kCrlf;
      line = 0;
      continue;
    }
    eight_bit = eight_bit || static_cast<unsigned char>(c) >= 0x80;
    nul = nul || c == '\0';
    text += c;
    longest = std::max(longest, ++line);
  }
  if (text.size() < 2 || text.compare(text.size() - 2, 2, kCrlf) != 0) text += kCrlf;
  if (longest <= kMaxLineBytes && !nul) return {eight_bit ? "8bit" : "7bit", std::move(text)};
  const std::string b64 = mail::encode_base64(text);
  encoded_body body{"base64", {}};
  for (size_t at = 0; at < b64.size(); at += kBase64LineBytes) {
    body.bytes.append(b64, at, kBase64LineBytes);
    body.bytes += kCrlf;
  }
  return body;
}

std::vector<std::string> message_ids(std::string_view value, size_t max) {
  std::vector<std::string> ids;
  if (max == 0) return ids;
  size_t at = 0;
  while ((at = value.find('<', at)) != std::string_view::npos) {
    size_t end = at + 1;
    while (end < value.size() && is_id_char(static_cast<unsigned char>(value[end]))) ++end;
    if (end < value.size() && value[end] == '>' && end > at + 1) {
      std::string id(value.substr(at, end - at + 1));
      // Keep the first id (the thread's root) and the latest max-1.
      if (ids.size() == max) ids.erase(ids.begin() + (max > 1 ? 1 : 0));
      ids.push_back(std::move(id));
      at = end + 1;
    } else {
      at = end;
    }
  }
  return ids;
}

std::string new_message_id(int64_t now, std::string_view kind, std::string_view host,
                           const std::vector<std::string_view>& seeds) {
  uint64_t h = fnv1a64(kind);
  h = fnv1a64(std::to_string(now), fnv1a64("\n", h));
  for (std::string_view s : seeds) h = fnv1a64(s, fnv1a64("\n", h));
  const std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
  return absl::StrCat("<", stamp, ".", absl::Hex(h, absl::kZeroPad16), ".", std::string(kind), "@",
                      relay::clean_host(host), ">");
}

}  // namespace ringmail::sieve
