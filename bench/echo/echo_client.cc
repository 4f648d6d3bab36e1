// echo_client: the load generator for bench/echo, the same binary for every
// server under test so the comparison only varies the server.
//
//   echo_client --host=127.0.0.1 --port=N --conns=100 --size=64 --seconds=10 --warmup=1
//
// One thread and one blocking TCP_NODELAY connection each: send `size` bytes,
// read exactly `size` back, verify, repeat. Closed loop, one request in flight
// per connection, so requests/s and latency describe the server's round trip.
// Round trips that end during warm-up are not counted. Prints one line:
//   conns=.. size=.. seconds=.. requests=.. requests_per_sec=.. errors=.. p50_us=.. p99_us=..
// Exit status is 0 only if there were no errors and at least one request.

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

struct options {
  std::string host = "127.0.0.1";
  int port = 0;
  int conns = 100;
  size_t size = 64;
  double seconds = 10;
  double warmup = 1;
};

void usage_and_exit(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --port=N [--host=ADDR] [--conns=100] [--size=64] [--seconds=10] "
               "[--warmup=1]\n",
               argv0);
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
    if (const char* v = value_of("--host")) {
      opts.host = v;
    } else if (const char* v = value_of("--port")) {
      opts.port = std::atoi(v);
    } else if (const char* v = value_of("--conns")) {
      opts.conns = std::atoi(v);
    } else if (const char* v = value_of("--size")) {
      opts.size = std::strtoul(v, nullptr, 10);
    } else if (const char* v = value_of("--seconds")) {
      opts.seconds = std::atof(v);
    } else if (const char* v = value_of("--warmup")) {
      opts.warmup = std::atof(v);
    } else {
      usage_and_exit(argv[0]);
    }
  }
  if (opts.port <= 0 || opts.port > 65535 || opts.conns <= 0 || opts.size == 0 ||
      opts.size > (64u << 20) || opts.seconds <= 0 || opts.warmup < 0) {
    usage_and_exit(argv[0]);
  }
  return opts;
}

// Log-linear latency histogram in nanoseconds: exact below 32 ns, then 32
// sub-buckets per power of two (about 3% resolution). Recording is a shift and
// an increment; each thread owns one and they are merged at the end.
class histogram {
 public:
  static constexpr int k_sub_bits = 5;
  static constexpr uint64_t k_sub = uint64_t{1} << k_sub_bits;
  static constexpr size_t k_buckets = (64 - k_sub_bits + 1) * k_sub;

  void record(uint64_t ns) { ++counts_[index_of(ns)]; }

  void merge(const histogram& other) {
    for (size_t i = 0; i < k_buckets; ++i) counts_[i] += other.counts_[i];
  }

  // Midpoint of the bucket holding the q-quantile, in nanoseconds; 0 if empty.
  double quantile(double q) const {
    uint64_t total = 0;
    for (uint64_t c : counts_) total += c;
    if (total == 0) return 0;
    // Rank of the q-quantile, 1-based: the smallest value with at least q of
    // the samples at or below it.
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total));
    if (rank < 1) rank = 1;
    if (rank > total) rank = total;
    uint64_t seen = 0;
    for (size_t i = 0; i < k_buckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return midpoint_of(i);
    }
    return midpoint_of(k_buckets - 1);
  }

 private:
  static size_t index_of(uint64_t v) {
    if (v < k_sub) return static_cast<size_t>(v);
    int msb = 63 - std::countl_zero(v);
    int shift = msb - k_sub_bits;
    return static_cast<size_t>(shift + 1) * k_sub + static_cast<size_t>((v >> shift) - k_sub);
  }

  static double midpoint_of(size_t i) {
    if (i < k_sub) return static_cast<double>(i);
    size_t block = i / k_sub;
    uint64_t sub = i % k_sub;
    int shift = static_cast<int>(block) - 1;
    double low = static_cast<double>((k_sub + sub) << shift);
    return low + static_cast<double>(uint64_t{1} << shift) / 2;
  }

  std::array<uint64_t, k_buckets> counts_{};
};

// Run phases, flipped by main(); workers read them once per round trip.
enum phase : int { k_warmup = 0, k_measure = 1, k_stop = 2 };
std::atomic<int> g_phase{k_warmup};

struct alignas(64) worker_result {
  uint64_t requests = 0;  // Round trips completed in the measure phase.
  uint64_t errors = 0;    // Mismatched echoes plus fatal connection errors.
  histogram latency;
};

