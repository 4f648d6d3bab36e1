#include "delivery/mailstore/mailbox.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <algorithm>
#include <ctime>
#include <random>
#include <set>

#include "absl/strings/ascii.h"
#include "mail/header.h"
#include "absl/strings/str_cat.h"
#include "delivery/mailstore/dotlock.h"
#include "delivery/mailstore/dovecot_keywords.h"
#include "delivery/mailstore/dovecot_uidlist.h"
#include "delivery/mailstore/folder_name.h"
#include "delivery/mailstore/folder_scan.h"
#include "delivery/mailstore/maildir.h"
#include "delivery/mailstore/maildir_filename.h"
#include "delivery/mailstore/subscriptions.h"
#include "runtime/file.h"
#include "runtime/log.h"
#include "runtime/offload_pool.h"
#include "runtime/reactor.h"
#include "runtime/shard_set.h"
#include "runtime/when_all.h"

namespace ringmail::mailstore {
namespace {

// How long a background index commit waits to gather further deliveries into its sync.
constexpr std::chrono::milliseconds kIndexCommitDelay{100};

// How long a dovecot-uidlist append waits to gather the UIDs of further deliveries.
constexpr std::chrono::milliseconds kUidlistAppendDelay{1000};

// UIDs from dovecot-uidlist at or above this are not kept (see build_index).
constexpr uint32_t kHighestKeptUid = 0x7fffffff;

bool is_inbox(std::string_view name) { return mail::equals_ignore_case(name, "INBOX"); }

std::string canonical_name(std::string_view name) { return is_inbox(name) ? "INBOX" : std::string(name); }

std::string base_of_path(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

int64_t ns_of(const struct statx_timestamp& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

std::string random_guid() {
  std::random_device rd;
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) out.push_back(kHex[rd() % 16]);
  return out;
}

// The flags a file name carries, as the index stores them. A name in new/ may carry them
// too: Dovecot renames a new/ file in place ("new/<base>:2,Sa") when its flags change
// before a session has moved it to cur/, and reports those flags (doveadm fetch).
void take_flags_from_name(message_entry& m, const maildir_name& n, std::string_view file_name, bool in_new) {
  m.in_new = in_new;
  m.new_info = in_new && n.base.size() != file_name.size();
  m.flags = n.flags;
  m.keywords = n.keywords;
  m.other_flags = n.other_flags;
}

uint8_t apply_op(uint8_t have, flag_op op, uint8_t given) {
  switch (op) {
    case flag_op::add: return have | given;
    case flag_op::remove: return have & static_cast<uint8_t>(~given);
    case flag_op::replace: return given;
  }
  return have;
}

uint32_t apply_op32(uint32_t have, flag_op op, uint32_t given) {
  switch (op) {
    case flag_op::add: return have | given;
    case flag_op::remove: return have & ~given;
    case flag_op::replace: return given;
  }
  return have;
}

// Sets a file's mtime (and atime): BLOCKING, for the offload pool.
int set_file_time(const std::string& path, int64_t when) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(when);
  times[0].tv_nsec = times[1].tv_nsec = 0;
  return ::utimensat(AT_FDCWD, path.c_str(), times, 0);
}

absl::Status io_error(std::string_view what, const std::string& path, const io_status& st) {
  return absl::UnavailableError(absl::StrCat(std::string(what), " ", path, ": ", st.to_string()));
}

}  // namespace

// ---- open_folder ---------------------------------------------------------------------------

open_folder::open_folder(std::string name, std::string dir) : name_(std::move(name)), dir_(std::move(dir)) {}

folder_summary open_folder::summary() const {
  folder_summary s;
  s.name = name_;
  s.messages = static_cast<uint32_t>(state_.messages.size());
  s.unseen = static_cast<uint32_t>(state_.unseen());
  s.uid_next = state_.uid_next;
  s.uid_validity = state_.uid_validity;
  s.highest_modseq = state_.highest_modseq;
  s.vsize = state_.total_vsize();
  s.size = state_.total_size();
  s.mailbox_guid = state_.mailbox_guid;
  return s;
}

std::string open_folder::path_of(const message_entry& m) const {
  if (m.in_new && !m.new_info) return absl::StrCat(dir_, "/new/", m.base);
  return absl::StrCat(dir_, m.in_new ? "/new/" : "/cur/", format_maildir_name(m.base, m.flags, m.keywords & 0x3ffffffu, m.other_flags));
}

void open_folder::record(const change& c) {
  apply(state_, c);
  const uint64_t seq = log_->append(c);
  switch (c.k) {
    case change::append:
      record_event({folder_event::appended, seq, c.message.uid, c.message.flags, c.message.keywords, c.message.modseq});
      break;
    case change::set_flags:
      record_event({folder_event::flags_changed, seq, c.message.uid, c.message.flags, c.message.keywords, c.modseq});
      break;
    case change::expunge:
      record_event({folder_event::expunged, seq, c.uid, 0, 0, c.modseq});
      break;
    default:
      break;  // keywords, header, cache: nothing a session shows
  }
}

void open_folder::record_event(const folder_event& e) {
  events_.push_back(e);
  if (events_.size() > kMaxEventsKept) {
    dropped_upto_ = events_.front().seq;
    events_.pop_front();
  }
}

open_folder::event_batch open_folder::events_since(uint64_t after_seq) const {
  event_batch b;
  b.last_seq = std::max(after_seq, visible_seq_);
  if (after_seq < dropped_upto_) {
    b.reset = true;
    b.last_seq = visible_seq_;
    return b;
  }
  for (const auto& e : events_) {
    if (e.seq > after_seq && e.seq <= visible_seq_) b.events.push_back(e);
  }
  return b;
}

void mailbox::publish_user_event(user_event e) {
  std::erase_if(user_watchers_, [](const std::shared_ptr<user_watch>& w) { return w->closed.load(); });
  reactor* here = reactor::current();
  for (const auto& w : user_watchers_) {
    auto deliver = [w, e] {
      if (w->closed.load()) return;
      if (w->events.size() >= kMaxUserEventsQueued) {
        w->overflowed = true;
      } else {
        w->events.push_back(e);
      }
      w->wake.notify_all();
    };
    if (w->shard == here->shard_id() || here->shards() == nullptr) {
      deliver();
    } else {
      here->shards()->run_on(w->shard, std::move(deliver));
    }
  }
}

void open_folder::watch(std::shared_ptr<folder_watch> w) { watchers_.push_back(std::move(w)); }

void open_folder::unwatch(const folder_watch* w) {
  std::erase_if(watchers_, [w](const std::shared_ptr<folder_watch>& x) { return x.get() == w; });
}

void open_folder::publish() {
  if (log_ == nullptr) return;
  const uint64_t durable = log_->durable_seq();
  if (durable <= visible_seq_) return;
  visible_seq_ = durable;
  std::erase_if(watchers_, [](const std::shared_ptr<folder_watch>& w) { return w->closed.load(); });
  reactor* here = reactor::current();
  for (const auto& w : watchers_) {
    if (w->shard == here->shard_id() || here->shards() == nullptr) {
      w->pending = true;
      w->wake.notify_all();
    } else {
      // The watcher's notifier belongs to its shard: wake it there.
      here->shards()->run_on(w->shard, [w] {
        if (w->closed.load()) return;
        w->pending = true;
        w->wake.notify_all();
      });
    }
  }
}

// ---- mailbox -------------------------------------------------------------------------------

mailbox::mailbox(std::string maildir, store_options options, maildir_writer& writer, offload_pool& offload,
                 std::shared_ptr<background_work> background)
    : maildir_(std::move(maildir)),
      options_(std::move(options)),
      background_(background ? std::move(background) : std::make_shared<background_work>()),
      writer_(writer),
      offload_(offload) {
  options_.index.fsync = options_.fsync;
}

mailbox::~mailbox() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

bool mailbox::idle_since(std::chrono::steady_clock::time_point t) const {
  if (users_ != 0 || last_used_ >= t || lock_ == lock_state::taking) return false;
  for (const auto& [name, f] : folders_) {
    // (A dovecot-uidlist append in flight does not count: it holds its folder itself and
    // Dovecot's own dotlock guards the file.)
    if (f->busy_ || f->writing_ > 0) return false;
    // A watcher that closed (a session that deselected or left) no longer follows it.
    for (const auto& w : f->watchers_) {
      if (!w->closed.load()) return false;
    }
  }
  for (const auto& w : user_watchers_) {
    if (!w->closed.load()) return false;
  }
  return true;
}

task<absl::Status> mailbox::ensure_locked() {
  while (lock_ == lock_state::taking) co_await lock_taken_.wait();
  if (lock_ == lock_state::held) co_return absl::OkStatus();
  if (lock_ == lock_state::failed) co_return lock_error_;
  lock_ = lock_state::taking;
  const std::string root = maildir_;
  const mode_t mode = options_.dir_mode;
  // mkdir, open and flock are blocking syscalls: once per user per process, off the shard.
  auto take = [root, mode]() -> int {
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    ::chmod(root.c_str(), mode);
    int fd = ::open((root + "/ringmail.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      return -err;
    }
    return fd;
  };
  const int fd = co_await offload(offload_, std::move(take));
  if (fd >= 0) {
    lock_fd_ = fd;
    lock_ = lock_state::held;
  } else {
    lock_ = lock_state::failed;
    lock_error_ = fd == -EWOULDBLOCK
                      ? absl::UnavailableError(absl::StrCat(maildir_, " is in use by another ringmail process"))
                      : absl::UnavailableError(absl::StrCat("cannot lock ", maildir_, ": ", std::strerror(-fd)));
  }
  lock_taken_.notify_all();
  co_return lock_ == lock_state::held ? absl::OkStatus() : lock_error_;
}

absl::StatusOr<std::string> mailbox::dir_of(std::string_view name) const {
  auto dir = folder_to_dir(name);
  if (!dir.ok()) return dir.status();
  if (dir->empty()) return maildir_;
  return absl::StrCat(maildir_, "/", *dir);
}

task<absl::StatusOr<std::shared_ptr<open_folder>>> mailbox::folder(std::string name) {
  name = canonical_name(name);
  auto it = folders_.find(name);
  if (it != folders_.end() && !it->second->log_->broken()) co_return it->second;
  absl::Status locked = co_await ensure_locked();
  if (!locked.ok()) co_return locked;
  // One opening per folder at a time: concurrent first deliveries to a new folder must
  // not build its index twice (both would write the same files). Later callers wait for
  // the first and take what it opened.
  while (opening_.contains(name) || renaming_.contains(name)) co_await opened_.wait();
  it = folders_.find(name);
  if (it != folders_.end() && !it->second->log_->broken()) co_return it->second;
  if (it != folders_.end()) folders_.erase(it);  // a failed write: reload what is on disk
  auto dir = dir_of(name);
  if (!dir.ok()) co_return dir.status();
  opening_.insert(name);
  auto opened = co_await open_folder_at(name, *dir);
  opening_.erase(name);
  opened_.notify_all();
  co_return opened;
}

task<absl::StatusOr<folder_summary>> mailbox::status(std::string name) {
  name = canonical_name(name);
  if (absl::Status locked = co_await ensure_locked(); !locked.ok()) co_return locked;
  while (opening_.contains(name) || renaming_.contains(name)) co_await opened_.wait();
  if (auto it = folders_.find(name); it != folders_.end() && !it->second->log_->broken()) {
    co_return it->second->summary();
  }
  auto dir = dir_of(name);
  if (!dir.ok()) co_return dir.status();
  std::optional<folder_summary> quick = co_await summary_from_checkpoint(name, *dir);
  if (quick) co_return *quick;
  auto f = co_await folder(name);
  if (!f.ok()) co_return f.status();
  co_return (*f)->summary();
}

task<std::optional<folder_summary>> mailbox::summary_from_checkpoint(std::string name, std::string dir) {
  auto log_st = co_await stat_path(dir + "/ringmail-index.log");
  if (!log_st.ok() || log_st->stx_size != 0) co_return std::nullopt;  // not closed cleanly
  auto index = co_await file::open(dir + "/ringmail-index", O_RDONLY);
  if (!index.ok()) co_return std::nullopt;
  std::string head(kCheckpointSummaryBytes, '\0');
  auto n = co_await index->read_at(std::span<char>(head.data(), head.size()), 0);
  co_await index->close();
  if (!n.ok()) co_return std::nullopt;
  head.resize(*n);
  auto c = decode_checkpoint_summary(head);
  if (!c.ok() || c->uid_validity == 0) co_return std::nullopt;
  // Someone else changed the files since: only a full open (and its sync pass) can tell.
  auto new_st = co_await stat_path(dir + "/new");
  auto cur_st = co_await stat_path(dir + "/cur");
  if (!new_st.ok() || !cur_st.ok() || ns_of(new_st->stx_mtime) != c->new_mtime_ns ||
      ns_of(cur_st->stx_mtime) != c->cur_mtime_ns) {
    co_return std::nullopt;
  }
  folder_summary s;
  s.name = std::move(name);
  s.messages = c->messages;
  s.unseen = c->unseen;
  s.uid_next = c->uid_next;
  s.uid_validity = c->uid_validity;
  s.highest_modseq = c->highest_modseq;
  s.vsize = c->vsize;
  s.size = c->size;
  s.mailbox_guid = c->mailbox_guid;
  co_return s;
}

task<absl::StatusOr<std::shared_ptr<open_folder>>> mailbox::open_folder_at(std::string name, std::string dir) {
  auto exists = co_await stat_path(dir + "/cur");
  if (!exists.ok()) {
    if (name != "INBOX") co_return absl::NotFoundError(absl::StrCat("no folder ", name));
    // INBOX exists from the first delivery or login on.
    io_status made = co_await ensure_maildir(dir, options_.dir_mode);
    // Durable before anything is delivered into it: a power cut must not take the new
    // Maildir (and the mail in it) away with an unsynced parent entry.
    if (made.ok() && options_.fsync) made = co_await writer_.sync_chain(dir);
    if (!made.ok()) co_return io_error("cannot create", dir, made);
  }
  // Another coroutine may have opened it while we waited.
  if (auto it = folders_.find(name); it != folders_.end() && !it->second->log_->broken()) co_return it->second;

  auto f = std::make_shared<open_folder>(name, dir);
  f->background_ = background_;
  index_presence presence = index_presence::missing;
  auto log = co_await folder_log::open(dir, options_.index, &f->state_, &presence);
  if (!log.ok()) co_return log.status();
  if (presence == index_presence::loaded) {
    f->log_ = std::move(*log);
    if (f->state_.mailbox_guid.empty()) {
      // An index without a mailbox GUID (IMAP's MAILBOXID, RFC 8474): it gets one now,
      // durable in a checkpoint before anyone is told it, so it never changes later.
      f->state_.mailbox_guid = random_guid();
      io_status st = co_await f->log_->checkpoint();
      if (!st.ok()) co_return io_error("cannot write the index of", dir, st);
    }
    if (f->state_.dovecot_uidlist_next > 0) {
      f->dovecot_written_ = true;
      f->dovecot_uid_ = f->state_.dovecot_uidlist_next - 1;
    }
    // Files changed behind our back (or a crash after changes): reconcile with the files.
    auto new_st = co_await stat_path(dir + "/new");
    auto cur_st = co_await stat_path(dir + "/cur");
    const int64_t new_ns = new_st.ok() ? ns_of(new_st->stx_mtime) : 0;
    const int64_t cur_ns = cur_st.ok() ? ns_of(cur_st->stx_mtime) : 0;
    // A log with records in it means the folder was not closed cleanly (a close writes a
    // checkpoint and empties the log): after a crash the directory times prove nothing
    // (a lost rename leaves them as they were), so the files are compared in any case.
    if (f->log_->log_size() > 0 || new_ns != f->state_.new_mtime_ns || cur_ns != f->state_.cur_mtime_ns ||
        new_ns == 0 || cur_ns == 0) {
      absl::Status synced = co_await sync_with_files(*f);
      if (!synced.ok()) co_return synced;
    }
  } else {
    if (presence == index_presence::damaged) {
      log::warn("mailstore_index_damaged", {{"folder", dir}, {"action", "rebuild"}});
    }
    absl::Status built = co_await build_index(*f, nullptr);
    if (!built.ok()) co_return built;
  }
  f->visible_seq_ = f->log_->durable_seq();
  if (auto it = folders_.find(name); it != folders_.end() && !it->second->log_->broken()) co_return it->second;
  folders_[name] = f;
  co_return f;
}

task<absl::Status> mailbox::build_index(open_folder& f, const folder_state* known) {
  const std::string dir = f.dir_;
  auto age = options_.tmp_max_age;
  auto scan_fn = [dir, age] { return scan_folder(dir, age); };
  folder_scan scan = co_await offload(offload_, std::move(scan_fn));
  if (scan.tmp_removed > 0) log::info("maildir_tmp_cleaned", {{"folder", dir}, {"files", scan.tmp_removed}});

  std::optional<uidlist> dovecot;
  if (scan.uidlist) {
    auto parsed = parse_uidlist(*scan.uidlist);
    if (parsed.ok()) {
      dovecot = std::move(*parsed);
    } else {
      log::warn("dovecot_uidlist_unreadable", {{"folder", dir}, {"reason", parsed.status().message()}});
    }
  }
  folder_state s;
  if (known != nullptr) {
    s.uid_validity = known->uid_validity;
    s.uid_next = known->uid_next;
    s.highest_modseq = known->highest_modseq + 1;
    s.keywords = known->keywords;
    s.mailbox_guid = known->mailbox_guid;
  }
  if (dovecot) {
    if (s.uid_validity == 0) s.uid_validity = dovecot->uidvalidity;
    if (s.mailbox_guid.empty()) s.mailbox_guid = dovecot->guid;
    s.uid_next = std::max(s.uid_next, dovecot->next_uid);
  }
  if (scan.keywords) {
    auto names = parse_keywords(*scan.keywords);
    if (names.ok() && names->size() >= s.keywords.size()) s.keywords = std::move(*names);
  }
  if (s.uid_validity == 0) s.uid_validity = static_cast<uint32_t>(std::time(nullptr));
  if (s.mailbox_guid.empty()) s.mailbox_guid = random_guid();

  // UIDs the index or dovecot-uidlist know are kept; the rest are numbered after them in
  // file name order (Maildir names start with the delivery time).
  std::map<std::string, uint32_t, std::less<>> known_uids;
  bool renumbered = dovecot && dovecot->next_uid >= kHighestKeptUid;
  if (dovecot) {
    for (const auto& e : dovecot->entries) {
      // UIDs this high leave no room to grow (RFC 9051 2.3.1.1 allows 2^32-1 at most):
      // such a folder is numbered afresh, under a new UIDVALIDITY, as Dovecot does.
      if (e.uid >= kHighestKeptUid) {
        renumbered = true;
        continue;
      }
      known_uids[e.base] = e.uid;
    }
  }
  if (renumbered) {
    known_uids.clear();
    const uint32_t old_validity = s.uid_validity;
    s.uid_validity = static_cast<uint32_t>(std::time(nullptr));
    if (s.uid_validity == old_validity) ++s.uid_validity;
    s.uid_next = 1;
    log::warn("mailstore_uids_exhausted", {{"folder", dir}, {"action", "new uidvalidity"}});
  } else if (known == nullptr && dovecot) {
    // The UIDs stay, so clients may hold modseqs from before (Dovecot's, or an index of
    // ours that was lost): start above any of them. Microseconds since the epoch are
    // larger than any counter of changes a folder has seen (RFC 7162 3.1: modseqs never
    // go back while UIDVALIDITY stays).
    s.highest_modseq = std::max<uint64_t>(
        s.highest_modseq, static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count()));
  }
  if (known != nullptr) {
    for (const auto& m : known->messages) known_uids[m.base] = m.uid;
  }
  struct candidate {
    uint32_t uid;
    const scanned_file* file;
    maildir_name name;
  };
  std::vector<candidate> kept;
  std::vector<candidate> fresh;
  std::set<std::string, std::less<>> seen;
  for (const auto& file : scan.files) {
    maildir_name n = parse_maildir_name(file.name);
    if (!seen.insert(std::string(n.base)).second) continue;  // one file per base name
    auto k = known_uids.find(n.base);
    if (k != known_uids.end()) {
      kept.push_back({k->second, &file, n});
    } else {
      fresh.push_back({0, &file, n});
    }
  }
  std::sort(kept.begin(), kept.end(), [](const candidate& a, const candidate& b) { return a.uid < b.uid; });
  std::sort(fresh.begin(), fresh.end(), [](const candidate& a, const candidate& b) { return a.file->name < b.file->name; });
  for (auto& c : kept) s.uid_next = std::max(s.uid_next, c.uid + 1);
  for (auto& c : fresh) c.uid = s.uid_next++;
  kept.insert(kept.end(), fresh.begin(), fresh.end());
  for (const auto& c : kept) {
    message_entry m;
    m.uid = c.uid;
    m.base = std::string(c.name.base);
    take_flags_from_name(m, c.name, c.file->name, c.file->in_new);
    m.size = c.name.size >= 0 ? static_cast<uint64_t>(c.name.size) : c.file->size;
    m.vsize = c.file->vsize;
    m.internal_date = c.file->mtime;
    m.modseq = s.highest_modseq;
    if (known != nullptr) {
      if (const message_entry* old = known->find(m.uid); old != nullptr && old->base == m.base) {
        if (old->flags == m.flags && old->keywords == m.keywords) m.modseq = old->modseq;
        m.cache = old->cache;
      }
    }
    s.messages.push_back(std::move(m));
  }
  s.new_mtime_ns = scan.new_mtime_ns;
  s.cur_mtime_ns = scan.cur_mtime_ns;
  f.state_ = std::move(s);
  // Dovecot's files first, so the checkpoint records what dovecot-uidlist holds.
  absl::Status dovecot_files = co_await write_dovecot_files(f);
  if (!dovecot_files.ok()) co_return dovecot_files;
  auto log = co_await folder_log::create(dir, options_.index, &f.state_);
  if (!log.ok()) co_return log.status();
  f.log_ = std::move(*log);
  log::info("mailstore_index_built", {{"folder", dir},
                                      {"messages", f.state_.messages.size()},
                                      {"uidvalidity", f.state_.uid_validity},
                                      {"uidnext", f.state_.uid_next},
                                      {"from_dovecot", dovecot ? "yes" : "no"}});
  co_return absl::OkStatus();
}

task<absl::Status> mailbox::sync_with_files(open_folder& f) {
  const std::string dir = f.dir_;
  auto age = options_.tmp_max_age;
  auto scan_fn = [dir, age] { return scan_folder(dir, age); };
  folder_scan scan = co_await offload(offload_, std::move(scan_fn));
  if (scan.tmp_removed > 0) log::info("maildir_tmp_cleaned", {{"folder", dir}, {"files", scan.tmp_removed}});
  folder_state& s = f.state_;
  // Keywords Dovecot added while we were away keep their letters.
  if (scan.keywords) {
    auto names = parse_keywords(*scan.keywords);
    if (names.ok()) {
      for (size_t i = s.keywords.size(); i < names->size() && i < kMaxKeywords; ++i) {
        change c;
        c.k = change::add_keyword;
        c.keyword = (*names)[i];
        f.record(c);
      }
    }
  }
  std::map<std::string, const scanned_file*, std::less<>> on_disk;
  for (const auto& file : scan.files) on_disk.emplace(std::string(parse_maildir_name(file.name).base), &file);
  size_t expunged = 0, changed = 0, added = 0;
  // Indexed messages: gone, or flags changed in the file name.
  std::vector<uint32_t> gone;
  for (const auto& m : s.messages) {
    auto it = on_disk.find(m.base);
    if (it == on_disk.end()) {
      gone.push_back(m.uid);
      continue;
    }
    maildir_name n = parse_maildir_name(it->second->name);
    message_entry now = m;
    take_flags_from_name(now, n, it->second->name, it->second->in_new);
    if (now.flags != m.flags || now.keywords != m.keywords || now.in_new != m.in_new || now.new_info != m.new_info ||
        now.other_flags != m.other_flags) {
      change c;
      c.k = change::set_flags;
      c.message = now;
      c.modseq = s.highest_modseq + 1;
      f.record(c);
      ++changed;
    }
    on_disk.erase(it);
  }
  for (uint32_t uid : gone) {
    const message_entry* m = s.find(uid);
    account(-static_cast<int64_t>(m->size), -1);
    change c;
    c.k = change::expunge;
    c.uid = uid;
    c.modseq = s.highest_modseq + 1;
    f.record(c);
    ++expunged;
  }
  // New files: Dovecot's UID if it numbered them after ours, else the next UID.
  std::map<std::string, uint32_t, std::less<>> dovecot_uids;
  uint32_t dovecot_next = 0;
  if (scan.uidlist) {
    auto parsed = parse_uidlist(*scan.uidlist);
    if (parsed.ok() && parsed->uidvalidity == s.uid_validity) {
      for (const auto& e : parsed->entries) dovecot_uids[e.base] = e.uid;
      dovecot_next = parsed->next_uid;
    }
  }
  std::vector<std::pair<uint32_t, const scanned_file*>> fresh;
  for (const auto& [base, file] : on_disk) {
    auto d = dovecot_uids.find(base);
    const bool take = d != dovecot_uids.end() && d->second >= s.uid_next && d->second < kHighestKeptUid;
    fresh.emplace_back(take ? d->second : 0, file);
  }
  std::sort(fresh.begin(), fresh.end(), [](const auto& a, const auto& b) {
    if ((a.first == 0) != (b.first == 0)) return a.first != 0;
    return a.first != b.first ? a.first < b.first : a.second->name < b.second->name;
  });
  for (auto& [uid, file] : fresh) {
    maildir_name n = parse_maildir_name(file->name);
    message_entry m;
    m.uid = uid != 0 && uid >= s.uid_next ? uid : s.uid_next;
    m.base = std::string(n.base);
    take_flags_from_name(m, n, file->name, file->in_new);
    m.size = n.size >= 0 ? static_cast<uint64_t>(n.size) : file->size;
    m.vsize = file->vsize;
    m.internal_date = file->mtime;
    m.modseq = s.highest_modseq + 1;
    change c;
    c.k = change::append;
    c.message = m;
    f.record(c);
    account(static_cast<int64_t>(m.size), 1);
    ++added;
  }
  if (dovecot_next > s.uid_next && dovecot_next < kHighestKeptUid) {
    change c;
    c.k = change::set_header;
    c.uid_validity = s.uid_validity;
    c.uid_next = dovecot_next;
    f.record(c);
  }
  s.new_mtime_ns = scan.new_mtime_ns;
  s.cur_mtime_ns = scan.cur_mtime_ns;
  log::info("mailstore_synced", {{"folder", dir}, {"added", added}, {"changed", changed}, {"expunged", expunged}});
  absl::Status dovecot_files = co_await write_dovecot_files(f);
  if (!dovecot_files.ok()) co_return dovecot_files;
  // A checkpoint records the directory times this state matches.
  io_status st = co_await f.log_->checkpoint();
  if (!st.ok()) co_return io_error("cannot write the index of", dir, st);
  f.publish();
  co_return absl::OkStatus();
}

task<void> mailbox::quiesce(const std::vector<std::string>& names) {
  for (const auto& n : names) renaming_.insert(n);
  for (const auto& n : names) {
    auto it = folders_.find(n);
    if (it == folders_.end()) continue;
    std::shared_ptr<open_folder> f = it->second;
    close_folder(n);
    while (f->writing_ > 0) co_await f->written_.wait();
    co_await lock_folder(*f);  // a flag change or expunge in flight finishes first
    while (f->dovecot_busy_) co_await f->dovecot_idle_.wait();
    unlock_folder(*f);
  }
}

void mailbox::resume_opening(const std::vector<std::string>& names) {
  for (const auto& n : names) renaming_.erase(n);
  opened_.notify_all();
}

task<io_status> mailbox::sync_message_dirs(const open_folder& f, bool cur, bool new_dir) {
  io_status st = io_status::success();
  if (!options_.fsync) co_return st;
  if (cur) st = co_await writer_.sync_directory(f.dir_ + "/cur");
  if (st.ok() && new_dir) st = co_await writer_.sync_directory(f.dir_ + "/new");
  co_return st;
}

task<void> mailbox::lock_folder(open_folder& f) {
  while (f.busy_) co_await f.idle_.wait();
  f.busy_ = true;
}

void mailbox::unlock_folder(open_folder& f) {
  f.busy_ = false;
  f.idle_.notify_all();
}

task<absl::Status> mailbox::commit(open_folder& f) {
  io_status st = co_await f.log_->commit();
  f.publish();
  if (!st.ok()) co_return io_error("cannot write the index of", f.dir_, st);
  co_return absl::OkStatus();
}

void mailbox::account(int64_t bytes, int64_t messages) {
  if (!usage_) return;
  usage_->bytes = static_cast<uint64_t>(std::max<int64_t>(0, static_cast<int64_t>(usage_->bytes) + bytes));
  usage_->messages = static_cast<uint64_t>(std::max<int64_t>(0, static_cast<int64_t>(usage_->messages) + messages));
}

uint32_t mailbox::keyword_mask(open_folder& f, const std::vector<std::string>& names, bool create, bool* added) {
  uint32_t mask = 0;
  for (const auto& name : names) {
    auto& list = f.state_.keywords;
    auto it = std::find_if(list.begin(), list.end(),
                           [&](const std::string& k) { return mail::equals_ignore_case(k, name); });
    if (it != list.end()) {
      mask |= 1u << (it - list.begin());
      continue;
    }
    if (!create || list.size() >= kMaxKeywords || !is_valid_keyword(name)) continue;
    change c;
    c.k = change::add_keyword;
    c.keyword = name;
    f.record(c);
    mask |= 1u << (list.size() - 1);
    if (added != nullptr) *added = true;
  }
  return mask;
}

task<delivery_result> mailbox::deliver(std::string folder_name, std::vector<std::string_view> pieces, uint32_t* uid) {
  folder_name = canonical_name(folder_name);
  auto f = co_await folder(folder_name);
  if (!f.ok() && absl::IsNotFound(f.status())) {
    // Delivery into a folder that is not there yet (Junk, a Sieve fileinto) creates it.
    absl::Status made = co_await create_folder(folder_name);
    if (!made.ok() && !absl::IsAlreadyExists(made)) co_return result_from_errno(EIO, "create folder");
    f = co_await folder(folder_name);
  }
  if (!f.ok()) {
    log::warn("mailstore_open_failed", {{"maildir", maildir_}, {"folder", folder_name}, {"reason", f.status().message()}});
    delivery_result r;
    r.st = delivery_result::temporary;
    r.enhanced = "4.2.0";
    r.reason = "mailbox unavailable";
    co_return r;
  }
  std::shared_ptr<open_folder> folder_ref = *f;
  open_folder& fo = *folder_ref;
  std::string disk_name;
  if (folder_name != "INBOX") disk_name = fo.dir_.substr(maildir_.size() + 2);  // ".a.b" -> "a.b"
  // A rename or delete of this folder waits until the file is written and indexed, so the
  // file and its index record land in the same directory.
  ++fo.writing_;
  delivery_result result = co_await writer_.deliver(maildir_, disk_name, pieces);
  if (--fo.writing_ == 0) fo.written_.notify_all();
  if (!result.delivered()) co_return result;

  message_entry m;
  m.base = base_of_path(result.path);
  m.in_new = true;
  m.size = total_size(pieces);
  m.vsize = virtual_size(pieces);
  m.internal_date = std::time(nullptr);
  if (fo.log_->broken()) {
    // The file is durable; the index reload (a sync pass) will find it.
    co_return result;
  }
  folder_state& s = fo.state_;
  m.uid = s.uid_next;
  m.modseq = s.highest_modseq + 1;
  change c;
  c.k = change::append;
  c.message = m;
  fo.record(c);
  account(static_cast<int64_t>(m.size), 1);
  if (uid == nullptr) {
    // The message is durable (file and new/ entry): that is what "250" promises. Its
    // index record follows with the folder's group commit, in the background; watchers
    // hear of it once that is durable. A crash before then loses nothing: the recovery
    // pass finds the file and numbers it, and no one was told this UID.
    commit_in_background(folder_ref, dotlock());
    co_return result;
  }
  // A caller that is told the UID (IMAP APPEND's APPENDUID, tests) waits until the
  // record that names it is durable: a UID handed out must never name another message.
  *uid = m.uid;
  absl::Status st = co_await commit(fo);
  if (st.ok()) keep_uidlist_current(folder_ref, dotlock());
  if (!st.ok()) {
    // Still delivered: the message file and its new/ entry are durable, and the index
    // is rebuilt from the files on next open. Log why, do not make the sender retry.
    log::warn("mailstore_index_failed", {{"folder", fo.dir_}, {"reason", st.message()}});
    *uid = 0;
  }
  co_return result;
}

void mailbox::started_background(open_folder& f) {
  if (f.background_) ++f.background_->active;
}

void mailbox::finished_background(open_folder& f) {
  if (f.background_ && --f.background_->active == 0) f.background_->done.notify_all();
}

// One background commit per folder at a time, started kIndexCommitDelay after the first
// delivery that needs it: the deliveries of that window share one fdatasync of the log.
// (Deliveries to one user's folder come from many sessions; the log of a folder sees few
// of them per millisecond, so without the wait each would pay a sync of its own.)
void mailbox::commit_in_background(std::shared_ptr<open_folder> f, dotlock_settings settings) {
  if (f->commit_scheduled_) return;
  f->commit_scheduled_ = true;
  auto run = [](std::shared_ptr<open_folder> f, dotlock_settings settings) -> detail::fire_and_forget {
    if (!co_await sleep_for(kIndexCommitDelay, &f->background_->stop)) {
      // The store was dropped without a close (as a crash leaves it): nothing more.
      finished_background(*f);
      co_return;
    }
    f->commit_scheduled_ = false;  // what is appended from here on needs another round
    io_status st = co_await f->log_->commit();
    f->publish();
    if (st.ok()) {
      keep_uidlist_current(f, std::move(settings));
    } else {
      log::warn("mailstore_index_failed", {{"folder", f->dir_}, {"reason", st.to_string()}});
    }
    finished_background(*f);
  };
  started_background(*f);
  run(std::move(f), std::move(settings));
}

task<absl::Status> mailbox::set_cache(std::string folder_name, std::vector<std::pair<uint32_t, std::string>> blobs) {
  folder_name = canonical_name(folder_name);
  auto f = co_await folder(folder_name);
  if (!f.ok()) co_return f.status();
  open_folder& fo = **f;
  bool any = false;
  for (auto& [uid, blob] : blobs) {
    const message_entry* m = fo.state_.find(uid);
    if (m == nullptr || m->cache == blob) continue;
    change c;
    c.k = change::set_cache;
    c.message.uid = uid;
    c.message.cache = std::move(blob);
    fo.record(c);
    any = true;
  }
  if (any) commit_in_background(*f, dotlock());
  co_return absl::OkStatus();
}

task<absl::StatusOr<uint32_t>> mailbox::append(std::string folder_name, std::vector<std::string_view> pieces,
                                               uint8_t flags, std::vector<std::string> keywords, int64_t internal_date) {
  folder_name = canonical_name(folder_name);
  auto f = co_await folder(folder_name);
  if (!f.ok()) co_return f.status();  // APPEND to a missing folder: [TRYCREATE] for IMAP
  uint32_t uid = 0;
  delivery_result r = co_await deliver(folder_name, std::move(pieces), &uid);
  if (!r.delivered()) co_return absl::UnavailableError(r.reason);
  if (uid == 0) co_return absl::UnavailableError("the folder index could not be written");
  if (internal_date > 0) {
    // Dovecot's INTERNALDATE for Maildir is the file's mtime: keep the two in step.
    std::string path = r.path;
    auto touch = [path, internal_date] { return set_file_time(path, internal_date); };
    co_await offload(offload_, std::move(touch));
    if (auto* m = (*f)->state_.find(uid)) m->internal_date = internal_date;
  }
  if (flags != 0 || !keywords.empty()) {
    std::vector<uint32_t> just_this(1, uid);
    auto stored = co_await store(folder_name, std::move(just_this), flag_op::replace, flags, std::move(keywords));
    if (!stored.ok()) co_return stored.status();
  }
  co_return uid;
}

task<absl::StatusOr<std::vector<uint32_t>>> mailbox::store(std::string folder_name, std::vector<uint32_t> uids,
                                                           flag_op op, uint8_t flags, std::vector<std::string> keywords,
                                                           std::optional<uint64_t> unchanged_since,
                                                           std::vector<uint32_t>* failed) {
  auto f = co_await folder(folder_name);
  if (!f.ok()) co_return f.status();
  std::shared_ptr<open_folder> folder_ref = *f;
  open_folder& fo = *folder_ref;
  co_await lock_folder(fo);
  bool new_keyword = false;
  const uint32_t mask = keyword_mask(fo, keywords, op != flag_op::remove, &new_keyword);
  if (new_keyword) {
    // File names may only use letters dovecot-keywords defines: write it first.
    absl::Status written = co_await write_keywords_file(fo);
    if (!written.ok()) log::warn("dovecot_keywords_failed", {{"folder", fo.dir_}, {"reason", written.message()}});
  }
  struct rename_job {
    message_entry after;
    std::string from, to;
  };
  std::vector<rename_job> jobs;
  for (uint32_t uid : uids) {
    const message_entry* m = fo.state_.find(uid);
    if (m == nullptr) continue;
    if (unchanged_since && m->modseq > *unchanged_since) {
      if (failed != nullptr) failed->push_back(uid);
      continue;
    }
    message_entry after = *m;
    after.flags = apply_op(m->flags, op, flags);
    after.keywords = apply_op32(m->keywords, op, mask);
    after.in_new = false;  // a message whose flags were looked at belongs in cur/ (Dovecot)
    after.new_info = false;
    if (after.flags == m->flags && after.keywords == m->keywords && !m->in_new) continue;
    jobs.push_back({after, fo.path_of(*m), fo.path_of(after)});
  }
  // The renames first, made durable; then the index (see the header: files never lag).
  std::vector<task<io_status>> renames;
  for (const auto& j : jobs) renames.push_back(rename_path(j.from, j.to));
  std::vector<io_status> results = co_await when_all(std::move(renames));
  bool any = false, from_new = false;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (results[i].ok()) {
      any = true;
      from_new = from_new || jobs[i].from.find("/new/") != std::string::npos;
    }
  }
  if (any) {
    io_status st = co_await sync_message_dirs(fo, /*cur=*/true, from_new);
    if (!st.ok()) {
      unlock_folder(fo);
      co_return io_error("cannot sync", fo.dir_, st);
    }
  }
  std::vector<uint32_t> changed;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!results[i].ok()) {
      // Gone behind our back (another server expunged it): the next sync pass sees it.
      log::warn("mailstore_rename_failed", {{"from", jobs[i].from}, {"reason", results[i].to_string()}});
      continue;
    }
    change c;
    c.k = change::set_flags;
    c.message = jobs[i].after;
    c.modseq = fo.state_.highest_modseq + 1;
    fo.record(c);
    changed.push_back(c.message.uid);
  }
  unlock_folder(fo);
  absl::Status st = co_await commit(fo);
  if (!st.ok()) co_return st;
  co_return changed;
}

