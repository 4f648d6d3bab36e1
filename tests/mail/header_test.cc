// RFC 5322 header blocks (mail/header.h): fields as views, folding, obsolete syntax,
// malformed lines, the mbox "From " line, bare LF mail, and the limits of limits.h.
#include "mail/header.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "mail/limits.h"

namespace ringmail::mail {
namespace {

TEST(HeaderBlock, FieldsAndBodyOffsetWithCrlf) {
  std::string_view msg =
      "From: Alice <alice@example.org>\r\n"
      "To: bob@example.net\r\n"
      "Subject: hello\r\n"
      "\r\n"
      "body line\r\n";
  header_block h = parse_header_block(msg);
  ASSERT_EQ(h.fields.size(), 3u);
  EXPECT_EQ(h.fields[0].name, "From");
  EXPECT_EQ(h.fields[0].value, "Alice <alice@example.org>");
  EXPECT_EQ(h.fields[2].name, "Subject");
  EXPECT_EQ(h.fields[2].value, "hello");
  EXPECT_TRUE(h.has_body_separator);
  EXPECT_EQ(msg.substr(h.body_offset), "body line\r\n");
  EXPECT_EQ(h.malformed_lines, 0u);
  EXPECT_FALSE(h.truncated);
  // Views point into the caller's buffer: zero copy.
  EXPECT_EQ(h.fields[0].name.data(), msg.data());
}

TEST(HeaderBlock, BareLfLines) {
  std::string_view msg = "A: 1\nB: 2\n\nbody\n";
  header_block h = parse_header_block(msg);
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(h.fields[1].value, "2");
  EXPECT_EQ(msg.substr(h.body_offset), "body\n");
}

TEST(HeaderBlock, ContinuationLinesExtendTheRawValue) {
  std::string_view msg =
      "Subject: a long\r\n"
      "\tsubject line\r\n"
      "  continued\r\n"
      "X-Empty-First:\r\n"
      " value on the next line\r\n"
      "\r\n";
  header_block h = parse_header_block(msg);
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(h.fields[0].value, "a long\r\n\tsubject line\r\n  continued");
  EXPECT_EQ(unfold(h.fields[0].value), "a long\tsubject line  continued");
  EXPECT_EQ(unfold(h.fields[1].value), " value on the next line");
}

TEST(HeaderBlock, ObsoleteWhitespaceBeforeColon) {
  header_block h = parse_header_block("Subject  : obsolete\r\nX-Tab\t:v\r\n\r\n");
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(h.fields[0].name, "Subject");
  EXPECT_EQ(h.fields[0].value, "obsolete");
  EXPECT_EQ(h.fields[1].name, "X-Tab");
  EXPECT_EQ(h.fields[1].value, "v");
}

TEST(HeaderBlock, MboxFromLineAndLinesWithoutColonAreSkipped) {
  std::string_view msg =
      "From alice@example.org  Mon Sep 30 13:44:10 2002\n"
      "Return-Path: <alice@example.org>\n"
      "this line has no colon\n"
      " a continuation of the malformed line\n"
      "Subject: ok\n"
      "\n"
      "text\n";
  header_block h = parse_header_block(msg);
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(h.fields[0].name, "Return-Path");
  EXPECT_EQ(h.fields[1].name, "Subject");
  EXPECT_EQ(h.malformed_lines, 3u);
  EXPECT_EQ(msg.substr(h.body_offset), "text\n");
}

TEST(HeaderBlock, FirstLineContinuationIsMalformed) {
  header_block h = parse_header_block(" stray\r\nA: b\r\n\r\n");
  ASSERT_EQ(h.fields.size(), 1u);
  EXPECT_EQ(h.malformed_lines, 1u);
}

TEST(HeaderBlock, HeaderWithoutBody) {
  std::string_view msg = "Subject: only headers\r\nFrom: a@b";
  header_block h = parse_header_block(msg);
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(h.fields[1].value, "a@b");
  EXPECT_FALSE(h.has_body_separator);
  EXPECT_EQ(h.body_offset, msg.size());
}

TEST(HeaderBlock, EmptyInputAndEmptyFirstLine) {
  header_block empty = parse_header_block("");
  EXPECT_TRUE(empty.fields.empty());
  EXPECT_EQ(empty.body_offset, 0u);
  header_block no_headers = parse_header_block("\r\nbody");
  EXPECT_TRUE(no_headers.fields.empty());
  EXPECT_TRUE(no_headers.has_body_separator);
  EXPECT_EQ(no_headers.body_offset, 2u);
}

TEST(HeaderBlock, FindIsCaseInsensitive) {
  header_block h = parse_header_block(
      "Received: one\r\nSUBJECT: s\r\nreceived: two\r\nRECEIVED: three\r\n\r\n");
  ASSERT_NE(h.find("subject"), nullptr);
  EXPECT_EQ(h.find("Subject")->value, "s");
  EXPECT_EQ(h.find("X-Missing"), nullptr);
  auto all = h.find_all("Received");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0]->value, "one");
  EXPECT_EQ(all[2]->value, "three");
  EXPECT_TRUE(equals_ignore_case("Content-Type", "content-TYPE"));
  EXPECT_FALSE(equals_ignore_case("Content-Type", "Content-Typ"));
}

