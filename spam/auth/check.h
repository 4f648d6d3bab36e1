// check: every mail-authentication check of one received message, at the end of DATA
// (issue 16): SPF for the MAIL FROM and the HELO name, every DKIM signature and the ARC
// chain — at once, their DNS lookups overlapping — then DMARC over their results.
//
// Pure over dns_client: the SMTP session passes the shard's DNS cache; tests and tools an
// in-memory zone (with which the task never suspends: run_inline).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "runtime/task.h"
#include "spam/auth/message_auth.h"
#include "spam/dkim/verifier.h"
#include "spam/dmarc/public_suffix.h"
#include "spam/dns/dns_client.h"
#include "spam/spf/check.h"

namespace ringmail::spam {

struct auth_request {
  std::string_view message;  // the whole message as received (CRLF)
  std::string client_ip;     // "192.0.2.1" / "2001:db8::1"
  std::string helo;          // the HELO/EHLO argument
  std::string mail_from;     // the reverse path without <>; "" for the null sender
  std::string receiver;      // our host name (SPF %{r})
  int64_t now = 0;           // Unix seconds; 0: the current time
};

struct auth_options {
  spf_options spf;
  dkim::dkim_verify_options dkim;
  bool check_helo = true;  // SPF of the HELO name too (smtp.helo)
  bool check_arc = true;
  // pct= sampling for DMARC (tests inject it); empty: random.
  std::function<unsigned()> percent_roll;
};

// `request`, `suffixes` and `options` must outlive the task (the session awaits it at
// once). `suffixes` may be null: Organizational Domains are then the From domain itself.
task<message_auth> check_message_auth(dns_client& dns, const dmarc::public_suffix_list* suffixes,
                                      const auth_request& request, const auth_options& options);

}  // namespace ringmail::spam
