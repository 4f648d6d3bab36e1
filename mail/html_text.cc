// HTML to plain text in one linear pass, as SpamAssassin 4.0's Mail::SpamAssassin::HTML
// (over HTML::Parser 3.81) renders a text/html part for `body` rules. The output is SA's
// list of rendered pieces joined, before Message.pm's paragraph joining (message_text.cc):
//  - HTML.pm parse() first rewrites "&nbsp;" to a space, "<tag/>" and "<tag />" to "<tag>"
//    and the curly double quotes U+201C/U+201D to '"' (in the text too);
//  - text between tags is entity-decoded the way HTML::Parser does (numeric references
//    give their code point as is, Latin-1 names need no ';' and match as a prefix:
//    "&copyright" is "(c)right"), then display_text() turns each run of ASCII
//    whitespace into one space;
//  - only the tags of HTML.pm html_whitespace add anything: br/div "\n"; li, td, th, dd,
//    dt, embed, h1-h6 " "; p, hr, blockquote, pre, listing, plaintext, xmp, title
//    "\n\n" - at start and end tags alike (SA bug 5009). Before adding one, the space
//    a text piece ended with is dropped; after one, the space a text piece starts with;
//  - <script> and <style> text, comments, declarations and processing instructions are
//    dropped; <title> and <textarea> text is kept (entity-decoded), <xmp> and
//    <plaintext> text is kept as written (HTML::Parser's literal elements);
//  - a tag, comment or quoted value the input ends inside is dropped with the rest of
//    the input, as HTML::Parser does at eof.
// There is no DOM and no backtracking: every search moves forward, and searches that
// can fail (a comment's end, the '>' of a declaration) are remembered, so hostile input
// (a megabyte of '<', unterminated comments, quotes or tags) stays linear.
#include "mail/html_text.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "mail/charset.h"

