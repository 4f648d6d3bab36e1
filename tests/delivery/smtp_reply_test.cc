// The pure parts of the SMTP client (delivery/relay/smtp_reply.h, mail/dot_stuffing.h): reply
// lines, multi-line replies fed whole and line by line, enhanced status codes, the EHLO
// keyword table, the outcome classification, and dot-stuffing split at every point.
#include "delivery/relay/smtp_reply.h"

#include <gtest/gtest.h>

#include <string>

#include "mail/dot_stuffing.h"

namespace ringmail::relay {
namespace {

// The relay's dot-stuffing is mail/dot_stuffing in its default (SMTP) mode.
using mail::dot_stuff;
using mail::dot_stuffer;

smtp_reply assemble(std::initializer_list<std::string_view> lines) {
  reply_assembler a;
  size_t i = 0;
  for (std::string_view line : lines) {
    auto st = a.add(line);
    ++i;
    EXPECT_EQ(st, i == lines.size() ? reply_assembler::status::complete : reply_assembler::status::need_more) << line;
  }
  return a.reply();
}

TEST(SmtpReplyLine, Forms) {
  auto r = parse_reply_line("250-mx.example.org\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 250);
  EXPECT_FALSE(r->last);
  EXPECT_EQ(r->text, "mx.example.org");
  r = parse_reply_line("354 go ahead\n");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->last);
  EXPECT_EQ(r->text, "go ahead");
  r = parse_reply_line("221\r\n");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->last);
  EXPECT_EQ(r->text, "");
  for (std::string_view bad : {"", "25", "2500 x", "650 no", "199 x", "25a x", "250_x", "abc def"}) {
    EXPECT_FALSE(parse_reply_line(bad)) << bad;
  }
}

TEST(SmtpReplyEnhanced, Parse) {
  EXPECT_EQ(parse_enhanced_status("5.1.1 no such user")->str(), "5.1.1");
  EXPECT_EQ(parse_enhanced_status("4.7.0")->str(), "4.7.0");
  EXPECT_EQ(parse_enhanced_status("2.0.0 Ok: queued")->klass, 2);
  EXPECT_EQ(parse_enhanced_status("5.123.999 x")->subject, 123);
  for (std::string_view bad : {"", "3.0.0 x", "5.1 x", "5.1.1x", "5..1 x", "5.1.1000 x", "ok 5.1.1", "5.1.1.1"}) {
    EXPECT_FALSE(parse_enhanced_status(bad)) << bad;
  }
  EXPECT_EQ(enhanced_status{}.str(), "");
}

TEST(SmtpReplyAssembler, MultiLineAndEnhanced) {
  smtp_reply r = assemble({"550-5.1.1 The email account that you tried to reach\r\n", "550-5.1.1 does not exist.\r\n",
                           "550 5.1.1 Please check.\r\n"});
  EXPECT_EQ(r.code, 550);
  EXPECT_EQ(r.enhanced.str(), "5.1.1");
  EXPECT_EQ(r.text, "5.1.1 The email account that you tried to reach\n5.1.1 does not exist.\n5.1.1 Please check.");
  EXPECT_EQ(r.describe(), "550 5.1.1 The email account that you tried to reach / 5.1.1 does not exist. / 5.1.1 Please check.");
  // An enhanced code whose class contradicts the reply is not one.
  r = assemble({"250 5.1.1 odd\r\n"});
  EXPECT_FALSE(r.enhanced.present());
  r = assemble({"451 temporary trouble\r\n"});
  EXPECT_FALSE(r.enhanced.present());
  EXPECT_EQ(r.describe(), "451 temporary trouble");
}

TEST(SmtpReplyAssembler, ErrorsAndReuse) {
  reply_assembler a;
  EXPECT_EQ(a.add("250-one\r\n"), reply_assembler::status::need_more);
  EXPECT_EQ(a.add("251 two\r\n"), reply_assembler::status::error);  // codes must match
  reply_assembler b;
  EXPECT_EQ(b.add("garbage\r\n"), reply_assembler::status::error);
  reply_assembler c;
  EXPECT_EQ(c.add("250 first\r\n"), reply_assembler::status::complete);
  EXPECT_EQ(c.add("354 second\r\n"), reply_assembler::status::complete);  // a new reply starts
  EXPECT_EQ(c.reply().code, 354);
  EXPECT_EQ(c.reply().text, "second");
  reply_assembler d;
  EXPECT_EQ(d.add("250 " + std::string(kMaxReplyLine, 'x') + "\r\n"), reply_assembler::status::error);
  reply_assembler e;
  for (size_t i = 0; i < kMaxReplyLines; ++i) ASSERT_EQ(e.add("250-x\r\n"), reply_assembler::status::need_more);
  EXPECT_EQ(e.add("250 x\r\n"), reply_assembler::status::error);
}

TEST(SmtpExtensions, KeywordTable) {
  smtp_reply ehlo = assemble({"250-mx.example.org Hello\r\n", "250-pipelining\r\n", "250-SIZE 10240000\r\n",
                              "250-8BITMIME\r\n", "250-SMTPUTF8\r\n", "250-STARTTLS\r\n", "250-ENHANCEDSTATUSCODES\r\n",
                              "250-AUTH PLAIN login\r\n", "250-AUTH=CRAM-MD5 PLAIN\r\n", "250-DSN\r\n",
                              "250 CHUNKING\r\n"});
  extensions e = parse_extensions(ehlo);
  EXPECT_TRUE(e.pipelining);
  EXPECT_TRUE(e.size);
  EXPECT_EQ(e.size_limit, 10240000u);
  EXPECT_TRUE(e.eight_bit_mime);
  EXPECT_TRUE(e.smtputf8);
  EXPECT_TRUE(e.starttls);
  EXPECT_TRUE(e.enhanced_status_codes);
  EXPECT_TRUE(e.chunking);
  EXPECT_TRUE(e.dsn);
  EXPECT_EQ(e.auth, (std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5"}));
  EXPECT_TRUE(e.offers_auth("plain"));
  EXPECT_FALSE(e.offers_auth("XOAUTH2"));
}

TEST(SmtpExtensions, GreetingLineIsNotAKeywordAndSizeWithoutLimit) {
  // The first line names the server, even when it looks like a keyword.
  extensions e = parse_extensions(assemble({"250-PIPELINING\r\n", "250-SIZE\r\n", "250 SMTPUTF8x\r\n"}));
  EXPECT_FALSE(e.pipelining);
  EXPECT_TRUE(e.size);
  EXPECT_EQ(e.size_limit, 0u);
  EXPECT_FALSE(e.smtputf8);
  e = parse_extensions(assemble({"250-x\r\n", "250 SIZE 12abc\r\n"}));
  EXPECT_TRUE(e.size);
  EXPECT_EQ(e.size_limit, 0u);
  // A one-line EHLO reply offers nothing.
  e = parse_extensions(assemble({"250 mx.example.org\r\n"}));
  EXPECT_FALSE(e.size || e.pipelining || e.starttls || !e.auth.empty());
}

TEST(SmtpOutcome, Classification) {
  EXPECT_EQ(classify(250), disposition::delivered);
  EXPECT_EQ(classify(251), disposition::delivered);
  EXPECT_EQ(classify(450), disposition::deferred);
  EXPECT_EQ(classify(421), disposition::deferred);
  EXPECT_EQ(classify(0), disposition::deferred);  // no reply: the connection broke
  EXPECT_EQ(classify(354), disposition::deferred);
  EXPECT_EQ(classify(550), disposition::bounced);
  EXPECT_EQ(classify(554), disposition::bounced);
  EXPECT_STREQ(disposition_name(disposition::bounced), "bounced");
  EXPECT_EQ(outcome_of(250), outcome::ok);
  EXPECT_EQ(outcome_of(354), outcome::ok);
  EXPECT_EQ(outcome_of(452), outcome::temp_fail);
  EXPECT_EQ(outcome_of(553), outcome::perm_fail);
  EXPECT_EQ(outcome_of(0), outcome::error);
}

TEST(DotStuffer, Cases) {
  struct tc {
    std::string_view in, out;
  } cases[] = {
      {"", ".\r\n"},
      {"a", "a\r\n.\r\n"},
      {"a\r\n", "a\r\n.\r\n"},
      {".", "..\r\n.\r\n"},
      {".\r\n", "..\r\n.\r\n"},
      {"a\r\n.b\r\n..c\r\nd.e\r\n", "a\r\n..b\r\n...c\r\nd.e\r\n.\r\n"},
      {"a\n.b\n", "a\r\n..b\r\n.\r\n"},      // bare LF becomes CRLF
      {"a\r.b", "a\r\n..b\r\n.\r\n"},        // bare CR too
      {"a\r\n\r\n.\r\n", "a\r\n\r\n..\r\n.\r\n"},
  };
  for (const tc& c : cases) EXPECT_EQ(dot_stuff(c.in), c.out) << c.in;
}

TEST(DotStuffer, EverySplitAndByteByByteGivesTheSameOutput) {
  const std::string in = ".start\r\nline\r\n.\r\n..two\nbare\r.cr\r\n\r\nend.";
  const std::string whole = dot_stuff(in);
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    std::string out;
    dot_stuffer s;
    s.append(std::string_view(in).substr(0, cut), out);
    s.append(std::string_view(in).substr(cut), out);
    s.finish(out);
    EXPECT_EQ(out, whole) << "cut at " << cut;
  }
  std::string out;
  dot_stuffer s;
  for (char ch : in) s.append(std::string_view(&ch, 1), out);
  s.finish(out);
  EXPECT_EQ(out, whole);
  // The stuffer is reusable after finish().
  out.clear();
  s.append("x", out);
  s.finish(out);
  EXPECT_EQ(out, "x\r\n.\r\n");
}

}  // namespace
}  // namespace ringmail::relay
