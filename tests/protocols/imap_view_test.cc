// The IMAP session's pure parts: mailbox_view (what one session has told its client about
// the selected folder, and the untagged EXISTS / EXPUNGE / FETCH FLAGS that bring it up to
// date, at the points RFC 9051 7.5.1 allows), LIST pattern matching and candidates
// (list_match.h), and format_number_set (number_set.h).
//
// mailbox_view is checked step by step (numbers right after each report, EXPUNGE highest
// first, held during FETCH/STORE/SEARCH and released later) and by a randomized run
// against a model client that applies every untagged response as a client would and must
// end in step with the store.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "delivery/mailstore/maildir_filename.h"
#include "delivery/mailstore/mailbox.h"
#include "protocols/imap/list_match.h"
#include "protocols/imap/mailbox_view.h"
#include "protocols/imap/number_set.h"

namespace ringmail::imap {
namespace {

namespace ms = ringmail::mailstore;
using ev = ms::folder_event;

std::vector<view_message> msgs(std::initializer_list<uint32_t> uids) {
  std::vector<view_message> out;
  for (uint32_t u : uids) out.push_back(make_view_message(u, 0, 0, 1));
  return out;
}

ev appended(uint64_t seq, uint32_t uid, uint8_t flags = 0, uint32_t kw = 0) {
  return ev{ev::appended, seq, uid, flags, kw, seq};
}
ev flags_changed(uint64_t seq, uint32_t uid, uint8_t flags, uint32_t kw = 0) {
  return ev{ev::flags_changed, seq, uid, flags, kw, seq};
}
ev expunged(uint64_t seq, uint32_t uid) { return ev{ev::expunged, seq, uid, 0, 0, seq}; }

const std::vector<std::string> no_keywords;

// report() into a fresh string.
std::string report(mailbox_view& v, bool allow_expunge, bool uid_in_fetch = false) {
  std::string out;
  v.report(out, allow_expunge, uid_in_fetch);
  return out;
}

std::vector<uint32_t> uids_of(const mailbox_view& v) {
  std::vector<uint32_t> out;
  for (const auto& m : v.messages()) out.push_back(m.uid);
  return out;
}

// ---- mailbox_view: step by step ---------------------------------------------------------

TEST(MailboxView, ResetNumbersMessagesInUidOrder) {
  mailbox_view v;
  v.reset(msgs({10, 20, 30}), no_keywords, 7);
  EXPECT_EQ(v.exists(), 3u);
  EXPECT_EQ(v.seq_of(10), 1u);
  EXPECT_EQ(v.seq_of(20), 2u);
  EXPECT_EQ(v.seq_of(30), 3u);
  EXPECT_EQ(v.seq_of(25), 0u);
  EXPECT_EQ(v.seq_of(31), 0u);
  EXPECT_EQ(v.uid_at(2), 20u);
  EXPECT_EQ(v.max_uid(), 30u);
  EXPECT_EQ(v.event_seq(), 7u);
  EXPECT_FALSE(v.has_pending());
  EXPECT_EQ(report(v, true), "");
}

TEST(MailboxView, EmptyFolder) {
  mailbox_view v;
  v.reset({}, no_keywords, 0);
  EXPECT_EQ(v.exists(), 0u);
  EXPECT_EQ(v.max_uid(), 0u);
  EXPECT_EQ(v.seq_of(1), 0u);
  v.apply({appended(1, 1)}, no_keywords, 1);
  EXPECT_EQ(report(v, false), "* 1 EXISTS\r\n");
}

TEST(MailboxView, AppendsBecomeOneExists) {
  mailbox_view v;
  v.reset(msgs({1, 2, 3}), no_keywords, 5);
  v.apply({appended(6, 4), appended(7, 5)}, no_keywords, 7);
  EXPECT_TRUE(v.has_pending());
  EXPECT_EQ(v.exists(), 5u);
  EXPECT_EQ(v.seq_of(5), 5u);
  EXPECT_EQ(report(v, false), "* 5 EXISTS\r\n");  // EXISTS is allowed during FETCH too
  EXPECT_FALSE(v.has_pending());
  EXPECT_EQ(report(v, true), "");  // said once
  EXPECT_EQ(v.event_seq(), 7u);
}

TEST(MailboxView, EventsNotNewerThanTheSnapshotAreSkipped) {
  mailbox_view v;
  v.reset(msgs({1, 2, 3}), no_keywords, 10);
  // The SELECT snapshot already had these (seq <= 10), and a racing append of a UID the
  // snapshot holds is skipped too.
  v.apply({appended(9, 4), expunged(10, 2), flags_changed(8, 1, ms::flag_seen), appended(11, 3)}, no_keywords,
          11);
  EXPECT_EQ(uids_of(v), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_FALSE(v.has_pending());
  EXPECT_EQ(report(v, true), "");
  EXPECT_EQ(v.event_seq(), 11u);
}

TEST(MailboxView, ExpungesHeldDuringFetchStoreSearchThenSentHighestFirst) {
  mailbox_view v;
  v.reset(msgs({1, 2, 3, 4, 5}), no_keywords, 1);
  v.apply({expunged(2, 2), expunged(3, 4)}, no_keywords, 3);
  EXPECT_TRUE(v.has_pending());
  // During FETCH/STORE/SEARCH: nothing said, numbers unchanged (2 and 4 still there).
  EXPECT_EQ(report(v, false), "");
  EXPECT_EQ(v.exists(), 5u);
  EXPECT_EQ(v.seq_of(2), 2u);
  EXPECT_EQ(v.seq_of(5), 5u);
  EXPECT_EQ(v.uid_at(4), 4u);
  EXPECT_TRUE(v.messages()[1].expunged);
  EXPECT_TRUE(v.has_pending());
  EXPECT_EQ(report(v, false), "");  // still held at the next FETCH
  // NOOP: highest first, so "4" is right when sent and "2" is right after it.
  EXPECT_EQ(report(v, true), "* 4 EXPUNGE\r\n* 2 EXPUNGE\r\n");
  EXPECT_FALSE(v.has_pending());
  EXPECT_EQ(v.exists(), 3u);
  EXPECT_EQ(uids_of(v), (std::vector<uint32_t>{1, 3, 5}));
  EXPECT_EQ(v.seq_of(5), 3u);
  EXPECT_EQ(v.seq_of(2), 0u);
  EXPECT_EQ(report(v, true), "");
}

TEST(MailboxView, ExpungeOfEveryMessage) {
  mailbox_view v;
  v.reset(msgs({1, 2, 3}), no_keywords, 1);
  v.apply({expunged(2, 1), expunged(3, 2), expunged(4, 3)}, no_keywords, 4);
  EXPECT_EQ(report(v, true), "* 3 EXPUNGE\r\n* 2 EXPUNGE\r\n* 1 EXPUNGE\r\n");
  EXPECT_EQ(v.exists(), 0u);
  EXPECT_EQ(v.max_uid(), 0u);
}

TEST(MailboxView, WhileExpungesAreHeldOtherNewsIsNumberedWithThemInPlace) {
  mailbox_view v;
  v.reset(msgs({1, 2, 3}), no_keywords, 1);
  v.apply({expunged(2, 2), appended(3, 4), flags_changed(4, 3, ms::flag_seen)}, no_keywords, 4);
  // Message 3 is still number 3 for the client; the new one is number 4.
  EXPECT_EQ(report(v, false), "* 4 EXISTS\r\n* 3 FETCH (FLAGS (\\Seen))\r\n");
  EXPECT_EQ(v.seq_of(4), 4u);
  v.apply({flags_changed(5, 4, ms::flag_flagged)}, no_keywords, 5);
  EXPECT_EQ(report(v, false, true), "* 4 FETCH (UID 4 FLAGS (\\Flagged))\r\n");
  EXPECT_EQ(report(v, true), "* 2 EXPUNGE\r\n");
  EXPECT_EQ(v.seq_of(4), 3u);
  EXPECT_EQ(v.exists(), 3u);
  EXPECT_EQ(report(v, true), "");
}

TEST(MailboxView, ExpungesAndExistsInOneReport) {
  mailbox_view v;
  v.reset(msgs({1, 2, 3}), no_keywords, 1);
  v.apply({expunged(2, 2), appended(3, 4), appended(4, 5)}, no_keywords, 4);
  // EXPUNGE first (numbers of messages the client knows), then the count after them.
  EXPECT_EQ(report(v, true), "* 2 EXPUNGE\r\n* 4 EXISTS\r\n");
  EXPECT_EQ(uids_of(v), (std::vector<uint32_t>{1, 3, 4, 5}));
}

TEST(MailboxView, FlagChangesReportedOnceWithUidWhenAsked) {
  mailbox_view v;
  v.reset(msgs({1, 2}), no_keywords, 1);
  v.apply({flags_changed(2, 2, ms::flag_seen), flags_changed(3, 2, ms::flag_seen | ms::flag_answered)}, no_keywords,
          3);
  EXPECT_EQ(report(v, true, true), "* 2 FETCH (UID 2 FLAGS (\\Answered \\Seen))\r\n");
  EXPECT_EQ(report(v, true), "");
  // A change to what the client already has is no news.
  v.apply({flags_changed(4, 2, ms::flag_seen | ms::flag_answered)}, no_keywords, 4);
  EXPECT_FALSE(v.has_pending());
  EXPECT_EQ(report(v, true), "");
  // Back and forth before a report: one FETCH with the latest flags.
  v.apply({flags_changed(5, 1, ms::flag_deleted), flags_changed(6, 1, ms::flag_draft)}, no_keywords, 6);
  EXPECT_EQ(report(v, false), "* 1 FETCH (FLAGS (\\Draft))\r\n");
  EXPECT_EQ(v.messages()[0].modseq, 6u);
}

TEST(MailboxView, OwnFlagChangeIsNotReportedTwice) {
  mailbox_view v;
  v.reset(msgs({1, 2}), no_keywords, 1);
  // STORE answered with FETCH FLAGS (\Seen) for message 1, then its event comes back.
  v.reported_flags(1, ms::flag_seen, 0);
  v.apply({flags_changed(2, 1, ms::flag_seen)}, no_keywords, 2);
  EXPECT_FALSE(v.has_pending());
  EXPECT_EQ(report(v, true), "");
  // Event first (another session's or our own), then our FETCH told the client: clean.
  v.apply({flags_changed(3, 2, ms::flag_flagged)}, no_keywords, 3);
  EXPECT_TRUE(v.has_pending());
  v.reported_flags(2, ms::flag_flagged, 0);
  EXPECT_FALSE(v.has_pending());
  EXPECT_EQ(report(v, true), "");
  // Our change, then someone else's after it: theirs is news.
  v.reported_flags(1, ms::flag_seen | ms::flag_answered, 0);
  v.apply({flags_changed(4, 1, ms::flag_seen | ms::flag_answered), flags_changed(5, 1, ms::flag_answered)},
          no_keywords, 5);
  EXPECT_EQ(report(v, true), "* 1 FETCH (FLAGS (\\Answered))\r\n");
  // reported_flags of an unknown UID changes nothing.
  v.reported_flags(99, ms::flag_seen, 0);
  EXPECT_EQ(v.exists(), 2u);
}

TEST(MailboxView, FlagChangesOfAnExpungedMessageAreDropped) {
  mailbox_view v;
  v.reset(msgs({1, 2, 3}), no_keywords, 1);
  // Changed, then expunged: the FETCH would name a message about to go.
  v.apply({flags_changed(2, 2, ms::flag_seen), expunged(3, 2)}, no_keywords, 3);
  EXPECT_EQ(report(v, false), "");
  // Expunged, then a (late) change: ignored.
  v.apply({expunged(4, 3), flags_changed(5, 3, ms::flag_flagged)}, no_keywords, 5);
  EXPECT_EQ(report(v, false), "");
  EXPECT_EQ(report(v, true), "* 3 EXPUNGE\r\n* 2 EXPUNGE\r\n");
  EXPECT_EQ(uids_of(v), (std::vector<uint32_t>{1}));
}

TEST(MailboxView, MessageThatCameAndWentBeforeExistsIsNeverMentioned) {
  {
    mailbox_view v;
    v.reset(msgs({1, 2}), no_keywords, 1);
    v.apply({appended(2, 3), expunged(3, 3)}, no_keywords, 3);
    EXPECT_EQ(report(v, true), "");
    EXPECT_EQ(v.exists(), 2u);
  }
  {
    // The first report is during a FETCH (no EXPUNGE allowed): the EXISTS must not count
    // the message either, or a later EXPUNGE would name it.
    mailbox_view v;
    v.reset(msgs({1, 2}), no_keywords, 1);
    v.apply({appended(2, 3), expunged(3, 3)}, no_keywords, 3);
    EXPECT_EQ(report(v, false), "");
    EXPECT_EQ(report(v, true), "");
    EXPECT_EQ(v.exists(), 2u);
  }
  {
    // Between two new ones: the survivor is number 3.
    mailbox_view v;
    v.reset(msgs({1, 2}), no_keywords, 1);
    v.apply({appended(2, 3), appended(3, 4), flags_changed(4, 3, ms::flag_seen), expunged(5, 3)}, no_keywords, 5);
    EXPECT_EQ(report(v, false), "* 3 EXISTS\r\n");
    EXPECT_EQ(v.seq_of(4), 3u);
    EXPECT_EQ(report(v, true), "");
  }
  {
    // Once its EXISTS went out, it is the client's and gets its EXPUNGE.
    mailbox_view v;
    v.reset(msgs({1, 2}), no_keywords, 1);
    v.apply({appended(2, 3)}, no_keywords, 2);
    EXPECT_EQ(report(v, false), "* 3 EXISTS\r\n");
    v.apply({expunged(3, 3)}, no_keywords, 3);
    EXPECT_EQ(report(v, false), "");
    EXPECT_EQ(report(v, true), "* 3 EXPUNGE\r\n");
  }
  {
    // Same through a reset batch.
    mailbox_view v;
    v.reset(msgs({1, 2}), no_keywords, 1);
    v.apply({appended(2, 3)}, no_keywords, 2);
    v.resync(msgs({1, 2, 4}), no_keywords, 9);
    EXPECT_EQ(report(v, false), "* 3 EXISTS\r\n");
    EXPECT_EQ(uids_of(v), (std::vector<uint32_t>{1, 2, 4}));
    EXPECT_EQ(report(v, true), "");
  }
}

TEST(MailboxView, ResyncAfterAResetBatch) {
  mailbox_view v;
  v.reset(msgs({1, 2, 3, 4}), no_keywords, 10);
  auto now = msgs({1, 3, 5, 6});
  now[0].flags = ms::flag_seen;
  now[1].modseq = 42;
  v.resync(now, no_keywords, 20);
  EXPECT_EQ(v.event_seq(), 20u);
  EXPECT_TRUE(v.has_pending());
  EXPECT_EQ(v.messages()[2].modseq, 42u);
  // Held: 2 and 4 keep their numbers; 5 and 6 are 5 and 6.
  EXPECT_EQ(report(v, false), "* 6 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen))\r\n");
  EXPECT_EQ(v.seq_of(5), 5u);
  EXPECT_EQ(report(v, true), "* 4 EXPUNGE\r\n* 2 EXPUNGE\r\n");
  EXPECT_EQ(uids_of(v), (std::vector<uint32_t>{1, 3, 5, 6}));
  // Nothing new: nothing said.
  v.resync(v.messages(), no_keywords, 21);
  EXPECT_FALSE(v.has_pending());
  EXPECT_EQ(report(v, true), "");
}

TEST(MailboxView, ResyncKeepsAHeldExpungeOnce) {
  mailbox_view v;
  v.reset(msgs({1, 2, 3}), no_keywords, 1);
  v.apply({expunged(2, 2)}, no_keywords, 2);
  v.resync(msgs({1, 3}), no_keywords, 5);
  v.resync(msgs({1}), no_keywords, 6);
  EXPECT_EQ(report(v, true), "* 3 EXPUNGE\r\n* 2 EXPUNGE\r\n");
  EXPECT_EQ(uids_of(v), (std::vector<uint32_t>{1}));
}

TEST(MailboxView, FolderGoneEmptiesTheView) {
  // What the session does when the folder was deleted under it.
  mailbox_view v;
  v.reset(msgs({1, 2}), no_keywords, 1);
  v.resync({}, v.keywords(), v.event_seq());
  EXPECT_EQ(report(v, false), "");
  EXPECT_EQ(report(v, true), "* 2 EXPUNGE\r\n* 1 EXPUNGE\r\n");
  EXPECT_EQ(v.exists(), 0u);
}

TEST(MailboxView, KeywordGrowth) {
  mailbox_view v;
  v.reset(msgs({1}), {"$Junk"}, 1);
  EXPECT_FALSE(v.keywords_grew());
  v.apply({}, {"$Junk"}, 1);
  EXPECT_FALSE(v.keywords_grew());
  v.apply({flags_changed(2, 1, ms::flag_seen, 0b11)}, {"$Junk", "$Work"}, 2);
  EXPECT_TRUE(v.keywords_grew());
  EXPECT_EQ(v.keywords(), (std::vector<std::string>{"$Junk", "$Work"}));
  EXPECT_EQ(report(v, false), "* 1 FETCH (FLAGS (\\Seen $Junk $Work))\r\n");
  EXPECT_TRUE(v.keywords_grew());  // until the session sent FLAGS
  v.clear_keywords_grew();
  EXPECT_FALSE(v.keywords_grew());
  v.resync(msgs({1}), {"$Junk", "$Work", "later"}, 3);
  EXPECT_TRUE(v.keywords_grew());
  v.clear_keywords_grew();
  v.resync(msgs({1}), {"$Junk", "$Work", "later"}, 4);
  EXPECT_FALSE(v.keywords_grew());
  // A keyword-only change is a flag change.
  v.apply({flags_changed(5, 1, 0, 0b100)}, v.keywords(), 5);
  EXPECT_EQ(report(v, true), "* 1 FETCH (FLAGS (later))\r\n");
}

TEST(MailboxView, FlagList) {
  mailbox_view v;
  v.reset({}, {"$Junk", "$NotJunk", "work"}, 0);
  EXPECT_EQ(v.flag_list(0, 0), "()");
  EXPECT_EQ(v.flag_list(ms::flag_seen | ms::flag_answered | ms::flag_flagged | ms::flag_deleted | ms::flag_draft, 0),
            "(\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
  EXPECT_EQ(v.flag_list(0, 0b101), "($Junk work)");
  EXPECT_EQ(v.flag_list(ms::flag_seen, 0b010), "(\\Seen $NotJunk)");
  // Bits past the folder's keyword list name nothing.
  EXPECT_EQ(v.flag_list(0, 1u << 20), "()");
  std::string s;
  append_system_flags(s, ms::flag_draft | ms::flag_seen);
  EXPECT_EQ(s, "\\Seen \\Draft");
}

TEST(MailboxView, ToViewMessage) {
  ms::message_entry e;
  e.uid = 7;
  e.flags = ms::flag_seen;
  e.keywords = 3;
  e.modseq = 99;
  view_message m = to_view_message(e);
  EXPECT_EQ(m.uid, 7u);
  EXPECT_EQ(m.flags, ms::flag_seen);
  EXPECT_EQ(m.keywords, 3u);
  EXPECT_EQ(m.modseq, 99u);
  EXPECT_FALSE(m.expunged);
  EXPECT_FALSE(m.flags_dirty);
}

// ---- mailbox_view against a model client ------------------------------------------------
//
// A store (live UIDs and flags) changes at random: appends, another session's flag changes
// and expunges, this session's own STOREs (reported at once, their events arriving later).
// Events queue up and reach the view in batches (or as a reset batch: a resync with the
// store's list); reports alternate between "during FETCH" and "at NOOP". A model client
// applies every untagged response the way a client does. After every report:
//   - the client's message count and numbering agree with the view's;
//   - every EXPUNGE names a message the client has, that is gone from the store, and
//     never one during a report that forbade it;
//   - EXISTS never shrinks the count;
//   - every message the client has that is still in the store has the store's flags;
// and after a NOOP report the client holds exactly the store's live messages.

struct client_model {
  std::vector<uint32_t> uids;
  std::map<uint32_t, uint8_t> flags;
};

// Applies one report's untagged responses to the client. The uids of new slots come from
// the view (the client learns them by FETCH), so only numbering is checked for them.
::testing::AssertionResult apply_untagged(const std::string& out, bool allow_expunge, client_model& c,
                                          const mailbox_view& v, const std::map<uint32_t, uint8_t>& store) {
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find("\r\n", pos);
    if (end == std::string::npos) return ::testing::AssertionFailure() << "unterminated: " << out;
    std::string line = out.substr(pos, end - pos);
    pos = end + 2;
    unsigned n = 0;
    char word[16] = {0};
    if (sscanf(line.c_str(), "* %u %15s", &n, word) != 2) return ::testing::AssertionFailure() << line;
    std::string w = word;
    if (w == "EXPUNGE") {
      if (!allow_expunge) return ::testing::AssertionFailure() << "EXPUNGE when not allowed: " << line;
      if (n == 0 || n > c.uids.size()) return ::testing::AssertionFailure() << "EXPUNGE out of range: " << line;
      uint32_t uid = c.uids[n - 1];
      if (store.contains(uid)) return ::testing::AssertionFailure() << "EXPUNGE of live uid " << uid;
      c.uids.erase(c.uids.begin() + (n - 1));
      c.flags.erase(uid);
    } else if (w == "EXISTS") {
      if (n < c.uids.size()) return ::testing::AssertionFailure() << "EXISTS shrank: " << line;
      for (size_t i = c.uids.size(); i < n; ++i) {
        if (i >= v.messages().size()) return ::testing::AssertionFailure() << "EXISTS past the view: " << line;
        const view_message& m = v.messages()[i];
        // Never announce a message that is already gone (it came and went unseen).
        if (!store.contains(m.uid)) return ::testing::AssertionFailure() << "EXISTS counts gone uid " << m.uid;
        c.uids.push_back(m.uid);
        c.flags[m.uid] = m.flags;
      }
    } else if (w == "FETCH") {
      if (n == 0 || n > c.uids.size()) return ::testing::AssertionFailure() << "FETCH out of range: " << line;
      uint32_t uid = c.uids[n - 1];
      // Parse the flags back through flag_list's spelling.
      size_t f = line.find("FLAGS (");
      if (f == std::string::npos) return ::testing::AssertionFailure() << line;
      std::string list = line.substr(f + 6, line.size() - (f + 6) - 1);
      uint8_t bits = 0;
      for (uint8_t b : {ms::flag_seen, ms::flag_answered, ms::flag_flagged, ms::flag_deleted, ms::flag_draft}) {
        std::string name;
        append_system_flags(name, b);
        if ((" " + list.substr(1, list.size() - 2) + " ").find(" " + name + " ") != std::string::npos) bits |= b;
      }
      if (list != v.flag_list(bits, 0)) return ::testing::AssertionFailure() << "unparsed flags: " << line;
      c.flags[uid] = bits;
    } else {
      return ::testing::AssertionFailure() << "unexpected: " << line;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(MailboxView, RandomizedAgainstModelClient) {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    std::map<uint32_t, uint8_t> store;  // live uid -> flags
    uint32_t next_uid = 1;
    uint64_t seq = 0;
    for (int i = 0, n = static_cast<int>(pick(6)); i < n; ++i) store[next_uid++] = static_cast<uint8_t>(pick(32));
    auto snapshot = [&] {
      std::vector<view_message> out;
      for (const auto& [u, f] : store) out.push_back(make_view_message(u, f, 0, seq));
      return out;
    };
    mailbox_view v;
    v.reset(snapshot(), no_keywords, seq);
    client_model c;
    for (const auto& [u, f] : store) {
      c.uids.push_back(u);
      c.flags[u] = f;
    }
    std::vector<ev> queue;
    auto random_live = [&]() -> uint32_t {
      auto it = store.begin();
      std::advance(it, pick(store.size()));
      return it->first;
    };
    for (int step = 0; step < 200; ++step) {
      switch (pick(9)) {
        case 0:
        case 1: {  // delivery
          const uint8_t f = static_cast<uint8_t>(pick(2) ? 0 : ms::flag_seen);
          store[next_uid] = f;
          queue.push_back(appended(++seq, next_uid++, f));
          break;
        }
        case 2: {  // another session changes flags
          if (store.empty()) break;
          uint32_t u = random_live();
          store[u] = static_cast<uint8_t>(pick(32));
          queue.push_back(flags_changed(++seq, u, store[u]));
          break;
        }
        case 3: {  // another session expunges
          if (store.empty()) break;
          uint32_t u = random_live();
          store.erase(u);
          queue.push_back(expunged(++seq, u));
          break;
        }
        case 4: {  // our STORE on a message the client knows and the store still has
          std::vector<uint32_t> known;
          for (uint32_t u : c.uids) {
            if (store.contains(u) && v.seq_of(u) != 0) known.push_back(u);
          }
          if (known.empty()) break;
          uint32_t u = known[pick(known.size())];
          store[u] = static_cast<uint8_t>(pick(32));
          queue.push_back(flags_changed(++seq, u, store[u]));
          v.reported_flags(u, store[u], 0);
          c.flags[u] = store[u];
          break;
        }
        case 5:
        case 6: {  // the watcher wakes: a batch, sometimes only part of the queue
          if (pick(8) == 0) {
            queue.clear();
            v.resync(snapshot(), no_keywords, seq);
          } else {
            size_t k = pick(queue.size() + 1);
            std::vector<ev> batch(queue.begin(), queue.begin() + static_cast<ptrdiff_t>(k));
            queue.erase(queue.begin(), queue.begin() + static_cast<ptrdiff_t>(k));
            v.apply(batch, no_keywords, batch.empty() ? v.event_seq() : batch.back().seq);
          }
          break;
        }
        default: {  // a report: during FETCH/STORE/SEARCH, or at NOOP/IDLE
          // What the view knows is the store minus the unapplied queue; the report is
          // checked against the store as the view knows it.
          const bool allow = pick(2) == 0;
          if (!queue.empty()) {
            // The session syncs right before it reports: the view knows the store.
            v.apply(queue, no_keywords, queue.back().seq);
            queue.clear();
          }
          std::string out;
          v.report(out, allow, pick(2) == 0);
          ASSERT_TRUE(apply_untagged(out, allow, c, v, store)) << out;
          ASSERT_EQ(c.uids.size(), v.exists()) << out;
          for (size_t i = 0; i < c.uids.size(); ++i) ASSERT_EQ(c.uids[i], v.messages()[i].uid) << i;
          for (uint32_t u : c.uids) {
            if (store.contains(u)) {
              ASSERT_EQ(c.flags[u], store[u]) << "uid " << u << "\n" << out;
            }
          }
          if (allow) {
            ASSERT_FALSE(v.has_pending());
            std::vector<uint32_t> live;
            for (const auto& [u, f] : store) live.push_back(u);
            ASSERT_EQ(c.uids, live);
          }
          break;
        }
      }
    }
  }
}

// ---- LIST patterns ----------------------------------------------------------------------

TEST(ListMatch, Star) {
  EXPECT_TRUE(list_pattern_matches("*", "INBOX"));
  EXPECT_TRUE(list_pattern_matches("*", "a/b/c"));
  EXPECT_TRUE(list_pattern_matches("*", ""));
  EXPECT_TRUE(list_pattern_matches("a/*", "a/b/c"));
  EXPECT_FALSE(list_pattern_matches("a/*", "a"));
  EXPECT_TRUE(list_pattern_matches("a*", "a"));
  EXPECT_TRUE(list_pattern_matches("a*", "ab/c"));
  EXPECT_TRUE(list_pattern_matches("*c", "a/b/c"));
  EXPECT_TRUE(list_pattern_matches("a*c", "a/b/c"));
  EXPECT_FALSE(list_pattern_matches("a*c", "a/b/cd"));
  EXPECT_FALSE(list_pattern_matches("foo*", "fobo"));
  EXPECT_TRUE(list_pattern_matches("*foo*", "bar/foo/baz"));
  EXPECT_TRUE(list_pattern_matches("**", "x"));
}

TEST(ListMatch, PercentStopsAtTheDelimiter) {
  EXPECT_TRUE(list_pattern_matches("%", "Sent"));
  EXPECT_TRUE(list_pattern_matches("%", ""));
  EXPECT_FALSE(list_pattern_matches("%", "a/b"));
  EXPECT_TRUE(list_pattern_matches("%/%", "a/b"));
  EXPECT_FALSE(list_pattern_matches("%/%", "a/b/c"));
  EXPECT_FALSE(list_pattern_matches("%/%", "a"));
  EXPECT_TRUE(list_pattern_matches("a/%", "a/b"));
  EXPECT_FALSE(list_pattern_matches("a/%", "a/b/c"));
  EXPECT_TRUE(list_pattern_matches("%/b", "a/b"));
  EXPECT_TRUE(list_pattern_matches("a%", "abc"));
  EXPECT_FALSE(list_pattern_matches("a%", "ab/c"));
  EXPECT_TRUE(list_pattern_matches("%b%", "abc"));
  EXPECT_TRUE(list_pattern_matches("%/%o/%", "x/foo/y"));
  EXPECT_TRUE(list_pattern_matches("%*", "a/b"));  // '*' picks up where '%' stops
  EXPECT_TRUE(list_pattern_matches("%/", "foo/"));
}

TEST(ListMatch, LiteralsAreExactAndCaseSensitive) {
  EXPECT_TRUE(list_pattern_matches("Sent", "Sent"));
  EXPECT_FALSE(list_pattern_matches("sent", "Sent"));
  EXPECT_FALSE(list_pattern_matches("Sent", "Sent/x"));
  EXPECT_FALSE(list_pattern_matches("Sen", "Sent"));
  EXPECT_FALSE(list_pattern_matches("a", "b"));
  EXPECT_TRUE(list_pattern_matches("", ""));
  EXPECT_FALSE(list_pattern_matches("", "a"));
  // UTF-8 names match byte for byte.
  EXPECT_TRUE(list_pattern_matches("Entw\xc3\xbcrfe", "Entw\xc3\xbcrfe"));
  EXPECT_TRUE(list_pattern_matches("Entw%rfe", "Entw\xc3\xbcrfe"));
}

TEST(ListMatch, InboxIsCaseInsensitive) {
  EXPECT_TRUE(list_pattern_matches("INBOX", "INBOX"));
  EXPECT_TRUE(list_pattern_matches("inbox", "INBOX"));
  EXPECT_TRUE(list_pattern_matches("InBoX", "INBOX"));
  EXPECT_TRUE(list_pattern_matches("inbox/%", "INBOX/Sub"));
  EXPECT_TRUE(list_pattern_matches("Inbox/Sub", "INBOX/Sub"));
  EXPECT_FALSE(list_pattern_matches("inbox/sub", "INBOX/Sub"));  // only the INBOX part
  // Dovecot's test-imap-match.c: wildcards between INBOX's letters.
  EXPECT_TRUE(list_pattern_matches("inb*", "INBOX"));
  EXPECT_TRUE(list_pattern_matches("i%X", "INBOX"));
  EXPECT_TRUE(list_pattern_matches("%I%N%B%O%X%", "INBOX"));
  EXPECT_TRUE(list_pattern_matches("i%X/foo", "INBOX/foo"));
  EXPECT_TRUE(list_pattern_matches("*x", "INBOX"));
  EXPECT_FALSE(list_pattern_matches("i%X/foo", "INBX/foo"));
  EXPECT_FALSE(list_pattern_matches("inbox", "INBOX/x"));
  // Names that only start with the letters are ordinary names.
  EXPECT_FALSE(list_pattern_matches("inbox2", "INBOX2"));
  EXPECT_FALSE(list_pattern_matches("inbox*", "INBOXES"));
  EXPECT_TRUE(list_pattern_matches("INBOX*", "INBOXES"));
}

TEST(ListMatch, OverlongPatternsNeverMatch) {
  std::string p(max_pattern_bytes, '*');
  EXPECT_TRUE(list_pattern_matches(p, "anything"));
  p += '*';
  EXPECT_FALSE(list_pattern_matches(p, "anything"));
}

TEST(ListMatch, PathologicalPatternsFinishQuickly) {
  // "*a*a*...*a*b" against "aaaa...a" is exponential for a backtracking matcher.
  std::string pattern;
  while (pattern.size() + 4 < max_pattern_bytes) pattern += "*a";
  pattern += "*b";
  std::string pct;
  while (pct.size() + 4 < max_pattern_bytes) pct += "%a";
  pct += "%b";
  const std::string name(4000, 'a');
  std::string slashed;
  for (int i = 0; i < 1000; ++i) slashed += "aa/a";
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(list_pattern_matches(pattern, name));
    EXPECT_FALSE(list_pattern_matches(pct, name));
    EXPECT_FALSE(list_pattern_matches(pattern, slashed));
    EXPECT_FALSE(list_pattern_matches(pct, slashed));
  }
  EXPECT_TRUE(list_pattern_matches(pattern, name + "b"));
  auto took = std::chrono::steady_clock::now() - start;
  // 80 runs of 512 x 4000 steps: well under a second even unoptimized; a backtracking
  // matcher would not finish in a lifetime. The bound is loose on purpose: it only tells
  // those apart, and ASan builds on a loaded 2-core CI machine took 7.5 s.
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), 60000);
}

TEST(ListMatch, FullPatternFromReference) {
  EXPECT_EQ(list_full_pattern("", "*"), "*");
  EXPECT_EQ(list_full_pattern("", "foo/%"), "foo/%");
  // RFC 3501 6.3.8: reference "~smith/Mail/" pattern "foo.*" (here with '/').
  EXPECT_EQ(list_full_pattern("~smith/Mail/", "foo/*"), "~smith/Mail/foo/*");
  // RFC 9051 6.3.9's "#news." "comp.mail.*" form: the reference names a level.
  EXPECT_EQ(list_full_pattern("news/", "comp/mail/*"), "news/comp/mail/*");
  // A reference without its delimiter gets one (the RFC leaves this to the server).
  EXPECT_EQ(list_full_pattern("Archive", "%"), "Archive/%");
  // A pattern that starts with the delimiter does not double it.
  EXPECT_EQ(list_full_pattern("Archive/", "/2024"), "Archive/2024");
  EXPECT_EQ(list_full_pattern("Archive", "/2024"), "Archive/2024");
  // Empty pattern: the reference alone (LIST "ref" "" is answered by the session).
  EXPECT_EQ(list_full_pattern("Archive", ""), "Archive");
  // Combined with matching.
  EXPECT_TRUE(list_pattern_matches(list_full_pattern("Archive", "%"), "Archive/2024"));
  EXPECT_FALSE(list_pattern_matches(list_full_pattern("Archive", "%"), "Archive/2024/01"));
  EXPECT_TRUE(list_pattern_matches(list_full_pattern("Archive/", "*"), "Archive/2024/01"));
  EXPECT_TRUE(list_pattern_matches(list_full_pattern("inbox", "%"), "INBOX/Sub"));
}

const list_entry* find_entry(const std::vector<list_entry>& v, const std::string& name) {
  for (const auto& e : v) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::vector<std::string> names(const std::vector<list_entry>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.name);
  return out;
}

TEST(ListCandidates, InboxFirstThenByName) {
  auto v = list_candidates({"Sent", "Archive", "INBOX", "Drafts", "Archive/2024"}, {}, {});
  EXPECT_EQ(names(v), (std::vector<std::string>{"INBOX", "Archive", "Archive/2024", "Drafts", "Sent"}));
  const list_entry* a = find_entry(v, "Archive");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->exists);
  EXPECT_TRUE(a->has_children);
  EXPECT_FALSE(find_entry(v, "Archive/2024")->has_children);
  EXPECT_FALSE(find_entry(v, "INBOX")->has_children);
}

TEST(ListCandidates, MissingParentsAreNoselectWithChildren) {
  // Maildir++ ".a.b.c" alone: "a" and "a/b" do not exist.
  auto v = list_candidates({"INBOX", "a/b/c"}, {}, {});
  EXPECT_EQ(names(v), (std::vector<std::string>{"INBOX", "a", "a/b", "a/b/c"}));
  EXPECT_FALSE(find_entry(v, "a")->exists);
  EXPECT_TRUE(find_entry(v, "a")->has_children);
  EXPECT_FALSE(find_entry(v, "a/b")->exists);
  EXPECT_TRUE(find_entry(v, "a/b")->has_children);
  EXPECT_TRUE(find_entry(v, "a/b/c")->exists);
  EXPECT_FALSE(find_entry(v, "a/b/c")->has_children);
  // A sibling whose name shares a prefix is not a child.
  v = list_candidates({"ab", "a/x"}, {}, {});
  EXPECT_FALSE(find_entry(v, "ab")->has_children);
  EXPECT_TRUE(find_entry(v, "a")->has_children);
  v = list_candidates({"a", "a-b", "a.b", "a0"}, {}, {});
  EXPECT_FALSE(find_entry(v, "a")->has_children);
}

TEST(ListCandidates, SubscriptionsOfMissingFolders) {
  auto v = list_candidates({"INBOX", "Sent", "Lists/ietf"}, {"Sent", "Gone", "Lists/ietf", "Old/Stuff"}, {});
  const list_entry* gone = find_entry(v, "Gone");
  ASSERT_NE(gone, nullptr);
  EXPECT_FALSE(gone->exists);
  EXPECT_TRUE(gone->subscribed);
  EXPECT_FALSE(gone->has_children);
  // A subscribed but missing child brings in its parent, which exists no more than it and
  // has no (real) children; its subscribed child is what RECURSIVEMATCH reports.
  const list_entry* old = find_entry(v, "Old");
  ASSERT_NE(old, nullptr);
  EXPECT_FALSE(old->exists);
  EXPECT_FALSE(old->subscribed);
  EXPECT_FALSE(old->has_children);
  EXPECT_TRUE(old->child_subscribed);
  const list_entry* lists = find_entry(v, "Lists");
  ASSERT_NE(lists, nullptr);
  EXPECT_FALSE(lists->exists);
  EXPECT_FALSE(lists->subscribed);
  EXPECT_TRUE(lists->has_children);
  EXPECT_TRUE(lists->child_subscribed);
  EXPECT_TRUE(find_entry(v, "Sent")->subscribed);
  EXPECT_TRUE(find_entry(v, "Sent")->exists);
  EXPECT_FALSE(find_entry(v, "INBOX")->subscribed);
  EXPECT_FALSE(find_entry(v, "INBOX")->child_subscribed);
}

TEST(ListCandidates, SpecialUseOnlyOnExistingFolders) {
  std::map<std::string, std::string> su = {{"Sent", "\\Sent"}, {"Trash", "\\Trash"}, {"Junk", "\\Junk"}};
  auto v = list_candidates({"INBOX", "Sent", "Junk/x"}, {"Trash"}, su);
  EXPECT_EQ(find_entry(v, "Sent")->special_use, "\\Sent");
  EXPECT_EQ(find_entry(v, "Trash")->special_use, "");  // subscribed, missing
  EXPECT_EQ(find_entry(v, "Junk")->special_use, "");   // missing parent
  EXPECT_EQ(find_entry(v, "INBOX")->special_use, "");
}

TEST(ListCandidates, Empty) {
  EXPECT_TRUE(list_candidates({}, {}, {}).empty());
  auto v = list_candidates({}, {"x"}, {});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].exists);
}

// ---- number sets ------------------------------------------------------------------------

TEST(NumberSet, Format) {
  EXPECT_EQ(format_number_set({}), "");
  EXPECT_EQ(format_number_set({5}), "5");
  EXPECT_EQ(format_number_set({1, 2, 3}), "1:3");
  EXPECT_EQ(format_number_set({1, 2, 3, 5, 7, 8, 9}), "1:3,5,7:9");
  EXPECT_EQ(format_number_set({1, 3, 5}), "1,3,5");
  EXPECT_EQ(format_number_set({1, 2}), "1:2");
  // Order kept (COPYUID pairs by position): descending runs stay single numbers.
  EXPECT_EQ(format_number_set({9, 8, 7}), "9,8,7");
  EXPECT_EQ(format_number_set({7, 8, 1, 2}), "7:8,1:2");
  EXPECT_EQ(format_number_set({4, 4}), "4,4");
  // No wrap-around at the top of the range.
  EXPECT_EQ(format_number_set({4294967294u, 4294967295u}), "4294967294:4294967295");
  EXPECT_EQ(format_number_set({4294967295u, 0}), "4294967295,0");
}

}  // namespace
}  // namespace ringmail::imap
