// SORT and THREAD (issue 11): the RFC 5256 base subject, sort values and order, the
// REFERENCES / ORDEREDSUBJECT / REFS thread trees and their response text, and the
// SORT/THREAD command syntax. Pure: links ringmail_imap_sort and the parser only.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "mail/charset.h"
#include "protocols/imap/base_subject.h"
#include "protocols/imap/command.h"
#include "protocols/imap/sort.h"
#include "protocols/imap/sort_cache.h"
#include "protocols/imap/thread.h"

namespace ringmail::imap {
namespace {

// ---- base subject (RFC 5256 section 2.1) ------------------------------------------------

std::string base(std::string_view s) { return base_subject_of_text(s).subject; }
bool reply(std::string_view s) { return base_subject_of_text(s).reply_or_forward; }

TEST(BaseSubject, RfcRules) {
  EXPECT_EQ(base("hello"), "HELLO");
  EXPECT_FALSE(reply("hello"));
  EXPECT_EQ(base("Re: hello"), "HELLO");
  EXPECT_TRUE(reply("Re: hello"));
  EXPECT_EQ(base("RE:hello"), "HELLO");
  EXPECT_EQ(base("Fw: hello"), "HELLO");
  EXPECT_EQ(base("FWD : hello"), "HELLO");   // subj-refwd: *WSP before ":"
  EXPECT_EQ(base("Re[2]: hello"), "HELLO");  // subj-refwd: [subj-blob] before ":"
  EXPECT_EQ(base("Re: Re: Fwd: hello"), "HELLO");
  EXPECT_EQ(base("hello (fwd)"), "HELLO");   // (2) subj-trailer
  EXPECT_TRUE(reply("hello (fwd)"));
  EXPECT_EQ(base("hello (fwd) (FWD)  "), "HELLO");
  EXPECT_EQ(base("[list] hello"), "HELLO");  // (4)
  EXPECT_FALSE(reply("[list] hello"));
  EXPECT_EQ(base("[list]"), "[LIST]");       // (4): only when something is left
  EXPECT_EQ(base("[a] [b] Re: hello"), "HELLO");  // (3) *subj-blob subj-refwd
  EXPECT_EQ(base("Re: [list] Re: hello"), "HELLO");
  EXPECT_EQ(base("[fwd: hello]"), "HELLO");  // (6)
  EXPECT_TRUE(reply("[fwd: hello]"));
  EXPECT_EQ(base("[Fwd: Re: [x] hello (fwd)]"), "HELLO");
  EXPECT_EQ(base("  hello \t  world  "), "HELLO WORLD");  // (1) whitespace
  EXPECT_EQ(base("hello\r\n\tworld"), "HELLO WORLD");
  EXPECT_EQ(base("Re: "), "");
  EXPECT_EQ(base("(fwd)"), "");
  EXPECT_EQ(base(""), "");
  EXPECT_EQ(base("Reply: hello"), "REPLY: HELLO");  // "Re" must be followed by *WSP ":"
  EXPECT_EQ(base("[unclosed hello"), "[UNCLOSED HELLO");
  EXPECT_EQ(base("_x"), "_X");  // ASCII upper case, as Dovecot's titlecase map
}

TEST(BaseSubject, DecodesEncodedWordsAndFoldsCase) {
  mail::charset_converter cs;
  EXPECT_EQ(base_subject("Re: =?UTF-8?Q?Caf=C3=A9?=", cs).subject, "CAF\xC3\xA9");
  EXPECT_EQ(base_subject("=?ISO-8859-1?Q?Re=3A_=C9t=E9?=", cs).subject, "\xC3\xA9T\xC3\xA9");
  EXPECT_EQ(base_subject("Re: hello\r\n world", cs).subject, "HELLO WORLD");
}

TEST(BaseSubject, HostileNestingTerminatesQuickly) {
  std::string s;
  for (int i = 0; i < 20000; ++i) s += "Re: Fwd: [x] Re: [fwd: ";
  s += "hi";
  for (int i = 0; i < 20000; ++i) s += "]";
  auto t0 = std::chrono::steady_clock::now();
  base_subject_result r = base_subject_of_text(s);
  EXPECT_EQ(r.subject, "HI");
  EXPECT_TRUE(r.reply_or_forward);
  // 100,000 blobs before a non-leader: remembered, not rescanned (would be ~5e9 steps).
  std::string blobs;
  for (int i = 0; i < 100000; ++i) blobs += "[a]";
  blobs += "x";
  EXPECT_EQ(base(blobs), "X");
  std::string broken(200000, '[');
  EXPECT_EQ(base(broken), broken);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

// ---- sort values and order --------------------------------------------------------------

sort_facts facts_of(uint32_t seq, std::string_view header, int64_t internal_date = 0, uint64_t size = 0) {
  static mail::charset_converter cs;
  sort_facts f;
  f.seq = seq;
  f.uid = seq * 10;
  f.internal_date = internal_date;
  f.size = size;
  fill_sort_facts(header, 0xffffffffu, cs, f);
  return f;
}

std::vector<uint32_t> sorted_seqs(const std::vector<sort_facts>& m, std::vector<sort_criterion> c) {
  std::vector<uint32_t> out;
  for (uint32_t i : sort_order(m, c)) out.push_back(m[i].seq);
  return out;
}

using k = sort_criterion::kind;

TEST(SortFacts, AddressesDatesAndSubjects) {
  sort_facts f = facts_of(1,
                          "From: \"Zed =?UTF-8?Q?Z=C3=A9?=\" <Alice@Example.org>, bob@x\r\n"
                          "To: undisclosed-recipients:;\r\n"
                          "Cc: carol@example.org\r\n"
                          "Subject: Re: [list] Hello\r\n"
                          "Date: Tue, 1 Jan 2019 10:00:00 +0100\r\n"
                          "Message-ID: <m1@example.org>\r\n"
                          "References: <a@x> <b@x>\r\n  <noat> <c@x>\r\n"
                          "In-Reply-To: <ignored@x>\r\n\r\n",
                          42);
  EXPECT_EQ(f.from, "ALICE");
  EXPECT_EQ(f.display_from, "ZED Z\xC3\xA9");
  EXPECT_EQ(f.to, "UNDISCLOSED-RECIPIENTS");  // a group's name, as ENVELOPE
  EXPECT_EQ(f.cc, "CAROL");
  EXPECT_EQ(f.subject, "HELLO");
  EXPECT_TRUE(f.reply_or_forward);
  EXPECT_EQ(f.sent_date, 1546333200);
  EXPECT_EQ(f.message_id, "m1@example.org");
  EXPECT_EQ(f.references, (std::vector<std::string>{"a@x", "b@x", "c@x"}));

  sort_facts g = facts_of(2, "From: bob@example.net\r\nDate: not a date\r\nIn-Reply-To: <p@x> <q@x>\r\n\r\n", 77);
  EXPECT_EQ(g.display_from, "BOB@EXAMPLE.NET");  // no display name: the address
  EXPECT_EQ(g.sent_date, 77);                      // DATE falls back to INTERNALDATE
  EXPECT_EQ(g.references, (std::vector<std::string>{"p@x"}));  // first In-Reply-To id
  EXPECT_EQ(g.to, "");
}

TEST(SortOrder, KeysReverseAndTies) {
  std::vector<sort_facts> m = {
      facts_of(1, "From: b@x\r\nSubject: Re: beta\r\nDate: 2 Jan 2020 00:00 +0000\r\n\r\n", 300, 10),
      facts_of(2, "From: a@x\r\nSubject: alpha\r\nDate: 3 Jan 2020 00:00 +0000\r\n\r\n", 100, 30),
      facts_of(3, "From: b@x\r\nSubject: [l] alpha\r\nDate: 1 Jan 2020 00:00 +0000\r\n\r\n", 200, 20),
      facts_of(4, "Subject: gamma\r\n\r\n", 50, 20),  // no Date: INTERNALDATE (1970)
  };
  EXPECT_EQ(sorted_seqs(m, {{k::arrival}}), (std::vector<uint32_t>{4, 2, 3, 1}));
  EXPECT_EQ(sorted_seqs(m, {{k::date}}), (std::vector<uint32_t>{4, 3, 1, 2}));
  EXPECT_EQ(sorted_seqs(m, {{k::size}}), (std::vector<uint32_t>{1, 3, 4, 2}));  // tie 3,4 by seq
  EXPECT_EQ(sorted_seqs(m, {{k::subject}}), (std::vector<uint32_t>{2, 3, 1, 4}));
  EXPECT_EQ(sorted_seqs(m, {{k::from}}), (std::vector<uint32_t>{4, 2, 1, 3}));  // "" first
  EXPECT_EQ(sorted_seqs(m, {{k::from, true}}), (std::vector<uint32_t>{1, 3, 2, 4}));
  EXPECT_EQ(sorted_seqs(m, {{k::subject}, {k::date, true}}), (std::vector<uint32_t>{2, 3, 1, 4}));
  EXPECT_EQ(sorted_seqs(m, {{k::from}, {k::date, true}}), (std::vector<uint32_t>{4, 2, 1, 3}));
  EXPECT_EQ(sorted_seqs(m, {{k::size, true}}), (std::vector<uint32_t>{2, 3, 4, 1}));
}

// RFC 5256 section 4's first SORT example: "SORT (SUBJECT REVERSE DATE)".
TEST(SortOrder, SubjectThenReverseDate) {
  std::vector<sort_facts> m = {
      facts_of(1, "Subject: b\r\nDate: 1 Jan 2020 00:00 +0000\r\n\r\n"),
      facts_of(2, "Subject: c\r\nDate: 1 Jan 2020 00:00 +0000\r\n\r\n"),
      facts_of(3, "Subject: Re: a\r\nDate: 2 Jan 2020 00:00 +0000\r\n\r\n"),
      facts_of(4, "Subject: a\r\nDate: 1 Jan 2020 00:00 +0000\r\n\r\n"),
      facts_of(5, "Subject: A\r\nDate: 3 Jan 2020 00:00 +0000\r\n\r\n"),
  };
  EXPECT_EQ(sorted_seqs(m, {{k::subject}, {k::date, true}}), (std::vector<uint32_t>{5, 3, 4, 1, 2}));
}

// The sort cache's ranks order as the strings do, and follow values added later.
TEST(SortCache, RanksOrderAsTheStrings) {
  std::vector<sort_facts> m = {
      facts_of(1, "From: b@x\r\nSubject: Re: beta\r\n\r\n"),  facts_of(2, "From: a@x\r\nSubject: alpha\r\n\r\n"),
      facts_of(3, "From: b@x\r\nSubject: [l] alpha\r\n\r\n"), facts_of(4, "Subject: gamma\r\n\r\n"),
      facts_of(5, "From: _x@x\r\nSubject: Zeta\r\n\r\n"),
  };
  sort_cache cache;
  sort_cache::folder_values& f = cache.folder("u\nINBOX", 7);
  for (const sort_facts& x : m) cache.put(f, x.uid, x);
  std::vector<sort_facts> bare = m;  // what a warm SORT has: no strings
  for (sort_facts& x : bare) x.subject = x.from = "";
  for (auto key : {k::subject, k::from}) {
    for (bool reverse : {false, true}) {
      sort_ranks ranks;
      const auto& by_uid = sort_cache::ranks(f, key);
      for (const sort_facts& x : bare) ranks[static_cast<size_t>(key)].push_back(by_uid.at(x.uid));
      std::vector<sort_criterion> c = {{key, reverse}};
      EXPECT_EQ(sort_order(bare, c, &ranks), sort_order(m, c)) << static_cast<int>(key) << reverse;
    }
  }
  // A later value is ranked too; a new UIDVALIDITY forgets the folder.
  sort_facts late = facts_of(6, "From: aa@x\r\nSubject: b\r\n\r\n");
  cache.put(f, late.uid, late);
  EXPECT_EQ(sort_cache::ranks(f, k::from).at(late.uid), sort_cache::ranks(f, k::from).at(20) + 1);
  EXPECT_NE(sort_cache::find(cache.folder("u\nINBOX", 7), 60), nullptr);
  EXPECT_EQ(sort_cache::find(cache.folder("u\nINBOX", 8), 60), nullptr);
}

// ---- THREAD ---------------------------------------------------------------------------

struct msg {
  std::string id;
  std::vector<std::string> refs;
  std::string subject = "s";
  int64_t date = 0;
};

std::vector<sort_facts> thread_input(const std::vector<msg>& ms) {
  std::vector<sort_facts> out;
  for (size_t i = 0; i < ms.size(); ++i) {
    sort_facts f;
    f.seq = static_cast<uint32_t>(i + 1);
    f.uid = f.seq + 100;
    base_subject_result b = base_subject_of_text(ms[i].subject);
    f.subject = b.subject;
    f.reply_or_forward = b.reply_or_forward;
    f.sent_date = ms[i].date ? ms[i].date : static_cast<int64_t>(i + 1) * 1000;
    f.message_id = ms[i].id;
    f.references = ms[i].refs;
    out.push_back(std::move(f));
  }
  return out;
}

std::string refs(const std::vector<msg>& ms) {
  return thread_response(thread_input(ms), thread_algorithm::references, false);
}

TEST(Thread, ReferencesLinksAndBranches) {
  // a -> b -> c and a -> d: "(1 (2 3)(4))" (RFC 5256 4: "(3 6 (4 23)(44 7 96))" shape)
  EXPECT_EQ(refs({{"a", {}, "x"}, {"b", {"a"}, "Re: x"}, {"c", {"a", "b"}, "Re: x"}, {"d", {"a"}, "Re: x"}}),
            "(1 (2 3)(4))");
  // UIDs when asked.
  EXPECT_EQ(thread_response(thread_input({{"a", {}}, {"b", {"a"}}}), thread_algorithm::references, true),
            "(101 102)");
  // The parent presumed from a References chain is replaced by the message's own last
  // reference (1C): b has none, so it leaves a and becomes a root with its reply c.
  EXPECT_EQ(refs({{"a", {}, "p"}, {"c", {"a", "b"}, "q"}, {"b", {}, "r"}}), "(1)(3 2)");
}

TEST(Thread, DummiesArePruned) {
  // Two replies to a message we do not have: a dummy root with two children.
  EXPECT_EQ(refs({{"b", {"x"}, "one"}, {"c", {"x"}, "two"}}), "((1)(2))");
  // One reply to a missing message: the dummy goes (4B at the root, one child).
  EXPECT_EQ(refs({{"b", {"x"}, "one"}}), "(1)");
  // A missing message in the middle of a chain: the child is promoted (4B).
  EXPECT_EQ(refs({{"a", {}, "one"}, {"c", {"a", "b"}, "two"}}), "(1 2)");
  // Empty input.
  EXPECT_EQ(refs({}), "");
}

TEST(Thread, SubjectGrouping) {
  // No references: a reply joins the original by base subject (5C).
  EXPECT_EQ(refs({{"a", {}, "hello"}, {"b", {}, "Re: hello"}}), "(1 2)");
  // Two originals with one subject: both under a new dummy.
  EXPECT_EQ(refs({{"a", {}, "hello"}, {"b", {}, "hello"}}), "((1)(2))");
  // An empty base subject is never grouped.
  EXPECT_EQ(refs({{"a", {}, "Re:"}, {"b", {}, ""}}), "(1)(2)");
  // REFS does not group by subject.
  EXPECT_EQ(thread_response(thread_input({{"a", {}, "hello"}, {"b", {}, "Re: hello"}}), thread_algorithm::refs, false),
            "(1)(2)");
}

TEST(Thread, SortsByDateAndRefsByNewest) {
  // Thread 1 starts first but its reply is the newest message.
  std::vector<msg> ms = {{"a", {}, "one", 100}, {"b", {}, "two", 200}, {"c", {"a"}, "Re: one", 300}};
  EXPECT_EQ(refs(ms), "(1 3)(2)");
  EXPECT_EQ(thread_response(thread_input(ms), thread_algorithm::refs, false), "(2)(1 3)");
  // Siblings by date, not by arrival; equal dates by sequence number.
  EXPECT_EQ(refs({{"a", {}, "p", 1}, {"b", {"a"}, "q", 50}, {"c", {"a"}, "r", 20}, {"d", {"a"}, "s", 20}}),
            "(1 (3)(4)(2))");
}

TEST(Thread, OrderedSubject) {
  std::vector<msg> ms = {{"", {}, "b", 10}, {"", {}, "Re: a", 30}, {"", {}, "a", 20},
                         {"", {}, "c", 5},  {"", {}, "re: b", 40}, {"", {}, "A", 25}};
  // a: 3(20) 6(25) 2(30); b: 1(10) 5(40); c: 4(5). Threads by their first date.
  EXPECT_EQ(thread_response(thread_input(ms), thread_algorithm::ordered_subject, false), "(4)(1 5)(3 (6)(2))");
}

TEST(Thread, LoopsDuplicatesAndMissingIds) {
  // a references b and b references a: no loop, both in one thread.
  std::string r = refs({{"a", {"b"}, "x"}, {"b", {"a"}, "y"}});
  EXPECT_TRUE(r == "(1 2)" || r == "(2 1)") << r;
  // A message referencing itself.
  EXPECT_EQ(refs({{"a", {"a"}, "x"}}), "(1)");
  // A References loop through three ids.
  r = refs({{"a", {"c", "b"}, "x"}, {"b", {"a", "c"}, "y"}, {"c", {"b", "a"}, "z"}});
  EXPECT_EQ(std::count(r.begin(), r.end(), '('), std::count(r.begin(), r.end(), ')'));
  for (char d : {'1', '2', '3'}) EXPECT_NE(r.find(d), std::string::npos) << r;
  // A duplicate Message-ID: the second message gets an id of its own; a reply to the id
  // goes under the first.
  EXPECT_EQ(refs({{"a", {}, "x"}, {"a", {}, "y"}, {"c", {"a"}, "z"}}), "(1 3)(2)");
  // No Message-ID at all.
  EXPECT_EQ(refs({{"", {}, "x"}, {"", {}, "y"}}), "(1)(2)");
}

TEST(Thread, TenThousandReferencesAndDeepChains) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<msg> ms;
  std::vector<std::string> chain;
  for (int i = 0; i < 10000; ++i) chain.push_back("r" + std::to_string(i) + "@x");
  for (int j = 0; j < 30; ++j) {
    msg m{"m" + std::to_string(j) + "@x", chain, "s", 0};
    if (j % 2) std::reverse(m.refs.begin(), m.refs.end());
    ms.push_back(std::move(m));
  }
  std::string r = refs(ms);
  EXPECT_EQ(std::count(r.begin(), r.end(), '('), std::count(r.begin(), r.end(), ')'));
  // A chain 200,000 messages deep: rendered without recursion.
  std::vector<msg> deep;
  for (int i = 0; i < 200000; ++i) {
    deep.push_back({"d" + std::to_string(i), i ? std::vector<std::string>{"d" + std::to_string(i - 1)} : std::vector<std::string>{}, "s", 0});
  }
  r = refs(deep);
  EXPECT_EQ(r.substr(0, 8), "(1 2 3 4");
  EXPECT_EQ(r.back(), ')');
  EXPECT_EQ(std::count(r.begin(), r.end(), '('), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

// ---- syntax -----------------------------------------------------------------------------

TEST(SortParser, Commands) {
  parse_result r = parse_command("A1 SORT (REVERSE DATE subject DISPLAYFROM) UTF-8 ALL");
  ASSERT_TRUE(r.cmd) << r.error.message;
  EXPECT_EQ(r.cmd->name, command_name::sort);
  EXPECT_EQ(r.cmd->sort, (std::vector<sort_criterion>{{k::date, true}, {k::subject}, {k::display_from}}));
  EXPECT_EQ(r.cmd->charset, "UTF-8");
  EXPECT_FALSE(r.cmd->esearch);

  r = parse_command("A2 UID SORT RETURN (MIN COUNT) (ARRIVAL) us-ascii FROM \"x y\" SINCE 1-Feb-1994");
  ASSERT_TRUE(r.cmd) << r.error.message;
  EXPECT_TRUE(r.cmd->uid);
  EXPECT_TRUE(r.cmd->esearch);
  EXPECT_TRUE(r.cmd->search_ret.min && r.cmd->search_ret.count && !r.cmd->search_ret.all);
  EXPECT_EQ(r.cmd->charset, "US-ASCII");
  ASSERT_EQ(r.cmd->search.children.size(), 2u);
  EXPECT_EQ(r.cmd->search.children[0].text, "x y");

  r = parse_command("A3 SORT RETURN () (SIZE) \"UTF-8\" 1:*");
  ASSERT_TRUE(r.cmd) << r.error.message;
  EXPECT_TRUE(r.cmd->search_ret.all);

  r = parse_command("A4 THREAD REFS UTF-8 ALL");
  ASSERT_TRUE(r.cmd) << r.error.message;
  EXPECT_EQ(r.cmd->name, command_name::thread);
  EXPECT_EQ(r.cmd->thread, thread_algorithm::refs);
  r = parse_command("A5 UID THREAD orderedsubject UTF-8 SUBJECT hi");
  ASSERT_TRUE(r.cmd) << r.error.message;
  EXPECT_EQ(r.cmd->thread, thread_algorithm::ordered_subject);
  EXPECT_TRUE(r.cmd->uid);
  r = parse_command("A6 THREAD REFERENCES UTF-8 ALL");
  ASSERT_TRUE(r.cmd);
  EXPECT_EQ(r.cmd->thread, thread_algorithm::references);
}

TEST(SortParser, BadSyntax) {
  for (const char* bad : {
           "A SORT DATE UTF-8 ALL",            // no parentheses
           "A SORT () UTF-8 ALL",              // no criterion
           "A SORT (DATE) ALL",                // no charset (ALL taken as it, no keys)
           "A SORT (DATE) UTF-8",              // no search key
           "A SORT (FOO) UTF-8 ALL",           // unknown key
           "A SORT (REVERSE) UTF-8 ALL",       // REVERSE of nothing
           "A SORT (REVERSE REVERSE DATE) UTF-8 ALL",
           "A SORT (DATE  SIZE) UTF-8 ALL",    // two spaces
           "A SORT (DATE) UTF-8 CHARSET UTF-8 ALL",
           "A SORT (DATE) UTF-8 RETURN (ALL) ALL",
           "A SORT RETURN (PARTIAL 1:5) (DATE) UTF-8 ALL",
           "A SORT RETURN (MIN) UTF-8 ALL",
           "A SORT (DATE) UTF-8 ALL ",
           "A THREAD XYZ UTF-8 ALL",
           "A THREAD REFERENCES",
           "A THREAD REFERENCES UTF-8",
           "A THREAD (REFERENCES) UTF-8 ALL",
       }) {
    parse_result r = parse_command(bad);
    EXPECT_FALSE(r.cmd) << bad;
    EXPECT_EQ(r.error.tag, "A") << bad;
  }
}

}  // namespace
}  // namespace ringmail::imap