TEST(HeaderBlock, EightBitValuesAreKept) {
  header_block h = parse_header_block("Subject: caf\xc3\xa9\r\n\r\n");
  ASSERT_EQ(h.fields.size(), 1u);
  EXPECT_EQ(h.fields[0].value, "caf\xc3\xa9");
}

// 100k one-line fields: capped at max_header_fields, the body is still found.
TEST(HeaderBlock, TooManyFieldsAreCapped) {
  std::string msg;
  for (int i = 0; i < 100000; ++i) msg += "X-F: " + std::to_string(i) + "\r\n";
  msg += "\r\nthe body\r\n";
  header_block h = parse_header_block(msg);
  EXPECT_EQ(h.fields.size(), max_header_fields);
  EXPECT_TRUE(h.truncated);
  EXPECT_TRUE(h.has_body_separator);
  EXPECT_EQ(std::string_view(msg).substr(h.body_offset), "the body\r\n");
  EXPECT_EQ(h.fields.back().value, std::to_string(max_header_fields - 1));
}

TEST(HeaderBlock, OversizedFieldIsCut) {
  std::string msg = "Subject: " + std::string(200 * 1024, 'x') + "\r\nTo: a@b\r\n\r\nbody";
  header_block h = parse_header_block(msg);
  ASSERT_EQ(h.fields.size(), 1u);
  EXPECT_TRUE(h.truncated);
  EXPECT_EQ(h.fields[0].name.size() + 2 + h.fields[0].value.size(), max_header_field_bytes);
  EXPECT_EQ(std::string_view(msg).substr(h.body_offset), "body");
}

TEST(HeaderBlock, OversizedFoldedFieldIsCut) {
  std::string msg = "Subject: start\r\n";
  for (int i = 0; i < 5000; ++i) msg += " " + std::string(40, 'y') + "\r\n";
  msg += "\r\n";
  header_block h = parse_header_block(msg);
  ASSERT_EQ(h.fields.size(), 1u);
  EXPECT_TRUE(h.truncated);
  EXPECT_LE(h.fields[0].value.size(), max_header_field_bytes);
  EXPECT_GT(h.fields[0].value.size(), max_header_field_bytes / 2);
  EXPECT_EQ(h.body_offset, msg.size());
}

TEST(HeaderBlock, WholeBlockLimit) {
  std::string msg;
  // 50 KB fields: each under the field limit, 30 of them over the block limit.
  for (int i = 0; i < 30; ++i) msg += "X-Big: " + std::string(50 * 1024, 'z') + "\r\n";
  msg += "\r\nbody";
  header_block h = parse_header_block(msg);
  EXPECT_TRUE(h.truncated);
  EXPECT_LT(h.fields.size(), 30u);
  EXPECT_GE(h.fields.size(), max_header_block_bytes / (51 * 1024) - 1);
  EXPECT_EQ(std::string_view(msg).substr(h.body_offset), "body");
  // The field that crosses the block limit is cut there.
  const header_field& last = h.fields.back();
  EXPECT_EQ(static_cast<size_t>(last.value.data() + last.value.size() - msg.data()),
            max_header_block_bytes);
}

TEST(HeaderBlock, FiftyMegabyteSubjectIsKeptCut) {
  std::string msg = "Subject: ";
  msg.append(50u << 20, 's');
  msg += "\r\n\r\nbody";
  header_block h = parse_header_block(msg);
  ASSERT_EQ(h.fields.size(), 1u);
  EXPECT_TRUE(h.truncated);
  EXPECT_EQ(h.fields[0].value.size(), max_header_field_bytes - 9);
  EXPECT_EQ(std::string_view(msg).substr(h.body_offset), "body");
}

TEST(Unfold, RemovesLineBreaksKeepsWhitespace) {
  EXPECT_EQ(unfold("a\r\n b"), "a b");
  EXPECT_EQ(unfold("a\n\tb"), "a\tb");
  EXPECT_EQ(unfold("plain"), "plain");
  EXPECT_EQ(unfold(""), "");
}

}  // namespace
}  // namespace ringmail::mail