namespace ringmail::mail {
namespace {

// SpamAssassin's MAX_URI_LENGTH.
constexpr size_t kMaxUriBytes = 8192;
// The longest HTML 4 entity name is 8 characters ("thetasym"); a name is looked for no
// further than this, so a run of '&' or letters costs constant time per '&'.
constexpr size_t kMaxEntityName = 32;
// Tag and attribute names compared: longer names cannot match any we act on.
constexpr size_t kMaxName = 32;
// Bounds on the comment/title/anchor texts html_facts keeps (HTMLEval matches them).
constexpr size_t kMaxFactItems = 1000;
constexpr size_t kMaxFactText = 4096;

struct named_entity {
  std::string_view name;
  uint32_t code_point;
};
// HTML 4.01 (sec. 24) entities plus XHTML's &apos;, sorted by name (byte order) for
// binary search.
constexpr named_entity kEntities[] = {
    {"AElig", 0xC6}, {"Aacute", 0xC1}, {"Acirc", 0xC2}, {"Agrave", 0xC0}, {"Alpha", 0x391},
    {"Aring", 0xC5}, {"Atilde", 0xC3}, {"Auml", 0xC4}, {"Beta", 0x392}, {"Ccedil", 0xC7},
    {"Chi", 0x3A7}, {"Dagger", 0x2021}, {"Delta", 0x394}, {"ETH", 0xD0}, {"Eacute", 0xC9},
    {"Ecirc", 0xCA}, {"Egrave", 0xC8}, {"Epsilon", 0x395}, {"Eta", 0x397}, {"Euml", 0xCB},
    {"Gamma", 0x393}, {"Iacute", 0xCD}, {"Icirc", 0xCE}, {"Igrave", 0xCC}, {"Iota", 0x399},
    {"Iuml", 0xCF}, {"Kappa", 0x39A}, {"Lambda", 0x39B}, {"Mu", 0x39C}, {"Ntilde", 0xD1},
    {"Nu", 0x39D}, {"OElig", 0x152}, {"Oacute", 0xD3}, {"Ocirc", 0xD4}, {"Ograve", 0xD2},
    {"Omega", 0x3A9}, {"Omicron", 0x39F}, {"Oslash", 0xD8}, {"Otilde", 0xD5}, {"Ouml", 0xD6},
    {"Phi", 0x3A6}, {"Pi", 0x3A0}, {"Prime", 0x2033}, {"Psi", 0x3A8}, {"Rho", 0x3A1},
    {"Scaron", 0x160}, {"Sigma", 0x3A3}, {"THORN", 0xDE}, {"Tau", 0x3A4}, {"Theta", 0x398},
    {"Uacute", 0xDA}, {"Ucirc", 0xDB}, {"Ugrave", 0xD9}, {"Upsilon", 0x3A5}, {"Uuml", 0xDC},
    {"Xi", 0x39E}, {"Yacute", 0xDD}, {"Yuml", 0x178}, {"Zeta", 0x396}, {"aacute", 0xE1},
    {"acirc", 0xE2}, {"acute", 0xB4}, {"aelig", 0xE6}, {"agrave", 0xE0}, {"alefsym", 0x2135},
    {"alpha", 0x3B1}, {"amp", 0x26}, {"and", 0x2227}, {"ang", 0x2220}, {"apos", 0x27},
    {"aring", 0xE5}, {"asymp", 0x2248}, {"atilde", 0xE3}, {"auml", 0xE4}, {"bdquo", 0x201E},
    {"beta", 0x3B2}, {"brvbar", 0xA6}, {"bull", 0x2022}, {"cap", 0x2229}, {"ccedil", 0xE7},
    {"cedil", 0xB8}, {"cent", 0xA2}, {"chi", 0x3C7}, {"circ", 0x2C6}, {"clubs", 0x2663},
    {"cong", 0x2245}, {"copy", 0xA9}, {"crarr", 0x21B5}, {"cup", 0x222A}, {"curren", 0xA4},
    {"dArr", 0x21D3}, {"dagger", 0x2020}, {"darr", 0x2193}, {"deg", 0xB0}, {"delta", 0x3B4},
    {"diams", 0x2666}, {"divide", 0xF7}, {"eacute", 0xE9}, {"ecirc", 0xEA}, {"egrave", 0xE8},
    {"empty", 0x2205}, {"emsp", 0x2003}, {"ensp", 0x2002}, {"epsilon", 0x3B5},
    {"equiv", 0x2261}, {"eta", 0x3B7}, {"eth", 0xF0}, {"euml", 0xEB}, {"euro", 0x20AC},
    {"exist", 0x2203}, {"fnof", 0x192}, {"forall", 0x2200}, {"frac12", 0xBD}, {"frac14", 0xBC},
    {"frac34", 0xBE}, {"frasl", 0x2044}, {"gamma", 0x3B3}, {"ge", 0x2265}, {"gt", 0x3E},
    {"hArr", 0x21D4}, {"harr", 0x2194}, {"hearts", 0x2665}, {"hellip", 0x2026},
    {"iacute", 0xED}, {"icirc", 0xEE}, {"iexcl", 0xA1}, {"igrave", 0xEC}, {"image", 0x2111},
    {"infin", 0x221E}, {"int", 0x222B}, {"iota", 0x3B9}, {"iquest", 0xBF}, {"isin", 0x2208},
    {"iuml", 0xEF}, {"kappa", 0x3BA}, {"lArr", 0x21D0}, {"lambda", 0x3BB}, {"lang", 0x2329},
    {"laquo", 0xAB}, {"larr", 0x2190}, {"lceil", 0x2308}, {"ldquo", 0x201C}, {"le", 0x2264},
    {"lfloor", 0x230A}, {"lowast", 0x2217}, {"loz", 0x25CA}, {"lrm", 0x200E},
    {"lsaquo", 0x2039}, {"lsquo", 0x2018}, {"lt", 0x3C}, {"macr", 0xAF}, {"mdash", 0x2014},
    {"micro", 0xB5}, {"middot", 0xB7}, {"minus", 0x2212}, {"mu", 0x3BC}, {"nabla", 0x2207},
    {"nbsp", 0xA0}, {"ndash", 0x2013}, {"ne", 0x2260}, {"ni", 0x220B}, {"not", 0xAC},
    {"notin", 0x2209}, {"nsub", 0x2284}, {"ntilde", 0xF1}, {"nu", 0x3BD}, {"oacute", 0xF3},
    {"ocirc", 0xF4}, {"oelig", 0x153}, {"ograve", 0xF2}, {"oline", 0x203E}, {"omega", 0x3C9},
    {"omicron", 0x3BF}, {"oplus", 0x2295}, {"or", 0x2228}, {"ordf", 0xAA}, {"ordm", 0xBA},
    {"oslash", 0xF8}, {"otilde", 0xF5}, {"otimes", 0x2297}, {"ouml", 0xF6}, {"para", 0xB6},
    {"part", 0x2202}, {"permil", 0x2030}, {"perp", 0x22A5}, {"phi", 0x3C6}, {"pi", 0x3C0},
    {"piv", 0x3D6}, {"plusmn", 0xB1}, {"pound", 0xA3}, {"prime", 0x2032}, {"prod", 0x220F},
    {"prop", 0x221D}, {"psi", 0x3C8}, {"quot", 0x22}, {"rArr", 0x21D2}, {"radic", 0x221A},
    {"rang", 0x232A}, {"raquo", 0xBB}, {"rarr", 0x2192}, {"rceil", 0x2309}, {"rdquo", 0x201D},
    {"real", 0x211C}, {"reg", 0xAE}, {"rfloor", 0x230B}, {"rho", 0x3C1}, {"rlm", 0x200F},
    {"rsaquo", 0x203A}, {"rsquo", 0x2019}, {"sbquo", 0x201A}, {"scaron", 0x161},
    {"sdot", 0x22C5}, {"sect", 0xA7}, {"shy", 0xAD}, {"sigma", 0x3C3}, {"sigmaf", 0x3C2},
    {"sim", 0x223C}, {"spades", 0x2660}, {"sub", 0x2282}, {"sube", 0x2286}, {"sum", 0x2211},
    {"sup", 0x2283}, {"sup1", 0xB9}, {"sup2", 0xB2}, {"sup3", 0xB3}, {"supe", 0x2287},
    {"szlig", 0xDF}, {"tau", 0x3C4}, {"there4", 0x2234}, {"theta", 0x3B8}, {"thetasym", 0x3D1},
    {"thinsp", 0x2009}, {"thorn", 0xFE}, {"tilde", 0x2DC}, {"times", 0xD7}, {"trade", 0x2122},
    {"uArr", 0x21D1}, {"uacute", 0xFA}, {"uarr", 0x2191}, {"ucirc", 0xFB}, {"ugrave", 0xF9},
    {"uml", 0xA8}, {"upsih", 0x3D2}, {"upsilon", 0x3C5}, {"uuml", 0xFC}, {"weierp", 0x2118},
    {"xi", 0x3BE}, {"yacute", 0xFD}, {"yen", 0xA5}, {"yuml", 0xFF}, {"zeta", 0x3B6},
    {"zwj", 0x200D}, {"zwnj", 0x200C},
};

// HTML5 8.2.4: numeric references to C1 controls mean Windows-1252 (senders write
// &#150; for an en dash).
constexpr uint16_t kWindows1252C1[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_html_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
int hex_digit(char c) {
  if (is_digit(c)) return c - '0';
  c = lower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void append_utf8(uint32_t cp, std::string& out) {
  // Character references may name NUL, surrogates or nothing at all: U+FFFD, as HTML5 says.
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  encode_utf8(static_cast<char32_t>(cp), out);
}

const named_entity* find_entity(std::string_view name) {
  const named_entity* end = std::end(kEntities);
  const named_entity* it = std::lower_bound(
      std::begin(kEntities), end, name,
      [](const named_entity& e, std::string_view n) { return e.name < n; });
  return it != end && it->name == name ? it : nullptr;
}

// in[0] == '&'. In attribute values a reference without ';' followed by '=' or an
// alphanumeric is left alone (HTML5 8.2.4.69: "?a=1&copy=2" is a query, not a ©).
size_t decode_entity(std::string_view in, std::string& out, bool in_attribute) {
  size_t i = 1;
  if (i < in.size() && in[i] == '#') {
    ++i;
    bool hex = i < in.size() && (in[i] == 'x' || in[i] == 'X');
    if (hex) ++i;
    size_t digits_start = i;
    uint32_t cp = 0;
    while (i < in.size() && (hex ? hex_digit(in[i]) >= 0 : is_digit(in[i]))) {
      // Saturate: &#99999999999; is out of range, not a wrapped-around letter.
      if (cp <= 0x10FFFF) cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(hex_digit(in[i]));
      ++i;
    }
    if (i == digits_start) return 0;
    if (i < in.size() && in[i] == ';') ++i;  // optional for numeric references
    if (cp >= 0x80 && cp <= 0x9F) cp = kWindows1252C1[cp - 0x80];
    append_utf8(cp, out);
    return i;
  }
  while (i < in.size() && i <= kMaxEntityName && is_alnum(in[i])) ++i;
  if (i == 1 || i > kMaxEntityName) return 0;
  const named_entity* e = find_entity(in.substr(1, i - 1));
  if (e == nullptr) return 0;
  bool semicolon = i < in.size() && in[i] == ';';
  if (!semicolon) {
    // HTML5 8.2.4 allows the ';' to be left out only for the legacy (HTML 2/3.2, i.e.
    // Latin-1) names: "&copy 2024" is ©, "&hellip" is not an ellipsis.
    if (e->code_point > 0xFF) return 0;
    if (in_attribute && i < in.size() && in[i] == '=') return 0;
  }
  // SA (HTML.pm parse()) turns &nbsp; into a plain space before parsing.
  if (e->code_point == 0xA0) {
    out.push_back(' ');
  } else {
    append_utf8(e->code_point, out);
  }
  return semicolon ? i + 1 : i;
}


// An entity in text, decoded as HTML::Parser's decode_entities() does for `dtext`
// (in[0] == '&'): "&#NN;" / "&#xNN;" give that code point (no Windows-1252 mapping; NUL
// and values past U+10FFFF are not references, surrogates become U+FFFD); a name is
// looked up whole, then - HTML::Entities keys the Latin-1 names without ';' - its
// longest prefix that is a Latin-1 name ("&ampfoo" is "&foo"); the other names need
// their ';'. Returns the bytes consumed, 0 when it is not an entity.
size_t decode_text_entity(std::string_view in, std::string& out) {
  size_t i = 1;
  if (i < in.size() && in[i] == '#') {
    ++i;
    bool hex = i < in.size() && (in[i] == 'x' || in[i] == 'X');
    if (hex) ++i;
    size_t digits_start = i;
    uint64_t cp = 0;
    while (i < in.size() && (hex ? hex_digit(in[i]) >= 0 : is_digit(in[i]))) {
      if (cp <= 0x10FFFF) cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(hex_digit(in[i]));
      ++i;
    }
    if (i == digits_start || cp == 0 || cp > 0x10FFFF) return 0;
    if (i < in.size() && in[i] == ';') ++i;
    append_utf8(static_cast<uint32_t>(cp), out);
    return i;
  }
  while (i < in.size() && i <= kMaxEntityName && is_alnum(in[i])) ++i;
  size_t name_len = i - 1;
  if (name_len == 0) return 0;
  bool semicolon = i < in.size() && in[i] == ';';
  if (name_len < kMaxEntityName) {
    const named_entity* e = find_entity(in.substr(1, name_len));
    if (e != nullptr && (e->code_point <= 0xFF || semicolon)) {
      append_utf8(e->code_point, out);
      return semicolon ? i + 1 : i;
    }
  }
  // The longest Latin-1 name is 6 characters ("curren", "frac12").
  for (size_t len = std::min<size_t>(name_len - 1, 6); len > 0; --len) {
    const named_entity* e = find_entity(in.substr(1, len));
    if (e != nullptr && e->code_point <= 0xFF) {
      append_utf8(e->code_point, out);
      return 1 + len;
    }
  }
  return 0;
}

// Finds a byte at or after `from`, remembering the answer: the parser asks again from
// later positions (a fallback after an unterminated quote), and without the memory a
// missing '>' or '"' would be searched for once per tag, quadratic in the input.
class forward_finder {
 public:
  explicit forward_finder(std::string_view s) : s_(s) {}
  size_t find(char c, size_t from) {
    memo& m = memo_[static_cast<unsigned char>(c) % kSlots];
    if (m.valid && m.c == c && m.from <= from && (m.found == npos || m.found >= from)) {
      return m.found;
    }
    size_t found = s_.find(c, from);
    m = memo{true, c, from, found};
    return found;
  }
  static constexpr size_t npos = std::string_view::npos;

 private:
  struct memo {
    bool valid = false;
    char c = 0;
    size_t from = 0;
    size_t found = npos;
  };
  static constexpr size_t kSlots = 8;
  std::string_view s_;
  std::array<memo, kSlots> memo_{};
};

// HTML.pm parse()'s rewrites before HTML::Parser sees the text, in its order:
//   s/&nbsp;/ /g;  s/<(\w+)\s*\/>/<$1>/gi;  s/\x{201C}|\x{201D}/"/g;
// Each is one forward pass (\w+ stops at the next '<', so no match is retried).
std::string sa_prepare(std::string_view in) {
  std::string a;
  a.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    if (in[i] == '&' && in.substr(i, 6) == "&nbsp;") {
      a.push_back(' ');
      i += 6;
    } else {
      a.push_back(in[i++]);
    }
  }
  // Perl's \w on characters: letters, digits, '_' and (roughly) any non-ASCII letter.
  auto word = [](char c) { return is_alnum(c) || c == '_' || (c & 0x80) != 0; };
  std::string b;
  b.reserve(a.size());
  for (size_t i = 0; i < a.size();) {
    if (a[i] != '<') {
      b.push_back(a[i++]);
      continue;
    }
    size_t j = i + 1;
    while (j < a.size() && word(a[j])) ++j;
    size_t k = j;
    while (k < a.size() && is_html_space(a[k])) ++k;
    if (j > i + 1 && k + 1 < a.size() && a[k] == '/' && a[k + 1] == '>') {
      b.append(a, i, j - i);
      b.push_back('>');
      i = k + 2;
    } else {
      b.append(a, i, j - i);
      i = j;
    }
  }
  std::string c;
  c.reserve(b.size());
  for (size_t i = 0; i < b.size();) {
    if (b[i] == '\xE2' && i + 2 < b.size() && b[i + 1] == '\x80' &&
        (b[i + 2] == '\x9C' || b[i + 2] == '\x9D')) {
      c.push_back('"');
      i += 3;
    } else {
      c.push_back(b[i++]);
    }
  }
  return c;
}


// ---- SA HTML.pm text_style / html_font_invisible ----
// The body rendering keeps invisible text too, but display_text() trims the spaces next
// to a block tag differently for it, so the renderer tracks what SA tracks to decide.

// A colour as HTML.pm name_to_rgb() leaves it: 0xRRGGBB, or one of these strings.
constexpr int32_t kInvalidColor = -1;  // "invalid"
constexpr int32_t kEmptyHexColor = -2;  // "#" (a '#' and no hex digits)
constexpr int32_t kTransparent = -3;    // CSS "transparent", resolved after parsing

struct named_color {
  std::string_view name;
  int32_t rgb;
};
// HTML.pm %html_color (HTML 4 and CSS3 names).
constexpr named_color kColors[] = {
    {"aliceblue", 0xf0f8ff}, {"antiquewhite", 0xfaebd7}, {"aqua", 0x00ffff},
    {"aquamarine", 0x7fffd4}, {"azure", 0xf0ffff}, {"beige", 0xf5f5dc},
    {"bisque", 0xffe4c4}, {"black", 0x000000}, {"blanchedalmond", 0xffebcd},
    {"blue", 0x0000ff}, {"blueviolet", 0x8a2be2}, {"brown", 0xa52a2a},
    {"burlywood", 0xdeb887}, {"cadetblue", 0x5f9ea0}, {"chartreuse", 0x7fff00},
    {"chocolate", 0xd2691e}, {"coral", 0xff7f50}, {"cornflowerblue", 0x6495ed},
    {"cornsilk", 0xfff8dc}, {"crimson", 0xdc143c}, {"cyan", 0x00ffff},
    {"darkblue", 0x00008b}, {"darkcyan", 0x008b8b}, {"darkgoldenrod", 0xb8860b},
    {"darkgray", 0xa9a9a9}, {"darkgreen", 0x006400}, {"darkgrey", 0xa9a9a9},
    {"darkkhaki", 0xbdb76b}, {"darkmagenta", 0x8b008b}, {"darkolivegreen", 0x556b2f},
    {"darkorange", 0xff8c00}, {"darkorchid", 0x9932cc}, {"darkred", 0x8b0000},
    {"darksalmon", 0xe9967a}, {"darkseagreen", 0x8fbc8f}, {"darkslateblue", 0x483d8b},
    {"darkslategray", 0x2f4f4f}, {"darkslategrey", 0x2f4f4f}, {"darkturquoise", 0x00ced1},
    {"darkviolet", 0x9400d3}, {"deeppink", 0xff1493}, {"deepskyblue", 0x00bfff},
    {"dimgray", 0x696969}, {"dimgrey", 0x696969}, {"dodgerblue", 0x1e90ff},
    {"firebrick", 0xb22222}, {"floralwhite", 0xfffaf0}, {"forestgreen", 0x228b22},
    {"fuchsia", 0xff00ff}, {"gainsboro", 0xdcdcdc}, {"ghostwhite", 0xf8f8ff},
    {"gold", 0xffd700}, {"goldenrod", 0xdaa520}, {"gray", 0x808080}, {"green", 0x008000},
    {"greenyellow", 0xadff2f}, {"grey", 0x808080}, {"honeydew", 0xf0fff0},
    {"hotpink", 0xff69b4}, {"indianred", 0xcd5c5c}, {"indigo", 0x4b0082},
    {"ivory", 0xfffff0}, {"khaki", 0xf0e68c}, {"lavender", 0xe6e6fa},
    {"lavenderblush", 0xfff0f5}, {"lawngreen", 0x7cfc00}, {"lemonchiffon", 0xfffacd},
    {"lightblue", 0xadd8e6}, {"lightcoral", 0xf08080}, {"lightcyan", 0xe0ffff},
    {"lightgoldenrodyellow", 0xfafad2}, {"lightgray", 0xd3d3d3}, {"lightgreen", 0x90ee90},
    {"lightgrey", 0xd3d3d3}, {"lightpink", 0xffb6c1}, {"lightsalmon", 0xffa07a},
    {"lightseagreen", 0x20b2aa}, {"lightskyblue", 0x87cefa}, {"lightslategray", 0x778899},
    {"lightslategrey", 0x778899}, {"lightsteelblue", 0xb0c4de}, {"lightyellow", 0xffffe0},
    {"lime", 0x00ff00}, {"limegreen", 0x32cd32}, {"linen", 0xfaf0e6}, {"magenta", 0xff00ff},
    {"maroon", 0x800000}, {"mediumaquamarine", 0x66cdaa}, {"mediumblue", 0x0000cd},
    {"mediumorchid", 0xba55d3}, {"mediumpurple", 0x9370db}, {"mediumseagreen", 0x3cb371},
    {"mediumslateblue", 0x7b68ee}, {"mediumspringgreen", 0x00fa9a},
    {"mediumturquoise", 0x48d1cc}, {"mediumvioletred", 0xc71585},
    {"midnightblue", 0x191970}, {"mintcream", 0xf5fffa}, {"mistyrose", 0xffe4e1},
    {"moccasin", 0xffe4b5}, {"navajowhite", 0xffdead}, {"navy", 0x000080},
    {"oldlace", 0xfdf5e6}, {"olive", 0x808000}, {"olivedrab", 0x6b8e23},
    {"orange", 0xffa500}, {"orangered", 0xff4500}, {"orchid", 0xda70d6},
    {"palegoldenrod", 0xeee8aa}, {"palegreen", 0x98fb98}, {"paleturquoise", 0xafeeee},
    {"palevioletred", 0xdb7093}, {"papayawhip", 0xffefd5}, {"peachpuff", 0xffdab9},
    {"peru", 0xcd853f}, {"pink", 0xffc0cb}, {"plum", 0xdda0dd}, {"powderblue", 0xb0e0e6},
    {"purple", 0x800080}, {"red", 0xff0000}, {"rosybrown", 0xbc8f8f},
    {"royalblue", 0x4169e1}, {"saddlebrown", 0x8b4513}, {"salmon", 0xfa8072},
    {"sandybrown", 0xf4a460}, {"seagreen", 0x2e8b57}, {"seashell", 0xfff5ee},
    {"sienna", 0xa0522d}, {"silver", 0xc0c0c0}, {"skyblue", 0x87ceeb},
    {"slateblue", 0x6a5acd}, {"slategray", 0x708090}, {"slategrey", 0x708090},
    {"snow", 0xfffafa}, {"springgreen", 0x00ff7f}, {"steelblue", 0x4682b4},
    {"tan", 0xd2b48c}, {"teal", 0x008080}, {"thistle", 0xd8bfd8}, {"tomato", 0xff6347},
    {"turquoise", 0x40e0d0}, {"violet", 0xee82ee}, {"wheat", 0xf5deb3}, {"white", 0xffffff},
    {"whitesmoke", 0xf5f5f5}, {"yellow", 0xffff00}, {"yellowgreen", 0x9acd32},
};

std::string_view trim_ascii(std::string_view v) {
  while (!v.empty() && is_html_space(v.front())) v.remove_prefix(1);
  while (!v.empty() && is_html_space(v.back())) v.remove_suffix(1);
  return v;
}

std::string lower_copy(std::string_view v) {
  std::string out(v);
  for (char& c : out) c = lower(c);
  return out;
}

// Reads up to `max_digits` decimal digits at v[i]; false when there is none.
bool read_number(std::string_view v, size_t& i, uint64_t& n) {
  size_t start = i;
  n = 0;
  while (i < v.size() && is_digit(v[i])) {
    if (n < (uint64_t{1} << 40)) n = n * 10 + static_cast<uint64_t>(v[i] - '0');
    ++i;
  }
  return i > start;
}

// "rgb(" N [%] "," \s* N [%] "," \s* N [%] \s* ")" somewhere in v (HTML.pm's two rgb
// regexes); `percent` picks which form. Returns false when there is no such match.
bool find_rgb(std::string_view v, bool percent, uint64_t out[3]) {
  for (size_t at = v.find("rgb("); at != std::string_view::npos; at = v.find("rgb(", at + 1)) {
    size_t i = at + 4;
    bool ok = true;
    for (int k = 0; k < 3 && ok; ++k) {
      if (k > 0) {
        if (i >= v.size() || v[i] != ',') { ok = false; break; }
        ++i;
        while (i < v.size() && is_html_space(v[i])) ++i;
      }
      if (!read_number(v, i, out[k])) { ok = false; break; }
      if (percent) {
        if (i >= v.size() || v[i] != '%') { ok = false; break; }
        ++i;
      }
    }
    if (!ok) continue;
    while (i < v.size() && is_html_space(v[i])) ++i;
    if (i < v.size() && v[i] == ')') return true;
  }
  return false;
}

void append_hex2(uint64_t n, std::string& out) {  // HTML.pm dec2hex
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digits;
  do {
    digits.insert(digits.begin(), kHex[n % 16]);
    n /= 16;
  } while (n != 0);
  if (digits.size() < 2) digits.insert(digits.begin(), '0');
  out += digits;
}

// HTML.pm name_to_rgb().
int32_t name_to_rgb(std::string_view raw) {
  std::string color = lower_copy(trim_ascii(raw));
  for (const named_color& c : kColors) {
    if (c.name == color) return c.rgb;
  }
  bool hexish = true;
  for (char c : color) hexish = hexish && (c == '#' || hex_digit(c) >= 0);
  bool rgb_call = false;
  for (size_t at = color.find("rgb("); at != std::string::npos && !rgb_call;
       at = color.find("rgb(", at + 1)) {
    size_t i = at + 4;
    while (i < color.size() && (is_digit(color[i]) || color[i] == '%' || color[i] == ',' ||
                                color[i] == ' ')) {
      ++i;
    }
    rgb_call = i < color.size() && color[i] == ')';
  }
  if (!hexish && !rgb_call) return kInvalidColor;
  uint64_t rgb[3];
  if (find_rgb(color, true, rgb)) {
    std::string c = "#";
    for (uint64_t v : rgb) append_hex2(static_cast<uint64_t>(static_cast<double>(v) / 100 * 255), c);
    color = c;
  }
  if (find_rgb(color, false, rgb)) {
    std::string c = "#";
    for (uint64_t v : rgb) append_hex2(v, c);
    color = c;
  }
  if (color.empty() || color[0] != '#') return kInvalidColor;
  std::string hex;
  for (char c : color) {
    if (hex_digit(c) >= 0) hex.push_back(c);
  }
  if (hex.size() > 6) hex.resize(6);
  if (hex.size() > 3 && hex.size() < 6) hex.resize(3);
  while (hex.size() % 3 != 0) hex.push_back('0');
  if (hex.empty()) return kEmptyHexColor;
  if (hex.size() == 3) hex = {hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]};
  int32_t value = 0;
  for (char c : hex) value = value * 16 + hex_digit(c);
  return value;
}

// HTML.pm parse_css_background(): the values of the last layer of a CSS `background`.
std::vector<std::string> last_background_layer(std::string_view v) {
  std::vector<std::string> tokens, last;
  std::string token;
  std::vector<int> stack;
  int state = 0;
  for (char ch : v) {
    if (state == 0) {
      if (ch == ' ') {
        if (!token.empty()) tokens.push_back(token);
        token.clear();
      } else if (ch == '(' || ch == '"' || ch == '\'') {
        token.push_back(ch);
        stack.push_back(state);
        state = ch == '(' ? 1 : ch == '"' ? 2 : 3;
      } else if (ch == ',') {
        if (!token.empty()) tokens.push_back(token);
        token.clear();
        last = std::move(tokens);
        tokens.clear();
      } else {
        token.push_back(ch);
      }
    } else if (state == 1) {
      token.push_back(ch);
      if (ch == ')') {
        tokens.push_back(token);
        token.clear();
        state = stack.empty() ? 0 : stack.back();
        if (!stack.empty()) stack.pop_back();
      } else if (ch == '"' || ch == '\'') {
        stack.push_back(state);
        state = ch == '"' ? 2 : 3;
      }
    } else {
      token.push_back(ch);
      if ((state == 2 && ch == '"') || (state == 3 && ch == '\'')) {
        state = stack.empty() ? 0 : stack.back();
        if (!stack.empty()) stack.pop_back();
      }
    }
  }
  if (!token.empty()) tokens.push_back(token);
  if (!tokens.empty()) last = std::move(tokens);
  return last;
}

enum class style_tag : uint8_t {
  other, default_, body, font, table, tr, td, big, small, basefont, span, p, div, a
};

style_tag style_tag_of(std::string_view tag) {
  if (tag == "font") return style_tag::font;
  if (tag == "td" || tag == "th") return style_tag::td;  // "treat <th> as <td>"
  if (tag == "tr") return style_tag::tr;
  if (tag == "table") return style_tag::table;
  if (tag == "span") return style_tag::span;
  if (tag == "p") return style_tag::p;
  if (tag == "div") return style_tag::div;
  if (tag == "a") return style_tag::a;
  if (tag == "body") return style_tag::body;
  if (tag == "big") return style_tag::big;
  if (tag == "small") return style_tag::small;
  if (tag == "basefont") return style_tag::basefont;
  return style_tag::other;
}

struct text_style {
  style_tag tag = style_tag::default_;
  int32_t fg = 0x000000;
  int32_t bg = 0xFFFFFF;
  int64_t size = 3;
  bool display_none = false;
  bool visibility_hidden = false;
};

// The attributes text_style() reads (HTML.pm %ok_attributes), entity-decoded.
struct style_attributes {
  std::string color, text, size, style;
  bool has_color = false, has_text = false, has_size = false, has_style = false;
  bool any_ok = false;  // an attribute of HTML.pm %ok_attributes for this tag
  void clear() { *this = style_attributes{}; }
};

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (lower(s[i]) != prefix[i]) return false;
  }
  return true;
}