task<absl::StatusOr<std::vector<uint32_t>>> mailbox::expunge(std::string folder_name, std::vector<uint32_t> uids) {
  auto f = co_await folder(folder_name);
  if (!f.ok()) co_return f.status();
  std::shared_ptr<open_folder> folder_ref = *f;
  open_folder& fo = *folder_ref;
  co_await lock_folder(fo);
  if (uids.empty()) {
    for (const auto& m : fo.state_.messages) {
      if (m.flags & flag_deleted) uids.push_back(m.uid);
    }
  }
  std::vector<uint32_t> victims;
  std::vector<task<io_status>> unlinks;
  bool from_new = false, from_cur = false;
  for (uint32_t uid : uids) {
    const message_entry* m = fo.state_.find(uid);
    if (m == nullptr) continue;
    victims.push_back(uid);
    (m->in_new ? from_new : from_cur) = true;
    unlinks.push_back(unlink_path(fo.path_of(*m)));
  }
  std::vector<io_status> results = co_await when_all(std::move(unlinks));
  if (!victims.empty()) {
    io_status st = co_await sync_message_dirs(fo, from_cur, from_new);
    if (!st.ok()) {
      unlock_folder(fo);
      co_return io_error("cannot sync", fo.dir_, st);
    }
  }
  std::vector<uint32_t> removed;
  for (size_t i = 0; i < victims.size(); ++i) {
    // ENOENT: someone else removed it already; either way it is gone.
    if (!results[i].ok() && results[i].error_number != ENOENT) {
      log::warn("mailstore_unlink_failed", {{"folder", fo.dir_}, {"uid", victims[i]}, {"reason", results[i].to_string()}});
      continue;
    }
    const message_entry* m = fo.state_.find(victims[i]);
    account(-static_cast<int64_t>(m->size), -1);
    change c;
    c.k = change::expunge;
    c.uid = victims[i];
    c.modseq = fo.state_.highest_modseq + 1;
    fo.record(c);
    removed.push_back(c.uid);
  }
  unlock_folder(fo);
  absl::Status st = co_await commit(fo);
  if (!st.ok()) co_return st;
  co_return removed;
}

