// RFC 5322 header blocks as zero-copy views over the message bytes: field names and raw
// (folded) values are string_views into the caller's buffer, which must outlive them.
// Lenient as mail readers must be: CRLF or bare LF line ends, obsolete syntax (whitespace
// before the colon, RFC 5322 4.5), 8-bit bytes, a first line that is a continuation, a
// line without a colon (kept out of the fields, counted), a block cut by the limits.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::mail {

struct header_field {
  std::string_view name;   // as written, without trailing whitespace
  std::string_view value;  // raw: after the colon (leading WSP skipped), folding kept,
                           // final line end removed
};

struct header_block {
  std::vector<header_field> fields;  // in order; at most max_header_fields
  size_t body_offset = 0;  // offset of the body in the parsed buffer (after the empty line)
  size_t malformed_lines = 0;  // lines that were neither a field nor a continuation
  bool truncated = false;      // a limit was hit; the rest of the header was skipped
  bool has_body_separator = false;  // an empty line ended the block (else the input did)

  // Case-insensitive name lookup (ASCII). First field, or nullptr.
  const header_field* find(std::string_view name) const;
  // All fields with that name, in order.
  std::vector<const header_field*> find_all(std::string_view name) const;
};

// Parses the header block at the start of `bytes`: up to and including the first empty
// line. Linear time.
header_block parse_header_block(std::string_view bytes);

// ASCII case-insensitive equality of field names (Debian's abseil has its own
// string_view type, so absl::EqualsIgnoreCase does not take std::string_view).
bool equals_ignore_case(std::string_view a, std::string_view b);

// RFC 5322 2.2.3 unfolding: CRLF / LF followed by WSP is removed (the WSP is kept).
std::string unfold(std::string_view raw_value);

}  // namespace ringmail::mail
