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
