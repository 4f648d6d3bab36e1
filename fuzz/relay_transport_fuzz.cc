// libFuzzer target for the relay's routing configuration and MX ordering
// (delivery/relay/transport.h, mx_plan.h). Build: see fuzz/README.md; sources:
// delivery/relay/transport.cc, delivery/relay/mx_plan.cc, absl strings.
//
// Byte 0 picks the mode, the rest is the input:
//   0  a next hop (--relayhost): what parses is canonical (host lower case, no trailing
//      dot, a port, [] for literals) and prints back to text that parses the same;
//   1  a transport table file, 2 the --transport flag form: every key's domain (and a
//      subdomain of every ".parent" key) finds an entry, lookups of arbitrary names
//      from the input never crash;
//   3  MX records ("<preference> <exchange>" per line, the first line our host name),
//      with the random source fed from the input: hosts ascend by preference, appear
//      once, are never the root, an address literal, our name or worse than it, and
//      every record is either kept, skipped, or a duplicate.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/relay/mx_plan.h"
#include "delivery/relay/transport.h"

namespace {

using namespace ringmail::relay;

void check(bool ok) {
  if (!ok) abort();
}

std::vector<std::string_view> lines(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    size_t nl = s.find('\n');
    out.push_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

void fuzz_next_hop(std::string_view input) {
  auto hop = parse_next_hop(input);
  if (!hop.ok()) return;
  check(!hop->host.empty() && hop->port != 0);
  check(!hop->address_literal || !hop->mx_lookup);
  if (!hop->address_literal) {
    check(hop->host.back() != '.');
    for (char c : hop->host) check(!(c >= 'A' && c <= 'Z'));
  }
  std::string text = hop->mx_lookup ? hop->host : "[" + hop->host + "]";
  text += ":" + std::to_string(hop->port);
  auto again = parse_next_hop(text);
  check(again.ok());
  check(*again == *hop);
}

void fuzz_table(std::string_view input, bool flag) {
  auto table = flag ? transport_table::parse_flag(input) : transport_table::parse(input);
  for (std::string_view line : lines(input)) {
    // Arbitrary names, including the raw lines: lookups never crash.
    if (table.ok()) (void)table->find(line);
  }
  if (!table.ok()) return;
  // Each entry's key (the first word of each line, file form) finds something.
  if (flag) return;
  for (std::string_view line : lines(input)) {
    // Only lines that start with a key: not empty, blank, indented (a continuation) or
    // a comment; the parser's white space is ASCII's (form feed and vertical tab too).
    if (line.empty() || line.front() == '#' || std::string_view(" \t\r\n\f\v").find(line.front()) != std::string_view::npos) continue;
    std::string_view key = line.substr(0, line.find_first_of(" \t\r\n\f\v"));
    if (key == "*") {
      check(table->find("anything.example") != nullptr);
    } else if (!key.empty() && key.front() == '.') {
      check(table->find("sub" + std::string(key)) != nullptr);
    } else {
      check(table->find(key) != nullptr);
    }
  }
}

void fuzz_mx(std::string_view input) {
  std::vector<std::string_view> ls = lines(input);
  if (ls.empty()) return;
  std::string self(ls[0]);
  std::vector<mx_record> records;
  for (size_t i = 1; i < ls.size() && records.size() < 64; ++i) {
    std::string_view l = ls[i];
    size_t space = l.find(' ');
    uint16_t pref = 0;
    for (char c : l.substr(0, space)) pref = static_cast<uint16_t>(pref * 10 + static_cast<unsigned char>(c) % 10);
    records.push_back({pref, std::string(space == std::string_view::npos ? std::string_view() : l.substr(space + 1))});
  }
  size_t at = 0;
  random_source random = [&] {
    uint64_t v = at < input.size() ? static_cast<unsigned char>(input[at]) * 2654435761u : at;
    ++at;
    return v;
  };
  mx_plan plan = plan_mx(records, self, random);
  if (plan.null_mx) {
    check(is_null_mx(records) && plan.hosts.empty());
    return;
  }
  check(plan.hosts.size() <= kMaxMxHosts);
  check(plan.hosts.size() + plan.skipped.size() <= records.size());
  std::set<std::string> seen;
  for (size_t i = 0; i < plan.hosts.size(); ++i) {
    const mx_record& h = plan.hosts[i];
    check(!h.exchange.empty() && h.exchange != ".");
    check(seen.insert(h.exchange).second);
    if (i > 0) check(plan.hosts[i - 1].preference <= h.preference);
    check(!plan.found_self || h.exchange != canonical_domain(self));
  }
  if (plan.found_self) {
    uint16_t self_pref = UINT16_MAX;
    for (const mx_skipped& s : plan.skipped) {
      if (s.reason == mx_skip_reason::self && s.record.exchange == canonical_domain(self)) {
        self_pref = std::min(self_pref, s.record.preference);
      }
    }
    for (const mx_record& h : plan.hosts) check(h.preference < self_pref);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: fuzz_next_hop(input); break;
    case 1: fuzz_table(input, false); break;
    case 2: fuzz_table(input, true); break;
    default: fuzz_mx(input); break;
  }
  return 0;
}
