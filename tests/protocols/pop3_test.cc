// POP3's pure parts (protocols/pop3): the command table and argument parsers, the
// maildrop, and the transfer encoder that RETR and TOP stream messages through.
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "protocols/pop3/command.h"
#include "protocols/pop3/maildrop.h"
#include "protocols/pop3/transfer_encoder.h"

namespace ringmail::pop3 {
namespace {

TEST(Pop3Command, KeywordsAreCaseInsensitive) {
  EXPECT_EQ(parse_command("retr 1").v, verb::retr);
  EXPECT_EQ(parse_command("ReTr 1").v, verb::retr);
  EXPECT_EQ(parse_command("TOP 1 10").v, verb::top);
  EXPECT_EQ(parse_command("capa").v, verb::capa);
  EXPECT_EQ(parse_command("STLS").v, verb::stls);
  EXPECT_EQ(parse_command("AUTH PLAIN AGpvaG4AcHc=").v, verb::auth);
}

TEST(Pop3Command, UnknownAndMalformed) {
  EXPECT_EQ(parse_command("").v, verb::unknown);
  EXPECT_EQ(parse_command(" RETR 1").v, verb::unknown);  // no keyword before the space
  EXPECT_EQ(parse_command("RETRX 1").v, verb::unknown);
  EXPECT_EQ(parse_command("XTND XMIT").v, verb::unknown);
  EXPECT_EQ(parse_command("RETR\t1").v, verb::unknown);  // the keyword is "RETR\t1"
  EXPECT_EQ(parse_command("RET").v, verb::unknown);
}

TEST(Pop3Command, Arguments) {
  command c = parse_command("TOP 3 10");
  ASSERT_EQ(c.args.size(), 2u);
  EXPECT_EQ(c.args[0], "3");
  EXPECT_EQ(c.args[1], "10");
  c = parse_command("LIST  2 ");  // runs of spaces are tolerated
  ASSERT_EQ(c.args.size(), 1u);
  EXPECT_EQ(c.args[0], "2");
  c = parse_command("PASS my secret  pass");
  EXPECT_EQ(c.rest, "my secret  pass");  // PASS takes the whole rest of the line
  c = parse_command("STAT");
  EXPECT_TRUE(c.args.empty());
  EXPECT_TRUE(c.rest.empty());
}

TEST(Pop3Command, StatesFromTheTable) {
  EXPECT_TRUE(info(verb::user).in_authorization);
  EXPECT_FALSE(info(verb::user).in_transaction);
  EXPECT_FALSE(info(verb::retr).in_authorization);
  EXPECT_TRUE(info(verb::retr).in_transaction);
  EXPECT_TRUE(info(verb::quit).in_authorization && info(verb::quit).in_transaction);
  EXPECT_TRUE(info(verb::capa).in_authorization && info(verb::capa).in_transaction);
  EXPECT_FALSE(info(verb::stls).in_transaction);
  for (int v = 0; v <= static_cast<int>(verb::unknown); ++v) {
    EXPECT_EQ(static_cast<int>(info(static_cast<verb>(v)).v), v) << "table out of enum order";
  }
}

TEST(Pop3Command, MessageNumbers) {
  EXPECT_EQ(parse_message_number("1"), 1u);
  EXPECT_EQ(parse_message_number("007"), 7u);
  EXPECT_EQ(parse_message_number("4294967295"), 4294967295u);
  EXPECT_EQ(parse_message_number("0000000000004294967295"), 4294967295u);
  EXPECT_FALSE(parse_message_number("0"));
  EXPECT_FALSE(parse_message_number("000"));
  EXPECT_FALSE(parse_message_number("-1"));
  EXPECT_FALSE(parse_message_number("+1"));
  EXPECT_FALSE(parse_message_number("1x"));
  EXPECT_FALSE(parse_message_number("abc"));
  EXPECT_FALSE(parse_message_number(""));
  EXPECT_FALSE(parse_message_number("4294967296"));
  EXPECT_FALSE(parse_message_number("99999999999999999999"));
  EXPECT_FALSE(parse_message_number("18446744073709551617"));  // wraps a uint64_t
}

TEST(Pop3Command, LineCounts) {
  EXPECT_EQ(parse_line_count("0"), 0u);
  EXPECT_EQ(parse_line_count("10"), 10u);
  EXPECT_EQ(parse_line_count("99999999999999999999"), UINT32_MAX);
  EXPECT_FALSE(parse_line_count("-1"));
  EXPECT_FALSE(parse_line_count(""));
  EXPECT_FALSE(parse_line_count("1.5"));
}

maildrop three() {
  std::vector<maildrop_message> m(3);
  m[0].uid = 4, m[0].size = 100;
  m[1].uid = 9, m[1].size = 200;
  m[2].uid = 0x1234abcd, m[2].size = 300;
  return maildrop(0x5f00aa01, std::move(m));
}

TEST(Pop3Maildrop, UidlIsDovecotsDefaultFormat) {
  EXPECT_EQ(uidl_of(1, 0x6B163E9B), "000000016b163e9b");
  EXPECT_EQ(uidl_of(0xFFFFFFFF, 0), "ffffffff00000000");
  maildrop d = three();
  EXPECT_EQ(d.uidl(3), "1234abcd5f00aa01");
}

TEST(Pop3Maildrop, DeleteMarksAndReset) {
  maildrop d = three();
  EXPECT_EQ(d.count(), 3u);
  EXPECT_EQ(d.octets(), 600u);
  EXPECT_EQ(d.find(0), maildrop::lookup::no_such_message);
  EXPECT_EQ(d.find(4), maildrop::lookup::no_such_message);
  EXPECT_EQ(d.find(2), maildrop::lookup::ok);
  d.dele(2);
  d.dele(2);  // twice is once
  EXPECT_EQ(d.find(2), maildrop::lookup::deleted);
  EXPECT_EQ(d.count(), 2u);
  EXPECT_EQ(d.octets(), 400u);
  EXPECT_EQ(d.deleted_uids(), std::vector<uint32_t>{9});
  d.at(1).retrieved = true;
  d.at(2).retrieved = true;  // retrieved and deleted: not flagged, it goes away
  EXPECT_EQ(d.retrieved_uids(), std::vector<uint32_t>{4});
  d.rset();
  EXPECT_EQ(d.count(), 3u);
  EXPECT_EQ(d.octets(), 600u);
  EXPECT_TRUE(d.deleted_uids().empty());
  EXPECT_EQ(d.retrieved_uids(), (std::vector<uint32_t>{4, 9}));  // RSET keeps retrieval
  // Numbers do not move when a message before them is deleted (RFC 1939 section 5).
  d.dele(1);
  EXPECT_EQ(d.uidl(3), "1234abcd5f00aa01");
}

std::string encode(std::string_view file, std::optional<uint32_t> top = std::nullopt) {
  transfer_encoder e(top);
  std::string out;
  e.feed(file, &out);
  e.finish(&out);
  return out;
}

// The pieces fed one byte at a time must give the same output as fed whole.
std::string encode_bytewise(std::string_view file, std::optional<uint32_t> top = std::nullopt) {
  transfer_encoder e(top);
  std::string out;
  for (char c : file) e.feed(std::string_view(&c, 1), &out);
  e.finish(&out);
  return out;
}

TEST(Pop3TransferEncoder, LineEndsBecomeCrlf) {
  EXPECT_EQ(encode("A: b\n\nbody\n"), "A: b\r\n\r\nbody\r\n.\r\n");
  EXPECT_EQ(encode("A: b\r\n\r\nbody\r\n"), "A: b\r\n\r\nbody\r\n.\r\n");
  EXPECT_EQ(encode("A: b\r\n\nmixed\n"), "A: b\r\n\r\nmixed\r\n.\r\n");
  EXPECT_EQ(encode(""), ".\r\n");
  EXPECT_EQ(encode("no end"), "no end\r\n.\r\n");  // an unended last line gets its CRLF
  EXPECT_EQ(encode("cr at end\r"), "cr at end\r\n.\r\n");
  EXPECT_EQ(encode("bare\rcr\n"), "bare\rcr\r\n.\r\n");  // a lone CR is data
}

TEST(Pop3TransferEncoder, ByteStuffsLinesStartingWithDot) {
  EXPECT_EQ(encode("A: b\n\n.\n..x\n.end"), "A: b\r\n\r\n..\r\n...x\r\n..end\r\n.\r\n");
  EXPECT_EQ(encode(".first\n"), "..first\r\n.\r\n");
  EXPECT_EQ(encode("x.y\n"), "x.y\r\n.\r\n");  // only at the start of a line
  EXPECT_EQ(encode_bytewise("A: b\n\n.\n..x\n.end"), "A: b\r\n\r\n..\r\n...x\r\n..end\r\n.\r\n");
}

TEST(Pop3TransferEncoder, TopSendsHeadersAndNBodyLines) {
  const std::string msg = "From: a\nSubject: s\n\nl1\nl2\n.l3\nl4\n";
  EXPECT_EQ(encode(msg, 0), "From: a\r\nSubject: s\r\n\r\n.\r\n");
  EXPECT_EQ(encode(msg, 2), "From: a\r\nSubject: s\r\n\r\nl1\r\nl2\r\n.\r\n");
  EXPECT_EQ(encode(msg, 3), "From: a\r\nSubject: s\r\n\r\nl1\r\nl2\r\n..l3\r\n.\r\n");
  EXPECT_EQ(encode(msg, 100), encode(msg));
  EXPECT_EQ(encode("H: only\n", 0), "H: only\r\n.\r\n");  // no body at all
  EXPECT_EQ(encode("H: x\r\n\r\nb1\r\nb2", 1), "H: x\r\n\r\nb1\r\n.\r\n");
  EXPECT_EQ(encode_bytewise(msg, 2), encode(msg, 2));
  transfer_encoder e(1);
  std::string out;
  e.feed("H: x\n\nb1\n", &out);
  EXPECT_TRUE(e.done());  // the caller may stop reading the file
}

// vsize as the mail store counts it (folder_scan.cc count_vsize): every LF not after a
// CR is one octet more.
uint64_t vsize_of(std::string_view s) {
  uint64_t n = s.size();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) ++n;
  }
  return n;
}

