// Charset conversion to UTF-8 (mail/charset.h): real charsets through iconv, the bogus
// labels senders use, unknown charsets, invalid bytes, and UTF-8 validation/repair
// against the Unicode "maximal subpart" rule.
//
// Expected bytes come from Python's codecs (e.g. 'Привет'.encode('koi8-r')).
#include "mail/charset.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace ringmail::mail {
namespace {

using namespace std::string_literals;

constexpr std::string_view kFFFD = "\xEF\xBF\xBD";

std::string repaired(std::string_view s) {
  std::string out;
  repair_utf8(s, out);
  return out;
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii text, long enough for the word loop"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9"));
  EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC"));          // U+20AC
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80 ok"));   // U+1F600
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF
  EXPECT_FALSE(is_valid_utf8("caf\xE9"));              // Latin-1
  EXPECT_FALSE(is_valid_utf8("\xC0\x80"));             // overlong NUL
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\x80"));         // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));         // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));     // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("abcdefgh\xE2\x82"));     // truncated after the word loop
  EXPECT_FALSE(is_valid_utf8("\x80"));                 // lone continuation
}

TEST(Utf8, RepairReplacesMaximalSubparts) {
  EXPECT_EQ(repaired("valid \xC3\xA9"), "valid \xC3\xA9");
  EXPECT_EQ(repaired("a\xFF" "b"), "a"s + std::string(kFFFD) + "b");
  // An incomplete sequence is one U+FFFD; the byte that broke it starts afresh.
  EXPECT_EQ(repaired("\xE2\x82" "A"), std::string(kFFFD) + "A");
  EXPECT_EQ(repaired("\xE2\x82"), std::string(kFFFD));
  EXPECT_EQ(repaired("\xF0\x9F\x98"), std::string(kFFFD));
  // Bytes that can start nothing valid: one U+FFFD each.
  EXPECT_EQ(repaired("\xC0\x80"), std::string(kFFFD) + std::string(kFFFD));
  EXPECT_EQ(repaired("\xED\xA0\x80"), std::string(kFFFD) + std::string(kFFFD) + std::string(kFFFD));
  EXPECT_EQ(repaired("\xE2\x82\xE2\x82\xAC"), std::string(kFFFD) + "\xE2\x82\xAC");
  std::string out = "keep:";
  repair_utf8("x\x80", out);
  EXPECT_EQ(out, "keep:x" + std::string(kFFFD));
  EXPECT_TRUE(is_valid_utf8(repaired("\xFE\xFF\xC3\x28\xA0\xA1\xE2\x28\xA1\xF0\x28\x8C\xBC")));
}

TEST(Charset, Utf8AndAsciiPassThroughOrAreRepaired) {
  charset_converter c;
  EXPECT_EQ(c.to_utf8("caf\xC3\xA9", "UTF-8"), "caf\xC3\xA9");
  EXPECT_EQ(c.to_utf8("caf\xC3\xA9", "utf8"), "caf\xC3\xA9");
  EXPECT_EQ(c.to_utf8("caf\xC3\xA9", ""), "caf\xC3\xA9");
  EXPECT_EQ(c.to_utf8("caf\xE9", "utf-8"), "caf" + std::string(kFFFD));
  // 8-bit bytes in "us-ascii" text are repaired like UTF-8 (the contract in charset.h).
  EXPECT_EQ(c.to_utf8("caf\xE9", "us-ascii"), "caf" + std::string(kFFFD));
  EXPECT_EQ(c.to_utf8("plain", "US-ASCII"), "plain");
  EXPECT_EQ(c.to_utf8("x", "\"UTF-8\""), "x");
  std::string out = "a";
  c.to_utf8("b", "utf-8", out);
  EXPECT_EQ(out, "ab");
}

TEST(Charset, EightBitCharsets) {
  charset_converter c;
  EXPECT_EQ(c.to_utf8("caf\xE9", "ISO-8859-1"), "caf\xC3\xA9");
  // ISO-8859-1 labels are read as Windows-1252 (WHATWG): 0x80 is the euro sign.
  EXPECT_EQ(c.to_utf8("\x80 5", "iso-8859-1"), "\xE2\x82\xAC 5");
  EXPECT_EQ(c.to_utf8("\x93quoted\x94", "windows-1252"),
            "\xE2\x80\x9Cquoted\xE2\x80\x9D");
  EXPECT_EQ(c.to_utf8("\xF0\xD2\xC9\xD7\xC5\xD4", "KOI8-R"),
            "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");  // Привет
  EXPECT_EQ(c.to_utf8("\xC5\xEB\xEB\xDC\xE4\xE1", "iso-8859-7"),
            "\xCE\x95\xCE\xBB\xCE\xBB\xCE\xAC\xCE\xB4\xCE\xB1");  // Ελλάδα
}

