// Dovecot's `dovecot-uidlist`: the IMAP UID of each Maildir file (Dovecot 2.3,
// src/lib-storage/index/maildir/maildir-uidlist.c; format described in the Dovecot
// manual, "Maildir Mailbox Format"):
//
//   version 3 (Dovecot >= 1.1, the only one Dovecot writes):
//     header: "3 V<uidvalidity> N<next uid> G<mailbox guid, 32 hex>[ <key><value> ...]"
//     entry:  "<uid>[ <key><value> ...] :<file name base>"
//   version 1 (Dovecot 1.0, Courier's courierimapuiddb):
//     header: "1 <uidvalidity> <next uid>"
//     entry:  "<uid> <file name>"
// Entry keys are one uppercase letter: S (file size), W (virtual size), P (POP3 UIDL),
// O (POP3 order), G (message GUID). The base is the name up to ':' (maildir_filename.h).
//
// How Dovecot reads it, and what we copy:
//   - UIDs must strictly increase ("UIDs not ordered") and be below 2^32-1; uidvalidity
//     and next uid must be non-zero; the GUID must be 32 hex digits. Entry keys that are
//     not 'A'..'Z' are dropped ("Invalid extension record, removing"); we drop them too.
//   - Version 1 refuses a UID >= next uid. Version 3 does NOT: Dovecot appends new
//     entries at the end of the file without rewriting the header (sync_update, lseek to
//     the end), so a valid file can hold UIDs at or above the header's N. Dovecot then
//     uses max(N, last uid + 1); parse_uidlist() does the same and stores that in
//     next_uid. (So the brief's "reject uid >= next_uid" holds for version 1 only.)
//   - A file name with '/' is refused ("Broken filename").
//
// How Dovecot writes it (the store must follow this to share the file with Dovecot):
//   1. Take the lock `dovecot-uidlist.lock` in the same directory: a dotlock
//      (lib/file-dotlock.c) created with O_CREAT|O_EXCL (dotlock_use_excl = yes, the
//      2.3 default; otherwise a temp file link()ed to the lock name). It contains
//      "<pid>:<hostname>". Lock timeout MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT + 2 = 122 s
//      (or mail_max_lock_timeout); a lock is stale, and is deleted and retaken, when it
//      has not been modified for 120 s (MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT) or at once
//      when its pid is on this host and no longer alive. A holder refreshes the lock's
//      mtime (file_dotlock_touch) during long syncs.
//   2a. Full rewrite (recreate): write everything to `dovecot-uidlist.tmp` (O_TRUNC),
//       fdatasync it (unless fsync_mode = never), rename() it over `dovecot-uidlist`.
//       The content is not written into the lock file itself.
//   2b. Or append: write only the new entries at the end of the existing file, then
//       fdatasync. The header (N) is not updated by an append.
//   3. Delete the lock. If, after writing, the file size differs from what was written,
//      Dovecot reports "Maildir uidlist dotlock overridden".
// This file gives the pure helpers: parse_uidlist() reads either form, format_uidlist()
// writes the full-rewrite content, format_uidlist_entry() one appended line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmail::mailstore {

struct uidlist_entry {
  uint32_t uid = 0;
  std::string base;  // file name without ":2,..."
  std::vector<std::pair<char, std::string>> ext;  // e.g. {'W',"1234"} {'S',...} {'G',...}
  friend bool operator==(const uidlist_entry&, const uidlist_entry&) = default;
};

struct uidlist {
  int version = 3;
  uint32_t uidvalidity = 0;
  uint32_t next_uid = 1;
  std::string guid;  // G field, 32 hex digits; empty in version 1
  std::vector<std::pair<char, std::string>> header_ext;  // header keys other than V, N, G
  std::vector<uidlist_entry> entries;
  friend bool operator==(const uidlist&, const uidlist&) = default;
};

// Versions 1 and 3. InvalidArgument (with the line number) on a malformed header or
// entry, non-increasing UIDs, UID 0 or 2^32-1, or (version 1) a UID >= next uid.
absl::StatusOr<uidlist> parse_uidlist(std::string_view text);

// The file as Dovecot's recreate writes it: always version 3 (a version 1 input is
// upgraded, as Dovecot does), header "3 V.. N.. G..[ ext]" (G left out when guid is
// empty: Dovecot would generate one, a pure function cannot), one line per entry, each
// ending in "\n". next_uid is raised to last uid + 1 if needed. Entry keys outside
// 'A'..'Z', values with ' ' or '\n', and bases with ':', '/', '\n' cannot be represented;
// the caller must not pass them (parse_uidlist never produces them).
std::string format_uidlist(const uidlist& list);

// One entry line ("<uid>[ <key><value>...] :<base>\n"), as appended by Dovecot's
// partial sync.
std::string format_uidlist_entry(const uidlist_entry& entry);

}  // namespace ringmail::mailstore
