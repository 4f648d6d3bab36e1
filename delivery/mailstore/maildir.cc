#include "delivery/mailstore/maildir.h"

/* System library. */
#include <fcntl.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <vector>

/* Runtime. */
#include "runtime/file.h"

namespace ringmail::mailstore {
namespace {

constexpr size_t kNameMax = NAME_MAX;  // 255 on Linux

std::string_view strip_trailing_slashes(std::string_view p) {
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  return p;
}

// "a/b/c" -> "a/b", "/a" -> "/", "a" -> "" (the working directory).
std::string parent_of(std::string_view p) {
  p = strip_trailing_slashes(p);
  size_t slash = p.rfind('/');
  if (slash == std::string_view::npos) return {};
  if (slash == 0) return "/";
  return std::string(p.substr(0, slash));
}

std::string_view basename_of(std::string_view p) {
  p = strip_trailing_slashes(p);
  size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'a' && a[i] <= 'z' ? static_cast<char>(a[i] - 32) : a[i];
    char y = b[i] >= 'a' && b[i] <= 'z' ? static_cast<char>(b[i] - 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

// mkdir that treats "already there" as success.
task<io_status> make_one(std::string path, mode_t mode) {
  io_status st = co_await make_directory(std::move(path), mode);
  if (!st.ok() && st.error_number == EEXIST) co_return io_status::success();
  co_return st;
}

// mkdir -p through the ring: try the leaf; on ENOENT walk up until a directory exists (or
// is created), then create the missing components top-down. An existing non-directory
// on the way makes the next mkdir fail with ENOTDIR, which is returned.
task<io_status> make_dirs(std::string path, mode_t mode) {
  std::vector<std::string> missing;
  std::string p = std::string(strip_trailing_slashes(path));
  for (;;) {
    io_status st = co_await make_directory(p, mode);
    if (st.ok() || st.error_number == EEXIST) break;
    if (st.error_number != ENOENT) co_return st;
    std::string parent = parent_of(p);
    // ENOENT with nothing above to create: "/" and the working directory always exist,
    // so this is a vanished parent or a dangling symlink; report it as it is.
    if (parent.empty() || parent == "/" || parent == p) co_return st;
    missing.push_back(std::move(p));
    p = std::move(parent);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    io_status st = co_await make_one(*it, mode);
    if (!st.ok()) co_return st;
  }
  co_return io_status::success();
}

task<io_status> make_subdirs(const std::string& maildir, mode_t mode) {
  for (const char* sub : {"/cur", "/new", "/tmp"}) {
    io_status st = co_await make_one(maildir + sub, mode);
    if (!st.ok()) co_return st;
  }
  co_return io_status::success();
}

}  // namespace

bool is_safe_component(std::string_view c) {
  if (c.empty() || c == "." || c == ".." || c.size() > kNameMax) return false;
  return c.find('/') == std::string_view::npos && c.find('\0') == std::string_view::npos;
}

absl::StatusOr<std::string> maildir_path(const std::string& mail_root, std::string_view domain,
                                         std::string_view local) {
  if (mail_root.empty()) return absl::InvalidArgumentError("maildir_path: empty mail_root");
  if (!is_safe_component(domain)) return absl::InvalidArgumentError("maildir_path: unsafe domain component");
  if (!is_safe_component(local)) return absl::InvalidArgumentError("maildir_path: unsafe local-part component");
  std::string_view root = strip_trailing_slashes(mail_root);
  if (root == "/") root = {};  // "/" + "/" would give "//domain"
  std::string out;
  out.reserve(root.size() + domain.size() + local.size() + 10);
  out.append(root).append("/").append(domain).append("/").append(local).append("/Maildir");
  return out;
}

absl::StatusOr<std::string> folder_path(std::string_view maildir, std::string_view folder) {
  if (maildir.empty()) return absl::InvalidArgumentError("folder_path: empty maildir");
  std::string base(strip_trailing_slashes(maildir));
  if (folder.empty() || equals_ignore_case(folder, "INBOX")) return base;
  // Maildir++: one directory ".A.B" per folder; '.' separates hierarchy levels, and '/'
  // (a namespace with separator "/") maps onto it. An empty level is refused, which also
  // refuses every way of spelling "." or ".." ('.' is a separator, never a level).
  std::string name = ".";
  size_t start = 0;
  for (size_t i = 0; i <= folder.size(); ++i) {
    if (i < folder.size() && folder[i] != '.' && folder[i] != '/') {
      if (folder[i] == '\0') return absl::InvalidArgumentError("folder_path: NUL in folder name");
      continue;
    }
    if (i == start) return absl::InvalidArgumentError("folder_path: empty hierarchy level in folder name");
    if (name.size() > 1) name.push_back('.');
    name.append(folder.substr(start, i - start));
    start = i + 1;
  }
  if (!is_safe_component(name)) return absl::InvalidArgumentError("folder_path: folder name too long");
  return base + "/" + name;
}

task<io_status> ensure_maildir(std::string path, mode_t dir_mode) {
  std::string dir(strip_trailing_slashes(path));
  const bool is_folder = basename_of(dir).starts_with('.') && basename_of(dir).size() > 1;
  if (is_folder) {
    // A Maildir++ folder lives in its INBOX Maildir, which must be a Maildir too.
    std::string parent = parent_of(dir);
    if (!parent.empty()) {
      io_status st = co_await make_dirs(parent, dir_mode);
      if (st.ok()) st = co_await make_subdirs(parent, dir_mode);
      if (!st.ok()) co_return st;
    }
  }
  io_status st = co_await make_dirs(dir, dir_mode);
  if (st.ok()) st = co_await make_subdirs(dir, dir_mode);
  if (!st.ok()) co_return st;
  if (is_folder) {
    // Dovecot marks every Maildir++ subfolder with an empty "maildirfolder" file
    // (Maildir++ quota tools look for it). Not O_EXCL: a second creator is fine.
    auto f = co_await file::open(dir + "/maildirfolder", O_CREAT | O_WRONLY, dir_mode & 0666);
    if (!f.ok()) co_return f.status();
    st = co_await f->close();
    if (!st.ok()) co_return st;
  }
  co_return io_status::success();
}

// ---- unique file names --------------------------------------------------------------------

uint64_t total_size(std::span<const std::string_view> pieces) {
  uint64_t n = 0;
  for (std::string_view p : pieces) n += p.size();
  return n;
}

uint64_t virtual_size(std::span<const std::string_view> pieces) {
  uint64_t n = 0;
  char previous = '\0';  // last byte of the pieces before this one
  for (std::string_view p : pieces) {
    n += p.size();
    const char* begin = p.data();
    const char* end = begin + p.size();
    for (const char* at = begin; at < end;) {
      const void* hit = std::memchr(at, '\n', static_cast<size_t>(end - at));
      if (hit == nullptr) break;
      const char* lf = static_cast<const char*>(hit);
      char before = lf == begin ? previous : lf[-1];
      if (before != '\r') ++n;  // a bare LF becomes CRLF: one more byte
      at = lf + 1;
    }
    if (!p.empty()) previous = p.back();
  }
  return n;
}

std::string escape_hostname(std::string_view hostname) {
  std::string out;
  out.reserve(hostname.size());
  for (char c : hostname) {
    if (c == '/') {
      out += "\\057";
    } else if (c == ':') {
      out += "\\072";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string unique_name(const unique_name_fields& f) {
  std::string out;
  out.reserve(f.hostname.size() + 80);
  out += std::to_string(f.seconds);
  out += ".M";
  out += std::to_string(f.microseconds);
  out += 'P';
  out += std::to_string(f.pid);
  out += 'Q';
  out += std::to_string(f.counter);
  out += '.';
  out += f.hostname;
  out += ",S=";
  out += std::to_string(f.size);
  out += ",W=";
  out += std::to_string(f.vsize);
  return out;
}

unique_namer::unique_namer(std::string hostname, unsigned shard_id)
    : pid_(::getpid()), counter_(uint64_t{shard_id} * 1'000'000'000'000ULL) {
  if (hostname.empty()) {
    char buf[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buf, sizeof buf - 1) == 0 && buf[0] != '\0') hostname = buf;
    else hostname = "localhost";
  }
  hostname_ = escape_hostname(hostname);
}

std::string unique_namer::next(uint64_t size, uint64_t vsize) {
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);  // vDSO: no system call
  unique_name_fields f;
  f.seconds = now.tv_sec;
  f.microseconds = now.tv_nsec / 1000;
  f.pid = pid_;
  f.counter = ++counter_;
  f.hostname = hostname_;
  f.size = size;
  f.vsize = vsize;
  return unique_name(f);
}

}  // namespace ringmail::mailstore
