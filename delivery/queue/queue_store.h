// queue_store: the durable outbound queue of one shard (issue 13 "The queue"; DESIGN.md
// "The queue is a spool directory of fsynced files; a restart resumes it. Nothing accepted
// is ever lost; a crash may at worst deliver a message twice."). The files are
// queue_format.h's; this class does the I/O, through the ring (runtime/file.h), and the
// directory listing at start-up on the offload pool (getdents has no io_uring operation).
//
// LAYOUT under the queue root (<data_dir>/queue):
//   <shard>/<id>.msg     the envelope and message, written once (queue_format.h)
//   <shard>/<id>.state   per-recipient states, replaced whole by each update; absent
//                        until the first update (= every recipient pending)
//   <shard>/<id>.hold    empty; present while the admin holds the message (postsuper -h)
//   <shard>/tmp/         files being written; never read; emptied by load_all()
//   corrupt/             damaged files, moved here as "<shard>-<name>-<unix time>",
//                        logged, never deleted (they may hold the only copy of a mail)
//
// DURABILITY, as maildir_writer.h's Maildir delivery (Postfix's queue files are made the
// same way: cleanup writes incoming/, fsyncs, and only then does smtpd answer 250):
//   0. (once, in load_all) the spool directories and their parents are fsynced, as the
//      Maildir writer's sync_chain does for a new Maildir
//   1. open <shard>/tmp/<name>, write it, fsync it, close it
//   2. rename it into <shard>/ — a reader (load_all) sees the whole file or nothing
//   3. fsync <shard>/ through maildir_writer::sync_directory, the shard's group commit:
//      concurrent enqueues and updates share one directory fsync per batch, so N
//      concurrent enqueues cost far fewer than N directory fsyncs
//   enqueue() reports ok only after step 3; any failure removes what it wrote and
//   reports a temporary error (the sender retries; nothing half-written is ever mail).
//   A crash leaves at most a file in tmp/, which load_all() removes.
// Ordering that keeps "never lost": remove() unlinks <id>.msg before <id>.state and
// <id>.hold, so a crash in between leaves an orphan .state or .hold (deleted at start,
// before any enqueue could pick its id again) and never a message whose
// states are gone (which would resend to delivered recipients — a duplicate at worst, but
// avoidable). A damaged .state is moved aside and its message kept with every recipient
// pending: duplicates rather than loss. A damaged .msg is moved aside with its .state.
// A crash after the last update and before remove() leaves a message whose recipients are
// all final; load_all() keeps it (list() shows it) and its consumer should remove() it.
//
// HOLD (Postfix's postsuper -h / -H moves the queue file into and out of hold/): here a
// marker file beside the message, so holding never rewrites the message or its states
// and the strict .state format stays as it is. set_held(true) writes <id>.hold through
// the same tmp -> fsync -> rename -> directory fsync as any queue file; set_held(false)
// unlinks it and fsyncs the directory. The relay asks held(id) before each attempt; a
// held message keeps its states (its deferred recipients' next attempt included) and is
// still listed. Departure: Postfix's hold/ is a queue of its own; ours is a flag, so a
// held message stays in its shard's spool and keeps its id.
//
// LIMITS of this first piece (for the relay session to lift): load_all() reads every
// message file whole once to check its CRC (then drops the bytes), and the in-memory
// index holds every envelope; fine for thousands of queued messages, not for millions.
//
// Threading: NOT thread-safe — one store per shard, used only from that shard's thread,
// after load_all() has completed. update() and remove() of one id must not overlap (the
// relay works one message at a time); an overlapping call fails with FailedPrecondition
// rather than racing two renames of the same .state file. The admin's forced remove() is
// the exception: it may come while an update of the id is being written; it waits (up to
// kForcedRemoveWait) for that write to finish, and an update that finds its message gone
// once its write is done takes its .state file back and reports NotFound.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "delivery/mailstore/maildir_writer.h"
#include "delivery/queue/queue_format.h"
#include "runtime/io_status.h"
#include "runtime/offload_pool.h"
#include "runtime/task.h"

