// The pure SMTP parsing layer (protocols/smtp): command-line splitting, verbs, MAIL/RCPT/
// BDAT arguments, and the DATA/BDAT content readers with their SMTP smuggling defence.
//
// Every reader case runs through a helper that feeds the input all at once, one byte at
// a time and in a few other piece sizes, and expects identical results (as Dovecot's
// parser tests do). DATA cases are also checked against an independent oracle: the
// reader must stop exactly after the first "\r\n.\r\n" of "\r\n" + input.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/smtp/command.h"
#include "protocols/smtp/command_reader.h"
#include "protocols/smtp/data_reader.h"

namespace ringmail::smtp {
namespace {

using namespace std::string_literals;

// Piece sizes every incremental case is fed in; 0 means all at once.
constexpr size_t piece_sizes[] = {0, 1, 2, 3, 7, 64};

// ---- command_reader ------------------------------------------------------------------

// Feeds `input` in pieces of `piece` bytes, draining lines as a session would. Returns
// one event per line ("L:text") or error ("E:reason"), then "rest:" + unconsumed bytes.
std::vector<std::string> read_lines(std::string_view input, command_reader::limits l,
                                    size_t piece) {
  command_reader reader(l);
  std::string buf;
  std::vector<std::string> events;
  auto drain = [&] {
    for (;;) {
      command_reader::result r = reader.next(buf);
      if (r.k == command_reader::result::kind::line) {
        events.push_back("L:" + std::string(r.line));
      } else if (r.k == command_reader::result::kind::error) {
        events.push_back("E:" + r.error);
        EXPECT_EQ(r.code, 500);
        EXPECT_STREQ(r.enhanced, "5.5.2");
      }
      EXPECT_LE(r.consumed, buf.size());
      buf.erase(0, r.consumed);
      if (r.k == command_reader::result::kind::need_more) return;
    }
  };
  if (piece == 0) {
    buf = input;
    drain();
  } else {
    for (size_t pos = 0; pos < input.size(); pos += piece) {
      buf.append(input.substr(pos, piece));
      drain();
    }
  }
  events.push_back("rest:" + buf);
  return events;
}

std::vector<std::string> read_lines_all_ways(std::string_view input,
                                             command_reader::limits l = {}) {
  std::vector<std::string> whole = read_lines(input, l, 0);
  for (size_t piece : piece_sizes) {
    EXPECT_EQ(read_lines(input, l, piece), whole) << "piece size " << piece;
  }
  return whole;
}

struct line_case {
  std::string input;
  std::vector<std::string> events;
  size_t max_line = command_reader::default_max_line;
  bool allow_bare_lf = false;
};

TEST(SmtpCommandReader, Table) {
  const line_case cases[] = {
      {"EHLO x\r\n", {"L:EHLO x", "rest:"}},
      {"EHLO x\r\nMAIL FROM:<a@b>\r\nRC", {"L:EHLO x", "L:MAIL FROM:<a@b>", "rest:RC"}},
      {"\r\n", {"L:", "rest:"}},
      {"DATA\r", {"rest:DATA\r"}},
      {"", {"rest:"}},
      // Pipelined bytes after STARTTLS/DATA stay unconsumed for the session.
      {"STARTTLS\r\nMAIL FROM:<a@b>\r\n", {"L:STARTTLS", "L:MAIL FROM:<a@b>", "rest:"}},
      // A bad line is dropped through its CRLF: "QUIT" after a bare LF is never a command.
      {"NOOP\nQUIT\r\n", {"E:bare LF", "rest:"}},
      {"NOOP\nQUIT\r\nRSET\r\n", {"E:bare LF", "L:RSET", "rest:"}},
      {"\nQUIT\r\nRSET\r\n", {"E:bare LF", "L:RSET", "rest:"}},
      {"NOOP\nQUIT\r\n", {"L:NOOP", "L:QUIT", "rest:"}, 4096, true},
      {"NO\rOP\r\nRSET\r\n", {"E:bare CR", "L:RSET", "rest:"}},
      {"NO\rOP\r\nRSET\r\n", {"E:bare CR", "L:RSET", "rest:"}, 4096, true},
      {"\r\r\nRSET\r\n", {"E:bare CR", "L:RSET", "rest:"}},
      {"NOOP\r\rX", {"E:bare CR", "rest:"}},
      {"MAIL FROM:<a\0b@c>\r\nRSET\r\n"s, {"E:NUL in command", "L:RSET", "rest:"}},
      {"\0\r\n"s, {"E:NUL in command", "rest:"}},
      // max_line counts the CRLF: 6 octets of text fit in 8.
      {"ABCDEF\r\n", {"L:ABCDEF", "rest:"}, 8},
      {"ABCDEFG\r\nRSET\r\n", {"E:line too long", "L:RSET", "rest:"}, 8},
      {"ABCDEFGHIJKLMNOP", {"E:line too long", "rest:"}, 8},
      {"ABCDEFGHIJKLMNOP\r", {"E:line too long", "rest:\r"}, 8},
      {"ABCDEFGHIJ\r\nQUIT\r\n", {"E:line too long", "L:QUIT", "rest:"}, 8},
      {"ABCDEFGHIJ\nQUIT\r\n", {"E:line too long", "L:QUIT", "rest:"}, 8, true},
      {"ABCDEFGHIJ\nX\r\nQUIT\r\n", {"E:line too long", "L:QUIT", "rest:"}, 8},
      {"ABCDEF\rX\r\nQUIT\r\n", {"E:bare CR", "L:QUIT", "rest:"}, 8},
  };
  for (const line_case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.input));
    EXPECT_EQ(read_lines_all_ways(c.input, {c.max_line, c.allow_bare_lf}), c.events);
  }
}

