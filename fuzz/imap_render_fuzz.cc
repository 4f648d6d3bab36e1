// The IMAP FETCH renderer (protocols/imap/message_render.h) over arbitrary messages, as
// mail_message_fuzz feeds the MIME tree (same corpus idea: any bytes are a message).
// Checks: nothing crashes or runs away; every literal's {n} matches the bytes after it
// is not checked here (unit tests do), but the structure's parentheses balance outside
// strings, and BINARY.SIZE equals the length of BINARY[] for the same part.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mail/charset.h"
#include "mail/message.h"
#include "protocols/imap/message_render.h"

namespace {

// Parentheses outside quoted strings and literals must balance.
void check_balanced(const std::string& s) {
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\') ++i;
      }
    } else if (c == '{') {
      size_t close = s.find('}', i);
      if (close == std::string::npos) abort();
      size_t n = std::strtoull(s.c_str() + i + 1, nullptr, 10);
      i = close + 2 + n;  // "}\r\n" then n bytes
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth < 0) abort();
    }
  }
  if (depth != 0) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ringmail::mail::charset_converter charsets;
  std::string bytes = ringmail::imap::to_crlf(
      std::string_view(reinterpret_cast<const char*>(data), size));
  ringmail::mail::message m = ringmail::mail::parse_message(
      bytes, charsets, {.boundaries = ringmail::mail::boundary_rule::rfc2046});
  check_balanced(ringmail::imap::render_envelope(m));
  check_balanced(ringmail::imap::render_body_structure(m, true));
  check_balanced(ringmail::imap::render_body_structure(m, false));
  using ringmail::imap::section_spec;
  for (std::vector<uint32_t> part : {std::vector<uint32_t>{}, {1}, {2}, {1, 1}, {2, 1}, {1, 2, 1}}) {
    for (auto k : {section_spec::kind::whole, section_spec::kind::header,
                   section_spec::kind::header_fields, section_spec::kind::header_fields_not,
                   section_spec::kind::text, section_spec::kind::mime}) {
      if (k == section_spec::kind::mime && part.empty()) continue;
      section_spec s;
      s.part = part;
      s.k = k;
      s.fields = {"FROM", "CONTENT-TYPE"};
      (void)ringmail::imap::render_section(m, s, false);
    }
    section_spec whole;
    whole.part = part;
    auto binary = ringmail::imap::render_section(m, whole, true);
    auto size = ringmail::imap::binary_size(m, part);
    if (binary.st == ringmail::imap::section_result::status::ok) {
      if (!size || *size != binary.bytes.size()) abort();
    } else if (binary.st == ringmail::imap::section_result::status::missing) {
      // A part that does not exist has BINARY.SIZE 0, as Dovecot answers.
      if (!size || *size != 0) abort();
    } else if (size) {
      abort();  // unknown encoding: no size either
    }
  }
  return 0;
}
