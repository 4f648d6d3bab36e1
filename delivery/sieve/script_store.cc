// script_store: see script_store.h for the layout, the owner-shard rule and the cache.
#include "delivery/sieve/script_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <list>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "delivery/directory/address.h"
#include "delivery/mailstore/index_file.h"
#include "delivery/mailstore/maildir.h"
#include "delivery/sieve/checker.h"
#include "delivery/sieve/lexer.h"  // av(): absl::string_view is not std::string_view here
#include "mail/charset.h"
#include "runtime/file.h"

namespace ringmail::sieve {
namespace {

constexpr std::string_view kSuffix = ".sieve";
constexpr std::string_view kActiveLink = ".dovecot.sieve";
constexpr std::string_view kRescueName = "dovecot.orig";  // Pigeonhole's name for a rescued file
constexpr size_t kMaxNameChars = 128;                     // RFC 5804 1.6
constexpr size_t kMaxNameBytes = 255 - kSuffix.size();    // NAME_MAX with ".sieve"
// RFC 6609 asks for a limit on nesting; Pigeonhole's sieve_include_max_nesting_depth.
constexpr size_t kMaxIncludeDepth = 10;

std::string sieve_dir(const std::string& home) { return absl::StrCat(home, "/sieve"); }
std::string script_path(const std::string& home, std::string_view name) {
  return absl::StrCat(home, "/sieve/", av(name), av(kSuffix));
}
std::string active_path(const std::string& home) { return absl::StrCat(home, "/", av(kActiveLink)); }
// What Pigeonhole writes into the link: relative, so a moved mail root keeps working.
std::string link_target(std::string_view name) { return absl::StrCat("sieve/", av(name), av(kSuffix)); }

absl::Status from_io(const io_status& st, std::string_view what) {
  return absl::UnavailableError(absl::StrCat(av(what), ": ", st.to_string()));
}
absl::Status from_errno(int err, std::string_view what) {
  return absl::UnavailableError(absl::StrCat(av(what), ": ", std::strerror(err)));
}
bool is_missing(const io_status& st) {
  return st.kind == io_kind::error && (st.error_number == ENOENT || st.error_number == ENOTDIR);
}

// ---- the blocking parts, run on the offload pool ------------------------------------------

struct scan_result {
  int error = 0;
  std::vector<script_info> scripts;  // sorted by name
  std::optional<std::string> active;  // the name the link points at (maybe missing)
  bool active_is_file = false;        // a plain file at .dovecot.sieve
};

// Uploads a crash left in sieve/tmp/ (our names never collide, so nothing else would
// remove them): unlinked once older than Pigeonhole's 36 hours
// (SIEVE_FILE_STORAGE_TMP_DELETE_SECS), so a ManageSieve client writing at that moment is
// never disturbed.
void remove_stale_uploads(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  const time_t before = ::time(nullptr) - 36 * 3600;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        st.st_mtime < before) {
      ::unlinkat(::dirfd(d), e->d_name, 0);
    }
  }
  ::closedir(d);
}