TEST(SmtpCommandReader, HundredKilobyteLineIsOneErrorThenTheNextCommand) {
  std::string input = "MAIL FROM:<" + std::string(100000, 'a') + "@x>\r\nQUIT\r\n";
  EXPECT_EQ(read_lines_all_ways(input),
            (std::vector<std::string>{"E:line too long", "L:QUIT", "rest:"}));
}

TEST(SmtpCommandReader, NeedMoreConsumesNothingOfAGoodLine) {
  command_reader reader;
  command_reader::result r = reader.next("MAIL FROM:<a@b");
  EXPECT_EQ(r.k, command_reader::result::kind::need_more);
  EXPECT_EQ(r.consumed, 0u);
}

// ---- verbs -----------------------------------------------------------------------------

TEST(SmtpCommand, ParseCommand) {
  const std::pair<std::string_view, command> cases[] = {
      {"EHLO example.org", {verb::ehlo, "example.org"}},
      {"ehlo example.org", {verb::ehlo, "example.org"}},
      {"HELO x", {verb::helo, "x"}},
      {"LHLO x", {verb::lhlo, "x"}},
      {"MaIl FROM:<>", {verb::mail, "FROM:<>"}},
      {"RCPT TO:<a@b>", {verb::rcpt, "TO:<a@b>"}},
      {"DATA", {verb::data, ""}},
      {"BDAT 10 LAST", {verb::bdat, "10 LAST"}},
      {"RSET", {verb::rset, ""}},
      {"NOOP", {verb::noop, ""}},
      {"QUIT", {verb::quit, ""}},
      {"VRFY x", {verb::vrfy, "x"}},
      {"HELP", {verb::help, ""}},
      {"starttls", {verb::starttls, ""}},
      {"AUTH PLAIN AGpvaG4Ac2VjcmV0", {verb::auth, "PLAIN AGpvaG4Ac2VjcmV0"}},
      {"MAIL", {verb::mail, ""}},
      {"DATAX", {verb::unknown, ""}},
      {" DATA", {verb::unknown, "DATA"}},
      {"", {verb::unknown, ""}},
      {"EXPN list", {verb::unknown, "list"}},
      {"MAIL\tFROM:<>", {verb::unknown, ""}},
  };
  for (const auto& [line, want] : cases) {
    SCOPED_TRACE(std::string(line));
    command got = parse_command(line);
    EXPECT_EQ(got.v, want.v);
    EXPECT_EQ(got.argument, want.argument);
  }
}

TEST(SmtpCommand, TableIsInEnumOrderWithTheRfcFlags) {
  for (size_t i = 0; i < command_table().size(); ++i) {
    EXPECT_EQ(size_t(command_table()[i].v), i);
  }
  // RFC 2920 section 3.1 and friends.
  for (verb v : {verb::ehlo, verb::helo, verb::lhlo, verb::data, verb::quit, verb::noop,
                 verb::vrfy, verb::starttls, verb::auth}) {
    EXPECT_TRUE(info(v).flags & ends_pipeline_group) << info(v).name;
  }
  for (verb v : {verb::mail, verb::rcpt, verb::rset, verb::bdat}) {
    EXPECT_FALSE(info(v).flags & ends_pipeline_group) << info(v).name;
  }
  for (verb v : {verb::mail, verb::rcpt, verb::data, verb::bdat, verb::auth, verb::vrfy}) {
    EXPECT_FALSE(info(v).flags & allowed_before_tls) << info(v).name;
  }
  for (verb v : {verb::ehlo, verb::starttls, verb::quit, verb::noop, verb::rset}) {
    EXPECT_TRUE(info(v).flags & allowed_before_tls) << info(v).name;
  }
  for (verb v : {verb::mail, verb::rcpt, verb::data, verb::bdat, verb::auth}) {
    EXPECT_TRUE(info(v).flags & needs_helo) << info(v).name;
  }
  EXPECT_STREQ(info(verb::starttls).name, "STARTTLS");
}

// ---- MAIL FROM / RCPT TO ---------------------------------------------------------------

struct path_case {
  std::string arg;
  int code = 0;                // 0: accepted
  std::string enhanced;        // when refused
  std::string path;            // when accepted
  std::optional<uint64_t> size = std::nullopt;
  body_type body = body_type::seven_bit;
  bool smtputf8 = false;
};

path_case ok(std::string arg, std::string path) {
  return {std::move(arg), 0, "", std::move(path)};
}
path_case bad(std::string arg, int code, std::string enhanced) {
  return {std::move(arg), code, std::move(enhanced), ""};
}