// One `name: value` of a style attribute, as HTML.pm's loop over split(/;/) reads it.
void apply_css(std::string_view part, const text_style& parent, text_style& s) {
  std::string_view t = part;
  while (!t.empty() && is_html_space(t.front())) t.remove_prefix(1);
  // /^\s*(background-)?color:\s*(.+?)\s*$/i
  bool background = starts_with_ci(t, "background-color:");
  if (background || starts_with_ci(t, "color:")) {
    std::string_view v = trim_ascii(t.substr(background ? 17 : 6));
    if (!v.empty()) {
      std::string value = lower_copy(v);
      // s/\s*!\s*important$//
      if (value.size() >= 9 && value.compare(value.size() - 9, 9, "important") == 0) {
        size_t k = value.size() - 9;
        while (k > 0 && is_html_space(value[k - 1])) --k;
        if (k > 0 && value[k - 1] == '!') {
          --k;
          while (k > 0 && is_html_space(value[k - 1])) --k;
          value.resize(k);
        }
      }
      int32_t& target = background ? s.bg : s.fg;
      if (value.find("rgb") != std::string::npos) {
        uint64_t rgb[3] = {0, 0, 0};
        size_t k = 0;
        std::vector<std::string> fields(1);
        for (char c : value) {
          if (is_digit(c)) fields.back().push_back(c);
          if (c == ',') fields.emplace_back();
        }
        for (k = 0; k < 3 && k < fields.size(); ++k) {
          uint64_t n = 0;
          for (char c : fields[k]) n = std::min<uint64_t>(n * 10 + (c - '0'), 1000);
          rgb[k] = std::min<uint64_t>(n, 255);
        }
        target = static_cast<int32_t>((rgb[0] << 16) | (rgb[1] << 8) | rgb[2]);
      } else if (value == "inherit") {
      } else if (value == "transparent") {
        target = kTransparent;
      } else {
        target = name_to_rgb(value);
      }
      return;
    }
  }
  // /^\s*background:\s*(.+?)\s*$/ (case-sensitive)
  if (t.substr(0, 11) == "background:") {
    std::string_view v = trim_ascii(t.substr(11));
    if (!v.empty()) {
      for (const std::string& value : last_background_layer(lower_copy(v))) {
        int32_t c = name_to_rgb(value);
        if (c != kInvalidColor) {
          s.bg = c;
          break;
        }
      }
      return;
    }
  }
  // /^\s*([a-z_-]+)\s*:\s*(\S.*?)\s*$/i: "display: none", "visibility: hidden"
  size_t n = 0;
  while (n < t.size() && (is_alpha(t[n]) || t[n] == '_' || t[n] == '-')) ++n;
  if (n == 0) return;
  std::string_view name = t.substr(0, n);
  size_t i = n;
  while (i < t.size() && is_html_space(t[i])) ++i;
  if (i >= t.size() || t[i] != ':') return;
  std::string_view value = trim_ascii(t.substr(i + 1));
  if (value.empty()) return;
  if (name == "display") s.display_none = lower_copy(value) == "none";
  if (name == "visibility") s.visibility_hidden = lower_copy(value) == "hidden";
  (void)parent;
}

