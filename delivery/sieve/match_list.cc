#include "delivery/sieve/match_list.h"

#include "absl/status/status.h"

namespace ringmail::sieve::matching {

absl::StatusOr<compiled_match> compiled_match::compile(const match_spec& spec,
                                                       std::span<const std::string> keys,
                                                       const regex_limits& regex) {
  compiled_match out;
  out.spec_ = spec;
  out.keys_.assign(keys.begin(), keys.end());
  if (spec.value_relation || spec.count_relation) return out;
  switch (spec.type) {
    case match_type::is: break;
    case match_type::contains:
      if (!supports_substring(spec.compare)) {
        return absl::InvalidArgumentError(":contains cannot use comparator " +
                                          std::string(comparator_name(spec.compare)));
      }
      break;
    case match_type::matches:
      for (const std::string& key : keys) {
        absl::StatusOr<wildcard_pattern> p = wildcard_pattern::compile(key, spec.compare);
        if (!p.ok()) return p.status();
        out.patterns_.push_back(*std::move(p));
      }
      break;
    case match_type::regex:
      for (const std::string& key : keys) {
        absl::StatusOr<compiled_regex> r = compiled_regex::compile(key, spec.compare, regex);
        if (!r.ok()) return r.status();
        out.regexes_.push_back(*std::move(r));
      }
      break;
  }
  return out;
}

bool compiled_match::sets_match_variables() const {
  return !spec_.value_relation && !spec_.count_relation &&
         (spec_.type == match_type::matches || spec_.type == match_type::regex);
}

absl::StatusOr<bool> compiled_match::match(std::span<const std::string_view> values,
                                           match_captures* captures,
                                           const match_limits& limits) const {
  if (spec_.count_relation) {
    for (const std::string& key : keys_) {
      if (relational_count_match(*spec_.count_relation, spec_.compare, values.size(), key)) {
        return true;
      }
    }
    return false;
  }
  for (std::string_view value : values) {
    for (size_t k = 0; k < keys_.size(); ++k) {
      const std::string& key = keys_[k];
      if (spec_.value_relation) {
        if (relational_value_match(*spec_.value_relation, spec_.compare, value, key)) return true;
        continue;
      }
      switch (spec_.type) {
        case match_type::is:
          if (comparator_equal(spec_.compare, value, key)) return true;
          break;
        case match_type::contains:
          if (comparator_contains(spec_.compare, value, key)) return true;
          break;
        case match_type::matches: {
          absl::StatusOr<bool> m = patterns_[k].match(value, captures, limits);
          if (!m.ok() || *m) return m;
          break;
        }
        case match_type::regex:
          if (regexes_[k].match(value, captures)) return true;
          break;
      }
    }
  }
  return false;
}

}  // namespace ringmail::sieve::matching
