// What Sieve sends and remembers on its own (delivery/sieve/vacation.h, reject_notice.h,
// sieve_memory.h, outgoing_message.h): RFC 5230's examples as the interpreter's actions,
// every no-reply rule of RFC 5230 4.5 and Pigeonhole, header and MIME injection through
// every script-given and original-given string, the replies and notices parsed back with
// mail/message.h and read once more by Python's email package, and the memory's expiry,
// limits and damaged files.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "delivery/sieve/outgoing_message.h"
#include "delivery/sieve/reject_notice.h"
#include "delivery/sieve/sieve_memory.h"
#include "delivery/sieve/vacation.h"
#include "mail/charset.h"
#include "mail/header.h"
#include "mail/message.h"
#include "mail/rfc2047.h"

namespace ringmail::sieve {
namespace {

constexpr int64_t kNow = 1796630400;  // Mon, 07 Dec 2026 08:00:00 +0000

const char kOriginal[] =
    "Return-Path: <john@example.org>\r\n"
    "From: John <john@example.org>\r\n"
    "To: Tim <tjs@example.edu>, other@example.net\r\n"
    "Subject: cyrus build\r\n"
    "Message-ID: <orig.1@example.org>\r\n"
    "References: <root.0@example.org>\r\n"
    "\r\n"
    "Does it build?\r\n";

action vacation_action(std::string reason) {
  action a;
  a.kind = action::vacation;
  a.reason = std::move(reason);
  a.seconds = 7 * 86400;
  return a;
}

struct parsed {
  std::string bytes;  // owns what msg views
  mail::charset_converter charsets;
  mail::message msg;
};

std::unique_ptr<parsed> parse(std::string bytes) {
  auto p = std::make_unique<parsed>();
  p->bytes = std::move(bytes);
  p->msg = mail::parse_message(p->bytes, p->charsets, {mail::boundary_rule::rfc2046});
  return p;
}

std::vector<std::string> field_names(const mail::header_block& h) {
  std::vector<std::string> names;
  for (const mail::header_field& f : h.fields) names.emplace_back(f.name);
  return names;
}

std::string field(const parsed& p, std::string_view name) {
  const mail::header_field* f = p.msg.headers().find(name);
  return f == nullptr ? "<none>" : mail::decoded_value(*f, const_cast<mail::charset_converter&>(p.charsets));
}

// Every line ends in CRLF, no bare CR or LF, none longer than 998 octets.
void expect_clean_lines(std::string_view m) {
  size_t pos = 0;
  while (pos < m.size()) {
    const size_t nl = m.find('\n', pos);
    ASSERT_NE(nl, std::string_view::npos) << "unterminated last line";
    ASSERT_GT(nl, pos) << "bare LF at " << pos;
    ASSERT_EQ(m[nl - 1], '\r') << "bare LF at " << nl;
    const std::string_view line = m.substr(pos, nl - 1 - pos);
    EXPECT_EQ(line.find('\r'), std::string_view::npos) << "bare CR in: " << line;
    EXPECT_LE(line.size(), 998u);
    pos = nl + 1;
  }
}

struct vacation_case {
  action act;
  mail::header_block header;
  vacation_input in;
};

vacation_decision decide(const action& a, std::string_view original, std::string_view sender = "john@example.org",
                         std::string_view recipient = "tjs@example.edu") {
  const mail::header_block h = mail::parse_header_block(original);
  vacation_input in;
  in.sender = sender;
  in.recipient = recipient;
  in.header = &h;
  return decide_vacation(a, in);
}

std::string with_header(std::string_view extra) {
  std::string m = kOriginal;
  m.insert(0, std::string(extra));
  return m;
}

// ---- RFC 5230 4.5: when not to reply ----

TEST(VacationDecision, RepliesToAMessageAddressedToTheUser) {
  const vacation_decision d = decide(vacation_action("I'm out -- call me at 555-1212"), kOriginal);
  EXPECT_EQ(d.verdict, vacation_verdict::reply);
  EXPECT_EQ(d.reply_from, "tjs@example.edu");
  EXPECT_EQ(verdict_name(d.verdict), "reply");
}

TEST(VacationDecision, NeverToTheNullSender) {
  EXPECT_EQ(decide(vacation_action("x"), kOriginal, "").verdict, vacation_verdict::null_sender);
  EXPECT_EQ(decide(vacation_action("x"), kOriginal, "<>").verdict, vacation_verdict::null_sender);
}

TEST(VacationDecision, NeverToAnUnreachableSender) {
  for (std::string_view s : {"john", "john@", "@example.org", "john@example.org\r\nBcc: v@x"}) {
    EXPECT_EQ(decide(vacation_action("x"), kOriginal, s).verdict, vacation_verdict::invalid_sender) << s;
  }
  EXPECT_EQ(verdict_name(vacation_verdict::invalid_sender), "invalid-sender");
}

TEST(VacationDecision, NeverToSystemSenders) {
  for (std::string_view s : {"MAILER-DAEMON@example.org", "mailer-daemon@example.org", "LISTSERV@lists.example",
                             "majordomo@example.org", "owner-cyrus@lists.example", "Owner-x@example.org",
                             "cyrus-request@lists.example", "cyrus-REQUEST@lists.example"}) {
    EXPECT_EQ(decide(vacation_action("x"), kOriginal, s).verdict, vacation_verdict::system_sender) << s;
    EXPECT_TRUE(is_system_address(s)) << s;
  }
  for (std::string_view s : {"john@example.org", "owner@example.org", "request@example.org",
                             "requester-x@example.org", "daemon@example.org"}) {
    EXPECT_FALSE(is_system_address(s)) << s;
  }
}

TEST(VacationDecision, NeverToMailingLists) {
  for (std::string_view h : {"List-Id: <cyrus.lists.example>\r\n", "list-post: <mailto:cyrus@lists.example>\r\n",
                             "List-Unsubscribe: <mailto:x@y>\r\n", "List-Help: <mailto:x@y>\r\n",
                             "List-Subscribe: <mailto:x@y>\r\n", "List-Owner: <mailto:x@y>\r\n",
                             "List-Archive: <http://x/>\r\n"}) {
    EXPECT_EQ(decide(vacation_action("x"), with_header(h)).verdict, vacation_verdict::mailing_list) << h;
  }
}

TEST(VacationDecision, NeverToBulkOrAutomaticMail) {
  for (std::string_view h : {"Precedence: bulk\r\n", "Precedence: LIST\r\n", "Precedence: junk (spam)\r\n"}) {
    EXPECT_EQ(decide(vacation_action("x"), with_header(h)).verdict, vacation_verdict::precedence) << h;
  }
  EXPECT_EQ(decide(vacation_action("x"), with_header("Precedence: first-class\r\n")).verdict,
            vacation_verdict::reply);
  for (std::string_view h : {"Auto-Submitted: auto-replied\r\n", "Auto-Submitted: auto-generated; foo=bar\r\n",
                             "Auto-Submitted: auto-notified\r\n", "Auto-Submitted: no\r\nAuto-Submitted: yes\r\n"}) {
    EXPECT_EQ(decide(vacation_action("x"), with_header(h)).verdict, vacation_verdict::auto_submitted) << h;
  }
  EXPECT_EQ(decide(vacation_action("x"), with_header("Auto-Submitted: No (a person)\r\n")).verdict,
            vacation_verdict::reply);
}

TEST(VacationDecision, NeverToOurselves) {
  EXPECT_EQ(decide(vacation_action("x"), kOriginal, "TJS@example.EDU").verdict, vacation_verdict::own_address);
  action a = vacation_action("x");
  a.addresses = {"ts4z@landru.example.edu"};
  EXPECT_EQ(decide(a, kOriginal, "ts4z@landru.example.edu").verdict, vacation_verdict::own_address);
  const mail::header_block h = mail::parse_header_block(kOriginal);
  vacation_input in{"alias@example.edu", "tjs@example.edu", {"alias@example.edu"}, &h};
  EXPECT_EQ(decide_vacation(vacation_action("x"), in).verdict, vacation_verdict::own_address);
}

TEST(VacationDecision, OnlyWhenTheUserIsARecipientInTheHeader) {
  // Bcc'd or reached through a list alias: none of the user's addresses in the header.
  EXPECT_EQ(decide(vacation_action("x"), kOriginal, "john@example.org", "bob@example.edu").verdict,
            vacation_verdict::not_addressed);
  // RFC 5230 4.5's :addresses example: the message went to an alias the script names.
  action a = vacation_action("I'm away until October 19.  If it's an emergency, call 911, I guess.");
  a.seconds = 23 * 86400;
  a.addresses = {"tjs@example.edu", "ts4z@landru.example.edu"};
  const std::string to_alias =
      "From: john@example.org\r\nCc: \"T. S.\" <TS4Z@landru.example.edu>\r\nSubject: hi\r\n\r\nbody\r\n";
  const vacation_decision d = decide(a, to_alias, "john@example.org", "tim@example.edu");
  EXPECT_EQ(d.verdict, vacation_verdict::reply);
  EXPECT_EQ(d.reply_from, "ts4z@landru.example.edu");  // the address the message was sent to
}

TEST(VacationDecision, ResentAndGroupsCount) {
  EXPECT_EQ(decide(vacation_action("x"), "From: a@b.example\r\nTo: list: x@y.example, tjs@example.edu;\r\n\r\n")
                .verdict,
            vacation_verdict::reply);
  EXPECT_EQ(decide(vacation_action("x"), "From: a@b.example\r\nResent-To: tjs@example.edu\r\n\r\n").verdict,
            vacation_verdict::reply);
  EXPECT_EQ(decide(vacation_action("x"), "From: a@b.example\r\nReply-To: tjs@example.edu\r\n\r\n").verdict,
            vacation_verdict::not_addressed);
}

// ---- RFC 5230 5: the reply ----

std::unique_ptr<parsed> reply_to(const action& a, std::string_view original = kOriginal,
                                 std::string_view reply_from = "tjs@example.edu",
                                 std::string_view sender = "john@example.org", outgoing_message* envelope = nullptr) {
  static mail::charset_converter charsets;
  const mail::header_block h = mail::parse_header_block(original);
  vacation_reply_request rq;
  rq.vacation = &a;
  rq.sender = sender;
  rq.reply_from = reply_from;
  rq.original = &h;
  rq.charsets = &charsets;
  rq.host = "mail.example.edu";
  rq.now = kNow;
  outgoing_message m = build_vacation_reply(rq);
  if (envelope != nullptr) *envelope = m;
  expect_clean_lines(m.bytes);
  return parse(std::move(m.bytes));
}

TEST(VacationReply, Rfc5230Example) {
  outgoing_message env;
  auto p = reply_to(vacation_action("I'm out -- send mail to cyrus-bugs"), kOriginal, "tjs@example.edu",
                    "john@example.org", &env);
  EXPECT_EQ(env.envelope_from, "");  // RFC 5230 5.1: MAIL FROM:<>
  EXPECT_EQ(env.envelope_to, "john@example.org");
  EXPECT_EQ(field_names(p->msg.headers()),
            (std::vector<std::string>{"Date", "Message-ID", "From", "To", "Subject", "In-Reply-To", "References",
                                      "Auto-Submitted", "Precedence", "MIME-Version", "Content-Type",
                                      "Content-Transfer-Encoding"}));
  EXPECT_EQ(field(*p, "Date"), "Mon, 07 Dec 2026 08:00:00 +0000");
  EXPECT_EQ(field(*p, "From"), "<tjs@example.edu>");
  EXPECT_EQ(field(*p, "To"), "<john@example.org>");
  EXPECT_EQ(field(*p, "Subject"), "Auto: cyrus build");
  EXPECT_EQ(field(*p, "In-Reply-To"), "<orig.1@example.org>");
  EXPECT_EQ(field(*p, "References"), "<root.0@example.org> <orig.1@example.org>");
  EXPECT_EQ(field(*p, "Auto-Submitted"), "auto-replied (vacation)");
  EXPECT_EQ(p->msg.parts[0].type.type, "text");
  EXPECT_EQ(p->msg.parts[0].transfer_encoding, "7bit");
  EXPECT_EQ(p->msg.parts[0].body, "I'm out -- send mail to cyrus-bugs\r\n");
  const std::string id = field(*p, "Message-ID");
  EXPECT_TRUE(id.starts_with("<20261207080000.") && id.ends_with(".vacation@mail.example.edu>")) << id;
}

TEST(VacationReply, SubjectFromAndDefaults) {
  action a = vacation_action("Gone fishing");
  a.subject = "Gone fishing";
  a.from = "Tim Showalter <tjs@example.edu>";
  auto p = reply_to(a);
  EXPECT_EQ(field(*p, "Subject"), "Gone fishing");
  EXPECT_EQ(field(*p, "From"), "Tim Showalter <tjs@example.edu>");
  // No Subject: in the original: Pigeonhole's "Automated reply".
  auto q = reply_to(vacation_action("x"), "From: john@example.org\r\nTo: tjs@example.edu\r\n\r\n");
  EXPECT_EQ(field(*q, "Subject"), "Automated reply");
  EXPECT_EQ(field(*q, "In-Reply-To"), "<none>");
  EXPECT_EQ(field(*q, "References"), "<none>");
  // An unreadable :from falls back to the user's address.
  a.from = "not an address";
  EXPECT_EQ(field(*reply_to(a), "From"), "<tjs@example.edu>");
  // A display name that needs quoting.
  a.from = "\"Showalter, Tim\" <tjs@example.edu>";
  EXPECT_EQ(field(*reply_to(a), "From"), "\"Showalter, Tim\" <tjs@example.edu>");
}

TEST(VacationReply, NonAsciiSubjectAndBody) {
  action a = vacation_action("Ich bin im Urlaub. Gr\xc3\xbc\xc3\x9f" "e\nJ\xc3\xb6rg");
  a.from = "J\xc3\xb6rg <joerg@example.de>";
  const std::string original =
      "From: john@example.org\r\nTo: joerg@example.de\r\nSubject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n\r\nx\r\n";
  auto p = reply_to(a, original, "joerg@example.de");
  EXPECT_EQ(field(*p, "Subject"), "Auto: Gr\xc3\xbc\xc3\x9f" "e");
  EXPECT_EQ(field(*p, "From"), "J\xc3\xb6rg <joerg@example.de>");
  // The header itself is ASCII: encoded words, not raw UTF-8.
  const std::string_view header = std::string_view(p->bytes).substr(0, p->msg.parts[0].headers.body_offset);
  for (unsigned char c : header) EXPECT_LT(c, 0x80);
  EXPECT_EQ(p->msg.parts[0].transfer_encoding, "8bit");
  EXPECT_EQ(p->msg.parts[0].type.charset(), "utf-8");
  EXPECT_EQ(p->msg.parts[0].body, "Ich bin im Urlaub. Gr\xc3\xbc\xc3\x9f" "e\r\nJ\xc3\xb6rg\r\n");
  // A long subject is cut at 256 octets on a character boundary and stays decodable.
  a.subject = std::string(300, 'a') + "\xc3\xa4";
  auto q = reply_to(a, original, "joerg@example.de");
  EXPECT_EQ(field(*q, "Subject"), std::string(256, 'a'));
  a.subject = std::string(255, 'a') + "\xc3\xa4";
  EXPECT_EQ(field(*reply_to(a, original, "joerg@example.de"), "Subject"), std::string(255, 'a'));
  a.subject = "\xc3\xa4" + std::string(200, 'b');
  EXPECT_EQ(field(*reply_to(a, original, "joerg@example.de"), "Subject"), "\xc3\xa4" + std::string(200, 'b'));
}

TEST(VacationReply, LongLinesAreBase64) {
  auto p = reply_to(vacation_action(std::string(5000, 'x')));
  EXPECT_EQ(p->msg.parts[0].transfer_encoding, "base64");
  EXPECT_EQ(mail::decode_body(p->msg.parts[0], 1 << 20), std::string(5000, 'x') + "\r\n");
}

TEST(VacationReply, MimeEntityAsGiven) {
  // RFC 5230 4.6's :mime example.
  action a = vacation_action(
      "Content-Type: multipart/alternative; boundary=foo\r\n"
      "\r\n"
      "--foo\r\n"
      "\r\n"
      "I'm at the beach relaxing.  Mmmm, surf...\r\n"
      "\r\n"
      "--foo\r\n"
      "Content-Type: text/html; charset=us-ascii\r\n"
      "\r\n"
      "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.0//EN\"\r\n"
      " \"http://www.w3.org/TR/REC-html40/strict.dtd\">\r\n"
      "<HTML><HEAD><TITLE>How to relax</TITLE>\r\n"
      "<BASE HREF=\"http://home.example.com/pictures/\"></HEAD>\r\n"
      "<BODY><P>I'm at the <A HREF=\"beach.gif\">beach</A> relaxing.\r\n"
      "Mmmm, <A HREF=\"ocean.gif\">surf</A>...\r\n"
      "</BODY></HTML>\r\n"
      "\r\n"
      "--foo--\r\n");
  a.mime = true;
  auto p = reply_to(a);
  ASSERT_EQ(p->msg.parts.size(), 3u);
  EXPECT_EQ(p->msg.parts[0].type.type, "multipart");
  EXPECT_EQ(p->msg.parts[0].type.subtype, "alternative");
  EXPECT_EQ(p->msg.parts[1].type.type, "text");
  EXPECT_EQ(p->msg.parts[1].body, "I'm at the beach relaxing.  Mmmm, surf...\r\n");
  EXPECT_EQ(p->msg.parts[2].type.subtype, "html");
  EXPECT_EQ(p->msg.missing_boundaries, 0u);
  // A body line over 998 octets is broken (RFC 5322 2.1.1).
  a.reason = "Content-Type: text/plain\r\n\r\n" + std::string(2000, 'y') + "\r\n";
  auto l = reply_to(a);  // reply_to checks every line
  EXPECT_EQ(l->msg.parts[0].body, std::string(998, 'y') + "\r\n" + std::string(998, 'y') + "\r\n" + std::string(4, 'y') + "\r\n");
  // An entity with no header at all is a text/plain body (RFC 2045 5.2).
  a.reason = "just text\n";
  auto q = reply_to(a);
  EXPECT_EQ(q->msg.parts[0].type.type, "text");
  EXPECT_EQ(q->msg.parts[0].body, "just text\r\n");
}

// ---- injection: no script-given or original-given string adds a header field ----

std::set<std::string> lower_names(const mail::header_block& h) {
  std::set<std::string> s;
  for (const mail::header_field& f : h.fields) {
    std::string n(f.name);
    for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    s.insert(n);
  }
  return s;
}

TEST(VacationReply, NoHeaderInjection) {
  const std::string evil = "x\r\nBcc: victim@example.net\r\n\r\nbody";
  action a = vacation_action("I'm out\r\n");
  a.subject = "Away" + evil;
  a.from = "Tim <tjs@example.edu>\r\nBcc: victim@example.net";
  const std::string original =
      "From: john@example.org\r\nTo: tjs@example.edu\r\n"
      "Subject: =?utf-8?q?hi=0D=0ABcc:_victim@example.net?=\r\n"
      "Message-ID: <a@b>\r\n X-Injected: <c@d>\r\n"
      "References: <r@s> Bcc: <t@u>\r\n\r\n";
  for (int variant = 0; variant < 3; ++variant) {
    action v = a;
    if (variant == 1) v.subject.reset();  // the original's encoded CRLF
    if (variant == 2) {
      v.mime = true;
      v.reason = "Content-Type: text/plain\r\nBcc: victim@example.net\r\nSubject: forged\r\n"
                 "Content-Description: ok\r\n\tBcc: folded@example.net\r\n\r\nhello\r\n";
    }
    auto p = reply_to(v, original, "tjs@example.edu", "john@example.org");
    const std::set<std::string> names = lower_names(p->msg.headers());
    EXPECT_EQ(names.count("bcc"), 0u) << p->bytes;
    EXPECT_EQ(names.count("x-injected"), 0u) << p->bytes;
    EXPECT_EQ(p->msg.headers().find_all("Subject").size(), 1u) << p->bytes;
    EXPECT_EQ(p->msg.headers().malformed_lines, 0u) << p->bytes;
    EXPECT_EQ(field(*p, "In-Reply-To"), "<a@b>");
    EXPECT_EQ(field(*p, "References"), "<r@s> <t@u> <a@b>");
    if (variant == 2) EXPECT_EQ(p->msg.parts[0].body, "hello\r\n");
  }
  // The sender itself cannot break the To: line (the SMTP session refuses such a path;
  // this is the second wall).
  auto q = reply_to(vacation_action("x"), kOriginal, "tjs@example.edu", "john@example.org\r\nBcc: v@x");
  EXPECT_EQ(lower_names(q->msg.headers()).count("bcc"), 0u);
}

TEST(VacationHandle, GivenOrDerivedFromTheArguments) {
  // RFC 5230 4.2's example: two vacation actions with one :handle share their memory.
  action lunch = vacation_action("I'm out and can't meet for lunch");
  lunch.handle = "ran-away";
  action out = vacation_action("I'm out");
  out.handle = "ran-away";
  EXPECT_EQ(vacation_handle(lunch), vacation_handle(out));
  // Without :handle, different texts are different replies; the same text is the same.
  action a = vacation_action("I'm out");
  action b = vacation_action("I'm out");
  EXPECT_EQ(vacation_handle(a), vacation_handle(b));
  b.subject = "Away";
  EXPECT_NE(vacation_handle(a), vacation_handle(b));
  action c = vacation_action("I'm ou");
  c.subject = "tAway";
  EXPECT_NE(vacation_handle(b), vacation_handle(c));
  b.subject.reset();
  b.mime = true;
  EXPECT_NE(vacation_handle(a), vacation_handle(b));
}

// ---- RFC 5429 2.1: the reject notice ----

std::unique_ptr<parsed> reject(std::string_view reason, std::string_view original = kOriginal,
                               outgoing_message* envelope = nullptr, std::string_view recipient = "tjs@example.edu") {
  static mail::charset_converter charsets;
  reject_notice_request rq;
  rq.reason = reason;
  rq.sender = "john@example.org";
  rq.recipient = recipient;
  rq.original = original;
  rq.charsets = &charsets;
  rq.host = "mail.example.edu";
  rq.now = kNow;
  outgoing_message m = build_reject_notice(rq);
  if (envelope != nullptr) *envelope = m;
  expect_clean_lines(m.bytes);
  return parse(std::move(m.bytes));
}

TEST(RejectNotice, AnMdnAsPigeonholeSendsIt) {
  outgoing_message env;
  auto p = reject("I am not taking mail from you, and I don't\nwant your birdseed, either!", kOriginal, &env);
  EXPECT_EQ(env.envelope_from, "");
  EXPECT_EQ(env.envelope_to, "john@example.org");
  EXPECT_EQ(field(*p, "From"), "Mail Delivery Subsystem <postmaster@mail.example.edu>");
  EXPECT_EQ(field(*p, "To"), "<john@example.org>");
  EXPECT_EQ(field(*p, "Subject"), "Rejected: cyrus build");
  EXPECT_EQ(field(*p, "Auto-Submitted"), "auto-replied (rejected)");
  EXPECT_EQ(field(*p, "In-Reply-To"), "<orig.1@example.org>");
  const mail::mime_part& root = p->msg.parts[0];
  EXPECT_EQ(root.type.type, "multipart");
  EXPECT_EQ(root.type.subtype, "report");
  EXPECT_EQ(*root.type.raw.param("report-type"), "disposition-notification");
  ASSERT_EQ(p->msg.parts.size(), 4u);
  EXPECT_EQ(p->msg.missing_boundaries, 0u);
  EXPECT_EQ(p->msg.parts[1].type.subtype, "plain");
  EXPECT_EQ(p->msg.parts[1].body,
            "Your message to <tjs@example.edu> was automatically rejected:\r\n"
            "I am not taking mail from you, and I don't\r\nwant your birdseed, either!\r\n");
  EXPECT_EQ(p->msg.parts[2].type.type, "message");
  EXPECT_EQ(p->msg.parts[2].type.subtype, "disposition-notification");
  EXPECT_EQ(p->msg.parts[2].body,
            "Reporting-UA: mail.example.edu; ringmail\r\n"
            "Final-Recipient: rfc822; tjs@example.edu\r\n"
            "Original-Message-ID: <orig.1@example.org>\r\n"
            "Disposition: automatic-action/MDN-sent-automatically; deleted\r\n");
  EXPECT_EQ(p->msg.parts[3].type.subtype, "rfc822-headers");
  EXPECT_TRUE(p->msg.parts[3].body.starts_with("Return-Path: <john@example.org>\r\n"));
  EXPECT_EQ(p->msg.parts[3].body.find("Does it build?"), std::string_view::npos);
}

TEST(RejectNotice, NoInjectionThroughReasonRecipientOrOriginal) {
  // The reason holds the boundary's base and a forged close delimiter; the recipient a
  // CRLF; the original's Subject an encoded CRLF.
  const std::string base = "reject." + std::to_string(kNow) + "/mail.example.edu";
  const std::string reason = "--" + base + "--\r\n--" + base + "\r\nContent-Type: text/html\r\n\r\n<b>";
  const std::string original = "From: john@example.org\r\nSubject: =?utf-8?q?x=0D=0ABcc:_v@x?=\r\n\r\nbody\r\n";
  auto p = reject(reason, original, nullptr, "tjs@example.edu\r\nBcc: v@x");
  ASSERT_EQ(p->msg.parts.size(), 4u) << p->bytes;
  EXPECT_EQ(p->msg.missing_boundaries, 0u);
  EXPECT_EQ(lower_names(p->msg.headers()).count("bcc"), 0u);
  EXPECT_NE(p->msg.parts[0].type.boundary(), base);
  EXPECT_TRUE(std::string_view(p->msg.parts[1].body).ends_with("<b>\r\n"));
  EXPECT_NE(p->msg.parts[2].body.find("Final-Recipient: utf-8; tjs@example.edu\\x{D}\\x{A}Bcc:\\x{20}v@x\r\n"),
            std::string_view::npos)
      << p->msg.parts[2].body;
  EXPECT_EQ(field(*p, "Subject"), "Rejected: x Bcc: v@x");
  // No subject: Pigeonhole's fixed one.
  EXPECT_EQ(field(*reject("no", "From: a@b.example\r\n\r\n"), "Subject"), "Automatically rejected mail");
}

TEST(RejectNotice, LongHeaderLinesStayOut) {
  // RFC 5322 2.1.1: the returned header section ends before a line over 998 octets (the
  // fuzz target found it; fuzz/regressions/sieve_outgoing_fuzz/).
  const std::string original = "From: a@b.example\r\nX-Long: " + std::string(2000, 'x') + "\r\nTo: c@d\r\n\r\nbody\r\n";
  auto p = reject("no", original);
  ASSERT_EQ(p->msg.parts.size(), 4u);
  EXPECT_EQ(p->msg.parts[3].body, "From: a@b.example\r\n");
}

TEST(RejectNotice, NeverToTheNullSenderOrADaemon) {
  EXPECT_TRUE(wants_reject_notice("john@example.org"));
  EXPECT_FALSE(wants_reject_notice(""));
  EXPECT_FALSE(wants_reject_notice("MAILER-DAEMON@example.org"));
  EXPECT_FALSE(wants_reject_notice("john@example.org\r\nBcc: x@y"));
}

// Python's email package reads the reply and the notice with no defects.
TEST(Outgoing, PythonEmailReadsThem) {
  if (std::system("python3 -c 'import email' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  action a = vacation_action("Bin weg.\nGr\xc3\xbc\xc3\x9f" "e");
  a.subject = "Abwesend: J\xc3\xb6rg \xe2\x82\xac " + std::string(100, 'z');
  a.from = "\"Showalter, Tim\" <tjs@example.edu>";
  auto v = reply_to(a);
  auto r = reject("Not from you.\n\xc3\xa4");
  std::string path = ::testing::TempDir() + "/ringmail-outgoing-XXXXXX";
  int fd = mkstemp(path.data());
  ASSERT_GE(fd, 0);
  ::close(fd);
  const std::string script =
      "import email, email.policy, sys\n"
      "m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)\n"
      "assert not m.defects, m.defects\n"
      "assert m['Auto-Submitted'].startswith('auto-replied'), m['Auto-Submitted']\n"
      "assert m['To'] == 'john@example.org', m['To']\n"
      "if sys.argv[2] == 'vacation':\n"
      "  assert m['Subject'] == 'Abwesend: J\\u00f6rg \\u20ac ' + 'z' * 100, repr(m['Subject'])\n"
      "  assert m['From'].addresses[0].display_name == 'Showalter, Tim'\n"
      "  assert m['From'].addresses[0].addr_spec == 'tjs@example.edu'\n"
      "  assert m.get_content().replace('\\r\\n', '\\n') == 'Bin weg.\\nGr\\u00fc\\u00dfe\\n', repr(m.get_content())\n"
      "else:\n"
      "  assert m.get_content_type() == 'multipart/report'\n"
      "  assert m.get_param('report-type') == 'disposition-notification'\n"
      "  parts = list(m.iter_parts())\n"
      "  assert [p.get_content_type() for p in parts] == ['text/plain', "
      "'message/disposition-notification', 'text/rfc822-headers'], parts\n"
      "  assert all(not p.defects for p in parts)\n"
      "  assert parts[0].get_content().startswith('Your message to <tjs@example.edu> was automatically rejected:')\n"
      "  assert parts[0].get_content().replace('\\r\\n', '\\n').endswith('\\u00e4\\n')\n";
  ::setenv("RINGMAIL_OUTGOING_CHECK", script.c_str(), 1);
  for (const auto& [bytes, kind] : {std::pair{&v->bytes, "vacation"}, std::pair{&r->bytes, "reject"}}) {
    {
      std::ofstream out(path, std::ios::binary);
      out << *bytes;
    }
    const std::string cmd = "python3 -c \"$RINGMAIL_OUTGOING_CHECK\" " + path + " " + kind + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string output;
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, p)) output.append(buf, n);
    EXPECT_EQ(pclose(p), 0) << kind << ": " << output << "\n" << *bytes;
  }
  ::unlink(path.c_str());
}

// ---- outgoing_message helpers ----

TEST(OutgoingHelpers, MessageIds) {
  EXPECT_EQ(message_ids("<a@b> junk <c@d>\r\n <e@f>"), (std::vector<std::string>{"<a@b>", "<c@d>", "<e@f>"}));
  EXPECT_EQ(message_ids("<a b@c> <> <x@y"), std::vector<std::string>{});
  std::string many;
  for (int i = 0; i < 100; ++i) many += "<" + std::to_string(i) + "@x> ";
  const std::vector<std::string> ids = message_ids(many, 5);
  EXPECT_EQ(ids, (std::vector<std::string>{"<0@x>", "<96@x>", "<97@x>", "<98@x>", "<99@x>"}));
}

TEST(OutgoingHelpers, EncodeHeaderWords) {
  EXPECT_EQ(mail::encode_header_words("plain text"), "plain text");
  EXPECT_EQ(mail::encode_header_words("a =?x?q?y?= b").substr(0, 10), "=?utf-8?B?");
  mail::charset_converter charsets;
  const std::string text = "\xe2\x82\xac" + std::string(50, 'x') + "\xc3\xa4\xc3\xb6\xc3\xbc" + std::string(40, 'y');
  const std::string enc = mail::encode_header_words(text);
  size_t start = 0;
  while (start < enc.size()) {
    size_t sp = enc.find(' ', start);
    if (sp == std::string::npos) sp = enc.size();
    EXPECT_LE(sp - start, 75u);
    start = sp + 1;
  }
  EXPECT_EQ(mail::decode_header_words(enc, charsets), text);
}

// ---- RFC 5230 4.2 / RFC 7352: the memory ----

TEST(SieveMemory, VacationRemembersPerSenderAndHandle) {
  sieve_memory m;
  EXPECT_FALSE(m.vacation_replied("john@example.org", "h", kNow));
  m.remember_vacation("John@Example.org", "h", kNow, 7 * 86400);
  EXPECT_TRUE(m.vacation_replied("john@example.org", "h", kNow + 1));
  EXPECT_TRUE(m.vacation_replied("JOHN@EXAMPLE.ORG", "h", kNow + 7 * 86400 - 1));
  EXPECT_FALSE(m.vacation_replied("john@example.org", "h", kNow + 7 * 86400));  // the period is over
  EXPECT_FALSE(m.vacation_replied("john@example.org", "other", kNow + 1));
  EXPECT_FALSE(m.vacation_replied("jane@example.org", "h", kNow + 1));
  EXPECT_TRUE(m.changed());
}

TEST(SieveMemory, VacationPeriods) {
  sieve_memory m;
  EXPECT_EQ(m.vacation_period(0), 0u);             // RFC 6131 ":seconds 0": always reply
  EXPECT_EQ(m.vacation_period(60), 86400u);        // Pigeonhole's min period, 1 day
  EXPECT_EQ(m.vacation_period(90 * 86400), 90u * 86400);  // Pigeonhole has no maximum...
  EXPECT_EQ(m.vacation_period(5000ull * 86400), 365u * 86400);  // ... we stop at a year
  m.remember_vacation("a@b", "h", kNow, 0);
  EXPECT_EQ(m.size(), 0u);
  EXPECT_FALSE(m.vacation_replied("a@b", "h", kNow));
  m.remember_vacation("a@b", "h", kNow, 60);
  EXPECT_TRUE(m.vacation_replied("a@b", "h", kNow + 3600));
  memory_limits seconds_ok;
  seconds_ok.min_vacation_seconds = 0;  // RFC 6131 without Pigeonhole's floor
  sieve_memory n(seconds_ok);
  n.remember_vacation("a@b", "h", kNow, 60);
  EXPECT_TRUE(n.vacation_replied("a@b", "h", kNow + 59));
  EXPECT_FALSE(n.vacation_replied("a@b", "h", kNow + 60));
}

TEST(SieveMemory, DuplicateFirstAndLast) {
  sieve_memory m;
  EXPECT_FALSE(m.duplicate_seen("id1", kNow));
  m.track_duplicate("id1", kNow, 3600, false);
  EXPECT_TRUE(m.duplicate_seen("id1", kNow + 10));
  // Seen again without :last: the period still counts from the first sighting.
  m.track_duplicate("id1", kNow + 1800, 3600, false);
  EXPECT_FALSE(m.duplicate_seen("id1", kNow + 3600));
  // With :last the period restarts at each sighting.
  m.track_duplicate("id2", kNow, 3600, true);
  m.track_duplicate("id2", kNow + 1800, 3600, true);
  EXPECT_TRUE(m.duplicate_seen("id2", kNow + 3600));
  EXPECT_FALSE(m.duplicate_seen("id2", kNow + 5400));
  // An expired id starts afresh.
  m.track_duplicate("id1", kNow + 4000, 3600, false);
  EXPECT_TRUE(m.duplicate_seen("id1", kNow + 7000));
  // Periods are capped (Pigeonhole's sieve_duplicate_max_period, 7 days); 0 is nothing.
  m.track_duplicate("id3", kNow, 365 * 86400, false);
  EXPECT_FALSE(m.duplicate_seen("id3", kNow + 7 * 86400));
  m.track_duplicate("id4", kNow, 0, false);
  EXPECT_FALSE(m.duplicate_seen("id4", kNow));
  // Vacation and duplicate keys never collide.
  m.remember_vacation("x", "", kNow, 86400);
  EXPECT_FALSE(m.duplicate_seen(std::string("x\0", 2), kNow));
}

TEST(SieveMemory, BoundedOldestEvicted) {
  memory_limits limits;
  limits.max_entries = 3;
  sieve_memory m(limits);
  m.track_duplicate("a", kNow, 3600, false);
  m.track_duplicate("b", kNow + 1, 3600, false);
  m.track_duplicate("c", kNow + 2, 3600, false);
  m.track_duplicate("d", kNow + 3, 3600, false);
  EXPECT_EQ(m.size(), 3u);
  EXPECT_FALSE(m.duplicate_seen("a", kNow + 4));
  EXPECT_TRUE(m.duplicate_seen("b", kNow + 4));
  EXPECT_TRUE(m.duplicate_seen("d", kNow + 4));
  // Expired entries go before live ones.
  m.track_duplicate("short", kNow + 4, 1, false);  // evicts b (oldest write)
  m.track_duplicate("e", kNow + 10, 3600, false);  // "short" has expired: it goes, c stays
  EXPECT_TRUE(m.duplicate_seen("c", kNow + 10));
  EXPECT_TRUE(m.duplicate_seen("e", kNow + 10));
  EXPECT_FALSE(m.duplicate_seen("b", kNow + 10));
  // A flood of senders costs max_entries, and the file stays small.
  sieve_memory big;
  for (int i = 0; i < 10000; ++i) big.remember_vacation("s" + std::to_string(i) + "@x", "h", kNow + i, 86400);
  EXPECT_EQ(big.size(), big.limits().max_entries);
  EXPECT_LE(big.serialize().size(), kFileHeaderBytes + big.limits().max_entries * kMaxLineBytes);
  EXPECT_TRUE(big.vacation_replied("s9999@x", "h", kNow + 10000));
  EXPECT_FALSE(big.vacation_replied("s0@x", "h", kNow + 10000));
}

TEST(SieveMemory, FileRoundTrip) {
  sieve_memory m;
  m.remember_vacation("john@example.org", "h", kNow, 7 * 86400);
  m.track_duplicate("<id@x>", kNow + 5, 3600, false);
  const std::string file = m.serialize();
  EXPECT_TRUE(file.starts_with("ringmail-sieve-memory 1\nv "));
  EXPECT_TRUE(file.ends_with("end 2\n"));
  EXPECT_EQ(file.find("john"), std::string::npos);  // keys are hashed
  bool damaged = true;
  sieve_memory back = sieve_memory::parse(file, kNow + 10, {}, &damaged);
  EXPECT_FALSE(damaged);
  EXPECT_FALSE(back.changed());
  EXPECT_EQ(back.size(), 2u);
  EXPECT_TRUE(back.vacation_replied("john@example.org", "h", kNow + 10));
  EXPECT_TRUE(back.duplicate_seen("<id@x>", kNow + 10));
  EXPECT_EQ(back.serialize(), file);
  // Read an hour later: the duplicate has expired and is dropped.
  sieve_memory later = sieve_memory::parse(file, kNow + 3605);
  EXPECT_EQ(later.size(), 1u);
  // No file yet: empty, not damaged.
  sieve_memory none = sieve_memory::parse("", kNow, {}, &damaged);
  EXPECT_FALSE(damaged);
  EXPECT_EQ(none.size(), 0u);
}

TEST(SieveMemory, DamagedFilesStartEmpty) {
  sieve_memory m;
  m.remember_vacation("john@example.org", "h", kNow, 7 * 86400);
  m.track_duplicate("<id@x>", kNow, 3600, false);
  const std::string good = m.serialize();
  std::vector<std::string> bad = {
      good.substr(0, good.size() - 1),                // no final newline
      good.substr(0, good.size() / 2),                // cut short by a crash
      "ringmail-sieve-memory 2\nend 0\n",             // another version
      "garbage",
      std::string(1 << 20, 'x'),                      // too large
      good + "v " + std::string(64, 'a') + " 1 1\n",  // after "end"
  };
  std::string count = good;
  count.replace(count.find("end 2"), 5, "end 3");
  bad.push_back(count);
  std::string hex = good;
  hex[hex.find("v ") + 2] = 'G';
  bad.push_back(hex);
  std::string upper = good;
  upper[upper.find("v ") + 2] = 'A';
  bad.push_back(upper);
  std::string sign = good;
  sign.insert(sign.find(' ', sign.find("v ") + 3) + 1, "-");
  bad.push_back(sign);
  for (const std::string& b : bad) {
    bool damaged = false;
    sieve_memory x = sieve_memory::parse(b, kNow, {}, &damaged);
    EXPECT_TRUE(damaged) << b.substr(0, 200);
    EXPECT_EQ(x.size(), 0u);
  }
  // A far-future expiry is cut to the longest period.
  const std::string future = "ringmail-sieve-memory 1\nd " + std::string(64, 'a') + " 9223372036854775807 0\nend 1\n";
  sieve_memory f = sieve_memory::parse(future, kNow);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f.serialize().find(" " + std::to_string(kNow + 7 * 86400) + " "), std::string::npos) << f.serialize();
}

}  // namespace
}  // namespace ringmail::sieve
