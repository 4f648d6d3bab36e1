// MIMEEval.pm eval functions (HTMLEval.pm's are in eval_html.cc).
#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "spam/evals/regex.h"
#include "spam/evals/evals.h"

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

// MIMEEval _check_attachments: the per-message MIME facts check_for_mime() reads.
struct mime_facts {
  int base64_count = 0;
  int qp_count = 0;  // after the scan: QP-escaped bytes that needed no escaping
  int attachment = 0;
  bool base64_encoded_text = false;
  bool bad_iso_charset = false;
  bool qp_long_line = false;
  bool multipart_alternative = false;
  double multipart_ratio = 1.0;
  int ascii_text_illegal = 0;  // lines of us-ascii text/plain with NUL, CR or 8-bit bytes
};

// A raw line with a byte us-ascii text may not hold (m/[\x00\x0d\x80-\xff]+/). The CR
// of a CRLF line end is not counted: SA sees LF-only mail from spamc, and we scan mail
// as it came over SMTP, where every line ends in CRLF.
bool illegal_ascii_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  for (char c : line) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u >= 0x80) return true;
  }
  return false;
}

// MIMEEval _check_mime_header's ASCII charset names, as an unanchored regex does.
bool ascii_charset(std::string_view charset) {
  static const fixed_regex re(
      R"((?:us-ascii|ansi_x3\.4-1968|iso-ir-6|ansi_x3\.4-1986|iso_646\.irv:1991|ascii|iso646-us|us|ibm367|cp367|csascii))");
  return charset.empty() || re.match(charset);
}

// m/=(?:09|3[0-9ABCEF]|[2456][0-9A-F]|7[0-9A-E])/g: escapes of characters QP need not
// escape; less the trailing =09/=20 run (allowed at a line end).
int needless_qp_escapes(std::string_view line) {
  static const fixed_regex escape(R"(=(?:09|3[0-9ABCEF]|[2456][0-9A-F]|7[0-9A-E]))");
  static const fixed_regex trailing(R"(((?:=09|=20)+)\s*$)");
  int n = 0;
  fixed_regex::groups g;
  std::string_view rest = line;
  while (escape.match(rest, g)) {
    ++n;
    rest.remove_prefix(g.end);
  }
  if (n > 0 && trailing.match(line, g)) n -= static_cast<int>(g.g[1].size() / 3);
  return n;
}

