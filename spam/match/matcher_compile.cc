// Compiles a rule set's regex rules into Hyperscan block-mode databases, per scan target
// (scan_targets.h) in chunks, plus PCRE2 code for what Hyperscan cannot run exactly.
//
// Which engine a rule gets:
//   1. Hyperscan, exactly, when hs_expression_info accepts the translated pattern, its
//      nested counted repeats stay small (regex_prefilter.h: big ones make compiles take
//      seconds each) and the rule counts one hit. Id = rule index, HS_FLAG_SINGLEMATCH.
//   2. PCRE2 (JIT) otherwise: back references, look-around, \G, possessive/atomic groups,
//      huge counted repeats, and tflags multiple (PCRE2 counts non-overlapping matches as
//      Perl's m//g does; Hyperscan reports every end offset of every match). Each PCRE2
//      rule gets a Hyperscan prefilter in its target's database when one is cheap: the
//      exact pattern where Hyperscan takes it, else a relaxed superset (relax_pattern) of
//      the rule's short form (rule::prefilter_pattern) or of the rule itself; PCRE2 then
//      runs only on messages where the prefilter fired (id prefilter_bit|n), and on a line
//      target from the line of its first match on. Prefilters sit in databases of their
//      own.
//      Without one (long top-level alternations, unknown syntax) PCRE2 runs on every
//      message.
//   3. Neither: the rule is dropped and counted (matcher_stats::rejected_patterns).
//
// Everything matches octets (no UTF-8 mode), as Perl does on SpamAssassin's byte strings.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "spam/match/matcher.h"
#include "spam/match/hyperscan_cache.h"
#include "spam/match/matcher_internal.h"
#include "spam/match/regex_prefilter.h"
#include "spam/match/scan_targets.h"

namespace ringmail::spam {
namespace {

using namespace matcher_internal;

constexpr size_t max_samples = 10;
// Above this product of nested counted-repeat bounds a pattern goes to PCRE2 behind a
// relaxed prefilter: in the stock rules everything under it compiles in milliseconds,
// while __FILL_THIS_FORM_* (300-1500) take 3-20 s each or fail as "too large".
constexpr size_t max_exact_repeat = 200;
// Relaxed prefilters keep counted repeats up to this product and at most about this many
// bytes (relax_pattern keeps a run of atoms of a longer pattern, or gives up). Up to 5 kB
// the stock __FILL_THIS_FORM_*, __YOUR_PASSWORD and the like get one: 15-20% less scan
// time than at 1.5 kB, for 17 s instead of 5 s of compiling the stock rules, which the
// database cache (hyperscan_cache.h) pays once per rule change. The ReplaceTags "fuzzy
// word" expansions run to 6 kB and take 1-2 s each: they use their short form instead.
constexpr size_t prefilter_relax_repeat = 16;
constexpr size_t max_prefilter_length = 5000;
// Chunking of a target's patterns into databases (compiler::make_chunks).
constexpr size_t max_patterns_per_database = 100;
constexpr size_t max_source_per_database = 32 * 1024;
// Prefilters are long and literal-poor: smaller databases compile much faster in total,
// and a pattern Hyperscan finds too large costs a recompile of a small one only.
constexpr size_t max_prefilters_per_database = 10;
// Cached databases of rule sets no longer loaded go after this long unused.
constexpr std::chrono::hours unused_cache_entry_age{24 * 7};
constexpr size_t max_prefilter_source_per_database = 12 * 1024;
// tflags multiple [maxhits=N]: count every non-overlapping match (capped at N).
uint32_t max_hits_for(const rule& r) {
  bool multiple = false;
  uint32_t max_hits = 0;
  for (const std::string& f : r.tflags) {
    if (f == "multiple") {
      multiple = true;
    } else if (f.rfind("maxhits=", 0) == 0) {
      uint32_t n = 0;
      auto [ptr, ec] = std::from_chars(f.data() + 8, f.data() + f.size(), n);
      if (ec == std::errc() && ptr == f.data() + f.size() && n > 0) max_hits = n;
    }
  }
  if (!multiple) return 1;
  return max_hits ? max_hits : std::numeric_limits<uint32_t>::max();
}

unsigned hyperscan_flags(const translated_pattern& t) {
  unsigned flags = HS_FLAG_ALLOWEMPTY;
  if (t.caseless) flags |= HS_FLAG_CASELESS;
  if (t.multiline) flags |= HS_FLAG_MULTILINE;
  if (t.dotall) flags |= HS_FLAG_DOTALL;
  return flags;
}

uint32_t pcre_options(const translated_pattern& t) {
  // NEVER_UTF/NEVER_UCP: a pattern cannot switch to UTF-8 with (*UTF); octets only.
  uint32_t options = PCRE2_NEVER_UTF | PCRE2_NEVER_UCP;
  if (t.caseless) options |= PCRE2_CASELESS;
  if (t.multiline) options |= PCRE2_MULTILINE;
  if (t.dotall) options |= PCRE2_DOTALL;
  return options;
}

std::string pcre_error_text(int code) {
  PCRE2_UCHAR buffer[256];
  int n = pcre2_get_error_message(code, buffer, sizeof(buffer));
  if (n < 0) return absl::StrCat("PCRE2 error ", code);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

// Hyperscan's verdict on one pattern alone: empty if it parses and analyses, else why not.
// `min_width`: the shortest match it can have.
std::string hyperscan_rejects(const std::string& pattern, unsigned flags, unsigned* min_width = nullptr) {
  hs_expr_info_t* info = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_expression_info(pattern.c_str(), flags, &info, &error) == HS_SUCCESS) {
    if (min_width) *min_width = info ? info->min_width : 0;
    std::free(info);
    return {};
  }
  std::string why = error && error->message ? error->message : "rejected";
  hs_free_compile_error(error);
  return why;
}

// Compile-time only: does `pattern` match `text`? For [if-unset: TEXT], whose result is
// the same for every message. PCRE2 first; Hyperscan for a pattern only it reads.
bool matches_constant_text(const translated_pattern& t, std::string_view text) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(t.pattern.data()), t.pattern.size(),
                                   pcre_options(t), &error, &offset, nullptr);
  if (code) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.empty() ? "" : text.data()), text.size(), 0, 0, md,
                         nullptr);
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    return rc >= 0;
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* hs_error = nullptr;
  if (hs_compile(t.pattern.c_str(), hyperscan_flags(t) | HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, nullptr, &db,
                 &hs_error) != HS_SUCCESS) {
    hs_free_compile_error(hs_error);
    return false;
  }
  hs_scratch_t* scratch = nullptr;
  bool hit = false;
  if (hs_alloc_scratch(db, &scratch) == HS_SUCCESS) {
    hs_scan(db, text.empty() ? "" : text.data(), static_cast<unsigned>(text.size()), 0, scratch,
            [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
              *static_cast<bool*>(ctx) = true;
              return 1;  // stop
            },
            &hit);
    hs_free_scratch(scratch);
  }
  hs_free_database(db);
  return hit;
}