scan_result scan_blocking(const std::string& home) {
  scan_result out;
  const std::string dir = sieve_dir(home);
  remove_stale_uploads(dir + "/tmp");
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string_view file = e->d_name;
      if (!file.ends_with(kSuffix)) continue;
      std::string_view name = file.substr(0, file.size() - kSuffix.size());
      if (!script_store::valid_name(name)) continue;  // not ours to show (".x.sieve")
      struct stat st {};
      if (::fstatat(::dirfd(d), e->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode)) continue;
      out.scripts.push_back(script_info{std::string(name), false, static_cast<uint64_t>(st.st_size)});
    }
    ::closedir(d);
  } else if (errno != ENOENT) {
    out.error = errno;
    return out;
  }
  std::sort(out.scripts.begin(), out.scripts.end(),
            [](const script_info& a, const script_info& b) { return a.name < b.name; });

  const std::string link = active_path(home);
  struct stat st {};
  if (::lstat(link.c_str(), &st) != 0) {
    if (errno != ENOENT && errno != ENOTDIR) out.error = errno;
    return out;
  }
  if (S_ISREG(st.st_mode)) {
    out.active_is_file = true;
    return out;
  }
  if (!S_ISLNK(st.st_mode)) return out;
  char buf[4096];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf));
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buf)) return out;
  std::string_view target(buf, static_cast<size_t>(n));
  // Pigeonhole writes "sieve/NAME.sieve"; an absolute link into our sieve dir is the same.
  const std::string absolute_prefix = sieve_dir(home) + "/";
  if (target.starts_with("sieve/")) {
    target.remove_prefix(6);
  } else if (target.starts_with(absolute_prefix)) {
    target.remove_prefix(absolute_prefix.size());
  } else {
    return out;  // a link elsewhere: runs (as Pigeonhole would) but is no script of ours
  }
  if (!target.ends_with(kSuffix)) return out;
  target.remove_suffix(kSuffix.size());
  if (!script_store::valid_name(target)) return out;
  out.active = std::string(target);
  for (script_info& s : out.scripts) s.active = (s.name == *out.active);
  return out;
}

// A symlink `target` at `path`, replacing a stale leftover of the same temporary name.
int make_symlink_blocking(const std::string& target, const std::string& path) {
  ::unlink(path.c_str());
  return ::symlink(target.c_str(), path.c_str()) == 0 ? 0 : errno;
}

// ---- file reading on the ring --------------------------------------------------------------

struct file_contents {
  std::string text;
  struct statx identity {};
};

// The whole file, refused with ResourceExhausted past `max_bytes`. NotFound if missing.
task<absl::StatusOr<file_contents>> read_whole(std::string path, size_t max_bytes) {
  auto opened = co_await file::open(path, O_RDONLY);
  if (!opened.ok()) {
    if (is_missing(opened.status())) co_return absl::NotFoundError(absl::StrCat(path, ": no such script"));
    co_return from_io(opened.status(), path);
  }
  file f = std::move(*opened);
  file_contents out;
  auto st = co_await f.stat();
  if (!st.ok()) {
    co_await f.close();
    co_return from_io(st.status(), path);
  }
  out.identity = *st;
  if (!S_ISREG(out.identity.stx_mode)) {
    co_await f.close();
    co_return absl::NotFoundError(absl::StrCat(path, ": not a regular file"));
  }
  if (out.identity.stx_size > max_bytes) {
    co_await f.close();
    co_return absl::ResourceExhaustedError(
        absl::StrCat("script is ", out.identity.stx_size, " bytes, more than the limit of ", max_bytes));
  }
  // Read to the end (the file may have grown since the stat), never past the limit.
  out.text.resize(static_cast<size_t>(out.identity.stx_size) + 1);
  size_t got = 0;
  for (;;) {
    if (got == out.text.size()) {
      if (out.text.size() > max_bytes) break;
      out.text.resize(std::min(out.text.size() * 2, max_bytes + 1));
    }
    auto n = co_await f.read_at(std::span<char>(out.text.data() + got, out.text.size() - got), got);
    if (!n.ok()) {
      co_await f.close();
      co_return from_io(n.status(), path);
    }
    if (*n == 0) break;
    got += *n;
  }
  co_await f.close();
  if (got > max_bytes) {
    co_return absl::ResourceExhaustedError(absl::StrCat("script is more than the limit of ", max_bytes, " bytes"));
  }
  out.text.resize(got);
  co_return out;
}

int64_t nanoseconds(const struct statx_timestamp& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

}  // namespace

// ---- the program cache ------------------------------------------------------------------------
//
// Keyed by the file's (device, inode), not its path, so the active script reached through
// .dovecot.sieve and the same script included by name are one program (the interpreter
// can then tell a recursive include by its pointer), and checked on every use against
// (size, mtime, ctime): an edit in place changes mtime, a replacing rename gives another
// inode, and ctime catches an inode reused after a delete. Least recently used out first.

struct script_store::cached_file {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  absl::StatusOr<std::shared_ptr<const program>> compiled;  // errors are cached too
  std::vector<include_reference> includes;
};

