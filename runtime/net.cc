#include "runtime/net.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/un.h>

#include <cstddef>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/log.h"

namespace ringmail {
namespace {

// ---- single-shot socket operations -------------------------------------------------

class recv_op : public op_awaiter<recv_op> {
 public:
  recv_op(int fd, uint16_t group, duration d, cancel_source* c) : op_awaiter(d, c), fd_(fd), group_(group) {}
  void prepare(io_uring_sqe* s) {
    io_uring_prep_recv(s, fd_, nullptr, 0, 0);
    // A session reads after it has answered, when the next request has rarely arrived
    // yet: arm the poll straight away instead of first trying a recv that would fail.
    s->ioprio |= IORING_RECVSEND_POLL_FIRST;
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = group_;
  }
  std::pair<int32_t, uint32_t> await_resume() {
    int32_t res = take_result();
    return {res, cqe_flags()};
  }

 private:
  int fd_;
  uint16_t group_;
};

class send_op : public op_awaiter<send_op> {
 public:
  send_op(int fd, const char* data, size_t len, duration d, cancel_source* c)
      : op_awaiter(d, c), fd_(fd), data_(data), len_(len) {}
  void prepare(io_uring_sqe* s) { io_uring_prep_send(s, fd_, data_, len_, MSG_NOSIGNAL); }
  int32_t await_resume() { return take_result(); }

 private:
  int fd_;
  const char* data_;
  size_t len_;
};

class sendmsg_op : public op_awaiter<sendmsg_op> {
 public:
  sendmsg_op(int fd, iovec* iov, size_t count, duration d, cancel_source* c) : op_awaiter(d, c), fd_(fd) {
    msg_.msg_iov = iov;
    msg_.msg_iovlen = count;
  }
  void prepare(io_uring_sqe* s) { io_uring_prep_sendmsg(s, fd_, &msg_, MSG_NOSIGNAL); }
  int32_t await_resume() { return take_result(); }

 private:
  int fd_;
  msghdr msg_{};
};

class connect_op : public op_awaiter<connect_op> {
 public:
  connect_op(int fd, const socket_address& a, duration d, cancel_source* c) : op_awaiter(d, c), fd_(fd), addr_(a) {}
  void prepare(io_uring_sqe* s) { io_uring_prep_connect(s, fd_, addr_.native(), addr_.length()); }
  int32_t await_resume() { return take_result(); }

 private:
  int fd_;
  socket_address addr_;
};

class shutdown_op : public op_awaiter<shutdown_op> {
 public:
  shutdown_op(int fd, int how) : op_awaiter(no_deadline, nullptr), fd_(fd), how_(how) {}
  void prepare(io_uring_sqe* s) { io_uring_prep_shutdown(s, fd_, how_); }
  int32_t await_resume() { return take_result(); }

 private:
  int fd_;
  int how_;
};

class close_op : public op_awaiter<close_op> {
 public:
  explicit close_op(int fd) : op_awaiter(no_deadline, nullptr), fd_(fd) {}
  void prepare(io_uring_sqe* s) { io_uring_prep_close(s, fd_); }
  int32_t await_resume() { return take_result(); }

 private:
  int fd_;
};

void tune_stream_socket(int fd) {
  // Replies are small and latency-bound (pipelined SMTP, IMAP tagged responses); Nagle
  // would hold them back for the peer's delayed ACK.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

// ---- socket_address ------------------------------------------------------------------

absl::StatusOr<socket_address> socket_address::parse(std::string_view host, uint16_t port) {
  socket_address a;
  std::string h(host);
  if (!h.empty() && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.length_ = sizeof(sockaddr_in);
    return a;
  }
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.length_ = sizeof(sockaddr_in6);
    return a;
  }
  return absl::InvalidArgumentError(absl::StrCat("not a numeric IPv4 or IPv6 address: '", std::string(host), "'"));
}

absl::StatusOr<socket_address> socket_address::unix_path(std::string_view path) {
  socket_address a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
  if (path.empty() || path.size() >= sizeof un->sun_path) {
    return absl::InvalidArgumentError(absl::StrCat("Unix socket path empty or longer than ",
                                                   sizeof un->sun_path - 1, " bytes: ", std::string(path)));
  }
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  a.length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

socket_address socket_address::from(const sockaddr* sa, socklen_t len) {
  socket_address a;
  std::memcpy(&a.storage_, sa, std::min<size_t>(len, sizeof a.storage_));
  a.length_ = len;
  return a;
}

uint16_t socket_address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string socket_address::host() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
  } else if (family() == AF_INET6) {
    const in6_addr& a6 = reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
    // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; name them as IPv4.
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      inet_ntop(AF_INET, &a6.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &a6, buf, sizeof buf);
    }
  } else if (family() == AF_UNIX) {
    return "localhost";
  } else {
    return "unknown";
  }
  return buf;
}

