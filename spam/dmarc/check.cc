#include "spam/dmarc/check.h"

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "mail/header.h"
#include "spam/evals/evals.h"

namespace ringmail::spam::dmarc {
namespace {

// dns_status' names without runtime/dns.cc (this library does not link the runtime).
std::string_view status_name(dns_status s) {
  switch (s) {
    case dns_status::timeout: return "timeout";
    case dns_status::servfail: return "SERVFAIL";
    case dns_status::shutdown: return "shutdown";
    default: return "error";
  }
}

enum class lookup_outcome : uint8_t { found, none, multiple, invalid, temperror };

struct policy_lookup {
  lookup_outcome outcome = lookup_outcome::none;
  dmarc_record record;
  std::string reason;
};

// One place: the DMARC records among the TXT records at _dmarc.<domain> (§6.6.3 steps 1-2,
// 5, 6).
task<policy_lookup> lookup_at(dns_client& dns, std::string domain) {
  policy_lookup out;
  std::string name = absl::StrCat("_dmarc.", domain);
  auto query = dns.lookup(dns_type::txt, name);
  dns_answer answer = co_await std::move(query);
  if (answer.status == dns_status::nxdomain || answer.status == dns_status::no_data) co_return out;
  if (answer.status != dns_status::ok) {
    out.outcome = lookup_outcome::temperror;
    out.reason = absl::StrCat("DNS ", std::string(status_name(answer.status)), " for ", name);
    co_return out;
  }
  const std::string* found = nullptr;
  size_t count = 0;
  for (const std::string& txt : answer.texts) {
    if (!is_dmarc_record(txt)) continue;
    ++count;
    if (found == nullptr) found = &txt;
  }
  if (count == 0) co_return out;
  if (count > 1) {
    out.outcome = lookup_outcome::multiple;
    out.reason = absl::StrCat("multiple DMARC records at ", name);
    co_return out;
  }
  auto record = parse_dmarc_record(*found);
  if (!record.ok()) {
    out.outcome = lookup_outcome::invalid;
    out.reason = absl::StrCat("invalid record at ", name, ": ", std::string(record.status().message()));
    co_return out;
  }
  out.outcome = lookup_outcome::found;
  out.record = *std::move(record);
  co_return out;
}

dmarc_policy step_down(dmarc_policy p) {
  return p == dmarc_policy::reject ? dmarc_policy::quarantine : dmarc_policy::none;
}

unsigned random_roll() {
  std::random_device device;
  return std::uniform_int_distribution<unsigned>(0, 99)(device);
}

// How bad an outcome is, to pick the one to report among several From domains.
int severity(const dmarc_check& c) {
  switch (c.result) {
    case dmarc_result::fail: return 10 + static_cast<int>(c.disposition) * 3 + static_cast<int>(c.policy);
    case dmarc_result::temperror: return 4;
    case dmarc_result::permerror: return 3;
    case dmarc_result::pass: return 2;
    case dmarc_result::none: return 1;
  }
  return 0;
}

// `roll` is filled on first use (one roll per message).
task<dmarc_check> check_domain(dns_client& dns, const public_suffix_list* list, const dmarc_request& request,
                               std::string from_domain, std::optional<unsigned>& roll) {
  dmarc_check check;
  check.from_domain = from_domain;
  auto first = lookup_at(dns, from_domain);
  policy_lookup lookup = co_await std::move(first);
  check.policy_domain = from_domain;
  std::string org = organizational_domain(list, from_domain);
  if (lookup.outcome == lookup_outcome::none && org != from_domain) {
    auto second = lookup_at(dns, org);
    lookup = co_await std::move(second);
    check.policy_domain = org;
  }
  switch (lookup.outcome) {
    case lookup_outcome::none:
      check.result = dmarc_result::none;
      check.policy_domain.clear();
      check.reason = "no DMARC record";
      co_return check;
    case lookup_outcome::multiple:
      check.result = dmarc_result::none;
      check.reason = lookup.reason;
      co_return check;
    case lookup_outcome::invalid:
      check.result = dmarc_result::permerror;
      check.reason = lookup.reason;
      co_return check;
    case lookup_outcome::temperror:
      check.result = dmarc_result::temperror;
      check.reason = lookup.reason;
      co_return check;
    case lookup_outcome::found:
      break;
  }
  const dmarc_record& record = lookup.record;
  check.policy = record.policy_for(check.policy_domain != from_domain);
  check.spf_aligned = request.spf.result == spf_result::pass && !request.spf.domain.empty() &&
                      aligned(list, request.spf.domain, from_domain, record.spf_alignment);
  for (const dkim_signature_check& sig : request.dkim) {
    if (sig.result == dkim_result::pass && !sig.domain.empty() &&
        aligned(list, sig.domain, from_domain, record.dkim_alignment)) {
      check.dkim_aligned = true;
      break;
    }
  }
  if (check.spf_aligned || check.dkim_aligned) {
    check.result = dmarc_result::pass;
    check.disposition = dmarc_policy::none;
    check.reason = check.dkim_aligned ? "DKIM aligned" : "SPF aligned";
    co_return check;
  }
  check.result = dmarc_result::fail;
  check.disposition = check.policy;
  check.reason = "no aligned SPF or DKIM pass";
  if (record.percent < 100 && check.policy != dmarc_policy::none) {
    if (!roll) roll = request.percent_roll ? request.percent_roll() % 100 : random_roll();
    if (*roll >= record.percent) {
      check.disposition = step_down(check.policy);
      check.reason = absl::StrCat(check.reason, "; sampled out (pct=", record.percent, ")");
    }
  }
  co_return check;
}

}  // namespace

std::vector<std::string> from_domains(const std::vector<std::string>& from_values) {
  std::vector<std::string> domains;
  for (const std::string& value : from_values) {
    for (const std::string& address : evals::addresses_in(mail::unfold(value), true)) {
      size_t at = address.rfind('@');
      if (at == std::string::npos || at + 1 == address.size()) continue;
      std::string domain = normalize_domain(std::string_view(address).substr(at + 1));
      if (domain.empty()) continue;
      bool seen = false;
      for (const std::string& d : domains) seen = seen || d == domain;
      if (!seen) domains.push_back(std::move(domain));
    }
  }
  return domains;
}

bool aligned(const public_suffix_list* list, std::string_view authenticated, std::string_view from_domain,
             alignment mode) {
  if (mode == alignment::strict) return normalize_domain(authenticated) == normalize_domain(from_domain);
  return organizational_domain(list, authenticated) == organizational_domain(list, from_domain);
}

task<dmarc_check> check_dmarc(dns_client& dns, const public_suffix_list* list, const dmarc_request& request) {
  std::vector<std::string> domains = from_domains(request.from_values);
  dmarc_check worst;
  if (domains.empty()) {
    worst.reason = "no From domain";
    co_return worst;
  }
  if (domains.size() > max_from_domains) {
    worst.result = dmarc_result::permerror;
    worst.from_domain = domains.front();
    worst.reason = absl::StrCat(domains.size(), " From domains (at most ", max_from_domains, " are checked)");
    co_return worst;
  }
  std::optional<unsigned> roll;
  bool first = true;
  for (const std::string& domain : domains) {
    auto one = check_domain(dns, list, request, domain, roll);
    dmarc_check check = co_await std::move(one);
    if (first || severity(check) > severity(worst)) worst = std::move(check);
    first = false;
  }
  if (domains.size() > 1) worst.reason = absl::StrCat(worst.reason, " (", domains.size(), " From domains)");
  co_return worst;
}

}  // namespace ringmail::spam::dmarc
