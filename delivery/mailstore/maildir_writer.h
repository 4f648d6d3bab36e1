// maildir_writer: durable delivery of one message into a Maildir folder, with the
// directory fsyncs of concurrent deliveries shared (group commit). DESIGN.md "Data and
// durability": "250 means on disk" — deliver() returns ok only once the message's bytes
// AND the directory entry in new/ that names them have been fsynced.
//
// The Maildir spec, qmail's maildir(5), which Postfix's local/maildir.c follows:
//
//   "A program delivers a mail message in six steps. First, it chdir()s to the maildir
//    directory. Second, it stat()s the name tmp/time.pid.host [...] Third, if stat()
//    returned anything other than ENOENT, the program sleeps for two seconds, updates
//    time, and tries the stat() again, a limited number of times. Fourth, the program
//    creates tmp/time.pid.host. Fifth, the program NFS-writes the message to the file.
//    Sixth, the program link()s the file to new/time.pid.host. At that instant the
//    message has been successfully delivered."
//
//   and "NFS-writing" is checking every write(), then fsync(), then close().
//
// What we do, in order, and where we depart from the spec:
//   1. open tmp/<unique> with O_CREAT|O_EXCL|O_WRONLY — O_EXCL instead of the stat()
//      and sleep (no race between the check and the create; names are unique per
//      process by construction, see unique_namer). On ENOENT the folder is created
//      (cur/new/tmp and missing parents), the new directory entries are fsynced up the
//      chain, and the open retried once; on EEXIST a fresh name is tried.
//   2. write the pieces (header prefix lines, then the message) at increasing offsets.
//   3. fsync the file — not fdatasync. fdatasync would have to flush the size and block
//      map of a brand-new inode anyway, so it would save only the timestamps, and fsync
//      also makes the inode's mode and ownership durable, which readers rely on.
//   4. close (on NFS-like filesystems close is where a deferred write error surfaces).
//   5. rename tmp/<unique> to new/<unique> — DEPARTURE: the spec (and Postfix) link then
//      unlink. rename is one atomic directory operation (one ring round trip, one journal
//      transaction) where link+unlink is two, it works where hard links do not (some
//      FUSE, network and cluster filesystems), and it is what Dovecot's own delivery
//      (maildir-save.c) does. link's one advantage, refusing to overwrite an existing
//      name, we keep: the rename is renameat2(RENAME_NOREPLACE) (falling back to plain
//      rename where the filesystem answers EINVAL), and EEXIST picks a new name.
//   6. fsync the new/ DIRECTORY — DEPARTURE: the spec stops after the link, which on a
//      modern filesystem leaves the new name in memory only. Without this step a crash
//      after our 250 could lose the message while its data blocks sit on disk unnamed.
//      This fsync is shared between concurrent deliveries (group commit, below).
//   Any failure: the tmp file is unlinked, so nothing partial is left in tmp/ or new/;
//   a failed directory fsync also unlinks the (complete) new/ file, since the sender is
//   told to retry and would otherwise produce a duplicate. A crash mid-way leaves at most
//   a tmp/ file, which the mail store removes when it next lists that folder
//   (folder_scan.h, lazily per folder, as Dovecot does).
//
// GROUP COMMIT. Per new/ directory the writer keeps a pending-sync state with two lists
// of waiting deliveries: `current`, covered by the fsync in flight (or about to be
// submitted), and `next`. A delivery whose rename has completed joins:
//   - no state for its directory: it creates one, which opens the directory; every
//     delivery that joins while the open is in flight also goes into `current`, because
//     the fsync has not been submitted yet;
//   - an fsync already submitted: it joins `next`. That fsync may have started before
//     our rename, so it proves nothing about our entry.
// When an fsync completes, everyone in `current` resumes with its result; if `next` is
// not empty it becomes `current` and one new fsync is submitted for all of it at once.
// Why every 250 stays honest: a delivery resumes only from the completion of an fsync
// that was submitted after its rename had completed (it joined before the submission),
// and fsync of a directory makes every entry the directory held at the time durable.
// Under load a directory sees at most one fsync in flight plus one batch forming, so N
// concurrent deliveries into one Maildir cost O(N / batch) directory fsyncs, not N.
// File-data fsyncs are per file and run concurrently through the ring.
//
// Threading: NOT thread-safe — one writer per shard, used only from that shard's thread
// (the group-commit state is plain data; the ring is single-issuer). The writer must
// outlive every deliver() it started.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "delivery/mailstore/maildir.h"
#include "runtime/io_status.h"
#include "runtime/task.h"

namespace ringmail {
struct io_op;
}

namespace ringmail::mailstore {

struct delivery_result {
  enum status { ok, temporary, permanent };
  status st = temporary;
  std::string enhanced;  // RFC 3463: "2.0.0", "4.3.1", "4.2.2", "5.2.3", ...
  std::string reason;    // human text, no file system path (it may reach an SMTP reply)
  std::string path;      // on success: the final path in new/

