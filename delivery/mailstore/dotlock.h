// Dovecot's dotlock protocol (src/lib/file-dotlock.c, as maildir-uidlist.c and
// mail-index keywords use it), for the files ringmail keeps in step with Dovecot
// (dovecot-uidlist, dovecot-keywords):
//
//   1. create <file>.lock with O_CREAT|O_EXCL, holding "pid:host";
//   2. either write the whole new content to <file>.tmp, sync it and rename it over
//      <file>, or append lines to <file> itself (Dovecot appends new UIDs this way and
//      rewrites the file only now and then; its reader takes max(N, last UID + 1));
//   3. remove the lock.
// A lock not changed for more than kDotlockStaleSeconds (Dovecot's
// MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT, 2 minutes) is left over from a crash and is taken
// over. A fresh one means Dovecot is writing right now: the caller gets Unavailable and
// tries again later; these files trail ringmail's own index, never lead it.
//
// Everything goes through the ring; safe on a shard.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "runtime/task.h"

namespace ringmail::mailstore {

inline constexpr int64_t kDotlockStaleSeconds = 120;

struct dotlock_settings {
  std::string owner;  // "pid:host\n", written into the lock file
  bool fsync = true;
};

// Replaces <path> with `content` under <path>.lock.
task<absl::Status> write_dotlocked(std::string path, std::string content, dotlock_settings settings);
// Appends `lines` to an existing <path> under <path>.lock; NotFound if <path> is missing.
task<absl::Status> append_dotlocked(std::string path, std::string lines, dotlock_settings settings);

}  // namespace ringmail::mailstore
