// The text views of a message that content filters and search need, computed once: the
// decoded headers, the rendered body text, the raw body, the URIs. The shapes follow what
// SpamAssassin's rule types see (Mail::SpamAssassin::Message and PerMsgStatus), so its
// rules run unchanged:
//   header   -> `headers`: per field, the unfolded value, RFC 2047-decoded to UTF-8
//               (`raw` keeps the folded original for Name:raw rules)
//   body     -> `body`: the Subject, then every text/plain and text/html part (HTML
//               rendered to text), charset-converted to UTF-8, one PARAGRAPH per line
//               (lines within a paragraph joined with a space, as SA does), '\n' between
//   rawbody  -> `raw_body`: the same text parts transfer-decoded but not rendered or
//               converted (HTML tags kept), lines as in the part, '\n' line ends
//   uri      -> `uris`: from text parts (uri_extract.h) and HTML links (html_text.h),
//               de-duplicated, in order of appearance
//   full     -> `full`: the whole message as received
//   mimeheader -> `mime_headers`: the header fields of every MIME part except the root
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "mail/charset.h"
#include "mail/html_text.h"
#include "mail/message.h"

namespace ringmail::mail {

struct text_header {
  std::string_view name;  // as written
  std::string_view raw;   // folded raw value (view into the message)
  std::string decoded;    // unfolded, RFC 2047-decoded, UTF-8
};

struct message_text {
  std::vector<text_header> headers;       // top-level, in order
  std::vector<text_header> mime_headers;  // of the non-root parts, in part order
  std::string body;
  std::string raw_body;
  std::vector<std::string> uris;
  std::string_view full;

  // Facts about the message that content tests want, gathered while rendering.
  size_t text_parts = 0;
  size_t html_parts = 0;
  size_t html_tags = 0;
  size_t html_images = 0;
  size_t attachments = 0;
  size_t broken_encodings = 0;  // invalid base64/QP characters seen
  bool truncated = false;       // a limit cut the message or the text
  // The last `synthesized_headers` entries of `headers` are not the message's own but
  // added by a scanner (SpamAssassin's X-Spam-Relays-* metadata): header rules read
  // them by name, "ALL" does not include them.
  size_t synthesized_headers = 0;
  // HTML.pm's results for each text/html part rendered, in order (SA's html_all).
  std::vector<html_facts> html;
  // Each rendered text part (SA Node::rendered()), for evals that compare the parts of
  // a multipart/alternative (BodyEval multipart_alternative_difference). Together at
  // most max_rendered_text_bytes of text.
  struct rendered_part {
    size_t part = 0;       // index into message::parts
    bool html = false;
    bool has_img = false;  // an HTML part with an <img> tag
    std::string text;
  };
  std::vector<rendered_part> rendered_parts;

  // All decoded values of header `name` (ASCII case-insensitive), each followed by '\n',
  // concatenated (SpamAssassin's $pms->get(name)). Empty when absent.
  std::string header_values(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

// `msg` (and the bytes under it) must outlive the result.
message_text render_text(const message& msg, charset_converter& charsets);

}  // namespace ringmail::mail
