// The spam scanner: a message in, a score and the rules that hit out. It puts together
// the pieces below it — the message model (mail/), the regex rules compiled for
// Hyperscan/PCRE2 (matcher.h), the meta rules (meta.h), the Bayes classifier (bayes.h)
// and the eval functions we implement — the way SpamAssassin's PerMsgStatus does:
// run the rules, evaluate the metas, add the scores of the rules that hit.
//
// Two objects, for the runtime's rules (DESIGN.md):
//   spam_engine   everything loaded and compiled from the rule files: immutable, built on
//                 the offload pool (seconds for the stock rules), shared read-only by all
//                 shards through a shared_ptr; a reload (SIGHUP) builds a new one.
//   scan_context  per thread (shard): Hyperscan scratch, charset converters, buffers.
//                 A scan allocates little beyond the message's own text views.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "mail/charset.h"
#include "spam/bayes/bayes.h"
#include "spam/match/matcher.h"
#include "spam/rules/meta.h"
#include "spam/evals/evals.h"
#include "spam/evals/received.h"
#include "spam/rules/rule.h"

namespace ringmail::spam {

class scan_cache;
struct message_auth;

struct engine_options {
  // Rule files or directories (SpamAssassin syntax), loaded in order; later wins.
  std::vector<std::string> rule_paths;
  // The Bayes store: `open_bayes` when set (the tools choose SQLite or MariaDB; it may
  // give nullptr for "no store yet"), else SQLite at `bayes_path`. No store, an empty path
  // or a missing file: no Bayes (BAYES_xx rules never hit).
  std::function<absl::StatusOr<std::unique_ptr<bayes_store>>()> open_bayes;
  std::string bayes_path;
  // Network rules (DNSBL) are run by the SMTP session; they select score set 3 vs 2.
  bool network_tests = false;
  // Directory for compiled Hyperscan databases (hyperscan_cache.h); empty: none.
  std::string compiled_rules_cache;
};

// The eval: functions scan_context implements, for the loader to keep their rules.
const std::vector<std::string>& supported_eval_functions();
// The SpamAssassin plugins whose rules we can run (for ifplugin).
const std::vector<std::string>& supported_plugins();

struct engine_stats {
  load_stats rules;
  matcher_stats matcher;
  size_t meta_rules = 0;
  size_t metas_dropped = 0;
  size_t eval_rules = 0;
  double load_seconds = 0;
  double compile_seconds = 0;  // with compiled_rules_cache hits, mostly loading
  bool bayes_ready = false;
  uint32_t bayes_spam = 0, bayes_ham = 0;
  std::string bayes_error;  // why the store could not be used (then no Bayes); empty: fine
};

class spam_engine {
 public:
  // Blocking (file reads, Hyperscan compiles): run on the offload pool or in tools.
  static absl::StatusOr<std::shared_ptr<const spam_engine>> build(const engine_options& options);

  const rule_set& rules() const { return rules_; }
  const compiled_rules& matcher() const { return *matcher_; }
  const meta_program& metas() const { return *metas_; }
  const bayes_model* bayes() const { return bayes_.get(); }
  double required_score() const { return rules_.required_score; }
  const engine_stats& stats() const { return stats_; }

  // A copy of this engine with another Bayes model (after learning), sharing the rules.
  std::shared_ptr<const spam_engine> with_bayes(std::shared_ptr<const bayes_model> model) const;

