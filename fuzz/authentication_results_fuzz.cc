// libFuzzer target for spam/auth/authentication_results.h: the authserv-id reader and the
// remover over arbitrary header blocks, and the writer over arbitrary (hostile) texts.
// Build: see fuzz/README.md.
//
// Promises checked: no crash or sanitizer report; an authserv-id is a view into the value;
// the ranges to cut are ascending, inside the message, each an Authentication-Results
// field whose authserv-id is ours, and cutting them removes exactly their bytes; a written
// field has no CR or LF but its CRLF folds (each followed by a tab) and its final CRLF,
// and when the id is a token the remover finds that one field, whole.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mail/header.h"
#include "spam/auth/authentication_results.h"

namespace {

void check(bool ok) {
  if (!ok) abort();
}

// The next piece of the input up to a '|' (what the writer gets as outside text).
std::string_view next(std::string_view& in) {
  size_t bar = in.find('|');
  std::string_view piece = in.substr(0, bar);
  in = bar == std::string_view::npos ? std::string_view() : in.substr(bar + 1);
  return piece;
}

bool is_token_id(std::string_view id) {
  if (id.empty()) return false;
  for (char c : id) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringmail::spam;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  std::string_view id = authserv_id_of(input);
  check(id.empty() || (id.data() >= input.data() && id.data() + id.size() <= input.data() + input.size()));

  // The remover, with our id being the input's first line.
  std::string_view ours = input.substr(0, input.find('\n'));
  auto ranges = remove_our_authentication_results(input, ours);
  size_t end = 0, cut = 0;
  for (const byte_range& r : ranges) {
    check(r.offset >= end && r.offset + r.length <= input.size() && r.length > 0);
    std::string_view field = input.substr(r.offset, r.length);
    size_t colon = field.find(':');
    check(colon != std::string_view::npos);
    check(ringmail::mail::equals_ignore_case(authserv_id_of(field.substr(colon + 1)), ours));
    end = r.offset + r.length;
    cut += r.length;
  }
  check(without_ranges(input, ranges).size() == input.size() - cut);

  // The writer over the input's pieces.
  std::string_view in = input;
  std::string authserv(next(in));
  message_auth auth;
  auth.checked = !authserv.empty() && (authserv[0] & 1) == 0;
  auth.spf.domain = std::string(next(in));
  auth.spf.explanation = std::string(next(in));
  auth.spf.result = spf_result::fail;
  dkim_signature_check sig;
  sig.result = dkim_result::fail;
  sig.domain = std::string(next(in));
  sig.selector = std::string(next(in));
  sig.reason = std::string(next(in));
  sig.b_prefix = std::string(next(in));
  auth.dkim.push_back(sig);
  auth.dmarc.result = dmarc_result::permerror;
  auth.dmarc.from_domain = std::string(next(in));
  auth.dmarc.reason = std::string(next(in));
  ar_context context;
  context.mail_from = std::string(next(in));
  context.helo = std::string(next(in));
  std::string field = format_authentication_results(authserv, auth, context);
  check(field.size() >= 2 && field.substr(field.size() - 2) == "\r\n");
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\r') check(i + 1 < field.size() && field[i + 1] == '\n' && (i + 2 == field.size() || field[i + 2] == '\t'));
    if (field[i] == '\n') check(i > 0 && field[i - 1] == '\r');
  }
  if (is_token_id(authserv) && authserv.size() <= 255) {  // longer ids are cut
    std::string message = field + "\r\nbody";
    auto found = remove_our_authentication_results(message, authserv);
    check(found.size() == 1 && found[0].offset == 0 && found[0].length == field.size());
  }
  return 0;
}
