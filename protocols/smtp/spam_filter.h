// The spam step of an SMTP transaction (DESIGN.md story 1): at the end of DATA/BDAT the
// message is scanned on the shard (Hyperscan is per-shard scratch, no lock, no blocking
// call; about 2 ms for a typical message) — or, past `offload_scan_size`, on the offload
// pool, so that one big message cannot hold up every other session of the shard — the
// client's IP is looked up in the DNSBLs (c-ares on the ring), the greylist
// owner shard is asked about the triplets, and the verdict picks reject / greylist / Junk
// / INBOX and the X-Spam-* header lines. A scanner that fails never loses mail: the
// message is delivered without a verdict and the failure logged.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/dns.h"
#include "runtime/net.h"
#include "runtime/offload_pool.h"
#include "runtime/task.h"
#include "spam/dns/dnsbl.h"
#include "spam/bayes/user_models.h"
#include "spam/greylist.h"
#include "spam/greylist_journal.h"
#include "spam/scan_cache.h"
#include "spam/auth/message_auth.h"
#include "spam/scanner.h"
#include "spam/verdict.h"

namespace ringmail::smtp {

// Shared by every shard, read-only.
struct spam_settings {
  spam::verdict_policy policy;
  std::vector<spam::dnsbl_list> dnsbl;   // empty: no DNSBL lookups
  uint64_t max_scan_size = 10ull << 20;  // larger messages are delivered unscanned (rspamd:
                                         // max_message 50 MB; spamc: 500 KB)
  // Larger messages are scanned on the offload pool (tens of ms and more) with a scan
  // context of their own; smaller ones on the shard, with its scratch.
  uint64_t offload_scan_size = 256ull << 10;
};

// One per shard, used only on its thread.
struct spam_shard {
  const spam_settings* settings = nullptr;
  std::unique_ptr<spam::scan_context> scanner;  // swapped by a reload (SIGHUP)
  // Earlier scans' work (spam/scan_cache.h), attached to `scanner`; null: none. A reload
  // keeps the object: it empties itself on the first scan with the new rules.
  std::unique_ptr<spam::scan_cache> scan_cache;
  spam::greylist_table greylist;                // the triplets this shard owns
  spam::greylist_journal* journal = nullptr;    // writes greylist changes to disk; null: memory only
  dns_resolver* dns = nullptr;                  // for DNSBL; may be null when dnsbl is empty
  offload_pool* pool = nullptr;                 // for big messages; null: all on the shard
  // Recipients' own Bayes models (issue 15); null: every copy gets the global verdict.
  spam::user_models* user_bayes = nullptr;
  // Every shard's spam_shard, indexed by shard number: the greylist owner is asked there.
  const std::vector<spam_shard*>* all = nullptr;
};

struct spam_decision {
  spam::spam_action action = spam::spam_action::inbox;
  std::string header_lines;  // X-Spam-* lines to prepend to every copy
  double score = 0;
  bool scanned = false;
  bool offloaded = false;  // scanned on the offload pool
  // The scan's rule hits and Bayes tokens, kept when the shard has per-user Bayes, for
  // recipient_verdict_for().
  std::shared_ptr<const spam::scan_state> state;
};

// One local mailbox's own verdict (issue 15, Bayes per recipient).
struct recipient_verdict {
  bool junk = false;
  std::string header_lines;  // X-Spam-* lines of this mailbox's copy
  double score = 0;
};

struct filter_input {
  std::string_view message;
  socket_address client;
  std::string client_ip;  // text form, for greylist keys and logs
  std::string_view sender;
  std::vector<std::string> recipients;  // as given in RCPT TO
  std::string session_id;
  // What the SPF/DKIM/DMARC/ARC checks found (protocols/smtp/mail_auth.h), for the
  // scanner's evals; null: not checked (those rules do not hit).
  const spam::message_auth* auth = nullptr;
};

task<spam_decision> filter_message(spam_shard& shard, const filter_input& in);

// The verdict of `mailbox` (a local address, as the Bayes store names users: the IMAP
// login) from its own Bayes store, when that store has enough training and is in the
// shard's cache (spam/bayes/user_models.h: never waits; a cold cache answers nullopt and
// warms); nullopt: the global verdict stands for this copy. Only Junk or INBOX: refusing
// (reject, greylist) concerns the whole transaction and stays on the global verdict.
std::optional<recipient_verdict> recipient_verdict_for(spam_shard& shard, const spam_decision& global,
                                                       const std::string& mailbox, std::string_view session_id);

}  // namespace ringmail::smtp
