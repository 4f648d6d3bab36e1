// smtp_client: the client side of one SMTP (RFC 5321) or LMTP (RFC 2033) session on the
// runtime, shared by the relay and by ringmail-load: connect, greeting, EHLO/LHLO (HELO
// if EHLO is refused), STARTTLS (RFC 3207) when offered or required, AUTH PLAIN (RFC 4954)
// for a smart host, then any number of mail transactions (RSET between them when the
// server still holds one), then QUIT.
//
// Outcomes are values (STYLE.md "Errors"): every step ends ok, with a temporary (4xx) or
// permanent (5xx) failure carrying the server's reply, or with an I/O or protocol error.
// Each recipient gets the reply that decided its fate (RCPT's refusal, or the reply to
// MAIL, DATA or the final dot), which classify() (smtp_reply.h) turns into delivered,
// deferred or bounced. After a failed transaction the session is left ready for the
// next MAIL or marked unusable.
//
// Timeouts follow RFC 5321 section 4.5.3.2 (client_timeouts); the write timeout of the
// stream is the data-block one, which also bounds every command write.
//
// Departures:
// - Opportunistic STARTTLS (RFC 7435) that fails in the handshake ends the session with a
//   tls_handshake failure; falling back to plaintext on a new connection is the caller's
//   choice (Postfix does so too; it is not done here so that policy stays in one place).
// - AUTH is only sent under TLS unless auth_without_tls allows it (RFC 4954 section 4
//   advises against plaintext mechanisms on unprotected sessions).
// - A message that needs SMTPUTF8 (RFC 6531) to a server that does not offer it, or one
//   larger than the server's SIZE limit (RFC 1870), is refused by the client itself with
//   the reply a server would have given (553 5.6.7, 552 5.3.4), nothing sent, so the
//   caller can bounce it like any other 5xx.
//
// Threading: a client lives on the shard that opened it; `options` must outlive it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/relay/smtp_reply.h"
#include "runtime/io_status.h"
#include "runtime/net.h"
#include "runtime/stream.h"
#include "runtime/task.h"
#include "runtime/tls_context.h"