task<absl::StatusOr<std::vector<std::pair<uint32_t, uint32_t>>>> mailbox::copy(std::string from,
                                                                              std::vector<uint32_t> uids,
                                                                              std::string to, bool move) {
  auto src = co_await folder(from);
  if (!src.ok()) co_return src.status();
  auto dst = co_await folder(to);
  if (!dst.ok()) co_return dst.status();
  std::shared_ptr<open_folder> src_ref = *src, dst_ref = *dst;
  open_folder& s = *src_ref;
  open_folder& d = *dst_ref;
  if (&s == &d && move) co_return std::vector<std::pair<uint32_t, uint32_t>>{};
  // Hard links, as Dovecot copies within one Maildir (maildir_copy_with_hardlinks): the
  // bytes are shared and a copy costs one directory entry.
  struct link_job {
    uint32_t src_uid;
    message_entry entry;
    std::string from, to;
  };
  std::vector<link_job> jobs;
  bool new_keyword = false;
  for (uint32_t uid : uids) {
    const message_entry* m = s.state_.find(uid);
    if (m == nullptr) continue;
    std::vector<std::string> names;
    for (size_t i = 0; i < s.state_.keywords.size(); ++i) {
      if (m->keywords & (1u << i)) names.push_back(s.state_.keywords[i]);
    }
    link_job j;
    j.src_uid = uid;
    j.entry = *m;
    j.entry.in_new = false;
    j.entry.new_info = false;
    j.entry.base = writer_.unique_name(m->size, m->vsize);
    j.entry.keywords = keyword_mask(d, names, true, &new_keyword);
    j.from = s.path_of(*m);
    j.to = d.path_of(j.entry);
    jobs.push_back(std::move(j));
  }
  if (new_keyword) co_await write_keywords_file(d);
  std::vector<task<io_status>> links;
  for (const auto& j : jobs) links.push_back(link_path(j.from, j.to));
  std::vector<io_status> results = co_await when_all(std::move(links));
  if (options_.fsync) {
    io_status st = co_await writer_.sync_directory(d.dir_ + "/cur");
    if (!st.ok()) co_return io_error("cannot sync", d.dir_, st);
  }
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  std::vector<uint32_t> copied;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!results[i].ok()) {
      log::warn("mailstore_copy_failed", {{"from", jobs[i].from}, {"reason", results[i].to_string()}});
      continue;
    }
    message_entry m = jobs[i].entry;
    m.uid = d.state_.uid_next;
    m.modseq = d.state_.highest_modseq + 1;
    change c;
    c.k = change::append;
    c.message = m;
    d.record(c);
    account(static_cast<int64_t>(m.size), 1);
    pairs.emplace_back(jobs[i].src_uid, m.uid);
    copied.push_back(jobs[i].src_uid);
  }
  absl::Status st = co_await commit(d);
  if (!st.ok()) co_return st;
  keep_uidlist_current(dst_ref, dotlock());
  if (move && !copied.empty()) {
    auto gone = co_await expunge(from, copied);
    if (!gone.ok()) co_return gone.status();
  }
  co_return pairs;
}

