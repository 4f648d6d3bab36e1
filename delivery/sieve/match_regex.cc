#include "delivery/sieve/match_regex.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace ringmail::sieve::matching {

namespace {

// Weights saturate here: far above any limit, far below overflow.
constexpr size_t weight_cap = size_t{1} << 40;

size_t saturating_mul(size_t a, size_t b) {
  if (a != 0 && b > weight_cap / a) return weight_cap;
  return std::min(a * b, weight_cap);
}

// Parses "{n}", "{n,}" or "{n,m}" at pattern[i] ('{'); returns the repeat factor
// (max(n, m) + 1) and sets `end` past the '}', or 0 when it is not a bound (then '{' is
// an ordinary character, as glibc reads it).
size_t parse_bound(std::string_view pattern, size_t i, size_t& end) {
  size_t j = i + 1;
  auto number = [&](size_t& out) {
    size_t start = j;
    out = 0;
    while (j < pattern.size() && pattern[j] >= '0' && pattern[j] <= '9') {
      out = std::min<size_t>(out * 10 + (pattern[j] - '0'), weight_cap);
      ++j;
    }
    return j > start;
  };
  size_t n = 0;
  size_t m = 0;
  if (!number(n)) return 0;
  if (j < pattern.size() && pattern[j] == ',') {
    ++j;
    number(m);
  }
  if (j >= pattern.size() || pattern[j] != '}') return 0;
  end = j + 1;
  return std::max(n, m) + 1;
}

// Skips a bracket expression starting at pattern[i] ('['); returns the index past its ']'
// (or the end of the pattern when it is not closed: regcomp will refuse it).
size_t skip_bracket(std::string_view pattern, size_t i) {
  size_t j = i + 1;
  if (j < pattern.size() && pattern[j] == '^') ++j;
  if (j < pattern.size() && pattern[j] == ']') ++j;  // a leading ']' is literal
  while (j < pattern.size() && pattern[j] != ']') {
    if (pattern[j] == '[' && j + 1 < pattern.size() &&
        (pattern[j + 1] == ':' || pattern[j + 1] == '.' || pattern[j + 1] == '=')) {
      char kind = pattern[j + 1];
      size_t close = j + 2;
      while (close + 1 < pattern.size() && !(pattern[close] == kind && pattern[close + 1] == ']')) {
        ++close;
      }
      j = close + 2;
      continue;
    }
    ++j;
  }
  return std::min(j + 1, pattern.size());
}

}  // namespace

std::optional<size_t> regex_weight(std::string_view pattern) {
  struct frame {
    size_t total = 0;
    size_t last = 0;  // weight of the last atom (what a bound repeats)
  };
  std::vector<frame> stack(1);
  auto atom = [&](size_t w) {
    stack.back().total = std::min(stack.back().total + w, weight_cap);
    stack.back().last = w;
  };
  for (size_t i = 0; i < pattern.size();) {
    char c = pattern[i];
    if (c == '(') {
      stack.emplace_back();
      ++i;
    } else if (c == ')' && stack.size() > 1) {
      size_t w = std::min(stack.back().total + 1, weight_cap);
      stack.pop_back();
      atom(w);
      ++i;
    } else if (c == '[') {
      i = skip_bracket(pattern, i);
      atom(1);
    } else if (c == '\\') {
      if (i + 1 < pattern.size() && pattern[i + 1] >= '1' && pattern[i + 1] <= '9') {
        return std::nullopt;
      }
      i += 2;
      atom(1);
    } else if (c == '{') {
      size_t end = 0;
      size_t factor = parse_bound(pattern, i, end);
      if (factor == 0) {
        atom(1);
        ++i;
        continue;
      }
      frame& f = stack.back();
      size_t repeated = saturating_mul(f.last, factor);
      f.total = std::min(f.total - std::min(f.total, f.last) + repeated, weight_cap);
      f.last = repeated;
      i = end;
    } else if (c == '+' || c == '*' || c == '?') {
      // glibc builds "x+" as "xx*": a copy of what it repeats, so "a++++..." doubles
      // with every '+' (found by sieve_match_fuzz: 54 of them exhausted memory); stacked
      // "*" and "?" nest empty loops whose closures glibc computes recursively ("a***...",
      // 60 stars, took seconds). Each quantifier counts as doubling what it repeats.
      frame& f = stack.back();
      size_t repeated = saturating_mul(f.last, 2);
      f.total = std::min(f.total - std::min(f.total, f.last) + repeated, weight_cap);
      f.last = repeated;
      ++i;
    } else if (c == '|' || c == '^' || c == '$') {
      ++i;  // no copies
    } else {
      atom(1);
      ++i;
    }
  }
  size_t total = 0;
  for (const frame& f : stack) total = std::min(total + f.total, weight_cap);
  return total;
}

