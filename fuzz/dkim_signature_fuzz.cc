// libFuzzer target for DKIM's header-side parsers (spam/dkim/signature, key_record, over
// spam/auth/tag_list). Build: scripts/fuzz.sh (sources there).
//
// The input is split at the first NUL: a DKIM-Signature value, then a key record. What
// parses must keep the parsers' promises: h= within its limit and holding From, b=
// within max_signature_bytes, bh= a SHA-256, i= inside d=, x= not before t=; ARC-Message-
// Signature parsing of the same value keeps its instance in 1..50. A key record that
// parses has an RSA key within the limits or an Ed25519 key. And without_b_value never
// grows its input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mail/header.h"
#include "spam/dkim/canonical.h"
#include "spam/dkim/key_record.h"
#include "spam/dkim/signature.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringmail::spam::dkim;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string_view sig_text = input.substr(0, nul);
  std::string_view key_text = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  auto sig = parse_signature(sig_text);
  if (sig.ok()) {
    check(!sig->signed_headers.empty() && sig->signed_headers.size() <= max_signed_header_names);
    bool from = false;
    for (const auto& h : sig->signed_headers) from = from || ringmail::mail::equals_ignore_case(h, "from");
    check(from);
    check(!sig->signature_data.empty() && sig->signature_data.size() <= max_signature_bytes);
    check(sig->body_hash.size() == 32);
    size_t at = sig->identity.rfind('@');
    check(at != std::string::npos && is_same_or_subdomain(std::string_view(sig->identity).substr(at + 1), sig->domain));
    if (sig->timestamp && sig->expiry) check(*sig->expiry >= *sig->timestamp);
  }
  auto ams = parse_signature(sig_text, signature_kind::arc_message_signature);
  if (ams.ok()) check(ams->instance >= 1 && ams->instance <= 50);
  std::string field = "DKIM-Signature: " + std::string(sig_text);
  check(without_b_value(field).size() <= field.size());

  auto key = parse_key_record(key_text);
  if (key.ok()) {
    check(key->key.pkey != nullptr);
    if (key->key.type == key_type::rsa) check(key->key.bits >= 1024 && key->key.bits <= 8192);
    else check(key->key.bits == 256);
  }
  return 0;
}
