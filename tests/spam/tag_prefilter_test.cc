// simplify_tag_value must give a much shorter superset of a ReplaceTags tag value; checked
// with PCRE2 in byte mode over every string the stock tags are built to match.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "spam/match/tag_prefilter.h"

namespace ringmail::spam {
namespace {

// Copied verbatim from SpamAssassin 4.0.1 rules/25_replace.cf (replace_tag A, E, I, M):
// A, E and I mix every kind of alternative (single-byte classes, 2-, 3- and 4-byte UTF-8
// sequences, HTML numeric entities); M has the literal `rn`.
constexpr std::string_view kStockTagA = R"tag((?:[aA\@\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xe4\xe3\xe2\xe0\xe1\xe2\xe3\xe4\xe5\xe6]|[\xb6\xc1\xc4\xcb]|[\xc3][\x80\x81\x82\x83\x84\x85\xa0\xa1\xa2\xa3\xa4\xa5]|[\xc4][\x80\x81\x82\x83\x84\x85]|[\xc9][\x91]|[\xce][\x86\x91\x94\x9b\xac\xb1]|[\xd0][\x90\xb0]|[\xd1][\xa6\xa7]|[\xd3][\x90\x91\x92\x93]|[\xe1](?:[\x8e][\xaa]|[\xb8][\x80\x81]|[\xba][\x9a\xa0-\xb7]|[\xbc][\x80-\x8f]|[\xbd][\xb0\xb1]|[\xbe][\x80-\x8f\xb0-\xbc])|[\xf0][\x9d](?:[\x90][\x80\x9a\xb4]|[\x91][\x8e\xa8]|[\x92][\x82\x9c\xb6]|[\x93][\x90\xaa]|[\x94][\xb8\x92]|[\x95][\x92]|[\x96][\xa0\xba]|[\x97][\x94\xae]|[\x98][\x88\xa2\xbc]|[\x99][\x96\xb0]|[\x9a][\x8a\xa8]|[\x9b][\x82\xa2\xbc]|[\x9c][\x9c\xb6]|[\x9d][\x96\xb0]|[\x9e][\x90\xaa])))tag";
constexpr std::string_view kStockTagE = R"tag((?:[eE3\xb8\xc5\xd3\xdd\xe5\xee]|[\xc3][\x88\x89\x8a\x8b\xa8\xa9\xaa\xab]|[\xc4][\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\xbe]|[\xc8][\x84\x85\x86\x87\xa8\xa9]|[\xc9][\x87]|[\xce][\x88\x95\xa3\xad\xb5\xbe]|[\xcf][\xb5]|[\xd0][\x80\x81\x84\x95\xb5]|[\xd1][\x90\x91\x94\xb3]|[\xd2][\xbc\xbd\xbe\xbf]|[\xd3][\x96\x97\xa9\xab]|[\xd4][\x90\x91]|[\xc8\xc9\xca\xcb\xe8\xe9\xea\xeb\xa4]|&\#(?:1(?:0(?:13|2[458]|45|77)|108|2(?:1[2-5]|3[89]|9[67]))|2(?:0[0-3]|3[2-5]|7[4-9]|8[0-3])|400|51[6-9]|5[58][23]|603|9(?:04|17|[34]1|4[19]));|[\xe1](?:[\xb8][\x94-\x9d]|[\xba][\xb8-\xbf]|[\xbb][\x80-\x87]|[\xbc][\x90-\x9d]|[\xbd][\xb2\xb3]|[\xbf][\x88\x89])|[\xf0][\x9d](?:[\x90][\x84\x9e\xb8]|[\x91][\x92\xac]|[\x92][\x86\xa0\xba]|[\x93][\x94\xae]|[\x94][\xa2\xbc]|[\x95][\x96]|[\x96][\x8a\xa4\xbe]|[\x97][\x98\xb2]|[\x98][\x8c\xa6]|[\x99][\x80\x9a\xb4]|[\x9a][\x8e\xac\xba]|[\x9b][\x86\x9c\xa6\xb4]|[\x9c][\x80\x96\xa0\xae\xba]|[\x9d][\x90\x9a\xa8\xb4]|[\x9e][\x8a\x94\xa2\xae]|[\x9f][\x84])))tag";
constexpr std::string_view kStockTagI = R"tag((?:[iIl|!1y?\xcc\xcd\xce\xcf\xec\xed\xee\xef\xe9\xba\xc0\xc9\xda\xdf\xfa]|[\xc3][\x8c\x8d\x8e\x8f\xac\xad\xae\xaf]|[\xc4][\xa8\xa9\xaa\xab\xac\xad\xae\xaf\xb0\xb1]|[\xc7][\x8f\x90]|[\xce][\x8a\x90\x99\xaa\xaf\xb9]|[\xcf][\x8a]|[\xd0][\x86\x87]|[\xd1][\x96\x97]|[\xd3][\x80\x8f]|[\xd5][\xac]|&\#(?:1(?:03[01]|11[01]|216|231)|2(?:0[4-7]|16|3[6-9]|9[6-9])|3(?:0[0-5])|4(?:0[67]|6[34])|52[0-3]);|[\xe1](?:[\xb8][\xac-\xaf]|[\xbb][\x88-\x8b]|[\xbc][\xb0-\xbf]|[\xbd][\xb6\xb7]|[\xbf][\x90-\x9b])|[\xf0][\x9d](?:[\x90][\x88\xa2\xbc]|[\x91][\x96\xb0]|[\x92][\x8a\xa4\xbe]|[\x93][\x98\xb2]|[\x94][\xa6]|[\x95][\x80\x9a]|[\x96][\x8e\xa8]|[\x97][\x82\x9c\xb6]|[\x98][\x90\xaa]|[\x99][\x84\x9e\xb8]|[\x9a][\x92\xb0]|[\x9b][\xaa]|[\x9c][\xa4]|[\x9d][\x9e]|[\x9e][\x98])))tag";
constexpr std::string_view kStockTagM = R"tag((?:[mM\xcc]|rn|[\xc9][\xb1]|[\xce][\x9c]|[\xcf][\xba\xbb]|[\xd0][\x9c\xbc]|[\xd2][\xa7]|[\xd3][\x8d\x8e]|[\xe1](?:[\xb8][\xbe\xbf]|[\xb9][\x80-\x83])|[\xf0][\x9d](?:[\x90][\x8c\xa6]|[\x91][\x80\x9a\xb4]|[\x92][\x8e\xa8]|[\x93][\x82\x9c\xb6]|[\x94][\xaa]|[\x95][\x84\x9e]|[\x96][\x92\xac]|[\x97][\x86\xa0\xba]|[\x98][\x94\xae]|[\x99][\x88\xa2\xbc]|[\x9a][\x96\xb3]|[\x9b][\xad]|[\x9c][\xa7]|[\x9d][\xa1]|[\x9e][\x9b])))tag";

constexpr std::string_view kMultibyte = R"([\xc0-\xf7][\x80-\xbf]+)";
constexpr std::string_view kEntity = R"(&\#[0-9a-fA-FxX]*;)";

// Multibyte alternatives long enough that replacing them always shortens a value, so a
// value that comes back unchanged did so because of what it holds, not its length.
constexpr std::string_view kSomeMultibyte =
    R"([\xc3][\x80\x81\x82\x83]|[\xce][\x92\xb2]|[\xe1](?:[\xb8][\x80\x81]|[\xba][\x9a\xa0-\xb7]))";
constexpr std::string_view kSomeEntities = R"(&\#(?:1(?:0(?:10|17)|99)|x(?:3(?:f2|f9)));)";

// "(?:" + parts joined by `|` + ")".
std::string group(std::initializer_list<std::string_view> parts) {
  std::string out = "(?:";
  for (const std::string_view part : parts) {
    if (out.size() > 3) out += '|';
    out += part;
  }
  return out + ")";
}

TEST(SimplifyTagValue, ReplacesMultibyteAndEntityAlternatives) {
  const std::string_view value =
      R"((?:[aA\@\xc0]|[\xc3][\x80\x81]|[\xe1](?:[\x8e][\xaa]|[\xb8][\x80\x81])|)"
      R"([\xf0][\x9d](?:[\x90][\x80\x9a\xb4]|[\x91][\x8e-\xa8])|)"
      R"(&\#(?:1(?:0(?:10|17)|99)|x(?:3(?:f2|f9)));))";
  EXPECT_EQ(simplify_tag_value(value), group({R"([aA\@\xc0])", kMultibyte, kEntity}));
}

TEST(SimplifyTagValue, GenericsOnlyWhenUsed) {
  EXPECT_EQ(simplify_tag_value(group({"[bB]", kSomeMultibyte})), group({"[bB]", kMultibyte}));
  EXPECT_EQ(simplify_tag_value(group({"[bB]", kSomeEntities})), group({"[bB]", kEntity}));
  // `&#` unescaped, `?` and classes of hex digits are entities too.
  EXPECT_EQ(simplify_tag_value(group({"[bB]", "&#[1-9]x?[0-9a-fA-F](?:[0-9][xX]|12)?;",
                                      "&#x(?:[aA]b|c)d;"})),
            group({"[bB]", kEntity}));
  // A value that is not one group is split on its own top-level `|`, even when it starts
  // with `(?:` and ends with `)`.
  EXPECT_EQ(simplify_tag_value("[bB]|" + std::string(kSomeMultibyte)),
            group({"[bB]", kMultibyte}));
  EXPECT_EQ(simplify_tag_value("(?:[bB])|" + std::string(kSomeMultibyte) + "|(?:8)"),
            group({"(?:[bB])", "(?:8)", kMultibyte}));
}

TEST(SimplifyTagValue, NothingToSimplifyIsUnchanged) {
  for (const std::string_view value :
       {R"((?:jpe?g|gif|png))", R"([\$\xa5\xa3\xa4\xa2])",
        R"([\s\d_*\$\%(),.:;?!}{\[\]|\/?^\#~\xa1`'+-])", R"((?:[aA]|[\xb6\xc1\xc4\xcb]))",
        R"((?:a|b)|(?:c|d))"}) {
    EXPECT_EQ(simplify_tag_value(value), value);
  }
}

TEST(SimplifyTagValue, ResultNoShorterIsUnchanged) {
  // Stock SHY from 72_active.cf: the generics would make it longer, and wider for nothing.
  const std::string_view shy = R"((?:=ad|[\xc2][\xad]|[\xad]|&\#xad;|&\#173;|&shy;))";
  EXPECT_EQ(simplify_tag_value(shy), shy);
}

TEST(SimplifyTagValue, KeepsLiteralAndEscapedAlternatives) {
  for (const std::string_view kept : {"rn", R"(\\\/)", "<W>", R"(a\|\(\[\#)", R"([]|(])",
                                      R"([^]|)])", R"([\]|(])", R"(\cX)", R"(><)"}) {
    EXPECT_EQ(simplify_tag_value(group({"[mM]", kept, kSomeMultibyte, "[\\xcc]"})),
              group({"[mM]", kept, "[\\xcc]", kMultibyte}))
        << kept;
  }
}

TEST(SimplifyTagValue, MalformedIsUnchanged) {
  const std::string multibyte(kSomeMultibyte);
  for (const std::string& value :
       {std::string(R"((?:[\xc3)"), std::string(R"((?:a|)"), std::string(),
        "(?:" + multibyte + "|a))", "(?:" + multibyte + R"(|a\))", multibyte + R"(|\)",
        "(?:" + multibyte + "|[a)", "(?:" + multibyte + "|(?#a)", multibyte + "|)",
        multibyte + R"(|\c)"}) {
    EXPECT_EQ(simplify_tag_value(value), value);
  }
}

TEST(SimplifyTagValue, NearMissesAreKeptVerbatim) {
  // Each would stop being a superset if replaced by a generic.
  for (const std::string_view near_miss : {
           R"([\xc3][\x80]{2})",              // quantifier
           R"([\xc3][\x80]+)",                // quantifier
           R"((?:[\xc3][\x80])?)",            // optional group
           R"([\xc3])",                       // lead byte alone
           R"([\xe1](?:[\x80]|))",            // a path with the lead byte alone
           R"([\xe1](?:[\x80]|(?:)))",        // the same through an empty group
           R"([\xc3][\x80\x41])",             // continuation class holding `A`
           R"([\xc3][\x80a])",                // continuation class holding `a`
           R"([\x41][\x80])",                 // lead class holding `A`
           R"([\xf8][\x80])",                 // lead byte above 0xF7
           R"([\xc3][^\x80])",                // negated class
           R"([\xc3][\x80-\xc0])",            // range past 0xBF
           R"([\xc3][\x80-])",                // literal `-`
           R"([\xc3][\x8])",                  // one hex digit
           R"([\xc3](?i:[\x80]))",            // group that is not (?:
           R"([\xc3]\x80)",                   // bare escape
           R"(&\#[0-f];)",                    // range holds `;`, `:`, `G`...
           R"(&\#[x-];)",                     // literal `-`
           R"(&\#[^1];)",                     // negated class
           R"(&\#\d+;)",                      // escape and `+`
           R"(&\#1*;)",                       // `*`
           R"(&\#(?=1)1;)",                   // look-ahead
           R"(&\#12)",                        // no `;`
           R"(&\#1;2;)",                      // `;` inside
           R"(&amp;)",                        // named entity
           R"(&\#?1;)",                       // `#` optional
       }) {
    EXPECT_EQ(simplify_tag_value(group({"[aA]", near_miss, kSomeMultibyte})),
              group({"[aA]", near_miss, kMultibyte}))
        << near_miss;
  }
}

// \Q quotes up to \E or to the end: a value using it is left as it is, since an open
// quote would swallow the `|generic)` appended after it (found by the fuzzer).
TEST(SimplifyTagValue, QuotingLeavesTheValueAlone) {
  for (const std::string& value : {group({"[aA]", R"(\Q[\xc3][\x80]\E)", kSomeMultibyte}),
                                   "[aA]|" + std::string(kSomeMultibyte) + R"(|\Qx|y)",
                                   std::string("&\\#5002909;|||\\Q||")}) {
    EXPECT_EQ(simplify_tag_value(value), value);
  }
}

TEST(SimplifyTagValue, QuotedOrCommentedBarsDoNotSplit) {
  // Split on these `|` and the middle would look like a multibyte alternative.
  const std::string multibyte(kSomeMultibyte);
  for (const std::string& value :
       {R"((?:\Qx|)" + multibyte + R"(|y\E))", "(?:(?#x|" + multibyte + "|y))",
        "(?x)a #|" + multibyte}) {
    EXPECT_EQ(simplify_tag_value(value), value);
  }
  // A comment ends at its first `)`; the `(` inside it opens nothing.
  EXPECT_EQ(simplify_tag_value("(?:a(?#x(|)|" + multibyte + ")"),
            group({"a(?#x(|)", kMultibyte}));
  // [:alpha:] does not close the class, the `]` after [\xc3 does: `|[\xc3` is in the class
  // and the alternative is no multibyte one; the two after it are.
  EXPECT_EQ(simplify_tag_value("(?:[[:alpha:]|" + multibyte + "|])"),
            group({R"([[:alpha:]|[\xc3][\x80\x81\x82\x83])", "]", kMultibyte}));
}

TEST(SimplifyTagValue, DeepNestingIsHandled) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "(?:";
  deep += kSomeMultibyte;
  for (int i = 0; i < 100000; ++i) deep += ")";
  EXPECT_EQ(simplify_tag_value(deep), deep);
  // Within the limit the nested groups of one alternative are read.
  const std::string nested = "[aA]|[\\xe1](?:(?:(?:(?:[\\x80]|[\\x81][\\x82]))))|" +
                             std::string(kSomeMultibyte);
  EXPECT_EQ(simplify_tag_value(nested), group({"[aA]", kMultibyte}));
}

// ---- Superset property, checked with PCRE2 in byte mode ----------------------------------

struct code_deleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
using pcre2_code_ptr = std::unique_ptr<pcre2_code, code_deleter>;

// Anchored at both ends: matches the whole subject or nothing. No UTF mode, so `\xc3`
// is one byte, as SpamAssassin matches the raw body bytes.
pcre2_code_ptr compile_whole(std::string_view pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_ANCHORED | PCRE2_ENDANCHORED, &error, &offset, nullptr);
  if (code != nullptr) pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return pcre2_code_ptr(code);
}

