#include "spam/match/tag_prefilter.h"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <vector>

namespace ringmail::spam {
namespace {

constexpr std::string_view kGenericMultibyte = R"([\xc0-\xf7][\x80-\xbf]+)";
constexpr std::string_view kGenericEntity = R"(&\#[0-9a-fA-FxX]*;)";

// Deeper nesting than any stock tag; the limit keeps hostile input off the stack.
constexpr int kMaxGroupDepth = 32;

// ---- Structure: where the top-level `|` are --------------------------------------------
// Only the syntax that can hide `(`, `)`, `[`, `]` or `|` matters here: escapes
// (including \Q...\E quoting and \cX), bracket classes (with `]` first, escapes and POSIX
// [:name:] inside) and (?#...) comments.

// Position after the escape starting at text[pos] == '\\', or nullopt for a trailing `\`.
std::optional<size_t> skip_escape(std::string_view text, size_t pos) {
  if (pos + 1 >= text.size()) return std::nullopt;
  const char kind = text[pos + 1];
  if (kind == 'Q') {  // literal up to \E, or to the end of the pattern (perlre, PCRE2)
    const size_t end = text.find("\\E", pos + 2);
    return end == std::string_view::npos ? text.size() : end + 2;
  }
  if (kind == 'c') {  // \cX: X is any character, even `]` or `(`
    if (pos + 2 >= text.size()) return std::nullopt;
    return pos + 3;
  }
  return pos + 2;  // \xHH, \x{...}, \p{..}: the rest holds nothing structural
}

// Whether text[pos] == '[' inside a class opens a POSIX class such as [:alpha:]; if so,
// the position after its closing `:]`. Mirrors PCRE2's check_posix_syntax().
std::optional<size_t> posix_class_end(std::string_view text, size_t pos) {
  if (pos + 1 >= text.size()) return std::nullopt;
  const char terminator = text[pos + 1];
  if (terminator != ':' && terminator != '.' && terminator != '=') return std::nullopt;
  for (size_t i = pos + 2; i < text.size(); ++i) {
    const char c = text[i];
    const bool has_next = i + 1 < text.size();
    if (c == '\\' && has_next && (text[i + 1] == ']' || text[i + 1] == '\\')) {
      ++i;
    } else if ((c == '[' && has_next && text[i + 1] == terminator) || c == ']') {
      return std::nullopt;
    } else if (c == terminator && has_next && text[i + 1] == ']') {
      return i + 2;
    }
  }
  return std::nullopt;
}

// Position after the class starting at text[pos] == '[', or nullopt when it never closes.
std::optional<size_t> skip_class(std::string_view text, size_t pos) {
  size_t i = pos + 1;
  if (i < text.size() && text[i] == '^') ++i;
  if (i < text.size() && text[i] == ']') ++i;  // a leading `]` is a member
  while (i < text.size()) {
    const char c = text[i];
    if (c == ']') return i + 1;
    if (c == '\\') {
      const auto next = skip_escape(text, i);
      if (!next) return std::nullopt;
      i = *next;
    } else if (c == '[') {
      const auto end = posix_class_end(text, i);
      i = end ? *end : i + 1;
    } else {
      ++i;
    }
  }
  return std::nullopt;
}

// Whether the `(` at text[pos] starts inline flags that turn on extended mode, (?x) or
// (?ix:...): from there on `#` starts a comment and whitespace is ignored, which this
// scanner does not model.
bool enables_extended_mode(std::string_view text, size_t pos) {
  if (pos + 1 >= text.size() || text[pos + 1] != '?') return false;
  bool has_x = false;
  for (size_t i = pos + 2; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ')' || c == ':') return has_x;
    if (c == '-') return has_x;  // flags after `-` are turned off
    if (c == 'x') has_x = true;
    else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '^')) return false;
  }
  return false;
}

struct structure {
  std::vector<size_t> top_level_bars;    // positions of `|` outside any group or class
  size_t first_top_level_close = std::string_view::npos;  // `)` that first returns to depth 0
};