TEST(Pop3TransferEncoder, RandomInputsSplitAnywhereAndSizesAgree) {
  std::mt19937 rng(12);
  const char alphabet[] = {'a', '.', '\n', '\r', ' ', 'b', '.', '\n'};
  for (int round = 0; round < 2000; ++round) {
    std::string file(rng() % 200, 'x');
    for (char& c : file) c = alphabet[rng() % sizeof alphabet];
    const std::string whole = encode(file);
    // Split at random points.
    transfer_encoder e;
    std::string pieces;
    for (size_t at = 0; at < file.size();) {
      size_t n = 1 + rng() % 17;
      e.feed(std::string_view(file).substr(at, n), &pieces);
      at += n;
    }
    e.finish(&pieces);
    ASSERT_EQ(pieces, whole) << "round " << round;
    // Un-stuff: the octets the client keeps are the file's vsize, plus a CRLF when the
    // file did not end with a line end.
    ASSERT_GE(whole.size(), 3u);
    ASSERT_EQ(whole.substr(whole.size() - 3), ".\r\n");
    std::string kept;
    bool line_start = true;
    for (size_t i = 0; i + 3 <= whole.size() - 0 && i < whole.size() - 3; ++i) {
      if (line_start && whole[i] == '.') {
        line_start = false;
        continue;
      }
      kept += whole[i];
      line_start = whole[i] == '\n';
    }
    const bool unended = !file.empty() && file.back() != '\n';
    ASSERT_EQ(kept.size(), vsize_of(file) + (unended ? (file.back() == '\r' ? 1 : 2) : 0)) << "round " << round;
    // No bare LF and no line starting with a single dot before the terminator.
    for (size_t i = 0; i < whole.size(); ++i) {
      if (whole[i] == '\n') ASSERT_TRUE(i > 0 && whole[i - 1] == '\r') << "round " << round;
    }
  }
}

}  // namespace
}  // namespace ringmail::pop3
