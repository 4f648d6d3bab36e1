// One SMTP (RFC 5321) or LMTP (RFC 2033) session: story 1 of DESIGN.md from the greeting
// to the last reply. The parsing is in command_reader / command / data_reader (pure);
// this file is the glue: it asks the directory about recipients and the scanner about the
// message, hands the message and its resolved recipients to a message sink
// (delivery/sink), and answers.
//
// The connection (this session) and the transaction (MAIL … DATA, with its recipients)
// are separate objects, as in OpenSMTPD; RSET, a new EHLO and STARTTLS reset the
// transaction. Replies are collected and sent when the client's pipelined input is used
// up (RFC 2920), so a pipelined burst costs one write.
#pragma once

#include <memory>
#include <string>

#include "delivery/directory/resolver.h"
#include "delivery/sink/local_sink.h"
#include "protocols/smtp/spam_filter.h"
#include "runtime/tcp_service.h"
#include "runtime/tls_context.h"

namespace ringmail::smtp {

struct server_config {
  std::string hostname = "localhost";
  bool lmtp = false;
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
};

task<void> run_session(session& s, const server_config& config, shard_context& shard);

}  // namespace ringmail::smtp
