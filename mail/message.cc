// The MIME tree (see message.h).
//
// One forward pass over the lines of the message with an explicit stack of the parts that
// are open at the current line (the root, a multipart, its current child, ...), so hostile
// nesting costs heap, never C++ stack, and no line is looked at more than twice:
//   - a part starts in its header block; at the empty line (for a multipart's child also
//     at the first line that is no header field, as SpamAssassin reads it) the block is
//     parsed and the part becomes a multipart (its boundary is pushed), an enclosed
//     message (its child part starts at once, RFC 2046 5.2.1) or a leaf;
//   - a line that starts with "--" is compared with the boundaries of the open multiparts
//     (at most max_mime_depth of them, each comparison bounded by the line length), and
//     one that matches ends every part above that multipart.
// RFC 2046 5.1.1: the CRLF before a boundary line belongs to the boundary; the preamble
// and epilogue are not parts. Where the close delimiter of an inner multipart is missing,
// an enclosing boundary ends it, as Thunderbird and Dovecot do (counted in
// `missing_boundaries`).
#include "mail/message.h"

#include <cstring>

#include "mail/encoding.h"
#include "mail/limits.h"
#include "mail/rfc2047.h"

namespace ringmail::mail {
namespace {

enum class frame_kind {
  headers,    // in the part's header block
  leaf,       // in a body that is not parsed further
  multipart,  // in a multipart body: preamble, between children or epilogue
  enclosing,  // a message/rfc822 whose child part is open above it
};

struct frame {
  uint32_t part = 0;
  size_t start = 0;  // offset of the part's header block
  frame_kind kind = frame_kind::headers;
  size_t body_start = 0;
  std::string boundary;  // multipart only
  bool closed = false;   // the close delimiter was seen: the rest is epilogue
  bool in_multipart = false;  // a multipart's child: SA's part header rules apply
  bool seen_field = false;    // a header field was seen (continuations may follow)
};

enum class boundary_match { none, delimiter, close };

bool is_boundary_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// RFC 2046 5.1.1: "--" boundary, optionally "--" (close), then only whitespace; under
// boundary_rule::rfc2046 anything may follow (`exact` tells whether only whitespace did).
boundary_match match_boundary(std::string_view line, std::string_view boundary,
                              boundary_rule rule, bool* exact = nullptr) {
  if (line.size() < 2 + boundary.size() ||
      std::memcmp(line.data() + 2, boundary.data(), boundary.size()) != 0) {
    return boundary_match::none;
  }
  std::string_view rest = line.substr(2 + boundary.size());
  boundary_match kind = boundary_match::delimiter;
  if (rest.size() >= 2 && rest[0] == '-' && rest[1] == '-') {
    kind = boundary_match::close;
    rest.remove_prefix(2);
  }
  bool only_space = true;
  for (char c : rest) {
    if (!is_boundary_space(c)) {
      only_space = false;
      break;
    }
  }
  if (exact) *exact = only_space;
  if (!only_space && rule == boundary_rule::spamassassin) return boundary_match::none;
  return kind;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string trimmed_lower(std::string_view s) {
  std::string out(trimmed(s));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A field given twice (broken, but it happens) counts as the last one, as SA
// (Util::parse_content_type: "MUAs seem to take the last one") and Node::header do.
const header_field* last_field(const header_block& h, std::string_view name) {
  for (size_t i = h.fields.size(); i-- > 0;) {
    if (equals_ignore_case(h.fields[i].name, name)) return &h.fields[i];
  }
  return nullptr;
}

class tree_builder {
 public:
  tree_builder(std::string_view bytes, charset_converter& charsets, boundary_rule rule)
      : bytes_(bytes), charsets_(charsets), rule_(rule) {
    msg_.bytes = bytes;
  }

  message build() {
    open_part(0, no_part);
    size_t pos = 0;
    while (pos < bytes_.size()) {
      // Nothing left that a line could end or start: skip the rest at once.
      if (open_multiparts_ == 0 && stack_.back().kind != frame_kind::headers) break;
      const void* nl = std::memchr(bytes_.data() + pos, '\n', bytes_.size() - pos);
      size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - bytes_.data())
                      : bytes_.size();
      size_t next = nl ? end + 1 : end;
      size_t content_end = end;
      if (content_end > pos && bytes_[content_end - 1] == '\r') --content_end;
      std::string_view line = bytes_.substr(pos, content_end - pos);
      if (at_boundary(line, pos, next)) {
        pos = next;
        continue;
      }
      frame& top = stack_.back();
      if (top.kind == frame_kind::headers) {
        if (line.empty()) {
          end_headers(top, next);
        } else if (top.in_multipart && !continues_part_header(top, line)) {
          // The body starts at this line; look at it again as the part's first body
          // line (it may be the first boundary of a multipart that starts here).
          end_headers(top, pos);
          continue;
        }
      }
      pos = next;
    }
    while (!stack_.empty()) close_top(bytes_.size());
    return std::move(msg_);
  }

 private:
  // Handles `line` if it is a boundary of an open multipart.
  bool at_boundary(std::string_view line, size_t line_start, size_t next) {
    if (open_multiparts_ == 0 || line.size() < 2 || line[0] != '-' || line[1] != '-' ||
        next - line_start > max_boundary_line_bytes) {
      return false;
    }
    // Innermost first; under rfc2046 the longest boundary that is a prefix of the line,
    // an exact match at once (Dovecot's boundary_find).
    size_t best = stack_.size();
    boundary_match m = boundary_match::none;
    for (size_t i = stack_.size(); i-- > 0;) {
      frame& f = stack_[i];
      if (f.kind != frame_kind::multipart || f.closed) continue;
      bool exact = false;
      boundary_match candidate = match_boundary(line, f.boundary, rule_, &exact);
      if (candidate == boundary_match::none) continue;
      if (best == stack_.size() || f.boundary.size() > stack_[best].boundary.size()) {
        best = i;
        m = candidate;
      }
      if (exact) break;
    }
    if (best != stack_.size()) {
      size_t i = best;
      // The line break before the boundary line is the boundary's (RFC 2046 5.1.1).
      size_t part_end = line_start;
      if (part_end > stack_.back().start && bytes_[part_end - 1] == '\n') {
        --part_end;
        if (part_end > stack_.back().start && bytes_[part_end - 1] == '\r') --part_end;
      }
      while (stack_.size() > i + 1) close_top(part_end);
      frame& multipart = stack_.back();
      if (m == boundary_match::close) {
        multipart.closed = true;
        --open_multiparts_;
      } else if (msg_.parts.size() >= max_mime_parts) {
        msg_.truncated = true;  // further parts stay opaque inside this multipart
      } else {
        open_part(next, multipart.part);
      }
      return true;
    }
    return false;
  }

  // SA Message::_parse_multipart: in the header block of a part inside a multipart, a
  // line that is neither a field ("name:" with ftext names, WSP allowed before the colon)
  // nor the continuation of one is the first body line, the separator being missing.
  // (Top-level header blocks skip such lines instead: see header.h.)
  static bool continues_part_header(frame& f, std::string_view line) {
    if (line[0] == ' ' || line[0] == '\t') return f.seen_field;
    size_t i = 0;
    while (i < line.size() && line[i] >= 0x21 && line[i] <= 0x7E && line[i] != ':') ++i;
    if (i == 0) return false;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size() || line[i] != ':') return false;
    f.seen_field = true;
    return true;
  }

  void open_part(size_t start, uint32_t parent) {
    auto index = static_cast<uint32_t>(msg_.parts.size());
    mime_part& part = msg_.parts.emplace_back();
    part.parent = parent;
    if (parent != no_part) {
      msg_.parts[parent].children.push_back(index);
      part.depth = msg_.parts[parent].depth + 1;
    }
    frame& f = stack_.emplace_back();
    f.part = index;
    f.start = start;
    f.in_multipart = parent != no_part && msg_.parts[parent].type.is_multipart();
  }

  // The header block of the top part ends before `body_start`: parse it and decide what
  // the body is.
  void end_headers(frame& f, size_t body_start) {
    f.body_start = body_start;
    std::string_view block = bytes_.substr(f.start, body_start - f.start);
    mime_part& part = msg_.parts[f.part];
    part.headers = parse_header_block(block);
    if (part.headers.truncated) msg_.truncated = true;
    describe(part);

    bool can_nest = part.depth < max_mime_depth && msg_.parts.size() < max_mime_parts;
    std::string boundary = part.type.is_multipart() ? part.type.boundary() : std::string();
    bool encoded = part.transfer_encoding == "base64" ||
                   part.transfer_encoding == "quoted-printable";
    bool encloses = part.type.type == "message" &&
                    (part.type.subtype == "rfc822" || part.type.subtype == "global") &&
                    !encoded;
    if (!boundary.empty() && 2 + boundary.size() <= max_boundary_line_bytes) {
      if (!can_nest) {
        msg_.truncated = true;
        f.kind = frame_kind::leaf;
        return;
      }
      f.kind = frame_kind::multipart;
      f.boundary = std::move(boundary);
      ++open_multiparts_;
    } else if (encloses) {
      if (!can_nest) {
        msg_.truncated = true;
        f.kind = frame_kind::leaf;
        return;
      }
      f.kind = frame_kind::enclosing;
      uint32_t parent = f.part;
      open_part(body_start, parent);  // invalidates `f`
    } else {
      f.kind = frame_kind::leaf;
    }
  }

  // Content-Type (with the multipart/digest default, RFC 2046 5.1.5), transfer encoding,
  // disposition and file name.
  void describe(mime_part& part) {
    const header_block& h = part.headers;
    bool in_digest = part.parent != no_part && msg_.parts[part.parent].type.is("multipart", "digest");
    std::string_view default_type = in_digest ? "message/rfc822" : "text/plain";
    const header_field* ct = last_field(h, "Content-Type");
    part.type = parse_content_type(ct ? unfold(ct->value) : std::string(), charsets_, default_type);
    if (const header_field* te = last_field(h, "Content-Transfer-Encoding")) {
      part.transfer_encoding = trimmed_lower(unfold(te->value));
    }
    if (const header_field* cd = last_field(h, "Content-Disposition")) {
      parameterized_value disposition = parse_parameterized(unfold(cd->value), charsets_);
      part.disposition = disposition.value;
      if (const std::string* name = disposition.param("filename")) part.filename = *name;
    }
    if (part.filename.empty()) {
      if (const std::string* name = part.type.raw.param("name")) part.filename = *name;
    }
  }

  // Ends the top part at `end` (exclusive).
  void close_top(size_t end) {
    frame& f = stack_.back();
    if (f.kind == frame_kind::headers) end_headers_at_end(f, end);
    frame& top = stack_.back();  // end_headers never pushes for a header-only part
    mime_part& part = msg_.parts[top.part];
    if (end < top.start) end = top.start;
    part.bytes = bytes_.substr(top.start, end - top.start);
    size_t body_start = top.body_start < end ? top.body_start : end;
    if (body_start < top.start) body_start = top.start;
    part.body = bytes_.substr(body_start, end - body_start);
    if (top.kind == frame_kind::multipart && !top.closed) {
      ++msg_.missing_boundaries;
      --open_multiparts_;
    }
    stack_.pop_back();
  }

  // A part whose header block never reached an empty line (the part or the message ended
  // first): all of it is header, the body is empty.
  void end_headers_at_end(frame& f, size_t end) {
    if (end < f.start) end = f.start;
    mime_part& part = msg_.parts[f.part];
    part.headers = parse_header_block(bytes_.substr(f.start, end - f.start));
    if (part.headers.truncated) msg_.truncated = true;
    describe(part);
    f.body_start = end;
    f.kind = frame_kind::leaf;
  }

  std::string_view bytes_;
  charset_converter& charsets_;
  boundary_rule rule_;
  message msg_;
  std::vector<frame> stack_;  // at most max_mime_depth + 1 frames
  size_t open_multiparts_ = 0;  // multipart frames on the stack that are not closed
};

}  // namespace

message parse_message(std::string_view bytes, charset_converter& charsets,
                      const parse_options& options) {
  return tree_builder(bytes, charsets, options.boundaries).build();
}

std::string decode_body(const mime_part& part, size_t max_bytes, decode_stats* stats) {
  std::string out;
  if (part.transfer_encoding == "base64") {
    decode_base64(part.body, out, stats, max_bytes);
  } else if (part.transfer_encoding == "quoted-printable") {
    decode_quoted_printable(part.body, out, stats, false, max_bytes);
  } else {
    // 7bit, 8bit, binary and unknown encodings (x-uuencode ...) as they are.
    out.assign(part.body.substr(0, max_bytes));
  }
  return out;
}

namespace {

// SpamAssassin (Message/Node.pm _decode_header, bugs 6945 and 7249) leaves encoded-word
// look-alikes alone in fields whose syntax has no place for them.
bool keeps_encoded_words(std::string_view name) {
  static constexpr std::string_view exact[] = {
      "Received", "Message-ID", "Resent-Message-ID", "Date", "Resent-Date",
      "MIME-Version", "References", "In-Reply-To"};
  for (std::string_view n : exact) {
    if (equals_ignore_case(name, n)) return true;
  }
  return name.size() >= 5 && equals_ignore_case(name.substr(0, 5), "List-");
}

}  // namespace

std::string decoded_value(const header_field& field, charset_converter& charsets) {
  // As SpamAssassin's Node::header: a fold (line break and the WSP after it) becomes one
  // space, and the value is trimmed.
  std::string unfolded;
  std::string_view raw = field.value;
  unfolded.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\n' || (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n')) {
      if (c == '\r') ++i;
      while (i + 1 < raw.size() && (raw[i + 1] == ' ' || raw[i + 1] == '\t')) ++i;
      unfolded.push_back(' ');
      continue;
    }
    unfolded.push_back(c);
  }
  std::string_view value = trimmed(unfolded);
  // SA _decode_header: raw 8-bit bytes are UTF-8 when they are valid UTF-8 (RFC 6532),
  // else its last-resort Windows-1252. Encoded words are ASCII and survive either way.
  std::string converted;
  if (!is_valid_utf8(value)) {
    converted = charsets.to_utf8(value, "windows-1252");
    value = converted;
  }
  if (keeps_encoded_words(field.name)) return std::string(value);
  return decode_header_words(value, charsets);
}

std::string_view skip_mbox_separator(std::string_view bytes) {
  if (bytes.substr(0, 5) != "From ") return bytes;
  size_t nl = bytes.find('\n');
  return nl == std::string_view::npos ? std::string_view() : bytes.substr(nl + 1);
}

}  // namespace ringmail::mail
