// From a score to what the SMTP server does with the message (thresholds by flag), and
// the X-Spam-* header lines delivery adds (SpamAssassin's format, which Sieve scripts,
// mail clients and Dovecot's antispam setups already understand).
#pragma once

#include <string>

#include "spam/scanner.h"

namespace ringmail::spam {

struct verdict_policy {
  double reject_score = 15.0;  // >= : 554 5.7.1 at end of data (rspamd's "reject" 15)
  double junk_score = 5.0;     // >= : delivered into the user's Junk folder
  bool junk_folder = true;     // false: "add headers only" — spam stays in INBOX, marked
  bool greylist = false;       // on: unknown triplets with score >= greylist_score get 451
  double greylist_score = 4.0; // rspamd's default greylist threshold
};

enum class spam_action { inbox, junk, greylist, reject };

// `triplet_known`: the greylist already saw this client/sender/recipient long enough ago.
spam_action decide(const scan_result& result, const verdict_policy& policy, bool triplet_known);
// Whether decide() could answer greylist for this score (so the caller asks the greylist
// only when it matters).
bool wants_greylist(const scan_result& result, const verdict_policy& policy);

// "X-Spam-Status: Yes, score=7.1 required=5.0 tests=A,B\r\n\t...\r\nX-Spam-Score: 7.1\r\n"
// plus "X-Spam-Flag: YES" for spam; lines folded at 78 columns.
std::string spam_header_lines(const scan_result& result);
// For a message we did not scan (too large, scanner failure): "X-Spam-Status: No,
// skipped=<reason>" so a later filter can tell.
std::string skipped_header_lines(std::string_view reason);

}  // namespace ringmail::spam