struct script_store::cache {
  struct key {
    uint64_t device;
    uint64_t inode;
    bool operator==(const key&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const key& k) {
      return H::combine(std::move(h), k.device, k.inode);
    }
  };
  struct slot {
    std::shared_ptr<const cached_file> file;
    std::list<key>::iterator age;
  };
  std::list<key> by_age;  // front: most recently used
  absl::flat_hash_map<key, slot> files;

  static key key_of(const struct statx& st) {
    return key{(uint64_t{st.stx_dev_major} << 32) | st.stx_dev_minor, st.stx_ino};
  }
  static bool same(const cached_file& f, const struct statx& st) {
    return f.size == st.stx_size && f.mtime_ns == nanoseconds(st.stx_mtime) &&
           f.ctime_ns == nanoseconds(st.stx_ctime);
  }
  std::shared_ptr<const cached_file> find(const struct statx& st) {
    auto it = files.find(key_of(st));
    if (it == files.end()) return nullptr;
    if (!same(*it->second.file, st)) return nullptr;
    by_age.splice(by_age.begin(), by_age, it->second.age);
    return it->second.file;
  }
  void put(const struct statx& st, std::shared_ptr<const cached_file> file, size_t max) {
    const key k = key_of(st);
    if (auto it = files.find(k); it != files.end()) {
      by_age.erase(it->second.age);
      files.erase(it);
    }
    by_age.push_front(k);
    files[k] = slot{std::move(file), by_age.begin()};
    while (files.size() > std::max<size_t>(max, 1)) {
      files.erase(by_age.back());
      by_age.pop_back();
    }
  }
};

struct script_store::user_scan {
  scan_result found;
};

script_store::script_store(std::string global_dir, script_limits limits, offload_pool& offload)
    : global_dir_(std::move(global_dir)), limits_(limits), offload_(offload), cache_(std::make_unique<cache>()) {}

script_store::~script_store() = default;

size_t script_store::cached_programs() const { return cache_->files.size(); }

bool script_store::valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  if (name.front() == '.' || name == "tmp") return false;
  if (!mail::is_valid_utf8(name)) return false;
  size_t chars = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f || c == '/') return false;
    if ((c & 0xc0) != 0x80) ++chars;  // a lead byte starts a character
    // C1 controls U+0080..U+009F are C2 80..C2 9F; U+2028/U+2029 are E2 80 A8/A9.
    if (c == 0xc2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) <= 0x9f) return false;
    if (c == 0xe2 && i + 2 < name.size() && static_cast<unsigned char>(name[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(name[i + 2]) == 0xa8 || static_cast<unsigned char>(name[i + 2]) == 0xa9)) {
      return false;
    }
  }
  return chars <= kMaxNameChars;
}

task<absl::StatusOr<script_store::user_scan>> script_store::scan(const std::string& home) {
  auto lister = [home] { return scan_blocking(home); };
  scan_result found = co_await offload(offload_, std::move(lister));
  if (found.error != 0) co_return from_errno(found.error, absl::StrCat(home, ": sieve scripts"));
  co_return user_scan{std::move(found)};
}

namespace {

const script_info* find_script(const std::vector<script_info>& scripts, std::string_view name) {
  for (const script_info& s : scripts) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// RFC 5804 2.5 HAVESPACE / 2.6 PUTSCRIPT: the script count and byte limits, counting
// a script being replaced as gone.
absl::Status check_space(const std::vector<script_info>& scripts, const script_limits& limits,
                         std::string_view name, uint64_t bytes) {
  if (bytes > limits.max_script_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("script of ", bytes, " bytes is over the limit of ", limits.max_script_bytes));
  }
  uint64_t total = bytes;
  const script_info* existing = nullptr;
  for (const script_info& s : scripts) {
    if (s.name == name) {
      existing = &s;
    } else {
      total += s.bytes;
    }
  }
  if (existing == nullptr && scripts.size() >= limits.max_scripts) {
    return absl::ResourceExhaustedError(absl::StrCat("too many scripts (at most ", limits.max_scripts, ")"));
  }
  if (total > limits.max_total_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("scripts would take ", total, " bytes, over the limit of ", limits.max_total_bytes));
  }
  return absl::OkStatus();
}

