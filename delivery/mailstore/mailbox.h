// mailbox: all folders of one user, on the user's OWNER SHARD (DESIGN.md "The mail store").
//
// Every change to a user's folders — deliver, append, flags and keywords, expunge,
// copy/move, create/rename/delete folder, subscriptions, quota totals — runs here, on one
// shard, so changes have one order and need no lock. Message files are immutable once
// named in new/ or cur/ and may be read from any shard. mail_store (mail_store.h) finds a
// user's owner shard and opens the mailbox there; other shards call in with on_shard.
//
// ON DISK (Dovecot's Maildir++, so either server can serve the same files):
//   <maildir>/{cur,new,tmp}        INBOX
//   <maildir>/.Sent/…  .a.b/…      folders, names in modified UTF-7 (folder_name.h)
//   <maildir>/subscriptions        subscribed folder names
//   <folder>/ringmail-index[.log]  ringmail's index (index_file.h)
//   <folder>/dovecot-uidlist       Dovecot's UIDs: read when a folder has no index of ours,
//                                  new UIDs appended as Dovecot appends them, rewritten at
//                                  open and checkpoints, all under Dovecot's dotlock
//                                  (dotlock.h), so Dovecot sees the same UIDs
//   <folder>/dovecot-keywords      keyword letters, rewritten when a keyword is added
//
// WHAT IS TRUE AFTER A CRASH. For every change the FILE operation is made durable first
// (the message file and its new/ entry; a flag rename and its directory; an unlink and its
// directory), then the index record, then the caller hears "ok". So the files are never
// behind the index: recovery (the sync pass, run when a folder's log has records at open,
// i.e. it was not closed cleanly, or when new/ or cur/ changed since the last checkpoint,
// i.e. another program touched it) lets the files win — a file the index does not know gets a new UID, an
// indexed file that is gone is expunged, flags in a file name that differ from the index
// are taken, each with a fresh modseq. UIDs are never reused: uid_next only grows and is
// in every append record; a folder that cannot prove its UIDs gets a new UIDVALIDITY.
//
// EVENTS. Each folder keeps the changes of its recent past (appended, flags, expunged),
// numbered by the index's log sequence. Watchers on any shard are woken (through their
// own shard) after each durable commit and then ask the owner for events_since(n): so
// every observer sees the changes in the owner's order, and only durable ones. A watcher
// that falls more than kMaxEventsKept behind is told to reload (`reset`).
//
// ONE PROCESS AT A TIME. Before its first folder is opened, a mailbox takes an flock
// (LOCK_EX|LOCK_NB) on <maildir>/ringmail.lock, on the offload pool, and holds it until
// it is destroyed. A second process (ringmail-admin while the server runs, or a second
// server) gets Unavailable ("in use") instead of writing the same index at once. The
// server closes mailboxes nobody used for --mailbox_idle_close (mail_store::close_idle),
// which hands them to the admin tool between uses.
//
// STATUS of a folder that is not open is read from its checkpoint's header when it was
// closed cleanly (status()); SELECT-like opens read the checkpoint and the log and list no
// directory unless recovery is due.
//
// Threading: a mailbox and everything it returns belong to the owner shard.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/mailstore/dotlock.h"
#include "delivery/fts/text_index_store.h"
#include "delivery/mailstore/folder_index.h"
#include "delivery/mailstore/index_file.h"
#include "delivery/mailstore/maildir_writer.h"
#include "delivery/mailstore/metadata_format.h"
#include "runtime/io_op.h"
#include "runtime/notifier.h"
#include "runtime/task.h"

namespace ringmail {
class offload_pool;
}

