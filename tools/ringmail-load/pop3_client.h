// pop3_client: the client side of one POP3 session (RFC 1939) on the runtime, as the
// load generator drives it: connect, implicit TLS (RFC 8314 section 3.3, port 995) or
// STLS (RFC 2595 section 4), greeting, CAPA (RFC 2449 section 5), USER/PASS (RFC 1939
// section 7) or AUTH PLAIN with an initial response (RFC 5034 section 4, RFC 4616), then
// STAT, LIST, UIDL, RETR and QUIT.
//
// What it understands of replies is only what a load generator needs: the status
// indicator "+OK" / "-ERR" and its text (with an RFC 2449 section 8 response code such
// as [IN-USE] or [AUTH] kept in the text), the multi-line lists of CAPA, LIST and UIDL,
// and the byte-stuffed body of RETR (RFC 1939 section 3), which is counted, not kept:
// a RETR reply reports the octets the message has once the stuffing dot of each line
// that begins with "." is removed and the terminating ".CRLF" is dropped, which is what
// LIST's size counts (RFC 1939 section 11: the size as the client receives it, CRLF line
// ends included; plus the CRLF a server adds to a last line that had none).
//
// Pipelining (RFC 2449 section 6.6): send() writes several commands at once and the
// read_* calls take their replies in order; nothing here waits between them.
//
// Departures, on purpose: no APOP (RFC 1939 section 7; ringmail does not offer it), no
// SASL mechanism but PLAIN, no TOP; a multi-line reply's lines are not checked beyond
// what is parsed (a LIST line that does not parse is a protocol error).
//
// Outcomes are values (STYLE.md "Errors"): a command ends +OK or -ERR with the server's
// text, or with an I/O or protocol error, after which the session is unusable. The line
// parsers and the RETR body counter are pure, testable without a socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/io_status.h"
#include "runtime/net.h"
#include "runtime/stream.h"
#include "runtime/task.h"
#include "runtime/tls_context.h"
#include "tools/ringmail-load/client_tls.h"

namespace ringmail::load {

// ---- pure parsing ---------------------------------------------------------------------

// A status line without its CRLF: "+OK 2 320" -> ok, text "2 320"; "-ERR [IN-USE] busy"
// -> not ok, text "[IN-USE] busy". nullopt if the line starts with neither indicator
// (RFC 1939 section 3: the indicators are upper case).
struct pop3_status_line {
  bool ok = false;
  std::string_view text;
};
std::optional<pop3_status_line> parse_pop3_status(std::string_view line);

// What CAPA lists (RFC 2449 section 6), compared without case.
struct pop3_capabilities {
  bool known = false;  // a CAPA reply has been read
  bool top = false;
  bool uidl = false;
  bool user = false;         // USER/PASS allowed now
  bool sasl_plain = false;   // "SASL ... PLAIN ..."
  bool pipelining = false;
  bool stls = false;         // RFC 2595 section 4
  bool resp_codes = false;
};
// Adds one line of a CAPA reply (without CRLF) to `caps`.
void add_capability_line(std::string_view line, pop3_capabilities& caps);

// "n size" of a LIST reply, and "n unique-id" of a UIDL reply (RFC 1939 section 7: the
// unique-id is 1 to 70 characters 0x21..0x7E). nullopt when the line does not parse.
struct pop3_numbered {
  uint64_t number = 0;
  std::string_view rest;  // the size's digits, or the unique-id
};
std::optional<pop3_numbered> parse_numbered_line(std::string_view line);
std::optional<uint64_t> parse_decimal(std::string_view digits);

// Counts the octets of a byte-stuffed multi-line body (RFC 1939 section 3) fed in pieces
// of any size: removes the stuffing dot of lines that begin with ".", stops at the
// ".CRLF" line. feed() returns how many bytes of `bytes` belong to the body (the rest,
// after the terminator, is the next reply's and must be left buffered).
class dot_body_counter {
 public:
  size_t feed(std::string_view bytes);
  bool done() const { return state_ == state::done; }
  uint64_t octets() const { return octets_; }

 private:
  // line_start: at the start of a line; dot: read "." there; dot_cr: read ".\r" there;
  // middle: inside a line; done: read the terminating ".\r\n".
  enum class state { line_start, dot, dot_cr, middle, done };
  state state_ = state::line_start;
  uint64_t octets_ = 0;
};

// ---- the session ----------------------------------------------------------------------


struct pop3_client_options {
  client_tls tls = client_tls::none;
  std::shared_ptr<tls::context> tls_context;  // a client context; required unless tls == none
  bool auth_plain = false;                    // AUTH PLAIN instead of USER/PASS
  duration timeout{std::chrono::seconds(30)};  // connect, and every read and write
};

// The end of one command: +OK or -ERR, or a broken session.
struct pop3_reply {
  bool positive = false;  // +OK
  io_status io;           // not ok: the stream broke (timeout, reset, ...) or the reply did not parse
  std::string text;       // the status line's text, or the I/O status
  bool ok() const { return io.ok() && positive; }
  bool usable() const { return io.ok(); }
  // "-ERR [IN-USE] Mailbox is locked" | "error: timeout"
  std::string describe() const;
};

class pop3_client;

struct pop3_open_result {
  std::unique_ptr<pop3_client> client;  // null on failure
  std::string stage;                    // connect, tls_handshake, greeting, capa, stls
  pop3_reply why;
};

class pop3_client {
 public:
  // Connects, starts TLS at once with client_tls::implicit, reads the greeting, asks CAPA,
  // and upgrades with STLS if asked (then asks CAPA again: RFC 2595 section 4 says the
  // client must forget what it learnt before). `options` and `cancel` (if given) must
  // outlive the client.
  static task<pop3_open_result> open(const socket_address& server, const pop3_client_options& options,
                                     cancel_source* cancel = nullptr);

  ~pop3_client();
  pop3_client(const pop3_client&) = delete;
  pop3_client& operator=(const pop3_client&) = delete;

  // USER then PASS (the PASS reply is returned; a -ERR to USER is returned as is), or
  // AUTH PLAIN with the initial response (RFC 5034 section 4).
  task<pop3_reply> login(std::string_view user, std::string_view password);
  // Writes "<command>\r\n" and reads the status line.
  task<pop3_reply> command(std::string_view command);
  // Writes `bytes` (one or more CRLF-ended commands) without reading anything.
  task<io_status> send(std::string_view bytes);
  // Reads one status line (the reply to the oldest command sent and not yet read).
  task<pop3_reply> read_status();
  // After a +OK that begins a multi-line reply: reads its lines up to ".", unstuffed and
  // without CRLF, into `lines` (cleared first).
  task<io_status> read_lines(std::vector<std::string>& lines);
  // After RETR's +OK: reads the body, returning its octet count (see the top of the file).
  task<io_result<uint64_t>> read_body();

  // QUIT (its reply is returned), then close.
  task<pop3_reply> quit();
  // Closes without QUIT (after an error).
  task<void> close();

  const pop3_capabilities& capabilities() const { return caps_; }
  bool tls_active() const { return io_.tls_active(); }

 private:
  pop3_client(connection conn, const pop3_client_options& options, cancel_source* cancel);
  task<pop3_reply> capa();

  const pop3_client_options& options_;
  stream io_;
  pop3_capabilities caps_;
  std::string out_;
};

}  // namespace ringmail::load