// ---- folders ---------------------------------------------------------------------------------

task<absl::Status> mailbox::create_folder(std::string name) {
  if (absl::Status locked = co_await ensure_locked(); !locked.ok()) co_return locked;
  name = canonical_name(name);
  if (name == "INBOX") co_return absl::AlreadyExistsError("INBOX always exists");
  auto dir = dir_of(name);
  if (!dir.ok()) co_return dir.status();
  // cur/ makes a folder: a ".name" without it (a create cut short by a crash) is made
  // whole again rather than called AlreadyExists.
  auto there = co_await stat_path(*dir + "/cur");
  if (there.ok()) co_return absl::AlreadyExistsError(absl::StrCat("folder ", name, " already exists"));
  if (!folder_count_) {
    auto listed = co_await list_folders();  // sets folder_count_
    if (!listed.ok()) co_return listed.status();
  }
  if (folder_count_ && *folder_count_ >= kMaxFolders) {
    co_return absl::ResourceExhaustedError(absl::StrCat("at most ", kMaxFolders, " folders per user"));
  }
  io_status st = co_await ensure_maildir(*dir, options_.dir_mode);
  if (!st.ok()) co_return io_error("cannot create", *dir, st);
  if (folder_count_) ++*folder_count_;
  if (options_.fsync) {
    // The folder's own entries (cur/ new/ tmp/) first, then its name in the Maildir: a
    // durable ".name" without a durable cur/ is no folder (NotFound) that a retried
    // create still calls AlreadyExists. Found by the power-cut test
    // (tests/delivery/mailstore_crash_consistency_test.cc).
    // sync_chain: the folder, the Maildir, and every parent up (the Maildir itself may be
    // new too, when a folder is made before INBOX ever was).
    st = co_await writer_.sync_chain(*dir);
    if (!st.ok()) co_return io_error("cannot sync", *dir, st);
  }
  publish_user_event({.k = user_event::created, .name = name});
  co_return absl::OkStatus();
}

