// Perl regex (as SpamAssassin rule files write them) -> the PCRE syntax that both
// Hyperscan and PCRE2 read. Most Perl syntax is PCRE syntax already; what is rewritten
// here is what one of the two engines reads differently or not at all:
//   - the /x modifier: whitespace and #comments outside classes are removed here, so
//     neither engine needs an extended flag (Perl `perlre`, "/x");
//   - (?#comments) are removed;
//   - \Q...\E is expanded (Perl applies it when the regex is interpolated);
//   - \h \H \v \V \R \N \e become explicit classes/bytes: Hyperscan reads \v as the
//     vertical-tab character, Perl and PCRE2 as "vertical whitespace";
//   - an escaped delimiter "\/" becomes "/";
//   - a ']' first in a class is escaped (both engines agree, but explicit is safer).
// Octets, not UTF-8: \w \d \s are the ASCII classes, as Perl applies them to the byte
// strings SpamAssassin matches.
//
// Line mode (body, rawbody, uri): SpamAssassin runs those rules once per paragraph line
// (Mail::SpamAssassin::PerMsgStatus::do_body_tests), while we scan all lines in one
// buffer with '^'/'$' matching at every '\n'. So that nothing matches across a line break
// as it could not in SpamAssassin, line mode also: drops /s (a line has no '\n' for '.'
// to match), turns \A into ^ and \z \Z into $, and removes '\n' from every class that
// would contain it (\s \W \D \v \H, negated classes). An explicit \n is left alone: it
// can match a line break here where it never matches in SpamAssassin (no stock body,
// rawbody or uri rule writes one).
#include <cctype>
#include <string>
#include <string_view>

#include "spam/match/matcher.h"

namespace ringmail::spam {
namespace {

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Byte ranges for the complements of \w and \d without '\n', for use inside a class
// (a class cannot subtract). ASCII \w is [0-9A-Za-z_].
constexpr std::string_view non_word_no_newline = "\\x00-\\x09\\x0B-\\x2F\\x3A-\\x40\\x5B-\\x5E\\x60\\x7B-\\xFF";
constexpr std::string_view non_digit_no_newline = "\\x00-\\x09\\x0B-\\x2F\\x3A-\\xFF";
// Perl \h in byte strings: tab, space, NBSP. \v: LF VT FF CR NEL.
constexpr std::string_view horizontal_space = "\\t \\xA0";
constexpr std::string_view non_horizontal_space = "\\x00-\\x08\\x0A-\\x1F\\x21-\\x9F\\xA1-\\xFF";
constexpr std::string_view non_horizontal_space_no_newline = "\\x00-\\x08\\x0B-\\x1F\\x21-\\x9F\\xA1-\\xFF";
constexpr std::string_view vertical_space = "\\n\\x0B\\f\\r\\x85";
constexpr std::string_view vertical_space_no_newline = "\\x0B\\f\\r\\x85";
constexpr std::string_view non_vertical_space = "\\x00-\\x09\\x0E-\\x84\\x86-\\xFF";
// \s without '\n' (Perl >= 5.18 and PCRE2 both include VT in \s).
constexpr std::string_view space_no_newline = "\\t\\x0B\\f\\r ";

class translator {
 public:
  translator(const std::string& pattern, const translate_options& options, bool extended)
      : in_(pattern), line_mode_(options.line_mode), extended_(extended) {
    out_.reserve(pattern.size() + 16);
  }

  std::string run() {
    while (pos_ < in_.size()) {
      if (in_class_) {
        class_char();
      } else {
        outside_char();
      }
    }
    return std::move(out_);
  }

 private:
  // Appends `c` so that it is a literal in either context.
  void literal(char c) {
    if (!is_alnum(c) && c != '_' && static_cast<unsigned char>(c) < 0x80) out_ += '\\';
    if (c == '\n') {  // "\<newline>" is fine for PCRE, but be explicit
      out_.pop_back();
      out_ += "\\n";
      return;
    }
    if (c == '\0') {
      out_ += "x00";
      return;
    }
    out_ += c;
  }

