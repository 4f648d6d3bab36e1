// relax_pattern must give a superset of the original pattern that Hyperscan accepts;
// analyse_repeats measures nested counted repeats.
#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "spam/match/regex_prefilter.h"

namespace ringmail::spam {
namespace {

TEST(RegexPrefilter, AnalyseRepeats) {
  EXPECT_EQ(analyse_repeats("abc").largest_repeat, 1u);
  EXPECT_EQ(analyse_repeats("a{0,40}").largest_repeat, 40u);
  EXPECT_EQ(analyse_repeats("(?:,[^,]{1,90}){50}").largest_repeat, 4500u);
  EXPECT_EQ(analyse_repeats("a*b+c?").largest_repeat, 1u);
  EXPECT_EQ(analyse_repeats("a{3,}").largest_repeat, 3u);
  EXPECT_EQ(analyse_repeats("x{,5}").largest_repeat, 1u) << "{,n} is a literal in PCRE2 10.42";
  EXPECT_EQ(analyse_repeats("[a{99}]").largest_repeat, 1u) << "braces inside a class";
  EXPECT_EQ(analyse_repeats("(?:a{2}|b{10}){3}").largest_repeat, 30u);
  EXPECT_TRUE(analyse_repeats("(a)\\1").parsed);
  EXPECT_FALSE(analyse_repeats("(?(1)a|b)").parsed);
  EXPECT_FALSE(analyse_repeats("(unclosed").parsed);
  EXPECT_FALSE(analyse_repeats("[unclosed").parsed);
}

TEST(RegexPrefilter, Rewrites) {
  struct row {
    const char* in;
    const char* out;  // nullptr: no prefilter
  };
  const row rows[] = {
      {"abc", "abc"},
      {"foo(?=bar)", "foo"},
      {"foo(?!bar)baz", "foobaz"},
      {"(?<=x)y(?<!z)", "y"},
      {"(?=a)*b", "b"},
      {"(\\w)\\1\\1", "(\\w)(?:[\\s\\S]*)(?:[\\s\\S]*)"},
      {"(?<n>a)\\k<n>(?P=n)\\g{1}\\g-1", "(a)(?:[\\s\\S]*)(?:[\\s\\S]*)(?:[\\s\\S]*)(?:[\\s\\S]*)"},
      {"(?>ab)c++d?+e{2}+", "(?:ab)c+d?e{2}"},
      {"a{0,100}b{1,50}c{3}", "a*b+c{3}"},
      {"(?:x{1,10}){5}", "(?:x{1,10})+"},
      {"a{2,3}?", "a{2,3}?"},
      {"\\Gfoo\\Kbar", "foobar"},
      {"(?i)x(?i:y)(?#c)", "(?i)x(?i:y)"},
      {"[(?=]\\(", "[(?=]\\("},
      {"[]a](?=[)])", "[]a]"},
      {"\\x{41}\\x41\\cA\\p{L}", "\\x{41}\\x41\\cA\\p{L}"},
      {"(?(1)a|b)", nullptr},
      {"(?|a|b)", nullptr},
      {"(?R)", nullptr},
      {"(*UTF)a", nullptr},
      {"(unclosed", nullptr},
      {"a)", nullptr},
  };
  for (const auto& r : rows) {
    auto got = relax_pattern(r.in, 16);
    if (!r.out) {
      EXPECT_FALSE(got.has_value()) << r.in << " -> " << got.value_or("");
    } else {
      ASSERT_TRUE(got.has_value()) << r.in;
      EXPECT_EQ(*got, r.out) << r.in;
    }
  }
}

TEST(RegexPrefilter, LongPatternsKeepARunOfAtoms) {
  // 34 bytes, at most 20 kept: the first 20 letters, behind the (?i) that governs them.
  EXPECT_EQ(relax_pattern("(?i)abcdefghijklmnopqrstuvwxyz0123", 16, 20), "(?i)abcdefghijklmnopqrst");
  // Optional atoms are not worth keeping; the run goes where the required ones are.
  EXPECT_EQ(relax_pattern("(?:aaaaaaa)?(?:bbbbbbb)?xyz", 16, 15), "(?:bbbbbbb)?xyz");
  // Look-arounds are removed before measuring.
  EXPECT_EQ(relax_pattern("(?=qqqqqqqqqqqqqqqqqqqqqqqq)abc", 16, 5), "abc");
  // A top-level alternation cannot be cut, nor a run under half of the pattern.
  EXPECT_FALSE(relax_pattern("abcdefghij|klmnopqrst", 16, 8).has_value());
  EXPECT_FALSE(relax_pattern(std::string(100, 'a'), 16, 20).has_value());
  EXPECT_FALSE(relax_pattern("^$\\b(?:x)?", 16, 3).has_value()) << "nothing required";
}

bool pcre_matches(const std::string& pattern, const std::string& subject) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_NEVER_UTF,
                                   &error, &offset, nullptr);
  EXPECT_NE(code, nullptr) << pattern;
  if (!code) return false;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  bool hit = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, md, nullptr) >= 0;
  pcre2_match_data_free(md);
  pcre2_code_free(code);
  return hit;
}

bool hyperscan_matches(const std::string& pattern, const std::string& subject) {
  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_compile(pattern.c_str(), HS_FLAG_ALLOWEMPTY | HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, nullptr, &db, &error) !=
      HS_SUCCESS) {
    ADD_FAILURE() << pattern << ": " << error->message;
    hs_free_compile_error(error);
    return false;
  }
  hs_scratch_t* scratch = nullptr;
  hs_alloc_scratch(db, &scratch);
  bool hit = false;
  hs_scan(db, subject.data(), subject.size(), 0, scratch,
          [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
            *static_cast<bool*>(ctx) = true;
            return 1;
          },
          &hit);
  hs_free_scratch(scratch);
  hs_free_database(db);
  return hit;
}

// Wherever PCRE2 matches the original, Hyperscan matches the relaxed pattern.
TEST(RegexPrefilter, RelaxedIsASupersetThatHyperscanAccepts) {
  const std::vector<std::string> patterns = {
      "(\\w)\\1\\1",         "foo(?=bar)",        "(?<!un)happy",          "(?>a+)b",
      "x{2,300}y",           "(?:ab{1,40}){20}c", "\\b(\\w+) \\1\\b",      "a++b",
      "(?<w>\\d)-\\k<w>",    "\\Gstart",          "pre\\Kpost",            "(?:[^<]{0,1024}<(?!/a)[^>]{1,1024}>){0,99}z",
  };
  const std::vector<std::string> subjects = {
      "aaa",   "foobar", "foobaz", "happy",  "unhappy", "aaab", "x" + std::string(250, 'x') + "y",
      "the the cat",     "1-1",    "1-2",    "start",   "prepost",
      "ab" + std::string(30, 'b') + "ab" + "c",
      "<a><b>z",
  };
  for (const auto& p : patterns) {
    auto relaxed = relax_pattern(p, 16);
    ASSERT_TRUE(relaxed.has_value()) << p;
    for (const auto& s : subjects) {
      if (pcre_matches(p, s)) {
        EXPECT_TRUE(hyperscan_matches(*relaxed, s)) << p << " -> " << *relaxed << " on " << s;
      }
    }
  }
}

}  // namespace
}  // namespace ringmail::spam
