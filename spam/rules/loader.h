// Loads rule files in the SpamAssassin rule language (Mail::SpamAssassin::Conf): header,
// body, rawbody, uri, full, mimeheader, meta, score, describe, tflags, priority,
// required_score, ifplugin/if/else/endif, include, and the ReplaceTags plugin's
// replace_start/replace_end/replace_tag/replace_pre/replace_inter/replace_post/replace_rules.
// The stock rules in Debian's spamassassin package (/usr/share/spamassassin/*.cf) load
// unchanged; what we do not support is skipped and counted in load_stats, never fatal.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "spam/rules/rule.h"

namespace ringmail::spam {

struct load_options {
  // SpamAssassin's four score sets: 0 no Bayes, no network; 1 network; 2 Bayes;
  // 3 Bayes and network. `score NAME a b c d` takes the set's column.
  int score_set = 2;
  // The SpamAssassin version `if (version >= ...)` compares against.
  double version = 4.000000;
  // Plugins treated as loaded by `ifplugin` / `if plugin(...)`: the ones whose rules
  // this scanner can run (e.g. Mail::SpamAssassin::Plugin::ReplaceTags, ...::Bayes).
  std::vector<std::string> plugins;
  // Eval functions the scanner implements; other eval rules are counted and dropped.
  std::vector<std::string> eval_functions;
};

// Paths are files or directories; a directory loads its *.cf files in name order (as
// SpamAssassin does). Errors only for unreadable paths.
absl::StatusOr<rule_set> load_rules(const std::vector<std::string>& paths, const load_options& options);
// Loads rules from text (tests; `origin` names it in error samples).
rule_set load_rules_from_text(std::string_view text, const load_options& options,
                              std::string_view origin = "<text>");
// Adds `text` to an existing set (later definitions win).
void load_more_rules(rule_set& set, std::string_view text, const load_options& options,
                     std::string_view origin);

}  // namespace ringmail::spam