task<absl::Status> mailbox::delete_folder(std::string name) {
  if (absl::Status locked = co_await ensure_locked(); !locked.ok()) co_return locked;
  name = canonical_name(name);
  if (name == "INBOX") co_return absl::InvalidArgumentError("INBOX cannot be deleted");
  auto dir = dir_of(name);
  if (!dir.ok()) co_return dir.status();
  auto there = co_await stat_path(*dir);
  if (!there.ok()) co_return absl::NotFoundError(absl::StrCat("no folder ", name));
  std::vector<std::string> names(1, name);
  co_await quiesce(names);
  while (metadata_busy_) co_await metadata_idle_.wait();  // its file is in the directory
  // One atomic rename takes the folder away (a name without the leading '.' is no folder
  // to Dovecot or us, as Dovecot's own DOVECOT-TRASHED); the files go after, off the shard.
  const std::string trash = absl::StrCat(maildir_, "/ringmail-trashed.", writer_.unique_name(0, 0));
  io_status st = co_await rename_path(*dir, trash);
  if (st.ok() && options_.fsync) st = co_await sync_directory_path(maildir_);
  resume_opening(names);
  if (!st.ok()) co_return io_error("cannot delete", *dir, st);
  auto remove_fn = [trash] { return remove_tree(trash); };
  co_await offload(offload_, std::move(remove_fn));
  usage_.reset();  // recounted on next use
  folder_count_.reset();
  publish_user_event({.k = user_event::deleted, .name = name});
  co_return absl::OkStatus();
}

