// check: DMARC evaluation of one received message (RFC 7489 §6.6): find the policy
// record, see whether SPF or DKIM passed for a domain aligned with the From domain, and
// say what the domain owner asks us to do with the message.
//
// Decisions where the RFC leaves a choice:
//   - From domains (§6.6.1). Every address of every From field counts (a message with
//     two From fields is treated as one field with all their addresses). Domains are
//     compared case-insensitively and evaluated once each; several distinct domains are
//     each checked and the worst outcome is reported — fail with the strictest
//     disposition, then temperror, permerror, pass, none — which is §6.6.1's "apply the
//     most strict policy selected among the checks that fail", so adding a second From
//     address cannot dodge a p=reject. More than max_from_domains distinct domains is
//     permerror (each costs up to two lookups); no From domain at all is none.
//   - Discovery (§6.6.3): TXT at _dmarc.<From domain>; only records that start with
//     v=DMARC1 count. None there (NXDOMAIN, no TXT, only non-DMARC TXT): the same at
//     _dmarc.<Organizational Domain> when it differs. More than one DMARC record at the
//     place looked: none (step 5). One invalid record (no valid p= and no valid rua=):
//     permerror (RFC 7489 §11.2 names "a syntactically incorrect DMARC record"). A DNS
//     failure (timeout, SERVFAIL, any status but ok/NXDOMAIN/no data): temperror, without
//     falling back to the Organizational Domain (its policy may be laxer than the one we
//     could not read).
//   - Policy: p= when the record came from the From domain itself; sp= (else p=) when it
//     came from the Organizational Domain for a From subdomain.
//   - pct= (§6.6.4): a failing message is "sampled in" when a roll in [0, 100) is below
//     pct; sampled out, the disposition is one step down (reject -> quarantine,
//     quarantine -> none). The roll comes from dmarc_request::percent_roll (tests inject
//     it) and is made once per message.
//   - The SPF identifier is whatever the caller passes (RFC 7489 §4.1 / §3.1.2: the
//     MAIL FROM domain, the HELO name for a null reverse-path).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "spam/auth/message_auth.h"
#include "spam/dmarc/public_suffix.h"
#include "spam/dmarc/record.h"
#include "spam/dns/dns_client.h"

namespace ringmail::spam::dmarc {

inline constexpr size_t max_from_domains = 5;

struct dmarc_request {
  // The values of every From header field, as in the message (folded or not).
  std::vector<std::string> from_values;
  // SPF's result for the MAIL FROM domain (or the HELO name for <>), with that domain.
  spf_check spf;
  // Every DKIM signature's result (only passing ones with their d= count).
  std::vector<dkim_signature_check> dkim;
  // Returns a number in [0, 100) for pct= sampling; empty: std::random_device.
  std::function<unsigned()> percent_roll;
};

// The From domains (lower-case, distinct, in order of appearance) of `from_values`.
std::vector<std::string> from_domains(const std::vector<std::string>& from_values);

// Identifier alignment (§3.1.1 / §3.1.2): strict = the same name; relaxed = the same
// Organizational Domain (the name itself without a list).
bool aligned(const public_suffix_list* list, std::string_view authenticated, std::string_view from_domain,
             alignment mode);

// `request` and `list` must outlive the task (the session awaits it at once).
task<dmarc_check> check_dmarc(dns_client& dns, const public_suffix_list* list, const dmarc_request& request);

}  // namespace ringmail::spam::dmarc
