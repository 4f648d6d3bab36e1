// The runtime's side of the echo benchmark: every shard listens on the same port
// (SO_REUSEPORT), each connection echoes what it receives straight from the provided
// buffer it arrived in (no copy), one coroutine per connection.
#include <signal.h>

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "runtime/log.h"
#include "runtime/net.h"
#include "runtime/shard_set.h"
#include "runtime/signals.h"
#include "runtime/tcp_service.h"

ABSL_FLAG(uint16_t, port, 7777, "TCP port on 127.0.0.1");
ABSL_FLAG(uint32_t, shards, 1, "Shards (threads)");
ABSL_FLAG(bool, pin, true, "Pin shard i to CPU i");

namespace {

ringmail::task<void> echo(ringmail::session& s) {
  for (;;) {
    auto got = co_await s.conn.receive(ringmail::no_deadline, &s.cancel);
    if (!got.ok()) co_return;
    ringmail::io_status sent = co_await s.conn.send_all(got->bytes(), ringmail::no_deadline, &s.cancel);
    if (!sent.ok()) co_return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ringmail::block_shutdown_signals();
  ringmail::raise_fd_limit();
  ringmail::shard_options options;
  options.shards = absl::GetFlag(FLAGS_shards);
  options.pin = absl::GetFlag(FLAGS_pin);
  auto shards = ringmail::shard_set::start(options);
  if (!shards.ok()) {
    std::fprintf(stderr, "ringmail_echo_server: %s\n", std::string(shards.status().message()).c_str());
    return 1;
  }
  auto& set = **shards;
  auto address = ringmail::socket_address::parse("127.0.0.1", absl::GetFlag(FLAGS_port));
  std::vector<std::unique_ptr<ringmail::tcp_service>> services(set.size());
  std::atomic<unsigned> started{0};
  for (unsigned i = 0; i < set.size(); ++i) {
    set.run_on(i, [&, i] {
      ringmail::service_options o;
      o.name = "echo";
      o.address = *address;
      auto svc = ringmail::tcp_service::start(o, echo, nullptr);
      if (!svc.ok()) {
        std::fprintf(stderr, "ringmail_echo_server: %s\n", std::string(svc.status().message()).c_str());
        std::exit(1);
      }
      services[i] = std::move(*svc);
      started.fetch_add(1);
    });
  }
  while (started.load() < set.size()) usleep(1000);
  std::fprintf(stderr, "ringmail_echo_server ready port=%u shards=%u\n", absl::GetFlag(FLAGS_port), set.size());
  sigset_t wait;
  sigemptyset(&wait);
  sigaddset(&wait, SIGTERM);
  sigaddset(&wait, SIGINT);
  int sig = 0;
  sigwait(&wait, &sig);
  // Services must die on their own shards; stop the loops, then leak the services rather
  // than destroy them from this thread (the process is exiting anyway).
  set.stop();
  set.join();
  for (auto& s : services) (void)s.release();
  return 0;
}
