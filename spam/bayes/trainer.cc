#include "spam/bayes/trainer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>

#include "runtime/log.h"

namespace ringmail::spam {
namespace {

enum class read_result { ok, missing, too_large, error };

// Blocking read of a whole file (a pool thread). `error` carries errno's text.
read_result read_whole(const std::string& path, uint64_t limit, std::string& out, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return read_result::missing;
    error = std::strerror(errno);
    return read_result::error;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = std::strerror(errno);
    ::close(fd);
    return read_result::error;
  }
  if (static_cast<uint64_t>(st.st_size) > limit) {
    ::close(fd);
    return read_result::too_large;
  }
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::strerror(errno);
      ::close(fd);
      return read_result::error;
    }
    if (n == 0) break;  // shrank under us: Maildir files are immutable, so take what is there
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  ::close(fd);
  return read_result::ok;
}

// A Maildir file renamed since the session named it: a flag change renames it within cur/
// (new info after ':'), the first look moves it from new/ to cur/. The base (before the
// first ':') stays; find it in the folder's cur/ or new/.
std::optional<std::string> find_renamed(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const std::string name = p.filename().string();
  const std::string base = name.substr(0, name.find(':'));
  if (base.empty()) return std::nullopt;
  const fs::path folder = p.parent_path().parent_path();
  std::error_code ec;
  for (const char* sub : {"cur", "new"}) {
    for (const auto& e : fs::directory_iterator(folder / sub, ec)) {
      const std::string n = e.path().filename().string();
      if (n.size() >= base.size() && n.compare(0, base.size(), base) == 0 &&
          (n.size() == base.size() || n[base.size()] == ':')) {
        return e.path().string();
      }
    }
  }
  return std::nullopt;
}

}  // namespace

bayes_trainer::bayes_trainer(offload_pool& pool, store_opener open, bayes_trainer_options options)
    : pool_(pool), open_(std::move(open)), options_(options) {
  if (options_.per_turn == 0) options_.per_turn = 1;
  drain_.owner = this;
  drain_.run = [](remote_work* w) { static_cast<drain_work*>(w)->owner->drain(); };
}

bayes_trainer::~bayes_trainer() { wait_idle(); }

bool bayes_trainer::learn(const std::string& user, std::vector<std::string> paths, bool spam) {
  if (paths.empty()) return true;
  bool post = false;
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() + paths.size() > options_.max_queued) {
      counters_.dropped += paths.size();
      const size_t queued = queue_.size();
      // Logged outside the lock would need a copy of these; one short line is fine here.
      log::warn("spam_training_dropped", {{"user", user},
                                          {"messages", paths.size()},
                                          {"as", spam ? "spam" : "ham"},
                                          {"queued", queued},
                                          {"reason", "queue full"}});
      return false;
    }
    for (auto& p : paths) queue_.push_back(item{user, std::move(p), spam});
    if (!draining_) {
      draining_ = true;
      post = true;
    }
  }
  // Only the thread that set draining_ posts, so drain_ is never queued twice.
  if (post) pool_.post(&drain_);
  return true;
}

void bayes_trainer::drain() {
  std::vector<item> turn;
  {
    std::lock_guard lock(mutex_);
    while (!queue_.empty() && turn.size() < options_.per_turn) {
      turn.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  for (const item& it : turn) learn_one(it);
  bool again = false;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
      draining_ = false;
      idle_.notify_all();
    } else {
      again = true;
    }
  }
  // Behind the pool's other work, so password checks do not wait for a long backlog.
  // drain_ is not touched after the post: another worker may already be running it.
  if (again) pool_.post(&drain_);
}

void bayes_trainer::learn_one(const item& it) {
  const char* as = it.spam ? "spam" : "ham";
  if (!store_) {
    absl::StatusOr<std::unique_ptr<bayes_store>> opened = open_();
    if (!opened.ok() || *opened == nullptr) {
      std::lock_guard lock(mutex_);
      ++counters_.failed;
      log::warn("spam_training_failed", {{"user", it.user},
                                         {"path", it.path},
                                         {"reason", opened.ok() ? std::string("no Bayes store")
                                                                : std::string(opened.status().message())}});
      return;
    }
    store_ = std::move(*opened);
  }
  std::string bytes, error, path = it.path;
  read_result r = read_whole(path, options_.max_message_size, bytes, error);
  if (r == read_result::missing) {
    if (std::optional<std::string> renamed = find_renamed(path)) {
      path = *renamed;
      r = read_whole(path, options_.max_message_size, bytes, error);
    }
  }
  if (r != read_result::ok) {
    const char* reason = r == read_result::missing ? "gone" : r == read_result::too_large ? "too large" : "unreadable";
    std::lock_guard lock(mutex_);
    ++counters_.skipped;
    if (error.empty()) {
      log::info("spam_training_skipped", {{"user", it.user}, {"path", path}, {"as", as}, {"reason", reason}});
    } else {
      log::warn("spam_training_skipped",
                {{"user", it.user}, {"path", path}, {"as", as}, {"reason", reason}, {"error", error}});
    }
    return;
  }
  absl::Status st = learn_message(*store_, it.user, bytes, it.spam);
  {
    std::lock_guard lock(mutex_);
    if (st.ok()) {
      ++counters_.learned;
      log::debug("spam_learned", {{"user", it.user}, {"path", path}, {"as", as}});
    } else {
      ++counters_.failed;
      log::warn("spam_training_failed", {{"user", it.user}, {"path", path}, {"as", as}, {"reason", st.message()}});
    }
  }
  if (st.ok()) maybe_expire(it.user);
}

void bayes_trainer::maybe_expire(const std::string& user) {
  const bayes_expiry_options& options = store_->expiry_options();
  if (!options.auto_expire) return;
  const auto now = std::chrono::steady_clock::now();
  auto [asked, first] = expiry_asked_.try_emplace(user, now);
  if (!first && now - asked->second < std::chrono::seconds(options.period_seconds)) return;
  asked->second = now;
  absl::StatusOr<bayes_expiry_result> r = store_->expire(user, /*force=*/false);
  if (!r.ok()) {
    // Learning succeeded; expiry is retried after the next period.
    log::warn("spam_bayes_expiry_failed", {{"user", user}, {"reason", r.status().message()}});
    return;
  }
  if (!r->ran) return;
  {
    std::lock_guard lock(mutex_);
    counters_.expired_tokens += static_cast<uint64_t>(r->removed);
  }
  log::info("spam_bayes_expired", {{"user", user},
                                   {"tokens", r->tokens_before},
                                   {"removed", r->removed},
                                   {"cutoff_atime", r->cutoff_atime},
                                   {"skipped", r->skipped}});
}

void bayes_trainer::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return !draining_; });
}

bayes_trainer::counters bayes_trainer::stats() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace ringmail::spam
