// delivery_plan: what a Sieve result (interpreter.h's run_result) means for one local
// delivery, decided before anything is written (issue 14). Pure: no I/O, no runtime, so
// every rule below is tested without a mailbox (tests/delivery/sieve_delivery_plan_test.cc);
// sieve_delivery.cc carries the plan out on the recipient's owner shard.
//
// RFC 5228 2.10.6: "If an error occurs in the middle of the script, the implicit keep
// action is taken and no other actions are performed" -> a run_result with `error` plans
// one copy into INBOX (without flags) and nothing else; the glue logs the error.
//
// The actions, in the order the script gave them (RFC 5228 2.10.3):
//   keep / implicit keep   a copy into INBOX with the imap4flags flags (RFC 5232 3/5)
//   fileinto               a copy into the folder; a name the mail store cannot hold
//                          (folder_name.h: "a.b", "~x", control characters) goes to INBOX
//                          with a note, as Pigeonhole falls back when saving fails. Two
//                          copies into one folder are one (the interpreter merges them; we
//                          merge again after mapping names, so "inbox" and keep are one)
//   redirect               to the address, from the original envelope sender (Pigeonhole
//                          keeps it). Refused with a note when the message already carries
//                          our Delivered-To for this recipient (the copy went round a loop;
//                          Pigeonhole's check) or the address is the recipient itself; a
//                          refused redirect that cancelled the implicit keep puts the copy
//                          into INBOX instead, so no mail is lost to a loop guard
//   reject                 a rejection notice (reject_notice.h) to the envelope sender; none
//                          to the null sender (RFC 5429 2.1: "MUST NOT" answer <>), the
//                          message is then dropped as Pigeonhole does
//   ereject                refused in protocol with 550 5.7.1 and the reason when the
//                          session can give this recipient its own reply (LMTP, or an SMTP
//                          transaction with this copy alone); otherwise RFC 5429 2.1.2's
//                          fallback, a rejection notice as `reject` does. The reason is
//                          made one line (CR/LF/controls -> space), at most 400 bytes
//   discard                nothing stored
//   vacation               handed on (vacation.h decides whether and how to reply)
//   track_duplicate        recorded after the copies are stored (RFC 7352 3: "the
//                          duplicate test ... is only recorded when the delivery succeeds")
// Flags (RFC 5232): "\Seen" "\Answered" "\Flagged" "\Deleted" "\Draft" (any case) are
// the mail store's system flags; "\Recent" and other "\..." names are dropped, and
// keywords that are not IMAP atoms are dropped (Pigeonhole warns and ignores them too).
// Departure: we do not write a copy that has no mailbox left to go to after a failed
// fileinto other than INBOX; the INBOX fallback is Pigeonhole's lda_mailbox_autocreate=no
// behaviour, applied by the glue (missing folder without :create).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/sieve/interpreter.h"

namespace ringmail::sieve {

// One copy to store.
struct planned_copy {
  std::string folder;                 // "INBOX" or a mail store folder name (UTF-8, "/" levels)
  uint8_t flags = 0;                  // mailstore::message_flag bits
  std::vector<std::string> keywords;  // IMAP keywords (atoms)
  bool create = false;                // RFC 5490 :create (INBOX never needs it)
};

struct plan_input {
  std::string_view recipient;         // the final address (local@domain, lower case)
  std::string_view envelope_from;     // "" for <>
  bool refuse_in_protocol = false;    // may this recipient get its own 5xx? (see above)
  bool delivered_to_recipient = false;  // the message carries "Delivered-To: recipient"
};

struct delivery_plan {
  std::vector<planned_copy> copies;            // in order; empty: nothing stored
  std::vector<std::string> redirects;          // addresses, in order
  std::optional<action> vacation;              // the vacation action, if any
  std::optional<std::string> reject_notice;    // the reason of a notice to send
  std::optional<std::string> refusal;          // 550 5.7.1 <this> for the recipient
  std::vector<action> duplicates;              // track_duplicate actions
  std::optional<std::string> error;            // RFC 5228 2.10.6: the run-time error
  std::vector<std::string> notes;              // what was changed or refused, for the log
};

delivery_plan plan_delivery(const run_result& result, const plan_input& input);

// imap4flags names -> mail store bits + keywords, as above.
void split_sieve_flags(const std::vector<std::string>& names, uint8_t* bits, std::vector<std::string>* keywords);

// The test of the built-in sieve_after (sieve_delivery.h kBuiltinAfterScript,
// `if header :is "X-Spam-Flag" "YES"`), made directly on header sections (each the start
// of a header block: the trace lines, the message): a field X-Spam-Flag (any case) whose
// unfolded, trimmed value is "YES" under i;ascii-casemap.
bool spam_flagged(std::string_view trace, std::string_view message);

// Does the message's header carry "Delivered-To: <recipient>" (any case, trimmed)? The
// loop check of redirect (above).
bool carries_delivered_to(std::string_view message, std::string_view recipient);

// One line of at most `max_bytes` for an SMTP/LMTP reply: CR, LF and other controls
// become spaces, runs of spaces one, trimmed.
std::string reply_text(std::string_view reason, size_t max_bytes = 400);

}  // namespace ringmail::sieve
