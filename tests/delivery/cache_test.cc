// The per-shard directory cache: hits and misses, positive and negative TTLs on an
// injected clock, errors never cached, the size bound, invalidation (also of answers in
// flight).
#include "delivery/directory/cache.h"

#include <coroutine>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ringmail::directory {
namespace {

using namespace std::chrono_literals;

// A one-shot latch fake lookups can wait on, so a test can act while they are in flight.
struct gate {
  bool open = false;
  std::vector<std::coroutine_handle<>> waiters;
  struct awaiter {
    gate* g;
    bool await_ready() const noexcept { return g->open; }
    void await_suspend(std::coroutine_handle<> h) { g->waiters.push_back(h); }
    void await_resume() const noexcept {}
  };
  awaiter wait() { return awaiter{this}; }
  void release() {
    open = true;
    std::vector<std::coroutine_handle<>> ready = std::move(waiters);
    for (std::coroutine_handle<> h : ready) h.resume();
  }
};

class counting_source : public source {
 public:
  std::set<std::string> domains;
  std::map<std::string, user_record> users;
  std::map<std::string, std::vector<std::string>> aliases;
  std::map<std::string, std::vector<std::string>> senders;
  int failures_left = 0;  // the next N lookups fail with UnavailableError
  gate* hold = nullptr;   // if set, lookups wait on it
  int calls = 0;

  task<absl::StatusOr<bool>> has_domain(std::string domain) override {
    if (absl::Status s = co_await begin(); !s.ok()) co_return s;
    co_return domains.contains(domain);
  }
  task<absl::StatusOr<std::optional<user_record>>> find_user(std::string email) override {
    if (absl::Status s = co_await begin(); !s.ok()) co_return s;
    auto it = users.find(email);
    if (it == users.end()) co_return std::optional<user_record>();
    co_return std::optional<user_record>(it->second);
  }
  task<absl::StatusOr<std::vector<std::string>>> alias_destinations(std::string key) override {
    if (absl::Status s = co_await begin(); !s.ok()) co_return s;
    co_return aliases[key];
  }
  task<absl::StatusOr<std::vector<std::string>>> alias_sources_for(std::string destination) override {
    if (absl::Status s = co_await begin(); !s.ok()) co_return s;
    co_return senders[destination];
  }

 private:
  task<absl::Status> begin() {
    ++calls;
    if (hold != nullptr) co_await hold->wait();
    if (failures_left > 0) {
      --failures_left;
      co_return absl::UnavailableError("database down");
    }
    co_return absl::OkStatus();
  }
};

template <typename T>
T run(task<T> t) {
  auto h = t.handle();
  h.resume();
  if (!h.done()) {
    ADD_FAILURE() << "task suspended unexpectedly";
    std::abort();
  }
  return h.promise().take_result();
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inner_.domains = {"example.org"};
    user_record john;
    john.id = 7;
    john.domain_id = 1;
    john.email = "john@example.org";
    john.password = "{BLF-CRYPT}$2y$05$abc";
    john.quota_bytes = 1 << 20;
    inner_.users["john@example.org"] = john;
    inner_.aliases["info@example.org"] = {"john@example.org", "jane@example.org"};
    inner_.senders["john@example.org"] = {"info@example.org"};
  }
  std::unique_ptr<cached_source> make(cache_options o = {}) {
    return std::make_unique<cached_source>(inner_, o, [this] { return now_; });
  }
  counting_source inner_;
  std::chrono::steady_clock::time_point now_{};
};

TEST_F(CacheTest, SecondLookupIsAHit) {
  auto c = make();
  absl::StatusOr<std::optional<user_record>> first = run(c->find_user("john@example.org"));
  absl::StatusOr<std::optional<user_record>> second = run(c->find_user("john@example.org"));
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->id, 7);
  EXPECT_EQ((*second)->password, "{BLF-CRYPT}$2y$05$abc");
  EXPECT_EQ((*second)->quota_bytes, 1 << 20);
  EXPECT_EQ(inner_.calls, 1);
  cache_stats s = c->stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.entries, 1u);
}

TEST_F(CacheTest, EveryKindIsCachedUnderItsOwnKey) {
  auto c = make();
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(*run(c->has_domain("example.org")));
    EXPECT_EQ(run(c->alias_destinations("info@example.org"))->size(), 2u);
    EXPECT_EQ(*run(c->alias_sources_for("john@example.org")), std::vector<std::string>{"info@example.org"});
    // The same string under another kind is another entry.
    EXPECT_FALSE(*run(c->has_domain("john@example.org")));
    EXPECT_TRUE(run(c->alias_destinations("john@example.org"))->empty());
  }
  EXPECT_EQ(inner_.calls, 5);
  EXPECT_EQ(c->stats().hits, 5u);
  EXPECT_EQ(c->stats().entries, 5u);
}

TEST_F(CacheTest, PositiveEntriesExpireAfterPositiveTtl) {
  cache_options o;
  o.positive_ttl = 60s;
  auto c = make(o);
  (void)run(c->find_user("john@example.org"));
  now_ += 59s;
  (void)run(c->find_user("john@example.org"));
  EXPECT_EQ(inner_.calls, 1);
  now_ += 1s;  // exactly at expiry: gone
  (void)run(c->find_user("john@example.org"));
  EXPECT_EQ(inner_.calls, 2);
}

