// Readiness of a file descriptor we do not read through the ring ourselves — a library's
// socket, such as libmariadb's in non-blocking mode: the library does the I/O, the ring
// tells us when it can go on.
#pragma once

#include <poll.h>

#include "runtime/io_status.h"
#include "runtime/reactor.h"

namespace ringmail {

class poll_op : public op_awaiter<poll_op> {
 public:
  poll_op(int fd, unsigned events, duration deadline, cancel_source* c)
      : op_awaiter(deadline, c), fd_(fd), events_(events) {}
  void prepare(io_uring_sqe* s) { io_uring_prep_poll_add(s, fd_, events_); }
  // The ready events (POLLIN, POLLOUT, …), or the reason there are none.
  io_result<unsigned> await_resume() {
    int32_t res = take_result();
    if (res < 0) return io_status::from_errno(res);
    return static_cast<unsigned>(res);
  }

 private:
  int fd_;
  unsigned events_;
};

// co_await wait_ready(fd, POLLIN, 5s): POLLIN/POLLOUT/… when ready, timeout after the deadline.
inline poll_op wait_ready(int fd, unsigned events, duration deadline, cancel_source* c = nullptr) {
  return poll_op(fd, events, deadline, c);
}

}  // namespace ringmail
