// verifier: DKIM signature verification (RFC 6376 §6), one result per DKIM-Signature
// field in header order (RFC 8601 §2.7.1 keywords, spam/auth/message_auth.h).
//
//   pass       the signature verified (body_length_limited: l= left content unsigned —
//              the caller must not trust what follows the signed part)
//   fail       body hash or signature mismatch, or the body is shorter than l=
//   permerror  the signature or its key record is unusable: a parse refusal (see
//              signature.h), no key record (NXDOMAIN / no TXT: RFC 6376 §6.1.2 "no key for
//              signature" is PERMFAIL), revoked or refused key, k= not matching a=,
//              t=s with i= in a subdomain, expired (x= past now + clock skew)
//   temperror  the key lookup timed out or the servers failed (§6.1.2 TEMPFAIL)
//   policy     signatures past max_signatures, not verified (no DNS, no hashing): a
//              message with hundreds of signatures costs no more than max_signatures
//
// Pure: DNS through dns_client only; with static_dns_client the task never suspends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/task.h"
#include "spam/auth/message_auth.h"
#include "spam/dkim/canonical.h"
#include "spam/dkim/key_cache.h"
#include "spam/dkim/key_record.h"
#include "spam/dkim/signature.h"
#include "spam/dns/dns_client.h"

namespace ringmail::spam::dkim {

struct dkim_verify_options {
  int64_t now = 0;             // Unix seconds; 0: the current time
  int64_t clock_skew = 300;    // seconds of slack for x=
  size_t max_signatures = 10;  // verified per message; the rest: policy
  key_limits keys;
  // TXT records of one key name looked at (the first that parses is used, §3.6.2.2).
  size_t max_key_records = 8;
  // Parsed keys kept across messages (the shard's; key_cache.h); null: every record is
  // parsed. Results are the same either way, only cheaper with it.
  dkim::key_cache* key_cache = nullptr;
};

task<std::vector<dkim_signature_check>> verify_dkim(dns_client& dns, std::string_view message,
                                                    dkim_verify_options options = {});

// The check of one signature against a key already at hand (tests, ARC's AMS): the
// body hash, then the header signature. `field` is the signature field in
// message.headers(). Does not look at x= (the caller's policy); does check t=s and
// that the key type matches a=.
dkim_signature_check verify_signature_with_key(const prepared_message& message, const mail::header_field& field,
                                               const signature& sig, const key_record& key);

// The name a key lives at: "<s>._domainkey.<d>".
std::string key_name(const signature& sig);
std::string key_name(std::string_view selector, std::string_view domain);

// A key lookup's outcome: result none and the key, or why not (temperror / permerror).
struct key_outcome {
  dkim_result result = dkim_result::none;
  std::string reason;
  std::optional<key_record> key;
};
key_outcome key_from_answer(const dns_answer& answer, const dkim_verify_options& options);

}  // namespace ringmail::spam::dkim
