// The Sieve front end (delivery/sieve: lexer, parser, checker): every example script of
// RFC 5228 and the extension RFCs parses and checks; broken scripts fail with their exact
// "line L, column C" message; hostile scripts end fast at a limit.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "delivery/sieve/checker.h"
#include "delivery/sieve/checker_address.h"
#include "delivery/sieve/extensions.h"
#include "delivery/sieve/lexer.h"
#include "delivery/sieve/parser.h"

namespace ringmail::sieve {
namespace {

absl::StatusOr<checked_script> compile(std::string_view text, const parse_limits& limits = {}) {
  absl::StatusOr<script> parsed = parse_script(text, limits);
  if (!parsed.ok()) return parsed.status();
  return check_script(*parsed);
}

std::string error_of(std::string_view text, const parse_limits& limits = {}) {
  absl::StatusOr<checked_script> r = compile(text, limits);
  if (r.ok()) return "OK";
  return std::string(r.status().message());
}

// ---------------------------------------------------------------- lexer and parser

TEST(SieveLexer, TokensAndPlaces) {
  lexer lex("if :is 10K \"a\\\"b\\\\c\\d\"\n  [ ] ( ) { } ; ,", 1000, 64);
  std::vector<token> tokens;
  for (;;) {
    absl::StatusOr<token> t = lex.next();
    ASSERT_TRUE(t.ok()) << t.status();
    tokens.push_back(*t);
    if (t->kind == token_kind::end) break;
  }
  ASSERT_EQ(tokens.size(), 13u);
  EXPECT_EQ(tokens[0].kind, token_kind::identifier);
  EXPECT_EQ(tokens[0].text, "if");
  EXPECT_EQ(tokens[1].kind, token_kind::tag);
  EXPECT_EQ(tokens[1].text, "is");
  EXPECT_EQ(tokens[1].where, (source_location{1, 4}));
  EXPECT_EQ(tokens[2].kind, token_kind::number);
  EXPECT_EQ(tokens[2].number, 10240u);
  EXPECT_EQ(tokens[3].kind, token_kind::string);
  EXPECT_EQ(tokens[3].text, "a\"b\\cd");  // \d is d (RFC 5228 2.4.2)
  EXPECT_EQ(tokens[4].kind, token_kind::left_bracket);
  EXPECT_EQ(tokens[4].where, (source_location{2, 3}));
  EXPECT_EQ(tokens[11].kind, token_kind::comma);
  EXPECT_EQ(tokens[12].kind, token_kind::end);
}

TEST(SieveLexer, NumbersAndQuantifiers) {
  auto number = [](std::string_view text) -> absl::StatusOr<uint64_t> {
    lexer lex(text, 100, 64);
    absl::StatusOr<token> t = lex.next();
    if (!t.ok()) return t.status();
    return t->number;
  };
  EXPECT_EQ(*number("0"), 0u);
  EXPECT_EQ(*number("1k"), 1024u);
  EXPECT_EQ(*number("1M"), 1048576u);
  EXPECT_EQ(*number("2g"), 2147483648u);
  EXPECT_EQ(*number("18446744073709551615"), 18446744073709551615u);
  EXPECT_EQ(*number("17179869183G"), 17179869183ull << 30);
  EXPECT_FALSE(number("18446744073709551616").ok());
  EXPECT_FALSE(number("17179869184G").ok());
  EXPECT_EQ(number("99999999999999999999999").status().message(),
            "line 1, column 1: number exceeds the integer limit (max 18446744073709551615)");
}

TEST(SieveLexer, MultiLineStringsUnstuffDotsAndEndWithCrlf) {
  absl::StatusOr<script> s = parse_script(
      "keep text: # comment\r\n"
      "line one\n"
      "..two dots\n"
      ".one dot\n"
      "\n"
      ".\n"
      ";");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->commands[0].arguments.size(), 1u);
  EXPECT_EQ(s->commands[0].arguments[0].strings[0].value,
            "line one\r\n.two dots\r\n.one dot\r\n\r\n");
  // An empty multi-line string, and quoted strings keep their line ends as CRLF.
  s = parse_script("keep text:\n.\n \"a\nb\r\nc\";");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->commands[0].arguments[0].strings[0].value, "");
  EXPECT_EQ(s->commands[0].arguments[1].strings[0].value, "a\r\nb\r\nc");
}

TEST(SieveParser, TreeShapeAndLocations) {
  absl::StatusOr<script> s = parse_script(
      "require [\"fileinto\", \"copy\"];\n"
      "if anyof (not exists \"X\", header :is [\"a\",\"b\"] \"c\") {\n"
      "\tfileinto :copy \"box\";\n"
      "} else { stop; }\n");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->commands.size(), 3u);
  const command& require = s->commands[0];
  EXPECT_EQ(require.arguments[0].kind, argument_kind::string_list);
  EXPECT_EQ(require.arguments[0].strings[1].value, "copy");
  EXPECT_EQ(require.arguments[0].strings[1].where, (source_location{1, 22}));
  const command& if_ = s->commands[1];
  EXPECT_EQ(if_.where, (source_location{2, 1}));
  ASSERT_EQ(if_.tests.size(), 1u);
  EXPECT_FALSE(if_.test_list);
  const test& anyof = if_.tests[0];
  EXPECT_EQ(anyof.name, "anyof");
  EXPECT_TRUE(anyof.test_list);
  ASSERT_EQ(anyof.tests.size(), 2u);
  EXPECT_EQ(anyof.tests[0].name, "not");
  EXPECT_EQ(anyof.tests[0].tests[0].name, "exists");
  EXPECT_EQ(anyof.tests[1].where, (source_location{2, 27}));
  EXPECT_EQ(anyof.tests[1].arguments[0].kind, argument_kind::tag);
  EXPECT_EQ(anyof.tests[1].arguments[1].kind, argument_kind::string_list);
  EXPECT_EQ(anyof.tests[1].arguments[2].kind, argument_kind::string);
  ASSERT_TRUE(if_.has_block);
  ASSERT_EQ(if_.block.size(), 1u);
  EXPECT_EQ(if_.block[0].where, (source_location{3, 2}));  // a tab is one column
  EXPECT_EQ(s->commands[2].name, "else");
  EXPECT_EQ(s->commands[2].block[0].name, "stop");
}

// ---------------------------------------------------------------- the RFC examples

struct example {
  const char* source;
  const char* script;
};

