// The message as a Sieve script sees it (see message_view.h).
//
// The header is held as a list of fields, each with the exact bytes it had in the message
// (its lines up to the next field, so a malformed line between fields travels with the
// field before it), line ends made CRLF. header_block() is the concatenation of the lines
// before the first field, the fields, and the part of the header the limits of
// mail/limits.h left unparsed: an edit never loses a byte of the original header it did
// not mean to remove, even past max_header_fields.
#include "delivery/sieve/message_view.h"

#include <algorithm>

#include "mail/header.h"
#include "mail/html_text.h"
#include "mail/rfc2047.h"

namespace ringmail::sieve {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// `s` with every line end (CRLF, bare LF, bare CR) made CRLF.
void append_crlf_normalized(std::string_view s, std::string& out) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out.push_back(c);
    }
  }
}

// Offset just past the line end that follows `pos` (or `end` when none comes first).
size_t after_line_end(std::string_view bytes, size_t pos, size_t end) {
  while (pos < end && bytes[pos] != '\n') ++pos;
  return pos < end ? pos + 1 : end;
}

// Unfolding as Dovecot does for the values Pigeonhole tests (index-mail-headers.c
// unfold_header): a line break and the one WSP after it become one space; further WSP
// stays. RFC 5322 2.2.3 would keep the WSP as written (a folded TAB stays a TAB);
// mail::unfold does that and mail::decoded_value collapses all the WSP (SpamAssassin's
// reading), so neither gives Pigeonhole's values.
std::string unfold_value(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    if (c == '\n') {
      out.push_back(' ');
      if (i + 1 < raw.size() && is_wsp(raw[i + 1])) ++i;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_wsp(s.front()) || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (is_wsp(s.back()) || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool ascii_lower_equals(std::string_view a, std::string_view b) {
  return mail::equals_ignore_case(a, b);
}

// RFC 5173 5.2: "" matches every part; a type without "/" the top-level type; otherwise
// type/subtype. Case-insensitive (MIME types are).
bool type_matches(const mail::content_type& type, const std::vector<std::string>& wanted) {
  for (const std::string& w : wanted) {
    if (w.empty()) return true;
    size_t slash = w.find('/');
    if (slash == std::string::npos) {
      if (ascii_lower_equals(type.type, w)) return true;
    } else if (ascii_lower_equals(type.type, std::string_view(w).substr(0, slash)) &&
               ascii_lower_equals(type.subtype, std::string_view(w).substr(slash + 1))) {
      return true;
    }
  }
  return false;
}

// RFC 5322 3.6.8 field-name: printable US-ASCII except ':', at least one.
bool valid_field_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == ':') return false;
  }
  return true;
}

// Non-ASCII and control octets need RFC 2047; so does "=?", which a reader would take
// for the start of an encoded word (Pigeonhole's tests see such a value as written).
bool needs_encoding(std::string_view value) {
  if (value.find("=?") != std::string_view::npos) return true;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || (u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u == 0x7f) return true;
  }
  return false;
}

// RFC 2047 "B" encoded words of the value (mail::encode_header_words: at most 75 octets
// each, whole characters, RFC 2047 2 and 5), one a line: the separating spaces become
// folds, and the first word leaves room for "Name: " in 76 characters.
std::string encode_words(std::string_view name, std::string_view value) {
  size_t used = name.size() + 2;
  std::string words = mail::encode_header_words(value, used < 76 ? 76 - used : 0);
  std::string out;
  out.reserve(words.size() + words.size() / 32);
  for (char c : words) {
    if (c == ' ') {
      out += "\r\n ";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// An ASCII value folded at white space so that lines stay within 78 characters where
// the words allow (RFC 5322 2.1.1; a word longer than that stays whole, up to the 998
// limit the caller does not need to enforce for a single atom-like run). Line breaks in
// the value become folds, so the field stays one field.
std::string fold_ascii(std::string_view name, std::string_view value) {
  // Line breaks first: each becomes a fold (CRLF + the WSP that follows, or one space).
  std::string flat;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < value.size() && value[i + 1] == '\n') ++i;
      flat.push_back(' ');
      if (i + 1 < value.size() && is_wsp(value[i + 1])) ++i;
      continue;
    }
    flat.push_back(c);
  }
  constexpr size_t line_limit = 78;
  std::string out;
  size_t line_len = name.size() + 2;  // "Name: "
  size_t pos = 0;
  while (pos < flat.size()) {
    // The next piece: the white space run before a word, then the word.
    size_t word = pos;
    while (word < flat.size() && is_wsp(flat[word])) ++word;
    size_t end = word;
    while (end < flat.size() && !is_wsp(flat[end])) ++end;
    size_t piece = end - pos;
    if (pos > 0 && word > pos && line_len + piece > line_limit) {
      // Fold at the white space: the CRLF goes before it, the WSP starts the next line.
      out += "\r\n";
      line_len = 0;
    }
    out.append(flat, pos, piece);
    line_len += piece;
    pos = end;
  }
  return out;
}

}  // namespace

