// Authentication-Results (spam/auth/authentication_results.h): the header we write —
// layout, folding, quoting, no injection, parsed back by python3-authres — and the
// removal of fields that arrive with our authserv-id.
#include "spam/auth/authentication_results.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ringmail::spam {
namespace {

message_auth sample() {
  message_auth auth;
  auth.checked = true;
  auth.spf = {spf_result::pass, "example.com", ""};
  auth.helo_spf = {spf_result::none, "mx.example.com", ""};
  dkim_signature_check sig;
  sig.result = dkim_result::pass;
  sig.domain = "example.com";
  sig.selector = "2024a";
  sig.identity = "@example.com";
  sig.algorithm = "rsa-sha256";
  sig.b_prefix = "dGhpc/+x";
  sig.key_bits = 2048;
  auth.dkim.push_back(sig);
  sig.result = dkim_result::fail;
  sig.domain = "mailer.example.net";
  sig.selector = "ed";
  sig.identity = "";
  sig.algorithm = "ed25519-sha256";
  sig.b_prefix = "AAAAbbbb";
  sig.key_bits = 256;
  sig.reason = "signature did not verify";
  auth.dkim.push_back(sig);
  auth.dmarc.result = dmarc_result::pass;
  auth.dmarc.from_domain = "example.com";
  auth.dmarc.policy = dmarc_policy::reject;
  auth.dmarc.disposition = dmarc_policy::none;
  return auth;
}

std::vector<std::string> lines_of(const std::string& field) {
  std::vector<std::string> lines;
  for (std::string& l : std::vector<std::string>(absl::StrSplit(field, "\r\n"))) lines.push_back(std::move(l));
  return lines;
}

TEST(AuthenticationResults, Layout) {
  ar_context context;
  context.mail_from = "bounce+123@example.com";
  std::string field = format_authentication_results("mx.ringmail.example", sample(), context);
  EXPECT_EQ(field,
            "Authentication-Results: mx.ringmail.example;\r\n"
            "\tspf=pass smtp.mailfrom=bounce+123@example.com;\r\n"
            "\tdkim=pass (2048-bit key) header.d=example.com header.i=@example.com\r\n"
            "\theader.s=2024a header.a=rsa-sha256 header.b=\"dGhpc/+x\";\r\n"
            "\tdkim=fail (256-bit key) reason=\"signature did not verify\"\r\n"
            "\theader.d=mailer.example.net header.s=ed header.a=ed25519-sha256\r\n"
            "\theader.b=AAAAbbbb;\r\n"
            "\tdmarc=pass (p=reject dis=none) header.from=example.com;\r\n"
            "\tarc=none\r\n");
  for (const std::string& line : lines_of(field)) EXPECT_LE(line.size(), 78u) << line;
}

TEST(AuthenticationResults, NoResultAndOptionalMethods) {
  message_auth none;
  EXPECT_EQ(format_authentication_results("mx", none, {}), "Authentication-Results: mx; none\r\n");
  message_auth auth;
  auth.checked = true;
  auth.helo_spf = {spf_result::fail, "helo.example", ""};
  ar_context context;
  context.helo = "helo.example";
  context.iprev = iprev_check{"pass", "192.0.2.1", "mail.example.org"};
  std::string field = format_authentication_results("mx", auth, context);
  EXPECT_NE(field.find("\tiprev=pass (mail.example.org) policy.iprev=192.0.2.1;\r\n"), std::string::npos) << field;
  EXPECT_NE(field.find("\tspf=fail smtp.helo=helo.example;\r\n"), std::string::npos) << field;
  EXPECT_NE(field.find("\tspf=none;\r\n"), std::string::npos) << field;  // MAIL FROM: nothing known
  EXPECT_NE(field.find("\tdkim=none;\r\n"), std::string::npos) << field;
  EXPECT_LT(field.find("iprev="), field.find("spf="));
  // Without iprev in the context, no iprev.
  context.iprev.reset();
  EXPECT_EQ(format_authentication_results("mx", auth, context).find("iprev"), std::string::npos);
}

TEST(AuthenticationResults, BodyLengthLimitedPassIsMarked) {
  message_auth auth = sample();
  std::string plain = format_authentication_results("mx", auth, {});
  EXPECT_EQ(plain.find("body length limited"), std::string::npos) << plain;
  auth.dkim[0].body_length_limited = true;
  std::string field = format_authentication_results("mx", auth, {});
  EXPECT_NE(field.find("dkim=pass (2048-bit key) (body length limited) header.d=example.com"), std::string::npos)
      << field;
}

TEST(AuthenticationResults, NoHeaderInjection) {
  message_auth auth = sample();
  auth.dkim[1].domain = "evil.example\r\nAuthentication-Results: mx; dkim=pass";
  auth.dkim[1].reason = "bad \"quote\" \\ and (paren)\nX-Injected: 1";
  auth.dmarc.from_domain = "a.example\rb";
  auth.arc.instances = 1;
  auth.arc.oldest_pass_domain = "x) (y\n";
  ar_context context;
  context.mail_from = "\"odd local\"@example.com\n";
  std::string field = format_authentication_results("mx.example", auth, context);
  // The only CR and LF are our CRLFs, each followed by a tab (a fold) or ending the field.
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\r') {
      ASSERT_EQ(field[i + 1], '\n');
      ASSERT_TRUE(i + 2 == field.size() || field[i + 2] == '\t') << field;
    } else if (field[i] == '\n') {
      ASSERT_EQ(field[i - 1], '\r');
    }
  }
  EXPECT_NE(field.find("header.d=\"evil.exampleAuthentication-Results: mx; dkim=pass\""), std::string::npos) << field;
  EXPECT_NE(field.find("reason=\"bad \\\"quote\\\" \\\\ and (paren)X-Injected: 1\""), std::string::npos) << field;
  EXPECT_NE(field.find("(i=1 oldest pass x\\) \\(y)"), std::string::npos) << field;
  EXPECT_NE(field.find("smtp.mailfrom=\"\\\"odd local\\\"@example.com\""), std::string::npos) << field;
}

