// Server side of SASL (RFC 4422) as carried by SMTP AUTH (RFC 4954), IMAP AUTHENTICATE
// (RFC 9051 section 6.2.2), POP3 AUTH (RFC 5034) and ManageSieve AUTHENTICATE (RFC 5804).
//
// A pure state machine: the protocol session reads a line, hands it to feed(), and writes
// back whatever step comes out (a challenge, a failure reply, or - on done - checks the
// credentials against the directory itself). No sockets, no password checking, no
// protocol framing: the session adds "334 " (SMTP), "+ " (IMAP, POP3) or the quoted
// string (ManageSieve) in front of challenge_base64.
//
// Mechanisms: PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login-00). Both send the
// password in the clear, so sessions must offer them only over TLS (RFC 4616 section 4).
//
// Secrets: every buffer that ever held a decoded response is wiped with OPENSSL_cleanse
// before it is freed (credentials, the LOGIN username held between steps, the decode
// buffer), and no error string quotes client data, so nothing secret reaches a log line.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ringmail::sasl {

enum class mechanism { plain, login };

// Case-insensitive match of the exact names "PLAIN" and "LOGIN" (RFC 4422 section 3.1:
// mechanism names are upper case, but RFC 4954 section 4 compares them without regard
// to case). Anything else - including surrounding spaces - is nullopt.
std::optional<mechanism> parse_mechanism(std::string_view name);

// The registered name, for EHLO/CAPABILITY advertisement: "PLAIN" or "LOGIN".
std::string_view mechanism_name(mechanism m);

// What the client proved it knows. The protocol session verifies it; nothing here has.
// Every copy wipes its bytes when destroyed or overwritten, and a moved-from value is
// wiped too (a moved-from short string keeps its bytes in the inline buffer otherwise).
struct credentials {
  std::string authzid;   // empty, or equal to authcid: proxy authorization is refused
  std::string authcid;   // the login name, 1..255 octets of UTF-8
  std::string password;  // 1..255 octets of UTF-8

  credentials() = default;
  credentials(const credentials& o);
  credentials(credentials&& o) noexcept;
  credentials& operator=(const credentials& o);
  credentials& operator=(credentials&& o) noexcept;
  ~credentials();

  // Overwrites and empties all three fields.
  void wipe() noexcept;
};

// Why an exchange failed, so a session picks its reply without comparing strings.
// Suggested SMTP replies (RFC 4954 section 6) in brackets.
enum class error_code {
  none,
  cancelled,            // client sent "*" (RFC 4954 section 4)          [501 5.0.0]
  malformed_base64,     // not strict RFC 4648 section 4 base64           [501 5.5.2]
  line_too_long,        // longer than max_response_bytes                 [500 5.5.6]
  malformed_message,    // decoded fine, but not a valid PLAIN/LOGIN value [501 5.5.2]
  authzid_not_allowed,  // PLAIN authzid differs from authcid             [535 5.7.8]
  unknown_mechanism,    // see reject_unknown_mechanism()                  [504 5.5.4]
  out_of_sequence,      // start()/feed() called in the wrong state       (a session bug)
};

struct step {
  enum class kind { challenge, done, error } k = kind::error;
  std::string challenge_base64;  // kind::challenge: what follows "334 " / "+ "; may be ""
  credentials creds;             // kind::done
  std::string error;             // kind::error: a reason fit for a log; never client data
  error_code code = error_code::none;  // kind::error
};

// The error step for an AUTH/AUTHENTICATE naming a mechanism parse_mechanism() rejected,
// so sessions treat every outcome of an exchange the same way.
step reject_unknown_mechanism();

// One authentication exchange. Call start() once with the initial response, if the
// command carried one, then feed() one client line per challenge until a step of kind
// done or error; the exchange is then over and any further call yields an error.
class server {
 public:
  // max_response_bytes bounds each base64 line (initial response included); 12288 is
  // the AUTH command line limit of RFC 4954 section 4, ample for 255-octet fields.
  explicit server(mechanism m, size_t max_response_bytes = 12288);
  ~server();  // wipes the LOGIN username if the exchange was abandoned mid-way

  // Copying would duplicate secrets; moving wipes the source.
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  server(server&& o) noexcept;
  server& operator=(server&& o) noexcept;

  // initial_response_base64: nullopt when the command had no initial response; "=" for
  // an empty one (RFC 4954 section 4, RFC 9051 section 6.2.2, RFC 5034 section 4). A
  // present but zero-length value is rejected: the protocols spell "empty" as "=".
  step start(std::optional<std::string_view> initial_response_base64);

  // One client line without its CRLF. "*" cancels (RFC 4954 section 4); "" is an empty
  // response (only an initial response uses "=").
  step feed(std::string_view line_base64);

  mechanism mech() const { return mechanism_; }
  bool finished() const { return state_ == state::finished; }

 private:
  enum class state { not_started, awaiting_plain, awaiting_username, awaiting_password, finished };

  step fail(error_code code, std::string_view reason);
  step on_response(std::string_view line_base64);
  step on_plain(std::string& message);
  step on_login_username(std::string& username);
  step on_login_password(std::string& password);

  mechanism mechanism_;
  size_t max_response_bytes_;
  state state_ = state::not_started;
  std::string username_;  // LOGIN: the username while we wait for the password
};

// Strict base64 (RFC 4648 section 4): standard alphabet, padding required, "=" only at
// the end, no whitespace, and the unused bits of the last group zero (section 3.5), so
// each byte string has exactly one accepted encoding. nullopt on any violation. The
// caller owns the result and should wipe it if it held a secret.
std::optional<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

}  // namespace ringmail::sasl
