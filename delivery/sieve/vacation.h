// vacation: whether a Sieve `vacation` action (RFC 5230, RFC 6131 vacation-seconds)
// answers this message, and the answer itself. Pure: no runtime, no clock, no memory of
// earlier replies -- sieve_memory.h remembers whom we answered (RFC 5230 4.2); the
// delivery glue asks it between decide_vacation() and build_vacation_reply().
//
// RFC 5230 4.5, "Restrictions on Replies", and Pigeonhole 0.5's act_vacation_commit(),
// checked in this order (the first that applies is the verdict):
//   - the envelope sender is the null path <> ("MUST NOT reply to a message with an
//     empty envelope sender"; RFC 3834 2);
//   - the sender is not local@domain or holds a control octet (Pigeonhole refuses what
//     does not parse as an SMTP address; the SMTP session should not have let it in, and
//     no reply could be addressed to it without injecting into the envelope or To:);
//   - the sender is the recipient or one of :addresses (Pigeonhole: "discarded vacation
//     reply to own address");
//   - a mailing list: any of List-Id (RFC 2919), List-Owner, List-Subscribe, List-Post,
//     List-Unsubscribe, List-Help, List-Archive (RFC 2369), Pigeonhole's list;
//   - Auto-Submitted: (RFC 3834 5) with a value other than "no" (its keyword, before
//     any ';' parameters or comment, compared case-insensitively);
//   - Precedence: bulk, list or junk (not standard; RFC 5230 4.5 and every vacation
//     program since BSD's honour it);
//   - a "system" sender, Pigeonhole's _is_system_address(): the local part is
//     MAILER-DAEMON, LISTSERV or majordomo, starts with "owner-" or ends in "-request"
//     (RFC 5230 4.5 names owner-*, *-request and MAILER-DAEMON), any case;
//   - none of the user's addresses (the envelope recipient, the user's own aliases given
//     by the directory, and :addresses) is in To, Cc, Bcc, Resent-To, Resent-Cc or
//     Resent-Bcc (RFC 5230 4.5 SHOULD; Pigeonhole's sieve_vacation_dont_check_recipient
//     = no, its default). The address that matched is the reply's From: when the script
//     gave no :from (Pigeonhole: "<recipient>").
// Addresses compare case-insensitively as a whole (Pigeonhole's
// smtp_address_equals_icase). Departure: Pigeonhole checks its duplicate database
// before the header rules; we leave that to the glue, after these rules, so a list
// message never costs a memory lookup.
//
// The reply (RFC 5230 5, as Pigeonhole writes it):
//   Envelope: MAIL FROM:<> (RFC 5230 5.1 "SHOULD be set to <>"; Pigeonhole's default
//     sieve_vacation_send_from_recipient = no), RCPT TO: the original's envelope sender
//     (RFC 5230 5.2; Pigeonhole's reply_to).
//   Date, Message-ID (new), From: :from as given (an address with or without a display
//     name; an unreadable one falls back) or "<user address>", To: "<sender>",
//   Subject: :subject, else "Auto: " + the original's decoded Subject:, else
//     "Automated reply" (Pigeonhole 0.5; RFC 5230 5.5 suggests "Auto:"), RFC
//     2047-encoded when not ASCII,
//   In-Reply-To: the original's Message-ID, References: its References then that id
//     (RFC 5230 5.6, RFC 5322 3.6.4),
//   Auto-Submitted: auto-replied (vacation) (RFC 5230 5.7, RFC 3834 5; the comment is
//     Pigeonhole's), Precedence: bulk (Pigeonhole), MIME-Version: 1.0,
//   the body: without :mime, text/plain; charset=utf-8 with the reason (transfer
//     encoding by outgoing_message.h); with :mime, the reason is a MIME entity: its
//     Content-* fields become the reply's (every other field it holds is dropped: a
//     script may not add Bcc:) and its body follows as written, CRLF line ends, a line
//     over 998 octets broken (RFC 5322 2.1.1); an entity without Content-Type is
//     text/plain (RFC 2045 5.2).
// Departure: Pigeonhole copies the :mime entity's header block whole; we keep only its
// Content-* fields, so a hostile script cannot inject header fields.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/sieve/interpreter.h"
#include "delivery/sieve/outgoing_message.h"
#include "mail/charset.h"
#include "mail/header.h"

namespace ringmail::sieve {

enum class vacation_verdict : uint8_t {
  reply,
  null_sender,     // MAIL FROM:<>
  own_address,     // the sender is the user (recipient, aliases, :addresses)
  mailing_list,    // List-Id / List-* present
  auto_submitted,  // Auto-Submitted: other than "no"
  precedence,      // Precedence: bulk / list / junk
  system_sender,   // MAILER-DAEMON, LISTSERV, majordomo, owner-*, *-request
  not_addressed,   // none of the user's addresses in To/Cc/Bcc/Resent-*
  invalid_sender,  // not local@domain, or a control octet: no reply could reach it safely
};
// "reply", "null-sender", ...: for the delivery log (key=value).
std::string_view verdict_name(vacation_verdict verdict);

struct vacation_input {
  std::string_view sender;                  // envelope MAIL FROM, no brackets; "" for <>
  std::string_view recipient;               // the envelope recipient (final address)
  std::vector<std::string> user_addresses;  // the user's other addresses (aliases), may be empty
  const mail::header_block* header = nullptr;  // the original's header section
};

struct vacation_decision {
  vacation_verdict verdict = vacation_verdict::reply;
  std::string reply_from;  // verdict reply: the user's address that was in To/Cc/...
};

// RFC 5230 4.5 (above). `vacation` is the interpreter's action (kind vacation).
vacation_decision decide_vacation(const action& vacation, const vacation_input& in);

// Pigeonhole's system addresses (above), on an envelope path without brackets.
bool is_system_address(std::string_view address);

// The key sieve_memory remembers a reply under besides the sender (RFC 5230 4.2): the
// :handle when given, else one made of :subject, :from, :mime and the reason ("if the
// :handle argument is not specified, the implementation SHOULD generate one ... from
// the :subject, :from, :mime and reason"), so editing the text answers everyone again.
std::string vacation_handle(const action& vacation);

struct vacation_reply_request {
  const action* vacation = nullptr;     // the action (kind vacation)
  std::string_view sender;              // the reply goes there (envelope and To:)
  std::string_view reply_from;          // decide_vacation's reply_from
  const mail::header_block* original = nullptr;  // the original's header section
  mail::charset_converter* charsets = nullptr;   // to decode the original's Subject:
  std::string_view host;                // our host name (Message-ID)
  int64_t now = 0;                      // unix seconds (Date:, Message-ID)
};

outgoing_message build_vacation_reply(const vacation_reply_request& request);

}  // namespace ringmail::sieve