TEST(SmtpMailFrom, Table) {
  const std::string long_local(9990, 'a');
  std::vector<path_case> cases = {
      ok("FROM:<a@b.example>", "a@b.example"),
      ok("from:<a@b>", "a@b"),
      ok("FROM: <a@b>", "a@b"),
      ok("FROM:  <a@b>", "a@b"),
      ok("FROM:<>", ""),
      ok("FROM:<@r1.example,@r2.example:a@b>", "a@b"),
      ok("FROM:<@r1:a@b>", "a@b"),
      ok("FROM:<\"john doe\"@b>", "\"john doe\"@b"),
      ok("FROM:<\"a\\\"b>\"@b>", "\"a\\\"b>\"@b"),
      ok("FROM:<\"\"@b>", "\"\"@b"),
      ok("FROM:<a@[192.0.2.1]>", "a@[192.0.2.1]"),
      ok("FROM:<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]"),
      ok("FROM:<user+tag!#$%&'*/=?^_`{|}~-@sub-domain.x1.example>",
         "user+tag!#$%&'*/=?^_`{|}~-@sub-domain.x1.example"),
      ok("FROM:<a@b> AUTH=<>", "a@b"),
      ok("FROM:<a@b> AUTH=user+40example.org", "a@b"),
      ok("FROM:<" + std::string(252, 'a') + "@b>", std::string(252, 'a') + "@b"),  // 256
      bad("FROM:<" + std::string(253, 'a') + "@b>", 501, "5.1.7"),                  // 257
      bad("FROM:<" + long_local + "@b.example>", 501, "5.1.7"),
      // Clean syntax errors, not shell fodder.
      bad("FROM:<;sleep 1;>", 553, "5.1.7"),
      bad("FROM:<a@b>;sleep 1", 501, "5.5.4"),
      bad("FROM:<a@b>$(reboot)", 501, "5.5.4"),
      bad("FROM:a@b", 501, "5.5.4"),
      bad("FROM:", 501, "5.5.4"),
      bad("", 501, "5.5.4"),
      bad("FROM <a@b>", 501, "5.5.4"),
      bad("TO:<a@b>", 501, "5.5.4"),
      bad("FROM:<a@b", 553, "5.1.7"),
      bad("FROM:<<a@b>>", 553, "5.1.7"),
      bad("FROM:<a..b@c>", 553, "5.1.7"),
      bad("FROM:<.a@b>", 553, "5.1.7"),
      bad("FROM:<a.@b>", 553, "5.1.7"),
      bad("FROM:<a@b.>", 553, "5.1.7"),
      bad("FROM:<a@-b>", 553, "5.1.7"),
      bad("FROM:<a@b->", 553, "5.1.7"),
      bad("FROM:<a@>", 553, "5.1.7"),
      bad("FROM:<a>", 553, "5.1.7"),
      bad("FROM:<@b>", 553, "5.1.7"),
      bad("FROM:<@r1,r2:a@b>", 553, "5.1.7"),
      bad("FROM:<@r1:>", 553, "5.1.7"),
      bad("FROM:<a@b@c>", 553, "5.1.7"),
      bad("FROM:<a b@c>", 553, "5.1.7"),
      bad("FROM:<\"open@b>", 553, "5.1.7"),
      bad("FROM:<a@[1.2.3]>", 553, "5.1.7"),
      bad("FROM:<a@[IPv6:zz]>", 553, "5.1.7"),
      bad("FROM:<a@[x-tag:yy]>", 553, "5.1.7"),
      bad("FROM:<a@[192.0.2.1>", 553, "5.1.7"),
      bad("FROM:<Postmaster>", 553, "5.1.7"),
      // Control characters anywhere.
      bad("FROM:<a\r\n@b>", 501, "5.5.4"),
      bad("FROM:<a\n@b>", 501, "5.5.4"),
      bad("FROM:<a\r@b>", 501, "5.5.4"),
      bad("FROM:<a\0@b>"s, 501, "5.5.4"),
      bad("FROM:<a@b>\0"s, 501, "5.5.4"),
      bad("FROM:<a@b> SIZE=1\r\nRCPT TO:<x@y>", 501, "5.5.4"),
      bad("FROM:<a@b> SIZE=1\0"s, 501, "5.5.4"),
      bad("FROM:<a@b> X=\x01", 501, "5.5.4"),
      bad("FROM:<a\t@b>", 501, "5.5.4"),
      bad("FROM:<a\x7f@b>", 501, "5.5.4"),
      bad("FROM:<\"a\x1b\"@b>", 501, "5.5.4"),
      // Parameters.
      bad("FROM:<a@b>  SIZE=1", 501, "5.5.4"),
      bad("FROM:<a@b> ", 501, "5.5.4"),
      bad("FROM:<a@b> SIZE=1 ", 501, "5.5.4"),
      bad("FROM:<a@b> SIZE=", 501, "5.5.4"),
      bad("FROM:<a@b> SIZE", 501, "5.5.4"),
      bad("FROM:<a@b> SIZE=12a", 501, "5.5.4"),
      bad("FROM:<a@b> SIZE=-1", 501, "5.5.4"),
      bad("FROM:<a@b> SIZE=123456789012345678901", 501, "5.5.4"),  // 21 digits
      bad("FROM:<a@b> SIZE=18446744073709551616", 552, "5.3.4"),   // 2^64
      bad("FROM:<a@b> SIZE=99999999999999999999", 552, "5.3.4"),
      bad("FROM:<a@b> SIZE=1 SIZE=2", 501, "5.5.4"),
      bad("FROM:<a@b> size=1 SIZE=1", 501, "5.5.4"),
      bad("FROM:<a@b> SMTPUTF8 smtputf8", 501, "5.5.4"),
      bad("FROM:<a@b> FOO=bar", 555, "5.5.4"),
      bad("FROM:<a@b> RET=HDRS", 555, "5.5.4"),
      bad("FROM:<a@b> ENVID=x", 555, "5.5.4"),
      bad("FROM:<a@b> BODY=9BIT", 501, "5.5.4"),
      bad("FROM:<a@b> BODY", 501, "5.5.4"),
      bad("FROM:<a@b> SMTPUTF8=yes", 501, "5.5.4"),
      bad("FROM:<a@b> AUTH", 501, "5.5.4"),
      bad("FROM:<a@b> AUTH=a+4", 501, "5.5.4"),
      bad("FROM:<a@b> -X=1", 501, "5.5.4"),
      bad("FROM:<a@b> =1", 501, "5.5.4"),
      bad("FROM:<a@b> X=a=b", 501, "5.5.4"),
      bad("FROM:<a@b> X=\xc3\xa9", 501, "5.5.4"),
      // UTF-8 only with SMTPUTF8 (RFC 6531), and well formed.
      bad("FROM:<j\xc3\xb6rg@b>", 553, "5.6.7"),
      bad("FROM:<a@\xe4\xbe\x8b.jp>", 553, "5.6.7"),
      bad("FROM:<j\xff@b> SMTPUTF8", 553, "5.1.7"),
      bad("FROM:<j\xc0\xaf@b> SMTPUTF8", 553, "5.1.7"),   // overlong '/'
      bad("FROM:<j\xed\xa0\x80@b> SMTPUTF8", 553, "5.1.7"),  // surrogate
      bad("FROM:<j\xc3@b> SMTPUTF8", 553, "5.1.7"),       // truncated
  };
  path_case sized = ok("FROM:<> SIZE=100", "");
  sized.size = 100;
  cases.push_back(sized);
  path_case max = ok("FROM:<a@b> SIZE=18446744073709551615", "a@b");
  max.size = UINT64_MAX;
  cases.push_back(max);
  path_case eight = ok("FROM:<a@b> SIZE=0 BODY=8BITMIME", "a@b");
  eight.size = 0;
  eight.body = body_type::eight_bit_mime;
  cases.push_back(eight);
  path_case binary = ok("FROM:<a@b> body=binarymime", "a@b");
  binary.body = body_type::binary_mime;
  cases.push_back(binary);
  path_case seven = ok("FROM:<a@b> BODY=7BIT", "a@b");
  cases.push_back(seven);
  path_case utf8 = ok("FROM:<j\xc3\xb6rg@\xe4\xbe\x8b\xe3\x81\x88.jp> SMTPUTF8 BODY=8BITMIME",
                      "j\xc3\xb6rg@\xe4\xbe\x8b\xe3\x81\x88.jp");
  utf8.smtputf8 = true;
  utf8.body = body_type::eight_bit_mime;
  cases.push_back(utf8);
  path_case quoted_utf8 = ok("FROM:<\"j\xc3\xb6 rg\"@b> SMTPUTF8", "\"j\xc3\xb6 rg\"@b");
  quoted_utf8.smtputf8 = true;
  cases.push_back(quoted_utf8);

  for (const path_case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.arg));
    result<mail_from> r = parse_mail_from(c.arg);
    if (c.code == 0) {
      ASSERT_TRUE(r.ok()) << r.error().code << " " << r.error().text;
      EXPECT_EQ(r->reverse_path, c.path);
      EXPECT_EQ(r->size, c.size);
      EXPECT_EQ(r->body, c.body);
      EXPECT_EQ(r->smtputf8, c.smtputf8);
    } else {
      ASSERT_FALSE(r.ok()) << r->reverse_path;
      EXPECT_EQ(r.error().code, c.code) << r.error().text;
      EXPECT_EQ(r.error().enhanced, c.enhanced) << r.error().text;
      EXPECT_FALSE(r.error().text.empty());
    }
  }
}

