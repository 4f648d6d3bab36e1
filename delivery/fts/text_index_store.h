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
// Threading: owner shard only; folder() pointers are valid until the next co_await on
// this object (hold the shared_ptr across one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

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
    bool saving = false;
    bool from_file = false;  // loaded from a valid file (for tests and logs)
    std::string guid;        // the folder's, when it was loaded
  };

  // The index of the folder in directory `dir` whose UIDVALIDITY is `uid_validity`:
  // loaded from its file on first use; an unreadable, torn or stale file (another
  // UIDVALIDITY) gives an empty index, filled again lazily. `guid` (the folder's
  // MAILBOXID) also identifies the index kept in memory: UIDVALIDITY is a time in
  // seconds, so a folder deleted or renamed away and created again at the same path in
  // the same second has the same one (its directory is new, so no file of the old one).
  task<std::shared_ptr<folder_entry>> folder(std::string dir, uint32_t uid_validity, std::string_view guid = {});

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
