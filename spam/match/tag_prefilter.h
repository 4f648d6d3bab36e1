// Shorter stand-ins for ReplaceTags tag values, for Hyperscan prefilters.
//
// The stock "fuzzy word" tags (25_replace.cf: `replace_tag A (?:[aA\@...]|[\xc3][\x80...]|
// ...|&\#(?:...);|...)`) list every look-alike of a letter as a UTF-8 byte sequence or an
// HTML numeric entity. A rule expanded with them runs to kilobytes and Hyperscan takes
// seconds to compile it. For a prefilter we only need a superset, and "some UTF-8
// sequence" or "some numeric entity" is a superset of any list of them.
#pragma once

#include <string>
#include <string_view>

namespace ringmail::spam {

// A superset of a ReplaceTags tag value (Perl regex text as written in the .cf file) that
// is far shorter: the value's top-level alternatives (inside it when the whole value is one
// `(?:...)` group, else the value's own top-level `|` branches) are classified:
//   - "multibyte": only bracket classes of `\xHH` / `\xHH-\xHH` members and `(?:..|..)`
//     groups, no quantifiers; the first atom is a class of lead bytes 0xC0-0xF7, every
//     later class holds only continuation bytes 0x80-0xBF, and every path through it
//     takes at least one of them. All are replaced by one `[\xc0-\xf7][\x80-\xbf]+`.
//   - "entity": `&\#` (or `&#`), then hex digits, `x`, `X`, classes of them, `(?:..|..)`
//     groups and `?`, then `;`. All are replaced by one `&\#[0-9a-fA-FxX]*;`.
//   - anything else (single-byte classes, `rn`, `\\\/`, `<TAG>` references expanded
//     later) is kept verbatim and in order.
// The result is `(?:kept...|multibyte|entity)`, generics only when used. Each generic can
// match exactly the span of any alternative it replaces, so the result is a superset in
// any surrounding pattern too, with one exception: a value that is NOT one group but has
// top-level `|` (none of the stock tags) gets wrapped in a group, which changes how it
// binds inside a rule; whole-value matches are still a superset.
//
// When nothing is replaced, the result would not be shorter (short values such as SHY), the
// value uses \Q quoting (an unterminated one would swallow the closing bracket added), or
// the value is malformed (unbalanced brackets or groups, a
// trailing backslash), nests deeper than 32 groups, or turns on extended mode with an
// inline `(?x)` (where `#` starts a comment and the split could be wrong), the value is
// returned unchanged. Never throws (beyond std::bad_alloc).
std::string simplify_tag_value(std::string_view value);

}  // namespace ringmail::spam