// HTML.pm text_style() on a start tag (`tag` is one of %elements_text_style).
void open_style(std::vector<text_style>& stack, int64_t& basefont, style_tag tag,
                const style_attributes& attrs, html_facts& facts) {
  if (tag == style_tag::basefont && attrs.has_size) {
    std::string_view v = trim_ascii(attrs.size);
    size_t i = 0;
    uint64_t n = 0;
    // /^\s*(\d+)/ (leading blanks only; trim_ascii also drops trailing ones, harmless)
    if (read_number(v, i, n)) {
      basefont = static_cast<int64_t>(n);
      return;
    }
  }
  // close_table_tag: elements with optional end tags
  if (tag == style_tag::td || tag == style_tag::tr) {
    bool open = false;
    for (const text_style& s : stack) open = open || s.tag == tag;
    while (open && !stack.empty()) {
      style_tag top = stack.back().tag;
      bool pop = top == style_tag::font || top == style_tag::td ||
                 (tag == style_tag::tr && top == style_tag::tr);
      if (!pop) break;
      stack.pop_back();
    }
  }
  text_style s = stack.empty() ? text_style{} : stack.back();
  const text_style parent = s;
  s.tag = tag;
  if (tag == style_tag::big || tag == style_tag::small) {
    s.size += tag == style_tag::big ? 1 : -1;
    stack.push_back(s);
    return;
  }
  bool font_like = tag == style_tag::font || tag == style_tag::basefont;
  if (font_like && attrs.has_color) s.fg = name_to_rgb(attrs.color);
  if (tag == style_tag::body && attrs.has_text) s.fg = name_to_rgb(attrs.text);
  if (font_like && attrs.has_size) {
    std::string_view v = attrs.size;
    size_t i = 0;
    while (i < v.size() && is_html_space(v[i])) ++i;
    uint64_t n = 0;
    if (i < v.size() && (v[i] == '+' || v[i] == '-')) {
      bool minus = v[i] == '-';
      ++i;
      if (read_number(v, i, n)) {
        int64_t delta = static_cast<int64_t>(std::min<uint64_t>(n, 1u << 30));
        s.size = basefont + (minus ? -delta : delta);
      }
    } else if (read_number(v, i, n)) {
      s.size = static_cast<int64_t>(std::min<uint64_t>(n, 1u << 30));
    }
  }
  bool style_ok = tag == style_tag::table || tag == style_tag::td || tag == style_tag::tr ||
                  tag == style_tag::span || tag == style_tag::p || tag == style_tag::div ||
                  tag == style_tag::a;
  if (style_ok && attrs.has_style) {
    std::string_view st = attrs.style;
    size_t start = 0;
    while (start <= st.size()) {
      size_t semi = st.find(';', start);
      if (semi == std::string_view::npos) semi = st.size();
      apply_css(st.substr(start, semi - start), parent, s);
      start = semi + 1;
    }
    if (s.bg == kTransparent) s.bg = parent.bg;
    if (s.fg == kTransparent) s.fg = s.bg;
  }
  // HTML.pm compares the size after each permitted attribute (only "size" changes it).
  if (attrs.any_ok) {
    if (s.size > facts.max_size) {
      facts.max_size = s.size;
    } else if (s.size < facts.min_size) {
      facts.min_size = s.size;
    }
  }
  stack.push_back(s);
}