  // \Q...\E: everything up to \E (or the end) is literal. `pos_` is after "\Q".
  void quoted() {
    while (pos_ < in_.size()) {
      if (in_[pos_] == '\\' && pos_ + 1 < in_.size() && in_[pos_ + 1] == 'E') {
        pos_ += 2;
        return;
      }
      literal(in_[pos_++]);
    }
  }

  void outside_char() {
    char c = in_[pos_];
    if (extended_ && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')) {
      ++pos_;
      return;
    }
    if (extended_ && c == '#') {
      while (pos_ < in_.size() && in_[pos_] != '\n') ++pos_;
      return;
    }
    if (c == '\\') {
      escape_outside();
      return;
    }
    if (c == '[') {
      open_class();
      return;
    }
    if (c == '(' && in_.compare(pos_, 3, "(?#") == 0) {
      size_t end = in_.find(')', pos_);
      pos_ = end == std::string_view::npos ? in_.size() : end + 1;
      return;
    }
    out_ += c;
    ++pos_;
  }

  void escape_outside() {
    if (pos_ + 1 >= in_.size()) {  // a trailing backslash: keep it, the engines reject it
      out_ += '\\';
      ++pos_;
      return;
    }
    char c = in_[pos_ + 1];
    pos_ += 2;
    switch (c) {
      case 'Q': quoted(); return;
      case 'E': return;  // a stray \E is ignored by Perl
      case '/': out_ += '/'; return;
      case 'e': out_ += "\\x1B"; return;
      case 'c':  // \cX: X is data, even '[' or '\\'
        out_ += "\\c";
        if (pos_ < in_.size()) out_ += in_[pos_++];
        return;
      case 'h': out_ += '['; out_ += horizontal_space; out_ += ']'; return;
      case 'H':
        out_ += "[^";
        out_ += horizontal_space;
        if (line_mode_) out_ += "\\n";
        out_ += ']';
        return;
      case 'v':
        out_ += '[';
        out_ += line_mode_ ? vertical_space_no_newline : vertical_space;
        out_ += ']';
        return;
      case 'V': out_ += "[^"; out_ += vertical_space; out_ += ']'; return;
      case 'R':
        out_ += line_mode_ ? "(?:\\r|[\\x0B\\f\\x85])" : "(?:\\r\\n|[\\n\\x0B\\f\\r\\x85])";
        return;
      case 'N':
        if (pos_ < in_.size() && in_[pos_] == '{') break;  // \N{name}: leave to the engines
        out_ += "[^\\n]";
        return;
      case 'A':
        if (line_mode_) { out_ += '^'; return; }
        break;
      case 'z':
      case 'Z':
        if (line_mode_) { out_ += '$'; return; }
        break;
      case 's':
        if (line_mode_) { out_ += '['; out_ += space_no_newline; out_ += ']'; return; }
        break;
      case 'W':
        if (line_mode_) { out_ += "[^\\w\\n]"; return; }
        break;
      case 'D':
        if (line_mode_) { out_ += "[^\\d\\n]"; return; }
        break;
      default:
        break;
    }
    out_ += '\\';
    out_ += c;
  }

  void open_class() {
    in_class_ = true;
    out_ += '[';
    ++pos_;
    bool negated = pos_ < in_.size() && in_[pos_] == '^';
    if (negated) {
      out_ += '^';
      ++pos_;
      if (line_mode_) out_ += "\\n";
    }
    if (pos_ < in_.size() && in_[pos_] == ']') {  // "[]" / "[^]": ']' first is literal
      out_ += "\\]";
      ++pos_;
    } else if (pos_ < in_.size() && in_[pos_] == '-') {  // "[-" / "[^-": literal, also after the "\n"
      out_ += "\\-";
      ++pos_;
    }
  }

