// File operations through the ring (DESIGN.md: "File I/O goes through io_uring"), so a
// shard never blocks on the disk. Used by delivery (Maildir: tmp -> fsync -> rename ->
// fsync dir), the queue and the mail store.
//
// Buffers passed to read_at/write_at must outlive the operation. Cancelling through a
// cancel_source is safe (the coroutine resumes after the kernel is done with the buffer);
// destroying a coroutine frame that owns a buffer with a file read in flight is not.
#pragma once

#include <fcntl.h>
#include <linux/stat.h>
#include <sys/stat.h>

#include <span>
#include <string_view>
#include <string>

#include "runtime/io_status.h"
#include "runtime/task.h"

namespace ringmail {

class file {
 public:
  file() = default;
  explicit file(int fd) : fd_(fd) {}
  file(file&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  file& operator=(file&& o) noexcept;
  file(const file&) = delete;
  file& operator=(const file&) = delete;
  ~file();  // closes synchronously if close() was not awaited

  // openat(2) relative to dir_fd (AT_FDCWD: the working directory).
  static task<io_result<file>> open(std::string path, int flags, mode_t mode = 0600, int dir_fd = AT_FDCWD);

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }

  // Reads up to out.size() bytes at offset; 0 at end of file.
  task<io_result<size_t>> read_at(std::span<char> out, uint64_t offset);
  // Writes all of `in` at offset (looping on short writes).
  task<io_status> write_at(std::span<const char> in, uint64_t offset);
  // Writes the concatenation of `pieces` at offset with one writev per round (looping on
  // short writes): one request instead of one per piece, which matters where each write
  // of a buffered file goes to an io-wq worker. The pieces must stay valid until done.
  task<io_status> write_all_at(std::span<const std::string_view> pieces, uint64_t offset);
  task<io_status> sync();       // fsync: data and metadata
  task<io_status> data_sync();  // fdatasync
  task<io_result<struct statx>> stat();
  task<io_status> close();

 private:
  int fd_ = -1;
};

task<io_status> rename_path(std::string from, std::string to);
task<io_status> link_path(std::string existing, std::string new_path);
task<io_status> unlink_path(std::string path);
task<io_status> remove_directory(std::string path);
task<io_status> make_directory(std::string path, mode_t mode = 0700);
task<io_result<struct statx>> stat_path(std::string path);

}  // namespace ringmail