message_view::message_view(std::string_view bytes, mail::charset_converter& charsets,
                           const message_view_limits& limits)
    : bytes_(bytes),
      charsets_(charsets),
      limits_(limits),
      parsed_(mail::parse_message(bytes, charsets,
                                  mail::parse_options{mail::boundary_rule::rfc2046})) {
  const mail::header_block& h = parsed_.headers();
  body_offset_ = std::min(h.body_offset, bytes_.size());
  // Where the header block ends: before the empty line when there is one.
  size_t header_end = body_offset_;
  if (h.has_body_separator) {
    if (header_end > 0 && bytes_[header_end - 1] == '\n') --header_end;
    if (header_end > 0 && bytes_[header_end - 1] == '\r') --header_end;
  }
  auto offset_of = [&](std::string_view v) {
    return static_cast<size_t>(v.data() - bytes_.data());
  };
  fields_.reserve(h.fields.size());
  size_t first = h.fields.empty() ? header_end : offset_of(h.fields[0].name);
  append_crlf_normalized(bytes_.substr(0, first), prefix_);
  for (size_t i = 0; i < h.fields.size(); ++i) {
    const mail::header_field& f = h.fields[i];
    size_t start = offset_of(f.name);
    size_t end;
    if (i + 1 < h.fields.size()) {
      end = offset_of(h.fields[i + 1].name);
    } else {
      end = after_line_end(bytes_, offset_of(f.value) + f.value.size(), header_end);
    }
    field& out = fields_.emplace_back();
    out.name.assign(f.name);
    out.raw_value.assign(f.value);
    append_crlf_normalized(bytes_.substr(start, end - start), out.text);
    if (out.text.size() < 2 || out.text.compare(out.text.size() - 2, 2, "\r\n") != 0) {
      out.text += "\r\n";
    }
    if (i + 1 == h.fields.size() && end < header_end) {
      append_crlf_normalized(bytes_.substr(end, header_end - end), tail_);
    }
  }
  if (!tail_.empty() && tail_.compare(tail_.size() - std::min<size_t>(2, tail_.size()), 2, "\r\n") != 0) {
    tail_ += "\r\n";
  }
  if (!prefix_.empty() &&
      prefix_.compare(prefix_.size() - std::min<size_t>(2, prefix_.size()), 2, "\r\n") != 0) {
    prefix_ += "\r\n";
  }
}

std::string message_view::value_of(const field& f, bool decode) const {
  std::string unfolded = unfold_value(f.raw_value);
  if (unfolded.find('\0') != std::string::npos) {
    // A NUL in a header is U+FFFD to the tests, as Dovecot's header parser leaves it for
    // Pigeonhole (a value is a C string there).
    std::string repaired;
    for (char c : unfolded) {
      if (c == '\0') {
        repaired += "\xEF\xBF\xBD";
      } else {
        repaired.push_back(c);
      }
    }
    unfolded = std::move(repaired);
  }
  std::string_view value = trim(unfolded);
  if (f.added) {
    // As Pigeonhole: a value addheader wrote keeps its leading white space (its header
    // parser skips the WSP after the colon of a field it parsed, never of one it added).
    value = unfolded;
    while (!value.empty() && (is_wsp(value.back()) || value.back() == '\r' || value.back() == '\n')) {
      value.remove_suffix(1);
    }
  }
  if (!decode) return std::string(value);
  return mail::decode_header_words(value, charsets_);
}