class whole_matcher {
 public:
  explicit whole_matcher(std::string_view pattern)
      : code_(compile_whole(pattern)),
        data_(code_ ? pcre2_match_data_create_from_pattern(code_.get(), nullptr) : nullptr) {}
  ~whole_matcher() { pcre2_match_data_free(data_); }
  whole_matcher(const whole_matcher&) = delete;
  whole_matcher& operator=(const whole_matcher&) = delete;

  bool compiled() const { return code_ != nullptr; }
  bool matches(std::string_view subject) const {
    return pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()),
                       subject.size(), 0, 0, data_, nullptr) >= 0;
  }

 private:
  pcre2_code_ptr code_;
  pcre2_match_data* data_;
};

// Every subject a stock letter tag is written to match: all 1- and 2-byte strings, the
// 3-byte sequences under \xe1 and \xe2 and the 4-byte ones under \xf0\x9d (where the
// tags' look-alikes live), and &#N; / &#xH; entities.
void for_each_subject(const std::function<void(std::string_view)>& visit) {
  std::string subject;
  for (int a = 0; a < 256; ++a) {
    subject.assign(1, static_cast<char>(a));
    visit(subject);
    for (int b = 0; b < 256; ++b) {
      subject.assign({static_cast<char>(a), static_cast<char>(b)});
      visit(subject);
    }
  }
  for (const int lead : {0xe1, 0xe2}) {
    for (int b = 0x80; b <= 0xbf; ++b) {
      for (int c = 0x80; c <= 0xbf; ++c) {
        subject.assign({static_cast<char>(lead), static_cast<char>(b), static_cast<char>(c)});
        visit(subject);
      }
    }
  }
  for (int c = 0x80; c <= 0xbf; ++c) {
    for (int d = 0x80; d <= 0xbf; ++d) {
      subject.assign({'\xf0', '\x9d', static_cast<char>(c), static_cast<char>(d)});
      visit(subject);
    }
  }
  char buffer[16];
  for (int n = 0; n <= 20000; ++n) {
    visit(std::string_view(buffer, std::snprintf(buffer, sizeof buffer, "&#%d;", n)));
  }
  for (int h = 0; h <= 0xffff; ++h) {
    visit(std::string_view(buffer, std::snprintf(buffer, sizeof buffer, "&#x%x;", h)));
  }
}

