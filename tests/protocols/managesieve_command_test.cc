// ManageSieve command reader (protocols/managesieve/command.h): RFC 5804 section 4's
// grammar, literals of both forms, limits, and hostile input; every case fed whole, one
// byte at a time and in odd pieces must give the same result.
#include "protocols/managesieve/command.h"

#include <gtest/gtest.h>

#include <string>

namespace ringmail::managesieve {
namespace {

using kind = command_reader::result::kind;

// Feeds `input` growing by `step` bytes at a time, as a session's buffer grows, until the
// reader answers something other than need_more (or the input is all in).
command_reader::result feed(const command_reader& reader, std::string_view input, size_t step) {
  command_reader::result r;
  for (size_t n = std::min(step, input.size());; n = std::min(n + step, input.size())) {
    r = reader.next(input.substr(0, n));
    if (r.k != kind::need_more || n == input.size()) return r;
  }
}

// The result, checked to be the same whole, byte by byte, and in pieces of 7.
command_reader::result parse(std::string_view input, parser_limits limits = {}) {
  command_reader reader(limits);
  command_reader::result whole = reader.next(input);
  for (size_t step : {size_t{1}, size_t{7}}) {
    command_reader::result r = feed(reader, input, step);
    EXPECT_EQ(r.k, whole.k) << "step " << step;
    EXPECT_EQ(r.consumed, whole.consumed) << "step " << step;
    EXPECT_EQ(r.cmd.name, whole.cmd.name) << "step " << step;
    EXPECT_EQ(r.cmd.args.size(), whole.cmd.args.size()) << "step " << step;
    EXPECT_EQ(r.close, whole.close) << "step " << step;
  }
  return whole;
}

TEST(ManageSieveCommand, AtomsAndQuotedStrings) {
  auto r = parse("putScript \"my \\\"script\\\" \\\\ x\" {5+}\r\nkeep;\r\nNOOP\r\n");
  ASSERT_EQ(r.k, kind::command);
  EXPECT_EQ(r.cmd.name, "PUTSCRIPT");
  ASSERT_EQ(r.cmd.args.size(), 2u);
  EXPECT_EQ(r.cmd.args[0].k, argument::kind::string);
  EXPECT_EQ(r.cmd.args[0].value, "my \"script\" \\ x");
  EXPECT_FALSE(r.cmd.args[0].literal);
  EXPECT_EQ(r.cmd.args[1].value, "keep;");
  EXPECT_TRUE(r.cmd.args[1].literal);
  // The pipelined NOOP stays with the caller.
  EXPECT_EQ(r.consumed, std::string_view("putScript \"my \\\"script\\\" \\\\ x\" {5+}\r\nkeep;\r\n").size());
}

TEST(ManageSieveCommand, HaveSpaceNumberIsAnAtom) {
  auto r = parse("HAVESPACE \"a\" 4294967295\r\n");
  ASSERT_EQ(r.k, kind::command);
  ASSERT_EQ(r.cmd.args.size(), 2u);
  EXPECT_EQ(r.cmd.args[1].k, argument::kind::atom);
  EXPECT_EQ(parse_number(r.cmd.args[1].value), 4294967295u);
  EXPECT_EQ(parse_number("4294967296"), std::nullopt);
  EXPECT_EQ(parse_number("99999999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_number("-1"), std::nullopt);
  EXPECT_EQ(parse_number(""), std::nullopt);
  EXPECT_EQ(parse_number("007"), 7u);
}

TEST(ManageSieveCommand, SynchronizingLiteralGetsNoContinuation) {
  // {N}: the octets follow at once (no "+" from us), exactly as with {N+}.
  auto r = parse("CHECKSCRIPT {9}\r\nstop;\r\n\r\n\r\n");
  ASSERT_EQ(r.k, kind::command);
  ASSERT_EQ(r.cmd.args.size(), 1u);
  EXPECT_EQ(r.cmd.args[0].value, "stop;\r\n\r\n");
  EXPECT_EQ(r.consumed, std::string_view("CHECKSCRIPT {9}\r\nstop;\r\n\r\n\r\n").size());
}

TEST(ManageSieveCommand, LiteralOctetsAreNotScanned) {
  // A literal may hold anything: NUL, bare CR, LF, quotes, another literal header.
  std::string script("a\0b\r\"{3+}\r\n", 11);
  std::string input = "PUTSCRIPT \"x\" {" + std::to_string(script.size()) + "+}\r\n" + script + "\r\n";
  auto r = parse(input);
  ASSERT_EQ(r.k, kind::command);
  ASSERT_EQ(r.cmd.args.size(), 2u);
  EXPECT_EQ(r.cmd.args[1].value, script);
  EXPECT_EQ(r.consumed, input.size());
}

TEST(ManageSieveCommand, BareLfEndsALine) {
  auto r = parse("LOGOUT\n");
  ASSERT_EQ(r.k, kind::command);
  EXPECT_EQ(r.cmd.name, "LOGOUT");
  EXPECT_EQ(r.consumed, 7u);
  r = parse("PUTSCRIPT \"x\" {2+}\nab\n");
  ASSERT_EQ(r.k, kind::command);
  EXPECT_EQ(r.cmd.args[1].value, "ab");
}

TEST(ManageSieveCommand, MissingCrlfNeedsMoreUntilTheLineLimit) {
  EXPECT_EQ(parse("CAPABILITY").k, kind::need_more);
  EXPECT_EQ(parse("PUTSCRIPT \"x\" {10+}\r\nabc").k, kind::need_more);
  EXPECT_EQ(parse("PUTSCRIPT \"x\" {3+}\r\nabc").k, kind::need_more);  // the line after
  parser_limits small;
  small.max_line = 16;
  auto r = parse(std::string(17, 'A'), small);
  EXPECT_EQ(r.k, kind::need_more);  // 17 = 16 + a CR that may be next
  r = parse(std::string(18, 'A'), small);
  EXPECT_EQ(r.k, kind::error);
  EXPECT_TRUE(r.close);
  r = parse(std::string(16, 'A') + "\r\n", small);
  EXPECT_EQ(r.k, kind::command);
  r = parse(std::string(17, 'A') + "\r\n", small);
  EXPECT_EQ(r.k, kind::error);
  EXPECT_TRUE(r.close);
}

TEST(ManageSieveCommand, HugeLiteralAnnouncementClosesWithoutWaiting) {
  // Refused on the header alone: nothing of 4 GiB is awaited or reserved.
  for (const char* header : {"{4294967295+}", "{4294967296+}", "{99999999999999999999999999+}", "{1048577}"}) {
    auto r = parse(std::string("PUTSCRIPT \"x\" ") + header + "\r\n");
    EXPECT_EQ(r.k, kind::error) << header;
    EXPECT_TRUE(r.close) << header;
    EXPECT_EQ(r.message, "Literal too large.");
  }
  parser_limits l;
  l.max_literal = 10;
  l.max_command = 15;
  EXPECT_EQ(parse("PUTSCRIPT {10+}\r\n0123456789 {10+}\r\n0123456789\r\n", l).message, "Command too large.");
  EXPECT_EQ(parse("PUTSCRIPT {10+}\r\n0123456789 {5+}\r\n01234\r\n", l).k, kind::command);
}

TEST(ManageSieveCommand, RecoverableErrorsConsumeTheWholeCommand) {
  struct row {
    std::string input;
    const char* message;
  };
  const row rows[] = {
      {"PUTSCRIPT \"abc\r\n", "Unterminated quoted string."},
      {"PUTSCRIPT \"abc\n", "Unterminated quoted string."},
      {std::string("PUTSCRIPT \"a\0c\"\r\n", 17), "NUL in quoted string."},
      {std::string("NOOP \0\r\n", 8), "NUL in command."},
      {"PUTSCRIPT \"a\\n\"\r\n", "Invalid escape in quoted string (only \\\" and \\\\)."},
      {"PUTSCRIPT \"\xff\xfe\"\r\n", "Quoted string is not valid UTF-8."},
      {"PUTSCRIPT \"\xc3\"\r\n", "Quoted string is not valid UTF-8."},
      {"NOOP \xc3\xa9\r\n", "8-bit octets outside a string."},
      {"NOOP (a)\r\n", "Invalid character in command."},
      {"NOOP \"a\"\"b\"\r\n", "Expected a space between arguments."},
      {"\"NOOP\"\r\n", "Command name must be an atom."},
      {"\r\n", "Empty command."},
      {"NOOP a\rb\r\n", "Expected a space between arguments."},
      {"NOOP \rb\r\n", "Invalid character in command."},
      {"NOOP " + std::string(1025, 'a') + "\r\n", "Atom too long."},
      {"NOOP 1 2 3 4 5 6 7 8 9\r\n", "Too many arguments."},
      // A broken command with a literal: its octets go with it, not read as a command.
      {"PUTSCRIPT \"a\\x\" {6+}\r\nLOGOUT\r\n", "Invalid escape in quoted string (only \\\" and \\\\)."},
      {"PUTSCRIPT x{6+}\r\nLOGOUT\r\n", "Expected a space between arguments."},
  };
  for (const row& c : rows) {
    auto r = parse(c.input + "NOOP\r\n");
    EXPECT_EQ(r.k, kind::error) << c.input;
    EXPECT_FALSE(r.close) << c.input;
    EXPECT_EQ(r.message, c.message) << c.input;
    EXPECT_EQ(r.consumed, c.input.size()) << c.input;
  }
}

TEST(ManageSieveCommand, EightBitUtf8InQuotedStrings) {
  auto r = parse("PUTSCRIPT \"r\xc3\xa8gles \xe2\x82\xac\" {0+}\r\n\r\n");
  ASSERT_EQ(r.k, kind::command);
  EXPECT_EQ(r.cmd.args[0].value, "r\xc3\xa8gles \xe2\x82\xac");
  EXPECT_EQ(r.cmd.args[1].value, "");
}

TEST(ManageSieveCommand, SpacesAreTolerated) {
  auto r = parse("RENAMESCRIPT  \"a\"   \"b\" \r\n");
  ASSERT_EQ(r.k, kind::command);
  ASSERT_EQ(r.cmd.args.size(), 2u);
  EXPECT_EQ(r.cmd.args[1].value, "b");
}

TEST(ManageSieveCommand, AuthenticateResponses) {
  command_reader reader;
  auto r = reader.next_response("\"AGEAYg==\"\r\n");
  ASSERT_EQ(r.k, kind::command);
  EXPECT_EQ(r.cmd.name, "");
  ASSERT_EQ(r.cmd.args.size(), 1u);
  EXPECT_EQ(r.cmd.args[0].value, "AGEAYg==");
  r = reader.next_response("{8+}\r\nAGEAYg==\r\n");
  ASSERT_EQ(r.k, kind::command);
  EXPECT_EQ(r.cmd.args[0].value, "AGEAYg==");
  r = reader.next_response("*\r\n");
  ASSERT_EQ(r.k, kind::command);
  EXPECT_EQ(r.cmd.args[0].k, argument::kind::atom);
  EXPECT_EQ(r.cmd.args[0].value, "*");
  EXPECT_EQ(reader.next_response("\r\n").k, kind::error);
  EXPECT_EQ(reader.next_response("\"AGE").k, kind::need_more);
}

TEST(ManageSieveCommand, StringsTheServerSends) {
  std::string out;
  append_string(out, "plain");
  append_string(out, "q\"b\\s");
  append_string(out, "two\r\nlines");
  append_string(out, std::string("n\0l", 3));
  append_string(out, "\xff");
  append_string(out, "\xc3\xa9");
  EXPECT_EQ(out, std::string("\"plain\"\"q\\\"b\\\\s\"{10}\r\ntwo\r\nlines{3}\r\nn\0l{1}\r\n\xff\"\xc3\xa9\"", 50));
  out.clear();
  append_literal(out, "keep;");
  EXPECT_EQ(out, "{5}\r\nkeep;");
}

// What the server sends reads back as the same string (round trip through the reader).
TEST(ManageSieveCommand, ServerStringsRoundTrip) {
  command_reader reader;
  for (std::string v : {std::string("x"), std::string("a \"b\" \\"), std::string("l\r\n"), std::string(2000, 'z'),
                        std::string("\0", 1)}) {
    std::string line = "NOOP ";
    append_string(line, v);
    line += "\r\n";
    auto r = reader.next(line);
    ASSERT_EQ(r.k, kind::command);
    ASSERT_EQ(r.cmd.args.size(), 1u);
    EXPECT_EQ(r.cmd.args[0].value, v);
  }
}

}  // namespace
}  // namespace ringmail::managesieve
