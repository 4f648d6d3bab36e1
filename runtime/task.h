// task<T>: the unit of work. Lazy (nothing runs until awaited or spawned), resumes its
// awaiter by symmetric transfer (no stack growth however deep the chain of co_awaits),
// and allocates nothing beyond its own coroutine frame.
//
// Exceptions are for bugs (STYLE.md): an exception escaping a task is carried to its
// awaiter and rethrown there; a detached task (spawn) catches and logs it at its boundary.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace ringmail {

template <typename T = void>
class task;

namespace detail {

struct task_promise_base {
  std::coroutine_handle<> continuation_ = std::noop_coroutine();
  std::exception_ptr exception_;

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> self) noexcept {
      return self.promise().continuation_;
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }
};

template <typename T>
struct task_promise : task_promise_base {
  std::optional<T> value_;

  task<T> get_return_object() noexcept;
  template <typename U>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) {
    value_.emplace(std::forward<U>(v));
  }
  T take_result() {
    if (exception_) std::rethrow_exception(exception_);
    return std::move(*value_);
  }
};

template <>
struct task_promise<void> : task_promise_base {
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take_result() {
    if (exception_) std::rethrow_exception(exception_);
  }
};

}  // namespace detail

template <typename T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : handle_(h) {}
  task(task&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      destroy();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  // Destroying a task that is suspended mid-I/O is allowed: the frames unwind and every
  // in-flight operation is orphaned (see io_op.h), so nothing leaks and nothing dangles.
  ~task() { destroy(); }

  bool valid() const noexcept { return static_cast<bool>(handle_); }
  bool done() const noexcept { return handle_ && handle_.done(); }

  struct awaiter {
    handle_type handle_;
    bool await_ready() const noexcept { return !handle_ || handle_.done(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
      handle_.promise().continuation_ = awaiting;
      return handle_;
    }
    T await_resume() { return handle_.promise().take_result(); }
  };
  awaiter operator co_await() && noexcept { return awaiter{handle_}; }
  awaiter operator co_await() & noexcept { return awaiter{handle_}; }

  // For spawn and tests: hand over ownership of the frame.
  handle_type release() noexcept { return std::exchange(handle_, nullptr); }
  handle_type handle() const noexcept { return handle_; }

 private:
  void destroy() noexcept {
    if (handle_) {
      handle_.destroy();
      handle_ = nullptr;
    }
  }
  handle_type handle_ = nullptr;
};

namespace detail {
template <typename T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<task_promise<void>>::from_promise(*this)};
}
}  // namespace detail

// Runs a task that never suspends — every co_await inside it completes at once, as over
// an in-memory zone (spam/dns/dns_client.h's static_dns_client) — to its end on the
// calling thread, without a reactor: for pure checks in tests, fuzz targets and offline
// tools. A task that did suspend is a bug of the caller: abort rather than hang.
template <typename T>
T run_inline(task<T> t) {
  t.handle().resume();
  if (!t.done()) std::terminate();
  return t.handle().promise().take_result();
}

}  // namespace ringmail