std::vector<std::string> message_view::header_values(std::string_view name, bool decode) const {
  std::vector<std::string> values;
  for (const field& f : fields_) {
    if (mail::equals_ignore_case(f.name, name)) values.push_back(value_of(f, decode));
  }
  return values;
}

bool message_view::has_header(std::string_view name) const {
  for (const field& f : fields_) {
    if (mail::equals_ignore_case(f.name, name)) return true;
  }
  return false;
}

std::vector<std::string> message_view::body(body_transform transform,
                                             const std::vector<std::string>& content_types) const {
  std::vector<std::string> out;
  size_t budget = limits_.max_body_bytes;
  auto take = [&](std::string text) {
    if (text.size() > budget) text.resize(budget);
    budget -= text.size();
    out.push_back(std::move(text));
  };
  if (transform == body_transform::raw) {
    // An empty body is no text at all (Pigeonhole: `body :raw :contains ""` is false).
    if (!body_bytes().empty()) take(std::string(body_bytes()));
    return out;
  }
  static const std::vector<std::string> text_types = {"text"};
  const std::vector<std::string>& wanted =
      transform == body_transform::text ? text_types : content_types;
  for (const mail::mime_part& part : parsed_.parts) {
    if (budget == 0) break;
    bool html = part.type.is("text", "html");
    bool xhtml = part.type.is("application", "xhtml+xml");
    if (!type_matches(part.type, wanted) && !(transform == body_transform::text && xhtml)) {
      continue;
    }
    // A part without a body (its header never ended) matches nothing, as Pigeonhole
    // reads RFC 5173 (not even :contains "").
    if (!part.headers.has_body_separator && part.body.empty()) continue;
    if (part.type.is_multipart()) {
      // RFC 5173 5.2: a matched multipart is searched in its prologue and epilogue only;
      // its children are parts of their own. Two entries, as Pigeonhole has them (the
      // epilogue only when there is one).
      std::string epilogue;
      take(multipart_outside(part, epilogue));
      if (!epilogue.empty() && budget > 0) take(std::move(epilogue));
      continue;
    }
    if (!part.children.empty()) {
      // message/rfc822 (and message/global): RFC 5173 5.2, "the header of the enclosed
      // message is searched"; its body is the child's business.
      const mail::mime_part& child = parsed_.parts[part.children[0]];
      size_t header_len = std::min(child.headers.body_offset, child.bytes.size());
      take(std::string(child.bytes.substr(0, header_len)));
      continue;
    }
    std::string decoded = mail::decode_body(part, budget);
    if (part.type.type == "text" || xhtml) {
      // RFC 5173 5.2: text is converted to UTF-8 from its charset.
      std::string utf8 = charsets_.to_utf8(decoded, part.type.charset());
      if (transform == body_transform::text && (html || xhtml)) {
        take(mail::render_html(utf8, 0).text);
      } else {
        take(std::move(utf8));
      }
    } else {
      take(std::move(decoded));  // RFC 5173 5.2: non-text parts are not converted
    }
  }
  return out;
}

