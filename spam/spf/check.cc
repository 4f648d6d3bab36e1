#include "spam/spf/check.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mail/header.h"
#include "spam/spf/address.h"
#include "spam/spf/macro.h"
#include "spam/spf/record.h"

namespace ringmail::spam {
namespace {

using spf::address;
using spf::mechanism;
using spf::mechanism_kind;

struct outcome {
  spf_result result = spf_result::none;
  std::string explanation;
};

// A mechanism either matches, does not, or ends the evaluation (temperror/permerror).
struct term_outcome {
  bool matched = false;
  std::optional<outcome> error;
};

// (runtime/dns.cc's to_string(dns_status) is not linked into this pure library.)
std::string dns_error(dns_status status, const std::string& what) {
  const char* why = status == dns_status::timeout ? "timeout" : status == dns_status::servfail ? "servfail" : "error";
  return std::string("DNS ") + why + " for " + what;
}

outcome permerror(std::string why) { return {spf_result::permerror, std::move(why)}; }

// §4.3: a <domain> that is not a multi-label name with labels of 1..63 octets gives
// "none" without any lookup. Address literals ("[192.0.2.1]") are not domains either.
bool valid_domain(std::string_view d) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  if (d.empty() || d.size() > 253) return false;
  size_t labels = 0;
  size_t start = 0;
  for (size_t i = 0; i <= d.size(); ++i) {
    if (i < d.size() && d[i] != '.') {
      unsigned char c = static_cast<unsigned char>(d[i]);
      if (c <= 0x20 || c >= 0x7f || c == '[' || c == ']') return false;
      continue;
    }
    size_t len = i - start;
    if (len == 0 || len > 63) return false;
    ++labels;
    start = i + 1;
  }
  return labels >= 2;
}

// Whether a DNS name can be asked at all; names that cannot (an empty label, a label over
// 63 octets after macro expansion) answer as if they did not exist (a void lookup).
bool queryable(std::string_view d) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  if (d.empty() || d.size() > 253) return false;
  size_t start = 0;
  for (size_t i = 0; i <= d.size(); ++i) {
    if (i < d.size() && d[i] != '.') continue;
    if (i - start == 0 || i - start > 63) return false;
    start = i + 1;
  }
  return true;
}

bool is_void(const dns_answer& a) {
  return a.status == dns_status::nxdomain || a.status == dns_status::no_data ||
         (a.status == dns_status::ok && a.addresses.empty() && a.addresses6.empty() && a.mx.empty() &&
          a.texts.empty() && a.names.empty());
}

bool is_failure(const dns_answer& a) { return !a.ok() && !is_void(a); }

bool same_or_subdomain(std::string_view name, std::string_view domain) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (mail::equals_ignore_case(name, domain)) return true;
  return name.size() > domain.size() && name[name.size() - domain.size() - 1] == '.' &&
         mail::equals_ignore_case(name.substr(name.size() - domain.size()), domain);
}

class evaluator {
 public:
  evaluator(dns_client& dns, const spf_options& options, address ip, spf::macro_values values)
      : dns_(dns), options_(options), ip_(ip), values_(std::move(values)) {}

  // check_host() for `domain`. `want_exp`: false inside include (§6.2: the included
  // record's exp= is not used).
  task<outcome> check(std::string domain, unsigned depth, bool want_exp);

 private:
  std::optional<outcome> count_term() {
    if (++terms_ > options_.max_dns_terms)
      return permerror(absl::StrCat("more than ", options_.max_dns_terms, " DNS-querying terms"));
    return std::nullopt;
  }
  std::optional<outcome> count_void() {
    if (++voids_ > options_.max_void_lookups)
      return permerror(absl::StrCat("more than ", options_.max_void_lookups, " void lookups"));
    return std::nullopt;
  }
  task<dns_answer> query(dns_type type, std::string name);
  task<void> find_validated_names();
  task<std::optional<std::string>> expand(std::string spec, std::string domain, spf::macro_context context);
  task<term_outcome> match_addresses(std::string name, unsigned cidr4, unsigned cidr6);
  task<term_outcome> evaluate(const mechanism& m, std::string domain, unsigned depth);
  // all, ip4 and ip6 need no DNS: answered without a coroutine, so a record of thousands
  // of such terms does not chain thousands of synchronously completing awaits (which
  // nest stack frames where the compiler makes no tail call: the sanitized build).
  std::optional<term_outcome> evaluate_locally(const mechanism& m) const;
  task<std::string> explanation(std::string exp_spec, std::string domain);

