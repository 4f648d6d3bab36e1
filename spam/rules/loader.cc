// Rule files as Mail::SpamAssassin::Conf::Parser::parse reads them: one directive a line,
// '#' comments unless escaped ("\#" is a literal '#'), `lang xx` lines for other
// languages ignored, if/ifplugin/else/endif blocks, `include`. Settings that name a rule
// (score, describe, tflags, priority) may come before or after its definition: they are
// kept by name and applied when parsing is done, as SpamAssassin applies them in
// finish_parsing; rules never scored get SpamAssassin's defaults (Parser::fix_tests).
#include "spam/rules/loader.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "spam/rules/meta.h"
#include "spam/rules/replace_tags.h"
#include "spam/match/tag_prefilter.h"
#include "spam/rules/conditions.h"
#include "spam/rules/syntax.h"

namespace ringmail::spam {
namespace {

constexpr int kMaxIncludeDepth = 16;
constexpr size_t kMaxErrorSamples = 10;
constexpr size_t kMaxRuleNameLength = 100;  // Parser::add_test refuses longer names
// `lang xx` lines apply when xx is a prefix of the locale; SpamAssassin falls back to
// en_US for the C/POSIX locale a daemon usually runs under.
constexpr std::string_view kLanguage = "en_US";
constexpr std::string_view kReplaceTagsPlugin = "Mail::SpamAssassin::Plugin::ReplaceTags";

bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits off the first whitespace-separated word: Perl's split(/\s+/, $s, 2) on a
// trimmed string.
std::pair<std::string_view, std::string_view> split_first(std::string_view s) {
  size_t end = 0;
  while (end < s.size() && !is_space(s[end])) ++end;
  size_t rest = end;
  while (rest < s.size() && is_space(s[rest])) ++rest;
  return {s.substr(0, end), s.substr(rest)};
}

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    s = trim(s);
    if (s.empty()) return out;
    auto [word, rest] = split_first(s);
    out.push_back(word);
    s = rest;
  }
}

// s/(?<!\\)#.*$//; s/\\#/#/g
std::string strip_comment(std::string_view line) {
  size_t cut = line.size();
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || line[i - 1] != '\\')) {
      cut = i;
      break;
    }
  }
  std::string out;
  out.reserve(cut);
  for (size_t i = 0; i < cut; ++i) {
    if (line[i] == '\\' && i + 1 < cut && line[i + 1] == '#') continue;
    out.push_back(line[i]);
  }
  return out;
}

bool starts_with_ignore_case(std::string_view s, std::string_view prefix) {
  if (prefix.size() > s.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

// -?\d+(?:\.\d+)?   (Conf.pm's score syntax)
bool parse_score_number(std::string_view s, double* out) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  size_t digits = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == digits) return false;
  if (i < s.size() && s[i] == '.') {
    size_t frac = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == frac) return false;
  }
  if (i != s.size()) return false;
  *out = std::strtod(std::string(s).c_str(), nullptr);
  return true;
}

// [+-]?\d+(?:\.\d*)?   (Parser::set_numeric_value)
bool parse_numeric_setting(std::string_view s, double* out) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == digits) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  }
  if (i != s.size()) return false;
  *out = std::strtod(std::string(s).c_str(), nullptr);
  return true;
}

bool parse_integer(std::string_view s, int* out) {
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (i == s.size() || s.size() > 10) return false;
  for (size_t k = i; k < s.size(); ++k) {
    if (s[k] < '0' || s[k] > '9') return false;
  }
  *out = std::atoi(std::string(s).c_str());
  return true;
}

// Rule files are small; anything else (a device, a FIFO, a runaway file) is refused
// rather than read without end.
constexpr uintmax_t kMaxRuleFileBytes = 64u << 20;

