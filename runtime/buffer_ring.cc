#include "runtime/buffer_ring.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/reactor.h"

namespace ringmail {

recv_lease& recv_lease::operator=(recv_lease&& o) noexcept {
  if (this != &o) {
    release();
    ring_ = std::exchange(o.ring_, nullptr);
    id_ = o.id_;
    data_ = o.data_;
    size_ = o.size_;
  }
  return *this;
}

void recv_lease::release() {
  if (ring_ != nullptr) {
    std::exchange(ring_, nullptr)->recycle(id_);
    data_ = nullptr;
    size_ = 0;
  }
}

absl::StatusOr<std::unique_ptr<buffer_ring>> buffer_ring::create(io_uring* ring, uint16_t group_id, unsigned count,
                                                                 unsigned buffer_size) {
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768) {
    return absl::InvalidArgumentError(absl::StrCat("recv buffer count must be a power of two <= 32768, got ", count));
  }
  std::unique_ptr<buffer_ring> b(new buffer_ring());
  b->ring_ = ring;
  b->group_id_ = group_id;
  b->count_ = count;
  b->buffer_size_ = buffer_size;
  // The ring of buffer descriptors must be page aligned; mmap gives that.
  b->br_bytes_ = count * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, b->br_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return absl::ResourceExhaustedError("mmap of the provided-buffer ring failed");
  b->br_ = static_cast<io_uring_buf_ring*>(mem);
  // aligned_alloc wants a size that is a multiple of the alignment.
  const size_t storage_bytes = (size_t{count} * buffer_size + 4095) / 4096 * 4096;
  b->storage_ = static_cast<char*>(std::aligned_alloc(4096, storage_bytes));
  if (b->storage_ == nullptr) return absl::ResourceExhaustedError("cannot allocate receive buffers");

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(b->br_);
  reg.ring_entries = count;
  reg.bgid = group_id;
  int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0) {
    return absl::UnavailableError(absl::StrCat("io_uring provided buffer rings are not supported by this kernel (",
                                               strerror(-rc), "); ringmail needs Linux 5.19 or newer"));
  }
  io_uring_buf_ring_init(b->br_);
  const int mask = io_uring_buf_ring_mask(count);
  for (unsigned i = 0; i < count; ++i) {
    io_uring_buf_ring_add(b->br_, b->storage_ + size_t{i} * buffer_size, buffer_size, i, mask, i);
  }
  io_uring_buf_ring_advance(b->br_, count);
  b->available_ = count;
  return b;
}

buffer_ring::~buffer_ring() {
  if (br_ != nullptr) {
    io_uring_unregister_buf_ring(ring_, group_id_);
    munmap(br_, br_bytes_);
  }
  std::free(storage_);
}

recv_lease buffer_ring::take(int32_t res, uint32_t cqe_flags) {
  uint16_t id = static_cast<uint16_t>(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
  --available_;
  return recv_lease(this, id, storage_ + size_t{id} * buffer_size_, res > 0 ? static_cast<size_t>(res) : 0);
}

void buffer_ring::recycle(uint16_t id) {
  io_uring_buf_ring_add(br_, storage_ + size_t{id} * buffer_size_, buffer_size_, id, io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
  ++available_;
  if (!waiters_.empty()) {
    // Resume from the loop, not from inside whoever dropped the lease.
    std::coroutine_handle<> h = waiters_.back();
    waiters_.pop_back();
    reactor::current()->schedule(h);
  }
}

}  // namespace ringmail