  dns_client& dns_;
  const spf_options& options_;
  address ip_;
  spf::macro_values values_;
  unsigned terms_ = 0;
  unsigned voids_ = 0;
  // §5.5 validated names of the client, found once (for ptr and %{p}).
  std::optional<std::vector<std::string>> validated_;
  bool ptr_void_ = false;
};

task<dns_answer> evaluator::query(dns_type type, std::string name) {
  if (!queryable(name)) {
    dns_answer none;
    none.status = dns_status::nxdomain;
    co_return none;
  }
  auto t = dns_.lookup(type, std::move(name));
  dns_answer answer = co_await std::move(t);
  co_return answer;
}

task<void> evaluator::find_validated_names() {
  if (validated_) co_return;
  validated_.emplace();
  auto ptr_task = query(dns_type::ptr, ip_.reverse_name());
  dns_answer ptr = co_await std::move(ptr_task);
  ptr_void_ = is_void(ptr);
  if (!ptr.ok()) co_return;  // §5.5: a DNS error here means no validated name
  size_t n = std::min<size_t>(ptr.names.size(), options_.max_ptr_names);
  for (size_t i = 0; i < n; ++i) {
    auto t = query(ip_.v6 ? dns_type::aaaa : dns_type::a, ptr.names[i]);
    dns_answer a = co_await std::move(t);
    if (!a.ok()) continue;  // §5.5: "that domain name is skipped and the search continues"
    bool found = false;
    for (uint32_t v4 : a.addresses) found = found || address::from_ipv4(v4).in_network(ip_, 32);
    for (const ipv6_bytes& v6 : a.addresses6) found = found || address::from_ipv6(v6).in_network(ip_, 128);
    if (found) validated_->push_back(ptr.names[i]);
  }
}

task<std::optional<std::string>> evaluator::expand(std::string spec, std::string domain,
                                                   spf::macro_context context) {
  if (spf::uses_validated_name(spec)) {
    auto t = find_validated_names();
    co_await std::move(t);
    // §7.3: a validated name in <domain> is preferred, else any, else "unknown".
    values_.validated_name = "unknown";
    for (const std::string& n : *validated_) {
      if (same_or_subdomain(n, domain)) { values_.validated_name = n; break; }
    }
    if (values_.validated_name == "unknown" && !validated_->empty()) values_.validated_name = validated_->front();
  }
  values_.domain = domain;
  auto out = spf::expand_macros(spec, values_, context);
  co_return out;
}

task<term_outcome> evaluator::match_addresses(std::string name, unsigned cidr4, unsigned cidr6) {
  term_outcome out;
  auto t = query(ip_.v6 ? dns_type::aaaa : dns_type::a, name);
  dns_answer a = co_await std::move(t);
  if (is_failure(a)) {
    out.error = outcome{spf_result::temperror, dns_error(a.status, name)};
    co_return out;
  }
  if (is_void(a)) {
    out.error = count_void();
    co_return out;
  }
  for (uint32_t v4 : a.addresses) out.matched = out.matched || ip_.in_network(address::from_ipv4(v4), cidr4);
  for (const ipv6_bytes& v6 : a.addresses6) out.matched = out.matched || ip_.in_network(address::from_ipv6(v6), cidr6);
  co_return out;
}

std::optional<term_outcome> evaluator::evaluate_locally(const mechanism& m) const {
  term_outcome out;
  switch (m.kind) {
    case mechanism_kind::all:
      out.matched = true;
      return out;
    case mechanism_kind::ip4:
      out.matched = ip_.in_network(m.network, m.cidr4);
      return out;
    case mechanism_kind::ip6:
      out.matched = ip_.in_network(m.network, m.network.v6 ? m.cidr6 : m.cidr4);
      return out;
    default:
      return std::nullopt;
  }
}