const example kExamples[] = {
    {"RFC 5228 2.3 hash comment", "if size :over 100k { # this is a comment\n    discard;\n}\n"},
    {"RFC 5228 2.3 bracket comment",
     "if size :over 100K { /* this is a comment\n    this is still a comment */ discard /* this is a comment\n    */ ;\n}\n"},
    {"RFC 5228 2.4.2.4",
     "require \"encoded-character\";\n"
     "if header :contains \"Subject\" \"$${hex:24 24}\" { discard; }\n"},
    {"RFC 5228 2.5.1",
     "if anyof (not exists [\"From\", \"Date\"],\n"
     "          header :contains \"from\" \"fool@example.com\") {\n    discard;\n}\n"},
    {"RFC 5228 2.6.2",
     "if header :contains :comparator \"i;octet\" \"Subject\"\n    \"MAKE MONEY FAST\" {\n    discard;\n}\n"},
    {"RFC 5228 3.1",
     "if header :contains [\"From\"] [\"coyote\"] {\n   redirect \"acm@example.com\";\n"
     "} elsif header :contains \"Subject\" \"$$$\" {\n   redirect \"postmaster@example.com\";\n"
     "} else {\n   redirect \"field@example.com\";\n}\n"},
    {"RFC 5228 3.2", "require [\"fileinto\", \"reject\"];\n\nrequire \"fileinto\";\nrequire \"vacation\";\n"},
    {"RFC 5228 3.3", "if header :contains \"from\" \"coyote\" { discard; stop; }\nkeep;\n"},
    {"RFC 5228 4.1",
     "require \"fileinto\";\nif header :contains [\"from\"] \"coyote\" {\n   fileinto \"INBOX.harassment\";\n}\n"},
    {"RFC 5228 4.2", "redirect \"bart@example.com\";\n"},
    {"RFC 5228 4.3", "if size :under 1M { keep; } else { discard; }\n"},
    {"RFC 5228 4.4", "if header :contains [\"from\"] [\"idiot@example.com\"] {\n   discard;\n}\n"},
    {"RFC 5228 5.1", "if address :is :all \"from\" \"tim@example.com\" {\n   discard;\n}\n"},
    {"RFC 5228 5.2", "if allof (header :contains \"from\" \"Cream\",\n          header :contains \"from\" \"Tim\") { keep; }\n"},
    {"RFC 5228 5.4", "require \"envelope\";\nif envelope :all :is \"from\" \"tim@example.com\" {\n   discard;\n}\n"},
    {"RFC 5228 5.5", "if not exists [\"From\",\"Date\"] {\n   discard;\n}\n"},
    {"RFC 5228 5.7",
     "if header :is [\"X-Caffeine\"] [\"\"] { discard; }\nif header :contains [\"X-Caffeine\"] [\"\"] { keep; }\n"},
    {"RFC 5228 5.9", "if size :over 500K { discard; }\n"},
    {"RFC 5228 9",
     "#\n# Example Sieve Filter\n# Declare any optional features or extension used by the script\n#\n"
     "require [\"fileinto\"];\n\n"
     "#\n# Handle messages from known mailing lists\n# Move messages from IETF filter discussion list to filter mailbox\n#\n"
     "if header :is \"Sender\" \"owner-ietf-mta-filters@imc.org\"\n        {\n"
     "        fileinto \"filter\";  # move to \"filter\" mailbox\n        }\n"
     "#\n# Keep all messages to or from people in my company\n#\n"
     "elsif address :DOMAIN :is [\"From\", \"To\"] \"example.com\"\n        {\n"
     "        keep;               # keep in \"In\" mailbox\n        }\n\n"
     "#\n# Try and catch unsolicited email.  If a message is not to me,\n"
     "# or it contains a subject known to be used by spammers, reject it.\n"
     "# Make sure that the message is not reported as being spam.\n#\n"
     "elsif anyof (NOT address :all :contains\n               [\"To\", \"Cc\", \"Bcc\"] \"me@example.com\",\n"
     "             header :matches \"subject\"\n               [\"*make*money*fast*\", \"*university*dipl*mas*\"])\n"
     "        {\n        fileinto \"spam\";   # move to \"spam\" mailbox\n        }\n"
     "else\n        {\n        # Move all other (non-company) mail to \"personal\"\n"
     "        # mailbox.\n        fileinto \"personal\";\n        }\n"},
    {"RFC 3894 copy",
     "require [\"copy\", \"fileinto\"];\nredirect :copy \"sieve-admin@example.com\";\nfileinto :copy \"incoming\";\n"},
    {"RFC 5429 reject", "require [\"reject\"];\nif size :over 100M {\n  reject text:\nYour message is too big.\n.\n;\n}\n"},
    {"RFC 5429 ereject", "require [\"ereject\"];\nif address :domain \"from\" \"spam.example\" { ereject \"No thanks\"; }\n"},
    {"RFC 5232 imap4flags 1",
     "require [\"imap4flags\", \"fileinto\"];\n"
     "if header :contains \"from\" \"boss@frobnitzm.example.edu\"\n{\n"
     "    setflag \"\\\\Flagged\";\n    fileinto :flags \"\\\\Deleted\" \"INBOX.From Boss\";\n}\n"},
    {"RFC 5232 imap4flags 2",
     "require [\"imap4flags\", \"fileinto\", \"variables\"];\n"
     "if size :over 1M\n{\n    addflag \"MyFlags\" \"Big\";\n"
     "    if header :is \"From\" \"boss@company.example.com\"\n    {\n"
     "        # The message will be marked as \"\\Flagged Big\" when filed into mailbox \"Big messages\"\n"
     "        addflag \"MyFlags\" \"\\\\Flagged\";\n    }\n"
     "    fileinto :flags \"${MyFlags}\" \"Big messages\";\n}\n"
     "if hasflag :contains \"MyVar\" \"Junk\" { discard; }\n"
     "removeflag \"MyFlags\" \"Big\";\nkeep :flags [\"\\\\Seen\", \"$Label1\"];\n"},
    {"RFC 5232 hasflag relational",
     "require [\"imap4flags\", \"relational\", \"comparator-i;ascii-numeric\"];\n"
     "if hasflag :count \"ge\" :comparator \"i;ascii-numeric\" \"2\" { keep; }\n"},
    {"RFC 5230 vacation 1",
     "require \"vacation\";\nif header :contains \"subject\" \"cyrus\" {\n"
     "    vacation \"I'm out -- send mail to cyrus-bugs\";\n} else {\n"
     "    vacation \"I'm out -- call me at 321-1234\";\n}\n"},
    {"RFC 5230 vacation 2",
     "require \"vacation\";\nvacation :days 23 :addresses [\"tjs@example.edu\",\n"
     "                                \"ts4z@landru.example.edu\"]\n"
     "   \"I'm away until October 19.  If it's an emergency, call 911, I guess.\" ;\n"},
    {"RFC 5230 vacation mime",
     "require \"vacation\";\nvacation :mime text:\n"
     "Content-Type: multipart/alternative; boundary=foo\n\n--foo\n\nI'm at the beach relaxing.  Mmmm, surf...\n\n"
     "--foo\nContent-Type: text/html; charset=us-ascii\n\n<HTML><BODY><P>I'm at the beach.</BODY></HTML>\n\n--foo--\n.\n;\n"},
    {"RFC 5230 vacation handle",
     "require \"vacation\";\nif header :contains \"subject\" \"lunch\" {\n"
     "    vacation :handle \"ran-away\" \"I'm out and can't meet for lunch\";\n} else {\n"
     "    vacation :handle \"ran-away\" \"I'm out\";\n}\n"
     "vacation :subject \"Gone Fishing\" :from \"myaddress@example.com\" \"I'm out\";\n"},
    {"RFC 6131 vacation-seconds",
     "require [\"vacation-seconds\"];\nvacation :seconds 1800 :handle \"auto\" \"I am in a meeting\";\n"},
    {"RFC 5229 variables 1",
     "require [\"variables\", \"fileinto\"];\nif header :matches \"List-ID\" \"*<*@*\" {\n"
     "    fileinto \"INBOX.lists.${2}\"; stop;\n}\n"},
    {"RFC 5229 variables 2",
     "require \"variables\";\nset \"honorific\"  \"Mr\";\nset \"first_name\" \"Wile\";\nset \"last_name\"  \"Coyote\";\n"
     "set \"vacation\" text:\nDear ${HONORIFIC} ${last_name},\nI'm out, please leave a message after the meep.\n.\n;\n"
     "set \"a\" \"juMBlEd lETteRS\";\nset :length \"b\" \"${a}\";\nset :lower \"b\" \"${a}\";\n"
     "set :upperfirst \"b\" \"${a}\";\nset :upperfirst :lower \"b\" \"${a}\";\nset :quotewildcard \"b\" \"Rock*\";\n"},
    {"RFC 5229 string",
     "require \"variables\";\nset \"state\" \"${state} pending\";\n"
     "if string :matches \" ${state} \" \"* pending *\" {\n    # the above test always succeeds\n}\n"},
    {"RFC 5231 relational",
     "require [\"relational\", \"comparator-i;ascii-numeric\", \"fileinto\"];\n"
     "if header :value \"lt\" :comparator \"i;ascii-numeric\"\n          [\"x-priority\"] [\"3\"]\n{\n   fileinto \"Priority\";\n}\n"
     "elsif address :count \"gt\" :comparator \"i;ascii-numeric\"\n          [\"to\"] [\"5\"]\n{\n"
     "   # everything with more than 5 recipients in the \"to\" field\n   # is considered SPAM\n   fileinto \"SPAM\";\n}\n"
     "elsif address :value \"gt\" :all :comparator \"i;ascii-casemap\"\n          [\"from\"] [\"M\"]\n{\n   fileinto \"From N-Z\";\n"
     "} else {\n   fileinto \"From A-M\";\n}\n"
     "if allof ( address :count \"eq\" :comparator \"i;ascii-numeric\"\n                [\"to\", \"cc\"] [\"1\"] ,\n"
     "           address :all :comparator \"i;ascii-casemap\"\n                [\"to\", \"cc\"] [\"me@foo.example.com\"] )\n"
     "{\n   fileinto \"Only me\";\n}\n"},
    {"RFC 5233 subaddress",
     "require [\"envelope\", \"subaddress\", \"fileinto\"];\n"
     "if envelope :user \"to\" \"postmaster\" {\n    fileinto \"inbox.postmaster\";\n    stop;\n}\n"
     "if envelope :detail :is \"to\" \"mta-filters\" {\n    fileinto \"inbox.ietf-mta-filters\";\n    stop;\n}\n"
     "if address :detail \"to\" \"\" { keep; }\n"},
    {"RFC 5173 body",
     "require [\"body\", \"fileinto\"];\n"
     "if body :raw :contains \"MAKE MONEY FAST\" {\n        discard;\n}\n"
     "if body :content \"text\" :contains [\"missile\", \"coordinates\"] {\n        fileinto \"secrets\";\n}\n"
     "if body :content \"audio/mp3\" :contains \"\" {\n        fileinto \"jukebox\";\n}\n"
     "if body :text :contains \"project schedule\" {\n        fileinto \"project/schedule\";\n}\n"},
    {"RFC 5260 date 1",
     "require [\"date\", \"relational\", \"fileinto\"];\n"
     "if allof(header :is \"from\" \"boss@example.com\",\n"
     "         date :value \"ge\" :originalzone \"date\" \"hour\" \"09\",\n"
     "         date :value \"lt\" :originalzone \"date\" \"hour\" \"17\")\n{ fileinto \"urgent\"; }\n"},
    {"RFC 5260 date 2",
     "require [\"date\", \"relational\", \"vacation\"];\n"
     "if allof(currentdate :value \"ge\" \"date\" \"2007-06-30\",\n"
     "         currentdate :value \"le\" \"date\" \"2007-07-07\")\n"
     "{ vacation :days 7  \"I'm away during the first week in July.\"; }\n"},
    {"RFC 5260 date 3",
     "require [\"date\", \"variables\", \"fileinto\"];\n"
     "if currentdate :matches \"month\" \"*\" { set \"month\" \"${1}\"; }\n"
     "if currentdate :matches \"year\"  \"*\" { set \"year\"  \"${1}\"; }\n"
     "fileinto \"${month}-${year}\";\n"},
    {"RFC 5260 date 4",
     "require [\"variables\", \"date\", \"editheader\"];\n"
     "if currentdate :matches \"std11\" \"*\"\n  {addheader \"Processing-date\" \"${0}\";}\n"},
    {"RFC 5260 index",
     "require [\"date\", \"relational\", \"index\"];\n"
     "if date :value \"gt\" :index 2 :zone \"-0500\" \"received\"\n"
     "        \"iso8601\" \"2007-02-26T09:00:00-05:00\"\n{ redirect \"aftercutoff@example.org\"; }\n"
     "if header :index 1 :last :is \"received\" \"x\" { keep; }\n"},
    {"RFC 5293 editheader",
     "require [\"editheader\", \"variables\"];\n"
     "if not header :contains \"X-Sieve-Filtered\"\n        [\"<kim@job.example.com>\", \"<kim@home.example.com>\"]\n{\n"
     "        addheader \"X-Sieve-Filtered\" \"<kim@job.example.com>\";\n        redirect \"kim@home.example.com\";\n}\n"
     "deleteheader :index 1 :is \"Delivered-To\"\n                         \"bob@example.com\";\n"
     "if header :matches \"Subject\" \"*\" { set \"subject\" \"${1}\"; }\n"
     "deleteheader \"Subject\";\naddheader :last \"Subject\" \"[FILTERED] ${subject}\";\n"
     "deleteheader :matches \"X-Spam-Level\" \"*\";\n"},
    {"RFC 5490 mailbox",
     "require [\"mailbox\", \"fileinto\"];\nfileinto :create \"INBOX.Lists\";\n"
     "if mailboxexists \"Partners\" { fileinto \"Partners\"; }\n"},
    {"RFC 6609 include 1",
     "require [\"include\"];\ninclude :personal \"always_allow\";\ninclude :global \"spam_tests\";\n"
     "include :personal \"spam_tests\";\ninclude :personal \"mailing_lists\";\n"},
    {"RFC 6609 include 2",
     "require [\"variables\", \"include\", \"relational\"];\nglobal \"test\";\nglobal \"test_mailbox\";\n"
     "set \"test\" \"$$\";\ninclude \"subscript1\";\ninclude :once :optional \"subscript2\";\n"
     "set \"global.i_am_on_vacation\" \"1\";\nif string :count \"eq\" \"${test}\" \"1\" { return; }\n"},
    {"RFC 5235 spamtest",
     "require [\"spamtest\", \"fileinto\", \"relational\", \"comparator-i;ascii-numeric\"];\n"
     "if spamtest :value \"eq\" :comparator \"i;ascii-numeric\" \"0\"\n{\n    fileinto \"INBOX.unclassified\";\n}\n"
     "elsif spamtest :value \"ge\" :comparator \"i;ascii-numeric\" \"3\"\n{\n    fileinto \"INBOX.spam-trap\";\n}\n"},
    {"RFC 5235 spamtestplus",
     "require [\"spamtestplus\", \"fileinto\", \"relational\", \"comparator-i;ascii-numeric\"];\n"
     "if spamtest :percent :value \"eq\" :comparator \"i;ascii-numeric\" \"0\"\n{\n    fileinto \"INBOX.unclassified\";\n}\n"
     "elsif spamtest :percent :value \"ge\" :comparator \"i;ascii-numeric\" \"50\"\n{\n    fileinto \"INBOX.spam-trap\";\n}\n"},
    {"RFC 7352 duplicate",
     "require [\"duplicate\", \"fileinto\", \"variables\", \"imap4flags\"];\n"
     "if duplicate {\n  discard;\n}\n"
     "if header :matches \"subject\" \"ALERT: *\" {\n  if duplicate :seconds 60 :uniqueid \"${1}\" {\n"
     "    setflag \"\\\\seen\";\n  }\n  fileinto \"Alerts\";\n}\n"
     "if duplicate :header \"message-id\" :handle \"notify\" :last { keep; }\n"},
    {"RFC 5183 environment",
     "require \"environment\";\nif environment :contains \"item\" \"value\" { keep; }\n"
     "if environment :is \"location\" \"MS\" { discard; }\n"},
    {"regex (Pigeonhole)",
     "require [\"regex\", \"fileinto\", \"variables\"];\n"
     "if header :regex \"subject\" \"^\\\\[(.*)\\\\]\" { fileinto \"lists.${1}\"; }\n"},
    {"Pigeonhole spam filter (ISPmail guide)",
     "require [\"fileinto\",\"mailbox\"];\n"
     "if header :contains \"X-Spam-Flag\" \"YES\" {\n  fileinto :create \"Junk\";\n  stop;\n}\n"},
};

