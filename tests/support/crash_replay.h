// crash_replay: the on-disk states a POWER CUT could leave, built from a recorded trace
// of file-system mutations (runtime/file_trace.h), in the manner of ALICE (Pillai et al.,
// "All File Systems Are Not Created Equal", OSDI '14) and CrashMonkey (Mohan et al.,
// OSDI '18). A kill -9 keeps the page cache, so it cannot show that fsyncs are right;
// this can: drop everything that was not fsynced and see whether the code under test
// still keeps its promises.
//
// How to use (tests/delivery/crash_consistency_test.cc is the worked example):
//   auto rec = record(*reactor, root, [&]() -> task<void> { ... file_trace::mark("ack x"); });
//   for (size_t cut : cut_points(*rec, 200)) {
//     materialize(*rec, cut, scratch);           // the tree as found after reboot
//     ... open the store on `scratch`, check what markers_before(*rec, cut) promised ...
//   }
// for_each_crash_state() wraps that loop.
//
// THE MODEL. Inodes hold content; directories map names to inodes (hard links and
// renames are therefore exact). Only the tree under `root` is modelled; operations
// wholly outside it are ignored, and `root` itself is assumed to exist after the crash.
//   - Initial state: the real tree under `root` when recording starts, all durable.
//   - Every recorded event is applied, in trace order, to a LIVE model. A cut at k means
//     events [0, k) completed and the power failed before event k completed.
//   - A DURABLE model is kept beside it, and only fsync/fdatasync change it:
//       fsync(file)  the inode's content, as it was when the fsync was SUBMITTED (the
//                    event's `covers`), becomes its durable content (and size);
//       fsync(dir)   the directory's entries (name -> inode), as at submission, become
//                    its durable entries: creations, mkdirs, renames in AND out, links
//                    and unlinks alike. A rename is thus two independent directory
//                    updates, so a crash may leave a file under both names or neither.
//     An older fsync completing after a newer one never rolls durability back.
//   - After the cut the tree is rebuilt from the durable model, from `root` down:
//     durable entries only, and each file with its durable content. Nothing else
//     survives. In particular:
//       * a durable name whose inode's data was never fsynced yields an EMPTY file
//         (size 0) — the worst case the strict model allows, and what ext4 without
//         auto_da_alloc leaves after "write, rename, crash" (ALICE's example);
//       * a file written after its last fsync has exactly its content at that fsync;
//         O_TRUNC without a later fsync does not empty a file that was durable;
//       * a directory made by mkdir keeps no entries until it is itself fsynced, and is
//         there at all only if its parent was fsynced after the mkdir.
//   This is stricter than any real Linux file system (ext4 and XFS journal a rename as
//   one transaction, and fsync of a new file there also commits its directory entry),
//   which is the point: POSIX promises no more, and code that passes here does not rely
//   on a file system's kindness. The model does not tear writes within a file (durable
//   content is all of one fsync's state, never a mix) and does not model a full disk.
//
// The optional crash_model::metadata_survives variant keeps EVERY directory operation
// up to the cut (as a metadata-journaling file system that committed its journal just
// before the cut would), with file data still only as fsynced: the classic "zero-length
// file after crash" outcome of rename-without-fsync.
//
// Recording also notes how many events had completed when each fsync was submitted, so
// an fsync that was already in flight when a rename completed does not cover it (the
// group-commit rule of delivery/mailstore/maildir_writer.h).
//
// Blocking I/O throughout: test code only, never on a shard.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/file_trace.h"
#include "runtime/task.h"

namespace ringmail {
class reactor;
}

namespace ringmail::crash {

// One file or directory of the initial tree, relative to the root ("a/b").
struct snapshot_entry {
  std::string path;
  bool is_dir = false;
  std::string data;
};

struct recording {
  std::string root;  // absolute, normalised
  std::vector<snapshot_entry> initial;
  std::vector<file_event> events;
};

enum class crash_model {
  strict,             // only fsynced directory entries and file content survive
  metadata_survives,  // every directory operation survives; file content as fsynced
};

// Reads the tree under `root` (regular files and directories; anything else is an error).
absl::StatusOr<std::vector<snapshot_entry>> snapshot_tree(const std::string& root);

// Snapshots `root` (which must exist), attaches a fresh recorder to `r`, runs
// workload() to completion on `r` (block_on, on the calling thread), detaches it and
// returns everything recorded. The workload may call file_trace::mark().
absl::StatusOr<recording> record(reactor& r, const std::string& root, const std::function<task<void>()>& workload);

// Cut points in [0, events.size()], ascending, spread over the trace: always 0, the end,
// and the cut just after every marker (even if that exceeds max_points); then the cuts
// just before and just after every fsync if they fit; then evenly spread others up to
// max_points.
std::vector<size_t> cut_points(const recording& rec, size_t max_points);

// Writes the state a power cut at `cut` leaves into `out_dir` (created if missing, must
// be empty), `out_dir` standing for the recording's root. Fails on a trace the model
// cannot follow (a write through a descriptor opened before recording, a rename into
// the root from outside it, an operation on a name the model does not have).
absl::Status materialize(const recording& rec, size_t cut, const std::string& out_dir,
                         crash_model model = crash_model::strict);

// The texts of the markers among events [0, cut), in order.
std::vector<std::string> markers_before(const recording& rec, size_t cut);

// For each cut: empties `scratch`, materializes into it, calls check(cut, scratch,
// markers_before(cut)). Stops at and returns the first materialize error.
absl::Status for_each_crash_state(
    const recording& rec, const std::vector<size_t>& cuts, crash_model model, const std::string& scratch,
    const std::function<void(size_t cut, const std::string& dir, const std::vector<std::string>& markers)>& check);

// Events [from, to) one per line, numbered, for failure messages.
std::string dump(const recording& rec, size_t from, size_t to);

// A fresh directory <base>/<prefix>XXXXXX ("" if it cannot be made); base "" means
// $TMPDIR or /tmp. Crash tests may pass fast_temp_base(): the recorded workload's real
// fsyncs and the many materialized states then cost no disk I/O, and the model does not
// care what file system the workload ran on.
std::string make_temp_dir(std::string_view prefix, std::string base = "");
// /dev/shm where it is a writable directory, else "".
std::string fast_temp_base();
// rm -rf.
void remove_tree(const std::string& path);

}  // namespace ringmail::crash