TEST_F(CacheTest, NegativeEntriesUseTheShorterTtl) {
  cache_options o;
  o.positive_ttl = 60s;
  o.negative_ttl = 10s;
  auto c = make(o);
  EXPECT_FALSE(run(c->find_user("new@example.org"))->has_value());
  now_ += 9s;
  EXPECT_FALSE(run(c->find_user("new@example.org"))->has_value());
  EXPECT_EQ(inner_.calls, 1);
  // The user is added; after negative_ttl the cache sees it.
  user_record u;
  u.email = "new@example.org";
  inner_.users["new@example.org"] = u;
  now_ += 1s;
  EXPECT_TRUE(run(c->find_user("new@example.org"))->has_value());
  EXPECT_EQ(inner_.calls, 2);
  // Empty alias lists and unknown domains are negative answers too.
  (void)run(c->alias_destinations("nobody@example.org"));
  (void)run(c->has_domain("example.net"));
  now_ += 10s;
  (void)run(c->alias_destinations("nobody@example.org"));
  (void)run(c->has_domain("example.net"));
  EXPECT_EQ(inner_.calls, 6);
}

TEST_F(CacheTest, ZeroTtlDisablesThatHalf) {
  cache_options o;
  o.negative_ttl = 0s;
  auto c = make(o);
  (void)run(c->has_domain("example.net"));
  (void)run(c->has_domain("example.net"));
  EXPECT_EQ(inner_.calls, 2);
  (void)run(c->has_domain("example.org"));
  (void)run(c->has_domain("example.org"));
  EXPECT_EQ(inner_.calls, 3);
}

TEST_F(CacheTest, UnavailableIsNeverCached) {
  auto c = make();
  inner_.failures_left = 2;
  absl::StatusOr<bool> a = run(c->has_domain("example.org"));
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(absl::IsUnavailable(a.status()));
  // Not cached as "no": the next lookup asks again (and fails again).
  absl::StatusOr<std::optional<user_record>> b = run(c->find_user("john@example.org"));
  EXPECT_TRUE(absl::IsUnavailable(b.status()));
  EXPECT_EQ(c->stats().entries, 0u);
  // The database is back.
  EXPECT_TRUE(*run(c->has_domain("example.org")));
  EXPECT_TRUE(run(c->find_user("john@example.org"))->has_value());
  EXPECT_EQ(inner_.calls, 4);
  EXPECT_EQ(c->stats().misses, 4u);
  EXPECT_EQ(c->stats().entries, 2u);
}

TEST_F(CacheTest, SizeBoundEvictsOldestFirst) {
  cache_options o;
  o.max_entries = 3;
  auto c = make(o);
  for (int i = 0; i < 5; ++i) (void)run(c->has_domain(absl::StrCat("d", i, ".example")));
  cache_stats s = c->stats();
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.evictions, 2u);
  int before = inner_.calls;
  (void)run(c->has_domain("d4.example"));  // newest: kept
  (void)run(c->has_domain("d2.example"));
  EXPECT_EQ(inner_.calls, before);
  (void)run(c->has_domain("d0.example"));  // oldest: evicted
  EXPECT_EQ(inner_.calls, before + 1);
  EXPECT_LE(c->stats().entries, 3u);
}

TEST_F(CacheTest, ChurnStaysWithinTheBound) {
  // Expire and refill many keys: stale bookkeeping must not grow without bound, and the
  // table never holds more than max_entries.
  cache_options o;
  o.max_entries = 16;
  o.positive_ttl = 1s;
  o.negative_ttl = 1s;
  auto c = make(o);
  for (int round = 0; round < 200; ++round) {
    for (int k = 0; k < 40; ++k) (void)run(c->has_domain(absl::StrCat("k", k % (round % 30 + 3))));
    ASSERT_LE(c->stats().entries, 16u);
    now_ += 1s;
  }
  cache_stats s = c->stats();
  EXPECT_GT(s.hits, 0u);
  EXPECT_GT(s.misses, 0u);
}

TEST_F(CacheTest, InvalidateAllDropsEverything) {
  auto c = make();
  (void)run(c->has_domain("example.org"));
  (void)run(c->find_user("john@example.org"));
  EXPECT_EQ(c->stats().entries, 2u);
  c->invalidate_all();
  EXPECT_EQ(c->stats().entries, 0u);
  (void)run(c->has_domain("example.org"));
  (void)run(c->find_user("john@example.org"));
  EXPECT_EQ(inner_.calls, 4);
}

TEST_F(CacheTest, AnswerInFlightDuringInvalidateIsNotStored) {
  auto c = make();
  gate g;
  inner_.hold = &g;
  task<absl::StatusOr<bool>> t = c->has_domain("example.org");
  auto h = t.handle();
  h.resume();
  ASSERT_FALSE(h.done());  // waiting on the inner source
  c->invalidate_all();
  g.release();
  ASSERT_TRUE(h.done());
  absl::StatusOr<bool> answer = h.promise().take_result();
  EXPECT_TRUE(answer.ok() && *answer);
  EXPECT_EQ(c->stats().entries, 0u);  // it may predate the change that caused the invalidation
  inner_.hold = nullptr;
}

TEST_F(CacheTest, ConcurrentMissesOfOneKeyBothAskAndOneEntryRemains) {
  auto c = make();
  gate g;
  inner_.hold = &g;
  task<absl::StatusOr<bool>> t1 = c->has_domain("example.org");
  task<absl::StatusOr<bool>> t2 = c->has_domain("example.org");
  t1.handle().resume();
  t2.handle().resume();
  ASSERT_FALSE(t1.done() || t2.done());  // both missed, both wait on the inner source
  g.release();
  ASSERT_TRUE(t1.done() && t2.done());
  EXPECT_EQ(inner_.calls, 2);
  EXPECT_EQ(c->stats().entries, 1u);
  inner_.hold = nullptr;
}

}  // namespace
}  // namespace ringmail::directory
