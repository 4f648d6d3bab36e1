// The simple Unicode case fold (mail/casefold.h): each block it covers, what it leaves
// alone on purpose, idempotence, and invalid UTF-8 passed through.
#include "mail/casefold.h"

#include <gtest/gtest.h>

#include <string>

namespace ringmail::mail {
namespace {

TEST(Casefold, Ascii) {
  EXPECT_EQ(fold_case("Hello, WORLD 123 [@`]"), "hello, world 123 [@`]");
}

TEST(Casefold, Latin1) {
  EXPECT_EQ(fold_case("GR\xC3\x9C\xC3\x9F" "E"), "gr\xC3\xBC\xC3\x9F" "e");  // GRÜßE -> grüße
  EXPECT_EQ(fold_case("\xC3\x80\xC3\x89\xC3\x9E"), "\xC3\xA0\xC3\xA9\xC3\xBE");  // ÀÉÞ
  EXPECT_EQ(fold_case("\xC3\x97"), "\xC3\x97");  // × is not a letter
  EXPECT_EQ(fold_case("\xC3\x9F"), "\xC3\x9F");  // ß stays (no full fold to "ss")
  EXPECT_EQ(fold_case("\xC5\xB8"), "\xC3\xBF");  // Ÿ -> ÿ
}

TEST(Casefold, LatinExtendedA) {
  EXPECT_EQ(fold_case("\xC4\x80"), "\xC4\x81");          // Ā -> ā
  EXPECT_EQ(fold_case("\xC5\x81\xC3\x93\xC5\xB9"), "\xC5\x82\xC3\xB3\xC5\xBA");  // ŁÓŹ
  EXPECT_EQ(fold_case("\xC4\xB9"), "\xC4\xBA");          // Ĺ -> ĺ (odd upper run)
  EXPECT_EQ(fold_case("\xC5\x8A"), "\xC5\x8B");          // Ŋ -> ŋ (even again)
  EXPECT_EQ(fold_case("\xC4\xB0"), "i");                 // İ -> i
  EXPECT_EQ(fold_case("\xC4\xB1"), "\xC4\xB1");          // ı stays
  EXPECT_EQ(fold_case("\xC5\xBF"), "s");                 // ſ -> s
  EXPECT_EQ(fold_case("\xC5\x82"), "\xC5\x82");          // ł already lower
}

TEST(Casefold, Greek) {
  // ΟΔΟΣ vs οδος: final sigma folds to σ on both sides.
  EXPECT_EQ(fold_case("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3"), fold_case("\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82"));
  EXPECT_EQ(fold_case("\xCE\x86"), "\xCE\xAC");  // Ά -> ά
  EXPECT_EQ(fold_case("\xCE\x8F"), "\xCF\x8E");  // Ώ -> ώ
  EXPECT_EQ(fold_case("\xCE\xAB"), "\xCF\x8B");  // Ϋ -> ϋ
}

TEST(Casefold, Cyrillic) {
  // ПРИВЕТ Ёж -> привет ёж
  EXPECT_EQ(fold_case("\xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2 \xD0\x81\xD0\xB6"),
            "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD1\x91\xD0\xB6");
  EXPECT_EQ(fold_case("\xD2\x90"), "\xD2\x91");  // Ґ -> ґ
  EXPECT_EQ(fold_case("\xD3\x80"), "\xD3\x8F");  // Ӏ -> ӏ
  EXPECT_EQ(fold_case("\xD3\x81"), "\xD3\x82");  // Ӂ -> ӂ
}

TEST(Casefold, InvalidUtf8PassesThroughAndCodePointsOutsideAreKept) {
  EXPECT_EQ(fold_case(std::string("A\xFF" "B\xC3", 4)), std::string("a\xFF" "b\xC3", 4));
  EXPECT_EQ(fold_case("\xC0\x81"), "\xC0\x81");  // overlong: bytes kept
  EXPECT_EQ(fold_case("\xE2\x82\xAC\xF0\x9F\x98\x80"), "\xE2\x82\xAC\xF0\x9F\x98\x80");  // € 😀
}

TEST(Casefold, IdempotentAndNeverLonger) {
  for (char32_t c = 0; c < 0x600; ++c) {
    char32_t f = fold_code_point(c);
    EXPECT_EQ(fold_code_point(f), f) << std::hex << static_cast<uint32_t>(c);
  }
  std::string all;
  for (char32_t c = 0x80; c < 0x600; ++c) {
    if (c < 0x800) {
      all.push_back(static_cast<char>(0xC0 | (c >> 6)));
      all.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  std::string once = fold_case(all);
  EXPECT_LE(once.size(), all.size());
  EXPECT_EQ(fold_case(once), once);
}

}  // namespace
}  // namespace ringmail::mail
