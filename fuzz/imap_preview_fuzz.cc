// PREVIEW and the object ids (protocols/imap/preview.h, object_id.h) over arbitrary
// messages: any bytes are a message, as for mail_message_fuzz. Checks: nothing crashes or
// runs away; the preview is valid UTF-8 of at most 256 characters, with no whitespace at
// either end and never two spaces in a row; EMAILID and THREADID are RFC 8474 objectids;
// the same bytes give the same ids; the save date of any name is the fallback or a time.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mail/charset.h"
#include "mail/header.h"
#include "mail/message.h"
#include "protocols/imap/object_id.h"
#include "protocols/imap/preview.h"

namespace {

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80 ? 1 : 0;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  static ringmail::mail::charset_converter charsets;
  ringmail::mail::message m =
      ringmail::mail::parse_message(bytes, charsets, {.boundaries = ringmail::mail::boundary_rule::rfc2046});
  const std::string p = ringmail::imap::make_preview(m, charsets);
  if (!ringmail::mail::is_valid_utf8(p)) abort();
  if (code_points(p) > ringmail::imap::kPreviewMaxChars) abort();
  if (!p.empty() && (p.front() == ' ' || p.back() == ' ')) abort();
  if (p.find("  ") != std::string::npos) abort();
  for (unsigned char c : p) {
    if (c < 0x20 || c == 0x7f) abort();  // whitespace collapsed, controls dropped
  }
  const std::string e = ringmail::imap::email_id(bytes);
  if (!ringmail::imap::valid_object_id(e) || e != ringmail::imap::email_id(bytes)) abort();
  const std::string root = ringmail::imap::thread_root_message_id(ringmail::mail::parse_header_block(bytes));
  if (!ringmail::imap::valid_object_id(ringmail::imap::thread_id(root, e))) abort();
  const int64_t t = ringmail::imap::save_date_of(bytes, -1);
  if (t != -1 && t < 631152000) abort();
  return 0;
}