namespace ringmail::queue {

// Suffix of the hold marker file (see HOLD); the offline reader looks for it too.
inline constexpr char kHoldSuffix[] = ".hold";

using delivery_result = mailstore::delivery_result;

struct queue_options {
  unsigned shard = 0;  // names the shard's directory and is part of every queue id
  mode_t file_mode = 0600;
  mode_t dir_mode = 0700;
  // false skips every fsync: tests and benchmarks only — an enqueue is then NOT durable.
  bool fsync = true;
  // Tests only: when not 0, the next message or state write fails with this errno
  // (ENOSPC, EIO, ...) as the disk would, and the option resets itself.
  int inject_write_errno = 0;
  // A message just enqueued is kept in memory until its first read_message() (the relay
  // takes it at once), up to this many bytes per store in all; beyond it, and after a
  // restart, messages are read from their files. 0: always from the file.
  size_t message_cache_bytes = 32u << 20;
};

// The new state of one recipient after a delivery attempt.
struct recipient_outcome {
  size_t index = 0;          // position in the record's recipients
  rcpt_status status = rcpt_status::deferred;  // deferred, delivered or bounced
  int64_t next_attempt = 0;  // deferred: unix seconds (retry_policy.h)
  std::string text;          // deferred: the error; bounced: the reason
};

struct enqueue_result {
  delivery_result result;  // ok (2.0.0), or temporary / permanent with an RFC 3463 code
  std::string id;          // the queue id when ok
};

class queue_store {
 public:
  // `queue_root` is <data_dir>/queue; this store owns <queue_root>/<options.shard>/.
  // `syncer` is the shard's maildir_writer, whose group commit the directory fsyncs
  // share; it and `offload` must outlive the store.
  queue_store(std::string queue_root, queue_options options, mailstore::maildir_writer& syncer, offload_pool& offload);
  queue_store(const queue_store&) = delete;
  queue_store& operator=(const queue_store&) = delete;

  // Recovery: creates the directories if missing, empties tmp/, reads every message and
  // its states, moves damaged files to corrupt/ (logged) and drops orphan .state files.
  // Must complete before any other call. An error only when the spool cannot be read at
  // all (the directory cannot be created or listed).
  task<absl::Status> load_all();

  // Queues the concatenation of `pieces` (trace lines, then the message) for
  // `recipients` (only address and detail are used; every recipient starts pending).
  // Returns once durable. Pieces must stay valid until the task is done.
  task<enqueue_result> enqueue(std::vector<std::string_view> pieces, std::string_view reverse_path,
                               std::vector<recipient_state> recipients, int64_t arrival);

  // Applies the outcomes of one delivery attempt (each counts one attempt for its
  // recipient) and returns once the new states are durable; on error nothing changed.
  // NotFound (unknown id), InvalidArgument (bad index, pending as an outcome, limits),
  // FailedPrecondition (a final recipient, or another update/remove of the id running),
  // Unavailable (the write failed: temporary, try again).
  task<absl::Status> update(std::string id, std::vector<recipient_outcome> outcomes);

  // Removes a message whose recipients are all final. NotFound, FailedPrecondition (a
  // recipient is not final, or the id is busy), Unavailable (I/O). Once the .msg file is
  // unlinked the message is gone from the store even if the directory fsync then fails
  // (a crash could bring it back, all final, as above).
  task<absl::Status> remove(std::string id);
  // The admin's delete (postsuper -d): as remove(id), but whatever the recipients' states
  // (force = true), and waiting up to kForcedRemoveWait for an update of the id that is
  // being written (FailedPrecondition after that). force = false is remove(id).
  task<absl::Status> remove(std::string id, bool force);
  static constexpr std::chrono::milliseconds kForcedRemoveWait{5000};
  // The relay's removal of a message it has just finished with (every recipient it had
  // open got a final outcome in one attempt, so the states were never written): as
  // remove(id, true) without the wait, the admin's log line, or the directory fsync. A
  // crash before the unlink reaches the disk brings the message back and it is delivered
  // twice, which DESIGN.md allows ("a crash may at worst deliver a message twice");
  // Postfix does not fsync its deletes either. One fsync round less per relayed message.
  // The .msg file is renamed into tmp/ as a spare for the next enqueue to write over
  // (up to kMaxSpares), not unlinked: no inode freed here and allocated there.
  task<absl::Status> remove_delivered(std::string id);

