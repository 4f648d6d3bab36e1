#include "runtime/file.h"

#include <sys/uio.h>
#include <unistd.h>

#include <vector>

#include "runtime/file_trace.h"
#include "runtime/reactor.h"

namespace ringmail {
namespace {

// One awaitable for every file operation: the preparation is a small lambda.
template <typename Prep, bool ResultIsFd = false>
class file_op : public op_awaiter<file_op<Prep, ResultIsFd>> {
 public:
  static constexpr bool kResultIsFd = ResultIsFd;
  explicit file_op(Prep prep) : op_awaiter<file_op<Prep, ResultIsFd>>(no_deadline, nullptr), prep_(std::move(prep)) {}
  void prepare(io_uring_sqe* s) { prep_(s); }
  int32_t await_resume() { return this->take_result(); }

 private:
  Prep prep_;
};

template <bool ResultIsFd = false, typename Prep>
file_op<Prep, ResultIsFd> run_op(Prep prep) {
  return file_op<Prep, ResultIsFd>(std::move(prep));
}

io_status status_of(int32_t res) { return res < 0 ? io_status::from_errno(res) : io_status::success(); }

// The crash-consistency recorder of this shard (runtime/file_trace.h), nearly always null.
// Every mutation below records itself at completion, and only if it succeeded.
file_trace* recorder() {
  reactor* r = reactor::current();
  return r != nullptr ? r->file_recorder() : nullptr;
}

// A synchronous close (destructor, move-assignment) frees the descriptor number too.
void close_now(int fd) {
  ::close(fd);
  if (file_trace* t = recorder()) t->closed(fd);
}

}  // namespace

file& file::operator=(file&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close_now(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

file::~file() {
  if (fd_ >= 0) close_now(fd_);
}

task<io_result<file>> file::open(std::string path, int flags, mode_t mode, int dir_fd) {
  const char* p = path.c_str();
  int32_t res = co_await run_op<true>(
      [=](io_uring_sqe* s) { io_uring_prep_openat(s, dir_fd, p, flags | O_CLOEXEC, mode); });
  if (res < 0) co_return io_status::from_errno(res);
  if (file_trace* t = recorder()) t->opened(res, path, flags, dir_fd);
  co_return file(res);
}

task<io_result<size_t>> file::read_at(std::span<char> out, uint64_t offset) {
  int fd = fd_;
  int32_t res = co_await run_op(
      [=](io_uring_sqe* s) { io_uring_prep_read(s, fd, out.data(), static_cast<unsigned>(out.size()), offset); });
  if (res < 0) co_return io_status::from_errno(res);
  co_return static_cast<size_t>(res);
}

task<io_status> file::write_at(std::span<const char> in, uint64_t offset) {
  int fd = fd_;
  while (!in.empty()) {
    const char* data = in.data();
    unsigned len = static_cast<unsigned>(std::min<size_t>(in.size(), 1u << 30));
    int32_t res = co_await run_op([=](io_uring_sqe* s) { io_uring_prep_write(s, fd, data, len, offset); });
    if (res < 0) co_return io_status::from_errno(res);
    if (res == 0) co_return io_status::from_errno(EIO);
    if (file_trace* t = recorder()) t->wrote(fd, offset, std::span<const char>(data, static_cast<size_t>(res)));
    in = in.subspan(static_cast<size_t>(res));
    offset += static_cast<uint64_t>(res);
  }
  co_return io_status::success();
}

task<io_status> file::write_all_at(std::span<const std::string_view> pieces, uint64_t offset) {
  int fd = fd_;
  // IOV_MAX is 1024; more pieces go in further rounds.
  std::vector<iovec> iov;
  size_t first = 0;     // the first piece not fully written
  size_t skip = 0;      // bytes of pieces[first] already written
  while (first < pieces.size()) {
    iov.clear();
    for (size_t i = first; i < pieces.size() && iov.size() < 1024; ++i) {
      std::string_view p = pieces[i];
      if (i == first) p.remove_prefix(skip);
      if (p.empty()) continue;
      iov.push_back(iovec{const_cast<char*>(p.data()), p.size()});
    }
    if (iov.empty()) break;
    const iovec* vec = iov.data();
    const unsigned count = static_cast<unsigned>(iov.size());
    int32_t res = co_await run_op([=](io_uring_sqe* s) { io_uring_prep_writev(s, fd, vec, count, offset); });
    if (res < 0) co_return io_status::from_errno(res);
    if (res == 0) co_return io_status::from_errno(EIO);
    // Advance past what was written, telling the trace recorder piece by piece.
    size_t left = static_cast<size_t>(res);
    while (left > 0 && first < pieces.size()) {
      std::string_view p = pieces[first].substr(skip);
      const size_t n = std::min(left, p.size());
      if (file_trace* t = recorder(); t != nullptr && n > 0) t->wrote(fd, offset, std::span<const char>(p.data(), n));
      offset += n;
      left -= n;
      if (n == p.size()) {
        ++first;
        skip = 0;
      } else {
        skip += n;
      }
    }
    while (first < pieces.size() && pieces[first].size() == skip) {
      ++first;
      skip = 0;
    }
  }
  co_return io_status::success();
}

task<io_status> file::sync() {
  int fd = fd_;
  if (file_trace* t = recorder()) t->sync_submitted(fd);
  int32_t res = co_await run_op([=](io_uring_sqe* s) { io_uring_prep_fsync(s, fd, 0); });
  if (file_trace* t = recorder()) t->synced(fd, false, res);
  co_return status_of(res);
}

task<io_status> file::data_sync() {
  int fd = fd_;
  if (file_trace* t = recorder()) t->sync_submitted(fd);
  int32_t res = co_await run_op([=](io_uring_sqe* s) { io_uring_prep_fsync(s, fd, IORING_FSYNC_DATASYNC); });
  if (file_trace* t = recorder()) t->synced(fd, true, res);
  co_return status_of(res);
}

task<io_result<struct statx>> file::stat() {
  struct statx st {};
  int fd = fd_;
  struct statx* out = &st;
  int32_t res = co_await run_op(
      [=](io_uring_sqe* s) { io_uring_prep_statx(s, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, out); });
  if (res < 0) co_return io_status::from_errno(res);
  co_return st;
}

task<io_status> file::close() {
  if (fd_ < 0) co_return io_status::success();
  int fd = std::exchange(fd_, -1);
  int32_t res = co_await run_op([=](io_uring_sqe* s) { io_uring_prep_close(s, fd); });
  // Even a failed close frees the descriptor (close(2), Linux).
  if (file_trace* t = recorder()) t->closed(fd);
  co_return status_of(res);
}

task<io_status> rename_path(std::string from, std::string to) {
  const char* a = from.c_str();
  const char* b = to.c_str();
  int32_t res = co_await run_op([=](io_uring_sqe* s) { io_uring_prep_renameat(s, AT_FDCWD, a, AT_FDCWD, b, 0); });
  if (file_trace* t = recorder(); t != nullptr && res >= 0) t->renamed(from, to);
  co_return status_of(res);
}

task<io_status> link_path(std::string existing, std::string new_path) {
  const char* a = existing.c_str();
  const char* b = new_path.c_str();
  int32_t res = co_await run_op([=](io_uring_sqe* s) { io_uring_prep_linkat(s, AT_FDCWD, a, AT_FDCWD, b, 0); });
  if (file_trace* t = recorder(); t != nullptr && res >= 0) t->linked(existing, new_path);
  co_return status_of(res);
}

task<io_status> unlink_path(std::string path) {
  const char* p = path.c_str();
  int32_t res = co_await run_op([=](io_uring_sqe* s) { io_uring_prep_unlinkat(s, AT_FDCWD, p, 0); });
  if (file_trace* t = recorder(); t != nullptr && res >= 0) t->unlinked(path);
  co_return status_of(res);
}

task<io_status> remove_directory(std::string path) {
  const char* p = path.c_str();
  int32_t res = co_await run_op([=](io_uring_sqe* s) { io_uring_prep_unlinkat(s, AT_FDCWD, p, AT_REMOVEDIR); });
  if (file_trace* t = recorder(); t != nullptr && res >= 0) t->removed_directory(path);
  co_return status_of(res);
}

task<io_status> make_directory(std::string path, mode_t mode) {
  const char* p = path.c_str();
  int32_t res = co_await run_op([=](io_uring_sqe* s) { io_uring_prep_mkdirat(s, AT_FDCWD, p, mode); });
  if (file_trace* t = recorder(); t != nullptr && res >= 0) t->made_directory(path);
  co_return status_of(res);
}

task<io_result<struct statx>> stat_path(std::string path) {
  struct statx st {};
  const char* p = path.c_str();
  struct statx* out = &st;
  int32_t res = co_await run_op(
      [=](io_uring_sqe* s) { io_uring_prep_statx(s, AT_FDCWD, p, 0, STATX_BASIC_STATS, out); });
  if (res < 0) co_return io_status::from_errno(res);
  co_return st;
}

}  // namespace ringmail