TEST(SieveExamples, EveryRfcExampleParsesAndChecks) {
  // Each was also compiled with Pigeonhole's sievec 0.5.19 (Debian 12), which accepts
  // them all (ereject and include need configuration there).
  for (const example& e : kExamples) {
    absl::StatusOr<checked_script> r = compile(e.script);
    EXPECT_TRUE(r.ok()) << e.source << ": " << r.status();
  }
}

TEST(SieveExamples, FuzzSeedsCheck) {
  // fuzz/seeds/sieve_parser_fuzz: one flag byte (bit 0: small limits), then a script.
  const std::filesystem::path dir =
      std::filesystem::path(RINGMAIL_SOURCE_DIR) / "fuzz/seeds/sieve_parser_fuzz";
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(bytes.empty());
    if (bytes[0] & 1) continue;
    ++seen;
    EXPECT_EQ(error_of(std::string_view(bytes).substr(1)), "OK") << entry.path();
  }
  EXPECT_GE(seen, 4);
}

TEST(SieveExamples, DifferentialScriptsCheck) {
  // tests/sieve/scripts: the scripts issue 14's differential runs through Pigeonhole
  // (every extension); each must compile here too.
  const std::filesystem::path dir = std::filesystem::path(RINGMAIL_SOURCE_DIR) / "tests/sieve";
  int seen = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".sieve") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++seen;
    EXPECT_EQ(error_of(bytes), "OK") << entry.path();
  }
  EXPECT_GE(seen, 30);
}

