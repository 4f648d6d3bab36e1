// The Sieve interpreter: runs checked scripts (checker_tree.h) against one message for one
// recipient and returns what to do with it (RFC 5228 2.10). Pure and synchronous: no I/O,
// no runtime. Everything a script may ask about the world that lives on disk (the
// folder list for mailboxexists, the duplicate store, included scripts) is loaded by the
// delivery glue before the run and answered through `script_host`; the glue then carries
// out the actions (delivery/sieve/sieve_delivery.h).
//
// Compiled form: compile() turns a checked script into a `program` once (constant match
// keys compiled to compiled_match, regexes compiled, tags looked up); programs are
// immutable and cached per shard by the script store, and run many times.
//
// Semantics (the RFCs, with Pigeonhole 0.5's choices where they leave room; each
// departure is written at its place: program.cc, run_tests.cc, run_commands.cc, result.cc):
//   - actions accumulate in order; a second keep/fileinto into the same mailbox merges
//     into the first (its place and :copy, the last one's flags: RFC 5228 2.10.3, RFC
//     5232 3), a second redirect to one address too;
//   - implicit keep (RFC 5228 2.10.2) is cancelled by fileinto, redirect, discard, reject,
//     keep — not by :copy ones, vacation, track-duplicate or one merged into an earlier
//     action (as sieve-test shows); it carries the internal flags variable of imap4flags
//     (RFC 5232 3) as they stand at the end;
//   - reject/ereject conflict with vacation and with keep/fileinto/redirect, :copy ones
//     too (RFC 5429 2.1; Pigeonhole checks the action, not :copy, and makes it a run-time
//     error), and a second reject is an error (delivery/sieve/result.h);
//   - a run-time error (a limit hit, a conflict, a failing include) discards the result:
//     `error` is set and the glue keeps the message in INBOX (RFC 5228 2.10.6);
//   - `stop` ends the script; `return` ends an included one (RFC 6609).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/sieve/checker_tree.h"
#include "delivery/sieve/match.h"
#include "delivery/sieve/match_regex.h"
#include "delivery/sieve/message_view.h"
#include "delivery/sieve/variables.h"

