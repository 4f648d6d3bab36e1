// The IMAP load run (`ringmail-load --mode=imap`), in one of three shapes:
//
//   sessions (default)  `connections` long-lived sessions, each logged in as one user with
//                       its mailbox selected, sending commands drawn from the mix one at
//                       a time, back to back, until --duration or --commands is reached.
//   cycle               each of the `connections` workers repeats: connect, log in (next
//                       user in turn), SELECT, `cycle_commands` commands drawn from the
//                       mix, LOGOUT — the pattern of a webmail or a phone fetching mail.
//   idle                `connections` sessions log in, SELECT and IDLE (RFC 2177) and stay
//                       there; then one message is delivered over SMTP/LMTP to each
//                       mailbox that has a session, and each session records the delay
//                       from the start of that delivery to its untagged EXISTS.
//
// Sessions are dealt out to the client shards in turn (as in the SMTP mode); each shard
// counts into its own histograms, merged at the end; a few relaxed atomics feed the live
// progress line. Command kinds and what they send:
//   fetch_env   FETCH a:b (UID FLAGS ENVELOPE) over `fetch_env_count` messages (a list view)
//   fetch_body  FETCH n BODY.PEEK[] (one whole message)
//   store       STORE n +FLAGS / -FLAGS (\Flagged), alternating
//   search      SEARCH UNSEEN | FLAGGED | FROM "alice" | SUBJECT "meeting", in turn
//   append      APPEND <mailbox> (\Seen) {n} of a generated message
//   expunge     STORE n +FLAGS.SILENT (\Deleted), then EXPUNGE (timed together)
//   noop        NOOP
// plus login, select and logout, which are timed and counted like the rest.
// n is drawn uniformly from the messages the session knows exist (EXISTS).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/net.h"
#include "tools/ringmail-load/histogram.h"
#include "tools/ringmail-load/imap_client.h"
#include "tools/ringmail-load/relay_client.h"

namespace ringmail::load {

enum class imap_kind : uint8_t { login, select, fetch_env, fetch_body, store, search, append, expunge, noop, logout };
constexpr size_t kImapKinds = 10;
const char* imap_kind_name(imap_kind k);

// Weights per kind (only the mixable ones: fetch_env .. noop); 0 means never.
using imap_mix = std::array<uint32_t, kImapKinds>;
// "fetch_env:40,fetch_body:20,store:15" -> weights; unknown kinds, login/select/logout,
// bad numbers or an all-zero mix are errors.
absl::StatusOr<imap_mix> parse_imap_mix(std::string_view text);

struct imap_user {
  std::string name;
  std::string password;
};

enum class imap_shape { sessions, cycle, idle };

struct imap_load_options {
  imap_shape shape = imap_shape::sessions;
  socket_address server;
  // With tls_fraction > 0: that share of the sessions uses implicit TLS to tls_server
  // if it is set (IMAPS), else STARTTLS on `server`.
  socket_address tls_server;
  bool has_tls_server = false;
  double tls_fraction = 0;
  std::vector<socket_address> sources;  // connect from these in turn (port 0); empty: any
  std::vector<imap_user> users;         // session i (or cycle i) uses user i % size
  std::string mailbox = "INBOX";
  unsigned connections = 1;
  unsigned shards = 1;
  bool pin = false;
  imap_mix mix{};
  unsigned cycle_commands = 3;
  double duration_seconds = 10;  // sessions and cycle: stop after this long ...
  uint64_t commands = 0;         // ... or after this many commands (0: no limit)
  unsigned fetch_env_count = 20;
  size_t append_size = 2048;  // body bytes of appended messages
  uint64_t seed = 1;
  bool progress = true;  // a line on stderr every second
  imap_client_options client;  // tls mode, context and auth for the non-fraction sessions

  // idle: sessions opening at once per shard (a flood of SYNs and TLS handshakes would
  // otherwise overflow the server's accept backlog), the longest wait for all of them
  // to be idle, and how to deliver the messages.
  unsigned connect_concurrency = 200;
  double idle_setup_seconds = 600;
  std::string ready_file;  // written ("sessions=N\n") once all sessions are idle
  double idle_hold_seconds = 0;  // wait this long after ready before delivering
  socket_address deliver_server;
  bool has_deliver_server = false;  // without one, no deliveries: sessions just idle for duration
  bool deliver_lmtp = false;
  unsigned deliver_connections = 4;
  double deliver_rate = 0;  // deliveries per second (0: as fast as the server takes them)
  std::string deliver_from = "load@ringmail.test";
  double idle_wait_seconds = 10;  // after the last delivery, wait this long for EXISTS
};

struct imap_load_report {
  double seconds = 0;
  std::array<uint64_t, kImapKinds> ok{};
  std::array<uint64_t, kImapKinds> failed{};  // NO/BAD answers and broken sessions
  std::array<latency_histogram, kImapKinds> latency;  // microseconds, OK commands only
  uint64_t session_errors = 0;  // connect/TLS/greeting failures and broken sessions
  uint64_t cycles = 0;
  std::vector<std::pair<std::string, uint64_t>> failures;  // first few distinct, with counts

  // idle
  uint64_t idle_sessions = 0;  // sessions that reached IDLE
  uint64_t idle_tls = 0;       // ... of which over TLS
  double idle_setup_seconds = 0;
  uint64_t deliveries_ok = 0;
  uint64_t deliveries_failed = 0;
  uint64_t exists_seen = 0;      // sessions told of their delivery
  uint64_t exists_expected = 0;  // sessions whose user got a delivery
  uint64_t exists_unexpected = 0;  // EXISTS for a mailbox we had not delivered to
  latency_histogram exists_delay;  // microseconds from the start of a delivery to EXISTS
  uint64_t exists_late = 0;        // ... of which more than one second
  uint64_t idle_failed = 0;        // sessions that never reached IDLE

  uint64_t total_ok() const;
  uint64_t total_failed() const;
};

// Runs the whole load on its own shard_set. Fails only if the runtime cannot start.
absl::StatusOr<imap_load_report> run_imap_load(const imap_load_options& options);

// Users "user%d@example.test" for %d = 1..count (the first "%d" is replaced).
std::vector<imap_user> users_from_pattern(std::string_view pattern, unsigned count, std::string_view password);
// A users file: one user a line, "address password" or "address:password" or just the
// address (then `default_password`); blank lines and '#' comments skipped.
absl::StatusOr<std::vector<imap_user>> read_users_file(const std::string& path, std::string_view default_password);

}  // namespace ringmail::load