// ---------------------------------------------------------------- the checked tree

TEST(SieveChecker, ResolvesTagsSlotsAndExtensions) {
  absl::StatusOr<checked_script> r = compile(
      "require [\"fileinto\", \"imap4flags\", \"copy\", \"relational\", \"vacation-seconds\",\n"
      "         \"comparator-i;ascii-numeric\", \"subaddress\", \"variables\"];\n"
      "if address :detail :count \"GE\" :comparator \"i;ascii-numeric\" \"to\" \"2\" {\n"
      "  fileinto :flags [\"\\\\Seen\"] :copy \"Box\";\n"
      "}\n"
      "setflag \"\\\\Flagged\";\n"
      "setflag \"var\" [\"a\", \"b\"];\n"
      "vacation :seconds 60 \"away\";\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(has(r->extensions, extension::vacation));  // implied by vacation-seconds
  EXPECT_FALSE(has(r->extensions, extension::body));
  ASSERT_EQ(r->commands.size(), 4u);  // require is dropped
  const checked_command& if_ = r->commands[0];
  EXPECT_EQ(if_.id, command_id::if_);
  ASSERT_EQ(if_.test.size(), 1u);
  const checked_test& address = if_.test[0];
  EXPECT_EQ(address.id, test_id::address);
  EXPECT_EQ(address.arguments.part, address_part::detail);
  EXPECT_EQ(address.arguments.match, match_type::count);
  EXPECT_EQ(address.arguments.relational, relation::ge);
  EXPECT_EQ(address.arguments.compare, comparator::i_ascii_numeric);
  ASSERT_EQ(address.arguments.positional.size(), 2u);
  EXPECT_EQ(address.arguments.positional[0].kind, value_kind::string_list);
  EXPECT_EQ(address.arguments.positional[0].strings, std::vector<std::string>{"to"});
  const checked_command& fileinto = if_.block[0];
  EXPECT_EQ(fileinto.id, command_id::fileinto);
  ASSERT_NE(fileinto.arguments.find(tag_id::flags), nullptr);
  EXPECT_EQ(fileinto.arguments.find(tag_id::flags)->parameter.strings,
            std::vector<std::string>{"\\Seen"});
  EXPECT_NE(fileinto.arguments.find(tag_id::copy), nullptr);
  EXPECT_EQ(fileinto.arguments.find(tag_id::create), nullptr);
  EXPECT_EQ(fileinto.arguments.positional[0].string(), "Box");
  EXPECT_EQ(fileinto.arguments.positional[0].where, (source_location{4, 36}));
  // setflag [<variablename>] <flags>: the optional slot is empty or filled.
  EXPECT_EQ(r->commands[1].arguments.positional[0].kind, value_kind::none);
  EXPECT_EQ(r->commands[1].arguments.positional[1].strings, std::vector<std::string>{"\\Flagged"});
  EXPECT_EQ(r->commands[2].arguments.positional[0].string(), "var");
  EXPECT_EQ(r->commands[2].arguments.positional[1].strings, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r->commands[3].arguments.find(tag_id::seconds)->parameter.number, 60u);
  // Defaults where the script names none.
  absl::StatusOr<checked_script> plain = compile("if header \"a\" \"b\" { keep; }");
  ASSERT_TRUE(plain.ok());
  const checked_arguments& h = plain->commands[0].test[0].arguments;
  EXPECT_EQ(h.compare, comparator::i_ascii_casemap);
  EXPECT_FALSE(h.compare_given);
  EXPECT_EQ(h.match, match_type::is);
  EXPECT_EQ(h.part, address_part::all);
}

TEST(SieveChecker, EncodedCharactersDecodedOnlyWhenRequired) {
  const std::string body = "if header :is \"x\" \"${hex:40}${unicode:E9}$${hex:24 24}${hex:4${hex:30}}\" { keep; }";
  absl::StatusOr<checked_script> on = compile("require \"encoded-character\";\n" + body);
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_EQ(on->commands[0].test[0].arguments.positional[1].string(), "@\xC3\xA9$$$${hex:40}");
  absl::StatusOr<checked_script> off = compile(body);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->commands[0].test[0].arguments.positional[1].string(),
            "${hex:40}${unicode:E9}$${hex:24 24}${hex:4${hex:30}}");
  // RFC 5228 2.4.2.4's table, through the checker (the decoder itself is tested with the
  // match library, delivery/sieve/encoded_character.h).
  struct row { const char* in; const char* out; };
  for (const row& r : {row{"${HEX: 40}", "@"}, row{"${hex:40", "${hex:40"},
                       row{"${hex:400}", "${hex:400}"}, row{"${ unicode:40}", "${ unicode:40}"},
                       row{"${UNICODE:40}", "@"}, row{"${UnICoDE:0000040}", "@"},
                       row{"${Unicode:Cool}", "${Unicode:Cool}"},
                       row{"${unicode:1F600}", "\xF0\x9F\x98\x80"}}) {
    absl::StatusOr<checked_script> c = compile(absl::StrCat(
        "require [\"encoded-character\", \"imap4flags\"];\nkeep :flags \"", r.in, "\";"));
    ASSERT_TRUE(c.ok()) << r.in << ": " << c.status();
    EXPECT_EQ(c->commands[0].arguments.find(tag_id::flags)->parameter.string(), r.out) << r.in;
  }
  EXPECT_EQ(error_of("require \"encoded-character\";\nredirect \"${unicode:200000}@b\";"),
            "line 2, column 10: encoded-character: ${unicode:200000} is not a Unicode scalar value");
}

