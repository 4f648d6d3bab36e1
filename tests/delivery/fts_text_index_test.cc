// delivery/fts/text_index.h: the trigram candidate filter, its file format and its
// failure modes (a torn or garbled file must be an error, never a wrong index).
#include "delivery/fts/text_index.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringmail::fts {
namespace {

std::vector<uint32_t> grams(std::string_view a, std::string_view b = {}) {
  std::vector<uint32_t> g;
  add_grams(a, g);
  add_grams(b, g);
  return g;
}

std::vector<uint32_t> uids(const text_index& idx, std::string_view needle) {
  text_index::candidates c = idx.query(needle);
  EXPECT_FALSE(c.all) << needle;
  return c.uids;
}

text_index sample() {
  text_index idx(777);
  idx.add(1, grams("subject: warning\n", "the disk is full"));
  idx.add(2, grams("subject: hello\n", "nothing to see"));
  idx.add(5, grams("from: bob\n", "a warning again, the end"));
  return idx;
}

TEST(FtsGrams, SortedUniqueAndMergedAcrossStrings) {
  std::vector<uint32_t> g = grams("aaaa", "aaab");
  // "aaa" once, "aab" once.
  ASSERT_EQ(g.size(), 2u);
  EXPECT_LT(g[0], g[1]);
  EXPECT_TRUE(grams("ab").empty());
}

TEST(FtsIndex, SubstringNotWord) {
  text_index idx = sample();
  EXPECT_EQ(uids(idx, "arn"), (std::vector<uint32_t>{1, 5}));  // inside "warning"
  EXPECT_EQ(uids(idx, "warning"), (std::vector<uint32_t>{1, 5}));
  EXPECT_EQ(uids(idx, "hello"), (std::vector<uint32_t>{2}));
  EXPECT_TRUE(uids(idx, "zebra").empty());
  EXPECT_EQ(uids(idx, "the"), (std::vector<uint32_t>{1, 5}));
  // A candidate filter: "disk end" has all its trigrams nowhere, but "ing the" could
  // span; what matters is no match is ever missing.
  EXPECT_EQ(uids(idx, "ing, th"), (std::vector<uint32_t>{}));
}

TEST(FtsIndex, ShortNeedleIsEveryMessage) {
  text_index idx = sample();
  text_index::candidates c = idx.query("ab");
  EXPECT_TRUE(c.all);
  EXPECT_EQ(c.uids, (std::vector<uint32_t>{1, 2, 5}));
}

TEST(FtsIndex, AddIsIdempotentAndAcceptsOldUidsLate) {
  text_index idx = sample();
  idx.add(5, grams("zzzz"));  // already present: ignored
  EXPECT_TRUE(uids(idx, "zzz").empty());
  idx.add(3, grams("warning"));  // below the lists' last UID
  EXPECT_EQ(uids(idx, "warning"), (std::vector<uint32_t>{1, 3, 5}));
  EXPECT_EQ(idx.size(), 4u);
  // Its postings survive a file round trip in order.
  auto again = text_index::parse(idx.serialize());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(uids(*again, "warning"), (std::vector<uint32_t>{1, 3, 5}));
}

TEST(FtsIndex, RemoveRetainAndCompact) {
  text_index idx = sample();
  const uint32_t gone[] = {1};
  idx.remove(gone);
  EXPECT_FALSE(idx.contains(1));
  EXPECT_EQ(uids(idx, "warning"), (std::vector<uint32_t>{5}));
  const uint32_t live[] = {2, 9};
  EXPECT_EQ(idx.retain(live), 1u);  // 5 is gone too
  EXPECT_TRUE(uids(idx, "warning").empty());
  EXPECT_EQ(idx.present(), (std::vector<uint32_t>{2}));
  const size_t before = idx.gram_count();
  idx.compact();
  EXPECT_LT(idx.gram_count(), before);  // lists only 1 and 5 had are dropped
  EXPECT_EQ(uids(idx, "hello"), (std::vector<uint32_t>{2}));
  EXPECT_EQ(idx.removed_since_compact(), 0u);
}

// compacted() (the copy a save builds off the owner shard) must equal compact() in place:
// same bytes on disk, same answers; and it must leave the original untouched.
TEST(FtsIndex, CompactedCopyEqualsCompactInPlace) {
  text_index idx = sample();
  const uint32_t live[] = {2, 9};
  idx.retain(live);
  const std::string before = idx.serialize();
  text_index copy = idx.compacted();
  EXPECT_EQ(idx.serialize(), before);  // not changed
  EXPECT_EQ(idx.removed_since_compact(), 1u + 1u);
  EXPECT_EQ(copy.removed_since_compact(), 0u);
  idx.compact();
  EXPECT_EQ(copy.serialize(), idx.serialize());
  EXPECT_EQ(copy.gram_count(), idx.gram_count());
  for (std::string_view n : {"arn", "hello", "the", "bob", "zebra"}) EXPECT_EQ(uids(copy, n), uids(idx, n)) << n;
  // Nothing removed: a plain copy.
  text_index fresh = sample();
  EXPECT_EQ(fresh.compacted().serialize(), fresh.serialize());
}

TEST(FtsIndex, PersistAndReopen) {
  text_index idx = sample();
  std::string bytes = idx.serialize();
  auto back = text_index::parse(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->uid_validity(), 777u);
  EXPECT_EQ(back->present(), idx.present());
  EXPECT_EQ(back->gram_count(), idx.gram_count());
  for (std::string_view n : {"arn", "hello", "the", "bob", "zebra"}) EXPECT_EQ(uids(*back, n), uids(idx, n)) << n;
  EXPECT_EQ(back->serialize(), bytes);  // deterministic
  // A reopened index keeps growing.
  back->add(6, grams("hello again"));
  EXPECT_EQ(uids(*back, "hello"), (std::vector<uint32_t>{2, 6}));
}

TEST(FtsIndex, EmptyRoundTrip) {
  text_index idx(1);
  auto back = text_index::parse(idx.serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->size(), 0u);
}

TEST(FtsIndex, TornOrGarbledFileIsAnError) {
  const std::string bytes = sample().serialize();
  // Every truncation (a write cut short, an empty file after a crash).
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(text_index::parse(bytes.substr(0, n)).ok()) << "truncated to " << n;
  }
  // Every single-byte change is caught (lengths, varints or the CRC).
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    EXPECT_FALSE(text_index::parse(bad).ok()) << "byte " << i;
  }
  EXPECT_FALSE(text_index::parse(bytes + "x").ok());
}

// Random messages over a small alphabet: the candidates of every needle must include
// every message that contains it (the superset rule the verification relies on).
TEST(FtsIndex, CandidatesAreASupersetOfMatches) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> ch(0, 3), len(0, 60);
  std::vector<std::string> texts;
  text_index idx(3);
  for (uint32_t u = 1; u <= 300; ++u) {
    std::string t;
    for (int i = len(rng); i > 0; --i) t.push_back(static_cast<char>('a' + ch(rng)));
    texts.push_back(t);
    idx.add(u, grams(t));
  }
  for (int q = 0; q < 500; ++q) {
    std::string needle;
    for (int i = 3 + q % 6; i > 0; --i) needle.push_back(static_cast<char>('a' + ch(rng)));
    std::vector<uint32_t> c = uids(idx, needle);
    for (uint32_t u = 1; u <= texts.size(); ++u) {
      if (texts[u - 1].find(needle) != std::string::npos) {
        EXPECT_TRUE(std::binary_search(c.begin(), c.end(), u)) << needle << " uid " << u;
      }
    }
  }
}

}  // namespace
}  // namespace ringmail::fts
