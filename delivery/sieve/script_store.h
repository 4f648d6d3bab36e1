// script_store: a user's Sieve scripts where Pigeonhole keeps them, and the compiled
// programs the deliveries run (issue 14). Layout (Dovecot's `sieve = ~/.dovecot.sieve`,
// `sieve_dir = ~/sieve` of the ISPmail guide; home = the Maildir's parent):
//
//   <home>/sieve/<name>.sieve      one file per script (ManageSieve's names, RFC 5804 1.6)
//   <home>/.dovecot.sieve          symlink "sieve/<name>.sieve" to the active one
//   <home>/sieve/tmp/              uploads being written (write -> fsync -> rename); a
//                                  crash's leftovers are removed by a listing after 36 h
//
// so an existing ISPmail user's scripts are picked up in place, and a script written by
// ManageSieve here is what Dovecot would run. A plain file at .dovecot.sieve (not a link)
// is run as the active script too, as Pigeonhole does, and shown to ManageSieve as none.
//
// Ownership: the scripts belong to the user's owner shard (mail_store.h), like the
// mailbox. Every operation runs there (with_scripts() hops, as with_mailbox does), so
// ManageSieve's PUTSCRIPT and a delivery never race, and the compiled-program cache of
// that shard is the only one that needs to know a script changed. The cache maps a
// script file to its program, checked against the file's (size, mtime, ctime) on use, so
// a script edited behind our back (by hand, by Dovecot's managesieve) is recompiled.
// Departure from the plan "keyed by path": it is keyed by the file's (device, inode), so
// the active script reached through .dovecot.sieve and the same file included by name
// are one program (one compile, and one pointer for the interpreter to tell recursion).
//
// File I/O goes through runtime/file.h on the ring; directory listing and symlink
// reading and writing through the offload pool (runtime/file.h has no op for them).
//
// Activation (SETACTIVE) writes the link as Pigeonhole does: a new symlink under a
// temporary name, renamed over .dovecot.sieve (atomic: a delivery sees the old script or
// the new one), then the home directory fsynced. A plain .dovecot.sieve file in the way
// is first moved into the store as "dovecot.orig" (Pigeonhole's rescue of a hand-made
// active file), so activating never destroys a script. RENAMESCRIPT links the new name
// (link(2) refuses an existing one atomically), re-points the active link if the script
// is active (RFC 5804 2.11.1: it stays active), then unlinks the old name: a crash in
// between leaves both names, never none.
//
// The delivery path (load_active) never lists a directory or reads a link: it stats
// .dovecot.sieve through the link (one statx on the ring), and a cache hit is that
// stat plus one per include. No active script costs one statx answering ENOENT.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/mailstore/mail_store.h"
#include "delivery/sieve/interpreter.h"
#include "runtime/offload_pool.h"
#include "runtime/shard_set.h"
#include "runtime/task.h"

namespace ringmail::sieve {

struct script_limits {
  size_t max_scripts = 32;              // per user (Pigeonhole: unlimited; ManageSieve quota)
  size_t max_script_bytes = 128 * 1024;  // per script (Pigeonhole's sieve_max_script_size)
  size_t max_total_bytes = 1024 * 1024;  // per user, all scripts
  size_t max_cached_programs = 4096;     // per shard
};

struct script_info {
  std::string name;  // without ".sieve"
  bool active = false;
  uint64_t bytes = 0;
};

// What a delivery runs for a user: the active script (or none), and every script it
// includes (personal and global), compiled. A script that does not compile is reported
// in `error` (the delivery then keeps the message and logs it, RFC 5228 2.10.6).
struct loaded_scripts {
  std::shared_ptr<const program> active;  // nullptr: the user has no active script
  std::optional<std::string> error;
  // The includes, resolved for script_host::included().
  std::vector<std::pair<include_reference, std::shared_ptr<const program>>> included;
};

class script_store {
 public:
  // `global_dir`: where `include :global` looks (--sieve_global_dir), "" for none.
  script_store(std::string global_dir, script_limits limits, offload_pool& offload);

