// The greylist's files: <data_dir>/greylist/shard-N.log, one journal per shard in the
// format of greylist_log.h. Every function here blocks on the disk: they run at start-up
// (before the listeners accept) and on the offload pool (greylist_journal.h), never on a
// shard.
//
// The shard count may change between starts. Start-up therefore merges: it reads every
// shard-*.log, keeps the newest state of each key (the largest last_seen; on a tie the
// later line), drops expired entries and, beyond max_entries, the least recently seen,
// hands each key to the shard that owns it under the new count, rewrites shard-0..N-1 as
// compact snapshots and removes the files of shards that no longer exist. So the files
// never hold a key twice across shards, and a torn tail is gone before appends resume.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spam/greylist.h"
#include "spam/greylist_log.h"

namespace ringmail::spam {

struct greylist_load_stats {
  size_t files = 0;
  size_t records = 0;  // valid lines read
  size_t skipped = 0;  // invalid lines (greylist_log.h)
  size_t expired = 0;  // distinct keys dropped as expired (or over max_entries)
  size_t kept = 0;     // distinct keys loaded
};

std::string greylist_shard_path(const std::string& dir, unsigned shard);

// The live entries of the files `paths` (missing files are empty), merged as above.
absl::StatusOr<std::vector<greylist_record>> read_greylist_files(const std::vector<std::string>& paths,
                                                                 const greylist_options& options,
                                                                 std::chrono::system_clock::time_point now,
                                                                 greylist_load_stats* stats = nullptr);

// Writes `records` to `path` atomically: a temporary file, fsync, rename, fsync of the
// directory.
absl::Status write_greylist_snapshot(const std::string& path, const std::vector<greylist_record>& records);

// Appends already encoded records. No fsync (greylist.h: a crash may lose the last second).
absl::Status append_greylist_file(const std::string& path, std::string_view bytes);

// Rewrites one shard's journal with its live entries only; returns how many it holds.
absl::StatusOr<size_t> compact_greylist_file(const std::string& path, const greylist_options& options,
                                             std::chrono::system_clock::time_point now);

// Start-up: the merge described above. `owner(key)` names the owning shard (below
// `shards`). Creates `dir` (mode 0700) if needed. Returns each shard's entries.
absl::StatusOr<std::vector<std::vector<greylist_record>>> load_greylist_dir(
    const std::string& dir, unsigned shards, const std::function<unsigned(std::string_view)>& owner,
    const greylist_options& options, std::chrono::system_clock::time_point now, greylist_load_stats* stats = nullptr);

}  // namespace ringmail::spam