TEST(SmtpMailFrom, AuthParameterIsPassedOn) {
  result<mail_from> r = parse_mail_from("FROM:<a@b> auth=a+2Bb@c SIZE=5");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->other_params.size(), 1u);
  EXPECT_EQ(r->other_params[0].first, "AUTH");
  EXPECT_EQ(r->other_params[0].second, "a+2Bb@c");
  EXPECT_EQ(r->size, 5u);
}

TEST(SmtpMailFrom, ErrorTextNeverQuotesTheClient) {
  for (std::string arg : {"FROM:<;rm -rf />"s, "FROM:<a@b> EVIL=%n%n"s, "FROM:<\x01>"s}) {
    result<mail_from> r = parse_mail_from(arg);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().text.find("rm"), std::string::npos);
    EXPECT_EQ(r.error().text.find("%n"), std::string::npos);
    EXPECT_EQ(r.error().text.find('\x01'), std::string::npos);
  }
}

struct rcpt_case {
  std::string arg;
  bool smtputf8;
  int code;  // 0: accepted
  std::string want;  // path, or enhanced code
};

TEST(SmtpRcptTo, Table) {
  const rcpt_case cases[] = {
      {"TO:<v@y>", false, 0, "v@y"},
      {"to: <v@y>", false, 0, "v@y"},
      {"TO:<Postmaster>", false, 0, "Postmaster"},
      {"TO:<postmaster>", false, 0, "postmaster"},
      {"TO:<Postmaster@example.org>", false, 0, "Postmaster@example.org"},
      {"TO:<@a,@b:v@y>", false, 0, "v@y"},
      {"TO:<\"v y\"@y>", false, 0, "\"v y\"@y"},
      {"TO:<j\xc3\xb6rg@y>", true, 0, "j\xc3\xb6rg@y"},
      {"TO:<j\xc3\xb6rg@y>", false, 553, "5.6.7"},
      {"TO:<>", false, 553, "5.1.3"},
      {"TO:<;sleep 1;>", false, 553, "5.1.3"},
      {"TO:<Postmaster> FOO", false, 555, "5.5.4"},
      {"TO:<@a:Postmaster>", false, 553, "5.1.3"},
      {"TO:<v@y> NOTIFY=NEVER", false, 555, "5.5.4"},
      {"TO:<v@y> ORCPT=rfc822;v@y", false, 555, "5.5.4"},
      {"TO:<v@y> x", false, 555, "5.5.4"},
      {"TO:<v@y> =x", false, 501, "5.5.4"},
      {"TO:<v@y> ", false, 501, "5.5.4"},
      {"TO:<v@y\n>", false, 501, "5.5.4"},
      {"TO:<v@y>\r\nDATA", false, 501, "5.5.4"},
      {"TO:<v\0@y>"s, false, 501, "5.5.4"},
      {"FROM:<v@y>", false, 501, "5.5.4"},
      {"TO:v@y", false, 501, "5.5.4"},
      {"TO:<" + std::string(10000, 'v') + "@y>", false, 501, "5.1.3"},
  };
  for (const rcpt_case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.arg));
    result<rcpt_to> r = parse_rcpt_to(c.arg, c.smtputf8);
    if (c.code == 0) {
      ASSERT_TRUE(r.ok()) << r.error().text;
      EXPECT_EQ(r->forward_path, c.want);
      EXPECT_TRUE(r->params.empty());
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().code, c.code) << r.error().text;
      EXPECT_EQ(r.error().enhanced, c.want) << r.error().text;
    }
  }
}