std::optional<structure> scan_structure(std::string_view text) {
  structure result;
  int depth = 0;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\\') {
      const auto next = skip_escape(text, i);
      if (!next) return std::nullopt;
      i = *next;
    } else if (c == '[') {
      const auto next = skip_class(text, i);
      if (!next) return std::nullopt;
      i = *next;
    } else if (c == '(') {
      if (text.substr(i, 3) == "(?#") {  // comment: ends at the first `)`, no escapes
        const size_t end = text.find(')', i + 3);
        if (end == std::string_view::npos) return std::nullopt;
        i = end + 1;
        continue;
      }
      if (enables_extended_mode(text, i)) return std::nullopt;
      if (++depth > kMaxGroupDepth) return std::nullopt;
      ++i;
    } else if (c == ')') {
      if (depth == 0) return std::nullopt;
      if (--depth == 0 && result.first_top_level_close == std::string_view::npos) {
        result.first_top_level_close = i;
      }
      ++i;
    } else {
      if (c == '|' && depth == 0) result.top_level_bars.push_back(i);
      ++i;
    }
  }
  if (depth != 0) return std::nullopt;
  return result;
}

std::vector<std::string_view> split_at(std::string_view text, const std::vector<size_t>& bars) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (const size_t bar : bars) {
    parts.push_back(text.substr(start, bar - start));
    start = bar + 1;
  }
  parts.push_back(text.substr(start));
  return parts;
}

// The value's top-level alternatives, or nullopt when it is malformed.
std::optional<std::vector<std::string_view>> top_level_alternatives(std::string_view value) {
  const auto outer = scan_structure(value);
  if (!outer) return std::nullopt;
  const bool one_group = value.substr(0, 3) == "(?:" &&
                         outer->first_top_level_close == value.size() - 1;
  if (!one_group) return split_at(value, outer->top_level_bars);
  const std::string_view inside = value.substr(3, value.size() - 4);
  const auto inner = scan_structure(inside);
  if (!inner) return std::nullopt;
  return split_at(inside, inner->top_level_bars);
}

// ---- Multibyte alternatives --------------------------------------------------------------

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct byte_range {
  unsigned lo;
  unsigned hi;
};

// A recursive-descent reader over one alternative. Any syntax outside its small grammar
// makes it fail, and the alternative is then kept verbatim.
class multibyte_reader {
 public:
  explicit multibyte_reader(std::string_view text) : text_(text) {}

  // Lead class, then a sequence of continuation classes and groups that always takes at
  // least one byte, then the end.
  bool matches() {
    const auto lead = read_class();
    if (!lead || lead->lo < 0xC0 || lead->hi > 0xF7) return false;
    const auto rest = read_sequence(0);
    return rest && *rest >= 1 && pos_ == text_.size();
  }

 private:
  // `\xHH`, exactly two hex digits as the stock tags write them.
  std::optional<unsigned> read_hex_byte() {
    if (text_.substr(pos_, 2) != "\\x" || pos_ + 4 > text_.size()) return std::nullopt;
    const int high = hex_digit(text_[pos_ + 2]);
    const int low = hex_digit(text_[pos_ + 3]);
    if (high < 0 || low < 0) return std::nullopt;
    pos_ += 4;
    return static_cast<unsigned>(high * 16 + low);
  }

  // `[` (`\xHH` | `\xHH-\xHH`)+ `]`: the lowest and highest byte it holds.
  std::optional<byte_range> read_class() {
    if (pos_ >= text_.size() || text_[pos_] != '[') return std::nullopt;
    ++pos_;
    byte_range range{0xFF, 0x00};
    bool any = false;
    while (pos_ < text_.size() && text_[pos_] != ']') {
      const auto lo = read_hex_byte();
      if (!lo) return std::nullopt;
      unsigned hi = *lo;
      if (pos_ < text_.size() && text_[pos_] == '-') {
        ++pos_;
        const auto end = read_hex_byte();
        if (!end || *end < *lo) return std::nullopt;
        hi = *end;
      }
      range.lo = std::min(range.lo, *lo);
      range.hi = std::max(range.hi, hi);
      any = true;
    }
    if (pos_ >= text_.size() || !any) return std::nullopt;
    ++pos_;  // `]`
    return range;
  }

  // Continuation classes and groups up to `|`, `)` or the end: the fewest bytes it takes.
  std::optional<size_t> read_sequence(int depth) {
    size_t min_bytes = 0;
    while (pos_ < text_.size() && text_[pos_] != '|' && text_[pos_] != ')') {
      if (text_[pos_] == '[') {
        const auto range = read_class();
        if (!range || range->lo < 0x80 || range->hi > 0xBF) return std::nullopt;
        ++min_bytes;
      } else {
        const auto group = read_group(depth + 1);
        if (!group) return std::nullopt;
        min_bytes += *group;
      }
    }
    return min_bytes;
  }

