#include "delivery/mailstore/dotlock.h"

#include <fcntl.h>
#include <signal.h>

#include <ctime>

#include "absl/strings/str_cat.h"
#include "delivery/mailstore/index_file.h"
#include "runtime/file.h"

namespace ringmail::mailstore {
namespace {

absl::Status failure(std::string what, const std::string& path, const io_status& st) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", st.to_string()));
}

// Dovecot's file_dotlock also takes over at once a lock whose "pid:host" names this host
// and a process that no longer exists (kill(pid, 0) fails with ESRCH): a crashed writer
// must not hold Dovecot's files for two minutes.
task<bool> holder_is_gone(const std::string& lock, const dotlock_settings& settings) {
  auto text = co_await read_whole_file(lock);
  if (!text.ok()) co_return false;
  std::string_view content = *text;
  const size_t colon = content.find(':');
  if (colon == std::string_view::npos) co_return false;
  std::string_view host = content.substr(colon + 1);
  while (!host.empty() && (host.back() == '\n' || host.back() == '\r')) host.remove_suffix(1);
  std::string_view ours = settings.owner;
  ours = ours.substr(ours.find(':') + 1);
  while (!ours.empty() && (ours.back() == '\n' || ours.back() == '\r')) ours.remove_suffix(1);
  if (host != ours) co_return false;  // another host's process: only the age can tell
  int64_t pid = 0;
  for (char c : content.substr(0, colon)) {
    if (c < '0' || c > '9') co_return false;
    pid = pid * 10 + (c - '0');
    if (pid > (int64_t{1} << 30)) co_return false;
  }
  // kill(pid, 0) sends nothing and never blocks; it only asks whether the pid exists.
  co_return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// Takes <path>.lock (taking over a stale one). Unavailable when someone holds it.
task<absl::Status> take_lock(const std::string& lock, const dotlock_settings& settings) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto f = co_await file::open(lock, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (f.ok()) {
      io_status st = co_await f->write_at(settings.owner, 0);
      co_await f->close();
      if (!st.ok()) {
        co_await unlink_path(lock);
        co_return failure("cannot write", lock, st);
      }
      co_return absl::OkStatus();
    }
    if (f.status().error_number != EEXIST) co_return failure("cannot create", lock, f.status());
    auto held = co_await stat_path(lock);
    const bool old = held.ok() && std::time(nullptr) - held->stx_mtime.tv_sec > kDotlockStaleSeconds;
    if (old || co_await holder_is_gone(lock, settings)) {
      co_await unlink_path(lock);  // a crash leftover
      continue;
    }
    co_return absl::UnavailableError(absl::StrCat(lock, " is held by another process"));
  }
  co_return absl::UnavailableError(absl::StrCat("cannot take ", lock));
}

}  // namespace

task<absl::Status> write_dotlocked(std::string path, std::string content, dotlock_settings settings) {
  const std::string lock = path + ".lock";
  absl::Status locked = co_await take_lock(lock, settings);
  if (!locked.ok()) co_return locked;
  io_status st = co_await replace_file(path, std::move(content), settings.fsync);
  co_await unlink_path(lock);
  if (!st.ok()) co_return failure("cannot write", path, st);
  co_return absl::OkStatus();
}

task<absl::Status> append_dotlocked(std::string path, std::string lines, dotlock_settings settings) {
  const std::string lock = path + ".lock";
  absl::Status locked = co_await take_lock(lock, settings);
  if (!locked.ok()) co_return locked;
  absl::Status result;
  auto f = co_await file::open(path, O_WRONLY);
  if (!f.ok()) {
    result = f.status().error_number == ENOENT ? absl::NotFoundError(path + " is missing")
                                               : failure("cannot open", path, f.status());
  } else {
    auto size = co_await f->stat();
    io_status st = size.ok() ? co_await f->write_at(lines, size->stx_size) : size.status();
    if (st.ok() && settings.fsync) st = co_await f->data_sync();
    co_await f->close();
    if (!st.ok()) result = failure("cannot append to", path, st);
  }
  co_await unlink_path(lock);
  co_return result;
}

}  // namespace ringmail::mailstore
