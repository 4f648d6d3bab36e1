#include "spam/dkim/verifier.h"

#include <ctime>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace ringmail::spam::dkim {
namespace {

dkim_signature_check describe(const signature& sig) {
  dkim_signature_check c;
  c.domain = sig.domain;
  c.selector = sig.selector;
  c.identity = sig.identity;
  c.algorithm = std::string(to_string(sig.algo));
  c.b_prefix = sig.b_text.substr(0, 8);
  return c;
}

bool temporary(dns_status s) {
  return s == dns_status::timeout || s == dns_status::servfail || s == dns_status::error ||
         s == dns_status::shutdown;
}

}  // namespace

// Kept per message (by name), so two signatures by one selector cost one lookup.
key_outcome key_from_answer(const dns_answer& answer, const dkim_verify_options& options) {
  key_outcome out;
  if (temporary(answer.status)) {
    out.result = dkim_result::temperror;
    // (runtime's to_string(dns_status) lives outside this pure library)
    out.reason = answer.status == dns_status::timeout ? "key lookup timed out" : "key lookup failed";
    return out;
  }
  if (answer.status != dns_status::ok || answer.texts.empty()) {
    out.result = dkim_result::permerror;
    out.reason = "no key for signature";
    return out;
  }
  std::string first_error;
  size_t looked = 0;
  for (const std::string& txt : answer.texts) {
    if (looked++ == options.max_key_records) break;
    absl::Status refused;
    if (options.key_cache != nullptr) {
      auto rec = options.key_cache->get(txt, options.keys);
      if (rec.ok()) {
        out.key = **rec;  // shares the parsed EVP_PKEY: no copy of the key itself
        return out;
      }
      refused = rec.status();
    } else {
      auto rec = parse_key_record(txt, options.keys);
      if (rec.ok()) {
        out.key = std::move(*rec);
        return out;
      }
      refused = rec.status();
    }
    if (first_error.empty()) first_error = std::string(refused.message());
  }
  out.result = dkim_result::permerror;
  out.reason = first_error;
  return out;
}

std::string key_name(std::string_view selector, std::string_view domain) {
  return absl::StrCat(std::string(selector), "._domainkey.", std::string(domain));
}
std::string key_name(const signature& sig) { return key_name(sig.selector, sig.domain); }

dkim_signature_check verify_signature_with_key(const prepared_message& message, const mail::header_field& field,
                                               const signature& sig, const key_record& key) {
  dkim_signature_check c = describe(sig);
  c.key_bits = key.key.bits;
  if ((sig.algo == algorithm::ed25519_sha256) != (key.key.type == key_type::ed25519)) {
    c.result = dkim_result::permerror;
    c.reason = "key type does not match a=";
    return c;
  }
  if (key.strict_identity) {
    std::string_view id = sig.identity;
    std::string_view id_domain = id.substr(id.rfind('@') + 1);
    if (!mail::equals_ignore_case(id_domain, sig.domain)) {
      c.result = dkim_result::permerror;
      c.reason = "key has t=s but i= is a subdomain";
      return c;
    }
  }
  body_hasher body(sig.body_canon, sig.body_length);
  body.feed(message.body());
  std::string bh = body.finish();
  if (sig.body_length) {
    if (body.canonical_length() < *sig.body_length) {
      c.result = dkim_result::fail;
      c.reason = "body shorter than l=";
      return c;
    }
    c.body_length_limited = body.canonical_length() > *sig.body_length;
  }
  if (bh != sig.body_hash) {
    c.result = dkim_result::fail;
    c.reason = "body hash did not verify";
    c.body_length_limited = false;
    return c;
  }
  std::string data = header_hash_input(message.headers(), sig.signed_headers, sig.header_canon,
                                       without_b_value(raw_field(field)));
  if (!verify_data(key.key, sig.algo, data, sig.signature_data)) {
    c.result = dkim_result::fail;
    c.reason = "signature did not verify";
    c.body_length_limited = false;
    return c;
  }
  c.result = dkim_result::pass;
  if (key.testing) c.reason = "key in testing mode (t=y)";
  return c;
}

task<std::vector<dkim_signature_check>> verify_dkim(dns_client& dns, std::string_view raw,
                                                    dkim_verify_options options) {
  prepared_message message(raw);
  int64_t now = options.now != 0 ? options.now : static_cast<int64_t>(std::time(nullptr));
  std::vector<dkim_signature_check> results;
  std::map<std::string, key_outcome> keys;  // by lower-case key name
  size_t verified = 0;
  for (const mail::header_field& field : message.headers().fields) {
    if (!mail::equals_ignore_case(field.name, "DKIM-Signature")) continue;
    if (verified == options.max_signatures) {
      dkim_signature_check c;
      c.result = dkim_result::policy;
      c.reason = absl::StrCat("not verified: more than ", options.max_signatures, " signatures");
      results.push_back(std::move(c));
      continue;
    }
    ++verified;
    auto parsed = parse_signature(field.value);
    if (!parsed.ok()) {
      dkim_signature_check c;
      c.result = dkim_result::permerror;
      c.reason = std::string(parsed.status().message());
      results.push_back(std::move(c));
      continue;
    }
    const signature& sig = *parsed;
    if (sig.expiry && static_cast<int64_t>(std::min<uint64_t>(*sig.expiry, INT64_MAX / 2)) + options.clock_skew < now) {
      dkim_signature_check c = describe(sig);
      c.result = dkim_result::permerror;
      c.reason = "signature expired";
      results.push_back(std::move(c));
      continue;
    }
    std::string name = key_name(sig);
    std::string lower = absl::AsciiStrToLower(name);
    auto it = keys.find(lower);
    if (it == keys.end()) {
      auto lookup = dns.lookup(dns_type::txt, name);
      dns_answer answer = co_await std::move(lookup);
      it = keys.emplace(lower, key_from_answer(answer, options)).first;
    }
    if (it->second.result != dkim_result::none) {
      dkim_signature_check c = describe(sig);
      c.result = it->second.result;
      c.reason = it->second.reason;
      results.push_back(std::move(c));
      continue;
    }
    results.push_back(verify_signature_with_key(message, field, sig, *it->second.key));
  }
  co_return results;
}

}  // namespace ringmail::spam::dkim
