// The ReplaceTags plugin (Mail::SpamAssassin::Plugin::ReplaceTags, 25_replace.cf): rules
// listed by `replace_rules` get <TAG> in their regex replaced by `replace_tag TAG value`,
// with optional <pre NAME>, <post NAME> and <inter NAME> modifiers, after all rule files
// are parsed (the plugin's finish_parsing_end).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace ringmail::spam {

struct replace_tags_config {
  std::string start = "<";  // replace_start
  std::string end = ">";    // replace_end
  absl::flat_hash_map<std::string, std::string> tags;   // replace_tag NAME value
  absl::flat_hash_map<std::string, std::string> pre;    // replace_pre NAME value
  absl::flat_hash_map<std::string, std::string> inter;  // replace_inter NAME value
  absl::flat_hash_map<std::string, std::string> post;   // replace_post NAME value
  std::vector<std::string> rules;                       // replace_rules, in order, unique
};

// One rule's pattern with its tags replaced, step for step as the plugin does it (so
// odd inputs come out as SpamAssassin's would): the modifiers are cut out, the pattern is
// split on <[^<>]+>, pre/post wrap each tag, inter fills the gap between adjacent tags,
// and tags whose values contain tags are replaced again, six passes at most.
std::string apply_replace_tags(std::string_view pattern, const replace_tags_config& config);

}  // namespace ringmail::spam
