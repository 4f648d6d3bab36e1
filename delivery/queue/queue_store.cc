#include "delivery/queue/queue_store.h"

/* System library. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
/* Delivery. */
#include "delivery/mailstore/index_file.h"  // read_whole_file
#include "delivery/queue/retry_policy.h"
/* Runtime. */
#include "runtime/file.h"
#include "runtime/log.h"
#include "runtime/reactor.h"  // sleep_for

namespace ringmail::queue {
namespace {

// Plain char arrays: absl::StrCat takes absl::string_view, which here is not std::string_view.
constexpr char kMsgSuffix[] = ".msg";
constexpr char kStateSuffix[] = ".state";
constexpr size_t kMsgSuffixLen = sizeof(kMsgSuffix) - 1;
constexpr size_t kStateSuffixLen = sizeof(kStateSuffix) - 1;
constexpr size_t kHoldSuffixLen = sizeof(kHoldSuffix) - 1;

int error_of(const io_status& st) { return st.error_number != 0 ? st.error_number : EIO; }

// errno -> temporary/permanent with an RFC 3463 code: the Maildir writer's table
// (maildir_writer.h result_from_errno), with the queue's own wording.
delivery_result failure(const io_status& st, std::string_view operation) {
  delivery_result r = mailstore::result_from_errno(error_of(st), operation);
  r.reason = absl::StrCat("queue write failed: ", std::string(operation), ": ", std::strerror(error_of(st)));
  return r;
}

absl::Status unavailable(const io_status& st, std::string_view operation) {
  return absl::UnavailableError(absl::StrCat("queue ", std::string(operation), ": ", st.to_string()));
}

// What load_all() finds in the shard directory (listed on the offload pool).
struct listing {
  int error = 0;  // errno if the directory could not be made or listed
  std::vector<std::string> messages;  // ids with a .msg file
  std::vector<std::string> states;    // ids with a .state file
  std::vector<std::string> holds;     // ids with a .hold file
  std::vector<std::string> others;    // anything else (left alone, logged)
  size_t tmp_removed = 0;
};

bool make_dir(const std::string& path, mode_t mode) { return ::mkdir(path.c_str(), mode) == 0 || errno == EEXIST; }

// BLOCKING: runs on the offload pool.
listing list_spool(const std::string& root, const std::string& dir, const std::string& tmp,
                   const std::string& corrupt, mode_t mode) {
  listing out;
  for (const std::string* d : {&root, &dir, &tmp, &corrupt}) {
    if (!make_dir(*d, mode)) {
      out.error = errno;
      return out;
    }
  }
  // tmp/ holds only files that were never renamed into place: never mail.
  if (DIR* t = ::opendir(tmp.c_str())) {
    while (dirent* e = ::readdir(t)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      if (::unlinkat(::dirfd(t), e->d_name, 0) == 0) ++out.tmp_removed;
    }
    ::closedir(t);
  }
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    out.error = errno;
    return out;
  }
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || name == "tmp") continue;
    if (name.ends_with(kMsgSuffix) && valid_queue_id(name.substr(0, name.size() - kMsgSuffixLen))) {
      out.messages.emplace_back(name.substr(0, name.size() - kMsgSuffixLen));
    } else if (name.ends_with(kStateSuffix) && valid_queue_id(name.substr(0, name.size() - kStateSuffixLen))) {
      out.states.emplace_back(name.substr(0, name.size() - kStateSuffixLen));
    } else if (name.ends_with(kHoldSuffix) && valid_queue_id(name.substr(0, name.size() - kHoldSuffixLen))) {
      out.holds.emplace_back(name.substr(0, name.size() - kHoldSuffixLen));
    } else {
      out.others.emplace_back(name);
    }
  }
  ::closedir(d);
  std::sort(out.messages.begin(), out.messages.end());
  std::sort(out.states.begin(), out.states.end());
  return out;
}

}  // namespace

queue_store::queue_store(std::string queue_root, queue_options options, mailstore::maildir_writer& syncer,
                         offload_pool& offload)
    : root_(std::move(queue_root)), options_(options), syncer_(syncer), offload_(offload) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  dir_ = absl::StrCat(root_, "/", options_.shard);
  tmp_ = dir_ + "/tmp";
  corrupt_ = root_ + "/corrupt";
}

