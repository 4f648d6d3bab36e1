// HTMLEval.pm eval functions, over the per-part results of HTML.pm that the renderer
// collects (mail::html_facts, one per text/html part: SA's $pms->{html_all}). Each test
// is true when any HTML part passes it, as in HTMLEval's loops.
#include <cstdlib>
#include <optional>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "absl/strings/ascii.h"
#include "spam/evals/evals.h"

namespace ringmail::spam {
namespace {

using mail::html_facts;

// The numeric results HTML.pm puts (html_end, Node.pm rendered); nullopt when SA would
// not have the key for this part.
std::optional<double> numeric_result(const html_facts& h, std::string_view name) {
  if (name == "length") return static_cast<double>(h.length);
  if (name == "html_length") return static_cast<double>(h.html_length);
  if (name == "non_space_len") return static_cast<double>(h.non_space_len);
  if (name == "image_area") return static_cast<double>(h.image_area);
  if (name == "min_size") return static_cast<double>(h.min_size);
  if (name == "max_size") return static_cast<double>(h.max_size);
  // The ratios exist only when their counters do ("exists $self->{tags}").
  if (h.tags == 0) return std::nullopt;
  double tags = static_cast<double>(h.tags);
  if (name == "closed_extra_ratio") return h.closed_extra / tags;
  if (name == "bad_tag_ratio") return (tags - h.elements) / tags;
  if (name == "non_element_ratio") {
    return (static_cast<double>(h.tags_seen) - h.elements_seen) / h.tags_seen;
  }
  if (name == "obfuscation_ratio") {
    if (h.obfuscation == 0) return std::nullopt;
    return h.obfuscation / tags;
  }
  return std::nullopt;
}

bool flag_result(const html_facts& h, std::string_view name) {
  if (name == "html") return true;  // html_start ran
  if (name == "font_low_contrast") return h.font_low_contrast;
  if (name == "font_invalid_color") return h.font_invalid_color;
  if (name == "font_face_bad") return h.font_face_bad;
  if (name == "embeds") return h.embeds;
  if (name == "form_action_mailto") return h.form_action_mailto;
  return false;
}

// Perl's numeric conversion of a rule argument ("0400", ".05", "inf").
double number(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

// HTMLEval's `eval "\$val $expr"` for the expressions the rules use: an operator
// (<, <=, >, >=, ==, !=) and a number; expr must match /^[\<\>\=\!\-\+ 0-9]+$/.
std::optional<bool> compare(double val, std::string_view expr) {
  for (char c : expr) {
    if (!(c == '<' || c == '>' || c == '=' || c == '!' || c == '-' || c == '+' || c == ' ' ||
          (c >= '0' && c <= '9'))) {
      return std::nullopt;
    }
  }
  while (!expr.empty() && expr.front() == ' ') expr.remove_prefix(1);
  std::string_view op;
  for (std::string_view o : {"<=", ">=", "==", "!=", "<", ">"}) {
    if (expr.substr(0, o.size()) == o) {
      op = o;
      break;
    }
  }
  if (op.empty()) return std::nullopt;
  std::string rest(expr.substr(op.size()));
  char* end = nullptr;
  double rhs = std::strtod(rest.c_str(), &end);
  if (end == rest.c_str()) return std::nullopt;
  if (op == "<=") return val <= rhs;
  if (op == ">=") return val >= rhs;
  if (op == "==") return val == rhs;
  if (op == "!=") return val != rhs;
  if (op == "<") return val < rhs;
  return val > rhs;
}

bool html_test(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 1) return false;
  for (const html_facts& h : in.text.html) {
    if (flag_result(h, args[0])) return true;
  }
  return false;
}

bool html_eval(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 2) return false;
  for (const html_facts& h : in.text.html) {
    std::optional<double> v = numeric_result(h, args[0]);
    if (!v) continue;
    std::optional<bool> r = compare(*v, args[1]);
    if (!r) return false;
    if (*r) return true;
  }
  return false;
}

bool html_range(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() < 2) return false;
  double min = number(args[1]);
  bool unbounded = args.size() < 3 || args[2] == "inf";
  double max = unbounded ? 0 : number(args[2]);
  for (const html_facts& h : in.text.html) {
    std::optional<double> v = numeric_result(h, args[0]);
    if (!v) continue;
    if (unbounded ? *v > min : (*v > min && *v <= max)) return true;
  }
  return false;
}

