// The value the spamtest / spamtestplus tests compare (RFC 5235), computed from the
// headers ringmail's scanner writes (spam/verdict.cc), the way Pigeonhole 0.5.19 computes
// it with the configuration tests/sieve/README.md ("spamtest / spamtestplus") gives it:
//
//   sieve_spamtest_status_type   = score
//   sieve_spamtest_status_header = X-Spam-Score
//   sieve_spamtest_max_header    = X-Spam-Status: [[:alnum:]]+, score=-?[[:digit:]]+\.[[:digit:]] required=([[:digit:]]+\.[[:digit:]])
//
// score = the first X-Spam-Score as a decimal, max = the "required=" figure of the first
// X-Spam-Status; in single-precision floats as Pigeonhole (ext-spamvirustest-common.c):
// ratio = score / max, 0 when the score is negative, 1 when it is above max; spamtest =
// int(ratio * 9 + 1.001) (1..10), spamtest :percent = int(ratio * 100 + 0.001) (0..100).
// Either header missing or not readable: "0" ("not tested", RFC 5235 3.2/3.3).
// Decimals as Pigeonhole reads them: optional sign, at most 5 digits before and after
// a '.' or ',' radix point, nothing else. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringmail::sieve {

std::string spamtest_value(std::optional<std::string_view> score_header,
                           std::optional<std::string_view> status_header, bool percent);

}  // namespace ringmail::sieve
