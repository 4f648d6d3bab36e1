// The text views of a message, as SpamAssassin 4.0's Message.pm / Message/Node.pm build
// them for its rule types (see message_text.h). Where this file follows SA's code rather
// than a standard, the SA function is named.
#include "mail/message_text.h"

#include "absl/container/flat_hash_set.h"
#include "mail/encoding.h"
#include "mail/html_text.h"
#include "mail/limits.h"
#include "mail/uri_extract.h"

namespace ringmail::mail {
namespace {

enum class text_kind { none, plain, html };

bool ends_with_ignore_case(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         equals_ignore_case(s.substr(s.size() - suffix.size()), suffix);
}

// SA Node::rendered renders text/plain and text/html only (after the mapping below);
// Node::effective_type takes a part named *.htm(l)/*.shtml for HTML whatever its type.
// SA's _parse_normal turns a multipart without boundary into text/plain, and a multipart
// whose boundary never occurs keeps its whole body as one part; a childless multipart
// stands for both here, unless the depth limit cut it (its body is then opaque).
text_kind kind_of(const mime_part& part) {
  if (ends_with_ignore_case(part.filename, ".html") ||
      ends_with_ignore_case(part.filename, ".htm") ||
      ends_with_ignore_case(part.filename, ".shtml")) {
    return text_kind::html;
  }
  const content_type& t = part.type;
  if (t.type == "text") {
    // SA Util::parse_content_type (bug 5399): every text/* but vCards and calendars is
    // text/plain to SA (text/enriched, text/rfc822-headers, text/x-whatever ...).
    if (t.subtype == "html") return text_kind::html;
    if (t.subtype == "x-vcard" || t.subtype == "calendar") return text_kind::none;
    return text_kind::plain;
  }
  if (t.is_multipart() && part.children.empty() && part.depth < max_mime_depth) {
    return text_kind::plain;
  }
  return text_kind::none;
}

// SA Node::decode turns CRLF into LF for decoded text; rawbody lines end in '\n'.
std::string crlf_to_lf(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') continue;
    out.push_back(in[i]);
  }
  return out;
}

// Length of the whitespace character at s[i] (Perl's \s on a character string: ASCII
// \t\n\v\f\r and space, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
// U+205F, U+3000), or 0.
size_t space_at(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  switch (b(0)) {
    case ' ': case '\t': case '\n': case '\v': case '\f': case '\r':
      return 1;
    case 0xC2:
      return i + 1 < s.size() && (b(1) == 0x85 || b(1) == 0xA0) ? 2 : 0;
    case 0xE1:
      return i + 2 < s.size() && b(1) == 0x9A && b(2) == 0x80 ? 3 : 0;
    case 0xE2:
      if (i + 2 >= s.size()) return 0;
      if (b(1) == 0x80 && ((b(2) >= 0x80 && b(2) <= 0x8A) || b(2) == 0xA8 || b(2) == 0xA9 ||
                           b(2) == 0xAF)) {
        return 3;
      }
      return b(1) == 0x81 && b(2) == 0x9F ? 3 : 0;
    case 0xE3:
      return i + 2 < s.size() && b(1) == 0x80 && b(2) == 0x80 ? 3 : 0;
    default:
      return 0;
  }
}

// SA Message::get_body_text_array_common, "whitespace handling":
//   s/\n+\s*\n+/\x00/gs;  s/\s+/ /gs;  tr/\x00/\n/;
// i.e. in each run of whitespace, the stretch from its first to its last newline (when
// there are two or more) becomes one newline - a paragraph break - and every other run
// becomes one space. One pass; a NUL in the text turns into a newline as in SA.
void append_paragraphs(std::string_view text, std::string& out) {
  size_t i = 0;
  while (i < text.size()) {
    size_t len = space_at(text, i);
    if (len == 0) {
      out.push_back(text[i] == '\0' ? '\n' : text[i]);
      ++i;
      continue;
    }
    size_t run_start = i, first_nl = std::string_view::npos, last_nl = 0, newlines = 0;
    while (i < text.size() && (len = space_at(text, i)) != 0) {
      if (text[i] == '\n') {
        if (newlines++ == 0) first_nl = i;
        last_nl = i;
      }
      i += len;
    }
    if (newlines < 2) {
      out.push_back(' ');
      continue;
    }
    if (first_nl > run_start) out.push_back(' ');
    out.push_back('\n');
    if (last_nl + 1 < i) out.push_back(' ');
  }
}

// SA Node::_normalize, in the order it tries: 8-bit text that is valid UTF-8 is UTF-8
// whatever the label says; 8-bit text labelled US-ASCII (or not labelled) is read as
// Windows-1252, SA's last resort; otherwise the declared charset (ISO-8859-1 meaning
// Windows-1252 is charset.h's business).
std::string text_to_utf8(std::string_view bytes, std::string_view charset,
                         charset_converter& charsets) {
  bool eight_bit = false;
  for (char c : bytes) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      eight_bit = true;
      break;
    }
  }
  if (!eight_bit) return charsets.to_utf8(bytes, charset);
  if (is_valid_utf8(bytes)) return std::string(bytes);
  if (charset.empty() || equals_ignore_case(charset, "us-ascii") ||
      equals_ignore_case(charset, "ascii")) {
    return charsets.to_utf8(bytes, "windows-1252");
  }
  return charsets.to_utf8(bytes, charset);
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
void cut_utf8(std::string& s, size_t max) {
  if (s.size() <= max) return;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
}

class text_renderer {
 public:
  text_renderer(const message& msg, charset_converter& charsets)
      : msg_(msg), charsets_(charsets) {}

