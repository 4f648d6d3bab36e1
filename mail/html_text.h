// HTML rendered to plain text, as SpamAssassin's HTML.pm gives its `body` rules: tags
// stripped, <script>/<style>/comments dropped, entities decoded (named, &#NN; &#xNN;),
// block-level tags (p, br, div, tr, li, h1-6, ...) end a line, runs of whitespace
// collapsed. Input and output are UTF-8. Also collects the URIs the HTML links to.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::mail {

// What SpamAssassin's HTML.pm reports about one HTML part (get_results() plus the
// values Message/Node.pm rendered() adds), for HTMLEval's tests. Names follow SA's keys.
struct html_facts {
  // html_font_invisible(): text whose colour is (nearly) the background's, or invalid.
  bool font_low_contrast = false;
  bool font_invalid_color = false;
  bool font_face_bad = false;       // <font face> not a plain list of font names
  bool embeds = false;              // <object> or <embed>
  bool form_action_mailto = false;  // <form action="mailto:...">
  size_t length = 0;                // characters of the HTML source
  size_t html_length = 0;           // characters of the rendered text
  size_t non_space_len = 0;         // ... that are not whitespace
  uint64_t image_area = 0;          // sum of <img> width*height (guessing 200 each)
  int64_t min_size = 3, max_size = 3;  // font sizes set by attributes
  size_t tags = 0;                  // start and end tags (and <!doctype>)
  size_t elements = 0;              // ... of HTML 4 elements
  size_t tags_seen = 0, elements_seen = 0;  // ... the first time each name was seen
  size_t closed_extra = 0;          // end tags with no open start tag
  size_t obfuscation = 0;           // text pieces glued to the previous word
  // Tag name -> open count (start +1, end -1, never below 0); a name is present once
  // seen at all.
  std::map<std::string, int64_t, std::less<>> inside;
  std::vector<std::string> comments;  // "<!-- ... -->" as written
  std::vector<std::string> titles;    // text of each <title>
  std::vector<std::string> anchors;   // text of each <a> ("<img>\n" for an image)
};

struct html_render {
  std::string text;
  std::vector<std::string> uris;  // href/src/action/background values, entity-decoded
  size_t tags = 0;               // tags seen (for "HTML message" tests)
  size_t images = 0;             // <img> tags
  html_facts facts;
};

// Bounded by the input size: linear time, output at most a small multiple of the input.
html_render render_html(std::string_view html, size_t max_uris);

// Decodes one HTML entity reference starting at `in` (which begins with '&'). On success
// appends UTF-8 to out and returns the bytes consumed; returns 0 when it is not an entity.
size_t decode_html_entity(std::string_view in, std::string& out);

}  // namespace ringmail::mail
