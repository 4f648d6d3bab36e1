// A recursive walk over PCRE syntax that copies a pattern while (optionally) relaxing it,
// and measures its nested counted repeats on the way. It knows enough of the syntax to
// find atoms, groups, classes and quantifiers (PCRE2 pcre2pattern(3)); anything it does
// not know makes it give up, and the caller then runs PCRE2 on every message instead.
#include "spam/match/regex_prefilter.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <vector>

namespace ringmail::spam {
namespace {

constexpr size_t saturated = size_t{1} << 40;

size_t times(size_t a, size_t b) { return (a > saturated / std::max<size_t>(b, 1)) ? saturated : a * b; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

enum class atom_kind {
  normal,   // something a quantifier may follow
  removed,  // a look-around, \G, \K: dropped together with any quantifier
  setting,  // (?i), (?#...): no text
};

class walker {
 public:
  walker(std::string_view in, size_t max_repeat, size_t max_length)
      : in_(in), max_repeat_(max_repeat), max_length_(max_length) {
    out_.reserve(in.size());
  }

  bool run() {
    size_t largest = sequence(0);
    if (!ok_ || pos_ != in_.size()) return false;
    largest_ = std::max(largest_, largest);
    if (out_.size() > max_length_) return shorten();
    return true;
  }
  std::string& output() { return out_; }
  size_t largest() const { return largest_; }

 private:
  // Alternatives up to ')' (left for the caller) or the end; the largest repeat product.
  size_t sequence(int depth) {
    size_t largest = 1;
    while (ok_ && pos_ < in_.size()) {
      char c = in_[pos_];
      if (c == ')') {
        if (depth == 0) ok_ = false;
        return largest;
      }
      if (c == '|') {
        out_ += '|';
        ++pos_;
        if (depth == 0) top_level_alternation_ = true;
        continue;
      }
      atom_kind kind = atom_kind::normal;
      size_t start = out_.size();
      size_t inner = atom(depth, kind);
      if (!ok_) break;
      last_min_ = 1;
      largest = std::max(largest, quantifier(kind, inner));
      if (depth == 0 && kind != atom_kind::removed) {
        std::string_view text = std::string_view(out_).substr(start);
        bool zero_width = text == "^" || text == "$" || text == "\\b" || text == "\\B" || text == "\\A" ||
                          text == "\\z" || text == "\\Z";
        top_level_.push_back({start, out_.size(), kind == atom_kind::setting,
                              kind == atom_kind::normal && last_min_ > 0 && !zero_width});
      }
    }
    return largest;
  }

  // Reads a quantifier after an atom, if any; returns the atom's repeat product.
  size_t quantifier(atom_kind kind, size_t inner) {
    if (pos_ >= in_.size()) return inner;
    size_t start = pos_;
    size_t min = 0, bound = 1;
    bool counted = false;
    char c = in_[pos_];
    if (c == '*' || c == '+' || c == '?') {
      min = c == '+' ? 1 : 0;
      ++pos_;
    } else if (c == '{') {
      // {m} {m,} {m,n}; anything else ("{,n}", "{x") is a literal brace in PCRE2 10.42.
      size_t p = pos_ + 1;
      size_t m = 0, n = 0;
      bool has_m = false, has_comma = false, has_n = false;
      while (p < in_.size() && is_digit(in_[p])) m = std::min<size_t>(m * 10 + (in_[p++] - '0'), saturated), has_m = true;
      if (p < in_.size() && in_[p] == ',') {
        has_comma = true;
        ++p;
        while (p < in_.size() && is_digit(in_[p])) n = std::min<size_t>(n * 10 + (in_[p++] - '0'), saturated), has_n = true;
      }
      if (!has_m || p >= in_.size() || in_[p] != '}') return inner;
      pos_ = p + 1;
      counted = true;
      min = m;
      bound = has_comma ? (has_n ? n : m) : m;
    } else {
      return inner;
    }
    const size_t quantifier_end = pos_;
    bool lazy = false;
    if (pos_ < in_.size() && (in_[pos_] == '?' || in_[pos_] == '+')) {
      lazy = in_[pos_] == '?';
      ++pos_;  // a possessive '+' is dropped: greedy matches a superset
    }
    last_min_ = min;
    if (kind == atom_kind::removed) return 1;
    size_t product = times(inner, std::max<size_t>(bound, 1));
    if (counted && product > max_repeat_) {
      out_ += min == 0 ? '*' : '+';
      product = inner;
    } else {
      out_.append(in_.substr(start, quantifier_end - start));
    }
    if (lazy) out_ += '?';
    return product;
  }

  size_t atom(int depth, atom_kind& kind) {
    char c = in_[pos_];
    if (c == '\\') return escape(kind);
    if (c == '[') {
      char_class();
      return 1;
    }
    if (c == '(') return group(depth, kind);
    out_ += c;
    ++pos_;
    return 1;
  }

  void copy(size_t n) {
    n = std::min(n, in_.size() - pos_);
    out_.append(in_.substr(pos_, n));
    pos_ += n;
  }

  // Copies through the matching `close` character (inclusive), or fails.
  void copy_through(char close) {
    size_t end = in_.find(close, pos_);
    if (end == std::string_view::npos) {
      ok_ = false;
      return;
    }
    copy(end + 1 - pos_);
  }

  void back_reference() { out_ += "(?:[\\s\\S]*)"; }

  size_t escape(atom_kind& kind) {
    if (pos_ + 1 >= in_.size()) {
      ok_ = false;
      return 1;
    }
    char e = in_[pos_ + 1];
    if (e >= '1' && e <= '9') {  // \N: a back reference (\10+ may be octal; a superset anyway)
      pos_ += 2;
      while (pos_ < in_.size() && is_digit(in_[pos_])) ++pos_;
      back_reference();
      return 1;
    }
    switch (e) {
      case 'G':
      case 'K':
        pos_ += 2;
        kind = atom_kind::removed;
        return 1;
      case 'E':
        pos_ += 2;
        kind = atom_kind::setting;
        return 1;
      case 'g': {  // \gN \g-N \g{N} \g{name}: back reference; \g<..> \g'..': subroutine call
        pos_ += 2;
        if (pos_ < in_.size() && in_[pos_] == '{') {
          size_t end = in_.find('}', pos_);
          if (end == std::string_view::npos) return ok_ = false, 1;
          pos_ = end + 1;
        } else if (pos_ < in_.size() && (in_[pos_] == '-' || is_digit(in_[pos_]))) {
          ++pos_;
          while (pos_ < in_.size() && is_digit(in_[pos_])) ++pos_;
        } else {
          ok_ = false;
          return 1;
        }
        back_reference();
        return 1;
      }
      case 'k': {  // \k<name> \k'name' \k{name}
        pos_ += 2;
        if (pos_ >= in_.size()) return ok_ = false, 1;
        char open = in_[pos_];
        char close = open == '<' ? '>' : open == '{' ? '}' : open == '\'' ? '\'' : 0;
        size_t end = close ? in_.find(close, pos_ + 1) : std::string_view::npos;
        if (end == std::string_view::npos) return ok_ = false, 1;
        pos_ = end + 1;
        back_reference();
        return 1;
      }
      case 'x':
      case 'o':
      case 'p':
      case 'P':
      case 'N':
        if (pos_ + 2 < in_.size() && in_[pos_ + 2] == '{') {
          copy(2);
          copy_through('}');
          return 1;
        }
        if (e == 'x') {  // \xHH: up to two hex digits
          copy(2);
          for (int i = 0; i < 2 && pos_ < in_.size() && std::isxdigit(static_cast<unsigned char>(in_[pos_])); ++i) copy(1);
          return 1;
        }
        if (e == 'p' || e == 'P') {  // \pL
          copy(3);
          return 1;
        }
        copy(2);
        return 1;
      case 'c':
        copy(3);
        return 1;
      case '0':  // octal \0oo
        copy(2);
        for (int i = 0; i < 2 && pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '7'; ++i) copy(1);
        return 1;
      case 'Q': {  // quoted to \E: copied, Hyperscan reads \Q..\E
        size_t end = in_.find("\\E", pos_ + 2);
        copy((end == std::string_view::npos ? in_.size() : end + 2) - pos_);
        return 1;
      }
      default:
        copy(2);
        return 1;
    }
  }

  void char_class() {
    copy(1);  // '['
    if (pos_ < in_.size() && in_[pos_] == '^') copy(1);
    if (pos_ < in_.size() && in_[pos_] == ']') copy(1);  // a leading ']' is a literal
    while (pos_ < in_.size()) {
      char c = in_[pos_];
      if (c == ']') {
        copy(1);
        return;
      }
      if (c == '\\') {
        if (pos_ + 1 < in_.size() && in_[pos_ + 1] == 'Q') {
          size_t end = in_.find("\\E", pos_ + 2);
          copy((end == std::string_view::npos ? in_.size() : end + 2) - pos_);
          continue;
        }
        copy(2);
        continue;
      }
      if (c == '[' && pos_ + 1 < in_.size() && (in_[pos_ + 1] == ':' || in_[pos_ + 1] == '.' || in_[pos_ + 1] == '=')) {
        char kind = in_[pos_ + 1];
        size_t end = pos_ + 2;
        while (end + 1 < in_.size() && !(in_[end] == kind && in_[end + 1] == ']') && in_[end] != ']') ++end;
        if (end + 1 < in_.size() && in_[end] == kind && in_[end + 1] == ']') {
          copy(end + 2 - pos_);
          continue;
        }
      }
      copy(1);
    }
    ok_ = false;  // no closing ']'
  }

  // A group from '(' to its ')'; emits `prefix` and the (relaxed) body unless removed.
  size_t group_body(int depth, const char* prefix, size_t skip, bool remove, atom_kind& kind) {
    pos_ += skip;
    size_t mark = out_.size();
    out_ += prefix;
    size_t inner = sequence(depth + 1);
    if (!ok_ || pos_ >= in_.size() || in_[pos_] != ')') {
      ok_ = false;
      return 1;
    }
    ++pos_;
    out_ += ')';
    if (remove) {
      out_.resize(mark);
      kind = atom_kind::removed;
      return 1;
    }
    return inner;
  }

  size_t group(int depth, atom_kind& kind) {
    std::string_view rest = in_.substr(pos_);
    if (rest.size() < 2) {
      ok_ = false;
      return 1;
    }
    if (rest[1] == '*') {  // (*VERB) / (*pla:...): not worth knowing
      ok_ = false;
      return 1;
    }
    if (rest[1] != '?') return group_body(depth, "(", 1, false, kind);
    if (rest.size() < 3) {
      ok_ = false;
      return 1;
    }
    char k = rest[2];
    switch (k) {
      case '#': {
        size_t end = in_.find(')', pos_);
        if (end == std::string_view::npos) return ok_ = false, 1;
        pos_ = end + 1;
        kind = atom_kind::setting;
        return 1;
      }
      case ':': return group_body(depth, "(?:", 3, false, kind);
      case '>': return group_body(depth, "(?:", 3, false, kind);  // atomic: superset as a plain group
      case '=':
      case '!': return group_body(depth, "", 3, true, kind);
      case '<':
        if (rest.size() > 3 && (rest[3] == '=' || rest[3] == '!')) return group_body(depth, "", 4, true, kind);
        return named_group(depth, '>', 3, kind);
      case '\'': return named_group(depth, '\'', 3, kind);
      case 'P':
        if (rest.size() > 3 && rest[3] == '<') return named_group(depth, '>', 4, kind);
        if (rest.size() > 3 && rest[3] == '=') {  // (?P=name): back reference
          size_t end = in_.find(')', pos_);
          if (end == std::string_view::npos) return ok_ = false, 1;
          pos_ = end + 1;
          back_reference();
          return 1;
        }
        ok_ = false;  // (?P>name): subroutine call
        return 1;
      default:
        break;
    }
    // Option settings: (?i) (?-s) (?^i) (?i:...)
    size_t p = pos_ + 2;
    while (p < in_.size() && std::string_view("imnsxJU-^").find(in_[p]) != std::string_view::npos) ++p;
    if (p == pos_ + 2 || p >= in_.size()) {  // (?| (?( (?R) (?1) (?& (?C ...: not handled
      ok_ = false;
      return 1;
    }
    if (in_[p] == ')') {
      copy(p + 1 - pos_);
      kind = atom_kind::setting;
      return 1;
    }
    if (in_[p] != ':') {
      ok_ = false;
      return 1;
    }
    std::string prefix(in_.substr(pos_, p + 1 - pos_));
    return group_body(depth, prefix.c_str(), prefix.size(), false, kind);
  }

  // (?<name>...) (?'name'...) (?P<name>...): a plain capture group.
  size_t named_group(int depth, char close, size_t name_start, atom_kind& kind) {
    size_t end = in_.find(close, pos_ + name_start);
    if (end == std::string_view::npos) {
      ok_ = false;
      return 1;
    }
    return group_body(depth, "(", end + 1 - pos_, false, kind);
  }

  std::string_view in_;
  size_t max_repeat_;
  size_t max_length_;
  size_t pos_ = 0;
  bool top_level_alternation_ = false;
  struct top_level_atom {
    size_t start, end;  // in out_, with its quantifier
    bool setting;       // (?i) and the like: applies to what follows
    bool required;      // probably consumes input in every match (decided by Hyperscan later)
  };
  std::vector<top_level_atom> top_level_;
  size_t last_min_ = 1;  // minimum count of the last quantifier read

  // A contiguous run of a concatenation's atoms matches wherever the whole does, so a
  // too-long pattern is cut to the run, within max_length_, with the most required
  // atoms, behind the option settings that precede it. Not possible across a top-level
  // '|' (each branch would need its own run).
  bool shorten() {
    if (top_level_alternation_) return false;
    size_t best_first = 0, best_last = 0, best_required = 0, best_length = 0;
    size_t first = 0, required = 0, length = 0;
    for (size_t last = 0; last < top_level_.size(); ++last) {
      const auto& a = top_level_[last];
      length += a.end - a.start;
      required += a.required;
      while (length > max_length_ && first <= last) {
        length -= top_level_[first].end - top_level_[first].start;
        required -= top_level_[first].required;
        ++first;
      }
      if (first <= last && (required > best_required || (required == best_required && length > best_length))) {
        best_first = first, best_last = last, best_required = required, best_length = length;
      }
    }
    // A run much shorter than the pattern (a letter or two of a 6 kB "fuzzy word") fires
    // on nearly every message: then it only costs, and PCRE2 alone is cheaper.
    if (best_required == 0 || best_length * 2 < out_.size()) return false;
    std::string cut;
    for (size_t i = 0; i < best_first; ++i) {
      if (top_level_[i].setting) cut.append(out_, top_level_[i].start, top_level_[i].end - top_level_[i].start);
    }
    cut.append(out_, top_level_[best_first].start, top_level_[best_last].end - top_level_[best_first].start);
    out_ = std::move(cut);
    return true;
  }
  bool ok_ = true;
  size_t largest_ = 1;
  std::string out_;
};

}  // namespace

repeat_analysis analyse_repeats(std::string_view pattern) {
  walker w(pattern, std::numeric_limits<size_t>::max(), std::numeric_limits<size_t>::max());
  repeat_analysis result;
  result.parsed = w.run();
  result.largest_repeat = w.largest();
  return result;
}

std::optional<std::string> relax_pattern(std::string_view pattern, size_t max_repeat, size_t max_length) {
  walker w(pattern, max_repeat, max_length);
  if (!w.run()) return std::nullopt;
  return std::move(w.output());
}

}  // namespace ringmail::spam
