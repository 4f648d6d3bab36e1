// libFuzzer target for DKIM verification (spam/dkim/verifier) end to end: message parsing,
// canonicalization, the key lookup over static_dns_client, signature checks. Build:
// scripts/fuzz.sh (sources there).
//
// The input is split at the first NUL: a key record published at every selector the
// message asks for (the zone answers any <s>._domainkey.<d> with it), then the message.
// Promises: one result per DKIM-Signature field, in order; at most max_signatures of
// them verified (the rest "policy"); never more lookups than signatures verified; a pass
// names a domain and a known algorithm; body_length_limited only on a pass. The body
// hash is the same fed whole and byte by byte. Verifying through a key cache (kept across
// inputs, small, so it also evicts) gives the same results, cold and warm.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/task.h"
#include "spam/dkim/canonical.h"
#include "spam/dkim/key_cache.h"
#include "spam/dkim/verifier.h"
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
  dkim::dkim_verify_options options;
  options.now = 1800000000;
  options.max_signatures = 3;
  auto results = ringmail::run_inline(dkim::verify_dkim(dns, message, options));

  static dkim::key_cache keys(4);
  dkim::dkim_verify_options cached_options = options;
  cached_options.key_cache = &keys;
  for (int run = 0; run < 2; ++run) {
    ringmail::fuzz::any_name_zone again(record);
    auto cached = ringmail::run_inline(dkim::verify_dkim(again, message, cached_options));
    check(cached.size() == results.size());
    for (size_t i = 0; i < cached.size(); ++i) {
      check(cached[i].result == results[i].result && cached[i].reason == results[i].reason &&
            cached[i].key_bits == results[i].key_bits &&
            cached[i].body_length_limited == results[i].body_length_limited);
    }
  }

  dkim::prepared_message prepared(message);
  size_t fields = 0;
  for (const auto& f : prepared.headers().fields) {
    if (ringmail::mail::equals_ignore_case(f.name, "DKIM-Signature")) ++fields;
  }
  check(results.size() == fields);
  check(dns.lookups <= options.max_signatures);
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    if (i >= options.max_signatures) check(r.result == dkim_result::policy);
    if (r.result == dkim_result::pass) {
      check(!r.domain.empty());
      check(r.algorithm == "rsa-sha256" || r.algorithm == "ed25519-sha256");
    } else {
      check(!r.body_length_limited);
    }
  }

  for (auto c : {dkim::canonicalization::simple, dkim::canonicalization::relaxed}) {
    dkim::body_hasher whole(c, std::nullopt), bytes(c, std::nullopt);
    whole.feed(prepared.body());
    for (char ch : prepared.body()) bytes.feed(std::string_view(&ch, 1));
    check(whole.finish() == bytes.finish());
  }
  return 0;
}
