// Signals as events on a shard: the process blocks SIGTERM/SIGINT/SIGHUP in every thread
// (block_shutdown_signals, before any thread starts) and one shard reads them from a
// signalfd through its ring, so a signal never interrupts a shard mid-step.
#pragma once

#include <vector>

#include "runtime/task.h"

namespace ringmail {

// Call in main() before starting threads; threads inherit the mask. Also ignores SIGPIPE.
void block_shutdown_signals();

// Waits for one of the blocked signals and returns its number (or -errno).
task<int> wait_for_signal(std::vector<int> signals);

}  // namespace ringmail
