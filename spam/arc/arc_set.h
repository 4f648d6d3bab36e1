// arc_set: the ARC header fields of a message grouped into sets by instance (RFC 8617
// §4.1, §4.2), the ARC-Seal tag list (§4.1.3), and the ARC-Seal hash input (§5.1.1).
//
// collect_arc_sets() checks the structure §5.2 steps 2-3 ask for before any crypto or
// DNS: every ARC field carries a readable i= in 1..50 (max_arc_instances), each instance
// has exactly one ARC-Authentication-Results, ARC-Message-Signature and ARC-Seal, the
// instances are 1..N without a gap. More than 3 * 50 ARC fields is refused at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "mail/header.h"
#include "spam/auth/message_auth.h"
#include "spam/dkim/crypto.h"

namespace ringmail::spam::arc {

inline constexpr unsigned max_arc_instances = 50;  // RFC 8617 §4.2.1

struct arc_set {
  unsigned instance = 0;
  const mail::header_field* results = nullptr;    // ARC-Authentication-Results
  const mail::header_field* signature = nullptr;  // ARC-Message-Signature
  const mail::header_field* seal = nullptr;       // ARC-Seal
};

// The sets in instance order (index k holds instance k + 1); empty without ARC fields.
// InvalidArgument (the chain fails) when the structure is broken.
absl::StatusOr<std::vector<arc_set>> collect_arc_sets(const mail::header_block& headers);

// The i= of an ARC field value ("i=3; ..."), 0 when missing or out of 1..50.
unsigned instance_of(std::string_view value);

struct seal {
  unsigned instance = 0;
  dkim::algorithm algo = dkim::algorithm::rsa_sha256;
  arc_result cv = arc_result::none;  // chain validation status, cv=
  std::string domain, selector;
  std::string signature_data;  // b=, decoded
};

// §4.1.3: i, a, b, cv, d, s required (t optional); h= is forbidden in a seal.
absl::StatusOr<seal> parse_seal(std::string_view value);

// §5.1.1: the relaxed-canonicalized AAR, AMS and AS of instances 1..upto, in that order,
// the AS of instance `upto` with its b= value removed and without its final CRLF.
std::string seal_hash_input(const std::vector<arc_set>& sets, unsigned upto);

}  // namespace ringmail::spam::arc
