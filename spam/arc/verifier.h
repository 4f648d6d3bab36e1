// verifier: ARC chain validation (RFC 8617 §5.2).
//
//   none  no ARC header fields
//   fail  broken structure (collect_arc_sets), the newest seal says cv=fail, a cv= out
//         of order (instance 1 must say none, later ones pass), the newest
//         ARC-Message-Signature does not verify, or any ARC-Seal does not (each over
//         the sets up to its own instance, §5.1.1), or a key is missing or refused
//   pass  otherwise
// A key lookup that cannot be answered (timeout, servfail) fails the chain too: arc_check
// has no temperror (RFC 8617 §5.2 leaves it to the receiver); the reason says so.
// oldest_pass_domain: the sealer domain of the lowest instance whose AMS still verifies
// (§5.2 step 6, "oldest-pass"; looked up only when the chain passes, at most
// max_instances_checked AMSs).
#pragma once

#include <string_view>

#include "runtime/task.h"
#include "spam/auth/message_auth.h"
#include "spam/dkim/verifier.h"
#include "spam/dns/dns_client.h"

namespace ringmail::spam::arc {

struct arc_verify_options {
  dkim::dkim_verify_options keys;     // key limits, lookup limits, key_cache (now, max_signatures unused)
  bool find_oldest_pass = true;
  unsigned max_instances_checked = 10;  // AMSs below the newest verified for oldest-pass
};

task<arc_check> verify_arc(dns_client& dns, std::string_view message, arc_verify_options options = {});

}  // namespace ringmail::spam::arc