struct superset_report {
  bool compiled = false;
  size_t original_matches = 0;
  size_t entity_matches = 0;     // of original_matches, how many were entities
  size_t multibyte_matches = 0;  // ... and how many were 2-4 byte UTF-8 sequences
  std::optional<std::string> missed;  // first subject the original matches and `wider` not
};

superset_report check_superset(std::string_view original, std::string_view wider) {
  superset_report report;
  const whole_matcher original_matcher(original);
  const whole_matcher wider_matcher(wider);
  report.compiled = original_matcher.compiled() && wider_matcher.compiled();
  if (!report.compiled) return report;
  for_each_subject([&](std::string_view subject) {
    if (!original_matcher.matches(subject)) return;
    ++report.original_matches;
    if (subject[0] == '&') ++report.entity_matches;
    if (subject.size() >= 2 && static_cast<unsigned char>(subject[0]) >= 0xc0) {
      ++report.multibyte_matches;
    }
    if (!report.missed && !wider_matcher.matches(subject)) report.missed = std::string(subject);
  });
  return report;
}

TEST(SimplifyTagValue, SupersetCheckerCatchesAMissingAlternative) {
  // The check below is only worth something if it can fail.
  const auto report = check_superset(R"((?:[aA]|[\xc3][\x80]|&\#x41;))", R"((?:[aA]|&\#x41;))");
  ASSERT_TRUE(report.compiled);
  ASSERT_TRUE(report.missed.has_value());
  EXPECT_EQ(*report.missed, "\xc3\x80");
  EXPECT_TRUE(check_superset(R"((?:[aA]|&\#x41;))", R"((?:[aA]|&\#x42;))").missed.has_value());
}

