// The DSN builder (delivery/relay/dsn.h): a bounce and a delay notice parsed back with the
// project's own MIME parser (three parts of the right types, the RFC 3464 fields per
// recipient), header and MIME injection from a remote reply, a host name, an address or
// the original header section, boundary collisions, the cap on the returned headers, and
// who gets no DSN at all; and once more read by Python's email package.
#include "delivery/relay/dsn.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "mail/charset.h"
#include "mail/header.h"
#include "mail/message.h"

namespace ringmail::relay {
namespace {

constexpr int64_t kArrival = 1796601600;  // Mon, 07 Dec 2026 00:00:00 +0000
constexpr int64_t kNow = kArrival + 5 * 86400;

const char kOriginal[] =
    "Received: from client.example (client.example [192.0.2.7])\r\n"
    "\tby mail.example.org (ringmail) with ESMTPSA id 1A2B3C; Mon, 7 Dec 2026 07:00:00 +0000\r\n"
    "From: John <john@example.org>\r\n"
    "To: jane@remote.example\r\n"
    "Subject: hello\r\n"
    "\r\n"
    "The body, which must not come back.\r\n";

dsn_request failure_request() {
  dsn_request rq;
  rq.kind = dsn_kind::failure;
  rq.reporting_mta = "mail.example.org";
  rq.queue_id = "1A2B3C";
  rq.sender = "john@example.org";
  rq.arrival = kArrival;
  rq.now = kNow;
  dsn_recipient r;
  r.address = "jane@remote.example";
  r.original = "team@example.org";
  r.status = "5.1.1";
  r.remote_mta = "mx.remote.example";
  r.diagnostic = "550 5.1.1 <jane@remote.example>: Recipient address rejected: User unknown";
  r.last_attempt = kNow - 10;
  rq.recipients.push_back(r);
  dsn_recipient r2;
  r2.address = "bob@other.example";
  r2.status = "5.4.4";
  r2.diagnostic = "Host or domain name not found (null MX)";
  rq.recipients.push_back(r2);
  rq.original = kOriginal;
  return rq;
}

// The fields of a header-like block, unfolded, by name (first occurrence).
std::string field(const mail::header_block& block, std::string_view name) {
  const mail::header_field* f = block.find(name);
  return f ? mail::unfold(f->value) : "<absent>";
}

// Folding at 78 columns indents continuation lines by 4 spaces (Postfix's
// bounce_print_wrap); unfolded, the value has those spaces where it was folded.
std::string squash(std::string v) {
  std::string out;
  for (char c : v) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  return out;
}

// A message/delivery-status body: groups of fields separated by empty lines.
std::vector<std::string> groups_of(std::string_view body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\r\n\r\n", pos);
    if (end == std::string_view::npos) end = body.size();
    out.emplace_back(body.substr(pos, end - pos));
    out.back() += "\r\n";
    pos = end + 4;
  }
  return out;
}

struct parsed_dsn {
  std::string bytes;
  mail::charset_converter charsets;
  mail::message msg;
  explicit parsed_dsn(std::string b) : bytes(std::move(b)) {
    msg = mail::parse_message(bytes, charsets, {.boundaries = mail::boundary_rule::rfc2046});
  }
  const mail::mime_part& part(size_t child) const { return msg.parts[msg.parts[0].children.at(child)]; }
};

// Every line ends in CRLF, none is longer than RFC 5322's 998 octets, no bare CR or LF.
void expect_clean_lines(std::string_view m) {
  ASSERT_TRUE(m.ends_with("\r\n"));
  size_t pos = 0;
  while (pos < m.size()) {
    size_t nl = m.find('\n', pos);
    ASSERT_NE(nl, std::string_view::npos);
    ASSERT_GT(nl, pos) << "bare LF at " << pos;
    ASSERT_EQ(m[nl - 1], '\r') << "bare LF at " << nl;
    std::string_view line = m.substr(pos, nl - 1 - pos);
    EXPECT_EQ(line.find('\r'), std::string_view::npos) << "bare CR in line: " << line;
    EXPECT_LE(line.size(), 998u);
    pos = nl + 1;
  }
}

// The names of every header field in every header block of the message (the top level,
// each part's, and each group of the delivery-status part).
std::vector<std::string> all_field_names(const parsed_dsn& d) {
  std::vector<std::string> names;
  for (const mail::mime_part& p : d.msg.parts) {
    for (const auto& f : p.headers.fields) names.emplace_back(f.name);
    if (p.type.is("message", "delivery-status")) {
      for (const std::string& g : groups_of(p.body)) {
        for (const auto& f : mail::parse_header_block(g).fields) names.emplace_back(f.name);
      }
    }
  }
  return names;
}

TEST(Dsn, FailureHasPostfixShape) {
  parsed_dsn d(build_dsn(failure_request()));
  expect_clean_lines(d.bytes);
  EXPECT_FALSE(d.msg.truncated);
  EXPECT_EQ(d.msg.missing_boundaries, 0u);
  const auto& top = d.msg.headers();
  EXPECT_EQ(field(top, "From"), "Mail Delivery System <MAILER-DAEMON@mail.example.org>");
  EXPECT_EQ(field(top, "To"), "john@example.org");
  EXPECT_EQ(field(top, "Subject"), "Undelivered Mail Returned to Sender");
  EXPECT_EQ(field(top, "Auto-Submitted"), "auto-replied");
  EXPECT_EQ(field(top, "MIME-Version"), "1.0");
  EXPECT_EQ(field(top, "Date"), "Sat, 12 Dec 2026 00:00:00 +0000");
  EXPECT_TRUE(field(top, "Message-ID").starts_with("<20261212000000.1A2B3C."));
  EXPECT_TRUE(field(top, "Message-ID").ends_with("@mail.example.org>"));
  const auto& root = d.msg.parts[0];
  EXPECT_TRUE(root.type.is("multipart", "report"));
  EXPECT_TRUE(field(top, "Content-Type").find("report-type=delivery-status") != std::string::npos);
  EXPECT_TRUE(root.type.boundary().starts_with("1A2B3C." + std::to_string(kNow) + "/mail.example.org"));

  ASSERT_EQ(root.children.size(), 3u);
  EXPECT_TRUE(d.part(0).type.is("text", "plain"));
  EXPECT_EQ(d.part(0).type.charset(), "us-ascii");
  EXPECT_TRUE(d.part(1).type.is("message", "delivery-status"));
  EXPECT_TRUE(d.part(2).type.is("text", "rfc822-headers"));

  // The human text names each recipient with the remote reply, as Postfix does.
  const std::string text(d.part(0).body);
  EXPECT_TRUE(text.starts_with("This is the mail system at host mail.example.org.\r\n")) << text;
  EXPECT_NE(text.find("<jane@remote.example> (expanded from <team@example.org>): host\r\n    mx.remote.example said: 550 5.1.1"),
            std::string::npos) << text;
  EXPECT_NE(text.find("<bob@other.example>: Host or domain name not found (null MX)"), std::string::npos) << text;

  // The report: per-message fields, then one group per recipient (RFC 3464 2.2, 2.3).
  auto groups = groups_of(d.part(1).body);
  ASSERT_EQ(groups.size(), 3u) << d.part(1).body;
  auto msg_fields = mail::parse_header_block(groups[0]);
  EXPECT_EQ(field(msg_fields, "Reporting-MTA"), "dns; mail.example.org");
  EXPECT_EQ(field(msg_fields, "X-Ringmail-Queue-ID"), "1A2B3C");
  EXPECT_EQ(field(msg_fields, "X-Ringmail-Sender"), "rfc822; john@example.org");
  EXPECT_EQ(field(msg_fields, "Arrival-Date"), "Mon, 07 Dec 2026 00:00:00 +0000");
  auto jane = mail::parse_header_block(groups[1]);
  EXPECT_EQ(field(jane, "Final-Recipient"), "rfc822; jane@remote.example");
  EXPECT_EQ(field(jane, "Original-Recipient"), "rfc822; team@example.org");
  EXPECT_EQ(field(jane, "Action"), "failed");
  EXPECT_EQ(field(jane, "Status"), "5.1.1");
  EXPECT_EQ(field(jane, "Remote-MTA"), "dns; mx.remote.example");
  EXPECT_EQ(squash(field(jane, "Diagnostic-Code")),
            "smtp; 550 5.1.1 <jane@remote.example>: Recipient address rejected: User unknown");
  EXPECT_EQ(field(jane, "Last-Attempt-Date"), "Fri, 11 Dec 2026 23:59:50 +0000");
  EXPECT_EQ(field(jane, "Will-Retry-Until"), "<absent>");
  auto bob = mail::parse_header_block(groups[2]);
  EXPECT_EQ(field(bob, "Final-Recipient"), "rfc822; bob@other.example");
  EXPECT_EQ(field(bob, "Original-Recipient"), "<absent>");
  EXPECT_EQ(field(bob, "Status"), "5.4.4");
  EXPECT_EQ(field(bob, "Remote-MTA"), "<absent>");
  EXPECT_EQ(field(bob, "Diagnostic-Code"), "X-Ringmail; Host or domain name not found (null MX)");

  // The original's header section, trace line included, and not its body.
  const std::string_view original(kOriginal);
  EXPECT_EQ(d.part(2).body, original.substr(0, original.find("\r\n\r\n") + 2));
}

TEST(Dsn, DelayNotice) {
  dsn_request rq = failure_request();
  rq.kind = dsn_kind::delay;
  rq.now = kArrival + 4 * 3600 + 5;
  rq.retry_until = kArrival + 5 * 86400;
  rq.recipients.resize(1);
  rq.recipients[0].status = "4.4.1";
  rq.recipients[0].diagnostic = "connect to mx.remote.example[192.0.2.9]:25: Connection refused";
  rq.recipients[0].remote_mta.clear();
  parsed_dsn d(build_dsn(rq));
  expect_clean_lines(d.bytes);
  EXPECT_EQ(field(d.msg.headers(), "Subject"), "Delayed Mail (still being retried)");
  ASSERT_EQ(d.msg.parts[0].children.size(), 3u);
  const std::string text(d.part(0).body);
  EXPECT_NE(text.find("THIS IS A WARNING ONLY"), std::string::npos);
  EXPECT_NE(text.find("could not be delivered for more than 4 hour(s)."), std::string::npos) << text;
  EXPECT_NE(text.find("retried until it is 5 day(s) old."), std::string::npos) << text;
  auto groups = groups_of(d.part(1).body);
  ASSERT_EQ(groups.size(), 2u);
  auto r = mail::parse_header_block(groups[1]);
  EXPECT_EQ(field(r, "Action"), "delayed");
  EXPECT_EQ(field(r, "Status"), "4.4.1");
  EXPECT_EQ(field(r, "Will-Retry-Until"), "Sat, 12 Dec 2026 00:00:00 +0000");
  EXPECT_EQ(squash(field(r, "Diagnostic-Code")),
            "X-Ringmail; connect to mx.remote.example[192.0.2.9]:25: Connection refused");
}

TEST(Dsn, StatusOfTheWrongClassOrMalformedIsTheDefault) {
  dsn_request rq = failure_request();
  rq.recipients[0].status = "4.1.1";  // a temporary code in a failure report
  rq.recipients[1].status = "5.1.1\r\nX-Injected: yes";
  parsed_dsn d(build_dsn(rq));
  auto groups = groups_of(d.part(1).body);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(field(mail::parse_header_block(groups[1]), "Status"), "5.0.0");
  EXPECT_EQ(field(mail::parse_header_block(groups[2]), "Status"), "5.0.0");
  rq.kind = dsn_kind::delay;
  rq.recipients[0].status = "5.1.1";
  parsed_dsn delay(build_dsn(rq));
  groups = groups_of(delay.part(1).body);
  EXPECT_EQ(field(mail::parse_header_block(groups[1]), "Status"), "4.0.0");
}

TEST(Dsn, NoHeaderInjectionFromRemoteText) {
  dsn_request rq = failure_request();
  rq.recipients[0].diagnostic =
      "550-5.1.1 first line\r\n550-X-Injected: yes\r\n\r\nX-Injected2: yes\n\r--1A2B3C\r\n\tcontinued\x01\x7f end \xff";
  rq.recipients[0].remote_mta = "mx.remote.example\r\nX-Injected3: yes";
  rq.recipients[1].address = "bob@other.example\r\nX-Injected4: yes";
  rq.recipients[1].original = "team\n@example.org";
  rq.reporting_mta = "mail.example.org\r\nX-Injected5: yes";
  rq.queue_id = "1A2B\r\nX-Injected6: yes";
  rq.sender = "john\r\nX-Injected7: yes@example.org";
  parsed_dsn d(build_dsn(rq));
  expect_clean_lines(d.bytes);
  ASSERT_EQ(d.msg.parts[0].children.size(), 3u);
  for (const std::string& name : all_field_names(d)) {
    EXPECT_FALSE(name.starts_with("X-Injected")) << name;
  }
  auto groups = groups_of(d.part(1).body);
  ASSERT_EQ(groups.size(), 3u);
  auto jane = mail::parse_header_block(groups[1]);
  EXPECT_EQ(squash(field(jane, "Diagnostic-Code")),
            "smtp; 550-5.1.1 first line 550-X-Injected: yes X-Injected2: yes --1A2B3C continued end ?");
  auto bob = mail::parse_header_block(groups[2]);
  EXPECT_EQ(field(bob, "Final-Recipient"), "utf-8; bob@other.example\\x{D}\\x{A}X-Injected4:\\x{20}yes");
  EXPECT_EQ(field(bob, "Original-Recipient"), "utf-8; team\\x{A}@example.org");
  EXPECT_EQ(field(d.msg.headers(), "To"), "\"john??X-Injected7: yes\"@example.org");
}

TEST(Dsn, Utf8AddressesAreXtext) {
  dsn_request rq = failure_request();
  rq.recipients[0].address = "j\xc3\xbcrgen+x=y@b\xc3\xa4r.example";
  rq.recipients[1].address = "bad\xc3@x.example";  // a cut UTF-8 sequence
  parsed_dsn d(build_dsn(rq));
  expect_clean_lines(d.bytes);
  auto groups = groups_of(d.part(1).body);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(field(mail::parse_header_block(groups[1]), "Final-Recipient"),
            "utf-8; j\\x{FC}rgen\\x{2B}x\\x{3D}y@b\\x{E4}r.example");
  EXPECT_EQ(field(mail::parse_header_block(groups[2]), "Final-Recipient"), "utf-8; bad\\x{FFFD}@x.example");
  // The human text is us-ascii: the same xtext form.
  EXPECT_NE(std::string(d.part(0).body).find("<j\\x{FC}rgen\\x{2B}x\\x{3D}y@b\\x{E4}r.example>"), std::string::npos);
}

TEST(Dsn, LongMultiLineReplyIsFolded) {
  dsn_request rq = failure_request();
  std::string reply;
  while (reply.size() < 4000) reply += "550-5.7.1 this is a rather long explanation from a chatty server\r\n";
  reply += "550 5.7.1 " + std::string(1500, 'x');  // one word longer than any line may be
  rq.recipients[0].diagnostic = reply;
  parsed_dsn d(build_dsn(rq));
  expect_clean_lines(d.bytes);
  auto groups = groups_of(d.part(1).body);
  ASSERT_EQ(groups.size(), 3u);
  const mail::header_block fields = mail::parse_header_block(groups[1]);
  const auto* diag = fields.find("Diagnostic-Code");
  ASSERT_NE(diag, nullptr);
  const std::string v = mail::unfold(diag->value);
  EXPECT_TRUE(v.starts_with("smtp; 550-5.7.1 this is a rather long explanation")) << v;
  EXPECT_EQ(v.find('\r'), std::string::npos);
  // Every folded line but the cut word's stays within 78 columns.
  size_t long_lines = 0;
  for (size_t pos = 0; pos < groups[1].size();) {
    size_t nl = groups[1].find("\r\n", pos);
    if (nl - pos > 78) ++long_lines;
    pos = nl + 2;
  }
  EXPECT_EQ(long_lines, 2u);  // 1500 'x' = 900 + 600
}

TEST(Dsn, BoundaryAvoidsTheContent) {
  dsn_request rq = failure_request();
  const std::string plain = build_dsn(rq);
  parsed_dsn first(plain);
  const std::string base = first.msg.parts[0].type.boundary();
  ASSERT_EQ(base, "1A2B3C." + std::to_string(kNow) + "/mail.example.org");
  // An original that guessed the boundary, and the first suffixes too, and a reply that
  // carries it.
  std::string hostile = "Subject: x\r\n";
  hostile += "X-A: --" + base + "\r\n";
  hostile += "--" + base + "\r\n";
  hostile += "--" + base + "--\r\n";
  hostile += "--" + base + ".00000000\r\n";
  hostile += "--" + base + ".00000001--\r\n";
  hostile += "\r\nbody\r\n";
  rq.original = hostile;
  rq.recipients[0].diagnostic = "550 --" + base + ".00000002";
  parsed_dsn d(build_dsn(rq));
  const std::string boundary = d.msg.parts[0].type.boundary();
  EXPECT_EQ(boundary, base + ".00000003");
  EXPECT_LE(boundary.size(), 70u);
  ASSERT_EQ(d.msg.parts[0].children.size(), 3u);
  EXPECT_EQ(d.msg.missing_boundaries, 0u);
  EXPECT_TRUE(d.part(2).type.is("text", "rfc822-headers"));
  EXPECT_EQ(d.part(2).body, std::string_view(hostile).substr(0, hostile.find("\r\n\r\n") + 2));
  // Exactly the four delimiter lines of our own (RFC 2046: the boundary occurs nowhere else).
  size_t count = 0;
  for (size_t at = d.bytes.find(boundary); at != std::string::npos; at = d.bytes.find(boundary, at + 1)) ++count;
  EXPECT_EQ(count, 5u);  // Content-Type parameter, three delimiters, the close delimiter
}

TEST(Dsn, LongHostAndQueueIdKeepTheBoundaryShort) {
  dsn_request rq = failure_request();
  rq.reporting_mta = std::string(200, 'h') + ".example";
  rq.queue_id = std::string(64, 'Q');
  parsed_dsn d(build_dsn(rq));
  expect_clean_lines(d.bytes);
  EXPECT_LE(d.msg.parts[0].type.boundary().size(), 70u);
  EXPECT_EQ(d.msg.parts[0].children.size(), 3u);
}

TEST(Dsn, HugeHeaderSectionIsCapped) {
  // 10 MB of header lines and no empty line at all.
  std::string huge;
  while (huge.size() < 10 * 1024 * 1024) huge += "X-Filler: 0123456789012345678901234567890123456789\r\n";
  dsn_request rq = failure_request();
  rq.original = huge;
  parsed_dsn d(build_dsn(rq));
  expect_clean_lines(d.bytes);
  EXPECT_LT(d.bytes.size(), kMaxReturnedHeaderBytes + 8192);
  const std::string_view part = d.part(2).body;
  EXPECT_LE(part.size(), kMaxReturnedHeaderBytes);
  EXPECT_GT(part.size(), kMaxReturnedHeaderBytes - 100);
  EXPECT_TRUE(part.ends_with("0123456789\r\n"));
  EXPECT_TRUE(std::string_view(huge).starts_with(part));

  // One 10 MB line: nothing of it fits whole, nothing is returned.
  std::string one_line = "Subject: " + std::string(10 * 1024 * 1024, 'a');
  rq.original = one_line;
  parsed_dsn d2(build_dsn(rq));
  expect_clean_lines(d2.bytes);
  ASSERT_EQ(d2.msg.parts[0].children.size(), 3u);
  EXPECT_EQ(d2.part(2).body, "");
}

TEST(Dsn, OriginalLineEndsAreMadeCrlf) {
  dsn_request rq = failure_request();
  rq.original = "Subject: bare LF\nX-Bare-CR: a\rb\nX-Last: no line end";
  parsed_dsn d(build_dsn(rq));
  expect_clean_lines(d.bytes);
  EXPECT_EQ(d.part(2).body, "Subject: bare LF\r\nX-Bare-CR: a b\r\nX-Last: no line end\r\n");
  rq.original = "\r\nbody only, no header\r\n";
  parsed_dsn empty(build_dsn(rq));
  EXPECT_EQ(empty.part(2).body, "");
}

TEST(Dsn, EightBitHeadersAreDeclared) {
  dsn_request rq = failure_request();
  parsed_dsn ascii(build_dsn(rq));
  EXPECT_EQ(field(ascii.msg.headers(), "Content-Transfer-Encoding"), "7bit");
  rq.original = "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n\r\n";
  parsed_dsn d(build_dsn(rq));
  EXPECT_EQ(field(d.msg.headers(), "Content-Transfer-Encoding"), "8bit");
  EXPECT_EQ(d.part(2).transfer_encoding, "8bit");
}

TEST(Dsn, ToQuotesALocalPartThatIsNotADotAtom) {
  dsn_request rq = failure_request();
  rq.sender = "john smith@example.org";
  parsed_dsn d(build_dsn(rq));
  EXPECT_EQ(field(d.msg.headers(), "To"), "\"john smith\"@example.org");
  rq.sender = "a\"b\\c@example.org";
  parsed_dsn d2(build_dsn(rq));
  EXPECT_EQ(field(d2.msg.headers(), "To"), "\"a\\\"b\\\\c\"@example.org");
}

TEST(Dsn, MessageIdsDifferPerKindAndRecipients) {
  dsn_request rq = failure_request();
  parsed_dsn a(build_dsn(rq));
  rq.kind = dsn_kind::delay;
  parsed_dsn b(build_dsn(rq));
  rq.kind = dsn_kind::failure;
  rq.recipients.pop_back();
  parsed_dsn c(build_dsn(rq));
  const std::string ida = field(a.msg.headers(), "Message-ID");
  EXPECT_NE(ida, field(b.msg.headers(), "Message-ID"));
  EXPECT_NE(ida, field(c.msg.headers(), "Message-ID"));
  EXPECT_EQ(ida, field(parsed_dsn(build_dsn(failure_request())).msg.headers(), "Message-ID"));
}

// A second reader: Python's email package (the stdlib's RFC 5322/MIME parser, as mail
// tools built on it read our DSNs) finds the report, its parts and the recipients' fields,
// with no defects. Skipped without python3.
TEST(Dsn, PythonEmailReadsIt) {
  if (std::system("python3 -c 'import email' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  dsn_request rq = failure_request();
  rq.recipients[0].diagnostic = "550-5.1.1 first\r\n550 5.1.1 X-Injected: yes " + std::string(300, 'y');
  rq.recipients[1].address = "j\xc3\xbcrgen@b\xc3\xa4r.example";
  std::string path = ::testing::TempDir() + "/ringmail-dsn-XXXXXX";
  int fd = mkstemp(path.data());
  ASSERT_GE(fd, 0);
  ::close(fd);
  for (dsn_kind kind : {dsn_kind::failure, dsn_kind::delay}) {
    rq.kind = kind;
    rq.retry_until = kNow + 86400;
    {
      std::ofstream out(path, std::ios::binary);
      out << build_dsn(rq);
    }
    const std::string action = kind == dsn_kind::failure ? "failed" : "delayed";
    const std::string script =
        "import email, email.policy, sys\n"
        "m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)\n"
        "assert not m.defects, m.defects\n"
        "assert m.get_content_type() == 'multipart/report', m.get_content_type()\n"
        "assert m.get_param('report-type') == 'delivery-status'\n"
        "assert m['To'] == 'john@example.org' and m['Auto-Submitted'] == 'auto-replied'\n"
        "parts = list(m.iter_parts())\n"
        "assert [p.get_content_type() for p in parts] == ['text/plain', 'message/delivery-status', "
        "'text/rfc822-headers'], parts\n"
        "assert all(not p.defects for p in parts)\n"
        "groups = parts[1].get_payload()\n"
        "assert len(groups) == 3, len(groups)\n"
        "assert groups[0]['Reporting-MTA'] == 'dns; mail.example.org'\n"
        "assert groups[1]['Final-Recipient'] == 'rfc822; jane@remote.example', groups[1]['Final-Recipient']\n"
        "assert groups[1]['Action'] == '" + action + "' and groups[2]['Action'] == '" + action + "'\n"
        "assert 'X-Injected' not in groups[1] and groups[1]['Diagnostic-Code'].startswith('smtp; 550-5.1.1 first')\n"
        "assert groups[2]['Final-Recipient'] == 'utf-8; j\\\\x{FC}rgen@b\\\\x{E4}r.example', "
        "groups[2]['Final-Recipient']\n"
        "assert parts[2].get_content().startswith('Received: from client.example')\n";
    const std::string cmd = "python3 -c \"$RINGMAIL_DSN_CHECK\" " + path + " 2>&1";
    ::setenv("RINGMAIL_DSN_CHECK", script.c_str(), 1);
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string output;
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, p)) output.append(buf, n);
    EXPECT_EQ(pclose(p), 0) << output;
  }
  ::unlink(path.c_str());
}

TEST(WantsDsn, NeverToTheNullSenderOrAMailerDaemon) {
  EXPECT_TRUE(wants_dsn("john@example.org"));
  EXPECT_TRUE(wants_dsn("postmaster@example.org"));
  EXPECT_TRUE(wants_dsn("j\xc3\xbcrgen@example.org"));
  EXPECT_FALSE(wants_dsn(""));
  EXPECT_FALSE(wants_dsn("MAILER-DAEMON@example.org"));
  EXPECT_FALSE(wants_dsn("mailer-daemon@example.org"));
  EXPECT_FALSE(wants_dsn("MAILER-DAEMON"));
  EXPECT_FALSE(wants_dsn("john"));
  EXPECT_FALSE(wants_dsn("@example.org"));
  EXPECT_FALSE(wants_dsn("john@"));
  EXPECT_FALSE(wants_dsn("john@example.org\r\nBcc: x@y"));
  EXPECT_FALSE(wants_dsn(std::string_view("john\0@example.org", 17)));
}

}  // namespace
}  // namespace ringmail::relay