 private:
  spam_engine() = default;
  rule_set rules_;
  std::shared_ptr<const compiled_rules> matcher_;
  std::shared_ptr<const meta_program> metas_;
  std::shared_ptr<const bayes_model> bayes_;
  std::vector<uint32_t> eval_rules_;  // indices of rule_kind::eval rules
  std::vector<eval_function> eval_functions_;  // parallel; nullptr for check_bayes
  std::shared_ptr<const eval_settings> eval_settings_;
  bool reads_auth_ = false;  // an eval rule reads message_auth (the cache key then has it)
  engine_stats stats_;
  friend class scan_context;
};

struct scan_result {
  double score = 0;
  double required = 5.0;
  std::vector<std::string> tests;       // rules that hit (not __sub-rules), score order
  std::optional<double> bayes;          // P(spam) when the classifier answered
  bool truncated = false;               // a limit cut the message: partial view
  bool is_spam() const { return score >= required; }
};

// What scan() keeps when asked, so that the message can be scored again for another Bayes
// model (a recipient's own store, issue 15) without parsing, matching or running the
// evals again: only the check_bayes rules, the metas and the sum are redone.
struct scan_state {
  std::shared_ptr<const spam_engine> engine;  // the rules the hits index
  std::vector<uint32_t> hits;     // per rule, after the evals; check_bayes and metas at 0
  std::vector<uint64_t> tokens;   // the message's bayes_tokens (computed even without Bayes)
  std::vector<std::pair<std::string, double>> extra_hits;
  bool truncated = false;
};

// Where scan() spends its time, for `ringmail-admin spam scan --profile`: nanoseconds per
// stage, summed over the scans made while attached.
struct scan_profile {
  uint64_t messages = 0;
  uint64_t parse_ns = 0;    // MIME tree and text views (mail/)
  uint64_t bayes_ns = 0;    // tokenize + classify
  uint64_t relays_ns = 0;   // Received parsing, X-Spam-Relays-*
  uint64_t match_ns = 0;    // Hyperscan + PCRE2 (broken down in `match`)
  uint64_t evals_ns = 0;    // eval: functions
  uint64_t metas_ns = 0;    // metas and the score sum
  match_profile match;
};

class scan_context {
 public:
  explicit scan_context(std::shared_ptr<const spam_engine> engine);
  ~scan_context();

  // Scans one message. Extra (name, score) hits from outside the message — DNSBL
  // listings of the client, found by the session — are added to the score and tests.
  // With `keep`, also fills it for rescore_with_bayes (costs the tokenizing when the
  // engine has no Bayes of its own, and a copy of the hit vector).
  // `auth`: what the session's SPF/DKIM/DMARC/ARC checks found (spam/auth/message_auth.h),
  // read by those plugins' evals; null: they are false (as SpamAssassin without network).
  // With a cache, a message's cached hits are only reused for equal auth results.
  scan_result scan(std::string_view message,
                   const std::vector<std::pair<std::string, double>>& extra_hits = {},
                   scan_state* keep = nullptr, const message_auth* auth = nullptr);

  // The result scan() would have given with `model` as the engine's Bayes (nullptr or a
  // model below bayes_min_*: no Bayes verdict, the BAYES_xx rules do not hit). Cheap:
  // the classification, the metas and the sum. The rules are the state's engine's: a
  // Bayes rule that engine's score set does not run (no global Bayes at load, score set
  // 0/1) stays off whatever the model says.
  scan_result rescore_with_bayes(const scan_state& state, const bayes_model* model);

  const spam_engine& engine() const { return *engine_; }
  const std::shared_ptr<const spam_engine>& shared_engine() const { return engine_; }

  // Attach (or detach, nullptr) stage timing; the profile must outlive the scans.
  void set_profile(scan_profile* profile);
  // Attach (or detach, nullptr) the shard's cache of earlier scans (scan_cache.h); it
  // must outlive the scans and be used by this thread only. Results are the same with
  // or without it.
  void set_cache(scan_cache* cache);

 private:
  std::shared_ptr<const spam_engine> engine_;
  mail::charset_converter charsets_;
  match_scratch scratch_;
  std::vector<uint32_t> hits_;
  scan_profile* profile_ = nullptr;
  scan_cache* cache_ = nullptr;
  std::vector<uint32_t> body_rules_;  // body_target_rules(), once a cache is attached
  std::vector<uint32_t> first_line_hits_;  // match_rules' scratch (no allocation per scan)
  void match_rules(mail::message_text& text, scan_cache* cache);
  // The X-Spam-Relays-* values of the message being scanned: the synthesized headers'
  // raw views point here (a fixed array: the strings never move during a scan).
  std::array<std::string, 4> relay_values_;
  void add_relay_headers(const relay_info& relays, mail::message_text& text);
  // The end of a scan, shared with rescore_with_bayes: check_bayes rules from `result.bayes`,
  // the metas over `hits`, and the score and tests of the rules that hit.
  static void score_hits(const spam_engine& e, std::vector<uint32_t>& hits,
                         const std::vector<std::pair<std::string, double>>& extra_hits, scan_result& result);
};

}  // namespace ringmail::spam
