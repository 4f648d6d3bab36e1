// relay_agent: the outbound relay of one shard (issue 13, "The relay"; DESIGN.md story 4).
// It takes the messages of its shard's queue_store as they fall due, resolves each
// recipient domain (route.h), delivers with smtp_client.h, records every recipient's
// outcome durably in the store, and sends the notices the sender is owed: an RFC 3464
// bounce when a recipient fails for good, a delay notice when --queue_delay_warning
// passes. It is Postfix's qmgr and smtp(8) in one coroutine loop per shard.
//
// SCHEDULING. A min-heap of (due time, queue id): every message at start (load_all has
// run), each new one when the queue sink reports it (schedule()), each deferred one at the
// earliest next attempt of its recipients. One dispatcher coroutine pops due messages and
// starts a delivery for each, at most `max_deliveries` at once; it sleeps until the next
// due time or until something is scheduled. A message is never delivered by two
// coroutines at once (in_flight_). Held messages (ringmail-admin queue hold) are skipped
// until released.
//
// ONE DELIVERY of a message: its due recipients (pending, or deferred and due, or all
// deferred ones after a flush) are grouped by domain; each group is routed and sent in one
// transaction per destination, the groups one after another. For each host of the route
// in order, each of its addresses in turn (RFC 5321 5.1 "the SMTP client SHOULD try at
// least two addresses"): a session-level failure (connect, greeting, EHLO, STARTTLS, a
// 4xx/5xx to MAIL or DATA, a broken connection) moves on to the next address with the
// recipients still undecided; a reply to RCPT or to the final dot decides its recipients.
// Postfix does the same (smtp_connect.c tries the next MX for a soft error of the session).
// Outcome per recipient (smtp_reply.h classify): 2xx delivered, 5xx bounced, 4xx or no
// reply deferred with retry_policy.h's back-off; deferred past the queue lifetime bounces.
//
// CONNECTIONS are reused: after a successful transaction the session goes back to a
// per-address cache (Postfix's scache) for the next message to the same place; an idle one
// is closed after `connection_idle`, a session carries at most `max_messages_per_session`.
// At most `destination_concurrency` deliveries run at once per destination (the first
// host of the route: the relayhost, or the MX domain), as Postfix's
// default_destination_concurrency_limit.
//
// TLS: opportunistic STARTTLS by default (RFC 7435); when the handshake fails the same
// address is tried again without TLS, as Postfix's smtp_tls_security_level=may does.
// `encrypt` requires STARTTLS, `verify` also the certificate (name = the MX host).
//
// DURABILITY: outcomes are written (queue_store::update, fsynced) before the message is
// rescheduled or removed; a crash between the remote 250 and the update delivers the
// recipient twice after restart — never loses it (DESIGN.md "a crash may at worst deliver
// a message twice"). Notices are sent after the update that bounced the recipient; a crash
// in between loses the notice, not the mail.
//
// Threading: one agent per shard, on that shard's thread, over that shard's store, route
// resolver and notice sender, which must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "delivery/queue/queue_control.h"
#include "delivery/queue/queue_store.h"
#include "delivery/queue/retry_policy.h"
#include "delivery/relay/dsn.h"
#include "delivery/relay/route.h"
#include "delivery/relay/smtp_client.h"
#include "runtime/io_op.h"
#include "runtime/notifier.h"
#include "runtime/task.h"
#include "runtime/task_scope.h"

