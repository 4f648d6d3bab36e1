// SMTP (RFC 5321) and LMTP (RFC 2033) commands: the verb table and strict parsers for
// the arguments of MAIL, RCPT and BDAT, with the ESMTP parameters this server offers:
// SIZE (RFC 1870), BODY= (RFC 6152 8BITMIME, RFC 3030 BINARYMIME), SMTPUTF8 (RFC 6531)
// and AUTH= (RFC 4954 section 5).
//
// Pure functions over one command line (as command_reader returns it, without CRLF).
// Errors carry the reply a session should send: an SMTP code, an RFC 3463 enhanced code
// and fixed text that never quotes client bytes, so it is safe in replies and logs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ringmail::smtp {

enum class verb {
  ehlo, helo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, help, starttls, auth,
  lhlo,  // LMTP's EHLO (RFC 2033 section 4.1)
  unknown,
};

// Rules a session applies before dispatching a command, kept as data (as Postfix's
// smtpd_cmd_table does) rather than spread through the state machine.
enum command_flags : uint32_t {
  // May be used before STARTTLS where TLS is required (RFC 3207 section 4: the server
  // should answer 530 to anything else). AUTH and MAIL are not: credentials and
  // envelopes travel only inside TLS.
  allowed_before_tls = 1u << 0,
  // Must be the last command in a pipelined group (RFC 2920 section 3.1: EHLO, DATA,
  // VRFY, QUIT, NOOP; RFC 3207: STARTTLS, whose pipelined tail is discarded; RFC 4954
  // section 4: AUTH; HELO and LHLO by analogy with EHLO). Bytes already buffered after
  // one of these are a pipelining violation. BDAT is not flagged, not even with LAST:
  // RFC 3030 pipelines chunks back to back (its section 4.2 example ends with a
  // pipelined BDAT ... LAST), and the count, not a group boundary, frames them.
  ends_pipeline_group = 1u << 1,
  // Refused with 503 until HELO/EHLO/LHLO succeeded (RFC 5321 section 4.1.4; STARTTLS
  // and AUTH are extensions, which exist only after EHLO).
  needs_helo = 1u << 2,
  // The per-role rules below (role_flags) add these; command_table() never carries them.
  // Refused until TLS is active (RFC 6409 section 4.3 and RFC 3207 section 4: "530 5.7.0
  // Must issue a STARTTLS command first"; AUTH gets RFC 4954's "538 5.7.11 Encryption
  // required" instead, so a client knows its credentials were never sent).
  needs_tls = 1u << 3,
  // Refused with "530 5.7.0 Authentication required" until AUTH succeeded (RFC 4954
  // section 6): a submission server takes mail only from its users (RFC 6409 4.3).
  needs_auth = 1u << 4,
  // Not part of this role at all: LHLO on SMTP, HELO/EHLO/STARTTLS/AUTH on LMTP, STARTTLS
  // on implicit TLS (RFC 8314 leaves nothing to upgrade). 500 for a greeting verb of the
  // other protocol, else 502 "not implemented" (RFC 5321 4.2.4).
  not_in_role = 1u << 5,
  // AUTH on port 25 (mx): refused with 502 unless the server enables it (AUTH there
  // invites password guessing from the whole internet; Postfix's master.cf enables SASL
  // only on submission by default).
  needs_mx_auth = 1u << 6,
  // AUTH after a successful AUTH: 503 5.5.1 (RFC 4954 section 4).
  refused_after_auth = 1u << 7,
};

// Who the session serves; one rules table each (role_flags), checked in one place.
enum class session_role {
  mx,           // port 25: mail from the internet to local users, no AUTH by default
  submission,   // port 587 (RFC 6409): STARTTLS, then AUTH, then mail
  submissions,  // port 465 (RFC 8314 section 3.3): implicit TLS, then AUTH, then mail
  lmtp,         // RFC 2033, from a trusted MTA in front of ringmail
};

struct command_info {
  verb v;
  const char* name;  // upper case, as in the RFCs; "" for verb::unknown
  uint32_t flags;    // command_flags
};

// One entry per verb, in enum order (so command_table()[int(v)].v == v).
std::span<const command_info> command_table();
const command_info& info(verb v);

struct command {
  verb v = verb::unknown;
  std::string_view argument;  // everything after the first SP; "" if none
};

// The verb is the text before the first SP, matched without regard to case (RFC 5321
// section 2.4). Anything else - including an empty line - is verb::unknown.
command parse_command(std::string_view line);

struct reply_error {
  int code;              // 501, 553, 555, 552 ...
  const char* enhanced;  // RFC 3463, e.g. "5.5.4"
  std::string text;      // fixed, human-readable
};

// info(v).flags plus what `role` adds (needs_tls, needs_auth, not_in_role, ...).
uint32_t role_flags(session_role role, verb v);

// What the session knows when a command arrives.
struct command_state {
  bool helo = false;           // HELO/EHLO/LHLO succeeded (since the last STARTTLS)
  bool tls = false;            // TLS is active
  bool authenticated = false;  // AUTH succeeded
  bool mx_auth = false;        // server_config::mx_auth: AUTH enabled on port 25
};

// The one gate before dispatch: nullopt when `v` may run now in `role`, else the refusal.
// Checked in order: not_in_role, needs_mx_auth, needs_helo, needs_tls, refused_after_auth,
// needs_auth.
std::optional<reply_error> check_command(session_role role, verb v, const command_state& st);

// A parsed value or the reply that refuses it.
template <class T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  result(reply_error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const reply_error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, reply_error> v_;
};

enum class body_type {
  seven_bit,       // BODY=7BIT or no BODY parameter
  eight_bit_mime,  // RFC 6152
  binary_mime,     // RFC 3030 section 3: only valid with BDAT; DATA must then get 503
};

// Parameters accepted but not interpreted here, keyword upper-cased: (keyword, value).
using esmtp_params = std::vector<std::pair<std::string, std::string>>;

struct mail_from {
  std::string reverse_path;     // "" for the null path <>; source route removed
  std::optional<uint64_t> size;  // SIZE= (RFC 1870); compare with the server maximum
  body_type body = body_type::seven_bit;
  bool smtputf8 = false;        // RFC 6531 section 3.4
  esmtp_params other_params;    // AUTH= (RFC 4954 section 5), xtext, for the session
};

struct rcpt_to {
  std::string forward_path;  // source route removed; "Postmaster" as the client spelt it
  // Recognised RCPT parameters. None are offered yet, so this is always empty: DSN's
  // NOTIFY= and ORCPT= (RFC 3461) are refused with 555 until DSN is advertised.
  esmtp_params params;
};

struct bdat {
  uint64_t size = 0;
  bool last = false;
};

// MAIL's argument: "FROM:" [SP...] Reverse-path [SP Mail-parameters] (RFC 5321 4.1.2;
// the optional spaces after the colon are tolerated as Postfix does). A local part is
// returned as sent, quotes included; the directory decides what it accepts.
result<mail_from> parse_mail_from(std::string_view arg);

// RCPT's argument: "TO:" [SP...] ("<Postmaster>" / Forward-path) [SP Rcpt-parameters].
// `smtputf8` says whether this transaction's MAIL FROM carried SMTPUTF8: only then may
// the path contain UTF-8 (RFC 6531 section 3.4).
result<rcpt_to> parse_rcpt_to(std::string_view arg, bool smtputf8);

// BDAT's argument: chunk-size [SP "LAST"] (RFC 3030 section 2). After an error the
// session cannot know how many bytes follow, so it must close the connection.
result<bdat> parse_bdat(std::string_view arg);

}  // namespace ringmail::smtp
