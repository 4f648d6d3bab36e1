// APPEND's extensions in the pure IMAP layer: MULTIAPPEND (RFC 3502), CATENATE (RFC 4469)
// and UTF8 data (RFC 6855 section 4) through command_reader and parse_command, fed whole
// and one byte at a time; the APPENDLIMIT size errors of the reader; and IMAP URLs
// (RFC 5092, imap_url.h) with the RFC's examples and hostile ones.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "protocols/imap/command.h"
#include "protocols/imap/command_reader.h"
#include "protocols/imap/imap_url.h"

namespace ringmail::imap {
namespace {

using namespace std::string_literals;
using rk = command_reader::result::kind;
using V = std::vector<std::string>;

// Feeds `input` in pieces of `piece` bytes (0: all at once) as the session does.
// Events: "C:<bytes>", "+", "E:<tag>:<message>[:toobig][:close]", then "rest:<left>".
V frame(std::string_view input, command_reader::limits l, size_t piece) {
  command_reader reader(l);
  std::string buf;
  V events;
  bool closed = false;
  auto drain = [&] {
    while (!closed) {
      command_reader::result r = reader.next(buf);
      if (r.k == rk::command) events.push_back("C:" + std::string(r.bytes));
      if (r.k == rk::continue_literal) events.push_back("+");
      if (r.k == rk::error) {
        events.push_back("E:" + r.tag + ":" + r.message + (r.too_big ? ":toobig" : "") + (r.close ? ":close" : ""));
        closed = r.close;
      }
      buf.erase(0, r.consumed);
      if (r.k == rk::need_more) return;
    }
  };
  if (piece == 0) {
    buf = input;
    drain();
  } else {
    for (size_t pos = 0; pos < input.size() && !closed; pos += piece) {
      buf.append(input.substr(pos, piece));
      drain();
    }
  }
  if (!closed) events.push_back("rest:" + buf);
  return events;
}

V frame_all_ways(std::string_view input, command_reader::limits l) {
  V whole = frame(input, l, 0);
  for (size_t piece : {1, 2, 5, 13}) EXPECT_EQ(frame(input, l, piece), whole) << "piece " << piece;
  return whole;
}

// The session's limits after login for --imap_max_append = `max_append`
// (session.cc set_reader_limits).
command_reader::limits after_login(size_t max_append, size_t max_line = 64 * 1024) {
  return {.max_line = max_line,
          .max_literal = max_append,
          .max_nonsync_literal = 4096,
          .literal_plus = true,
          .max_command = max_append + max_line * 4};
}

command parse_ok(std::string_view s, parse_options o = {}) {
  parse_result r = parse_command(s, o);
  EXPECT_TRUE(r.cmd.has_value()) << s << " -> " << r.error.message;
  return r.cmd.value_or(command{});
}

void parse_bad(std::string_view s) {
  parse_result r = parse_command(s);
  EXPECT_FALSE(r.cmd.has_value()) << s;
}

// ---- MULTIAPPEND ---------------------------------------------------------------------------

TEST(ImapMultiappend, RfcExampleFramesWithOneContinuationPerLiteral) {
  // RFC 3502 section 6, with LF line ends turned into CRLF.
  const std::string m1 =
      "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.example.COM>\r\n"
      "Subject: afternoon meeting\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
  const std::string m2 =
      "Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)\r\nFrom: Joe Mooch <mooch@OWATAGU.example.net>\r\n"
      "Subject: Re: afternoon meeting\r\n\r\n3:30 is fine with me.\r\n";
  const std::string cmd = "A003 APPEND saved-messages (\\Seen) {" + std::to_string(m1.size()) + "}\r\n" + m1 +
                          " (\\Seen) {" + std::to_string(m2.size()) + "}\r\n" + m2 + "\r\nA004 NOOP\r\n";
  V ev = frame_all_ways(cmd, after_login(1 << 20));
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev[0], "+");
  EXPECT_EQ(ev[1], "+");
  EXPECT_EQ(ev[3], "C:A004 NOOP");
  command c = parse_ok(std::string_view(ev[2]).substr(2));
  ASSERT_EQ(c.append.size(), 2u);
  EXPECT_EQ(c.mailbox, "saved-messages");
  EXPECT_EQ(c.append[0].message, m1);
  EXPECT_EQ(c.append[1].message, m2);
  EXPECT_EQ(c.append[1].flags, (V{"\\Seen"}));
}

TEST(ImapMultiappend, OptionalFlagsDatesAndLiteralKinds) {
  command c = parse_ok(
      "a APPEND x {1+}\r\nA \"05-Jan-2024 10:20:30 +0100\" {1+}\r\nB (\\Flagged) ~{2+}\r\n\0C () {1}\r\nD"s);
  ASSERT_EQ(c.append.size(), 4u);
  EXPECT_EQ(c.append[0].message, "A");
  EXPECT_FALSE(c.append[0].internal_date);
  EXPECT_EQ(c.append[1].internal_date, 1704446430);
  EXPECT_EQ(c.append[2].flags, (V{"\\Flagged"}));
  EXPECT_TRUE(c.append[2].binary);
  EXPECT_EQ(c.append[2].message, "\0C"s);
  EXPECT_TRUE(c.append[3].flags.empty());
  EXPECT_EQ(c.append[3].message, "D");
}

TEST(ImapMultiappend, Syntax) {
  parse_bad("a APPEND x {1}\r\nA  {1}\r\nB");   // two spaces
  parse_bad("a APPEND x {1}\r\nA {1}\r\nB ");   // trailing space
  parse_bad("a APPEND x {1}\r\nA (\\Seen)");    // flags without data
  parse_bad("a APPEND x {1}\r\nA{1}\r\nB");     // no space between messages
  parse_bad("a APPEND x {1}\r\nA \"x\"");       // a string is not append-data
  parse_bad("a APPEND x");                      // no message
}

TEST(ImapMultiappend, ManyMessagesAreBounded) {
  std::string cmd = "a APPEND x";
  for (int i = 0; i < 10'001; ++i) cmd += " {1+}\r\nx";
  parse_bad(cmd);
  cmd = "a APPEND x";
  for (int i = 0; i < 10'000; ++i) cmd += " {1+}\r\nx";
  EXPECT_EQ(parse_ok(cmd).append.size(), 10'000u);
}

// APPENDLIMIT: the reader refuses a synchronizing literal over the limit before its data
// (no "+"), also as the second message of a MULTIAPPEND, and keeps the stream in step.
TEST(ImapMultiappend, LimitsOfTheReader) {
  const auto l = after_login(1000, 100);
  // Several messages whose total is under the command limit frame.
  std::string ok_cmd = "a APPEND x";
  for (int i = 0; i < 4; ++i) ok_cmd += " {200}\r\n" + std::string(200, 'm');
  ok_cmd += "\r\n";
  V ev = frame_all_ways(ok_cmd, l);
  ASSERT_EQ(ev.size(), 6u);
  EXPECT_EQ(ev[4].substr(0, 12), "C:a APPEND x");
  // One literal over the limit: NO [TOOBIG] at once, no continuation, next command read.
  EXPECT_EQ(frame_all_ways("a APPEND x {1001}\r\nb NOOP\r\n", l),
            (V{"E:a:Literal too large:toobig", "C:b NOOP", "rest:"}));
  // The second message over the limit: the first was read, the second refused.
  EXPECT_EQ(frame_all_ways("a APPEND x {3}\r\nabc {1001}\r\nb NOOP\r\n", l),
            (V{"+", "E:a:Literal too large:toobig", "C:b NOOP", "rest:"}));
  // Messages each under the limit whose sum is over the command limit.
  EXPECT_EQ(frame_all_ways("a APPEND x {900}\r\n" + std::string(900, 'm') + " {900}\r\nb NOOP\r\n", l),
            (V{"+", "E:a:Literal too large:toobig", "C:b NOOP", "rest:"}));
  // A non-synchronizing one over the limit is already on its way: answer and close.
  EXPECT_EQ(frame_all_ways("a APPEND x {1001+}\r\n", l), (V{"E:a:Literal too large:toobig:close"}));
}

// ---- CATENATE and UTF8 ---------------------------------------------------------------------

TEST(ImapCatenate, RfcExample) {
  // RFC 4469 section 4 (the first example), framed byte by byte.
  const std::string text1 =
      "Content-Type: multipart/mixed; boundary=\"------------030308070208000400050907\"\r\n";
  const std::string cmd =
      "A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" "
      "TEXT {" + std::to_string(text1.size()) + "+}\r\n" + text1 +
      " URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME\" URL "
      "\"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1\" TEXT {42}\r\n--------------030308070208000400050907\r\n"
      "\r\n URL \"/Drafts;UIDVALIDITY=385759045/;UID=30\" TEXT {2}\r\n\r\n)\r\n";
  V ev = frame_all_ways(cmd, after_login(1 << 20));
  ASSERT_EQ(ev.size(), 4u);
  command c = parse_ok(std::string_view(ev[2]).substr(2));
  ASSERT_EQ(c.append.size(), 1u);
  const append_message& m = c.append[0];
  EXPECT_TRUE(m.catenate);
  EXPECT_TRUE(m.message.empty());
  EXPECT_EQ(m.flags, (V{"\\Seen", "\\Draft", "$MDNSent"}));
  ASSERT_EQ(m.parts.size(), 7u);
  EXPECT_TRUE(m.parts[0].url);
  EXPECT_EQ(m.parts[0].text, "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER");
  EXPECT_FALSE(m.parts[1].url);
  EXPECT_EQ(m.parts[1].text, text1);
  EXPECT_EQ(m.parts[4].text, "--------------030308070208000400050907\r\n\r\n");
  EXPECT_TRUE(m.parts[5].url);
  EXPECT_EQ(m.parts[6].text, "\r\n");
}

TEST(ImapCatenate, MixedWithMultiappendAndSyntax) {
  command c = parse_ok("a APPEND x CATENATE (URL /INBOX/;UID=1) (\\Seen) CATENATE (TEXT {1+}\r\nA) {1+}\r\nB");
  ASSERT_EQ(c.append.size(), 3u);
  EXPECT_TRUE(c.append[0].catenate);
  EXPECT_EQ(c.append[0].parts[0].text, "/INBOX/;UID=1");
  EXPECT_EQ(c.append[1].flags, (V{"\\Seen"}));
  EXPECT_EQ(c.append[2].message, "B");
  parse_bad("a APPEND x CATENATE ()");
  parse_bad("a APPEND x CATENATE (TEXT \"quoted\")");       // TEXT takes a literal
  parse_bad("a APPEND x CATENATE (FOO {1}\r\nA)");
  parse_bad("a APPEND x CATENATE (URL)");
  parse_bad("a APPEND x CATENATE (URL /a;UID=1");           // unclosed
  std::string many = "a APPEND x CATENATE (";
  for (int i = 0; i < 10'001; ++i) many += (i ? " " : "") + "URL x"s;
  parse_bad(many + ")");
}

TEST(ImapUtf8, AppendDataAndCatPart) {
  command c = parse_ok("a APPEND x UTF8 (~{6+}\r\nSu\xc3\xa9\r\n)");
  ASSERT_EQ(c.append.size(), 1u);
  EXPECT_TRUE(c.append[0].utf8);
  EXPECT_EQ(c.append[0].message, "Su\xc3\xa9\r\n");
  c = parse_ok("a APPEND x CATENATE (UTF8 (~{1+}\r\nA) TEXT {1+}\r\nB)");
  EXPECT_TRUE(c.append[0].parts[0].utf8);
  EXPECT_FALSE(c.append[0].parts[1].utf8);
  parse_bad("a APPEND x UTF8 ({1}\r\nA)");    // RFC 6855: literal8 only
  parse_bad("a APPEND x UTF8 ~{1}\r\nA");     // parenthesised
  parse_bad("a APPEND x UTF8 (~{1}\r\nA");
  // Byte by byte through the reader: ~{n} is a literal header like {n}.
  V ev = frame_all_ways("a APPEND x UTF8 (~{2}\r\n\xc3\xa9)\r\n", after_login(100));
  EXPECT_EQ(ev, (V{"+", "C:a APPEND x UTF8 (~{2}\r\n\xc3\xa9)", "rest:"}));
}

TEST(ImapUtf8, MailboxNamesInQuotedStringsOnlyWhenEnabled) {
  parse_bad("a SELECT \"Entw\xc3\xbcrfe\"");
  EXPECT_EQ(parse_ok("a SELECT \"Entw\xc3\xbcrfe\"", {.utf8 = true}).mailbox, "Entw\xc3\xbcrfe");
}

// ---- IMAP URLs -------------------------------------------------------------------------------

imap_url url_ok(std::string_view s) {
  imap_url_result r = parse_imap_url(s);
  EXPECT_TRUE(r.url.has_value()) << s << " -> " << r.error;
  return r.url.value_or(imap_url{});
}

std::string url_bad(std::string_view s) {
  imap_url_result r = parse_imap_url(s);
  EXPECT_FALSE(r.url.has_value()) << s;
  EXPECT_FALSE(r.error.empty());
  return r.error;
}

TEST(ImapUrl, Rfc5092Examples) {
  // Section 7.1 / 8 examples.
  imap_url u = url_ok("imap://michael@example.org/INBOX;UIDVALIDITY=385759045/;UID=20");
  EXPECT_TRUE(u.absolute);
  EXPECT_EQ(u.user, "michael");
  EXPECT_EQ(u.host, "example.org");
  EXPECT_EQ(u.mailbox, "INBOX");
  EXPECT_EQ(u.uid_validity, 385759045u);
  EXPECT_EQ(u.uid, 20u);
  EXPECT_FALSE(u.section);
  u = url_ok("imap://psicorp.example.org/~peter/%E6%97%A5%E6%9C%AC%E8%AA%9E/%E5%8F%B0%E5%8C%97/;UID=11");
  EXPECT_EQ(u.mailbox, "~peter/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/\xe5\x8f\xb0\xe5\x8c\x97");
  EXPECT_EQ(u.uid, 11u);
  u = url_ok("imap://;AUTH=*@minbari.example.org/gray%20council;UIDVALIDITY=385759045/;UID=20/;SECTION=1.2");
  EXPECT_EQ(u.auth, "*");
  EXPECT_EQ(u.mailbox, "gray council");
  ASSERT_TRUE(u.section);
  EXPECT_EQ(u.section->part, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(u.section->k, section_spec::kind::whole);
  u = url_ok("imap://minbari.example.org:1143/gray-council/;UID=20/;PARTIAL=0.1024");
  EXPECT_EQ(u.port, 1143u);
  EXPECT_EQ(u.partial_origin, 0u);
  EXPECT_EQ(u.partial_length, 1024u);
}

TEST(ImapUrl, RelativeFormsAndSections) {
  imap_url u = url_ok("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER");
  EXPECT_FALSE(u.absolute);
  EXPECT_EQ(u.mailbox, "Drafts");
  EXPECT_EQ(u.section->k, section_spec::kind::header);
  u = url_ok(";UID=7/;SECTION=1.MIME");
  EXPECT_FALSE(u.mailbox);
  EXPECT_EQ(u.uid, 7u);
  EXPECT_EQ(u.section->k, section_spec::kind::mime);
  EXPECT_EQ(u.section->part, (std::vector<uint32_t>{1}));
  u = url_ok("/a/b/;UID=3/;SECTION=HEADER.FIELDS%20(From%20To)/;PARTIAL=5");
  EXPECT_EQ(u.mailbox, "a/b");
  EXPECT_EQ(u.section->k, section_spec::kind::header_fields);
  EXPECT_EQ(u.section->fields, (V{"FROM", "TO"}));
  EXPECT_EQ(u.partial_origin, 5u);
  EXPECT_FALSE(u.partial_length);
  EXPECT_EQ(url_ok("/INBOX/;UID=1/;SECTION=TEXT").section->k, section_spec::kind::text);
  EXPECT_EQ(url_ok("/x;uidvalidity=1/;uid=4294967295").uid, 4294967295u);
}

TEST(ImapUrl, RefusedAndHostile) {
  url_bad("");
  url_bad("/INBOX");                                  // a mailbox, no message
  url_bad("/INBOX/");                                 // ditto
  url_bad("/INBOX;UIDVALIDITY=5");                    // ditto
  url_bad("imap://example.org/INBOX");                // ditto
  url_bad("imap://example.org");                      // no path
  url_bad("/INBOX/;UID=0");                           // nz-number
  url_bad("/INBOX/;UID=4294967296");                  // 32 bits
  url_bad("/INBOX/;UID=99999999999999999999999");
  url_bad("/INBOX/;UID=-1");
  url_bad("/INBOX;UID=5");                            // "/" required before ;UID
  url_bad("/INBOX/;UIDVALIDITY=1/;UID=5");            // UIDVALIDITY after the "/"
  url_bad("/INBOX/;UID=5/;UIDVALIDITY=1");            // out of order
  url_bad("/INBOX/;SECTION=1/;UID=5");
  url_bad("/INBOX/;UID=5/;SECTION=1/;SECTION=2");     // repeated
  url_bad("/INBOX/;UID=5/");                          // trailing "/"
  url_bad("/INBOX/;UID=5;SECTION=1");                 // "/" between parameters
  url_bad(";SECTION=1");                              // no UID
  url_bad(";UIDVALIDITY=1/;UID=1");                   // UIDVALIDITY without a mailbox
  url_bad("/INBOX/;UID=5/;SECTION=1.0");              // part numbers are nz
  url_bad("/INBOX/;UID=5/;SECTION=BODY");
  url_bad("/INBOX/;UID=5/;SECTION=HEADER.FIELDS");    // no list
  url_bad("/INBOX/;UID=5/;SECTION=HEADER]%20x[");     // brackets cannot escape
  url_bad("/INBOX/;UID=5/;SECTION=HEADER.FIELDS%20(%7B3%7D%0D%0Aabc)");  // no literal
  url_bad("/INBOX/;UID=5/;SECTION=1%00");             // NUL
  url_bad("/INBOX/;UID=5/;PARTIAL=1.0");              // nz length
  url_bad("/INBOX/;UID=5/;PARTIAL=x");
  url_bad("/IN%2");                                   // broken escape
  url_bad("/IN%zzBOX/;UID=1");
  url_bad("/IN BOX/;UID=1");                          // space is not a bchar
  url_bad("/IN\"BOX/;UID=1");
  url_bad("/INBOX?SUBJECT%20x");                      // search URL
  url_bad("/INBOX/;UID=1?x");
  url_bad("//host/INBOX/;UID=1");                     // network path
  url_bad("INBOX/;UID=1");                            // relative mailbox path
  url_bad("http://example.org/INBOX/;UID=1");
  url_bad("imap://user@host/INBOX/;UID=20/;URLAUTH=anonymous:internal:91354a473744909de610943775f92038");
  url_bad("imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred:internal:91354a47");
  url_bad("imap://joe@example.com/INBOX/;uid=20/;EXPIRE=2026-01-01T00:00:00Z/;URLAUTH=x");
  url_bad("imap://a@b@host/INBOX/;UID=1");
  url_bad("imap://host:0/INBOX/;UID=1");
  url_bad("imap://host:99999/INBOX/;UID=1");
  url_bad("imap://ho st/INBOX/;UID=1");
  url_bad("imap://@host/INBOX/;UID=1");
  url_bad("/INBOX/;FOO=1");
  url_bad(std::string(9000, '/'));
  std::string deep = "/INBOX/;UID=1/;SECTION=";
  for (int i = 0; i < 3000; ++i) deep += "1.";
  deep += "1";
  url_bad(deep);  // section over 4 KiB
  // Every prefix of a valid URL either parses or fails cleanly (no read past the end).
  const std::string full = "imap://u;AUTH=*@h.example:143/a%20b;UIDVALIDITY=9/;UID=2/;SECTION=1.2.MIME/;PARTIAL=3.4";
  for (size_t n = 0; n <= full.size(); ++n) (void)parse_imap_url(full.substr(0, n));
  EXPECT_EQ(url_ok(full).section->k, section_spec::kind::mime);
}

TEST(ImapUrl, SectionText) {
  EXPECT_TRUE(parse_section_text("HEADER.FIELDS.NOT (Received)"));
  EXPECT_FALSE(parse_section_text("MIME"));  // MIME only after a part number
  EXPECT_FALSE(parse_section_text(""));
  EXPECT_FALSE(parse_section_text("1]<0.5>"));
}

}  // namespace
}  // namespace ringmail::imap