TEST(SimplifyTagValue, StockTagsGiveShortSupersets) {
  for (const auto& [name, value] : {std::pair{"A", kStockTagA}, std::pair{"E", kStockTagE},
                                    std::pair{"I", kStockTagI}, std::pair{"M", kStockTagM}}) {
    SCOPED_TRACE(name);
    const std::string simplified = simplify_tag_value(value);
    EXPECT_LE(simplified.size() * 4, value.size()) << simplified;
    EXPECT_NE(simplified.find(kMultibyte), std::string::npos);

    const superset_report report = check_superset(value, simplified);
    ASSERT_TRUE(report.compiled);
    EXPECT_GT(report.multibyte_matches, 20u) << "the enumeration must reach the UTF-8 parts";
    EXPECT_FALSE(report.missed.has_value())
        << "original matches \"" << report.missed.value_or("") << "\" but " << simplified
        << " does not";
  }
  // A, E and I carry entities; the enumeration must reach them too.
  EXPECT_GT(check_superset(kStockTagE, simplify_tag_value(kStockTagE)).entity_matches, 10u);
  EXPECT_NE(simplify_tag_value(kStockTagE).find(kEntity), std::string::npos);
  EXPECT_NE(simplify_tag_value(kStockTagM).find("|rn|"), std::string::npos);
}

}  // namespace
}  // namespace ringmail::spam
