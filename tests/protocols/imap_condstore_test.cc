// CONDSTORE/QRESYNC (RFC 7162): the QRESYNC and VANISHED syntax (through the reader,
// whole and byte by byte), the resync arithmetic of condstore.h, and the view's MODSEQ
// and VANISHED reporting.
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "delivery/mailstore/folder_index.h"
#include "delivery/mailstore/maildir_filename.h"
#include "protocols/imap/command.h"
#include "protocols/imap/command_reader.h"
#include "protocols/imap/condstore.h"
#include "protocols/imap/mailbox_view.h"

namespace ringmail::imap {
namespace {

using rk = command_reader::result::kind;

// The reader frames `line` fed one byte at a time; the parser reads the framed command.
parse_result parse_bytewise(const std::string& line) {
  command_reader reader;
  std::string buf;
  for (char ch : line) {
    buf += ch;
    command_reader::result r = reader.next(buf);
    if (r.k == rk::command) {
      std::string bytes(r.bytes);
      EXPECT_EQ(r.consumed, buf.size());
      return parse_command(bytes);
    }
    EXPECT_NE(r.k, rk::error) << line;
    buf.erase(0, r.consumed);
  }
  ADD_FAILURE() << "not framed: " << line;
  return {};
}

command parse_ok(const std::string& text) {
  parse_result r = parse_bytewise(text + "\r\n");
  EXPECT_TRUE(r.cmd.has_value()) << text << ": " << r.error.message;
  return r.cmd ? *r.cmd : command{};
}

void parse_bad(const std::string& text) {
  parse_result r = parse_bytewise(text + "\r\n");
  EXPECT_FALSE(r.cmd.has_value()) << text;
}

std::string spans(const sequence_set& s) { return format_spans(normalize_set(s, 0)); }

// ---- syntax -----------------------------------------------------------------------------

TEST(QresyncParser, Rfc7162Examples) {
  // Section 3.2.5.2.
  command c = parse_ok("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))");
  ASSERT_TRUE(c.qresync);
  EXPECT_EQ(c.qresync->uid_validity, 67890007u);
  EXPECT_EQ(c.qresync->modseq, 20050715194045000u);
  ASSERT_TRUE(c.qresync->known_uids);
  EXPECT_EQ(spans(*c.qresync->known_uids), "41,43:211,214:541");
  EXPECT_FALSE(c.qresync->match_seqs);
  // With message sequence match data (section 3.2.5.2, second example).
  c = parse_ok("B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 "
               "15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))");
  ASSERT_TRUE(c.qresync && c.qresync->match_seqs && c.qresync->match_uids);
  EXPECT_EQ(spans(*c.qresync->match_seqs), "5000,7500,9000,9990:9999");
  // Match data without known UIDs; CONDSTORE and QRESYNC together; EXAMINE.
  c = parse_ok("a EXAMINE x (QRESYNC (1 2 (1:3 4:6)) CONDSTORE)");
  ASSERT_TRUE(c.qresync && !c.qresync->known_uids && c.qresync->match_seqs);
  EXPECT_EQ(c.atoms, (std::vector<std::string>{"QRESYNC", "CONDSTORE"}));
  c = parse_ok("a select x (condstore qresync (1 2))");
  ASSERT_TRUE(c.qresync);
  EXPECT_EQ(c.qresync->modseq, 2u);
  // UID FETCH VANISHED (section 3.2.6).
  c = parse_ok("A03 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)");
  EXPECT_TRUE(c.fetch_vanished);
  EXPECT_EQ(c.changed_since, 12345u);
  c = parse_ok("A03 UID FETCH 1:* (FLAGS) (VANISHED CHANGEDSINCE 1)");
  EXPECT_TRUE(c.fetch_vanished);
}

TEST(QresyncParser, HostileAndMalformed) {
  // mod-sequence-value: 1 .. 2^63-1.
  command c = parse_ok("a SELECT x (QRESYNC (1 9223372036854775807))");
  EXPECT_EQ(c.qresync->modseq, 9223372036854775807u);
  parse_bad("a SELECT x (QRESYNC (1 9223372036854775808))");
  parse_bad("a SELECT x (QRESYNC (1 18446744073709551616))");
  parse_bad("a SELECT x (QRESYNC (1 99999999999999999999999999))");
  parse_bad("a SELECT x (QRESYNC (1 0))");
  parse_bad("a UID FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)");
  parse_bad("a STORE 1 (UNCHANGEDSINCE 9223372036854775808) FLAGS ()");
  parse_bad("a SEARCH MODSEQ 9223372036854775808");
  EXPECT_EQ(parse_ok("a SEARCH MODSEQ 9223372036854775807").search.children[0].number, 9223372036854775807u);
  // uidvalidity is nz-number; the value is required; nothing else may follow.
  parse_bad("a SELECT x (QRESYNC (0 5))");
  parse_bad("a SELECT x (QRESYNC)");
  parse_bad("a SELECT x (QRESYNC (1))");
  parse_bad("a SELECT x (QRESYNC (1 5 1:3 (1 1) x))");
  parse_bad("a SELECT x (QRESYNC (1 5 1:3 ()))");
  // "*" and "$" are not allowed in the sets.
  parse_bad("a SELECT x (QRESYNC (1 5 1:*))");
  parse_bad("a SELECT x (QRESYNC (1 5 $))");
  parse_bad("a SELECT x (QRESYNC (1 5 1:3 (1:* 1:3)))");
  // Match data of unequal length is BAD; counted per range, so huge ranges cost nothing.
  parse_bad("a SELECT x (QRESYNC (1 5 1:3 (1:3 1:4)))");
  parse_bad("a SELECT x (QRESYNC (1 5 (1:4294967295 1:4294967294)))");
  c = parse_ok("a SELECT x (QRESYNC (1 5 1:4294967295 (1:4294967295 4294967295:1)))");
  EXPECT_EQ(c.qresync->known_uids->ranges.size(), 1u);
  // VANISHED only in UID FETCH with CHANGEDSINCE.
  parse_bad("a FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)");
  parse_bad("a UID FETCH 1:* (FLAGS) (VANISHED)");
  parse_bad("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED X)");
}

// ---- resync arithmetic ------------------------------------------------------------------

mailstore::message_entry msg(uint32_t uid, uint64_t modseq, uint8_t flags = 0) {
  mailstore::message_entry m;
  m.uid = uid;
  m.modseq = modseq;
  m.flags = flags;
  return m;
}

// UIDs 1..10 given out; 3, 4 and 8 expunged at modseqs 20, 21, 30; 5 changed at 25.
mailstore::folder_state sample() {
  mailstore::folder_state st;
  st.uid_validity = 7;
  st.uid_next = 11;
  for (uint32_t u : {1u, 2u, 5u, 6u, 7u, 9u, 10u}) st.messages.push_back(msg(u, u == 5 ? 25 : 10));
  st.expunged = {{3, 20}, {4, 21}, {8, 30}};
  st.highest_modseq = 30;
  return st;
}

qresync_param qp(uint32_t validity, uint64_t modseq) {
  qresync_param q;
  q.uid_validity = validity;
  q.modseq = modseq;
  return q;
}

sequence_set set_of(std::vector<std::pair<uint32_t, uint32_t>> r) {
  sequence_set s;
  for (auto [a, b] : r) s.ranges.push_back({a, b});
  return s;
}

TEST(Qresync, FromTheHistory) {
  mailstore::folder_state st = sample();
  qresync_result r = compute_qresync(st, qp(7, 20));
  EXPECT_TRUE(r.applies);
  EXPECT_EQ(format_spans(r.vanished), "4,8");  // 3 was expunged at 20: the client knew
  ASSERT_EQ(r.changed.size(), 1u);
  EXPECT_EQ(r.changed[0].uid, 5u);
  EXPECT_EQ(r.changed[0].modseq, 25u);
  // Known UIDs narrow both parts.
  qresync_param q = qp(7, 1);
  q.known_uids = set_of({{1, 4}});
  r = compute_qresync(st, q);
  EXPECT_EQ(format_spans(r.vanished), "3:4");
  EXPECT_EQ(r.changed.size(), 2u);  // 1 and 2 (modseq 10 > 1)
  // Up to date: nothing.
  r = compute_qresync(st, qp(7, 30));
  EXPECT_TRUE(r.vanished.empty());
  EXPECT_TRUE(r.changed.empty());
  // Another UIDVALIDITY: the client's data is ignored.
  r = compute_qresync(st, qp(8, 1));
  EXPECT_FALSE(r.applies);
  EXPECT_TRUE(r.vanished.empty() && r.changed.empty());
}

TEST(Qresync, HistoryDroppedAnswersWithEveryMissingUid) {
  mailstore::folder_state st = sample();
  // The history is full: entries older than its oldest (modseq 20) may be gone.
  st.expunged.clear();
  for (uint32_t i = 0; i < mailstore::kMaxExpungedKept; ++i) st.expunged.emplace_back(100000 + i, 20 + i);
  st.expunged[0] = {3, 20};
  EXPECT_TRUE(expunge_history_covers(st, 20));
  EXPECT_FALSE(expunge_history_covers(st, 19));
  qresync_result r = compute_qresync(st, qp(7, 5));
  EXPECT_EQ(format_spans(r.vanished), "3:4,8");  // every UID below UIDNEXT not present
  // Message sequence match data: messages 1..3 are UIDs 1, 2, 5 as the client says, so it
  // knows every expunge below UID 5.
  qresync_param q = qp(7, 5);
  q.match_seqs = set_of({{1, 3}});
  q.match_uids = set_of({{1, 2}, {5, 5}});
  r = compute_qresync(st, q);
  EXPECT_EQ(format_spans(r.vanished), "8");
  // The first pair that does not match stops the walk (here the second: 2 -> 3).
  q.match_uids = set_of({{1, 1}, {3, 3}, {5, 5}});
  r = compute_qresync(st, q);
  EXPECT_EQ(format_spans(r.vanished), "3:4,8");
  // A mod-sequence above ours (an index rebuilt since) is not trusted either.
  st = sample();
  EXPECT_FALSE(expunge_history_covers(st, 31));
  r = compute_qresync(st, qp(7, 1000));
  EXPECT_EQ(format_spans(r.vanished), "3:4,8");
}

TEST(Qresync, IndexRebuiltOverKeptUidsAnswersFromTheGaps) {
  // An index rebuilt from dovecot-uidlist: the UIDs stay, modseqs restart above any from
  // before (every message found gets the first one), the expunge history is empty.
  mailstore::folder_state st = sample();
  st.expunged.clear();
  for (auto& m : st.messages) m.modseq = 1'000'000;
  st.messages[1].modseq = 1'000'005;  // changed since the rebuild
  st.highest_modseq = 1'000'005;
  EXPECT_FALSE(expunge_history_covers(st, 500));      // a modseq from the old numbering
  EXPECT_TRUE(expunge_history_covers(st, 999'999));   // saw everything up to the rebuild
  EXPECT_TRUE(expunge_history_covers(st, 1'000'000));
  qresync_result r = compute_qresync(st, qp(7, 500));
  EXPECT_EQ(format_spans(r.vanished), "3:4,8");  // not "": those went before the rebuild
  EXPECT_EQ(r.changed.size(), 7u);
  r = compute_qresync(st, qp(7, 1'000'000));
  EXPECT_TRUE(r.vanished.empty());
  ASSERT_EQ(r.changed.size(), 1u);
  EXPECT_EQ(r.changed[0].uid, 2u);
}

TEST(Qresync, HugeAndInvertedSetsCostRanges) {
  mailstore::folder_state st = sample();
  st.expunged.clear();
  st.highest_modseq = 5;
  st.uid_next = 4294967295u;  // UIDs nearly exhausted
  qresync_param q = qp(7, 6);  // above ours: answer from the gaps
  q.known_uids = set_of({{4294967295u, 1}, {7, 2}});
  qresync_result r = compute_qresync(st, q);
  EXPECT_EQ(format_spans(r.vanished), "3:4,8,11:4294967294");
  // Match data naming 4 billion pairs stops at the folder's size.
  q.match_seqs = set_of({{1, 4294967295u}});
  q.match_uids = set_of({{1, 4294967295u}});
  r = compute_qresync(st, q);
  EXPECT_EQ(format_spans(r.vanished), "3:4,8,11:4294967294");  // pair 3 (UID 3) fails
  EXPECT_EQ(matched_up_to(set_of({{1, 4294967295u}}), set_of({{1, 2}, {5, 7}, {9, 4294967295u}}), st.messages), 10u);
  // Descending sequence numbers stop the walk.
  EXPECT_EQ(matched_up_to(set_of({{2, 2}, {1, 1}}), set_of({{2, 2}, {1, 1}}), st.messages), 2u);
  // UID FETCH ... VANISHED with "*".
  st = sample();
  sequence_set all;
  all.ranges.push_back({1, seq_range::star});
  EXPECT_EQ(format_spans(fetch_vanished(st, all, 20)), "4,8");
  EXPECT_EQ(format_spans(fetch_vanished(st, set_of({{5, 9}}), 0)), "8");
}

// Random histories (appends, flag changes, expunges), sometimes with the history cut
// short or the index rebuilt over kept UIDs, and random client mod-sequences and known
// UIDs: VANISHED (EARLIER) never misses a known UID expunged after the client's modseq,
// never names a message that is there, never leaves the known set; FETCH lists exactly
// the known messages changed after it.
TEST(Qresync, RandomHistoriesNeverMissAnExpunge) {
  std::mt19937 rng(7162);
  for (int round = 0; round < 3000; ++round) {
    mailstore::folder_state st;
    st.uid_validity = 1;
    st.highest_modseq = 1;
    std::map<uint32_t, uint64_t> gone;  // the truth: uid -> modseq of its expunge
    std::map<uint32_t, uint64_t> appended;  // uid -> modseq of its append
    const int ops = 1 + static_cast<int>(rng() % 80);
    for (int i = 0; i < ops; ++i) {
      const uint64_t modseq = ++st.highest_modseq;
      const unsigned what = rng() % 4;
      if (what < 2 || st.messages.empty()) {
        appended[st.uid_next] = modseq;
        st.messages.push_back(msg(st.uid_next++, modseq));
      } else if (what == 2) {
        st.messages[rng() % st.messages.size()].modseq = modseq;
      } else {
        const size_t at = rng() % st.messages.size();
        gone[st.messages[at].uid] = modseq;
        st.expunged.emplace_back(st.messages[at].uid, modseq);
        st.messages.erase(st.messages.begin() + static_cast<ptrdiff_t>(at));
      }
    }
    const uint64_t before = st.highest_modseq;
    switch (rng() % 4) {
      case 0: {  // the history lost its oldest entries (as past kMaxExpungedKept)
        const size_t cut = st.expunged.empty() ? 0 : rng() % (st.expunged.size() + 1);
        st.expunged.erase(st.expunged.begin(), st.expunged.begin() + static_cast<ptrdiff_t>(cut));
        // Pretend the rest fills the history, so the store's cut rule applies.
        if (cut > 0) {
          while (st.expunged.size() < mailstore::kMaxExpungedKept) st.expunged.emplace_back(4000000000u, before);
          std::stable_sort(st.expunged.begin(), st.expunged.end(),
                           [](const auto& a, const auto& b) { return a.second < b.second; });
        }
        break;
      }
      case 1: {  // rebuilt over kept UIDs: modseqs start above all, no history
        st.expunged.clear();
        st.highest_modseq = before + 1000;
        for (auto& m : st.messages) m.modseq = st.highest_modseq;
        break;
      }
      default:
        break;
    }
    qresync_param q;
    q.uid_validity = 1;
    q.modseq = 1 + rng() % (before + 2);
    if (rng() % 2) {
      q.known_uids.emplace();
      const int n = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < n; ++i) {
        const uint32_t a = 1 + rng() % (st.uid_next + 2), b = 1 + rng() % (st.uid_next + 2);
        q.known_uids->ranges.push_back({a, b});
      }
    }
    // The folder as the client knew it at its modseq.
    std::vector<uint32_t> client;
    for (const auto& [uid, at] : appended) {
      if (at <= q.modseq && !(gone.count(uid) && gone[uid] <= q.modseq)) client.push_back(uid);
    }
    if (rng() % 3 == 0 && !client.empty()) {
      // Sequence match data from that knowledge, as a client sends it.
      q.match_seqs.emplace();
      q.match_uids.emplace();
      for (uint32_t seq = 1; seq <= client.size(); seq += 1 + rng() % 3) {
        q.match_seqs->ranges.push_back({seq, seq});
        q.match_uids->ranges.push_back({client[seq - 1], client[seq - 1]});
      }
    }
    const uint32_t top = st.uid_next - 1;
    const std::vector<uid_span> known =
        q.known_uids ? normalize_set(*q.known_uids, top) : std::vector<uid_span>{{1, std::max<uint32_t>(top, 1)}};
    qresync_result r = compute_qresync(st, q);
    ASSERT_TRUE(r.applies);
    std::set<uint32_t> present;
    for (const auto& m : st.messages) present.insert(m.uid);
    for (const auto& [lo, hi] : r.vanished) {
      ASSERT_LE(lo, hi);
      for (uint64_t u = lo; u <= hi; ++u) {
        EXPECT_FALSE(present.count(static_cast<uint32_t>(u))) << "round " << round << " uid " << u;
        EXPECT_TRUE(spans_contain(known, static_cast<uint32_t>(u))) << "round " << round;
      }
    }
    for (const auto& [uid, modseq] : gone) {
      if (q.modseq >= before) break;  // a client that saw everything
      // Only an expunge after the client's modseq is owed; in the old numbering for a
      // rebuilt index (where the client's modseq is from before the rebuild).
      if (modseq <= q.modseq || !spans_contain(known, uid)) continue;
      EXPECT_TRUE(spans_contain(r.vanished, uid)) << "round " << round << " missed uid " << uid;
    }
    size_t changed = 0;
    for (const auto& m : st.messages) changed += m.modseq > q.modseq && spans_contain(known, m.uid);
    EXPECT_EQ(r.changed.size(), changed) << "round " << round;
  }
}

TEST(Qresync, NormalizeAndFormat) {
  EXPECT_EQ(format_spans(normalize_set(set_of({{9, 7}, {1, 2}, {3, 3}, {8, 12}}), 0)), "1:3,7:12");
  sequence_set s;
  s.ranges.push_back({seq_range::star, 5});
  EXPECT_EQ(format_spans(normalize_set(s, 0)), "");  // "*" in an empty folder names nothing
  EXPECT_EQ(format_spans(normalize_set(s, 3)), "3:5");
  EXPECT_TRUE(spans_contain({{1, 3}, {7, 9}}, 8));
  EXPECT_FALSE(spans_contain({{1, 3}, {7, 9}}, 5));
  EXPECT_FALSE(spans_contain({}, 1));
}

// ---- the view ---------------------------------------------------------------------------

TEST(CondstoreView, VanishedAndModseqInUpdates) {
  mailbox_view v;
  v.reset({make_view_message(1, 0, 0, 5), make_view_message(2, 0, 0, 5), make_view_message(3, 0, 0, 5),
           make_view_message(4, 0, 0, 5)},
          {}, 1);
  v.set_condstore(true, true);
  std::vector<mailstore::folder_event> ev;
  ev.push_back({mailstore::folder_event::expunged, 2, 2, 0, 0, 6});
  ev.push_back({mailstore::folder_event::expunged, 3, 3, 0, 0, 7});
  ev.push_back({mailstore::folder_event::flags_changed, 4, 4, mailstore::flag_seen, 0, 8});
  v.apply(ev, {}, 4);
  std::string out;
  v.report(out, false, false);  // during FETCH: no VANISHED, numbers unchanged
  EXPECT_EQ(out, "* 4 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (8))\r\n");
  out.clear();
  v.report(out, true, false);
  EXPECT_EQ(out, "* VANISHED 2:3\r\n");
  EXPECT_EQ(v.exists(), 2u);
  // CONDSTORE without QRESYNC: EXPUNGE as before, MODSEQ without UID.
  mailbox_view w;
  w.reset({make_view_message(1, 0, 0, 5), make_view_message(2, 0, 0, 5)}, {}, 1);
  w.set_condstore(true, false);
  std::vector<mailstore::folder_event> ev2;
  ev2.push_back({mailstore::folder_event::flags_changed, 2, 2, mailstore::flag_flagged, 0, 9});
  ev2.push_back({mailstore::folder_event::expunged, 3, 1, 0, 0, 10});
  w.apply(ev2, {}, 3);
  out.clear();
  w.report(out, true, false);
  EXPECT_EQ(out, "* 1 EXPUNGE\r\n* 1 FETCH (FLAGS (\\Flagged) MODSEQ (9))\r\n");
}

}  // namespace
}  // namespace ringmail::imap