  // `(?:` seq (`|` seq)* `)`: the fewest bytes any branch takes.
  std::optional<size_t> read_group(int depth) {
    if (depth > kMaxGroupDepth || text_.substr(pos_, 3) != "(?:") return std::nullopt;
    pos_ += 3;
    std::optional<size_t> fewest;
    while (true) {
      const auto branch = read_sequence(depth);
      if (!branch) return std::nullopt;
      fewest = fewest ? std::min(*fewest, *branch) : *branch;
      if (pos_ >= text_.size()) return std::nullopt;
      if (text_[pos_++] == ')') return fewest;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// ---- Entity alternatives -----------------------------------------------------------------

// The characters `&\#[0-9a-fA-FxX]*;` allows between `&#` and `;`.
bool is_entity_char(char c) { return hex_digit(c) >= 0 || c == 'x' || c == 'X'; }

class entity_reader {
 public:
  explicit entity_reader(std::string_view text) : text_(text) {}

  bool matches() {
    std::string_view inner;
    if (text_.substr(0, 3) == "&\\#") {
      inner = text_.substr(3);
    } else if (text_.substr(0, 2) == "&#") {
      inner = text_.substr(2);
    } else {
      return false;
    }
    if (inner.empty() || inner.back() != ';') return false;
    text_ = inner.substr(0, inner.size() - 1);
    return read_sequence(0) && pos_ == text_.size();
  }

 private:
  // Atoms, each optionally followed by one `?`, up to `|`, `)` or the end.
  bool read_sequence(int depth) {
    while (pos_ < text_.size() && text_[pos_] != '|' && text_[pos_] != ')') {
      const char c = text_[pos_];
      if (is_entity_char(c)) {
        ++pos_;
      } else if (c == '[') {
        if (!read_class()) return false;
      } else if (c == '(') {
        if (!read_group(depth + 1)) return false;
      } else {
        return false;  // `?` with nothing before it, or a character outside the set
      }
      if (pos_ < text_.size() && text_[pos_] == '?') ++pos_;
    }
    return true;
  }

  // `[` then members that are entity characters or ranges of them, `]`. A range must
  // not reach past them: [0-f] would also hold `;`, `:`, `A`-`Z`...
  bool read_class() {
    ++pos_;  // `[`
    bool any = false;
    while (pos_ < text_.size() && text_[pos_] != ']') {
      const char lo = text_[pos_];
      if (!is_entity_char(lo)) return false;
      ++pos_;
      if (pos_ + 1 < text_.size() && text_[pos_] == '-' && text_[pos_ + 1] != ']') {
        const char hi = text_[pos_ + 1];
        if (hi < lo) return false;
        for (char c = lo; c <= hi; ++c) {
          if (!is_entity_char(c)) return false;
          if (c == hi) break;  // no overflow past 0x7F
        }
        pos_ += 2;
      }
      any = true;
    }
    if (pos_ >= text_.size() || !any) return false;  // unclosed, or `[]...`
    ++pos_;
    return true;
  }

  bool read_group(int depth) {
    if (depth > kMaxGroupDepth || text_.substr(pos_, 3) != "(?:") return false;
    pos_ += 3;
    while (true) {
      if (!read_sequence(depth)) return false;
      if (pos_ >= text_.size()) return false;
      if (text_[pos_++] == ')') return true;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::string simplify_tag_value(std::string_view value) {
  // A \Q without its \E quotes everything after it, the group's `|` and `)` we would
  // append too (found by the fuzzer). No stock tag quotes: leave any that does alone.
  if (value.find("\\Q") != std::string_view::npos) return std::string(value);
  const auto alternatives = top_level_alternatives(value);
  if (!alternatives) return std::string(value);

  std::vector<std::string_view> kept;
  bool any_multibyte = false;
  bool any_entity = false;
  for (const std::string_view alternative : *alternatives) {
    if (multibyte_reader(alternative).matches()) {
      any_multibyte = true;
    } else if (entity_reader(alternative).matches()) {
      any_entity = true;
    } else {
      kept.push_back(alternative);
    }
  }
  if (!any_multibyte && !any_entity) return std::string(value);

  if (any_multibyte) kept.push_back(kGenericMultibyte);
  if (any_entity) kept.push_back(kGenericEntity);
  std::string result = "(?:";
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) result += '|';
    result += kept[i];
  }
  result += ')';
  // A short value (SHY: `(?:=ad|[\xc2][\xad]|[\xad]|&\#xad;|&\#173;|&shy;)`) would only
  // get longer and match more; the value itself is the better superset of itself.
  if (result.size() >= value.size()) return std::string(value);
  return result;
}

}  // namespace ringmail::spam
