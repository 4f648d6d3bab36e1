// Content-Transfer-Encoding decoders (mail/encoding.h): base64 (RFC 4648 test vectors,
// RFC 2045 6.8 leniency: garbage, missing padding, data after padding) and
// quoted-printable (RFC 2045 6.7: soft breaks, bad escapes, trailing whitespace; RFC 2047
// "Q" header mode).
//
// Vectors are fixed strings from RFC 4648 sec. 10 or produced with Python's base64 and
// quopri modules, so a bug shared by our encoder and decoder cannot hide.
#include "mail/encoding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace ringmail::mail {
namespace {

using namespace std::string_literals;

std::string b64d(std::string_view in, decode_stats* stats = nullptr,
                 size_t max_out = static_cast<size_t>(-1)) {
  std::string out;
  decode_base64(in, out, stats, max_out);
  return out;
}

std::string qpd(std::string_view in, decode_stats* stats = nullptr, bool header = false,
                size_t max_out = static_cast<size_t>(-1)) {
  std::string out;
  decode_quoted_printable(in, out, stats, header, max_out);
  return out;
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [raw, enc] : vectors) {
    EXPECT_EQ(encode_base64(raw), enc);
    decode_stats stats;
    EXPECT_EQ(b64d(enc, &stats), raw) << enc;
    EXPECT_EQ(stats.invalid, 0u);
    EXPECT_FALSE(stats.truncated) << enc;
  }
}

