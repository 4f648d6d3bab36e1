// script_store: a user's Sieve scripts where Pigeonhole keeps them, and the compiled
// programs the deliveries run (issue 14). Layout (Dovecot's `sieve = ~/.dovecot.sieve`,
// `sieve_dir = ~/sieve` of the ISPmail guide; home = the Maildir's parent):
//
//   <home>/sieve/<name>.sieve      one file per script (ManageSieve's names, RFC 5804 1.6)
//   <home>/.dovecot.sieve          symlink "sieve/<name>.sieve" to the active one
//   <home>/sieve/tmp/              uploads being written (write -> fsync -> rename)
//
// so an existing ISPmail user's scripts are picked up in place, and a script written by
// ManageSieve here is what Dovecot would run. A plain file at .dovecot.sieve (not a link)
// is run as the active script too, as Pigeonhole does, and shown to ManageSieve as none.
//
// Ownership: the scripts belong to the user's owner shard (mail_store.h), like the
// mailbox. Every operation runs there (with_scripts() hops, as with_mailbox does), so
// ManageSieve's PUTSCRIPT and a delivery never race, and the compiled-program cache of
// that shard is the only one that needs to know a script changed. The cache maps a
// script file to its program, checked against the file's (inode, size, mtime) on use, so
// a script edited behind our back (by hand, by Dovecot's managesieve) is recompiled.
//
// File I/O goes through runtime/file.h on the ring; directory listing and symlink
// reading through the offload pool (no io_uring op for them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/sieve/interpreter.h"
#include "runtime/offload_pool.h"
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
  task<absl::StatusOr<std::shared_ptr<const program>>> load_file(std::string path);

  // RFC 5804 1.6 script names: 1..128 UTF-8 characters, no control characters, no "/",
  // not starting with "." (our file names), not "tmp".
  static bool valid_name(std::string_view name);

 private:
  std::string global_dir_;
  script_limits limits_;
  offload_pool& offload_;
  // (inode, size, mtime) -> program cache; the implementation's business.
  struct cache;
  std::unique_ptr<cache> cache_;
};

}  // namespace ringmail::sieve
