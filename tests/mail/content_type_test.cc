// Content-Type / Content-Disposition parsing (mail/content_type.h): RFC 2045 5.1 syntax
// and defaults (5.2), comments, quoted strings, the RFC 2231 examples of sec. 3 and 4,
// RFC 2047 words in quoted values, the parameter limits, and broken real-world values.
#include "mail/content_type.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "mail/limits.h"

namespace ringmail::mail {
namespace {

class ContentType : public ::testing::Test {
 protected:
  content_type ct(std::string_view v, std::string_view def = "text/plain") {
    return parse_content_type(v, charsets_, def);
  }
  parameterized_value pv(std::string_view v) { return parse_parameterized(v, charsets_); }
  std::string param(std::string_view v, std::string_view name) {
    parameterized_value p = pv(v);
    const std::string* s = p.param(name);
    return s != nullptr ? *s : "<absent>";
  }
  charset_converter charsets_;
};

TEST_F(ContentType, Basic) {
  content_type t = ct("text/html; charset=UTF-8");
  EXPECT_EQ(t.type, "text");
  EXPECT_EQ(t.subtype, "html");
  EXPECT_TRUE(t.is("text", "html"));
  EXPECT_EQ(t.charset(), "utf-8");
  content_type m = ct("Multipart/Mixed; boundary=\"----=_Part_12_AbC.xyz\"");
  EXPECT_TRUE(m.is_multipart());
  EXPECT_EQ(m.subtype, "mixed");
  EXPECT_EQ(m.boundary(), "----=_Part_12_AbC.xyz");  // case kept
  EXPECT_EQ(m.charset(), "");
}

TEST_F(ContentType, Rfc2045Examples) {
  // RFC 2045 5.1: the comment is not part of the value; the two forms are equivalent.
  EXPECT_EQ(ct("text/plain; charset=us-ascii (Plain text)").charset(), "us-ascii");
  EXPECT_EQ(ct("text/plain; charset=\"us-ascii\"").charset(), "us-ascii");
  EXPECT_EQ(ct("TEXT/PLAIN; CHARSET=US-ASCII").charset(), "us-ascii");
}

TEST_F(ContentType, DefaultsForMissingAndGarbage) {
  for (std::string_view v : {"", "   ", "/", "/plain", "multipart/", "text/plain/x",
                             "\"text/plain\"", "te xt(comment)/ pl@in", ";charset=utf-8"}) {
    content_type t = ct(v);
    EXPECT_EQ(t.type, "text") << v;
    EXPECT_EQ(t.subtype, "plain") << v;
  }
  // RFC 2046 5.1.5: inside multipart/digest the default is message/rfc822.
  content_type d = ct("", "message/rfc822");
  EXPECT_TRUE(d.is("message", "rfc822"));
  EXPECT_TRUE(ct("garbage", "message/rfc822").is("message", "rfc822"));
  // "text" alone (old mailers) is text/plain even where the default differs.
  EXPECT_TRUE(ct("text", "message/rfc822").is("text", "plain"));
  EXPECT_TRUE(ct("text/; charset=koi8-r").is("text", "plain"));
  EXPECT_EQ(ct("text; charset=koi8-r").charset(), "koi8-r");
}

TEST_F(ContentType, CommentsAndWhitespaceAnywhere) {
  content_type t = ct(" (lead) text (a (nested) comment) / html ; (c) charset = (d) \"utf-8\" (e)");
  EXPECT_TRUE(t.is("text", "html"));
  EXPECT_EQ(t.charset(), "utf-8");
  // An unterminated comment runs to the end.
  EXPECT_TRUE(ct("text/html (oops; charset=utf-8").is("text", "html"));
  EXPECT_EQ(ct("text/html (oops; charset=utf-8").charset(), "");
}

TEST_F(ContentType, QuotedStrings) {
  EXPECT_EQ(param("attachment; filename=\"a\\\"b\\\\c;d.txt\"", "filename"), "a\"b\\c;d.txt");
  EXPECT_EQ(param("attachment; filename=\"unterminated.pdf", "filename"), "unterminated.pdf");
  // Junk after the closing quote is ignored.
  EXPECT_EQ(param("attachment; filename=\"a.pdf\" .exe; size=3", "filename"), "a.pdf");
  EXPECT_EQ(param("attachment; filename=\"a.pdf\" .exe; size=3", "size"), "3");
}

TEST_F(ContentType, ParameterNamesAreCaseInsensitive) {
  parameterized_value p = pv("Attachment; FileName=x.txt; SIZE=10");
  EXPECT_EQ(p.value, "attachment");
  ASSERT_EQ(p.params.size(), 2u);
  EXPECT_EQ(p.params[0].first, "filename");
  EXPECT_EQ(p.params[1].first, "size");
  ASSERT_NE(p.param("FILENAME"), nullptr);
  EXPECT_EQ(*p.param("FILENAME"), "x.txt");
  EXPECT_EQ(p.param("name"), nullptr);
}

TEST_F(ContentType, DuplicateParametersFirstWins) {
  EXPECT_EQ(ct("text/plain; charset=iso-8859-1; charset=utf-8").charset(), "iso-8859-1");
  EXPECT_EQ(pv("text/plain; charset=a; charset=b").params.size(), 1u);
}

TEST_F(ContentType, Rfc2231Section3Continuations) {
  content_type t = ct(
      "message/external-body; access-type=URL; URL*0=\"ftp://\"; "
      "URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"");
  EXPECT_TRUE(t.is("message", "external-body"));
  ASSERT_NE(t.raw.param("url"), nullptr);
  EXPECT_EQ(*t.raw.param("url"), "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
  EXPECT_EQ(*t.raw.param("access-type"), "URL");
}

TEST_F(ContentType, Rfc2231Section4CharsetAndLanguage) {
  EXPECT_EQ(param("application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
                  "title"),
            "This is ***fun***");
}

TEST_F(ContentType, Rfc2231Section41CombinedAsWrittenInTheRfc) {
  // The RFC's own example has no ';' between the parameters (a known erratum); real
  // senders make the same mistake, so it must parse.
  std::string v =
      "application/x-stuff title*0*=us-ascii'en'This%20is%20even%20more%20 "
      "title*1*=%2A%2A%2Afun%2A%2A%2A%20 title*2=\"isn't it!\"";
  EXPECT_EQ(pv(v).value, "application/x-stuff");
  EXPECT_EQ(param(v, "title"), "This is even more ***fun*** isn't it!");
  std::string with_semicolons =
      "application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; "
      "title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"";
  EXPECT_EQ(param(with_semicolons, "title"), "This is even more ***fun*** isn't it!");
}

TEST_F(ContentType, Rfc2231CharsetsAndOrdering) {
  EXPECT_EQ(param("attachment; filename*=iso-8859-1''caf%E9.txt", "filename"), "caf\xC3\xA9.txt");
  EXPECT_EQ(param("attachment; filename*=UTF-8''%E2%82%AC%20rate.pdf", "filename"),
            "\xE2\x82\xAC rate.pdf");
  // Segments out of order are sorted by index; a UTF-8 character split between them.
  EXPECT_EQ(param("attachment; filename*1*=%82%AC.pdf; filename*0*=utf-8''%E2", "filename"),
            "\xE2\x82\xAC.pdf");
  // Broken escapes stay literal; missing charset quotes mean no charset.
  EXPECT_EQ(param("attachment; filename*=utf-8''100%25%zz", "filename"), "100%%zz");
  EXPECT_EQ(param("attachment; filename*=plain%20name", "filename"), "plain name");
  // Unknown charset: Windows-1252 for bytes that are not UTF-8.
  EXPECT_EQ(param("attachment; filename*=x-bogus''%E9", "filename"), "\xC3\xA9");
}

TEST_F(ContentType, Rfc2231ValueWinsOverPlainFallback) {
  parameterized_value p =
      pv("attachment; filename=\"fallback.pdf\"; filename*=utf-8''%C3%A4.pdf");
  ASSERT_EQ(p.params.size(), 1u);
  EXPECT_EQ(p.params[0].second, "\xC3\xA4.pdf");
}

TEST_F(ContentType, Rfc2047WordsInQuotedValues) {
  EXPECT_EQ(param("attachment; filename=\"=?utf-8?B?w6TDtsO8LnBkZg==?=\"", "filename"),
            "\xC3\xA4\xC3\xB6\xC3\xBC.pdf");
  EXPECT_EQ(param("application/pdf; name==?iso-8859-1?q?caf=E9.pdf?=", "name"),
            "caf\xC3\xA9.pdf");
}

TEST_F(ContentType, BoundaryIsNeverDecoded) {
  EXPECT_EQ(ct("multipart/mixed; boundary=\"=?utf-8?q?x?=\"").boundary(), "=?utf-8?q?x?=");
  EXPECT_EQ(ct("multipart/mixed; boundary=\"b\xE9\"").boundary(), "b\xE9");
}

TEST_F(ContentType, BrokenRealWorldValues) {
  // Unquoted value with spaces.
  EXPECT_EQ(param("attachment; filename=my file.pdf", "filename"), "my file.pdf");
  // A missing ';' before the next parameter.
  EXPECT_EQ(ct("text/plain charset=utf-8").charset(), "utf-8");
  EXPECT_TRUE(ct("text/plain charset=utf-8").is("text", "plain"));
  EXPECT_EQ(param("text/plain; charset=utf-8 format=flowed", "format"), "flowed");
  EXPECT_EQ(param("text/plain; charset=utf-8 format=flowed", "charset"), "utf-8");
  // Stray semicolons, empty values, names without '='.
  parameterized_value p = pv("text/plain;; ;charset=;junk; =x; format=flowed;");
  EXPECT_EQ(p.value, "text/plain");
  ASSERT_NE(p.param("charset"), nullptr);
  EXPECT_EQ(*p.param("charset"), "");
  ASSERT_NE(p.param("format"), nullptr);
  EXPECT_EQ(*p.param("format"), "flowed");
  EXPECT_EQ(p.param("junk"), nullptr);
}

TEST_F(ContentType, ParameterLimits) {
  std::string many = "text/plain";
  for (int i = 0; i < 200; ++i) many += "; p" + std::to_string(i) + "=v";
  parameterized_value p = pv(many);
  EXPECT_EQ(p.params.size(), max_parameters);
  EXPECT_EQ(p.params.back().first, "p" + std::to_string(max_parameters - 1));

  std::string segments = "attachment";
  for (int i = 0; i < 200; ++i) segments += "; name*" + std::to_string(i) + "=x";
  EXPECT_EQ(param(segments, "name"), std::string(max_parameter_segments, 'x'));
}

TEST_F(ContentType, HostileValuesAreLinear) {
  std::string parens(100000, '(');
  EXPECT_TRUE(ct(parens).is("text", "plain"));
  std::string semis = "text/plain" + std::string(100000, ';');
  EXPECT_TRUE(ct(semis).is("text", "plain"));
  std::string quotes(100001, '"');
  EXPECT_TRUE(ct("text/plain; a=" + quotes).is("text", "plain"));
  std::string equals = "text/plain; " + std::string(100000, '=');
  EXPECT_TRUE(ct(equals).is("text", "plain"));
  std::string words = "text/plain";
  for (int i = 0; i < 20000; ++i) words += " w";
  EXPECT_TRUE(ct(words).is("text", "plain"));
}

}  // namespace
}  // namespace ringmail::mail