// ---- BDAT ------------------------------------------------------------------------------

TEST(SmtpBdat, Parse) {
  struct bdat_case {
    std::string arg;
    int code;  // 0: accepted
    uint64_t size;
    bool last;
  };
  const bdat_case cases[] = {
      {"1000", 0, 1000, false},
      {"0", 0, 0, false},
      {"0 LAST", 0, 0, true},
      {"10 last", 0, 10, true},
      {"007", 0, 7, false},
      {"18446744073709551615 LAST", 0, UINT64_MAX, true},
      {"18446744073709551616", 552, 0, false},
      {"123456789012345678901", 501, 0, false},
      {"", 501, 0, false},
      {" 10", 501, 0, false},
      {"10 ", 501, 0, false},
      {"10  LAST", 501, 0, false},
      {"10 LASTX", 501, 0, false},
      {"10 LAST ", 501, 0, false},
      {"LAST", 501, 0, false},
      {"-1", 501, 0, false},
      {"+1", 501, 0, false},
      {"1e3", 501, 0, false},
      {"0x10", 501, 0, false},
      {"10\r\n", 501, 0, false},
      {"10\0"s, 501, 0, false},
  };
  for (const bdat_case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.arg));
    result<bdat> r = parse_bdat(c.arg);
    if (c.code == 0) {
      ASSERT_TRUE(r.ok()) << r.error().text;
      EXPECT_EQ(r->size, c.size);
      EXPECT_EQ(r->last, c.last);
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().code, c.code);
    }
  }
}

// ---- data_reader -----------------------------------------------------------------------