namespace ringmail::mailstore {

inline constexpr size_t kMaxEventsKept = 10'000;  // per folder, for slow watchers
inline constexpr size_t kMaxFolders = 10'000;     // per user: a client creating folders forever

struct store_options {
  bool fsync = true;
  mode_t dir_mode = 0700;
  index_options index;
  std::chrono::seconds tmp_max_age{36 * 3600};  // Dovecot's and the Maildir spec's 36 hours
};

struct folder_event {
  enum kind : uint8_t { appended, flags_changed, expunged };
  kind k = appended;
  uint64_t seq = 0;  // the index log sequence of the change
  uint32_t uid = 0;
  uint8_t flags = 0;
  uint32_t keywords = 0;
  uint64_t modseq = 0;
  bool operator==(const folder_event&) const = default;
};

// A watcher's end: lives on the watcher's shard (its notifier is touched only there); the
// owner keeps a shared_ptr and posts wake-ups to `shard`.
struct folder_watch {
  unsigned shard = 0;
  notifier wake;
  std::atomic<bool> closed{false};
  // Set (on the watcher's shard) with each wake-up; the watcher clears it when it asks
  // for events_since(), so a wake-up that came while it was busy is not lost.
  bool pending = false;
};

// A folder-level change of a user (IMAP NOTIFY, RFC 5465: MailboxName,
// SubscriptionChange, MailboxMetadataChange, ServerMetadataChange), told to user_watch
// watchers after the change is durable. Names are UTF-8 store names.
struct user_event {
  enum kind : uint8_t { created, deleted, renamed, subscribed, unsubscribed, metadata_changed };
  kind k = created;
  std::string name;      // the folder ("" with metadata_changed: the server entries)
  std::string new_name;  // renamed: the new name
  std::vector<std::string> entries;  // metadata_changed: the entry names changed
  bool operator==(const user_event&) const = default;
};

// A watcher of a user's folder-level changes, on the watcher's shard like folder_watch;
// the owner posts each event there (run_on) and appends it to `events`, which only the
// watcher's shard touches. At most kMaxUserEventsQueued wait; past that `overflowed`.
inline constexpr size_t kMaxUserEventsQueued = 1000;
struct user_watch {
  unsigned shard = 0;
  notifier wake;
  std::atomic<bool> closed{false};
  std::vector<user_event> events;
  bool overflowed = false;
};

// The background work of one shard's mailboxes (index commits, dovecot-uidlist appends):
// counted, so a store can wait for it before the shard stops (mail_store::close_all).
struct background_work {
  size_t active = 0;
  notifier done;        // notified when active drops to 0
  cancel_source stop;   // a store dropped without close_all: waiting work gives up
};

struct folder_summary {
  std::string name;  // UTF-8, '/' separated; "INBOX"
  uint32_t messages = 0;
  uint32_t unseen = 0;
  uint32_t uid_next = 0;
  uint32_t uid_validity = 0;
  uint64_t highest_modseq = 0;
  uint64_t vsize = 0;
  uint64_t size = 0;
  std::string mailbox_guid;  // folder_state::mailbox_guid: IMAP's MAILBOXID (RFC 8474)
};

enum class flag_op { add, remove, replace };

struct quota_usage {
  uint64_t bytes = 0;
  uint64_t messages = 0;
};

class mailbox;

// One open folder. Returned by mailbox::folder() as a shared_ptr: an operation in flight
// keeps it alive even if the folder is renamed, deleted or reloaded meanwhile.
class open_folder {
 public:
  const std::string& name() const { return name_; }
  const std::string& dir() const { return dir_; }
  const folder_state& state() const { return state_; }
  folder_summary summary() const;
  // Path of a message's file, for readers on any shard.
  std::string path_of(const message_entry& m) const;
  // Durable log sequence: events up to it are visible.
  uint64_t visible_seq() const { return visible_seq_; }

  // Events after `after_seq`, up to visible_seq(). `reset` when some were dropped.
  struct event_batch {
    std::vector<folder_event> events;
    uint64_t last_seq = 0;
    bool reset = false;
  };
  event_batch events_since(uint64_t after_seq) const;
  void watch(std::shared_ptr<folder_watch> w);
  void unwatch(const folder_watch* w);

  open_folder(std::string name, std::string dir);

 private:
  friend class mailbox;
  // Applies `c` to the state, appends it to the log, and queues its event (published once
  // a commit makes it durable).
  void record(const change& c);
  void record_event(const folder_event& e);
  void publish();  // after a commit: make events visible, wake watchers
  std::string name_;
  std::string dir_;
  folder_state state_;
  std::unique_ptr<folder_log> log_;
  std::deque<folder_event> events_;
  uint64_t dropped_upto_ = 0;  // events up to this sequence are no longer kept
  uint64_t visible_seq_ = 0;
  std::vector<std::shared_ptr<folder_watch>> watchers_;
  // Changes that rename or unlink existing files run one at a time per folder (FIFO);
  // deliveries only add files and do not wait here.
  bool busy_ = false;
  notifier idle_;
  bool commit_scheduled_ = false;  // a background commit is waiting to start
  std::shared_ptr<background_work> background_;
  size_t writing_ = 0;  // deliveries between writing their file and indexing it
  notifier written_;
  // dovecot-uidlist: every UID up to dovecot_uid_ is in it; one writer at a time.
  uint32_t dovecot_uid_ = 0;
  bool dovecot_written_ = false;  // this process wrote it whole once: appends may follow
  bool dovecot_busy_ = false;
  notifier dovecot_idle_;
};

class mailbox {
 public:
  // `maildir`: <mail_root>/<domain>/<local>/Maildir. `writer` is the owner shard's.
  mailbox(std::string maildir, store_options options, maildir_writer& writer, offload_pool& offload,
          std::shared_ptr<background_work> background = nullptr);
  ~mailbox();
  const std::string& maildir() const { return maildir_; }

