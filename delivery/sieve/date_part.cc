#include "delivery/sieve/date_part.h"

#include <ctime>

#include "absl/strings/str_format.h"
#include "mail/date.h"
#include "mail/header.h"

namespace ringmail::sieve {
namespace {

constexpr const char* kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string zone_text(int32_t minutes, bool colon) {
  char sign = minutes < 0 ? '-' : '+';
  int32_t m = minutes < 0 ? -minutes : minutes;
  return colon ? absl::StrFormat("%c%02d:%02d", sign, m / 60, m % 60)
               : absl::StrFormat("%c%02d%02d", sign, m / 60, m % 60);
}

}  // namespace

std::optional<int32_t> parse_time_zone(std::string_view zone) {
  if (zone.size() != 5 || (zone[0] != '+' && zone[0] != '-')) return std::nullopt;
  for (size_t i = 1; i < 5; ++i) {
    if (zone[i] < '0' || zone[i] > '9') return std::nullopt;
  }
  int32_t hours = (zone[1] - '0') * 10 + (zone[2] - '0');
  int32_t minutes = (zone[3] - '0') * 10 + (zone[4] - '0');
  if (minutes >= 60) return std::nullopt;
  int32_t total = hours * 60 + minutes;
  return zone[0] == '-' ? -total : total;
}

std::optional<std::string> date_part(int64_t unix_seconds, int32_t zone_minutes,
                                     std::string_view part) {
  // gmtime_r of the shifted instant gives the wall clock in that zone.
  std::time_t shifted = static_cast<std::time_t>(unix_seconds + int64_t{zone_minutes} * 60);
  std::tm tm{};
  if (gmtime_r(&shifted, &tm) == nullptr) return std::nullopt;
  const int year = tm.tm_year + 1900;
  auto is = [&](std::string_view name) { return mail::equals_ignore_case(part, name); };
  if (is("year")) return absl::StrFormat("%04d", year);
  if (is("month")) return absl::StrFormat("%02d", tm.tm_mon + 1);
  if (is("day")) return absl::StrFormat("%02d", tm.tm_mday);
  if (is("date")) return absl::StrFormat("%04d-%02d-%02d", year, tm.tm_mon + 1, tm.tm_mday);
  if (is("julian")) {
    // RFC 5260 4.2: the Modified Julian Day; 1970-01-01 is MJD 40587.
    int64_t days = mail::days_from_civil(year, tm.tm_mon + 1, tm.tm_mday);
    return absl::StrFormat("%d", days + 40587);
  }
  if (is("hour")) return absl::StrFormat("%02d", tm.tm_hour);
  if (is("minute")) return absl::StrFormat("%02d", tm.tm_min);
  if (is("second")) return absl::StrFormat("%02d", tm.tm_sec);
  if (is("time")) return absl::StrFormat("%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (is("iso8601")) {
    std::string out = absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d", year, tm.tm_mon + 1,
                                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    out += zone_minutes == 0 ? "Z" : zone_text(zone_minutes, true);
    return out;
  }
  if (is("std11")) {
    return absl::StrFormat("%s, %02d %s %04d %02d:%02d:%02d %s", kWeekdays[tm.tm_wday],
                           tm.tm_mday, kMonths[tm.tm_mon], year, tm.tm_hour, tm.tm_min,
                           tm.tm_sec, zone_text(zone_minutes, false));
  }
  if (is("zone")) return zone_text(zone_minutes, false);
  if (is("weekday")) return absl::StrFormat("%d", tm.tm_wday);
  return std::nullopt;
}

}  // namespace ringmail::sieve