task<absl::Status> mailbox::rename_folder(std::string from, std::string to) {
  if (absl::Status locked = co_await ensure_locked(); !locked.ok()) co_return locked;
  from = canonical_name(from);
  to = canonical_name(to);
  if (to == "INBOX") co_return absl::AlreadyExistsError("INBOX already exists");
  auto to_dir = dir_of(to);
  if (!to_dir.ok()) co_return to_dir.status();
  if ((co_await stat_path(*to_dir)).ok()) co_return absl::AlreadyExistsError(absl::StrCat("folder ", to, " already exists"));
  if (from == "INBOX") {
    // RFC 9051 6.3.6: renaming INBOX moves its messages to the new folder; INBOX stays.
    absl::Status made = co_await create_folder(to);
    if (!made.ok()) co_return made;
    auto inbox = co_await folder("INBOX");
    if (!inbox.ok()) co_return inbox.status();
    std::vector<uint32_t> all;
    for (const auto& m : (*inbox)->state_.messages) all.push_back(m.uid);
    auto moved = co_await copy("INBOX", all, to, true);
    co_return moved.ok() ? absl::OkStatus() : moved.status();
  }
  auto from_dir = dir_of(from);
  if (!from_dir.ok()) co_return from_dir.status();
  if (!(co_await stat_path(*from_dir)).ok()) co_return absl::NotFoundError(absl::StrCat("no folder ", from));
  // The folder and its children: ".a" and ".a.*" become ".b" and ".b.*".
  auto list = co_await list_folders();
  if (!list.ok()) co_return list.status();
  std::vector<std::pair<std::string, std::string>> moves;  // UTF-8 names
  for (const auto& name : *list) {
    if (name == from || (name.size() > from.size() && name.compare(0, from.size(), from) == 0 && name[from.size()] == '/')) {
      moves.emplace_back(name, to + name.substr(from.size()));
    }
  }
  std::vector<std::string> names;
  for (const auto& [old_name, new_name] : moves) names.push_back(old_name);
  co_await quiesce(names);
  while (metadata_busy_) co_await metadata_idle_.wait();  // its file is in the directory
  absl::Status moved = absl::OkStatus();
  for (const auto& [old_name, new_name] : moves) {
    auto a = dir_of(old_name);
    auto b = dir_of(new_name);
    if (!a.ok() || !b.ok()) {
      moved = !a.ok() ? a.status() : b.status();
      break;
    }
    io_status st = co_await rename_path(*a, *b);
    if (!st.ok()) {
      moved = io_error("cannot rename", *a, st);
      break;
    }
  }
  if (moved.ok() && options_.fsync) {
    io_status st = co_await sync_directory_path(maildir_);
    if (!st.ok()) moved = io_error("cannot sync", maildir_, st);
  }
  resume_opening(names);
  if (!moved.ok()) co_return moved;
  // Subscriptions follow the rename, as Dovecot does.
  auto subs = co_await subscriptions();
  if (subs.ok()) {
    bool changed = false;
    for (auto& s : *subs) {
      for (const auto& [old_name, new_name] : moves) {
        if (s == old_name) {
          s = new_name;
          changed = true;
        }
      }
    }
    if (changed) co_await write_subscriptions(*subs);
  }
  for (const auto& [old_name, new_name] : moves) {
    publish_user_event({.k = user_event::renamed, .name = old_name, .new_name = new_name});
  }
  co_return absl::OkStatus();
}