void add_sample(std::vector<std::string>& samples, std::string sample) {
  if (samples.size() < max_samples) samples.push_back(std::move(sample));
}

struct hs_entry {
  uint32_t id;  // rule index, or prefilter_bit | pcre index
  unsigned flags;
  std::string pattern;
};

// A slice of one target's patterns compiled into one database.
struct chunk {
  uint32_t target = 0;
  std::vector<hs_entry> entries;
  hs_database_t* db = nullptr;
  int failed_entry = -1;  // after a failed compile: the entry Hyperscan named, or -1
  std::string error;
  bool from_cache = false;
};

void compile_chunk(chunk& c, const hyperscan_cache& cache) {
  std::vector<const char*> patterns;
  std::vector<unsigned> flags, ids;
  for (const hs_entry& e : c.entries) {
    patterns.push_back(e.pattern.c_str());
    flags.push_back(e.flags);
    ids.push_back(e.id);
  }
  hs_compile_error_t* error = nullptr;
  c.db = nullptr;
  c.failed_entry = -1;
  c.error.clear();
  const std::string key = cache.enabled() ? hyperscan_cache::key(patterns, flags, ids, HS_MODE_BLOCK) : "";
  if (cache.enabled()) {
    if ((c.db = cache.load(key)) != nullptr) {
      c.from_cache = true;
      return;
    }
    hyperscan_cache::failure known;
    if (cache.load_failure(key, known)) {
      c.failed_entry = known.pattern;
      c.error = known.error;
      return;
    }
  }
  if (hs_compile_multi(patterns.data(), flags.data(), ids.data(), static_cast<unsigned>(c.entries.size()),
                       HS_MODE_BLOCK, nullptr, &c.db, &error) == HS_SUCCESS) {
    cache.store(key, c.db);
    return;
  }
  c.error = error && error->message ? error->message : "compile failed";
  c.failed_entry = error ? error->expression : -1;
  hs_free_compile_error(error);
  c.db = nullptr;
  // Only a verdict on a pattern is worth keeping; running out of memory is not one.
  if (c.failed_entry >= 0) cache.store_failure(key, {c.failed_entry, c.error});
}