// mkdir that accepts an existing directory; true in `made` when it created one.
task<io_status> ensure_directory(std::string path, bool& made) {
  io_status st = co_await make_directory(path, 0700);
  if (st.ok()) {
    made = true;
    co_return st;
  }
  if (st.kind == io_kind::error && st.error_number == EEXIST) co_return io_status::success();
  co_return st;
}

std::string parent_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// <home>/sieve/tmp and what is missing above it, each new directory made durable in its
// parent. A home that does not exist yet (a user who never received mail) is made with
// its Maildir, as a first delivery would.
task<absl::Status> ensure_sieve_dirs(std::string home) {
  bool made = false;
  io_status st = co_await ensure_directory(home, made);
  if (!st.ok() && is_missing(st)) {
    st = co_await mailstore::ensure_maildir(absl::StrCat(home, "/Maildir"), 0700);
    if (st.ok()) {
      // ensure_maildir makes entries exist, not durable: the home in its parents.
      std::string dir = home;
      for (int i = 0; i < 3 && st.ok(); ++i) {
        dir = parent_of(dir);
        st = co_await mailstore::sync_directory_path(dir);
      }
      st = co_await mailstore::sync_directory_path(home);
    }
  } else if (st.ok() && made) {
    st = co_await mailstore::sync_directory_path(parent_of(home));
  }
  if (!st.ok()) co_return from_io(st, home);
  std::vector<std::string> dirs;  // named: see mail_store.h on g++ 12 and temporaries
  dirs.push_back(sieve_dir(home));
  dirs.push_back(sieve_dir(home) + "/tmp");
  for (const std::string& dir : dirs) {
    made = false;
    st = co_await ensure_directory(dir, made);
    if (st.ok() && made) st = co_await mailstore::sync_directory_path(parent_of(dir));
    if (!st.ok()) co_return from_io(st, dir);
  }
  co_return absl::OkStatus();
}

}  // namespace

// ---- ManageSieve --------------------------------------------------------------------------------

task<absl::StatusOr<std::vector<script_info>>> script_store::list(std::string home) {
  auto found = co_await scan(home);
  if (!found.ok()) co_return found.status();
  co_return std::move(found->found.scripts);
}

task<absl::StatusOr<std::string>> script_store::get(std::string home, std::string name) {
  if (!valid_name(name)) co_return absl::NotFoundError("no such script");
  // A script put there by hand may be larger than our upload limit: show it anyway, up to
  // the per-user total (which bounds what we hold in memory for one GETSCRIPT).
  auto read = co_await read_whole(script_path(home, name),
                                  std::max(limits_.max_script_bytes, limits_.max_total_bytes));
  if (!read.ok()) {
    if (absl::IsNotFound(read.status())) co_return absl::NotFoundError("no such script");
    co_return read.status();
  }
  co_return std::move(read->text);
}

task<absl::Status> script_store::write_script(const std::string& home, std::string_view name,
                                              std::string_view text) {
  absl::Status dirs = co_await ensure_sieve_dirs(home);
  if (!dirs.ok()) co_return dirs;
  const std::string tmp = absl::StrCat(sieve_dir(home), "/tmp/", ::getpid(), ".", ++tmp_counter_, ".put");
  auto opened = co_await file::open(tmp, O_CREAT | O_TRUNC | O_WRONLY, 0600);
  if (!opened.ok()) co_return from_io(opened.status(), tmp);
  file out = std::move(*opened);
  io_status st = co_await out.write_at(std::span<const char>(text.data(), text.size()), 0);
  if (st.ok()) st = co_await out.sync();
  io_status closed = co_await out.close();
  if (st.ok()) st = closed;
  if (st.ok()) st = co_await rename_path(tmp, script_path(home, name));
  if (!st.ok()) {
    co_await unlink_path(tmp);
    co_return from_io(st, absl::StrCat("writing script ", av(name)));
  }
  st = co_await mailstore::sync_directory_path(sieve_dir(home));
  if (!st.ok()) co_return from_io(st, sieve_dir(home));
  co_return absl::OkStatus();
}