absl::StatusOr<std::string> read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": not a regular file"));
  }
  if (std::filesystem::file_size(path, ec) > kMaxRuleFileBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(path, ": larger than 64 MiB"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  return text.str();
}

// One file's parsing state: SpamAssassin closes unbalanced if-blocks at the end of each
// file, so conditionals never leak into the next file.
struct file_scope {
  std::string origin;
  std::string dir;  // for relative `include`
  size_t line = 0;
  struct conditional {
    bool skipping_before;
  };
  std::vector<conditional> ifs;
  bool skipping = false;
  bool rest_skipped = false;  // require_version mismatch: SpamAssassin skips the file
};

class rule_file_parser {
 public:
  rule_file_parser(rule_set& set, const load_options& options)
      : set_(set), options_(options), rules_before_(set.rules.size()) {
    conditions_.version = options.version;
    conditions_.plugins = &options.plugins;
    replace_tags_loaded_ = std::find(options.plugins.begin(), options.plugins.end(), kReplaceTagsPlugin) !=
                           options.plugins.end();
    for (const std::string& f : options.eval_functions) eval_functions_[f] = true;
  }

  absl::Status parse_path(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      // Mail::SpamAssassin::get_cf_files_in_dir: the *.cf files, in name order.
      std::vector<std::string> files;
      for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
        std::string name = entry.path().filename().string();
        if (name.size() > 3 && starts_with_ignore_case(name.substr(name.size() - 3), ".cf") &&
            entry.is_regular_file(ec)) {
          files.push_back(entry.path().string());
        }
      }
      if (ec) return absl::NotFoundError(absl::StrCat("cannot list ", path, ": ", ec.message()));
      std::sort(files.begin(), files.end());
      for (const std::string& f : files) {
        if (absl::Status s = parse_file(f, 0); !s.ok()) return s;
      }
      return absl::OkStatus();
    }
    return parse_file(path, 0);
  }

  void parse_text(std::string_view text, std::string origin, std::string dir, int depth) {
    file_scope f;
    f.origin = std::move(origin);
    f.dir = std::move(dir);
    size_t start = 0;
    while (start <= text.size()) {
      size_t nl = text.find('\n', start);
      if (nl == std::string_view::npos) nl = text.size();
      if (!(nl == text.size() && start == nl)) {  // no phantom line after a final '\n'
        ++f.line;
        ++set_.stats.lines;
        handle_line(text.substr(start, nl - start), f, depth);
      }
      start = nl + 1;
    }
    if (!f.ifs.empty()) error(f, absl::StrCat(f.ifs.size(), " unclosed if/ifplugin block(s) at end of file"));
  }

  void finish();

 private:
  absl::Status parse_file(const std::string& path, int depth) {
    auto text = read_file(path);
    if (!text.ok()) return text.status();
    ++set_.stats.files;
    std::string dir = std::filesystem::path(path).parent_path().string();
    parse_text(*text, path, dir, depth);
    return absl::OkStatus();
  }

  void error(const file_scope& f, std::string reason) {
    ++set_.stats.parse_errors;
    if (set_.stats.error_samples.size() < kMaxErrorSamples) {
      set_.stats.error_samples.push_back(absl::StrCat(f.origin, ":", f.line, ": ", reason));
    }
  }

  void handle_line(std::string_view raw, file_scope& f, int depth);
  void handle_conditional(std::string_view expression, file_scope& f);
  void handle_include(std::string_view value, file_scope& f, int depth);
  void handle_directive(const std::string& key, std::string_view value, file_scope& f);
  void handle_rule(const std::string& key, std::string_view value, file_scope& f);
  void handle_score(std::string_view value, file_scope& f);
  bool handle_replace_tags(const std::string& key, std::string_view value, file_scope& f);
  void define_rule(rule r);
  void remove_rule(const std::string& name);
  void inherit_net_tflag();
  void unknown(const std::string& key) {
    ++set_.stats.unknown_directives;
    ++set_.stats.unknown_by_directive[key];
  }

  rule_set& set_;
  const load_options& options_;
  size_t rules_before_;  // rules below this index were scored by an earlier load
  condition_context conditions_;
  bool replace_tags_loaded_ = false;
  absl::flat_hash_map<std::string, bool> eval_functions_;

  // Settings by rule name, applied in finish().
  absl::flat_hash_map<std::string, double> scores_;
  absl::flat_hash_map<std::string, std::string> descriptions_;
  absl::flat_hash_map<std::string, std::string> tflags_;
  absl::flat_hash_map<std::string, int> priorities_;
  replace_tags_config replace_;
};

