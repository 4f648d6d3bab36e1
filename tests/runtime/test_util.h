// Helpers for runtime tests: a reactor on the test thread, and running a task on a shard
// of a shard_set while the test thread waits.
#pragma once

#include <future>
#include <memory>

#include "gtest/gtest.h"
#include "runtime/reactor.h"
#include "runtime/shard_set.h"
#include "runtime/task_scope.h"

namespace ringmail::testing {

inline std::unique_ptr<reactor> make_reactor(unsigned buffers = 256, unsigned buffer_size = 4096) {
  reactor_options o;
  o.recv_buffer_count = buffers;
  o.recv_buffer_size = buffer_size;
  auto r = reactor::create(o);
  // Where io_uring is denied (seccomp) the runtime cannot work at all: fail loudly.
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? std::move(*r) : nullptr;
}

inline std::unique_ptr<shard_set> make_shards(unsigned n, unsigned buffers = 1024, unsigned buffer_size = 4096) {
  shard_options o;
  o.shards = n;
  o.reactor.recv_buffer_count = buffers;
  o.reactor.recv_buffer_size = buffer_size;
  auto s = shard_set::start(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

// Runs make_task() on `shard` and blocks the test thread until it finishes.
template <typename F>
auto run_on(shard_set& set, unsigned shard, F make_task) {
  return block_on_shard(set, shard, std::move(make_task));
}

}  // namespace ringmail::testing