task<absl::Status> script_store::put(std::string home, std::string name, std::string text) {
  if (!valid_name(name)) co_return absl::InvalidArgumentError("invalid script name");
  if (text.size() > limits_.max_script_bytes) {
    co_return check_space({}, limits_, name, text.size());
  }
  // RFC 5804 2.6: the server MUST check the script and refuse it with the error.
  auto checked = compile_script(text);
  if (!checked.ok()) co_return absl::InvalidArgumentError(checked.status().message());
  auto found = co_await scan(home);
  if (!found.ok()) co_return found.status();
  absl::Status space = check_space(found->found.scripts, limits_, name, text.size());
  if (!space.ok()) co_return space;
  co_return co_await write_script(home, name, text);
}

task<absl::Status> script_store::have_space(std::string home, std::string name, uint64_t bytes) {
  if (!valid_name(name)) co_return absl::InvalidArgumentError("invalid script name");
  if (bytes > limits_.max_script_bytes) co_return check_space({}, limits_, name, bytes);
  auto found = co_await scan(home);
  if (!found.ok()) co_return found.status();
  co_return check_space(found->found.scripts, limits_, name, bytes);
}

task<absl::Status> script_store::remove(std::string home, std::string name) {
  if (!valid_name(name)) co_return absl::NotFoundError("no such script");
  auto found = co_await scan(home);
  if (!found.ok()) co_return found.status();
  // RFC 5804 2.10: the active script cannot be deleted (ACTIVE response code).
  if (found->found.active == name) co_return absl::FailedPreconditionError("the active script cannot be deleted");
  io_status st = co_await unlink_path(script_path(home, name));
  if (!st.ok()) {
    if (is_missing(st)) co_return absl::NotFoundError("no such script");
    co_return from_io(st, absl::StrCat("deleting script ", name));
  }
  st = co_await mailstore::sync_directory_path(sieve_dir(home));
  if (!st.ok()) co_return from_io(st, sieve_dir(home));
  co_return absl::OkStatus();
}

task<absl::Status> script_store::point_active_link(const std::string& home, std::string_view name) {
  const std::string tmp = absl::StrCat(active_path(home), ".", ::getpid(), ".", ++tmp_counter_, ".tmp");
  auto linker = [target = link_target(name), tmp] { return make_symlink_blocking(target, tmp); };
  int err = co_await offload(offload_, std::move(linker));
  if (err != 0) co_return from_errno(err, tmp);
  io_status st = co_await rename_path(tmp, active_path(home));
  if (!st.ok()) {
    co_await unlink_path(tmp);
    co_return from_io(st, active_path(home));
  }
  st = co_await mailstore::sync_directory_path(home);
  if (!st.ok()) co_return from_io(st, home);
  co_return absl::OkStatus();
}

task<absl::Status> script_store::rename(std::string home, std::string from, std::string to) {
  if (!valid_name(from)) co_return absl::NotFoundError("no such script");
  if (!valid_name(to)) co_return absl::InvalidArgumentError("invalid script name");
  auto found = co_await scan(home);
  if (!found.ok()) co_return found.status();
  if (find_script(found->found.scripts, from) == nullptr) co_return absl::NotFoundError("no such script");
  // link(2) fails with EEXIST on an existing name: the check and the new name are one step.
  io_status st = co_await link_path(script_path(home, from), script_path(home, to));
  if (!st.ok()) {
    if (st.kind == io_kind::error && st.error_number == EEXIST) {
      co_return absl::AlreadyExistsError("a script with that name already exists");
    }
    co_return from_io(st, absl::StrCat("renaming script ", from));
  }
  st = co_await mailstore::sync_directory_path(sieve_dir(home));
  if (!st.ok()) co_return from_io(st, sieve_dir(home));
  if (found->found.active == from) {
    absl::Status linked = co_await point_active_link(home, to);
    if (!linked.ok()) co_return linked;
  }
  st = co_await unlink_path(script_path(home, from));
  if (st.ok()) st = co_await mailstore::sync_directory_path(sieve_dir(home));
  if (!st.ok()) co_return from_io(st, absl::StrCat("renaming script ", from));
  co_return absl::OkStatus();
}

