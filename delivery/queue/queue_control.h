// queue_control: the server side of `ringmail-admin queue list|show|flush|delete|hold|
// release` (issue 13 "The queue": "like postqueue and postsuper, working against the
// running server"). The protocol is queue_control_protocol.h's; this file runs it.
//
// WHERE: a Unix stream socket, <data_dir>/queue/control.sock, served by shard 0 alone (a
// Unix socket cannot be shared with SO_REUSEPORT; the LMTP socket does the same). The
// socket is made mode 0600 right after bind; until then it is still unreachable to
// others, since its directory <data_dir>/queue is 0700 (queue_store's dir_mode). A peer
// whose uid (SO_PEERCRED) is neither root nor the server's own is refused as well.
//
// HOW: every queue file has one owner, the shard whose queue_store wrote it (its id names
// the shard: "<hex time>-<shard>-<hex counter>"). The session runs on shard 0 and asks
// shard i through on_shard(i, ...): list and ALL walk every shard; an id goes to its own
// shard. Nothing here touches a queue file itself: the store does (hold markers, forced
// removes), the relay is told through queue_runner (flush, schedule).
//
// Threading: `shards` has one entry per shard; entry i is read only on shard i (so the
// server may fill it while the shards start), and must outlive the service.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/tcp_service.h"

namespace ringmail::queue {

class queue_store;

// What the control channel asks of a shard's relay (implemented by relay::relay_agent).
class queue_runner {
 public:
  virtual ~queue_runner() = default;
  virtual void flush() = 0;                    // every deferred message of this shard: try now
  virtual void schedule(std::string id) = 0;   // this message: try now (flush <id>, release)
};

// One shard's queue as the control channel reaches it. runner may be null (no relay):
// flush then fails with a clear error, release only releases.
struct control_shard {
  queue_store* store = nullptr;
  queue_runner* runner = nullptr;
};

// <data_dir>/queue/control.sock
std::string control_socket_path(std::string_view data_dir);

// On shard 0, after the shards' stores exist (their load_all may still run: a request
// that reaches a store first finds what it has loaded). Creates <data_dir>/queue (0700)
// if missing, replaces a stale socket file, binds, chmods 0600.
absl::StatusOr<std::unique_ptr<tcp_service>> start_queue_control(std::string_view data_dir,
                                                                 const std::vector<control_shard>* shards);

// One control connection (what the service runs; tests may drive it directly).
task<void> run_control_session(session& s, const std::vector<control_shard>& shards);

}  // namespace ringmail::queue
