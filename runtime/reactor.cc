#include "runtime/reactor.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/log.h"

namespace ringmail {
namespace {

// The reactor driving the calling thread. thread_local rather than global: each shard
// thread has its own, which is what makes "no global mutable state" hold.
thread_local reactor* t_current = nullptr;

constexpr size_t kOpChunk = 256;

struct setup_attempt {
  unsigned flags;
  const char* name;
};

// Fastest first. SINGLE_ISSUER + DEFER_TASKRUN (6.1) runs completion work only when we
// ask for events, so it never interrupts the shard; COOP_TASKRUN (5.19) avoids IPIs.
constexpr setup_attempt kAttempts[] = {
    {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "SINGLE_ISSUER|DEFER_TASKRUN"},
    {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
    {0, "plain"},
};

std::string explain_setup_failure(int err) {
  switch (err) {
    case ENOSYS:
      return "io_uring_setup is not implemented by this kernel (Linux 5.19 or newer with io_uring is required)";
    case EPERM:
      return "io_uring_setup was denied (EPERM): a seccomp filter (container runtime) or the "
             "kernel.io_uring_disabled sysctl forbids io_uring for this process";
    case ENOMEM:
      return "io_uring_setup failed with ENOMEM: the locked-memory limit (ulimit -l) is too low";
    default:
      return absl::StrCat("io_uring_setup failed: ", strerror(err));
  }
}

}  // namespace

reactor* reactor::current() { return t_current; }
void reactor::set_current_for_block_on(reactor* r) { t_current = r; }

reactor::reactor(unsigned shard_id) : shard_id_(shard_id) {}

absl::StatusOr<std::unique_ptr<reactor>> reactor::create(const reactor_options& options) {
  std::unique_ptr<reactor> r(new reactor(options.shard_id));
  int last_error = 0;
  const char* chosen = nullptr;
  for (const setup_attempt& a : kAttempts) {
    io_uring_params params{};
    params.flags = a.flags;
    int rc = io_uring_queue_init_params(options.ring_entries, &r->ring_, &params);
    if (rc == 0) {
      chosen = a.name;
      break;
    }
    last_error = -rc;
    // EINVAL means "flag not known here": try the next set. Anything else is final.
    if (last_error != EINVAL) break;
  }
  if (chosen == nullptr) return absl::UnavailableError(explain_setup_failure(last_error));

  io_uring_probe* probe = io_uring_get_probe_ring(&r->ring_);
  auto has = [&](int op) { return probe != nullptr && io_uring_opcode_supported(probe, op); };
  r->description_ = absl::StrCat("setup=", chosen, " accept=", has(IORING_OP_ACCEPT), " recv=", has(IORING_OP_RECV),
                                 " link_timeout=", has(IORING_OP_LINK_TIMEOUT), " statx=", has(IORING_OP_STATX),
                                 " renameat=", has(IORING_OP_RENAMEAT), " linkat=", has(IORING_OP_LINKAT),
                                 " msg_ring=", has(IORING_OP_MSG_RING), " socket=", has(IORING_OP_SOCKET));
  bool complete = has(IORING_OP_RECV) && has(IORING_OP_LINK_TIMEOUT) && has(IORING_OP_RENAMEAT) &&
                  has(IORING_OP_LINKAT) && has(IORING_OP_MKDIRAT) && has(IORING_OP_STATX);
  if (probe != nullptr) io_uring_free_probe(probe);
  if (!complete) {
    io_uring_queue_exit(&r->ring_);
    return absl::UnavailableError(
        absl::StrCat("this kernel's io_uring lacks operations ringmail needs (", r->description_, ")"));
  }

  auto buffers = buffer_ring::create(&r->ring_, 0, options.recv_buffer_count, options.recv_buffer_size);
  if (!buffers.ok()) {
    io_uring_queue_exit(&r->ring_);
    return buffers.status();
  }
  r->buffers_ = std::move(*buffers);

  r->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->wake_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  r->ready_.reserve(64);
  r->running_.reserve(64);
  r->arm_wakeup();
  return r;
}

reactor::~reactor() {
  buffers_.reset();
  io_uring_queue_exit(&ring_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

io_uring_sqe* reactor::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr) {
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

void reactor::reserve(unsigned n) {
  if (io_uring_sq_space_left(&ring_) < n) io_uring_submit(&ring_);
}

io_op* reactor::acquire_op() {
  if (free_ops_ == nullptr) {
    auto chunk = std::make_unique<io_op[]>(kOpChunk);
    for (size_t i = 0; i < kOpChunk; ++i) {
      chunk[i].next_free = free_ops_;
      free_ops_ = &chunk[i];
    }
    op_chunks_.push_back(std::move(chunk));
  }
  io_op* op = free_ops_;
  free_ops_ = op->next_free;
  *op = io_op{};
  ++ops_in_use_;
  return op;
}

void reactor::release_op(io_op* op) {
  if (op->canceller != nullptr) op->canceller->detach(*op);
  op->waiter = nullptr;
  op->on_complete = nullptr;
  op->next_free = free_ops_;
  free_ops_ = op;
  --ops_in_use_;
}

void reactor::cancel(io_op* op) {
  op->cancel_requested = true;
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel64(s, reinterpret_cast<uint64_t>(op), 0);
  io_uring_sqe_set_data64(s, 0);
}

void reactor::orphan(io_op* op) {
  if (op->canceller != nullptr) op->canceller->detach(*op);
  op->waiter = nullptr;
  op->on_complete = [](io_op& o, int32_t res, uint32_t flags) {
    reactor& r = *reactor::current();
    if (flags & IORING_CQE_F_BUFFER) r.buffers().take(res, flags);  // lease dies at once: recycled
    if (o.result_is_fd && res >= 0) ::close(res);
    if (!(flags & IORING_CQE_F_MORE)) r.release_op(&o);
  };
  cancel(op);
}

cancel_source::~cancel_source() {
  while (head_ != nullptr) detach(*head_);
}

void cancel_source::attach(io_op& op) {
  op.canceller = this;
  op.cancel_prev = nullptr;
  op.cancel_next = head_;
  if (head_ != nullptr) head_->cancel_prev = &op;
  head_ = &op;
}

void cancel_source::detach(io_op& op) {
  if (op.cancel_prev != nullptr) {
    op.cancel_prev->cancel_next = op.cancel_next;
  } else {
    head_ = op.cancel_next;
  }
  if (op.cancel_next != nullptr) op.cancel_next->cancel_prev = op.cancel_prev;
  op.canceller = nullptr;
  op.cancel_prev = op.cancel_next = nullptr;
}

void cancel_source::request_cancel() {
  if (requested_) return;
  requested_ = true;
  reactor* r = reactor::current();
  for (io_op* op = head_; op != nullptr; op = op->cancel_next) r->cancel(op);
}

void reactor::post(remote_work* w) {
  remote_work* old = remote_head_.load(std::memory_order_relaxed);
  do {
    w->next = old;
  } while (!remote_head_.compare_exchange_weak(old, w, std::memory_order_release, std::memory_order_relaxed));
  // Only the push that finds the list empty wakes the reactor: the reactor takes the
  // whole list at once, so every later push until then rides on this one wake-up.
  if (old == nullptr) {
    uint64_t one = 1;
    ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
    (void)ignored;
  }
}

void reactor::request_stop() {
  stop_requested_.store(true, std::memory_order_release);
  uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
  (void)ignored;
}

void reactor::arm_wakeup() {
  io_uring_sqe* s = sqe();
  io_uring_prep_read(s, wake_fd_, &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(s, kWakeTag);
}

void reactor::drain_remote() {
  remote_work* list = remote_head_.exchange(nullptr, std::memory_order_acquire);
  if (list == nullptr) return;
  // The list is newest-first; reverse it so work runs in the order it was posted.
  remote_work* ordered = nullptr;
  while (list != nullptr) {
    remote_work* next = list->next;
    list->next = ordered;
    ordered = list;
    list = next;
  }
  while (ordered != nullptr) {
    remote_work* next = ordered->next;
    ordered->run(ordered);  // may free `ordered` (it usually lives in a resumed frame)
    ordered = next;
  }
}

void reactor::run_ready() {
  // Swap so that coroutines scheduled while running go to the next round.
  running_.swap(ready_);
  for (std::coroutine_handle<> h : running_) h.resume();
  running_.clear();
}

void reactor::process_completions() {
  io_uring_cqe* cqes[256];
  for (;;) {
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, 256);
    if (n == 0) return;
    struct copied {
      uint64_t data;
      int32_t res;
      uint32_t flags;
    } batch[256];
    for (unsigned i = 0; i < n; ++i) batch[i] = {cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
    // Advance before resuming anything: a resumed coroutine may submit and reap again.
    io_uring_cq_advance(&ring_, n);
    completions_ += n;
    for (unsigned i = 0; i < n; ++i) {
      const copied& c = batch[i];
      if (c.data == 0) continue;
      if (c.data == kWakeTag) {
        arm_wakeup();
        continue;
      }
      io_op* op = reinterpret_cast<io_op*>(c.data);
      op->on_complete(*op, c.res, c.flags);
    }
    if (n < 256) return;
  }
}

// done == nullptr: run until request_stop(). Otherwise: until *done (block_on), which
// ignores stop requests so a test's task always finishes.
void reactor::loop_until(const bool* done) {
  reactor* previous = t_current;
  t_current = this;
  log::set_thread_shard(static_cast<int>(shard_id_));
  auto finished = [&] {
    return done != nullptr ? *done : stop_requested_.load(std::memory_order_acquire);
  };
  while (!finished()) {
    run_ready();
    drain_remote();
    if (finished()) break;
    if (!ready_.empty() || remote_head_.load(std::memory_order_relaxed) != nullptr) {
      io_uring_submit_and_get_events(&ring_);
    } else {
      int rc = io_uring_submit_and_wait(&ring_, 1);
      if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
        log::error("io_uring_enter_failed", {{"error", strerror(-rc)}});
      }
    }
    process_completions();
  }
  t_current = previous;
}

void reactor::run() {
  loop_until(nullptr);
}

}  // namespace ringmail
