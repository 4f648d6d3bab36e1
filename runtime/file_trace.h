// file_trace: a recorder of every file-system mutation a reactor makes through the
// runtime's file layer (runtime/file.h) and through the few raw ring file operations
// elsewhere (the Maildir writer's group-commit directory fsyncs and renameat2). It exists
// for crash-consistency tests in the manner of ALICE (Pillai et al., OSDI '14) and
// CrashMonkey (Mohan et al., OSDI '18): a kill -9 leaves the page cache intact, so it
// cannot show that the fsyncs are right; a power cut can. The recorded trace is replayed
// by tests/support/crash_replay.h, which builds the on-disk state a power cut at each
// point of the trace could leave.
//
// What is recorded, and when: each operation at its COMPLETION and only if it succeeded
// (a failed rename changed nothing), in completion order, which on one shard is the order
// the coroutines saw — the order the code's durability reasoning is about:
//   open       fd, absolute path, open(2) flags (O_CREAT/O_TRUNC/O_DIRECTORY matter);
//              every open, so the replay can map a descriptor to its inode
//   write      fd, offset and the bytes written
//   sync       fd, fsync or fdatasync, and `covers`: how many events had completed when
//              the fsync was SUBMITTED. An fsync proves nothing about an operation that
//              completed while it was in flight (the group-commit rule in
//              delivery/mailstore/maildir_writer.h), so the replay makes durable the state
//              as of the submission, not the completion.
//   close      fd (the descriptor may be reused afterwards)
//   rename, link, unlink, mkdir, rmdir   absolute paths
//   marker     free text from the test ("ack <path>"), so a checker knows what had been
//              acknowledged before a cut
// Paths are made absolute at record time (relative ones against the working directory
// or the directory descriptor given to openat) and normalised lexically; symbolic links
// are not resolved (tests use plain trees).
//
// Attachment: a recorder is attached per reactor (reactor::set_file_recorder), never
// globally, and only tests attach one. With none attached the cost of each file
// operation is one thread-local load and one pointer check.
//
// Threading: a recorder belongs to one reactor and is used only on its thread.
#pragma once

#include <fcntl.h>

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace ringmail {

struct file_event {
  enum class kind : uint8_t { open, write, sync, close, rename, link, unlink, mkdir, rmdir, marker };
  kind what = kind::marker;
  int fd = -1;          // open, write, sync, close
  int flags = 0;        // open: the open(2) flags; sync: 1 for fdatasync, 0 for fsync
  std::string path;     // absolute; for write/sync/close the path the fd was opened with
                        // ("" if the descriptor was opened before recording started)
  std::string target;   // rename, link: the new name
  uint64_t offset = 0;  // write
  std::string data;     // write: the bytes; marker: the text
  size_t covers = 0;    // sync: events [0, covers) had completed at submission
};

// One line per event, for failure messages ("12 rename /t/tmp/x -> /t/new/x").
std::string describe(const file_event& e);

class file_trace {
 public:
  file_trace() = default;
  file_trace(const file_trace&) = delete;
  file_trace& operator=(const file_trace&) = delete;

  // The recorder of the reactor running on this thread, or nullptr.
  static file_trace* current();
  // Records a marker on the current reactor's recorder, if one is attached; otherwise
  // does nothing, so workload code may call it unconditionally.
  static void mark(std::string text);

  void opened(int fd, std::string_view path, int flags, int dir_fd = AT_FDCWD);
  void wrote(int fd, uint64_t offset, std::span<const char> bytes);
  // Call before submitting an fsync of `fd`, then synced() at its completion (whatever
  // the result): the pair gives the event its `covers`. Concurrent fsyncs of one fd are
  // matched first-submitted to first-completed, which never overstates what is covered.
  void sync_submitted(int fd);
  void synced(int fd, bool data_only, int32_t result);
  void closed(int fd);
  void renamed(std::string_view from, std::string_view to);
  void linked(std::string_view existing, std::string_view new_path);
  void unlinked(std::string_view path);
  void made_directory(std::string_view path);
  void removed_directory(std::string_view path);
  void marker(std::string text);

  const std::vector<file_event>& events() const { return events_; }
  std::vector<file_event> take_events() { return std::move(events_); }

  // `path` made absolute (against dir_fd's recorded path, or the working directory for
  // AT_FDCWD) and lexically normalised; "" if dir_fd is unknown.
  std::string absolute(std::string_view path, int dir_fd = AT_FDCWD) const;

 private:
  file_event& add(file_event::kind what);
  std::string path_of(int fd) const;

  absl::flat_hash_map<int, std::string> fd_paths_;
  absl::flat_hash_map<int, std::deque<size_t>> pending_syncs_;
  std::vector<file_event> events_;
};

}  // namespace ringmail
