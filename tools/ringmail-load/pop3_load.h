// The POP3 load run (`ringmail-load --mode=pop3`): `connections` workers, each repeating
// the session of a mail fetcher that keeps mail on the server:
//
//   connect [TLS: implicit, or STLS] - USER/PASS (or AUTH PLAIN) - STAT - LIST - UIDL -
//   RETR 1 .. RETR n - QUIT
//
// until --duration has passed or --sessions sessions have been run (worker w runs sessions
// w, w + connections, ... below that number). No DELE, so a run can be repeated on the
// same mailboxes (the server may set \Seen on QUIT, RFC 1939 leaves that to it; Dovecot
// and ringmail do).
//
// With `pipelining` and PIPELINING in the server's CAPA (RFC 2449 section 6.6) the RETRs
// are written in one go (up to kPipelineWindow ahead of the replies read, so a huge
// maildrop cannot fill both sockets' buffers and stall); otherwise one at a time.
//
// Checked in every session, each failure counted and sampled (failure_samples.h):
//   STAT's count = LIST's lines = UIDL's lines, STAT's octets = the sum of LIST's sizes,
//   LIST and UIDL number the messages 1..n in order, UIDLs are unique in the maildrop,
//   every RETR delivers exactly its LIST size (after un-stuffing, RFC 1939 section 3), or
//   two octets more when the message's last line has no CRLF and the server adds one
//   before the terminator (counted apart: final_crlf_added), and "+OK <n> octets" on
//   RETR, when the server says it, agrees with LIST.
//
// One POP3 session per maildrop at a time (RFC 1939 section 8: the server may lock it;
// ringmail answers -ERR [IN-USE], RFC 2449 section 8.1.1), so users are dealt out to the
// workers: worker w uses users w, w + connections, w + 2 * connections, ... in turn, and
// there must be at least as many users as connections.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/net.h"
#include "tools/ringmail-load/histogram.h"
#include "tools/ringmail-load/imap_load.h"
#include "tools/ringmail-load/pop3_client.h"

namespace ringmail::load {

constexpr unsigned kPipelineWindow = 64;

struct pop3_load_options {
  socket_address server;
  std::vector<imap_user> users;  // the IMAP mode's user list (users_from_pattern, read_users_file)
  unsigned connections = 1;
  unsigned shards = 1;
  bool pin = false;
  double duration_seconds = 10;  // stop starting sessions after this long ...
  uint64_t sessions = 0;         // ... or after this many (0: only the duration)
  bool pipelining = false;       // pipeline the RETRs when CAPA lists PIPELINING
  bool progress = true;          // a line on stderr every second
  pop3_client_options client;
};

struct pop3_load_report {
  double seconds = 0;
  uint64_t sessions = 0;         // ended with QUIT's +OK
  uint64_t pipelined_sessions = 0;  // ... of which sent their RETRs pipelined
  uint64_t messages = 0;         // RETRs whose body arrived with the right size
  uint64_t bytes = 0;            // message octets of those
  uint64_t failed_sessions = 0;  // any -ERR, broken stream or inconsistency
  uint64_t size_mismatches = 0;  // RETRs whose octets differ from LIST's size (also failed sessions)
  uint64_t final_crlf_added = 0;  // RETRs of LIST's size + 2: a last line without CRLF, ended by the server
  latency_histogram login;       // microseconds: first login command to its +OK
  latency_histogram session;     // microseconds: connect to QUIT's +OK
  std::vector<std::pair<std::string, uint64_t>> failures;  // first few distinct, with counts
};

// Runs the whole load on its own shard_set. Fails if the runtime cannot start or there
// are fewer users than connections.
absl::StatusOr<pop3_load_report> run_pop3_load(const pop3_load_options& options);

}  // namespace ringmail::load