std::string socket_address::to_string() const {
  if (family() == AF_UNIX) return absl::StrCat("unix:", reinterpret_cast<const sockaddr_un*>(&storage_)->sun_path);
  if (family() == AF_INET6) return absl::StrCat("[", host(), "]:", port());
  return absl::StrCat(host(), ":", port());
}

// ---- listener ------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<listener>> listener::open(const socket_address& address,
                                                         const listen_options& options) {
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  int one = 1;
  if (address.family() == AF_UNIX) {
    // A stale socket file from an earlier run would make bind fail with EADDRINUSE.
    ::unlink(reinterpret_cast<const sockaddr_un*>(address.native())->sun_path);
  } else {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (options.reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  }
  if (address.family() == AF_INET6) {
    int v6only = options.v6_only ? 1 : 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (::bind(fd, address.native(), address.length()) < 0) {
    int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot bind ", address.to_string(), ": ", strerror(err)));
  }
  if (::listen(fd, options.backlog) < 0) {
    int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address.to_string(), ": ", strerror(err)));
  }
  std::unique_ptr<listener> l(new listener());
  l->fd_ = fd;
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  l->address_ = socket_address::from(reinterpret_cast<sockaddr*>(&bound), len);
  l->port_ = l->address_.port();
  l->arm();
  return l;
}

listener::~listener() {
  close();
  for (int fd : ready_fds_) ::close(fd);
}

void listener::arm() {
  reactor& r = *reactor::current();
  accept_op_ = r.acquire_op();
  accept_op_->context = this;
  accept_op_->on_complete = &listener::on_accept;
  io_uring_sqe* s = r.sqe();
  io_uring_prep_multishot_accept(s, fd_, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data(s, accept_op_);
}

void listener::on_accept(io_op& op, int32_t res, uint32_t flags) {
  auto* self = static_cast<listener*>(op.context);
  const bool more = flags & IORING_CQE_F_MORE;
  if (self == nullptr) {  // the listener is closed or gone: clean up what still arrives
    if (res >= 0) ::close(res);
    if (!more) reactor::current()->release_op(&op);
    return;
  }
  if (res >= 0) {
    self->ready_fds_.push_back(res);
  } else if (res != -ECANCELED) {
    self->last_error_ = -res;
    log::warn("accept_failed", {{"port", self->port_}, {"error", strerror(-res)}});
  }
  if (!more) {
    // The kernel ended the multishot (an error, or a full CQ ring): re-arm it.
    reactor::current()->release_op(&op);
    self->accept_op_ = nullptr;
    if (!self->closed_) self->arm();
  }
  if (self->waiter_) reactor::current()->schedule(std::exchange(self->waiter_, nullptr));
}

task<io_result<connection>> listener::accept() {
  // Clears the listener's reference if the accepting coroutine is destroyed while waiting.
  struct wait_for_fd {
    listener* self;
    std::coroutine_handle<> handle;
    bool await_ready() const noexcept { return !self->ready_fds_.empty() || self->closed_; }
    void await_suspend(std::coroutine_handle<> h) {
      handle = h;
      self->waiter_ = h;
    }
    void await_resume() const noexcept {}
    ~wait_for_fd() {
      if (handle && self->waiter_ == handle) self->waiter_ = nullptr;
    }
  };
  for (;;) {
    if (closed_) co_return io_status::from(io_kind::cancelled);
    if (!ready_fds_.empty()) {
      int fd = ready_fds_.front();
      ready_fds_.pop_front();
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) < 0) {
        ::close(fd);  // already reset by the peer
        continue;
      }
      tune_stream_socket(fd);
      co_return connection(fd, socket_address::from(reinterpret_cast<sockaddr*>(&peer), len));
    }
    co_await wait_for_fd{this, nullptr};
  }
}

