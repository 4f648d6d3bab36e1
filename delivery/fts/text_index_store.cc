#include "delivery/fts/text_index_store.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "delivery/mailstore/index_file.h"
#include "runtime/log.h"
#include "runtime/offload_pool.h"
#include "runtime/reactor.h"
#include "runtime/shard_set.h"

namespace ringmail::fts {

namespace {

// The pool of the shard set this reactor belongs to; nullptr (run inline) without one.
offload_pool* pool_here() {
  reactor* r = reactor::current();
  return r != nullptr && r->shards() != nullptr ? &r->shards()->offload() : nullptr;
}

// Runs fn on the pool (the shard resumes other work meanwhile), or inline without one.
template <typename F>
task<std::invoke_result_t<F&>> off_shard(F fn) {
  if (offload_pool* pool = pool_here()) co_return co_await offload(*pool, std::move(fn));
  co_return fn();
}

}  // namespace

void user_text_index::folder_entry::add(uint32_t uid, std::vector<uint32_t> grams) {
  if (!frozen) {
    if (!index.contains(uid)) {
      index.add(uid, grams);
      ++unsaved;
    }
    return;
  }
  auto at = std::lower_bound(pending_uids.begin(), pending_uids.end(), uid);
  if (at != pending_uids.end() && *at == uid) return;
  pending_uids.insert(at, uid);
  pending.emplace_back(uid, std::move(grams));
}

bool user_text_index::folder_entry::known(uint32_t uid) const {
  return index.contains(uid) || std::binary_search(pending_uids.begin(), pending_uids.end(), uid);
}

bool user_text_index::folder_entry::prune(std::span<const uint32_t> live) {
  if (frozen) return false;
  unsaved += index.retain(live);
  return true;
}

void user_text_index::folder_entry::thaw() {
  frozen = false;
  std::vector<std::pair<uint32_t, std::vector<uint32_t>>> adds = std::move(pending);
  pending.clear();
  pending_uids.clear();
  for (auto& [uid, grams] : adds) add(uid, std::move(grams));
}

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
    // Checking and decoding ~160 MB takes a good part of a second: on the pool.
    auto parse = [&bytes] { return text_index::parse(*bytes); };
    absl::StatusOr<text_index> parsed = co_await off_shard(std::move(parse));
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

std::shared_ptr<user_text_index::folder_entry> user_text_index::loaded(std::string_view dir, uint32_t uid_validity,
                                                                       std::string_view guid) const {
  auto it = folders_.find(dir);
  if (it == folders_.end() || it->second->index.uid_validity() != uid_validity || it->second->guid != guid) {
    return nullptr;
  }
  return it->second;
}

task<absl::Status> user_text_index::save(std::string dir, bool force) {
  auto it = folders_.find(dir);
  if (it == folders_.end()) co_return absl::OkStatus();
  std::shared_ptr<folder_entry> e = it->second;  // alive across the write
  const bool due = e->unsaved >= kSaveAfterAdded || e->unsaved * 10 >= e->index.size();
  if (e->saving || e->unsaved == 0 || (!force && !due)) co_return absl::OkStatus();
  e->saving = true;
  e->frozen = true;
  const size_t covered = e->unsaved;
  // On the pool: the compacted copy (when messages were removed) and the file's bytes.
  // Only const reads of e->index: the owner may query it meanwhile.
  struct snapshot {
    std::optional<text_index> fresh;
    std::string bytes;
  };
  auto build = [e] {
    snapshot s;
    if (e->index.removed_since_compact() != 0) {
      s.fresh = e->index.compacted();
      s.bytes = s.fresh->serialize();
    } else {
      s.bytes = e->index.serialize();
    }
    return s;
  };
  snapshot snap = co_await off_shard(std::move(build));
  if (snap.fresh) {
    text_index old = std::exchange(e->index, std::move(*snap.fresh));
    e->thaw();
    auto drop = [old = std::move(old)]() mutable { text_index gone = std::move(old); };
    co_await off_shard(std::move(drop));
  } else {
    e->thaw();
  }
  io_status st = co_await mailstore::replace_file(dir + kIndexFileName, std::move(snap.bytes), /*fsync=*/false);
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
