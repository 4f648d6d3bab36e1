// sieve_delivery: Sieve at local delivery (issue 14; RFC 5228 and the extensions of
// interpreter.h), the local sink's delivery_filter (delivery/sink/local_sink.h). It runs on
// the recipient's owner shard, inside with_mailbox's function, for every local copy of
// SMTP and LMTP alike:
//
//   1. the scripts: --sieve_before (a file), the user's active one (script_store::
//      load_active on this shard: one statx of <home>/.dovecot.sieve when its cache is
//      warm, answering ENOENT for a user without scripts), --sieve_after (a file, or the
//      built-in one below); Pigeonhole's multiscript order (interpreter.h run_scripts);
//   2. the message as the scripts see it (message_view.h): Return-Path and Delivered-To
//      (delivery_headers), the session's trace lines, the message as received;
//   3. the result, planned (delivery_plan.h, pure and tested alone) and carried out:
//      copies into folders (mailbox::deliver, or mailbox::append with imap4flags flags
//      and keywords; :create creates the folder; a missing folder without :create falls
//      back to INBOX with a log line, as Pigeonhole does with lda_mailbox_autocreate=no),
//      the editheader'd header in every stored and redirected copy, redirects with the
//      original envelope sender through sink/address_sender.h (local users get them through
//      the local sink, so their scripts run; remote ones through the queue), vacation
//      replies (vacation.h decides; sieve_memory.h remembers whom we answered) and
//      rejection notices (reject_notice.h) from <>, ereject as the recipient's
//      550 5.7.1, discard as 250 with nothing stored, duplicate ids recorded after the
//      copies are durable (RFC 7352);
//   4. a run-time error (RFC 5228 2.10.6), a user script that does not compile, or a
//      --sieve_before/--sieve_after file that cannot be loaded: the message goes to
//      INBOX (the scripts that did load still run, except after a run-time error) and
//      one log line names the user, the script and the error.
//
// The built-in sieve_after (kBuiltinAfterScript) files spam into Junk, made on first use
// as the sink's old routing made it:
//     require ["fileinto", "mailbox"];
//     if header :is "X-Spam-Flag" "YES" { fileinto :create "Junk"; }
// replacing the sink's old built-in Junk routing (the scanner writes X-Spam-Flag: YES
// into the trace lines exactly when its verdict is Junk). `ringmail serve` leaves it out
// with --sieve_after=none, and with --spam_junk_folder=false (spam stays in INBOX,
// marked). When it is the only script (no sieve_before, no active user script) it is not
// interpreted: the same header test is made on the header fields directly, so a user
// without scripts pays one statx and a header scan, and no message_view is built.
//
// Failures: a copy that cannot be stored is the recipient's temporary failure (the
// sender retries; copies already stored may then arrive twice, DESIGN.md). A redirect
// or a rejection notice that cannot be sent keeps the message in INBOX instead (nothing
// is lost to a failed action, as Pigeonhole falls back to the implicit keep); a vacation
// reply that cannot be sent is logged.
//
// The memory (vacation replies, duplicate ids) of a user is read from
// <home>/.ringmail.sieve-memory (sieve_memory.h) on the first delivery that runs a
// script, kept per shard (at most kMemoryCacheUsers users, a full cache is emptied), and
// written back (tmp -> rename, without fsync: a memory lost in a crash costs at most one
// extra reply) when a delivery changed it.
//
// Threading: one per shard, used on that shard only (the owner shard of every mailbox
// it is handed).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "delivery/directory/resolver.h"
#include "delivery/sieve/delivery_plan.h"
#include "delivery/sieve/interpreter.h"
#include "delivery/sieve/script_store.h"
#include "delivery/sieve/sieve_memory.h"
#include "delivery/sink/address_sender.h"
#include "delivery/sink/local_sink.h"
#include "mail/charset.h"

namespace ringmail::sieve {

// spam_flagged() (delivery_plan.h) is its test, made without the interpreter.
inline constexpr std::string_view kBuiltinAfterScript =
    "require [\"fileinto\", \"mailbox\"];\r\n"
    "if header :is \"X-Spam-Flag\" \"YES\" {\r\n  fileinto :create \"Junk\";\r\n}\r\n";
// --sieve_after's value for the built-in script, and for none.
inline constexpr std::string_view kBuiltinAfterName = "builtin";
inline constexpr std::string_view kNoScriptName = "none";

inline constexpr size_t kMemoryCacheUsers = 1024;

struct sieve_delivery_options {
  std::string before_path;  // "" = none
  std::string after_path;   // "" = none; kBuiltinAfterName = kBuiltinAfterScript
  run_limits limits;
  environment_items environment;  // domain, host, name, version
  memory_limits memory;
  std::string postmaster;   // From: of rejection notices; "" = postmaster@<host>
};

class sieve_delivery final : public delivery::delivery_filter {
 public:
  // Everything referenced must outlive this object (all are the shard's).
  // `resolver` gives a vacation the user's alias addresses (RFC 5230 4.5: the reply
  // is made when one of "the user's addresses" is in To/Cc/Bcc).
  sieve_delivery(sieve_delivery_options options, script_store& scripts, delivery::address_sender& outbound,
                 directory::resolver& resolver, mail::charset_converter& charsets);
  ~sieve_delivery() override;

  task<delivery::delivery_result> deliver(mailstore::mailbox& box, const delivery::sink_message& message,
                                          const delivery::sink_recipient& recipient,
                                          const std::string& headers) override;

 private:
  struct scripts_to_run;
  struct run_context;
  task<scripts_to_run> gather(const std::string& home, const std::string& address);
  task<std::shared_ptr<sieve_memory>> memory_of(const std::string& home, int64_t now);
  task<void> save_memory(const std::string& home, const sieve_memory& memory);
  task<delivery::delivery_result> run(mailstore::mailbox& box, const delivery::sink_message& message,
                                      const delivery::sink_recipient& recipient, const std::string& headers,
                                      const std::string& home, scripts_to_run& scripts);

  sieve_delivery_options options_;
  script_store& scripts_;
  delivery::address_sender& outbound_;
  directory::resolver& resolver_;
  mail::charset_converter& charsets_;
  std::shared_ptr<const program> builtin_after_;  // compiled once, when after_path asks for it
  absl::flat_hash_map<std::string, std::shared_ptr<sieve_memory>> memories_;  // home -> memory
  uint64_t tmp_counter_ = 0;
};

// <home> of a Maildir path "<home>/Maildir".
std::string home_of_maildir(std::string_view maildir);

}  // namespace ringmail::sieve
