#include "protocols/smtp/trace_headers.h"

#include "mail/date.h"

#include <cstdio>

namespace ringmail::smtp {

std::string received_header(const received_info& info) {
  // Postfix: "from helo (name [ip])\n\t(Authenticated sender: user)\n\tby ...". Hiding
  // the client drops the whole from clause (RFC 5321 4.4 makes it a SHOULD, and the
  // user's home address is the privacy leak), keeping the authenticated sender.
  std::string h = "Received: ";
  if (!info.hide_client) h += "from " + info.helo + " ([" + info.peer_ip + "])\r\n\t";
  if (!info.authenticated_sender.empty()) h += "(Authenticated sender: " + info.authenticated_sender + ")\r\n\t";
  h += "by " + info.by + " (ringmail) with " + info.protocol + " id " + info.id;
  if (!info.tls_version.empty()) {
    h += "\r\n\t(using " + info.tls_version + " with cipher " + info.tls_cipher + ")";
  }
  if (!info.for_recipient.empty()) h += "\r\n\tfor <" + info.for_recipient + ">";
  h += "; " + mail::format_message_date(info.when) + "\r\n";
  return h;
}


}  // namespace ringmail::smtp
