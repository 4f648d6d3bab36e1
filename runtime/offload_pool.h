// offload_pool: threads for work that must never run on a shard: password hashing
// (bcrypt/argon2 cost tens of milliseconds), Hyperscan compiles, blocking library calls.
//
//   int r = co_await offload(pool, [&] { return expensive(); });
//
// With g++ 12, pass a named lambda (auto f = [x] {...}; co_await offload(pool, std::move(f)))
// when its captures own memory: a lambda temporary inside the co_await expression is
// destroyed twice by that compiler. Capture-by-reference temporaries are harmless.
//
// The coroutine hops to a pool thread, runs the function there, and hops back to the
// shard it came from, so everything after the co_await runs on its own shard again.
// The queue is guarded by a mutex: offloaded jobs cost milliseconds, so a lock costing
// nanoseconds is not on any hot path, and it lets idle workers sleep on a condvar.
#pragma once

#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "runtime/reactor.h"
#include "runtime/task.h"

namespace ringmail {

class offload_pool {
 public:
  explicit offload_pool(unsigned threads);
  ~offload_pool();  // finishes queued work, then joins
  offload_pool(const offload_pool&) = delete;
  offload_pool& operator=(const offload_pool&) = delete;

  // Any thread.
  void post(remote_work* w);
  unsigned size() const { return static_cast<unsigned>(threads_.size()); }

 private:
  void worker();
  std::mutex mutex_;
  std::condition_variable cv_;
  remote_work* head_ = nullptr;
  remote_work* tail_ = nullptr;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

namespace detail {

// Suspends the coroutine and resumes it on another executor (a reactor or the pool).
template <typename Executor>
struct hop_awaiter : remote_work {
  Executor* target;
  std::coroutine_handle<> handle;
  explicit hop_awaiter(Executor* t) : target(t) {}
  bool await_ready() const noexcept {
    if constexpr (std::is_same_v<Executor, reactor>) return target == reactor::current();
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) {
    handle = h;
    run = [](remote_work* w) { static_cast<hop_awaiter*>(w)->handle.resume(); };
    // After post() another thread may already be running the coroutine: touch nothing.
    target->post(this);
  }
  void await_resume() const noexcept {}
};

template <typename T>
struct unwrap_task {
  using type = T;
  static constexpr bool is_task = false;
};
template <typename T>
struct unwrap_task<task<T>> {
  using type = T;
  static constexpr bool is_task = true;
};

// Runs fn (plain or returning a task) and hands back value or exception.
template <typename F, typename R = typename unwrap_task<std::invoke_result_t<F&>>::type>
struct invoke_outcome {
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> value{};
  std::exception_ptr failure;
};

}  // namespace detail

inline detail::hop_awaiter<reactor> resume_on(reactor& r) { return detail::hop_awaiter<reactor>(&r); }
inline detail::hop_awaiter<offload_pool> resume_on(offload_pool& p) { return detail::hop_awaiter<offload_pool>(&p); }

// Runs a plain function on the pool and returns its result on the calling shard.
template <typename F>
task<std::invoke_result_t<F&>> offload(offload_pool& pool, F fn) {
  using R = std::invoke_result_t<F&>;
  reactor* home = reactor::current();
  std::exception_ptr failure;
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> out{};
  co_await resume_on(pool);
  try {
    if constexpr (std::is_void_v<R>) {
      fn();
    } else {
      out.emplace(fn());
    }
  } catch (...) {
    failure = std::current_exception();
  }
  co_await resume_on(*home);
  if (failure) std::rethrow_exception(failure);
  if constexpr (!std::is_void_v<R>) co_return std::move(*out);
}

}  // namespace ringmail
