// notice_format: the injection-proof pieces every notice we compose needs -- the relay's
// DSNs (dsn.h) and Sieve's vacation replies and reject notices (delivery/sieve/
// vacation.h, reject_notice.h). Pure: no runtime, no clock. They were dsn.cc's private
// helpers; they live here so the Sieve notices reuse them instead of copying them.
//
// What they guard against: everything in a notice but our own text comes from someone
// else (a remote reply, a script, the original message), and none of it may start a
// header field or a MIME part of its own. So:
//   - clean_text() turns control octets (CR, LF, TAB, NUL, ...) into spaces and 8-bit
//     octets into '?', as Postfix's bounce_log_read() masks them;
//   - append_wrapped() folds one clean line at 78 columns with 4-space continuation
//     lines (Postfix's bounce_print_wrap), cutting a word longer than 900 octets, so no
//     line passes RFC 5322's 998;
//   - notice_address() writes an address for a report field: as is when printable
//     ASCII, else RFC 6533's utf-8-addr-xtext with type "utf-8";
//   - to_field() writes an addr-spec for To:/From:, quoting a local part that is not a
//     dot-atom (RFC 5322 3.4.1) and masking control octets;
//   - returned_headers() takes the original's header section only, CRLF line ends, cut
//     at kMaxReturnedHeaderBytes at a line end, and before any line over 998 octets;
//   - pick_boundary() returns a boundary that occurs in none of the parts (RFC 2046
//     5.1.1).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ringmail::relay {

// How much of the original header section a notice carries back (dsn.h explains why).
inline constexpr size_t kMaxReturnedHeaderBytes = 64 * 1024;

// Remote or script text made safe for one logical line: every run of control octets and
// spaces becomes one space, 8-bit octets '?'; leading and trailing space dropped.
std::string clean_text(std::string_view in);

// A host name from our configuration or a remote reply: [A-Za-z0-9.-_:[]] kept,
// anything else '-'; at most 255 octets; "localhost" when empty.
std::string clean_host(std::string_view in);

// Appends `text` (one line, already free of control octets) wrapped at spaces into lines
// of at most 78 columns, continuation lines indented by 4 spaces, each ending in CRLF. In
// a header field the indented lines are folding (RFC 5322 2.2.3).
void append_wrapped(std::string& out, std::string_view text);

// An address as a report field value (RFC 3464 2.3.2, RFC 3798 3.2.4): type "rfc822"
// and the address for printable ASCII, otherwise type "utf-8" and RFC 6533's
// utf-8-addr-xtext. `text` is one line of printable ASCII either way.
struct typed_address {
  const char* type;
  std::string text;
};
typed_address notice_address(std::string_view addr);

// An address as the addr-spec of a To: or From: field (see above). 8-bit octets stay:
// an SMTPUTF8 address gets an RFC 6532 header.
std::string to_field(std::string_view address);

// The original's header section (see above).
std::string returned_headers(std::string_view original);

bool has_8bit(std::string_view s);

// RFC 2046 5.1.1: `base` if it occurs in none of `contents`, else base + "." + 8 hex
// digits that follow no occurrence of base. `base` should leave 9 octets of the 70 free.
std::string pick_boundary(const std::string& base, std::initializer_list<std::string_view> contents);

}  // namespace ringmail::relay
