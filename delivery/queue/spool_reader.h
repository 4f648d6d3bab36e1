// spool_reader: reads the outbound queue's spool (queue_store.h's layout) OFFLINE, with
// plain blocking calls — for ringmail-admin and tests, never for a shard (the server's
// view is queue_store::list()). It only reads: damaged files are reported, not moved,
// tmp/ is not touched, so it is safe to run beside a live server (a file renamed or
// removed meanwhile is simply missed or reported as unreadable).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/queue/queue_format.h"

namespace ringmail::queue {

struct spool_entry {
  unsigned shard = 0;
  queue_record record;     // states from <id>.state when present and matching, else all pending
  uint64_t message_size = 0;
  std::string problem;     // "" or why the .msg or .state could not be used
};

// Every <id>.msg under <queue_root>/<shard>/, oldest arrival first. A damaged .msg is
// returned with only its id and shard and `problem` set. NotFound if queue_root is missing.
absl::StatusOr<std::vector<spool_entry>> read_spool(const std::string& queue_root);

}  // namespace ringmail::queue
