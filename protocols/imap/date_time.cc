// RFC 9051 section 9 "date" and "date-time" (SEARCH keys and APPEND's internal date).
//
//   date-text = date-day "-" date-month "-" date-year      ; date-day = 1*2DIGIT
//   date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
//   date-day-fixed = (SP DIGIT) / 2DIGIT ; time = 2DIGIT ":" 2DIGIT ":" 2DIGIT
//   zone = ("+" / "-") 4DIGIT
// Both functions take the text without the DQUOTEs. Departure: date-time also accepts a
// one-digit day without the leading space (Dovecot does too). The day must exist in its
// month; years 1..9999.
#include <cstdint>
#include <optional>
#include <string_view>

#include "protocols/imap/command.h"
#include "mail/date.h"
#include "protocols/imap/parser_cursor.h"

namespace ringmail::imap {

namespace {

bool digits(std::string_view s, size_t n, int& out) {
  if (s.size() < n) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Parses "d-Mon-yyyy" at the front of `s` (day of 1 or 2 digits, or SP DIGIT when
// `fixed`), advancing it.
std::optional<int64_t> date_prefix(std::string_view& s, bool fixed) {
  int day = 0;
  if (fixed && !s.empty() && s[0] == ' ') s.remove_prefix(1);
  if (digits(s, 2, day)) {
    s.remove_prefix(2);
  } else if (digits(s, 1, day)) {
    s.remove_prefix(1);
  } else {
    return std::nullopt;
  }
  if (s.size() < 5 || s[0] != '-' || s[4] != '-') return std::nullopt;
  static constexpr std::string_view months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i) {
    if (detail::iequals(s.substr(1, 3), months[i])) month = i + 1;
  }
  if (month == 0) return std::nullopt;
  s.remove_prefix(5);
  int year = 0;
  if (!digits(s, 4, year) || year == 0) return std::nullopt;
  s.remove_prefix(4);
  static constexpr int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int last = mdays[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day < 1 || day > last) return std::nullopt;
  return mail::days_from_civil(year, month, static_cast<unsigned>(day));
}

}  // namespace

std::optional<int64_t> parse_date(std::string_view s) {
  std::optional<int64_t> d = date_prefix(s, false);
  if (!d || !s.empty()) return std::nullopt;
  return d;
}

std::optional<int64_t> parse_date_time(std::string_view s) {
  std::optional<int64_t> d = date_prefix(s, true);
  if (!d) return std::nullopt;
  int hh = 0, mm = 0, ss = 0, zh = 0, zm = 0;
  // " hh:mm:ss +zzzz"
  if (s.size() != 15 || s[0] != ' ' || s[3] != ':' || s[6] != ':' || s[9] != ' ' ||
      (s[10] != '+' && s[10] != '-')) {
    return std::nullopt;
  }
  if (!digits(s.substr(1), 2, hh) || !digits(s.substr(4), 2, mm) ||
      !digits(s.substr(7), 2, ss) || !digits(s.substr(11), 2, zh) ||
      !digits(s.substr(13), 2, zm)) {
    return std::nullopt;
  }
  if (hh > 23 || mm > 59 || ss > 60 || zm > 59) return std::nullopt;
  int64_t zone = (zh * 60 + zm) * 60;
  if (s[10] == '-') zone = -zone;
  // Local time minus its offset from UTC is UTC.
  return *d * 86400 + hh * 3600 + mm * 60 + ss - zone;
}

}  // namespace ringmail::imap
