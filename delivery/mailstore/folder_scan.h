// folder_scan: the one place the mail store lists directories. Listing has no io_uring
// operation (getdents blocks), so everything here is BLOCKING and runs on the offload pool,
// never on a shard. It is needed only to build an index from files, to pick up changes
// made behind our back (new/ or cur/ changed since the last checkpoint), to list a
// user's folders, and to remove a deleted folder.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ringmail::mailstore {

struct scanned_file {
  std::string name;  // as in the directory (with ":2,<info>" in cur/)
  bool in_new = false;
  int64_t mtime = 0;  // seconds: Dovecot's INTERNALDATE for Maildir is the file's mtime
  uint64_t size = 0;
  uint64_t vsize = 0;  // from ",W=" or by counting line ends in the file
};

struct folder_scan {
  bool exists = false;  // the folder directory (with cur/ or new/) is there
  std::vector<scanned_file> files;
  int64_t new_mtime_ns = 0;
  int64_t cur_mtime_ns = 0;
  size_t tmp_removed = 0;  // crash leftovers older than the limit, removed from tmp/
  std::optional<std::string> uidlist;   // dovecot-uidlist, if present
  std::optional<std::string> keywords;  // dovecot-keywords, if present
};

// Lists <dir>/new and <dir>/cur, reads Dovecot's files, and cleans tmp/ of files older
// than `tmp_max_age` (lazily, per folder, as Dovecot does, instead of a walk of the whole
// mail root at start-up).
folder_scan scan_folder(const std::string& dir, std::chrono::seconds tmp_max_age);

// new/ and cur/ modification times (ns), 0 when missing.
struct dir_times {
  int64_t new_mtime_ns = 0;
  int64_t cur_mtime_ns = 0;
};

// The Maildir++ folder directories under `maildir` (".Sent", ".a.b"), unsorted.
std::vector<std::string> list_folder_dirs(const std::string& maildir);

// Removes `path` and everything below it. Returns false on failure.
bool remove_tree(const std::string& path);

}  // namespace ringmail::mailstore