bool html_tag_exists(const eval_input& in, const std::vector<std::string>& args) {
  if (args.empty()) return false;
  for (const html_facts& h : in.text.html) {
    if (h.inside.contains(args[0])) return true;
  }
  return false;
}

bool html_tag_balance(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 2 || args[0].empty()) return false;
  for (char c : args[0]) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) return false;
  }
  for (const html_facts& h : in.text.html) {
    auto it = h.inside.find(args[0]);
    if (it == h.inside.end()) continue;
    std::optional<bool> r = compare(static_cast<double>(it->second), args[1]);
    if (!r) return false;
    if (*r) return true;
  }
  return false;
}

bool html_image_only(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 2) return false;
  double min = number(args[0]), max = number(args[1]);
  for (const html_facts& h : in.text.html) {
    if (h.inside.contains("img") && h.length > min && h.length <= max) return true;
  }
  return false;
}

bool html_image_ratio(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 2) return false;
  double min = number(args[0]), max = number(args[1]);
  for (const html_facts& h : in.text.html) {
    if (h.image_area == 0) continue;
    double ratio = static_cast<double>(h.non_space_len) / static_cast<double>(h.image_area);
    if (ratio > min && ratio <= max) return true;
  }
  return false;
}

const std::vector<std::string>* text_list(const html_facts& h, std::string_view name) {
  if (name == "comment") return &h.comments;
  if (name == "title") return &h.titles;
  if (name == "anchor") return &h.anchors;
  return nullptr;
}

// A rule-supplied pattern, compiled for one call (few rules use these evals).
class runtime_regex {
 public:
  explicit runtime_regex(const std::string& pattern) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0, &error,
                          &offset, nullptr);
    if (code_ != nullptr) data_ = pcre2_match_data_create_from_pattern(code_, nullptr);
  }
  ~runtime_regex() {
    pcre2_match_data_free(data_);
    pcre2_code_free(code_);
  }
  runtime_regex(const runtime_regex&) = delete;
  runtime_regex& operator=(const runtime_regex&) = delete;
  bool valid() const { return code_ != nullptr && data_ != nullptr; }
  bool match(std::string_view s) const {
    return pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, 0, data_,
                       nullptr) >= 0;
  }

 private:
  pcre2_code* code_ = nullptr;
  pcre2_match_data* data_ = nullptr;
};

// html_text_match / html_text_not_match: any string of the list (not) matching.
bool text_match(const eval_input& in, const std::vector<std::string>& args, bool want) {
  if (args.size() != 2 || in.text.html.empty()) return false;
  runtime_regex re(args[1]);
  if (!re.valid()) return false;  // SA warns and returns 0
  for (const html_facts& h : in.text.html) {
    const std::vector<std::string>* list = text_list(h, args[0]);
    if (list == nullptr) continue;
    for (const std::string& s : *list) {
      if (re.match(s) == want) return true;
    }
  }
  return false;
}

bool html_text_match(const eval_input& in, const std::vector<std::string>& args) {
  return text_match(in, args, true);
}

bool html_text_not_match(const eval_input& in, const std::vector<std::string>& args) {
  return text_match(in, args, false);
}

// html_title_subject_ratio(RATIO): a title longer than RATIO times the Subject.
bool html_title_subject_ratio(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 1) return false;
  std::string subject = in.text.header_values("Subject");
  if (subject.empty()) return false;
  double limit = number(args[0]);
  size_t subject_len = 0;  // characters, as Perl's length() on the decoded value
  for (char c : subject) subject_len += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  for (const html_facts& h : in.text.html) {
    double max = 0;
    for (const std::string& t : h.titles) {
      if (t.empty() || t == "0") continue;
      size_t len = 0;
      for (char c : t) len += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
      max = std::max(max, static_cast<double>(len) / static_cast<double>(subject_len));
    }
    if (max > limit) return true;
  }
  return false;
}

}  // namespace

const std::vector<eval_entry>& html_evals() {
  static const std::vector<eval_entry> entries = {
      {"html_test", html_test},
      {"html_eval", html_eval},
      {"html_range", html_range},
      {"html_tag_exists", html_tag_exists},
      {"html_tag_balance", html_tag_balance},
      {"html_image_only", html_image_only},
      {"html_image_ratio", html_image_ratio},
      {"html_text_match", html_text_match},
      {"html_text_not_match", html_text_not_match},
      {"html_title_subject_ratio", html_title_subject_ratio},
  };
  return entries;
}

}  // namespace ringmail::spam