// HTML.pm close_tag(): pop up to and including the innermost `tag`, if it is open.
void close_style(std::vector<text_style>& stack, style_tag tag) {
  if (tag == style_tag::body) return;  // "don't close body"
  bool open = false;
  for (const text_style& s : stack) open = open || s.tag == tag;
  if (!open) return;
  while (!stack.empty()) {
    style_tag top = stack.back().tag;
    stack.pop_back();
    if (top == tag) break;
  }
}

// HTML.pm html_font_invisible(), which also records font_low_contrast and
// font_invalid_color in `facts`.
bool invisible(const text_style& s, html_facts& facts) {
  if (s.fg == s.bg) {
    facts.font_low_contrast = true;
    return true;
  }
  if (s.fg >= 0 && s.bg >= 0) {
    double r = ((s.fg >> 16) & 0xFF) - ((s.bg >> 16) & 0xFF);
    double g = ((s.fg >> 8) & 0xFF) - ((s.bg >> 8) & 0xFF);
    double b = (s.fg & 0xFF) - (s.bg & 0xFF);
    double distance = std::sqrt((0.2126 * r) * (0.2126 * r) + (0.7152 * g) * (0.7152 * g) +
                                (0.0722 * b) * (0.0722 * b));
    if (distance < 12) {
      facts.font_low_contrast = true;
      return true;
    }
  }
  if (s.fg == kInvalidColor || s.bg == kInvalidColor) {
    facts.font_invalid_color = true;
    return true;
  }
  if (s.size <= 1) return true;
  return s.display_none || s.visibility_hidden;
}

// SA HTML.pm display_text(): the rendered text is a list of pieces, text or whitespace
// (what a block tag adds); the output is their concatenation.
class sa_text {
 public:
  explicit sa_text(std::string& out) : out_(out) {}

  // display_text($ws, whitespace => 1): "trim trailing whitespace from previous element
  // if it was not whitespace".
  void whitespace(std::string_view ws) {
    if (pieces_ && !last_whitespace_ && !last_invisible_ && last_len_ > 0 && out_.back() == ' ') {
      out_.pop_back();
    }
    out_.append(ws);
    pieces_ = true;
    last_whitespace_ = true;
    last_invisible_ = false;
    last_len_ = ws.size();
  }

  // display_text($text) for one text event (already entity-decoded):
  //   s/[ \t\n\r\f\x0b]+|\xc2\xa0/ /gs  (on characters: U+00C2 U+00A0, "Â<nbsp>")
  // then "trim leading whitespace if previous element was whitespace" - unless this text
  // is invisible (html_font_invisible).
  void text(std::string_view s, bool invisible) {
    if (s.empty()) return;
    size_t start = out_.size();
    for (size_t i = 0; i < s.size();) {
      if (is_ascii_space(s[i])) {
        while (i < s.size() && is_ascii_space(s[i])) ++i;
        out_.push_back(' ');
      } else if (s.substr(i, 4) == "\xC3\x82\xC2\xA0") {
        out_.push_back(' ');
        i += 4;
      } else {
        out_.push_back(s[i++]);
      }
    }
    if (pieces_ && last_whitespace_ && !invisible && out_.size() > start && out_[start] == ' ') {
      out_.erase(start, 1);
    }
    pieces_ = true;
    last_whitespace_ = false;
    last_invisible_ = invisible;
    last_len_ = out_.size() - start;
  }

  bool has_pieces() const { return pieces_; }
  // The last piece as it stands (a later whitespace piece may still trim its space).
  std::string_view last_piece() const {
    return std::string_view(out_).substr(out_.size() - std::min(last_len_, out_.size()));
  }

 private:
  // HTML.pm's class: no Unicode spaces, and (unlike is_html_space) \v.
  static bool is_ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  }
  std::string& out_;
  bool pieces_ = false;
  bool last_whitespace_ = false;
  bool last_invisible_ = false;
  size_t last_len_ = 0;
};

// HTML.pm html_whitespace(), for start and end tags of these elements.
std::string_view whitespace_of(std::string_view tag) {
  static constexpr std::string_view kLine[] = {"br", "div"};
  static constexpr std::string_view kWord[] = {"li", "th", "td", "dd", "dt", "embed",
                                               "h1", "h2", "h3", "h4", "h5", "h6"};
  static constexpr std::string_view kParagraph[] = {
      "p", "hr", "blockquote", "pre", "listing", "plaintext", "xmp", "title"};
  for (std::string_view t : kLine) {
    if (t == tag) return "\n";
  }
  for (std::string_view t : kWord) {
    if (t == tag) return " ";
  }
  for (std::string_view t : kParagraph) {
    if (t == tag) return "\n\n";
  }
  return {};
}

// HTML::Parser's literal elements: their content is text up to "</name\s*>", with
// entities decoded (title, textarea) or not (xmp, iframe, plaintext - which never
// ends);
// script and style content is dropped.
enum class literal { none, dropped, decoded, raw, raw_forever };

literal literal_kind(std::string_view tag) {
  if (tag == "script" || tag == "style") return literal::dropped;
  if (tag == "title" || tag == "textarea") return literal::decoded;
  if (tag == "xmp" || tag == "iframe") return literal::raw;
  if (tag == "plaintext") return literal::raw_forever;
  return literal::none;
}

// SA's %elements_uri / html_uri: which attribute of which tag is a link.
bool is_link_attribute(std::string_view tag, std::string_view attr) {
  if (attr == "href") {
    return tag == "a" || tag == "area" || tag == "link" || tag == "base";
  }
  if (attr == "data-saferedirecturl") return tag == "a" || tag == "area" || tag == "link";
  if (attr == "src") {
    return tag == "img" || tag == "frame" || tag == "iframe" || tag == "embed" ||
           tag == "script" || tag == "bgsound" || tag == "input";
  }
  if (attr == "background") {
    return tag == "body" || tag == "table" || tag == "tr" || tag == "td" || tag == "th";
  }
  if (attr == "action") return tag == "form";
  return false;
}

