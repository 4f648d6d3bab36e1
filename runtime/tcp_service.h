// tcp_service: one listening service (SMTP on 25, IMAP on 143, …) on one shard. Every
// shard runs its own instance with its own SO_REUSEPORT socket; they share one
// conn_limits so the caps hold across shards.
//
//   accept loop ──admit?──no──> refusal line, close
//                    │yes
//                    └──> spawn session(handler) in the service's scope
//
// Shutdown (Seastar's gate pattern): stop_accepting() closes the listener and marks every
// session as stopping (protocols then answer 421 and end at the next command boundary);
// drain(grace) waits up to `grace` for sessions to end, then cancels the rest, whose
// in-flight I/O fails with `cancelled`, and waits for them to unwind.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/conn_limits.h"
#include "runtime/net.h"
#include "runtime/task_scope.h"

namespace ringmail {

class tcp_service;

// What a protocol handler gets: its connection and its session's identity and controls.
struct session {
  connection conn;
  uint64_t id = 0;
  cancel_source cancel;
  tcp_service* service = nullptr;
  bool stopping() const;

  // Intrusive membership in the service's session list (for shutdown).
  session* prev = nullptr;
  session* next = nullptr;
};

using session_handler = std::function<task<void>(session&)>;

struct service_options {
  std::string name;            // "smtp", "imap", … (logs and metrics)
  socket_address address;      // where to listen
  listen_options listen;
  std::string refusal_message; // sent before closing a refused connection, e.g. "421 4.7.0 …\r\n"
};

class tcp_service {
 public:
  // On the shard that will own it. limits may be shared with the other shards' instances.
  static absl::StatusOr<std::unique_ptr<tcp_service>> start(service_options options, session_handler handler,
                                                            std::shared_ptr<conn_limits> limits);
  ~tcp_service();

  uint16_t port() const { return listener_->port(); }
  const std::string& name() const { return options_.name; }
  bool stopping() const { return stopping_; }
  size_t sessions() const { return session_count_; }
  uint64_t refused() const { return refused_; }

  void stop_accepting();
  task<void> drain(duration grace);

 private:
  tcp_service() = default;
  task<void> accept_loop();
  task<void> run_session(connection conn, conn_limits::permit permit);
  task<void> refuse(connection conn, conn_limits::verdict why);

  service_options options_;
  session_handler handler_;
  std::shared_ptr<conn_limits> limits_;
  std::unique_ptr<listener> listener_;
  task_scope scope_;
  session* sessions_ = nullptr;
  size_t session_count_ = 0;
  uint64_t refused_ = 0;
  bool stopping_ = false;
};

}  // namespace ringmail