// The prologue of a multipart part (its body before the first boundary line, without
// the line break that belongs to that line, RFC 2046 5.1.1), and in `epilogue` what
// follows the close delimiter's line.
std::string message_view::multipart_outside(const mail::mime_part& part,
                                            std::string& epilogue) const {
  std::string_view body = part.body;
  if (part.children.empty()) return std::string(body);
  const mail::mime_part& first = parsed_.parts[part.children.front()];
  const mail::mime_part& last = parsed_.parts[part.children.back()];
  const char* base = body.data();
  auto within = [&](const char* p) {
    return p >= base && p <= base + body.size();
  };
  std::string prologue;
  if (within(first.bytes.data())) {
    // Back over the boundary line (which ends right before the child) and its CRLF.
    size_t pos = static_cast<size_t>(first.bytes.data() - base);
    if (pos > 0 && body[pos - 1] == '\n') --pos;
    while (pos > 0 && body[pos - 1] != '\n') --pos;  // start of the boundary line
    if (pos > 0 && body[pos - 1] == '\n') --pos;
    if (pos > 0 && body[pos - 1] == '\r') --pos;
    prologue.assign(body.substr(0, pos));
  }
  const char* last_end = last.bytes.data() + last.bytes.size();
  if (within(last_end)) {
    size_t pos = static_cast<size_t>(last_end - base);
    // The CRLF before the next boundary line, then that line: the epilogue follows only
    // a close delimiter ("--boundary--").
    size_t line = after_line_end(body, pos, body.size());
    if (line < body.size()) {
      size_t line_end = after_line_end(body, line, body.size());
      std::string_view boundary_line = body.substr(line, line_end - line);
      std::string boundary = "--" + part.type.boundary() + "--";
      if (boundary_line.substr(0, boundary.size()) == boundary && line_end < body.size()) {
        epilogue.assign(body.substr(line_end));
      }
    }
  }
  return prologue;
}

size_t message_view::size() const {
  if (!edited_) return bytes_.size();
  return header_size() + 2 + body_bytes().size();
}

size_t message_view::header_size() const {
  size_t n = prefix_.size() + tail_.size();
  for (const field& f : fields_) n += f.text.size();
  return n;
}

bool message_view::add_header(std::string_view name, std::string_view value, bool last) {
  if (added_ >= limits_.max_added_headers || !valid_field_name(name)) return false;
  field f;
  f.name.assign(name);
  f.added = true;
  // RFC 5293 4: "the value ... MUST be encoded [RFC 2047] if it contains non-ASCII" and
  // folded if long. An encoded value is a run of encoded words joined by folds.
  f.raw_value = needs_encoding(value) ? encode_words(name, value) : fold_ascii(name, value);
  f.text.reserve(name.size() + 2 + f.raw_value.size() + 2);
  f.text.append(name);
  f.text += ": ";
  f.text += f.raw_value;
  f.text += "\r\n";
  if (last) {
    fields_.push_back(std::move(f));
  } else {
    fields_.insert(fields_.begin(), std::move(f));
  }
  ++added_;
  edited_ = true;
  return true;
}

size_t message_view::delete_header(std::string_view name, size_t index, bool from_last,
                                   absl::FunctionRef<bool(std::string_view value)> should_delete) {
  // RFC 5293 7 (and Pigeonhole): Received and Auto-Submitted are never deleted.
  if (mail::equals_ignore_case(name, "received") ||
      mail::equals_ignore_case(name, "auto-submitted")) {
    return 0;
  }
  std::vector<size_t> candidates;
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (mail::equals_ignore_case(fields_[i].name, name)) candidates.push_back(i);
  }
  if (index > 0) {
    if (index > candidates.size()) return 0;
    size_t chosen = from_last ? candidates[candidates.size() - index] : candidates[index - 1];
    candidates.assign(1, chosen);
  }
  std::vector<bool> remove(fields_.size(), false);
  size_t removed = 0;
  for (size_t i : candidates) {
    if (should_delete(value_of(fields_[i], true))) {
      remove[i] = true;
      ++removed;
    }
  }
  if (removed == 0) return 0;
  size_t out = 0;
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (remove[i]) continue;
    if (out != i) fields_[out] = std::move(fields_[i]);
    ++out;
  }
  fields_.resize(out);
  edited_ = true;
  return removed;
}

std::string message_view::header_block() const {
  std::string out;
  out.reserve(header_size());
  out += prefix_;
  for (const field& f : fields_) out += f.text;
  out += tail_;
  return out;
}

std::string_view message_view::body_bytes() const { return bytes_.substr(body_offset_); }

}  // namespace ringmail::sieve
