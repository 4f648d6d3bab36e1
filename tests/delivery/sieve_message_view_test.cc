// Tests of the message as a Sieve script sees it (delivery/sieve/message_view.h): header
// values (unfolded, trimmed, RFC 2047-decoded), :index order, the RFC 5173 body
// transforms over multipart messages, editheader (RFC 5293) edits and the header block
// they leave, and hostile input.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "delivery/sieve/message_view.h"
#include "mail/header.h"
#include "mail/rfc2047.h"

namespace ringmail::sieve {
namespace {

using strings = std::vector<std::string>;

auto always = [](std::string_view) { return true; };

class MessageViewTest : public ::testing::Test {
 protected:
  mail::charset_converter charsets_;
};

TEST_F(MessageViewTest, HeaderValuesAreUnfoldedTrimmedAndDecoded) {
  std::string msg =
      "Received: from a by b\r\n"
      "Subject:   =?ISO-8859-1?Q?Caf=E9?= au\r\n"
      "\tlait  \r\n"
      "X-Two: one\r\n"
      "x-two:  two \r\n"
      "From: =?UTF-8?B?SsOpcsO0bWU=?= <jerome@example.org>\r\n"
      "\r\n"
      "body\r\n";
  message_view view(msg, charsets_);
  // The fold (line break + its one WSP) is one space, as Dovecot unfolds for Pigeonhole.
  EXPECT_EQ(view.header_values("subject"), strings{"Café au lait"});
  EXPECT_EQ(view.header_values("SUBJECT", false), strings{"=?ISO-8859-1?Q?Caf=E9?= au lait"});
  EXPECT_EQ(view.header_values("X-TWO"), (strings{"one", "two"}));
  EXPECT_EQ(view.header_values("from"), strings{"Jérôme <jerome@example.org>"});
  EXPECT_EQ(view.header_values("from", false), strings{"=?UTF-8?B?SsOpcsO0bWU=?= <jerome@example.org>"});
  EXPECT_TRUE(view.has_header("received"));
  EXPECT_FALSE(view.has_header("x-none"));
  EXPECT_TRUE(view.header_values("x-none").empty());
  EXPECT_EQ(view.size(), msg.size());
  EXPECT_FALSE(view.header_edited());
  EXPECT_EQ(view.body_bytes(), "body\r\n");
}

TEST_F(MessageViewTest, NulInHeaderIsReplacementCharacter) {
  std::string msg("X-Nul: a\0b\r\n\r\n", 14);
  message_view view(msg, charsets_);
  EXPECT_EQ(view.header_values("x-nul"), strings{"a\xEF\xBF\xBD" "b"});
  EXPECT_EQ(view.header_values("x-nul", false), strings{"a\xEF\xBF\xBD" "b"});
  EXPECT_EQ(view.header_block(), std::string("X-Nul: a\0b\r\n", 12));  // stored as received
}

TEST_F(MessageViewTest, BareLfMessageAndNoBody) {
  std::string msg = "Subject: a\n b\nTo: x@y\n";
  message_view view(msg, charsets_);
  EXPECT_EQ(view.header_values("subject"), strings{"a b"});
  EXPECT_EQ(view.body_bytes(), "");
  EXPECT_EQ(view.header_block(), "Subject: a\r\n b\r\nTo: x@y\r\n");
}

TEST_F(MessageViewTest, AddHeaderFirstAndLastAreSeenInOrder) {
  std::string msg = "X-A: 1\r\nSubject: s\r\nX-A: 2\r\n\r\nbody\r\n";
  message_view view(msg, charsets_);
  ASSERT_TRUE(view.add_header("X-A", "first", false));
  ASSERT_TRUE(view.add_header("X-A", "last", true));
  EXPECT_EQ(view.header_values("x-a"), (strings{"first", "1", "2", "last"}));
  EXPECT_TRUE(view.header_edited());
  std::string block = view.header_block();
  EXPECT_EQ(block, "X-A: first\r\nX-A: 1\r\nSubject: s\r\nX-A: 2\r\nX-A: last\r\n");
  EXPECT_EQ(view.size(), block.size() + 2 + view.body_bytes().size());
  // An added value keeps its leading white space for tests (as Pigeonhole).
  ASSERT_TRUE(view.add_header("X-Sp", "  padded  ", true));
  EXPECT_EQ(view.header_values("x-sp"), strings{"  padded"});
  EXPECT_TRUE(view.delete_header("x-sp", 0, false, always) == 1u);
  EXPECT_FALSE(view.add_header("Bad Name", "x", true));
  EXPECT_FALSE(view.add_header("", "x", true));
  EXPECT_FALSE(view.add_header("A:B", "x", true));
}

TEST_F(MessageViewTest, DeleteHeaderByIndexFromFirstAndLast) {
  std::string msg = "X-A: 1\r\nX-A: 2\r\nX-B: keep\r\nX-A: 3\r\n\r\n";
  {
    message_view view(msg, charsets_);
    EXPECT_EQ(view.delete_header("x-a", 2, false, always), 1u);
    EXPECT_EQ(view.header_values("X-A"), (strings{"1", "3"}));
  }
  {
    message_view view(msg, charsets_);
    EXPECT_EQ(view.delete_header("x-a", 1, true, always), 1u);
    EXPECT_EQ(view.header_values("X-A"), (strings{"1", "2"}));
    EXPECT_EQ(view.header_block(), "X-A: 1\r\nX-A: 2\r\nX-B: keep\r\n");
  }
  {
    message_view view(msg, charsets_);
    EXPECT_EQ(view.delete_header("x-a", 4, false, always), 0u);  // no 4th
    EXPECT_FALSE(view.header_edited());
    EXPECT_EQ(view.delete_header("x-a", 0, false, always), 3u);
    EXPECT_EQ(view.header_block(), "X-B: keep\r\n");
  }
}

TEST_F(MessageViewTest, DeleteHeaderByDecodedValue) {
  std::string msg =
      "List-Id: =?UTF-8?Q?Tainted_list?= <t.example>\r\n"
      "List-Id: Clean <c.example>\r\n\r\n";
  message_view view(msg, charsets_);
  std::vector<std::string> seen;
  size_t n = view.delete_header("list-id", 0, false, [&](std::string_view v) {
    seen.emplace_back(v);
    return v.find("Tainted") != std::string_view::npos;
  });
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(seen, (strings{"Tainted list <t.example>", "Clean <c.example>"}));
  EXPECT_EQ(view.header_values("list-id"), strings{"Clean <c.example>"});
}

TEST_F(MessageViewTest, ReceivedAndAutoSubmittedAreNeverDeleted) {
  std::string msg = "Received: x\r\nAuto-Submitted: auto-replied\r\n\r\n";
  message_view view(msg, charsets_);
  EXPECT_EQ(view.delete_header("received", 0, false, always), 0u);
  EXPECT_EQ(view.delete_header("AUTO-SUBMITTED", 0, false, always), 0u);
  EXPECT_TRUE(view.has_header("received"));
  EXPECT_TRUE(view.has_header("auto-submitted"));
}

TEST_F(MessageViewTest, AddHeaderEncodesNonAsciiAndFoldsLongValues) {
  std::string msg = "Subject: s\r\n\r\nb";
  message_view view(msg, charsets_);
  std::string long_utf8;
  for (int i = 0; i < 200; ++i) long_utf8 += "é€";  // 2- and 3-byte characters
  ASSERT_TRUE(view.add_header("X-Utf", long_utf8, true));
  EXPECT_EQ(view.header_values("x-utf"), strings{long_utf8});
  std::string words;
  for (int i = 0; i < 300; ++i) words += "word" + std::to_string(i) + " ";
  ASSERT_TRUE(view.add_header("X-Long", words, true));
  std::string trimmed_words = words.substr(0, words.size() - 1);
  EXPECT_EQ(view.header_values("x-long"), strings{trimmed_words});
  // An encoded-word look-alike is encoded, so tests see it as written.
  ASSERT_TRUE(view.add_header("X-Enc", "=?UTF-8?Q?a?=", true));
  EXPECT_EQ(view.header_values("x-enc"), strings{"=?UTF-8?Q?a?="});
  EXPECT_EQ(view.delete_header("x-enc", 0, false, always), 1u);
  ASSERT_TRUE(view.add_header("X-Lines", "one\r\ntwo\nthree", true));
  EXPECT_EQ(view.header_values("x-lines"), strings{"one two three"});

  // Every line of the written block is within 78 characters (the ASCII words are short,
  // encoded words at most 75), starts with a field name or a fold, and ends in CRLF.
  std::string block = view.header_block();
  size_t pos = 0;
  size_t fields = 0;
  while (pos < block.size()) {
    size_t end = block.find("\r\n", pos);
    ASSERT_NE(end, std::string::npos);
    std::string_view line(block.data() + pos, end - pos);
    EXPECT_LE(line.size(), 78u) << line;
    EXPECT_EQ(line.find('\n'), std::string_view::npos);
    EXPECT_EQ(line.find('\r'), std::string_view::npos);
    for (unsigned char c : line) EXPECT_LT(c, 0x80);
    if (line[0] != ' ' && line[0] != '\t') ++fields;
    pos = end + 2;
  }
  EXPECT_EQ(fields, 4u);
  // The edited block parses back to the same fields.
  mail::header_block parsed = mail::parse_header_block(block + "\r\n");
  ASSERT_EQ(parsed.fields.size(), 4u);
  EXPECT_EQ(parsed.fields[1].name, "X-Utf");
}

TEST_F(MessageViewTest, AddedHeadersAreLimited) {
  std::string msg = "\r\nbody";
  message_view_limits limits;
  limits.max_added_headers = 3;
  message_view view(msg, charsets_, limits);
  EXPECT_TRUE(view.add_header("A", "1", true));
  EXPECT_TRUE(view.add_header("A", "2", true));
  EXPECT_TRUE(view.add_header("A", "3", false));
  EXPECT_FALSE(view.add_header("A", "4", true));
  EXPECT_EQ(view.header_values("a"), (strings{"3", "1", "2"}));
  EXPECT_EQ(view.body_bytes(), "body");
  EXPECT_EQ(view.size(), view.header_block().size() + 2 + 4);
}

TEST_F(MessageViewTest, EditKeepsMalformedLinesAndBytesAsWritten) {
  std::string msg =
      "Received: from x\r\n"
      "Subject:no-space\r\n"
      "this line is not a field\r\n"
      "X-Tab :\tvalue\r\n"
      "\r\n"
      "body";
  message_view view(msg, charsets_);
  EXPECT_EQ(view.header_block(), msg.substr(0, msg.find("\r\n\r\n") + 2));
  ASSERT_TRUE(view.add_header("X-New", "v", true));
  EXPECT_EQ(view.header_block(),
            "Received: from x\r\nSubject:no-space\r\nthis line is not a field\r\n"
            "X-Tab :\tvalue\r\nX-New: v\r\n");
  EXPECT_EQ(view.header_values("x-tab"), strings{"value"});
  EXPECT_EQ(view.header_values("subject"), strings{"no-space"});
}

TEST_F(MessageViewTest, HeaderOfOnlyAMalformedLineStaysALine) {
  // Found by sieve_message_view_fuzz: a header with no field and no line end.
  std::string msg = "F";
  message_view view(msg, charsets_);
  ASSERT_TRUE(view.add_header("X-New", "v", true));
  EXPECT_EQ(view.header_block(), "F\r\nX-New: v\r\n");
  EXPECT_EQ(view.header_values("x-new"), strings{"v"});
}

// A multipart/mixed with a prologue and epilogue, an alternative (plain + html in
// latin-1, base64 and quoted-printable), an enclosed message and an image.
const std::string multipart_message =
    "From: a@example.org\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "This is the prologue.\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=E9 plain\r\n"
    "--inner\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "PHA+PGEgaHJlZj0iaHR0cDovL3guZXhhbXBsZSI+TGluazwvYT4gJmFtcDsgbW9yZTwvcD4=\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: enclosed\r\n"
    "From: b@example.org\r\n"
    "\r\n"
    "enclosed body\r\n"
    "--outer\r\n"
    "Content-Type: image/png\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "iVBORw0K\r\n"
    "--outer--\r\n"
    "This is the epilogue.\r\n";

TEST_F(MessageViewTest, BodyRawIsTheUndecodedBody) {
  message_view view(multipart_message, charsets_);
  strings raw = view.body(body_transform::raw);
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_EQ(raw[0], multipart_message.substr(multipart_message.find("\r\n\r\n") + 4));
}

TEST_F(MessageViewTest, BodyContentByType) {
  message_view view(multipart_message, charsets_);
  // The enclosed message's body is a text/plain part of its own (RFC 2046 5.2.1).
  EXPECT_EQ(view.body(body_transform::content, {"text/plain"}),
            (strings{"Café plain", "enclosed body"}));
  EXPECT_EQ(view.body(body_transform::content, {"TEXT/HTML"}),
            strings{"<p><a href=\"http://x.example\">Link</a> &amp; more</p>"});
  EXPECT_EQ(view.body(body_transform::content, {"text"}),
            (strings{"Café plain", "<p><a href=\"http://x.example\">Link</a> &amp; more</p>",
                     "enclosed body"}));
  // Non-text parts are transfer-decoded, not charset-converted.
  EXPECT_EQ(view.body(body_transform::content, {"image"}), strings{"\x89PNG\r\n"});
  // message/rfc822: the enclosed message's header, not its body.
  strings enclosed = view.body(body_transform::content, {"message/rfc822"});
  ASSERT_EQ(enclosed.size(), 1u);
  EXPECT_NE(enclosed[0].find("Subject: enclosed"), std::string::npos);
  EXPECT_EQ(enclosed[0].find("enclosed body"), std::string::npos);
  // multipart: its own prologue and epilogue (two entries), never the children's text.
  EXPECT_EQ(view.body(body_transform::content, {"multipart/mixed"}),
            (strings{"This is the prologue.", "This is the epilogue.\r\n"}));
  strings inner = view.body(body_transform::content, {"multipart/alternative"});
  ASSERT_EQ(inner.size(), 1u);
  EXPECT_EQ(inner[0], "");
  EXPECT_TRUE(view.body(body_transform::content, {"application"}).empty());
  // "" is every part, in message order: mixed (prologue, epilogue), alternative, plain,
  // html, rfc822, the enclosed message (text/plain by default), image.
  strings all = view.body(body_transform::content, {""});
  ASSERT_EQ(all.size(), 8u);
  EXPECT_EQ(all[1], "This is the epilogue.\r\n");
  EXPECT_EQ(all[3], "Café plain");
  EXPECT_EQ(all[6], "enclosed body");
}

TEST_F(MessageViewTest, BodyTextRendersHtml) {
  message_view view(multipart_message, charsets_);
  strings text = view.body(body_transform::text);
  ASSERT_GE(text.size(), 2u);
  EXPECT_EQ(text[0], "Café plain");
  EXPECT_NE(text[1].find("Link & more"), std::string::npos) << text[1];
  EXPECT_EQ(text[1].find("<a"), std::string::npos);
}

TEST_F(MessageViewTest, BodyOfSinglePartAndBudget) {
  std::string msg = "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n";
  message_view view(msg, charsets_);
  EXPECT_EQ(view.body(body_transform::content, {"text"}), strings{"hello world"});
  EXPECT_EQ(view.body(body_transform::text), strings{"hello world"});
  message_view_limits limits;
  limits.max_body_bytes = 5;
  message_view small(msg, charsets_, limits);
  EXPECT_EQ(small.body(body_transform::content, {""}), strings{"hello"});
  EXPECT_EQ(small.body(body_transform::raw), strings{"aGVsb"});
}

TEST_F(MessageViewTest, NoBodyMatchesNothing) {
  // No body at all: no :raw entry, and the part (header only) gives no :content entry.
  std::string msg = "Subject: s\r\n";
  message_view view(msg, charsets_);
  EXPECT_TRUE(view.body(body_transform::raw).empty());
  EXPECT_TRUE(view.body(body_transform::content, {""}).empty());
  EXPECT_TRUE(view.body(body_transform::text).empty());
  // An empty body after the empty line is a body: "" for :content, nothing for :raw.
  std::string empty = "Subject: s\r\n\r\n";
  message_view view2(empty, charsets_);
  EXPECT_TRUE(view2.body(body_transform::raw).empty());
  EXPECT_EQ(view2.body(body_transform::content, {"text"}), strings{""});
}

TEST_F(MessageViewTest, BrokenMimeNeverFails) {
  std::string msg =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "!!!not base64***\r\n"
      "--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nunclosed";
  message_view view(msg, charsets_);
  strings all = view.body(body_transform::content, {""});
  EXPECT_GE(all.size(), 3u);
  strings raw = view.body(body_transform::raw);
  ASSERT_EQ(raw.size(), 1u);
  view.body(body_transform::text);
  view.body(body_transform::content, {"multipart"});
}

TEST_F(MessageViewTest, HundredThousandHeadersAreKeptWhole) {
  std::string msg;
  for (int i = 0; i < 100000; ++i) msg += "X-H" + std::to_string(i) + ": v\r\n";
  msg += "\r\nbody\r\n";
  auto start = std::chrono::steady_clock::now();
  message_view view(msg, charsets_);
  ASSERT_TRUE(view.add_header("X-New", "v", false));
  EXPECT_EQ(view.delete_header("X-H5", 0, false, always), 1u);
  std::string block = view.header_block();
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  // Fields past the parser's limit are not tests' but stay in the stored header.
  EXPECT_TRUE(view.has_header("X-H999"));
  EXPECT_FALSE(view.has_header("X-H99999"));
  EXPECT_NE(block.find("X-H99999: v\r\n"), std::string::npos);
  EXPECT_EQ(block.find("X-H5: v\r\n"), std::string::npos);
  EXPECT_EQ(block.size(), msg.find("\r\n\r\n") + 2 + std::string("X-New: v\r\n").size() -
                              std::string("X-H5: v\r\n").size());
  EXPECT_EQ(view.body_bytes(), "body\r\n");
}

TEST_F(MessageViewTest, TenMegabyteBodyIsBounded) {
  std::string msg = "Content-Type: text/plain\r\n\r\n";
  msg += std::string(10 * 1024 * 1024, 'x');
  auto start = std::chrono::steady_clock::now();
  message_view view(msg, charsets_);
  strings content = view.body(body_transform::content, {""});
  strings raw = view.body(body_transform::raw);
  strings text = view.body(body_transform::text);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  ASSERT_EQ(content.size(), 1u);
  EXPECT_EQ(content[0].size(), message_view_limits{}.max_body_bytes);
  EXPECT_EQ(raw[0].size(), message_view_limits{}.max_body_bytes);
  EXPECT_EQ(view.size(), msg.size());
}

}  // namespace
}  // namespace ringmail::sieve