std::string python() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

// What python3-authres reads from `field`, as JSON; skips the test without the module.
std::string parsed_by_authres(const std::string& field, bool* skipped) {
  std::string path = (std::filesystem::temp_directory_path() / ("ar_test_" + std::to_string(getpid()))).string();
  std::ofstream(path, std::ios::binary) << field;
  std::string command = absl::StrCat(python(), " ", RINGMAIL_SOURCE_DIR, "/tests/spam/authentication_results_parse.py < ", path);
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  size_t n;
  while (pipe != nullptr && (n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  int status = pipe == nullptr ? -1 : pclose(pipe);
  std::filesystem::remove(path);
  *skipped = WIFEXITED(status) && WEXITSTATUS(status) == 77;
  EXPECT_TRUE(*skipped || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << command << "\n" << field;
  return out;
}

TEST(AuthenticationResults, ParsedBackByPythonAuthres) {
  ar_context context;
  context.mail_from = "bounce@example.com";
  bool skipped = false;
  std::string json = parsed_by_authres(format_authentication_results("mx.ringmail.example", sample(), context), &skipped);
  if (skipped) GTEST_SKIP() << "python3-authres not installed";
  EXPECT_EQ(json,
            "{\"authserv_id\": \"mx.ringmail.example\", \"results\": ["
            "{\"method\": \"spf\", \"properties\": [[\"smtp\", \"mailfrom\", \"bounce@example.com\"]], \"reason\": null, \"result\": \"pass\"}, "
            "{\"method\": \"dkim\", \"properties\": [[\"header\", \"d\", \"example.com\"], [\"header\", \"i\", \"@example.com\"], "
            "[\"header\", \"s\", \"2024a\"], [\"header\", \"a\", \"rsa-sha256\"], [\"header\", \"b\", \"dGhpc/+x\"]], \"reason\": null, \"result\": \"pass\"}, "
            "{\"method\": \"dkim\", \"properties\": [[\"header\", \"d\", \"mailer.example.net\"], [\"header\", \"s\", \"ed\"], "
            "[\"header\", \"a\", \"ed25519-sha256\"], [\"header\", \"b\", \"AAAAbbbb\"]], \"reason\": \"signature did not verify\", \"result\": \"fail\"}, "
            "{\"method\": \"dmarc\", \"properties\": [[\"header\", \"from\", \"example.com\"]], \"reason\": null, \"result\": \"pass\"}, "
            "{\"method\": \"arc\", \"properties\": [], \"reason\": null, \"result\": \"none\"}]}\n");
  // Quotes and backslashes come back as one quoted-string (authres keeps the quoted-pairs
  // as written: bad \"quote\" \\ (x)), not cut short.
  message_auth auth = sample();
  auth.dkim[1].reason = "bad \"quote\" \\ (x)";
  json = parsed_by_authres(format_authentication_results("mx", auth, {}), &skipped);
  EXPECT_NE(json.find(R"j("reason": "bad \\\"quote\\\" \\\\ (x)", "result": "fail")j"), std::string::npos) << json;
}

TEST(AuthservId, CfwsCommentsQuotesAndVersion) {
  EXPECT_EQ(authserv_id_of("mx.example.org; spf=pass"), "mx.example.org");
  EXPECT_EQ(authserv_id_of(" (comment (nested \\) still)) \r\n\tMX.example.org 1; none"), "MX.example.org");
  EXPECT_EQ(authserv_id_of("\"mx.example.org\" 1; none"), "mx.example.org");
  EXPECT_EQ(authserv_id_of("mx.example.org(c); none"), "mx.example.org");
  EXPECT_EQ(authserv_id_of("mx.example.org;"), "mx.example.org");
  EXPECT_EQ(authserv_id_of(""), "");
  EXPECT_EQ(authserv_id_of("  (only a comment) "), "");
  EXPECT_EQ(authserv_id_of("(unterminated mx.example.org; none"), "");
  EXPECT_EQ(authserv_id_of("\"unterminated; none"), "");
}

TEST(AuthservId, HostileInputsInBoundedTime) {
  std::string many;
  for (int i = 0; i < 10000; ++i) many += "(c) ";
  many += "mx.example.org; none";
  std::string nested(10000, '(');
  nested += "x" + std::string(10000, ')') + " mx; none";
  std::string quotes = "\"" + std::string(100000, 'a');
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(authserv_id_of(many), "mx.example.org");
  EXPECT_EQ(authserv_id_of(nested), "mx");
  EXPECT_EQ(authserv_id_of(quotes), "");
  std::string message = "Authentication-Results: " + many + "\r\nAuthentication-Results: " + quotes + "\r\n\r\nbody";
  auto ranges = remove_our_authentication_results(message, "mx.example.org");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0].offset, 0u);
}

TEST(RemoveOurs, KeepsOthersAndArcRemovesOursWhateverTheCase) {
  const std::string message =
      "Received: from x\r\n"
      "Authentication-Results: mx.example.org; spf=pass\r\n"
      "authentication-results : (forged) MX.Example.ORG 1;\r\n"
      "\tdkim=pass header.d=bank.example\r\n"
      "Authentication-Results: other.example; dkim=pass\r\n"
      "ARC-Authentication-Results: i=1; mx.example.org; dkim=pass\r\n"
      "Authentication-Results: \"mx.example.org\"; dmarc=pass\r\n"
      "Subject: hi\r\n"
      "\r\n"
      "Authentication-Results: mx.example.org; in the body\r\n";
  auto ranges = remove_our_authentication_results(message, "mx.example.org");
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(without_ranges(message, ranges),
            "Received: from x\r\n"
            "Authentication-Results: other.example; dkim=pass\r\n"
            "ARC-Authentication-Results: i=1; mx.example.org; dkim=pass\r\n"
            "Subject: hi\r\n"
            "\r\n"
            "Authentication-Results: mx.example.org; in the body\r\n");
}

TEST(RemoveOurs, BareLfLastFieldWithoutBodyAndPastTheFieldLimit) {
  std::string message;
  for (int i = 0; i < 1500; ++i) message += "X-Filler: " + std::to_string(i) + "\n";
  message += "Authentication-Results: mx; dkim=pass\n X-Fold: still the field";
  auto ranges = remove_our_authentication_results(message, "MX");
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0].offset + ranges[0].length, message.size());
  EXPECT_EQ(without_ranges(message, ranges).find("Authentication-Results"), std::string::npos);
  EXPECT_TRUE(remove_our_authentication_results(message, "mx.other").empty());
}

}  // namespace
}  // namespace ringmail::spam
