#include "delivery/mailstore/maildir_writer.h"

/* System library. */
#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>  // RENAME_NOREPLACE (glibc, _GNU_SOURCE)
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

/* Runtime. */
#include "runtime/file.h"
#include "runtime/file_trace.h"
#include "runtime/log.h"
#include "runtime/reactor.h"
#include "runtime/when_all.h"

namespace ringmail::mailstore {
namespace {

// Pieces smaller than this are gathered into one buffer and written with one write; a
// larger piece (the message body, usually) is written straight from the caller's memory.
// The usual delivery — two short header lines plus a message of a few KiB — is then one
// write SQE instead of three, at the price of copying at most 64 KiB; a large message
// costs one extra SQE and no copy. (file.h has no writev; several write_at calls at
// increasing offsets are the same thing to the file.)
constexpr size_t kGatherLimit = 64 * 1024;

// Attempts at a fresh unique name when one is taken (EEXIST). Names are unique by
// construction, so a second attempt means something odd (a clock step, a shared pid
// namespace); more than a handful means something broken.
constexpr int kNameAttempts = 5;

int error_of(const io_status& st) { return st.error_number != 0 ? st.error_number : EIO; }

std::string parent_dir(std::string_view p) {
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  size_t slash = p.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(p.substr(0, slash));
}

// renameat2(from, to, flags) through the ring; runtime/file.h's rename_path has no flags.
class rename_op : public op_awaiter<rename_op> {
 public:
  static constexpr bool kResultIsFd = false;
  rename_op(const char* from, const char* to, unsigned flags)
      : op_awaiter(no_deadline, nullptr), from_(from), to_(to), flags_(flags) {}
  void prepare(io_uring_sqe* s) { io_uring_prep_renameat(s, AT_FDCWD, from_, AT_FDCWD, to_, flags_); }
  int32_t await_resume() { return take_result(); }

 private:
  const char* from_;
  const char* to_;
  unsigned flags_;
};

// Writes the pieces back to back, gathering runs of small ones (see kGatherLimit).
task<io_status> write_pieces(file& out, const std::vector<std::string_view>& pieces) {
  std::string gathered;
  uint64_t offset = 0;
  auto flush = [&]() -> task<io_status> {
    if (gathered.empty()) co_return io_status::success();
    io_status st = co_await out.write_at(std::span<const char>(gathered.data(), gathered.size()), offset);
    offset += gathered.size();
    gathered.clear();
    co_return st;
  };
  for (std::string_view p : pieces) {
    if (p.empty()) continue;
    if (p.size() < kGatherLimit && gathered.size() + p.size() <= kGatherLimit) {
      gathered.append(p);
      continue;
    }
    io_status st = co_await flush();
    if (!st.ok()) co_return st;
    if (p.size() < kGatherLimit) {
      gathered.append(p);
      continue;
    }
    st = co_await out.write_at(std::span<const char>(p.data(), p.size()), offset);
    if (!st.ok()) co_return st;
    offset += p.size();
  }
  co_return co_await flush();
}

delivery_result make_result(delivery_result::status st, const char* code, std::string reason) {
  delivery_result r;
  r.st = st;
  r.enhanced = code;
  r.reason = std::move(reason);
  return r;
}

}  // namespace

delivery_result result_from_errno(int err, std::string_view operation) {
  if (err < 0) err = -err;
  std::string reason = std::string("maildir delivery failed: ") + std::string(operation) + ": " + std::strerror(err);
  constexpr auto temp = delivery_result::temporary;
  switch (err) {
    case EAGAIN:
    case ESTALE:
    case EINTR:
    case EBUSY:
    case ETXTBSY: return make_result(temp, "4.2.0", std::move(reason));
    case ENOSPC: return make_result(temp, "4.3.1", std::move(reason));
    case EDQUOT: return make_result(temp, "4.2.2", std::move(reason));
    case EFBIG: return make_result(delivery_result::permanent, "5.2.3", std::move(reason));
    case EACCES:
    case EPERM:
    case ENOTDIR:
    case EISDIR:
    case ELOOP:
    case ENOENT:
    case EEXIST:
    case EXDEV:
    case EMLINK: return make_result(temp, "4.2.0", std::move(reason));
    case ENAMETOOLONG: return make_result(temp, "4.3.5", std::move(reason));
    case EIO:
    case EROFS:
    case EUCLEAN:
    case ENOMEM:
    case ENOBUFS:
    case EMFILE:
    case ENFILE:
    case ECANCELED:
    case ETIMEDOUT:
    case ETIME: return make_result(temp, "4.3.0", std::move(reason));
    default: return make_result(temp, "4.2.0", std::move(reason));
  }
}

// ---- waiter lists ------------------------------------------------------------------------

void maildir_writer::waiter_list::push_back(sync_waiter* w) {
  w->list = this;
  w->next = nullptr;
  w->prev = tail;
  if (tail != nullptr) {
    tail->next = w;
  } else {
    head = w;
  }
  tail = w;
}

void maildir_writer::waiter_list::remove(sync_waiter* w) {
  if (w->prev != nullptr) {
    w->prev->next = w->next;
  } else {
    head = w->next;
  }
  if (w->next != nullptr) {
    w->next->prev = w->prev;
  } else {
    tail = w->prev;
  }
  w->prev = w->next = nullptr;
  w->list = nullptr;
}

maildir_writer::sync_waiter* maildir_writer::waiter_list::pop_front() {
  sync_waiter* w = head;
  if (w != nullptr) remove(w);
  return w;
}

void maildir_writer::waiter_list::take_all(waiter_list& from) {
  while (sync_waiter* w = from.pop_front()) push_back(w);
}

// ---- group commit --------------------------------------------------------------------------

struct maildir_writer::sync_awaiter {
  maildir_writer* writer;
  const std::string* dir;
  sync_waiter node;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    node.handle = h;
    writer->join_sync(*dir, node);
  }
  io_status await_resume() const { return node.result; }
};

