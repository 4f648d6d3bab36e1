// Durable IMAP METADATA (RFC 5464) entries of one user: where they live and how they are
// read and replaced. The format is metadata_format.h's; mailbox::metadata() and
// mailbox::set_metadata() (mailbox.h, defined in metadata_store.cc) are the callers, on
// the owner shard.
//
// ON DISK, beside the rest of a folder, so a folder's entries follow it through RENAME
// (the directory is renamed whole) and go with it on DELETE (the directory is trashed):
//   <folder dir>/ringmail-metadata      the folder's /private and /shared entries
//                                       (INBOX's dir is the Maildir itself)
//   <maildir>/ringmail-server-metadata  the server's entries ("" mailbox) as the user
//                                       set them (/shared/admin etc. come from config)
// Dovecot keeps attributes in a dict (mail_attribute_dict) that we neither read nor write;
// DIFFERENCES.md says so.
//
// CRASH SAFETY. A write is replace_file (index_file.h): the whole new content into
// "<file>.tmp", fsync, rename over the file, fsync the directory. A crash leaves the old
// file or the new one, and at most a stale .tmp, which is never read and is truncated by
// the next write. A file that is damaged anyway (see metadata_format.h) is renamed to
// "<file>.damaged" for inspection, logged, and read as empty: one bad file must not make
// a folder's METADATA unusable forever, and renaming keeps the evidence.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "delivery/mailstore/metadata_format.h"
#include "runtime/task.h"

namespace ringmail::mailstore {

inline constexpr char kFolderMetadataFile[] = "ringmail-metadata";
inline constexpr char kServerMetadataFile[] = "ringmail-server-metadata";

// The entries in `path`: empty if it does not exist; a damaged file is set aside as
// above. Errors only for I/O failures.
task<absl::StatusOr<metadata_entries>> read_metadata_file(std::string path);
// Replaces `path` with `entries` atomically (durably when `fsync`).
task<absl::Status> write_metadata_file(std::string path, metadata_entries entries, bool fsync);

}  // namespace ringmail::mailstore
