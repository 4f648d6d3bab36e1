// RFC 2047 encoded-word decoding (mail/rfc2047.h): every example of RFC 2047 sec. 8,
// the RFC 2231 language suffix, and the leniency real mail needs (words inside words and
// quoted strings, characters split across words, malformed words, the word limit).
#include "mail/rfc2047.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "mail/limits.h"

namespace ringmail::mail {
namespace {

std::string decode(std::string_view v) {
  charset_converter c;
  return decode_header_words(v, c);
}

TEST(Rfc2047, Section8HeaderExamples) {
  EXPECT_EQ(decode("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>"),
            "Keith Moore <moore@cs.utk.edu>");
  EXPECT_EQ(decode("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>"),
            "Keld J\xC3\xB8rn Simonsen <keld@dkuug.dk>");
  EXPECT_EQ(decode("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"),
            "Andr\xC3\xA9 Pirard <PIRARD@vm1.ulg.ac.be>");
  EXPECT_EQ(decode("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= "
                   "=?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="),
            "If you can read this you understand the example.");
  EXPECT_EQ(decode("Nathaniel Borenstein <nsb@thumper.bellcore.com> "
                   "(=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)"),
            "Nathaniel Borenstein <nsb@thumper.bellcore.com> ("
            "\xD7\x9D\xD7\x95\xD7\x9C\xD7\xA9 \xD7\x9F\xD7\x91 "
            "\xD7\x99\xD7\x9C\xD7\x98\xD7\xA4\xD7\xA0)");
}

TEST(Rfc2047, Section8WhitespaceTable) {
  // "encoded form" -> "displayed as", verbatim from the RFC's table.
  const std::pair<std::string_view, std::string_view> table[] = {
      {"(=?ISO-8859-1?Q?a?=)", "(a)"},
      {"(=?ISO-8859-1?Q?a?= b)", "(a b)"},
      {"(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"},
      {"(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"},
      // The folded example, unfolded as the caller passes it.
      {"(=?ISO-8859-1?Q?a?= \t  =?ISO-8859-1?Q?b?=)", "(ab)"},
      {"(=?ISO-8859-1?Q?a_b?=)", "(a b)"},
      {"(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"},
  };
  for (const auto& [encoded, shown] : table) EXPECT_EQ(decode(encoded), shown) << encoded;
}

TEST(Rfc2047, Rfc2231LanguageSuffix) {
  EXPECT_EQ(decode("=?US-ASCII*EN?Q?Keith_Moore?="), "Keith Moore");
  EXPECT_EQ(decode("=?iso-8859-1*fr?q?caf=E9?="), "caf\xC3\xA9");
}

TEST(Rfc2047, TextOutsideWordsIsUtf8Repaired) {
  EXPECT_EQ(decode("plain subject"), "plain subject");
  EXPECT_EQ(decode("caf\xC3\xA9 ok"), "caf\xC3\xA9 ok");
  EXPECT_EQ(decode("caf\xE9"), "caf\xEF\xBF\xBD");
  EXPECT_EQ(decode("8bit \xE9 =?utf-8?q?x?="), "8bit \xEF\xBF\xBD x");
}

TEST(Rfc2047, WordsWithoutSurroundingWhitespace) {
  EXPECT_EQ(decode("Re:=?utf-8?q?caf=C3=A9?=!"), "Re:caf\xC3\xA9!");
  EXPECT_EQ(decode("\"=?utf-8?B?SsO2cmc=?=\" <j@example.org>"), "\"J\xC3\xB6rg\" <j@example.org>");
  EXPECT_EQ(decode("pre=?utf-8?q?fix?=post"), "prefixpost");
}

TEST(Rfc2047, MultibyteCharacterSplitAcrossWords) {
  // U+20AC (E2 82 AC) split after its second byte, once in B and once in Q.
  EXPECT_EQ(decode("=?utf-8?B?4oI=?= =?utf-8?B?rA==?="), "\xE2\x82\xAC");
  EXPECT_EQ(decode("=?UTF-8?Q?=E2?= =?utf-8?q?=82=AC_euro?="), "\xE2\x82\xAC euro");
  // Shift_JIS 日 (93 FA) split between words.
  EXPECT_EQ(decode("=?shift_jis?B?kw==?==?shift_jis?B?+g==?="), "\xE6\x97\xA5");
  // Words in different charsets are converted apart.
  EXPECT_EQ(decode("=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?="), "\xC3\xA9\xC3\xA9");
}

TEST(Rfc2047, IsoTwentyTwentyTwoJapaneseSubject) {
  // "=?ISO-2022-JP?B?" + base64("\x1b$B$3$s$K$A$O\x1b(B")
  EXPECT_EQ(decode("=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?="),
            "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF");
}

TEST(Rfc2047, MalformedWordsStayLiteral) {
  EXPECT_EQ(decode("=?utf-8?x?abc?="), "=?utf-8?x?abc?=");   // unknown encoding
  EXPECT_EQ(decode("=??q?abc?="), "=??q?abc?=");             // no charset
  EXPECT_EQ(decode("=?utf-8?q?abc"), "=?utf-8?q?abc");       // unterminated
  EXPECT_EQ(decode("=?utf-8?q?abc?"), "=?utf-8?q?abc?");
  EXPECT_EQ(decode("a =? b ?= c"), "a =? b ?= c");
  // A broken word before a good one does not hide it.
  EXPECT_EQ(decode("=?bad =?utf-8?q?ok?="), "=?bad ok");
  // Whitespace next to a literal is kept.
  EXPECT_EQ(decode("=?utf-8?q?a?= =?x =?utf-8?q?b?="), "a =?x b");
}

TEST(Rfc2047, EmptyAndOddWords) {
  EXPECT_EQ(decode("=?utf-8?q?\?="), "");
  EXPECT_EQ(decode("x =?utf-8?q?\?= y"), "x  y");
  // A space inside the encoded text (illegal) is accepted, as SpamAssassin does.
  EXPECT_EQ(decode("=?utf-8?q?two words?="), "two words");
  // Unknown charset: UTF-8 if valid, else Windows-1252.
  EXPECT_EQ(decode("=?x-bogus?q?caf=E9?="), "caf\xC3\xA9");
}

TEST(Rfc2047, WordLimit) {
  std::string value;
  for (size_t i = 0; i < max_encoded_words + 10; ++i) value += "=?utf-8?q?a?= ";
  std::string out = decode(value);
  // The first max_encoded_words words decode (and join); the rest stay as written.
  std::string expected(max_encoded_words, 'a');
  expected += " ";
  for (size_t i = 0; i < 10; ++i) expected += "=?utf-8?q?a?= ";
  EXPECT_EQ(out, expected);
}

TEST(Rfc2047, HostileInputStaysLinear) {
  std::string many_starts;
  for (int i = 0; i < 100000; ++i) many_starts += "=?a?q?";
  EXPECT_EQ(decode(many_starts), many_starts);
  std::string opens(1 << 20, '=');
  for (size_t i = 1; i < opens.size(); i += 2) opens[i] = '?';
  EXPECT_EQ(decode(opens).size(), opens.size());
}

}  // namespace
}  // namespace ringmail::mail
