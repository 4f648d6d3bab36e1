// One content rule in the SpamAssassin rule language, as loaded from a .cf file. The
// loader (rule_loader.h) produces these; the matcher (matcher.h) compiles the regex ones
// into Hyperscan databases; meta.h evaluates the meta ones; scanner.h adds the scores.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace ringmail::spam {

enum class rule_kind : uint8_t {
  regex,   // header/body/rawbody/uri/full/mimeheader NAME /re/flags
  exists,  // header NAME exists:Header-Name
  meta,    // meta NAME boolean/arithmetic expression over other rules
  eval,    // NAME eval:function(args) — only the ones scanner.h implements run
};

enum class rule_target : uint8_t { header, body, rawbody, uri, full, mimeheader };

struct rule {
  std::string name;
  rule_kind kind = rule_kind::regex;
  rule_target target = rule_target::body;

  // header / mimeheader / exists: which header. Special names as in SpamAssassin:
  // "ALL" (every header, "Name: value\n"), "ToCc" (To and Cc), "EnvelopeFrom",
  // "MESSAGEID" (Message-Id, Resent-Message-Id, X-Message-Id), "ALL-TRUSTED" etc.
  std::string header_name;
  // ":raw" (undecoded), ":addr" (the address part), ":name" (the display name), or "".
  std::string header_modifier;
  bool negate = false;        // header NAME Foo !~ /re/: hits when the regex does NOT match
  bool has_if_unset = false;  // [if-unset: TEXT]: match the regex against TEXT when absent
  std::string if_unset;

  // regex: the Perl pattern without its delimiters (escapes as written, e.g. "\/"), and
  // its modifier letters (any of "imsx", others dropped by the loader).
  std::string pattern;
  std::string flags;
  // ReplaceTags rules: the pattern expanded with simplified tag values (tag_prefilter.h),
  // a superset far shorter than `pattern`, for the matcher's Hyperscan prefilter when the
  // rule itself has to run on PCRE2. Empty when there is nothing shorter.
  std::string prefilter_pattern;

  std::string meta_expression;  // meta: as written after the name
  std::string eval_function;    // eval: "check_bayes"
  std::vector<std::string> eval_args;  // eval: arguments, quotes removed

  double score = 1.0;         // SpamAssassin: 1.0 by default; 0 for __NAME; 0.01 for T_NAME
  bool score_set = false;     // a `score` line named it
  std::string description;    // describe NAME text
  // tflags: "nice" (negative score expected), "net" (needs network tests), "learn",
  // "userconf", "noautolearn", "multiple", "maxhits=N", "publish", "autolearn_force".
  std::vector<std::string> tflags;
  int priority = 0;

  bool is_subrule() const { return name.size() > 2 && name[0] == '_' && name[1] == '_'; }
  bool has_tflag(const std::string& f) const;
};

// SpamAssassin does not run a rule whose score is 0 in the active score set ("score NAME
// 0" disables a rule; Plugin/Check.pm guards every test with its score), so it never hits
// and metas see 0. Sub-rules have no score of their own and always run.
inline bool runs_in_score_set(const rule& r) { return r.is_subrule() || r.score != 0; }

// What the loader skipped, so an operator can see how much of a rule set runs.
struct load_stats {
  size_t files = 0;
  size_t lines = 0;
  size_t rules = 0;                 // rules kept (any kind)
  size_t skipped_blocks = 0;        // ifplugin/if blocks evaluated false (whole blocks)
  size_t skipped_block_lines = 0;   // lines inside them
  size_t unsupported_evals = 0;     // eval: rules whose function scanner.h does not have
  size_t unknown_directives = 0;    // lines with a directive we do not know (counted by name)
  absl::flat_hash_map<std::string, size_t> unknown_by_directive;
  size_t orphan_settings = 0;       // score/describe/tflags/priority for a rule never defined
                                    // (usually one in a skipped block or an unsupported eval)
  size_t parse_errors = 0;          // malformed lines (bad regex delimiters, ...), skipped
  std::vector<std::string> error_samples;  // the first few, "file:line: reason"
};

struct rule_set {
  std::vector<rule> rules;  // in load order; a later definition of a name replaces the rule
  absl::flat_hash_map<std::string, uint32_t> index;  // name -> position in `rules`
  double required_score = 5.0;  // required_score / required_hits
  // Plugin settings the loader does not interpret itself (freemail_domains,
  // util_rb_tld, ...): directive -> each line's value, in load order. The eval functions
  // read the ones they need (evals.h); the directives are still counted as unknown.
  absl::flat_hash_map<std::string, std::vector<std::string>> settings;
  load_stats stats;

  const rule* find(const std::string& name) const;
};

}  // namespace ringmail::spam
