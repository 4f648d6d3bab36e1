// Reactor semantics: sleeps, deadlines (linked timeouts), cancellation, destroying a
// coroutine mid-I/O, provided-buffer exhaustion, and work posted from other threads.
#include "runtime/reactor.h"

#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "gtest/gtest.h"
#include "runtime/net.h"
#include "runtime/when_all.h"
#include "tests/runtime/test_util.h"

namespace ringmail {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// A connected pair of sockets; the first is wrapped as a connection.
struct socket_pair {
  connection ours;
  int theirs = -1;
  socket_pair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    ours = connection(fds[0], socket_address());
    theirs = fds[1];
  }
  ~socket_pair() {
    if (theirs >= 0) close(theirs);
  }
};

TEST(Reactor, SleepWaitsAtLeastItsDuration) {
  auto r = testing::make_reactor();
  auto start = clock_type::now();
  bool expired = r->block_on([]() -> task<bool> { co_return co_await sleep_for(30ms); }());
  EXPECT_TRUE(expired);
  EXPECT_GE(clock_type::now() - start, 30ms);
}

TEST(Reactor, ReceiveDeadlineTimesOut) {
  auto r = testing::make_reactor();
  socket_pair p;
  auto start = clock_type::now();
  auto result = r->block_on(p.ours.receive(50ms));
  EXPECT_EQ(result.status().kind, io_kind::timeout);
  EXPECT_GE(clock_type::now() - start, 45ms);
  EXPECT_LT(clock_type::now() - start, 2s);
  EXPECT_EQ(r->ops_in_flight(), 0u);
}

TEST(Reactor, ReceiveBeforeDeadlineSucceeds) {
  auto r = testing::make_reactor();
  socket_pair p;
  ASSERT_EQ(write(p.theirs, "hello", 5), 5);
  auto result = r->block_on(p.ours.receive(1s));
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(result->bytes(), "hello");
}

TEST(Reactor, PeerCloseIsClosedNotError) {
  auto r = testing::make_reactor();
  socket_pair p;
  close(std::exchange(p.theirs, -1));
  auto result = r->block_on(p.ours.receive(1s));
  EXPECT_EQ(result.status().kind, io_kind::closed);
}

TEST(Reactor, CancelSourceCancelsInFlightReceiveAndSleep) {
  auto r = testing::make_reactor();
  socket_pair p;
  cancel_source cancel;
  auto outcome = r->block_on([&]() -> task<std::pair<io_kind, bool>> {
    auto canceller = [&]() -> task<void> {
      co_await sleep_for(20ms);
      cancel.request_cancel();
    };
    auto reader = [&]() -> task<io_kind> {
      auto got = co_await p.ours.receive(no_deadline, &cancel);
      co_return got.status().kind;
    };
    auto sleeper = [&]() -> task<bool> { co_return co_await sleep_for(10s, &cancel); };
    auto [kind, slept, unused] = co_await when_all(reader(), sleeper(), canceller());
    (void)unused;
    co_return std::make_pair(kind, slept);
  }());
  EXPECT_EQ(outcome.first, io_kind::cancelled);
  EXPECT_FALSE(outcome.second) << "a cancelled sleep reports that it did not expire";
  // Later operations on a cancelled source fail at once.
  auto again = r->block_on(p.ours.receive(no_deadline, &cancel));
  EXPECT_EQ(again.status().kind, io_kind::cancelled);
  EXPECT_EQ(r->ops_in_flight(), 0u);
}

TEST(Reactor, CoroutineDestroyedMidReceiveLeaksNothing) {
  auto r = testing::make_reactor(/*buffers=*/4);
  socket_pair p;
  const unsigned buffers_before = r->buffers().available();
  {
    task<io_result<recv_lease>> t = p.ours.receive(no_deadline);
    // Start it by hand: it runs to the recv submission and suspends there.
    reactor::set_current_for_block_on(r.get());
    t.handle().resume();
    EXPECT_FALSE(t.done());
    EXPECT_EQ(r->ops_in_flight(), 1u);
    // `t` is destroyed here with its recv in flight.
  }
  reactor::set_current_for_block_on(nullptr);
  // The peer now sends: the kernel must not deliver into anything we freed, and the
  // orphaned op must be reaped and its buffer (if any) returned.
  ASSERT_EQ(write(p.theirs, "late", 4), 4);
  r->block_on([]() -> task<void> { co_await sleep_for(20ms); }());
  EXPECT_EQ(r->ops_in_flight(), 0u);
  EXPECT_EQ(r->buffers().available(), buffers_before);
}