task<term_outcome> evaluator::evaluate(const mechanism& m, std::string domain, unsigned depth) {
  term_outcome out;
  if (std::optional<term_outcome> local = evaluate_locally(m)) co_return *local;
  std::string target = domain;
  if (!m.domain_spec.empty()) {
    auto t = expand(m.domain_spec, domain, spf::macro_context::domain_spec);
    std::optional<std::string> expanded = co_await std::move(t);
    if (!expanded) {
      out.error = permerror("bad macro in " + m.domain_spec);
      co_return out;
    }
    target = spf::fit_domain_name(*expanded);
  }
  switch (m.kind) {
    case mechanism_kind::include: {
      auto t = check(target, depth + 1, false);
      outcome r = co_await std::move(t);
      switch (r.result) {
        case spf_result::pass: out.matched = true; break;
        case spf_result::fail:
        case spf_result::softfail:
        case spf_result::neutral: break;
        case spf_result::none: out.error = permerror("include:" + target + " has no SPF record"); break;
        default: out.error = std::move(r); break;
      }
      co_return out;
    }
    case mechanism_kind::a: {
      auto t = match_addresses(target, m.cidr4, m.cidr6);
      out = co_await std::move(t);
      co_return out;
    }
    case mechanism_kind::mx: {
      auto t = query(dns_type::mx, target);
      dns_answer mx = co_await std::move(t);
      if (is_failure(mx)) {
        out.error = outcome{spf_result::temperror, dns_error(mx.status, "MX " + target)};
        co_return out;
      }
      if (is_void(mx)) {
        out.error = count_void();
        co_return out;
      }
      if (mx.mx.size() > options_.max_mx_names) {
        out.error = permerror(absl::StrCat("more than ", options_.max_mx_names, " MX names for ", target));
        co_return out;
      }
      std::sort(mx.mx.begin(), mx.mx.end(), [](const dns_mx& x, const dns_mx& y) { return x.preference < y.preference; });
      for (const dns_mx& exchange : mx.mx) {
        if (exchange.exchange.empty()) continue;  // null MX (RFC 7505)
        auto a = match_addresses(exchange.exchange, m.cidr4, m.cidr6);
        term_outcome r = co_await std::move(a);
        if (r.error || r.matched) co_return r;
      }
      co_return out;
    }
    case mechanism_kind::ptr: {
      auto t = find_validated_names();
      co_await std::move(t);
      if (ptr_void_) {
        out.error = count_void();
        if (out.error) co_return out;
      }
      for (const std::string& n : *validated_) out.matched = out.matched || same_or_subdomain(n, target);
      co_return out;
    }
    case mechanism_kind::exists: {
      // §5.7: always an A query, whatever the client's address family.
      auto t = query(dns_type::a, target);
      dns_answer a = co_await std::move(t);
      if (is_failure(a)) {
        out.error = outcome{spf_result::temperror, dns_error(a.status, target)};
      } else if (is_void(a)) {
        out.error = count_void();
      } else {
        out.matched = true;
      }
      co_return out;
    }
    default:
      co_return out;
  }
}

task<std::string> evaluator::explanation(std::string exp_spec, std::string domain) {
  // §6.2: any problem here means "no explanation", never a different result.
  auto t = expand(exp_spec, domain, spf::macro_context::domain_spec);
  std::optional<std::string> name = co_await std::move(t);
  if (!name) co_return std::string();
  auto q = query(dns_type::txt, spf::fit_domain_name(*name));
  dns_answer txt = co_await std::move(q);
  if (!txt.ok() || txt.texts.size() != 1) co_return std::string();
  auto e = expand(txt.texts[0], domain, spf::macro_context::explanation);
  std::optional<std::string> text = co_await std::move(e);
  co_return text.value_or(std::string());
}