  // The folder, opened on first use: its index is loaded (no directory listing unless
  // new/ or cur/ changed since the last checkpoint), or built from the files and a
  // dovecot-uidlist when it has none or it is damaged. NotFound if the folder does not
  // exist (INBOX always exists; it is created on first use).
  task<absl::StatusOr<std::shared_ptr<open_folder>>> folder(std::string name);

  // IMAP STATUS: the folder's totals. A folder that is not open and was closed cleanly
  // (empty log, new/ and cur/ unchanged) is answered from the first bytes of its
  // checkpoint, without reading its records; otherwise it is opened.
  task<absl::StatusOr<folder_summary>> status(std::string name);
  size_t open_folder_count() const { return folders_.size(); }

  // ---- changes (each returns when durable) ----------------------------------------------
  // Local delivery: writes the pieces as one message file and indexes it. The result's
  // `path` is the file. Returns once the message is durable (file and new/ entry); with
  // `uid`, also once its index record is, and *uid is its UID (0 if the index could not
  // be written: the message is still delivered, and numbered by the next recovery pass).
  // Without, the index record is committed in the background (group commit).
  task<delivery_result> deliver(std::string folder_name, std::vector<std::string_view> pieces, uint32_t* uid = nullptr);
  // IMAP APPEND: like deliver, with flags, keywords and an INTERNALDATE (0: now).
  task<absl::StatusOr<uint32_t>> append(std::string folder_name, std::vector<std::string_view> pieces, uint8_t flags,
                                        std::vector<std::string> keywords, int64_t internal_date);
  // Flag/keyword change on `uids` (absent UIDs are skipped). Returns the UIDs changed.
  // `unchanged_since` (RFC 7162 3.1.3): UIDs whose modseq is larger are not changed and
  // come back in *failed.
  task<absl::StatusOr<std::vector<uint32_t>>> store(std::string folder_name, std::vector<uint32_t> uids, flag_op op,
                                                    uint8_t flags, std::vector<std::string> keywords,
                                                    std::optional<uint64_t> unchanged_since = std::nullopt,
                                                    std::vector<uint32_t>* failed = nullptr);
  // Removes `uids` (every \Deleted message when `uids` is empty). Returns the UIDs removed.
  task<absl::StatusOr<std::vector<uint32_t>>> expunge(std::string folder_name, std::vector<uint32_t> uids);
  // COPY/MOVE (RFC 4315 UIDPLUS): (source UID, destination UID) pairs.
  task<absl::StatusOr<std::vector<std::pair<uint32_t, uint32_t>>>> copy(std::string from, std::vector<uint32_t> uids,
                                                                        std::string to, bool move);

  // Stores messages' cache blobs (parsed facts a protocol computed from the file, e.g.
  // IMAP's ENVELOPE and BODYSTRUCTURE), as (uid, blob) pairs; unknown UIDs are skipped.
  // Not durable on return: the records ride on the folder's next background commit, and
  // a blob lost in a crash is simply computed again.
  task<absl::Status> set_cache(std::string folder_name, std::vector<std::pair<uint32_t, std::string>> blobs);

  // ---- folders --------------------------------------------------------------------------
  task<absl::Status> create_folder(std::string name);
  task<absl::Status> delete_folder(std::string name);
  task<absl::Status> rename_folder(std::string from, std::string to);
  // Every folder (UTF-8 names, INBOX first), from a listing of the Maildir.
  task<absl::StatusOr<std::vector<std::string>>> list_folders();
  task<absl::Status> subscribe(std::string name, bool subscribed);
  task<absl::StatusOr<std::vector<std::string>>> subscriptions();

  // ---- METADATA (RFC 5464): metadata_store.h, implemented in metadata_store.cc ----------
  // The entries of `folder_name` ("" = the server's entries, kept per user). NotFound if
  // the folder does not exist.
  task<absl::StatusOr<metadata_entries>> metadata(std::string folder_name);
  // Applies `changes` all or nothing (apply_metadata_changes) and returns once durable.
  task<absl::Status> set_metadata(std::string folder_name, std::vector<metadata_change> changes);

  // ---- folder-level events (NOTIFY): create/delete/rename, (un)subscribe, metadata ----
  void watch_user(std::shared_ptr<user_watch> w) { user_watchers_.push_back(std::move(w)); }

  // ---- full-text search (issue 11): the folders' SEARCH BODY/TEXT indexes --------------
  // (delivery/fts/text_index_store.h), filled and asked by the IMAP session (imap/fts_search.h).
  fts::user_text_index& text_index() { return text_index_; }

  // ---- totals ---------------------------------------------------------------------------
  // Bytes and messages in all folders, from the indexes (opened once, then kept as
  // running totals): what quota checks use.
  task<absl::StatusOr<quota_usage>> usage();

