// on_shard and the offload pool under concurrency.
#include "runtime/shard_set.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"

namespace ringmail {
namespace {

using namespace std::chrono_literals;

TEST(Shards, StartsRequestedCountEachWithItsOwnReactor) {
  auto set = testing::make_shards(2);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->size(), 2u);
  for (unsigned i = 0; i < 2; ++i) {
    unsigned seen = testing::run_on(*set, i, []() -> task<unsigned> { co_return reactor::current()->shard_id(); });
    EXPECT_EQ(seen, i);
  }
}

TEST(Shards, OnShardRunsThereAndComesBack) {
  auto set = testing::make_shards(2);
  auto result = testing::run_on(*set, 0, []() -> task<std::pair<unsigned, unsigned>> {
    unsigned there = co_await on_shard(1, [] { return reactor::current()->shard_id(); });
    unsigned back = reactor::current()->shard_id();
    co_return std::make_pair(there, back);
  });
  EXPECT_EQ(result.first, 1u);
  EXPECT_EQ(result.second, 0u);
}

TEST(Shards, OnShardAwaitsTasksAndCarriesExceptions) {
  auto set = testing::make_shards(2);
  int slept = testing::run_on(*set, 0, []() -> task<int> {
    co_return co_await on_shard(1, []() -> task<int> {
      co_await sleep_for(5ms);
      co_return static_cast<int>(reactor::current()->shard_id()) + 10;
    });
  });
  EXPECT_EQ(slept, 11);
  bool caught_on_home_shard = testing::run_on(*set, 0, []() -> task<bool> {
    try {
      co_await on_shard(1, []() -> int { throw std::runtime_error("remote failure"); });
    } catch (const std::runtime_error&) {
      co_return reactor::current()->shard_id() == 0;
    }
    co_return false;
  });
  EXPECT_TRUE(caught_on_home_shard);
}

// State owned by one shard, updated by 2 x 5,000 concurrent on_shard calls from both
// shards without any lock: every increment runs on the owner, so none is lost.
TEST(Shards, ConcurrentOnShardCallsSerialiseOnTheOwner) {
  auto set = testing::make_shards(2);
  uint64_t counter = 0;  // owned by shard 1
  std::vector<std::thread> drivers;
  std::atomic<int> wrong_thread{0};
  for (unsigned from = 0; from < 2; ++from) {
    drivers.emplace_back([&, from] {
      testing::run_on(*set, from, [&]() -> task<void> {
        std::vector<task<void>> calls;
        for (int i = 0; i < 5000; ++i) {
          calls.push_back(on_shard(1, [&] {
            if (reactor::current()->shard_id() != 1) ++wrong_thread;
            ++counter;
          }));
        }
        co_await when_all(std::move(calls));
      });
    });
  }
  for (auto& t : drivers) t.join();
  EXPECT_EQ(wrong_thread.load(), 0);
  uint64_t seen = testing::run_on(*set, 1, [&]() -> task<uint64_t> { co_return counter; });
  EXPECT_EQ(seen, 10000u);
}

TEST(Offload, RunsOffTheShardAndResumesOnIt) {
  auto set = testing::make_shards(2);
  auto result = testing::run_on(*set, 1, [&]() -> task<std::pair<bool, unsigned>> {
    std::thread::id shard_thread = std::this_thread::get_id();
    bool elsewhere = co_await offload(reactor::current()->shards()->offload(), [&] {
      return std::this_thread::get_id() != shard_thread && reactor::current() == nullptr;
    });
    co_return std::make_pair(elsewhere, reactor::current()->shard_id());
  });
  EXPECT_TRUE(result.first) << "offloaded work must not run on the shard thread";
  EXPECT_EQ(result.second, 1u) << "and the coroutine must come back to its shard";
}

TEST(Offload, ManyConcurrentBlockingJobsDoNotBlockTheShard) {
  auto set = testing::make_shards(2);
  // 200 jobs that each block for 2 ms, while a timer on the same shard keeps ticking.
  auto ticks_and_sum = testing::run_on(*set, 0, [&]() -> task<std::pair<int, long>> {
    offload_pool& pool = reactor::current()->shards()->offload();
    bool done = false;
    int ticks = 0;
    auto ticker = [&]() -> task<void> {
      while (!done) {
        co_await sleep_for(1ms);
        ++ticks;
      }
    };
    auto jobs = [&]() -> task<long> {
      std::vector<task<long>> all;
      for (long i = 0; i < 200; ++i) {
        all.push_back(offload(pool, [i] {
          std::this_thread::sleep_for(2ms);
          return i;
        }));
      }
      auto results = co_await when_all(std::move(all));
      done = true;
      long sum = 0;
      for (long v : results) sum += v;
      co_return sum;
    };
    auto [unused, sum] = co_await when_all(ticker(), jobs());
    (void)unused;
    co_return std::make_pair(ticks, sum);
  });
  EXPECT_EQ(ticks_and_sum.second, 199L * 200 / 2);
  EXPECT_GT(ticks_and_sum.first, 20) << "the shard kept running its timers while jobs blocked elsewhere";
}

TEST(Offload, ExceptionComesBackToTheShard) {
  auto set = testing::make_shards(1);
  bool caught = testing::run_on(*set, 0, []() -> task<bool> {
    try {
      co_await offload(reactor::current()->shards()->offload(), []() -> int { throw std::logic_error("bad"); });
    } catch (const std::logic_error&) {
      co_return reactor::current() != nullptr;
    }
    co_return false;
  });
  EXPECT_TRUE(caught);
}

TEST(Shards, OwnerShardIsStableAndSpreads) {
  std::vector<int> hits(4, 0);
  for (int i = 0; i < 1000; ++i) {
    std::string key = "user" + std::to_string(i) + "@example.org";
    unsigned a = owner_shard(key, 4);
    EXPECT_EQ(a, owner_shard(key, 4));
    ++hits[a];
  }
  for (int h : hits) EXPECT_GT(h, 150);
}

}  // namespace
}  // namespace ringmail
