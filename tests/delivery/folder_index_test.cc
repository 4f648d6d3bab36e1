// folder_index: the pure half of the mail store's index (folder_index.h). Every change kind
// through encode/decode; a log replayed whole, cut at every byte (a torn tail), with a
// byte flipped anywhere, with records the checkpoint already holds, and with a gap; and
// checkpoints round-tripped and refused when truncated or damaged.
#include "delivery/mailstore/folder_index.h"

#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringmail::mailstore {
namespace {

message_entry make_message(uint32_t uid, uint64_t modseq, std::mt19937& rng) {
  message_entry m;
  m.uid = uid;
  m.base = "1700000000.M" + std::to_string(rng() % 100000) + "P1Q" + std::to_string(uid) + ".mx,S=" +
           std::to_string(100 + uid) + ",W=" + std::to_string(103 + uid);
  m.in_new = rng() % 2 == 0;
  m.flags = static_cast<uint8_t>(rng() % 32);
  m.keywords = static_cast<uint32_t>(rng());
  m.other_flags = rng() % 3 == 0 ? "P" : "";
  m.modseq = modseq;
  m.size = 100 + uid;
  m.vsize = 103 + uid;
  m.internal_date = 1'700'000'000 + uid;
  m.cache = rng() % 2 == 0 ? std::string() : std::string(rng() % 40, static_cast<char>('a' + uid % 26));
  return m;
}

// A log of every change kind, in an order the owner could have written it.
std::vector<change> sample_changes(unsigned seed, size_t appends = 6) {
  std::mt19937 rng(seed);
  std::vector<change> out;
  uint64_t modseq = 1;
  change header;
  header.k = change::set_header;
  header.uid_validity = 1'700'000'123;
  header.uid_next = 1;
  out.push_back(header);
  change kw;
  kw.k = change::add_keyword;
  kw.keyword = "$Forwarded";
  out.push_back(kw);
  for (uint32_t uid = 1; uid <= appends; ++uid) {
    change a;
    a.k = change::append;
    a.message = make_message(uid, ++modseq, rng);
    a.modseq = a.message.modseq;
    out.push_back(a);
  }
  change f;
  f.k = change::set_flags;
  f.message.uid = 2;
  f.message.flags = 1 | 8;
  f.message.keywords = 1;
  f.message.in_new = false;
  f.message.other_flags = "P";
  f.modseq = ++modseq;
  out.push_back(f);
  change cache;
  cache.k = change::set_cache;
  cache.message.uid = 3;
  cache.message.cache = std::string("envelope\0body", 13);
  out.push_back(cache);
  change e;
  e.k = change::expunge;
  e.uid = 1;
  e.modseq = ++modseq;
  out.push_back(e);
  change kw2;
  kw2.k = change::add_keyword;
  kw2.keyword = "Junk";
  out.push_back(kw2);
  change bump;
  bump.k = change::set_header;
  bump.uid_validity = 1'700'000'123;
  bump.uid_next = static_cast<uint32_t>(appends + 10);
  out.push_back(bump);
  return out;
}

// The fields each kind carries in a record (decode leaves the rest default).
void expect_same_change(const change& want, const change& got) {
  ASSERT_EQ(want.k, got.k);
  switch (want.k) {
    case change::append:
      EXPECT_EQ(want.message, got.message);
      EXPECT_EQ(got.modseq, want.message.modseq);
      break;
    case change::set_flags:
      EXPECT_EQ(want.message.uid, got.message.uid);
      EXPECT_EQ(want.message.in_new, got.message.in_new);
      EXPECT_EQ(want.message.flags, got.message.flags);
      EXPECT_EQ(want.message.keywords, got.message.keywords);
      EXPECT_EQ(want.message.other_flags, got.message.other_flags);
      EXPECT_EQ(want.modseq, got.modseq);
      break;
    case change::expunge:
      EXPECT_EQ(want.uid, got.uid);
      EXPECT_EQ(want.modseq, got.modseq);
      break;
    case change::add_keyword:
      EXPECT_EQ(want.keyword, got.keyword);
      break;
    case change::set_header:
      EXPECT_EQ(want.uid_validity, got.uid_validity);
      EXPECT_EQ(want.uid_next, got.uid_next);
      break;
    case change::set_cache:
      EXPECT_EQ(want.message.uid, got.message.uid);
      EXPECT_EQ(want.message.cache, got.message.cache);
      break;
  }
}

struct encoded_log {
  std::string bytes;
  std::vector<size_t> ends;  // ends[i]: offset just past record i
};

encoded_log encode_log(const std::vector<change>& changes, uint64_t first_seq = 1) {
  encoded_log log;
  for (size_t i = 0; i < changes.size(); ++i) {
    log.bytes += encode_record(first_seq + i, changes[i]);
    log.ends.push_back(log.bytes.size());
  }
  return log;
}

folder_state apply_first(const std::vector<change>& changes, size_t n, folder_state s = {}) {
  for (size_t i = 0; i < n; ++i) apply(s, changes[i]);
  return s;
}

// ---- records -----------------------------------------------------------------------------

TEST(FolderIndexRecord, EveryKindRoundTrips) {
  const auto changes = sample_changes(1);
  std::set<int> kinds;
  for (size_t i = 0; i < changes.size(); ++i) {
    const std::string bytes = encode_record(100 + i, changes[i]);
    auto d = decode_record(bytes);
    ASSERT_TRUE(d.has_value()) << "kind " << int(changes[i].k);
    EXPECT_EQ(d->seq, 100 + i);
    EXPECT_EQ(d->length, bytes.size());
    expect_same_change(changes[i], d->c);
    kinds.insert(changes[i].k);
    // Trailing bytes belong to the next record, not this one.
    auto with_tail = decode_record(bytes + "more");
    ASSERT_TRUE(with_tail.has_value());
    EXPECT_EQ(with_tail->length, bytes.size());
  }
  EXPECT_EQ(kinds.size(), 6u) << "every change kind is in the sample";
}

TEST(FolderIndexRecord, LimitsAreEnforcedOnDecode) {
  // An over-long keyword or base name decodes as damage, not as a record.
  change kw;
  kw.k = change::add_keyword;
  kw.keyword = std::string(kMaxKeywordLength + 1, 'k');
  EXPECT_FALSE(decode_record(encode_record(1, kw)).has_value());
  kw.keyword.resize(kMaxKeywordLength);
  EXPECT_TRUE(decode_record(encode_record(1, kw)).has_value());
  change a;
  a.k = change::append;
  a.message.uid = 1;
  a.message.base = std::string(kMaxBaseNameLength + 1, 'b');
  EXPECT_FALSE(decode_record(encode_record(1, a)).has_value());
  // A length field past kMaxRecordPayload is damage even if the bytes were there.
  std::string huge(8, '\0');
  huge[0] = huge[1] = huge[2] = static_cast<char>(0xff);
  huge[3] = 0x7f;
  EXPECT_FALSE(decode_record(huge).has_value());
  // An unknown kind with a valid CRC is refused too.
  change bad;
  bad.k = static_cast<change::kind>(9);
  EXPECT_FALSE(decode_record(encode_record(1, bad)).has_value());
}

TEST(FolderIndexApply, ModseqIsTheMaximumAndUidsOnlyAscend) {
  const auto changes = sample_changes(2);
  folder_state s = apply_first(changes, changes.size());
  uint64_t max_modseq = 0;
  for (const auto& c : changes) max_modseq = std::max(max_modseq, c.modseq);
  EXPECT_EQ(s.highest_modseq, max_modseq);
  EXPECT_EQ(s.uid_validity, 1'700'000'123u);
  EXPECT_EQ(s.uid_next, 16u);  // the set_header bump: appends + 10
  ASSERT_EQ(s.messages.size(), 5u);
  EXPECT_EQ(s.messages.front().uid, 2u);
  EXPECT_EQ(s.find(2)->flags, 1 | 8);
  EXPECT_EQ(s.find(3)->cache, std::string("envelope\0body", 13));
  EXPECT_EQ(s.find(1), nullptr);
  ASSERT_EQ(s.expunged.size(), 1u);
  EXPECT_EQ(s.expunged[0].first, 1u);
  EXPECT_EQ(s.keywords, (std::vector<std::string>{"$Forwarded", "Junk"}));
  // An append at or below the last UID is damage: ignored, uid_next never goes back.
  change stale;
  stale.k = change::append;
  stale.message.uid = 4;
  stale.message.modseq = 999;
  folder_state before = s;
  apply(s, stale);
  EXPECT_EQ(s, before);
  // A smaller uid_next in a header change does not lower it.
  change lower;
  lower.k = change::set_header;
  lower.uid_validity = s.uid_validity;
  lower.uid_next = 3;
  apply(s, lower);
  EXPECT_EQ(s.uid_next, 16u);
}

// ---- replay ------------------------------------------------------------------------------

TEST(FolderIndexReplay, WholeLogEqualsApplyingEveryRecord) {
  const auto changes = sample_changes(3, 20);
  const encoded_log log = encode_log(changes);
  folder_state s;
  uint64_t last = 0;
  EXPECT_EQ(replay(s, log.bytes, 0, &last), log.bytes.size());
  EXPECT_EQ(last, changes.size());
  EXPECT_EQ(s, apply_first(changes, changes.size()));
}

TEST(FolderIndexReplay, TornTailAtEveryByteStopsAtTheLastCompleteRecord) {
  const auto changes = sample_changes(4);
  const encoded_log log = encode_log(changes);
  for (size_t cut = 0; cut <= log.bytes.size(); ++cut) {
    size_t complete = 0;
    while (complete < log.ends.size() && log.ends[complete] <= cut) ++complete;
    folder_state s;
    uint64_t last = 77;
    const size_t valid = replay(s, std::string_view(log.bytes).substr(0, cut), 0, &last);
    ASSERT_EQ(valid, complete == 0 ? 0 : log.ends[complete - 1]) << "cut at " << cut;
    ASSERT_EQ(last, complete) << "cut at " << cut;
    ASSERT_EQ(s, apply_first(changes, complete)) << "cut at " << cut;
  }
}

TEST(FolderIndexReplay, AFlippedByteStopsReplayAtItsRecord) {
  const auto changes = sample_changes(5);
  const encoded_log log = encode_log(changes);
  for (size_t pos = 0; pos < log.bytes.size(); ++pos) {
    size_t record = 0;
    while (log.ends[record] <= pos) ++record;
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string damaged = log.bytes;
      damaged[pos] = static_cast<char>(damaged[pos] ^ mask);
      folder_state s;
      uint64_t last = 0;
      const size_t valid = replay(s, damaged, 0, &last);
      ASSERT_EQ(valid, record == 0 ? 0 : log.ends[record - 1]) << "byte " << pos << " mask " << int(mask);
      ASSERT_EQ(last, record);
      ASSERT_EQ(s, apply_first(changes, record)) << "byte " << pos;
    }
  }
}

TEST(FolderIndexReplay, RecordsTheCheckpointHoldsAreSkipped) {
  const auto changes = sample_changes(6, 10);
  const encoded_log log = encode_log(changes);
  for (size_t held = 0; held <= changes.size(); ++held) {
    // Load = checkpoint at `held`, then the whole log: the first `held` records are skipped.
    auto cp = decode_checkpoint(encode_checkpoint(apply_first(changes, held), held));
    ASSERT_TRUE(cp.ok()) << cp.status();
    folder_state s = cp->state;
    uint64_t last = 0;
    EXPECT_EQ(replay(s, log.bytes, cp->seq, &last), log.bytes.size());
    EXPECT_EQ(last, changes.size());
    EXPECT_EQ(s, apply_first(changes, changes.size())) << "checkpoint at " << held;
  }
  // A checkpoint newer than every record (crash between the checkpoint rename and the log
  // replacement): nothing is applied twice.
  folder_state all = apply_first(changes, changes.size());
  folder_state s = all;
  uint64_t last = 0;
  EXPECT_EQ(replay(s, log.bytes, changes.size() + 5, &last), log.bytes.size());
  EXPECT_EQ(last, changes.size() + 5);
  EXPECT_EQ(s, all);
}

TEST(FolderIndexReplay, AGapInSequenceNumbersStopsReplay) {
  const auto changes = sample_changes(7);
  std::string bytes;
  std::vector<size_t> ends;
  for (size_t i = 0; i < changes.size(); ++i) {
    const uint64_t seq = i < 4 ? i + 1 : i + 2;  // 1 2 3 4 6 7 ...
    bytes += encode_record(seq, changes[i]);
    ends.push_back(bytes.size());
  }
  folder_state s;
  uint64_t last = 0;
  EXPECT_EQ(replay(s, bytes, 0, &last), ends[3]);
  EXPECT_EQ(last, 4u);
  EXPECT_EQ(s, apply_first(changes, 4));
  // A log that starts past the checkpoint's successor is from another generation.
  folder_state t;
  EXPECT_EQ(replay(t, encode_log(changes, 3).bytes, 0, &last), 0u);
  EXPECT_EQ(last, 0u);
  EXPECT_EQ(t, folder_state{});
}

// ---- checkpoints -------------------------------------------------------------------------

folder_state rich_state(unsigned seed, size_t messages) {
  std::mt19937 rng(seed);
  folder_state s;
  s.uid_validity = 1'650'000'000 + seed;
  s.mailbox_guid = "0123456789abcdef0123456789abcdef";
  s.keywords = {"$Forwarded", "$MDNSent", "Junk", "NonJunk"};
  s.new_mtime_ns = 1'700'000'000'123'456'789LL;
  s.cur_mtime_ns = 1'700'000'001'000'000'000LL;
  uint32_t uid = 0;
  uint64_t modseq = 1;
  for (size_t i = 0; i < messages; ++i) {
    uid += 1 + rng() % 3;
    s.messages.push_back(make_message(uid, ++modseq, rng));
    if (rng() % 4 == 0) s.expunged.emplace_back(uid + 1, ++modseq);
  }
  s.uid_next = uid + 5;
  s.highest_modseq = modseq;
  return s;
}

TEST(FolderIndexCheckpoint, RoundTrips) {
  for (unsigned seed = 0; seed < 20; ++seed) {
    const folder_state s = rich_state(seed, seed * 7);
    auto d = decode_checkpoint(encode_checkpoint(s, 1000 + seed));
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->seq, 1000 + seed);
    EXPECT_EQ(d->state, s);
  }
  auto empty = decode_checkpoint(encode_checkpoint(folder_state{}, 0));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->state, folder_state{});
}