std::string queue_store::new_id(int64_t now) {
  // <unix seconds hex>-<shard>-<counter hex>[-<attempt>]: unique within this shard's
  // directory because every existing id is in entries_ (ids from earlier runs included,
  // after load_all), and sortable by time for humans reading the spool.
  for (;;) {
    std::string id = absl::StrCat(absl::Hex(now), "-", options_.shard, "-", absl::Hex(++counter_));
    if (!entries_.contains(id)) return id;
  }
}

task<io_status> queue_store::write_durably(std::string final_name, std::vector<std::string_view> pieces,
                                           const char** failed) {
  std::string tmp_path = absl::StrCat(tmp_, "/", final_name);
  const std::string final_path = absl::StrCat(dir_, "/", final_name);
  io_result<file> opened = io_status::from_errno(ENOENT);
  if (!spares_.empty()) {
    // A spare file (a delivered message's inode, see remove_delivered) written over:
    // no inode to allocate, which on ext4 was a third of the relay's CPU.
    std::string spare = std::move(spares_.back());
    spares_.pop_back();
    opened = co_await file::open(spare, O_TRUNC | O_WRONLY | O_CLOEXEC);
    if (opened.ok()) tmp_path = std::move(spare);
  }
  if (!opened.ok()) {
    // O_TRUNC, not O_EXCL: tmp/ names are ours alone (a fresh id for a message, and no
    // two writes of one id's state at once), so a name found there is a leftover of a
    // failed write whose unlink failed too, and must not block this id forever.
    opened = co_await file::open(tmp_path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, options_.file_mode);
  }
  if (!opened.ok()) {
    *failed = "create tmp file";
    co_return opened.status();
  }
  file out = std::move(*opened);
  io_status st;
  uint64_t offset = 0;
  if (options_.inject_write_errno != 0) {
    st = io_status::from_errno(std::exchange(options_.inject_write_errno, 0));
  }
  if (st.ok()) st = co_await out.write_all_at(pieces, offset);
  *failed = st.ok() ? nullptr : "write";
  if (*failed == nullptr && options_.fsync) {
    st = co_await out.sync();
    if (!st.ok()) *failed = "fsync";
  }
  io_status closed = co_await out.close();
  if (*failed == nullptr && !closed.ok()) {
    st = closed;
    *failed = "close";
  }
  if (*failed == nullptr) {
    // Our own names only, and an update of one id never overlaps another, so a plain
    // rename replaces exactly the file it means to (a .state) or creates a new one.
    st = co_await rename_path(tmp_path, final_path);
    if (!st.ok()) *failed = "rename";
  }
  if (*failed != nullptr) {
    co_await unlink_path(tmp_path);
    co_return st;
  }
  if (options_.fsync) {
    st = co_await syncer_.sync_directory(dir_);
    if (!st.ok()) {
      *failed = "fsync queue directory";
      co_return st;  // the caller decides what to take back
    }
  }
  co_return io_status::success();
}

task<void> queue_store::move_aside(std::string name) {
  const std::string to = absl::StrCat(corrupt_, "/", options_.shard, "-", name, "-", unix_now());
  io_status st = co_await rename_path(absl::StrCat(dir_, "/", name), to);
  if (st.ok()) ++moved_to_corrupt_;
  log::warn("queue_file_moved_to_corrupt",
            {{"file", name}, {"to", to}, {"result", st.to_string()}});
}

