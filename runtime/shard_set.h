// shard_set: one thread per shard, each pinned to a core and running its own reactor,
// plus the offload pool they share. `co_await on_shard(n, fn)` runs fn on shard n.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/offload_pool.h"
#include "runtime/reactor.h"

namespace ringmail {

struct shard_options {
  unsigned shards = 0;  // 0: one per online core
  bool pin = true;      // pin shard i to the i-th allowed CPU
  unsigned offload_threads = 2;
  reactor_options reactor;
};

class shard_set {
 public:
  // Starts every shard and returns once all reactors are set up, or the first failure.
  static absl::StatusOr<std::unique_ptr<shard_set>> start(const shard_options& options);
  ~shard_set();  // stop() + join()

  unsigned size() const { return static_cast<unsigned>(reactors_.size()); }
  reactor& at(unsigned shard) { return *reactors_[shard]; }
  offload_pool& offload() { return *offload_; }

  // Any thread. Runs fn on the shard's thread (allocates: for set-up, not hot paths).
  void run_on(unsigned shard, std::function<void()> fn);
  // Any thread. Asks every reactor to leave its loop.
  void stop();
  // Waits for all shard threads to end.
  void join();

 private:
  shard_set() = default;
  std::vector<std::unique_ptr<reactor>> reactors_;
  std::vector<std::thread> threads_;
  std::unique_ptr<offload_pool> offload_;
};

// Runs fn on shard n and returns its result to the calling shard. fn may return a plain
// value or a task<T> (awaited on shard n). Exceptions travel back too.
template <typename F>
auto on_shard(unsigned n, F fn) -> task<typename detail::unwrap_task<std::invoke_result_t<F&>>::type> {
  using unwrap = detail::unwrap_task<std::invoke_result_t<F&>>;
  using R = typename unwrap::type;
  reactor* home = reactor::current();
  reactor* there = &home->shards()->at(n);
  std::exception_ptr failure;
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> out{};
  co_await resume_on(*there);
  try {
    if constexpr (unwrap::is_task) {
      if constexpr (std::is_void_v<R>) {
        co_await fn();
      } else {
        out.emplace(co_await fn());
      }
    } else if constexpr (std::is_void_v<R>) {
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

// From a thread that is not a shard (main, a tool, a test): runs make_task() on `shard`
// and blocks the caller until it finishes; returns its result (exceptions travel too).
template <typename F>
auto block_on_shard(shard_set& set, unsigned shard, F make_task) {
  using T = typename decltype(make_task())::value_type;
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  set.run_on(shard, [make_task, promise] {
    [](F f, std::shared_ptr<std::promise<T>> p) -> detail::fire_and_forget {
      try {
        if constexpr (std::is_void_v<T>) {
          co_await f();
          p->set_value();
        } else {
          p->set_value(co_await f());
        }
      } catch (...) {
        p->set_exception(std::current_exception());
      }
    }(make_task, promise);
  });
  return future.get();
}

// The shard that owns a key (a mailbox, a queue file): stable for a given shard count.
unsigned owner_shard(std::string_view key, unsigned shard_count);

}  // namespace ringmail
