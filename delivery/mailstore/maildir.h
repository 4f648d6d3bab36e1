// Maildir paths and names, shared by the writer (delivery) and, later, the reader (IMAP,
// POP3, JMAP). The layout is Dovecot's Maildir++ (DESIGN.md "Data and durability"), so an
// existing /var/vmail from an ISPmail installation is served in place:
//
//   <mail_root>/<domain>/<local>/Maildir/{cur,new,tmp}          INBOX
//   <mail_root>/<domain>/<local>/Maildir/.Junk/{cur,new,tmp}    folder "Junk"
//   <mail_root>/<domain>/<local>/Maildir/.Lists.Debian/...      folder "Lists.Debian"
//
// Defence in depth (STYLE.md "Delivery"): callers pass names the directory layer already
// validated, but every function here that builds a path from outside input refuses a
// component that could leave mail_root ("", ".", "..", '/', NUL) with an error instead
// of trusting its caller.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "runtime/io_status.h"
#include "runtime/task.h"

namespace ringmail::mailstore {

// True if `component` can be used as one path component without leaving its parent:
// not empty, not "." or "..", no '/', no NUL, at most NAME_MAX (255) bytes.
bool is_safe_component(std::string_view component);

// <mail_root>/<domain>/<local>/Maildir. InvalidArgument if mail_root is empty or domain or
// local is not a safe component; so no input can name a path outside mail_root.
absl::StatusOr<std::string> maildir_path(const std::string& mail_root, std::string_view domain,
                                         std::string_view local);

// The directory of a Maildir++ folder: "" or "INBOX" (any case, RFC 3501 5.1) is the
// Maildir itself; "Junk" is <maildir>/.Junk; hierarchy levels are joined with '.', as
// Dovecot's Maildir++ layout stores them ("Lists.Debian" and "Lists/Debian" both give
// <maildir>/.Lists.Debian). `folder` is the on-disk (IMAP modified UTF-7) name, as Dovecot
// stores it; encoding a UTF-8 name is the caller's job. InvalidArgument on an empty
// hierarchy level ("a..b", ".a", "a/"), NUL, or a result longer than NAME_MAX; the result
// is then always one component below `maildir`, never "." or "..".
absl::StatusOr<std::string> folder_path(std::string_view maildir, std::string_view folder);

// Creates `path` (a Maildir or a Maildir++ folder) and any missing parents, then its cur/,
// new/ and tmp/, each with dir_mode (less the process umask). Directories that already
// exist are fine (EEXIST), so concurrent callers do not fail each other. Missing parents
// are found by walking up from `path` and created one by one on the way down, all through
// the ring. A folder (basename starting with '.') also gets the empty `maildirfolder` file
// Dovecot creates in Maildir++ subfolders, and its parent Maildir gets cur/new/tmp.
//
// This makes the directories exist, not durable: a caller that needs the entries to
// survive a crash fsyncs the parents (maildir_writer does).
task<io_status> ensure_maildir(std::string path, mode_t dir_mode);

// ---- unique file names ------------------------------------------------------------------

// Bytes of the message with every bare "\n" counted as "\r\n": Dovecot's virtual size
// (the W= field), the size an IMAP client sees (RFC 3501 RFC822.SIZE). A "\r\n" split
// across two pieces is still one CRLF.
uint64_t virtual_size(std::span<const std::string_view> pieces);
uint64_t total_size(std::span<const std::string_view> pieces);

// The Maildir spec (cr.yp.to/proto/maildir.html): "To deal with invalid host names,
// replace / with \057 and : with \072." Dovecot does the same.
std::string escape_hostname(std::string_view hostname);

struct unique_name_fields {
  int64_t seconds = 0;       // gettimeofday() seconds
  int64_t microseconds = 0;  // and microseconds of the same call
  int64_t pid = 0;
  uint64_t counter = 0;
  std::string_view hostname;  // already escaped
  uint64_t size = 0;          // S=: bytes in the file
  uint64_t vsize = 0;         // W=: size with CRLF line endings
};

// <secs>.M<usecs>P<pid>Q<counter>.<hostname>,S=<size>,W=<vsize> — Dovecot's new-style
// name (maildir-filename.c) plus the qmail Q (delivery count) field, with the S= and W=
// extensions Dovecot reads to answer RFC822.SIZE without opening the file.
std::string unique_name(const unique_name_fields& f);

// Hands out names unique within the process: the time and pid make them unique across
// processes and hosts, the counter within this process. The counter is per shard and
// starts at shard_id * 10^12, so writers on different shards of one process never
// produce the same Q even within one microsecond (10^12 deliveries per shard before
// they could meet). Not thread-safe: one per shard.
class unique_namer {
 public:
  // `hostname` raw (escaped here); empty means gethostname().
  unique_namer(std::string hostname, unsigned shard_id);
  std::string next(uint64_t size, uint64_t vsize);
  const std::string& hostname() const { return hostname_; }

 private:
  std::string hostname_;  // escaped
  int64_t pid_;
  uint64_t counter_;
};

}  // namespace ringmail::mailstore
