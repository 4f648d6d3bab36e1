// URI extraction from plain text (mail/uri_extract.h): schemes, bare www./ftp. hosts,
// bare addresses, trailing punctuation, the cap, and inputs that must stay linear.
#include "mail/uri_extract.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace ringmail::mail {
namespace {

using uris = std::vector<std::string>;

uris extract(std::string_view text, size_t max = 1000) {
  uris out;
  extract_uris(text, out, max);
  return out;
}

TEST(UriExtract, Schemes) {
  EXPECT_EQ(extract("see http://example.com/a?b=c#d now"), (uris{"http://example.com/a?b=c#d"}));
  EXPECT_EQ(extract("HTTPS://Example.COM/Path"), (uris{"HTTPS://Example.COM/Path"}));
  EXPECT_EQ(extract("get ftp://ftp.example.org/pub/file.tar.gz"),
            (uris{"ftp://ftp.example.org/pub/file.tar.gz"}));
  EXPECT_EQ(extract("write to mailto:someone@example.com?subject=hi"),
            (uris{"mailto:someone@example.com?subject=hi"}));
  // Glued to the word before it (spam does this): still found.
  EXPECT_EQ(extract("Clickhttp://spam.example/"), (uris{"http://spam.example/"}));
}

TEST(UriExtract, NotUris) {
  EXPECT_EQ(extract("http:// alone, http:/x, http:///path, gopher://x.example, time 10:30"),
            uris{});
  EXPECT_EQ(extract("the www. prefix; ftp. too; awww.example.com; e.g. www-x.com"), uris{});
  EXPECT_EQ(extract("user@localhost, a@b.c, @example.com, x@.com, y@1.23"), uris{});
  EXPECT_EQ(extract(""), uris{});
}

TEST(UriExtract, UriEndsAtDelimiters) {
  EXPECT_EQ(extract("<http://a.example/x>"), (uris{"http://a.example/x"}));
  EXPECT_EQ(extract("\"http://b.example/y\""), (uris{"http://b.example/y"}));
  EXPECT_EQ(extract("http://c.example/z\thttp://d.example/\r\nhttp://e.example"),
            (uris{"http://c.example/z", "http://d.example/", "http://e.example"}));
}

TEST(UriExtract, TrailingPunctuationIsTrimmed) {
  EXPECT_EQ(extract("Visit http://example.com/offer."), (uris{"http://example.com/offer"}));
  EXPECT_EQ(extract("(see http://example.com/a)"), (uris{"http://example.com/a"}));
  EXPECT_EQ(extract("http://example.com/x?!, and"), (uris{"http://example.com/x"}));
  EXPECT_EQ(extract("'http://example.com/q';"), (uris{"http://example.com/q"}));
  EXPECT_EQ(extract("go to www.example.com..."), (uris{"http://www.example.com"}));
  // Punctuation inside the URI stays.
  EXPECT_EQ(extract("http://example.com/a.b,c;d:e!f?g)h"),
            (uris{"http://example.com/a.b,c;d:e!f?g)h"}));
}

TEST(UriExtract, BareHostsGetASchemeAsSpamAssassinDoes) {
  EXPECT_EQ(extract("Go to www.example.com/path now"), (uris{"http://www.example.com/path"}));
  EXPECT_EQ(extract("WWW.EXAMPLE.COM"), (uris{"http://WWW.EXAMPLE.COM"}));
  EXPECT_EQ(extract("files at ftp.example.org."), (uris{"ftp://ftp.example.org"}));
  EXPECT_EQ(extract("(www.example.net)"), (uris{"http://www.example.net"}));
}

TEST(UriExtract, BareAddressesBecomeMailto) {
  EXPECT_EQ(extract("write to john.doe+tag@mail.example.com."),
            (uris{"mailto:john.doe+tag@mail.example.com"}));
  EXPECT_EQ(extract("<info@example.org>"), (uris{"mailto:info@example.org"}));
  EXPECT_EQ(extract("'quoted@example.org'"), (uris{"mailto:quoted@example.org"}));
  EXPECT_EQ(extract("a@x.example, b@y.example"),
            (uris{"mailto:a@x.example", "mailto:b@y.example"}));
  // An address inside a URI is part of that URI, not a second one.
  EXPECT_EQ(extract("http://user@host.example/ and mailto:me@example.com"),
            (uris{"http://user@host.example/", "mailto:me@example.com"}));
  EXPECT_EQ(extract("me@www.example.com"), (uris{"mailto:me@www.example.com"}));
}

TEST(UriExtract, OrderOfAppearanceAndAppending) {
  uris out{"existing"};
  extract_uris("b@x.example www.y.example http://z.example", out, 10);
  EXPECT_EQ(out, (uris{"existing", "mailto:b@x.example", "http://www.y.example",
                       "http://z.example"}));
}

TEST(UriExtract, MaxUrisCap) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "http://h" + std::to_string(i) + ".example/ ";
  EXPECT_EQ(extract(text, 10).size(), 10u);
  EXPECT_EQ(extract(text, 0).size(), 0u);
  uris out{"a", "b", "c"};
  extract_uris(text, out, 5);  // the cap counts what is already there
  EXPECT_EQ(out.size(), 5u);
  EXPECT_EQ(out.back(), "http://h1.example/");
}

TEST(UriExtract, HostileInputsAreLinear) {
  const size_t mb = 1 << 20;
  auto repeat = [&](std::string_view unit) {
    std::string s;
    while (s.size() < mb) s += unit;
    return s;
  };
  EXPECT_EQ(extract(repeat("http:///")).size(), 0u);
  EXPECT_EQ(extract(repeat("@")).size(), 0u);
  EXPECT_EQ(extract(repeat("a@")).size(), 0u);
  EXPECT_EQ(extract(repeat(".")).size(), 0u);
  EXPECT_EQ(extract(repeat("x@y")).size(), 0u);
  EXPECT_EQ(extract(repeat("http://:::: ")).size(), 0u);
  // One URI of a megabyte is cut to a sane size.
  std::string long_uri = "http://" + std::string(mb, 'a');
  uris one = extract(long_uri);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_LE(one[0].size(), 8192u);
  uris many = extract(repeat("www.a.example "), 100000);
  EXPECT_EQ(many.size(), (mb + 13) / 14);
}

}  // namespace
}  // namespace ringmail::mail
