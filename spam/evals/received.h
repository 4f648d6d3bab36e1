// The relays a message passed through, parsed from its Received headers as SpamAssassin's
// Message/Metadata/Received.pm does (parse_received_headers / parse_received_line), and
// the X-Spam-Relays-{Trusted,Untrusted,Internal,External} pseudo-headers it makes of them:
//   "[ ip=1.2.3.4 rdns=host helo=x by=y ident= envfrom= intl=0 id=ABC auth= msa=0 ] [ ... ]"
// Many stock header rules (RDNS_NONE, HELO_*, RDNS_DYNAMIC ...) and the RelayEval and
// HeaderEval functions read these.
//
// Trust: we have no trusted_networks / internal_networks (as SA without them): SA then
// infers trust hop by hop from the top: a relay whose IP is private or that used SMTP
// AUTH is trusted (and internal); the first one that is neither ends trust for it and
// all below. Without DNS, rdns is only what the receiving MTA wrote in the header.
#pragma once

#include <string>
#include <vector>

#include "mail/message_text.h"

namespace ringmail::spam {

struct relay {
  std::string ip, rdns, helo, by, ident, envfrom, id, auth;
  std::string lc_rdns, lc_helo, lc_by;
  bool has_envfrom = false;
  bool ip_private = false;
  bool no_reverse_dns = false;       // the MTA looked it up and found none
  bool rdns_not_in_headers = false;  // the MTA does not record rDNS
  bool internal = false;
  bool msa = false;
  std::string as_string;
};

struct relay_info {
  std::vector<relay> trusted, untrusted, internal, external;
  std::string trusted_str, untrusted_str, internal_str, external_str;
  size_t unparseable = 0;
  // Received headers that parse_received_line rejected (0) or could not parse (undef)
  // above the last trusted relay: SA's last_trusted_relay_index bookkeeping.
  int last_trusted_relay_index = -1;
};

// One Received header value (unfolded). nullopt-like: `parsed` false with `ignored`
// true for handovers SA skips on purpose (return 0), false for unparseable ones (undef).
struct received_parse {
  bool parsed = false;
  bool ignored = false;
  bool pop_fetcher = false;  // "with POP3/IMAP": SA's found_pop_fetcher_sig
  relay r;
};
received_parse parse_received_line(std::string_view value);

// All Received headers of `text`, top (newest) first, as SA orders them.
relay_info parse_relays(const mail::message_text& text);

}  // namespace ringmail::spam
