#include "spam/rules/conditions.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "spam/rules/meta.h"

namespace ringmail::spam {
namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool is_number_char(char c) { return (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+'; }

// Splits like Constants::ARITH_EXPRESSION_LEXER under m//g: characters that start no
// token are skipped, as Perl's global match skips them.
std::vector<std::string> lex(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    size_t len = 0;
    if (is_number_char(c)) {
      while (i + len < s.size() && is_number_char(s[i + len])) ++len;
    } else if (is_word_char(c)) {
      while (i + len < s.size() && (is_word_char(s[i + len]) || s[i + len] == ':')) ++len;
    } else if (c == '(' || c == ')' || c == '^' || c == '?' || c == ':' || c == '*' || c == '/') {
      len = 1;
    } else if ((c == '|' || c == '&') && i + 1 < s.size() && s[i + 1] == c) {
      len = 2;
    } else if (c == '!') {
      len = (i + 1 < s.size() && s[i + 1] == '=') ? 2 : 1;
    } else if (c == '<' || c == '>') {
      len = (i + 1 < s.size() && s[i + 1] == '=') ? 2 : 1;
    } else if (c == '=' && i + 1 < s.size() && s[i + 1] == '=') {
      len = 2;
    }
    if (len == 0) {
      ++i;
      continue;
    }
    out.emplace_back(s.substr(i, len));
    i += len;
  }
  return out;
}

bool parse_number(const std::string& t, double* v) {
  // [+-]?\d+(?:\.\d+)?
  size_t i = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
  size_t digits = i;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  if (i == digits) return false;
  if (i < t.size() && t[i] == '.') {
    size_t frac = ++i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    if (i == frac) return false;
  }
  if (i != t.size()) return false;
  *v = std::strtod(t.c_str(), nullptr);
  return true;
}

bool is_class_name(const std::string& t) {
  // ^(?:\w+::){0,10}\w+$
  size_t parts = 0, i = 0;
  while (true) {
    size_t start = i;
    while (i < t.size() && is_word_char(t[i])) ++i;
    if (i == start) return false;
    ++parts;
    if (i == t.size()) return parts <= 11;
    if (t.compare(i, 2, "::") != 0) return false;
    i += 2;
  }
}

class evaluator {
 public:
  evaluator(std::vector<std::string> tokens, const condition_context& ctx) : t_(std::move(tokens)), ctx_(ctx) {}

  std::optional<double> run() {
    double v = ternary(0);
    if (failed_ || pos_ != t_.size()) return std::nullopt;
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  bool peek(const char* s) const { return pos_ < t_.size() && t_[pos_] == s; }
  bool accept(const char* s) {
    if (!peek(s)) return false;
    ++pos_;
    return true;
  }
  double fail() {
    failed_ = true;
    return 0;
  }

  double ternary(int depth) {
    if (depth > kMaxDepth) return fail();
    double c = logical_or(depth);
    if (!accept("?")) return c;
    double a = ternary(depth + 1);
    if (!accept(":")) return fail();
    double b = ternary(depth + 1);
    return c != 0 ? a : b;
  }
  double logical_or(int depth) {
    double v = logical_and(depth);
    while (!failed_ && accept("||")) {
      double r = logical_and(depth);
      v = v != 0 ? v : r;
    }
    return v;
  }
  double logical_and(int depth) {
    double v = bit_xor(depth);
    while (!failed_ && accept("&&")) {
      double r = bit_xor(depth);
      v = v != 0 ? r : v;
    }
    return v;
  }
  double bit_xor(int depth) {
    double v = equality(depth);
    while (!failed_ && accept("^")) {
      double r = equality(depth);
      v = perl_xor(v, r);
    }
    return v;
  }
  double equality(int depth) {
    double v = relational(depth);
    while (!failed_) {
      if (accept("==")) {
        v = v == relational(depth);
      } else if (accept("!=")) {
        v = v != relational(depth);
      } else {
        break;
      }
    }
    return v;
  }
  double relational(int depth) {
    double v = additive(depth);
    while (!failed_) {
      if (accept("<=")) {
        v = v <= additive(depth);
      } else if (accept(">=")) {
        v = v >= additive(depth);
      } else if (accept("<")) {
        v = v < additive(depth);
      } else if (accept(">")) {
        v = v > additive(depth);
      } else {
        break;
      }
    }
    return v;
  }
  double additive(int depth) {
    double v = multiplicative(depth);
    while (!failed_) {
      if (accept("+")) {
        v += multiplicative(depth);
      } else if (accept("-")) {
        v -= multiplicative(depth);
      } else {
        break;
      }
    }
    return v;
  }
  double multiplicative(int depth) {
    double v = unary(depth);
    while (!failed_) {
      if (accept("*")) {
        v *= unary(depth);
      } else if (accept("/")) {
        double d = unary(depth);
        if (d == 0) return fail();  // Perl dies: "Illegal division by zero"
        v /= d;
      } else {
        break;
      }
    }
    return v;
  }
  double unary(int depth) {
    if (depth > kMaxDepth) return fail();
    if (accept("!")) return unary(depth + 1) == 0 ? 1 : 0;
    if (accept("-")) return -unary(depth + 1);
    if (accept("+")) return unary(depth + 1);
    return primary(depth);
  }
  // A class-name argument of plugin()/can()/has(), in parentheses.
  std::optional<std::string> call_argument() {
    if (!accept("(")) return std::nullopt;
    if (pos_ >= t_.size() || !is_class_name(t_[pos_])) return std::nullopt;
    std::string arg = t_[pos_++];
    if (!accept(")")) return std::nullopt;
    return arg;
  }
  double primary(int depth) {
    if (pos_ >= t_.size()) return fail();
    if (accept("(")) {
      if (accept(")")) return 0;  // () is undef
      double v = ternary(depth + 1);
      if (!accept(")")) return fail();
      return v;
    }
    const std::string& tok = t_[pos_];
    double num;
    if (parse_number(tok, &num)) {
      ++pos_;
      return num;
    }
    if (tok == "version") return ++pos_, ctx_.version;
    if (tok == "perl_version") return ++pos_, ctx_.perl_version;
    if (tok == "local_tests_only") return ++pos_, 0.0;
    if (tok == "plugin" || tok == "can" || tok == "has") {
      ++pos_;
      auto arg = call_argument();
      if (!arg) return fail();
      if (tok == "plugin") return condition_plugin_loaded(*arg, ctx_) ? 1 : 0;
      return condition_method_available(*arg, ctx_) ? 1 : 0;
    }
    if (tok.size() >= 2 && is_class_name(tok)) {
      ++pos_;
      return 0;  // a bare name: Perl would see a true string; we do not vouch for it
    }
    return fail();
  }

  std::vector<std::string> t_;
  const condition_context& ctx_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// Mail::SpamAssassin::Conf feature methods (4.0.1) that hold here. Left out on purpose:
// feature_capture_rules — rules using %{TAG} captures need per-message capture state
// the matcher does not keep, so their blocks are skipped as on an older SpamAssassin.
constexpr std::string_view kConfFeatures[] = {
    "feature_originating_ip_headers",
    "feature_dns_local_ports_permit_avoid",
    "feature_bayes_auto_learn_on_error",
    "feature_uri_host_listed",
    "feature_yesno_takes_args",
    "feature_bug6558_free",
    "feature_edns",
    "feature_dns_query_restriction",
    "feature_registryboundaries",
    "feature_geodb",
    "feature_dns_block_rule",
    "feature_compile_regexp",
    "feature_meta_rules_matching",
    "feature_subjprefix",
    "feature_bayes_stopwords",
    "feature_get_host",
    "feature_blocklist_welcomelist",
    "feature_welcomelist_blocklist",
    "feature_header_address_parser",
    "feature_local_tests_only",
    "feature_header_first_last",
    "feature_header_match_many",
    "has_tflags_nosubject",
    "has_tflags_nolog",
    "perl_min_version_5010000",
};

}  // namespace

bool condition_plugin_loaded(std::string_view name, const condition_context& context) {
  if (name == "Mail::SpamAssassin::Plugin::RaciallyCharged") return true;
  std::string canonical(name);
  if (canonical == "Mail::SpamAssassin::Plugin::Dmarc") canonical = "Mail::SpamAssassin::Plugin::DMARC";
  if (canonical == "Mail::SpamAssassin::Plugin::WhiteListSubject") {
    canonical = "Mail::SpamAssassin::Plugin::WelcomeListSubject";
  }
  if (context.plugins == nullptr) return false;
  return std::find(context.plugins->begin(), context.plugins->end(), canonical) != context.plugins->end();
}

bool condition_method_available(std::string_view method, const condition_context& context) {
  size_t sep = method.rfind("::");
  if (sep == std::string_view::npos || sep == 0) return false;
  std::string_view module = method.substr(0, sep);
  std::string_view name = method.substr(sep + 2);
  if (module == "Mail::SpamAssassin::Conf") {
    return std::find(std::begin(kConfFeatures), std::end(kConfFeatures), name) != std::end(kConfFeatures);
  }
  // Plugins advertise what they can do with has_* methods; a loaded plugin is taken to
  // have the 4.0.1 ones (the rules they guard are eval rules, which the loader keeps
  // only when the scanner implements the function anyway).
  constexpr std::string_view kPlugin = "Mail::SpamAssassin::Plugin::";
  if (module.substr(0, kPlugin.size()) == kPlugin && name.substr(0, 4) == "has_") {
    return condition_plugin_loaded(module, context);
  }
  return false;
}

std::optional<bool> evaluate_condition(std::string_view expression, const condition_context& context) {
  std::vector<std::string> tokens = lex(expression);
  // Words handle_conditional refuses outright ("unparseable value"): anything that is
  // neither a number nor a (class) name of two or more characters.
  for (const std::string& t : tokens) {
    double ignored;
    if (is_word_char(t[0]) && !parse_number(t, &ignored) && !(t.size() >= 2 && is_class_name(t))) {
      return std::nullopt;
    }
  }
  if (tokens.empty()) return std::nullopt;
  auto v = evaluator(std::move(tokens), context).run();
  if (!v) return std::nullopt;
  return *v != 0;
}

}  // namespace ringmail::spam