task<absl::StatusOr<std::vector<std::string>>> mailbox::list_folders() {
  std::string root = maildir_;
  auto list_fn = [root] { return list_folder_dirs(root); };
  std::vector<std::string> dirs = co_await offload(offload_, std::move(list_fn));
  std::vector<std::string> names;
  for (const auto& d : dirs) {
    auto name = dir_to_folder(d);
    if (name.ok()) names.push_back(std::move(*name));
  }
  std::sort(names.begin(), names.end());
  names.insert(names.begin(), "INBOX");
  folder_count_ = names.size();
  co_return names;
}

task<absl::StatusOr<std::vector<std::string>>> mailbox::subscriptions() {
  auto text = co_await read_whole_file(maildir_ + "/subscriptions");
  if (!text.ok()) {
    if (text.status().error_number == ENOENT) co_return std::vector<std::string>{};
    co_return io_error("cannot read", maildir_ + "/subscriptions", text.status());
  }
  co_return parse_subscriptions(*text).names;
}

task<absl::Status> mailbox::write_subscriptions(const std::vector<std::string>& names) {
  auto text = format_subscriptions(names);
  if (!text.ok()) co_return text.status();
  io_status st = co_await replace_file(maildir_ + "/subscriptions", std::move(*text), options_.fsync);
  if (!st.ok()) co_return io_error("cannot write", maildir_ + "/subscriptions", st);
  co_return absl::OkStatus();
}

task<absl::Status> mailbox::subscribe(std::string name, bool subscribed) {
  if (absl::Status locked = co_await ensure_locked(); !locked.ok()) co_return locked;
  name = canonical_name(name);
  auto valid = dir_of(name);
  if (!valid.ok()) co_return valid.status();
  auto subs = co_await subscriptions();
  if (!subs.ok()) co_return subs.status();
  auto it = std::find(subs->begin(), subs->end(), name);
  if (subscribed == (it != subs->end())) co_return absl::OkStatus();
  if (subscribed) {
    subs->push_back(name);
  } else {
    subs->erase(it);
  }
  absl::Status written = co_await write_subscriptions(*subs);
  if (written.ok()) publish_user_event({.k = subscribed ? user_event::subscribed : user_event::unsubscribed, .name = name});
  co_return written;
}

