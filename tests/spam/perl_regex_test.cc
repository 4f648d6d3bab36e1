// translate_perl_regex: the exact rewrites, and what the result means to both engines
// (each case is compiled with Hyperscan and PCRE2 and run on sample subjects).
#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <gtest/gtest.h>

#include <string>

#include "spam/match/matcher.h"

namespace ringmail::spam {
namespace {

translated_pattern line(const std::string& p, const std::string& flags = "") {
  return translate_perl_regex(p, flags, translate_options{.line_mode = true});
}

struct table_case {
  const char* perl;
  const char* flags;
  const char* expected;
};

TEST(PerlRegex, RewritesOutsideLineMode) {
  const table_case cases[] = {
      {"http:\\/\\/foo", "", "http://foo"},
      {"a b # comment\n c", "x", "abc"},
      {"a\\ b [ x] \\#c", "x", "a\\ b[ x]\\#c"},
      {"a b", "", "a b"},  // no /x: spaces are data
      {"\\Qa.b*\\E+", "", "a\\.b\\*+"},
      {"\\Qopen", "", "open"},
      {"a(?#note)b", "", "ab"},
      {"\\h\\H", "", "[\\t \\xA0][^\\t \\xA0]"},
      {"\\v", "", "[\\n\\x0B\\f\\r\\x85]"},
      {"\\e\\N", "", "\\x1B[^\\n]"},
      {"\\N{U+41}", "", "\\N{U+41}"},
      {"foo\\z|\\Abar\\Z", "", "foo\\z|\\Abar\\Z"},
      {"[]a]", "", "[\\]a]"},
      {"[^]a]", "", "[^\\]a]"},
      {"[[:alpha:]_]+", "", "[[:alpha:]_]+"},
      {"[\\/]x", "", "[/]x"},
      {"\\c[x", "", "\\c[x"},
      {"(\\w)\\1", "", "(\\w)\\1"},
      {"a++(?>b)(?=c)", "", "a++(?>b)(?=c)"},
      {"[\\h]", "", "[\\t \\xA0]"},
      {"x\\", "", "x\\"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(translate_perl_regex(c.perl, c.flags).pattern, c.expected) << c.perl;
  }
}

TEST(PerlRegex, Flags) {
  auto t = translate_perl_regex("a", "imsxgo");
  EXPECT_TRUE(t.caseless);
  EXPECT_TRUE(t.multiline);
  EXPECT_TRUE(t.dotall);
  EXPECT_TRUE(t.extended);
  auto plain = translate_perl_regex("a", "");
  EXPECT_FALSE(plain.caseless || plain.multiline || plain.dotall || plain.extended);
  auto l = line("a", "s");
  EXPECT_TRUE(l.multiline);
  EXPECT_FALSE(l.dotall);
}

TEST(PerlRegex, LineModeKeepsNewlineOutOfClasses) {
  EXPECT_EQ(line("a\\sb").pattern, "a[\\t\\x0B\\f\\r ]b");
  EXPECT_EQ(line("[^ab]").pattern, "[^\\nab]");
  EXPECT_EQ(line("[\\s,]").pattern, "[\\t\\x0B\\f\\r ,]");
  EXPECT_EQ(line("\\W\\D").pattern, "[^\\w\\n][^\\d\\n]");
  EXPECT_EQ(line("\\Afoo\\z").pattern, "^foo$");
  EXPECT_EQ(line("\\v").pattern, "[\\x0B\\f\\r\\x85]");
  // A '-' first in a class, or next to a class escape, stays a literal after expansion.
  EXPECT_EQ(line("[^-=_]").pattern, "[^\\n\\-=_]");
  EXPECT_EQ(line("[-a]").pattern, "[\\-a]");
  EXPECT_EQ(line("[\\s-x]").pattern, "[\\t\\x0B\\f\\r \\-x]");
  EXPECT_EQ(line("[a-\\s]").pattern, "[a\\-\\t\\x0B\\f\\r ]");
  EXPECT_EQ(line("[\\\\-\\s]").pattern, "[\\\\\\-\\t\\x0B\\f\\r ]");
  EXPECT_EQ(line("[\\s-]").pattern, "[\\t\\x0B\\f\\r -]");
}

// Runs `pattern` (translated with `flags`, `line_mode`) with both engines on `subject`;
// both must agree, and the agreed answer is returned.
bool both_match(const std::string& perl, const std::string& flags, bool line_mode, const std::string& subject) {
  auto t = translate_perl_regex(perl, flags, translate_options{.line_mode = line_mode});
  unsigned hs_flags = HS_FLAG_ALLOWEMPTY | HS_FLAG_SINGLEMATCH;
  uint32_t pcre_flags = PCRE2_NEVER_UTF;
  if (t.caseless) hs_flags |= HS_FLAG_CASELESS, pcre_flags |= PCRE2_CASELESS;
  if (t.multiline) hs_flags |= HS_FLAG_MULTILINE, pcre_flags |= PCRE2_MULTILINE;
  if (t.dotall) hs_flags |= HS_FLAG_DOTALL, pcre_flags |= PCRE2_DOTALL;

  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  EXPECT_EQ(hs_compile(t.pattern.c_str(), hs_flags, HS_MODE_BLOCK, nullptr, &db, &error), HS_SUCCESS)
      << t.pattern << ": " << (error ? error->message : "");
  if (error) hs_free_compile_error(error);
  bool hs_hit = false;
  if (db) {
    hs_scratch_t* scratch = nullptr;
    hs_alloc_scratch(db, &scratch);
    hs_scan(db, subject.data(), subject.size(), 0, scratch,
            [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
              *static_cast<bool*>(ctx) = true;
              return 0;
            },
            &hs_hit);
    hs_free_scratch(scratch);
    hs_free_database(db);
  }

  int code_error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(t.pattern.data()), t.pattern.size(), pcre_flags,
                                   &code_error, &offset, nullptr);
  EXPECT_NE(code, nullptr) << t.pattern;
  bool pcre_hit = false;
  if (code) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    pcre_hit = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, md, nullptr) >= 0;
    pcre2_match_data_free(md);
    pcre2_code_free(code);
  }
  EXPECT_EQ(hs_hit, pcre_hit) << perl << " -> " << t.pattern << " on " << subject;
  return pcre_hit;
}

