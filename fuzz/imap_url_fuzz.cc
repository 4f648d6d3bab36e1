// libFuzzer target: IMAP URLs (protocols/imap/imap_url.h), as CATENATE's URL parts carry
// them. Invariants: a parsed URL names a message (UID != 0); its section text parses to
// the same section; a relative URL has no server; and the URL rebuilt from the parsed
// fields (every byte of mailbox and section %-encoded) parses back to the same fields.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/imap/imap_url.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

std::string pct_all(std::string_view s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(hex[u >> 4]);
    out.push_back(hex[u & 15]);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringmail::imap;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  imap_url_result r = parse_imap_url(in);
  if (!r.url) {
    check(!r.error.empty());
    return 0;
  }
  const imap_url& u = *r.url;
  check(u.uid != 0);
  check(u.absolute || (u.host.empty() && u.user.empty() && u.port == 0));
  check(!u.mailbox || (!u.mailbox->empty() && u.mailbox->find('\0') == std::string::npos));
  check(u.uid_validity == 0 || u.mailbox.has_value());
  if (u.section) {
    std::optional<section_spec> again = parse_section_text(u.section_text);
    check(again.has_value() && *again == *u.section);
  }
  check(!u.partial_length || *u.partial_length != 0);
  // Rebuild the path part and parse it again.
  std::string rebuilt;
  if (u.mailbox) {
    rebuilt = "/" + pct_all(*u.mailbox);
    if (u.uid_validity != 0) rebuilt += ";UIDVALIDITY=" + std::to_string(u.uid_validity);
    rebuilt += "/";
  }
  rebuilt += ";UID=" + std::to_string(u.uid);
  if (u.section) rebuilt += "/;SECTION=" + pct_all(u.section_text);
  if (u.partial_origin) {
    rebuilt += "/;PARTIAL=" + std::to_string(*u.partial_origin);
    if (u.partial_length) rebuilt += "." + std::to_string(*u.partial_length);
  }
  if (rebuilt.size() > 8 * 1024) return 0;  // %-encoding tripled it past the URL limit
  imap_url_result back = parse_imap_url(rebuilt);
  check(back.url.has_value());
  check(back.url->mailbox == u.mailbox && back.url->uid_validity == u.uid_validity && back.url->uid == u.uid &&
        back.url->section == u.section && back.url->section_text == u.section_text &&
        back.url->partial_origin == u.partial_origin && back.url->partial_length == u.partial_length);
  return 0;
}
