// The load run: `connections` concurrent sessions spread over `shards` client threads,
// each taking the next message number from one shared counter until `messages` have
// been tried, so fast sessions simply send more and the run ends when the total is done.
// For submission load each session authenticates (AUTH PLAIN after STARTTLS) as one of
// the logins, in turn, and may send as it.
//
// Per message it records one outcome (ok, temporary failure, permanent failure, error)
// and, for accepted messages, the latency from MAIL (or, with one connection per
// message, from connect) to the final reply after the data.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/net.h"
#include "tools/ringmail-load/histogram.h"
#include "tools/ringmail-load/message_source.h"
#include "tools/ringmail-load/relay_client.h"

namespace ringmail::load {

struct load_options {
  socket_address server;
  uint64_t messages = 1;
  unsigned connections = 1;
  unsigned shards = 1;
  bool pin = false;  // pin client threads to CPUs (off: the server usually runs alongside)
  bool new_connection_per_message = false;
  std::string from;
  std::vector<std::string> recipients;  // at least rcpts_per_message of them
  unsigned rcpts_per_message = 1;
  bool random_recipients = false;  // else round-robin by message number
  uint64_t seed = 1;
  client_options client;
  // Submission load (RFC 4954 AUTH PLAIN, sent by the client only under TLS): session i
  // logs in as logins[i % logins.size()]. Empty: no AUTH.
  std::vector<relay::auth_credentials> logins;
  // Each session sends as its login (MAIL FROM and From:), since a submission server lets
  // a login send only as its own addresses; else every message is from `from`.
  bool from_login = false;
  // Open file (O_APPEND) for the ledger of acknowledged messages, or -1.
  int ledger_fd = -1;
  // Unique to this run; part of every Message-ID.
  std::string run_tag;
};

struct load_report {
  uint64_t messages = 0;
  uint64_t ok = 0;
  uint64_t temp_fail = 0;
  uint64_t perm_fail = 0;
  uint64_t errors = 0;
  uint64_t ledger_write_errors = 0;
  double seconds = 0;
  latency_histogram latency;  // microseconds, accepted messages only
  // The first few distinct failures (failure::describe()) with how often each was seen.
  std::vector<std::pair<std::string, uint64_t>> failures;
};

// Runs the whole load on its own shard_set and returns the totals. Fails only if the
// runtime cannot start (io_uring unavailable).
absl::StatusOr<load_report> run_load(const load_options& options, const message_source& messages);

// The ledger line(s) for one acknowledged message: "<message-id> recipient\n" per
// recipient the server took.
std::string ledger_lines(std::string_view message_id, std::span<const std::string> recipients,
                         const std::vector<bool>& delivered);

}  // namespace ringmail::load