void rule_file_parser::handle_line(std::string_view raw, file_scope& f, int depth) {
  std::string stripped = raw.find('#') == std::string_view::npos ? std::string(raw) : strip_comment(raw);
  std::string_view line = trim(stripped);
  if (line.empty()) return;

  if (line.substr(0, 4) == "lang") {
    auto [word, rest] = split_first(line);
    if (word == "lang") {
      auto [lang, directive] = split_first(rest);
      if (!lang.empty() && !directive.empty()) {
        if (!starts_with_ignore_case(kLanguage, lang)) return;  // another language: not ours
        line = directive;
      }
    }
  }

  auto [key_view, value] = split_first(line);
  std::string key(key_view);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '-') c = '_';
  }

  // Conditionals are followed even inside skipped blocks, to find where they end.
  if (key == "endif") {
    if (!value.empty()) return error(f, "'endif' must be standalone");
    if (f.ifs.empty()) return error(f, "'endif' without 'if'");
    f.skipping = f.ifs.back().skipping_before;
    f.ifs.pop_back();
    return;
  }
  if (key == "ifplugin" || key == "if") {
    if (value.empty()) return error(f, absl::StrCat("missing '", key, "' condition"));
    handle_conditional(key == "ifplugin" ? absl::StrCat("plugin(", std::string(value), ")") : std::string(value), f);
    return;
  }
  if (key == "else") {
    if (!value.empty()) return error(f, "'else' must be standalone");
    if (f.ifs.empty()) return error(f, "'else' without 'if'");
    // Bug 7848: an else inside a skipped block stays skipped.
    bool outer_skipping = std::any_of(f.ifs.begin(), f.ifs.end(), [](const auto& c) { return c.skipping_before; });
    if (outer_skipping) {
      f.skipping = true;
    } else {
      f.skipping = !f.skipping;
      if (f.skipping) ++set_.stats.skipped_blocks;
    }
    return;
  }

  if (f.skipping || f.rest_skipped) {
    ++set_.stats.skipped_block_lines;
    return;
  }
  if (key == "include") return handle_include(value, f, depth);
  handle_directive(key, value, f);
}

void rule_file_parser::handle_conditional(std::string_view expression, file_scope& f) {
  f.ifs.push_back({f.skipping});
  if (f.skipping) return;  // nested in a skipped block: the whole block goes anyway
  std::optional<bool> result = evaluate_condition(expression, conditions_);
  if (!result) error(f, absl::StrCat("unparseable condition '", std::string(expression), "': block skipped"));
  if (!result.value_or(false)) {
    f.skipping = true;
    ++set_.stats.skipped_blocks;
  }
}

void rule_file_parser::handle_include(std::string_view value, file_scope& f, int depth) {
  if (value.empty()) return error(f, "missing 'include' value");
  if (depth + 1 > kMaxIncludeDepth) return error(f, "include nested too deeply");
  std::filesystem::path path(value);
  if (path.is_relative() && !f.dir.empty()) path = std::filesystem::path(f.dir) / path;
  auto text = read_file(path.string());
  if (!text.ok()) return error(f, std::string(text.status().message()));
  ++set_.stats.files;
  parse_text(*text, path.string(), path.parent_path().string(), depth + 1);
}

