// RFC 5322 header block parsing over views (see header.h).
//
// One forward pass over the lines; every line is looked at once, so the cost is linear in
// the bytes up to the empty line, whatever the limits cut. A line is the bytes up to '\n'
// without it and without one '\r' before it (CRLF and bare LF mail both occur).
#include "mail/header.h"

#include <algorithm>
#include <cstring>

#include "mail/limits.h"

namespace ringmail::mail {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// RFC 5322 3.6.8: ftext is printable US-ASCII except ':' (33-57, 59-126).
bool is_field_name_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u >= 33 && u <= 126 && u != ':';
}

struct line {
  size_t start;
  size_t content_end;  // without the line end
  size_t next;         // start of the following line (or the end of the input)
};

line line_at(std::string_view bytes, size_t pos) {
  const void* nl = std::memchr(bytes.data() + pos, '\n', bytes.size() - pos);
  size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - bytes.data())
                  : bytes.size();
  size_t content_end = end;
  if (content_end > pos && bytes[content_end - 1] == '\r') --content_end;
  return {pos, content_end, nl ? end + 1 : end};
}

// The name of a field line: "Name:" or the obsolete "Name  :" (RFC 5322 4.5.3). Returns
// the offset of the colon, or npos when the line is not a field (no colon, an empty name,
// or a name with bytes outside ftext - e.g. the mbox "From sender date" line).
size_t field_colon(std::string_view bytes, const line& l, size_t* name_end) {
  size_t i = l.start;
  while (i < l.content_end && is_field_name_char(bytes[i])) ++i;
  if (i == l.start) return std::string_view::npos;
  *name_end = i;
  while (i < l.content_end && is_wsp(bytes[i])) ++i;
  if (i == l.content_end || bytes[i] != ':') return std::string_view::npos;
  return i;
}

// A field starting at `start` is cut where it would pass max_header_field_bytes or the
// block would pass max_header_block_bytes (the value is kept up to there: a cut Subject
// still says something; the view is never copied).
size_t limit_for(size_t start) {
  return std::min(start + max_header_field_bytes, max_header_block_bytes);
}

}  // namespace

header_block parse_header_block(std::string_view bytes) {
  header_block block;
  block.body_offset = bytes.size();
  // The field being built; continuation lines extend its value. Null after a malformed
  // line (a continuation of nothing is malformed too).
  header_field* current = nullptr;
  size_t current_start = 0;
  // Once a limit is hit the rest of the block is only skipped to find the body.
  bool skipping = false;

  size_t pos = 0;
  while (pos < bytes.size()) {
    line l = line_at(bytes, pos);
    pos = l.next;
    if (l.content_end == l.start) {  // the empty line ends the block (RFC 5322 2.1)
      block.has_body_separator = true;
      block.body_offset = l.next;
      return block;
    }
    if (skipping) continue;
    if (l.start >= max_header_block_bytes) {
      block.truncated = true;
      skipping = true;
      continue;
    }
    if (is_wsp(bytes[l.start])) {  // RFC 5322 2.2.3 folding
      if (current == nullptr) {
        ++block.malformed_lines;
        continue;
      }
      size_t value_end = l.content_end;
      if (value_end > limit_for(current_start)) {
        value_end = limit_for(current_start);
        block.truncated = true;
        skipping = true;
      }
      const char* value_begin = current->value.data();
      // A value that was empty on the field's first line starts at that line's end.
      size_t begin = static_cast<size_t>(value_begin - bytes.data());
      if (value_end < begin) value_end = begin;
      current->value = bytes.substr(begin, value_end - begin);
      continue;
    }
    size_t name_end = 0;
    size_t colon = field_colon(bytes, l, &name_end);
    if (colon == std::string_view::npos) {
      ++block.malformed_lines;
      current = nullptr;
      continue;
    }
    if (block.fields.size() >= max_header_fields) {
      block.truncated = true;
      skipping = true;
      current = nullptr;
      continue;
    }
    size_t limit = limit_for(l.start);
    if (colon >= limit) {  // not even the name fits
      block.truncated = true;
      skipping = true;
      current = nullptr;
      continue;
    }
    size_t value_begin = colon + 1;
    while (value_begin < l.content_end && is_wsp(bytes[value_begin])) ++value_begin;
    size_t value_end = l.content_end;
    if (value_end > limit) {
      value_end = std::max(limit, value_begin);
      block.truncated = true;
      skipping = true;
    }
    block.fields.push_back({bytes.substr(l.start, name_end - l.start),
                            bytes.substr(value_begin, value_end - value_begin)});
    current = &block.fields.back();
    current_start = l.start;
  }
  return block;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

const header_field* header_block::find(std::string_view name) const {
  for (const header_field& f : fields) {
    if (equals_ignore_case(f.name, name)) return &f;
  }
  return nullptr;
}

std::vector<const header_field*> header_block::find_all(std::string_view name) const {
  std::vector<const header_field*> found;
  for (const header_field& f : fields) {
    if (equals_ignore_case(f.name, name)) found.push_back(&f);
  }
  return found;
}

std::string unfold(std::string_view raw_value) {
  std::string out;
  out.reserve(raw_value.size());
  for (size_t i = 0; i < raw_value.size(); ++i) {
    char c = raw_value[i];
    // Inside a raw value every line break is a fold: drop it, keep the WSP after it.
    if (c == '\r' && i + 1 < raw_value.size() && raw_value[i + 1] == '\n') continue;
    if (c == '\n') continue;
    out.push_back(c);
  }
  return out;
}

}  // namespace ringmail::mail
