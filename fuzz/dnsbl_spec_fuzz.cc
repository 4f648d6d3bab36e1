// libFuzzer target for the --dnsbl list specification (spam/dnsbl_spec). Build: see
// fuzz/README.md; sources: spam/dns/dnsbl_spec.cc, absl strings.
//
// The input is the flag value. Whatever parses must satisfy the parser's promises —
// zones lower case, without a trailing dot, short enough for an IPv6 query name; codes
// non-empty ranges; scores finite and bounded; no zone twice — and survive a round trip
// through to_spec: the canonical form parses back to the same lists.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "spam/dns/dnsbl_spec.h"

namespace {

void check(bool ok) {
  if (!ok) abort();
}

void check_list(const ringmail::spam::dnsbl_list& l) {
  check(!l.zone.empty() && l.zone.size() <= 253 - 64);
  check(l.zone.back() != '.');
  for (char c : l.zone) check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
  check(std::isfinite(l.score) && std::fabs(l.score) <= 1000);
  for (const ringmail::spam::dnsbl_code_range& r : l.codes) {
    check(r.first <= r.last);
    check(l.accepts(r.first) && l.accepts(r.last));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto lists = ringmail::spam::parse_dnsbl_lists(input);
  if (!lists.ok()) return 0;
  std::string canonical;
  for (size_t i = 0; i < lists->size(); ++i) {
    const ringmail::spam::dnsbl_list& l = (*lists)[i];
    check_list(l);
    for (size_t j = 0; j < i; ++j) check((*lists)[j].zone != l.zone);
    if (i > 0) canonical += ",";
    canonical += ringmail::spam::to_spec(l);
  }
  auto again = ringmail::spam::parse_dnsbl_lists(canonical);
  check(again.ok());
  check(again->size() == lists->size());
  for (size_t i = 0; i < lists->size(); ++i) {
    const ringmail::spam::dnsbl_list& a = (*lists)[i];
    const ringmail::spam::dnsbl_list& b = (*again)[i];
    check(a.zone == b.zone && a.codes == b.codes);
    // to_spec prints six significant digits (absl::StrCat), so compare to that precision.
    check(std::fabs(a.score - b.score) <= 1e-5 * std::fmax(1.0, std::fabs(a.score)));
  }
  return 0;
}
