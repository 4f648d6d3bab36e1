#include "delivery/mailstore/metadata_store.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "delivery/mailstore/index_file.h"
#include "delivery/mailstore/mailbox.h"
#include "mail/header.h"
#include "runtime/file.h"
#include "runtime/log.h"

namespace ringmail::mailstore {

task<absl::StatusOr<metadata_entries>> read_metadata_file(std::string path) {
  auto text = co_await read_whole_file(path);
  if (!text.ok()) {
    if (text.status().error_number == ENOENT) co_return metadata_entries{};
    co_return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ", text.status().to_string()));
  }
  auto parsed = parse_metadata(*text);
  if (parsed.ok()) co_return *std::move(parsed);
  log::warn("metadata_file_damaged", {{"file", path}, {"reason", parsed.status().message()}, {"action", "set aside"}});
  io_status st = co_await rename_path(path, path + ".damaged");
  if (!st.ok()) co_return absl::UnavailableError(absl::StrCat("cannot set aside ", path, ": ", st.to_string()));
  co_return metadata_entries{};
}

task<absl::Status> write_metadata_file(std::string path, metadata_entries entries, bool fsync) {
  io_status st = co_await replace_file(path, format_metadata(entries), fsync);
  if (!st.ok()) co_return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", st.to_string()));
  co_return absl::OkStatus();
}

task<absl::StatusOr<metadata_entries>> mailbox::metadata(std::string folder_name) {
  if (absl::Status locked = co_await ensure_locked(); !locked.ok()) co_return locked;
  if (folder_name.empty()) co_return co_await read_metadata_file(absl::StrCat(maildir_, "/", kServerMetadataFile));
  auto dir = dir_of(folder_name);
  if (!dir.ok()) co_return dir.status();
  if (*dir != maildir_ && !(co_await stat_path(*dir + "/cur")).ok()) {
    co_return absl::NotFoundError(absl::StrCat("no folder ", folder_name));
  }
  co_return co_await read_metadata_file(absl::StrCat(*dir, "/", kFolderMetadataFile));
}

task<absl::Status> mailbox::set_metadata(std::string folder_name, std::vector<metadata_change> changes) {
  if (absl::Status locked = co_await ensure_locked(); !locked.ok()) co_return locked;
  if (mail::equals_ignore_case(folder_name, "INBOX")) folder_name = "INBOX";
  // One writer at a time (read, change, replace), and not while the folder's directory
  // is being renamed or trashed (rename_folder and delete_folder wait for us in turn).
  for (;;) {
    if (metadata_busy_) {
      co_await metadata_idle_.wait();
    } else if (!folder_name.empty() && renaming_.contains(folder_name)) {
      co_await opened_.wait();
    } else {
      break;
    }
  }
  metadata_busy_ = true;
  struct release {
    mailbox* box;
    ~release() {
      box->metadata_busy_ = false;
      box->metadata_idle_.notify_all();
    }
  } guard{this};
  std::string path;
  if (folder_name.empty()) {
    path = absl::StrCat(maildir_, "/", kServerMetadataFile);
  } else {
    auto dir = dir_of(folder_name);
    if (!dir.ok()) co_return dir.status();
    if (*dir != maildir_ && !(co_await stat_path(*dir + "/cur")).ok()) {
      co_return absl::NotFoundError(absl::StrCat("no folder ", folder_name));
    }
    path = absl::StrCat(*dir, "/", kFolderMetadataFile);
  }
  auto entries = co_await read_metadata_file(path);
  if (!entries.ok()) co_return entries.status();
  const metadata_entries before = *entries;
  if (absl::Status st = apply_metadata_changes(*entries, changes); !st.ok()) co_return st;
  if (*entries == before) co_return absl::OkStatus();
  user_event e{.k = user_event::metadata_changed, .name = folder_name};
  for (const auto& [name, value] : *entries) {
    auto it = before.find(name);
    if (it == before.end() || it->second != value) e.entries.push_back(name);
  }
  for (const auto& [name, value] : before) {
    if (!entries->contains(name)) e.entries.push_back(name);
  }
  absl::Status written = co_await write_metadata_file(path, *std::move(entries), options_.fsync);
  if (written.ok()) publish_user_event(std::move(e));
  co_return written;
}

}  // namespace ringmail::mailstore
