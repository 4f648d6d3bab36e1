#include "delivery/mailstore/index_file.h"

#include <fcntl.h>

#include <utility>

namespace ringmail::mailstore {
namespace {

constexpr const char* kCheckpointName = "/ringmail-index";
constexpr const char* kLogName = "/ringmail-index.log";

}  // namespace

task<io_result<std::string>> read_whole_file(std::string path, uint64_t size_hint) {
  auto f = co_await file::open(path, O_RDONLY);
  if (!f.ok()) co_return f.status();
  std::string out;
  uint64_t expected = size_hint;
  if (expected == 0) {
    auto st = co_await f->stat();
    if (st.ok()) expected = st->stx_size;
  }
  // One byte more than expected, so a file of the expected size ends in one read.
  size_t chunk = expected > 0 && expected < (64u << 20) ? static_cast<size_t>(expected) + 1 : 64 * 1024;
  for (;;) {
    const size_t have = out.size();
    out.resize(have + chunk);
    auto n = co_await f->read_at(std::span<char>(out.data() + have, chunk), have);
    if (!n.ok()) {
      co_await f->close();
      co_return n.status();
    }
    out.resize(have + *n);
    // A short read past the expected size is the end; one before it (the file grew, or
    // the hint was stale) reads on until a read returns nothing.
    if (*n == 0 || (*n < chunk && out.size() >= expected)) break;
    chunk = 64 * 1024;
  }
  co_await f->close();
  co_return out;
}

task<io_status> sync_directory_path(std::string dir) {
  auto d = co_await file::open(dir, O_RDONLY | O_DIRECTORY);
  if (!d.ok()) co_return d.status();
  io_status st = co_await d->sync();
  co_await d->close();
  co_return st;
}

task<io_status> replace_file(std::string path, std::string content, bool fsync) {
  const std::string tmp = path + ".tmp";
  auto f = co_await file::open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (!f.ok()) co_return f.status();
  io_status st = co_await f->write_at(content, 0);
  if (st.ok() && fsync) st = co_await f->sync();
  io_status closed = co_await f->close();
  if (st.ok()) st = closed;
  if (!st.ok()) {
    co_await unlink_path(tmp);
    co_return st;
  }
  st = co_await rename_path(tmp, path);
  if (!st.ok() || !fsync) co_return st;
  // No conditional expression inside the co_await: g++ 12 destroys its temporary twice.
  std::string parent = path.substr(0, path.rfind('/'));
  if (parent.empty()) parent = "/";
  co_return co_await sync_directory_path(std::move(parent));
}

folder_log::folder_log(std::string dir, index_options options, folder_state* state)
    : dir_(std::move(dir)), options_(options), state_(state) {}

folder_log::~folder_log() = default;

task<absl::StatusOr<std::unique_ptr<folder_log>>> folder_log::open(std::string folder_dir, index_options options,
                                                                   folder_state* state,
                                                                   index_presence* presence) {
  auto log = std::make_unique<folder_log>(folder_dir, options, state);
  *state = folder_state{};
  uint64_t seq = 0;
  bool found = false;
  auto checkpoint = co_await read_whole_file(folder_dir + kCheckpointName);
  if (checkpoint.ok()) {
    found = true;
    auto decoded = decode_checkpoint(*checkpoint);
    if (!decoded.ok()) {
      *presence = index_presence::damaged;
      co_return std::unique_ptr<folder_log>();
    }
    *state = std::move(decoded->state);
    seq = decoded->seq;
  } else if (checkpoint.status().error_number != ENOENT) {
    co_return absl::UnavailableError("cannot read " + folder_dir + kCheckpointName + ": " +
                                     checkpoint.status().to_string());
  }
  auto text = co_await read_whole_file(folder_dir + kLogName);
  if (text.ok()) {
    found = true;
    log->log_size_ = replay(*state, *text, seq, &seq);
  } else if (text.status().error_number != ENOENT) {
    co_return absl::UnavailableError("cannot read " + folder_dir + kLogName + ": " + text.status().to_string());
  }
  if (!found) {
    *presence = index_presence::missing;
    co_return std::unique_ptr<folder_log>();
  }
  if (state->uid_validity == 0) {
    // A log whose first records were lost with a damaged checkpoint: not trustworthy.
    *presence = index_presence::damaged;
    co_return std::unique_ptr<folder_log>();
  }
  // Appends go after the last valid record; a torn tail beyond it is overwritten.
  auto f = co_await file::open(folder_dir + kLogName, O_WRONLY | O_CREAT, 0600);
  if (!f.ok()) co_return absl::UnavailableError("cannot open " + folder_dir + kLogName + ": " + f.status().to_string());
  log->log_ = std::move(*f);
  log->appended_seq_ = log->durable_seq_ = seq;
  *presence = index_presence::loaded;
  co_return log;
}

task<absl::StatusOr<std::unique_ptr<folder_log>>> folder_log::create(std::string folder_dir, index_options options,
                                                                     folder_state* state) {
  auto log = std::make_unique<folder_log>(folder_dir, options, state);
  io_status st = co_await log->write_checkpoint(0);
  if (!st.ok()) co_return absl::UnavailableError("cannot write the index of " + folder_dir + ": " + st.to_string());
  co_return log;
}

uint64_t folder_log::append(const change& c) {
  pending_ += encode_record(++appended_seq_, c);
  return appended_seq_;
}

task<io_status> folder_log::commit() {
  const uint64_t want = appended_seq_;
  while (durable_seq_ < want) {
    if (broken_) co_return last_failure_;
    if (flushing_) {
      // A flush is in flight; it may not cover our records (they may have been appended
      // after it took the batch): wait for it, then look again.
      co_await flushed_.wait();
      continue;
    }
    flushing_ = true;
    const bool big = log_size_ + pending_.size() > options_.checkpoint_bytes;
    io_status st = co_await flush_once(big);
    flushing_ = false;
    if (!st.ok()) {
      broken_ = true;
      last_failure_ = st;
    }
    flushed_.notify_all();
  }
  co_return broken_ ? last_failure_ : io_status::success();
}

task<io_status> folder_log::checkpoint() {
  while (flushing_) co_await flushed_.wait();
  if (broken_) co_return last_failure_;
  flushing_ = true;
  io_status st = co_await flush_once(true);
  flushing_ = false;
  if (!st.ok()) {
    broken_ = true;
    last_failure_ = st;
  }
  flushed_.notify_all();
  co_return st;
}

task<io_status> folder_log::flush_once(bool force_checkpoint) {
  // Taken together and synchronously: the state now reflects exactly the records up to
  // `upto`, so a checkpoint of it stands for them.
  const uint64_t upto = appended_seq_;
  if (force_checkpoint) {
    pending_.clear();
    co_return co_await write_checkpoint(upto);
  }
  std::string batch = std::exchange(pending_, {});
  io_status st = co_await log_.write_at(batch, log_size_);
  if (!st.ok()) co_return st;
  log_size_ += batch.size();
  if (options_.fsync) {
    st = co_await log_.data_sync();
    ++syncs_;
    if (!st.ok()) co_return st;
  }
  durable_seq_ = upto;
  co_return io_status::success();
}

task<io_status> folder_log::write_checkpoint(uint64_t upto) {
  std::string bytes = encode_checkpoint(*state_, upto);
  io_status st = co_await replace_file(dir_ + kCheckpointName, std::move(bytes), options_.fsync);
  if (!st.ok()) co_return st;
  // Only now may the old log go: a new, empty one replaces it atomically.
  if (log_.is_open()) co_await log_.close();
  const std::string log_path = dir_ + kLogName;
  st = co_await replace_file(log_path, std::string(), options_.fsync);
  if (!st.ok()) co_return st;
  auto f = co_await file::open(log_path, O_WRONLY | O_CREAT, 0600);
  if (!f.ok()) co_return f.status();
  log_ = std::move(*f);
  log_size_ = 0;
  durable_seq_ = upto;
  appended_seq_ = std::max(appended_seq_, upto);
  syncs_ += 2;
  co_return io_status::success();
}

}  // namespace ringmail::mailstore
