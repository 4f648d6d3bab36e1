#include "delivery/fts/text_index_store.h"

#include <utility>

#include "delivery/mailstore/index_file.h"
#include "runtime/log.h"

namespace ringmail::fts {

task<std::shared_ptr<user_text_index::folder_entry>> user_text_index::folder(std::string dir, uint32_t uid_validity,
                                                                             std::string_view guid) {
  auto same = [&](const folder_entry& e) { return e.index.uid_validity() == uid_validity && e.guid == guid; };
  if (auto it = folders_.find(dir); it != folders_.end()) {
    if (same(*it->second)) co_return it->second;
    folders_.erase(it);  // another folder now, or a new UIDVALIDITY: its UIDs mean other messages
  }
  auto entry = std::make_shared<folder_entry>();
  entry->index = text_index(uid_validity);
  entry->guid = std::string(guid);
  auto bytes = co_await mailstore::read_whole_file(dir + kIndexFileName);
  if (bytes.ok()) {
    auto parsed = text_index::parse(*bytes);
    if (!parsed.ok()) {
      log::info("fts_index_rebuild", {{"dir", dir}, {"reason", parsed.status().ToString()}});
    } else if (parsed->uid_validity() != uid_validity) {
      log::info("fts_index_rebuild", {{"dir", dir}, {"reason", "stale uidvalidity"}});
    } else {
      entry->index = std::move(*parsed);
      entry->from_file = true;
    }
  }
  // Another search may have loaded it while we read: keep the first.
  auto [it, inserted] = folders_.emplace(std::move(dir), entry);
  if (!inserted && !same(*it->second)) it->second = entry;
  co_return it->second;
}

task<absl::Status> user_text_index::save(std::string dir, bool force) {
  auto it = folders_.find(dir);
  if (it == folders_.end()) co_return absl::OkStatus();
  std::shared_ptr<folder_entry> e = it->second;  // alive across the write
  const bool due = e->unsaved >= kSaveAfterAdded || e->unsaved * 10 >= e->index.size();
  if (e->saving || e->unsaved == 0 || (!force && !due)) co_return absl::OkStatus();
  e->saving = true;
  e->index.compact();
  const size_t covered = e->unsaved;
  std::string bytes = e->index.serialize();
  io_status st = co_await mailstore::replace_file(dir + kIndexFileName, std::move(bytes), /*fsync=*/false);
  e->saving = false;
  if (!st.ok()) co_return absl::InternalError("fts index write failed: " + st.to_string());
  e->unsaved -= std::min(e->unsaved, covered);
  co_return absl::OkStatus();
}

size_t user_text_index::memory_bytes() const {
  size_t n = 0;
  for (const auto& [dir, e] : folders_) n += e->index.memory_bytes();
  return n;
}

}  // namespace ringmail::fts
