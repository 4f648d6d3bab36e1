// sealer: adding this hop's ARC set (RFC 8617 §5.1) — ARC-Authentication-Results with
// our Authentication-Results payload, ARC-Message-Signature (relaxed/relaxed, DKIM's
// header set of spam/dkim/signer.h plus DKIM-Signature, the ARC fields themselves
// excluded as §4.1.2 asks) and ARC-Seal with cv= the chain's status as verify_arc found
// it (none for the first hop), all with i = the highest existing instance + 1.
//
// rsa-sha256 is what ARC verifiers in the field know; ed25519 keys are accepted too.
// Refused: a message whose chain already has 50 instances (§4.2.1), or whose chain
// failed and was sealed cv=fail before (§5.1: nothing is added after a failed seal), or
// whose ARC fields do not form whole sets (no seal hash input to extend).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "spam/auth/message_auth.h"
#include "spam/dkim/crypto.h"

namespace ringmail::spam::arc {

struct arc_seal_options {
  std::string authserv_id;        // "mx.example.org"
  std::string auth_results;       // the A-R payload after "authserv-id;" ("spf=pass ...")
  arc_result chain = arc_result::none;  // verify_arc's result for the message as received
  std::string domain;             // d=
  std::string selector;           // s=
  const dkim::private_key* key = nullptr;
  int64_t timestamp = 0;          // t=; 0: now
};

struct arc_seal_fields {
  unsigned instance = 0;
  std::string seal;                    // "ARC-Seal: ...\r\n"
  std::string message_signature;       // "ARC-Message-Signature: ...\r\n"
  std::string authentication_results;  // "ARC-Authentication-Results: ...\r\n"
  // The three in the order to prepend them (seal on top).
  std::string all() const { return seal + message_signature + authentication_results; }
};

absl::StatusOr<arc_seal_fields> arc_seal(std::string_view message, const arc_seal_options& options);

}  // namespace ringmail::spam::arc