  // Items replacing a class escape (\s, \h, ... in line mode). Perl reads a '-' next to a
  // class escape as a literal; next to the expanded items it would make a range.
  void class_items(std::string_view items) {
    size_t n = out_.size();
    if (n >= 2 && out_[n - 1] == '-' && out_[n - 2] != '[' && !(out_[n - 2] == '^' && n >= 3 && out_[n - 3] == '[')) {
      size_t backslashes = 0;
      while (backslashes + 2 <= n && out_[n - 2 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 0) {  // an unescaped '-': a range operator
        out_.back() = '\\';
        out_ += '-';
      }
    }
    out_ += items;
    if (pos_ + 1 < in_.size() && in_[pos_] == '-' && in_[pos_ + 1] != ']') {
      out_ += "\\-";
      ++pos_;
    }
  }

  void class_char() {
    char c = in_[pos_];
    if (c == ']') {
      in_class_ = false;
      out_ += ']';
      ++pos_;
      return;
    }
    if (c == '[' && pos_ + 1 < in_.size() &&
        (in_[pos_ + 1] == ':' || in_[pos_ + 1] == '.' || in_[pos_ + 1] == '=')) {
      // POSIX [:name:] (and [.x.] [=x=], which both engines reject): copy through the
      // closing ":]" so its ']' does not end the class.
      char kind = in_[pos_ + 1];
      size_t end = pos_ + 2;
      while (end < in_.size() && (std::isalpha(static_cast<unsigned char>(in_[end])) || in_[end] == '^')) ++end;
      if (end + 1 < in_.size() && in_[end] == kind && in_[end + 1] == ']') {
        out_.append(in_.substr(pos_, end + 2 - pos_));
        pos_ = end + 2;
        return;
      }
      out_ += "\\[";
      ++pos_;
      return;
    }
    if (c == '\\') {
      escape_in_class();
      return;
    }
    out_ += c;
    ++pos_;
  }

  void escape_in_class() {
    if (pos_ + 1 >= in_.size()) {
      out_ += '\\';
      ++pos_;
      return;
    }
    char c = in_[pos_ + 1];
    pos_ += 2;
    switch (c) {
      case 'Q': quoted(); return;
      case 'E': return;
      case '/': out_ += '/'; return;
      case 'e': out_ += "\\x1B"; return;
      case 'c':
        out_ += "\\c";
        if (pos_ < in_.size()) out_ += in_[pos_++];
        return;
      case 'h': class_items(horizontal_space); return;
      case 'H': class_items(line_mode_ ? non_horizontal_space_no_newline : non_horizontal_space); return;
      case 'v': class_items(line_mode_ ? vertical_space_no_newline : vertical_space); return;
      case 'V': class_items(non_vertical_space); return;
      case 's':
        if (line_mode_) { class_items(space_no_newline); return; }
        break;
      case 'W':
        if (line_mode_) { class_items(non_word_no_newline); return; }
        break;
      case 'D':
        if (line_mode_) { class_items(non_digit_no_newline); return; }
        break;
      default:
        break;
    }
    out_ += '\\';
    out_ += c;
  }

  std::string_view in_;
  bool line_mode_;
  bool extended_;
  size_t pos_ = 0;
  bool in_class_ = false;
  std::string out_;
};

}  // namespace

translated_pattern translate_perl_regex(const std::string& pattern, const std::string& flags,
                                        const translate_options& options) {
  translated_pattern result;
  for (char f : flags) {
    switch (f) {
      case 'i': result.caseless = true; break;
      case 'm': result.multiline = true; break;
      case 's': result.dotall = true; break;
      case 'x': result.extended = true; break;
      default: break;  // g, o, ... mean nothing for a match test
    }
  }
  result.pattern = translator(pattern, options, result.extended).run();
  if (options.line_mode) {
    result.multiline = true;
    result.dotall = false;
  }
  return result;
}

translated_pattern translate_perl_regex(const std::string& pattern, const std::string& flags) {
  return translate_perl_regex(pattern, flags, translate_options{});
}

}  // namespace ringmail::spam
