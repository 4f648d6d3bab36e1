// Runs a compiled rule set over one message (see matcher_compile.cc for how rules are
// placed on Hyperscan and PCRE2). Steady state allocates nothing: target buffers, hit
// vector and engine scratch are reused from match_scratch.
#include <algorithm>
#include <chrono>
#include <new>
#include <string_view>

#include "spam/match/matcher.h"
#include "spam/match/matcher_internal.h"

namespace ringmail::spam {
namespace {

using namespace matcher_internal;

// PCRE2 bounds per match call, so that one pathological pattern/message pair cannot stall
// a shard: backtracking steps, and interpreter heap (KiB) when JIT is unavailable. A match
// that hits a limit counts as no match.
constexpr uint32_t pcre_match_limit = 10'000'000;
constexpr uint32_t pcre_heap_limit_kib = 20 * 1024;
constexpr size_t jit_stack_start = 32 * 1024;
constexpr size_t jit_stack_max = 1024 * 1024;

struct scan_context {
  const compiled_rules::impl* rules;
  match_scratch::impl* scratch;
  uint32_t* hits;
  std::string_view subject;  // the target being scanned
};

int on_match(unsigned id, unsigned long long, unsigned long long to, unsigned, void* p) {
  auto& ctx = *static_cast<scan_context*>(p);
  if (!(id & prefilter_bit)) {
    ctx.hits[id] = 1;  // SINGLEMATCH: one report per rule
    return 0;
  }
  const uint32_t n = id & ~prefilter_bit;
  match_scratch::impl& s = *ctx.scratch;
  s.candidates[n] = 1;  // SINGLEMATCH: the report is the earliest match end
  if (ctx.rules->pcre[n].line_gated) {
    // The start of the line holding the match's last byte.
    const size_t last_byte = to == 0 ? 0 : static_cast<size_t>(to - 1);
    const size_t newline = last_byte == 0 ? std::string_view::npos : ctx.subject.rfind('\n', last_byte - 1);
    s.gate_from[n] = newline == std::string_view::npos ? 0 : static_cast<uint32_t>(newline + 1);
  }
  return 0;
}

// Counts `rule`'s non-overlapping matches in `subject`, at most `max_hits`.
uint32_t count_matches(const pcre_rule& rule, std::string_view subject, uint32_t max_hits, match_scratch::impl& s) {
  auto data = reinterpret_cast<PCRE2_SPTR>(subject.empty() ? "" : subject.data());
  uint32_t count = 0;
  PCRE2_SIZE offset = 0;
  while (count < max_hits && offset <= subject.size()) {
    int rc = pcre2_match(rule.code, data, subject.size(), offset, 0, s.match_data, s.match_context);
    if (rc < 0) break;  // no (more) match, or a limit: counted as no match
    ++count;
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(s.match_data);
    // Go on after the match; after an empty one, one byte further (as m//g does). Always
    // forward, even if \K made the match end before it started.
    PCRE2_SIZE next = ovector[1] > ovector[0] ? ovector[1] : ovector[1] + 1;
    offset = std::max(next, offset + 1);
  }
  return count;
}

uint32_t run_pcre(const pcre_rule& rule, std::string_view subject, match_scratch::impl& s) {
  if (!rule.per_line) return count_matches(rule, subject, rule.max_hits, s);
  uint32_t count = 0;
  size_t start = 0;
  while (count < rule.max_hits && start <= subject.size()) {
    size_t end = subject.find('\n', start);
    if (end == std::string_view::npos) end = subject.size();
    count += count_matches(rule, subject.substr(start, end - start), rule.max_hits - count, s);
    start = end + 1;
  }
  return count;
}

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace

compiled_rules::~compiled_rules() = default;

size_t compiled_rules::target_count() const { return impl_->plans.size(); }

std::string compiled_rules::target_description(size_t target) const {
  const target_key& key = impl_->targets.key(static_cast<uint32_t>(target));
  std::string name = target_name(key);
  if (!key.header.empty()) name += " " + key.header;
  static constexpr const char* forms[] = {"", ":raw", ":addr", ":name"};
  name += forms[static_cast<size_t>(key.form)];
  return name;
}

size_t compiled_rules::database_count() const { return impl_->databases.size(); }

std::string compiled_rules::database_description(size_t database) const {
  const database_info& info = impl_->databases[database];
  size_t nth = 0;  // its place among the target's databases
  for (size_t d = 0; d < database; ++d) nth += impl_->databases[d].target == info.target;
  std::string text = target_description(info.target) + " #" + std::to_string(nth) + ":";
  if (info.exact) text += " " + std::to_string(info.exact) + " exact";
  if (info.prefilters) text += " " + std::to_string(info.prefilters) + " prefilters";
  return text;
}

const matcher_stats& compiled_rules::stats() const { return impl_->stats; }

void compiled_rules::match(const mail::message_text& text, match_scratch& scratch, std::vector<uint32_t>& hits) const {
  run(text, scratch, hits, false);
}

void compiled_rules::match_body_only(const mail::message_text& text, match_scratch& scratch,
                                     std::vector<uint32_t>& hits) const {
  run(text, scratch, hits, true);
}

uint32_t compiled_rules::max_hits(uint32_t rule) const { return impl_->rules[rule].max_hits; }

void compiled_rules::run(const mail::message_text& text, match_scratch& scratch, std::vector<uint32_t>& hits,
                         bool body_only) const {
  const impl& m = *impl_;
  match_scratch::impl& s = scratch.internals();
  hits.assign(m.rules.size(), 0);
  if (body_only) {
    m.targets.build_body(text, s.views, s.present);
  } else {
    m.targets.build(text, s.storage, s.views, s.present);
  }
  std::fill(s.candidates.begin(), s.candidates.end(), 0);

  scan_context context{&m, &s, hits.data(), {}};
  for (uint32_t t = 0; t < m.plans.size(); ++t) {
    const target_plan& plan = m.plans[t];
    if (body_only && m.targets.key(t).source != target_source::body) continue;
    if (!s.present[t]) {
      for (uint32_t r : plan.unset_rules) hits[r] = m.rules[r].unset_hits;
      continue;
    }
    std::string_view subject = s.views[t];
    context.subject = subject;
    for (size_t d = 0; d < plan.dbs.size(); ++d) {
      const uint64_t hs_start = s.profile ? now_ns() : 0;
      hs_scan(plan.dbs[d], subject.empty() ? "" : subject.data(), static_cast<unsigned>(subject.size()), 0, s.hs,
              on_match, &context);
      if (s.profile) {
        const uint64_t ns = now_ns() - hs_start;
        s.profile->target_ns[t] += ns;
        s.profile->database_ns[plan.db_numbers[d]] += ns;
      }
    }
    for (uint32_t p : plan.pcre) {
      const pcre_rule& rule = m.pcre[p];
      if (!rule.always_run && !s.candidates[p]) continue;
      const uint64_t pcre_start = s.profile ? now_ns() : 0;
      const size_t from = rule.line_gated && !rule.always_run ? s.gate_from[p] : 0;
      hits[rule.rule] = run_pcre(rule, subject.substr(from), s);
      if (s.profile) {
        s.profile->rule_ns[rule.rule] += now_ns() - pcre_start;
        ++s.profile->rule_runs[rule.rule];
      }
    }
  }
  if (body_only) return;
  for (auto [r, t] : m.exists) hits[r] = s.present[t];
  for (uint32_t r : m.negated) hits[r] = hits[r] ? 0 : 1;
}

match_scratch::match_scratch(const compiled_rules& rules) : impl_(std::make_unique<impl>()) {
  const compiled_rules::impl& m = rules.internals();
  rule_count_ = m.rules.size();
  database_count_ = m.databases.size();
  for (const auto& plan : m.plans) {
    for (hs_database_t* db : plan.dbs) {
      if (hs_alloc_scratch(db, &impl_->hs) != HS_SUCCESS) throw std::bad_alloc();
    }
  }
  impl_->match_data = pcre2_match_data_create(16, nullptr);
  impl_->match_context = pcre2_match_context_create(nullptr);
  impl_->jit_stack = pcre2_jit_stack_create(jit_stack_start, jit_stack_max, nullptr);
  if (!impl_->match_data || !impl_->match_context || !impl_->jit_stack) throw std::bad_alloc();
  pcre2_jit_stack_assign(impl_->match_context, nullptr, impl_->jit_stack);
  pcre2_set_match_limit(impl_->match_context, pcre_match_limit);
  pcre2_set_heap_limit(impl_->match_context, pcre_heap_limit_kib);
  impl_->candidates.resize(m.pcre.size());
  impl_->gate_from.resize(m.pcre.size());
  impl_->storage.resize(m.targets.size());
  impl_->views.resize(m.targets.size());
  impl_->present.resize(m.targets.size());
}

match_scratch::~match_scratch() = default;

void match_scratch::set_profile(match_profile* profile) {
  impl_->profile = profile;
  if (!profile) return;
  profile->target_ns.resize(impl_->storage.size());
  profile->database_ns.resize(database_count_);
  profile->rule_ns.resize(rule_count_);
  profile->rule_runs.resize(rule_count_);
}

}  // namespace ringmail::spam
