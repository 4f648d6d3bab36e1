// RFC 5322 3.3 date-time (the Date: header) parsed into seconds since the epoch and the
// zone it was written in, for IMAP SENTBEFORE/SENTON/SENTSINCE (RFC 9051 6.4.4) and
// later SORT and Sieve's date test.
//
//   date-time = [ day-of-week "," ] date time [CFWS]
//   date      = day month year        time = hour ":" minute [ ":" second ] FWS zone
//
// Lenient the way Dovecot's message_date_parse() is (lib-mail/message-date.c), because
// SEARCH results are compared with Dovecot's:
//   - comments and folding whitespace anywhere between tokens (RFC 5322 CFWS);
//   - the day of week, if present, must be three letters and a comma, its name unchecked;
//   - two-digit years are 1970-2069 (RFC 5322 4.3 says 1950-2049 for obs-year; Dovecot
//     picks 70 as the pivot); four-digit years must be >= 1900; three-digit years fail;
//   - a one-digit hour; '.' accepted as the time separator besides ':'; seconds optional;
//   - zones: +hhmm/-hhmm (digits only, minutes not checked, as Dovecot); "UT", "GMT";
//     the US zones EST/EDT/CST/CDT/MST/MDT/PST/PDT; military single letters as Dovecot
//     reads them (A..I = +1..+9h, K..M = +10..+12h, N..Y = -1..-12h, J and Z = 0; RFC
//     5322 4.3 says to treat them all as -0000); an unknown zone or none means +0000;
//   - out-of-range values (31 Feb, 25:00, minute 60) make the date invalid; second 60 (a
//     leap second) is accepted and counts as the next second.
// Anything after the zone is ignored. Pure, linear in the input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringmail::mail {

struct message_date {
  int64_t time = 0;          // seconds since 1970-01-01T00:00:00Z (the zone applied)
  int32_t zone_minutes = 0;  // the zone as written: +0200 -> 120, -0330 -> -210
  bool operator==(const message_date&) const = default;
};

// `value` is the header field's value, folded or not. nullopt when it is not a date.
std::optional<message_date> parse_message_date(std::string_view value);

// Days since 1970-01-01 of a proleptic Gregorian calendar date (negative before it).
// month 1..12, day 1..31; the caller validates the range.
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);

// floor(seconds / 86400): the day number of a time, also for times before 1970.
inline int64_t day_of(int64_t seconds) {
  int64_t d = seconds / 86400;
  return (seconds % 86400 < 0) ? d - 1 : d;
}

// The other direction: `unix_seconds` as an RFC 5322 3.3 date-time in UTC, "Mon, 07 Dec
// 2026 08:30:00 +0000", for Date:, Received: and DSN fields. English names whatever the
// process locale (strftime's %a/%b would follow it).
std::string format_message_date(int64_t unix_seconds);

}  // namespace ringmail::mail