// Returns a connected socket, or -1 with a message on stderr.
int connect_to(const options& opts) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(opts.port);
  if (int rc = getaddrinfo(opts.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    std::fprintf(stderr, "getaddrinfo %s: %s\n", opts.host.c_str(), gai_strerror(rc));
    return -1;
  }
  int fd = -1;
  int last_errno = 0;
  for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
      last_errno = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    std::fprintf(stderr, "connect %s:%d: %s\n", opts.host.c_str(), opts.port,
                 std::strerror(last_errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // A stuck server must not hang the benchmark: a blocked send or recv gives up
  // after this long and the connection counts as an error.
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return fd;
}

// Both return nullptr on success, else why the connection is unusable.
const char* io_error(const char* what) {
  // SO_RCVTIMEO/SO_SNDTIMEO expiry shows up as EAGAIN on a blocking socket.
  if (errno == EAGAIN || errno == EWOULDBLOCK) return "timed out";
  return what != nullptr ? what : std::strerror(errno);
}

const char* send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return io_error(nullptr);
    p += w;
    n -= static_cast<size_t>(w);
  }
  return nullptr;
}

const char* recv_all(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return "closed by server";
    if (r < 0) return io_error(nullptr);
    p += r;
    n -= static_cast<size_t>(r);
  }
  return nullptr;
}

void run_connection(int fd, int id, size_t size, worker_result& out) {
  std::vector<char> request(size);
  std::vector<char> reply(size);
  for (size_t i = 0; i < size; ++i) request[i] = static_cast<char>('a' + (i + id) % 26);

  for (uint64_t seq = 0;; ++seq) {
    if (g_phase.load(std::memory_order_relaxed) == k_stop) break;
    // A sequence number in the payload makes a stale or misrouted echo a mismatch.
    std::memcpy(request.data(), &seq, std::min(size, sizeof seq));

    auto start = steady::now();
    const char* err = send_all(fd, request.data(), size);
    if (err == nullptr) err = recv_all(fd, reply.data(), size);
    if (err != nullptr) {
      std::fprintf(stderr, "conn %d: %s after %llu round trips\n", id, err,
                   static_cast<unsigned long long>(seq));
      ++out.errors;
      break;
    }
    auto elapsed = steady::now() - start;

    // Same length back, so the stream stays in step: count it and carry on.
    if (std::memcmp(request.data(), reply.data(), size) != 0) {
      ++out.errors;
      continue;
    }
    // Count by the phase at completion: the window is what main() timed.
    if (g_phase.load(std::memory_order_relaxed) != k_measure) continue;
    ++out.requests;
    out.latency.record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  options opts = parse_options(argc, argv);

  // Connect everything up front: connection set-up is not what is measured, and
  // a server that refuses some connections should fail loudly, not run slower.
  std::vector<int> fds;
  for (int i = 0; i < opts.conns; ++i) {
    int fd = connect_to(opts);
    if (fd < 0) {
      for (int f : fds) close(f);
      return 1;
    }
    fds.push_back(fd);
  }

  std::vector<worker_result> results(static_cast<size_t>(opts.conns));
  std::vector<std::thread> threads;
  threads.reserve(fds.size());
  for (int i = 0; i < opts.conns; ++i) {
    threads.emplace_back(run_connection, fds[i], i, opts.size, std::ref(results[i]));
  }

  auto to_duration = [](double s) {
    return std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(s));
  };
  std::this_thread::sleep_for(to_duration(opts.warmup));
  auto measure_start = steady::now();
  g_phase.store(k_measure, std::memory_order_relaxed);
  std::this_thread::sleep_until(measure_start + to_duration(opts.seconds));
  g_phase.store(k_stop, std::memory_order_relaxed);
  auto measure_end = steady::now();

  for (auto& t : threads) t.join();
  for (int fd : fds) close(fd);

  uint64_t requests = 0;
  uint64_t errors = 0;
  histogram latency;
  for (const auto& r : results) {
    requests += r.requests;
    errors += r.errors;
    latency.merge(r.latency);
  }
  double elapsed = std::chrono::duration<double>(measure_end - measure_start).count();
  std::printf(
      "conns=%d size=%zu seconds=%g requests=%llu requests_per_sec=%.0f errors=%llu "
      "p50_us=%.1f p99_us=%.1f\n",
      opts.conns, opts.size, opts.seconds, static_cast<unsigned long long>(requests),
      static_cast<double>(requests) / elapsed, static_cast<unsigned long long>(errors),
      latency.quantile(0.50) / 1000, latency.quantile(0.99) / 1000);
  return (errors == 0 && requests > 0) ? 0 : 1;
}
