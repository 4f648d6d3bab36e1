// The trace headers a receiving MTA adds (RFC 5321 section 4.4). The ones delivery adds
// (Return-Path, Delivered-To) are delivery's: delivery/sink/local_sink.h.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

namespace ringmail::smtp {

struct received_info {
  std::string helo;          // what the client said in HELO/EHLO/LHLO
  std::string peer_ip;       // "192.0.2.1" or "2001:db8::1"
  std::string by;            // our hostname
  std::string protocol;      // "ESMTP", "ESMTPS", "ESMTPA", "LMTP", … (RFC 3848)
  std::string id;            // our queue/session id
  std::string tls_version;   // "TLSv1.3" when TLS was used, else empty
  std::string tls_cipher;
  std::string for_recipient; // only when the message has exactly one recipient
  std::string authenticated_sender;  // the AUTH login, written as Postfix does; "" if none
  bool hide_client = false;  // no "from" clause (helo, IP): --submission_hide_client
  std::time_t when = 0;
};

// "Received: from … by … with … id …; <RFC 5322 date>\r\n", folded at 78 columns.
std::string received_header(const received_info& info);


}  // namespace ringmail::smtp