TEST(Charset, MultibyteCharsets) {
  charset_converter c;
  EXPECT_EQ(c.to_utf8("\x93\xFA\x96{\x8C\xEA", "Shift_JIS"),
            "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E");  // 日本語
  EXPECT_EQ(c.to_utf8("\x1B$B$3$s$K$A$O\x1B(B", "ISO-2022-JP"),
            "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF");  // こんにちは
  // Mixed ASCII and shifted text.
  EXPECT_EQ(c.to_utf8("Re: \x1B$B$3$s\x1B(B!", "iso-2022-jp"),
            "Re: \xE3\x81\x93\xE3\x82\x93!");
}

TEST(Charset, StatefulCharsetStartsEachCallInInitialState) {
  charset_converter c;
  // Ends shifted into JIS X 0208 without the escape back to ASCII...
  std::string first = c.to_utf8("\x1B$B$3", "ISO-2022-JP");
  EXPECT_EQ(first, "\xE3\x81\x93");
  // ...and the next conversion must still read "$3" as ASCII.
  EXPECT_EQ(c.to_utf8("$3", "ISO-2022-JP"), "$3");
}

TEST(Charset, BogusLabelsSendersUse) {
  charset_converter c;
  EXPECT_EQ(c.to_utf8("\xB0\xA1\xB3\xAA", "ks_c_5601-1987"), "\xEA\xB0\x80\xEB\x82\x98");  // 가나
  EXPECT_EQ(c.to_utf8("\xD6\xD0\xCE\xC4", "gb2312"), "\xE4\xB8\xAD\xE6\x96\x87");  // 中文
  EXPECT_EQ(c.to_utf8("\xF9\xEC\xE5\xED", "iso-8859-8-i"),
            "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D");  // שלום
}

TEST(Charset, UnknownCharsetIsUtf8IfValidElseWindows1252) {
  charset_converter c;
  for (std::string_view label :
       {"x-no-such-charset", "unknown-8bit", "x-unknown", "bogus//TRANSLIT"}) {
    EXPECT_EQ(c.to_utf8("caf\xC3\xA9", label), "caf\xC3\xA9") << label;
    EXPECT_EQ(c.to_utf8("caf\xE9 \x80", label), "caf\xC3\xA9 \xE2\x82\xAC") << label;
  }
}

TEST(Charset, InvalidBytesBecomeReplacementAndConversionGoesOn) {
  charset_converter c;
  // 0x81 is unassigned in Windows-1252.
  EXPECT_EQ(c.to_utf8("a\x81" "b", "windows-1252"), "a" + std::string(kFFFD) + "b");
  // 0xFF is no Shift_JIS lead byte; the text after it still converts.
  EXPECT_EQ(c.to_utf8("\x93\xFA\xFF\x96{", "shift_jis"),
            "\xE6\x97\xA5" + std::string(kFFFD) + "\xE6\x9C\xAC");
  // Input ending inside a multibyte character.
  EXPECT_EQ(c.to_utf8("\x93\xFA\x96", "shift_jis"), "\xE6\x97\xA5" + std::string(kFFFD));
}

TEST(Charset, LargeInputConvertsCompletely) {
  charset_converter c;
  std::string latin1(1 << 20, '\xE9');
  std::string out = c.to_utf8(latin1, "iso-8859-15");
  EXPECT_EQ(out.size(), 2u << 20);
  EXPECT_EQ(out.substr(0, 4), "\xC3\xA9\xC3\xA9");
  // Every byte invalid: one U+FFFD each, and still one pass.
  std::string bad(1 << 18, '\xFF');
  EXPECT_EQ(c.to_utf8(bad, "shift_jis").size(), 3u << 18);
}

TEST(Charset, ManyDistinctLabelsKeepWorking) {
  charset_converter c;
  for (int i = 0; i < 2000; ++i) {
    std::string label = "x-made-up-" + std::to_string(i);
    ASSERT_EQ(c.to_utf8("\xE9", label), "\xC3\xA9");
  }
  EXPECT_EQ(c.to_utf8("\xF0\xD2", "koi8-r"), "\xD0\x9F\xD1\x80");
}

}  // namespace
}  // namespace ringmail::mail
