// The writer of one shard's greylist journal (greylist_store.h's shard-N.log): the shard
// appends each change to a buffer in memory (no I/O, no lock: the journal belongs to
// its shard), and run() hands the buffer to the offload pool about once a second and at
// shutdown, so the shard never waits for the disk. There is no fsync on appends: a crash
// loses at most the last period's changes, which only makes those senders retry once
// more. When the file holds more than twice the shard's live entries (plus a floor, so
// a small table is not rewritten every second), the same pool job compacts it: it
// replays the file on the pool rather than copying the table on the shard
// (greylist_store.h: temporary file, fsync, rename). A flush runs only after the previous
// one returned, so appends and compactions of a file never overlap.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "runtime/io_op.h"
#include "runtime/offload_pool.h"
#include "runtime/task.h"
#include "spam/greylist.h"

namespace ringmail::spam {

struct greylist_journal_options {
  std::chrono::milliseconds period{1000};  // how often pending changes are written
  size_t compact_floor = 4096;             // compact once records > 2 * live + this
};

class greylist_journal {
 public:
  // `records_on_disk`: what the file holds now (start-up wrote it as a snapshot).
  greylist_journal(offload_pool& pool, std::string path, greylist_options table_options,
                   greylist_journal_options options, size_t records_on_disk);

  // On the shard, after table.check() changed `key`'s entry to `e`.
  void record(std::string_view key, const greylist_entry& e);
  // On the shard: flushes every period until `stop` is cancelled, then once more.
  task<void> run(const greylist_table& table, cancel_source& stop);
  // On the shard: writes what is pending now (run() calls it; tests too).
  task<void> flush(size_t live_entries);

  size_t pending_records() const { return pending_records_; }
  size_t records_on_disk() const { return on_disk_; }

 private:
  offload_pool& pool_;
  std::string path_;
  greylist_options table_options_;
  greylist_journal_options options_;
  std::string pending_;
  size_t pending_records_ = 0;
  size_t on_disk_ = 0;
  size_t compacted_size_ = 0;  // records the last compaction kept
  bool failing_ = false;  // the last write failed: logged once, not every second
};

}  // namespace ringmail::spam
