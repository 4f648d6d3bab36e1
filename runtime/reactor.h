// reactor: one io_uring per shard thread, and the loop that drives it.
//
// Threading (stated per method, as Seastar's reactor_backend.hh does): everything here
// runs on the reactor's own thread except post() and request_stop(), which any thread
// may call. The ring is created with IORING_SETUP_SINGLE_ISSUER, so only the owning
// thread ever submits; other threads hand work over through an intrusive lock-free list
// and an eventfd wake-up, never by touching the ring.
//
// user_data packing: an io_op* for completions we act on, 0 for ones we ignore
// (linked timeouts, cancel requests), kWakeTag for the eventfd read.
#pragma once

#include <liburing.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/buffer_ring.h"
#include "runtime/io_op.h"
#include "runtime/task.h"

namespace ringmail {

class shard_set;
class file_trace;

struct reactor_options {
  unsigned shard_id = 0;
  unsigned ring_entries = 1024;
  unsigned recv_buffer_count = 1024;  // provided buffers per shard (power of two)
  unsigned recv_buffer_size = 16384;
};

// Work handed to a reactor from another thread. Lives in the sender's memory (usually a
// coroutine frame), so posting allocates nothing.
struct remote_work {
  remote_work* next = nullptr;
  void (*run)(remote_work*) = nullptr;
};

class reactor {
 public:
  // Sets up the ring, probing the fastest flags the kernel accepts. Fails with a message
  // naming the cause when io_uring is unavailable (old kernel, seccomp, sysctl).
  static absl::StatusOr<std::unique_ptr<reactor>> create(const reactor_options& options);
  ~reactor();
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;

  // The reactor running on the calling thread, or nullptr (offload threads, main).
  static reactor* current();
  // block_on starts its task before entering the loop; the task must see this reactor.
  static void set_current_for_block_on(reactor* r);

  unsigned shard_id() const { return shard_id_; }
  shard_set* shards() const { return shards_; }
  void set_shards(shard_set* s) { shards_ = s; }
  // One line describing the setup flags and probed features, for the start-up log.
  const std::string& describe() const { return description_; }

  // Runs the loop on the calling thread until request_stop(). Makes this reactor current.
  void run();
  // Runs the loop until `t` completes and returns its result (tests, tools, start-up).
  template <typename T>
  T block_on(task<T> t);
  // Any thread.
  void request_stop();
  // Any thread: `w->run(w)` will be called on this reactor's thread.
  void post(remote_work* w);
  // This thread: resume `h` on the next loop iteration (after pending completions).
  void schedule(std::coroutine_handle<> h) { ready_.push_back(h); }

  // Submission side, this thread only. sqe() never returns null: a full SQ is flushed.
  // reserve(n) makes sure the next n sqe() calls are contiguous (for linked pairs).
  io_uring_sqe* sqe();
  void reserve(unsigned n);
  io_op* acquire_op();
  void release_op(io_op* op);
  // Asks the kernel to cancel `op`; its CQE (with -ECANCELED, or the real result if it
  // won the race) still arrives and is handled by op->on_complete.
  void cancel(io_op* op);
  // Gives up on an op whose waiter is going away (see io_op.h).
  void orphan(io_op* op);

  buffer_ring& buffers() { return *buffers_; }
  uint64_t next_session_id() { return (uint64_t{shard_id_} << 56) | ++session_counter_; }
  uint64_t completions_processed() const { return completions_; }
  size_t ops_in_flight() const { return ops_in_use_; }

  // Crash-consistency tests only (runtime/file_trace.h): when set, the file layer records
  // every completed mutation here. Not owned; detach before destroying it.
  file_trace* file_recorder() const { return file_trace_; }
  void set_file_recorder(file_trace* t) { file_trace_ = t; }

 private:
  explicit reactor(unsigned shard_id);
  void arm_wakeup();
  void drain_remote();
  void run_ready();
  void process_completions();
  void loop_until(const bool* done);

  static constexpr uint64_t kWakeTag = 1;

  io_uring ring_{};
  unsigned shard_id_;
  shard_set* shards_ = nullptr;
  std::string description_;
  std::unique_ptr<buffer_ring> buffers_;

  std::vector<std::coroutine_handle<>> ready_;
  std::vector<std::coroutine_handle<>> running_;

  std::atomic<remote_work*> remote_head_{nullptr};
  int wake_fd_ = -1;
  uint64_t wake_value_ = 0;
  std::atomic<bool> stop_requested_{false};

