// The FETCH body renderer: ENVELOPE, BODYSTRUCTURE / BODY, BODY[section] and BINARY[section]
// (RFC 9051 sections 6.4.5 and 7.5.2, RFC 3501 7.4.2, RFC 3516), over the MIME tree of
// mail/message.h. Pure: no sockets, no mail store; the session asks, this answers bytes.
//
// Where the RFCs leave a choice this matches Dovecot 2.3 byte for byte (clients that sync
// against both, and our differential test tests/tools/imap_render_diff.py, see the same
// answer). protocols/imap/DIFFERENCES.md lists what still differs and why. In short:
//   - strings: quoted unless the value has CR, LF, NUL, an 8-bit byte or more than four
//     quoted-specials ('"', '\'), then a literal (Dovecot imap-quote.c). No length bound:
//     Dovecot has none, and a long quoted string is no harder for a client than a literal.
//   - ENVELOPE: RFC 9051 7.5.2 "the fields of the envelope structure are ... the header
//     text": values are NOT RFC 2047-decoded; folding line breaks are removed. Subject and
//     display names are cleaned "for humans" (tabs and runs of spaces become one space,
//     trailing space dropped), which Dovecot does, and such a value goes out as a literal.
//     Addresses: group syntax as RFC 9051 ("(NIL NIL "group" NIL)" ... "(NIL NIL NIL NIL)"),
//     source route as "@a,@b", a missing mailbox or domain as MISSING_MAILBOX /
//     MISSING_DOMAIN (Dovecot), a broken angle address as domain SYNTAX_ERROR. Sender and
//     Reply-To default to From (RFC 9051 7.5.2).
//   - BODYSTRUCTURE: type, subtype and parameter names as the header wrote them (not
//     lower-cased), RFC 2231 parameters merged but left encoded ("name*" "utf-8''a%20b"),
//     text/* without a charset gets ("charset" "us-ascii"); a part with neither
//     MIME-Version nor Content-Type has its other Content-* fields ignored (RFC 2045 4);
//     the first of a repeated Content-* field counts. MD5 is the Content-MD5 value (NIL
//     when absent).
//
// Line ends. Maildir files written by our delivery are CRLF (protocols/smtp/data_reader.h
// keeps the wire's CRLF, and writes a bare LF as CRLF in normalize mode); files written by
// Dovecot (doveadm save, deliver) or copied from mbox archives have bare LF. IMAP counts
// and sends CRLF (RFC 9051 2.2: "all interactions ... are in the form of lines ... CRLF";
// RFC822.SIZE, body octets and literal lengths count CRLF). So the caller converts the file
// bytes ONCE with to_crlf() and parses the result: every size, line count, section and
// literal below is then CRLF by construction, and nothing here converts again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/message.h"
#include "protocols/imap/command.h"

namespace ringmail::imap {

// Bare LF -> CRLF (a CR already before the LF is kept; a lone CR is left alone, as
// Dovecot's istream-crlf does). Returns the input unchanged when it has no bare LF.
std::string to_crlf(std::string_view bytes);

// IMAP string output: quoted when the bytes allow it (see above), else {n}\r\n literal.
void append_string(std::string& out, std::string_view s);
// NIL for nullopt.
void append_nstring(std::string& out, std::optional<std::string_view> s);

// "(date subject (from) (sender) (reply-to) (to) (cc) (bcc) in-reply-to message-id)" of
// the message (parts[0]).
std::string render_envelope(const mail::message& m);

// BODYSTRUCTURE (extensible = true) or BODY (false) of the message, with the outer
// parentheses: "("TEXT" "PLAIN" ...)".
std::string render_body_structure(const mail::message& m, bool extensible);

struct section_result {
  enum class status {
    ok,
    missing,      // the part does not exist (the session answers NIL or "" as it chooses)
    unknown_cte,  // BINARY of a part whose Content-Transfer-Encoding we cannot decode
                  // (RFC 3516 4.3: NO [UNKNOWN-CTE])
  } st = status::ok;
  std::string bytes;
};

// BODY[section] (binary=false) or BINARY[section] (binary=true: the part's content
// transfer-decoded, RFC 3516; only part numbers, kind::whole). `m` must have been parsed
// from to_crlf() bytes. <partial> is the caller's: it cuts `bytes`.
section_result render_section(const mail::message& m, const section_spec& s, bool binary);

// BINARY.SIZE[part]: the size of the decoded content (RFC 3516 4.2); 0 when the part is
// missing (as Dovecot), nullopt when its encoding is unknown.
std::optional<uint64_t> binary_size(const mail::message& m, const std::vector<uint32_t>& part);

// The first address of an address-list header value (raw, folded or not), parsed as
// ENVELOPE parses it (missing mailbox/domain filled in as MISSING_MAILBOX/MISSING_DOMAIN, a
// group's start as the group name in `mailbox`, the display name still RFC 2047-encoded).
// For SORT FROM/TO/CC/DISPLAYFROM/DISPLAYTO (sort.h): Dovecot's index-sort.c uses the same
// parser. nullopt when the value holds no address. (Added for issue 11 SORT.)
struct first_address_result {
  std::optional<std::string> name, mailbox, domain;
};
std::optional<first_address_result> first_address(std::string_view value);

}  // namespace ringmail::imap