TEST(SieveChecker, RedirectAndVacationFromAreMailboxes) {
  // Each verdict is Pigeonhole's (sievec 0.5.19 on "redirect \"...\";").
  struct row { const char* address; const char* result; };
  const row rows[] = {
      {"a@b", "a@b"},
      {"<a@b>", "a@b"},
      {"Name <a@b>", "a@b"},
      {"\"q l\"@b.example", "\"q l\"@b.example"},
      {"a@[1.2.3.4]", "a@[1.2.3.4]"},
      {"a..b@c", "a..b@c"},
      {".a@c", ".a@c"},
      {" a@b ", "a@b"},
      {"a@b (comment)", "a@b"},
      {"a@b\xC3\xBC", "a@b\xC3\xBC"},
      {"a+x@b_c", "a+x@b_c"},
      {"a@[ipv6:::1]", "a@[ipv6:::1]"},
      {"a@b.", "invalid or missing domain"},
      {"a@b..c", "invalid or missing domain"},
      {"a@", "invalid or missing domain"},
      {"@b", "invalid local part"},
      {"a@b c", "invalid or missing domain"},
      {"a b@c", "invalid local part"},
      {"a@b, c@d", "not a single address (found ',')"},
      {"", "empty address"},
      {"nobody", "missing '@'"},
      {"Name <a@b", "missing '>'"},
      {"a@b (open", "unclosed comment"},
  };
  for (const row& r : rows) {
    absl::StatusOr<std::string> parsed = parse_mailbox(r.address);
    EXPECT_EQ(parsed.ok() ? *parsed : std::string(parsed.status().message()), r.result) << r.address;
  }
  EXPECT_EQ(error_of("redirect \"not an address\";"),
            "line 1, column 10: the address \"not an address\" of the redirect command is invalid: missing '@'");
  EXPECT_EQ(error_of("require \"vacation\";\nvacation :from \"bad address\" \"x\";"),
            "line 2, column 16: the address \"bad address\" of the :from of the vacation command is invalid: missing '@'");
  EXPECT_EQ(error_of("require \"variables\";\nredirect \"${to}\";"), "OK");  // known at run time
}

TEST(SieveChecker, WarningsForHeaderNamesThatCannotBe) {
  absl::StatusOr<checked_script> r = compile("if exists [\"a\", \"a:b\"] {}\nif header \"a b\" \"x\" {}");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_EQ(r->warnings[0].message,
            "line 1, column 11: \"a:b\" is not a header field name (the exists test will not match it)");
  EXPECT_EQ(r->warnings[1].message,
            "line 2, column 11: \"a b\" is not a header field name (the header test will not match it)");
  // Names built from variables are only known at run time.
  r = compile("require \"variables\";\nif exists \"${a b}\" {}");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->warnings.empty());
}

