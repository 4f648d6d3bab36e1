#include "spam/dkim/signature.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "mail/header.h"
#include "spam/auth/tag_list.h"

namespace ringmail::spam::dkim {
namespace {

bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_fws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_fws(s.back())) s.remove_suffix(1);
  return s;
}

// d= and s= become a DNS name (<s>._domainkey.<d>) and d= the identity's domain: no
// whitespace, control characters, '@' or tag-list punctuation (8-bit kept: U-labels).
bool valid_name_text(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '@' || c == ';' || c == ':' || c == '/' || c == '\\') return false;
  }
  return true;
}

absl::Status permerror(std::string_view why) { return absl::InvalidArgumentError(std::string(why)); }

absl::Status parse_canonicalization(std::string_view c, signature& sig) {
  std::string_view header = c, body = "simple";
  if (size_t slash = c.find('/'); slash != std::string_view::npos) {
    header = c.substr(0, slash);
    body = c.substr(slash + 1);
  }
  auto one = [](std::string_view s, canonicalization& out) {
    if (mail::equals_ignore_case(s, "simple")) {
      out = canonicalization::simple;
    } else if (mail::equals_ignore_case(s, "relaxed")) {
      out = canonicalization::relaxed;
    } else {
      return false;
    }
    return true;
  };
  if (!one(trim(header), sig.header_canon) || !one(trim(body), sig.body_canon)) {
    return permerror(absl::StrCat("unknown canonicalization c=", std::string(c.substr(0, 40))));
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

bool is_same_or_subdomain(std::string_view d, std::string_view parent) {
  if (parent.empty()) return false;
  if (d.size() == parent.size()) return mail::equals_ignore_case(d, parent);
  if (d.size() <= parent.size()) return false;
  return d[d.size() - parent.size() - 1] == '.' && mail::equals_ignore_case(d.substr(d.size() - parent.size()), parent);
}

absl::StatusOr<signature> parse_signature(std::string_view value, signature_kind kind) {
  if (static_cast<size_t>(std::count(value.begin(), value.end(), ';')) > max_signature_tags) {
    return permerror("too many tags");
  }
  auto tags = parse_tag_list(value);
  if (!tags.ok()) return permerror(std::string(tags.status().message()));
  auto get = [&](std::string_view name) -> const tag* { return find_tag(*tags, name); };

  signature sig;
  if (kind == signature_kind::dkim) {
    const tag* v = get("v");
    if (v == nullptr) return permerror("missing v=");
    if (v->value != "1") return permerror("unsupported version v=");
  }
  for (std::string_view required : {"a", "b", "bh", "d", "h", "s"}) {
    if (get(required) == nullptr) return permerror(absl::StrCat("missing ", std::string(required), "="));
  }
  if (kind == signature_kind::arc_message_signature && get("i") == nullptr) return permerror("missing i=");

  std::string_view a = get("a")->value;
  if (mail::equals_ignore_case(a, "rsa-sha256")) {
    sig.algo = algorithm::rsa_sha256;
  } else if (mail::equals_ignore_case(a, "ed25519-sha256")) {
    sig.algo = algorithm::ed25519_sha256;
  } else if (mail::equals_ignore_case(a, "rsa-sha1")) {
    return permerror("weak algorithm rsa-sha1");  // RFC 8301 §3.1
  } else {
    return permerror(absl::StrCat("unknown algorithm a=", std::string(a.substr(0, 40))));
  }

  if (const tag* c = get("c")) {
    if (absl::Status s = parse_canonicalization(c->value, sig); !s.ok()) return s;
  }
  sig.domain = std::string(get("d")->value);
  sig.selector = std::string(get("s")->value);
  if (!valid_name_text(sig.domain)) return permerror("bad d=");
  if (!valid_name_text(sig.selector)) return permerror("bad s=");

  // h=: colon-separated names with FWS around them (relaxed header canonicalization and
  // folding put spaces there).
  std::string_view h = get("h")->value;
  size_t colons = static_cast<size_t>(std::count(h.begin(), h.end(), ':'));
  if (colons + 1 > max_signed_header_names) return permerror("h= lists too many fields");
  bool from_signed = false;
  while (true) {
    size_t colon = h.find(':');
    std::string_view name = trim(h.substr(0, colon));
    if (name.empty()) return permerror("empty name in h=");
    if (mail::equals_ignore_case(name, "from")) from_signed = true;
    sig.signed_headers.emplace_back(name);
    if (colon == std::string_view::npos) break;
    h.remove_prefix(colon + 1);
  }
  if (!from_signed) return permerror("From not signed");  // RFC 6376 §5.4

  auto bh = decode_base64_strict(get("bh")->value, 64);
  if (!bh.ok()) return permerror(absl::StrCat("bh=: ", bh.status().message()));
  sig.body_hash = std::move(*bh);
  if (sig.body_hash.size() != 32) return permerror("bh= is not a SHA-256 hash");
  sig.b_text = without_whitespace(get("b")->value);
  auto b = decode_base64_strict(sig.b_text, max_signature_bytes);
  if (!b.ok()) return permerror(absl::StrCat("b=: ", b.status().message()));
  if (b->empty()) return permerror("empty b=");
  sig.signature_data = std::move(*b);

  if (const tag* i = get("i")) {
    if (kind == signature_kind::arc_message_signature) {
      auto n = parse_decimal(i->value);
      if (!n || *n < 1 || *n > 50) return permerror("bad ARC instance i=");
      sig.instance = static_cast<unsigned>(*n);
    } else {
      sig.identity = std::string(i->value);
      size_t at = sig.identity.rfind('@');
      if (at == std::string::npos) return permerror("i= without '@'");
      if (!is_same_or_subdomain(std::string_view(sig.identity).substr(at + 1), sig.domain)) {
        return permerror("i= domain outside d=");  // RFC 6376 §3.5 i=
      }
    }
  } else {
    sig.identity = "@" + sig.domain;
  }

  auto number = [&](std::string_view name, std::optional<uint64_t>& out) -> absl::Status {
    if (const tag* t = get(name)) {
      out = parse_decimal(t->value);
      if (!out) return permerror(absl::StrCat("bad ", std::string(name), "="));
    }
    return absl::OkStatus();
  };
  if (absl::Status s = number("l", sig.body_length); !s.ok()) return s;
  if (absl::Status s = number("t", sig.timestamp); !s.ok()) return s;
  if (absl::Status s = number("x", sig.expiry); !s.ok()) return s;
  if (sig.timestamp && sig.expiry && *sig.expiry < *sig.timestamp) return permerror("x= before t=");

  if (const tag* q = get("q")) {
    // q= is a colon list of methods; dns/txt is the only one defined (§3.5).
    bool txt = false;
    std::string_view rest = q->value;
    while (true) {
      size_t colon = rest.find(':');
      std::string_view m = trim(rest.substr(0, colon));
      if (mail::equals_ignore_case(m, "dns/txt")) txt = true;
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
    if (!txt) return permerror("no supported query method in q=");
  }
  return sig;
}

}  // namespace ringmail::spam::dkim
