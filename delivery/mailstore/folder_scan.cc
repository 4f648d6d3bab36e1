#include "delivery/mailstore/folder_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>

#include "delivery/mailstore/maildir_filename.h"

namespace ringmail::mailstore {
namespace {

int64_t mtime_ns(const struct stat& st) { return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec; }

// Bytes with every bare LF counted as CRLF (RFC822.SIZE), read in blocks.
uint64_t count_vsize(int fd) {
  char buf[64 * 1024];
  uint64_t n = 0;
  char prev = 0;
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; ++i) {
      if (buf[i] == '\n' && prev != '\r') ++n;
      prev = buf[i];
    }
    n += static_cast<uint64_t>(r);
  }
  return n;
}

std::optional<std::string> read_small_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  return out;
}

void scan_subdir(const std::string& dir, bool in_new, folder_scan& out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  const int dfd = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.empty() || name[0] == '.') continue;  // ".", "..", and hidden files
    struct stat st {};
    if (::fstatat(dfd, e->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode)) continue;
    scanned_file f;
    f.name = std::string(name);
    f.in_new = in_new;
    f.mtime = st.st_mtim.tv_sec;
    f.size = static_cast<uint64_t>(st.st_size);
    maildir_name parsed = parse_maildir_name(name);
    if (parsed.vsize >= 0) {
      f.vsize = static_cast<uint64_t>(parsed.vsize);
    } else {
      int fd = ::openat(dfd, e->d_name, O_RDONLY | O_CLOEXEC);
      f.vsize = fd >= 0 ? count_vsize(fd) : f.size;
      if (fd >= 0) ::close(fd);
    }
    out.files.push_back(std::move(f));
  }
  ::closedir(d);
}

size_t clean_tmp_dir(const std::string& dir, std::chrono::seconds max_age) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  const int dfd = ::dirfd(d);
  const time_t limit = ::time(nullptr) - static_cast<time_t>(max_age.count());
  size_t removed = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    struct stat st {};
    if (::fstatat(dfd, e->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode)) continue;
    // Both times old: a delivery in progress keeps touching its file (Dovecot's rule).
    if (st.st_mtime < limit && st.st_atime < limit && ::unlinkat(dfd, e->d_name, 0) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

}  // namespace

folder_scan scan_folder(const std::string& dir, std::chrono::seconds tmp_max_age) {
  folder_scan out;
  struct stat st {};
  if (::stat((dir + "/new").c_str(), &st) == 0) {
    out.exists = true;
    out.new_mtime_ns = mtime_ns(st);
  }
  if (::stat((dir + "/cur").c_str(), &st) == 0) {
    out.exists = true;
    out.cur_mtime_ns = mtime_ns(st);
  }
  if (!out.exists) return out;
  scan_subdir(dir + "/new", true, out);
  scan_subdir(dir + "/cur", false, out);
  out.tmp_removed = clean_tmp_dir(dir + "/tmp", tmp_max_age);
  out.uidlist = read_small_file(dir + "/dovecot-uidlist");
  out.keywords = read_small_file(dir + "/dovecot-keywords");
  return out;
}

std::vector<std::string> list_folder_dirs(const std::string& maildir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(maildir.c_str());
  if (d == nullptr) return out;
  const int dfd = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.size() < 2 || name[0] != '.' || name == "..") continue;
    struct stat st {};
    if (::fstatat(dfd, e->d_name, &st, 0) != 0 || !S_ISDIR(st.st_mode)) continue;
    out.emplace_back(name);
  }
  ::closedir(d);
  return out;
}

bool remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  return !ec;
}

}  // namespace ringmail::mailstore