void rule_file_parser::handle_directive(const std::string& key, std::string_view value, file_scope& f) {
  if (key == "header" || key == "body" || key == "rawbody" || key == "uri" || key == "full" ||
      key == "mimeheader" || key == "meta") {
    return handle_rule(key, value, f);
  }
  if (key == "score") return handle_score(value, f);
  if (key == "describe" || key == "tflags" || key == "priority") {
    // CONF_TYPE_HASH_KEY_VALUE: NAME then the rest of the line; the last line wins.
    auto [name, setting] = split_first(value);
    if (setting.empty()) return error(f, absl::StrCat("missing '", key, "' value"));
    if (key == "describe") {
      descriptions_[std::string(name)] = std::string(setting);
    } else if (key == "tflags") {
      tflags_[std::string(name)] = std::string(setting);
    } else {
      int priority;
      if (!is_rule_name(name) || !parse_integer(setting, &priority)) return error(f, "invalid 'priority' value");
      priorities_[std::string(name)] = priority;
    }
    return;
  }
  if (key == "required_score" || key == "required_hits") {
    double v;
    if (!parse_numeric_setting(value, &v)) return error(f, absl::StrCat("invalid '", key, "' value"));
    set_.required_score = v;
    return;
  }
  // Regression-test strings and mass-check's rule reuse do not change what a scan does.
  if (key == "test" || key == "reuse") return;
  if (key == "require_version") {
    // Unreplaced @@VERSION@@ means "this version" (Parser::parse). Any other version
    // than ours: SpamAssassin skips the rest of the file.
    if (value == "@@VERSION@@") return;
    char ours[32];
    std::snprintf(ours, sizeof ours, "%.6f", options_.version);
    if (value != ours) {
      error(f, absl::StrCat("file requires version ", std::string(value), ", this is ", ours, ": rest skipped"));
      f.rest_skipped = true;
      ++set_.stats.skipped_blocks;
    }
    return;
  }
  if (replace_tags_loaded_ && key.substr(0, 8) == "replace_" && handle_replace_tags(key, value, f)) return;
  set_.settings[key].emplace_back(value);
  unknown(key);
}

void rule_file_parser::handle_rule(const std::string& key, std::string_view value, file_scope& f) {
  // `value !~ s/^(\S+)\s+//`: a name, whitespace, then the definition.
  auto [name_view, definition] = split_first(value);
  if (definition.empty()) return error(f, absl::StrCat("invalid '", key, "' value"));
  if (!is_rule_name(name_view) || name_view.size() > kMaxRuleNameLength) {
    return error(f, absl::StrCat("invalid rule name '", std::string(name_view), "'"));
  }
  rule r;
  r.name = std::string(name_view);
  auto fail = [&](const absl::Status& s) { error(f, absl::StrCat(r.name, ": ", std::string(s.message()))); };

  if (key == "meta") {
    std::string why;
    if (!is_valid_meta_expression(definition, &why)) return error(f, absl::StrCat(r.name, ": invalid meta: ", why));
    r.kind = rule_kind::meta;
    r.meta_expression = std::string(definition);
    return define_rule(std::move(r));
  }

  if (key == "header") r.target = rule_target::header;
  if (key == "body") r.target = rule_target::body;
  if (key == "rawbody") r.target = rule_target::rawbody;
  if (key == "uri") r.target = rule_target::uri;
  if (key == "full") r.target = rule_target::full;
  if (key == "mimeheader") r.target = rule_target::mimeheader;

  // Eval rules: header (also "rbleval:"), body, rawbody and full; uri has none in SA.
  std::string_view eval_text;
  bool is_eval = false;
  if (key == "header" && definition.substr(0, 8) == "rbleval:") {
    eval_text = definition.substr(8), is_eval = true;
  } else if ((key == "header" || key == "body" || key == "rawbody" || key == "full") &&
             definition.substr(0, 5) == "eval:") {
    eval_text = definition.substr(5), is_eval = true;
  }
  if (is_eval) {
    auto call = parse_eval_call(eval_text);
    if (!call.ok()) return fail(call.status());
    if (!eval_functions_.contains(call->function)) {
      // The scanner cannot run it: the rule does not exist for us (metas read it as 0).
      ++set_.stats.unsupported_evals;
      remove_rule(r.name);
      return;
    }
    r.kind = rule_kind::eval;
    r.eval_function = std::move(call->function);
    r.eval_args = std::move(call->args);
    return define_rule(std::move(r));
  }

  if (key == "header" && definition.substr(0, 7) == "exists:") {
    auto header = parse_exists_test(definition);
    if (!header.ok()) return fail(header.status());
    r.kind = rule_kind::exists;
    r.header_name = *std::move(header);
    return define_rule(std::move(r));
  }
  if (key == "header" || key == "mimeheader") {
    auto test = parse_header_test(definition, key == "mimeheader");
    if (!test.ok()) return fail(test.status());
    r.kind = rule_kind::regex;
    r.header_name = std::move(test->header_name);
    r.header_modifier = std::move(test->header_modifier);
    r.negate = test->negate;
    r.has_if_unset = test->has_if_unset;
    r.if_unset = std::move(test->if_unset);
    r.pattern = std::move(test->regex.pattern);
    r.flags = std::move(test->regex.flags);
    return define_rule(std::move(r));
  }
  auto re = parse_regex_literal(definition);
  if (!re.ok()) return fail(re.status());
  r.kind = rule_kind::regex;
  r.pattern = std::move(re->pattern);
  r.flags = std::move(re->flags);
  define_rule(std::move(r));
}

