// PREVIEW (RFC 8970): a short plain-text extract of a message for a client's message
// list. Pure: a parsed message in, UTF-8 text out.
//
// RFC 8970 section 3: the preview is "a plain text representation of the message data"
// ... "MUST NOT be greater than 256 characters", and the server "SHOULD" take it from
// the text a user would see first, without markup. What we take, as Dovecot's snippet
// (its 2.3 FETCH SNIPPET, the draft PREVIEW grew out of) does:
//   - the first non-attachment text/plain or text/html leaf in part order; inside a
//     multipart/alternative, its text/plain child when it has one (whatever the order);
//   - transfer-decoded (base64, quoted-printable) and converted to UTF-8 from the part's
//     charset (mail/charset.h: unknown charsets and bad bytes never fail);
//   - text/html rendered to text (mail/html_text.h: tags, <script>/<style> and comments
//     dropped, entities decoded), and the content of <iframe> elements dropped;
//   - text/plain lines quoting an earlier message ("> ...") left out, as Dovecot does;
//   - every run of whitespace (ASCII space, tab, CR, LF, and U+00A0 NO-BREAK SPACE from
//     &nbsp;) collapsed to one space, none at either end;
//   - cut to kPreviewMaxChars Unicode scalar values, never inside a UTF-8 sequence.
// A message with no such part (only attachments, an empty body) has the empty preview
// "" (RFC 8970: NIL is for "not available", which a LAZY fetch may answer instead).
#pragma once

#include <cstddef>
#include <string>

#include "mail/charset.h"
#include "mail/message.h"

namespace ringmail::imap {

inline constexpr size_t kPreviewMaxChars = 256;  // RFC 8970 section 3
// Decoded bytes of the chosen part looked at: enough for 256 characters after a long
// HTML <head> or a page of quoted text; a 50 MB body costs no more than this.
inline constexpr size_t kPreviewMaxInputBytes = 256 * 1024;

std::string make_preview(const mail::message& m, mail::charset_converter& charsets);

// Whitespace collapsed and cut to `max_chars` characters (exposed for tests).
std::string collapse_and_cut(std::string_view utf8, size_t max_chars);

}  // namespace ringmail::imap