struct data_outcome {
  data_reader::result::kind k;
  size_t consumed;
  std::string out;
  int code;
  std::string enhanced;
  std::string error;
  bool operator==(const data_outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const data_outcome& o) {
  return os << "{k=" << int(o.k) << " consumed=" << o.consumed
            << " out=" << testing::PrintToString(o.out) << " " << o.code << " "
            << o.enhanced << " " << o.error << "}";
}

data_outcome run_data(std::string_view input, data_reader::limits l, size_t piece) {
  data_reader reader(l);
  std::string out;
  size_t consumed = 0;
  data_reader::result r;
  do {
    std::string_view part = input.substr(consumed, piece == 0 ? input.size() : piece);
    r = reader.feed(part, out);
    EXPECT_LE(r.consumed, part.size());
    consumed += r.consumed;
    if (r.k == data_reader::result::kind::need_more) {
      EXPECT_EQ(r.consumed, part.size());
    }
  } while (r.k == data_reader::result::kind::need_more && consumed < input.size());
  // Once finished, the reader takes nothing more and repeats its verdict.
  if (r.k != data_reader::result::kind::need_more) {
    data_reader::result again = reader.feed("more", out);
    EXPECT_EQ(again.k, r.k);
    EXPECT_EQ(again.consumed, 0u);
  }
  return {r.k, consumed, out, r.code, r.enhanced, r.error};
}

// All piece sizes, every split of short inputs into two, and the oracle.
data_outcome run_data_all_ways(std::string_view input, data_reader::limits l) {
  data_outcome whole = run_data(input, l, 0);
  for (size_t piece : piece_sizes) {
    EXPECT_EQ(run_data(input, l, piece), whole) << "piece size " << piece;
  }
  if (input.size() <= 200) {
    for (size_t cut = 1; cut < input.size(); ++cut) {
      data_reader reader(l);
      std::string out;
      data_reader::result a = reader.feed(input.substr(0, cut), out);
      size_t consumed = a.consumed;
      data_reader::result b = a;
      if (a.k == data_reader::result::kind::need_more) {
        b = reader.feed(input.substr(cut), out);
        consumed += b.consumed;
      }
      EXPECT_EQ((data_outcome{b.k, consumed, out, b.code, b.enhanced, b.error}), whole)
          << "cut at " << cut;
    }
  }
  // Oracle: the end is right after the first <CRLF>.<CRLF>, counting the DATA line's CRLF.
  size_t end = ("\r\n" + std::string(input)).find("\r\n.\r\n");
  if (end == std::string::npos) {
    EXPECT_EQ(whole.k, data_reader::result::kind::need_more);
    EXPECT_EQ(whole.consumed, input.size());
  } else {
    EXPECT_NE(whole.k, data_reader::result::kind::need_more);
    EXPECT_EQ(whole.consumed, end + 3);
  }
  return whole;
}

struct data_case {
  std::string input;
  data_reader::result::kind k;
  std::string out;  // when done
  int code = 0;     // when error
  std::string enhanced = "";
  uint64_t max_size = 1 << 20;
  bool allow_bare_lf = false;
};

using dk = data_reader::result::kind;

TEST(SmtpDataReader, Table) {
  const data_case cases[] = {
      {".\r\n", dk::done, ""},
      {".\r\nQUIT\r\n", dk::done, ""},
      {"\r\n.\r\n", dk::done, "\r\n"},
      {"a\r\n.\r\n", dk::done, "a\r\n"},
      {"a\r\n.\r\nQUIT\r\n", dk::done, "a\r\n"},
      {"\r\n\r\n.\r\n", dk::done, "\r\n\r\n"},
      {"..\r\n.\r\n", dk::done, ".\r\n"},
      {".a\r\n.\r\n", dk::done, "a\r\n"},
      {"a\r\n..b\r\n.\r\n", dk::done, "a\r\n.b\r\n"},
      {"a\r\n...\r\n.\r\n", dk::done, "a\r\n..\r\n"},
      {"a.\r\n.\r\n", dk::done, "a.\r\n"},
      {"a\r\n. \r\n.\r\n", dk::done, "a\r\n \r\n"},
      {"\xff\xfe\x80\r\n.\r\n", dk::done, "\xff\xfe\x80\r\n"},
      {"a\r\n.", dk::need_more, ""},
      {"a\r\n.\r", dk::need_more, ""},
      {"a\r\n", dk::need_more, ""},
      {"", dk::need_more, ""},
      // Framing errors are reported at the real end.
      {"a\nb\r\n.\r\n", dk::error, "", 550, "5.5.2"},
      {"a\rb\r\n.\r\n", dk::error, "", 550, "5.5.2"},
      {"a\rb\r\n.\r\n", dk::error, "", 550, "5.5.2", 1 << 20, true},
      {"a\r\r\n.\r\n", dk::error, "", 550, "5.5.2"},
      {"a\0b\r\n.\r\n"s, dk::error, "", 550, "5.6.0"},
      {"\n.\r\n.\r\n", dk::error, "", 550, "5.5.2"},
      {"\r\n.\rX\r\n.\r\n", dk::error, "", 550, "5.5.2"},
      {"a\r\n.\n", dk::need_more, ""},
      // Normalize mode: bare LF becomes CRLF in the output but never frames anything.
      {"a\nb\r\n.\r\n", dk::done, "a\r\nb\r\n", 0, "", 1 << 20, true},
      {"a\n.\r\n.\r\n", dk::done, "a\r\n.\r\n", 0, "", 1 << 20, true},
      {"a\n..\r\n.\r\n", dk::done, "a\r\n..\r\n", 0, "", 1 << 20, true},
      {"\n.\n.\r\n", dk::need_more, "", 0, "", 1 << 20, true},
      {"\n.\n.\r\n.\r\n", dk::done, "\r\n.\r\n.\r\n", 0, "", 1 << 20, true},
      {"a\r\n.\nb\r\n.\r\n", dk::done, "a\r\n\r\nb\r\n", 0, "", 1 << 20, true},
      // Size counts unstuffed octets (CRLFs included) and is checked at the end.
      {"abc\r\n.\r\n", dk::done, "abc\r\n", 0, "", 5},
      {"abc\r\n.\r\n", dk::error, "", 552, "5.3.4", 4},
      {"..a\r\n.\r\n", dk::done, ".a\r\n", 0, "", 4},
      {"a\nb\r\n.\r\n", dk::error, "", 552, "5.3.4", 1, true},
      {".\r\n", dk::done, "", 0, "", 0},
      {"x\r\n.\r\n", dk::error, "", 552, "5.3.4", 0},
      // The first error wins.
      {"\nabc\r\n.\r\n", dk::error, "", 550, "5.5.2", 1},
      {"abc\n\r\n.\r\n", dk::error, "", 552, "5.3.4", 1},
  };
  for (const data_case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.input) + " max_size " + std::to_string(c.max_size) +
                 (c.allow_bare_lf ? " normalize" : ""));
    data_outcome o = run_data_all_ways(c.input, {c.max_size, c.allow_bare_lf});
    EXPECT_EQ(o.k, c.k);
    if (c.k == dk::done) {
      EXPECT_EQ(o.out, c.out);
    }
    if (c.k == dk::error) {
      EXPECT_EQ(o.code, c.code);
      EXPECT_EQ(o.enhanced, c.enhanced);
      EXPECT_FALSE(o.error.empty());
    }
  }
}

TEST(SmtpDataReader, RefusedMessageStopsGrowingTheOutput) {
  data_reader reader({.max_size = 10});
  std::string out;
  std::string big(100000, 'x');
  EXPECT_EQ(reader.feed(big, out).k, dk::need_more);
  EXPECT_TRUE(reader.rejected());
  EXPECT_LE(out.size(), 10u);
  data_reader::result r = reader.feed("\r\n.\r\nQUIT\r\n", out);
  EXPECT_EQ(r.k, dk::error);
  EXPECT_EQ(r.code, 552);
  EXPECT_EQ(r.consumed, 5u);
  EXPECT_EQ(reader.size(), 100002u);
}

