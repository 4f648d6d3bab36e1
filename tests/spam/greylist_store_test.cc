// The greylist's persistence (spam/greylist_log.h, spam/greylist_store.h): the record
// format, corrupt journals (skipped lines counted, never fatal), the start-up merge
// across shard counts, expiry on load, and compaction.
#include "spam/greylist_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/fnv1a.h"
#include "spam/greylist_log.h"

namespace ringmail::spam {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::system_clock;
namespace fs = std::filesystem;

// Whole milliseconds: the journal keeps times to the millisecond.
clock_type::time_point at(int64_t ms) {
  return clock_type::time_point(std::chrono::duration_cast<clock_type::duration>(std::chrono::milliseconds(ms)));
}

const clock_type::time_point kNow = at(1'796'000'000'000);  // December 2026

std::string line_of(std::string_view key, const greylist_entry& e) {
  std::string out;
  append_greylist_record(out, key, e);
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_raw(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

size_t count_lines(const std::string& path) {
  const std::string s = read_all(path);
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

class GreylistStore : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/greylist_store_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/greylist";
  }
  void TearDown() override { fs::remove_all(fs::path(dir_).parent_path()); }
  std::string dir_;
};

TEST(GreylistLog, RecordRoundTrips) {
  const greylist_entry e{at(1'700'000'000'123), at(1'700'000'300'456), true};
  // A key with what a quoted local part may hold: spaces, '%', a control byte.
  const std::string key = "192.0.2.0/24/\"a b%c\x01\"@x.example/r@y.example";
  const std::string line = line_of(key, e);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto r = parse_greylist_line(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->key, key);
  EXPECT_EQ(r->entry.first_seen, e.first_seen);
  EXPECT_EQ(r->entry.last_seen, e.last_seen);
  EXPECT_TRUE(r->entry.passed);
}

TEST(GreylistLog, CorruptInputIsSkippedAndCounted) {
  const greylist_entry e{kNow, kNow, false};
  std::string good = line_of("k1", e);
  std::string flipped = line_of("k2", e);
  flipped[5] = flipped[5] == '1' ? '2' : '1';  // one changed digit: the checksum catches it
  const std::string huge = std::string(1 << 20, 'x') + "\n";
  const std::string torn = line_of("k3", e).substr(0, 20);  // no '\n': a torn last write
  const std::string bytes = good + "garbage line\n" + flipped + "\n" + huge + line_of("k4", e) + torn;
  std::vector<std::string> keys;
  const greylist_log_stats s = parse_greylist_log(bytes, [&](greylist_record&& r) { keys.push_back(r.key); });
  EXPECT_EQ(keys, (std::vector<std::string>{"k1", "k4"}));
  EXPECT_EQ(s.records, 2u);
  EXPECT_EQ(s.skipped, 5u);  // garbage, flipped, the empty line, huge, torn
}

TEST(GreylistLog, NonCanonicalSpellingsAreRefused) {
  const std::string line = line_of("a b", greylist_entry{kNow, kNow, false});
  ASSERT_NE(line.find("a%20b"), std::string::npos);
  // The same record with an escaped byte that needs none, or a signed time, is not valid
  // even with a matching checksum: every record has one spelling.
  for (const std::string& body : {std::string("g1 1 1 0 %61%20b "), std::string("g1 +1 1 0 a%20b "),
                                  std::string("g1 01 1 0 a%20b "), std::string("g1 1 1 2 a%20b "),
                                  std::string("g1 1 1 0 a b ")}) {
    std::string l = body;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(body)));
    l += hex;
    EXPECT_FALSE(parse_greylist_line(l).has_value()) << l;
  }
  std::string ok = "g1 1 1 0 a%20b ";
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(ok)));
  EXPECT_TRUE(parse_greylist_line(ok + hex).has_value()) << "the control case parses";
}