// HTML.pm %elements (HTML 4.01 / XHTML 1.0 strict and loose, and nobr x-sigsep x-tab).
bool is_html_element(std::string_view tag) {
  static const std::set<std::string_view> names = {
      "a", "abbr", "acronym", "address", "area", "b", "base", "bdo", "big", "blockquote",
      "body", "br", "button", "caption", "cite", "code", "col", "colgroup", "dd", "del",
      "dfn", "div", "dl", "dt", "em", "fieldset", "form", "h1", "h2", "h3", "h4", "h5",
      "h6", "head", "hr", "html", "i", "img", "input", "ins", "kbd", "label", "legend",
      "li", "link", "map", "meta", "noscript", "object", "ol", "optgroup", "option", "p",
      "param", "pre", "q", "samp", "script", "select", "small", "span", "strong", "style",
      "sub", "sup", "table", "tbody", "td", "textarea", "tfoot", "th", "thead", "title",
      "tr", "tt", "ul", "var", "applet", "basefont", "center", "dir", "font", "frame",
      "frameset", "iframe", "isindex", "menu", "noframes", "s", "strike", "u", "nobr",
      "x-sigsep", "x-tab"};
  return names.contains(tag);
}

// HTML.pm %tricks: rendered but not counted as valid.
bool is_trick_element(std::string_view tag) {
  return tag == "bgsound" || tag == "embed" || tag == "listing" || tag == "plaintext" ||
         tag == "xmp";
}

// HTML.pm html_tag's m@^(?:o|st\d):[\w-]+/?$@ (Office namespaces: counted as elements,
// otherwise ignored).
bool is_office_namespace(std::string_view tag) {
  size_t i = 0;
  if (tag.substr(0, 2) == "o:") {
    i = 2;
  } else if (tag.size() >= 4 && tag.substr(0, 2) == "st" && is_digit(tag[2]) && tag[3] == ':') {
    i = 4;
  } else {
    return false;
  }
  if (!tag.empty() && tag.back() == '/') tag.remove_suffix(1);
  if (i >= tag.size()) return false;
  for (; i < tag.size(); ++i) {
    if (!is_alnum(tag[i]) && tag[i] != '_' && tag[i] != '-') return false;
  }
  return true;
}

// HTML.pm html_tests' font face check (bugs 5956, 7312):
// /^\s*["'.]?[a-z ][a-z -]*[a-z]\d?["']?(?:,\s*["']?[a-z][a-z -]*[a-z]\d?["']?)*;?$/i
bool font_face_ok(std::string_view v) {
  auto letter = [](char c) { return is_alpha(c); };
  size_t i = 0;
  while (i < v.size() && is_html_space(v[i])) ++i;
  // One name: [a-z][a-z -]*[a-z]\d? (the first may be a space instead, see `first`).
  // The class [a-z -]* can give back characters, so the name ends at the last letter
  // of the run of [a-z -] (then an optional digit).
  auto name = [&](bool first) {
    if (i >= v.size()) return false;
    if (!(letter(v[i]) || (first && v[i] == ' '))) return false;
    size_t run = i + 1;
    while (run < v.size() && (letter(v[run]) || v[run] == ' ' || v[run] == '-')) ++run;
    size_t last = run;
    while (last > i + 1 && !letter(v[last - 1])) --last;
    if (last <= i + 1 || !letter(v[last - 1])) return false;  // needs two characters
    i = last;
    if (i < v.size() && is_digit(v[i])) ++i;
    return true;
  };
  if (i < v.size() && (v[i] == '"' || v[i] == '\'' || v[i] == '.')) ++i;
  if (!name(true)) return false;
  if (i < v.size() && (v[i] == '"' || v[i] == '\'')) ++i;
  while (i < v.size() && v[i] == ',') {
    ++i;
    while (i < v.size() && is_html_space(v[i])) ++i;
    if (i < v.size() && (v[i] == '"' || v[i] == '\'')) ++i;
    if (!name(false)) return false;
    if (i < v.size() && (v[i] == '"' || v[i] == '\'')) ++i;
  }
  if (i < v.size() && v[i] == ';') ++i;
  if (i < v.size() && v[i] == '\n') ++i;  // '$' also matches before a final newline
  return i == v.size();
}

// HTML.pm html_tests' /^(\d+)(\%)?$/ for an <img> width or height; 0 when it does not
// match ('%' scales by `percent_of`, an 800x600 screen).
uint64_t image_dimension(std::string_view v, uint64_t percent_of) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < v.size() && is_digit(v[i])) n = std::min<uint64_t>(n * 10 + (v[i++] - '0'), 1u << 20);
  if (i == 0) return 0;
  if (i < v.size() && v[i] == '%') {
    ++i;
    n *= percent_of;
  }
  if (i < v.size() && v[i] == '\n') ++i;
  return i == v.size() ? n : 0;
}

// Characters in UTF-8 text (bytes that do not continue a sequence).
size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Unicode whitespace characters (Perl's \s on a character string) in UTF-8 text.
size_t utf8_spaces(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == ' ' || (c >= '\t' && c <= '\r')) {
      ++n;
    } else if (c == 0xC2 && i + 1 < s.size()) {
      unsigned char d = static_cast<unsigned char>(s[i + 1]);
      n += d == 0x85 || d == 0xA0;
    } else if (c == 0xE1 && s.substr(i, 3) == "\xE1\x9A\x80") {
      ++n;
    } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80) {
      unsigned char d = static_cast<unsigned char>(s[i + 2]);
      n += (d >= 0x80 && d <= 0x8A) || d == 0xA8 || d == 0xA9 || d == 0xAF;
    } else if (c == 0xE2 && s.substr(i, 3) == "\xE2\x81\x9F") {
      ++n;
    } else if (c == 0xE3 && s.substr(i, 3) == "\xE3\x80\x80") {
      ++n;
    }
  }
  return n;
}

// HTML.pm html_text's obfuscation test: a character that is neither whitespace nor
// ASCII punctuation ([^\s\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]).
bool is_wordish(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x80) return true;
  if (u == ' ' || (u >= '\t' && u <= '\r')) return false;
  return !((u >= 0x21 && u <= 0x2f) || (u >= 0x3a && u <= 0x40) || (u >= 0x5b && u <= 0x60) ||
           (u >= 0x7b && u <= 0x7e));
}

// The attributes html_tests() reads, first of each, entity-decoded.
struct test_attributes {
  std::string width, height, face, action;
  bool has_width = false, has_height = false, has_face = false, has_action = false;
  void clear() { *this = test_attributes{}; }
};

class html_renderer {
 public:
  html_renderer(std::string_view html, size_t max_uris)
      : source_length_(utf8_length(html)),
        prepared_(sa_prepare(html)),
        s_(prepared_),
        max_uris_(max_uris),
        find_(s_),
        text_(result_.text) {
    result_.text.reserve(s_.size() / 2);
  }

  html_render run() {
    while (pos_ < s_.size()) {
      size_t lt = next_markup(pos_);
      // HTML::Parser reports the text in pieces, each '<' that starts no markup opening
      // a new one (which matters to display_text's trimming of invisible text).
      while (pos_ < lt) {
        size_t next = s_.find('<', pos_ + 1);
        if (next == std::string_view::npos || next > lt) next = lt;
        text(s_.substr(pos_, next - pos_), true);
        pos_ = next;
      }
      if (pos_ < s_.size()) markup();
    }
    // HTML::Parser ends an unclosed <title> at eof (its end tag adds HTML.pm's "\n\n").
    if (open_title_) text_.whitespace("\n\n");
    result_.facts.length = source_length_;
    result_.facts.html_length = utf8_length(result_.text);
    result_.facts.non_space_len = result_.facts.html_length - utf8_spaces(result_.text);
    return std::move(result_);
  }

 private:
  // The next '<' at or after `from` that HTML::Parser takes for markup: a start tag
  // ('<' and a letter, '_' or ':'), an end tag or bogus end tag ("</"), a comment or
  // declaration ("<!") or a processing instruction ("<?"). Any other '<' is text.
  size_t next_markup(size_t from) const {
    while (true) {
      size_t lt = s_.find('<', from);
      if (lt == std::string_view::npos || lt + 1 >= s_.size()) return s_.size();
      char c = s_[lt + 1];
      if (is_alpha(c) || c == '_' || c == ':' || c == '/' || c == '!' || c == '?') return lt;
      from = lt + 1;
    }
  }

