// task_scope: the lifetime owner of detached coroutines (sessions, accept loops).
// spawn() starts a task and keeps count; join() waits until every spawned task has
// finished. A task that throws (a bug) is logged at this boundary and does not take the
// shard down. One scope belongs to one shard; it is not thread-safe.
#pragma once

#include <coroutine>
#include <cstddef>
#include <vector>

#include "runtime/task.h"

namespace ringmail {

class task_scope {
 public:
  task_scope() = default;
  task_scope(const task_scope&) = delete;
  task_scope& operator=(const task_scope&) = delete;
  ~task_scope();

  // Starts `t` now; it runs until its first suspension before spawn returns.
  void spawn(task<void> t);
  size_t active() const { return active_; }

  struct join_awaiter {
    task_scope* scope;
    bool await_ready() const noexcept { return scope->active_ == 0; }
    void await_suspend(std::coroutine_handle<> h) { scope->joiners_.push_back(h); }
    void await_resume() const noexcept {}
  };
  // Resumes once active() reaches zero.
  join_awaiter join() { return {this}; }

 private:
  struct runner;
  static runner run(task_scope* scope, task<void> t);
  void finished();

  size_t active_ = 0;
  std::vector<std::coroutine_handle<>> joiners_;
};

}  // namespace ringmail
