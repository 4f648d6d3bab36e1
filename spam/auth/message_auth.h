// message_auth: what the mail-authentication checks found out about one received message
// (issue 16): SPF for the MAIL FROM and the HELO name, every DKIM signature, DMARC for the
// From domain, the ARC chain. The SMTP session fills it at the end of DATA (spam/auth/
// check.h), the scanner's SPF/DKIM/DMARC evals read it, the Authentication-Results header
// (spam/auth/authentication_results.h) prints it, and the verdict acts on DMARC's policy.
//
// Result names are the RFC 8601 keywords (RFC 8601 §2.7 lists them per method), so
// to_string() gives what the header carries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::spam {

// RFC 7208 §2.6.
enum class spf_result : uint8_t { none, neutral, pass, fail, softfail, temperror, permerror };
std::string_view to_string(spf_result r);

// RFC 8601 §2.7.1 (DKIM, also each ARC-Message-Signature).
enum class dkim_result : uint8_t { none, pass, fail, policy, neutral, temperror, permerror };
std::string_view to_string(dkim_result r);

// RFC 7489 §11.2 (DMARC).
enum class dmarc_result : uint8_t { none, pass, fail, temperror, permerror };
std::string_view to_string(dmarc_result r);

// The policy a DMARC record asks receivers to apply to failing mail (RFC 7489 §6.3 p=).
enum class dmarc_policy : uint8_t { none, quarantine, reject };
std::string_view to_string(dmarc_policy p);

// RFC 8617 §4.4 (the chain validation status, cv=).
enum class arc_result : uint8_t { none, pass, fail };
std::string_view to_string(arc_result r);

struct spf_check {
  spf_result result = spf_result::none;
  std::string domain;       // the domain checked: MAIL FROM's, or the HELO name for <>
  std::string explanation;  // a fail's exp= text, or why (permerror/temperror), for logs
};

struct dkim_signature_check {
  dkim_result result = dkim_result::none;
  std::string domain;     // d=
  std::string selector;   // s=
  std::string identity;   // i= (or "@" + d= when absent)
  std::string algorithm;  // a=, "rsa-sha256" / "ed25519-sha256"
  std::string b_prefix;   // the first 8 characters of b= (RFC 6008 header.b), to tell
                          // two signatures of one domain apart
  unsigned key_bits = 0;  // the public key's size (RSA), 256 for Ed25519; 0 unknown
  bool body_length_limited = false;  // l= was given and the body went on past it
  std::string reason;     // why not pass, for logs and the header's comment
};

struct dmarc_check {
  dmarc_result result = dmarc_result::none;
  std::string from_domain;     // RFC5322.From's domain (header.from)
  std::string policy_domain;   // where the record was found (from or organizational domain)
  dmarc_policy policy = dmarc_policy::none;  // p= or sp= as applies to from_domain
  // The policy to act on: `policy`, unless the message passed, or pct= sampled it out
  // (then one step down, RFC 7489 §6.6.4: reject -> quarantine -> none).
  dmarc_policy disposition = dmarc_policy::none;
  bool spf_aligned = false;
  bool dkim_aligned = false;
  std::string reason;  // for logs: "no record", "multiple From domains", ...
};

struct arc_check {
  arc_result result = arc_result::none;
  unsigned instances = 0;     // i= of the newest ARC set (0 without ARC headers)
  std::string reason;         // why fail, for logs
  // The oldest instance's sealer domain whose AMS still passed ... (for the Authentication-
  // Results comment; empty when not known).
  std::string oldest_pass_domain;
};

struct message_auth {
  bool checked = false;  // false: the checks did not run (no evals hit, no header)
  spf_check spf;         // MAIL FROM (smtp.mailfrom)
  spf_check helo_spf;    // the HELO/EHLO name (smtp.helo)
  std::vector<dkim_signature_check> dkim;  // one per DKIM-Signature, header order
  dmarc_check dmarc;
  arc_check arc;

  // A DKIM signature that passed for `domain` (exactly, case-insensitively).
  bool dkim_pass_for(std::string_view domain) const;
  bool any_dkim_pass() const;
};

}  // namespace ringmail::spam