namespace ringmail::sieve {

// One script, compiled. Opaque: built by compile(), run by run_scripts().
class program;

struct compile_limits {
  matching::regex_limits regex;
};
absl::StatusOr<std::shared_ptr<const program>> compile(checked_script script,
                                                        const compile_limits& limits = {});
// The names `include` commands of a program ask for (RFC 6609: constant strings), with
// whether each is :global: the glue loads them (and theirs) before the run.
struct include_reference {
  std::string name;
  bool global = false;
  bool optional = false;
};
std::vector<include_reference> includes_of(const program& p);

struct run_limits {
  size_t max_steps = 100'000;        // commands + tests executed, over all scripts
  size_t max_actions = 32;           // Pigeonhole's sieve_max_actions
  size_t max_redirects = 4;          // Pigeonhole's sieve_max_redirects
  size_t max_include_depth = 10;     // RFC 6609 asks for a limit; Pigeonhole's is 10
  size_t max_vacation_per_run = 1;   // RFC 5230: one response per message
  // The worst-case matching work of a run, over all tests (steps count tests, not their
  // cost): :regex charges the square of each subject (cut to 4 KiB; glibc's search is
  // quadratic at worst, about 50 ms for a hostile 4 KiB subject), a :matches key with
  // "?" value length times key length, other matches their lengths. 4 * 10^8 is about
  // 24 worst-case 4 KiB :regex subjects (~1 s), or 40,000 :regex tests on 100-byte
  // headers: far above a real script, a bound on a hostile one.
  uint64_t max_match_work = 400'000'000;
  matching::match_limits match;
  matching::variable_limits variables;
};

// The delivery's envelope and environment (RFC 5228 5.4, RFC 5183).
struct envelope {
  std::string from;  // MAIL FROM without brackets, "" for <>
  std::string to;    // this recipient (the final address, after aliases)
  std::string original_to;  // as given in RCPT TO (envelope "to" reports `to`)
  std::string auth;  // the authenticated sender, "" if none
};

struct environment_items {
  std::string domain;       // our primary domain
  std::string host;         // our host name
  std::string location = "MS";
  std::string phase = "post";
  std::string remote_host;  // "" when unknown (then the item does not exist)
  std::string remote_ip;
  std::string name = "ringmail";
  std::string version;
  // The server's zone, minutes east of UTC: date/currentdate without :zone show dates in
  // it (RFC 5260 4.1 "the local time zone"). The glue fills it; pure code reads no TZ.
  int32_t local_zone_minutes = 0;
};

// What the run asks the outside world, answered from data the glue loaded beforehand.
class script_host {
 public:
  virtual ~script_host() = default;
  // RFC 5490 mailboxexists: the folder exists (INBOX always does).
  virtual bool mailbox_exists(std::string_view name) const = 0;
  // RFC 7352: has this id (already hashed with the handle) been seen within `seconds`?
  virtual bool duplicate_seen(std::string_view id) const = 0;
  // RFC 6609: the included program, nullptr when it does not exist.
  virtual const program* included(std::string_view name, bool global) const = 0;
};

struct action {
  enum kind_t : uint8_t {
    keep,             // store into INBOX (explicit keep, or fileinto "INBOX")
    fileinto,         // store into `mailbox`
    redirect,         // to `address`
    reject,           // RFC 5429: refuse with `reason` (an MDN-like notice, or in protocol)
    ereject,          // RFC 5429: refuse in protocol with `reason`
    discard,
    vacation,         // RFC 5230: a reply to `address` (the envelope sender)
    track_duplicate,  // RFC 7352: record `duplicate_id` after delivery
  };
  kind_t kind = keep;
  std::string mailbox;                  // fileinto (UTF-8 name as the script gave it)
  std::vector<std::string> flags;       // keep/fileinto: imap4flags, split at spaces
  bool copy = false;                    // RFC 3894 :copy
  bool create = false;                  // RFC 5490 :create
  std::string address;                  // redirect; vacation: where the reply goes
  std::string reason;                   // reject/ereject; vacation's reason text
  // vacation (RFC 5230 4, RFC 6131)
  uint64_t seconds = 0;                 // :days * 86400, or :seconds; default 7 days
  std::optional<std::string> subject;   // :subject as given (expanded)
  std::optional<std::string> from;      // :from
  std::optional<std::string> handle;    // :handle, when given
  std::vector<std::string> addresses;   // :addresses
  bool mime = false;                    // :mime: `reason` is a MIME entity
  // track_duplicate (RFC 7352)
  std::string duplicate_id;             // what the store records (handle + id, hashed by the glue)
  uint64_t duplicate_seconds = 0;       // :seconds, default Pigeonhole's 7 days
  bool last = false;                    // :last
};

struct run_result {
  std::vector<action> actions;               // in execution order, merged per RFC 5228 2.10.3
  bool implicit_keep = true;                 // RFC 5228 2.10.2
  std::vector<std::string> implicit_keep_flags;
  std::optional<std::string> error;          // run-time error: keep in INBOX, log this
  size_t steps = 0;
};

// Runs `scripts` in order over one message, one result (Pigeonhole's multiscript:
// sieve_before scripts, the user's, sieve_after; a later script runs only while the
// implicit keep is still in effect after the earlier ones or an earlier one ran `keep`,
// each has its own implicit keep, and `stop` in a script ends only that script; the
// whole of it in run_commands.cc). `message` is edited by editheader. `now` is the
// delivery time (currentdate, RFC 5260). nullptr entries are skipped.
run_result run_scripts(const std::vector<const program*>& scripts, message_view& message,
                       const envelope& env, const environment_items& environment,
                       const script_host& host, std::time_t now, const run_limits& limits = {});

}  // namespace ringmail::sieve
