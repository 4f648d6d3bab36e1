// Private to the matcher (matcher.cc runs, matcher_compile.cc builds): the compiled form
// of a rule set and the per-thread scratch. Not for other modules.
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "spam/match/matcher.h"
#include "spam/match/scan_targets.h"

namespace ringmail::spam::matcher_internal {

constexpr uint32_t prefilter_bit = 0x80000000u;  // Hyperscan id of a PCRE2 rule's prefilter
constexpr uint32_t no_target = std::numeric_limits<uint32_t>::max();

struct pcre_rule {
  uint32_t rule = 0;
  uint32_t max_hits = 1;
  pcre2_code* code = nullptr;
  bool always_run = true;  // no Hyperscan prefilter for it in the target's database
  bool per_line = false;   // line target, pattern not line-translated: run on each line
  // Line target: PCRE2 starts at the line of the prefilter's first match. A rule's match
  // lies within one line (as in SpamAssassin), and its prefilter, a superset, has a match
  // ending there too, so no line before that of the earliest prefilter match can hold one.
  bool line_gated = false;
};

struct rule_plan {
  uint32_t target = no_target;  // no_target: not a regex/exists rule, or dropped
  uint32_t max_hits = 1;
  uint8_t unset_hits = 0;        // hits when the target is absent ([if-unset] result)
};

struct database_info {
  uint32_t target = 0;
  uint32_t exact = 0;       // rules matched exactly
  uint32_t prefilters = 0;  // PCRE2 rules' prefilters
};

struct target_plan {
  std::vector<hs_database_t*> dbs;  // the target's patterns, in chunks (see compile())
  std::vector<uint32_t> db_numbers;  // parallel to dbs: index into impl::databases
  std::vector<uint32_t> pcre;         // indices into impl::pcre
  std::vector<uint32_t> unset_rules;  // rules with [if-unset] reading this target
};

}  // namespace ringmail::spam::matcher_internal

namespace ringmail::spam {

struct compiled_rules::impl {
  explicit impl(std::vector<target_key> keys) : targets(std::move(keys)), plans(targets.size()) {}
  ~impl() {
    for (auto& p : plans) {
      for (hs_database_t* db : p.dbs) hs_free_database(db);
    }
    for (auto& p : pcre) pcre2_code_free(p.code);
  }

  target_builder targets;
  std::vector<matcher_internal::target_plan> plans;  // parallel to targets
  std::vector<matcher_internal::rule_plan> rules;    // parallel to rule_set::rules
  std::vector<matcher_internal::pcre_rule> pcre;
  std::vector<matcher_internal::database_info> databases;  // every target's, in plan order
  std::vector<uint32_t> negated;                      // applied last
  std::vector<std::pair<uint32_t, uint32_t>> exists;  // (rule, target)
  matcher_stats stats;
};

struct match_scratch::impl {
  ~impl() {
    hs_free_scratch(hs);
    pcre2_match_data_free(match_data);
    pcre2_match_context_free(match_context);
    pcre2_jit_stack_free(jit_stack);
  }

  hs_scratch_t* hs = nullptr;
  pcre2_match_data* match_data = nullptr;
  pcre2_match_context* match_context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  std::vector<std::string> storage;
  std::vector<std::string_view> views;
  std::vector<uint8_t> present;
  std::vector<uint8_t> candidates;  // per pcre rule: its prefilter fired
  std::vector<uint32_t> gate_from;  // per pcre rule (line_gated): where PCRE2 starts
  match_profile* profile = nullptr;
};

}  // namespace ringmail::spam
