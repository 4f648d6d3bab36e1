// record: a DMARC policy record (RFC 7489 §6.3, §6.4), the TXT record at _dmarc.<domain>.
//
// Leniency, and where it departs from spam/auth/tag_list.h (RFC 6376's strict tag-list):
// records in the wild carry empty specs ("v=DMARC1;; p=none"), upper-case tags and values
// ("P=Reject") and tags twice, and receivers (opendmarc, rspamd) take them. RFC 7489's
// ABNF quotes its tag names and keywords as ABNF strings, which are case-insensitive
// (RFC 5234 §2.3), so "P=Reject" is valid; empty specs are skipped; of a tag given twice
// the first counts; unknown tags are ignored (§6.3 "MUST be ignored"). Strict where the
// RFC is: the record must start with v=DMARC1 (§6.4: "v" first, "DMARC1" in %x notation,
// so case-sensitive); a missing or invalid p= makes the record invalid unless rua= holds
// a syntactically valid URI, in which case it counts as p=none (§6.6.3 step 6, also for
// an invalid sp=). Invalid adkim=/aspf=/pct=/ri= values fall back to their defaults
// (r, r, 100, 86400) instead of voiding the whole record: a typo in an optional tag
// should not switch off a domain's reject policy. rua/ruf/fo/rf/ri are kept, not acted on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "spam/auth/message_auth.h"

namespace ringmail::spam::dmarc {

enum class alignment : uint8_t { relaxed, strict };

struct dmarc_record {
  dmarc_policy policy = dmarc_policy::none;            // p=
  std::optional<dmarc_policy> subdomain_policy;         // sp= (absent: p= applies)
  alignment dkim_alignment = alignment::relaxed;        // adkim=
  alignment spf_alignment = alignment::relaxed;         // aspf=
  unsigned percent = 100;                               // pct= (0..100)
  std::vector<std::string> aggregate_report_uris;       // rua= (kept, not used)
  std::vector<std::string> failure_report_uris;         // ruf= (kept, not used)
  std::string failure_options = "0";                    // fo=
  std::string report_format = "afrf";                   // rf=
  uint32_t report_interval = 86400;                     // ri=
  // p= (or sp=) was missing or invalid and the record counts as p=none because rua= is
  // valid (§6.6.3 step 6).
  bool policy_defaulted = false;

  // The policy for a message whose From domain is the domain the record was found at
  // (`subdomain` false) or a subdomain of it found through the Organizational Domain.
  dmarc_policy policy_for(bool subdomain) const {
    return subdomain && subdomain_policy ? *subdomain_policy : policy;
  }
};

// True if the TXT record claims to be DMARC: it starts with the v=DMARC1 tag (§6.6.3
// step 2 keeps only these; whitespace around '=' allowed). Records that pass this but fail
// parse_dmarc_record are invalid DMARC records, not "no record".
bool is_dmarc_record(std::string_view txt);

// The record, or InvalidArgument naming the fault ("not v=DMARC1", "missing p=").
absl::StatusOr<dmarc_record> parse_dmarc_record(std::string_view txt);

// p=/sp= keywords, case-insensitively.
std::optional<dmarc_policy> parse_policy(std::string_view value);

}  // namespace ringmail::spam::dmarc