  bool delivered() const { return st == ok; }
};

// errno -> temporary or permanent with an enhanced status code, as Postfix's
// mbox_dsn(errno, "4.2.0") does. Only a condition that no retry can cure is permanent:
//   EAGAIN ESTALE EINTR EBUSY ETXTBSY    4.2.0 temporary  mailbox busy (Postfix: same)
//   ENOSPC                               4.3.1 temporary  mail system full (Postfix 4.3.0;
//                                                         RFC 3463 X.3.1 is the exact code)
//   EDQUOT                               4.2.2 temporary  mailbox full. Postfix: 5.2.2
//                                                         permanent; RFC 3463 says X.2.2
//                                                         "should be used as a persistent
//                                                         transient failure" — the user
//                                                         can delete mail. (A quota kept
//                                                         by us, not the kernel, is the
//                                                         caller's to report.)
//   EFBIG                                5.2.3 permanent  this message can never fit the
//                                                         file size limit (Postfix 5.2.2)
//   EACCES EPERM                         4.2.0 temporary  the Maildir location is the
//                                                         admin's (Postfix virtual defers)
//   ENOTDIR EISDIR ELOOP ENOENT EEXIST
//   EXDEV EMLINK                         4.2.0 temporary  mailbox structure broken; fixable
//   ENAMETOOLONG                         4.3.5 temporary  validated names cannot produce it
//                                                         (local <= 64, domain <= 253 <
//                                                         NAME_MAX), so mail_root or the
//                                                         hostname is misconfigured
//   EIO EROFS EUCLEAN                    4.3.0 temporary  disk or file system trouble
//                                                         (Postfix: write errors 5.3.0;
//                                                         DESIGN.md: never permanent for a
//                                                         temporary fault)
//   ENOMEM ENOBUFS EMFILE ENFILE         4.3.0 temporary  resource shortage
//   ECANCELED ETIMEDOUT ETIME            4.3.0 temporary  shutdown or deadline
//   anything else                        4.2.0 temporary  (Postfix's default for maildir)
delivery_result result_from_errno(int err, std::string_view operation);

struct writer_options {
  std::string hostname;  // for unique names; empty: gethostname()
  mode_t file_mode = 0600;
  mode_t dir_mode = 0700;
  // false skips both the file fsync and the directory fsync: for tests and benchmarks
  // only — a 250 is then NOT durable.
  bool fsync = true;
  unsigned shard_id = 0;  // part of the unique-name counter; set it when several writers
                          // run in one process (one per shard)
};

class maildir_writer {
 public:
  explicit maildir_writer(writer_options options);
  ~maildir_writer();
  maildir_writer(const maildir_writer&) = delete;
  maildir_writer& operator=(const maildir_writer&) = delete;

  // Delivers the concatenation of `pieces` into `folder` (see folder_path: "" / "INBOX",
  // "Junk", ...) of the Maildir at `maildir`, creating it if missing. Pieces are written in
  // order straight from the caller's memory (runs of small pieces are gathered into one
  // buffer first, see the .cc): typically Return-Path and Delivered-To lines, then the
  // message as received. `folder` and every piece must stay valid until the task is done.
  // Must be awaited on this writer's shard.
  task<delivery_result> deliver(std::string maildir, std::string_view folder, std::vector<std::string_view> pieces);

  // Successful deliveries, and directory fsyncs submitted (group commit makes the second
  // much smaller than the first under concurrency).
  uint64_t deliveries() const { return deliveries_; }
  uint64_t directory_syncs() const { return directory_syncs_; }

  // Makes the entries of directory `dir` durable: joins the group commit for it (see the
  // header comment). Used by deliver() for new/; public so other writers of this shard
  // (the queue) can share it.
  task<io_status> sync_directory(std::string dir);

  // Makes a directory that was just created durable: fsyncs it and every parent up to
  // "/" (each new entry lives in its parent), sharing the group commit.
  task<io_status> sync_chain(std::string dir);

  // A fresh unique Maildir file name from this writer's namer (copies and folder
  // trash names of the mail store on this shard use it, so names never collide).
  std::string unique_name(uint64_t size, uint64_t vsize) { return namer_.next(size, vsize); }
  const std::string& hostname() const { return namer_.hostname(); }

 private:
  struct sync_waiter;
  struct waiter_list {
    sync_waiter* head = nullptr;
    sync_waiter* tail = nullptr;
    bool empty() const { return head == nullptr; }
    void push_back(sync_waiter* w);
    void remove(sync_waiter* w);
    sync_waiter* pop_front();
    void take_all(waiter_list& from);  // moves every waiter of `from` to the end of this
  };
  // Lives in the awaiting coroutine's frame. If that frame is destroyed while waiting, the
  // destructor unlinks it, so a completion never resumes a dead coroutine.
  struct sync_waiter {
    sync_waiter* prev = nullptr;
    sync_waiter* next = nullptr;
    waiter_list* list = nullptr;
    std::coroutine_handle<> handle;
    io_status result;
    sync_waiter() = default;
    sync_waiter(const sync_waiter&) = delete;
    sync_waiter& operator=(const sync_waiter&) = delete;
    ~sync_waiter() {
      if (list != nullptr) list->remove(this);
    }
  };
  // One per directory with a sync in flight; erased when the last batch is done.
  struct dir_sync {
    maildir_writer* owner = nullptr;
    std::string path;
    int fd = -1;
    bool fsync_submitted = false;  // false while the directory is still being opened
    io_op* op = nullptr;           // the open or fsync in flight
    waiter_list current;           // resumed by the in-flight (or first) fsync
    waiter_list next;              // joined after it was submitted: wait for the next
  };
  struct sync_awaiter;

  void join_sync(const std::string& dir, sync_waiter& w);
  void submit_open(dir_sync& d);
  void submit_fsync(dir_sync& d);
  static void on_open_done(io_op& op, int32_t res, uint32_t flags);
  static void on_fsync_done(io_op& op, int32_t res, uint32_t flags);
  // Resumes everyone in d.current with `st`; starts the next batch or retires `d`.
  void finish_batch(dir_sync& d, io_status st);

  task<io_status> rename_into_new(const std::string& from, const std::string& to);

  writer_options options_;
  unique_namer namer_;
  bool noreplace_works_ = true;
  absl::flat_hash_map<std::string, std::unique_ptr<dir_sync>> syncs_;
  uint64_t deliveries_ = 0;
  uint64_t directory_syncs_ = 0;
};

}  // namespace ringmail::mailstore