task<absl::StatusOr<quota_usage>> mailbox::usage() {
  if (usage_) co_return *usage_;
  auto names = co_await list_folders();
  if (!names.ok()) co_return names.status();
  quota_usage total;
  for (const auto& name : *names) {
    auto f = co_await folder(name);
    if (!f.ok()) continue;  // a folder that cannot be opened counts as empty
    total.bytes += (*f)->state_.total_size();
    total.messages += (*f)->state_.messages.size();
  }
  usage_ = total;
  co_return total;
}

void mailbox::close_folder(const std::string& name) {
  folders_.erase(name);
  usage_.reset();
}

task<absl::Status> mailbox::flush(std::string folder_name) {
  auto f = co_await folder(folder_name);
  if (!f.ok()) co_return f.status();
  std::shared_ptr<open_folder> folder_ref = *f;
  co_return co_await commit(*folder_ref);
}

task<absl::Status> mailbox::checkpoint_all() {
  absl::Status result;
  // A copy: folders may open or close while we wait on the disk.
  std::vector<std::shared_ptr<open_folder>> open;
  for (auto& [name, f] : folders_) open.push_back(f);
  for (auto& f : open) {
    if (f->log_->broken()) continue;
    co_await lock_folder(*f);
    const bool uidlist_current = f->dovecot_written_ && f->dovecot_uid_ + 1 >= f->state_.uid_next;
    if (f->log_->at_checkpoint() && uidlist_current) {
      // Nothing changed since the last checkpoint: rewriting 100,000 records (and
      // dovecot-uidlist) would only cost a close its time.
      unlock_folder(*f);
      continue;
    }
    // Dovecot's files first, so the checkpoint records what dovecot-uidlist holds.
    if (!uidlist_current) {
      absl::Status dovecot = co_await write_dovecot_files(*f);
      if (!dovecot.ok()) result = dovecot;
    }
    auto new_st = co_await stat_path(f->dir_ + "/new");
    auto cur_st = co_await stat_path(f->dir_ + "/cur");
    f->state_.new_mtime_ns = new_st.ok() ? ns_of(new_st->stx_mtime) : 0;
    f->state_.cur_mtime_ns = cur_st.ok() ? ns_of(cur_st->stx_mtime) : 0;
    io_status st = co_await f->log_->checkpoint();
    unlock_folder(*f);
    if (!st.ok()) result = io_error("cannot write the index of", f->dir_, st);
  }
  co_return result;
}

task<absl::Status> mailbox::rebuild(std::string folder_name) {
  folder_name = canonical_name(folder_name);
  auto f = co_await folder(folder_name);
  std::optional<folder_state> known;
  if (f.ok()) known = (*f)->state_;
  auto dir = dir_of(folder_name);
  if (!dir.ok()) co_return dir.status();
  if (!(co_await stat_path(*dir + "/cur")).ok()) co_return absl::NotFoundError(absl::StrCat("no folder ", folder_name));
  close_folder(folder_name);
  auto fresh = std::make_shared<open_folder>(folder_name, *dir);
  fresh->background_ = background_;
  const folder_state* prior = known ? &*known : nullptr;
  absl::Status built = co_await build_index(*fresh, prior);
  if (!built.ok()) co_return built;
  fresh->visible_seq_ = fresh->log_->durable_seq();
  folders_[folder_name] = fresh;
  co_return absl::OkStatus();
}

// ---- Dovecot's files --------------------------------------------------------------------------

dotlock_settings mailbox::dotlock() const {
  return dotlock_settings{absl::StrCat(::getpid(), ":", writer_.hostname(), "\n"), options_.fsync};
}

task<absl::Status> mailbox::write_keywords_file(open_folder& f) {
  co_return co_await write_dotlocked(f.dir_ + "/dovecot-keywords", format_keywords(f.state_.keywords), dotlock());
}

task<absl::Status> mailbox::write_dovecot_files(open_folder& f) {
  while (f.dovecot_busy_) co_await f.dovecot_idle_.wait();
  f.dovecot_busy_ = true;
  uidlist list;
  list.version = 3;
  list.uidvalidity = f.state_.uid_validity;
  list.next_uid = f.state_.uid_next;
  list.guid = f.state_.mailbox_guid;
  list.entries.reserve(f.state_.messages.size());
  for (const auto& m : f.state_.messages) {
    uidlist_entry e;
    e.uid = m.uid;
    e.base = m.base;
    list.entries.push_back(std::move(e));
  }
  const uint32_t covered = f.state_.uid_next - 1;
  absl::Status st = co_await write_dotlocked(f.dir_ + "/dovecot-uidlist", format_uidlist(list), dotlock());
  if (st.ok()) {
    f.dovecot_uid_ = std::max(f.dovecot_uid_, covered);
    f.dovecot_written_ = true;
    f.state_.dovecot_uidlist_next = f.dovecot_uid_ + 1;
  }
  f.dovecot_busy_ = false;
  f.dovecot_idle_.notify_all();
  if (!st.ok()) {
    log::warn("dovecot_uidlist_not_written", {{"folder", f.dir_}, {"reason", st.message()}});
    co_return absl::OkStatus();  // ours is the index that counts; Dovecot's catches up later
  }
  if (!f.state_.keywords.empty()) co_await write_keywords_file(f);
  co_return absl::OkStatus();
}

// Dovecot appends each new UID to dovecot-uidlist as it assigns it; so do we, off the
// acknowledgement path: a delivery does not wait for it, and one append covers every UID
// assigned meanwhile. The task holds the folder (shared_ptr) and copies of what it needs,
// not the mailbox, so a mailbox closed meanwhile is no problem.
void mailbox::keep_uidlist_current(std::shared_ptr<open_folder> f, dotlock_settings settings) {
  if (f->dovecot_busy_ || !f->dovecot_written_ || f->state_.messages.empty() ||
      f->state_.messages.back().uid <= f->dovecot_uid_) {
    return;
  }
  auto run = [](std::shared_ptr<open_folder> f, dotlock_settings settings) -> detail::fire_and_forget {
    f->dovecot_busy_ = true;
    // Gather: under a steady stream of deliveries one append covers a second's
    // UIDs instead of one each (the file trails our index; nothing waits for it).
    if (!co_await sleep_for(kUidlistAppendDelay, &f->background_->stop)) {
      f->dovecot_busy_ = false;  // dropped without a close: the next open rewrites it
      f->dovecot_idle_.notify_all();
      finished_background(*f);
      co_return;
    }
    for (;;) {
      std::string lines;
      uint32_t last = f->dovecot_uid_;
      auto& msgs = f->state_.messages;
      auto it = std::upper_bound(msgs.begin(), msgs.end(), f->dovecot_uid_,
                                 [](uint32_t u, const message_entry& m) { return u < m.uid; });
      for (; it != msgs.end(); ++it) {
        uidlist_entry e;
        e.uid = it->uid;
        e.base = it->base;
        lines += format_uidlist_entry(e);
        last = it->uid;
      }
      if (lines.empty()) break;
      absl::Status st = co_await append_dotlocked(f->dir_ + "/dovecot-uidlist", std::move(lines), settings);
      if (!st.ok()) break;  // Dovecot holds the lock, or the file is gone: the next checkpoint rewrites it
      f->dovecot_uid_ = last;
      f->state_.dovecot_uidlist_next = last + 1;
    }
    f->dovecot_busy_ = false;
    f->dovecot_idle_.notify_all();
    finished_background(*f);
  };
  started_background(*f);
  // dovecot-uidlist trails ringmail's index, which is what is durable: after a crash the
  // recovery pass rewrites it whole. So its appends are not fsynced.
  settings.fsync = false;
  run(std::move(f), std::move(settings));
}

}  // namespace ringmail::mailstore
