// libFuzzer target for the relay's DSN builder (delivery/relay/dsn.h). Build: see
// fuzz/README.md; sources: delivery/relay/dsn.cc, delivery/relay/smtp_reply.cc, the mail
// parser (mail/*.cc), absl strings and str_format.
//
// The input is cut at '\0' into the parts of a DSN an attacker controls: the original
// message, the sender, our host name and queue id (configuration, but checked anyway),
// and then (address, original recipient, status, remote MTA, diagnostic) per recipient.
// Byte 0 picks failure or delay. Whatever the input, the DSN must be one clean message:
//   - every line ends in CRLF and has at most 998 octets;
//   - parsed back (RFC 2046 boundary rule, the stricter one), multipart/report with
//     exactly three parts of the right types and no missing close delimiter;
//   - the boundary occurs in the body exactly four times (three delimiters, the close);
//   - the top-level header fields are exactly ours, in order;
//   - the delivery-status part has one group of fields per recipient plus the message's,
//     and no field name other than the RFC 3464 ones we write;
//   - the returned header section is at most kMaxReturnedHeaderBytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/relay/dsn.h"
#include "mail/charset.h"
#include "mail/header.h"
#include "mail/message.h"

namespace {

using namespace ringmail::relay;
namespace mail = ringmail::mail;

#define check(ok)                                                   \
  do {                                                              \
    if (!(ok)) {                                                    \
      fprintf(stderr, "dsn_fuzz: check failed at line %d: %s\n", __LINE__, #ok); \
      abort();                                                      \
    }                                                               \
  } while (0)

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    size_t z = s.find('\0');
    out.push_back(s.substr(0, z));
    if (z == std::string_view::npos) break;
    s.remove_prefix(z + 1);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto f = split(in);
  auto get = [&f](size_t i) { return i < f.size() ? std::string(f[i]) : std::string(); };

  dsn_request rq;
  rq.kind = data[0] & 1 ? dsn_kind::delay : dsn_kind::failure;
  rq.original = f[0];
  rq.sender = get(1);
  rq.reporting_mta = get(2);
  rq.queue_id = get(3);
  rq.arrival = 1796601600;
  rq.now = rq.arrival + (data[0] >> 1) * 3600;
  rq.retry_until = rq.arrival + 5 * 86400;
  for (size_t i = 4; i < f.size() || rq.recipients.empty(); i += 5) {
    dsn_recipient r;
    r.address = get(i);
    r.original = get(i + 1);
    r.status = get(i + 2);
    r.remote_mta = get(i + 3);
    r.diagnostic = get(i + 4);
    r.last_attempt = rq.now;
    rq.recipients.push_back(std::move(r));
    if (rq.recipients.size() >= 50) break;
  }

  const std::string m = build_dsn(rq);

  check(m.size() >= 2 && m.ends_with("\r\n"));
  for (size_t pos = 0; pos < m.size();) {
    size_t nl = m.find('\n', pos);
    check(nl != std::string::npos && nl > pos && m[nl - 1] == '\r');
    std::string_view line(m.data() + pos, nl - 1 - pos);
    check(line.find('\r') == std::string_view::npos);
    check(line.size() <= 998);
    pos = nl + 1;
  }

  mail::charset_converter charsets;
  mail::message msg = mail::parse_message(m, charsets, {.boundaries = mail::boundary_rule::rfc2046});
  const mail::mime_part& root = msg.parts[0];
  check(root.type.is("multipart", "report"));
  check(root.children.size() == 3);
  check(msg.missing_boundaries == 0);
  check(msg.parts[root.children[0]].type.is("text", "plain"));
  const mail::mime_part& status = msg.parts[root.children[1]];
  check(status.type.is("message", "delivery-status"));
  const mail::mime_part& headers = msg.parts[root.children[2]];
  check(headers.type.is("text", "rfc822-headers"));
  check(headers.body.size() <= kMaxReturnedHeaderBytes);

  const std::string boundary = root.type.boundary();
  check(!boundary.empty() && boundary.size() <= 70);
  // In the body only: the Message-ID holds the queue id, which may hold the boundary.
  const std::string_view after_header = std::string_view(m).substr(root.headers.body_offset);
  size_t count = 0;
  for (size_t at = after_header.find(boundary); at != std::string_view::npos; at = after_header.find(boundary, at + 1)) {
    ++count;
  }
  check(count == 4);

  static const std::vector<std::string_view> top = {"Date", "Message-ID", "From", "Subject", "To", "Auto-Submitted",
                                                    "MIME-Version", "Content-Type", "Content-Transfer-Encoding"};
  check(root.headers.fields.size() == top.size());
  for (size_t i = 0; i < top.size(); ++i) check(root.headers.fields[i].name == top[i]);

  static const std::set<std::string_view> report_fields = {
      "Reporting-MTA", "X-Ringmail-Queue-ID", "X-Ringmail-Sender", "Arrival-Date",  "Final-Recipient",
      "Original-Recipient", "Action", "Status", "Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date",
      "Will-Retry-Until"};
  size_t groups = 0;
  std::string_view body = status.body;
  for (size_t pos = 0; pos < body.size();) {
    size_t end = body.find("\r\n\r\n", pos);
    if (end == std::string_view::npos) end = body.size();
    std::string group(body.substr(pos, end - pos));
    group += "\r\n";
    mail::header_block b = mail::parse_header_block(group);
    check(b.malformed_lines == 0);
    for (const auto& field : b.fields) check(report_fields.count(field.name) == 1);
    ++groups;
    pos = end + 4;
  }
  check(groups == rq.recipients.size() + 1);
  return 0;
}
