// One POP3 session (RFC 1939; CAPA and response codes of RFC 2449, STLS of RFC 2595,
// AUTH-RESP-CODE of RFC 3206, AUTH of RFC 5034): story 2 of DESIGN.md for the fetchers
// and clients that speak POP3.
//
// Glue, like imap/session: a line is parsed by command.h, the state (AUTHORIZATION,
// TRANSACTION) is checked against the command table, logins go through the shared
// authenticator (delivery/auth) and SASL code (protocols/sasl), and INBOX is read from
// the user's mailbox on its OWNER shard (delivery/mailstore, with_mailbox). The session's
// socket and TLS state stay on the shard that accepted it.
//
// THE MAILDROP LOCK. "the POP3 server then acquires an exclusive-access lock on the
// maildrop, as necessary to prevent messages from being modified or removed before the
// session enters the UPDATE state" (RFC 1939 section 4). One POP3 session per mailbox at
// a time: the lock is a set of users kept on the mailbox's owner shard, taken after the
// password is checked and released when the session ends however it ends. A second
// login gets "-ERR [IN-USE]" (RFC 2449 section 8.1.2). IMAP sessions are not locked out:
// they may flag or expunge meanwhile; the maildrop copes (maildrop.h).
//
// UPDATE (section 6): QUIT in TRANSACTION asks the owner to expunge the messages marked
// deleted (IMAP sessions following INBOX get their EXPUNGE from the owner's events) and
// to set \Seen on the ones retrieved and kept, as Dovecot does. A connection that drops
// or times out deletes nothing.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "delivery/auth/authenticator.h"
#include "delivery/mailstore/mail_store.h"
#include "runtime/tcp_service.h"
#include "runtime/tls_context.h"

namespace ringmail::pop3 {

struct server_config {
  std::string hostname = "localhost";
  std::shared_ptr<tls::context> tls;  // STLS offered (plain port) when set
  bool implicit_tls = false;          // pop3s: TLS starts at accept
  // Off (the default): USER/PASS/AUTH only under TLS (RFC 2595 section 2.1 "Cleartext
  // passwords" and Dovecot's disable_plaintext_auth). Loopback is no exception.
  bool allow_plaintext_auth = false;
  size_t max_errors = 20;  // unknown or refused commands before the session is closed
  // RFC 1939 section 3: an autologout timer "MUST be of at least 10 minutes' duration".
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
  // Before login: as Dovecot ("no auth attempts in 180 secs").
  std::chrono::milliseconds login_timeout{std::chrono::minutes(3)};
};

// What POP3 sessions on one shard share; owned by the shard.
struct shard_context {
  auth::authenticator* auth = nullptr;
  const mailstore::store_set* stores = nullptr;
  // Every shard's context, index = shard id: the maildrop lock of a user lives on the
  // user's owner shard (mailstore::owner_of).
  const std::vector<shard_context*>* all = nullptr;
  // Users with a POP3 session in TRANSACTION state, for the users this shard owns.
  absl::flat_hash_set<std::string> locked;
};

task<void> run_session(session& s, const server_config& config, shard_context& shard);

}  // namespace ringmail::pop3