namespace ringmail::relay {

class notice_sender;

struct relay_options {
  std::string hostname;  // EHLO name and the Reporting-MTA of notices
  std::optional<socket_address> source;  // --relay_bind_address; none: the kernel's choice
  queue::retry_policy retry;
  tls_policy starttls = tls_policy::opportunistic;
  std::shared_ptr<tls::context> tls;  // a client context (verifying for `verify`); null: no TLS
  bool pipelining = true;
  std::optional<auth_credentials> relayhost_auth;  // AUTH PLAIN to --relayhost only
  client_timeouts timeouts;
  size_t max_deliveries = 100;           // messages being delivered at once on the shard
  size_t destination_concurrency = 20;   // ... of which to one destination
  size_t max_messages_per_session = 100; // then QUIT and reconnect
  // Recipients per transaction; more go in further transactions on the same session
  // (Postfix smtp_destination_recipient_limit; RFC 5321 4.5.3.1.8 only promises 100).
  size_t recipients_per_transaction = 50;
  duration connection_idle{std::chrono::seconds(2)};  // Postfix smtp_connection_cache_time_limit
};

struct relay_counters {
  uint64_t attempts = 0;   // delivery attempts of a message (one per due message)
  uint64_t delivered = 0;  // recipients
  uint64_t deferred = 0;
  uint64_t bounced = 0;
  uint64_t notices = 0;    // bounces and delay notices sent
  uint64_t sessions = 0;   // SMTP sessions opened
};

class relay_agent final : public queue::queue_runner {
 public:
  relay_agent(queue::queue_store& store, route_resolver& routes, notice_sender& notices, relay_options options);
  ~relay_agent() override;
  relay_agent(const relay_agent&) = delete;
  relay_agent& operator=(const relay_agent&) = delete;

  // Runs until stop(): schedules every message already in the store, then dispatches.
  // Returns after the deliveries in flight have ended and the cached sessions are closed.
  task<void> run();
  // Asks run() to return (deliveries in flight finish their current transaction).
  void stop();

  // queue::queue_runner: the queue sink, notices and the admin channel call these.
  void flush() override;
  void schedule(std::string id) override;

  const relay_counters& counters() const { return counters_; }
  size_t in_flight() const { return in_flight_.size(); }

 private:
  struct due_entry {
    int64_t when = 0;
    std::string id;
    bool operator>(const due_entry& o) const { return when > o.when; }
  };
  struct cached_session {
    std::unique_ptr<client_options> options;  // outlives the client, which points at it
    std::unique_ptr<smtp_client> client;
    size_t messages = 0;
    int64_t idle_since_ms = 0;
  };
  struct delivery_group;

  task<void> dispatch();
  task<void> deliver(std::string id);
  task<void> deliver_group(delivery_group& group, std::string_view message, const queue::queue_record& record);
  task<void> send_notices(const queue::queue_record& record, std::vector<dsn_recipient> bounced,
                          std::vector<dsn_recipient> delayed, std::string_view message);
  task<void> close_idle(bool all);
  void wake();
  void push(int64_t when, std::string id);
  std::unique_ptr<client_options> session_options(const route& r, const route_host& host, bool tls);

  queue::queue_store& store_;
  route_resolver& routes_;
  notice_sender& notices_;
  relay_options options_;
  std::priority_queue<due_entry, std::vector<due_entry>, std::greater<>> due_;
  absl::flat_hash_set<std::string> in_flight_;
  absl::flat_hash_set<std::string> forced_;  // flushed or released: every deferred recipient is due
  bool flush_all_ = false;                   // flush(): the next pass treats every deferred one as due
  // Deliveries running per destination, and the ones waiting for a slot there (woken one
  // at a time, in order). Boxed: a waiter holds on to its destination's notifier.
  struct destination_slots {
    size_t active = 0;
    notifier freed;
  };
  absl::flat_hash_map<std::string, std::unique_ptr<destination_slots>> destinations_;
  absl::flat_hash_map<std::string, std::vector<cached_session>> idle_sessions_;  // by address
  cancel_source* sleeping_ = nullptr;  // the dispatcher's sleep, cancelled by wake()
  cancel_source cut_connections_;      // every client's I/O; cancelled 5 s into a stop
  bool stopping_ = false;
  task_scope deliveries_;
  relay_counters counters_;
};

}  // namespace ringmail::relay