  std::vector<std::unique_ptr<io_op[]>> op_chunks_;
  io_op* free_ops_ = nullptr;
  size_t ops_in_use_ = 0;
  uint64_t session_counter_ = 0;
  uint64_t completions_ = 0;
  file_trace* file_trace_ = nullptr;
};

namespace detail {
// A detached coroutine used by block_on: starts immediately, frees itself at the end.
struct fire_and_forget {
  struct promise_type {
    fire_and_forget get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};
}  // namespace detail

template <typename T>
T reactor::block_on(task<T> t) {
  bool done = false;
  std::exception_ptr failure;
  std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> result{};
  auto runner = [&](task<T> inner) -> detail::fire_and_forget {
    try {
      if constexpr (std::is_void_v<T>) {
        co_await inner;
      } else {
        result.emplace(co_await inner);
      }
    } catch (...) {
      failure = std::current_exception();
    }
    done = true;
  };
  reactor* previous = current();
  set_current_for_block_on(this);
  runner(std::move(t));
  loop_until(&done);
  set_current_for_block_on(previous);
  if (failure) std::rethrow_exception(failure);
  if constexpr (!std::is_void_v<T>) return std::move(*result);
}

// ---- awaitables -----------------------------------------------------------------------

using duration = std::chrono::milliseconds;
constexpr duration no_deadline{0};

// Base of every single-shot I/O awaitable. Derived supplies prepare(io_uring_sqe*).
// A deadline becomes a linked timeout; a cancel_source, if given, can cancel the op.
template <typename Derived>
class op_awaiter {
 public:
  op_awaiter(duration deadline, cancel_source* canceller) : deadline_(deadline), canceller_(canceller) {}
  op_awaiter(const op_awaiter&) = delete;
  op_awaiter& operator=(const op_awaiter&) = delete;
  ~op_awaiter() {
    if (op_ != nullptr) {
      reactor& r = *reactor::current();
      if (op_->completed) {
        r.release_op(op_);
      } else {
        r.orphan(op_);
      }
    }
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (canceller_ != nullptr && canceller_->cancel_requested()) {
      early_result_ = -ECANCELED;
      return false;
    }
    reactor& r = *reactor::current();
    op_ = r.acquire_op();
    op_->waiter = h;
    op_->on_complete = &resume_waiter;
    op_->result_is_fd = Derived::kResultIsFd;
    op_->has_deadline = deadline_.count() > 0;
    r.reserve(op_->has_deadline ? 2 : 1);
    io_uring_sqe* s = r.sqe();
    static_cast<Derived*>(this)->prepare(s);
    io_uring_sqe_set_data(s, op_);
    if (op_->has_deadline) {
      s->flags |= IOSQE_IO_LINK;
      timeout_.tv_sec = deadline_.count() / 1000;
      timeout_.tv_nsec = (deadline_.count() % 1000) * 1000000;
      io_uring_sqe* t = r.sqe();
      io_uring_prep_link_timeout(t, &timeout_, 0);
      io_uring_sqe_set_data64(t, 0);
    }
    if (canceller_ != nullptr) canceller_->attach(*op_);
    return true;
  }

 protected:
  // The raw CQE result: >= 0 success, negative errno. A fired deadline reads -ETIMEDOUT.
  int32_t take_result() {
    if (op_ == nullptr) return early_result_;
    int32_t res = op_->result;
    cqe_flags_ = op_->cqe_flags;
    if (res == -ECANCELED && !op_->cancel_requested && op_->has_deadline) res = -ETIMEDOUT;
    reactor::current()->release_op(op_);
    op_ = nullptr;
    return res;
  }
  uint32_t cqe_flags() const { return cqe_flags_; }
  static constexpr bool kResultIsFd = false;

 private:
  static void resume_waiter(io_op& op, int32_t res, uint32_t flags) {
    op.result = res;
    op.cqe_flags = flags;
    op.completed = true;
    if (op.canceller != nullptr) op.canceller->detach(op);
    op.waiter.resume();
  }

  duration deadline_;
  cancel_source* canceller_;
  io_op* op_ = nullptr;
  int32_t early_result_ = 0;
  uint32_t cqe_flags_ = 0;
  __kernel_timespec timeout_{};
};

// co_await sleep_for(duration): a ring timeout. Returns false if cancelled first.
class sleep_awaiter : public op_awaiter<sleep_awaiter> {
 public:
  sleep_awaiter(duration d, cancel_source* c) : op_awaiter(no_deadline, c) {
    ts_.tv_sec = d.count() / 1000;
    ts_.tv_nsec = (d.count() % 1000) * 1000000;
  }
  void prepare(io_uring_sqe* s) { io_uring_prep_timeout(s, &ts_, 0, 0); }
  bool await_resume() { return take_result() == -ETIME; }

 private:
  __kernel_timespec ts_{};
};
inline sleep_awaiter sleep_for(duration d, cancel_source* c = nullptr) { return sleep_awaiter(d, c); }

// Yields to the other ready coroutines and pending completions of this shard.
struct yield_awaiter {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { reactor::current()->schedule(h); }
  void await_resume() const noexcept {}
};
inline yield_awaiter yield() { return {}; }

}  // namespace ringmail
