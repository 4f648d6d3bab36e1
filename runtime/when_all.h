// when_all: run several tasks concurrently on the calling shard and resume when all are
// done. Results come back in order; the first exception (a bug) is rethrown after all
// have finished, so no task is left running with a dangling parent.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/task.h"

namespace ringmail {
namespace detail {

// Counts finished children; the last one to finish resumes the parent.
struct when_all_latch {
  size_t remaining;
  std::coroutine_handle<> parent;
  std::exception_ptr first_exception;
};

// A tiny eager coroutine that awaits one child and signals the latch.
struct when_all_child {
  struct promise_type {
    when_all_latch* latch = nullptr;
    when_all_child get_return_object() noexcept {
      return when_all_child{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        when_all_latch* l = h.promise().latch;
        if (--l->remaining == 0) return l->parent;
        return std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept {
      if (!latch->first_exception) latch->first_exception = std::current_exception();
    }
  };
  std::coroutine_handle<promise_type> handle;
  when_all_child(when_all_child&& o) noexcept : handle(std::exchange(o.handle, nullptr)) {}
  explicit when_all_child(std::coroutine_handle<promise_type> h) : handle(h) {}
  ~when_all_child() {
    if (handle) handle.destroy();
  }
};

template <typename T>
when_all_child run_child(task<T>& t, std::optional<T>& out) {
  out.emplace(co_await t);
}
inline when_all_child run_child(task<void>& t, std::optional<std::monostate>& out) {
  co_await t;
  out.emplace();
}

template <typename T>
using slot_t = std::optional<std::conditional_t<std::is_void_v<T>, std::monostate, T>>;

template <typename T>
using result_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// Starts every child, then suspends the parent until the latch reaches zero.
struct when_all_awaiter {
  std::vector<when_all_child>* children;
  when_all_latch* latch;
  bool await_ready() const noexcept { return children->empty(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> parent) noexcept {
    latch->parent = parent;
    latch->remaining = children->size() + 1;  // +1: our own reference while starting
    for (auto& c : *children) {
      c.handle.promise().latch = latch;
      c.handle.resume();
    }
    if (--latch->remaining == 0) return parent;
    return std::noop_coroutine();
  }
  void await_resume() const noexcept {}
};

}  // namespace detail

// Vector form: all tasks of one type.
template <typename T>
task<std::vector<detail::result_t<T>>> when_all(std::vector<task<T>> tasks) {
  std::vector<detail::slot_t<T>> slots(tasks.size());
  std::vector<detail::when_all_child> children;
  children.reserve(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) children.push_back(detail::run_child(tasks[i], slots[i]));
  detail::when_all_latch latch{0, nullptr, nullptr};
  co_await detail::when_all_awaiter{&children, &latch};
  if (latch.first_exception) std::rethrow_exception(latch.first_exception);
  std::vector<detail::result_t<T>> results;
  results.reserve(slots.size());
  for (auto& s : slots) results.push_back(std::move(*s));
  co_return results;
}

// Variadic form: tasks of different types; void results become std::monostate.
template <typename... Ts>
task<std::tuple<detail::result_t<Ts>...>> when_all(task<Ts>... tasks) {
  std::tuple<task<Ts>...> owned(std::move(tasks)...);
  std::tuple<detail::slot_t<Ts>...> slots;
  std::vector<detail::when_all_child> children;
  children.reserve(sizeof...(Ts));
  [&]<size_t... I>(std::index_sequence<I...>) {
    (children.push_back(detail::run_child(std::get<I>(owned), std::get<I>(slots))), ...);
  }(std::index_sequence_for<Ts...>{});
  detail::when_all_latch latch{0, nullptr, nullptr};
  co_await detail::when_all_awaiter{&children, &latch};
  if (latch.first_exception) std::rethrow_exception(latch.first_exception);
  co_return [&]<size_t... I>(std::index_sequence<I...>) {
    return std::tuple<detail::result_t<Ts>...>(std::move(*std::get<I>(slots))...);
  }(std::index_sequence_for<Ts...>{});
}

}  // namespace ringmail
