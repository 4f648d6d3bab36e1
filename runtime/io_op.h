// io_op: the completion record of one in-flight submission. The reactor owns a pool of
// them (no heap allocation per I/O); user_data of every SQE we submit is an io_op*, or 0
// for submissions whose completion we ignore (linked timeouts, cancel requests).
//
// Lifetime rule: an io_op is released only when its final CQE arrives. If the coroutine
// that waited on it is destroyed first (a session torn down mid-read), the awaiter marks
// the op orphaned and asks the kernel to cancel it; the eventual CQE then just cleans up
// (closes an fd the kernel handed us, returns a provided buffer to its ring) and frees
// the op. So the kernel never writes into freed memory we own, and nothing leaks.
#pragma once

#include <coroutine>
#include <cstdint>

namespace ringmail {

class reactor;
class cancel_source;

struct io_op {
  using completion_fn = void (*)(io_op& op, int32_t res, uint32_t cqe_flags);

  completion_fn on_complete = nullptr;  // called for every CQE of this op
  std::coroutine_handle<> waiter;       // resumed by the default completion
  void* context = nullptr;              // owner data for custom completions (multishot)
  int32_t result = 0;
  uint32_t cqe_flags = 0;
  bool completed = false;
  bool cancel_requested = false;  // distinguishes cancel from a fired linked timeout
  bool result_is_fd = false;      // an orphaned completion must close res
  bool has_deadline = false;

  // Membership in a cancel_source's list of in-flight ops (intrusive, no allocation).
  cancel_source* canceller = nullptr;
  io_op* cancel_prev = nullptr;
  io_op* cancel_next = nullptr;

  io_op* next_free = nullptr;  // pool free list
};

// Cancels every in-flight op registered with it, and makes later ops fail at once with
// io_kind::cancelled. One per session: cancelling the session cancels its I/O, the
// session coroutine then sees `cancelled` from whatever it awaited and unwinds.
class cancel_source {
 public:
  cancel_source() = default;
  cancel_source(const cancel_source&) = delete;
  cancel_source& operator=(const cancel_source&) = delete;
  ~cancel_source();

  void request_cancel();
  bool cancel_requested() const { return requested_; }

  void attach(io_op& op);
  void detach(io_op& op);

 private:
  bool requested_ = false;
  io_op* head_ = nullptr;
};

}  // namespace ringmail
