// The MIME tree (mail/message.h): nested multiparts, message/rfc822, RFC 2046 boundary
// rules, RFC 2231 file names, transfer decoding, and the hostile inputs limits.h is for
// (10,000 parts, a 50 MB line, 1000-deep nesting, 100k header fields, a boundary that
// prefixes every line).
#include "mail/message.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "mail/encoding.h"
#include "mail/limits.h"

namespace ringmail::mail {
namespace {

bool inside(std::string_view outer, std::string_view inner) {
  return inner.data() >= outer.data() &&
         inner.data() + inner.size() <= outer.data() + outer.size();
}

// Structural invariants every parse must keep, whatever the input.
void expect_consistent(const message& m) {
  ASSERT_FALSE(m.parts.empty());
  EXPECT_EQ(m.parts[0].bytes.data(), m.bytes.data());
  EXPECT_LE(m.parts.size(), max_mime_parts);
  for (size_t i = 0; i < m.parts.size(); ++i) {
    const mime_part& p = m.parts[i];
    EXPECT_TRUE(inside(m.bytes, p.bytes)) << "part " << i;
    EXPECT_TRUE(inside(p.bytes, p.body)) << "part " << i;
    for (const header_field& f : p.headers.fields) {
      EXPECT_TRUE(inside(m.bytes, f.name));
      EXPECT_TRUE(inside(m.bytes, f.value));
    }
    EXPECT_LE(p.depth, max_mime_depth);
    if (i == 0) {
      EXPECT_EQ(p.parent, no_part);
    } else {
      ASSERT_LT(p.parent, i) << "pre-order";
      EXPECT_EQ(p.depth, m.parts[p.parent].depth + 1);
      EXPECT_TRUE(inside(m.parts[p.parent].bytes, p.bytes));
    }
    for (uint32_t c : p.children) {
      ASSERT_LT(c, m.parts.size());
      EXPECT_EQ(m.parts[c].parent, i);
    }
  }
}

std::string type_of(const mime_part& p) { return p.type.type + "/" + p.type.subtype; }

constexpr std::string_view nested_message =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net\r\n"
    "Subject: report\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "This is a multi-part message in MIME format.\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative;\r\n"
    "\tboundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=ISO-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=E9 au lait\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=UTF-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "PHA+Q2Fmw6kgYXUgbGFpdDwvcD4=\r\n"
    "--inner--\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: application/pdf\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename*0*=UTF-8''r%C3%A9sum%C3%A9;\r\n"
    " filename*1=\".pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "JVBERi0xLjQK\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: carol@example.com\r\n"
    "Subject: forwarded\r\n"
    "\r\n"
    "inner body\r\n"
    "--outer--  \r\n"
    "epilogue is ignored\r\n";

TEST(Message, NestedMultipartTree) {
  charset_converter charsets;
  message m = parse_message(nested_message, charsets);
  expect_consistent(m);
  ASSERT_EQ(m.parts.size(), 7u);
  EXPECT_FALSE(m.truncated);
  EXPECT_EQ(m.missing_boundaries, 0u);
  const char* expected[] = {"multipart/mixed", "multipart/alternative", "text/plain",
                            "text/html",       "application/pdf",       "message/rfc822",
                            "text/plain"};
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(type_of(m.parts[i]), expected[i]) << i;
  EXPECT_EQ(m.parts[0].children, (std::vector<uint32_t>{1, 4, 5}));
  EXPECT_EQ(m.parts[1].children, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(m.parts[5].children, (std::vector<uint32_t>{6}));
  EXPECT_EQ(m.parts[2].depth, 2u);
  EXPECT_EQ(m.parts[6].depth, 2u);
  EXPECT_EQ(m.parts[6].parent, 5u);

  // RFC 2046 5.1.1: the CRLF before a boundary line belongs to the boundary.
  EXPECT_EQ(m.parts[2].body, "Caf=E9 au lait");
  EXPECT_EQ(m.parts[2].transfer_encoding, "quoted-printable");
  EXPECT_EQ(m.parts[2].type.charset(), "iso-8859-1");
  EXPECT_EQ(m.parts[3].body, "PHA+Q2Fmw6kgYXUgbGFpdDwvcD4=");
  // The inner multipart ends before the blank line that precedes "--outer".
  EXPECT_TRUE(m.parts[1].body.ends_with("--inner--\r\n"));
  // The enclosed message is a part of its own, with its own header block.
  EXPECT_EQ(m.parts[6].headers.find("Subject")->value, "forwarded");
  EXPECT_EQ(m.parts[6].body, "inner body");
  EXPECT_EQ(m.parts[5].body, m.parts[6].bytes);

  EXPECT_EQ(m.parts[4].disposition, "attachment");
  EXPECT_EQ(m.parts[4].filename, "r\xC3\xA9sum\xC3\xA9.pdf");  // RFC 2231 continuation
  EXPECT_TRUE(m.parts[4].is_attachment());
  EXPECT_FALSE(m.parts[2].is_attachment());
  EXPECT_EQ(decode_body(m.parts[4], 100), "%PDF-1.4\n");
  EXPECT_EQ(decode_body(m.parts[2], 100), "Caf\xE9 au lait");
  EXPECT_EQ(decode_body(m.parts[3], 100), "<p>Caf\xC3\xA9 au lait</p>");
  EXPECT_EQ(decode_body(m.parts[3], 5), "<p>Ca");
}

TEST(Message, LfOnlyMessage) {
  std::string_view msg =
      "Subject: lf\n"
      "Content-Type: multipart/mixed; boundary=b\n"
      "\n"
      "--b\n"
      "Content-Type: text/plain\n"
      "\n"
      "first\n"
      "\n"
      "--b\n"
      "\n"
      "second has no headers\n"
      "--b--\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[1].body, "first\n");  // one LF is the part's, one the boundary's
  EXPECT_EQ(type_of(m.parts[2]), "text/plain");  // RFC 2045 5.2 default
  EXPECT_TRUE(m.parts[2].headers.fields.empty());
  EXPECT_EQ(m.parts[2].body, "second has no headers");
  EXPECT_EQ(m.missing_boundaries, 0u);
}

TEST(Message, SinglePartAndHeaderWithoutBody) {
  charset_converter charsets;
  std::string_view plain = "Subject: x\r\n\r\nhello\r\n";
  message m = parse_message(plain, charsets);
  ASSERT_EQ(m.parts.size(), 1u);
  EXPECT_EQ(m.parts[0].body, "hello\r\n");
  EXPECT_EQ(m.headers().find("subject")->value, "x");

  std::string_view header_only = "Subject: no body\r\nFrom: a@b\r\n";
  message h = parse_message(header_only, charsets);
  expect_consistent(h);
  ASSERT_EQ(h.parts.size(), 1u);
  EXPECT_EQ(h.headers().fields.size(), 2u);
  EXPECT_TRUE(h.parts[0].body.empty());

  message empty = parse_message("", charsets);
  expect_consistent(empty);
  ASSERT_EQ(empty.parts.size(), 1u);
}

TEST(Message, MboxFromLineIsSkipped) {
  std::string_view msg =
      "From sender@example.org  Thu Aug 22 12:36:23 2002\n"
      "Subject: mbox\n"
      "Content-Type: text/plain\n"
      "\n"
      "body\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  ASSERT_EQ(m.headers().fields.size(), 2u);
  EXPECT_EQ(m.headers().malformed_lines, 1u);
  EXPECT_EQ(m.parts[0].body, "body\n");
}

TEST(Message, PartWithoutHeaderBodySeparator) {
  // SA Message::_parse_multipart: in a part's header block the first line that is not
  // a field (or a continuation of one) starts the body.
  std::string_view msg =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\n"
      "This is text without headers\r\n"
      "\r\n"
      "more text\r\n"
      "--b\r\n"
      "Content-Type: text/html\r\n"
      "<b>no blank line</b>\r\n"
      "--b\r\n"
      "Content-Type: multipart/alternative; boundary=c\r\n"
      "--c\r\n"
      "\r\n"
      "nested at once\r\n"
      "--c--\r\n"
      "--b--\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  ASSERT_EQ(m.parts.size(), 5u);
  EXPECT_TRUE(m.parts[1].headers.fields.empty());
  EXPECT_EQ(m.parts[1].body, "This is text without headers\r\n\r\nmore text");
  EXPECT_EQ(type_of(m.parts[2]), "text/html");
  EXPECT_EQ(m.parts[2].body, "<b>no blank line</b>");
  EXPECT_EQ(type_of(m.parts[3]), "multipart/alternative");
  EXPECT_EQ(m.parts[4].parent, 3u);
  EXPECT_EQ(m.parts[4].body, "nested at once");
  EXPECT_EQ(m.missing_boundaries, 0u);
}

TEST(Message, MissingCloseBoundaryEndsAtEnclosingBoundary) {
  std::string_view msg =
      "Content-Type: multipart/mixed; boundary=outer\r\n"
      "\r\n"
      "--outer\r\n"
      "Content-Type: multipart/alternative; boundary=inner\r\n"
      "\r\n"
      "--inner\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "inner text\r\n"
      "--outer\r\n"
      "Content-Type: text/html\r\n"
      "\r\n"
      "<b>after</b>\r\n"
      "--outer--\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  ASSERT_EQ(m.parts.size(), 4u);
  EXPECT_EQ(m.missing_boundaries, 1u);
  EXPECT_EQ(m.parts[2].body, "inner text");
  EXPECT_EQ(m.parts[3].parent, 0u);
  EXPECT_EQ(type_of(m.parts[3]), "text/html");
  EXPECT_EQ(m.parts[3].body, "<b>after</b>");
}

TEST(Message, MissingCloseAtEndOfMessage) {
  std::string_view msg =
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\r\nonly part\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.missing_boundaries, 1u);
  EXPECT_EQ(m.parts[1].body, "only part\r\n");  // no boundary follows: the CRLF stays
}

TEST(Message, BoundaryLookAlikesAreNotBoundaries) {
  std::string_view msg =
      "Content-Type: multipart/mixed; boundary=abc\r\n\r\n"
      "--abc\r\n\r\n"
      "--abcd\r\n"
      " --abc\r\n"
      "--abc-- trailing text\r\n"
      "--ab\r\n"
      "--abc \t \r\n"
      "\r\nsecond\r\n"
      "--abc--\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[1].body, "--abcd\r\n --abc\r\n--abc-- trailing text\r\n--ab");
  EXPECT_EQ(m.parts[2].body, "second");
}

TEST(Message, Rfc2046RuleTakesBoundaryPrefixes) {
  // The same look-alikes under boundary_rule::rfc2046 (the IMAP server's, Dovecot's):
  // "--abcd" and "--abc-- trailing text" start with the boundary and so are boundaries,
  // the second a close delimiter (spam-1/00038 of the corpus ends "--b--</BODY></HTML>").
  std::string_view msg =
      "Content-Type: multipart/mixed; boundary=abc\r\n\r\n"
      "--abc\r\n\r\n"
      "one\r\n"
      "--abcd\r\n\r\n"
      "two\r\n"
      "--abc-- trailing text\r\n"
      "--abc\r\n\r\n"
      "epilogue\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets, {.boundaries = boundary_rule::rfc2046});
  expect_consistent(m);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[1].body, "one");
  EXPECT_EQ(m.parts[2].body, "two");
  EXPECT_EQ(m.missing_boundaries, 0u);
  // The default (SpamAssassin's) rule keeps them as text.
  message sa = parse_message(msg, charsets);
  ASSERT_EQ(sa.parts.size(), 3u);
  EXPECT_EQ(sa.parts[1].body, "one\r\n--abcd\r\n\r\ntwo\r\n--abc-- trailing text");
}

TEST(Message, Rfc2046RulePrefersTheLongestBoundary) {
  // Outlook nests "X" inside "XAA": "--XAA" is a prefix match for both and ends a child
  // of the inner multipart, not the outer one; "--X--" then closes the outer one.
  std::string_view msg =
      "Content-Type: multipart/related; boundary=X\r\n\r\n"
      "--X\r\n"
      "Content-Type: multipart/alternative; boundary=XAA\r\n\r\n"
      "--XAA\r\n\r\n"
      "a\r\n"
      "--XAA\r\n\r\n"
      "b\r\n"
      "--XAA--\r\n"
      "--X\r\n\r\n"
      "c\r\n"
      "--X--\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets, {.boundaries = boundary_rule::rfc2046});
  expect_consistent(m);
  ASSERT_EQ(m.parts.size(), 5u);
  EXPECT_EQ(m.parts[1].children.size(), 2u);
  EXPECT_EQ(m.parts[2].body, "a");
  EXPECT_EQ(m.parts[3].body, "b");
  EXPECT_EQ(m.parts[4].body, "c");
  EXPECT_EQ(m.parts[1].body, "--XAA\r\n\r\na\r\n--XAA\r\n\r\nb\r\n--XAA--");
  EXPECT_EQ(m.missing_boundaries, 0u);
}

TEST(Message, DigestChildrenDefaultToRfc822) {
  std::string_view msg =
      "Content-Type: multipart/digest; boundary=d\r\n\r\n"
      "--d\r\n\r\n"
      "Subject: first digest entry\r\n\r\ntext one\r\n"
      "--d\r\n"
      "Content-Type: text/plain\r\n\r\nnot a message\r\n"
      "--d--\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  ASSERT_EQ(m.parts.size(), 4u);
  EXPECT_EQ(type_of(m.parts[1]), "message/rfc822");
  EXPECT_EQ(m.parts[2].parent, 1u);
  EXPECT_EQ(m.parts[2].headers.find("Subject")->value, "first digest entry");
  EXPECT_EQ(m.parts[2].body, "text one");
  EXPECT_EQ(type_of(m.parts[3]), "text/plain");
}

TEST(Message, EncodedRfc822IsALeaf) {
  std::string_view msg =
      "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "U3ViamVjdDogaGkNCg0KYm9keQ==\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  ASSERT_EQ(m.parts.size(), 1u);
  EXPECT_EQ(decode_body(m.parts[0], 1000), "Subject: hi\r\n\r\nbody");
}

TEST(Message, RepeatedFieldsCountAsTheLast) {
  // As SpamAssassin (and the MUAs it follows) read a doubled Content-Type.
  std::string_view msg =
      "Content-Type: text/plain\r\n"
      "Content-Type: multipart/mixed; boundary=z\r\n\r\n"
      "--z\r\n\r\nin\r\n--z--\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.parts[1].body, "in");
}

TEST(Message, MultipartWithoutBoundaryIsALeaf) {
  std::string_view msg = "Content-Type: multipart/mixed\r\n\r\n--x\r\nbody\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  ASSERT_EQ(m.parts.size(), 1u);
  EXPECT_EQ(m.parts[0].body, "--x\r\nbody\r\n");
}

TEST(Message, FilenameFromContentTypeName) {
  std::string_view msg =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: image/png; name=\"=?UTF-8?B?w6kucG5n?=\"\r\n"
      "Content-Transfer-Encoding:  Base64 \r\n\r\niVBORw==\r\n--b--\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.parts[1].filename, "\xC3\xA9.png");
  EXPECT_EQ(m.parts[1].transfer_encoding, "base64");
  EXPECT_EQ(m.parts[1].disposition, "");
  EXPECT_TRUE(m.parts[1].is_attachment());
}

TEST(Message, DecodedValue) {
  header_block h = parse_header_block(
      "Subject: =?ISO-8859-1?Q?Caf=E9?=\r\n =?UTF-8?B?w6k=?= end  \r\n"
      "Message-ID: <=?UTF-8?B?w6k=?=@x>\r\n"
      "X-Folded: a\r\n\t\t b\r\n\r\n");
  charset_converter charsets;
  ASSERT_EQ(h.fields.size(), 3u);
  EXPECT_EQ(decoded_value(h.fields[0], charsets), "Caf\xC3\xA9\xC3\xA9 end");
  EXPECT_EQ(decoded_value(h.fields[1], charsets), "<=?UTF-8?B?w6k=?=@x>");
  EXPECT_EQ(decoded_value(h.fields[2], charsets), "a b");
}

TEST(Message, BrokenBase64IsDecodedLeniently) {
  std::string_view msg =
      "Content-Transfer-Encoding: base64\r\n\r\naGVs!!bG8g*d29y#bGQ=\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  decode_stats stats;
  EXPECT_EQ(decode_body(m.parts[0], 1000, &stats), "hello world");
  EXPECT_EQ(stats.invalid, 4u);
}

// ---- hostile inputs --------------------------------------------------------------------

TEST(MessageLimits, TenThousandParts) {
  std::string msg = "Content-Type: multipart/mixed; boundary=p\r\n\r\n";
  for (int i = 0; i < 10000; ++i) msg += "--p\r\nContent-Type: text/plain\r\n\r\npart " + std::to_string(i) + "\r\n";
  msg += "--p--\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  EXPECT_EQ(m.parts.size(), max_mime_parts);
  EXPECT_TRUE(m.truncated);
  EXPECT_EQ(m.missing_boundaries, 0u);  // the close delimiter was still found
  EXPECT_EQ(m.parts.back().body, "part " + std::to_string(max_mime_parts - 2));
}

TEST(MessageLimits, FiftyMegabyteLine) {
  std::string msg = "Subject: big\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\n";
  size_t body_start = msg.size();
  msg.append(50u << 20, 'A');
  msg += "\r\n--q--\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.parts[1].body.size(), 50u << 20);
  EXPECT_EQ(m.parts[1].body.data(), msg.data() + body_start);
  EXPECT_EQ(decode_body(m.parts[1], 10).size(), 10u);

  // A 50 MB line that starts like a boundary is no boundary (max_boundary_line_bytes).
  std::string dashes = "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\n--q";
  dashes.append(50u << 20, ' ');
  dashes += "\r\n--q--\r\n";
  message d = parse_message(dashes, charsets);
  ASSERT_EQ(d.parts.size(), 2u);
  EXPECT_EQ(d.parts[1].body.size(), 3 + (50u << 20));
}

TEST(MessageLimits, ThousandDeepMultipartNesting) {
  std::string msg;
  for (int i = 0; i < 1000; ++i) {
    msg += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  msg += "Content-Type: text/plain\r\n\r\ndeep\r\n";
  for (int i = 999; i >= 0; --i) msg += "--b" + std::to_string(i) + "--\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  EXPECT_TRUE(m.truncated);
  EXPECT_EQ(m.parts.size(), max_mime_depth + 1);
  EXPECT_EQ(m.parts.back().depth, max_mime_depth);
  EXPECT_TRUE(m.parts.back().type.is_multipart());  // kept whole, as an opaque leaf
  EXPECT_TRUE(m.parts.back().children.empty());
  EXPECT_EQ(m.missing_boundaries, 0u);
}

TEST(MessageLimits, ThousandDeepRfc822Nesting) {
  std::string msg;
  for (int i = 0; i < 1000; ++i) msg += "Content-Type: message/rfc822\r\n\r\n";
  msg += "Subject: innermost\r\n\r\ntext\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  EXPECT_TRUE(m.truncated);
  EXPECT_EQ(m.parts.size(), max_mime_depth + 1);
}

TEST(MessageLimits, UnclosedNestingDoesNotRecurse) {
  // 100k unclosed multipart openings, each with a different boundary.
  std::string msg;
  for (int i = 0; i < 100000; ++i) {
    msg += "Content-Type: multipart/mixed; boundary=x" + std::to_string(i) + "\r\n\r\n--x" +
           std::to_string(i) + "\r\n";
  }
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  EXPECT_EQ(m.parts.size(), max_mime_depth + 1);
  EXPECT_EQ(m.missing_boundaries, max_mime_depth);
}

TEST(MessageLimits, HundredThousandHeaderFields) {
  std::string msg;
  for (int i = 0; i < 100000; ++i) msg += "X-H" + std::to_string(i) + ": v\r\n";
  msg += "Subject: late\r\n\r\nbody\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  EXPECT_TRUE(m.truncated);
  EXPECT_EQ(m.headers().fields.size(), max_header_fields);
  EXPECT_EQ(m.headers().find("Subject"), nullptr);
  EXPECT_EQ(m.parts[0].body, "body\r\n");
}

TEST(MessageLimits, BoundaryPrefixOnEveryLine) {
  // Every line starts with the boundary but is not a boundary line.
  std::string boundary(60, 'b');
  std::string msg = "Content-Type: multipart/mixed; boundary=" + boundary + "\r\n\r\n--" +
                    boundary + "\r\n\r\n";
  for (int i = 0; i < 200000; ++i) msg += "--" + boundary + "x\r\n";
  msg += "--" + boundary + "--\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.parts[1].body.size(), 200000 * (boundary.size() + 5) - 2);
}

TEST(MessageLimits, ManyEmptyParts) {
  std::string msg = "Content-Type: multipart/mixed; boundary=e\r\n\r\n";
  for (int i = 0; i < 5000; ++i) msg += "--e\r\n";
  charset_converter charsets;
  message m = parse_message(msg, charsets);
  expect_consistent(m);
  EXPECT_EQ(m.parts.size(), max_mime_parts);
  EXPECT_TRUE(m.parts[1].body.empty());
  EXPECT_TRUE(m.truncated);
}

}  // namespace
}  // namespace ringmail::mail

namespace ringmail::mail {
namespace {

TEST(SkipMboxSeparator, DropsOnlyALeadingFromLine) {
  EXPECT_EQ(skip_mbox_separator("From a@b  Thu Aug 22 12:36:23 2002\nSubject: x\n\nbody"), "Subject: x\n\nbody");
  EXPECT_EQ(skip_mbox_separator("Subject: x\nFrom me\n"), "Subject: x\nFrom me\n");
  EXPECT_EQ(skip_mbox_separator("From: a@b\n"), "From: a@b\n");  // a header, not a separator
  EXPECT_EQ(skip_mbox_separator("From nobody"), "");
}

}  // namespace
}  // namespace ringmail::mail
