// buffer_ring: a provided-buffer ring (IORING_REGISTER_PBUF_RING). Socket reads ask the
// kernel to pick a buffer at completion time, so an idle connection pins no read memory:
// 10,000 idle sessions cost 10,000 pending SQEs, not 10,000 buffers.
//
// A completed read hands out a recv_lease; dropping the lease gives the buffer back.
// When every buffer is leased the kernel fails reads with -ENOBUFS; readers then wait
// (wait_available) until a lease comes back instead of spinning.
#pragma once

#include <liburing.h>

#include <coroutine>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <algorithm>
#include <vector>

#include "absl/status/statusor.h"

namespace ringmail {

class buffer_ring;

// Move-only ownership of one provided buffer holding `size()` received bytes.
class recv_lease {
 public:
  recv_lease() = default;
  recv_lease(buffer_ring* ring, uint16_t id, const char* data, size_t size)
      : ring_(ring), id_(id), data_(data), size_(size) {}
  recv_lease(recv_lease&& o) noexcept
      : ring_(std::exchange(o.ring_, nullptr)), id_(o.id_), data_(o.data_), size_(o.size_) {}
  recv_lease& operator=(recv_lease&& o) noexcept;
  recv_lease(const recv_lease&) = delete;
  recv_lease& operator=(const recv_lease&) = delete;
  ~recv_lease() { release(); }

  std::string_view bytes() const { return {data_, size_}; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  // Only the first n bytes were consumed; the view shrinks from the front.
  void consume(size_t n) {
    data_ += n;
    size_ -= n;
  }
  void release();

 private:
  buffer_ring* ring_ = nullptr;
  uint16_t id_ = 0;
  const char* data_ = nullptr;
  size_t size_ = 0;
};

class buffer_ring {
 public:
  // count must be a power of two (the kernel's ring mask), at most 32768.
  static absl::StatusOr<std::unique_ptr<buffer_ring>> create(io_uring* ring, uint16_t group_id, unsigned count,
                                                             unsigned buffer_size);
  ~buffer_ring();

  uint16_t group_id() const { return group_id_; }
  unsigned buffer_size() const { return buffer_size_; }
  unsigned available() const { return available_; }

  // Turns a completed buffer-select read (res bytes, cqe flags) into a lease.
  recv_lease take(int32_t res, uint32_t cqe_flags);
  // Returns buffer `id` to the kernel and wakes one reader waiting for a buffer.
  void recycle(uint16_t id);

  // A reader destroyed while waiting takes itself off the list (no dangling handle).
  struct wait_awaiter {
    buffer_ring* ring;
    std::coroutine_handle<> handle;
    bool await_ready() const noexcept { return ring->available_ > 0; }
    void await_suspend(std::coroutine_handle<> h) {
      handle = h;
      ring->waiters_.push_back(h);
    }
    void await_resume() noexcept { handle = nullptr; }
    ~wait_awaiter() {
      if (handle) std::erase(ring->waiters_, handle);
    }
  };
  wait_awaiter wait_available() { return {this, nullptr}; }

 private:
  buffer_ring() = default;
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  size_t br_bytes_ = 0;
  char* storage_ = nullptr;
  uint16_t group_id_ = 0;
  unsigned count_ = 0;
  unsigned buffer_size_ = 0;
  unsigned available_ = 0;
  std::vector<std::coroutine_handle<>> waiters_;
};

}  // namespace ringmail