// A time past what the clock's nanosecond count holds (year 2262) would overflow in the
// conversion (found by greylist_log_fuzz): such a record is refused, the last one that
// fits is read.
TEST(GreylistLog, TimesBeyondTheClocksRangeAreRefused) {
  auto checked = [](const std::string& body) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(body)));
    return body + hex;
  };
  EXPECT_FALSE(parse_greylist_line(checked("g1 61796000000000 1 0 a ")).has_value());
  EXPECT_FALSE(parse_greylist_line(checked("g1 1 9223372036855 0 a ")).has_value());
  EXPECT_FALSE(parse_greylist_line(checked("g1 999999999999999 1 0 a ")).has_value());
  auto last = parse_greylist_line(checked("g1 9223372036854 1 0 a "));
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(last->entry.first_seen.time_since_epoch()).count(),
            9223372036854);
}

TEST_F(GreylistStore, RoundTripThroughTheTable) {
  greylist_options o;
  o.delay = 1s;
  greylist_table before(o);
  EXPECT_FALSE(before.check("pending", kNow - 10s));
  EXPECT_FALSE(before.check("passed", kNow - 20s));
  EXPECT_TRUE(before.check("passed", kNow - 10s));
  fs::create_directories(dir_);
  std::string journal;
  for (const char* k : {"pending", "passed"}) append_greylist_record(journal, k, *before.find(k));
  ASSERT_TRUE(append_greylist_file(greylist_shard_path(dir_, 0), journal).ok());

  auto loaded = load_greylist_dir(dir_, 1, [](std::string_view) { return 0u; }, o, kNow);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  greylist_table after(o);
  for (auto& r : (*loaded)[0]) after.restore(std::move(r.key), r.entry);
  EXPECT_EQ(after.size(), 2u);
  EXPECT_TRUE(after.check("pending", kNow)) << "the first attempt was remembered: the retry passes";
  EXPECT_TRUE(after.check("passed", kNow));
  EXPECT_FALSE(after.check("unknown", kNow));
}

TEST_F(GreylistStore, NewestStateWinsAndExpiredEntriesAreDroppedOnLoad) {
  greylist_options o;
  o.retry_window = 1h;
  o.pass_ttl = 24h;
  fs::create_directories(dir_);
  std::string a, b;
  append_greylist_record(a, "k", greylist_entry{kNow - 50min, kNow - 50min, false});
  append_greylist_record(b, "k", greylist_entry{kNow - 50min, kNow - 40min, true});  // newer, in another file
  append_greylist_record(a, "stale-pending", greylist_entry{kNow - 2h, kNow - 2h, false});
  append_greylist_record(a, "stale-passed", greylist_entry{kNow - 30h, kNow - 25h, true});
  append_greylist_record(b, "fresh-passed", greylist_entry{kNow - 30h, kNow - 23h, true});
  write_raw(greylist_shard_path(dir_, 0), a);
  write_raw(greylist_shard_path(dir_, 1), b);
  greylist_load_stats stats;
  auto loaded = load_greylist_dir(dir_, 1, [](std::string_view) { return 0u; }, o, kNow, &stats);
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ((*loaded)[0].size(), 2u);
  for (const auto& r : (*loaded)[0]) {
    if (r.key == "k") {
      EXPECT_TRUE(r.entry.passed);
      EXPECT_EQ(r.entry.last_seen, kNow - 40min);
    } else {
      EXPECT_EQ(r.key, "fresh-passed");
    }
  }
  EXPECT_EQ(stats.files, 2u);
  EXPECT_EQ(stats.records, 5u);
  EXPECT_EQ(stats.expired, 2u);
  EXPECT_EQ(stats.kept, 2u);
  // The merge rewrote shard 0 with the live entries only and removed shard 1's file.
  EXPECT_EQ(count_lines(greylist_shard_path(dir_, 0)), 2u);
  EXPECT_FALSE(fs::exists(greylist_shard_path(dir_, 1)));
}

