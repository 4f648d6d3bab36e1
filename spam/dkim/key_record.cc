#include "spam/dkim/key_record.h"

#include "absl/strings/str_cat.h"
#include "mail/header.h"
#include "spam/auth/tag_list.h"

namespace ringmail::spam::dkim {
namespace {

absl::Status refuse(std::string_view why) { return absl::InvalidArgumentError(std::string(why)); }

bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Whether the colon-separated list `list` holds `item` (or `wildcard`), ignoring FWS.
bool list_has(std::string_view list, std::string_view item, std::string_view wildcard = {}) {
  while (true) {
    size_t colon = list.find(':');
    std::string_view one = list.substr(0, colon);
    while (!one.empty() && is_fws(one.front())) one.remove_prefix(1);
    while (!one.empty() && is_fws(one.back())) one.remove_suffix(1);
    if (mail::equals_ignore_case(one, item) || (!wildcard.empty() && one == wildcard)) return true;
    if (colon == std::string_view::npos) return false;
    list.remove_prefix(colon + 1);
  }
}

}  // namespace

absl::Status check_key_limits(const public_key& key, const key_limits& limits) {
  if (key.type != key_type::rsa) return absl::OkStatus();
  if (key.bits < limits.min_rsa_bits) return refuse(absl::StrCat("key too small (", key.bits, " bits)"));
  if (key.bits > limits.max_rsa_bits) return refuse("key too large");
  return absl::OkStatus();
}

absl::StatusOr<key_record> parse_key_record(std::string_view txt, const key_limits& limits) {
  if (txt.size() > max_key_record_bytes) return refuse("key record too long");
  auto tags = parse_tag_list(txt);
  if (!tags.ok()) return refuse(absl::StrCat("bad key record: ", tags.status().message()));
  // §3.6.1: v=, when present, must be the first tag and DKIM1.
  if (const tag* v = find_tag(*tags, "v")) {
    if (v != &tags->front() || v->value != "DKIM1") return refuse("bad key record version");
  }
  key_type type = key_type::rsa;
  if (const tag* k = find_tag(*tags, "k")) {
    if (k->value == "rsa") {
      type = key_type::rsa;
    } else if (k->value == "ed25519") {
      type = key_type::ed25519;
    } else {
      return refuse(absl::StrCat("unknown key type k=", std::string(k->value.substr(0, 40))));
    }
  }
  if (const tag* h = find_tag(*tags, "h")) {
    if (!list_has(h->value, "sha256")) return refuse("key record h= excludes sha256");
  }
  if (const tag* s = find_tag(*tags, "s")) {
    if (!list_has(s->value, "email", "*")) return refuse("key not for email (s=)");
  }
  const tag* p = find_tag(*tags, "p");
  if (p == nullptr) return refuse("key record without p=");
  std::string p_text = without_whitespace(p->value);
  if (p_text.empty()) return refuse("key revoked");
  // The DER of an RSA key is its modulus plus ~40 bytes; refuse what cannot fit in
  // max_rsa_bits before decoding or parsing anything.
  size_t max_der = limits.max_rsa_bits / 8 + 64;
  if (p_text.size() / 4 * 3 > max_der + 2) return refuse("key too large");
  auto der = decode_base64_strict(p_text, max_der);
  if (!der.ok()) return refuse(absl::StrCat("p=: ", der.status().message()));
  auto key = parse_public_key(type, *der);
  if (!key.ok()) return key.status();
  if (absl::Status fits = check_key_limits(*key, limits); !fits.ok()) return fits;
  key_record rec;
  rec.key = std::move(*key);
  if (const tag* t = find_tag(*tags, "t")) {
    rec.testing = list_has(t->value, "y");
    rec.strict_identity = list_has(t->value, "s");
  }
  return rec;
}

}  // namespace ringmail::spam::dkim
