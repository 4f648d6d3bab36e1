// One ManageSieve session (RFC 5804): how users edit their Sieve filters (Roundcube's
// managesieve plugin, sieve-connect, Thunderbird's sieve add-on) - issue 14.
//
// Glue, like pop3/session: command.h frames and tokenizes, the state (non-authenticated,
// authenticated) is checked against the command table, logins go through the shared
// authenticator (delivery/auth, with its throttling) and SASL code (protocols/sasl), and
// the scripts are read and written through script_access (the script store on the
// user's owner shard). PUTSCRIPT and CHECKSCRIPT compile the script here first
// (delivery/sieve/checker.h compile_script) for the checker's "line L, column C: ..."
// text and its warnings (RFC 5804 1.3 "WARNINGS"); the store validates again.
//
// The greeting is the capability list (RFC 5804 1.7) then OK. Choices where the RFC
// leaves room, and departures:
//   - SASL: PLAIN and LOGIN, offered (and accepted) only under TLS unless
//     allow_plaintext_auth, as pop3/imap do (Dovecot's disable_plaintext_auth); before
//     TLS "SASL" is listed with an empty value, as Dovecot does, and AUTHENTICATE answers
//     NO (ENCRYPT-NEEDED).
//   - NOTIFY is left out: it lists the enotify methods (RFC 5435), which we do not
//     implement; RFC 5804 1.7 makes it conditional on enotify.
//   - OWNER (the logged-in user) after authentication; UNAUTHENTICATE (RFC 5804 2.14)
//     offered and implemented; STARTTLS only before TLS and before login.
//   - TRANSITION-NEEDED and AUTH-TOO-WEAK are never sent: PLAIN and LOGIN need no
//     password transition. TRYLATER for a directory or store that cannot answer now.
//   - A synchronizing literal "{N}" from the client is read without a continuation
//     (command.h); a literal or line over the limits ends the session with BYE.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "delivery/auth/authenticator.h"
#include "protocols/managesieve/script_access.h"
#include "runtime/tcp_service.h"
#include "runtime/tls_context.h"

namespace ringmail::managesieve {

struct server_config {
  std::string hostname = "localhost";
  std::shared_ptr<tls::context> tls;  // STARTTLS offered when set
  bool allow_plaintext_auth = false;  // AUTHENTICATE before STARTTLS (passwords in the clear)
  size_t max_errors = 20;             // refused commands before BYE
  // Advertised as MAXREDIRECTS (RFC 5804 1.7): the interpreter's run_limits.max_redirects.
  size_t max_redirects = 4;
  // The largest script PUTSCRIPT takes (the store's max_script_bytes): a larger one gets
  // NO (QUOTA/MAXSIZE) without a trip to the store. The command reader's literal limit
  // is above it (see session.cc), so the answer is a NO and not a BYE.
  size_t max_script_bytes = 128 * 1024;
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(30)};
  std::chrono::milliseconds login_timeout{std::chrono::minutes(3)};
};

// What ManageSieve sessions on one shard share; owned by the shard.
struct shard_context {
  auth::authenticator* auth = nullptr;
  script_access* scripts = nullptr;
};

task<void> run_session(session& s, const server_config& config, shard_context& shard);

}  // namespace ringmail::managesieve