namespace ringmail::relay {

// Where a session or transaction stopped, for reports.
enum class stage { connect, greeting, hello, starttls, tls_handshake, auth, mail, rcpt, data, message, rset, quit };
const char* stage_name(stage s);

struct failure {
  outcome kind = outcome::ok;
  stage at = stage::connect;
  std::string detail;  // the server's reply, or the I/O status
  // stage=rcpt reply="550 5.1.1 no such user" | stage=connect error="error:Connection refused"
  std::string describe() const;
  // For people (queue listings, bounces): "Connection refused (at connect)",
  // "timed out (at greeting)", or the server's reply "(at rcpt)".
  std::string text() const;
};

// RFC 5321 section 4.5.3.2, "Timeouts": how long to wait for each reply.
struct client_timeouts {
  duration connect{std::chrono::seconds(30)};    // not in RFC 5321; Postfix's smtp_connect_timeout
  duration greeting{std::chrono::minutes(5)};    // 4.5.3.2.1 initial 220
  duration command{std::chrono::minutes(5)};     // EHLO, STARTTLS, AUTH, RSET, QUIT: as MAIL
  duration mail{std::chrono::minutes(5)};        // 4.5.3.2.2
  duration rcpt{std::chrono::minutes(5)};        // 4.5.3.2.3
  duration data_init{std::chrono::minutes(2)};   // 4.5.3.2.4 the 354
  duration data_block{std::chrono::minutes(3)};  // 4.5.3.2.5 each write of the payload
  duration data_end{std::chrono::minutes(10)};   // 4.5.3.2.6 the reply to the final dot
  // The same limit for everything (ringmail-load's --timeout).
  static client_timeouts uniform(duration d) { return {d, d, d, d, d, d, d, d}; }
};

enum class tls_policy {
  none,           // never STARTTLS
  opportunistic,  // STARTTLS when offered (RFC 7435), else go on in plaintext
  required,       // STARTTLS or fail (stage::starttls) before any mail is sent
};

struct auth_credentials {
  std::string user;
  std::string password;
};

struct client_options {
  bool lmtp = false;  // LHLO, and one reply per accepted recipient after the data
  tls_policy starttls = tls_policy::none;
  // The name sent as SNI and, when `tls` verifies peers (tls::context::make_client(true)),
  // the name the server's certificate must match (RFC 6125). Empty: no SNI, and a
  // verifying context then fails every handshake (tls_engine.h).
  std::string tls_host;
  std::shared_ptr<tls::context> tls;  // a client context; required unless starttls == none
  bool pipelining = false;            // batch MAIL, RCPTs and DATA when PIPELINING is offered
  std::optional<auth_credentials> auth;  // AUTH PLAIN after EHLO (smart hosts)
  bool auth_without_tls = false;         // allow AUTH on a plaintext session (tests)
  std::string helo_name = "load.ringmail.test";
  // The local address to connect from (runtime/net.h connect_to); none: the kernel's choice.
  std::optional<socket_address> source;
  client_timeouts timeouts;
  // Cancelling it makes every operation of the client fail at once with `cancelled`
  // (the relay cuts its connections at shutdown); null: none.
  cancel_source* cancel = nullptr;
};

struct envelope {
  std::string_view from;
  std::span<const std::string> recipients;
  size_t size = 0;         // message size in bytes, for SIZE= (RFC 1870) when offered
  bool eight_bit = false;  // BODY=8BITMIME (RFC 6152) when offered
  bool smtputf8 = false;   // the message needs SMTPUTF8 (RFC 6531): non-ASCII addresses or headers
};

struct transaction_result {
  outcome kind = outcome::ok;  // ok only if every recipient got the message
  failure why;                 // the first failure, when kind != ok
  // Per recipient: whether the server accepted responsibility for delivering to it.
  std::vector<bool> delivered;
  // Per recipient: the reply that decided it (code 0 when the connection broke first).
  std::vector<smtp_reply> replies;
  bool session_usable = true;  // the session may carry another transaction
};

// The negotiated TLS parameters, for the relay's log line.
struct tls_details {
  std::string version;  // "TLSv1.3"
  std::string cipher;   // "TLS_AES_256_GCM_SHA384"
};

class smtp_client;

struct open_result {
  std::unique_ptr<smtp_client> client;  // null on failure
  failure why;
};

class smtp_client {
 public:
  // Connects, waits for the 220 greeting, says EHLO (LHLO with lmtp; HELO if the server
  // refuses EHLO with 500/502), upgrades with STARTTLS as the policy says, saying EHLO
  // again afterwards (RFC 3207 section 4.2), and authenticates if credentials are given.
  // `options` must outlive the client.
  static task<open_result> open(const socket_address& server, const client_options& options);

  ~smtp_client();
  smtp_client(const smtp_client&) = delete;
  smtp_client& operator=(const smtp_client&) = delete;

  // One mail transaction. `payload` is the message in wire form (CRLF, dot-stuffed)
  // followed by the terminating ".\r\n".
  task<transaction_result> send(const envelope& env, std::string_view payload);
  // One mail transaction from the message as stored (not dot-stuffed, no final dot): it
  // is dot-stuffed (mail/dot_stuffing.h) a block at a time while it is written.
  task<transaction_result> send_message(const envelope& env, std::string_view message);
  // Ends the session politely (QUIT, then close); errors are ignored.
  task<void> quit();
  // Closes without QUIT (after an error).
  task<void> close();

  const extensions& offered() const { return offered_; }
  bool tls_active() const { return io_.tls_active(); }
  // Empty strings without TLS.
  tls_details tls_info() const;
  // Whether AUTH succeeded on this session.
  bool authenticated() const { return authenticated_; }

 private:
  smtp_client(connection conn, const client_options& options);

  task<transaction_result> transact(const envelope& env, std::string_view body, bool stuff);
  task<io_status> write_body(std::string_view body, bool stuff);
  task<io_result<smtp_reply>> read_reply(duration timeout);
  task<io_result<smtp_reply>> command(std::string_view line, duration timeout);
  task<std::optional<failure>> hello();
  task<std::optional<failure>> starttls();
  task<std::optional<failure>> authenticate();
  void append_mail(const envelope& env);
  void append_rcpt(std::string_view rcpt);

  const client_options& options_;
  stream io_;
  extensions offered_;
  bool authenticated_ = false;
  std::string out_;  // commands or payload blocks being written (reused)
};

}  // namespace ringmail::relay
