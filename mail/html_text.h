// HTML rendered to plain text, as SpamAssassin's HTML.pm gives its `body` rules: tags
// stripped, <script>/<style>/comments dropped, entities decoded (named, &#NN; &#xNN;),
// block-level tags (p, br, div, tr, li, h1-6, ...) end a line, runs of whitespace
// collapsed. Input and output are UTF-8. Also collects the URIs the HTML links to.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringmail::mail {

struct html_render {
  std::string text;
  std::vector<std::string> uris;  // href/src/action/background values, entity-decoded
  size_t tags = 0;               // tags seen (for "HTML message" tests)
  size_t images = 0;             // <img> tags
};

// Bounded by the input size: linear time, output at most a small multiple of the input.
html_render render_html(std::string_view html, size_t max_uris);

// Decodes one HTML entity reference starting at `in` (which begins with '&'). On success
// appends UTF-8 to out and returns the bytes consumed; returns 0 when it is not an entity.
size_t decode_html_entity(std::string_view in, std::string& out);

}  // namespace ringmail::mail
