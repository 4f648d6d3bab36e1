// libFuzzer target for two small pure helpers of the message model: the RFC 5322 Date:
// parser (mail/date.h) and the simple Unicode case fold (mail/casefold.h), both used by
// IMAP SEARCH. Build: see fuzz/README.md and scripts/fuzz.sh.
//
// Invariants (any break aborts):
//   date: a parsed date written back canonically ("D Mon YYYY hh:mm:ss +hhmm") parses to
//     the same time and zone; the zone is what four digits can say (|zone| <= 99h99m).
//   fold: idempotent, never longer than its input, valid UTF-8 stays valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mail/casefold.h"
#include "mail/charset.h"
#include "mail/date.h"

namespace {

using namespace ringmail::mail;

// Howard Hinnant's civil_from_days, the inverse of days_from_civil.
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

void check_date(std::string_view input) {
  auto d = parse_message_date(input);
  if (!d) return;
  if (d->zone_minutes > 99 * 60 + 99 || d->zone_minutes < -(99 * 60 + 99)) abort();
  int64_t local = d->time + int64_t{d->zone_minutes} * 60;
  int64_t day = day_of(local), secs = local - day * 86400;
  int64_t y;
  unsigned m, dd;
  civil_from_days(day, y, m, dd);
  if (y < 1900) abort();  // the parser refuses years before 1900
  if (y > 9999) return;   // 31 Dec 9999 23:59:60 rolls into a five-digit year
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int32_t z = d->zone_minutes < 0 ? -d->zone_minutes : d->zone_minutes;
  char buf[96];
  snprintf(buf, sizeof buf, "%u %s %04lld %02lld:%02lld:%02lld %c%02d%02d", dd, months[m - 1],
           static_cast<long long>(y), static_cast<long long>(secs / 3600),
           static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60),
           d->zone_minutes < 0 ? '-' : '+', z / 60, z % 60);
  auto again = parse_message_date(buf);
  if (!again || again->time != d->time || again->zone_minutes != d->zone_minutes) abort();
}

void check_fold(std::string_view input) {
  std::string once = fold_case(input);
  if (once.size() > input.size()) abort();
  if (fold_case(once) != once) abort();
  if (is_valid_utf8(input) && !is_valid_utf8(once)) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_date(input);
  check_fold(input);
  return 0;
}