void rule_file_parser::handle_score(std::string_view value, file_scope& f) {
  std::vector<std::string_view> words = split_words(value);
  if (words.size() != 2 && words.size() != 5) {
    return error(f, "score: requires a rule name and 1 or 4 scores");
  }
  std::string name(words[0]);
  // "(n)": relative to the score already set (Conf.pm); one parenthesised value makes
  // the whole line relative.
  bool relative = false;
  std::vector<double> scores;
  for (size_t i = 1; i < words.size(); ++i) {
    std::string_view w = words[i];
    if (w.size() > 2 && w.front() == '(' && w.back() == ')') {
      w = w.substr(1, w.size() - 2);
      relative = true;
    }
    double v;
    if (!parse_score_number(w, &v)) return error(f, absl::StrCat("score: '", std::string(words[i]), "' is not a number"));
    scores.push_back(v);
  }
  int column = std::clamp(options_.score_set, 0, 3);
  double score = scores.size() == 4 ? scores[column] : scores[0];
  if (relative) {
    auto it = scores_.find(name);
    auto existing = set_.index.find(name);
    if (it != scores_.end()) {
      score += it->second;
    } else if (existing != set_.index.end() && existing->second < rules_before_) {
      score += set_.rules[existing->second].score;
    } else {
      return error(f, "score: relative score without previous setting");
    }
  }
  scores_[name] = score;
}

bool rule_file_parser::handle_replace_tags(const std::string& key, std::string_view value, file_scope& f) {
  if (key == "replace_start" || key == "replace_end") {
    if (value.empty()) {
      error(f, absl::StrCat("missing '", key, "' value"));
    } else {
      (key == "replace_start" ? replace_.start : replace_.end) = std::string(value);
    }
    return true;
  }
  if (key == "replace_rules") {
    if (value.empty()) {
      error(f, "missing 'replace_rules' value");
      return true;
    }
    for (std::string_view name : split_words(value)) {
      if (std::find(replace_.rules.begin(), replace_.rules.end(), name) == replace_.rules.end()) {
        replace_.rules.emplace_back(name);
      }
    }
    return true;
  }
  absl::flat_hash_map<std::string, std::string>* map = nullptr;
  if (key == "replace_tag") map = &replace_.tags;
  if (key == "replace_pre") map = &replace_.pre;
  if (key == "replace_inter") map = &replace_.inter;
  if (key == "replace_post") map = &replace_.post;
  if (map == nullptr) return false;
  auto [name, tag] = split_first(value);
  if (tag.empty()) {
    error(f, absl::StrCat("missing '", key, "' value"));
  } else {
    (*map)[std::string(name)] = std::string(tag);
  }
  return true;
}

// A later definition replaces the earlier one in place (Parser::add_test overwrites
// $conf->{tests}{NAME}); settings made for the name stay with it.
void rule_file_parser::define_rule(rule r) {
  auto it = set_.index.find(r.name);
  if (it == set_.index.end()) {
    set_.index[r.name] = static_cast<uint32_t>(set_.rules.size());
    set_.rules.push_back(std::move(r));
    return;
  }
  rule& old = set_.rules[it->second];
  r.score = old.score;
  r.score_set = old.score_set;
  r.description = std::move(old.description);
  r.tflags = std::move(old.tflags);
  r.priority = old.priority;
  old = std::move(r);
}

