// MIMEEval.pm and HTMLEval.pm eval functions (the ones the message model can answer).
#include "absl/strings/ascii.h"
#include "spam/eval_regex.h"
#include "spam/evals.h"

namespace ringmail::spam {
namespace {

// MIMEEval _check_attachments' counts: every part's Content-Type (the root included):
// text/html counts as HTML, any other text/* as text.
void count_text_parts(const eval_input& in, int& html, int& text) {
  html = text = 0;
  for (const mail::mime_part& p : in.message.parts) {
    if (p.type.type == "text" && p.type.subtype == "html") {
      ++html;
    } else if (p.type.type == "text") {
      ++text;
    }
  }
}

bool ctype_is_html(const eval_input& in) {
  static const fixed_regex re(R"(^text/html)", PCRE2_CASELESS);
  return re.match(in.text.header_values("Content-Type"));
}

bool check_for_mime_html(const eval_input& in, const std::vector<std::string>&) {
  if (ctype_is_html(in)) return true;
  int html = 0, text = 0;
  count_text_parts(in, html, text);
  return html > 0;
}

bool check_for_mime_html_only(const eval_input& in, const std::vector<std::string>&) {
  if (ctype_is_html(in)) return true;
  int html = 0, text = 0;
  count_text_parts(in, html, text);
  return html > 0 && text == 0;
}

// HTMLEval html_test('html'): HTML.pm's html_start ran, i.e. some part was rendered as
// HTML. Other html_test tests need the HTML parser's facts and are not offered.
bool html_test(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 1) return false;
  if (args[0] == "html") return in.text.html_parts > 0;
  return false;
}

// HTMLEval html_tag_exists(TAG): a start or end tag of that name in an HTML part. We look
// for "<tag" / "</tag" followed by a delimiter in the raw text parts, which hold the HTML.
bool html_tag_exists(const eval_input& in, const std::vector<std::string>& args) {
  if (args.empty() || in.text.html_parts == 0) return false;
  std::string tag = args[0];
  for (char& c : tag) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  std::string_view raw = in.text.raw_body;
  for (size_t i = raw.find('<'); i != std::string_view::npos; i = raw.find('<', i + 1)) {
    size_t j = i + 1;
    if (j < raw.size() && raw[j] == '/') ++j;
    if (raw.size() - j < tag.size() + 1) break;
    bool same = true;
    for (size_t k = 0; k < tag.size(); ++k) {
      if (absl::ascii_tolower(static_cast<unsigned char>(raw[j + k])) != tag[k]) {
        same = false;
        break;
      }
    }
    char after = raw[j + tag.size()];
    if (same && (after == '>' || after == ' ' || after == '\t' || after == '\n' || after == '\r' || after == '/')) {
      return true;
    }
  }
  return false;
}

}  // namespace

const std::vector<eval_entry>& mime_evals() {
  static const std::vector<eval_entry> entries = {
      {"check_for_mime_html", check_for_mime_html},
      {"check_for_mime_html_only", check_for_mime_html_only},
      {"html_test", html_test},
      {"html_tag_exists", html_tag_exists},
  };
  return entries;
}

}  // namespace ringmail::spam
