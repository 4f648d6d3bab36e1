// dsn: the bytes of a delivery status notification the relay sends to a message's sender
// when it gives up on recipients ("failed") or when they are still being retried after
// the delay warning time ("delayed"). Pure: no runtime, no clock (the caller passes the
// times); notice_sender.h delivers what this builds.
//
// The shape is Postfix's bounce(8) output (src/bounce/bounce_notify_util.c and the
// built-in templates), which mail clients and bounce processors already know; checked
// against a real bounce of Debian's Postfix 3.7 (a private instance relaying to an
// smtp-sink that refuses RCPT):
//
//   Date, Message-ID
//   From: Mail Delivery System <MAILER-DAEMON@<host>>
//   Subject: Undelivered Mail Returned to Sender | Delayed Mail (still being retried)
//   To: <sender>
//   Auto-Submitted: auto-replied                                        (RFC 3834 5)
//   MIME-Version: 1.0
//   Content-Type: multipart/report; report-type=delivery-status;        (RFC 6522)
//           boundary="<queue id>.<time>/<host>"
//   part 1  text/plain: "This is the mail system at host ...", one paragraph per
//           recipient with the remote reply (Postfix's "host X said: ..."), wrapped
//   part 2  message/delivery-status (RFC 3464 2.2, 2.3): Reporting-MTA,
//           X-Ringmail-Queue-ID, X-Ringmail-Sender, Arrival-Date; per recipient
//           Final-Recipient, Original-Recipient (when known), Action, Status, Remote-MTA
//           (when a remote server answered), Diagnostic-Code, Last-Attempt-Date, and for
//           "delayed" Will-Retry-Until
//   part 3  text/rfc822-headers (RFC 6522 4): the original's header section only, trace
//           lines included, as queued (RFC 3461 RET=HDRS, Postfix's choice for delay
//           notices and for any message over bounce_size_limit)
//
// Line ends are CRLF throughout, as the SMTP session hands messages to the sinks (and so
// as the local sink and the queue store them).
//
// Everything in a DSN but our own text comes from someone else: the remote reply, the
// remote host name, the recipient addresses and the original header section. None of it
// may start a header field or a MIME part of its own:
//   - diagnostics and host names: CR, LF and other control octets become spaces, 8-bit
//     octets '?', as Postfix's bounce_log_read() masks them; the result is folded at 78
//     columns with 4-space continuation lines (Postfix's bounce_print_wrap), a word
//     longer than 900 octets cut, so no line passes RFC 5322's 998;
//   - addresses: printed as is only when they are printable ASCII; anything else is
//     written as RFC 6533's utf-8-addr-xtext ("\x{HEX}") with address type "utf-8" in the
//     report and in the text, so an SMTPUTF8 address or a hostile byte cannot break a line;
//     the To: field quotes a local part that is not a dot-atom (RFC 5322 3.4.1);
//   - the original header section ends at its first empty line, or at
//     kMaxReturnedHeaderBytes (64 KiB, at a line end) when it has none or is longer: a
//     10 MB header section or a message without a blank line costs 64 KiB, not the whole
//     message (Postfix's bounce_size_limit is 50 kB for the whole returned message; we
//     return headers only, so the cap is on them). It also ends before a line over 998
//     octets (RFC 5322 2.1.1), which could not be sent on. Its line ends are made CRLF;
//   - the boundary is checked against all the content and gets a suffix that occurs in
//     none of it (RFC 2046 5.1.1: it "must not appear inside any of the encapsulated
//     parts"), so an original that guesses the queue id and the time cannot end a part.
//
// Departures from Postfix:
//   - one Message-ID derived from the time, the queue id, the kind and the recipients
//     (Postfix uses the new bounce's own queue id, which we do not have yet);
//   - the returned content is always the header section (Postfix returns the whole
//     message in a bounce when it is under bounce_size_limit and RET=HDRS was not asked):
//     a DSN that carries the whole message again is how backscatter spam spreads;
//   - Last-Attempt-Date is written (Postfix has it under #if 0);
//   - dates are "+0000" UTC without Postfix's " (UTC)" comment;
//   - the notification text is us-ascii (Postfix 3.7 declares utf-8, 8bit), since every
//     address in it is ASCII or xtext;
//   - no "Received: by <host> (Postfix) id ..." line of the notice's own (Postfix's cleanup
//     adds one); the sink that stores or queues it adds what it adds to any message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/relay/notice_format.h"  // kMaxReturnedHeaderBytes and the helpers

namespace ringmail::relay {

enum class dsn_kind { failure, delay };

struct dsn_recipient {
  std::string address;      // the recipient the relay tried (Final-Recipient)
  std::string original;     // the address the sender wrote, when it differs (an alias); "" if not known
  std::string status;       // RFC 3463 "5.1.1" / "4.4.1"; "" or one of the wrong class: 5.0.0 / 4.0.0
  std::string remote_mta;   // the host that answered ("mx.example.org"), "" if none did
  std::string diagnostic;   // the remote reply ("550 5.1.1 no such user", lines joined by
                            // CR/LF or not), or our reason when no server answered
  int64_t last_attempt = 0; // unix seconds; 0: no Last-Attempt-Date
};

struct dsn_request {
  dsn_kind kind = dsn_kind::failure;
  std::string reporting_mta;  // our host name (Reporting-MTA, From: MAILER-DAEMON@...)
  std::string queue_id;       // the original's queue id
  std::string sender;         // the original's reverse path: the DSN goes there
  int64_t arrival = 0;        // unix seconds the original was queued; 0: no Arrival-Date
  int64_t now = 0;            // unix seconds: Date:, the boundary, the Message-ID
  int64_t retry_until = 0;    // delay: when the relay gives up (Will-Retry-Until)
  std::vector<dsn_recipient> recipients;  // at least one
  std::string_view original;  // the queued message (trace lines, then the message)
};

// The DSN as a message: header section, empty line, body; CRLF line ends.
std::string build_dsn(const dsn_request& request);

// RFC 3461 6.2 and RFC 5321 6.1 ("... notifications MUST NOT be sent [for] a null
// reverse-path"): false for "" (a DSN's own failure is dropped and logged, never
// returned), for a local part "MAILER-DAEMON" in any case (a bounce from an MTA that does
// not use the null sender), and for a path with a control octet or without a domain,
// which no DSN could reach without becoming a header injection.
bool wants_dsn(std::string_view reverse_path);

}  // namespace ringmail::relay
