// The pure IMAP command layer (protocols/imap): command_reader framing (lines, literals
// {n} {n+} ~{n}, LITERAL+/LITERAL-, limits) and parse_command() over RFC 9051/3501 syntax.
//
// Every framing case runs whole, one byte at a time and in other piece sizes, and must
// give identical events (as Dovecot's parser tests do). Hostile inputs from issue 10
// (huge literals, 100,000 '(' , 1 MB lines, bad sequence sets) each have a case.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/imap/command.h"
#include "protocols/imap/command_reader.h"

namespace ringmail::imap {
namespace {

using namespace std::string_literals;
using rk = command_reader::result::kind;

// ---- command_reader --------------------------------------------------------------------

// Feeds `input` in pieces of `piece` bytes (0: all at once), draining as a session would.
// Events: "C:<bytes>", "+" (continue_literal), "E:<tag>:<message>[:toobig][:close]",
// then "rest:<unconsumed>". After a close the rest is not read.
std::vector<std::string> frame(std::string_view input, command_reader::limits l, size_t piece) {
  command_reader reader(l);
  std::string buf;
  std::vector<std::string> events;
  bool closed = false;
  auto drain = [&] {
    while (!closed) {
      command_reader::result r = reader.next(buf);
      EXPECT_LE(r.consumed, buf.size());
      if (r.k == rk::command) {
        events.push_back("C:" + std::string(r.bytes));
      } else if (r.k == rk::continue_literal) {
        events.push_back("+");
      } else if (r.k == rk::error) {
        events.push_back("E:" + r.tag + ":" + r.message + (r.too_big ? ":toobig" : "") +
                         (r.close ? ":close" : ""));
        closed = r.close;
      }
      buf.erase(0, r.consumed);
      // After continue_literal the session sends "+" and calls again with what it has.
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

std::vector<std::string> frame_all_ways(std::string_view input, command_reader::limits l = {}) {
  std::vector<std::string> whole = frame(input, l, 0);
  for (size_t piece : {1, 2, 3, 7, 64}) {
    EXPECT_EQ(frame(input, l, piece), whole) << "piece size " << piece;
  }
  return whole;
}

using V = std::vector<std::string>;

TEST(ImapReader, LinesCrlfAndBareLf) {
  EXPECT_EQ(frame_all_ways("a NOOP\r\nb CAPABILITY\nc LOG"),
            (V{"C:a NOOP", "C:b CAPABILITY", "rest:c LOG"}));
}

TEST(ImapReader, SynchronizingLiteralAsksOnceThenFrames) {
  EXPECT_EQ(frame_all_ways("a LOGIN {4}\r\njohn {6}\r\nsecret\r\nb NOOP\r\n"),
            (V{"+", "+", "C:a LOGIN {4}\r\njohn {6}\r\nsecret", "C:b NOOP", "rest:"}));
}

TEST(ImapReader, LiteralOctetsAreNotScannedForLineEnds) {
  EXPECT_EQ(frame_all_ways("a APPEND x {7+}\r\nab\r\n{3}\r\n"),
            (V{"C:a APPEND x {7+}\r\nab\r\n{3}", "rest:"}));
}

TEST(ImapReader, NonSynchronizingAndLiteral8) {
  EXPECT_EQ(frame_all_ways("a APPEND x ~{3+}\r\n\0\1\2\r\n"s),
            (V{"C:a APPEND x ~{3+}\r\n\0\1\2"s, "rest:"}));
  EXPECT_EQ(frame_all_ways("a APPEND x ~{2}\r\nhi\r\n"),
            (V{"+", "C:a APPEND x ~{2}\r\nhi", "rest:"}));
  EXPECT_EQ(frame_all_ways("a LOGIN {0}\r\n {0+}\r\n\r\n"),
            (V{"+", "C:a LOGIN {0}\r\n {0+}\r\n", "rest:"}));
}

TEST(ImapReader, HugeLiteralsRefusedWithoutAllocating) {
  EXPECT_EQ(frame_all_ways("a APPEND x {4294967295}\r\nb NOOP\r\n"),
            (V{"E:a:Literal too large:toobig", "C:b NOOP", "rest:"}));
  EXPECT_EQ(frame_all_ways("a APPEND x {99999999999}\r\n"),
            (V{"E:a:Literal too large:toobig", "rest:"}));
  EXPECT_EQ(frame_all_ways("a APPEND x {99999999999999999999999999}\r\n"),
            (V{"E:a:Literal too large:toobig", "rest:"}));
}

TEST(ImapReader, PreLoginLimitsRefuseNonSyncLiteralAndClose) {
  command_reader::limits pre{.max_line = 8192, .max_literal = 4096, .max_command = 16384};
  EXPECT_EQ(frame_all_ways("a LOGIN {5000+}\r\nxxxx", pre),
            (V{"E:a:Non-synchronizing literal too large:toobig:close"}));
  // A synchronizing one the client has not sent yet: refused, the stream stays in step.
  EXPECT_EQ(frame_all_ways("a LOGIN {5000}\r\nb NOOP\r\n", pre),
            (V{"E:a:Literal too large:toobig", "C:b NOOP", "rest:"}));
}

TEST(ImapReader, LiteralMinusRefusesNonSyncOver4096) {
  std::string ok = "a APPEND x {4096+}\r\n" + std::string(4096, 'x') + "\r\n";
  EXPECT_EQ(frame_all_ways(ok), (V{"C:" + ok.substr(0, ok.size() - 2), "rest:"}));
  EXPECT_EQ(frame_all_ways("a APPEND x {4097+}\r\n"),
            (V{"E:a:Non-synchronizing literal too large:toobig:close"}));
  command_reader::limits plus;
  plus.literal_plus = true;
  std::string big = "a APPEND x {5000+}\r\n" + std::string(5000, 'y') + "\r\n";
  EXPECT_EQ(frame_all_ways(big, plus), (V{"C:" + big.substr(0, big.size() - 2), "rest:"}));
}

TEST(ImapReader, MegabyteLineAnsweredOnceAndSkipped) {
  std::string line = "a1 SEARCH " + std::string(1 << 20, 'x') + "\r\nb NOOP\r\n";
  command_reader::limits l;
  EXPECT_EQ(frame(line, l, 0), (V{"E:a1:Command line too long", "C:b NOOP", "rest:"}));
  EXPECT_EQ(frame(line, l, 4096), (V{"E:a1:Command line too long", "C:b NOOP", "rest:"}));
  EXPECT_EQ(frame(line, l, 1), (V{"E:a1:Command line too long", "C:b NOOP", "rest:"}));
}

TEST(ImapReader, LineLimitIsExactAndAppliesAfterLiterals) {
  command_reader::limits l{.max_line = 10};
  EXPECT_EQ(frame_all_ways("a NOOP xyz\r\n", l), (V{"C:a NOOP xyz", "rest:"}));
  EXPECT_EQ(frame_all_ways("a NOOP xyzw\r\nb NOOP\r\n", l),
            (V{"E:a:Command line too long", "C:b NOOP", "rest:"}));
  EXPECT_EQ(frame_all_ways("a X {1+}\r\nz 0123456789\r\n", l),
            (V{"E:a:Command line too long", "rest:"}));
}

TEST(ImapReader, CommandLimitCountsLiterals) {
  command_reader::limits l{.max_line = 100, .max_literal = 100, .max_command = 50};
  EXPECT_EQ(frame_all_ways("a X {20+}\r\n01234567890123456789 {40}\r\n", l),
            (V{"E:a:Literal too large:toobig", "rest:"}));
}

TEST(ImapReader, UntaggedErrorWhenNoTag) {
  command_reader::limits l{.max_line = 4};
  EXPECT_EQ(frame_all_ways("abcdefgh\r\n", l), (V{"E:*:Command line too long", "rest:"}));
}

TEST(ImapReader, NextLineForAuthenticateAndDone) {
  command_reader reader(command_reader::limits{.max_line = 8});
  auto r = reader.next_line("DONE\r\nx");
  EXPECT_EQ(r.k, rk::command);
  EXPECT_EQ(r.bytes, "DONE");
  EXPECT_EQ(r.consumed, 6u);
  r = reader.next_line("{5}");
  EXPECT_EQ(r.k, rk::need_more);
  r = reader.next_line("123456789");
  EXPECT_EQ(r.k, rk::error);
  EXPECT_EQ(r.consumed, 9u);
  r = reader.next_line("abc\r\nDONE\n");
  EXPECT_EQ(r.k, rk::command);
  EXPECT_EQ(r.bytes, "DONE");
  EXPECT_EQ(r.consumed, 10u);
}

// ---- parse_command -----------------------------------------------------------------------

command parse_ok(std::string_view s, parse_options o = {}) {
  parse_result r = parse_command(s, o);
  EXPECT_TRUE(r.cmd.has_value()) << s << " -> " << r.error.message;
  return r.cmd.value_or(command{});
}

parse_error parse_bad(std::string_view s, parse_options o = {}) {
  parse_result r = parse_command(s, o);
  EXPECT_FALSE(r.cmd.has_value()) << s;
  return r.error;
}

TEST(ImapParser, SimpleCommandsAnyCase) {
  EXPECT_EQ(parse_ok("a1 capability").name, command_name::capability);
  EXPECT_EQ(parse_ok("a1 NoOp").name, command_name::noop);
  EXPECT_EQ(parse_ok("a1 LOGOUT").name, command_name::logout);
  EXPECT_EQ(parse_ok("x STARTTLS").name, command_name::starttls);
  EXPECT_EQ(parse_ok("x IDLE").name, command_name::idle);
  EXPECT_EQ(parse_ok("x CHECK").name, command_name::check);
  EXPECT_EQ(parse_ok("x CLOSE").name, command_name::close);
  EXPECT_EQ(parse_ok("x UNSELECT").name, command_name::unselect);
  EXPECT_EQ(parse_ok("x NAMESPACE").name, command_name::namespace_);
  command e = parse_ok("x expunge");
  EXPECT_EQ(e.name, command_name::expunge);
  EXPECT_FALSE(e.uid);
  EXPECT_EQ(parse_ok("a.b]c NOOP").tag, "a.b]c");
}

TEST(ImapParser, BadTagsAndNames) {
  EXPECT_EQ(parse_bad("").tag, "*");
  EXPECT_EQ(parse_bad("a+b NOOP").tag, "*");
  EXPECT_EQ(parse_bad("NOOP").tag, "*");
  parse_error e = parse_bad("t1 FROBNICATE");
  EXPECT_EQ(e.tag, "t1");
  EXPECT_EQ(e.message, "Unknown command");
  EXPECT_EQ(parse_bad("t1 NOOP extra").message, "Unexpected extra arguments");
  parse_bad("t1 NOOP ");
  parse_bad("t1  NOOP");
  parse_bad("t1 UID LOGIN a b");
  parse_bad("t1 UID");
}

TEST(ImapParser, ErrorMessagesNeverEchoClientBytes) {
  for (std::string s : {"t SELECT \"zzzsecret", "t FETCH 1 (zzzsecret)", "t SEARCH zzzsecret",
                        "t LOGIN zzzsecret", "t STORE 1 zzzsecret (x)"}) {
    parse_error e = parse_bad(s);
    EXPECT_EQ(e.message.find("zzz"), std::string::npos) << s;
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(ImapParser, LoginAstringQuotedLiteral) {
  command c = parse_ok("a LOGIN john \"p\\\"a\\\\ss\"");
  EXPECT_EQ(c.user, "john");
  EXPECT_EQ(c.password, "p\"a\\ss");
  c = parse_ok("a LOGIN {4}\r\njoh\xc3 {3+}\r\nx y");
  EXPECT_EQ(c.user, "joh\xc3");
  EXPECT_EQ(c.password, "x y");
  c = parse_ok("a LOGIN {4}\njohn \"\"");  // bare LF after the literal header
  EXPECT_EQ(c.user, "john");
  EXPECT_EQ(c.password, "");
  parse_bad("a LOGIN john");
  parse_bad("a LOGIN \"jo\\hn\" x");     // only \" and \\ may be escaped
  parse_bad("a LOGIN \"jo\rhn\" x");
  parse_bad("a LOGIN {5}\r\njohn");      // literal shorter than announced
  parse_bad("a LOGIN {4}\r\nj\0hn x"s);   // NUL is not CHAR8
  parse_bad("a LOGIN ~{4}\r\njohn x");   // literal8 only in APPEND
  parse_bad("a LOGIN {4} john x");       // a literal header ends the line
}

TEST(ImapParser, Utf8InQuotedOnlyWhenAllowed) {
  parse_bad("a LOGIN \"j\xc3\xb6rg\" x");
  command c = parse_ok("a LOGIN \"j\xc3\xb6rg\" x", {.utf8 = true});
  EXPECT_EQ(c.user, "j\xc3\xb6rg");
  parse_bad("a LOGIN \"j\xc3(rg\" x", {.utf8 = true});    // broken sequence
  parse_bad("a LOGIN \"\xed\xa0\x80\" x", {.utf8 = true});  // surrogate
}

TEST(ImapParser, AuthenticateAndInitialResponse) {
  command c = parse_ok("a authenticate plain AGpvaG4Ac2VjcmV0");
  EXPECT_EQ(c.name, command_name::authenticate);
  EXPECT_EQ(c.mechanism, "PLAIN");
  EXPECT_EQ(c.initial_response, "AGpvaG4Ac2VjcmV0");
  EXPECT_EQ(parse_ok("a AUTHENTICATE PLAIN =").initial_response, "=");
  EXPECT_FALSE(parse_ok("a AUTHENTICATE LOGIN").initial_response.has_value());
  parse_bad("a AUTHENTICATE PLAIN a.b");
  parse_bad("a AUTHENTICATE");
}

TEST(ImapParser, EnableSelectExamineCreate) {
  command c = parse_ok("a ENABLE imap4rev2 CONDSTORE");
  EXPECT_EQ(c.atoms, (V{"IMAP4REV2", "CONDSTORE"}));
  parse_bad("a ENABLE");
  c = parse_ok("a SELECT inbox");
  EXPECT_EQ(c.name, command_name::select);
  EXPECT_EQ(c.mailbox, "INBOX");
  EXPECT_EQ(parse_ok("a EXAMINE \"Inbox\"").mailbox, "INBOX");
  EXPECT_EQ(parse_ok("a EXAMINE INBOX.Sent").mailbox, "INBOX.Sent");
  c = parse_ok("a SELECT x (CONDSTORE)");
  EXPECT_EQ(c.atoms, (V{"CONDSTORE"}));
  c = parse_ok("a SELECT x (QRESYNC (67890007 20050715194045000 41,43:211) CONDSTORE)");
  EXPECT_EQ(c.atoms, (V{"QRESYNC", "CONDSTORE"}));
  parse_bad("a SELECT x ()");
  c = parse_ok("a CREATE Sent (USE (\\Sent))");
  EXPECT_EQ(c.name, command_name::create);
  EXPECT_EQ(c.mailbox, "Sent");
  EXPECT_EQ(c.special_use, (V{"\\Sent"}));
  parse_bad("a CREATE Sent (FOO (\\Sent))");
  EXPECT_EQ(parse_ok("a DELETE foo").name, command_name::delete_);
  EXPECT_EQ(parse_ok("a SUBSCRIBE foo").name, command_name::subscribe);
  EXPECT_EQ(parse_ok("a UNSUBSCRIBE foo").name, command_name::unsubscribe);
  c = parse_ok("a RENAME inbox \"Old Mail\"");
  EXPECT_EQ(c.mailbox, "INBOX");
  EXPECT_EQ(c.new_name, "Old Mail");
}

TEST(ImapParser, ListBasicAndExtended) {
  command c = parse_ok("a LIST \"\" *");
  EXPECT_EQ(c.reference, "");
  EXPECT_EQ(c.patterns, (V{"*"}));
  EXPECT_FALSE(c.list.extended);
  c = parse_ok("a LIST \"\" %/a]b");
  EXPECT_EQ(c.patterns, (V{"%/a]b"}));
  c = parse_ok("a LIST (SUBSCRIBED RECURSIVEMATCH remote) \"\" (\"a*\" b%) "
               "RETURN (CHILDREN SPECIAL-USE SUBSCRIBED STATUS (MESSAGES UNSEEN))");
  EXPECT_TRUE(c.list.extended);
  EXPECT_TRUE(c.list.subscribed && c.list.recursive_match && c.list.remote);
  EXPECT_FALSE(c.list.special_use);
  EXPECT_EQ(c.patterns, (V{"a*", "b%"}));
  EXPECT_TRUE(c.list.return_children && c.list.return_special_use && c.list.return_subscribed);
  EXPECT_EQ(c.list.return_status, (V{"MESSAGES", "UNSEEN"}));
  c = parse_ok("a LIST (SPECIAL-USE) \"\" *");
  EXPECT_TRUE(c.list.special_use);
  c = parse_ok("a LIST () \"\" * RETURN ()");
  EXPECT_TRUE(c.list.extended);
  parse_bad("a LIST (RECURSIVEMATCH) \"\" *");  // RFC 5258: not alone
  parse_bad("a LIST (BOGUS) \"\" *");
  parse_bad("a LIST \"\" * RETURN (BOGUS)");
  parse_bad("a LIST \"\" * RETURN (STATUS (BOGUS))");
  parse_bad("a LIST \"\"");
  c = parse_ok("a LSUB \"\" \"*\"");
  EXPECT_EQ(c.name, command_name::lsub);
  EXPECT_EQ(c.patterns, (V{"*"}));
}

TEST(ImapParser, Status) {
  command c = parse_ok("a STATUS inbox (messages UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT)");
  EXPECT_EQ(c.mailbox, "INBOX");
  EXPECT_EQ(c.atoms, (V{"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE",
                        "RECENT"}));
  parse_bad("a STATUS inbox ()");
  parse_bad("a STATUS inbox (FOO)");
  parse_bad("a STATUS inbox");
}

TEST(ImapParser, Append) {
  command c = parse_ok("a APPEND saved (\\Seen $Forwarded) \"05-Jan-2024 10:20:30 +0100\" {5}\r\nhello");
  ASSERT_EQ(c.append.size(), 1u);
  EXPECT_EQ(c.mailbox, "saved");
  EXPECT_EQ(c.append[0].flags, (V{"\\Seen", "$Forwarded"}));
  EXPECT_EQ(c.append[0].internal_date, 1704446430);
  EXPECT_EQ(c.append[0].message, "hello");
  EXPECT_FALSE(c.append[0].binary);
  c = parse_ok("a APPEND x ~{3}\r\n\0\1\2"s);
  EXPECT_TRUE(c.append[0].binary);
  EXPECT_EQ(c.append[0].message, "\0\1\2"s);
  EXPECT_EQ(parse_ok("a APPEND x () {0+}\r\n").append[0].message, "");
  EXPECT_EQ(parse_ok("a APPEND x \" 5-Jan-2024 10:20:30 -0000\" {1}\r\nx").append[0].internal_date,
            1704450030);
  parse_bad("a APPEND x \"hello\"");                          // not a literal
  parse_bad("a APPEND x \"32-Jan-2024 10:20:30 +0000\" {1}\r\nx");
  parse_bad("a APPEND x (\\Seen) {1}\r\nxy");                  // bytes after the literal
  parse_bad("a APPEND x (\\*) {1}\r\nx");
}

TEST(ImapParser, Dates) {
  EXPECT_EQ(parse_date("1-Jan-1970"), 0);
  EXPECT_EQ(parse_date("01-jan-1970"), 0);
  EXPECT_EQ(parse_date("29-Feb-2024"), 19782);
  EXPECT_EQ(parse_date("29-Feb-2023"), std::nullopt);
  EXPECT_EQ(parse_date("1-Foo-2023"), std::nullopt);
  EXPECT_EQ(parse_date("1-Jan-23"), std::nullopt);
  EXPECT_EQ(parse_date("001-Jan-2023"), std::nullopt);
  EXPECT_EQ(parse_date_time("01-Jan-1970 00:00:00 +0000"), 0);
  EXPECT_EQ(parse_date_time(" 1-Jan-1970 01:00:00 +0100"), 0);
  EXPECT_EQ(parse_date_time("31-Dec-1969 23:00:00 -0100"), 0);
  EXPECT_EQ(parse_date_time("01-Jan-1970 24:00:00 +0000"), std::nullopt);
  EXPECT_EQ(parse_date_time("01-Jan-1970 00:00:00"), std::nullopt);
}

TEST(ImapParser, SequenceSetSyntax) {
  command c = parse_ok("a COPY 1:3,5,*,9:7 Trash");
  EXPECT_EQ(c.name, command_name::copy);
  EXPECT_EQ(c.mailbox, "Trash");
  ASSERT_EQ(c.set.ranges.size(), 4u);
  EXPECT_EQ(c.set.ranges[0], (seq_range{1, 3}));
  EXPECT_EQ(c.set.ranges[2], (seq_range{seq_range::star, seq_range::star}));
  EXPECT_EQ(c.set.ranges[3], (seq_range{9, 7}));
  EXPECT_TRUE(parse_ok("a UID MOVE $ Junk").set.saved);
  EXPECT_EQ(parse_ok("a COPY 4294967295 x").set.ranges[0].first, 4294967295u);
  for (std::string bad : {"0", "1:0", "1:4294967296", "4294967296", "01", "1,", ",1", "1::2",
                          "", "$,1", "-1", "1:*:2"}) {
    parse_bad("a COPY " + bad + " x");
  }
  EXPECT_TRUE(parse_ok("a COPY *:* x").set.ranges[0] == (seq_range{0, 0}));
}

TEST(ImapParser, SequenceSetResolve) {
  sequence_set s;
  s.ranges = {{5, 3}, {seq_range::star, seq_range::star}, {4, 4}, {9, 20}};
  EXPECT_EQ(s.resolve(10), (std::vector<uint32_t>{3, 4, 5, 9, 10}));
  EXPECT_TRUE(s.exceeds(10));
  EXPECT_FALSE(s.exceeds(20));
  EXPECT_TRUE(s.contains(10, 10));
  EXPECT_FALSE(s.contains(6, 10));
  EXPECT_TRUE(s.contains(3, 10));
  EXPECT_EQ(s.resolve(0), std::vector<uint32_t>{});
  sequence_set star;
  star.ranges = {{1, seq_range::star}};
  EXPECT_EQ(star.resolve(3), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_FALSE(star.exceeds(3));
}

TEST(ImapParser, HugeSequenceSetsAreCheap) {
  sequence_set all;
  all.ranges = {{1, 4294967295u}, {4294967295u, 1}, {seq_range::star, 1}};
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(all.resolve(5).size(), 5u);
  EXPECT_FALSE(all.exceeds(4294967295u));
  EXPECT_TRUE(all.exceeds(100));
  // 100,000 ranges through the parser and resolve.
  std::string line = "a UID FETCH ";
  for (uint32_t i = 0; i < 100000; ++i) {
    if (i) line += ',';
    line += std::to_string(4000000000u - i * 7) + ":" + std::to_string(4000000000u - i * 7 + 3);
  }
  line += " (UID)";
  command c = parse_ok(line);
  EXPECT_EQ(c.set.ranges.size(), 100000u);
  std::vector<uint32_t> r = c.set.resolve(4294967295u);
  EXPECT_EQ(r.size(), 400000u);
  EXPECT_TRUE(std::is_sorted(r.begin(), r.end()));
  EXPECT_EQ(std::adjacent_find(r.begin(), r.end()), r.end());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

using fk = fetch_item::kind;
using sk = section_spec::kind;

TEST(ImapParser, FetchMacrosAndSimpleItems) {
  command c = parse_ok("a FETCH 1:* ALL");
  EXPECT_TRUE(c.fetch_macro);
  ASSERT_EQ(c.fetch.size(), 4u);
  EXPECT_EQ(c.fetch[3].k, fk::envelope);
  EXPECT_EQ(parse_ok("a FETCH 1 fast").fetch.size(), 3u);
  c = parse_ok("a FETCH 1 FULL");
  ASSERT_EQ(c.fetch.size(), 5u);
  EXPECT_EQ(c.fetch[4].k, fk::body);
  parse_bad("a FETCH 1 (ALL)");
  c = parse_ok("a UID FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY "
               "RFC822 RFC822.HEADER RFC822.TEXT MODSEQ)");
  EXPECT_TRUE(c.uid);
  std::vector<fk> kinds;
  for (const fetch_item& i : c.fetch) kinds.push_back(i.k);
  EXPECT_EQ(kinds, (std::vector<fk>{fk::uid, fk::flags, fk::internal_date, fk::rfc822_size,
                                    fk::envelope, fk::body_structure, fk::body, fk::rfc822,
                                    fk::rfc822_header, fk::rfc822_text, fk::modseq}));
  EXPECT_EQ(parse_ok("a FETCH 1 flags").fetch[0].k, fk::flags);
  parse_bad("a FETCH 1 ()");
  parse_bad("a FETCH 1 (FLAGS  UID)");
  parse_bad("a FETCH 1 (BOGUS)");
  parse_bad("a FETCH 1");
}

TEST(ImapParser, FetchBodySections) {
  command c = parse_ok("a FETCH 1 (BODY[] BODY.PEEK[1.2.HEADER.FIELDS (From to)]<0.2048> "
                       "body[1.MIME] BODY[TEXT]<10.5> BODY[HEADER.FIELDS.NOT (X-A)] BODY[3] "
                       "BODY[2.1.TEXT] BODY.PEEK[HEADER])");
  ASSERT_EQ(c.fetch.size(), 8u);
  EXPECT_EQ(c.fetch[0].k, fk::body_section);
  EXPECT_FALSE(c.fetch[0].peek);
  EXPECT_EQ(c.fetch[0].section, section_spec{});
  EXPECT_FALSE(c.fetch[0].partial_origin.has_value());
  EXPECT_TRUE(c.fetch[1].peek);
  EXPECT_EQ(c.fetch[1].section.part, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(c.fetch[1].section.k, sk::header_fields);
  EXPECT_EQ(c.fetch[1].section.fields, (V{"FROM", "TO"}));
  EXPECT_EQ(c.fetch[1].partial_origin, 0u);
  EXPECT_EQ(c.fetch[1].partial_length, 2048u);
  EXPECT_EQ(c.fetch[2].section.k, sk::mime);
  EXPECT_EQ(c.fetch[3].section.k, sk::text);
  EXPECT_EQ(c.fetch[3].partial_origin, 10u);
  EXPECT_EQ(c.fetch[4].section.k, sk::header_fields_not);
  EXPECT_EQ(c.fetch[5].section.part, (std::vector<uint32_t>{3}));
  EXPECT_EQ(c.fetch[5].section.k, sk::whole);
  EXPECT_EQ(c.fetch[6].section.k, sk::text);
  EXPECT_EQ(c.fetch[7].section.k, sk::header);
  for (std::string bad : {"BODY[MIME]", "BODY[0]", "BODY[1.]", "BODY[HEADER.FIELDS]",
                          "BODY[HEADER.FIELDS ()]", "BODY[]<0.0>", "BODY[]<1>", "BODY.PEEK",
                          "BODY[1", "BODY[TEXT.1]", "BODY[]<4294967296.1>"}) {
    parse_bad("a FETCH 1 (" + bad + ")");
  }
}

TEST(ImapParser, FetchBinaryAndModifiers) {
  command c = parse_ok("a FETCH 1 (BINARY[1.2]<0.10> BINARY.PEEK[] BINARY.SIZE[1]) (CHANGEDSINCE 12345)");
  ASSERT_EQ(c.fetch.size(), 3u);
  EXPECT_EQ(c.fetch[0].k, fk::binary_section);
  EXPECT_EQ(c.fetch[0].section.part, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(c.fetch[0].partial_length, 10u);
  EXPECT_TRUE(c.fetch[1].peek);
  EXPECT_EQ(c.fetch[2].k, fk::binary_size);
  EXPECT_EQ(c.changed_since, 12345u);
  parse_bad("a FETCH 1 BINARY[HEADER]");
  parse_bad("a FETCH 1 BINARY[1.MIME]");
  parse_bad("a FETCH 1 BINARY.SIZE[1]<0.1>");
  parse_bad("a FETCH 1 FLAGS (BOGUS 1)");
}

TEST(ImapParser, Store) {
  command c = parse_ok("a STORE 1:2 +FLAGS.SILENT (\\Seen \\Deleted)");
  EXPECT_EQ(c.store, command::store_mode::add);
  EXPECT_TRUE(c.silent);
  EXPECT_EQ(c.flags, (V{"\\Seen", "\\Deleted"}));
  c = parse_ok("a UID STORE 5 -flags $Junk \\Flagged");
  EXPECT_TRUE(c.uid);
  EXPECT_EQ(c.store, command::store_mode::remove);
  EXPECT_FALSE(c.silent);
  EXPECT_EQ(c.flags, (V{"$Junk", "\\Flagged"}));
  c = parse_ok("a STORE 1 (UNCHANGEDSINCE 200) FLAGS ()");
  EXPECT_EQ(c.store, command::store_mode::replace);
  EXPECT_EQ(c.unchanged_since, 200u);
  EXPECT_TRUE(c.flags.empty());
  parse_bad("a STORE 1 FLAGS");
  parse_bad("a STORE 1 +LABELS (x)");
  parse_bad("a STORE 1 FLAGS (\\Seen");
  parse_bad("a STORE 1 FLAGS \\*");
}

TEST(ImapParser, CopyMoveUidExpunge) {
  EXPECT_EQ(parse_ok("a MOVE 1 inbox").mailbox, "INBOX");
  command c = parse_ok("a UID EXPUNGE 3:5");
  EXPECT_EQ(c.name, command_name::expunge);
  EXPECT_TRUE(c.uid);
  EXPECT_EQ(c.set.ranges[0], (seq_range{3, 5}));
  parse_bad("a UID EXPUNGE");
  parse_bad("a EXPUNGE 1");
  parse_bad("a COPY 1");
}

TEST(ImapParser, Id) {
  command c = parse_ok("a ID (\"name\" \"Thunderbird\" \"version\" NIL)");
  ASSERT_EQ(c.id_params.size(), 2u);
  EXPECT_EQ(c.id_params[0].first, "name");
  EXPECT_EQ(c.id_params[0].second, "Thunderbird");
  EXPECT_FALSE(c.id_params[1].second.has_value());
  EXPECT_TRUE(parse_ok("a ID NIL").id_params.empty());
  parse_bad("a ID ()");
  parse_bad("a ID (\"name\")");
}

using sk2 = search_key::kind;

TEST(ImapParser, SearchProgram) {
  command c = parse_ok("a SEARCH RETURN (MIN COUNT save) CHARSET utf-8 UNSEEN FROM \"Bob\" "
                       "OR (SINCE 1-Feb-2024 LARGER 100) NOT KEYWORD $Junk 1:5,* $ UID 2:*");
  EXPECT_TRUE(c.esearch);
  EXPECT_TRUE(c.search_ret.min && c.search_ret.count && c.search_ret.save);
  EXPECT_FALSE(c.search_ret.all || c.search_ret.max);
  EXPECT_EQ(c.charset, "UTF-8");
  ASSERT_EQ(c.search.k, sk2::and_);
  ASSERT_EQ(c.search.children.size(), 6u);
  const auto& k = c.search.children;
  EXPECT_EQ(k[0].k, sk2::unseen);
  EXPECT_EQ(k[1].k, sk2::from);
  EXPECT_EQ(k[1].text, "Bob");
  EXPECT_EQ(k[2].k, sk2::or_);
  ASSERT_EQ(k[2].children.size(), 2u);
  EXPECT_EQ(k[2].children[0].k, sk2::and_);
  EXPECT_EQ(k[2].children[0].children[0].k, sk2::since);
  EXPECT_EQ(k[2].children[0].children[0].date, *parse_date("1-Feb-2024"));
  EXPECT_EQ(k[2].children[0].children[1].number, 100u);
  EXPECT_EQ(k[2].children[1].k, sk2::not_);
  EXPECT_EQ(k[2].children[1].children[0].k, sk2::keyword);
  EXPECT_EQ(k[2].children[1].children[0].text, "$Junk");
  EXPECT_EQ(k[3].k, sk2::seq_set);
  EXPECT_EQ(k[3].set.ranges.size(), 2u);
  EXPECT_TRUE(k[4].set.saved);
  EXPECT_EQ(k[5].k, sk2::uid);
}

TEST(ImapParser, SearchEveryKey) {
  const std::pair<std::string, sk2> cases[] = {
      {"ALL", sk2::all}, {"ANSWERED", sk2::answered}, {"BCC x", sk2::bcc},
      {"BEFORE 1-Jan-2020", sk2::before}, {"BODY \"a b\"", sk2::body}, {"CC x", sk2::cc},
      {"DELETED", sk2::deleted}, {"DRAFT", sk2::draft}, {"FLAGGED", sk2::flagged},
      {"FROM x", sk2::from}, {"HEADER X-Spam \"\"", sk2::header},
      {"KEYWORD $Seen", sk2::keyword}, {"LARGER 5", sk2::larger}, {"NEW", sk2::new_},
      {"NOT SEEN", sk2::not_}, {"OLD", sk2::old}, {"ON \"2-Mar-2021\"", sk2::on},
      {"OR SEEN DRAFT", sk2::or_}, {"RECENT", sk2::recent}, {"SEEN", sk2::seen},
      {"SENTBEFORE 1-Jan-2020", sk2::sent_before}, {"SENTON 1-Jan-2020", sk2::sent_on},
      {"SENTSINCE 1-Jan-2020", sk2::sent_since}, {"SINCE 1-Jan-2020", sk2::since},
      {"SMALLER 5", sk2::smaller}, {"SUBJECT {3}\r\nabc", sk2::subject},
      {"TEXT x", sk2::text}, {"TO x", sk2::to}, {"UID 1", sk2::uid},
      {"UNANSWERED", sk2::unanswered}, {"UNDELETED", sk2::undeleted},
      {"UNDRAFT", sk2::undraft}, {"UNFLAGGED", sk2::unflagged},
      {"UNKEYWORD x", sk2::unkeyword}, {"UNSEEN", sk2::unseen}, {"MODSEQ 5", sk2::modseq},
      {"MODSEQ \"/flags/\\\\draft\" all 620162338", sk2::modseq}, {"5", sk2::seq_set},
      {"(SEEN)", sk2::and_}, {"UNRECENT", sk2::not_}, {"since 1-jan-2020", sk2::since},
  };
  for (const auto& [text, kind] : cases) {
    command c = parse_ok("a SEARCH " + text);
    ASSERT_EQ(c.search.children.size(), 1u) << text;
    EXPECT_EQ(c.search.children[0].k, kind) << text;
    EXPECT_FALSE(c.esearch);
  }
  command h = parse_ok("a SEARCH HEADER x-spam-flag YES");
  EXPECT_EQ(h.search.children[0].field, "X-SPAM-FLAG");
  EXPECT_EQ(h.search.children[0].text, "YES");
  EXPECT_EQ(parse_ok("a SEARCH MODSEQ 620162338").search.children[0].number, 620162338u);
  command r = parse_ok("a UID SEARCH RETURN () ALL");
  EXPECT_TRUE(r.esearch && r.search_ret.all);
  for (std::string bad : {"", "BOGUS", "FROM", "BEFORE 1-Jan", "OR SEEN", "NOT", "()",
                          "(SEEN", "SEEN)", "LARGER -1", "UID", "HEADER X", "RETURN (FOO) ALL",
                          "CHARSET", "ALL  SEEN", "MODSEQ \"/flags/x\" bogus 5",
                          "SEEN CHARSET UTF-8", "ON 30-Feb-2020"}) {
    parse_bad("a SEARCH " + bad);
  }
}

TEST(ImapParser, DeepNestingIsBoundedNotAStackOverflow) {
  std::string deep = "a SEARCH " + std::string(100000, '(') + "ALL" + std::string(100000, ')');
  EXPECT_EQ(parse_bad(deep).message, "Search keys too deeply nested");
  std::string nots = "a SEARCH ";
  for (int i = 0; i < 100000; ++i) nots += "NOT ";
  nots += "ALL";
  parse_bad(nots);
  std::string ors = "a SEARCH ";
  for (int i = 0; i < 100000; ++i) ors += "OR ALL ";
  parse_bad(ors + "ALL");
  std::string ok = "a SEARCH " + std::string(50, '(') + "ALL" + std::string(50, ')');
  parse_ok(ok);
  std::string sel = "a SELECT x (QRESYNC " + std::string(100000, '(') + ")";
  parse_bad(sel);
}

// Reader and parser together, fed whole and byte by byte: the parsed commands agree.
TEST(ImapParser, ReaderThenParserWholeAndByteByByte) {
  const std::string stream =
      "1 LOGIN {4}\r\njohn {6+}\r\nsecret\r\n"
      "2 SELECT INBOX (CONDSTORE)\r\n"
      "3 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\n"
      "4 APPEND Sent (\\Seen) {12}\r\nHello\r\nWorld\r\n"
      "5 SEARCH CHARSET UTF-8 SUBJECT {4+}\r\n\xc3\xa4\xc3\xb6 UNSEEN\r\n"
      "6 ID NIL\r\n7 IDLE\r\n";
  std::vector<std::string> whole = frame_all_ways(stream);
  ASSERT_EQ(whole.size(), 10u);  // 7 commands, 2 continuations, rest
  std::vector<std::string> tags;
  for (const std::string& e : whole) {
    if (e.rfind("C:", 0) != 0) continue;
    command c = parse_ok(std::string_view(e).substr(2));
    tags.push_back(c.tag);
    if (c.tag == "4") {
      EXPECT_EQ(c.append[0].message, "Hello\r\nWorld");
    }
    if (c.tag == "5") {
      EXPECT_EQ(c.search.children[0].text, "\xc3\xa4\xc3\xb6");
    }
  }
  EXPECT_EQ(tags, (V{"1", "2", "3", "4", "5", "6", "7"}));
}

}  // namespace
}  // namespace ringmail::imap