task<absl::Status> queue_store::load_all() {
  auto lister = [root = root_, dir = dir_, tmp = tmp_, corrupt = corrupt_, mode = options_.dir_mode] {
    return list_spool(root, dir, tmp, corrupt, mode);
  };
  listing found = co_await offload(offload_, std::move(lister));
  if (found.error != 0) {
    co_return absl::UnavailableError(absl::StrCat("queue directory ", dir_, ": ", std::strerror(found.error)));
  }
  // Directories load_all() may just have made must not vanish in a crash after the first
  // acknowledged enqueue: sync each and its parents up to "/" (once per start).
  if (options_.fsync) {
    std::vector<std::string> made;  // a named vector: see update()
    made.push_back(dir_);
    made.push_back(corrupt_);
    for (const std::string& d : made) {
      io_status st = co_await syncer_.sync_chain(d);
      if (!st.ok()) co_return absl::UnavailableError(absl::StrCat("queue directory ", d, ": ", st.to_string()));
    }
  }
  tmp_removed_ += found.tmp_removed;
  if (found.tmp_removed > 0) {
    log::info("queue_tmp_removed", {{"files", found.tmp_removed}});
  }
  for (const std::string& name : found.others) {
    log::warn("queue_unknown_file", {{"file", name}});
  }
  bool moved = false;
  absl::flat_hash_map<std::string, bool> has_state;
  for (const std::string& id : found.states) has_state[id] = true;
  std::vector<std::string> unreadable;  // left in place for the next start, with their holds

  for (const std::string& id : found.messages) {
    const std::string msg_name = absl::StrCat(id, kMsgSuffix);
    const std::string state_name = absl::StrCat(id, kStateSuffix);
    const bool state_exists = has_state.erase(id) > 0;
    auto bytes = co_await mailstore::read_whole_file(absl::StrCat(dir_, "/", msg_name));
    if (!bytes.ok()) {
      // Unreadable now (EIO, permissions): leave it in place for the next start.
      log::warn("queue_message_unreadable", {{"id", id}, {"error", bytes.status().to_string()}});
      unreadable.push_back(id);
      continue;
    }
    auto decoded = decode_message_file(*bytes);
    if (!decoded.ok() || decoded->record.id != id) {
      log::warn("queue_message_damaged",
                {{"id", id},
                 {"error", decoded.ok() ? std::string("id differs from the file name") : std::string(decoded.status().message())}});
      co_await move_aside(msg_name);
      if (state_exists) co_await move_aside(state_name);
      moved = true;
      continue;
    }
    queue_record record = std::move(decoded->record);
    const uint64_t message_size = decoded->message.size();
    bytes->clear();
    bytes->shrink_to_fit();
    if (state_exists) {
      auto state_bytes = co_await mailstore::read_whole_file(absl::StrCat(dir_, "/", state_name));
      absl::StatusOr<queue_record> state = absl::DataLossError("unreadable");
      if (state_bytes.ok()) state = decode_state(*state_bytes);
      if (state.ok() && same_envelope(*state, record)) {
        record = std::move(*state);
      } else {
        // Duplicates rather than loss: the message stays, every recipient pending.
        log::warn("queue_state_damaged",
                  {{"id", id},
                   {"error", state.ok() ? std::string("envelope differs from the message") : std::string(state.status().message())}});
        if (state_bytes.ok()) {
          co_await move_aside(state_name);
          moved = true;
        }
      }
    }
    entry& e = entries_[id];
    e.record = std::move(record);
    e.message_size = message_size;
    e.has_state = state_exists && !moved;
  }
  // Left-over states of messages removed by a remove() that a crash interrupted.
  for (const auto& [id, unused] : has_state) {
    log::info("queue_orphan_state_removed", {{"id", id}});
    co_await unlink_path(absl::StrCat(dir_, "/", id, kStateSuffix));
  }
  // Holds: of a loaded message, or of one unreadable now (its hold stays for the next
  // start), else left over by an interrupted remove() or of a message moved to corrupt/.
  for (const std::string& id : found.holds) {
    if (auto it = entries_.find(id); it != entries_.end()) {
      it->second.held = true;
    } else if (std::find(unreadable.begin(), unreadable.end(), id) == unreadable.end()) {
      log::info("queue_orphan_hold_removed", {{"id", id}});
      co_await unlink_path(absl::StrCat(dir_, "/", id, kHoldSuffix));
    }
  }
  if (moved && options_.fsync) {
    co_await syncer_.sync_directory(corrupt_);
    co_await syncer_.sync_directory(dir_);
  }
  log::info("queue_loaded", {{"messages", entries_.size()}});
  co_return absl::OkStatus();
}

