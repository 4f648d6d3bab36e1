// sort_cache's precomputed orders (sort_cache::order): a warm one-key SORT filters them
// (sort_commands.cc presorted_order), so each must be what sort_order says over the same
// messages, for every key, REVERSE or not, ties in UID order; and made again when values
// are added.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "protocols/imap/command.h"
#include "protocols/imap/sort.h"
#include "protocols/imap/sort_cache.h"
#include "protocols/imap/thread.h"

namespace ringmail::imap {
namespace {

using ck = sort_criterion::kind;
constexpr ck kKeys[] = {ck::arrival, ck::cc, ck::date, ck::from, ck::size, ck::subject, ck::to, ck::display_from,
                        ck::display_to};

sort_facts random_facts(std::mt19937& rng, uint32_t uid) {
  // Few distinct values, so ties are common and the tie order is tested.
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const char* words[] = {"", "a", "b", "ab", "\xc3\xa9t\xc3\xa9", "Z"};
  sort_facts f;
  f.uid = uid;
  f.internal_date = 1000 + pick(4);
  f.size = static_cast<uint64_t>(pick(3)) * 100;
  f.sent_date = pick(2) ? f.internal_date : -5 + pick(4);
  f.subject = words[pick(6)];
  f.from = words[pick(6)];
  f.to = words[pick(6)];
  f.cc = words[pick(6)];
  f.display_from = words[pick(6)];
  f.display_to = words[pick(6)];
  return f;
}

// The UIDs of `all` (ascending UIDs) as sort_order orders them by one key.
std::vector<uint32_t> reference_order(const std::vector<sort_facts>& all, ck k, bool reverse) {
  std::vector<sort_facts> seqd = all;
  for (uint32_t i = 0; i < seqd.size(); ++i) seqd[i].seq = i + 1;
  sort_criterion c;
  c.k = k;
  c.reverse = reverse;
  std::vector<uint32_t> out;
  for (uint32_t i : sort_order(seqd, std::span<const sort_criterion>(&c, 1))) out.push_back(seqd[i].uid);
  return out;
}

TEST(SortCacheOrder, EveryKeyMatchesSortOrderAndFollowsPuts) {
  std::mt19937 rng(11);
  sort_cache cache;
  sort_cache::folder_values& f = cache.folder("u\nINBOX", 7);
  std::vector<sort_facts> all;
  // Values put out of UID order (a SORT after APPENDs fills the gaps later).
  std::vector<uint32_t> uids;
  for (uint32_t u = 1; u <= 300; ++u) uids.push_back(u * 3);
  std::shuffle(uids.begin(), uids.end(), rng);
  for (int round = 0; round < 2; ++round) {
    const size_t from = round == 0 ? 0 : 200;
    const size_t to = round == 0 ? 200 : uids.size();
    for (size_t i = from; i < to; ++i) {
      sort_facts v = random_facts(rng, uids[i]);
      all.push_back(v);
      cache.put(f, uids[i], v);
    }
    std::sort(all.begin(), all.end(), [](const sort_facts& a, const sort_facts& b) { return a.uid < b.uid; });
    for (ck k : kKeys) {
      for (bool reverse : {false, true}) {
        EXPECT_EQ(cache.order(f, k, reverse), reference_order(all, k, reverse))
            << "round " << round << " key " << static_cast<int>(k) << " reverse " << reverse;
      }
    }
  }
}

TEST(SortCacheOrder, ArrivalAndSizeIncludeIndexFactsOnly) {
  sort_cache cache;
  sort_cache::folder_values& f = cache.folder("u\nINBOX", 1);
  sort_facts v;
  v.internal_date = 50;
  v.size = 10;
  cache.put(f, 2, v);
  cache.put_index_facts(f, 1, 60, 5);
  cache.put_index_facts(f, 3, 50, 10);
  cache.put_index_facts(f, 2, 99, 99);  // has values: they win
  EXPECT_EQ(cache.order(f, ck::arrival, false), (std::vector<uint32_t>{2, 3, 1}));
  EXPECT_EQ(cache.order(f, ck::arrival, true), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(cache.order(f, ck::size, false), (std::vector<uint32_t>{1, 2, 3}));
  // String keys: only messages with values.
  EXPECT_EQ(cache.order(f, ck::from, false), (std::vector<uint32_t>{2}));
  cache.put_index_facts(f, 4, 1, 1);
  EXPECT_EQ(cache.order(f, ck::arrival, false), (std::vector<uint32_t>{4, 2, 3, 1}));
}

TEST(SortCacheOrder, BytesComeBackWhenTheFolderGoes) {
  sort_cache cache;
  sort_cache::folder_values& f = cache.folder("u\nINBOX", 1);
  for (uint32_t u = 1; u <= 100; ++u) cache.put(f, u, sort_facts());
  const size_t values = cache.bytes();
  cache.order(f, ck::arrival, false);
  EXPECT_GT(cache.bytes(), values);
  cache.order(f, ck::arrival, false);  // unchanged: not counted twice
  const size_t with_order = cache.bytes();
  EXPECT_EQ(with_order, values + 100 * sizeof(uint32_t));
  cache.put(f, 101, sort_facts());
  const size_t put_cost = cache.bytes() - with_order;
  cache.order(f, ck::arrival, false);  // made again: the old one's bytes returned
  EXPECT_EQ(cache.bytes(), with_order + put_cost + sizeof(uint32_t));
  cache.folder("u\nINBOX", 2);  // a new UIDVALIDITY drops everything
  EXPECT_EQ(cache.bytes(), 0u);
}

// A warm THREAD threads over the cache's values in place (thread_message): the numbers
// come from the view, never from the values (whose seq is the one at caching time).
TEST(SortCacheThread, ReferencesToValuesThreadAsCopies) {
  std::mt19937 rng(5);
  for (int round = 0; round < 50; ++round) {
    std::vector<sort_facts> copies;
    const uint32_t n = 1 + rng() % 40;
    for (uint32_t i = 0; i < n; ++i) {
      sort_facts f = random_facts(rng, 10 + i * 2);
      f.seq = i + 1;
      f.subject = std::string(1, static_cast<char>('a' + rng() % 4));
      f.reply_or_forward = rng() % 2;
      if (rng() % 5) f.message_id = "m" + std::to_string(rng() % (n + 3)) + "@x";
      for (uint32_t r = rng() % 3; r > 0; --r) f.references.push_back("m" + std::to_string(rng() % (n + 3)) + "@x");
      copies.push_back(std::move(f));
    }
    std::vector<sort_facts> cached = copies;  // as the cache holds them: stale numbers
    for (sort_facts& f : cached) {
      f.seq = 999;
      f.uid = 777;
    }
    std::vector<thread_message> refs;
    for (uint32_t i = 0; i < n; ++i) refs.push_back({copies[i].seq, copies[i].uid, &cached[i]});
    for (thread_algorithm alg : {thread_algorithm::references, thread_algorithm::refs, thread_algorithm::ordered_subject}) {
      for (bool uid : {false, true}) {
        EXPECT_EQ(thread_response(std::span<const thread_message>(refs), alg, uid), thread_response(copies, alg, uid))
            << "round " << round << " alg " << static_cast<int>(alg) << " uid " << uid;
      }
    }
  }
}

}  // namespace
}  // namespace ringmail::imap
