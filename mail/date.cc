#include "mail/date.h"

#include <time.h>

#include <array>
#include <cstddef>
#include <cstdio>
#include <string_view>

namespace ringmail::mail {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

// RFC 5322 3.2.3 atext.
bool is_atext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
  static constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
  return specials.find(c) != std::string_view::npos;
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return (m == 2 && leap(y)) ? 29 : days[m - 1];
}

// A cursor over the value: atoms with the CFWS after them skipped, as Dovecot's
// rfc822_parse_atom() + rfc822_skip_lwsp() do.
class tokens {
 public:
  explicit tokens(std::string_view s) : s_(s) { skip_cfws(); }

  // The next atom, or empty when the next character is not atext (or at the end).
  std::string_view atom() {
    size_t start = i_;
    while (i_ < s_.size() && is_atext(s_[i_])) ++i_;
    std::string_view a = s_.substr(start, i_ - start);
    skip_cfws();
    return a;
  }
  // Consumes `c` (and the CFWS after it) if it is next.
  bool accept(char c) {
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    skip_cfws();
    return true;
  }
  bool at_end() const { return i_ >= s_.size(); }

 private:
  void skip_cfws() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++i_;
      } else if (c == '(') {
        // Comments nest (RFC 5322 3.2.2) and may quote characters with '\'. Iterative,
        // so 100,000 '(' cost a loop, not the stack.
        size_t depth = 0;
        while (i_ < s_.size()) {
          char d = s_[i_++];
          if (d == '\\') {
            if (i_ < s_.size()) ++i_;
          } else if (d == '(') {
            ++depth;
          } else if (d == ')') {
            if (--depth == 0) break;
          }
        }
      } else {
        break;
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

bool two_digits(std::string_view a, int& out) {
  if (a.size() != 2 || !is_digit(a[0]) || !is_digit(a[1])) return false;
  out = (a[0] - '0') * 10 + (a[1] - '0');
  return true;
}

bool one_or_two_digits(std::string_view a, int& out) {
  if (a.size() == 1 && is_digit(a[0])) {
    out = a[0] - '0';
    return true;
  }
  return two_digits(a, out);
}

// Dovecot's parse_timezone(): minutes east of UTC; 0 for what it does not know.
int32_t zone_minutes(std::string_view z) {
  if (z.size() == 5 && (z[0] == '+' || z[0] == '-')) {
    for (size_t i = 1; i < 5; ++i) {
      if (!is_digit(z[i])) return 0;
    }
    int32_t m = ((z[1] - '0') * 10 + (z[2] - '0')) * 60 + (z[3] - '0') * 10 + (z[4] - '0');
    return z[0] == '+' ? m : -m;
  }
  if (z.size() == 1) {
    char c = upper(z[0]);
    if (c < 'A' || c > 'Z') return 0;
    if (c < 'J') return (c - 'A' + 1) * 60;
    if (c == 'J') return 0;
    if (c <= 'M') return (c - 'A') * 60;
    if (c < 'Z') return ('M' - c) * 60;
    return 0;
  }
  if (z.size() == 2 && upper(z[0]) == 'U' && upper(z[1]) == 'T') return 0;
  if (z.size() == 3 && upper(z[2]) == 'T') {
    int32_t base;
    switch (upper(z[0])) {
      case 'E': base = -5 * 60; break;
      case 'C': base = -6 * 60; break;
      case 'M': base = -7 * 60; break;
      case 'P': base = -8 * 60; break;
      default: return 0;  // GMT and the rest
    }
    if (upper(z[1]) == 'D') return base + 60;
    if (upper(z[1]) == 'S') return base;
    return 0;
  }
  return 0;
}

}  // namespace

std::optional<message_date> parse_message_date(std::string_view value) {
  tokens t(value);
  std::string_view a = t.atom();
  if (a.empty()) return std::nullopt;
  if (a.size() == 3) {  // day-of-week ","
    if (!t.accept(',')) return std::nullopt;
    a = t.atom();
  }
  int day = 0;
  if (!one_or_two_digits(a, day)) return std::nullopt;

  a = t.atom();
  if (a.size() < 3) return std::nullopt;
  static constexpr std::string_view months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i) {
    if (upper(a[0]) == months[i][0] && upper(a[1]) == months[i][1] &&
        upper(a[2]) == months[i][2]) {
      month = i + 1;
      break;
    }
  }
  if (month == 0) return std::nullopt;

  a = t.atom();
  if (a.size() != 2 && a.size() != 4) return std::nullopt;
  int64_t year = 0;
  for (char c : a) {
    if (!is_digit(c)) return std::nullopt;
    year = year * 10 + (c - '0');
  }
  if (a.size() == 2) {
    year += year < 70 ? 2000 : 1900;
  } else if (year < 1900) {
    return std::nullopt;
  }

  int hour = 0, minute = 0, second = 0;
  if (!one_or_two_digits(t.atom(), hour)) return std::nullopt;
  if (!t.accept(':') && !t.accept('.')) return std::nullopt;
  if (!two_digits(t.atom(), minute)) return std::nullopt;
  if (t.accept(':') || t.accept('.')) {
    if (!two_digits(t.atom(), second)) return std::nullopt;
  }
  int32_t zone = 0;
  if (!t.at_end()) {
    a = t.atom();
    if (a.empty()) return std::nullopt;  // something that is not a zone
    zone = zone_minutes(a);
  }

  if (day < 1 || static_cast<unsigned>(day) > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  int64_t seconds = days_from_civil(year, month, static_cast<unsigned>(day)) * 86400 +
                    hour * 3600 + minute * 60 + second;
  return message_date{seconds - int64_t{zone} * 60, zone};
}

std::string format_message_date(int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  tm parts{};
  gmtime_r(&t, &parts);
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[parts.tm_wday], parts.tm_mday,
                kMonths[parts.tm_mon], parts.tm_year + 1900, parts.tm_hour, parts.tm_min, parts.tm_sec);
  return buf;
}

}  // namespace ringmail::mail
