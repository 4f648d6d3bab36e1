// libFuzzer target for the SpamAssassin rule loader and meta evaluator (spam/). Build:
// see fuzz/README.md.
//
// Input: a rule file. It is loaded, loaded again on top of itself (the redefinition
// path), and every meta is compiled and evaluated twice: with no rule hit and with hit
// counts taken from the input bytes. Each line also goes through the single-piece
// parsers (regex literal, eval call, `if` condition, meta validity, ReplaceTags).
// `include` lines are skipped so the run stays hermetic. A broken invariant aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "spam/rules/meta.h"
#include "spam/rules/replace_tags.h"
#include "spam/rules/conditions.h"
#include "spam/rules/loader.h"
#include "spam/rules/syntax.h"

namespace {

using namespace ringmail::spam;

void check(bool ok) {
  if (!ok) abort();
}

void check_set(const rule_set& set) {
  check(set.index.size() == set.rules.size());
  check(set.stats.rules == set.rules.size());
  check(set.stats.error_samples.size() <= 10);
  check(set.stats.error_samples.size() <= set.stats.parse_errors);
  for (size_t i = 0; i < set.rules.size(); ++i) {
    auto it = set.index.find(set.rules[i].name);
    check(it != set.index.end() && it->second == i);
    check(is_rule_name(set.rules[i].name));
    if (set.rules[i].kind == rule_kind::meta) check(is_valid_meta_expression(set.rules[i].meta_expression));
  }
}

void check_meta(const rule_set& set, std::string_view input) {
  meta_program program(set);
  size_t metas = 0;
  for (const rule& r : set.rules) metas += r.kind == rule_kind::meta;
  check(program.dropped() <= metas);
  std::vector<uint32_t> hits(set.rules.size(), 0);
  program.evaluate(hits);
  check(hits.size() == set.rules.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    hits[i] = set.rules[i].kind == rule_kind::meta ? 12345 : static_cast<uint8_t>(input[i % input.size()]) % 4;
  }
  std::vector<uint32_t> again = hits;
  program.evaluate(hits);
  program.evaluate(again);
  check(hits == again);  // no state carried between evaluations
  for (size_t i = 0; i < hits.size(); ++i) {
    if (set.rules[i].kind != rule_kind::meta) check(hits[i] == again[i] && hits[i] < 4);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.empty() || input.find("nclude") != std::string_view::npos) return 0;

  load_options options;
  options.plugins = {"Mail::SpamAssassin::Plugin::ReplaceTags", "Mail::SpamAssassin::Plugin::Bayes"};
  options.eval_functions = {"check_bayes"};
  options.score_set = static_cast<uint8_t>(input[0]) % 5 - 1;  // includes out-of-range -1

  rule_set set = load_rules_from_text(input, options, "fuzz");
  check_set(set);
  size_t before = set.rules.size();
  load_more_rules(set, input, options, "fuzz-again");
  check_set(set);
  check(set.rules.size() >= before || set.stats.unsupported_evals > 0);
  check_meta(set, input);

  replace_tags_config tags;
  tags.tags["A"] = "[a@]";
  tags.tags["R"] = "<A><R>";  // recursive: bounded passes
  tags.inter["I"] = "\\W?";
  tags.post["P"] = "{1,2}";
  condition_context context;
  context.plugins = &options.plugins;
  size_t start = 0;
  while (start < input.size()) {
    size_t nl = input.find('\n', start);
    if (nl == std::string_view::npos) nl = input.size();
    std::string_view line = input.substr(start, nl - start);
    start = nl + 1;
    (void)parse_regex_literal(line);
    (void)parse_eval_call(line);
    (void)parse_header_test(line, false);
    (void)parse_header_test(line, true);
    (void)parse_exists_test(line);
    (void)evaluate_condition(line, context);
    (void)is_valid_meta_expression(line);
    std::string replaced = apply_replace_tags(line, tags);
    check(replaced.size() <= 64 * (line.size() + 1) * 64);
  }
  return 0;
}
