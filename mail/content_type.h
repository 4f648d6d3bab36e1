// Structured MIME header values: Content-Type and Content-Disposition (RFC 2045 sec. 5,
// RFC 2183) with RFC 2231 parameters (continuations name*0*=, charset'lang'%XX encoding)
// and the RFC 2047 encoded-word filenames real clients send anyway.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mail/charset.h"

namespace ringmail::mail {

struct parameterized_value {
  std::string value;  // "text/plain" or "attachment", lower-cased, whitespace removed
  // Parameter names lower-cased; values decoded to UTF-8 (2231 and 2047), unquoted.
  // At most max_parameters (limits.h), continuations joined.
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* param(std::string_view name) const;  // nullptr when absent
};

// Parses an unfolded header value. Never fails: garbage gives an empty value.
parameterized_value parse_parameterized(std::string_view value, charset_converter& charsets);

struct content_type {
  std::string type = "text";      // lower-case
  std::string subtype = "plain";  // lower-case
  parameterized_value raw;
  std::string charset() const;    // lower-cased "charset" parameter or ""
  std::string boundary() const;   // "boundary" parameter or ""
  bool is(std::string_view t, std::string_view sub) const { return type == t && subtype == sub; }
  bool is_multipart() const { return type == "multipart"; }
};

// RFC 2045 5.2: a missing or unparseable Content-Type means text/plain; charset=us-ascii
// (inside multipart/digest, message/rfc822 — the caller passes that default).
content_type parse_content_type(std::string_view value, charset_converter& charsets,
                                std::string_view default_type = "text/plain");

}  // namespace ringmail::mail
