// One SMTP (RFC 5321), submission (RFC 6409, RFC 8314) or LMTP (RFC 2033) session: story 1 of DESIGN.md from the greeting
// to the last reply. The parsing is in command_reader / command / data_reader (pure);
// this file is the glue: it asks the directory about recipients and the scanner about the
// message, hands the message and its resolved recipients to a message sink
// (delivery/sink), and answers.
//
// The connection (this session) and the transaction (MAIL … DATA, with its recipients)
// are separate objects, as in OpenSMTPD; RSET, a new EHLO and STARTTLS reset the
// transaction. Replies are collected and sent when the client's pipelined input is used
// up (RFC 2920), so a pipelined burst costs one write.
//
// Submission (issue 13): the role (command.h) decides what each command needs - HELO,
// TLS, AUTH - checked in one place before dispatch. AUTH PLAIN/LOGIN goes through
// protocols/sasl and the shard's authenticator. An authenticated user may use as MAIL
// FROM and in From: only the addresses resolver::may_send_as allows (553 5.7.1).
// Departure from ISPmail's Postfix: its reject_sender_login_mismatch checks the envelope
// sender only; issue 13 asks that the user "send only as the addresses the directory
// allows", and a From: the user does not own is what recipients see, so both are checked.
// Date: and Message-ID: are added to submitted mail when missing (RFC 6409 section 8.1
// and 8.3), and Received: says ESMTPA/ESMTPSA (RFC 3848) with "(Authenticated sender:
// user)" as Postfix writes it. Authenticated mail is not spam-scanned (as LMTP's default).
#pragma once

#include <memory>
#include <string>

#include "delivery/auth/authenticator.h"
#include "delivery/directory/resolver.h"
#include "delivery/sink/local_sink.h"
#include "protocols/smtp/command.h"
#include "protocols/smtp/mail_auth.h"
#include "protocols/smtp/spam_filter.h"
#include "runtime/tcp_service.h"
#include "runtime/tls_context.h"

namespace ringmail::smtp {

struct server_config {
  std::string hostname = "localhost";
  bool lmtp = false;  // the LMTP role (kept as a bool for its callers); else `role`
  // mx, submission or submissions (see command.h); role() resolves it with `lmtp`.
  session_role smtp_role = session_role::mx;
  session_role role() const { return lmtp ? session_role::lmtp : smtp_role; }
  // AUTH on the mx role (port 25), inside TLS only. Off: 25 is for mail from other
  // servers, and AUTH there only invites password guessing.
  bool mx_auth = false;
  // Leave the client's IP address and HELO name out of Received: on authenticated
  // mail (--submission_hide_client), as ISPmail setups do with a header_checks rule.
  bool hide_client = false;
  uint64_t max_message_size = 50ull << 20;  // SIZE offered and enforced
  size_t max_recipients = 1000;             // RFC 5321 4.5.3.1.8 asks for at least 100
  size_t max_errors = 20;                   // bad commands before 421
  duration command_timeout{std::chrono::minutes(5)};  // RFC 5321 4.5.3.2.7: 5 minutes
  duration data_timeout{std::chrono::minutes(3)};     // per block of DATA (4.5.3.2.5)
  duration session_timeout{std::chrono::hours(1)};    // whole session, checked per command
  bool allow_bare_lf = false;               // "normalize" mode; off: bare LF/CR is refused
  std::shared_ptr<tls::context> tls;        // STARTTLS offered when set
  bool spam_scan = true;                    // scan when the shard has a spam_shard
};

// What a session uses on its shard; owned by the shard, shared by its sessions.
struct shard_context {
  directory::resolver* resolver = nullptr;
  delivery::local_sink* local = nullptr;   // local recipients' copies go here
  directory::source* directory = nullptr;  // for quotas; none: quotas are not checked
  spam_shard* spam = nullptr;              // none: messages are not scanned
  // SPF/DKIM/DMARC/ARC checks of MX mail, DKIM signing of submitted mail, ARC sealing of
  // forwarded mail (issue 16); none: none of it.
  mail_auth_shard* mail_auth = nullptr;
  auth::authenticator* auth = nullptr;     // AUTH (RFC 4954); none: AUTH is not offered
  // Remote recipients of authenticated mail and remote alias destinations (the outbound
  // queue, delivery/queue). None yet: such recipients get 451 4.3.2 at RCPT, never a 250
  // for mail that would then be dropped.
  delivery::message_sink* queue = nullptr;
};

task<void> run_session(session& s, const server_config& config, shard_context& shard);

}  // namespace ringmail::smtp
