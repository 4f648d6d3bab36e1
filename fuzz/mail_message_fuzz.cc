// libFuzzer target for the message model (mail/): parse_message builds the MIME tree,
// every part is transfer-decoded, render_text builds the SpamAssassin text views. Build:
// see fuzz/README.md and scripts/fuzz.sh.
//
// Input: the raw message bytes.
// Invariants (any break aborts): every view (part, body, header name and value) lies in
// the input, and a part inside its parent; parts are in pre-order with consistent
// parent/children links and depths; the limits of limits.h hold (parts, depth, header
// fields, decoded and rendered sizes, URIs); the body and every decoded header are valid
// UTF-8; a truncated message gives truncated text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mail/charset.h"
#include "mail/encoding.h"
#include "mail/limits.h"
#include "mail/message.h"
#include "mail/message_text.h"

namespace {

using namespace ringmail::mail;

void check(bool ok) {
  if (!ok) abort();
}

bool inside(std::string_view outer, std::string_view inner) {
  return inner.data() >= outer.data() &&
         inner.data() + inner.size() <= outer.data() + outer.size();
}

void check_header_block(std::string_view bytes, const header_block& h) {
  check(h.fields.size() <= max_header_fields);
  for (const header_field& f : h.fields) {
    check(!f.name.empty() && inside(bytes, f.name) && inside(bytes, f.value));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  charset_converter charsets;

  header_block top = parse_header_block(bytes);
  check_header_block(bytes, top);
  check(top.body_offset <= bytes.size());

  message m = parse_message(bytes, charsets);
  check(!m.parts.empty() && m.parts.size() <= max_mime_parts);
  check(m.parts[0].bytes.data() == bytes.data() && m.parts[0].bytes.size() == bytes.size());
  check(m.parts[0].headers.fields.size() == top.fields.size());
  for (size_t i = 0; i < m.parts.size(); ++i) {
    const mime_part& p = m.parts[i];
    check(inside(bytes, p.bytes) && inside(p.bytes, p.body));
    check_header_block(bytes, p.headers);
    check(p.depth <= max_mime_depth);
    if (i == 0) {
      check(p.parent == no_part && p.depth == 0);
    } else {
      check(p.parent < i);
      check(p.depth == m.parts[p.parent].depth + 1);
      check(inside(m.parts[p.parent].bytes, p.bytes));
    }
    uint32_t previous = static_cast<uint32_t>(i);
    for (uint32_t c : p.children) {
      check(c > previous && c < m.parts.size() && m.parts[c].parent == i);
      previous = c;
    }
    decode_stats stats;
    std::string decoded = decode_body(p, 4096, &stats);
    check(decoded.size() <= 4096);
    if (p.transfer_encoding != "base64" && p.transfer_encoding != "quoted-printable") {
      check(decoded == p.body.substr(0, 4096));
    }
  }

  message_text text = render_text(m, charsets);
  check(is_valid_utf8(text.body));
  check(text.body.size() <= max_rendered_text_bytes + max_header_field_bytes + 1);
  check(text.raw_body.size() <= max_rendered_text_bytes);
  check(text.uris.size() <= max_uris);
  check(text.headers.size() == top.fields.size());
  check(text.full.data() == bytes.data());
  for (const text_header& h : text.headers) check(is_valid_utf8(h.decoded));
  for (const text_header& h : text.mime_headers) check(is_valid_utf8(h.decoded));
  for (const std::string& uri : text.uris) check(!uri.empty());
  check(!m.truncated || text.truncated);
  return 0;
}