TEST(Reactor, CoroutineDestroyedMidSleepAndMidAccept) {
  auto r = testing::make_reactor();
  reactor::set_current_for_block_on(r.get());
  auto l = listener::open(*socket_address::parse("127.0.0.1", 0), {});
  ASSERT_TRUE(l.ok());
  {
    auto sleeper = []() -> task<void> { co_await sleep_for(10s); }();
    sleeper.handle().resume();
    auto acceptor = (*l)->accept();
    acceptor.handle().resume();
    EXPECT_FALSE(sleeper.done());
    EXPECT_FALSE(acceptor.done());
  }
  l->reset();  // closes the listener: its multishot accept is cancelled
  reactor::set_current_for_block_on(nullptr);
  r->block_on([]() -> task<void> { co_await sleep_for(20ms); }());
  EXPECT_EQ(r->ops_in_flight(), 0u);
}

TEST(Reactor, ReaderWaitsWhenAllBuffersAreLeased) {
  auto r = testing::make_reactor(/*buffers=*/2, /*buffer_size=*/64);
  socket_pair a, b, c;
  for (int fd : {a.theirs, b.theirs, c.theirs}) ASSERT_EQ(write(fd, "x", 1), 1);
  auto got = r->block_on([&]() -> task<std::string> {
    auto la = co_await a.ours.receive(1s);
    auto lb = co_await b.ours.receive(1s);
    EXPECT_TRUE(la.ok() && lb.ok());
    EXPECT_EQ(reactor::current()->buffers().available(), 0u);
    // Both buffers are leased: the third read gets ENOBUFS inside and must wait, not fail.
    auto releaser = [&]() -> task<void> {
      co_await sleep_for(20ms);
      la->release();
    };
    auto [lc, unused] = co_await when_all(c.ours.receive(1s), releaser());
    (void)unused;
    co_return lc.ok() ? std::string(lc->bytes()) : lc.status().to_string();
  }());
  EXPECT_EQ(got, "x");
  EXPECT_EQ(r->buffers().available(), 2u);
}

TEST(Reactor, PostFromAnotherThreadRunsOnTheReactor) {
  auto r = testing::make_reactor();
  struct flag_work : remote_work {
    std::thread::id ran_on;
    std::coroutine_handle<> waiter;
  } work;
  work.run = [](remote_work* w) {
    auto* self = static_cast<flag_work*>(w);
    self->ran_on = std::this_thread::get_id();
    self->waiter.resume();
  };
  r->block_on([&]() -> task<void> {
    struct wait_for_post {
      flag_work* w;
      reactor* r;
      bool await_ready() { return false; }
      void await_suspend(std::coroutine_handle<> h) {
        w->waiter = h;
        std::thread([this] {
          std::this_thread::sleep_for(10ms);
          r->post(w);
        }).detach();
      }
      void await_resume() {}
    };
    co_await wait_for_post{&work, r.get()};
  }());
  EXPECT_EQ(work.ran_on, std::this_thread::get_id());
}

TEST(Reactor, ManyConcurrentSleepsAllComplete) {
  auto r = testing::make_reactor();
  // More timers than SQ entries: the SQ must be flushed when full, never dropped.
  std::vector<task<bool>> sleeps;
  for (int i = 0; i < 5000; ++i) sleeps.push_back([]() -> task<bool> { co_return co_await sleep_for(5ms); }());
  auto results = r->block_on(when_all(std::move(sleeps)));
  EXPECT_EQ(std::count(results.begin(), results.end(), true), 5000);
}

}  // namespace
}  // namespace ringmail
