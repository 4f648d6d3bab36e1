#include "spam/dmarc/record.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "mail/header.h"

namespace ringmail::spam::dmarc {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

struct spec {
  std::string_view name;
  std::string_view value;
};

// "name = value" specs split at ';', empty ones skipped; a spec without '=' is kept with
// an empty name so the caller can tell "v=DMARC1" from "DMARC1" at the front.
std::vector<spec> split_specs(std::string_view txt) {
  std::vector<spec> specs;
  while (!txt.empty()) {
    size_t semi = txt.find(';');
    std::string_view s = trim(txt.substr(0, semi));
    txt = semi == std::string_view::npos ? std::string_view() : txt.substr(semi + 1);
    if (s.empty()) continue;
    size_t eq = s.find('=');
    if (eq == std::string_view::npos) {
      specs.push_back({{}, s});
    } else {
      specs.push_back({trim(s.substr(0, eq)), trim(s.substr(eq + 1))});
    }
  }
  return specs;
}

const spec* find(const std::vector<spec>& specs, std::string_view name) {
  for (const spec& s : specs) {
    if (mail::equals_ignore_case(s.name, name)) return &s;  // the first of duplicates
  }
  return nullptr;
}

std::optional<alignment> parse_alignment(std::string_view v) {
  if (mail::equals_ignore_case(v, "r")) return alignment::relaxed;
  if (mail::equals_ignore_case(v, "s")) return alignment::strict;
  return std::nullopt;
}

// dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ], comma separated (§6.4).
// Valid enough: a URI scheme (RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ))
// followed by ':' and something.
bool valid_uri(std::string_view uri) {
  size_t colon = uri.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon + 1 >= uri.size()) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(uri[0]))) return false;
  for (char c : uri.substr(0, colon)) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  }
  for (char c : uri) {
    if (is_wsp(c)) return false;
  }
  return true;
}

std::vector<std::string> split_uris(std::string_view v) {
  std::vector<std::string> out;
  while (!v.empty()) {
    size_t comma = v.find(',');
    std::string_view u = trim(v.substr(0, comma));
    v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    if (!u.empty()) out.emplace_back(u);
  }
  return out;
}

bool any_valid_uri(const std::vector<std::string>& uris) {
  for (const std::string& u : uris) {
    if (valid_uri(u)) return true;
  }
  return false;
}

}  // namespace

std::optional<dmarc_policy> parse_policy(std::string_view value) {
  if (mail::equals_ignore_case(value, "none")) return dmarc_policy::none;
  if (mail::equals_ignore_case(value, "quarantine")) return dmarc_policy::quarantine;
  if (mail::equals_ignore_case(value, "reject")) return dmarc_policy::reject;
  return std::nullopt;
}

bool is_dmarc_record(std::string_view txt) {
  // Only the first spec matters; do not split the whole (maybe huge) record for it.
  std::string_view first = trim(txt.substr(0, txt.find(';')));
  size_t eq = first.find('=');
  if (eq == std::string_view::npos) return false;
  return trim(first.substr(0, eq)) == "v" && trim(first.substr(eq + 1)) == "DMARC1";
}

absl::StatusOr<dmarc_record> parse_dmarc_record(std::string_view txt) {
  if (!is_dmarc_record(txt)) return absl::InvalidArgumentError("not a v=DMARC1 record");
  std::vector<spec> specs = split_specs(txt);
  dmarc_record record;
  if (const spec* s = find(specs, "rua")) record.aggregate_report_uris = split_uris(s->value);
  if (const spec* s = find(specs, "ruf")) record.failure_report_uris = split_uris(s->value);
  bool policy_ok = false;
  if (const spec* s = find(specs, "p")) {
    if (auto p = parse_policy(s->value)) {
      record.policy = *p;
      policy_ok = true;
    }
  }
  if (const spec* s = find(specs, "sp")) {
    if (auto p = parse_policy(s->value)) {
      record.subdomain_policy = *p;
    } else {
      policy_ok = false;  // §6.6.3 step 6: "contains an sp tag that is not valid"
    }
  }
  if (!policy_ok) {
    if (!any_valid_uri(record.aggregate_report_uris)) {
      return absl::InvalidArgumentError(find(specs, "p") == nullptr ? "missing p=" : "invalid p= or sp=");
    }
    record.policy = dmarc_policy::none;
    record.subdomain_policy.reset();
    record.policy_defaulted = true;
  }
  if (const spec* s = find(specs, "adkim")) {
    if (auto a = parse_alignment(s->value)) record.dkim_alignment = *a;
  }
  if (const spec* s = find(specs, "aspf")) {
    if (auto a = parse_alignment(s->value)) record.spf_alignment = *a;
  }
  if (const spec* s = find(specs, "pct")) {
    unsigned pct = 0;
    if (absl::SimpleAtoi(std::string(s->value), &pct) && pct <= 100) record.percent = pct;
  }
  if (const spec* s = find(specs, "ri")) {
    uint32_t ri = 0;
    if (absl::SimpleAtoi(std::string(s->value), &ri)) record.report_interval = ri;
  }
  if (const spec* s = find(specs, "fo")) record.failure_options = std::string(s->value);
  if (const spec* s = find(specs, "rf")) record.report_format = std::string(s->value);
  return record;
}

}  // namespace ringmail::spam::dmarc
