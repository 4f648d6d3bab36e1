// Mail addresses as directory keys: parsing, checking and normalising the address a
// client names in RCPT TO / MAIL FROM / a login, before any lookup is made with it.
//
// What we accept is deliberately narrower than RFC 5321 4.1.2 allows, because every
// accepted address becomes a database key and, for local users, two path components of
// `<mail-root>/<domain>/<local>/Maildir/`:
//   - Local part: a dot-atom (RFC 5321 4.1.2 / RFC 5322 3.2.3: atext separated by single
//     dots, no leading or trailing dot), at most 64 octets (RFC 5321 4.5.3.1.1). Refused
//     although RFC-valid: quoted strings (we host no mailbox with a quoted local part),
//     '%' (the old percent-hack relay route), '!' (UUCP bang paths), '/' (a path
//     separator). UTF-8 is accepted if it is valid UTF-8 without C1 controls (RFC 6531,
//     SMTPUTF8). The apostrophe is atext and stays accepted ("o'brien@example.org" is a
//     real address); it is harmless in a path and is bound, never pasted, into SQL.
//   - Domain: a host name of LDH labels (letters, digits, hyphens; no hyphen first or
//     last; 1..63 octets each; RFC 1035 2.3.1, RFC 5321 4.1.2), at most 255 octets
//     (RFC 5321 4.5.3.1.2). Address literals ([192.0.2.1]) are refused: no mailbox of
//     ours lives on one. U-labels (IDN in UTF-8) are converted to A-labels with libidn2
//     (IDNA2008 with UTS #46 non-transitional mapping, NFC first), so "bücher.example"
//     and "xn--bcher-kva.example" are the same key.
//   - Whole address at most 254 octets (the 256-octet path of RFC 5321 4.5.3.1.3 less
//     its angle brackets), both as given and once normalised.
//   - Source routes ("@a,@b:user@c", RFC 5321 4.1.2 / C) are refused, not stripped: the
//     SMTP layer strips them from a path before it calls us if it wants to.
// Normalised means lower-case: the domain always (DNS is case-insensitive); the local
// part too (ASCII letters only), as Postfix's table lookups and ISPmail's MariaDB
// collation are case-insensitive — "John@Example.ORG" reaches john@example.org.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringmail::directory {

struct address {
  std::string local;   // lower-case, without the +detail; a safe path component
  std::string detail;  // what followed the detail separator ("lists" for john+lists@…), may be empty
  std::string domain;  // lower-case A-labels; a safe path component

  // "local@domain": the directory key (lower-case, no detail).
  std::string full() const;
};

// Parses and normalises `text` (a bare address, no angle brackets). On success, `local`
// and `domain` satisfy is_safe_path_component. The first `detail_separator` in the local
// part splits off the detail ("john+lists" -> "john", "lists"), as Postfix's
// recipient_delimiter does; '\0' means "never split". A separator at the very start of
// the local part is not split ("+list" stays whole): there would be no user left.
// `detail` is NOT a safe path component (it may contain dots or the separator again).
// Errors: InvalidArgument with a message fit to show a client (it never echoes the
// offending bytes, which may be control characters).
absl::StatusOr<address> parse_address(std::string_view text, char detail_separator = '+');

// Parses a catch-all alias source "@domain" (ISPmail's form) and returns the normalised
// domain, e.g. "@Bücher.example" -> "xn--bcher-kva.example"; the alias key is "@" + that.
absl::StatusOr<std::string> parse_catch_all(std::string_view text);

// Parses and normalises a bare domain ("Example.ORG" -> "example.org"), with the rules
// above. Used for virtual_domains names.
absl::StatusOr<std::string> parse_domain(std::string_view text);

// True if `s` can be used as one component of a file-system path without escaping its
// directory: not empty, not "." or "..", and no '/', no "..", no NUL anywhere.
bool is_safe_path_component(std::string_view s);

}  // namespace ringmail::directory
