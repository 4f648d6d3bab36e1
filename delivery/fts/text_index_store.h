// user_text_index: one user's full-text indexes (text_index.h), one per folder, kept by
// the user's OWNER SHARD inside its mailbox (mailbox::text_index()), and their files.
//
// ON DISK: <folder>/ringmail-fts, text_index's format, written whole through the ring
// (mailstore::replace_file: <path>.tmp, rename). Not fsynced: the index is a cache of
// facts the message files hold, and every way a file can be wrong after a crash is
// detected at load — a torn or empty file fails parse() (lengths, CRC), a file from
// before the folder got a new UIDVALIDITY names the old one, and a file older than the
// folder's last changes lists (presence) only the UIDs it covers, so the messages it does
// not cover are indexed again and the ones since expunged are pruned against the
// folder's UID list. Each of those starts over (or continues) from the files: an index
// that cannot be trusted is never asked.
//
// WHEN IT IS WRITTEN: at the end of a search after which a tenth of the index, or
// kSaveAfterAdded messages, changed (added or pruned) since the last write — so the first
// search of a folder writes once at its end, and a large folder is not rewritten for each
// delivery: rewriting a 100,000-message index for one message would cost more than
// indexing that message again after a restart. Changes not yet written are lost at a
// restart and simply indexed again.
//
// OFF THE OWNER SHARD. Parsing a loaded file and compacting/serializing for a save cost
// about a second for a 100,000-message index (~160 MB): they run on the offload pool, so
// the owner shard keeps serving its other users' mail meanwhile. While a save's pool job
// reads the index the entry is FROZEN: queries (const reads) go on, but nothing may change
// it — adds wait in `pending` (folder_entry::add), pruning is skipped (prune()) — and the
// owner applies them when the job returns. A compacting save builds a compacted copy
// (text_index::compacted) rather than rewriting in place, swaps it in on the owner, and
// frees the old one on the pool (a million small strings).
//
// Threading: owner shard only (save's pool job reads a frozen entry); folder() pointers
// are valid until the next co_await on this object (hold the shared_ptr across one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "delivery/fts/text_index.h"
#include "runtime/task.h"

namespace ringmail::fts {

inline constexpr const char* kIndexFileName = "/ringmail-fts";
inline constexpr size_t kSaveAfterAdded = 1000;

class user_text_index {
 public:
  struct folder_entry {
    text_index index;
    size_t unsaved = 0;   // messages added or removed since the file was written
    bool saving = false;  // a save is running (one at a time: they share <file>.tmp)
    bool frozen = false;  // a pool job is reading `index`: no change to it until it returns
    bool from_file = false;  // loaded from a valid file (for tests and logs)
    std::string guid;        // the folder's, when it was loaded
    // Adds that came while frozen, applied when the pool job returns; UIDs ascending.
    std::vector<std::pair<uint32_t, std::vector<uint32_t>>> pending;
    std::vector<uint32_t> pending_uids;
    // The folder's (uid_next, message count) when the index was last pruned against its
    // UIDs (imap/fts_search.cc): while they are unchanged, so is the folder's UID set.
    uint32_t pruned_uid_next = 0;
    size_t pruned_count = 0;

    // Indexes `uid` (grams: add_grams), now or, while frozen, when the save's job returns.
    void add(uint32_t uid, std::vector<uint32_t> grams);
    // In the index or waiting to be: an indexer need not read it again. (A pending UID is
    // not yet in query() results: callers treat it as uncovered, a candidate.)
    bool known(uint32_t uid) const;
    // Keeps only `live` (sorted UIDs: the folder's); false, doing nothing, while frozen.
    bool prune(std::span<const uint32_t> live);
    // Applies `pending` (after a freeze).
    void thaw();
  };

  // The index of the folder in directory `dir` whose UIDVALIDITY is `uid_validity`:
  // loaded from its file on first use; an unreadable, torn or stale file (another
  // UIDVALIDITY) gives an empty index, filled again lazily. `guid` (the folder's
  // MAILBOXID) also identifies the index kept in memory: UIDVALIDITY is a time in
  // seconds, so a folder deleted or renamed away and created again at the same path in
  // the same second has the same one (its directory is new, so no file of the old one).
  task<std::shared_ptr<folder_entry>> folder(std::string dir, uint32_t uid_validity, std::string_view guid = {});

  // The folder's index if it is in memory now, else nullptr: no file is read (a new
  // message of a folder whose index is not loaded is indexed by the next search).
  std::shared_ptr<folder_entry> loaded(std::string_view dir, uint32_t uid_validity, std::string_view guid) const;

  // Writes the folder's index when `force` or when enough is unsaved (see above),
  // compacting it first if it has removed messages. Ok when there was nothing to do.
  task<absl::Status> save(std::string dir, bool force = false);

  // Forgets a folder's in-memory index (folder deleted or renamed: the next use reloads).
  void forget(const std::string& dir) { folders_.erase(dir); }
  size_t memory_bytes() const;

 private:
  std::map<std::string, std::shared_ptr<folder_entry>, std::less<>> folders_;  // by dir
};

}  // namespace ringmail::fts
