// index_file: one folder's index on disk, beside its Maildir directories:
//
//   <folder>/ringmail-index        checkpoint: the folder state at sequence number S
//   <folder>/ringmail-index.log    write-ahead log: the changes after S, one record each
//
// (folder_index.h has the formats.) Dovecot ignores both names, as it ignores any file
// in a Maildir that is not cur/new/tmp or its own dovecot* files.
//
// DURABILITY. append() puts a record in memory and returns at once; commit() returns when
// every record appended before it is on disk. Commits are grouped: while one write +
// fdatasync is in flight, later appends gather in memory and the next flush writes them
// all with one fdatasync, so N concurrent changes to a folder cost O(N / batch) syncs.
// The log is written by one flush at a time, in order, so what is durable is always a
// prefix of the log, and replay (which stops at the first torn record) never loses an
// acknowledged change nor applies a change after a hole.
//
// CHECKPOINTS. When the log passes `checkpoint_bytes`, the flush writes the whole state
// instead: ringmail-index.tmp is written and fsynced, renamed over ringmail-index, the
// folder directory fsynced; only then is a new empty log renamed over the old one and the
// directory fsynced again. A crash between the two leaves the new checkpoint with the old
// log, whose records all have sequence numbers <= S and are skipped. A crash before the
// first rename leaves the old checkpoint and the full old log. So every cut loads.
//
// FAILURES. A failed write or sync makes the index `broken()`: the caller must drop its
// in-memory state and reopen from disk (which holds exactly the acknowledged changes).
//
// Threading: one folder_log per folder, on the mailbox owner's shard only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "delivery/mailstore/folder_index.h"
#include "runtime/file.h"
#include "runtime/io_status.h"
#include "runtime/notifier.h"
#include "runtime/task.h"

namespace ringmail::mailstore {

struct index_options {
  bool fsync = true;                      // false: tests and benchmarks only
  uint64_t checkpoint_bytes = 4ull << 20; // log size that triggers a checkpoint
};

// What open() found on disk.
enum class index_presence {
  loaded,   // a checkpoint and/or log was read
  missing,  // no index files: the folder must be built from its files
  damaged,  // files exist but the checkpoint is unreadable: rebuild, do not trust
};

class folder_log {
 public:
  // Reads <folder_dir>'s index into *state. The log stays open for appends. `state` must
  // outlive the folder_log (checkpoints serialize it).
  static task<absl::StatusOr<std::unique_ptr<folder_log>>> open(std::string folder_dir, index_options options,
                                                                 folder_state* state, index_presence* presence);
  // Starts a fresh index for `state` (after a rebuild): writes a checkpoint and an empty log.
  static task<absl::StatusOr<std::unique_ptr<folder_log>>> create(std::string folder_dir, index_options options,
                                                                   folder_state* state);
  ~folder_log();

  // Records a change that has already been applied to the state. Returns its sequence.
  uint64_t append(const change& c);
  // Durable once this returns ok: every change appended before the call.
  task<io_status> commit();
  // Writes a checkpoint now (clean shutdown, after a rebuild or resync).
  task<io_status> checkpoint();

  bool broken() const { return broken_; }
  uint64_t last_seq() const { return appended_seq_; }
  uint64_t durable_seq() const { return durable_seq_; }
  // Nothing was appended since the last checkpoint: the checkpoint is the whole state.
  bool at_checkpoint() const { return log_size_ == 0 && pending_.empty(); }
  // Bytes of log after the checkpoint (0 right after open() of a cleanly closed folder).
  uint64_t log_size() const { return log_size_; }
  uint64_t syncs() const { return syncs_; }
  const std::string& dir() const { return dir_; }

  folder_log(std::string dir, index_options options, folder_state* state);

 private:
  task<io_status> flush_once(bool force_checkpoint);
  task<io_status> write_checkpoint(uint64_t upto);
  task<io_status> sync_dir();

  std::string dir_;
  index_options options_;
  folder_state* state_;
  file log_;
  uint64_t log_size_ = 0;
  std::string pending_;        // records appended, not yet written
  uint64_t appended_seq_ = 0;  // last sequence handed out
  uint64_t durable_seq_ = 0;   // last sequence known to be on disk
  bool flushing_ = false;
  bool broken_ = false;
  io_status last_failure_;
  notifier flushed_;
  uint64_t syncs_ = 0;
};

// Reads a whole (small) file through the ring. NotFound-like errors come back as
// io_status with error_number ENOENT. With `size_hint` (the size an index knows) there is
// no statx: openat, one read and close, which io_uring completes inline for a cached
// file, while statx always goes to an io-wq worker (a wake-up and two task switches).
task<io_result<std::string>> read_whole_file(std::string path, uint64_t size_hint = 0);

// Writes `content` to `path` atomically: <path>.tmp, fsync (if `fsync`), rename, and the
// parent directory fsynced (if `fsync`).
task<io_status> replace_file(std::string path, std::string content, bool fsync);

// fsyncs a directory through the ring.
task<io_status> sync_directory_path(std::string dir);

}  // namespace ringmail::mailstore