task<enqueue_result> queue_store::enqueue(std::vector<std::string_view> pieces, std::string_view reverse_path,
                                          std::vector<recipient_state> recipients, int64_t arrival) {
  enqueue_result out;
  queue_record record;
  record.id = new_id(arrival);
  record.arrival = arrival;
  record.reverse_path = std::string(reverse_path);
  record.recipients.reserve(recipients.size());
  for (recipient_state& r : recipients) {
    recipient_state s;
    s.address = std::move(r.address);
    s.detail = std::move(r.detail);
    record.recipients.push_back(std::move(s));
  }
  if (absl::Status valid = validate_record(record); !valid.ok()) {
    out.result.st = delivery_result::permanent;
    out.result.enhanced = record.recipients.size() > kMaxQueueRecipients ? "5.5.3" : "5.1.3";
    out.result.reason = absl::StrCat("queue refused the envelope: ", valid.message());
    co_return out;
  }
  uint64_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  const std::string head = message_file_head(record, size);
  const std::string tail = message_file_tail(head, pieces);
  std::vector<std::string_view> all;
  all.reserve(pieces.size() + 2);
  all.push_back(head);
  all.insert(all.end(), pieces.begin(), pieces.end());
  all.push_back(tail);

  const std::string name = absl::StrCat(record.id, kMsgSuffix);
  const char* failed = nullptr;
  // The id is reserved in entries_ while the write runs, so no concurrent enqueue picks it
  // (busy keeps update/remove off a message not yet acknowledged).
  entries_[record.id].busy = true;
  io_status st = co_await write_durably(name, std::move(all), &failed);
  if (!st.ok()) {
    entries_.erase(record.id);
    // A failed directory fsync leaves a complete file whose name may not be durable: the
    // sender is told to retry, so take it back rather than deliver it twice.
    if (failed != nullptr && std::string_view(failed) == "fsync queue directory") {
      co_await unlink_path(absl::StrCat(dir_, "/", name));
    }
    out.result = failure(st, failed != nullptr ? failed : "write");
    log::warn("queue_enqueue_failed", {{"op", failed != nullptr ? failed : "?"},
                                        {"error", st.to_string()}, {"dsn", out.result.enhanced}});
    co_return out;
  }
  ++enqueued_;
  entry& e = entries_[record.id];
  e.busy = false;
  e.message_size = size;
  if (cached_bytes_ + size <= options_.message_cache_bytes) {
    e.cached.reserve(size);
    for (std::string_view p : pieces) e.cached.append(p);
    cached_bytes_ += size;
  }
  out.id = record.id;
  e.record = std::move(record);
  out.result.st = delivery_result::ok;
  out.result.enhanced = "2.0.0";
  out.result.reason = absl::StrCat("queued as ", out.id);
  co_return out;
}

task<absl::Status> queue_store::update(std::string id, std::vector<recipient_outcome> outcomes) {
  auto it = entries_.find(id);
  if (it == entries_.end()) co_return absl::NotFoundError(absl::StrCat("no queued message ", id));
  if (it->second.busy) co_return absl::FailedPreconditionError(absl::StrCat("queued message ", id, " is busy"));
  queue_record next = it->second.record;
  for (const recipient_outcome& o : outcomes) {
    if (o.index >= next.recipients.size()) co_return absl::InvalidArgumentError("recipient index out of range");
    if (o.status == rcpt_status::pending) co_return absl::InvalidArgumentError("pending is not an outcome");
    recipient_state& s = next.recipients[o.index];
    if (is_final(s.status)) {
      co_return absl::FailedPreconditionError(
          absl::StrCat("recipient ", o.index, " of ", id, " is already ", std::string(status_name(s.status))));
    }
    s.status = o.status;
    if (s.attempts < UINT32_MAX) ++s.attempts;
    s.next_attempt = o.status == rcpt_status::deferred ? o.next_attempt : 0;
    s.text = o.status == rcpt_status::delivered ? std::string() : o.text;
  }
  if (absl::Status valid = validate_record(next); !valid.ok()) co_return valid;

  it->second.busy = true;
  const std::string bytes = encode_state(next);
  const char* failed = nullptr;
  // A named vector: g++ 12 cannot keep a braced initializer list in a coroutine frame.
  std::vector<std::string_view> pieces;
  pieces.push_back(bytes);
  io_status st = co_await write_durably(absl::StrCat(id, kStateSuffix), std::move(pieces), &failed);
  it = entries_.find(id);  // the map may have grown meanwhile
  if (it == entries_.end()) {
    // The admin deleted the message while its states were written (remove(id, true)
    // waits for busy only so long): take back a .state it may have renamed into place.
    if (st.ok()) co_await unlink_path(absl::StrCat(dir_, "/", id, kStateSuffix));
    co_return absl::NotFoundError(absl::StrCat("queued message ", id, " was deleted"));
  }
  it->second.busy = false;
  if (st.ok() || (failed != nullptr && std::string_view(failed) == "fsync queue directory")) {
    it->second.has_state = true;
  }
  if (!st.ok()) {
    // The old states stay in memory. If only the directory fsync failed, the new file may
    // or may not survive a crash; both are states this message really had.
    log::warn("queue_update_failed", {{"id", id},
                                       {"op", failed != nullptr ? failed : "?"}, {"error", st.to_string()}});
    co_return unavailable(st, failed != nullptr ? failed : "write");
  }
  it->second.record = std::move(next);
  co_return absl::OkStatus();
}