  // Holds (true) or releases (false) a message, durably (see HOLD); ok if it already was.
  // NotFound, FailedPrecondition (another hold/release of the id is being written),
  // Unavailable (I/O: the hold state is then unchanged, except that a release whose
  // unlink succeeded and whose directory fsync failed counts as released).
  task<absl::Status> set_held(std::string id, bool held);
  // Whether the message is held (false for an unknown id).
  bool held(std::string_view id) const;
  // Bytes of the message as enqueued (trace lines included); 0 for an unknown id.
  uint64_t message_size(std::string_view id) const;

  // The message bytes (as enqueued, trace lines included); DataLoss if the file is
  // damaged now. The first read of a message enqueued by this store is served from memory
  // (see queue_options::message_cache_bytes), later ones from its file.
  task<absl::StatusOr<std::string>> read_message(std::string id);

  // Snapshot of every queued message, oldest arrival first (the admin tool's listing).
  std::vector<queue_record> list() const;
  const queue_record* find(std::string_view id) const;
  // Messages known, counting enqueues still being written (which list() leaves out).
  size_t size() const { return entries_.size(); }

  const std::string& directory() const { return dir_; }
  uint64_t enqueued() const { return enqueued_; }
  uint64_t moved_to_corrupt() const { return moved_to_corrupt_; }
  uint64_t tmp_removed() const { return tmp_removed_; }
  // Tests: see queue_options::inject_write_errno.
  void inject_write_errno(int err) { options_.inject_write_errno = err; }

 private:
  struct entry {
    queue_record record;
    bool busy = false;  // an update or remove is running
    bool held = false;  // <id>.hold exists
    bool hold_busy = false;  // a set_held is being written
    uint64_t message_size = 0;
    bool has_state = false;  // <id>.state exists (an update was written, or found at start)
    std::string cached;      // the message bytes until the first read (message_cache_bytes)
  };

  std::string new_id(int64_t now);
  // Drops the entry (and its cached bytes) from memory.
  void forget(const std::string& id);
  // Steps 1-3 of DURABILITY: `pieces` into tmp/<name>, then renamed to <dir_>/<final_name>.
  task<io_status> write_durably(std::string final_name, std::vector<std::string_view> pieces, const char** failed);
  task<void> move_aside(std::string name);

  std::string root_;
  std::string dir_;   // <root>/<shard>
  std::string tmp_;   // <dir>/tmp
  std::string corrupt_;
  queue_options options_;
  mailstore::maildir_writer& syncer_;
  offload_pool& offload_;
  absl::flat_hash_map<std::string, entry> entries_;
  uint64_t counter_ = 0;
  uint64_t enqueued_ = 0;
  uint64_t moved_to_corrupt_ = 0;
  uint64_t tmp_removed_ = 0;
  size_t cached_bytes_ = 0;  // sum of the entries' cached messages
  // Delivered messages' files kept in tmp/ to be written over by the next enqueue
  // (remove_delivered, write_durably): creating and deleting an inode per message cost
  // the relay more CPU than anything else on ext4.
  static constexpr size_t kMaxSpares = 256;
  std::vector<std::string> spares_;
  uint64_t spare_counter_ = 0;
};

}  // namespace ringmail::queue