TEST_F(GreylistStore, ShardCountMayChangeBetweenStarts) {
  const greylist_options o;
  fs::create_directories(dir_);
  std::vector<std::string> files(4);
  for (int i = 0; i < 40; ++i) {
    append_greylist_record(files[i % 4], "key" + std::to_string(i), greylist_entry{kNow - 1min, kNow - 1min, false});
  }
  for (unsigned s = 0; s < 4; ++s) write_raw(greylist_shard_path(dir_, s), files[s]);
  auto owner = [](std::string_view key) { return static_cast<unsigned>(key.back() - '0') % 3; };
  auto loaded = load_greylist_dir(dir_, 3, owner, o, kNow);
  ASSERT_TRUE(loaded.ok());
  size_t total = 0;
  for (unsigned s = 0; s < 3; ++s) {
    for (const auto& r : (*loaded)[s]) EXPECT_EQ(owner(r.key), s) << r.key;
    total += (*loaded)[s].size();
    EXPECT_EQ(count_lines(greylist_shard_path(dir_, s)), (*loaded)[s].size());
  }
  EXPECT_EQ(total, 40u);
  EXPECT_FALSE(fs::exists(greylist_shard_path(dir_, 3))) << "the file of a shard that is gone is merged away";
  // And back to 4 shards: nothing lost or duplicated.
  auto again = load_greylist_dir(dir_, 4, [](std::string_view key) { return static_cast<unsigned>(key.size()) % 4; }, o, kNow);
  ASSERT_TRUE(again.ok());
  total = 0;
  for (const auto& v : *again) total += v.size();
  EXPECT_EQ(total, 40u);
}

TEST_F(GreylistStore, CorruptJournalLoadsWhatIsValid) {
  fs::create_directories(dir_);
  std::string bytes = line_of("a", greylist_entry{kNow, kNow, false});
  bytes += std::string(100000, '\0') + "\n";
  bytes += line_of("b", greylist_entry{kNow, kNow, true});
  bytes += line_of("c", greylist_entry{kNow, kNow, true}).substr(0, 30);  // torn
  write_raw(greylist_shard_path(dir_, 0), bytes);
  greylist_load_stats stats;
  auto loaded = load_greylist_dir(dir_, 1, [](std::string_view) { return 0u; }, greylist_options{}, kNow, &stats);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ((*loaded)[0].size(), 2u);
  EXPECT_EQ(stats.skipped, 2u);
  // The rewritten file ends in a complete line, so appends after it are readable.
  const std::string rewritten = read_all(greylist_shard_path(dir_, 0));
  ASSERT_FALSE(rewritten.empty());
  EXPECT_EQ(rewritten.back(), '\n');
}

TEST_F(GreylistStore, CompactionKeepsOneLivePerKey) {
  greylist_options o;
  o.retry_window = 1h;
  fs::create_directories(dir_);
  const std::string path = greylist_shard_path(dir_, 0);
  std::string bytes;
  for (int i = 0; i < 100; ++i) {
    append_greylist_record(bytes, "hot", greylist_entry{kNow - 30min, kNow - 30min + std::chrono::seconds(i), false});
  }
  append_greylist_record(bytes, "old", greylist_entry{kNow - 2h, kNow - 2h, false});
  ASSERT_TRUE(append_greylist_file(path, bytes).ok());
  auto kept = compact_greylist_file(path, o, kNow);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, 1u);
  EXPECT_EQ(count_lines(path), 1u);
  const std::string compacted = read_all(path);
  auto r = parse_greylist_line(std::string_view(compacted).substr(0, compacted.size() - 1));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->key, "hot");
  EXPECT_EQ(r->entry.last_seen, kNow - 30min + 99s) << "the last record of the key is the one kept";
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST_F(GreylistStore, LoadKeepsTheMostRecentWithinMaxEntries) {
  greylist_options o;
  o.max_entries = 10;
  fs::create_directories(dir_);
  std::string bytes;
  for (int i = 0; i < 30; ++i) {
    append_greylist_record(bytes, "k" + std::to_string(i), greylist_entry{kNow - 10min, kNow - std::chrono::seconds(100 - i), false});
  }
  write_raw(greylist_shard_path(dir_, 0), bytes);
  auto loaded = load_greylist_dir(dir_, 1, [](std::string_view) { return 0u; }, o, kNow);
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ((*loaded)[0].size(), 10u);
  for (const auto& r : (*loaded)[0]) EXPECT_GE(std::stoi(r.key.substr(1)), 20) << r.key;
}

}  // namespace
}  // namespace ringmail::spam