// Compiles every chunk, on up to `threads` threads: chunks are independent, and
// Hyperscan's compiler is thread-safe (it keeps no global state).
void compile_chunks(std::vector<chunk>& chunks, unsigned threads, const hyperscan_cache& cache) {
  threads = std::min<unsigned>(threads, static_cast<unsigned>(chunks.size()));
  if (threads <= 1) {
    for (auto& c : chunks) compile_chunk(c, cache);
    return;
  }
  // Largest first, so one big chunk does not start last.
  std::vector<size_t> order(chunks.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto weight = [&](size_t i) {
    size_t w = 0;
    for (const auto& e : chunks[i].entries) w += e.pattern.size();
    return w;
  };
  std::vector<size_t> weights(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) weights[i] = weight(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return weights[a] > weights[b]; });
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < order.size();) compile_chunk(chunks[order[i]], cache);
    });
  }
  for (auto& w : workers) w.join();
}

// Compile-time state shared by the steps below.
struct compiler {
  compiled_rules::impl& m;
  const rule_set& set;
  std::vector<translated_pattern> translated;         // per rule
  std::vector<std::vector<hs_entry>> entries;         // per target

  // The rule on PCRE2, `why` it is not on Hyperscan; with `exact_prefilter` its own
  // pattern is the prefilter (Hyperscan takes it), else a relaxed one if cheap. Returns
  // the prefilter's database entry, if any.
  std::optional<hs_entry> to_pcre(uint32_t index, const std::string& why, bool exact_prefilter) {
    const rule& r = set.rules[index];
    const translated_pattern& t = translated[index];
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(t.pattern.data()), t.pattern.size(),
                                     pcre_options(t), &error, &error_offset, nullptr);
    bool per_line = false;
    if (!code && is_line_target(m.targets.key(m.rules[index].target).source)) {
      // Line mode's explicit classes make a pattern's compiled code bigger (a class is a
      // 32-byte bitmap where \s is one opcode), past PCRE2's 64 kB limit for the stock
      // __FILL_THIS_FORM_* rules. The pattern as written, run on each line, is exactly
      // SpamAssassin's per-line test, only with more calls.
      translated_pattern plain = translate_perl_regex(r.pattern, r.flags);
      code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(plain.pattern.data()), plain.pattern.size(),
                           pcre_options(plain), &error, &error_offset, nullptr);
      per_line = code != nullptr;
    }
    if (!code) {
      ++m.stats.rejected_patterns;
      add_sample(m.stats.rejected_samples, absl::StrCat(r.name, ": ", why, "; pcre2: ", pcre_error_text(error),
                                                        " at ", error_offset));
      m.rules[index].target = no_target;
      return std::nullopt;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // failure leaves the interpreter: slower, same answers
    uint32_t n = static_cast<uint32_t>(m.pcre.size());
    m.pcre.push_back({index, m.rules[index].max_hits, code, true, per_line});
    m.plans[m.rules[index].target].pcre.push_back(n);
    ++m.stats.pcre_patterns;
    add_sample(m.stats.pcre_samples, absl::StrCat(r.name, ": ", why));

    unsigned flags = hyperscan_flags(t) | HS_FLAG_SINGLEMATCH;
    std::optional<std::string> prefilter;
    unsigned min_width = 0;
    if (exact_prefilter) {
      prefilter = t.pattern;
    } else {
      auto relaxed = [&](const std::string& pattern) -> std::optional<std::string> {
        std::optional<std::string> p = relax_pattern(pattern, prefilter_relax_repeat, max_prefilter_length);
        // One that can match the empty string fires on every message: no use.
        if (p && (!hyperscan_rejects(*p, flags, &min_width).empty() || min_width == 0)) p.reset();
        return p;
      };
      // A ReplaceTags rule's simplified expansion first: its own expansion is often too
      // long to relax within the limit (the "fuzzy word" rules).
      // Only without counted repeats: the "fuzzy" rules built with <post P2> and <inter W3>
      // ({1,2}, \W{0,3} around every letter) cost Hyperscan more than PCRE2 costs
      // to run them outright (measured with `spam scan --profile`).
      if (!r.prefilter_pattern.empty()) {
        translate_options options;
        options.line_mode = is_line_target(m.targets.key(m.rules[index].target).source);
        prefilter = relaxed(translate_perl_regex(r.prefilter_pattern, r.flags, options).pattern);
        if (prefilter && analyse_repeats(*prefilter).largest_repeat > 1) prefilter.reset();
      }
      if (!prefilter) prefilter = relaxed(t.pattern);
    }
    if (!prefilter) return std::nullopt;
    m.pcre[n].always_run = false;
    // PCRE2 can start at the line of the prefilter's first match (matcher_internal.h).
    m.pcre[n].line_gated = is_line_target(m.targets.key(m.rules[index].target).source);
    return hs_entry{prefilter_bit | n, flags, std::move(*prefilter)};
  }

  // One rule: Hyperscan exactly, or PCRE2.
  void place(uint32_t index) {
    const translated_pattern& t = translated[index];
    unsigned flags = hyperscan_flags(t) | HS_FLAG_SINGLEMATCH;
    repeat_analysis repeats = analyse_repeats(t.pattern);
    std::string why = hyperscan_rejects(t.pattern, flags);
    bool exact_ok = why.empty();
    if (exact_ok && (!repeats.parsed || repeats.largest_repeat > max_exact_repeat)) {
      exact_ok = false;
      why = absl::StrCat("counted repeats too large for Hyperscan (", repeats.largest_repeat, ")");
    }
    auto& list = entries[m.rules[index].target];
    if (exact_ok && m.rules[index].max_hits == 1) {
      list.push_back({index, flags, t.pattern});
      return;
    }
    if (exact_ok) why = "tflags multiple: PCRE2 counts the matches";
    if (auto prefilter = to_pcre(index, why, exact_ok)) list.push_back(std::move(*prefilter));
  }

  // Splits every target's patterns into chunks: Hyperscan's compile time grows faster
  // than linearly with a database's size (the stock body rules: ~30 s as one database,
  // ~8 s as chunks of 100), and chunks compile in parallel. The cost is one more pass
  // over the target's text per chunk when scanning.
  std::vector<chunk> make_chunks() {
    std::vector<chunk> chunks;
    for (uint32_t t = 0; t < entries.size(); ++t) {
      size_t bytes = 0;
      // Prefilters in databases of their own, after the exact patterns: mixed in, their
      // literal-poor patterns push a whole database onto slower engines.
      std::stable_partition(entries[t].begin(), entries[t].end(),
                            [](const hs_entry& e) { return !(e.id & prefilter_bit); });
      bool prefilters = false;
      for (hs_entry& e : entries[t]) {
        const bool is_prefilter = (e.id & prefilter_bit) != 0;
        const size_t max_patterns = is_prefilter ? max_prefilters_per_database : max_patterns_per_database;
        const size_t max_source = is_prefilter ? max_prefilter_source_per_database : max_source_per_database;
        if (chunks.empty() || chunks.back().target != t || chunks.back().entries.size() >= max_patterns ||
            bytes + e.pattern.size() > max_source || is_prefilter != prefilters) {
          prefilters = is_prefilter;
          chunks.push_back({});
          chunks.back().target = t;
          bytes = 0;
        }
        bytes += e.pattern.size();
        chunks.back().entries.push_back(std::move(e));
      }
      entries[t].clear();
    }
    return chunks;
  }

  // A chunk that failed: Hyperscan names the pattern (resource limits can fail a pattern
  // hs_expression_info accepted). Move it to PCRE2, or drop the prefilter, and retry.
  absl::Status repair(chunk& c, const hyperscan_cache& cache) {
    while (!c.db) {
      if (c.failed_entry < 0 || static_cast<size_t>(c.failed_entry) >= c.entries.size()) {
        return absl::ResourceExhaustedError(absl::StrCat("hyperscan: ", target_name(m.targets.key(c.target)), " ",
                                                         m.targets.key(c.target).header, ": ", c.error));
      }
      hs_entry failed = std::move(c.entries[c.failed_entry]);
      c.entries.erase(c.entries.begin() + c.failed_entry);
      if (failed.id & prefilter_bit) {
        m.pcre[failed.id & ~prefilter_bit].always_run = true;
      } else if (auto prefilter = to_pcre(failed.id, c.error, false)) {
        c.entries.push_back(std::move(*prefilter));
      }
      if (c.entries.empty()) return absl::OkStatus();
      compile_chunk(c, cache);
    }
    return absl::OkStatus();
  }

  absl::Status build_databases(unsigned threads, const hyperscan_cache& cache) {
    std::vector<chunk> chunks = make_chunks();
    compile_chunks(chunks, threads, cache);
    for (chunk& c : chunks) {
      if (auto status = repair(c, cache); !status.ok()) {
        for (chunk& other : chunks) hs_free_database(other.db);
        return status;
      }
      if (!c.db) continue;
      if (c.from_cache) ++m.stats.cached_databases;
      m.plans[c.target].dbs.push_back(c.db);
      m.plans[c.target].db_numbers.push_back(static_cast<uint32_t>(m.databases.size()));
      database_info& info = m.databases.emplace_back();
      info.target = c.target;
      size_t bytes = 0;
      if (hs_database_size(c.db, &bytes) == HS_SUCCESS) m.stats.database_bytes += bytes;
      ++m.stats.databases;
      c.db = nullptr;
      for (const hs_entry& e : c.entries) {
        if (e.id & prefilter_bit) {
          ++m.stats.pcre_prefiltered;
          ++info.prefilters;
        } else {
          ++m.stats.hyperscan_patterns;
          ++info.exact;
        }
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<std::shared_ptr<const compiled_rules>> compiled_rules::compile(const rule_set& set) {
  return compile(set, compile_options{});
}

absl::StatusOr<std::shared_ptr<const compiled_rules>> compiled_rules::compile(const rule_set& set,
                                                                              const compile_options& options) {
  const size_t n = set.rules.size();
  if (n >= prefilter_bit) return absl::InvalidArgumentError("too many rules");

  // Scan targets, one per distinct key.
  std::vector<target_key> keys;
  absl::flat_hash_map<target_key, uint32_t> key_index;
  std::vector<uint32_t> rule_target(n, no_target);
  for (uint32_t i = 0; i < n; ++i) {
    const rule& r = set.rules[i];
    if (r.kind != rule_kind::regex && r.kind != rule_kind::exists) continue;
    if (!runs_in_score_set(r)) continue;
    target_key key = target_key_for(r);
    auto [it, inserted] = key_index.try_emplace(key, static_cast<uint32_t>(keys.size()));
    if (inserted) keys.push_back(std::move(key));
    rule_target[i] = it->second;
  }

  std::shared_ptr<compiled_rules> result(new compiled_rules());
  result->impl_ = std::make_unique<impl>(std::move(keys));
  impl& m = *result->impl_;
  m.rules.resize(n);
  compiler c{m, set, std::vector<translated_pattern>(n), std::vector<std::vector<hs_entry>>(m.plans.size())};

  for (uint32_t i = 0; i < n; ++i) {
    const rule& r = set.rules[i];
    rule_plan& plan = m.rules[i];
    plan.target = rule_target[i];
    if (plan.target == no_target) continue;
    if (r.negate) m.negated.push_back(i);
    if (r.kind == rule_kind::exists) {
      m.exists.push_back({i, plan.target});
      continue;
    }
    plan.max_hits = max_hits_for(r);
    translate_options options;
    options.line_mode = is_line_target(m.targets.key(plan.target).source);
    c.translated[i] = translate_perl_regex(r.pattern, r.flags, options);
    c.place(i);
  }
  unsigned threads = options.threads;
  if (threads == 0) threads = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  const hyperscan_cache cache(options.cache_dir);
  if (auto status = c.build_databases(threads, cache); !status.ok()) return status;
  cache.remove_unused(unused_cache_entry_age);
  for (const auto& p : m.pcre) {
    if (p.always_run) ++m.stats.pcre_always;
  }

  // [if-unset: TEXT] is constant per rule: decide it now.
  for (uint32_t i = 0; i < n; ++i) {
    const rule& r = set.rules[i];
    rule_plan& plan = m.rules[i];
    if (plan.target == no_target || r.kind != rule_kind::regex || !r.has_if_unset) continue;
    plan.unset_hits = matches_constant_text(c.translated[i], r.if_unset) ? 1 : 0;
    m.plans[plan.target].unset_rules.push_back(i);
  }
  // A dropped (rejected) negated rule must not hit on every message.
  std::erase_if(m.negated, [&](uint32_t i) { return m.rules[i].target == no_target; });

  return std::shared_ptr<const compiled_rules>(std::move(result));
}

}  // namespace ringmail::spam