task<absl::Status> queue_store::remove(std::string id) { co_return co_await remove(std::move(id), false); }

void queue_store::forget(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  cached_bytes_ -= it->second.cached.size();
  entries_.erase(it);
}

task<absl::Status> queue_store::remove_delivered(std::string id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.record.id.empty()) {
    co_return absl::NotFoundError(absl::StrCat("no queued message ", id));
  }
  if (it->second.busy || it->second.hold_busy) {
    co_return absl::FailedPreconditionError(absl::StrCat("queued message ", id, " is busy"));
  }
  const bool had_state = it->second.has_state;
  const bool had_hold = it->second.held;
  it->second.busy = true;
  const std::string msg_path = absl::StrCat(dir_, "/", id, kMsgSuffix);
  io_status st;
  if (spares_.size() < kMaxSpares) {
    // Kept as a spare in tmp/ for the next enqueue instead of unlinked (one rename
    // either way; tmp/ is never read as mail and load_all() empties it).
    std::string spare = absl::StrCat(tmp_, "/spare-", ++spare_counter_);
    st = co_await rename_path(msg_path, spare);
    if (st.ok()) spares_.push_back(std::move(spare));
  } else {
    st = co_await unlink_path(msg_path);
  }
  if (!st.ok() && error_of(st) != ENOENT) {
    if (auto again = entries_.find(id); again != entries_.end()) again->second.busy = false;
    co_return unavailable(st, "unlink message");
  }
  forget(id);
  // Leftovers are harmless: load_all() drops a .state or .hold without its message.
  if (had_state) co_await unlink_path(absl::StrCat(dir_, "/", id, kStateSuffix));
  if (had_hold) co_await unlink_path(absl::StrCat(dir_, "/", id, kHoldSuffix));
  co_return absl::OkStatus();
}

task<absl::Status> queue_store::remove(std::string id, bool force) {
  auto it = entries_.find(id);
  // An enqueue still being written has no record yet: not a message anyone can name.
  if (it == entries_.end() || it->second.record.id.empty()) {
    co_return absl::NotFoundError(absl::StrCat("no queued message ", id));
  }
  if (force) {
    // An update's write takes milliseconds; the admin's delete waits for it rather than
    // failing on a race the operator cannot see.
    const auto until = std::chrono::steady_clock::now() + kForcedRemoveWait;
    while (it->second.busy && std::chrono::steady_clock::now() < until) {
      co_await sleep_for(std::chrono::milliseconds(10));
      it = entries_.find(id);
      if (it == entries_.end()) co_return absl::NotFoundError(absl::StrCat("no queued message ", id));
    }
  }
  if (it->second.busy) co_return absl::FailedPreconditionError(absl::StrCat("queued message ", id, " is busy"));
  if (!force && !it->second.record.all_final()) {
    co_return absl::FailedPreconditionError(absl::StrCat("queued message ", id, " has recipients left"));
  }
  const bool had_hold = it->second.held || it->second.hold_busy;
  const bool had_state = it->second.has_state;
  it->second.busy = true;
  // The message first: see "Ordering" in the header.
  io_status st = co_await unlink_path(absl::StrCat(dir_, "/", id, kMsgSuffix));
  if (!st.ok() && error_of(st) != ENOENT) {
    entries_.find(id)->second.busy = false;
    co_return unavailable(st, "unlink message");
  }
  forget(id);  // the message is gone from disk: it must not be relayed again
  if (had_state) {
    st = co_await unlink_path(absl::StrCat(dir_, "/", id, kStateSuffix));
    if (!st.ok() && error_of(st) != ENOENT) {
      log::warn("queue_state_unlink_failed", {{"id", id}, {"error", st.to_string()}});
    }
  }
  if (had_hold) {
    st = co_await unlink_path(absl::StrCat(dir_, "/", id, kHoldSuffix));
    if (!st.ok() && error_of(st) != ENOENT) {
      log::warn("queue_hold_unlink_failed", {{"id", id}, {"error", st.to_string()}});
    }
  }
  if (force) log::info("queue_message_deleted", {{"id", id}});
  if (options_.fsync) {
    st = co_await syncer_.sync_directory(dir_);
    if (!st.ok()) co_return unavailable(st, "fsync queue directory");
  }
  co_return absl::OkStatus();
}