void compiled_regex::regex_deleter::operator()(regex_t* re) const {
  regfree(re);
  delete re;
}

absl::StatusOr<compiled_regex> compiled_regex::compile(std::string_view pattern, comparator c,
                                                       const regex_limits& limits) {
  int flags = REG_EXTENDED;
  if (c == comparator::ascii_casemap) {
    flags |= REG_ICASE;
  } else if (c != comparator::octet) {
    return absl::InvalidArgumentError(":regex cannot use comparator " +
                                      std::string(comparator_name(c)));
  }
  if (pattern.size() > limits.max_pattern_bytes) {
    return absl::InvalidArgumentError(":regex pattern is too long");
  }
  if (pattern.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(":regex pattern contains a NUL");
  }
  std::optional<size_t> weight = regex_weight(pattern);
  if (!weight) return absl::InvalidArgumentError(":regex back-references are not supported");
  if (*weight > limits.max_weight) {
    return absl::InvalidArgumentError(":regex pattern is too complex (counted repetitions)");
  }
  compiled_regex out;
  out.max_subject_bytes_ = limits.max_subject_bytes;
  std::string text(pattern);
  out.regex_.reset(new regex_t);
  int rc = regcomp(out.regex_.get(), text.c_str(), flags);
  if (rc != 0) {
    char message[256];
    regerror(rc, out.regex_.get(), message, sizeof message);
    delete out.regex_.release();  // regcomp failed: nothing to regfree
    return absl::InvalidArgumentError(std::string(":regex ") + message);
  }
  return out;
}

bool compiled_regex::match(std::string_view value, match_captures* captures) const {
  if (value.size() > max_subject_bytes_) value = value.substr(0, max_subject_bytes_);
  regmatch_t groups[max_match_values];
  groups[0].rm_so = 0;
  groups[0].rm_eo = static_cast<regoff_t>(value.size());
  // REG_STARTEND (glibc, BSD): the subject is [rm_so, rm_eo) of the buffer, NULs and all.
  // glibc would not read past rm_eo, but sanitizers' regexec interceptors take strlen()
  // of the subject, so it gets a terminating NUL (a copy of at most max_subject_bytes).
  const std::string subject(value);
  if (regexec(regex_.get(), subject.c_str(), max_match_values, groups, REG_STARTEND) != 0) {
    return false;
  }
  if (captures != nullptr) {
    captures->clear();
    size_t n = std::min<size_t>(regex_->re_nsub + 1, max_match_values);
    for (size_t k = 0; k < n; ++k) {
      if (groups[k].rm_so < 0 || groups[k].rm_eo < groups[k].rm_so) {
        captures->push_back(std::string_view());
      } else {
        captures->push_back(value.substr(groups[k].rm_so, groups[k].rm_eo - groups[k].rm_so));
      }
    }
  }
  return true;
}

size_t compiled_regex::group_count() const { return regex_->re_nsub; }

}  // namespace ringmail::sieve::matching
