// Networking on the ring: listeners (SO_REUSEPORT, multishot accept), connections
// (reads through the shard's provided-buffer ring, vectored writes), outbound connect.
// Every operation takes a deadline and the session's cancel_source.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <deque>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "runtime/buffer_ring.h"
#include "runtime/io_status.h"
#include "runtime/reactor.h"

namespace ringmail {

class socket_address {
 public:
  socket_address() = default;
  // "127.0.0.1", "::1", "0.0.0.0", "::" (numeric only; names go through runtime/dns).
  static absl::StatusOr<socket_address> parse(std::string_view host, uint16_t port);
  static socket_address from(const sockaddr* sa, socklen_t len);
  // A Unix-domain stream socket path (LMTP from a local MTA). Fails if the path is too long.
  static absl::StatusOr<socket_address> unix_path(std::string_view path);

  const sockaddr* native() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* native() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  socklen_t* length_ptr() { return &length_; }
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  std::string host() const;       // "127.0.0.1", "2001:db8::1"
  std::string to_string() const;  // "127.0.0.1:25", "[2001:db8::1]:25"

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = sizeof(sockaddr_storage);
};

class connection;

struct listen_options {
  int backlog = 4096;
  bool reuse_port = true;  // one listening socket per shard; the kernel spreads connections
  bool v6_only = false;
};

// Accepts connections on one shard. A multishot accept stays armed; connections that
// arrive while nobody awaits accept() queue here (bounded by the kernel backlog too).
class listener {
 public:
  static absl::StatusOr<std::unique_ptr<listener>> open(const socket_address& address, const listen_options& options);
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  // Next accepted connection; io_kind::cancelled once close() was called.
  task<io_result<connection>> accept();
  // Stops accepting: cancels the multishot accept and closes the socket. Idempotent.
  void close();
  uint16_t port() const { return port_; }
  const socket_address& address() const { return address_; }

 private:
  listener() = default;
  void arm();
  static void on_accept(io_op& op, int32_t res, uint32_t flags);

  int fd_ = -1;
  uint16_t port_ = 0;
  socket_address address_;
  io_op* accept_op_ = nullptr;
  bool closed_ = false;
  std::deque<int> ready_fds_;
  std::coroutine_handle<> waiter_;
  int last_error_ = 0;
};

// One TCP connection, owned by one session on one shard. Move-only; closes on destruction.
class connection {
 public:
  connection() = default;
  connection(int fd, socket_address peer) : fd_(fd), peer_(peer) {}
  connection(connection&& o) noexcept;
  connection& operator=(connection&& o) noexcept;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection();

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  const socket_address& peer() const { return peer_; }
  socket_address local() const;

  // Receives into a provided buffer. closed when the peer ends the stream.
  task<io_result<recv_lease>> receive(duration deadline, cancel_source* cancel = nullptr);
  // Sends everything in `bytes` (looping on short sends).
  task<io_status> send_all(std::string_view bytes, duration deadline, cancel_source* cancel = nullptr);
  // Vectored send of all buffers (sendmsg with MSG_NOSIGNAL), looping on short sends.
  task<io_status> send_all(std::span<iovec> buffers, duration deadline, cancel_source* cancel = nullptr);
  // shutdown(SHUT_WR): tells the peer we are done writing.
  task<io_status> shutdown_write();
  // Closes through the ring. The destructor closes synchronously if this was not called.
  task<void> close();

 private:
  int fd_ = -1;
  socket_address peer_;
};

// Opens a TCP connection (client side: tests, load generator, relay). With `source`, the
// socket is bound to that local address first (port 0: any) when its family is the
// server's — a host with several addresses sends from the one its SPF record and PTR name
// (Postfix: smtp_bind_address); a server of the other family is reached from any address.
task<io_result<connection>> connect_to(const socket_address& address, duration deadline,
                                       cancel_source* cancel = nullptr, const socket_address* source = nullptr);

// Raises RLIMIT_NOFILE to its hard limit; servers with 10,000 sessions need it.
void raise_fd_limit();

}  // namespace ringmail
