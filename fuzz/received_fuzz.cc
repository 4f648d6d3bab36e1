// libFuzzer target for SpamAssassin-style Received parsing (spam/evals/received*.cc): one
// header value through parse_received_line (every form's recogniser in order), then the
// input as a whole message through parse_relays (trusted/untrusted split, relay strings).
// Build: see fuzz/README.md.
//
// Promises checked: no crash or sanitizer report whatever the bytes (PCRE2 octet mode,
// no UTF checks); a parsed relay has an IP; the relay strings are one line each ("[ ip=...
// ]" entries, no CR or LF), since they become the X-Spam-Relays-* pseudo-headers that
// header rules scan line by line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mail/charset.h"
#include "mail/message.h"
#include "mail/message_text.h"
#include "spam/evals/received.h"

namespace {

void check(bool ok) {
  if (!ok) abort();
}

bool one_line(const std::string& s) { return s.find_first_of("\r\n") == std::string::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringmail;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  spam::received_parse one = spam::parse_received_line(input);
  if (one.parsed) check(!one.r.ip.empty());

  static mail::charset_converter charsets;
  mail::message parsed = mail::parse_message(input, charsets);
  mail::message_text text = mail::render_text(parsed, charsets);
  spam::relay_info relays = spam::parse_relays(text);
  check(one_line(relays.trusted_str) && one_line(relays.untrusted_str));
  check(one_line(relays.internal_str) && one_line(relays.external_str));
  check(relays.trusted.size() + relays.untrusted.size() >= relays.external.size());
  return 0;
}