TEST(SieveChecker, WarningsForInvalidImapFlags) {
  absl::StatusOr<checked_script> r = compile(
      "require [\"imap4flags\", \"fileinto\", \"variables\"];\n"
      "setflag \"\\\\Seen $Label1 \\\\Foo\";\n"
      "fileinto :flags [\"\\\\Flagged\", \"a(b\"] \"x\";\n"
      "addflag [\"\\\\Answered \\\\deleted\", \"\\\\DRAFT\", \"${var}\"];\n"
      "removeflag \"\\\\Recent\";\n");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->warnings.size(), 3u);
  EXPECT_EQ(r->warnings[0].message, "line 2, column 9: \"\\Foo\" is not an IMAP flag (the setflag command will ignore it)");
  EXPECT_EQ(r->warnings[1].message, "line 3, column 17: \"a(b\" is not an IMAP flag (the fileinto command will ignore it)");
  EXPECT_EQ(r->warnings[2].message, "line 5, column 12: \"\\Recent\" is not an IMAP flag (the removeflag command will ignore it)");
}

TEST(SieveChecker, CompileScriptAndCapabilities) {
  EXPECT_TRUE(compile_script("keep;").ok());
  EXPECT_EQ(compile_script("keep").status().message(),
            "line 1, column 5: expected ';' or '{' after the command 'keep', but found end of script");
  EXPECT_EQ(compile_script("fileinto \"x\";").status().message(),
            "line 1, column 1: the fileinto command needs require \"fileinto\"");
  const std::string capabilities = capability_string();
  EXPECT_TRUE(absl::StartsWith(capabilities, "fileinto reject ereject envelope")) << capabilities;
  EXPECT_TRUE(absl::EndsWith(capabilities, "editheader regex copy")) << capabilities;
  // Every listed capability is accepted by require.
  std::string require = "require [";
  for (size_t i = 0, start = 0; i <= capabilities.size(); ++i) {
    if (i == capabilities.size() || capabilities[i] == ' ') {
      require += (start == 0 ? "\"" : ", \"") + capabilities.substr(start, i - start) + "\"";
      start = i + 1;
    }
  }
  EXPECT_EQ(error_of(require + "];"), "OK") << require;
}

TEST(SieveChecker, WarningsForUnknownDatePartAndZone) {
  absl::StatusOr<checked_script> r = compile(
      "require \"date\";\nif date :zone \"bla\" \"date\" \"foo\" \"x\" { keep; }");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_EQ(r->warnings[0].message, "line 2, column 28: unknown date part \"foo\" (the date test will not match)");
  EXPECT_EQ(r->warnings[1].message,
            "line 2, column 15: \"bla\" is not a time zone like \"+0100\" (the date test)");
}

// ---------------------------------------------------------------- broken scripts

struct broken {
  const char* script;
  const char* message;
};