task<absl::Status> queue_store::set_held(std::string id, bool held) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.record.id.empty()) {
    co_return absl::NotFoundError(absl::StrCat("no queued message ", id));
  }
  if (it->second.hold_busy) {
    co_return absl::FailedPreconditionError(absl::StrCat("a hold or release of ", id, " is running"));
  }
  if (it->second.held == held) co_return absl::OkStatus();
  it->second.hold_busy = true;
  const std::string name = absl::StrCat(id, kHoldSuffix);
  const char* failed = nullptr;
  io_status st;
  if (held) {
    std::vector<std::string_view> nothing;  // an empty file: its name is the information
    st = co_await write_durably(name, std::move(nothing), &failed);
  } else {
    st = co_await unlink_path(absl::StrCat(dir_, "/", name));
    if (!st.ok() && error_of(st) == ENOENT) st = io_status::success();
    if (!st.ok()) {
      failed = "unlink hold";
    } else if (options_.fsync) {
      st = co_await syncer_.sync_directory(dir_);
      if (!st.ok()) failed = "fsync queue directory";
    }
  }
  it = entries_.find(id);
  if (it == entries_.end()) {
    // Removed meanwhile (remove() unlinks a .hold only if it knew of one): take ours back.
    if (held) co_await unlink_path(absl::StrCat(dir_, "/", name));
    co_return absl::NotFoundError(absl::StrCat("queued message ", id, " was removed"));
  }
  it->second.hold_busy = false;
  // Memory follows the namespace: a hold whose file is in place (only the directory fsync
  // failed) counts as held, a release whose unlink succeeded as released.
  const bool file_changed = failed == nullptr || std::string_view(failed) == "fsync queue directory";
  if (file_changed) it->second.held = held;
  if (!st.ok()) {
    log::warn("queue_hold_failed", {{"id", id}, {"held", held ? "yes" : "no"},
                                     {"op", failed != nullptr ? failed : "?"}, {"error", st.to_string()}});
    co_return unavailable(st, failed != nullptr ? failed : "hold");
  }
  log::info(held ? "queue_message_held" : "queue_message_released", {{"id", id}});
  co_return absl::OkStatus();
}

bool queue_store::held(std::string_view id) const {
  auto it = entries_.find(std::string(id));
  return it != entries_.end() && it->second.held;
}

uint64_t queue_store::message_size(std::string_view id) const {
  auto it = entries_.find(std::string(id));
  return it == entries_.end() ? 0 : it->second.message_size;
}

task<absl::StatusOr<std::string>> queue_store::read_message(std::string id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) co_return absl::NotFoundError(absl::StrCat("no queued message ", id));
  if (!it->second.cached.empty()) {
    std::string bytes = std::move(it->second.cached);
    it->second.cached = std::string();
    cached_bytes_ -= bytes.size();
    co_return bytes;
  }
  auto bytes = co_await mailstore::read_whole_file(absl::StrCat(dir_, "/", id, kMsgSuffix));
  if (!bytes.ok()) co_return unavailable(bytes.status(), "read message");
  auto decoded = decode_message_file(*bytes);
  if (!decoded.ok()) co_return decoded.status();
  co_return std::string(decoded->message);
}

std::vector<queue_record> queue_store::list() const {
  std::vector<queue_record> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) {
    if (!e.record.id.empty()) out.push_back(e.record);  // not an enqueue still being written
  }
  std::sort(out.begin(), out.end(), [](const queue_record& a, const queue_record& b) {
    return a.arrival != b.arrival ? a.arrival < b.arrival : a.id < b.id;
  });
  return out;
}

const queue_record* queue_store::find(std::string_view id) const {
  auto it = entries_.find(std::string(id));
  if (it == entries_.end() || it->second.record.id.empty()) return nullptr;
  return &it->second.record;
}

}  // namespace ringmail::queue
