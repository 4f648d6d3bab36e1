// epoll_echo_server: the baseline the ringmail runtime's echo server is measured
// against in bench/echo. It is meant to be the classic, well-tuned loop, not a
// strawman: one thread per loop, edge-triggered epoll, non-blocking sockets, read
// until EAGAIN, write straight back, EPOLLOUT armed only while a write is short.
//
//   epoll_echo_server --port=N [--threads=T] [--host=127.0.0.1]
//
// --threads=T runs T independent loops, each with its own SO_REUSEPORT listening
// socket, so the kernel spreads connections across them and no state is shared —
// the fairest counterpart to a shard-per-core runtime.
//
// Plain POSIX/Linux only on purpose: the baseline must not share code with the
// thing it is compared against.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

// Big enough that a 4 KiB request is always one read, small enough that 100
// connections stay in a few MiB.
constexpr size_t k_conn_buffer_size = 16 * 1024;
constexpr int k_max_events = 256;

struct options {
  std::string host = "127.0.0.1";
  int port = 0;
  int threads = 1;
};

void usage_and_exit(const char* argv0) {
  std::fprintf(stderr, "usage: %s --port=N [--threads=T] [--host=ADDR]\n", argv0);
  std::exit(2);
}

options parse_options(int argc, char** argv) {
  options opts;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value_of = [&](std::string_view name) -> const char* {
      if (arg.size() > name.size() && arg.substr(0, name.size()) == name &&
          arg[name.size()] == '=') {
        return argv[i] + name.size() + 1;
      }
      return nullptr;
    };
    if (const char* v = value_of("--port")) {
      opts.port = std::atoi(v);
    } else if (const char* v = value_of("--threads")) {
      opts.threads = std::atoi(v);
    } else if (const char* v = value_of("--host")) {
      opts.host = v;
    } else {
      usage_and_exit(argv[0]);
    }
  }
  if (opts.port <= 0 || opts.port > 65535 || opts.threads <= 0) usage_and_exit(argv[0]);
  return opts;
}

// Returns the listening fd, or -1 with a message on stderr.
int open_listener(const options& opts) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("socket");
    return -1;
  }
  int one = 1;
  // SO_REUSEADDR: restart right after a run without waiting out TIME_WAIT.
  // SO_REUSEPORT: one listener per loop, load-balanced by the kernel.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    std::perror("setsockopt(SO_REUSEPORT)");
    close(fd);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(opts.port));
  if (inet_pton(AF_INET, opts.host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "bad --host address: %s\n", opts.host.c_str());
    close(fd);
    return -1;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    std::fprintf(stderr, "bind %s:%d: %s\n", opts.host.c_str(), opts.port, std::strerror(errno));
    close(fd);
    return -1;
  }
  if (listen(fd, SOMAXCONN) < 0) {
    std::perror("listen");
    close(fd);
    return -1;
  }
  return fd;
}

// Bytes read but not yet written back live in buf[pending_begin, pending_end).
// Anything pending means the peer is not draining; we stop reading (back-pressure)
// until EPOLLOUT says the socket can take more.
struct connection {
  std::unique_ptr<char[]> buf{new char[k_conn_buffer_size]};
  size_t pending_begin = 0;
  size_t pending_end = 0;
  bool out_armed = false;
};

class echo_loop {
 public:
  echo_loop(int listen_fd, int stop_fd) : listen_fd_(listen_fd), stop_fd_(stop_fd) {}
  echo_loop(const echo_loop&) = delete;
  echo_loop& operator=(const echo_loop&) = delete;

  ~echo_loop() {
    for (size_t fd = 0; fd < conns_.size(); ++fd) {
      if (conns_[fd]) close(static_cast<int>(fd));
    }
    if (epfd_ >= 0) close(epfd_);
  }

