#include "delivery/queue/queue_control_client.h"

/* System library. */
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

/* Delivery. */
#include "delivery/queue/queue_store.h"  // kHoldSuffix
#include "delivery/queue/spool_reader.h"

namespace ringmail::queue {
namespace {

class fd_closer {
 public:
  explicit fd_closer(int fd) : fd_(fd) {}
  ~fd_closer() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status io_error(const char* what, int err) {
  return absl::UnavailableError(std::string("queue control socket: ") + what + ": " + std::strerror(err));
}

// Waits for `events` on fd; false on timeout.
bool wait_for(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r >= 0) return r == 1;
    if (errno != EINTR) return true;  // let the read or write report the error
  }
}

bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

absl::StatusOr<control_reply> call_queue_control(const std::string& socket_path, const control_request& request,
                                                 std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return absl::InvalidArgumentError("queue control socket path too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  fd_closer fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return io_error("socket", errno);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    // No socket file, or one nobody listens on (a server that was killed): not running.
    if (err == ENOENT || err == ECONNREFUSED) {
      return absl::FailedPreconditionError("ringmail serve is not running (nothing answers on " + socket_path + ")");
    }
    return io_error("connect", err);
  }
  const std::string line = format_control_request(request);
  for (size_t sent = 0; sent < line.size();) {
    if (!wait_for(fd.get(), POLLOUT, timeout)) return absl::UnavailableError("queue control: timed out sending");
    const ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("send", errno);
    sent += static_cast<size_t>(n);
  }
  control_reply reply;
  control_reply_reader reader;
  char buf[65536];
  for (;;) {
    auto item = reader.next();
    if (!item.ok()) return item.status();
    if (item->has_value()) {
      reply_item& it = **item;
      switch (it.kind) {
        case reply_kind::message: reply.messages.push_back(std::move(it.message)); break;
        case reply_kind::text: reply.text = std::move(it.text); break;
        case reply_kind::done: reply.done.push_back(std::move(it.text)); break;
        case reply_kind::ok: reply.ok = true; return reply;
        case reply_kind::error: reply.error = std::move(it.text); return reply;
      }
      continue;
    }
    if (!wait_for(fd.get(), POLLIN, timeout)) return absl::UnavailableError("queue control: timed out waiting for the server");
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("recv", errno);
    if (n == 0) return absl::UnavailableError("queue control: the server closed the connection mid-reply");
    reader.append(std::string_view(buf, static_cast<size_t>(n)));
  }
}

absl::StatusOr<std::vector<control_message>> read_spool_messages(const std::string& queue_root) {
  auto spool = read_spool(queue_root);
  if (!spool.ok()) return spool.status();
  std::vector<control_message> out;
  out.reserve(spool->size());
  for (spool_entry& e : *spool) {
    control_message m;
    m.shard = e.shard;
    m.size = e.message_size;
    m.held = file_exists(queue_root + "/" + std::to_string(e.shard) + "/" + e.record.id + kHoldSuffix);
    m.record = std::move(e.record);
    m.problem = std::move(e.problem);
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<control_reply> read_spool_message(const std::string& queue_root, const std::string& id) {
  auto all = read_spool_messages(queue_root);
  if (!all.ok() && all.status().code() != absl::StatusCode::kNotFound) return all.status();
  if (all.ok()) {
    for (control_message& m : *all) {
      if (m.record.id != id) continue;
      control_reply reply;
      if (!m.problem.empty() && m.record.recipients.empty()) {
        reply.error = "queue id " + id + " is damaged: " + m.problem;
        return reply;
      }
      std::ifstream in(queue_root + "/" + std::to_string(m.shard) + "/" + id + ".msg", std::ios::binary);
      std::ostringstream bytes;
      if (in.is_open()) bytes << in.rdbuf();
      const std::string raw = std::move(bytes).str();
      auto file = decode_message_file(raw);  // views into raw
      if (!file.ok() || file->record.id != id) {
        reply.error = "queue id " + id + " could not be read again (removed or damaged meanwhile)";
        return reply;
      }
      reply.text = std::string(file->message);
      reply.messages.push_back(std::move(m));
      reply.ok = true;
      return reply;
    }
  }
  return absl::NotFoundError("no such queue id: " + id);
}

}  // namespace ringmail::queue
