// reject_notice: the message a Sieve `reject` sends back when the refusal cannot be made
// in the SMTP/LMTP dialogue (RFC 5429 2.1: "the message SHOULD be refused at the protocol
// level ... otherwise an MDN [RFC 3798] MUST be sent"; at delivery after the DATA reply
// we have already accepted the message, as Pigeonhole's LDA has). Pure: no runtime, no
// clock.
//
// The shape is Pigeonhole's act_reject_send() (Dovecot's mail_send_rejection before it),
// which bounce processors know (Sisimai matches "Your message to <...> was automatically
// rejected:"):
//   Envelope: MAIL FROM:<> (RFC 3798 2.1 / RFC 5429 2.1: "the MDN is sent to the
//     envelope sender with a null return path"), RCPT TO: the original's sender.
//   Date, Message-ID, From: Mail Delivery Subsystem <postmaster address>, To: <sender>,
//   Subject: "Rejected: " + the original's decoded Subject: (Dovecot's
//     rejection_subject "Rejected: %s"), "Automatically rejected mail" when it has none
//     (Pigeonhole's fixed subject), RFC 2047-encoded when not ASCII,
//   In-Reply-To / References: the original's Message-ID (ours; helps threading),
//   Auto-Submitted: auto-replied (rejected), Precedence: bulk, MIME-Version: 1.0,
//   Content-Type: multipart/report; report-type=disposition-notification (RFC 3798 3,
//     RFC 6522):
//   part 1 text/plain; charset=utf-8: "Your message to <recipient> was automatically
//     rejected:" CRLF and the script's reason (Dovecot's rejection_reason default);
//   part 2 message/disposition-notification (RFC 3798 3.1): Reporting-UA: <host>;
//     ringmail, Original-Recipient (when known), Final-Recipient, Original-Message-ID
//     (when the original has one), Disposition: automatic-action/MDN-sent-automatically;
//     deleted (RFC 5429 2.1);
//   part 3 text/rfc822-headers: the original's header section (relay::returned_headers,
//     at most 64 KiB).
// Departures: part 3 is text/rfc822-headers (RFC 6522 4, what a header-only return is);
// Pigeonhole labels the same header-only bytes message/rfc822. Reporting-UA names
// ringmail, not "Dovecot Mail Delivery Agent".
//
// Injection: the reason is body text (CRLF lines, encoded by outgoing_message.h, the
// boundary chosen to occur nowhere in it: relay::pick_boundary); addresses in report
// fields go through relay::notice_address (RFC 6533 xtext when not printable ASCII);
// the original's header is returned only up to its first empty line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "delivery/sieve/outgoing_message.h"
#include "mail/charset.h"

namespace ringmail::sieve {

struct reject_notice_request {
  std::string_view reason;              // the script's reason (UTF-8)
  std::string_view sender;              // the original's envelope sender: the notice goes there
  std::string_view recipient;           // the final recipient (Final-Recipient, the text)
  std::string_view original_recipient;  // as given in RCPT TO when it differs; "" if not known
  std::string_view original;            // the original message (header section used)
  mail::charset_converter* charsets = nullptr;  // decodes the original's Subject:
  std::string_view host;                // our host name (Reporting-UA, Message-ID)
  std::string_view postmaster;          // From: address; "" -> "postmaster@<host>"
  int64_t now = 0;                      // unix seconds
};

// RFC 5429 2.1 / RFC 3798 2.1: no notice to the null sender, nor to MAILER-DAEMON or an
// address that could not be written without injection (relay::wants_dsn's rules).
bool wants_reject_notice(std::string_view sender);

outgoing_message build_reject_notice(const reject_notice_request& request);

}  // namespace ringmail::sieve