task<outcome> evaluator::check(std::string domain, unsigned depth, bool want_exp) {
  if (depth > options_.max_depth) co_return permerror("include/redirect nested too deep");
  if (!valid_domain(domain)) co_return outcome{spf_result::none, "not a valid domain: " + domain.substr(0, 300)};
  auto q = query(dns_type::txt, domain);
  dns_answer txt = co_await std::move(q);
  if (is_failure(txt))
    co_return outcome{spf_result::temperror, dns_error(txt.status, "TXT " + domain)};
  const std::string* found = nullptr;
  for (const std::string& t : txt.texts) {
    if (!spf::is_spf_record(t)) continue;
    // §4.5: two SPF records are permerror.
    if (found) co_return permerror("more than one SPF record for " + domain);
    found = &t;
  }
  if (!found) co_return outcome{spf_result::none, "no SPF record for " + domain};
  absl::StatusOr<spf::record> parsed = spf::parse_record(*found);
  if (!parsed.ok()) co_return permerror(std::string(parsed.status().message()));
  const spf::record& rec = *parsed;

  bool has_all = false;
  for (const mechanism& m : rec.mechanisms) {
    has_all = has_all || m.kind == mechanism_kind::all;
    if (m.queries_dns()) {
      if (auto e = count_term()) co_return *e;
    }
    term_outcome r;
    if (std::optional<term_outcome> local = evaluate_locally(m)) {
      r = *local;
    } else {
      auto t = evaluate(m, domain, depth);
      r = co_await std::move(t);
    }
    if (r.error) co_return *r.error;
    if (!r.matched) continue;
    outcome result{m.qualifier, {}};
    if (m.qualifier == spf_result::fail && want_exp && rec.exp) {
      auto e = explanation(*rec.exp, domain);
      result.explanation = co_await std::move(e);
    }
    co_return result;
  }
  // §6.1: redirect is ignored when the record has "all" (never reached then anyway).
  if (rec.redirect && !has_all) {
    if (auto e = count_term()) co_return *e;
    auto t = expand(*rec.redirect, domain, spf::macro_context::domain_spec);
    std::optional<std::string> target = co_await std::move(t);
    if (!target) co_return permerror("bad macro in redirect=" + *rec.redirect);
    std::string name = spf::fit_domain_name(*target);
    auto c = check(name, depth + 1, want_exp);
    outcome r = co_await std::move(c);
    // §6.1: a redirect to a domain without an SPF record is permerror, not none.
    if (r.result == spf_result::none) co_return permerror("redirect=" + name + " has no SPF record");
    co_return r;
  }
  co_return outcome{spf_result::neutral, {}};
}

task<spf_check> run_check(dns_client& dns, const spf_request& request, const spf_options& options,
                          std::string sender) {
  spf_check out;
  std::string local = "postmaster";
  std::string domain = sender;
  size_t at = sender.rfind('@');
  if (at != std::string::npos) {
    if (at > 0) local = sender.substr(0, at);
    domain = sender.substr(at + 1);
  }
  out.domain = domain;
  std::optional<address> ip = address::parse(request.client_ip);
  if (!ip) {
    out.explanation = "unusable client address " + request.client_ip.substr(0, 64);
    co_return out;
  }
  spf::macro_values values;
  values.sender = local + "@" + domain;
  values.local_part = local;
  values.sender_domain = domain;
  values.ip = ip->macro_i();
  values.ip_version = ip->v6 ? "ip6" : "in-addr";
  values.helo = request.helo;
  values.client_ip = ip->text();
  values.receiver = request.receiver.empty() ? "unknown" : request.receiver;
  values.timestamp = request.timestamp;
  evaluator e(dns, options, *ip, std::move(values));
  auto t = e.check(domain, 0, true);
  outcome r = co_await std::move(t);
  out.result = r.result;
  out.explanation = std::move(r.explanation);
  co_return out;
}

}  // namespace

task<spf_check> check_host(dns_client& dns, const spf_request& request, const spf_options& options) {
  std::string sender = request.sender.empty() ? "postmaster@" + request.helo : request.sender;
  auto t = run_check(dns, request, options, std::move(sender));
  spf_check out = co_await std::move(t);
  co_return out;
}

task<spf_check> check_helo(dns_client& dns, const spf_request& request, const spf_options& options) {
  std::string sender = "postmaster@" + request.helo;
  auto t = run_check(dns, request, options, std::move(sender));
  spf_check out = co_await std::move(t);
  co_return out;
}

}  // namespace ringmail::spam
