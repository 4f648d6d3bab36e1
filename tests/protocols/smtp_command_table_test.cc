// The per-role command rules of protocols/smtp/command.h (issue 13): role x command x
// session state -> allowed, or the exact refusal a submission server must send (RFC 6409,
// RFC 8314, RFC 4954, RFC 3207).
#include <string>

#include "gtest/gtest.h"
#include "protocols/smtp/command.h"

namespace ringmail::smtp {
namespace {

// "530 5.7.0" / "ok": the refusal's code and enhanced code, or "ok" when allowed.
std::string gate(session_role role, verb v, command_state st) {
  auto r = check_command(role, v, st);
  if (!r) return "ok";
  return std::to_string(r->code) + " " + r->enhanced;
}

constexpr command_state fresh{};                                   // connected, nothing said
constexpr command_state greeted{true, false, false, false};        // EHLO, no TLS
constexpr command_state tls_greeted{true, true, false, false};     // STARTTLS, EHLO again
constexpr command_state logged_in{true, true, true, false};        // ... and AUTH
constexpr command_state mx_auth_tls{true, true, false, true};      // port 25 with mx_auth

TEST(SmtpRoles, SubmissionNeedsTlsThenAuthBeforeMail) {
  const auto r = session_role::submission;
  EXPECT_EQ(gate(r, verb::ehlo, fresh), "ok");
  EXPECT_EQ(gate(r, verb::starttls, greeted), "ok");
  EXPECT_EQ(gate(r, verb::starttls, fresh), "503 5.5.1");  // EHLO first
  EXPECT_EQ(gate(r, verb::mail, greeted), "530 5.7.0");    // STARTTLS first
  EXPECT_EQ(gate(r, verb::rcpt, greeted), "530 5.7.0");
  EXPECT_EQ(gate(r, verb::data, greeted), "530 5.7.0");
  EXPECT_EQ(gate(r, verb::bdat, greeted), "530 5.7.0");
  EXPECT_EQ(gate(r, verb::auth, greeted), "538 5.7.11");   // RFC 4954: encryption required
  EXPECT_EQ(gate(r, verb::auth, tls_greeted), "ok");
  EXPECT_EQ(gate(r, verb::mail, tls_greeted), "530 5.7.0");  // authentication required
  EXPECT_EQ(gate(r, verb::data, tls_greeted), "530 5.7.0");
  EXPECT_EQ(gate(r, verb::mail, logged_in), "ok");
  EXPECT_EQ(gate(r, verb::rcpt, logged_in), "ok");
  EXPECT_EQ(gate(r, verb::auth, logged_in), "503 5.5.1");  // AUTH twice
  EXPECT_EQ(gate(r, verb::lhlo, fresh), "500 5.5.1");
  // Always allowed before TLS (RFC 3207 section 4).
  for (verb v : {verb::ehlo, verb::helo, verb::noop, verb::rset, verb::quit}) {
    EXPECT_EQ(gate(r, v, greeted), "ok") << info(v).name;
  }
  EXPECT_EQ(gate(r, verb::vrfy, greeted), "530 5.7.0");
  // The difference between the two is which refusal: before TLS, never "530 auth".
  EXPECT_EQ(check_command(r, verb::mail, greeted)->text, "Must issue a STARTTLS command first");
  EXPECT_EQ(check_command(r, verb::mail, tls_greeted)->text, "Authentication required");
}

TEST(SmtpRoles, SubmissionsHasNoStarttlsAndNeedsAuth) {
  const auto r = session_role::submissions;
  EXPECT_EQ(gate(r, verb::starttls, tls_greeted), "502 5.5.1");
  EXPECT_EQ(gate(r, verb::auth, tls_greeted), "ok");
  EXPECT_EQ(gate(r, verb::mail, tls_greeted), "530 5.7.0");
  EXPECT_EQ(gate(r, verb::mail, logged_in), "ok");
  EXPECT_EQ(gate(r, verb::auth, logged_in), "503 5.5.1");
}

TEST(SmtpRoles, MxTakesMailWithoutAuthAndRefusesAuthByDefault) {
  const auto r = session_role::mx;
  EXPECT_EQ(gate(r, verb::mail, greeted), "ok");  // mail from the internet: no TLS, no AUTH
  EXPECT_EQ(gate(r, verb::rcpt, greeted), "ok");
  EXPECT_EQ(gate(r, verb::data, greeted), "ok");
  EXPECT_EQ(gate(r, verb::mail, fresh), "503 5.5.1");  // HELO first
  EXPECT_EQ(gate(r, verb::auth, greeted), "502 5.5.1");
  EXPECT_EQ(gate(r, verb::auth, tls_greeted), "502 5.5.1");
  EXPECT_EQ(gate(r, verb::starttls, greeted), "ok");
  EXPECT_EQ(gate(r, verb::lhlo, fresh), "500 5.5.1");
  // With mx_auth: only inside TLS, and once.
  command_state no_tls = mx_auth_tls;
  no_tls.tls = false;
  EXPECT_EQ(gate(r, verb::auth, no_tls), "538 5.7.11");
  EXPECT_EQ(gate(r, verb::auth, mx_auth_tls), "ok");
  command_state twice = mx_auth_tls;
  twice.authenticated = true;
  EXPECT_EQ(gate(r, verb::auth, twice), "503 5.5.1");
}

TEST(SmtpRoles, LmtpHasItsOwnGreetingAndNoTlsOrAuth) {
  const auto r = session_role::lmtp;
  EXPECT_EQ(gate(r, verb::lhlo, fresh), "ok");
  EXPECT_EQ(gate(r, verb::ehlo, fresh), "500 5.5.1");
  EXPECT_EQ(gate(r, verb::helo, fresh), "500 5.5.1");
  EXPECT_EQ(gate(r, verb::starttls, greeted), "502 5.5.1");
  EXPECT_EQ(gate(r, verb::auth, greeted), "502 5.5.1");
  EXPECT_EQ(gate(r, verb::mail, greeted), "ok");
  EXPECT_EQ(check_command(r, verb::mail, fresh)->text, "Error: send LHLO first");
}

TEST(SmtpRoles, TablesAgreeWithTheVerbTable) {
  for (session_role r : {session_role::mx, session_role::submission, session_role::submissions, session_role::lmtp}) {
    for (const command_info& ci : command_table()) {
      const uint32_t f = role_flags(r, ci.v);
      EXPECT_EQ(f & ci.flags, ci.flags) << "a role never drops a verb's own flags: " << ci.name;
      // needs_tls and allowed_before_tls never meet: a command allowed before TLS.
      EXPECT_FALSE((f & needs_tls) && (f & allowed_before_tls)) << ci.name;
    }
    // Unknown commands are never gated: they get 500 from dispatch.
    EXPECT_EQ(gate(r, verb::unknown, fresh), "ok");
  }
  // Only the submission roles require AUTH, and for the transaction commands only.
  for (verb v : {verb::mail, verb::rcpt, verb::data, verb::bdat}) {
    EXPECT_TRUE(role_flags(session_role::submission, v) & needs_auth);
    EXPECT_TRUE(role_flags(session_role::submissions, v) & needs_auth);
    EXPECT_FALSE(role_flags(session_role::mx, v) & needs_auth);
    EXPECT_FALSE(role_flags(session_role::lmtp, v) & needs_auth);
  }
}

}  // namespace
}  // namespace ringmail::smtp
