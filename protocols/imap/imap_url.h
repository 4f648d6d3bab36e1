// IMAP URLs naming a message or a part of one (RFC 5092 section 11, the grammar
// "imapurl" / "imapurl-rel"), as CATENATE's `URL` parts carry them (RFC 4469 section 3).
// Pure: no sockets, no mail store.
//
// What is accepted: the forms that can name a message of the logged-in user,
//   imap://[user[;AUTH=x]@]host[:port]/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]
//   /mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]        (iabsolute-path)
//   ;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]                                 (irelative-path)
//   ;SECTION=s[/;PARTIAL=..] and ;PARTIAL=.. alone are grammatical (irelative-path) but
//   name no message once the base has none (RFC 4469: the base URL is the selected
//   mailbox, never a message), so they are refused.
// RFC 5092 section 3.2: the mailbox is UTF-8, %-encoded (not modified UTF-7); so is the
// section ("HEADER.FIELDS%20(From)"). %-escapes are decoded; a "%" not followed by two hex
// digits, a NUL, a ";" or a byte outside bchar, is an error.
//
// What is refused (nullopt and a reason): URLAUTH URLs (";EXPIRE=", ";URLAUTH=", RFC
// 4467: not offered), search URLs ("?..."), list URLs without ;UID, inetwork-path
// ("//host/..."), a section that is not a valid IMAP section-spec (RFC 9051: part numbers,
// HEADER, HEADER.FIELDS[.NOT] (..), TEXT, MIME after a part), numbers out of range (UID and
// UIDVALIDITY are nz-number, 32 bits). Whether the server and user in an absolute URL are
// this server and this user is the session's question: the parser reports them.
//
// Limits: a URL is at most 8 KiB (the session passes the command's astring, which the
// reader already bounded by max_line), a section at most 100 header fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/imap/command.h"

namespace ringmail::imap {

struct imap_url {
  // Absolute URLs ("imap://"): the server part, decoded. Empty for relative URLs.
  bool absolute = false;
  std::string user;      // enc-user, decoded; may be empty
  std::string auth;      // ";AUTH=" mechanism, decoded; may be empty
  std::string host;      // as written (lower-cased)
  uint32_t port = 0;     // 0: not given
  // The mailbox, UTF-8 (decoded). nullopt: the URL is relative to the selected mailbox.
  std::optional<std::string> mailbox;
  uint32_t uid_validity = 0;  // 0: not given
  uint32_t uid = 0;           // nz-number: always set in a parsed URL
  // ";SECTION=": nullopt names the whole message (BODY[]).
  std::optional<section_spec> section;
  std::string section_text;   // the decoded section as written (for logs)
  // ";PARTIAL=origin[.length]"
  std::optional<uint32_t> partial_origin;
  std::optional<uint32_t> partial_length;  // nz-number; nullopt: to the end
  bool operator==(const imap_url&) const = default;
};

struct imap_url_result {
  std::optional<imap_url> url;
  std::string error;  // fixed text when !url (never echoes the URL)
};

imap_url_result parse_imap_url(std::string_view text);

// The section-spec of RFC 9051 section 9 in its decoded text form ("1.2.MIME",
// "HEADER.FIELDS (From To)"), as a FETCH BODY[...] would carry it; nullopt if invalid.
std::optional<section_spec> parse_section_text(std::string_view text);

}  // namespace ringmail::imap
