#include "delivery/sieve/reject_notice.h"

#include "absl/strings/str_cat.h"
#include "delivery/relay/dsn.h"
#include "delivery/relay/notice_format.h"
#include "mail/date.h"
#include "mail/header.h"
#include "mail/rfc2047.h"

namespace ringmail::sieve {
namespace {

constexpr char kCrlf[] = "\r\n";
// RFC 2046 5.1.1 allows 70; pick_boundary's suffix takes 9.
constexpr size_t kBoundaryBaseBytes = 60;

std::string original_subject(const mail::header_block& header, mail::charset_converter* charsets) {
  const mail::header_field* f = header.find("Subject");
  if (f == nullptr) return {};
  const std::string unfolded = mail::unfold(f->value);
  return charsets != nullptr ? mail::decode_header_words(unfolded, *charsets) : unfolded;
}

}  // namespace

bool wants_reject_notice(std::string_view sender) { return relay::wants_dsn(sender); }

outgoing_message build_reject_notice(const reject_notice_request& rq) {
  outgoing_message out;
  out.envelope_from = "";
  out.envelope_to = std::string(rq.sender);
  const std::string host = relay::clean_host(rq.host);
  const std::string postmaster =
      rq.postmaster.empty() ? absl::StrCat("postmaster@", host) : relay::to_field(header_text(rq.postmaster));

  const std::string headers = relay::returned_headers(rq.original);
  const mail::header_block block = mail::parse_header_block(headers);
  const std::string subject = header_text(original_subject(block, rq.charsets));
  std::vector<std::string> ids;
  if (const mail::header_field* f = block.find("Message-ID")) ids = message_ids(f->value);  // the first is the id

  // Part 1: the human-readable text. The recipient is printed as in the report (xtext
  // when not printable ASCII), so it cannot break the line it is on.
  const encoded_body text = encode_text_body(
      absl::StrCat("Your message to <", relay::notice_address(rq.recipient).text, "> was automatically rejected:\n",
                   std::string(rq.reason)));

  // Part 2: RFC 3798 3.1 fields.
  std::string report;
  absl::StrAppend(&report, "Reporting-UA: ", host, "; ringmail", kCrlf);
  if (!rq.original_recipient.empty()) {
    const relay::typed_address a = relay::notice_address(rq.original_recipient);
    relay::append_wrapped(report, absl::StrCat("Original-Recipient: ", a.type, "; ", a.text));
  }
  const relay::typed_address final_rcpt = relay::notice_address(rq.recipient);
  relay::append_wrapped(report, absl::StrCat("Final-Recipient: ", final_rcpt.type, "; ", final_rcpt.text));
  if (!ids.empty()) absl::StrAppend(&report, "Original-Message-ID: ", ids.front(), kCrlf);
  absl::StrAppend(&report, "Disposition: automatic-action/MDN-sent-automatically; deleted", kCrlf);

  std::string base = absl::StrCat("reject.", rq.now, "/", host);
  if (base.size() > kBoundaryBaseBytes) base.resize(kBoundaryBaseBytes);
  const std::string boundary = relay::pick_boundary(base, {text.bytes, report, headers});
  const bool eight_bit_headers = relay::has_8bit(headers);

  std::string& m = out.bytes;
  absl::StrAppend(&m, "Date: ", mail::format_message_date(rq.now), kCrlf);
  absl::StrAppend(&m, "Message-ID: ",
                  new_message_id(rq.now, "reject", host, {rq.sender, rq.recipient, ids.empty() ? "" : ids.front()}),
                  kCrlf);
  relay::append_wrapped(m, absl::StrCat("From: Mail Delivery Subsystem <", postmaster, ">"));
  relay::append_wrapped(m, absl::StrCat("To: <", relay::to_field(rq.sender), ">"));
  append_text_field(m, "Subject", subject.empty() ? "Automatically rejected mail" : absl::StrCat("Rejected: ", subject));
  if (!ids.empty()) {
    absl::StrAppend(&m, "In-Reply-To: ", ids.front(), kCrlf);
    absl::StrAppend(&m, "References: ", ids.front(), kCrlf);
  }
  absl::StrAppend(&m, "Auto-Submitted: auto-replied (rejected)", kCrlf);
  absl::StrAppend(&m, "Precedence: bulk", kCrlf);
  absl::StrAppend(&m, "MIME-Version: 1.0", kCrlf);
  absl::StrAppend(&m, "Content-Type: multipart/report; report-type=disposition-notification;", kCrlf,
                  "\tboundary=\"", boundary, "\"", kCrlf);
  if (eight_bit_headers || text.transfer_encoding == "8bit") {
    absl::StrAppend(&m, "Content-Transfer-Encoding: 8bit", kCrlf);
  }
  absl::StrAppend(&m, kCrlf, "This is a MIME-encapsulated message.", kCrlf);

  absl::StrAppend(&m, kCrlf, "--", boundary, kCrlf);
  absl::StrAppend(&m, "Content-Type: text/plain; charset=utf-8", kCrlf);
  absl::StrAppend(&m, "Content-Disposition: inline", kCrlf);
  absl::StrAppend(&m, "Content-Transfer-Encoding: ", text.transfer_encoding, kCrlf, kCrlf);
  m += text.bytes;

  absl::StrAppend(&m, kCrlf, "--", boundary, kCrlf);
  absl::StrAppend(&m, "Content-Type: message/disposition-notification", kCrlf, kCrlf);
  m += report;

  absl::StrAppend(&m, kCrlf, "--", boundary, kCrlf);
  absl::StrAppend(&m, "Content-Type: text/rfc822-headers", kCrlf);
  if (eight_bit_headers) absl::StrAppend(&m, "Content-Transfer-Encoding: 8bit", kCrlf);
  m += kCrlf;
  m += headers;

  absl::StrAppend(&m, kCrlf, "--", boundary, "--", kCrlf);
  return out;
}

}  // namespace ringmail::sieve