  // Makes every change made so far to `folder_name` durable, the deliveries whose index
  // records are still waiting for their background commit included, and tells watchers.
  task<absl::Status> flush(std::string folder_name);

  // Makes every open folder's index a checkpoint and brings dovecot-uidlist up to date
  // (clean shutdown, ringmail-admin).
  task<absl::Status> checkpoint_all();
  // Rebuilds a folder's index from its files (ringmail-admin mailbox rebuild), keeping
  // UIDs the current index or dovecot-uidlist know.
  task<absl::Status> rebuild(std::string folder_name);

  // ---- use, for closing idle mailboxes (mail_store::close_idle) ------------------------
  void begin_use() {
    ++users_;
    last_used_ = std::chrono::steady_clock::now();
  }
  void end_use() {
    --users_;
    last_used_ = std::chrono::steady_clock::now();
  }
  std::chrono::steady_clock::time_point last_used() const { return last_used_; }
  // Nobody is inside an operation or follows a folder, and the last use ended before `t`.
  bool idle_since(std::chrono::steady_clock::time_point t) const;

 private:
  absl::StatusOr<std::string> dir_of(std::string_view name) const;
  task<absl::Status> ensure_locked();
  task<std::optional<folder_summary>> summary_from_checkpoint(std::string name, std::string dir);
  task<absl::StatusOr<std::shared_ptr<open_folder>>> open_folder_at(std::string name, std::string dir);
  task<absl::Status> build_index(open_folder& f, const folder_state* known);
  task<absl::Status> sync_with_files(open_folder& f);
  task<void> lock_folder(open_folder& f);
  // fsyncs the folder's cur/ and/or new/ after renames, links or unlinks in them (shared
  // with concurrent deliveries through the writer's group commit); nothing without fsync.
  task<io_status> sync_message_dirs(const open_folder& f, bool cur, bool new_dir);
  // Before a rename or delete: no one may open `names` until resume_opening(), and the
  // changes in flight on them (deliveries, flag changes, Dovecot file writes) finish.
  task<void> quiesce(const std::vector<std::string>& names);
  void resume_opening(const std::vector<std::string>& names);
  void unlock_folder(open_folder& f);
  task<absl::Status> commit(open_folder& f);
  // The mask of `names` in f's keyword list; with `create`, unknown valid names are added
  // (logged) and *added set.
  uint32_t keyword_mask(open_folder& f, const std::vector<std::string>& names, bool create, bool* added);
  task<absl::Status> write_dovecot_files(open_folder& f);
  task<absl::Status> write_keywords_file(open_folder& f);
  dotlock_settings dotlock() const;
  // Static: they hold the folder, not the mailbox, which may close meanwhile.
  static void keep_uidlist_current(std::shared_ptr<open_folder> f, dotlock_settings settings);
  static void commit_in_background(std::shared_ptr<open_folder> f, dotlock_settings settings);
  static void started_background(open_folder& f);
  static void finished_background(open_folder& f);
  task<absl::Status> write_subscriptions(const std::vector<std::string>& names);
  void close_folder(const std::string& name);
  void account(int64_t bytes, int64_t messages);

  std::string maildir_;
  store_options options_;
  std::shared_ptr<background_work> background_;
  maildir_writer& writer_;
  offload_pool& offload_;
  std::map<std::string, std::shared_ptr<open_folder>, std::less<>> folders_;  // by UTF-8 name
  std::optional<quota_usage> usage_;
  std::set<std::string, std::less<>> opening_;  // folders being opened right now
  std::set<std::string, std::less<>> renaming_;  // folders being renamed or deleted
  notifier opened_;
  // Folders (INBOX included) as of the last listing, kept up to date by create and
  // reset by delete: create_folder checks kMaxFolders without listing the Maildir each
  // time (a listing per create made creating n folders cost O(n^2)).
  std::optional<size_t> folder_count_;
  size_t users_ = 0;
  std::chrono::steady_clock::time_point last_used_ = std::chrono::steady_clock::now();
  enum class lock_state { none, taking, held, failed };
  lock_state lock_ = lock_state::none;
  fts::user_text_index text_index_;  // full-text search indexes, by folder directory
  // METADATA writes run one at a time per user, and never during a rename or delete
  // (metadata_store.cc): the file lives in the folder's directory.
  bool metadata_busy_ = false;
  notifier metadata_idle_;
  // Folder-level event watchers (watch_user); publish_user_event tells them.
  std::vector<std::shared_ptr<user_watch>> user_watchers_;
  void publish_user_event(user_event e);
  int lock_fd_ = -1;
  absl::Status lock_error_;
  notifier lock_taken_;
};

}  // namespace ringmail::mailstore
