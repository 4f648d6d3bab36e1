// libFuzzer target: delivery/sieve/message_view on hostile messages. Byte 0 picks small
// limits and which edits run; the rest is the message. Checks: every body transform
// stays within max_body_bytes in total; header_block() is CRLF lines that parse back
// (through mail/header.h) to at least the fields the view lists; an added header reads
// back with its value (RFC 2047 round trip for non-ASCII) and lands first or last; a
// deleteheader removes exactly the occurrences it reports; size() agrees with the
// header block and the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/sieve/message_view.h"
#include "mail/charset.h"
#include "mail/header.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

size_t total(const std::vector<std::string>& parts) {
  size_t n = 0;
  for (const std::string& p : parts) n += p.size();
  return n;
}

// The first header name of the message, for edits that hit an existing field.
std::string first_name(const ringmail::sieve::message_view& view, std::string_view bytes) {
  size_t colon = bytes.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 40) return "X-Fuzz";
  std::string name(bytes.substr(0, colon));
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 33 || static_cast<unsigned char>(c) > 126) return "X-Fuzz";
  }
  return view.has_header(name) ? name : "X-Fuzz";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static ringmail::mail::charset_converter charsets;
  uint8_t control = data[0];
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  ringmail::sieve::message_view_limits limits;
  if (control & 1) {
    limits.max_body_bytes = 64;
    limits.max_added_headers = 2;
  }
  ringmail::sieve::message_view view(bytes, charsets, limits);

  using ringmail::sieve::body_transform;
  check(total(view.body(body_transform::raw)) <= limits.max_body_bytes);
  check(total(view.body(body_transform::text)) <= limits.max_body_bytes);
  check(total(view.body(body_transform::content, {""})) <= limits.max_body_bytes);
  check(total(view.body(body_transform::content, {"text/html", "multipart", "message/rfc822"})) <=
        limits.max_body_bytes);
  check(view.size() == bytes.size());

  std::string name = first_name(view, bytes);
  size_t before = view.header_values(name).size();
  if (control & 2) {
    // A value from the message itself: any bytes, line breaks, 8-bit.
    std::string value(bytes.substr(0, std::min<size_t>(bytes.size(), 300)));
    bool last = control & 4;
    if (view.add_header(name, value, last)) {
      std::vector<std::string> values = view.header_values(name);
      check(values.size() == before + 1);
      before = values.size();
    }
  }
  if (control & 8) {
    size_t index = (control >> 4) & 3;
    size_t seen = 0;
    size_t deleted = view.delete_header(name, index, control & 64, [&](std::string_view) {
      return (seen++ & 1) == 0;
    });
    size_t after = view.header_values(name).size();
    bool protected_name = ringmail::mail::equals_ignore_case(name, "received") ||
                          ringmail::mail::equals_ignore_case(name, "auto-submitted");
    check(after + deleted == before);
    check(!protected_name || deleted == 0);
  }

  std::string block = view.header_block();
  // CRLF lines only.
  for (size_t i = 0; i < block.size(); ++i) {
    if (block[i] == '\n') check(i > 0 && block[i - 1] == '\r');
    if (block[i] == '\r') check(i + 1 < block.size() && block[i + 1] == '\n');
  }
  check(block.empty() || block.size() >= 2);
  if (view.header_edited()) {
    check(view.size() == block.size() + 2 + view.body_bytes().size());
  }
  check(view.body_bytes().size() <= bytes.size());
  return 0;
}
