// queue_control_client: the admin tool's side of the queue control channel
// (queue_control_protocol.h), and the same answers read OFFLINE from the spool when no
// server runs. Plain blocking calls: for ringmail-admin and tests, never for a shard.
//
// Offline, only reading is offered (list, show): the running server is the only writer
// of the spool (its stores hold every message's state in memory and would not see a
// change made behind them), and a tool cannot tell reliably that no server is about to
// start. So delete/hold/release/flush need the server; the tool says so when it is down.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "delivery/queue/queue_control_protocol.h"

namespace ringmail::queue {

// One request's whole reply.
struct control_reply {
  bool ok = false;                        // the terminator was "ok"
  std::string error;                      // the "error" text otherwise
  std::vector<control_message> messages;  // list, show
  std::string text;                       // show: the message
  std::vector<std::string> done;          // the ids acted on (also before an error: ALL)
};

// Sends `request` to the server on `socket_path` and reads its reply, each step within
// `timeout`. FailedPrecondition when no server answers there (no socket, or a stale one
// left by a server that is gone: "not running"); Unavailable or DataLoss for a server
// that broke off or answered something else.
absl::StatusOr<control_reply> call_queue_control(const std::string& socket_path, const control_request& request,
                                                 std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Offline (see above): every message under <queue_root>/<shard>/, oldest first, with its
// hold marker; damaged ones with `problem` set. NotFound if there is no queue at all.
absl::StatusOr<std::vector<control_message>> read_spool_messages(const std::string& queue_root);
// Offline `show`: the message and its bytes as the server would send them. NotFound.
absl::StatusOr<control_reply> read_spool_message(const std::string& queue_root, const std::string& id);

}  // namespace ringmail::queue
