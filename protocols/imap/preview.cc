#include "protocols/imap/preview.h"

#include <cctype>

#include "mail/html_text.h"

namespace ringmail::imap {
namespace {

bool text_leaf(const mail::mime_part& p) {
  return p.children.empty() && !p.type.is_multipart() && !p.is_attachment() &&
         (p.type.is("text", "plain") || p.type.is("text", "html"));
}

// The part the preview is taken from, or nullptr.
const mail::mime_part* preview_part(const mail::message& m) {
  for (const mail::mime_part& p : m.parts) {
    if (!text_leaf(p)) continue;
    if (p.type.is("text", "html") && p.parent != mail::no_part) {
      const mail::mime_part& parent = m.parts[p.parent];
      if (parent.type.is("multipart", "alternative")) {
        for (uint32_t child : parent.children) {
          if (m.parts[child].type.is("text", "plain") && text_leaf(m.parts[child])) return &m.parts[child];
        }
      }
    }
    return &p;
  }
  return nullptr;
}

// Plain text without the lines that quote an earlier message.
std::string drop_quoted_lines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line[0] == '>') continue;
    out.append(line);
    out.push_back('\n');
  }
  return out;
}

// Length of the UTF-8 sequence starting with byte `b` (1 for a stray continuation byte,
// which repair_utf8 has already replaced anyway).
size_t sequence_length(unsigned char b) {
  if (b >= 0xf0) return 4;
  if (b >= 0xe0) return 3;
  if (b >= 0xc0) return 2;
  return 1;
}

// HTML without the content of its <iframe> elements: a mail client shows no frame (and
// never its fallback markup, often a <script> that the SpamAssassin-style renderer,
// which reads an iframe's content as text, would otherwise put into the preview).
std::string drop_iframes(std::string_view html) {
  auto find_ci = [&](std::string_view needle, size_t from) {
    for (size_t i = from; i + needle.size() <= html.size(); ++i) {
      size_t j = 0;
      while (j < needle.size() && std::tolower(static_cast<unsigned char>(html[i + j])) == needle[j]) ++j;
      if (j == needle.size()) return i;
    }
    return std::string_view::npos;
  };
  std::string out;
  size_t pos = 0;
  for (;;) {
    const size_t open = find_ci("<iframe", pos);
    if (open == std::string_view::npos) break;
    const size_t close = find_ci("</iframe", open + 7);
    out.append(html.substr(pos, open - pos));
    if (close == std::string_view::npos) return out;  // unclosed: the rest is the frame's
    const size_t end = html.find('>', close);
    pos = end == std::string_view::npos ? html.size() : end + 1;
  }
  out.append(html.substr(pos));
  return out;
}

}  // namespace

std::string collapse_and_cut(std::string_view utf8, size_t max_chars) {
  std::string out;
  size_t chars = 0;
  bool space = false;  // a whitespace run is pending (emitted before the next character)
  for (size_t i = 0; i < utf8.size() && chars < max_chars;) {
    const auto b = static_cast<unsigned char>(utf8[i]);
    if (b == ' ' || b == '\t' || b == '\r' || b == '\n' || b == '\f' || b == '\v') {
      space = true;
      ++i;
      continue;
    }
    if (b == 0xc2 && i + 1 < utf8.size() && static_cast<unsigned char>(utf8[i + 1]) == 0xa0) {  // U+00A0
      space = true;
      i += 2;
      continue;
    }
    if (b < 0x20 || b == 0x7f) {
      space = true;  // other control characters say nothing in a preview: a separator
      ++i;
      continue;
    }
    const size_t n = std::min(sequence_length(b), utf8.size() - i);
    if (space && !out.empty()) {
      out.push_back(' ');
      if (++chars == max_chars) break;
    }
    space = false;
    out.append(utf8.substr(i, n));
    ++chars;
    i += n;
  }
  // A space that reached the limit is trailing whitespace: drop it.
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string make_preview(const mail::message& m, mail::charset_converter& charsets) {
  const mail::mime_part* p = preview_part(m);
  if (p == nullptr) return {};
  std::string decoded = mail::decode_body(*p, kPreviewMaxInputBytes);
  std::string utf8;
  charsets.to_utf8(decoded, p->type.charset(), utf8);
  std::string text;
  if (p->type.is("text", "html")) {
    text = mail::render_html(drop_iframes(utf8), 0).text;
  } else {
    text = drop_quoted_lines(utf8);
  }
  std::string safe;
  mail::repair_utf8(text, safe);
  return collapse_and_cut(safe, kPreviewMaxChars);
}

}  // namespace ringmail::imap
