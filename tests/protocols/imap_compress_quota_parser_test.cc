// The COMPRESS (RFC 4978 section 4) and QUOTA (RFC 9208 section 7) grammar in
// parse_command, table-driven, including the RFC's own examples, literals framed by the
// command reader fed one byte at a time, and STATUS DELETED-STORAGE.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "protocols/imap/command.h"
#include "protocols/imap/command_reader.h"

namespace ringmail::imap {
namespace {

command parse_ok(std::string_view s) {
  parse_result r = parse_command(s);
  EXPECT_TRUE(r.cmd.has_value()) << s << ": " << r.error.message;
  return r.cmd.value_or(command{});
}

void parse_bad(std::string_view s) {
  parse_result r = parse_command(s);
  EXPECT_FALSE(r.cmd.has_value()) << s;
}

TEST(ImapCompressParser, Algorithms) {
  command c = parse_ok("a COMPRESS DEFLATE");
  EXPECT_EQ(c.name, command_name::compress);
  ASSERT_EQ(c.atoms.size(), 1u);
  EXPECT_EQ(c.atoms[0], "DEFLATE");
  c = parse_ok("a compress deflate");  // case-insensitive, upper-cased
  EXPECT_EQ(c.atoms[0], "DEFLATE");
  c = parse_ok("a COMPRESS LZ77");  // unknown algorithm: the session says NO
  EXPECT_EQ(c.atoms[0], "LZ77");
  parse_bad("a COMPRESS");
  parse_bad("a COMPRESS ");
  parse_bad("a COMPRESS DEFLATE x");
  parse_bad("a COMPRESS \"DEFLATE\"");  // algorithm = atom
  parse_bad("a UID COMPRESS DEFLATE");
}

TEST(ImapQuotaParser, Rfc9208Examples) {
  // RFC 9208 4.1.1: "G0001 GETQUOTA "!partition/sda4""
  command c = parse_ok("G0001 GETQUOTA \"!partition/sda4\"");
  EXPECT_EQ(c.name, command_name::getquota);
  EXPECT_EQ(c.quota_root, "!partition/sda4");
  // 4.1.2: "G0002 GETQUOTAROOT INBOX"
  c = parse_ok("G0002 GETQUOTAROOT INBOX");
  EXPECT_EQ(c.name, command_name::getquotaroot);
  EXPECT_EQ(c.mailbox, "INBOX");
  // 4.1.3: "S0000 SETQUOTA "User quota" (STORAGE 510)"
  c = parse_ok("S0000 SETQUOTA \"User quota\" (STORAGE 510)");
  EXPECT_EQ(c.name, command_name::setquota);
  EXPECT_EQ(c.quota_root, "User quota");
  ASSERT_EQ(c.quota_limits.size(), 1u);
  EXPECT_EQ(c.quota_limits[0], (std::pair<std::string, uint64_t>{"STORAGE", 510}));
  // "S0001 SETQUOTA "User quota" ()": remove all limits.
  c = parse_ok("S0001 SETQUOTA \"User quota\" ()");
  EXPECT_TRUE(c.quota_limits.empty());
}

TEST(ImapQuotaParser, Forms) {
  command c = parse_ok("a GETQUOTA \"\"");
  EXPECT_EQ(c.quota_root, "");
  c = parse_ok("a getquotaroot inbox");
  EXPECT_EQ(c.mailbox, "INBOX");
  c = parse_ok("a SETQUOTA \"\" (storage 100 message 5)");
  ASSERT_EQ(c.quota_limits.size(), 2u);
  EXPECT_EQ(c.quota_limits[1], (std::pair<std::string, uint64_t>{"MESSAGE", 5}));
  c = parse_ok("a SETQUOTA x (STORAGE 9223372036854775807)");  // number64's largest
  EXPECT_EQ(c.quota_limits[0].second, 9223372036854775807ull);
  parse_bad("a GETQUOTA");
  parse_bad("a GETQUOTA \"\" extra");
  parse_bad("a GETQUOTAROOT");
  parse_bad("a SETQUOTA \"\"");
  parse_bad("a SETQUOTA \"\" STORAGE 100");
  parse_bad("a SETQUOTA \"\" (STORAGE)");
  parse_bad("a SETQUOTA \"\" (STORAGE -1)");
  parse_bad("a SETQUOTA \"\" (STORAGE 9223372036854775808)");  // 2^63
  parse_bad("a SETQUOTA \"\" (STORAGE 1 )");
  parse_bad("a SETQUOTA \"\" (STORAGE 1");
}

TEST(ImapQuotaParser, StatusDeletedStorage) {
  command c = parse_ok("a STATUS INBOX (MESSAGES DELETED-STORAGE deleted)");
  EXPECT_EQ(c.atoms, (std::vector<std::string>{"MESSAGES", "DELETED-STORAGE", "DELETED"}));
  parse_bad("a STATUS INBOX (DELETED-STORAGES)");
}

// A quota root sent as a literal, framed byte by byte as the session would, parses the
// same as the whole command.
TEST(ImapQuotaParser, LiteralRootByteByByte) {
  const std::string input = "a GETQUOTA {10}\r\nUser quota\r\n";
  command_reader reader;
  std::string buffered;
  std::string framed;
  size_t continuations = 0;
  for (char ch : input) {
    buffered.push_back(ch);
    command_reader::result r = reader.next(buffered);
    if (r.k == command_reader::result::kind::continue_literal) ++continuations;
    if (r.k == command_reader::result::kind::command) {
      framed = std::string(r.bytes);
      buffered.erase(0, r.consumed);
    } else {
      buffered.erase(0, r.consumed);
    }
  }
  EXPECT_EQ(continuations, 1u);
  ASSERT_FALSE(framed.empty());
  command c = parse_ok(framed);
  EXPECT_EQ(c.name, command_name::getquota);
  EXPECT_EQ(c.quota_root, "User quota");
}

}  // namespace
}  // namespace ringmail::imap