task<absl::Status> script_store::set_active(std::string home, std::string name) {
  if (!name.empty() && !valid_name(name)) co_return absl::NotFoundError("no such script");
  auto found = co_await scan(home);
  if (!found.ok()) co_return found.status();
  const scan_result& now = found->found;
  if (!name.empty() && find_script(now.scripts, name) == nullptr) co_return absl::NotFoundError("no such script");
  if (now.active_is_file) {
    // A hand-made .dovecot.sieve (not a link) would be lost: keep it in the store as
    // "dovecot.orig", as Pigeonhole does before it writes its link.
    if (find_script(now.scripts, kRescueName) != nullptr) {
      co_return absl::FailedPreconditionError(
          absl::StrCat(av(kActiveLink), " is a plain file and \"", av(kRescueName), "\" exists already"));
    }
    absl::Status dirs = co_await ensure_sieve_dirs(home);
    if (!dirs.ok()) co_return dirs;
    io_status st = co_await rename_path(active_path(home), script_path(home, kRescueName));
    if (st.ok()) st = co_await mailstore::sync_directory_path(sieve_dir(home));
    if (st.ok()) st = co_await mailstore::sync_directory_path(home);
    if (!st.ok()) co_return from_io(st, absl::StrCat("moving ", av(kActiveLink), " aside"));
  }
  if (name.empty()) {
    // RFC 5804 2.8: SETACTIVE "" deactivates; nothing active is fine too.
    if (!now.active_is_file) {
      io_status st = co_await unlink_path(active_path(home));
      if (!st.ok() && !is_missing(st)) co_return from_io(st, active_path(home));
      if (st.ok()) {
        st = co_await mailstore::sync_directory_path(home);
        if (!st.ok()) co_return from_io(st, home);
      }
    }
    co_return absl::OkStatus();
  }
  if (now.active == name) co_return absl::OkStatus();
  co_return co_await point_active_link(home, name);
}

// ---- delivery ----------------------------------------------------------------------------------

task<absl::StatusOr<std::shared_ptr<const script_store::cached_file>>> script_store::load_cached(std::string path) {
  auto st = co_await stat_path(path);
  if (!st.ok()) {
    if (is_missing(st.status())) co_return absl::NotFoundError(absl::StrCat(path, ": no such script"));
    co_return from_io(st.status(), path);
  }
  if (auto hit = cache_->find(*st)) co_return hit;
  auto read = co_await read_whole(path, limits_.max_script_bytes);
  if (!read.ok() && !absl::IsResourceExhausted(read.status())) co_return read.status();
  auto entry = std::make_shared<cached_file>();
  struct statx identity = read.ok() ? read->identity : *st;
  entry->size = identity.stx_size;
  entry->mtime_ns = nanoseconds(identity.stx_mtime);
  entry->ctime_ns = nanoseconds(identity.stx_ctime);
  if (!read.ok()) {
    // Too large (Pigeonhole's sieve_max_script_size): a compile error, cached as one.
    entry->compiled = absl::InvalidArgumentError(read.status().message());
  } else if (auto checked = compile_script(read->text); !checked.ok()) {
    entry->compiled = absl::InvalidArgumentError(checked.status().message());
  } else {
    entry->compiled = compile(std::move(*checked));
    if (entry->compiled.ok()) entry->includes = includes_of(**entry->compiled);
  }
  cache_->put(identity, entry, limits_.max_cached_programs);
  co_return std::shared_ptr<const cached_file>(std::move(entry));
}