const broken kBroken[] = {
    // Lexical errors.
    {"keep \"abc", "line 1, column 6: quoted string is not closed before the end of the script"},
    {"keep /* foo", "line 1, column 6: bracket comment ('/* ... */') is not closed before the end of the script"},
    {"keep text:\nfoo\n", "line 1, column 6: multi-line string is not closed before the end of the script (a line of a single '.' ends it)"},
    {"keep text:\nfoo\n.", "line 1, column 6: multi-line string is not closed before the end of the script (a line of a single '.' ends it)"},
    {"keep text: x\nfoo\n.\n;", "line 1, column 12: unexpected character 'x' after 'text:' (a line end must follow)"},
    {"keep $;", "line 1, column 6: unexpected character '$'"},
    {"keep :1;", "line 1, column 6: ':' must be followed by a tag name (a letter or '_')"},
    {"keep \"a\rb\";", "line 1, column 8: carriage return (CR) without line feed in quoted string"},
    {"if size :over 99999999999999999G { keep; }", "line 1, column 15: number exceeds the integer limit (max 18446744073709551615)"},
    // Grammar errors.
    {"keep", "line 1, column 5: expected ';' or '{' after the command 'keep', but found end of script"},
    {"keep; }", "line 1, column 7: expected a command, but found '}'"},
    {";", "line 1, column 1: expected a command, but found ';'"},
    {"\"x\";", "line 1, column 1: expected a command, but found string"},
    {"if true { keep;", "line 1, column 16: expected a command or '}' to close the block opened at line 1, column 9, but found end of script"},
    {"keep [];", "line 1, column 7: expected a string in the string list opened at line 1, column 6, but found ']'"},
    {"keep [\"a\",];", "line 1, column 11: expected a string in the string list opened at line 1, column 6, but found ']'"},
    {"keep [\"a\" \"b\"];", "line 1, column 11: expected ',' or ']' in the string list opened at line 1, column 6, but found string"},
    {"if anyof () { }", "line 1, column 11: expected a test in the test list of 'anyof' opened at line 1, column 10, but found ')'"},
    {"if anyof (true; false) { }", "line 1, column 15: expected ',' or ')' in the test list of 'anyof' opened at line 1, column 10, but found ';'"},
    // "true false" is the test true with the sub-test false (arguments = *argument [test]).
    {"if anyof (true false) { }", "line 1, column 11: the true test takes no test"},
    {"if true keep;", "line 1, column 1: the if command needs a block"},  // keep is a sub-test of true
    // require.
    {"require \"foo\";", "line 1, column 9: require: unknown capability \"foo\""},
    {"require [\"fileinto\", \"Fileinto\"];", "line 1, column 22: require: unknown capability \"Fileinto\""},
    {"keep;\nrequire \"fileinto\";", "line 2, column 1: require is only allowed at the start of the script, before any other command"},
    {"if true { require \"fileinto\"; }", "line 1, column 11: require is only allowed at the start of the script, before any other command"},
    {"require :is \"x\";", "line 1, column 1: the require command takes one string list of capabilities"},
    // Unknown or unrequired commands and tests.
    {"bar;", "line 1, column 1: unknown command 'bar'"},
    {"if foo { keep; }", "line 1, column 4: unknown test 'foo'"},
    {"fileinto \"x\";", "line 1, column 1: the fileinto command needs require \"fileinto\""},
    {"if envelope \"to\" \"x\" { }", "line 1, column 4: the envelope test needs require \"envelope\""},
    {"require \"vacation\";\nsetflag \"x\";", "line 2, column 1: the setflag command needs require \"imap4flags\""},
    // if / elsif / else, blocks and tests.
    {"elsif true { keep; }", "line 1, column 1: the elsif command must follow an if or elsif command"},
    {"if true { keep; }\nkeep;\nelse { keep; }", "line 3, column 1: the else command must follow an if or elsif command"},
    {"if true {} else {} else {}", "line 1, column 20: the else command must follow an if or elsif command"},
    {"if true;", "line 1, column 1: the if command needs a block"},
    {"keep {\n}", "line 1, column 1: the keep command takes no block (end it with ';')"},
    {"if { keep; }", "line 1, column 1: the if command needs a test"},
    {"if (true) { keep; }", "line 1, column 1: the if command needs one test, but a test list was given"},
    {"if allof true { keep; }", "line 1, column 4: the allof test needs a test list \"( ... )\", but a single test was given"},
    {"if not (true) { keep; }", "line 1, column 4: the not test needs one test, but a test list was given"},
    {"if true false { }", "line 1, column 4: the true test takes no test"},
    {"keep true;", "line 1, column 1: the keep command takes no test"},
    // Tags.
    {"require \"fileinto\";\nfileinto :copy \"x\";", "line 2, column 10: the tag ':copy' of the fileinto command needs require \"copy\""},
    {"require [\"fileinto\", \"copy\"];\nfileinto :copy :copy \"x\";", "line 2, column 16: duplicate tag ':copy' for the fileinto command"},
    {"if header :foo \"a\" \"b\" { }", "line 1, column 11: unknown tag ':foo' for the header test"},
    {"if header :regex \"a\" \"b\" { }", "line 1, column 11: the tag ':regex' of the header test needs require \"regex\""},
    {"if header :count \"ge\" \"a\" \"b\" { }", "line 1, column 11: the tag ':count' of the header test needs require \"relational\""},
    {"if header :is :contains \"a\" \"b\" { }", "line 1, column 15: tags ':is' and ':contains' of the header test exclude each other (one MATCH-TYPE)"},
    {"if address :localpart :domain \"from\" \"b\" { }", "line 1, column 23: tags ':localpart' and ':domain' of the address test exclude each other (one ADDRESS-PART)"},
    {"if address :user \"from\" \"b\" { }", "line 1, column 12: the tag ':user' of the address test needs require \"subaddress\""},
    {"if header :index 1 \"a\" \"b\" { }", "line 1, column 11: the tag ':index' of the header test needs require \"index\""},
    {"require \"index\";\nif header :last \"a\" \"b\" { }", "line 2, column 11: the tag ':last' of the header test needs the :index tag too"},
    {"require \"index\";\nif header :index 0 \"a\" \"b\" { }", "line 2, column 18: the :index of the header test counts from 1, so it cannot be 0"},
    {"require \"index\";\nif header :index \"1\" \"a\" \"b\" { }", "line 2, column 11: the tag ':index' of the header test needs a number after it"},
    {"if header \"a\" \"b\" :is { }", "line 1, column 19: the tag ':is' comes after the positional arguments of the header test (tags come first)"},
    {"if size 100 { }", "line 1, column 4: the size test needs :over or :under"},
    {"if size :over :under 100 { }", "line 1, column 15: tags ':over' and ':under' of the size test exclude each other (one :over/:under)"},
    {"require [\"vacation\", \"vacation-seconds\"];\nvacation :days 1 :seconds 3 \"x\";", "line 2, column 18: tags ':days' and ':seconds' of the vacation command exclude each other (one :days/:seconds)"},
    {"require \"vacation\";\nvacation :seconds 3 \"x\";", "line 2, column 10: the tag ':seconds' of the vacation command needs require \"vacation-seconds\""},
    {"require \"spamtest\";\nif spamtest :percent \"3\" { }", "line 2, column 13: the tag ':percent' of the spamtest test needs require \"spamtestplus\""},
    {"require \"duplicate\";\nif duplicate :header \"x\" :uniqueid \"y\" { }", "line 2, column 26: tags ':header' and ':uniqueid' of the duplicate test exclude each other (one :header/:uniqueid)"},
    {"require \"include\";\ninclude :personal :global \"ab\";", "line 2, column 19: tags ':personal' and ':global' of the include command exclude each other (one :personal/:global)"},
    {"require \"variables\";\nset :lower :upper \"a\" \"x\";", "line 2, column 12: tags ':lower' and ':upper' of the set command exclude each other (one :lower/:upper)"},
    // Positional arguments.
    {"if header :is \"a\" { }", "line 1, column 4: the header test takes 2 positional arguments, but 1 was given"},
    {"if header :is \"a\" \"b\" \"c\" { }", "line 1, column 4: the header test takes 2 positional arguments, but 3 were given"},
    {"redirect \"a\" \"b\";", "line 1, column 1: the redirect command takes 1 positional argument, but 2 were given"},
    {"redirect 5;", "line 1, column 10: argument 1 (address) of the redirect command must be a string, but a number was given"},
    {"require \"fileinto\";\nfileinto [\"x\"];", "line 2, column 10: argument 1 (mailbox) of the fileinto command must be a string, but a string list was given"},
    {"if size :over \"1\" { }", "line 1, column 15: argument 1 (limit) of the size test must be a number, but a string was given"},
    {"stop 1;", "line 1, column 1: the stop command takes 0 positional arguments, but 1 was given"},
    {"require \"editheader\";\ndeleteheader;", "line 2, column 1: the deleteheader command takes 1 or 2 positional arguments, but 0 were given"},
    // Comparators and relations.
    {"if header :comparator \"x\" \"a\" \"b\" { }", "line 1, column 23: unknown comparator \"x\""},
    {"if header :comparator \"i;ascii-numeric\" \"a\" \"b\" { }", "line 1, column 23: the comparator \"i;ascii-numeric\" of the header test needs require \"comparator-i;ascii-numeric\""},
    {"require \"comparator-i;ascii-numeric\";\nif header :contains :comparator \"i;ascii-numeric\" \"a\" \"b\" { }", "line 2, column 4: the comparator i;ascii-numeric cannot do the substring matching of the match type of the header test"},
    {"require \"relational\";\nif header :count \"foo\" \"a\" \"b\" { }", "line 2, column 18: the :count match type needs one of \"gt\", \"ge\", \"lt\", \"le\", \"eq\" or \"ne\", but \"foo\" was given"},
    // What the extensions ask for.
    {"require \"variables\";\nset \"1a\" \"x\";", "line 2, column 5: invalid variable name \"1a\" for the set command"},
    {"require \"variables\";\nset \"a.b\" \"x\";", "line 2, column 5: invalid variable name \"a.b\" for the set command"},
    {"require \"include\";\nglobal \"x\";", "line 2, column 1: the global command needs require \"variables\" too"},
    {"require \"imap4flags\";\nsetflag \"var\" \"x\";", "line 2, column 9: the setflag command takes a variable name only with require \"variables\""},
    {"require \"imap4flags\";\nif hasflag \"a\" \"b\" { }", "line 2, column 12: the hasflag test takes a variable list only with require \"variables\""},
    {"require \"editheader\";\naddheader \"bad name\" \"x\";", "line 2, column 11: \"bad name\" is not a header field name (the addheader command)"},
    {"require \"editheader\";\ndeleteheader \"a:b\";", "line 2, column 14: \"a:b\" is not a header field name (the deleteheader command)"},
    {"require \"fileinto\";\nfileinto \"\xff\xfe\";", "line 2, column 10: the mailbox name of the fileinto command is not valid UTF-8"},
    {"require \"include\";\ninclude \"a/b\";", "line 2, column 9: invalid script name \"a/b\" for the include command"},
    {"require \"encoded-character\";\nif header :is \"x\" \"${unicode:D800}\" { }", "line 2, column 19: encoded-character: ${unicode:D800} is not a Unicode scalar value"},
};