  // Returns when stop_fd becomes readable, or on a fatal epoll error.
  bool run() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
      std::perror("epoll_create1");
      return false;
    }
    if (!add(listen_fd_, EPOLLIN | EPOLLET)) return false;
    // Level-triggered and never read: every loop sharing the eventfd wakes up.
    if (!add(stop_fd_, EPOLLIN)) return false;

    epoll_event events[k_max_events];
    for (;;) {
      int n = epoll_wait(epfd_, events, k_max_events, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("epoll_wait");
        return false;
      }
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == stop_fd_) return true;
        if (fd == listen_fd_) {
          accept_all();
          continue;
        }
        // The fd may have been closed earlier in this batch (and even reused by
        // an accept); indexing by fd makes a stale event a harmless EAGAIN.
        if (fd >= static_cast<int>(conns_.size()) || !conns_[fd]) continue;
        // On EPOLLERR/EPOLLHUP, flush() (if anything is pending) or read() hits the
        // error and drops the connection; bytes still queued are echoed first.
        if ((events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && !flush(fd)) continue;
        // After a drained EPOLLOUT we must resume reading too: we stopped before
        // EAGAIN, so the edge for bytes already queued will not come again.
        on_readable(fd);
      }
    }
  }

 private:
  bool add(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
      std::perror("epoll_ctl(ADD)");
      return false;
    }
    return true;
  }

  void set_out_armed(int fd, connection& c, bool armed) {
    if (c.out_armed == armed) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET | (armed ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0) c.out_armed = armed;
  }

  void accept_all() {
    // Edge-triggered listener: drain the whole accept queue or we are not told again.
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          // EMFILE and friends: the queue is left as is; the next connection
          // attempt re-arms the edge. Good enough for a benchmark.
          std::fprintf(stderr, "accept4: %s\n", std::strerror(errno));
        }
        return;
      }
      int one = 1;
      // Request/response traffic: Nagle would hold back every short echo.
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<size_t>(fd) >= conns_.size()) conns_.resize(static_cast<size_t>(fd) + 1);
      conns_[fd] = std::make_unique<connection>();
      if (!add(fd, EPOLLIN | EPOLLET)) {
        drop(fd);
        continue;
      }
      // Data may have arrived before the ADD; with EPOLLET we would never hear of it.
      on_readable(fd);
    }
  }

  void drop(int fd) {
    // close() also removes fd from the epoll set; nothing else holds a dup.
    close(fd);
    conns_[fd].reset();
  }

  // Writes out what is pending. Returns false if the connection was dropped.
  bool flush(int fd) {
    connection& c = *conns_[fd];
    while (c.pending_begin < c.pending_end) {
      ssize_t w = write(fd, c.buf.get() + c.pending_begin, c.pending_end - c.pending_begin);
      if (w > 0) {
        c.pending_begin += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_out_armed(fd, c, true);
        return true;
      }
      drop(fd);
      return false;
    }
    c.pending_begin = c.pending_end = 0;
    set_out_armed(fd, c, false);
    return true;
  }

  void on_readable(int fd) {
    connection& c = *conns_[fd];
    // Edge-triggered: keep reading until EAGAIN, unless a short write makes us
    // wait for EPOLLOUT; flush() then brings us back here through the caller.
    while (c.pending_begin == c.pending_end) {
      ssize_t r = read(fd, c.buf.get(), k_conn_buffer_size);
      if (r > 0) {
        c.pending_begin = 0;
        c.pending_end = static_cast<size_t>(r);
        if (!flush(fd)) return;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      drop(fd);  // EOF or a real error.
      return;
    }
  }

  int listen_fd_;
  int stop_fd_;
  int epfd_ = -1;
  std::vector<std::unique_ptr<connection>> conns_;
};

}  // namespace

int main(int argc, char** argv) {
  options opts = parse_options(argc, argv);

  // Block the stop signals before any thread starts so they all inherit the mask
  // and only sigwait() below ever sees them; no async-signal-safety puzzles.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A peer resetting mid-write must be an EPIPE, not a dead process.
  signal(SIGPIPE, SIG_IGN);

  int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) {
    std::perror("eventfd");
    return 1;
  }

  // Every listener is bound before any loop runs and before "ready", so the
  // kernel spreads the first connections over all of them.
  std::vector<int> listeners;
  for (int i = 0; i < opts.threads; ++i) {
    int fd = open_listener(opts);
    if (fd < 0) return 1;
    listeners.push_back(fd);
  }

  std::vector<std::thread> threads;
  std::vector<int> results(static_cast<size_t>(opts.threads), 0);
  for (int i = 0; i < opts.threads; ++i) {
    threads.emplace_back([&, i] {
      echo_loop loop(listeners[i], stop_fd);
      results[i] = loop.run() ? 0 : 1;
      // A loop that died must not leave main() in sigwait() forever; the signal
      // is process-directed and blocked everywhere, so sigwait() picks it up.
      if (results[i] != 0) kill(getpid(), SIGTERM);
    });
  }
  std::fprintf(stderr, "epoll_echo_server ready host=%s port=%d threads=%d\n", opts.host.c_str(),
               opts.port, opts.threads);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  uint64_t one = 1;
  if (write(stop_fd, &one, sizeof one) != sizeof one) std::perror("write(eventfd)");
  for (auto& t : threads) t.join();
  for (int fd : listeners) close(fd);
  close(stop_fd);
  std::fprintf(stderr, "epoll_echo_server stopped signal=%s\n", strsignal(sig));

  for (int r : results) {
    if (r != 0) return 1;
  }
  return 0;
}