task<absl::StatusOr<std::shared_ptr<const program>>> script_store::load_file(std::string path) {
  auto loaded = co_await load_cached(path);
  if (!loaded.ok()) co_return loaded.status();
  co_return (*loaded)->compiled;
}

task<loaded_scripts> script_store::load_active(std::string home) {
  loaded_scripts out;
  auto active = co_await load_cached(active_path(home));
  if (!active.ok()) {
    // No link, or one pointing nowhere: no active script (Pigeonhole: "not found", the
    // message is kept). Anything else is the disk failing: say so.
    if (!absl::IsNotFound(active.status())) out.error = std::string(active.status().message());
    co_return out;
  }
  if (!(*active)->compiled.ok()) {
    out.error = std::string((*active)->compiled.status().message());
    co_return out;
  }
  out.active = *(*active)->compiled;

  // RFC 6609: every script the active one includes, and theirs, each loaded once; a
  // missing one is an error unless every reference to it is :optional (Pigeonhole fails
  // the compile for it). Recursion is the interpreter's to refuse at run time (RFC 6609
  // 3.2); here a loop just ends at scripts already loaded.
  struct pending {
    include_reference ref;
    size_t depth;
  };
  std::vector<pending> queue;
  for (const include_reference& r : (*active)->includes) queue.push_back({r, 1});
  absl::flat_hash_set<std::pair<bool, std::string>> loaded;
  for (size_t i = 0; i < queue.size(); ++i) {
    const include_reference ref = queue[i].ref;
    const size_t depth = queue[i].depth;
    if (loaded.contains(std::make_pair(ref.global, ref.name))) continue;
    const std::string where = ref.global ? "global" : "personal";
    if (depth > kMaxIncludeDepth) {
      out.error = absl::StrCat("include of ", where, " script \"", ref.name, "\": nested deeper than ",
                               kMaxIncludeDepth, " includes");
      break;
    }
    std::optional<std::string> path;
    if (valid_name(ref.name)) {
      if (!ref.global) {
        path = script_path(home, ref.name);
      } else if (!global_dir_.empty()) {
        path = absl::StrCat(global_dir_, "/", ref.name, av(kSuffix));
      }
    }
    absl::StatusOr<std::shared_ptr<const cached_file>> got = absl::NotFoundError("no such script");
    if (path) got = co_await load_cached(*path);
    if (!got.ok()) {
      if (absl::IsNotFound(got.status())) {
        if (ref.optional) continue;
        out.error = absl::StrCat("include of ", where, " script \"", ref.name, "\": script not found");
      } else {
        out.error = absl::StrCat("include of ", where, " script \"", ref.name, "\": ", got.status().message());
      }
      break;
    }
    if (!(*got)->compiled.ok()) {
      out.error = absl::StrCat("included ", where, " script \"", ref.name, "\": ", (*got)->compiled.status().message());
      break;
    }
    loaded.insert(std::make_pair(ref.global, ref.name));
    out.included.emplace_back(ref, *(*got)->compiled);
    for (const include_reference& r : (*got)->includes) queue.push_back({r, depth + 1});
  }
  if (out.error) {
    // Nothing of a set that cannot run completely runs: the delivery keeps the message.
    out.active = nullptr;
    out.included.clear();
  }
  co_return out;
}

// ---- where and who -------------------------------------------------------------------------------

absl::StatusOr<std::string> user_home(const std::string& mail_root, std::string_view address) {
  // As mail_store::mailbox_for finds the Maildir: the same parse, the same path checks.
  auto parsed = directory::parse_address(absl::AsciiStrToLower(std::string(address)), '\0');
  if (!parsed.ok()) return parsed.status();
  auto maildir = mailstore::maildir_path(mail_root, parsed->domain, parsed->local);
  if (!maildir.ok()) return maildir.status();
  constexpr std::string_view kMaildir = "/Maildir";
  if (!std::string_view(*maildir).ends_with(kMaildir)) return absl::InternalError("maildir_path without /Maildir");
  maildir->resize(maildir->size() - kMaildir.size());
  return std::move(*maildir);
}

}  // namespace ringmail::sieve
