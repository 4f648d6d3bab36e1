// The pure parts of ringmail-load's POP3 client (tools/ringmail-load/pop3_client.h): the
// status line, CAPA lines, LIST/UIDL lines, and the RETR body counter, which must give
// the same count and stop at the same byte whether fed all at once or one byte at a time.
#include "tools/ringmail-load/pop3_client.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace ringmail::load {
namespace {

TEST(Pop3Status, OkErrAndText) {
  auto ok = parse_pop3_status("+OK 2 320");
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->ok);
  EXPECT_EQ(ok->text, "2 320");
  auto bare = parse_pop3_status("+OK");
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->ok);
  EXPECT_EQ(bare->text, "");
  auto err = parse_pop3_status("-ERR [IN-USE] Mailbox is locked");
  ASSERT_TRUE(err);
  EXPECT_FALSE(err->ok);
  EXPECT_EQ(err->text, "[IN-USE] Mailbox is locked");
  EXPECT_FALSE(parse_pop3_status("+OKAY"));
  EXPECT_FALSE(parse_pop3_status("-ERROR x"));
  EXPECT_FALSE(parse_pop3_status("+ok lower case"));
  EXPECT_FALSE(parse_pop3_status(""));
  EXPECT_FALSE(parse_pop3_status("* OK imap"));
}

TEST(Pop3Capa, Lines) {
  pop3_capabilities c;
  for (std::string_view l : {"TOP", "uidl", "RESP-CODES", "PIPELINING", "STLS", "SASL LOGIN PLAIN", "USER",
                             "IMPLEMENTATION ringmail"}) {
    add_capability_line(l, c);
  }
  EXPECT_TRUE(c.top);
  EXPECT_TRUE(c.uidl);
  EXPECT_TRUE(c.resp_codes);
  EXPECT_TRUE(c.pipelining);
  EXPECT_TRUE(c.stls);
  EXPECT_TRUE(c.sasl_plain);
  EXPECT_TRUE(c.user);
  pop3_capabilities d;
  add_capability_line("SASL LOGIN", d);
  add_capability_line("PIPELININGX", d);
  EXPECT_FALSE(d.sasl_plain);
  EXPECT_FALSE(d.pipelining);
}

TEST(Pop3Numbered, ListAndUidl) {
  auto l = parse_numbered_line("12 4051");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->number, 12u);
  EXPECT_EQ(l->rest, "4051");
  auto u = parse_numbered_line("1 00000001658f0a2b");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->rest, "00000001658f0a2b");
  EXPECT_FALSE(parse_numbered_line("0 5"));        // messages count from 1
  EXPECT_FALSE(parse_numbered_line("x 5"));
  EXPECT_FALSE(parse_numbered_line("3"));
  EXPECT_FALSE(parse_numbered_line("3 a b"));      // no spaces in a unique-id
  EXPECT_FALSE(parse_numbered_line("-1 5"));
  EXPECT_EQ(parse_decimal("18446744073709551615"), std::nullopt);  // 20 digits: refused
  EXPECT_EQ(parse_decimal("0123"), 123u);
}

// A byte-stuffed body (RFC 1939 section 3) as a server sends it, what it un-stuffs to,
// and a following reply that must stay unread.
constexpr std::string_view kWire =
    "Subject: dots\r\n"
    "\r\n"
    "..leading dot\r\n"
    "...two dots\r\n"
    "..\r\n"
    "a . in the middle\r\n"
    ".\rodd\r\n"
    "last\r\n"
    ".\r\n"
    "+OK next reply\r\n";
constexpr std::string_view kMessage =
    "Subject: dots\r\n"
    "\r\n"
    ".leading dot\r\n"
    "..two dots\r\n"
    ".\r\n"
    "a . in the middle\r\n"
    "\rodd\r\n"
    "last\r\n";

TEST(DotBodyCounter, AllAtOnce) {
  dot_body_counter c;
  const size_t used = c.feed(kWire);
  EXPECT_TRUE(c.done());
  EXPECT_EQ(c.octets(), kMessage.size());
  EXPECT_EQ(kWire.substr(used), "+OK next reply\r\n");
}

TEST(DotBodyCounter, OneByteAtATime) {
  dot_body_counter c;
  size_t used = 0;
  while (!c.done() && used < kWire.size()) {
    const size_t n = c.feed(kWire.substr(used, 1));
    ASSERT_LE(n, 1u);
    used += n;
    if (n == 0) break;
  }
  EXPECT_TRUE(c.done());
  EXPECT_EQ(c.octets(), kMessage.size());
  EXPECT_EQ(kWire.substr(used), "+OK next reply\r\n");
}

TEST(DotBodyCounter, EveryTwoWaySplit) {
  for (size_t at = 0; at <= kWire.size(); ++at) {
    dot_body_counter c;
    size_t used = c.feed(kWire.substr(0, at));
    if (!c.done()) {
      ASSERT_EQ(used, at) << at;
      used += c.feed(kWire.substr(at));
    }
    EXPECT_TRUE(c.done()) << at;
    EXPECT_EQ(c.octets(), kMessage.size()) << at;
    EXPECT_EQ(used, kWire.size() - std::string_view("+OK next reply\r\n").size()) << at;
  }
}

TEST(DotBodyCounter, EmptyBodyAndUnfinished) {
  dot_body_counter empty;
  EXPECT_EQ(empty.feed(".\r\n"), 3u);
  EXPECT_TRUE(empty.done());
  EXPECT_EQ(empty.octets(), 0u);
  dot_body_counter open;
  EXPECT_EQ(open.feed("abc\r\n.x"), 7u);  // ".x": a stuffing dot, not the end
  EXPECT_FALSE(open.done());
  EXPECT_EQ(open.octets(), 6u);
}

}  // namespace
}  // namespace ringmail::load
