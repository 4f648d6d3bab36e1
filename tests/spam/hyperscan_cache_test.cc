// The on-disk cache of compiled Hyperscan databases: a second compile of the same rules
// loads every database and matches the same; changed rules, damaged files and an unusable
// directory fall back to compiling; old entries are removed.
#include "spam/match/hyperscan_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "spam/match/matcher.h"
#include "tests/spam/rule_builders.h"

namespace ringmail::spam {
namespace {

namespace fs = std::filesystem;

rule body_rule(std::string name, std::string pattern) {
  return testing_rules::content_rule(std::move(name), rule_target::body, std::move(pattern));
}

class HyperscanCache : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/ringmail-hscache-XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    cache_ = dir_ + "/cache";
    set_ = testing_rules::make_set({body_rule("MONEY", "million dollars"), body_rule("WIRE", "\\bwire transfer\\b"),
                     body_rule("DOUBLED", "(\\w)\\1x")});  // the last on PCRE2 behind a prefilter
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::shared_ptr<const compiled_rules> compile(const rule_set& set) {
    compiled_rules::compile_options options;
    options.cache_dir = cache_;
    auto compiled = compiled_rules::compile(set, options);
    EXPECT_TRUE(compiled.ok()) << compiled.status();
    return compiled.ok() ? *compiled : nullptr;
  }
  std::vector<uint32_t> hits(const compiled_rules& rules, std::string body) {
    mail::message_text text;
    text.body = std::move(body);
    match_scratch scratch(rules);
    std::vector<uint32_t> out;
    rules.match(text, scratch, out);
    return out;
  }
  size_t entries() {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(cache_)) n += e.path().extension() == ".hsdb";
    return n;
  }

  std::string dir_, cache_;
  rule_set set_;
};

TEST_F(HyperscanCache, SecondCompileLoadsEveryDatabaseAndMatchesTheSame) {
  auto first = compile(set_);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->stats().cached_databases, 0u);
  ASSERT_GT(first->stats().databases, 0u);
  EXPECT_EQ(entries(), first->stats().databases);
  EXPECT_EQ(fs::status(cache_).permissions() & fs::perms::all, fs::perms::owner_all);

  auto second = compile(set_);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->stats().cached_databases, second->stats().databases);
  for (const char* body : {"a million dollars by wire transfer", "aax", "nothing", "wire transfers"}) {
    EXPECT_EQ(hits(*first, body), hits(*second, body)) << body;
  }
  EXPECT_EQ(hits(*second, "a million dollars by wire transfer\nccx"), (std::vector<uint32_t>{1, 1, 1}));
}

TEST_F(HyperscanCache, ChangedRulesCompileAfresh) {
  ASSERT_NE(compile(set_), nullptr);
  rule_set changed = set_;
  changed.rules[0].pattern = "billion dollars";
  auto compiled = compile(changed);
  ASSERT_NE(compiled, nullptr);
  EXPECT_LT(compiled->stats().cached_databases, compiled->stats().databases);
  EXPECT_EQ(hits(*compiled, "a billion dollars")[0], 1u);
  EXPECT_EQ(hits(*compiled, "a million dollars")[0], 0u);
}

TEST_F(HyperscanCache, DamagedEntriesAreCompiledAgain) {
  ASSERT_NE(compile(set_), nullptr);
  for (const auto& e : fs::directory_iterator(cache_)) {
    std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << "not a database";
  }
  auto compiled = compile(set_);
  ASSERT_NE(compiled, nullptr);
  EXPECT_EQ(compiled->stats().cached_databases, 0u);
  EXPECT_EQ(hits(*compiled, "a million dollars")[0], 1u);
  auto again = compile(set_);  // the damaged files were replaced
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->stats().cached_databases, again->stats().databases);
}

TEST_F(HyperscanCache, UnusableDirectoryMeansNoCache) {
  std::ofstream(dir_ + "/file") << "x";
  hyperscan_cache cache(dir_ + "/file/sub");
  EXPECT_FALSE(cache.enabled());
  compiled_rules::compile_options options;
  options.cache_dir = dir_ + "/file/sub";
  auto compiled = compiled_rules::compile(set_, options);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  EXPECT_EQ((*compiled)->stats().cached_databases, 0u);
  EXPECT_EQ(hits(**compiled, "a million dollars")[0], 1u);
}

TEST_F(HyperscanCache, EntriesUnusedForLongAreRemoved) {
  ASSERT_NE(compile(set_), nullptr);
  const size_t before = entries();
  ASSERT_GT(before, 0u);
  const fs::path stale = fs::directory_iterator(cache_)->path();
  fs::last_write_time(stale, fs::file_time_type::clock::now() - std::chrono::hours(24 * 30));
  std::ofstream(cache_ + "/abc.hsdb.Xy12Zq") << "left by a crash";
  fs::last_write_time(cache_ + "/abc.hsdb.Xy12Zq", fs::file_time_type::clock::now() - std::chrono::hours(24 * 30));
  std::ofstream(cache_ + "/unrelated.txt") << "not ours";
  fs::last_write_time(cache_ + "/unrelated.txt", fs::file_time_type::clock::now() - std::chrono::hours(24 * 30));

  hyperscan_cache(cache_).remove_unused(std::chrono::hours(24 * 7));
  EXPECT_EQ(entries(), before - 1);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_FALSE(fs::exists(cache_ + "/abc.hsdb.Xy12Zq"));
  EXPECT_TRUE(fs::exists(cache_ + "/unrelated.txt"));
}

TEST_F(HyperscanCache, FailuresAreKeptWithThePatternHyperscanNamed) {
  hyperscan_cache cache(cache_);
  const std::string key = hyperscan_cache::key({"a", "b"}, {0, 0}, {1, 2}, HS_MODE_BLOCK);
  hyperscan_cache::failure f;
  EXPECT_FALSE(cache.load_failure(key, f));
  cache.store_failure(key, {1, "Pattern is too large.\nsecond line"});
  ASSERT_TRUE(cache.load_failure(key, f));
  EXPECT_EQ(f.pattern, 1);
  EXPECT_EQ(f.error, "Pattern is too large.\nsecond line");
  EXPECT_EQ(cache.load(key), nullptr);  // a failure is not a database
  std::ofstream(cache_ + "/" + key + ".hsdb-failed", std::ios::trunc) << "garbage";
  EXPECT_FALSE(cache.load_failure(key, f));
  EXPECT_FALSE(hyperscan_cache("").load_failure(key, f));
}

TEST_F(HyperscanCache, KeysDependOnEveryPatternFlagAndId) {
  const std::vector<const char*> patterns = {"abc", "def"};
  const std::string base = hyperscan_cache::key(patterns, {0, 0}, {1, 2}, HS_MODE_BLOCK);
  EXPECT_EQ(base.size(), 64u);
  EXPECT_EQ(base, hyperscan_cache::key(patterns, {0, 0}, {1, 2}, HS_MODE_BLOCK));
  EXPECT_NE(base, hyperscan_cache::key({"abc", "dEf"}, {0, 0}, {1, 2}, HS_MODE_BLOCK));
  EXPECT_NE(base, hyperscan_cache::key(patterns, {0, HS_FLAG_CASELESS}, {1, 2}, HS_MODE_BLOCK));
  EXPECT_NE(base, hyperscan_cache::key(patterns, {0, 0}, {1, 3}, HS_MODE_BLOCK));
  EXPECT_NE(base, hyperscan_cache::key({"abcd", "ef"}, {0, 0}, {1, 2}, HS_MODE_BLOCK));  // lengths count
}

}  // namespace
}  // namespace ringmail::spam
