// Small rule sets built in code, for the matcher's tests (no rule files to parse).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "spam/rules/rule.h"

namespace ringmail::spam::testing_rules {

inline rule content_rule(std::string name, rule_target target, std::string pattern, std::string flags = "") {
  rule r;
  r.name = std::move(name);
  r.target = target;
  r.pattern = std::move(pattern);
  r.flags = std::move(flags);
  return r;
}

// The rules in order, with the name index the matcher and the tests look rules up by.
inline rule_set make_set(std::vector<rule> rules) {
  rule_set set;
  set.rules = std::move(rules);
  for (uint32_t i = 0; i < set.rules.size(); ++i) set.index[set.rules[i].name] = i;
  return set;
}

}  // namespace ringmail::spam::testing_rules