TEST(FolderIndexCheckpoint, EveryTruncationIsRefused) {
  const std::string bytes = encode_checkpoint(rich_state(42, 12), 9);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    auto d = decode_checkpoint(std::string_view(bytes).substr(0, cut));
    ASSERT_FALSE(d.ok()) << "truncated to " << cut;
  }
  // Bytes appended after the checksum are damage too.
  EXPECT_FALSE(decode_checkpoint(bytes + "x").ok());
}

TEST(FolderIndexCheckpoint, EveryFlippedByteIsRefused) {
  const std::string bytes = encode_checkpoint(rich_state(43, 8), 9);
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    for (uint8_t mask : {0x01, 0x40, 0xff}) {
      std::string damaged = bytes;
      damaged[pos] = static_cast<char>(damaged[pos] ^ mask);
      ASSERT_FALSE(decode_checkpoint(damaged).ok()) << "byte " << pos << " mask " << int(mask);
    }
  }
}

TEST(FolderIndexCheckpoint, RandomDamageNeverCrashesNorLoadsWrongUids) {
  // Random bytes, and checkpoints with several random bytes replaced: decode either
  // refuses or (vanishingly unlikely) yields a state whose UIDs still ascend below uid_next.
  std::mt19937 rng(44);
  const std::string bytes = encode_checkpoint(rich_state(44, 30), 3);
  for (int i = 0; i < 3000; ++i) {
    std::string damaged = bytes;
    const int n = 1 + static_cast<int>(rng() % 8);
    for (int j = 0; j < n; ++j) damaged[rng() % damaged.size()] = static_cast<char>(rng());
    if (damaged == bytes) continue;
    auto d = decode_checkpoint(damaged);
    EXPECT_FALSE(d.ok());
    std::string noise(rng() % 400, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    if (rng() % 2 == 0 && noise.size() >= 8) noise.replace(0, 8, "RMIDX001");
    auto r = decode_checkpoint(noise);
    if (r.ok()) {
      for (size_t k = 0; k < r->state.messages.size(); ++k) {
        EXPECT_LT(r->state.messages[k].uid, r->state.uid_next);
        if (k > 0) {
          EXPECT_GT(r->state.messages[k].uid, r->state.messages[k - 1].uid);
        }
      }
    }
  }
}

}  // namespace
}  // namespace ringmail::mailstore
