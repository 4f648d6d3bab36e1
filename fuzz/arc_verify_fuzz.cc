// libFuzzer target for ARC chain validation (spam/arc/verifier, arc_set). Build:
// scripts/fuzz.sh (sources there).
//
// The input is split at the first NUL: a key record published at every selector (the
// zone answers any name with it), then the message. Promises: finishes without
// suspending; a chain with no ARC field is none; pass only with 1..50 instances and an
// ARC-Seal for each; fail always says why; at most two lookups per instance plus the
// oldest-pass search (each name is asked once, so with one record per name, bounded by
// the ARC fields' distinct names anyway).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/task.h"
#include "spam/arc/arc_set.h"
#include "spam/arc/verifier.h"
#include "spam/dkim/canonical.h"
#include "fuzz/any_name_zone.h"
#include "spam/dns/dns_client.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}


}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringmail::spam;
  if (size > 256 * 1024) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto [record, message] = ringmail::fuzz::split_record_and_message(input);
  ringmail::fuzz::any_name_zone dns(record);
  arc_check c = ringmail::run_inline(arc::verify_arc(dns, message));

  ringmail::spam::dkim::prepared_message prepared(message);
  size_t arc_fields = 0;
  for (const auto& f : prepared.headers().fields) {
    if (ringmail::mail::equals_ignore_case(f.name, "ARC-Seal") ||
        ringmail::mail::equals_ignore_case(f.name, "ARC-Message-Signature") ||
        ringmail::mail::equals_ignore_case(f.name, "ARC-Authentication-Results")) {
      ++arc_fields;
    }
  }
  if (arc_fields == 0) check(c.result == arc_result::none && dns.lookups == 0);
  if (c.result == arc_result::pass) {
    check(c.instances >= 1 && c.instances <= arc::max_arc_instances);
    check(arc_fields == 3 * c.instances);
  }
  if (c.result == arc_result::fail) check(!c.reason.empty());
  check(dns.lookups <= 2 * arc::max_arc_instances);
  return 0;
}
