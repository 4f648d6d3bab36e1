// The date parts of RFC 5260 4.2 (date and currentdate tests), from a time and the zone
// to show it in. Pure.
//
//   "year" 4 digits, "month" 01-12, "day" 01-31, "date" yyyy-mm-dd, "julian" the Modified
//   Julian Day (days since 1858-11-17, RFC 5260 4.2's formula), "hour" 00-23, "minute",
//   "second", "time" hh:mm:ss, "iso8601" yyyy-mm-ddThh:mm:ss followed by "Z" in UTC or
//   +hh:mm (as Pigeonhole writes it; RFC 5260 refers to RFC 3339), "std11" an RFC 5322
//   date-time ("Thu, 15 Jan 2026 12:00:00 +0000"), "zone" +hhmm, "weekday" 0 (Sunday)
//   to 6. Names compare case-insensitively; an unknown part gives nothing (the test is
//   false, RFC 5260 4.2: "the test fails").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringmail::sieve {

// RFC 5260 4.1: time-zone = ("+" / "-") 4DIGIT, as minutes east of UTC; nullopt when
// `zone` is not one (minutes 60 and above included).
std::optional<int32_t> parse_time_zone(std::string_view zone);

// `part` of the instant `unix_seconds` shown in the zone `zone_minutes` east of UTC.
std::optional<std::string> date_part(int64_t unix_seconds, int32_t zone_minutes,
                                     std::string_view part);

}  // namespace ringmail::sieve
