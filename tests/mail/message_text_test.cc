// The text views of a message (mail/message_text.h), checked against what SpamAssassin
// 4.0 gives its rule types: decoded headers, the body as Subject + one paragraph per line,
// rawbody, URIs, and the counters; plus the hostile inputs.
#include "mail/message_text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "mail/charset.h"
#include "mail/encoding.h"
#include "mail/limits.h"
#include "mail/message.h"

namespace ringmail::mail {
namespace {

struct rendered {
  std::string bytes;  // owns the message the views point into
  charset_converter charsets;
  message msg;
  message_text text;
};

std::unique_ptr<rendered> render(std::string bytes) {
  auto r = std::make_unique<rendered>();
  r->bytes = std::move(bytes);
  r->msg = parse_message(r->bytes, r->charsets);
  r->text = render_text(r->msg, r->charsets);
  return r;
}

bool has_uri(const message_text& t, std::string_view uri) {
  return std::find(t.uris.begin(), t.uris.end(), uri) != t.uris.end();
}

constexpr std::string_view nested_message =
    "From: =?UTF-8?Q?Ren=C3=A9?= <rene@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: =?ISO-8859-1?Q?Rapport_caf=E9?=\r\n"
    "Received: from a by b\r\n"
    "Received: from c\r\n by d\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble text is not rendered\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=ISO-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=E9 au lait, see http://example.com/menu\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=UTF-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "PGI+Q2Fmw6k8L2I+IDxhIGhyZWY9Imh0dHA6Ly9leGFtcGxlLm5ldC9saW5rIj5hdSBsYWl0PC9h\r\n"
    "Pg==\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: text/plain; name=\"notes.txt\"\r\n"
    "Content-Disposition: attachment; filename=\"notes.txt\"\r\n"
    "\r\n"
    "attached text is rendered too, as SA does\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: forwarded\r\n"
    "\r\n"
    "inner body\r\n"
    "--outer--\r\n";

TEST(MessageText, NestedMultipartAsSpamAssassinSeesIt) {
  auto r = render(std::string(nested_message));
  const message_text& t = r->text;
  // Exactly what SpamAssassin 4.0.1's get_rendered_body_text_array gives for this
  // message: the leaves are joined with a single "\n", so the plain text, the HTML
  // (rendered to "Café au lait"), the text attachment (SA renders those too) and the
  // enclosed message are one paragraph.
  EXPECT_EQ(t.body,
            "Rapport caf\xC3\xA9\n"
            "Caf\xC3\xA9 au lait, see http://example.com/menu Caf\xC3\xA9 au lait "
            "attached text is rendered too, as SA does inner body");
  EXPECT_EQ(t.text_parts, 3u);  // alternative's text/plain, notes.txt, the enclosed message's
  EXPECT_EQ(t.html_parts, 1u);
  EXPECT_GE(t.html_tags, 2u);
  EXPECT_EQ(t.attachments, 1u);
  EXPECT_EQ(t.broken_encodings, 0u);
  EXPECT_FALSE(t.truncated);

  // rawbody: transfer-decoded, not charset-converted, tags kept.
  EXPECT_NE(t.raw_body.find("Caf\xE9 au lait"), std::string::npos);
  EXPECT_NE(t.raw_body.find("<b>Caf\xC3\xA9</b> <a href="), std::string::npos);
  EXPECT_NE(t.raw_body.find("attached text"), std::string::npos);
  EXPECT_EQ(t.raw_body.find('\r'), std::string::npos);

  EXPECT_TRUE(has_uri(t, "http://example.com/menu"));
  EXPECT_TRUE(has_uri(t, "http://example.net/link"));

  ASSERT_EQ(t.headers.size(), 7u);
  EXPECT_EQ(t.headers[0].name, "From");
  EXPECT_EQ(t.headers[0].decoded, "Ren\xC3\xA9 <rene@example.org>");
  EXPECT_EQ(t.headers[0].raw, "=?UTF-8?Q?Ren=C3=A9?= <rene@example.org>");
  EXPECT_EQ(t.header_values("subject"), "Rapport caf\xC3\xA9\n");
  EXPECT_EQ(t.header_values("RECEIVED"), "from a by b\nfrom c by d\n");
  EXPECT_EQ(t.header_values("X-Missing"), "");
  EXPECT_TRUE(t.has_header("mime-version"));
  EXPECT_FALSE(t.has_header("Cc"));
  EXPECT_EQ(t.full, nested_message);

  // mimeheader: every non-root part's fields, including the enclosed message's.
  auto forwarded = std::find_if(t.mime_headers.begin(), t.mime_headers.end(),
                                [](const text_header& h) { return h.decoded == "forwarded"; });
  EXPECT_NE(forwarded, t.mime_headers.end());
  EXPECT_EQ(t.mime_headers.front().name, "Content-Type");
}

TEST(MessageText, ParagraphsAsSpamAssassinJoinsThem) {
  auto r = render(
      "Subject: paragraphs\n\n"
      "line one\nline two\n\n\nnew para  with \t spaces\n \t\nthird\n");
  EXPECT_EQ(r->text.body, "paragraphs\nline one line two\nnew para with spaces\nthird ");
  EXPECT_EQ(r->text.raw_body, "line one\nline two\n\n\nnew para  with \t spaces\n \t\nthird\n");
}

TEST(MessageText, UnicodeWhitespaceCollapses) {
  auto r = render(
      "Subject: s\nContent-Type: text/plain; charset=utf-8\n\na\xC2\xA0\xC2\xA0"
      "b\xE3\x80\x80\n\xE2\x80\x83\nc");
  // SA: the stretch from the first to the last newline is the break; the U+3000 before it
  // stays a space.
  EXPECT_EQ(r->text.body, "s\na b \nc");
}

TEST(MessageText, EveryLeafAddsASeparator) {
  // SA adds "\n" before every leaf, rendered or not: the image between the two text
  // parts makes "\n\n", a paragraph break (checked against SpamAssassin 4.0.1).
  auto r = render(
      "Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n"
      "--b\n\nt1\n--b\nContent-Type: image/gif\n\nGIF\n--b\n\nt2\n--b--\n");
  EXPECT_EQ(r->text.body, "s\nt1\nt2");
}

TEST(MessageText, NoSubjectGivesAnEmptyFirstLine) {
  auto r = render("From: a@b\n\nhello");
  EXPECT_EQ(r->text.body, "\nhello");
}

TEST(MessageText, LastSubjectWins) {
  auto r = render("Subject: first\nSubject: second\n\nx");
  EXPECT_EQ(r->text.body, "second\nx");
  EXPECT_EQ(r->text.header_values("Subject"), "first\nsecond\n");
}

TEST(MessageText, Base64Utf8AndQuotedPrintableLatin1) {
  std::string msg =
      "Subject: charsets\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      encode_base64("Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln\r\n") +
      "\r\n--b\r\n"
      "Content-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      "=C0 bient=F4t, soft=\r\nbreak\r\n\r\n"
      "--b--\r\n";
  auto r = render(msg);
  EXPECT_EQ(r->text.body,
            "charsets\nGr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln\n"
            "\xC3\x80 bient\xC3\xB4t, softbreak ");
  EXPECT_EQ(r->text.text_parts, 2u);
  EXPECT_TRUE(is_valid_utf8(r->text.body));
}

TEST(MessageText, NonTextPartsAreNotRendered) {
  auto r = render(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/calendar\n\nBEGIN:VCALENDAR\n"
      "--b\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\nR0lGODlh\n"
      "--b\nContent-Type: text/plain\n\nvisible\n"
      "--b--\n");
  EXPECT_EQ(r->text.body.find("VCALENDAR"), std::string::npos);
  EXPECT_NE(r->text.body.find("visible"), std::string::npos);
  EXPECT_EQ(r->text.raw_body, "visible");
  EXPECT_EQ(r->text.text_parts, 1u);
}

TEST(MessageText, OtherTextTypesRenderAsPlain) {
  // SA bug 5399: text/* other than html, calendar and x-vcard is text/plain to SA.
  auto r = render(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/enriched\n\n<bold>Bob</bold>\n"
      "--b\nContent-Type: text/x-vcard\n\nBEGIN:VCARD\n"
      "--b\nContent-Type: text/rfc822-headers\n\nReceived: from x\n"
      "--b--\n");
  EXPECT_EQ(r->text.body, "\n<bold>Bob</bold>\nReceived: from x");
  EXPECT_EQ(r->text.text_parts, 2u);
  // rawbody (SA get_decoded_body_text_array) has every text/* leaf but calendars.
  EXPECT_EQ(r->text.raw_body, "<bold>Bob</bold>\nBEGIN:VCARD\nReceived: from x");
}

TEST(MessageText, HtmlNamedPartIsRenderedAsHtml) {
  // SA Node::effective_type: a part named *.html is HTML whatever its declared type.
  auto r = render(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: application/octet-stream; name=\"page.html\"\n\n"
      "<html><body><b>bold</b> words</body></html>\n"
      "--b--\n");
  EXPECT_EQ(r->text.html_parts, 1u);
  EXPECT_NE(r->text.body.find("bold words"), std::string::npos);
  EXPECT_EQ(r->text.body.find("<b>"), std::string::npos);
}

TEST(MessageText, HtmlAttachmentIsRenderedAsSpamAssassinDoes) {
  // Spam that carries its whole text in an attached page (SpamAssassin corpus
  // spam-2/01306): SA renders it, and its scores count on that.
  auto r = render(
      "Subject: promo\n"
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/plain\n\n\n"
      "--b\nContent-Type: application/octet-stream; name=\"C:\\promo.htm\"\n"
      "Content-Transfer-Encoding: base64\n"
      "Content-Disposition: attachment; filename=\"promo.htm\"\n\n" +
      encode_base64("<html><body>Dear Sir/ Madam</body></html>") + "\n--b--\n");
  EXPECT_EQ(r->text.attachments, 1u);
  EXPECT_EQ(r->text.html_parts, 1u);
  EXPECT_NE(r->text.body.find("Dear Sir/ Madam"), std::string::npos);
}

TEST(MessageText, MultipartWithoutBoundaryRendersAsPlainText) {
  auto r = render("Subject: s\nContent-Type: multipart/alternative\n\nplain words\n");
  EXPECT_EQ(r->text.body, "s\nplain words ");
}

TEST(MessageText, UrisAreDeduplicatedInOrder) {
  auto r = render(
      "Subject: see http://example.org/subject\n\n"
      "first http://example.org/a then http://example.org/b and http://example.org/a again\n");
  ASSERT_GE(r->text.uris.size(), 3u);
  EXPECT_EQ(r->text.uris[0], "http://example.org/subject");
  EXPECT_EQ(r->text.uris[1], "http://example.org/a");
  EXPECT_EQ(r->text.uris[2], "http://example.org/b");
  EXPECT_EQ(std::count(r->text.uris.begin(), r->text.uris.end(), "http://example.org/a"), 1);
}

TEST(MessageText, BrokenBase64IsCountedAndStillRendered) {
  auto r = render(
      "Subject: b\nContent-Transfer-Encoding: base64\n\naGVs!!bG8g*d29y#bGQ=\n");
  EXPECT_EQ(r->text.body, "b\nhello world");
  EXPECT_GT(r->text.broken_encodings, 0u);
}

TEST(MessageText, InvalidUtf8IsRepaired) {
  auto r = render("Subject: bad \xFF\xFE\nContent-Type: text/plain; charset=utf-8\n\nx\xC3(y\n");
  EXPECT_TRUE(is_valid_utf8(r->text.body));
  for (const text_header& h : r->text.headers) EXPECT_TRUE(is_valid_utf8(h.decoded));
}

// ---- hostile inputs --------------------------------------------------------------------

TEST(MessageTextLimits, TenThousandParts) {
  std::string msg = "Subject: many\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n";
  for (int i = 0; i < 10000; ++i) msg += "--p\r\n\r\nw" + std::to_string(i) + "\r\n";
  msg += "--p--\r\n";
  auto r = render(msg);
  EXPECT_TRUE(r->text.truncated);
  EXPECT_EQ(r->text.text_parts, max_mime_parts - 1);
  EXPECT_NE(r->text.body.find("w998"), std::string::npos);
  EXPECT_EQ(r->text.body.find("w999"), std::string::npos);
}

TEST(MessageTextLimits, FiftyMegabyteLineIsCapped) {
  std::string msg = "Subject: huge\r\n\r\n";
  msg.append(50u << 20, 'x');
  msg += "\r\n";
  auto r = render(msg);
  EXPECT_TRUE(r->text.truncated);
  EXPECT_LE(r->text.body.size(), max_rendered_text_bytes + 16);
  EXPECT_GE(r->text.body.size(), max_text_part_bytes);
  EXPECT_LE(r->text.raw_body.size(), max_rendered_text_bytes);
  EXPECT_EQ(r->msg.parts[0].body.size(), (50u << 20) + 2);
}

TEST(MessageTextLimits, ManyLargeTextPartsCapTheBody) {
  std::string msg = "Content-Type: multipart/mixed; boundary=p\r\n\r\n";
  std::string chunk(900 * 1024, 'a');
  for (int i = 0; i < 8; ++i) msg += "--p\r\n\r\n" + chunk + " \xC3\xA9\r\n";
  msg += "--p--\r\n";
  auto r = render(msg);
  EXPECT_TRUE(r->text.truncated);
  EXPECT_LE(r->text.body.size(), max_rendered_text_bytes + 1);
  EXPECT_TRUE(is_valid_utf8(r->text.body));
}

TEST(MessageTextLimits, DeepNestingRendersWithoutRecursion) {
  std::string msg;
  for (int i = 0; i < 1000; ++i) {
    msg += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  msg += "Content-Type: text/plain\r\n\r\ndeep\r\n";
  auto r = render(msg);
  EXPECT_TRUE(r->text.truncated);
  // The part at the depth limit is opaque: its text is not rendered.
  EXPECT_EQ(r->text.body.find("deep"), std::string::npos);
}

TEST(MessageTextLimits, HundredThousandHeaderFields) {
  std::string msg;
  for (int i = 0; i < 100000; ++i) msg += "Received: from h" + std::to_string(i) + "\r\n";
  msg += "\r\nbody\r\n";
  auto r = render(msg);
  EXPECT_TRUE(r->text.truncated);
  EXPECT_EQ(r->text.headers.size(), max_header_fields);
  EXPECT_EQ(r->text.body, "\nbody ");
}

}  // namespace
}  // namespace ringmail::mail
