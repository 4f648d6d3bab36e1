// libFuzzer target for SPF records and macros (spam/spf/record.h, macro.h). Build: see
// fuzz/README.md.
//
// The input is a TXT string. Whatever parses keeps the parser's promises (CIDR lengths in
// range, domain-specs valid); every macro-string it holds expands (the grammar check and
// the expansion agree), and expanded names fit into 253 octets once fitted. The input is
// also expanded as an explanation and as a domain-spec on its own.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "spam/spf/macro.h"
#include "spam/spf/record.h"

namespace {

void check(bool ok) {
  if (!ok) abort();
}

ringmail::spam::spf::macro_values values() {
  ringmail::spam::spf::macro_values v;
  v.sender = "strong-bad@email.example.com";
  v.local_part = "strong-bad";
  v.sender_domain = "email.example.com";
  v.domain = "email.example.com";
  v.ip = "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1";
  v.validated_name = "unknown";
  v.ip_version = "ip6";
  v.helo = "mx.example.org";
  v.client_ip = "2001:db8::cb01";
  v.receiver = "unknown";
  v.timestamp = 1;
  return v;
}

void expand_spec(const std::string& spec) {
  using namespace ringmail::spam::spf;
  check(valid_domain_spec(spec));
  auto out = expand_macros(spec, values(), macro_context::domain_spec);
  check(out.has_value());
  check(fit_domain_name(*out).size() <= 253);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringmail::spam::spf;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (macro_context c : {macro_context::domain_spec, macro_context::explanation}) {
    auto out = expand_macros(input, values(), c);
    check(out.has_value() == valid_macro_string(input, c));
  }
  auto rec = parse_record(input);
  if (!rec.ok()) return 0;
  check(is_spf_record(input));
  for (const mechanism& m : rec->mechanisms) {
    check(m.cidr4 <= 32 && m.cidr6 <= 128);
    check(m.qualifier == ringmail::spam::spf_result::pass || m.qualifier == ringmail::spam::spf_result::fail ||
          m.qualifier == ringmail::spam::spf_result::softfail || m.qualifier == ringmail::spam::spf_result::neutral);
    if (!m.domain_spec.empty()) expand_spec(m.domain_spec);
    if (m.kind == mechanism_kind::include || m.kind == mechanism_kind::exists) check(!m.domain_spec.empty());
  }
  if (rec->redirect) expand_spec(*rec->redirect);
  if (rec->exp) expand_spec(*rec->exp);
  return 0;
}