TEST(Base64, AllByteValuesRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  // python3 -c 'import base64; print(base64.b64encode(bytes(range(256)))[:40])'
  EXPECT_EQ(encode_base64(all).substr(0, 40), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd");
  EXPECT_EQ(b64d(encode_base64(all)), all);
}

TEST(Base64, LineBreaksAndIndentationAreSkippedSilently) {
  decode_stats stats;
  EXPECT_EQ(b64d("Zm9v\r\nYmFy\r\n", &stats), "foobar");
  EXPECT_EQ(b64d(" Zm9v\n\tYm\r\nFy ", &stats), "foobar");
  EXPECT_EQ(stats.invalid, 0u);
  EXPECT_FALSE(stats.truncated);
}

TEST(Base64, GarbageCharactersAreSkippedAndCounted) {
  decode_stats stats;
  EXPECT_EQ(b64d("Zm9v!!Ym*Fy", &stats), "foobar");
  EXPECT_EQ(stats.invalid, 3u);
  // base64url characters are not in the MIME alphabet.
  decode_stats url;
  EXPECT_EQ(b64d("-_-_Zm9v", &url), "foo");
  EXPECT_EQ(url.invalid, 4u);
}

TEST(Base64, MissingPaddingDecodesWholeBytes) {
  decode_stats stats;
  EXPECT_EQ(b64d("Zm9vYg", &stats), "foob");
  EXPECT_TRUE(stats.truncated);
  decode_stats three;
  EXPECT_EQ(b64d("Zm9vYmE", &three), "fooba");
  EXPECT_TRUE(three.truncated);
  decode_stats lone;  // a single sextet holds no whole byte
  EXPECT_EQ(b64d("Zm9vY", &lone), "foo");
  EXPECT_TRUE(lone.truncated);
}

TEST(Base64, DataAfterPaddingIsIgnored) {
  decode_stats stats;
  EXPECT_EQ(b64d("Zm9vYg==Zm9vYmFy", &stats), "foob");
  EXPECT_EQ(b64d("Zm9vYg==\r\n-- \r\nsignature\r\n", &stats), "foob");
  EXPECT_EQ(b64d("Zm9v=Zm9v", &stats), "foo");
  EXPECT_EQ(stats.invalid, 0u);
  EXPECT_FALSE(stats.truncated);
  // One '=' where two belong still ends the data.
  EXPECT_EQ(b64d("Zg=", &stats), "f");
  EXPECT_FALSE(stats.truncated);
  decode_stats lone;
  EXPECT_EQ(b64d("Zm9vY=", &lone), "foo");
  EXPECT_TRUE(lone.truncated);
}

TEST(Base64, AppendsAndHonoursMaxOut) {
  std::string out = "prefix:";
  decode_base64("Zm9vYmFy", out);
  EXPECT_EQ(out, "prefix:foobar");
  decode_stats stats;
  EXPECT_EQ(b64d("Zm9vYmFy", &stats, 4), "foob");
  EXPECT_FALSE(stats.truncated);  // cut by the limit, not by the input
  EXPECT_EQ(b64d("Zm9vYmFy", nullptr, 0), "");
  EXPECT_EQ(b64d("Zm9vYg", nullptr, 2), "fo");
}

TEST(Base64, MegabytesWithLineBreaksRoundTrip) {
  std::mt19937 rng(7);
  std::string raw(3 * 1024 * 1024 + 1, '\0');
  for (char& c : raw) c = static_cast<char>(rng());
  std::string enc = encode_base64(raw);
  std::string wrapped;
  for (size_t i = 0; i < enc.size(); i += 76) wrapped += enc.substr(i, 76) + "\r\n";
  decode_stats stats;
  std::string out = b64d(wrapped, &stats);
  EXPECT_EQ(out.size(), raw.size());
  EXPECT_TRUE(out == raw);
  EXPECT_EQ(stats.invalid, 0u);
}

TEST(QuotedPrintable, EscapesInEitherCase) {
  decode_stats stats;
  EXPECT_EQ(qpd("a=3Db=3dc", &stats), "a=b=c");
  EXPECT_EQ(qpd("caf=E9 cr=C3=A8me", &stats), "caf\xE9 cr\xC3\xA8me");
  EXPECT_EQ(stats.invalid, 0u);
}

TEST(QuotedPrintable, SoftLineBreaks) {
  EXPECT_EQ(qpd("foo=\r\nbar"), "foobar");
  EXPECT_EQ(qpd("foo=\nbar"), "foobar");
  // Whitespace after the '=' was added in transport (RFC 2045 6.7 rule 3).
  EXPECT_EQ(qpd("foo= \t\r\nbar"), "foobar");
  // "=" as the last byte: a soft break with nothing after it.
  decode_stats stats;
  EXPECT_EQ(qpd("foo=", &stats), "foo");
  EXPECT_FALSE(stats.truncated);
  EXPECT_EQ(stats.invalid, 0u);
}

TEST(QuotedPrintable, HardLineBreaksAreKeptAsWritten) {
  EXPECT_EQ(qpd("one\r\ntwo\r\n"), "one\r\ntwo\r\n");
  EXPECT_EQ(qpd("one\ntwo"), "one\ntwo");
}

TEST(QuotedPrintable, TrailingWhitespaceIsDroppedButEncodedSpaceKept) {
  EXPECT_EQ(qpd("foo   \r\nbar\t\n"), "foo\r\nbar\n");
  EXPECT_EQ(qpd("foo=20\r\n"), "foo \r\n");
  EXPECT_EQ(qpd("foo =20 \r\n"), "foo  \r\n");
  EXPECT_EQ(qpd("last line  "), "last line");
}

TEST(QuotedPrintable, BadEscapesAreKeptLiterally) {
  decode_stats stats;
  EXPECT_EQ(qpd("a=ZZb", &stats), "a=ZZb");
  EXPECT_EQ(stats.invalid, 1u);
  EXPECT_EQ(qpd("100=% sure =G1", &stats), "100=% sure =G1");
  EXPECT_EQ(stats.invalid, 3u);
  EXPECT_FALSE(stats.truncated);
  decode_stats cut;
  EXPECT_EQ(qpd("abc=4", &cut), "abc=4");
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(cut.invalid, 1u);
}

TEST(QuotedPrintable, HeaderModeUnderscoreIsSpace) {
  EXPECT_EQ(qpd("Keith_Moore=5F=3F", nullptr, true), "Keith Moore_?");
  EXPECT_EQ(qpd("Keith_Moore", nullptr, false), "Keith_Moore");
  decode_stats stats;
  qpd("a=4", &stats, true);
  EXPECT_TRUE(stats.truncated);
}

TEST(QuotedPrintable, MaxOut) {
  EXPECT_EQ(qpd("abcdef\r\nghij\r\n", nullptr, false, 5), "abcde");
  EXPECT_EQ(qpd("=41=42=43", nullptr, false, 2), "AB");
}

TEST(QuotedPrintable, LongInputIsLinear) {
  // A megabyte of '=' (every one a bad escape) and of soft breaks.
  std::string eq(1 << 20, '=');
  decode_stats stats;
  std::string out = qpd(eq, &stats);
  EXPECT_EQ(out.size(), eq.size() - 1);  // the last '=' is a soft break
  std::string soft;
  for (int i = 0; i < 100000; ++i) soft += "ab=\r\n";
  EXPECT_EQ(qpd(soft).size(), 200000u);
}

}  // namespace
}  // namespace ringmail::mail
