// tag_list: the "tag=value; tag=value" syntax of DKIM-Signature and DKIM key records
// (RFC 6376 §3.2), which ARC's headers (RFC 8617 §4.1) and DMARC records (RFC 7489 §6.4)
// share. One parser for all of them.
//
// RFC 6376 §3.2: whitespace (FWS: spaces, tabs, CRLF+WSP) around names, '=' and values
// is ignored; a value keeps its inner whitespace (callers whose grammar allows FWS inside
// a value — base64 in b=, bh=, p= — remove it with without_whitespace()); a tag named
// twice makes the whole list invalid; an empty list and a trailing ';' are allowed.
// Names are tag-name = ALPHA *(ALPHA / DIGIT / "_"), compared case-sensitively (§3.2:
// "Tags MUST be interpreted in a case-sensitive manner").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmail::spam {

struct tag {
  std::string_view name;
  std::string_view value;  // trimmed of surrounding whitespace; views into the input
};

// The tags in order, or InvalidArgument naming the fault ("duplicate tag a=",
// "tag without '='", "bad tag name"). Views point into `text`.
absl::StatusOr<std::vector<tag>> parse_tag_list(std::string_view text);

// The tag named `name`, or nullptr.
const tag* find_tag(const std::vector<tag>& tags, std::string_view name);

// `value` with every space, tab, CR and LF removed (base64 values, §3.5 b=/bh=, §3.6.1 p=).
std::string without_whitespace(std::string_view value);

}  // namespace ringmail::spam
