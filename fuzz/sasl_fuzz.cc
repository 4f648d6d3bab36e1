// libFuzzer target for the SASL server (protocols/sasl). Build: see fuzz/README.md.
//
// Input: byte 0 holds flags, byte 1 a line limit, the rest is client lines split on
// "\n" (a trailing "\r" is dropped, as the protocol sessions strip CRLF).
//   flag bit 0: the first line is an initial response (start(line)), else start(nullopt)
//   flag bit 1: use byte 1 as max_response_bytes, to reach the line limit cheaply
// The same lines drive a PLAIN and a LOGIN exchange, and every line also goes through
// the base64 round trip. Any broken invariant aborts, which libFuzzer reports as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/sasl/sasl_server.h"

namespace {

using namespace ringmail::sasl;

void check(bool ok) {
  if (!ok) abort();
}

// Strict base64 has exactly one encoding per byte string, so decode and encode are
// inverse on everything decode accepts.
void check_base64(std::string_view line) {
  if (std::optional<std::string> dec = base64_decode(line)) {
    check(base64_encode(*dec) == line);
  }
  std::optional<std::string> back = base64_decode(base64_encode(line));
  check(back.has_value() && *back == line);
}

// Error strings go to logs: fixed ASCII text, never client bytes.
bool plain_ascii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

void check_step(const step& s, mechanism m, const server& srv) {
  switch (s.k) {
    case step::kind::challenge:
      check(!srv.finished());
      check(s.code == error_code::none && s.creds.authcid.empty());
      if (m == mechanism::plain) {
        check(s.challenge_base64.empty());
      } else {
        check(s.challenge_base64 == "VXNlcm5hbWU6" || s.challenge_base64 == "UGFzc3dvcmQ6");
      }
      break;
    case step::kind::done: {
      check(srv.finished());
      check(s.code == error_code::none && s.error.empty());
      const credentials& c = s.creds;
      check(!c.authcid.empty() && c.authcid.size() <= 255);
      check(!c.password.empty() && c.password.size() <= 255);
      check(c.authzid.empty() || c.authzid == c.authcid);
      check(c.authcid.find('\0') == std::string::npos);
      check(c.password.find('\0') == std::string::npos);
      if (m == mechanism::login) check(c.authzid.empty());
      break;
    }
    case step::kind::error:
      check(srv.finished());
      check(s.code != error_code::none && !s.error.empty() && plain_ascii(s.error));
      check(s.creds.authcid.empty() && s.creds.password.empty() && s.creds.authzid.empty());
      break;
  }
}

void drive(mechanism m, bool with_initial, size_t limit,
           const std::vector<std::string_view>& lines) {
  server srv(m, limit);
  size_t next = 0;
  std::optional<std::string_view> initial;
  if (with_initial && !lines.empty()) initial = lines[next++];
  step s = srv.start(initial);
  check_step(s, m, srv);
  for (; next < lines.size(); ++next) {
    const bool was_finished = srv.finished();
    s = srv.feed(lines[next]);
    check_step(s, m, srv);
    // RFC 4422 section 3.6: once the outcome is given, the exchange is over.
    if (was_finished) check(s.k == step::kind::error && s.code == error_code::out_of_sequence);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const size_t limit = (flags & 2) ? data[1] : 12288;
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);

  std::vector<std::string_view> lines;
  while (true) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }

  for (std::string_view line : lines) check_base64(line);
  drive(mechanism::plain, flags & 1, limit, lines);
  drive(mechanism::login, flags & 1, limit, lines);
  return 0;
}
