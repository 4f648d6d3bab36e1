#include "spam/greylist_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace ringmail::spam {
namespace {

absl::Status errno_status(std::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(std::string(what), " ", path, ": ", std::strerror(errno)));
}

absl::Status write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_status("cannot write", path);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open", dir);
  const int r = ::fsync(fd);
  ::close(fd);
  return r == 0 ? absl::OkStatus() : errno_status("cannot fsync", dir);
}

// A missing file reads as empty: a shard that never greylisted has none.
absl::StatusOr<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::string();
    return errno_status("cannot read", path);
  }
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// shard-N.log -> N; anything else (the snapshots' temporary files) is not a journal.
bool is_journal_name(std::string_view name) {
  if (!name.starts_with("shard-") || !name.ends_with(".log") || name.size() <= 10) return false;
  unsigned n = 0;
  const std::string_view digits = name.substr(6, name.size() - 10);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return ec == std::errc() && end == digits.data() + digits.size();
}

}  // namespace

std::string greylist_shard_path(const std::string& dir, unsigned shard) {
  return absl::StrCat(dir, "/shard-", shard, ".log");
}

absl::StatusOr<std::vector<greylist_record>> read_greylist_files(const std::vector<std::string>& paths,
                                                                 const greylist_options& options,
                                                                 std::chrono::system_clock::time_point now,
                                                                 greylist_load_stats* stats) {
  greylist_load_stats local;
  greylist_load_stats& s = stats != nullptr ? *stats : local;
  absl::flat_hash_map<std::string, greylist_entry> newest;
  for (const std::string& path : paths) {
    absl::StatusOr<std::string> bytes = read_file(path);
    if (!bytes.ok()) return bytes.status();
    ++s.files;
    const greylist_log_stats parsed = parse_greylist_log(*bytes, [&](greylist_record&& r) {
      auto [it, inserted] = newest.try_emplace(std::move(r.key), r.entry);
      if (!inserted && r.entry.last_seen >= it->second.last_seen) it->second = r.entry;
    });
    s.records += parsed.records;
    s.skipped += parsed.skipped;
  }
  std::vector<greylist_record> out;
  out.reserve(newest.size());
  for (auto& [key, entry] : newest) {
    if (greylist_expired(entry, now, options)) {
      ++s.expired;
    } else {
      out.push_back(greylist_record{key, entry});
    }
  }
  if (out.size() > options.max_entries) {
    // The table would evict the least recently seen first; so does the load.
    auto middle = out.begin() + static_cast<long>(options.max_entries);
    std::nth_element(out.begin(), middle, out.end(), [](const greylist_record& a, const greylist_record& b) {
      return a.entry.last_seen > b.entry.last_seen;
    });
    s.expired += out.size() - options.max_entries;
    out.erase(middle, out.end());
  }
  s.kept += out.size();
  return out;
}

absl::Status write_greylist_snapshot(const std::string& path, const std::vector<greylist_record>& records) {
  std::string bytes;
  for (const auto& r : records) append_greylist_record(bytes, r.key, r.entry);
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("cannot create", temporary);
  absl::Status st = write_all(fd, bytes, temporary);
  if (st.ok() && ::fsync(fd) != 0) st = errno_status("cannot fsync", temporary);
  ::close(fd);
  if (st.ok() && ::rename(temporary.c_str(), path.c_str()) != 0) st = errno_status("cannot rename to", path);
  if (!st.ok()) {
    ::unlink(temporary.c_str());
    return st;
  }
  return sync_directory(std::filesystem::path(path).parent_path().string());
}

absl::Status append_greylist_file(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("cannot open", path);
  absl::Status st = write_all(fd, bytes, path);
  ::close(fd);
  return st;
}

absl::StatusOr<size_t> compact_greylist_file(const std::string& path, const greylist_options& options,
                                             std::chrono::system_clock::time_point now) {
  auto live = read_greylist_files({path}, options, now);
  if (!live.ok()) return live.status();
  absl::Status st = write_greylist_snapshot(path, *live);
  if (!st.ok()) return st;
  return live->size();
}

absl::StatusOr<std::vector<std::vector<greylist_record>>> load_greylist_dir(
    const std::string& dir, unsigned shards, const std::function<unsigned(std::string_view)>& owner,
    const greylist_options& options, std::chrono::system_clock::time_point now, greylist_load_stats* stats) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  ::chmod(dir.c_str(), 0700);
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (is_journal_name(e.path().filename().string())) paths.push_back(e.path().string());
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  std::sort(paths.begin(), paths.end());  // a stable order: ties between files resolve the same way
  auto live = read_greylist_files(paths, options, now, stats);
  if (!live.ok()) return live.status();
  std::vector<std::vector<greylist_record>> per_shard(shards);
  for (auto& r : *live) per_shard[owner(r.key) % shards].push_back(std::move(r));
  for (unsigned i = 0; i < shards; ++i) {
    absl::Status st = write_greylist_snapshot(greylist_shard_path(dir, i), per_shard[i]);
    if (!st.ok()) return st;
  }
  // Only after every new snapshot is in place: a crash before this line loses nothing.
  for (const std::string& p : paths) {
    bool current = false;
    for (unsigned i = 0; i < shards && !current; ++i) current = p == greylist_shard_path(dir, i);
    if (!current) ::unlink(p.c_str());
  }
  return per_shard;
}

}  // namespace ringmail::spam