TEST(SieveBroken, EachScriptFailsWithItsExactMessage) {
  for (const broken& b : kBroken) {
    EXPECT_EQ(error_of(b.script), b.message) << b.script;
  }
  // NUL octets anywhere are refused (the grammar excludes %x00).
  EXPECT_EQ(error_of(std::string_view("keep \"a\0b\";", 11)), "line 1, column 8: NUL character in quoted string");
  EXPECT_EQ(error_of(std::string_view("keep; # a\0\n", 11)), "line 1, column 10: NUL character in hash comment");
  EXPECT_EQ(error_of(std::string_view("/* \0 */", 7)), "line 1, column 4: NUL character in bracket comment");
  EXPECT_EQ(error_of(std::string_view("keep text:\na\0\n.\n;", 17)), "line 2, column 2: NUL character in multi-line string");
  EXPECT_EQ(error_of(std::string_view("keep;\0", 6)), "line 1, column 6: unexpected character 0x00");
}

TEST(SieveBroken, IdentifiersAreCaseInsensitiveCapabilitiesAreNot) {
  EXPECT_EQ(error_of("IF TRUE { KEEP; } ELSE { Discard; }"), "OK");
  EXPECT_EQ(error_of("if header :IS :Comparator \"i;octet\" \"a\" \"b\" { }"), "OK");
  EXPECT_EQ(error_of("if true {} elsif false {} else {}"), "OK");
  EXPECT_EQ(error_of("if true {}\r\nif false {}\r\n"), "OK");
  EXPECT_EQ(error_of(""), "OK");
  EXPECT_EQ(error_of("# only a comment without a line end"), "OK");
}

// ---------------------------------------------------------------- hostile scripts

template <typename F>
double seconds_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(SieveHostile, DeepNestingIsRefusedAtTheLimit) {
  std::string blocks;
  for (int i = 0; i < 10000; ++i) blocks += "if true {\n";
  for (int i = 0; i < 10000; ++i) blocks += "}\n";
  std::string message;
  EXPECT_LT(seconds_of([&] { message = error_of(blocks); }), 1.0);
  EXPECT_EQ(message, "line 33, column 9: blocks are nested deeper than 32 levels");

  std::string tests = "if ";
  for (int i = 0; i < 10000; ++i) tests += "not ";
  tests += "true { }";
  EXPECT_EQ(error_of(tests), "line 1, column 132: tests are nested deeper than 32 levels");
  std::string lists = "if ";
  for (int i = 0; i < 10000; ++i) lists += "anyof(";
  EXPECT_EQ(error_of(lists), "line 1, column 195: tests are nested deeper than 32 levels");

  // 32 levels of each are fine.
  std::string ok;
  for (int i = 0; i < 32; ++i) ok += "if true {";
  for (int i = 0; i < 32; ++i) ok += "}";
  EXPECT_EQ(error_of(ok), "OK");
  std::string ok_tests = "if ";
  for (int i = 0; i < 31; ++i) ok_tests += "not ";
  EXPECT_EQ(error_of(ok_tests + "true { }"), "OK");
}

TEST(SieveHostile, HugeStringsAndScriptsAreRefused) {
  const std::string two_mb(2 * 1024 * 1024, 'a');
  // Over the script size limit: refused before lexing.
  EXPECT_EQ(error_of("keep \"" + two_mb + "\";"),
            "script is 2097160 bytes, more than the limit of 1048576");
  // With a larger script limit, the string limit refuses it (quoted and multi-line).
  parse_limits big;
  big.max_script_bytes = 8 * 1024 * 1024;
  std::string message;
  EXPECT_LT(seconds_of([&] { message = error_of("keep \"" + two_mb + "\";", big); }), 1.0);
  EXPECT_EQ(message, "line 1, column 6: quoted string is longer than 1048576 bytes");
  EXPECT_EQ(error_of("keep text:\n" + two_mb + "\n.\n;", big),
            "line 1, column 6: multi-line string is longer than 1048576 bytes");
  std::string lines = "keep text:\n";
  for (int i = 0; i < 300000; ++i) lines += "abcdef\n";
  EXPECT_EQ(error_of(lines + ".\n;", big), "line 1, column 6: multi-line string is longer than 1048576 bytes");
  // Exactly at the limit is fine.
  EXPECT_TRUE(parse_script("keep \"" + std::string(1024 * 1024, 'a') + "\";", big).ok());
  // Long identifiers.
  EXPECT_EQ(error_of(std::string(65, 'k') + ";"), "line 1, column 1: identifier is longer than 64 characters");
  EXPECT_EQ(error_of("keep :" + std::string(65, 't') + ";"), "line 1, column 6: tag is longer than 64 characters");
}

TEST(SieveHostile, ManyCommandsArgumentsAndItemsAreRefused) {
  std::string commands;
  for (int i = 0; i < 100000; ++i) commands += "keep;";  // 500,000 bytes
  std::string message;
  EXPECT_LT(seconds_of([&] { message = error_of(commands); }), 1.0);
  EXPECT_EQ(message, "line 1, column 100001: script has more than 20000 commands and tests");

  std::string tests = "if anyof(";
  for (int i = 0; i < 30000; ++i) tests += "true,";
  EXPECT_EQ(error_of(tests + "true) {}"), "line 1, column 100000: script has more than 20000 commands and tests");

  std::string args = "keep";
  for (int i = 0; i < 33; ++i) args += " 1";
  EXPECT_EQ(error_of(args + ";"), "line 1, column 70: 'keep' has more than 32 arguments");

  std::string items = "if header \"a\" [";
  for (int i = 0; i < 10001; ++i) items += "\"x\",";
  items += "\"x\"] {}";
  EXPECT_EQ(error_of(items), "line 1, column 40016: string list has more than 10000 items");
}

TEST(SieveHostile, UnterminatedTextAtEveryCut) {
  // Every prefix of a valid script either parses or fails cleanly with a location.
  const std::string script = kExamples[27].script;  // vacation :mime text:
  for (size_t n = 0; n <= script.size(); ++n) {
    absl::StatusOr<checked_script> r = compile(script.substr(0, n));
    if (!r.ok()) {
      EXPECT_TRUE(absl::StartsWith(r.status().message(), "line ")) << n << ": " << r.status();
    }
  }
}

}  // namespace
}  // namespace ringmail::sieve