  message_text render() {
    out_.full = msg_.bytes;
    out_.truncated = msg_.truncated;
    collect_headers();

    // SA takes the last Subject (Node::header in scalar context), "\n" when there is none.
    std::string subject;
    for (const text_header& h : out_.headers) {
      if (equals_ignore_case(h.name, "Subject")) subject = h.decoded;
    }
    add_uris_from_text(subject);

    // SA joins the rendered leaves with "\n", one for every leaf, rendered or not.
    std::string text;
    for (const mime_part& part : msg_.parts) {
      if (!part.children.empty()) continue;
      if (!text.empty() && text.size() < max_rendered_text_bytes) text.push_back('\n');
      if (part.is_attachment()) ++out_.attachments;
      // Attachments are rendered too, as SA does: spam hides its text in an attached
      // page.htm, and SA's body rules and scores were tuned on that.
      text_kind kind = kind_of(part);
      bool raw = kind != text_kind::none || in_raw_body(part);
      if (!raw) continue;
      decode_stats stats;
      std::string decoded = crlf_to_lf(decode_body(part, max_text_part_bytes, &stats));
      out_.broken_encodings += stats.invalid;
      if (decoded.size() >= max_text_part_bytes) out_.truncated = true;
      append_raw(decoded);
      if (kind != text_kind::none) render_part(part, kind, decoded, text);
    }

    out_.body = subject;
    out_.body.push_back('\n');
    append_paragraphs(text, out_.body);
    return std::move(out_);
  }

 private:
  void collect_headers() {
    for (const header_field& f : msg_.headers().fields) {
      out_.headers.push_back({f.name, f.value, decoded_value(f, charsets_)});
    }
    for (size_t i = 1; i < msg_.parts.size(); ++i) {
      for (const header_field& f : msg_.parts[i].headers.fields) {
        out_.mime_headers.push_back({f.name, f.value, decoded_value(f, charsets_)});
      }
    }
  }

  // SA Message::get_decoded_body_text_array (rawbody): every text/* and message/* leaf
  // but text/calendar (bug 4843), whether SA renders it or not.
  static bool in_raw_body(const mime_part& part) {
    const content_type& t = part.type;
    return (t.type == "text" && t.subtype != "calendar") || t.type == "message";
  }

  void render_part(const mime_part& part, text_kind kind, std::string_view decoded,
                   std::string& text) {
    std::string utf8 = text_to_utf8(decoded, part.type.charset(), charsets_);
    std::string rendered;
    if (kind == text_kind::html) {
      ++out_.html_parts;
      html_render html = render_html(utf8, max_uris);
      out_.html_tags += html.tags;
      out_.html_images += html.images;
      for (std::string& uri : html.uris) add_uri(std::move(uri));
      bool has_img = html.facts.inside.contains("img");
      out_.html.push_back(std::move(html.facts));
      rendered = std::move(html.text);
      keep_rendered(part, true, has_img, rendered);
    } else {
      ++out_.text_parts;
      rendered = std::move(utf8);
      keep_rendered(part, false, false, rendered);
    }
    add_uris_from_text(rendered);

    if (text.size() >= max_rendered_text_bytes) {
      out_.truncated = true;
      return;
    }
    if (text.size() + rendered.size() > max_rendered_text_bytes) {
      cut_utf8(rendered, max_rendered_text_bytes - text.size());
      out_.truncated = true;
    }
    text += rendered;
  }

  void keep_rendered(const mime_part& part, bool html, bool has_img, std::string_view rendered) {
    if (kept_rendered_bytes_ >= max_rendered_text_bytes) return;
    rendered = rendered.substr(0, max_rendered_text_bytes - kept_rendered_bytes_);
    kept_rendered_bytes_ += rendered.size();
    out_.rendered_parts.push_back(
        {static_cast<size_t>(&part - msg_.parts.data()), html, has_img, std::string(rendered)});
  }

  void append_raw(std::string_view decoded) {
    std::string& raw = out_.raw_body;
    if (raw.size() >= max_rendered_text_bytes) {
      out_.truncated = true;
      return;
    }
    if (!raw.empty() && raw.back() != '\n') raw.push_back('\n');
    size_t room = max_rendered_text_bytes - raw.size();
    if (decoded.size() > room) {
      decoded = decoded.substr(0, room);
      out_.truncated = true;
    }
    raw.append(decoded);
  }

  void add_uris_from_text(std::string_view text) {
    if (out_.uris.size() >= max_uris) return;
    std::vector<std::string> found;
    extract_uris(text, found, max_uris);
    for (std::string& uri : found) add_uri(std::move(uri));
  }

  void add_uri(std::string uri) {
    if (out_.uris.size() >= max_uris || uri.empty()) return;
    if (seen_uris_.insert(uri).second) out_.uris.push_back(std::move(uri));
  }

  const message& msg_;
  charset_converter& charsets_;
  message_text out_;
  absl::flat_hash_set<std::string> seen_uris_;
  size_t kept_rendered_bytes_ = 0;
};

}  // namespace

message_text render_text(const message& msg, charset_converter& charsets) {
  return text_renderer(msg, charsets).render();
}

std::string message_text::header_values(std::string_view name) const {
  std::string values;
  for (const text_header& h : headers) {
    if (equals_ignore_case(h.name, name)) {
      values += h.decoded;
      values.push_back('\n');
    }
  }
  return values;
}

bool message_text::has_header(std::string_view name) const {
  for (const text_header& h : headers) {
    if (equals_ignore_case(h.name, name)) return true;
  }
  return false;
}

}  // namespace ringmail::mail
