// libFuzzer target for SPF evaluation (spam/spf/check.h) over a zone built from the input.
// Build: see fuzz/README.md.
//
// Input: lines "TYPE name value" (TXT/A/AAAA/MX/PTR/TIMEOUT/SERVFAIL), then the check runs
// for a few clients and senders. Promises: it finishes without suspending (run_inline),
// asks DNS a bounded number of times (10 terms x at most 10 MX names x 2 lookups, plus the
// PTR names), and reports a temperror only when the zone has a failing name.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/task.h"
#include "spam/dns/dns_client.h"
#include "spam/spf/check.h"

namespace {

void check(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringmail;
  using namespace ringmail::spam;
  if (size > 64 * 1024) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  static_dns_client zone;
  bool failing = false;
  while (!input.empty()) {
    size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    size_t s1 = line.find(' ');
    if (s1 == std::string_view::npos) continue;
    std::string_view type = line.substr(0, s1);
    std::string_view rest = line.substr(s1 + 1);
    size_t s2 = rest.find(' ');
    std::string_view name = rest.substr(0, s2);
    std::string_view value = s2 == std::string_view::npos ? std::string_view() : rest.substr(s2 + 1);
    if (type == "TXT") zone.add_txt(name, value);
    else if (type == "A") zone.add_a(name, value);
    else if (type == "AAAA") zone.add_aaaa(name, value);
    else if (type == "MX") zone.add_mx(name, static_cast<uint16_t>(value.size()), value);
    else if (type == "PTR") zone.add_ptr(name, value);
    else if (type == "TIMEOUT" || type == "SERVFAIL") {
      failing = true;
      for (dns_type t : {dns_type::a, dns_type::aaaa, dns_type::mx, dns_type::txt, dns_type::ptr})
        zone.set_status(name, t, type == "TIMEOUT" ? dns_status::timeout : dns_status::servfail);
    }
  }
  for (const char* ip : {"192.0.2.1", "2001:db8::1"}) {
    for (const char* sender : {"user@example.com", "", "x@a.example.com"}) {
      spf_request r;
      r.client_ip = ip;
      r.sender = sender;
      r.helo = "example.com";
      size_t before = zone.lookups();
      spf_check c = run_inline(check_host(zone, r));
      size_t asked = zone.lookups() - before;
      // 1 TXT + 10 terms, each: an expansion's PTR + 10 names, then up to 1 MX + 10 A + TXT
      // (include/redirect), + exp (2); generous but finite.
      check(asked <= 1 + 10 * 35 + 4);
      if (c.result == spf_result::temperror) check(failing);
    }
  }
  return 0;
}