// Every fake terminator, followed by a smuggled transaction, then the real end and a
// QUIT. The reader must refuse the message and stop exactly at the real <CRLF>.<CRLF>,
// so the smuggled MAIL/RCPT/DATA never reach the command reader; what follows is QUIT.
const std::string fake_terminators[] = {
    "\n.\n", "\r.\r", "\r.\n", "\n.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r",
    "\r\n.\r\r\n", "\n..\n", "\r\n\0.\r\n"s, "\r\n.\0\r\n"s, "\r\n.\r\0\n"s,
    "\r\0\n.\r\n"s, "\r\n\0\r\n.\0\r\n"s,
};

TEST(SmtpDataReader, SmugglingVariantsEndOnlyAtTheRealTerminator) {
  const std::string smuggled =
      "MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nForged: yes\r\n\r\nsmuggled\r\n.\r\n";
  for (const std::string& fake : fake_terminators) {
    SCOPED_TRACE(testing::PrintToString(fake));
    const std::string message = "Subject: hi\r\n\r\nhello" + fake + smuggled;
    const std::string input = message + "QUIT\r\n";
    data_outcome strict = run_data_all_ways(input, {.max_size = 1 << 20});
    EXPECT_EQ(strict.k, dk::error);
    EXPECT_EQ(strict.code, 550);
    EXPECT_TRUE(strict.enhanced == "5.5.2" || strict.enhanced == "5.6.0") << strict.enhanced;
    EXPECT_EQ(strict.consumed, message.size());
    // The command reader sees only what follows the real end.
    EXPECT_EQ(read_lines_all_ways(std::string_view(input).substr(strict.consumed)),
              (std::vector<std::string>{"L:QUIT", "rest:"}));

    // Normalize mode consumes exactly as much; if it accepts (bare LFs only), the
    // would-be commands are message content.
    data_outcome normal =
        run_data_all_ways(input, {.max_size = 1 << 20, .allow_bare_lf = true});
    EXPECT_EQ(normal.consumed, message.size());
    if (normal.k == dk::done) {
      EXPECT_NE(normal.out.find("MAIL FROM:<evil@x>\r\n"), std::string::npos);
    } else {
      EXPECT_EQ(normal.code, 550);
    }
  }
}

// ---- bdat_reader -----------------------------------------------------------------------

struct chunk {
  std::string content;
  bool last;
};

// Per chunk "done"/"error CODE ENH", then "out:" + output. The chunks' contents are
// laid end to end, followed by a QUIT that must never be consumed.
std::vector<std::string> run_bdat(const std::vector<chunk>& chunks, bdat_reader::limits l,
                                  size_t piece) {
  std::string stream;
  for (const chunk& c : chunks) stream += c.content;
  stream += "QUIT\r\n";
  bdat_reader reader(l);
  std::string out;
  std::vector<std::string> events;
  size_t pos = 0;
  for (const chunk& c : chunks) {
    reader.begin_chunk(c.content.size(), c.last);
    const size_t chunk_end = pos + c.content.size();
    bdat_reader::result r;
    do {
      std::string_view part =
          std::string_view(stream).substr(pos, piece == 0 ? stream.size() : piece);
      r = reader.feed(part, out);
      pos += r.consumed;
    } while (r.k == dk::need_more);
    EXPECT_EQ(pos, chunk_end);
    events.push_back(r.k == dk::done ? "done"
                                     : "error " + std::to_string(r.code) + " " + r.enhanced);
  }
  bdat_reader::result idle = reader.feed("QUIT\r\n", out);
  EXPECT_EQ(idle.consumed, 0u);
  EXPECT_EQ(stream.substr(pos), "QUIT\r\n");
  events.push_back("out:" + out);
  return events;
}

std::vector<std::string> run_bdat_all_ways(const std::vector<chunk>& chunks,
                                           bdat_reader::limits l) {
  std::vector<std::string> whole = run_bdat(chunks, l, 0);
  for (size_t piece : piece_sizes) {
    EXPECT_EQ(run_bdat(chunks, l, piece), whole) << "piece size " << piece;
  }
  return whole;
}

struct bdat_case {
  std::vector<chunk> chunks;
  std::vector<std::string> events;
  bdat_reader::limits limits = {.max_size = 1 << 20};
};