mime_facts check_attachments(const eval_input& in) {
  static const fixed_regex bad_iso(R"(iso-\S+-\S+\b)", PCRE2_CASELESS);
  static const fixed_regex good_iso(R"(iso-(?:8859-\d{1,2}|2022-(?:jp|kr))\b)");
  mime_facts f;
  std::vector<std::pair<std::string, std::optional<size_t>>> leaves;  // type, text bytes
  size_t qp_bytes = 0;
  int qp_needless = 0;
  for (const mail::mime_part& p : in.message.parts) {
    std::string ctype = p.type.type + "/" + p.type.subtype;
    std::string charset = std::string(p.type.charset());
    for (char& c : charset) c = absl::ascii_tolower(static_cast<unsigned char>(c));
    const std::string& cte = p.transfer_encoding;
    const std::string& cd = p.disposition;
    if (ctype == "multipart/alternative") f.multipart_alternative = true;
    // _check_mime_header
    if (cte.find("base64") != std::string::npos) {
      ++f.base64_count;
    } else if (cte.find("quoted-printable") != std::string::npos) {
      ++f.qp_count;
    }
    if (cd.find("attachment") != std::string::npos) ++f.attachment;
    if (p.type.type == "text" && cte.find("base64") != std::string::npos && ascii_charset(charset) &&
        cd.rfind("attachment", 0) != 0 && cd.rfind("inline", 0) != 0) {
      f.base64_encoded_text = true;
    }
    if (bad_iso.match(charset) && !good_iso.match(charset)) f.bad_iso_charset = true;
    if (!p.children.empty()) continue;
    // the leaf's raw (encoded) lines
    std::optional<size_t> bytes;
    if (cd.find("attachment") == std::string::npos) bytes = 0;
    bool counted = f.multipart_alternative && cd.find("attachment") == std::string::npos &&
                   (ctype == "text/plain" || ctype == "text/html");
    if (counted) *bytes += p.body.size();
    if (ctype == "text/plain" && (charset.empty() || charset == "us-ascii")) {
      std::string_view body = p.body;
      while (!body.empty()) {
        size_t nl = body.find('\n');
        if (illegal_ascii_line(body.substr(0, nl))) ++f.ascii_text_illegal;
        body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
      }
    }
    if (cte == "quoted-printable") {
      std::string_view body = p.body;
      while (!body.empty()) {
        size_t nl = body.find('\n');
        std::string_view line = body.substr(0, nl);
        body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
        if (line.substr(0, 6) == "SPAM: ") continue;
        size_t len = line.size();
        if (len > 0 && line.back() == '\r') --len;
        if (len + 1 > 78 + 1) f.qp_long_line = true;  // length includes the "\n"
        qp_bytes += line.size() + 1;
        if (line.find('=') != std::string_view::npos) qp_needless += needless_qp_escapes(line);
      }
    }
    leaves.emplace_back(ctype, bytes);
  }
  if (qp_bytes > 0) f.qp_count = qp_needless;
  if (f.multipart_alternative) {
    // bug 4207: the sizes of the last text/html and text/plain parts
    std::optional<size_t> text, html;
    for (auto it = leaves.rbegin(); it != leaves.rend(); ++it) {
      if (!it->second) continue;
      if (!html && it->first == "text/html") {
        html = it->second;
      } else if (!text && it->first == "text/plain") {
        text = it->second;
      }
      if (html && text) break;
    }
    if (text && html && *html > 0) f.multipart_ratio = static_cast<double>(*text) / *html;
  }
  return f;
}

// check_for_mime(TEST): the flag or count _check_attachments left in $pms->{TEST}.
bool check_for_mime(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 1) return false;
  mime_facts f = check_attachments(in);
  const std::string& t = args[0];
  if (t == "mime_base64_count") return f.base64_count > 0;
  if (t == "mime_qp_count") return f.qp_count > 0;
  if (t == "mime_attachment") return f.attachment > 0;
  if (t == "mime_base64_encoded_text") return f.base64_encoded_text;
  if (t == "mime_bad_iso_charset") return f.bad_iso_charset;
  if (t == "mime_qp_long_line") return f.qp_long_line;
  if (t == "mime_multipart_alternative") return f.multipart_alternative;
  return false;
}

// check_for_ascii_text_illegal: us-ascii (or unlabelled) text/plain with 8-bit bytes.
bool check_for_ascii_text_illegal(const eval_input& in, const std::vector<std::string>&) {
  return check_attachments(in).ascii_text_illegal > 0;
}

// check_mime_multipart_ratio(MIN, MAX): text/plain bytes over text/html bytes of a
// multipart/alternative message, MIN <= ratio < MAX.
bool check_mime_multipart_ratio(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 2) return false;
  mime_facts f = check_attachments(in);
  double min = std::strtod(args[0].c_str(), nullptr), max = std::strtod(args[1].c_str(), nullptr);
  return f.multipart_ratio >= min && f.multipart_ratio < max;
}

// BodyEval _multipart_alternative_difference: for each multipart/alternative, the
// share (percent) of the HTML parts' distinct words that the text parts lack (a word
// is kept when the text has it at least as often), the largest over the message; and
// the word counts of the last alternative with HTML words.
struct alternative_difference {
  double madiff = 0;
  size_t html_words = 0, text_words = 0;
};

