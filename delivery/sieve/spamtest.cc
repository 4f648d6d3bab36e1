#include "delivery/sieve/spamtest.h"

#include "absl/strings/str_cat.h"
#include "delivery/sieve/match_regex.h"

namespace ringmail::sieve {
namespace {

// Pigeonhole's ext_spamvirustest_parse_decimal_value.
std::optional<float> parse_decimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  size_t i = 0;
  float sign = 1;
  if (s[0] == '+' || s[0] == '-') {
    if (s[0] == '-') sign = -1;
    ++i;
  }
  float value = 0;
  int digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    value = value * 10 + static_cast<float>(s[i] - '0');
    if (digits++ > 4) return std::nullopt;
    ++i;
  }
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    float radix = .1f;
    ++i;
    digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      value = value + static_cast<float>(s[i] - '0') * radix;
      if (digits++ > 4) return std::nullopt;
      radix /= 10;
      ++i;
    }
  }
  if (i != s.size()) return std::nullopt;
  return value * sign;
}

}  // namespace

std::string spamtest_value(std::optional<std::string_view> score_header,
                           std::optional<std::string_view> status_header, bool percent) {
  if (!score_header || !status_header) return "0";
  absl::StatusOr<matching::compiled_regex> re = matching::compiled_regex::compile(
      "[[:alnum:]]+, score=-?[[:digit:]]+\\.[[:digit:]] required=([[:digit:]]+\\.[[:digit:]])",
      matching::comparator::octet);
  matching::match_captures captures;
  if (!re.ok() || !re->match(*status_header, &captures) || captures.size() < 2) return "0";
  std::optional<float> max = parse_decimal(captures[1]);
  std::optional<float> score = parse_decimal(*score_header);
  if (!max || !score || *max <= 0) return "0";
  float ratio;
  if (*score < 0) {
    ratio = 0;
  } else if (*score > *max) {
    ratio = 1;
  } else {
    ratio = *score / *max;
  }
  if (percent) return absl::StrCat(static_cast<int>(ratio * 100 + 0.001f));
  return absl::StrCat(static_cast<int>(ratio * 9 + 1.001f));
}

}  // namespace ringmail::sieve
