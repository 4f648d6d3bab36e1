// SASL server state machine: table-driven exchanges for PLAIN (RFC 4616) and LOGIN
// (draft-murchison-sasl-login-00) as SMTP AUTH (RFC 4954), IMAP AUTHENTICATE (RFC 9051),
// POP3 AUTH (RFC 5034) and ManageSieve use them, plus strict base64 (RFC 4648).
//
// Test base64 is made with OpenSSL's EVP_EncodeBlock, an encoder independent of the one
// under test, and the fixed vectors below were produced with Python's base64 module
// (base64.b64encode), so a bug shared by our encoder and decoder cannot hide.
#include "protocols/sasl/sasl_server.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::sasl {
namespace {

using namespace std::string_literals;

// Reference encoder (OpenSSL), for building test input from raw strings.
std::string b64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// What one call (start or feed) is expected to return.
struct expected {
  step::kind k;
  std::string challenge;  // kind::challenge
  std::string authzid, authcid, password;  // kind::done
  error_code code = error_code::none;  // kind::error
  std::string error_contains;          // kind::error, "" = don't care
};

expected challenge(std::string c) {
  return {step::kind::challenge, std::move(c), "", "", "", error_code::none, ""};
}
expected done(std::string authzid, std::string authcid, std::string password) {
  return {step::kind::done, "", std::move(authzid), std::move(authcid), std::move(password),
          error_code::none, ""};
}
expected error(error_code code, std::string contains = "") {
  return {step::kind::error, "", "", "", "", code, std::move(contains)};
}

const std::string kUsername = "VXNlcm5hbWU6";  // "Username:"
const std::string kPassword = "UGFzc3dvcmQ6";  // "Password:"

struct exchange_case {
  std::string name;
  mechanism mech;
  std::optional<std::string> initial;  // as it comes on the command line ("=" = empty)
  std::vector<std::string> lines;      // client lines after start(), already base64
  std::vector<expected> steps;         // start() result, then one per line
  size_t max_response_bytes = 12288;
};

std::ostream& operator<<(std::ostream& os, const exchange_case& c) { return os << c.name; }

const std::string k255(255, 'a');
const std::string k256(256, 'a');

std::vector<exchange_case> exchange_cases() {
  using m = mechanism;
  using e = error_code;
  return {
      // --- PLAIN: well-formed -------------------------------------------------------
      // RFC 4616 section 4 example.
      {"plain_ir_rfc4616_example", m::plain, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", {},
       {done("", "tim", "tanstaaftanstaaf")}},
      // Python: base64.b64encode(b"\0john@example.org\0secret")
      {"plain_ir_fixed_vector", m::plain, "AGpvaG5AZXhhbXBsZS5vcmcAc2VjcmV0", {},
       {done("", "john@example.org", "secret")}},
      // RFC 4616 section 2 / RFC 4422 section 5: no initial response -> empty challenge.
      {"plain_without_ir", m::plain, std::nullopt, {"AGpvaG5AZXhhbXBsZS5vcmcAc2VjcmV0"},
       {challenge(""), done("", "john@example.org", "secret")}},
      {"plain_without_ir_openssl_b64", m::plain, std::nullopt, {b64("\0john\0secret"s)},
       {challenge(""), done("", "john", "secret")}},
      // Python: base64.b64encode(b"john@example.org\0john@example.org\0secret")
      {"plain_authzid_equal", m::plain,
       "am9obkBleGFtcGxlLm9yZwBqb2huQGV4YW1wbGUub3JnAHNlY3JldA==", {},
       {done("john@example.org", "john@example.org", "secret")}},
      // Python: base64.b64encode(b"\0j\xc3\xb6rg\0p\xc3\xa4ss\xe2\x82\xac") - UTF-8 fields.
      {"plain_utf8_fields", m::plain, "AGrDtnJnAHDDpHNz4oKs", {},
       {done("", "j\xc3\xb6rg", "p\xc3\xa4ss\xe2\x82\xac")}},
      {"plain_four_byte_utf8", m::plain, b64("\0\xf0\x9f\x93\xa7\0\xf4\x8f\xbf\xbf"s), {},
       {done("", "\xf0\x9f\x93\xa7", "\xf4\x8f\xbf\xbf")}},
      {"plain_fields_255", m::plain, b64(k255 + '\0' + k255 + '\0' + k255), {},
       {done(k255, k255, k255)}},

      // --- PLAIN: empty initial response ("=") -----------------------------------------
      // "=" is a zero-length message: no NULs, so malformed - but not malformed base64.
      {"plain_ir_equals_is_empty_message", m::plain, "=", {},
       {error(e::malformed_message, "malformed PLAIN message")}},
      {"plain_ir_zero_length_rejected", m::plain, "", {},
       {error(e::malformed_base64, "\"=\"")}},
      {"plain_empty_line_after_challenge", m::plain, std::nullopt, {""},
       {challenge(""), error(e::malformed_message)}},
      // "=" is only the initial-response spelling of empty; as a line it is bad base64.
      {"plain_equals_line_is_bad_base64", m::plain, std::nullopt, {"="},
       {challenge(""), error(e::malformed_base64, "malformed base64")}},

      // --- PLAIN: authorization identity -------------------------------------------------
      // Python: base64.b64encode(b"admin\0john\0secret")
      {"plain_authzid_different", m::plain, "YWRtaW4Aam9obgBzZWNyZXQ=", {},
       {error(e::authzid_not_allowed, "authorization identity not allowed")}},
      // RFC 4616 section 4 example with an authzid.
      {"plain_rfc4616_proxy_example", m::plain, "VXJzZWwAS3VydAB4aXBqM3BsbXE=", {},
       {error(e::authzid_not_allowed, "authorization identity not allowed")}},
      {"plain_authzid_differs_in_case", m::plain, b64("John\0john\0secret"s), {},
       {error(e::authzid_not_allowed)}},

      // --- PLAIN: structure -------------------------------------------------------------
      {"plain_no_nul", m::plain, b64("johnsecret"), {},
       {error(e::malformed_message, "malformed PLAIN message")}},
      {"plain_one_nul", m::plain, b64("john\0secret"s), {},
       {error(e::malformed_message, "malformed PLAIN message")}},
      // Python: base64.b64encode(b"\0a\0b\0c")
      {"plain_three_nuls", m::plain, "AGEAYgBj", {},
       {error(e::malformed_message, "malformed PLAIN message")}},
      {"plain_trailing_nul", m::plain, b64("\0john\0secret\0"s), {},
       {error(e::malformed_message, "malformed PLAIN message")}},
      // Python: base64.b64encode(b"\0john\0")
      {"plain_empty_password", m::plain, "AGpvaG4A", {},
       {error(e::malformed_message, "empty password")}},
      // Python: base64.b64encode(b"\0\0secret")
      {"plain_empty_authcid", m::plain, "AABzZWNyZXQ=", {},
       {error(e::malformed_message, "empty authentication identity")}},
      {"plain_only_nuls", m::plain, b64("\0\0"s), {}, {error(e::malformed_message)}},

      // --- PLAIN: lengths (RFC 4616 section 2: up to 255 octets each) -------------------
      {"plain_authcid_256", m::plain, b64('\0' + k256 + '\0' + "secret"), {},
       {error(e::malformed_message, "authentication identity longer than 255 octets")}},
      {"plain_password_256", m::plain, b64("\0john\0"s + k256), {},
       {error(e::malformed_message, "password longer than 255 octets")}},
      {"plain_authzid_256", m::plain, b64(k256 + "\0john\0secret"s), {},
       {error(e::malformed_message, "authorization identity longer than 255 octets")}},

      // --- PLAIN: UTF-8 (RFC 3629) ------------------------------------------------------
      // Python: base64.b64encode(b"\0john\xc0\xaf\0secret") - overlong "/".
      {"plain_authcid_overlong_utf8", m::plain, "AGpvaG7ArwBzZWNyZXQ=", {},
       {error(e::malformed_message, "authentication identity is not valid UTF-8")}},
      {"plain_password_latin1", m::plain, b64("\0john\0s\xe9same"s), {},
       {error(e::malformed_message, "password is not valid UTF-8")}},
      {"plain_password_truncated_sequence", m::plain, b64("\0john\0secret\xe2\x82"s), {},
       {error(e::malformed_message, "password is not valid UTF-8")}},
      {"plain_password_surrogate", m::plain, b64("\0john\0\xed\xa0\x80"s), {},
       {error(e::malformed_message, "password is not valid UTF-8")}},
      {"plain_password_above_10ffff", m::plain, b64("\0john\0\xf4\x90\x80\x80"s), {},
       {error(e::malformed_message, "password is not valid UTF-8")}},
      {"plain_password_stray_continuation", m::plain, b64("\0john\0\x80secret"s), {},
       {error(e::malformed_message, "password is not valid UTF-8")}},
      {"plain_authzid_ff", m::plain, b64("\xff\0john\0secret"s), {},
       {error(e::malformed_message, "authorization identity is not valid UTF-8")}},

      // --- malformed base64 (RFC 4648 section 4, strict) --------------------------------
      {"b64_bad_character", m::plain, "AGpv!G5AZXhhbXBsZS5vcmcAc2VjcmV0", {},
       {error(e::malformed_base64, "malformed base64")}},
      {"b64_url_safe_alphabet", m::plain, "AGpv-G5AZXhhbXBsZS5vcmcAc2VjcmV_", {},
       {error(e::malformed_base64)}},
      {"b64_missing_padding", m::plain, "YWRtaW4Aam9obgBzZWNyZXQ", {},
       {error(e::malformed_base64)}},
      {"b64_extra_padding", m::plain, "YWRtaW4Aam9obgBzZWNyZXQ==", {},
       {error(e::malformed_base64)}},
      {"b64_padding_in_middle", m::plain, "AGpv=G5AZXhhbXBsZS5vcmcAc2VjcmV0", {},
       {error(e::malformed_base64)}},
      {"b64_padding_group_in_middle", m::plain, "AA==AGpvaG4Ac2VjcmV0", {},
       {error(e::malformed_base64)}},
      // Python's lenient b64decode takes "...ZXR=" as "...ZXQ="; RFC 4648 3.5 lets us
      // refuse non-zero pad bits, and we do so each message has one encoding.
      {"b64_nonzero_pad_bits", m::plain, "YWRtaW4Aam9obgBzZWNyZXR=", {},
       {error(e::malformed_base64)}},
      {"b64_nonzero_pad_bits_double", m::plain, "am9obh==", {},
       {error(e::malformed_base64)}},
      {"b64_only_padding", m::plain, "====", {}, {error(e::malformed_base64)}},
      {"b64_leading_space", m::plain, " AGpvaG5AZXhhbXBsZS5vcmcAc2VjcmV0", {},
       {error(e::malformed_base64)}},
      {"b64_trailing_space", m::plain, "AGpvaG5AZXhhbXBsZS5vcmcAc2VjcmV0 ", {},
       {error(e::malformed_base64)}},
      {"b64_inner_space", m::plain, "AGpv aG5AZXhhbXBsZS5vcmcAc2VjcmV0", {},
       {error(e::malformed_base64)}},
      {"b64_embedded_crlf", m::plain, "AGpvaG5AZXhh\r\nbXBsZS5vcmcAc2VjcmV0", {},
       {error(e::malformed_base64)}},
      {"b64_trailing_cr", m::plain, std::nullopt, {"AGpvaG5AZXhhbXBsZS5vcmcAc2VjcmV0\r"},
       {challenge(""), error(e::malformed_base64)}},
      {"b64_tab", m::plain, std::nullopt, {"AGpvaG5A\tZXhhbXBsZS5vcmcAc2VjcmV0"},
       {challenge(""), error(e::malformed_base64)}},
      {"b64_nul_byte", m::plain, std::nullopt, {"AGpv\0aG5A"s},
       {challenge(""), error(e::malformed_base64)}},
      {"b64_high_byte", m::plain, std::nullopt, {"AGpv\xc3\xa9G5A"s},
       {challenge(""), error(e::malformed_base64)}},

      // --- cancel (RFC 4954 section 4) ---------------------------------------------------
      {"plain_cancel", m::plain, std::nullopt, {"*"},
       {challenge(""), error(e::cancelled, "cancelled by client")}},
      {"login_cancel_at_username", m::login, std::nullopt, {"*"},
       {challenge(kUsername), error(e::cancelled, "cancelled by client")}},
      {"login_cancel_at_password", m::login, std::nullopt, {"am9obg==", "*"},
       {challenge(kUsername), challenge(kPassword), error(e::cancelled, "cancelled by client")}},
      // "*" cancels a response; as an initial response it is just not base64.
      {"star_as_initial_response", m::plain, "*", {}, {error(e::malformed_base64)}},
      {"star_with_suffix_is_not_cancel", m::plain, std::nullopt, {"**"},
       {challenge(""), error(e::malformed_base64)}},

      // --- line length limit -------------------------------------------------------------
      {"line_at_limit", m::plain, std::nullopt, {"AGpvaG4Ac2VjcmV0"},
       {challenge(""), done("", "john", "secret")}, 16},
      {"line_over_limit", m::plain, std::nullopt, {"AGpvaG5AZXhhbXBsZS5vcmcAc2VjcmV0"},
       {challenge(""), error(e::line_too_long, "too long")}, 16},
      {"initial_response_over_limit", m::plain, "AGpvaG5AZXhhbXBsZS5vcmcAc2VjcmV0", {},
       {error(e::line_too_long, "too long")}, 16},
      {"login_password_over_limit", m::login, std::nullopt, {"am9obg==", b64(k255)},
       {challenge(kUsername), challenge(kPassword), error(e::line_too_long)}, 64},

      // --- LOGIN ----------------------------------------------------------------------
      // Python: base64.b64encode(b"john"), base64.b64encode(b"secret")
      {"login_full_exchange", m::login, std::nullopt, {"am9obg==", "c2VjcmV0"},
       {challenge(kUsername), challenge(kPassword), done("", "john", "secret")}},
      {"login_with_initial_response", m::login, "am9obg==", {"c2VjcmV0"},
       {challenge(kPassword), done("", "john", "secret")}},
      {"login_utf8", m::login, std::nullopt, {b64("j\xc3\xb6rg"), b64("p\xc3\xa4ss")},
       {challenge(kUsername), challenge(kPassword), done("", "j\xc3\xb6rg", "p\xc3\xa4ss")}},
      {"login_fields_255", m::login, b64(k255), {b64(k255)},
       {challenge(kPassword), done("", k255, k255)}},
      {"login_empty_initial_response", m::login, "=", {},
       {error(e::malformed_message, "empty authentication identity")}},
      {"login_empty_username_line", m::login, std::nullopt, {""},
       {challenge(kUsername), error(e::malformed_message, "empty authentication identity")}},
      {"login_empty_password", m::login, std::nullopt, {"am9obg==", ""},
       {challenge(kUsername), challenge(kPassword), error(e::malformed_message, "empty password")}},
      {"login_username_256", m::login, std::nullopt, {b64(k256)},
       {challenge(kUsername), error(e::malformed_message, "longer than 255")}},
      {"login_password_256", m::login, std::nullopt, {"am9obg==", b64(k256)},
       {challenge(kUsername), challenge(kPassword),
        error(e::malformed_message, "longer than 255")}},
      {"login_username_nul", m::login, std::nullopt, {b64("jo\0hn"s)},
       {challenge(kUsername),
        error(e::malformed_message, "authentication identity contains NUL")}},
      {"login_password_nul", m::login, std::nullopt, {"am9obg==", b64("sec\0ret"s)},
       {challenge(kUsername), challenge(kPassword),
        error(e::malformed_message, "password contains NUL")}},
      {"login_password_bad_utf8", m::login, std::nullopt, {"am9obg==", b64("s\xe9same")},
       {challenge(kUsername), challenge(kPassword),
        error(e::malformed_message, "not valid UTF-8")}},
      {"login_bad_base64_username", m::login, std::nullopt, {"am9obg="},
       {challenge(kUsername), error(e::malformed_base64, "malformed base64")}},
      {"login_bad_base64_password", m::login, std::nullopt, {"am9obg==", "c2VjcmV0="},
       {challenge(kUsername), challenge(kPassword), error(e::malformed_base64)}},
      {"login_bad_base64_initial_response", m::login, "am9ob", {}, {error(e::malformed_base64)}},
  };
}

class exchange_test : public ::testing::TestWithParam<exchange_case> {};

void check_step(const step& got, const expected& want, size_t index) {
  SCOPED_TRACE("step " + std::to_string(index));
  ASSERT_EQ(got.k, want.k) << "error was: " << got.error;
  switch (want.k) {
    case step::kind::challenge:
      EXPECT_EQ(got.challenge_base64, want.challenge);
      break;
    case step::kind::done:
      EXPECT_EQ(got.creds.authzid, want.authzid);
      EXPECT_EQ(got.creds.authcid, want.authcid);
      EXPECT_EQ(got.creds.password, want.password);
      EXPECT_EQ(got.code, error_code::none);
      break;
    case step::kind::error:
      EXPECT_EQ(got.code, want.code) << got.error;
      EXPECT_FALSE(got.error.empty());
      if (!want.error_contains.empty()) {
        EXPECT_NE(got.error.find(want.error_contains), std::string::npos) << got.error;
      }
      // Secrets never reach an error string (they go to logs). Every secret and user
      // name in the table contains one of these.
      for (std::string_view secret : {"secret", "tanstaaf", "xipj3", "john", "s\xe9same",
                                      "p\xc3\xa4ss", "aaaa", "AGpv", "am9o", "c2Vj"}) {
        EXPECT_EQ(got.error.find(secret), std::string::npos) << got.error;
      }
      EXPECT_TRUE(got.creds.authcid.empty());
      EXPECT_TRUE(got.creds.password.empty());
      break;
  }
}

TEST_P(exchange_test, runs_as_tabled) {
  const exchange_case& c = GetParam();
  ASSERT_EQ(c.steps.size(), c.lines.size() + 1) << "table row is inconsistent";
  server srv(c.mech, c.max_response_bytes);
  EXPECT_FALSE(srv.finished());

  std::optional<std::string_view> initial;
  if (c.initial) initial = *c.initial;
  check_step(srv.start(initial), c.steps[0], 0);
  for (size_t i = 0; i < c.lines.size(); ++i) {
    check_step(srv.feed(c.lines[i]), c.steps[i + 1], i + 1);
  }

  // Every row ends the exchange; a step after that is an error, whatever it carries.
  const step::kind last = c.steps.back().k;
  ASSERT_NE(last, step::kind::challenge) << "table row should finish the exchange";
  EXPECT_TRUE(srv.finished());
  check_step(srv.feed("AGpvaG4Ac2VjcmV0"), error(error_code::out_of_sequence, "finished"), 99);
  check_step(srv.feed("*"), error(error_code::out_of_sequence), 100);
  check_step(srv.start(std::nullopt), error(error_code::out_of_sequence), 101);
}

INSTANTIATE_TEST_SUITE_P(sasl, exchange_test, ::testing::ValuesIn(exchange_cases()),
                         [](const ::testing::TestParamInfo<exchange_case>& info) {
                           return info.param.name;
                         });

// --- mechanism names -------------------------------------------------------------------

TEST(sasl_mechanism, parses_case_insensitively) {
  struct row {
    std::string_view name;
    std::optional<mechanism> want;
  };
  const row rows[] = {
      {"PLAIN", mechanism::plain}, {"plain", mechanism::plain}, {"Plain", mechanism::plain},
      {"LOGIN", mechanism::login}, {"login", mechanism::login}, {"lOgIn", mechanism::login},
      {"", std::nullopt},          {"PLAIN ", std::nullopt},    {" PLAIN", std::nullopt},
      {"PLAI", std::nullopt},      {"PLAINX", std::nullopt},    {"CRAM-MD5", std::nullopt},
      {"XOAUTH2", std::nullopt},   {"SCRAM-SHA-256", std::nullopt},
      {std::string_view("LOGIN\0", 6), std::nullopt},
  };
  for (const row& r : rows) {
    EXPECT_EQ(parse_mechanism(r.name), r.want) << "name=\"" << r.name << "\"";
  }
}

TEST(sasl_mechanism, names_round_trip) {
  for (mechanism m : {mechanism::plain, mechanism::login}) {
    EXPECT_EQ(parse_mechanism(mechanism_name(m)), m);
  }
  EXPECT_EQ(mechanism_name(mechanism::plain), "PLAIN");
  EXPECT_EQ(mechanism_name(mechanism::login), "LOGIN");
}

TEST(sasl_mechanism, unknown_mechanism_is_an_error_step) {
  step s = reject_unknown_mechanism();
  EXPECT_EQ(s.k, step::kind::error);
  EXPECT_EQ(s.code, error_code::unknown_mechanism);
  EXPECT_EQ(s.error, "unknown mechanism");
}

// --- sequencing --------------------------------------------------------------------------

TEST(sasl_sequence, feed_before_start_is_an_error) {
  server srv(mechanism::plain);
  step s = srv.feed("AGpvaG4Ac2VjcmV0");
  EXPECT_EQ(s.k, step::kind::error);
  EXPECT_EQ(s.code, error_code::out_of_sequence);
  EXPECT_TRUE(srv.finished());
  EXPECT_EQ(srv.start("AGpvaG4Ac2VjcmV0").k, step::kind::error);
}

TEST(sasl_sequence, start_twice_is_an_error) {
  server srv(mechanism::login);
  EXPECT_EQ(srv.start(std::nullopt).k, step::kind::challenge);
  step s = srv.start("am9obg==");
  EXPECT_EQ(s.k, step::kind::error);
  EXPECT_EQ(s.code, error_code::out_of_sequence);
  EXPECT_EQ(srv.feed("c2VjcmV0").code, error_code::out_of_sequence);
}

TEST(sasl_sequence, every_step_after_done_is_an_error) {
  server srv(mechanism::plain);
  ASSERT_EQ(srv.start("AGpvaG4Ac2VjcmV0").k, step::kind::done);
  for (std::string_view line : {"", "*", "=", "AGpvaG4Ac2VjcmV0", "!!"}) {
    step s = srv.feed(line);
    EXPECT_EQ(s.k, step::kind::error) << line;
    EXPECT_EQ(s.code, error_code::out_of_sequence) << line;
  }
}

TEST(sasl_sequence, mechanism_is_kept) {
  EXPECT_EQ(server(mechanism::plain).mech(), mechanism::plain);
  EXPECT_EQ(server(mechanism::login).mech(), mechanism::login);
}

TEST(sasl_sequence, moved_server_continues_and_source_is_finished) {
  server a(mechanism::login);
  ASSERT_EQ(a.start("am9obg==").k, step::kind::challenge);
  server b(std::move(a));
  EXPECT_TRUE(a.finished());  // NOLINT(bugprone-use-after-move): defined, and tested
  EXPECT_EQ(a.feed("c2VjcmV0").k, step::kind::error);
  step s = b.feed("c2VjcmV0");
  ASSERT_EQ(s.k, step::kind::done);
  EXPECT_EQ(s.creds.authcid, "john");
  EXPECT_EQ(s.creds.password, "secret");

  server c(mechanism::plain);
  server d(mechanism::login);
  ASSERT_EQ(d.start(std::nullopt).k, step::kind::challenge);
  ASSERT_EQ(d.feed("am9obg==").k, step::kind::challenge);
  c = std::move(d);
  EXPECT_EQ(c.mech(), mechanism::login);
  EXPECT_EQ(c.feed("c2VjcmV0").creds.authcid, "john");
}

// The same exchange, fed base64 from Python and from OpenSSL, yields identical steps.
TEST(sasl_sequence, python_and_openssl_base64_agree) {
  struct row {
    std::string raw;
    std::string python;  // base64.b64encode(raw)
  };
  const row rows[] = {
      {"\0john@example.org\0secret"s, "AGpvaG5AZXhhbXBsZS5vcmcAc2VjcmV0"},
      {"\0tim\0tanstaaftanstaaf"s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"},
      {"admin\0john\0secret"s, "YWRtaW4Aam9obgBzZWNyZXQ="},
      {"\0j\xc3\xb6rg\0p\xc3\xa4ss\xe2\x82\xac"s, "AGrDtnJnAHDDpHNz4oKs"},
      {"\0john\xc0\xaf\0secret"s, "AGpvaG7ArwBzZWNyZXQ="},
      {"\0a\0b\0c"s, "AGEAYgBj"},
      {"john", "am9obg=="},
      {"secret", "c2VjcmV0"},
  };
  for (const row& r : rows) {
    SCOPED_TRACE(r.python);
    EXPECT_EQ(b64(r.raw), r.python);
    EXPECT_EQ(base64_encode(r.raw), r.python);
    for (mechanism m : {mechanism::plain, mechanism::login}) {
      server from_python(m);
      server from_openssl(m);
      step a = from_python.start(r.python);
      step b = from_openssl.start(b64(r.raw));
      EXPECT_EQ(a.k, b.k);
      EXPECT_EQ(a.challenge_base64, b.challenge_base64);
      EXPECT_EQ(a.error, b.error);
      EXPECT_EQ(a.code, b.code);
      EXPECT_EQ(a.creds.authzid, b.creds.authzid);
      EXPECT_EQ(a.creds.authcid, b.creds.authcid);
      EXPECT_EQ(a.creds.password, b.creds.password);
    }
  }
}

// --- base64 (RFC 4648) ------------------------------------------------------------------

TEST(sasl_base64, rfc4648_section10_vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (auto [raw, enc] : vectors) {
    EXPECT_EQ(base64_encode(raw), enc);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, raw);
  }
}

TEST(sasl_base64, rejects_non_strict_input) {
  for (std::string_view bad :
       {"Zg", "Zg=", "Zg===", "Zm8", "Z", "=", "==", "===", "====", "=Zg=", "Z=g=", "Zh==",
        "Zm9=", "Zg==Zg==", "Zm9v YmFy", " Zm9v", "Zm9v ", "Zm9v\n", "Zm9v\r\n", "Zm9\tv",
        "Zm9-", "Zm9_", "Zm9.", "Zm9v*", "*", "Zm9v====", "Zm9vYmFy=", "Zm9vYmE",
        "\xc3\xa9\xc3\xa9"}) {
    EXPECT_FALSE(base64_decode(bad).has_value()) << "\"" << bad << "\"";
  }
  EXPECT_FALSE(base64_decode(std::string_view("Zm\0v", 4)).has_value());
}

TEST(sasl_base64, round_trips_every_byte_against_openssl) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t len = 0; len <= all.size(); ++len) {
    std::string raw = all.substr(all.size() - len);
    std::string enc = base64_encode(raw);
    ASSERT_EQ(enc, b64(raw)) << len;
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.has_value()) << len;
    ASSERT_EQ(*dec, raw) << len;
  }
}

// --- credentials ------------------------------------------------------------------------

TEST(sasl_credentials, copies_and_moves) {
  credentials a;
  a.authzid = "";
  a.authcid = "john@example.org";
  a.password = std::string(100, 'p');  // long enough for the heap, not the inline buffer

  credentials b(a);
  EXPECT_EQ(b.authcid, a.authcid);
  EXPECT_EQ(b.password, a.password);

  credentials c(std::move(a));
  EXPECT_EQ(c.authcid, "john@example.org");
  EXPECT_EQ(c.password, std::string(100, 'p'));
  EXPECT_TRUE(a.authcid.empty());  // NOLINT(bugprone-use-after-move): wiped by design
  EXPECT_TRUE(a.password.empty());

  credentials d;
  d.password = "short";
  d = b;
  EXPECT_EQ(d.password, b.password);
  d = std::move(c);
  EXPECT_EQ(d.authcid, "john@example.org");
  EXPECT_TRUE(c.authcid.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(c.password.empty());

  d.wipe();
  EXPECT_TRUE(d.authzid.empty());
  EXPECT_TRUE(d.authcid.empty());
  EXPECT_TRUE(d.password.empty());
}

}  // namespace
}  // namespace ringmail::sasl