// split(/\s+/, $rnd) keeping the tokens with a \w (non-ASCII counts as a letter).
void count_words(std::string_view text, absl::flat_hash_map<std::string, int>& words) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && absl::ascii_isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t j = i;
    bool word = false;
    while (j < text.size() && !absl::ascii_isspace(static_cast<unsigned char>(text[j]))) {
      unsigned char c = static_cast<unsigned char>(text[j]);
      word = word || c >= 0x80 || absl::ascii_isalnum(c) || c == '_';
      ++j;
    }
    if (word) ++words[std::string(text.substr(i, j - i))];
    i = j;
  }
}

bool descends_from(const mail::message& m, size_t part, size_t ancestor) {
  for (uint32_t p = m.parts[part].parent; p != mail::no_part; p = m.parts[p].parent) {
    if (p == ancestor) return true;
  }
  return false;
}

alternative_difference multipart_difference(const eval_input& in) {
  alternative_difference out;
  const mail::message& m = in.message;
  // Exchange meeting requests (m/a of text/html and text/calendar) are skipped.
  const mail::mime_part& root = m.parts[0];
  if (root.type.type == "multipart" && root.type.subtype == "alternative" && root.children.size() == 2 &&
      m.parts[root.children[0]].children.empty() && m.parts[root.children[1]].children.empty() &&
      m.parts[root.children[0]].type.subtype == "html" && m.parts[root.children[1]].type.subtype == "calendar") {
    return out;
  }
  for (size_t a = 0; a < m.parts.size(); ++a) {
    const mail::content_type& t = m.parts[a].type;
    if (t.type != "multipart" || t.subtype != "alternative") continue;
    absl::flat_hash_map<std::string, int> html, text;
    for (const mail::message_text::rendered_part& r : in.text.rendered_parts) {
      if (r.part >= m.parts.size() || m.parts[r.part].type.type != "text" || !descends_from(m, r.part, a)) continue;
      if (r.html) {
        count_words(r.text, html);
        if (html.empty() && r.has_img) html["\n"] = 1;  // an image, no words
      } else {
        count_words(r.text, text);
      }
    }
    size_t orig = html.size();
    if (orig == 0) continue;
    out.html_words = orig;
    out.text_words = text.size();
    for (const auto& [word, n] : text) {
      auto it = html.find(word);
      if (it != html.end() && it->second - n < 1) html.erase(it);
    }
    double diff = static_cast<double>(html.size()) / orig * 100;
    if (diff > out.madiff) out.madiff = diff;
  }
  return out;
}

// multipart_alternative_difference(MIN, MAX): MIN < madiff <= MAX (MIN 0: any).
bool multipart_alternative_difference(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 2) return false;
  double min = std::strtod(args[0].c_str(), nullptr);
  double madiff = multipart_difference(in).madiff;
  return (min == 0 || madiff > min) && (args[1] == "undef" || madiff <= std::strtod(args[1].c_str(), nullptr));
}

// multipart_alternative_difference_count(RATIO, MINHTML): more than MINHTML HTML words
// and text words / HTML words above RATIO.
bool multipart_alternative_difference_count(const eval_input& in, const std::vector<std::string>& args) {
  if (args.size() != 2) return false;
  alternative_difference d = multipart_difference(in);
  if (!(static_cast<double>(d.html_words) > std::strtod(args[1].c_str(), nullptr))) return false;
  return static_cast<double>(d.text_words) / d.html_words > std::strtod(args[0].c_str(), nullptr);
}

}  // namespace

const std::vector<eval_entry>& mime_evals() {
  static const std::vector<eval_entry> entries = {
      {"check_for_mime_html", check_for_mime_html},
      {"check_for_mime_html_only", check_for_mime_html_only},
      {"check_for_mime", check_for_mime},
      {"check_mime_multipart_ratio", check_mime_multipart_ratio},
      {"check_for_ascii_text_illegal", check_for_ascii_text_illegal},
      {"multipart_alternative_difference", multipart_alternative_difference},
      {"multipart_alternative_difference_count", multipart_alternative_difference_count},
  };
  return entries;
}

}  // namespace ringmail::spam