TEST(PerlRegex, EnginesAgreeOnTranslatedSemantics) {
  EXPECT_TRUE(both_match("a\\vb", "", false, "a\nb"));
  EXPECT_TRUE(both_match("a\\vb", "", false, "a\x0b" "b"));
  EXPECT_FALSE(both_match("a\\vb", "", false, "a b"));
  EXPECT_TRUE(both_match("a\\hb", "", false, "a\tb"));
  EXPECT_FALSE(both_match("a\\hb", "", false, "a\nb"));
  EXPECT_TRUE(both_match("\\Qa.b\\E", "", false, "xa.by"));
  EXPECT_FALSE(both_match("\\Qa.b\\E", "", false, "axb"));
  EXPECT_TRUE(both_match("hello world", "x", false, "helloworld"));
  EXPECT_TRUE(both_match("HELLO", "i", false, "say hello"));
  EXPECT_TRUE(both_match("http:\\/\\/x", "", false, "see http://x"));
  EXPECT_TRUE(both_match("foo$", "", false, "foo\n"));  // Perl: $ before a final newline
  EXPECT_FALSE(both_match("foo$", "", false, "foo\nbar"));
  EXPECT_TRUE(both_match("[]x]", "", false, "]"));
}

TEST(PerlRegex, LineModeNeverCrossesALine) {
  EXPECT_TRUE(both_match("foo\\s+bar", "", true, "a\nfoo  bar\nb"));
  EXPECT_FALSE(both_match("foo\\s+bar", "", true, "foo\nbar"));
  EXPECT_FALSE(both_match("foo[^x]bar", "", true, "foo\nbar"));
  EXPECT_FALSE(both_match("foo\\Wbar", "", true, "foo\nbar"));
  EXPECT_TRUE(both_match("foo\\Wbar", "", true, "foo-bar"));
  EXPECT_FALSE(both_match("foo[\\W_]bar", "", true, "foo\nbar"));
  EXPECT_TRUE(both_match("foo[\\W_]bar", "", true, "foo_bar"));
  EXPECT_FALSE(both_match("foo\\Dbar", "", true, "foo\nbar"));
  EXPECT_FALSE(both_match("foo.bar", "s", true, "foo\nbar"));
  EXPECT_TRUE(both_match("foo.bar", "s", true, "foo.bar"));
  EXPECT_TRUE(both_match("^second$", "", true, "first\nsecond\nthird"));
  EXPECT_TRUE(both_match("\\Asecond\\z", "", true, "first\nsecond\nthird"));
  EXPECT_FALSE(both_match("foo\\Hbar", "", true, "foo\nbar"));
  // SpamAssassin's FF_BLANK2 tag starts with [^-=_.,:;*\w]: the '-' is a literal.
  EXPECT_TRUE(both_match("x[^-=_.,:;*\\w]y", "", true, "x!y"));
  EXPECT_FALSE(both_match("x[^-=_.,:;*\\w]y", "", true, "x-y"));
  EXPECT_FALSE(both_match("x[^-=_.,:;*\\w]y", "", true, "x\ny"));
  EXPECT_TRUE(both_match("x[\\s-]y", "", true, "x-y"));
  EXPECT_FALSE(both_match("x[\\s-]y", "", true, "x.y"));
}

}  // namespace
}  // namespace ringmail::spam
