#include "spam/rules/rule.h"

#include <algorithm>

namespace ringmail::spam {

// tflags are stored as written ("multiple", "maxhits=5"); a flag with a value matches by
// its name, so has_tflag("maxhits") finds "maxhits=5".
bool rule::has_tflag(const std::string& f) const {
  return std::any_of(tflags.begin(), tflags.end(), [&](const std::string& t) {
    if (t == f) return true;
    return t.size() > f.size() && t[f.size()] == '=' && t.compare(0, f.size(), f) == 0;
  });
}

const rule* rule_set::find(const std::string& name) const {
  auto it = index.find(name);
  if (it == index.end() || it->second >= rules.size()) return nullptr;
  return &rules[it->second];
}

}  // namespace ringmail::spam
