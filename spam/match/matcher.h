// The regex rules of a rule set compiled for scanning: Hyperscan databases per scan
// target — one per header name used by header rules (plus ALL, ToCc, ...), body, rawbody,
// uri, full, mimeheader — with a target's patterns in databases of at most ~100 (compile
// time grows faster than linearly with size) and each match mapped back to its rule.
// Perl patterns Hyperscan cannot take exactly (back references, look-arounds, huge
// counted repeats, tflags multiple counting) are compiled with PCRE2 (JIT) and run only
// when a Hyperscan prefilter for them fired; the counts are in `stats()` for the caller
// to log. What each target scans: scan_targets.h. Engine choice: matcher_compile.cc.
//
// Threading: a compiled_rules is immutable once built and shared read-only by all shards
// (std::shared_ptr<const compiled_rules>). Scratch space is per thread: each shard owns a
// match_scratch. Compiling takes seconds for the stock rules: do it on the offload pool.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mail/message_text.h"
#include "spam/rules/rule.h"

namespace ringmail::spam {

struct matcher_stats {
  size_t hyperscan_patterns = 0;
  size_t pcre_patterns = 0;       // fell back to PCRE2 (includes tflags multiple rules)
  size_t pcre_prefiltered = 0;    //   of which run only when a Hyperscan prefilter fired
  size_t pcre_always = 0;         //   of which run on every message (no cheap prefilter)
  size_t rejected_patterns = 0;   // neither engine took them (rule dropped)
  size_t databases = 0;
  size_t cached_databases = 0;    //   of which loaded from compile_options::cache_dir
  size_t database_bytes = 0;
  std::vector<std::string> pcre_samples;      // "RULE: reason" for the first few
  std::vector<std::string> rejected_samples;
};

class match_scratch;

// Where match() spends its time, for `ringmail-admin spam scan --profile`: off unless a
// match_profile is attached to the scratch (then two clock reads per Hyperscan database
// and per PCRE2 rule run). Sized by the matcher on first use; accumulates over scans.
struct match_profile {
  std::vector<uint64_t> target_ns;     // per scan target: its Hyperscan databases
  std::vector<uint64_t> database_ns;   // per Hyperscan database (compiled_rules::database_description)
  std::vector<uint64_t> rule_ns;       // per rule: its PCRE2 runs
  std::vector<uint64_t> rule_runs;     // per rule: how many messages PCRE2 ran it on
};

class compiled_rules {
 public:
  struct compile_options {
    // Threads compiling Hyperscan databases at once (they are independent); 0: the
    // hardware's concurrency, at most 4.
    unsigned threads = 0;
    // Compiled databases are kept here and reused while the rules stay the same
    // (hyperscan_cache.h); empty: always compile.
    std::string cache_dir;
  };
  // Blocking and slow (Hyperscan compilation): run on the offload pool.
  static absl::StatusOr<std::shared_ptr<const compiled_rules>> compile(const rule_set& set);
  static absl::StatusOr<std::shared_ptr<const compiled_rules>> compile(const rule_set& set,
                                                                       const compile_options& options);
  ~compiled_rules();

  const matcher_stats& stats() const;
  // For reports: the scan targets (indices of match_profile::target_ns).
  size_t target_count() const;
  std::string target_description(size_t target) const;
  // For reports: the Hyperscan databases (indices of match_profile::database_ns), e.g.
  // "body #2: 100 exact".
  size_t database_count() const;
  std::string database_description(size_t database) const;

  // Runs every regex and `exists` rule of the set over `text`. `hits` is resized to the
  // rule count; entry i becomes rule i's hit count (0/1, more for tflags multiple, capped
  // by maxhits) — meta and eval entries are left 0. Negated header rules are applied.
  void match(const mail::message_text& text, match_scratch& scratch, std::vector<uint32_t>& hits) const;
  // Only the `body` target's rules (no header, rawbody, uri or full rules, no negation,
  // exists or [if-unset]): what a body of a few lines adds to the counts of another part
  // of the same body. Every rule's match lies within one body line, as in SpamAssassin, so
  // a body's counts are the sums of its parts' (capped at max_hits()).
  void match_body_only(const mail::message_text& text, match_scratch& scratch, std::vector<uint32_t>& hits) const;
  // A rule's most counted hits: 1, or tflags multiple's maxhits (unbounded: UINT32_MAX).
  uint32_t max_hits(uint32_t rule) const;

  struct impl;
  const impl& internals() const { return *impl_; }

 private:
  compiled_rules() = default;
  void run(const mail::message_text& text, match_scratch& scratch, std::vector<uint32_t>& hits, bool body_only) const;
  std::unique_ptr<impl> impl_;
};

// Per-thread scratch for one compiled_rules (Hyperscan scratch, PCRE2 match data).
// Build a new one when the rules are reloaded.
class match_scratch {
 public:
  explicit match_scratch(const compiled_rules& rules);
  ~match_scratch();
  match_scratch(const match_scratch&) = delete;
  match_scratch& operator=(const match_scratch&) = delete;

  // Attach (or detach, nullptr) cost accounting; the profile must outlive the scans.
  void set_profile(match_profile* profile);

  struct impl;
  impl& internals() { return *impl_; }

 private:
  std::unique_ptr<impl> impl_;
  size_t rule_count_ = 0;
  size_t database_count_ = 0;
};

// Translates a Perl pattern + modifiers (as in rule.h) to the PCRE syntax both engines
// read, e.g. Perl-only escapes; returns the pattern and sets the engine flags it implies.
// Exposed for tests. `extended` records /x, which is already applied to `pattern`
// (whitespace and comments removed): do not pass an extended flag to an engine.
struct translated_pattern {
  std::string pattern;
  bool caseless = false, multiline = false, dotall = false, extended = false;
};
struct translate_options {
  // body/rawbody/uri: the buffer holds one SpamAssassin "line" (paragraph, URI) per '\n'
  // and the pattern must not match across one: sets multiline, clears dotall, and keeps
  // '\n' out of every class (see perl_regex.cc).
  bool line_mode = false;
};
translated_pattern translate_perl_regex(const std::string& pattern, const std::string& flags);
translated_pattern translate_perl_regex(const std::string& pattern, const std::string& flags,
                                        const translate_options& options);

}  // namespace ringmail::spam
