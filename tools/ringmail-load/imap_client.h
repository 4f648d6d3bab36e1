// imap_client: the client side of one IMAP session (RFC 9051, and RFC 3501 servers) on
// the runtime, as the load generator drives it: connect (optionally from a chosen source
// address), implicit TLS (RFC 8314) or STARTTLS (RFC 9051 section 6.2.1), greeting,
// LOGIN or AUTHENTICATE PLAIN (RFC 4616, with SASL-IR, RFC 4959, when offered), then
// tagged commands one at a time, APPEND with a literal, IDLE (RFC 2177) and LOGOUT.
//
// What it understands of responses (RFC 9051 section 7) is only what a load generator
// needs: the tagged status (OK/NO/BAD) that ends each command, untagged BYE, the
// EXISTS/EXPUNGE counts (so commands can pick message numbers that exist), CAPABILITY
// (from the greeting's response code, the CAPABILITY response or the login's OK), and
// the continuation request "+". Literals inside responses ({N}, RFC 9051 section 4.3)
// are skipped octet-exactly, so FETCH BODY[] replies never desynchronise the session;
// their contents are not kept.
//
// Departures, on purpose: one command in flight at a time (no pipelining: the latency
// of each command is what we measure); no response is parsed beyond its first line
// except to skip literals; UTF-8 and modified UTF-7 mailbox names are passed through.
//
// Outcomes are values (STYLE.md "Errors"): a command ends OK, NO or BAD with the
// server's text, or with an I/O or protocol error, after which the session is unusable.
// The line parsers are pure functions, testable without a socket.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/io_status.h"
#include "runtime/net.h"
#include "runtime/stream.h"
#include "runtime/task.h"
#include "runtime/tls_context.h"
#include "tools/ringmail-load/client_tls.h"

namespace ringmail::load {

// ---- pure parsing ---------------------------------------------------------------------

enum class imap_status { none, ok, no, bad, bye, preauth };
const char* imap_status_name(imap_status s);

// The first line of a server response, without its CRLF (RFC 9051 section 7):
//   "a12 OK [READ-WRITE] done"  -> tagged, tag "a12", status ok, text "[READ-WRITE] done"
//   "* 23 EXISTS"               -> untagged, number 23, keyword "EXISTS"
//   "* OK [UIDNEXT 5] ..."      -> untagged, status ok, keyword "OK"
//   "* CAPABILITY IMAP4rev1 .." -> untagged, keyword "CAPABILITY", text "IMAP4rev1 .."
//   "+ idling"                  -> continuation, text "idling"
// Views point into `line`. nullopt for a line that is none of these.
struct imap_line {
  enum class kind { tagged, untagged, continuation };
  kind type = kind::untagged;
  std::string_view tag;
  imap_status status = imap_status::none;
  std::optional<uint32_t> number;  // "* <number> <keyword>"
  std::string_view keyword;        // upper or mixed case as sent
  std::string_view text;           // after the keyword (or the status word)
};
std::optional<imap_line> parse_imap_line(std::string_view line);

// The octet count of a literal that ends `line` ("{123}", or "{123+}" LITERAL+, RFC
// 7888), or nullopt if the line does not end in one. `line` is without its CRLF.
std::optional<uint64_t> trailing_literal(std::string_view line);

// What the server says it can do (RFC 9051 section 7.2.2), compared without case.
struct imap_capabilities {
  bool known = false;  // a CAPABILITY list has been seen
  bool starttls = false;
  bool login_disabled = false;  // LOGINDISABLED: LOGIN must not be used (before TLS)
  bool auth_plain = false;      // AUTH=PLAIN
  bool sasl_ir = false;         // RFC 4959: initial response with AUTHENTICATE
  bool literal_plus = false;    // RFC 7888 LITERAL+ (any size) or LITERAL- (<= 4096)
  bool literal_minus = false;
  bool idle = false;   // RFC 2177
  bool uidplus = false;
};
// `atoms`: the space-separated capability names (the text of a CAPABILITY response, or
// of a "[CAPABILITY ...]" response code without the brackets and the word).
imap_capabilities parse_capabilities(std::string_view atoms);
// The capability list carried in a "[CAPABILITY ...]" response code at the start of
// `text`, if there is one.
std::optional<std::string_view> capability_code(std::string_view text);

// An IMAP quoted string (RFC 9051 section 4.3) for `s`: "..." with \ and " escaped.
std::string imap_quote(std::string_view s);

// ---- the session ----------------------------------------------------------------------


struct imap_client_options {
  client_tls tls = client_tls::none;
  std::shared_ptr<tls::context> tls_context;  // a client context; required unless tls == none
  bool authenticate_plain = false;            // AUTHENTICATE PLAIN instead of LOGIN
  duration timeout{std::chrono::seconds(30)};  // connect, and every read and write
};

// The end of one command: a tagged OK/NO/BAD, or a broken session.
struct imap_reply {
  imap_status status = imap_status::none;  // ok, no, bad; bye if the server hung up on us
  io_status io;                            // not ok: the stream broke (timeout, reset, ...)
  std::string text;                        // tagged (or BYE) text, or the I/O status
  bool ok() const { return io.ok() && status == imap_status::ok; }
  bool usable() const { return io.ok() && status != imap_status::bye; }
  // "NO [AUTHENTICATIONFAILED] bad password" | "error: timeout"
  std::string describe() const;
};

class imap_client;

struct imap_open_result {
  std::unique_ptr<imap_client> client;  // null on failure
  std::string stage;                    // connect, tls_handshake, greeting, starttls, login
  imap_reply why;
};

class imap_client {
 public:
  // Connects (from `source` if given: its port should be 0), starts TLS at once with
  // client_tls::implicit, reads the greeting, and upgrades with STARTTLS if asked (then
  // asks for CAPABILITY again, RFC 9051 section 6.2.1). `options` must outlive the client;
  // so must `cancel`, which, when given, cancels every read and write of the session.
  static task<imap_open_result> open(const socket_address& server, const imap_client_options& options,
                                     const socket_address* source = nullptr, cancel_source* cancel = nullptr);

