#include "runtime/signals.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "runtime/file.h"
#include "runtime/reactor.h"

namespace ringmail {

void block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

task<int> wait_for_signal(std::vector<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  int fd = signalfd(-1, &set, SFD_CLOEXEC);
  if (fd < 0) co_return -errno;
  file f(fd);
  signalfd_siginfo info{};
  auto got = co_await f.read_at(std::span<char>(reinterpret_cast<char*>(&info), sizeof info), 0);
  if (!got.ok()) co_return -got.status().error_number;
  co_return static_cast<int>(info.ssi_signo);
}

}  // namespace ringmail
