// libFuzzer target for what Sieve sends on its own (delivery/sieve/vacation.h,
// reject_notice.h): hostile originals, script strings (:subject, :from, the reason, a
// :mime entity, :addresses) and senders. Build: see fuzz/README.md; sources:
// delivery/sieve/{outgoing_message,vacation,reject_notice,address_part}.cc,
// delivery/relay/{dsn,notice_format,smtp_reply}.cc, the mail parser, absl.
//
// The input is cut at '\0' into: the original message, the sender, the subject, the
// from, the reason, an address for :addresses, the recipient. Byte 0 picks :mime and
// which optional arguments are present. Whatever the input:
//   - decide_vacation() never crashes and a `reply` verdict names one of the user's
//     addresses;
//   - the vacation reply and the reject notice are CRLF lines of at most 998 octets;
//   - parsed back, their top-level header fields are exactly ours, in order (the :mime
//     entity adds only Content-* fields), each once, with no malformed lines;
//   - the reject notice is multipart/report with exactly three parts of our types and no
//     missing close delimiter.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/sieve/reject_notice.h"
#include "delivery/sieve/vacation.h"
#include "mail/charset.h"
#include "mail/header.h"
#include "mail/message.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_lines(std::string_view m) {
  size_t pos = 0;
  while (pos < m.size()) {
    const size_t nl = m.find('\n', pos);
    check(nl != std::string_view::npos && nl > pos && m[nl - 1] == '\r');
    const std::string_view line = m.substr(pos, nl - 1 - pos);
    check(line.find('\r') == std::string_view::npos);
    check(line.size() <= 998);
    pos = nl + 1;
  }
}

bool starts_with_ci(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && ringmail::mail::equals_ignore_case(s.substr(0, p.size()), p);
}

void check_fields(const ringmail::mail::header_block& h, const std::vector<std::string_view>& ours,
                  bool content_fields_allowed) {
  check(h.malformed_lines == 0);
  // Ours in order, each at most once (In-Reply-To and References may be missing); with
  // :mime, the entity's Content-* fields in place of our last two.
  size_t i = 0;
  for (const ringmail::mail::header_field& f : h.fields) {
    size_t j = i;
    while (j < ours.size() && !ringmail::mail::equals_ignore_case(f.name, ours[j])) ++j;
    if (j < ours.size() && !(content_fields_allowed && starts_with_ci(f.name, "Content-"))) {
      i = j + 1;
      continue;
    }
    check(content_fields_allowed && starts_with_ci(f.name, "Content-"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static ringmail::mail::charset_converter charsets;
  const uint8_t mode = data[0];
  std::vector<std::string> parts;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (parts.size() < 7) {
    const size_t z = rest.find('\0');
    parts.emplace_back(rest.substr(0, z));
    rest = z == std::string_view::npos ? std::string_view{} : rest.substr(z + 1);
  }
  const std::string& original = parts[0];
  const std::string& sender = parts[1];

  ringmail::sieve::action a;
  a.kind = ringmail::sieve::action::vacation;
  a.reason = parts[4];
  a.mime = (mode & 1) != 0;
  if (mode & 2) a.subject = parts[2];
  if (mode & 4) a.from = parts[3];
  if (mode & 8) a.addresses.push_back(parts[5]);
  if (mode & 16) a.handle = parts[2];
  const std::string recipient = parts[6].empty() ? "user@example.org" : parts[6];

  const ringmail::mail::header_block header = ringmail::mail::parse_header_block(original);
  ringmail::sieve::vacation_input in;
  in.sender = sender;
  in.recipient = recipient;
  in.header = &header;
  const ringmail::sieve::vacation_decision d = ringmail::sieve::decide_vacation(a, in);
  if (d.verdict == ringmail::sieve::vacation_verdict::reply) {
    check(d.reply_from == recipient || (!a.addresses.empty() && d.reply_from == a.addresses[0]));
  }
  (void)ringmail::sieve::vacation_handle(a);

  ringmail::sieve::vacation_reply_request rq;
  rq.vacation = &a;
  rq.sender = sender;
  rq.reply_from = d.reply_from.empty() ? recipient : d.reply_from;
  rq.original = &header;
  rq.charsets = &charsets;
  rq.host = "mail.example.org";
  rq.now = 1796630400;
  const ringmail::sieve::outgoing_message reply = ringmail::sieve::build_vacation_reply(rq);
  check(reply.envelope_from.empty());
  check_lines(reply.bytes);
  {
    const ringmail::mail::header_block h = ringmail::mail::parse_header_block(reply.bytes);
    check(h.has_body_separator);
    check_fields(h,
                 {"Date", "Message-ID", "From", "To", "Subject", "In-Reply-To", "References", "Auto-Submitted",
                  "Precedence", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"},
                 a.mime);
    check(h.find_all("Subject").size() == 1 && h.find_all("To").size() == 1 && h.find_all("From").size() == 1);
  }

  ringmail::sieve::reject_notice_request rj;
  rj.reason = parts[4];
  rj.sender = sender;
  rj.recipient = recipient;
  rj.original_recipient = parts[5];
  rj.original = original;
  rj.charsets = &charsets;
  rj.host = parts[3];
  rj.now = 1796630400;
  const ringmail::sieve::outgoing_message notice = ringmail::sieve::build_reject_notice(rj);
  check_lines(notice.bytes);
  const ringmail::mail::message msg =
      ringmail::mail::parse_message(notice.bytes, charsets, {ringmail::mail::boundary_rule::rfc2046});
  check_fields(msg.headers(),
               {"Date", "Message-ID", "From", "To", "Subject", "In-Reply-To", "References", "Auto-Submitted",
                "Precedence", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"},
               false);
  check(msg.parts.size() == 4 && msg.missing_boundaries == 0);
  check(msg.parts[0].type.is("multipart", "report"));
  check(msg.parts[1].type.is("text", "plain") && msg.parts[1].parent == 0);
  check(msg.parts[2].type.is("message", "disposition-notification") && msg.parts[2].parent == 0);
  check(msg.parts[3].type.is("text", "rfc822-headers") && msg.parts[3].parent == 0);
  return 0;
}
