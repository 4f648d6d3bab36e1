// authentication_results: the Authentication-Results header field (RFC 8601) — the one
// we add with our checks' results, and the removal of fields that claim to be ours.
//
// Writing (format_authentication_results): one resinfo per method, in the order iprev,
// spf (smtp.mailfrom), spf (smtp.helo), dkim (one per signature, header order), dmarc,
// arc, each on its own folded line as rspamd and opendmarc write them. "none" results are
// written for SPF of the MAIL FROM, DKIM (a single "dkim=none" when unsigned), DMARC and
// ARC, as rspamd does: they tell later readers the check ran and found nothing. The HELO
// check is written only when it gave a result (not "none"): it is a side check and most
// HELO names publish no SPF. iprev appears only when the caller has its result.
// When the checks did not run at all, the field is "Authentication-Results: id; none"
// (RFC 8601 §2.2 no-result).
//
// Every text that comes from outside (domains, selectors, reasons, addresses) is
// stripped of control characters (CR, LF, NUL, ...), so no header can be injected, and is
// written as an RFC 2045 token when it is one, else as a quoted-string (ptype values) or
// inside an escaped comment. Lines fold at 78 columns where they can (between elements),
// every line ends in CRLF, and the whole field ends in CRLF.
//
// Reading (authserv_id_of, remove_our_authentication_results): RFC 8601 §5 — a border
// MTA MUST remove (or rename) fields that arrive with its own authserv-id, or downstream
// readers would trust forged results. The authserv-id is the first value of the field
// after CFWS (comments nest, quoted-pairs escape); a version may follow it (§2.2).
// ARC-Authentication-Results fields are left alone: they are sealed by other hops and
// removing them would break their ARC chains.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spam/auth/message_auth.h"

namespace ringmail::spam {

// RFC 8601 §2.7.3 iprev: the client's address and whether its PTR name resolves back.
struct iprev_check {
  std::string result;   // "pass", "fail", "temperror", "permerror"
  std::string address;  // policy.iprev (the client IP)
  std::string name;     // the PTR name that was checked, for the comment ("" if none)
};

// What the header needs besides the checks' results.
struct ar_context {
  std::string mail_from;  // the MAIL FROM address ("" for <>), for smtp.mailfrom
  std::string helo;       // the HELO/EHLO name, for smtp.helo
  std::optional<iprev_check> iprev;
};

// The whole header field, "Authentication-Results: ...\r\n", folded.
std::string format_authentication_results(std::string_view authserv_id, const message_auth& auth,
                                          const ar_context& context);

// The authserv-id of an Authentication-Results field value (raw: folding, comments and
// quoting as received). A quoted authserv-id is returned without its quotes (quoted-pairs
// left as written). Empty when there is none (an empty value, only comments, an
// unterminated quote or comment).
std::string_view authserv_id_of(std::string_view header_value);

struct byte_range {
  size_t offset = 0;
  size_t length = 0;
  bool operator==(const byte_range&) const = default;
};

// The Authentication-Results fields of the message's header block (up to the first empty
// line) whose authserv-id equals `authserv_id` (ASCII case-insensitively), each as the
// whole field with its folded lines and line end, in ascending order. Every field of the
// block is looked at: the message model's field limits (mail/limits.h) are not applied, so
// a forged field cannot hide behind a thousand others.
std::vector<byte_range> remove_our_authentication_results(std::string_view message, std::string_view authserv_id);

// `message` without `ranges` (ascending, not overlapping) — for tools and tests; the SMTP
// session copies around the ranges itself.
std::string without_ranges(std::string_view message, const std::vector<byte_range>& ranges);

}  // namespace ringmail::spam