  void text(std::string_view raw, bool decode) {
    if (!decode) {
      record_text(raw);
      text_.text(raw, is_invisible(raw));
      return;
    }
    decoded_.clear();
    for (size_t i = 0; i < raw.size();) {
      size_t amp = raw.find('&', i);
      if (amp == std::string_view::npos) amp = raw.size();
      decoded_.append(raw, i, amp - i);
      if (amp >= raw.size()) break;
      size_t n = decode_text_entity(raw.substr(amp), decoded_);
      if (n == 0) {
        decoded_.push_back('&');
        n = 1;
      }
      i = amp + n;
    }
    record_text(decoded_);
    text_.text(decoded_, is_invisible(decoded_));
  }

  // HTML.pm html_text()'s bookkeeping before display_text(): anchor and title text, and
  // the obfuscation count (text that continues the previous piece's word).
  void record_text(std::string_view t) {
    html_facts& f = result_.facts;
    if (inside("a") > 0 && !f.anchors.empty() && f.anchors.back().size() < kMaxFactText) {
      f.anchors.back().append(t.substr(0, kMaxFactText - f.anchors.back().size()));
    }
    if (inside("title") > 0 && !f.titles.empty() && f.titles.back().size() < kMaxFactText) {
      f.titles.back().append(t.substr(0, kMaxFactText - f.titles.back().size()));
    }
    if (text_.has_pieces() && !t.empty() && is_wordish(t.front())) {
      std::string_view last = text_.last_piece();
      if (!last.empty() && is_wordish(last.back())) ++f.obfuscation;
    }
  }

  int64_t inside(std::string_view tag) const {
    auto it = result_.facts.inside.find(tag);
    return it == result_.facts.inside.end() ? 0 : it->second;
  }

  // HTML.pm html_tag(): counts, then (for start tags of known elements) html_tests().
  void count_tag(bool end_tag) {
    html_facts& f = result_.facts;
    bool office = is_office_namespace(tag_);
    auto it = f.inside.find(tag_);
    bool seen = it != f.inside.end();
    if (is_html_element(tag_) || office) {
      ++f.elements;
      if (!seen) ++f.elements_seen;
    }
    ++f.tags;
    if (!seen) {
      ++f.tags_seen;
      it = f.inside.emplace(tag_, 0).first;
    }
    it->second += end_tag ? -1 : 1;
    if (it->second < 0) {
      it->second = 0;
      ++f.closed_extra;
    }
    if (office || end_tag || !(is_html_element(tag_) || is_trick_element(tag_))) return;
    if (tag_ == "font" && test_attrs_.has_face && !font_face_ok(test_attrs_.face)) {
      f.font_face_bad = true;
    }
    if (tag_ == "img" && inside("a") > 0 && !f.anchors.empty() &&
        f.anchors.back().size() < kMaxFactText) {
      f.anchors.back().append("<img>\n");
    }
    if (tag_ == "img" && test_attrs_.has_width && test_attrs_.has_height) {
      uint64_t width = image_dimension(test_attrs_.width, 8);
      uint64_t height = image_dimension(test_attrs_.height, 6);
      if (width == 0) width = 200;  // guess size
      if (height == 0) height = 200;
      f.image_area += width * height;
    }
    if (tag_ == "form" && test_attrs_.has_action) {
      std::string action = lower_copy(test_attrs_.action);
      if (action.find("mailto:") != std::string::npos) f.form_action_mailto = true;
    }
    if (tag_ == "object" || tag_ == "embed") f.embeds = true;
    if (tag_ == "a" && f.anchors.size() < kMaxFactItems) f.anchors.emplace_back();
    if (tag_ == "title" && f.titles.size() < kMaxFactItems) f.titles.emplace_back();
  }

