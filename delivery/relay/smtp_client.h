// smtp_client: the client side of one SMTP (RFC 5321) or LMTP (RFC 2033) session on the
// runtime, as the load generator drives it: connect, greeting, EHLO/LHLO, optional
// STARTTLS (RFC 3207), then any number of mail transactions, then QUIT.
//
// Outcomes are values (STYLE.md "Errors"): every step ends ok, with a temporary (4xx) or
// permanent (5xx) failure carrying the server's reply, or with an I/O or protocol error.
// After a failed transaction the session is left ready for the next MAIL (RSET sent if
// the server still holds a half-built transaction) or marked unusable.
//
// The reply parser is a pure function so it can be tested without a socket.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/io_status.h"
#include "runtime/net.h"
#include "runtime/stream.h"
#include "runtime/task.h"
#include "runtime/tls_context.h"

namespace ringmail::load {

// One line of a reply (RFC 5321 section 4.2): "250-text" is followed by more lines,
// "250 text" or a bare "250" ends the reply. `line` may end in CRLF or LF.
struct reply_line {
  int code = 0;
  bool last = false;
  std::string_view text;  // after the code and separator, without the line ending
};
std::optional<reply_line> parse_reply_line(std::string_view line);

struct smtp_reply {
  int code = 0;
  std::string text;  // every line's text, joined by '\n'
  // "550 5.1.1 no such user", continuation lines joined by " / ", for reports.
  std::string describe() const;
};

// What the server offered in its EHLO/LHLO reply (RFC 5321 section 4.1.1.1: each line
// after the first names one extension keyword, compared without regard to case).
struct extensions {
  bool pipelining = false;      // RFC 2920
  bool starttls = false;        // RFC 3207
  bool eight_bit_mime = false;  // RFC 6152
  bool size = false;            // RFC 1870
};
extensions parse_extensions(const smtp_reply& ehlo);

enum class outcome { ok, temp_fail, perm_fail, error };
// 2xx/3xx ok, 4xx temporary, 5xx permanent; anything else is a protocol error.
outcome outcome_of(int code);

// Where a session or transaction stopped, for reports.
enum class stage { connect, greeting, hello, starttls, tls_handshake, mail, rcpt, data, message, rset, quit };
const char* stage_name(stage s);

struct failure {
  outcome kind = outcome::ok;
  stage at = stage::connect;
  std::string detail;  // the server's reply, or the I/O status
  // stage=rcpt reply="550 5.1.1 no such user" | stage=connect error="error:Connection refused"
  std::string describe() const;
};

struct client_options {
  bool lmtp = false;        // LHLO, and one reply per accepted recipient after the data
  bool starttls = false;    // upgrade before the first transaction; fail if not offered
  bool pipelining = false;  // batch MAIL, RCPT and DATA when PIPELINING is offered
  std::string helo_name = "load.ringmail.test";
  duration timeout{std::chrono::seconds(30)};  // for connect and for every read and write
  std::shared_ptr<tls::context> tls;           // a client context; required with starttls
};

struct envelope {
  std::string_view from;
  std::span<const std::string> recipients;
  size_t size = 0;         // message size in bytes, for SIZE= (RFC 1870) when offered
  bool eight_bit = false;  // BODY=8BITMIME (RFC 6152) when offered
};

struct transaction_result {
  outcome kind = outcome::ok;  // ok only if every recipient got the message
  failure why;                 // the first failure, when kind != ok
  // Per recipient: whether the server accepted responsibility for delivering to it.
  std::vector<bool> delivered;
  bool session_usable = true;  // the session may carry another transaction
};

class smtp_client;

struct open_result {
  std::unique_ptr<smtp_client> client;  // null on failure
  failure why;
};

class smtp_client {
 public:
  // Connects, waits for the 220 greeting, says EHLO (LHLO with lmtp; HELO if the server
  // rejects EHLO), and upgrades with STARTTLS if asked, saying EHLO again afterwards
  // (RFC 3207 section 4.2). `options` must outlive the client.
  static task<open_result> open(const socket_address& server, const client_options& options);

  ~smtp_client();
  smtp_client(const smtp_client&) = delete;
  smtp_client& operator=(const smtp_client&) = delete;

  // One mail transaction. `payload` is the message in wire form (CRLF, dot-stuffed)
  // followed by the terminating ".\r\n".
  task<transaction_result> send(const envelope& env, std::string_view payload);
  // Ends the session politely (QUIT, then close); errors are ignored.
  task<void> quit();
  // Closes without QUIT (after an error).
  task<void> close();

  const extensions& offered() const { return offered_; }
  bool tls_active() const { return io_.tls_active(); }

 private:
  smtp_client(connection conn, const client_options& options);

  task<io_result<smtp_reply>> read_reply();
  task<io_result<smtp_reply>> command(std::string_view line);
  task<std::optional<failure>> hello();
  task<std::optional<failure>> starttls();
  void append_mail(const envelope& env);
  void append_rcpt(std::string_view rcpt);

  const client_options& options_;
  stream io_;
  extensions offered_;
  std::string out_;  // commands being written (reused)
};

}  // namespace ringmail::load