void listener::close() {
  if (closed_) return;
  closed_ = true;
  if (accept_op_ != nullptr) {
    accept_op_->context = nullptr;
    reactor::current()->cancel(accept_op_);
    accept_op_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (waiter_) reactor::current()->schedule(std::exchange(waiter_, nullptr));
}

// ---- connection ----------------------------------------------------------------------

connection::connection(connection&& o) noexcept : fd_(std::exchange(o.fd_, -1)), peer_(o.peer_) {}

connection& connection::operator=(connection&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    peer_ = o.peer_;
  }
  return *this;
}

connection::~connection() {
  if (fd_ >= 0) ::close(fd_);
}

socket_address connection::local() const {
  sockaddr_storage s{};
  socklen_t len = sizeof s;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&s), &len);
  return socket_address::from(reinterpret_cast<sockaddr*>(&s), len);
}

task<io_result<recv_lease>> connection::receive(duration deadline, cancel_source* cancel) {
  buffer_ring& buffers = reactor::current()->buffers();
  for (;;) {
    auto [res, flags] = co_await recv_op(fd_, buffers.group_id(), deadline, cancel);
    if (res > 0) co_return buffers.take(res, flags);
    if (flags & IORING_CQE_F_BUFFER) buffers.take(res, flags);  // an empty lease, recycled at once
    if (res == 0) co_return io_status::from(io_kind::closed);
    if (res == -ENOBUFS) {
      // Every buffer of this shard is leased out: wait for one to come back.
      co_await buffers.wait_available();
      continue;
    }
    co_return io_status::from_errno(res);
  }
}

task<io_status> connection::send_all(std::string_view bytes, duration deadline, cancel_source* cancel) {
  while (!bytes.empty()) {
    int32_t res = co_await send_op(fd_, bytes.data(), bytes.size(), deadline, cancel);
    if (res < 0) co_return io_status::from_errno(res);
    bytes.remove_prefix(static_cast<size_t>(res));
  }
  co_return io_status::success();
}

task<io_status> connection::send_all(std::span<iovec> buffers, duration deadline, cancel_source* cancel) {
  size_t first = 0;
  while (first < buffers.size()) {
    if (buffers[first].iov_len == 0) {
      ++first;
      continue;
    }
    size_t count = std::min<size_t>(buffers.size() - first, IOV_MAX);
    int32_t res = co_await sendmsg_op(fd_, buffers.data() + first, count, deadline, cancel);
    if (res < 0) co_return io_status::from_errno(res);
    // Skip what went out; a short send leaves the rest of one iovec.
    size_t sent = static_cast<size_t>(res);
    while (first < buffers.size() && sent >= buffers[first].iov_len) {
      sent -= buffers[first].iov_len;
      ++first;
    }
    if (sent > 0) {
      buffers[first].iov_base = static_cast<char*>(buffers[first].iov_base) + sent;
      buffers[first].iov_len -= sent;
    }
  }
  co_return io_status::success();
}

task<io_status> connection::shutdown_write() {
  int32_t res = co_await shutdown_op(fd_, SHUT_WR);
  co_return io_status::from_errno(res < 0 ? res : 0);
}

task<void> connection::close() {
  if (fd_ < 0) co_return;
  int fd = std::exchange(fd_, -1);
  co_await close_op(fd);
}

task<io_result<connection>> connect_to(const socket_address& address, duration deadline, cancel_source* cancel,
                                       const socket_address* source) {
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) co_return io_status::from_errno(errno);
  connection c(fd, address);
  if (source != nullptr && source->family() == address.family() &&
      ::bind(fd, source->native(), source->length()) != 0) {
    co_return io_status::from_errno(errno);
  }
  int32_t res = co_await connect_op(fd, address, deadline, cancel);
  if (res < 0) co_return io_status::from_errno(res);
  tune_stream_socket(fd);
  co_return std::move(c);
}

void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace ringmail