  // HTML.pm html_text(): only text with more than whitespace is tested.
  bool is_invisible(std::string_view t) {
    bool blank = true;
    for (char c : t) {
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') {
        blank = false;
        break;
      }
    }
    return !blank && invisible(styles_.back(), result_.facts);
  }

  // pos_ is at a '<' next_markup() accepted.
  void markup() {
    char c = s_[pos_ + 1];
    if (c == '!') {
      declaration();
      return;
    }
    if (c == '?') {  // <?xml ...?>: up to the first '>'
      skip_past('>', pos_ + 2);
      return;
    }
    bool end_tag = c == '/';
    size_t name_at = pos_ + (end_tag ? 2 : 1);
    if (end_tag && (name_at >= s_.size() || !is_alpha(s_[name_at]))) {
      skip_past('>', name_at);  // "</ x>", "</1>": a bogus comment
      return;
    }
    // With strict_names off a tag name runs to the first blank or '>'.
    size_t name_end = name_at;
    while (name_end < s_.size() && !is_html_space(s_[name_end]) && s_[name_end] != '>') {
      ++name_end;
    }
    tag_.clear();
    for (size_t i = name_at; i < name_end && i - name_at < kMaxName + 1; ++i) {
      tag_.push_back(lower(s_[i]));
    }
    pos_ = name_end;
    style_attrs_.clear();
    test_attrs_.clear();
    if (!attributes(!end_tag)) {
      pos_ = s_.size();  // the input ends inside the tag: dropped
      return;
    }
    ++result_.tags;
    if (!end_tag && tag_ == "img") ++result_.images;
    count_tag(end_tag);
    style_tag st = style_tag_of(tag_);
    if (st != style_tag::other) {
      if (end_tag) {
        close_style(styles_, st);
      } else {
        open_style(styles_, basefont_, st, style_attrs_, result_.facts);
      }
      if (styles_.empty()) styles_.emplace_back();  // never: "default" is never closed
    }
    std::string_view ws = whitespace_of(tag_);
    if (!ws.empty()) text_.whitespace(ws);
    if (!end_tag) literal_content(literal_kind(tag_));
  }

  // "<!--" comment, "<![CDATA[...]]>" (text, marked_sections), or a declaration.
  void declaration() {
    std::string_view rest = s_.substr(pos_);
    if (rest.substr(0, 4) == "<!--") {
      // Without strict_comment a comment ends at "--", optional blanks, '>'. With no
      // such end HTML::Parser at eof takes it for a bogus comment up to the first '>'.
      size_t start = pos_;
      size_t end = comment_end(pos_ + 4);
      if (end != std::string_view::npos) {
        pos_ = end;
      } else {
        skip_past('>', pos_ + 2);
      }
      if (result_.facts.comments.size() < kMaxFactItems) {
        result_.facts.comments.emplace_back(s_.substr(start, std::min(pos_ - start, kMaxFactText)));
      }
      return;
    }
    if (rest.substr(0, 9) == "<![CDATA[") {
      size_t end = s_.find("]]>", pos_ + 9);
      size_t text_end = end == std::string_view::npos ? s_.size() : end;
      text(s_.substr(pos_ + 9, text_end - pos_ - 9), false);
      pos_ = end == std::string_view::npos ? s_.size() : end + 3;
      return;
    }
    if (rest.size() >= 9 && lower(rest[2]) == 'd' && lower(rest[3]) == 'o') {
      ++result_.tags;
      // html_declaration(): <!doctype counts as an element and a tag.
      ++result_.facts.elements;
      ++result_.facts.tags;
      result_.facts.inside["!doctype"] = 0;
    }
    // <!DOCTYPE ...>, <![if ...]>: up to a '>' outside double quotes.
    size_t p = pos_ + 2;
    while (true) {
      size_t gt = find_.find('>', p);
      size_t quote = find_.find('"', p);
      if (gt == std::string_view::npos) {
        pos_ = s_.size();
        return;
      }
      if (quote == std::string_view::npos || gt < quote) {
        pos_ = gt + 1;
        return;
      }
      size_t close = find_.find('"', quote + 1);
      if (close == std::string_view::npos) {
        pos_ = s_.size();
        return;
      }
      p = close + 1;
    }
  }

  // Offset just past the end of a comment whose text starts at `from`, or npos. The
  // answer is remembered: when there is no end, every later comment has none either.
  size_t comment_end(size_t from) {
    if (comment_memo_valid_ && comment_memo_from_ <= from &&
        (comment_memo_ == std::string_view::npos || comment_memo_start_ >= from)) {
      return comment_memo_;
    }
    size_t p = from;
    size_t found = std::string_view::npos, found_start = 0;
    while (true) {
      size_t dashes = s_.find("--", p);
      if (dashes == std::string_view::npos) break;
      size_t q = dashes + 2;
      while (q < s_.size() && is_html_space(s_[q])) ++q;
      if (q < s_.size() && s_[q] == '>') {
        found = q + 1;
        found_start = dashes;
        break;
      }
      p = dashes + 1;
    }
    comment_memo_valid_ = true;
    comment_memo_from_ = from;
    comment_memo_ = found;
    comment_memo_start_ = found_start;
    return found;
  }

  void skip_past(char c, size_t from) {
    size_t at = find_.find(c, from);
    pos_ = at == std::string_view::npos ? s_.size() : at + 1;
  }

  // The attributes of a tag, up to and including its '>'; false when the input ends
  // first (inside the tag or inside a quoted value).
  bool attributes(bool start_tag) {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '>') {
        ++pos_;
        return true;
      }
      if (is_html_space(c)) {
        ++pos_;
        continue;
      }
      size_t name_start = pos_;
      while (pos_ < s_.size() && !is_html_space(s_[pos_]) && s_[pos_] != '>' &&
             (s_[pos_] != '=' || pos_ == name_start)) {
        ++pos_;
      }
      attr_.clear();
      for (size_t i = name_start; i < pos_ && i - name_start < kMaxName + 1; ++i) {
        attr_.push_back(lower(s_[i]));
      }
      size_t p = pos_;
      while (p < s_.size() && is_html_space(s_[p])) ++p;
      if (p >= s_.size() || s_[p] != '=' || attr_ == "=") continue;  // no value
      ++p;
      while (p < s_.size() && is_html_space(s_[p])) ++p;
      std::string_view value;
      if (p < s_.size() && (s_[p] == '"' || s_[p] == '\'')) {
        size_t close = find_.find(s_[p], p + 1);
        if (close == std::string_view::npos) return false;
        value = s_.substr(p + 1, close - p - 1);
        pos_ = close + 1;
      } else {
        size_t end = p;
        while (end < s_.size() && !is_html_space(s_[end]) && s_[end] != '>') ++end;
        value = s_.substr(p, end - p);
        pos_ = end;
      }
      if (start_tag) {
        attribute(value);
        style_attribute(value);
        test_attribute(value);
      }
    }
    return false;
  }

  void attribute(std::string_view raw) {
    bool refresh = tag_ == "meta" && attr_ == "content";
    if (!is_link_attribute(tag_, attr_) && !refresh) return;
    if (result_.uris.size() >= max_uris_) return;
    std::string value;
    for (size_t i = 0; i < raw.size() && value.size() < kMaxUriBytes;) {
      if (raw[i] == '&') {
        size_t n = decode_entity(raw.substr(i), value, true);
        if (n != 0) {
          i += n;
          continue;
        }
      }
      value.push_back(raw[i++]);
    }
    std::string_view v = value;
    if (refresh) {
      // <meta http-equiv="refresh" content="0; url=http://..."> (SA html_uri).
      size_t at = find_url_equals(v);
      if (at == std::string_view::npos) return;
      v.remove_prefix(at);
      v = v.substr(0, v.find(';'));
    }
    // SA canon_uri: no leading or trailing whitespace (NBSP included).
    auto blank_at_front = [](std::string_view x) {
      return !x.empty() && (is_html_space(x.front()) || x.substr(0, 2) == "\xC2\xA0");
    };
    while (blank_at_front(v)) v.remove_prefix(is_html_space(v.front()) ? 1 : 2);
    while (!v.empty() && (is_html_space(v.back()) ||
                          (v.size() >= 2 && v.substr(v.size() - 2) == "\xC2\xA0"))) {
      v.remove_suffix(is_html_space(v.back()) ? 1 : 2);
    }
    if (v.empty()) return;
    result_.uris.emplace_back(v.substr(0, kMaxUriBytes));
  }

  // Offset just after "url=" (any case, blanks around '=') in a refresh content value.
  static size_t find_url_equals(std::string_view v) {
    for (size_t i = 0; i + 3 < v.size(); ++i) {
      if (lower(v[i]) != 'u' || lower(v[i + 1]) != 'r' || lower(v[i + 2]) != 'l') continue;
      if (i > 0 && is_alnum(v[i - 1])) continue;
      size_t p = i + 3;
      while (p < v.size() && is_html_space(v[p])) ++p;
      if (p >= v.size() || v[p] != '=') continue;
      ++p;
      while (p < v.size() && is_html_space(v[p])) ++p;
      return p;
    }
    return std::string_view::npos;
  }

  // Keeps the attributes html_tests() reads (the first of each, entity-decoded).
  void test_attribute(std::string_view raw) {
    std::string* target = nullptr;
    bool* seen = nullptr;
    if (tag_ == "img" && attr_ == "width") {
      target = &test_attrs_.width, seen = &test_attrs_.has_width;
    } else if (tag_ == "img" && attr_ == "height") {
      target = &test_attrs_.height, seen = &test_attrs_.has_height;
    } else if (tag_ == "font" && attr_ == "face") {
      target = &test_attrs_.face, seen = &test_attrs_.has_face;
    } else if (tag_ == "form" && attr_ == "action") {
      target = &test_attrs_.action, seen = &test_attrs_.has_action;
    }
    if (target == nullptr || *seen) return;
    *seen = true;
    for (size_t i = 0; i < raw.size() && target->size() < kMaxFactText;) {
      if (raw[i] == '&') {
        size_t n = decode_entity(raw.substr(i), *target, true);
        if (n != 0) {
          i += n;
          continue;
        }
      }
      target->push_back(raw[i++]);
    }
  }

  // HTML.pm %ok_attributes: the attributes text_style() reads for a tag.
  bool ok_style_attribute() const {
    std::string_view t = tag_, a = attr_;
    if (t == "font" || t == "basefont") return a == "color" || a == "face" || a == "size";
    if (t == "body") {
      return a == "text" || a == "bgcolor" || a == "link" || a == "alink" || a == "vlink" ||
             a == "background";
    }
    if (t == "table" || t == "td" || t == "th" || t == "tr") return a == "bgcolor" || a == "style";
    if (t == "span" || t == "p" || t == "div" || t == "a") return a == "style";
    return false;
  }

  // Keeps the attributes text_style() reads (the first of each, entity-decoded).
  void style_attribute(std::string_view raw) {
    if (ok_style_attribute()) style_attrs_.any_ok = true;
    std::string* target = nullptr;
    bool* seen = nullptr;
    if (attr_ == "color") {
      target = &style_attrs_.color, seen = &style_attrs_.has_color;
    } else if (attr_ == "text") {
      target = &style_attrs_.text, seen = &style_attrs_.has_text;
    } else if (attr_ == "size") {
      target = &style_attrs_.size, seen = &style_attrs_.has_size;
    } else if (attr_ == "style") {
      target = &style_attrs_.style, seen = &style_attrs_.has_style;
    }
    if (target == nullptr || *seen) return;
    *seen = true;
    for (size_t i = 0; i < raw.size();) {
      if (raw[i] == '&') {
        size_t n = decode_entity(raw.substr(i), *target, true);
        if (n != 0) {
          i += n;
          continue;
        }
      }
      target->push_back(raw[i++]);
    }
  }

  // After the start tag of a literal element: its content up to "</name\s*>" (any case)
  // is text or nothing; unclosed, it runs to the end (for script and style SA bug 7437
  // closes them at eof the same way).
  void literal_content(literal kind) {
    if (kind == literal::none) return;
    size_t content_start = pos_;
    size_t content_end = s_.size();
    size_t after = s_.size();
    bool closed = false;
    if (kind != literal::raw_forever) {
      size_t p = pos_;
      while (true) {
        size_t lt = s_.find("</", p);
        if (lt == std::string_view::npos) break;
        size_t q = lt + 2;
        bool match = s_.size() - q >= tag_.size();
        for (size_t i = 0; match && i < tag_.size(); ++i) match = lower(s_[q + i]) == tag_[i];
        if (match) {
          q += tag_.size();
          while (q < s_.size() && is_html_space(s_[q])) ++q;
          if (q < s_.size() && s_[q] == '>') {
            content_end = lt;
            after = q + 1;
            closed = true;
            break;
          }
        }
        p = lt + 2;
      }
    }
    std::string_view content = s_.substr(content_start, content_end - content_start);
    if (kind == literal::decoded || kind == literal::raw || kind == literal::raw_forever) {
      text(content, kind == literal::decoded);
    }
    pos_ = after;
    if (closed || kind == literal::dropped) {
      // An unclosed <script>/<style> is closed at eof (SA bug 7437 parses "</style>").
      count_tag(true);
    }
    if (closed) {
      ++result_.tags;
      std::string_view ws = whitespace_of(tag_);
      if (!ws.empty()) text_.whitespace(ws);
    } else if (tag_ == "title") {
      open_title_ = true;
    }
  }

  size_t source_length_;
  std::string prepared_;
  std::string_view s_;
  size_t pos_ = 0;
  size_t max_uris_;
  html_render result_;
  forward_finder find_;
  sa_text text_;
  std::string tag_;
  std::string attr_;
  std::string decoded_;
  bool open_title_ = false;
  std::vector<text_style> styles_{text_style{}};
  int64_t basefont_ = 3;
  style_attributes style_attrs_;
  test_attributes test_attrs_;
  bool comment_memo_valid_ = false;
  size_t comment_memo_from_ = 0;
  size_t comment_memo_ = std::string_view::npos;
  size_t comment_memo_start_ = 0;
};

}  // namespace

size_t decode_html_entity(std::string_view in, std::string& out) {
  if (in.empty() || in[0] != '&') return 0;
  return decode_entity(in, out, false);
}

html_render render_html(std::string_view html, size_t max_uris) {
  return html_renderer(html, max_uris).run();
}

}  // namespace ringmail::mail
