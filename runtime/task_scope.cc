#include "runtime/task_scope.h"

#include <exception>

#include "runtime/log.h"
#include "runtime/reactor.h"

namespace ringmail {

// Eager and self-destroying: the frame frees itself when the task ends.
struct task_scope::runner {
  struct promise_type {
    runner get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }  // run() catches everything
  };
};

task_scope::runner task_scope::run(task_scope* scope, task<void> t) {
  try {
    co_await t;
  } catch (const std::exception& e) {
    log::error("task_failed", {{"what", e.what()}});
  } catch (...) {
    log::error("task_failed", {{"what", "unknown exception"}});
  }
  scope->finished();
}

task_scope::~task_scope() {
  if (active_ != 0) log::error("task_scope_destroyed_with_active_tasks", {{"active", active_}});
}

void task_scope::spawn(task<void> t) {
  ++active_;
  run(this, std::move(t));
}

void task_scope::finished() {
  if (--active_ == 0 && !joiners_.empty()) {
    std::vector<std::coroutine_handle<>> waiting;
    waiting.swap(joiners_);
    // Resume from the loop: the finishing task's frame is still being torn down.
    for (auto h : waiting) reactor::current()->schedule(h);
  }
}

}  // namespace ringmail
