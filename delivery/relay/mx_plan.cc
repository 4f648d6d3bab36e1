#include "delivery/relay/mx_plan.h"

#include <arpa/inet.h>

#include <algorithm>

#include "delivery/relay/transport.h"

namespace ringmail::relay {
namespace {

bool is_root(std::string_view exchange) { return exchange.empty() || exchange == "."; }

bool is_address_literal(std::string_view name) {
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') return true;
  std::string s(name);
  in_addr a4{};
  in6_addr a6{};
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

}  // namespace

std::string_view to_string(mx_skip_reason r) {
  switch (r) {
    case mx_skip_reason::null_exchange: return "null exchange among other MX records";
    case mx_skip_reason::address_literal: return "address literal instead of a host name";
    case mx_skip_reason::self: return "this host or less preferred than it (RFC 5321 5.1)";
    case mx_skip_reason::over_limit: return "more MX hosts than tried";
  }
  return "?";
}

bool is_null_mx(const std::vector<mx_record>& records) {
  return records.size() == 1 && is_root(records[0].exchange);
}

mx_plan plan_mx(std::vector<mx_record> records, std::string_view my_hostname, const random_source& random) {
  mx_plan plan;
  if (is_null_mx(records)) {
    plan.null_mx = true;
    return plan;
  }
  for (mx_record& r : records) r.exchange = canonical_domain(r.exchange);
  // Sort by preference, then shuffle each run of equal preferences (Fisher-Yates). The
  // stable sort keeps the input order inside a run, so a test's scripted random source
  // decides the result alone.
  std::stable_sort(records.begin(), records.end(),
                   [](const mx_record& a, const mx_record& b) { return a.preference < b.preference; });
  for (size_t begin = 0; begin < records.size();) {
    size_t end = begin + 1;
    while (end < records.size() && records[end].preference == records[begin].preference) ++end;
    for (size_t i = end - 1; i > begin; --i) {
      size_t j = begin + static_cast<size_t>(random() % (i - begin + 1));
      std::swap(records[i], records[j]);
    }
    begin = end;
  }
  // The loop rule: find our own name, drop it and everything at its preference or worse.
  std::string self = canonical_domain(my_hostname);
  size_t cut = records.size();
  if (!self.empty()) {
    for (size_t i = 0; i < records.size(); ++i) {
      if (records[i].exchange == self) {
        plan.found_self = true;
        // The first record of this preference: equal preferences go too.
        cut = i;
        while (cut > 0 && records[cut - 1].preference == records[i].preference) --cut;
        break;
      }
    }
  }
  for (size_t i = 0; i < records.size(); ++i) {
    mx_skip_reason reason;
    if (i >= cut) {
      reason = mx_skip_reason::self;
    } else if (is_root(records[i].exchange)) {
      reason = mx_skip_reason::null_exchange;
    } else if (is_address_literal(records[i].exchange)) {
      reason = mx_skip_reason::address_literal;
    } else if (plan.hosts.size() >= kMaxMxHosts) {
      reason = mx_skip_reason::over_limit;
    } else {
      // The same exchange twice (at two preferences) is tried once, at the better one.
      const std::string& name = records[i].exchange;
      if (std::none_of(plan.hosts.begin(), plan.hosts.end(), [&](const mx_record& h) { return h.exchange == name; })) {
        plan.hosts.push_back(std::move(records[i]));
      }
      continue;
    }
    plan.skipped.push_back({std::move(records[i]), reason});
  }
  return plan;
}

}  // namespace ringmail::relay