task<io_status> maildir_writer::sync_directory(std::string dir) {
  co_return co_await sync_awaiter{this, &dir, {}};
}

// Called from await_suspend, after the caller's rename (or mkdir) has completed. No
// completion can run between here and the suspension (completions are processed only by
// the reactor loop), so joining and suspending are one step.
void maildir_writer::join_sync(const std::string& dir, sync_waiter& w) {
  auto [it, inserted] = syncs_.try_emplace(dir);
  if (inserted) {
    it->second = std::make_unique<dir_sync>();
    dir_sync& d = *it->second;
    d.owner = this;
    d.path = dir;
    d.current.push_back(&w);
    submit_open(d);
    return;
  }
  dir_sync& d = *it->second;
  // Before the fsync is submitted it will certainly start after us: ride along. After,
  // it may have started before our rename: wait for the next one.
  if (!d.fsync_submitted) {
    d.current.push_back(&w);
  } else {
    d.next.push_back(&w);
  }
}

void maildir_writer::submit_open(dir_sync& d) {
  reactor& r = *reactor::current();
  io_op* op = r.acquire_op();
  op->on_complete = &on_open_done;
  op->context = &d;
  op->result_is_fd = true;  // if orphaned, the completion closes the descriptor
  io_uring_sqe* s = r.sqe();
  io_uring_prep_openat(s, AT_FDCWD, d.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  io_uring_sqe_set_data(s, op);
  d.op = op;
  d.fsync_submitted = false;
}

void maildir_writer::submit_fsync(dir_sync& d) {
  reactor& r = *reactor::current();
  io_op* op = r.acquire_op();
  op->on_complete = &on_fsync_done;
  op->context = &d;
  // Crash-consistency tests record this raw fsync like file::sync (runtime/file_trace.h).
  if (file_trace* t = file_trace::current()) t->sync_submitted(d.fd);
  io_uring_sqe* s = r.sqe();
  io_uring_prep_fsync(s, d.fd, 0);
  io_uring_sqe_set_data(s, op);
  d.op = op;
  d.fsync_submitted = true;
  ++directory_syncs_;
}

void maildir_writer::on_open_done(io_op& op, int32_t res, uint32_t) {
  dir_sync& d = *static_cast<dir_sync*>(op.context);
  reactor::current()->release_op(&op);
  d.op = nullptr;
  if (res < 0) {
    d.owner->finish_batch(d, io_status::from_errno(res));
    return;
  }
  d.fd = res;
  if (file_trace* t = file_trace::current()) t->opened(res, d.path, O_RDONLY | O_DIRECTORY);
  d.owner->submit_fsync(d);
}

void maildir_writer::on_fsync_done(io_op& op, int32_t res, uint32_t) {
  dir_sync& d = *static_cast<dir_sync*>(op.context);
  reactor::current()->release_op(&op);
  d.op = nullptr;
  if (file_trace* t = file_trace::current()) t->synced(d.fd, false, res);
  d.owner->finish_batch(d, res < 0 ? io_status::from_errno(res) : io_status::success());
}

void maildir_writer::finish_batch(dir_sync& d, io_status st) {
  waiter_list done;
  done.take_all(d.current);
  if (!d.next.empty()) {
    // One fsync for everyone who renamed while the last one was in flight.
    d.current.take_all(d.next);
    if (d.fd >= 0) {
      submit_fsync(d);
    } else {
      submit_open(d);  // the open failed: the next batch tries again
    }
  } else {
    if (d.fd >= 0) {
      ::close(d.fd);  // a read-only directory descriptor: no I/O on close
      if (file_trace* t = file_trace::current()) t->closed(d.fd);
    }
    syncs_.erase(syncs_.find(d.path));  // d is gone from here on
  }
  // Resume last: a resumed delivery may come straight back with another sync, which
  // must see the state above, not a half-updated one. If resuming one waiter destroys
  // another's frame, that waiter unlinks itself from `done`.
  while (sync_waiter* w = done.pop_front()) {
    w->result = st;
    w->handle.resume();
  }
}

maildir_writer::maildir_writer(writer_options options)
    : options_(std::move(options)), namer_(options_.hostname, options_.shard_id) {}

maildir_writer::~maildir_writer() {
  // Deliveries still waiting here outlived their writer (a bug in the caller): detach
  // them so their frames never touch freed lists, and let in-flight operations complete
  // into a handler that only cleans up.
  for (auto& [path, d] : syncs_) {
    if (d->op != nullptr) {
      d->op->context = nullptr;
      d->op->on_complete = [](io_op& o, int32_t res, uint32_t) {
        if (o.result_is_fd && res >= 0) ::close(res);
        reactor::current()->release_op(&o);
      };
    }
    if (d->fd >= 0) {
      ::close(d->fd);
      if (file_trace* t = file_trace::current()) t->closed(d->fd);
    }
    while (d->current.pop_front() != nullptr) {
    }
    while (d->next.pop_front() != nullptr) {
    }
  }
}

// ---- delivery ---------------------------------------------------------------------------

// Makes the entries of `dir` and of every directory above it durable. Used only after
// ensure_maildir had to run (first delivery to a mailbox): directories this or another
// shard just created must not vanish in a crash after our 250, and we cannot tell which
// mkdir was whose, so the whole chain is synced (a handful of mostly clean directories,
// concurrently, through the group commit).
task<io_status> maildir_writer::sync_chain(std::string dir) {
  std::vector<task<io_status>> syncs;
  for (std::string d = dir;; d = parent_dir(d)) {
    syncs.push_back(sync_directory(d));
    if (d == "/" || d == ".") break;
  }
  auto results = co_await when_all(std::move(syncs));
  for (const io_status& st : results) {
    if (!st.ok()) co_return st;
  }
  co_return io_status::success();
}

task<io_status> maildir_writer::rename_into_new(const std::string& from, const std::string& to) {
  if (noreplace_works_) {
    int32_t res = co_await rename_op(from.c_str(), to.c_str(), RENAME_NOREPLACE);
    if (file_trace* t = file_trace::current(); t != nullptr && res >= 0) t->renamed(from, to);
    if (res != -EINVAL) co_return res < 0 ? io_status::from_errno(res) : io_status::success();
    // The filesystem cannot do RENAME_NOREPLACE: unique names alone must do.
    noreplace_works_ = false;
    log::warn("maildir_rename_noreplace_unsupported", {{"path", to}});
  }
  co_return co_await rename_path(from, to);
}

task<delivery_result> maildir_writer::deliver(std::string maildir, std::string_view folder,
                                              std::vector<std::string_view> pieces) {
  auto dir = folder_path(maildir, folder);
  if (!dir.ok()) {
    co_return make_result(delivery_result::permanent, "5.2.0",
                          std::string("maildir delivery failed: ") + std::string(dir.status().message()));
  }
  const uint64_t size = total_size(pieces);
  const uint64_t vsize = virtual_size(pieces);

  auto fail = [&](io_status st, const char* operation, const std::string& path) {
    delivery_result r = result_from_errno(error_of(st), operation);
    log::warn("maildir_delivery_failed", {{"op", operation}, {"path", path}, {"error", st.to_string()},
                                          {"dsn", r.enhanced}});
    return r;
  };
  // The first time a directory is missing: create the folder, make the new entries
  // durable, and try again; a second time is an error.
  bool prepared = false;
  auto prepare = [&]() -> task<io_status> {
    prepared = true;
    io_status st = co_await ensure_maildir(*dir, options_.dir_mode);
    if (st.ok() && options_.fsync) st = co_await sync_chain(*dir);
    co_return st;
  };

  // 1. tmp/<unique>, exclusively.
  std::string name;
  std::string tmp_path;
  file out;
  for (int attempt = 1;; ++attempt) {
    name = namer_.next(size, vsize);
    tmp_path = *dir + "/tmp/" + name;
    auto opened = co_await file::open(tmp_path, O_CREAT | O_EXCL | O_WRONLY, options_.file_mode);
    if (opened.ok()) {
      out = std::move(*opened);
      break;
    }
    int err = error_of(opened.status());
    if (err == ENOENT && !prepared) {
      io_status st = co_await prepare();
      if (!st.ok()) co_return fail(st, "create maildir", *dir);
      continue;
    }
    if (err == EEXIST && attempt < kNameAttempts) continue;
    co_return fail(opened.status(), "create tmp file", tmp_path);
  }

  // 2-4. write, fsync, close; on any failure the tmp file goes.
  io_status st = co_await write_pieces(out, pieces);
  const char* failed = st.ok() ? nullptr : "write";
  if (failed == nullptr && options_.fsync) {
    st = co_await out.sync();
    if (!st.ok()) failed = "fsync";
  }
  io_status closed = co_await out.close();
  if (failed == nullptr && !closed.ok()) {
    st = closed;
    failed = "close";
  }
  if (failed != nullptr) {
    co_await unlink_path(tmp_path);
    co_return fail(st, failed, tmp_path);
  }

  // 5. into new/, never over an existing name.
  std::string new_path;
  for (int attempt = 1;; ++attempt) {
    new_path = *dir + "/new/" + name;
    st = co_await rename_into_new(tmp_path, new_path);
    if (st.ok()) break;
    int err = error_of(st);
    if (err == EEXIST && attempt < kNameAttempts) {
      name = namer_.next(size, vsize);
      continue;
    }
    if (err == ENOENT && !prepared) {  // new/ removed under us
      io_status made = co_await prepare();
      if (made.ok()) continue;
      st = made;
    }
    co_await unlink_path(tmp_path);
    co_return fail(st, "rename into new", new_path);
  }

  // 6. the directory entry, shared with every delivery that renamed meanwhile.
  if (options_.fsync) {
    st = co_await sync_directory(*dir + "/new");
    if (!st.ok()) {
      // Not known durable, so the sender must retry; take the copy back so the retry
      // does not make a duplicate.
      co_await unlink_path(new_path);
      co_return fail(st, "fsync new", *dir + "/new");
    }
  }
  ++deliveries_;
  delivery_result r = make_result(delivery_result::ok, "2.0.0", "delivered to maildir");
  r.path = std::move(new_path);
  co_return r;
}

}  // namespace ringmail::mailstore