TEST(SmtpBdatReader, Table) {
  const bdat_reader::limits normalize{.max_size = 1 << 20, .allow_bare_lf = true};
  const bdat_reader::limits binary{.max_size = 1 << 20, .binary = true};
  const bdat_case cases[] = {
      {{{"hello\r\n", true}}, {"done", "out:hello\r\n"}},
      {{{"hel", false}, {"lo\r\n", true}}, {"done", "done", "out:hello\r\n"}},
      // Dots are data in BDAT: no stuffing, no terminator.
      {{{".\r\n..\r\n.\r\n", true}}, {"done", "out:.\r\n..\r\n.\r\n"}},
      {{{"", true}}, {"done", "out:"}},
      {{{"abc", false}, {"", true}}, {"done", "done", "out:abc"}},
      {{{"", false}, {"", false}, {"x", true}}, {"done", "done", "done", "out:x"}},
      // CRLF split across chunks is fine; a CR that ends the message is bare.
      {{{"a\r", false}, {"\nb", true}}, {"done", "done", "out:a\r\nb"}},
      {{{"a\r", true}}, {"error 550 5.5.2", "out:a\r"}},
      {{{"a\r", false}, {"", true}}, {"done", "error 550 5.5.2", "out:a\r"}},
      {{{"a\r", false}, {"b", false}, {"c", true}},
       {"done", "error 550 5.5.2", "error 550 5.5.2", "out:a\r"}},
      {{{"a\nb", true}}, {"error 550 5.5.2", "out:a"}},
      {{{"a\nb", true}}, {"done", "out:a\r\nb"}, normalize},
      {{{"a\r", false}, {"\n", true}}, {"done", "done", "out:a\r\n"}, normalize},
      {{{"a\rb", true}}, {"error 550 5.5.2", "out:a\r"}, normalize},
      {{{"a\0b"s, true}}, {"error 550 5.6.0", "out:a"}},
      // BINARYMIME: every octet is data.
      {{{"a\rb\n\0\r"s, true}}, {"done", "out:a\rb\n\0\r"s}, binary},
      // Size is over all chunks; later chunks repeat the error.
      {{{"abc", false}, {"def", false}, {"g", true}},
       {"done", "error 552 5.3.4", "error 552 5.3.4", "out:abcde"},
       {.max_size = 5}},
      {{{"abcde", true}}, {"done", "out:abcde"}, {.max_size = 5}},
      {{{"a\nb", true}}, {"error 552 5.3.4", "out:a\r"}, {.max_size = 2, .allow_bare_lf = true}},
  };
  for (const bdat_case& c : cases) {
    std::string trace;
    for (const chunk& ch : c.chunks) trace += testing::PrintToString(ch.content) + " ";
    SCOPED_TRACE(trace);
    EXPECT_EQ(run_bdat_all_ways(c.chunks, c.limits), c.events);
  }
}

TEST(SmtpBdatReader, SmugglingVariantsInAChunkAreRefused) {
  for (const std::string& fake : fake_terminators) {
    SCOPED_TRACE(testing::PrintToString(fake));
    std::vector<chunk> chunks = {
        {"hello" + fake + "MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\n", false},
        {"smuggled\r\n.\r\n", true}};
    std::vector<std::string> events = run_bdat_all_ways(chunks, {.max_size = 1 << 20});
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].substr(0, 9), "error 550");
    EXPECT_EQ(events[1].substr(0, 9), "error 550");
  }
}

TEST(SmtpBdatReader, FeedOutsideAChunkConsumesNothing) {
  bdat_reader reader({.max_size = 10});
  std::string out;
  bdat_reader::result r = reader.feed("abc", out);
  EXPECT_EQ(r.k, dk::done);
  EXPECT_EQ(r.consumed, 0u);
  reader.begin_chunk(0, false);
  r = reader.feed("", out);
  EXPECT_EQ(r.k, dk::done);
  EXPECT_EQ(r.consumed, 0u);
}

// ---- a pipelined transcript through all three readers -----------------------------------

// A small session loop: lines go through parse_command; DATA and BDAT hand the stream
// to the content readers at the exact byte the command ended.
std::string transcript(std::string_view input) {
  command_reader lines;
  std::string buf(input), log;
  while (!buf.empty()) {
    command_reader::result r = lines.next(buf);
    if (r.k == command_reader::result::kind::need_more) break;
    if (r.k == command_reader::result::kind::error) {
      log += "! " + r.error + "\n";
      buf.erase(0, r.consumed);
      continue;
    }
    command cmd = parse_command(r.line);
    std::string arg(cmd.argument);
    buf.erase(0, r.consumed);  // r.line and cmd.argument are dead from here
    log += std::string(info(cmd.v).name) + "\n";
    if (cmd.v == verb::mail) {
      auto m = parse_mail_from(arg);
      log += m ? "  from=" + m->reverse_path + "\n" : "  " + std::to_string(m.error().code) + "\n";
    } else if (cmd.v == verb::rcpt) {
      auto t = parse_rcpt_to(arg, false);
      log += t ? "  to=" + t->forward_path + "\n" : "  " + std::to_string(t.error().code) + "\n";
    } else if (cmd.v == verb::data) {
      data_reader data({.max_size = 1000});
      std::string out;
      data_reader::result d = data.feed(buf, out);
      buf.erase(0, d.consumed);
      log += "  data " + std::to_string(d.code) + " " + testing::PrintToString(out) + "\n";
    } else if (cmd.v == verb::bdat) {
      auto b = parse_bdat(arg);
      bdat_reader chunks({.max_size = 1000});
      chunks.begin_chunk(b->size, b->last);
      std::string out;
      bdat_reader::result d = chunks.feed(buf, out);
      buf.erase(0, d.consumed);
      log += "  bdat " + std::to_string(d.code) + " " + testing::PrintToString(out) + "\n";
    }
  }
  return log;
}

TEST(SmtpTranscript, PipelinedSession) {
  EXPECT_EQ(transcript("EHLO client.example\r\n"
                       "MAIL FROM:<a@b> SIZE=20\r\n"
                       "RCPT TO:<c@d>\r\n"
                       "RCPT TO:<;sleep 1;>\r\n"
                       "DATA\r\n"
                       "Subject: x\r\n\r\n..hi\r\n.\r\n"
                       "BDAT 7 LAST\r\n"
                       "DATA\r\n"
                       "bad\n\r\n"
                       "QUIT\r\n"),
            "EHLO\n"
            "MAIL\n  from=a@b\n"
            "RCPT\n  to=c@d\n"
            "RCPT\n  553\n"
            "DATA\n  data 0 \"Subject: x\\r\\n\\r\\n.hi\\r\\n\"\n"
            "BDAT\n  bdat 0 \"DATA\\r\\nb\"\n"
            "! bare LF\n"
            "QUIT\n");
}

}  // namespace
}  // namespace ringmail::smtp