  // ---- ManageSieve (RFC 5804); `home` is the user's home (the Maildir's parent) ----
  task<absl::StatusOr<std::vector<script_info>>> list(std::string home);
  task<absl::StatusOr<std::string>> get(std::string home, std::string name);  // NotFound
  // Validates (compile_script) before writing; InvalidArgument carries the checker's
  // "line L, column C: ..." text; ResourceExhausted for the limits (RFC 5804 QUOTA/*).
  // Writes tmp -> fsync -> rename -> directory fsync.
  task<absl::Status> put(std::string home, std::string name, std::string text);
  task<absl::Status> remove(std::string home, std::string name);  // FailedPrecondition if active
  task<absl::Status> rename(std::string home, std::string from, std::string to);  // AlreadyExists
  task<absl::Status> set_active(std::string home, std::string name);  // "" deactivates
  // HAVESPACE (RFC 5804 2.5): would a script of `bytes` named `name` fit?
  task<absl::Status> have_space(std::string home, std::string name, uint64_t bytes);

  // ---- delivery ----
  task<loaded_scripts> load_active(std::string home);
  // A script by path (sieve_before / sieve_after), compiled and cached the same way.
  // NotFound when there is no such file, InvalidArgument with the checker's text.
  task<absl::StatusOr<std::shared_ptr<const program>>> load_file(std::string path);

  // RFC 5804 1.6 script names: 1..128 UTF-8 characters, no control characters (C0, DEL,
  // C1, U+2028, U+2029), no "/", not starting with "." (our file names), not "tmp"
  // (the upload directory); and at most 249 bytes, so "<name>.sieve" fits NAME_MAX.
  static bool valid_name(std::string_view name);

  const std::string& global_dir() const { return global_dir_; }
  const script_limits& limits() const { return limits_; }
  size_t cached_programs() const;  // for tests and stats

  script_store(const script_store&) = delete;
  script_store& operator=(const script_store&) = delete;
  ~script_store();

 private:
  struct cache;
  struct cached_file;
  struct user_scan;
  // The program of the file at `path` (following links), from the cache when the file's
  // (device, inode) is cached with the same (size, mtime, ctime), else read and compiled (and cached, errors
  // included, so a broken script is not recompiled per delivery). NotFound if missing.
  task<absl::StatusOr<std::shared_ptr<const cached_file>>> load_cached(std::string path);
  task<absl::StatusOr<user_scan>> scan(const std::string& home);
  task<absl::Status> point_active_link(const std::string& home, std::string_view name);
  task<absl::Status> write_script(const std::string& home, std::string_view name, std::string_view text);

  std::string global_dir_;
  script_limits limits_;
  offload_pool& offload_;
  uint64_t tmp_counter_ = 0;  // unique temporary names of this store (one per shard)
  // (device, inode) -> program cache, bounded by max_cached_programs (script_store.cc).
  std::unique_ptr<cache> cache_;
};

// ---- where the scripts are, and who owns them -------------------------------------------

// A user's home: the parent of their Maildir, <mail_root>/<domain>/<local> (built with
// mailstore::maildir_path, so the same checks keep it inside mail_root). `address` is a
// normalised local@domain of a local user.
absl::StatusOr<std::string> user_home(const std::string& mail_root, std::string_view address);

// Every shard's script_store, index = shard id. Built once at start-up, then read-only.
using script_store_set = std::vector<script_store*>;

// Runs fn(script_store&, std::string home) -> task<R> on the owner shard of `address`
// (mailstore::owner_of: the shard of the user's mailbox) and returns its result to the
// calling shard, as mailstore::with_mailbox does for the mailbox.
template <typename F>
auto with_scripts(const script_store_set& stores, std::string address, std::string home, F fn)
    -> task<typename detail::unwrap_task<std::invoke_result_t<F&, script_store&, std::string>>::type> {
  using R = typename detail::unwrap_task<std::invoke_result_t<F&, script_store&, std::string>>::type;
  const unsigned owner = mailstore::owner_of(address, static_cast<unsigned>(stores.size()));
  script_store* store = stores[owner];
  auto run = [store, home = std::move(home), fn = std::move(fn)]() -> task<R> {
    co_return co_await fn(*store, home);
  };
  // Named, not a temporary inside the co_await (g++ 12, see mail_store.h).
  auto hop = on_shard(owner, std::move(run));
  co_return co_await std::move(hop);
}

}  // namespace ringmail::sieve