void rule_file_parser::remove_rule(const std::string& name) {
  auto it = set_.index.find(name);
  if (it == set_.index.end()) return;
  uint32_t at = it->second;
  set_.index.erase(it);
  set_.rules.erase(set_.rules.begin() + at);
  for (auto& [n, i] : set_.index) {
    if (i > at) --i;
  }
  if (at < rules_before_) --rules_before_;
}

void rule_file_parser::finish() {
  auto apply = [&](const auto& settings, auto&& set_one) {
    for (const auto& [name, value] : settings) {
      auto it = set_.index.find(name);
      if (it == set_.index.end()) {
        ++set_.stats.orphan_settings;
        continue;
      }
      set_one(set_.rules[it->second], value);
    }
  };
  apply(scores_, [](rule& r, double s) {
    r.score = s;
    r.score_set = true;
  });
  apply(descriptions_, [](rule& r, const std::string& d) { r.description = d; });
  apply(tflags_, [](rule& r, const std::string& t) {
    r.tflags.clear();
    for (std::string_view w : split_words(t)) r.tflags.emplace_back(w);
  });
  apply(priorities_, [](rule& r, int p) { r.priority = p; });

  // Parser::fix_tests: 1.0, 0.01 for T_ rules (in testing), negative for "nice" rules.
  // __ rules only feed metas and never count, whatever a score line says (score_set
  // still tells that one named them).
  for (rule& r : set_.rules) {
    if (r.is_subrule()) {
      r.score = 0;
      continue;
    }
    if (r.score_set) continue;
    double s = r.name.compare(0, 2, "T_") == 0 ? 0.01 : 1.0;
    r.score = r.has_tflag("nice") ? -s : s;
  }

  inherit_net_tflag();

  // ReplaceTags::finish_parsing_end: regex rules of the kinds it handles.
  if (replace_tags_loaded_) {
    replace_tags_config simplified = replace_;
    for (auto& [name, value] : simplified.tags) value = simplify_tag_value(value);
    for (const std::string& name : replace_.rules) {
      auto it = set_.index.find(name);
      if (it == set_.index.end()) continue;
      rule& r = set_.rules[it->second];
      if (r.kind != rule_kind::regex || r.target == rule_target::mimeheader) continue;
      std::string shorter = apply_replace_tags(r.pattern, simplified);
      r.pattern = apply_replace_tags(r.pattern, replace_);
      if (shorter.size() < r.pattern.size()) r.prefilter_pattern = std::move(shorter);
    }
  }
  set_.stats.rules = set_.rules.size();
}

// Parser::fix_tflags: a meta that depends on a network rule is one too ("net"), so it is
// treated like one (scored with the network score sets, skipped by local-only scans).
void rule_file_parser::inherit_net_tflag() {
  auto is_net = [](const rule& r) { return r.has_tflag("net"); };
  for (bool changed = true; changed;) {
    changed = false;
    for (rule& r : set_.rules) {
      if (r.kind != rule_kind::meta || is_net(r)) continue;
      std::string_view e = r.meta_expression;
      for (size_t i = 0; i < e.size();) {
        auto word = [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        };
        if (!word(e[i])) {
          ++i;
          continue;
        }
        size_t j = i;
        while (j < e.size() && word(e[j])) ++j;
        const rule* dep = set_.find(std::string(e.substr(i, j - i)));
        i = j;
        if (dep != nullptr && dep != &r && is_net(*dep)) {
          r.tflags.emplace_back("net");
          changed = true;
          break;
        }
      }
    }
  }
}

}  // namespace

absl::StatusOr<rule_set> load_rules(const std::vector<std::string>& paths, const load_options& options) {
  rule_set set;
  rule_file_parser parser(set, options);
  for (const std::string& path : paths) {
    if (absl::Status s = parser.parse_path(path); !s.ok()) return s;
  }
  parser.finish();
  return set;
}

rule_set load_rules_from_text(std::string_view text, const load_options& options, std::string_view origin) {
  rule_set set;
  load_more_rules(set, text, options, origin);
  return set;
}

void load_more_rules(rule_set& set, std::string_view text, const load_options& options, std::string_view origin) {
  rule_file_parser parser(set, options);
  parser.parse_text(text, std::string(origin), "", 0);
  parser.finish();
}

}  // namespace ringmail::spam
