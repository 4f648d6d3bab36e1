// The eval: functions of SpamAssassin's plugins that we run (HeaderEval, RelayEval,
// MIMEEval, HTMLEval, FreeMail, ...), ported from their Perl, and the registry the
// scanner and the rule loader use: an eval rule whose function is not here is dropped
// at load. check_bayes is the scanner's own (it needs the classifier) and is listed by
// it, not here.
//
// An eval reads one message through eval_input. Per-message facts that several evals
// share (the relays, the parsed dates, the From addresses) are computed once by the
// scanner or lazily in eval_cache; the functions themselves are pure.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "mail/message.h"
#include "mail/message_text.h"
#include "spam/evals/received.h"
#include "spam/rules/rule.h"

namespace ringmail::spam {

struct message_auth;        // spam/auth/message_auth.h
struct auth_eval_settings;  // spam/evals/auth.cc: welcome-lists, adsp_override

// Settings the evals read from the rule files, prepared once per rule set.
struct eval_settings {
  absl::flat_hash_set<std::string> freemail_domains;           // lower-case, exact
  std::vector<std::string> freemail_wildcards;                 // "yahoo.*", "hotmail.co.??"
  absl::flat_hash_set<std::string> freemail_welcomelist;       // addresses or domains
  std::shared_ptr<const auth_eval_settings> auth;              // the SPF/DKIM plugins' lists
  static eval_settings from(const rule_set& rules);
};

// Lazily computed per-message facts shared by several evals.
struct eval_cache {
  std::optional<long long> date_diff;  // HeaderEval _check_date_diff (seconds)
};

struct eval_input {
  const mail::message& message;
  const mail::message_text& text;
  const relay_info& relays;
  const rule_set& rules;
  const eval_settings& settings;
  eval_cache& cache;
  // What the SMTP session's SPF/DKIM/DMARC/ARC checks found (issue 16); null or not
  // checked: the SPF, DKIM and DMARC evals are false, as SpamAssassin without network.
  const message_auth* auth = nullptr;
};

using eval_function = bool (*)(const eval_input& in, const std::vector<std::string>& args);

// The function for `name`, or nullptr.
eval_function find_eval(std::string_view name);
// Every name find_eval knows.
const std::vector<std::string>& eval_function_names();

// Helpers shared by the eval files (exposed for tests).
namespace evals {
// Every address in a header value (RFC 5322 address-list, lenient), lower-cased when
// `lower`: angle-addrs, bare addr-specs, group members.
std::vector<std::string> addresses_in(std::string_view value, bool lower = true);
// $pms->get('Name:addr') in list context: every address of every such header.
std::vector<std::string> header_addresses(const mail::message_text& text, std::string_view name);
// PerMsgStatus::get_envelope_from() with no envelope_sender_header configured.
std::string envelope_from(const mail::message_text& text, const relay_info& relays);
// Util::parse_rfc822_date: seconds since the epoch (UTC), or nullopt.
std::optional<long long> parse_rfc822_date(std::string_view date);
bool is_freemail(const eval_settings& settings, std::string_view email);
// Whether `f` reads eval_input::auth (the scan cache keys such results by it too).
bool reads_message_auth(eval_function f);
// The fields of `auth` those evals read, as bytes: equal strings, equal results.
std::string auth_fingerprint(const message_auth& auth);
}  // namespace evals

// Registration, one per file (the table in evals.cc lists them).
struct eval_entry {
  const char* name;
  eval_function function;
};
const std::vector<eval_entry>& header_evals();
const std::vector<eval_entry>& relay_evals();
const std::vector<eval_entry>& mime_evals();
const std::vector<eval_entry>& html_evals();
const std::vector<eval_entry>& auth_evals();
std::shared_ptr<const auth_eval_settings> make_auth_eval_settings(const rule_set& rules);

}  // namespace ringmail::spam
