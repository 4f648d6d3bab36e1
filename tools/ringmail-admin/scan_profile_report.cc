#include "tools/ringmail-admin/scan_profile_report.h"

#include <algorithm>
#include <string>
#include <utility>

namespace ringmail::tools {
namespace {

void add_all(const std::vector<uint64_t>& from, std::vector<uint64_t>& into) {
  if (into.size() < from.size()) into.resize(from.size());
  for (size_t i = 0; i < from.size(); ++i) into[i] += from[i];
}

}  // namespace

void merge_scan_profile(const spam::scan_profile& from, spam::scan_profile& into) {
  into.messages += from.messages;
  into.parse_ns += from.parse_ns;
  into.bayes_ns += from.bayes_ns;
  into.relays_ns += from.relays_ns;
  into.match_ns += from.match_ns;
  into.evals_ns += from.evals_ns;
  into.metas_ns += from.metas_ns;
  add_all(from.match.target_ns, into.match.target_ns);
  add_all(from.match.database_ns, into.match.database_ns);
  add_all(from.match.rule_ns, into.match.rule_ns);
  add_all(from.match.rule_runs, into.match.rule_runs);
}

void print_scan_profile(const spam::scan_profile& p, const spam::spam_engine& engine, size_t top, std::FILE* out) {
  if (p.messages == 0) return;
  const double n = static_cast<double>(p.messages);
  auto us = [n](uint64_t ns) { return static_cast<double>(ns) / 1000.0 / n; };
  uint64_t hyperscan_ns = 0, pcre_ns = 0;
  for (uint64_t t : p.match.target_ns) hyperscan_ns += t;
  for (uint64_t t : p.match.rule_ns) pcre_ns += t;
  const uint64_t total = p.parse_ns + p.bayes_ns + p.relays_ns + p.match_ns + p.evals_ns + p.metas_ns;
  std::fprintf(out, "profile: %llu messages, %.1f us per message\n", static_cast<unsigned long long>(p.messages),
               us(total));
  const std::pair<const char*, uint64_t> stages[] = {
      {"parse+render", p.parse_ns}, {"bayes", p.bayes_ns},          {"relays", p.relays_ns},
      {"match", p.match_ns},        {"  hyperscan", hyperscan_ns}, {"  pcre2", pcre_ns},
      {"evals", p.evals_ns},        {"metas+score", p.metas_ns},
  };
  for (const auto& [name, ns] : stages) std::fprintf(out, "profile: stage %-14s %9.1f us/msg\n", name, us(ns));

  std::vector<std::pair<uint64_t, size_t>> targets;
  for (size_t t = 0; t < p.match.target_ns.size(); ++t) targets.emplace_back(p.match.target_ns[t], t);
  std::sort(targets.rbegin(), targets.rend());
  for (size_t i = 0; i < std::min(top, targets.size()) && targets[i].first > 0; ++i) {
    std::fprintf(out, "profile: hyperscan %-30s %9.1f us/msg\n",
                 engine.matcher().target_description(targets[i].second).c_str(), us(targets[i].first));
  }

  std::vector<std::pair<uint64_t, size_t>> databases;
  for (size_t d = 0; d < p.match.database_ns.size(); ++d) databases.emplace_back(p.match.database_ns[d], d);
  std::sort(databases.rbegin(), databases.rend());
  for (size_t i = 0; i < std::min(top, databases.size()) && databases[i].first > 0; ++i) {
    std::fprintf(out, "profile: database %-30s %9.1f us/msg\n",
                 engine.matcher().database_description(databases[i].second).c_str(), us(databases[i].first));
  }

  std::vector<std::pair<uint64_t, size_t>> rules;
  for (size_t r = 0; r < p.match.rule_ns.size(); ++r) {
    if (p.match.rule_ns[r] > 0) rules.emplace_back(p.match.rule_ns[r], r);
  }
  std::sort(rules.rbegin(), rules.rend());
  for (size_t i = 0; i < std::min(top, rules.size()); ++i) {
    const size_t r = rules[i].second;
    std::fprintf(out, "profile: pcre2 %-34s %9.1f us/msg  ran on %llu messages\n",
                 engine.rules().rules[r].name.c_str(), us(rules[i].first),
                 static_cast<unsigned long long>(p.match.rule_runs[r]));
  }
}

}  // namespace ringmail::tools