  ~imap_client();
  imap_client(const imap_client&) = delete;
  imap_client& operator=(const imap_client&) = delete;

  // LOGIN user password, or AUTHENTICATE PLAIN (SASL-IR if offered, else after "+").
  task<imap_reply> login(std::string_view user, std::string_view password);
  // Sends "<tag> <command>\r\n" and reads every response up to the tagged one.
  task<imap_reply> command(std::string_view command);
  // APPEND <mailbox> <flags> {n}: a synchronizing literal, or LITERAL+ when offered.
  // `flags` is a parenthesised list such as "(\\Seen)" or empty; `message` is CRLF text.
  task<imap_reply> append(std::string_view mailbox, std::string_view flags, std::string_view message);

  // IDLE (RFC 2177): returns once the server has sent its "+" continuation (ok), or the
  // tagged NO/BAD if it refused.
  task<imap_reply> idle();
  // While idling: reads untagged responses until an EXISTS that raises the count, and
  // returns the new count; times out after `timeout` (io_kind::timeout).
  task<io_result<uint32_t>> wait_exists(duration timeout);
  // Ends IDLE with DONE and reads up to the IDLE command's tagged response.
  task<imap_reply> done();

  // LOGOUT, then close; errors ignored.
  task<void> logout();
  // Closes without LOGOUT (after an error, or to drop thousands of idle sessions fast).
  task<void> close();

  // Messages in the selected mailbox, as the last EXISTS/EXPUNGE responses said.
  uint32_t exists() const { return exists_; }
  const imap_capabilities& capabilities() const { return caps_; }
  bool tls_active() const { return io_.tls_active(); }

 private:
  imap_client(connection conn, const imap_client_options& options, cancel_source* cancel);

  // Reads one response into last_ (its first line parsed; views into last_line_),
  // skips its literals, and applies the untagged counts it carries.
  task<io_status> read_response();
  task<io_status> skip_octets(uint64_t n);
  void note_untagged(const imap_line& head);
  task<imap_reply> read_until_tagged();
  std::string next_tag();
  task<io_status> send_line(std::string_view command);

  const imap_client_options& options_;
  stream io_;
  imap_capabilities caps_;
  uint32_t exists_ = 0;
  uint64_t tag_counter_ = 0;
  std::string tag_;  // the tag of the command in flight
  std::string out_;
  std::string last_line_;  // the first line of the last response read
  imap_line last_;
};

}  // namespace ringmail::load
